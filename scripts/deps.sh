#!/bin/bash
# Install the Debian 12 packages imapmig needs to build, test and demo.
# One list for every target; as non-root it prints the apt-get line and stops.
set -eu
PKGS="build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
libssl-dev libsqlite3-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev
libcmocka-dev dovecot-imapd isync openssl python3 procps sqlite3 git clang-format time
groff-base python3-cryptography python3-aiosmtpd python3-prometheus-client"
# isync (mbsync) is a benchmark peer; dovecot-imapd the real test server.

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "imapmig: missing packages; run as root: $cmd" >&2
	exit 1
fi
echo "imapmig: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Installing dovecot-core must not start a system-wide Dovecot: the tests
# start their own on free loopback ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq || true
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
