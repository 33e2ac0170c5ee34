#!/bin/bash
# A server that tries to make the client hold too much, or wait forever
# (tests/fakeserver/flood.py): a response made of thousands of kept
# literals, a line without end, a 2^63-byte literal, 10,000-deep lists, a
# BYE inside a literal, a stall inside a response.  Each time test-server
# must fail (exit 1) with a one-line reason, and its peak RSS stay under
# 64 MiB.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
FLOOD="$IMAPMIG_SRCDIR/tests/fakeserver/flood.py"
MAX_RSS_KB=$((64 * 1024))
# AddressSanitizer's shadow memory, redzones and quarantine inflate RSS
# (its baseline alone is ~20 MB, and the 500,000-atom parse tree 47 MB in
# the release build becomes ~106 MB): the 64 MiB bound is the release
# build's; under the sanitizer the test still bounds it, at 2.5 times.
[ -n "${IMAPMIG_SANITIZED:-}" ] && MAX_RSS_KB=$((160 * 1024))

FPID=""
stop_flood() {
	if [ -n "$FPID" ]; then
		kill "$FPID" 2>/dev/null
		wait "$FPID" 2>/dev/null
		FPID=""
	fi
}
trap 'stop_flood; fixture_cleanup' EXIT

# peak_rss_kb CMD...: runs CMD, sets RC and RSS_KB (peak resident set in
# KiB, from /usr/bin/time -v, else VmHWM read from /proc while it runs).
peak_rss_kb() {
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -v -o "$T/time" "$@"
		RC=$?
		RSS_KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$T/time")
		return
	fi
	"$@" &
	local pid=$! hwm
	RSS_KB=0
	while kill -0 "$pid" 2>/dev/null; do
		hwm=$(sed -n 's/^VmHWM: *\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)
		[ -n "$hwm" ] && [ "$hwm" -gt "$RSS_KB" ] && RSS_KB=$hwm
		sleep 0.02
	done
	wait "$pid"
	RC=$?
}

# shape NAME ERROR-REGEX [test-server options]
shape() {
	local name=$1 want=$2 dir=$T/$1 start
	shift 2
	# FLOOD_ONLY=NAME runs one shape (to watch it fail on broken code)
	[ -n "${FLOOD_ONLY:-}" ] && [ "$name" != "$FLOOD_ONLY" ] && return
	mkdir -p "$dir"
	python3 "$FLOOD" "$name" --port-file "$dir/port" >"$dir/flood.out" 2>&1 &
	FPID=$!
	for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
	start=$(date +%s)
	peak_rss_kb "$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$(cat "$dir/port")" \
		--security none --timeout 5 "$@" >"$dir/out" 2>"$dir/err"
	ELAPSED=$(($(date +%s) - start))
	stop_flood
	echo "$name: rc $RC, peak RSS ${RSS_KB} KiB, ${ELAPSED} s: $(grep -v 'not encrypted' "$dir/err")" >&2
	expect_eq "$RC" 1 "$name: exit status"
	grep -v 'not encrypted' "$dir/err" >"$dir/err.rest"
	expect_eq "$(wc -l <"$dir/err.rest")" 1 "$name: lines of error ($(cat "$dir/err.rest"))"
	grep -qE "$want" "$dir/err.rest" || fail "$name: error does not say '$want': $(cat "$dir/err.rest")"
	[ -n "$RSS_KB" ] && [ "$RSS_KB" -lt "$MAX_RSS_KB" ] ||
		fail "$name: peak RSS ${RSS_KB} KiB, over ${MAX_RSS_KB} KiB"
}

shape literals 'server response over [0-9]+ bytes'
shape atoms 'sent no IMAP greeting'
shape endless 'response line longer than [0-9]+ bytes'
shape huge-literal 'literal size too large'
shape deep 'lists nested deeper than [0-9]+'
shape bye-literal 'closed the connection|connection closed'
# The deadline fires: --timeout 2, and test-server gives up within 10 s.
shape stall 'no answer from 127.0.0.1:[0-9]+ for 2 s' --timeout 2
[ -n "${FLOOD_ONLY:-}" ] && [ "$FLOOD_ONLY" != stall ] || [ "$ELAPSED" -le 10 ] || fail "stall: took $ELAPSED s with --timeout 2"

# Big responses that are legitimate still fit, from a real Dovecot: a
# FETCH of 100 messages' headers (100 responses, not one), the
# BODYSTRUCTURE of a 3,000-part message (one response, hundreds of KB),
# the BINARY[] of a digest's 100 parts of 30 KB (3 MB in all).
if [ -z "${FLOOD_ONLY:-}" ]; then
	fixture_start
	$SEED --mail-root "$IMAPFIX_MAIL" --user terry.adams --folder Many --count 100 --seed 3 --size-mix small >/dev/null
	python3 - "$T/parts.eml" <<'PY'
import sys
# 8-bit parts with a 0x80 byte and a base64 one: a body that may hide a
# NUL, which imapmig checks through BODYSTRUCTURE and BINARY[part]
parts = b"".join(b"--B\r\nContent-Type: text/plain; name=\"p%d.txt\"\r\n"
                 b"Content-Transfer-Encoding: 8bit\r\n\r\npart %d \x80\r\n" % (i, i) for i in range(3000))
parts += b"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
m = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: many parts\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + parts + b"--B--\r\n")
open(sys.argv[1], "wb").write(m)
PY
	$SEED --mail-root "$IMAPFIX_MAIL" --user terry.adams --folder Parts --file "$T/parts.eml" >/dev/null
	# A digest of 100 8-bit parts of 30,000 bytes: each under the 32 KiB
	# kept-literal size, 3 MB together, so its parts' BINARY[] (the NUL
	# check) must not come back in one response.
	python3 - "$T/digest.eml" <<'PY'
