#!/bin/bash
# What the dashboard's browser test needs beside scripts/deps.sh: Debian's
# chromium, Node.js and npm (only when no `node` is on PATH), and
# puppeteer-core from the npm registry, as pinned by
# tests/browser/package-lock.json (`npm ci`, redone only when the lock
# changes).  As non-root with a package missing it prints the apt-get line
# and exits 1.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
pkgs="chromium"
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	cmd="apt-get install -y --no-install-recommends$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "imapmig: the browser test needs packages; run as root: $cmd" >&2
		exit 1
	fi
	echo "imapmig: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing >&2
fi

# npm ci once per lock file; two runs at once: one installs, one waits.
cd "$SRC/tests/browser"
sum=$(sha256sum package-lock.json | cut -d' ' -f1)
(
	flock 9
	[ "$(cat node_modules/.imapmig-lock 2>/dev/null)" = "$sum" ] && exit 0
	npm ci --no-audit --no-fund --loglevel=error >&2 ||
		{ echo "imapmig: npm ci in tests/browser failed: check that the npm registry is reachable" >&2; exit 1; }
	echo "$sum" >node_modules/.imapmig-lock
) 9>"$SRC/tests/browser/.npm-ci.lock"
