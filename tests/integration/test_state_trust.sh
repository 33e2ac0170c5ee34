#!/bin/bash
# The state store and the key file are trusted only when this user owns
# them and nobody else can write them (the key: nobody else can read it
# either).  Anything else is refused with exit 2 and one line naming the
# file and the chmod/chown to run.  A fresh state directory is 0700 and
# its files 0600, whatever the umask.  No server needed.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
umask 000 # the worst umask: whatever imapmig creates must still be private
D="$T/fresh/imapmig"
export IMAPMIG_STATE="$D/state.db"

mode() { stat -c %a "$1"; }

# A source that accepts connections and never greets: a sync waits on it
# with its state connection open, so SQLite's -wal and -shm exist.
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$T/port" &
SILENT=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port")
printf 'S3cret-pw\n' >"$T/pw"
"$IMAPMIG" endpoint new --name Src --remote-server 127.0.0.1 --port "$PORT" --security none \
	--password-file "$T/pw" --skip-verification >/dev/null 2>"$T/err" ||
	fail "endpoint new: $(cat "$T/err")"
expect_eq "$(mode "$T/fresh")" 700 "mode of a created parent of the state directory"
expect_eq "$(mode "$D")" 700 "mode of a fresh state directory"
expect_eq "$(mode "$D/state.db")" 600 "mode of a fresh state.db"
expect_eq "$(mode "$D/key")" 600 "mode of a fresh key file"
"$IMAPMIG" endpoint new --name Local --type maildir --path-template "$T/mail/{local}" >/dev/null 2>"$T/err" ||
	fail "endpoint new maildir: $(cat "$T/err")"
printf 'EmailAddress,UserName,Password\na@b.com,a,S3cret-pw\n' >"$T/b.csv"
"$IMAPMIG" batch new --name B --source-endpoint Src --target-endpoint Local --csv "$T/b.csv" \
	--autostart >/dev/null 2>"$T/err" || fail "batch new: $(cat "$T/err")"
"$IMAPMIG" sync >"$T/sync.out" 2>&1 &
SYNC=$!
for _ in $(seq 100); do [ -e "$D/state.db-wal" ] && [ -e "$D/state.db-shm" ] && break; sleep 0.1; done
n=0
for f in "$D"/state.db-*; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	m=$(mode "$f")
	[ $((8#$m & 8#077)) = 0 ] || fail "$f is mode $m: readable or writable by others"
done
[ "$n" -ge 2 ] || fail "sync: no -wal/-shm files to check ($(cat "$T/sync.out"))"
kill "$SYNC" "$SILENT"
wait "$SYNC" "$SILENT" 2>/dev/null

# refused CASE REGEX: the command fails with exit 2 and one line matching REGEX.
refused() {
	local name=$1 re=$2 rc
	"$IMAPMIG" endpoint get --json >"$T/out" 2>"$T/err"
	rc=$?
	[ "$rc" = 2 ] || fail "$name: exit $rc, want 2 ($(cat "$T/err"))"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "$name: not one line: $(cat "$T/err")"
	grep -Eq "$re" "$T/err" || fail "$name: message '$(cat "$T/err")' does not match '$re'"
	grep -q 'S3cret' "$T/out" "$T/err" && fail "$name: a password printed"
}
accepted() {
	"$IMAPMIG" endpoint get --json >/dev/null 2>"$T/err" || fail "$1: refused: $(cat "$T/err")"
}

chmod 0666 "$D/key"
refused key-0666 "$D/key is writable by group or others \\(mode 0666\\): chmod 600 $D/key"
for c in "user get" "batch get" "sync" "serve" "verify --batch B"; do
	# shellcheck disable=SC2086
	timeout 30 "$IMAPMIG" $c >/dev/null 2>"$T/err"
	rc=$?
	[ "$rc" = 2 ] || fail "key-0666: $c: exit $rc, want 2 ($(cat "$T/err"))"
	grep -q "$D/key is writable by group or others" "$T/err" || fail "key-0666: $c: $(cat "$T/err")"
done
chmod 0644 "$D/key"
refused key-0644 "$D/key is readable by group or others \\(mode 0644\\): chmod 600 $D/key"
chmod 0600 "$D/key"
accepted "key back to 0600"

if [ "$(id -u)" = 0 ]; then
	chown nobody "$D/key"
	refused key-nobody "$D/key is owned by uid [0-9]+, not by uid 0.*chown"
	chown 0 "$D/key"
	accepted "key back to root"
	chown nobody "$D/state.db"
	refused state-nobody "$D/state.db is owned by uid [0-9]+, not by uid 0.*chown"
	chown 0 "$D/state.db"
	accepted "state back to root"
else
	echo "not root: the chown cases need root and are covered in CI" >&2
fi

chmod 0666 "$D/state.db"
refused state-0666 "$D/state.db is writable by group or others \\(mode 0666\\): chmod 600 $D/state.db"
chmod 0600 "$D/state.db"
accepted "state back to 0600"

# A directory others may write to: they could swap the files in it.
chmod 0777 "$D"
refused dir-0777 "state directory $D is writable by group or others \\(mode 0777\\): chmod 700 $D"
chmod 1777 "$D"
accepted "sticky directory (others cannot replace our files)"
chmod 0700 "$D"

# A key of the wrong size (truncated, or something else put there).
cp "$D/key" "$T/key.good"
head -c 16 "$T/key.good" >"$D/key"
chmod 600 "$D/key"
refused key-short "$D/key is 16 bytes, not 32"
cp "$T/key.good" "$D/key" && printf 'x' >>"$D/key"
refused key-long "$D/key is 33 bytes, not 32"
cp "$T/key.good" "$D/key"
accepted "key restored"

# A symlink in place of the key file is not followed.
mv "$D/key" "$T/key.real"
ln -s "$T/key.real" "$D/key"
refused key-symlink "$D/key is a symbolic link"
rm "$D/key" && mv "$T/key.real" "$D/key"
accepted "key restored after symlink"

# The all-zero key of the report: 0666, owned by nobody - refused before any
# password is decrypted with it.
if [ "$(id -u)" = 0 ]; then
	head -c 32 /dev/zero >"$D/key"
	chmod 0666 "$D/key"
	chown nobody "$D/key"
	refused key-zero-nobody "$D/key is (owned by uid|writable by group)"
fi
finish