import sys
# "À" is C3 80 in UTF-8: a 0x80 byte, a NUL the source may have hidden
line = ("À la carte in Köln " * 60)[:900].encode() + b"\r\n"
body = (line * 40)[:30000]
parts = b"".join(b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n" for i in range(100))
parts += b"--B\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
m = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: digest\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + parts + b"--B--\r\n")
open(sys.argv[1], "wb").write(m)
PY
	$SEED --mail-root "$IMAPFIX_MAIL" --user terry.adams --folder Digest --file "$T/digest.eml" >/dev/null
	BS=$(python3 -c 'import imaplib,sys; M=imaplib.IMAP4("127.0.0.1", int(sys.argv[1])); M.login("terry.adams","1091990"); M.select("Parts"); t,d=M.uid("FETCH","1:*","(BODYSTRUCTURE)"); print(len(d[0]) if isinstance(d[0], bytes) else len(d[0][0]) + len(d[0][1]))' "$IMAPFIX_PORT")
	echo "legit: Dovecot's BODYSTRUCTURE of the 3,000-part message is $BS bytes" >&2
	[ "${BS:-0}" -gt 200000 ] || fail "legit: BODYSTRUCTURE only ${BS:-?} bytes: not the big response wanted"
	export IMAPMIG_STATE=$T/state.db
	"$IMAPMIG" endpoint new --name D --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" \
		--security none --skip-verification >/dev/null 2>&1
	"$IMAPMIG" endpoint new --name L --type maildir --path-template "$T/target/{local}/Maildir" >/dev/null
	printf 'EmailAddress,UserName,Password\nterry.adams@example.org,terry.adams,1091990\n' >"$T/u.csv"
	"$IMAPMIG" batch new --name B --source-endpoint D --target-endpoint L --csv "$T/u.csv" --autostart >/dev/null
	"$IMAPMIG" -v -v sync --batch B >"$T/sync.out" 2>"$T/sync.err"
	expect_eq "$?" 0 "legit: sync exit ($(tail -2 "$T/sync.err"))"
	user_stats terry.adams@example.org legit
	expect_eq "$STATUS" Synced "legit: status"
	expect_eq "$SYNCED" 102 "legit: items synced"
	grep -q 'S: \* [0-9]* FETCH (UID [0-9]* BODYSTRUCTURE' "$T/sync.err" ||
		fail "legit: imapmig did not fetch the BODYSTRUCTURE"
fi

finish
