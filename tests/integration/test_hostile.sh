#!/bin/bash
# A hostile source (tests/fakeserver/hostile.py): bodies refused with NO,
# UIDs left out of the listing or of the body fetch, answers out of order,
# RFC822.SIZE that lies, stray responses for UIDs that do not exist, a
# connection cut mid-stream.  After each, tests/fixtures/oracle.py compares
# the message files the server serves with the Maildir target: every
# message is there byte for byte, or the user is not Synced and the
# missing message is accounted for (skipped with a reason, or the error).
# The counts imapmig reports are checked against the oracle's.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
ORACLE="python3 $IMAPMIG_SRCDIR/tests/fixtures/oracle.py"
HOSTILE="$IMAPMIG_SRCDIR/tests/fakeserver/hostile.py"
# a server that keeps failing is retried from 10 ms, not 250 ms: the same
# retries, in 3 s rather than a minute
export IMAPMIG_TEST_BACKOFF_MS=10

# Five messages: small, a 40 KB single-part base64 (over the 32 KiB inline
# literal limit), a multipart with a base64 attachment, 8-bit text, a
# 1 MiB one.
MAIL=$T/mail
mkdir -p "$MAIL"
python3 - "$MAIL" <<'EOF'
import base64, os, random, sys
d = sys.argv[1]
rng = random.Random(7)
hdr = lambda i, extra=b"": (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: message %d\r\n"
                            b"Date: Mon, 1 Jan 2024 10:00:0%d +0000\r\nMessage-ID: <%d@example.org>\r\n" % (i, i, i)) + extra
b64 = lambda n: base64.encodebytes(bytes(rng.getrandbits(8) for _ in range(n))).replace(b"\n", b"\r\n")
msgs = [
    hdr(1) + b"\r\nhello\r\n",
    hdr(2, b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n") + b"\r\n" + b64(30000),
    hdr(3, b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n") +
        b"\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--XX\r\n"
        b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64(60000) + b"--XX--\r\n",
    hdr(4, b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n") +
        "\r\nGrüße aus Köln, привет\r\n".encode(),
    hdr(5) + b"\r\n" + (b"x" * 998 + b"\r\n") * 1050,
]
for i, m in enumerate(msgs, 1):
    p = os.path.join(d, "%03d.eml" % i)
    open(p, "wb").write(m)
    os.utime(p, (1700000000 + i * 3600, 1700000000 + i * 3600))
EOF

HPID=""
stop_hostile() {
	if [ -n "$HPID" ]; then
		kill "$HPID" 2>/dev/null
		wait "$HPID" 2>/dev/null
		HPID=""
	fi
}
trap 'stop_hostile; fixture_cleanup' EXIT

# scenario NAME EXPECT(exact|failed) MODE... : one fresh state, one sync
scenario() {
	local name=$1 expect=$2
	shift 2
	local dir=$T/$name modes=() m
	mkdir -p "$dir"
	for m in "$@"; do modes+=(--mode "$m"); done
	python3 "$HOSTILE" --maildir "$MAIL" --port-file "$dir/port" --log "$dir/client.log" \
		"${modes[@]}" >"$dir/hostile.out" 2>&1 &
	HPID=$!
	for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
	export IMAPMIG_STATE=$dir/state.db
	"$IMAPMIG" endpoint new --name H --remote-server 127.0.0.1 --port "$(cat "$dir/port")" \
		--security none --skip-verification >/dev/null 2>&1
	"$IMAPMIG" endpoint new --name L --type maildir --path-template "$dir/target/{local}/Maildir" >/dev/null
	printf 'EmailAddress,UserName,Password\nu@example.org,user,pw\n' >"$dir/u.csv"
	# shellcheck disable=SC2086
	"$IMAPMIG" batch new --name B --source-endpoint H --target-endpoint L --csv "$dir/u.csv" --autostart ${BATCH_ARGS:-} >/dev/null
	"$IMAPMIG" sync --batch B >"$dir/sync.out" 2>"$dir/sync.err"
	RC=$?
	if [ "${AGAIN:-}" ]; then
		$AGAIN "$dir"
		"$IMAPMIG" sync --batch B >>"$dir/sync.out" 2>>"$dir/sync.err"
		RC=$?
	fi
	stop_hostile
	"$IMAPMIG" user stats u@example.org --include-skipped-items --json >"$dir/stats.json"
	read -r STATUS SYNCED SKIPPED GRADE BYTES < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["status"], d["items_synced"], d["items_skipped"], d["data_consistency"], d["bytes_synced"])' "$dir/stats.json")
	python3 -c 'import json,sys; json.dump([{"folder": s["folder"], "size": s["size"], "reason": s["reason"]} for s in json.load(open(sys.argv[1]))["skipped_items"]], open(sys.argv[2], "w"))' \
		"$dir/stats.json" "$dir/allow.json"
	$ORACLE compare --source "eml:$MAIL" --target "files:$dir/target/u/Maildir" \
		--allow-skipped "$dir/allow.json" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED" \
		>"$dir/oracle.out" 2>&1
	ORC=$?
	echo "$name: rc $RC, $STATUS, $SYNCED synced, $SKIPPED skipped, $GRADE; $(tail -1 "$dir/oracle.out")" >&2
	case $expect in
	exact)
		expect_eq "$RC" 0 "$name: sync exit ($(tail -2 "$dir/sync.err"))"
		expect_eq "$STATUS" Synced "$name: status"
		expect_eq "$ORC" 0 "$name: oracle ($(head -5 "$dir/oracle.out"))"
		expect_eq "$SYNCED" "${WANT:-5}" "$name: items synced"
		;;
	reported)
		# skipped with a reason, everything else exact
		expect_eq "$STATUS" Synced "$name: status"
		expect_eq "$ORC" 0 "$name: oracle ($(head -5 "$dir/oracle.out"))"
		[ "$SKIPPED" -gt 0 ] || fail "$name: nothing reported as skipped"
		;;
	failed)
		# Not every message could be had: never Synced, never
		# Perfect, and what is on the target is exact (the oracle
		# may only miss what the report or the error accounts for).
		[ "$STATUS" != Synced ] || fail "$name: Synced although a message is missing"
		[ "$GRADE" != Perfect ] || fail "$name: Perfect although a message is missing"
		[ "$RC" != 0 ] || fail "$name: sync exit 0 although the user failed"
		grep -v '^missing\|^oracle:\|^count' "$dir/oracle.out" | grep . &&
			fail "$name: the target holds something wrong"
		;;
	esac
}

scenario plain exact
scenario shuffle exact shuffle
# answers out of order, and a pass that lists again what is copied (UID 3
# left out once holds last_uid back): nothing copied twice
scenario shuffle-omit-once exact shuffle omit:3:1
scenario no-body-once exact no-body-once:3
scenario omit-once exact omit:3:1
scenario omit-body-once exact omit-body:2:1
scenario drop exact drop-at:30000
scenario lie-small exact lie-size:3:10
expect_eq "$BYTES" "$(cat "$MAIL"/*.eml | wc -c)" "lie-small: bytes synced are the bytes that came"
scenario stray-high exact stray-uid:77
scenario stray-real exact stray-uid:3
scenario binary exact binary
scenario binary-no-body-once exact binary no-body-once:2

# A server that never gives one body, or never lists one message.
scenario no-body failed no-body:3
grep -q 'did not deliver' "$T/no-body/sync.err" "$T/no-body/stats.json" ||
	fail "no-body: the reason is not given"
scenario omit failed omit:3
grep -q 'listed only' "$T/omit/sync.err" ||
	fail "omit: the reason is not given"

# A stray UID far above the real ones must not hide mail that arrives
# later with a lower UID.
add_msg() { cp "$MAIL/001.eml" "$1/006.eml.tmp"; printf 'X-New: 1\r\n' | cat - "$1/006.eml.tmp" >"$MAIL/006.eml"; rm "$1/006.eml.tmp"; }
AGAIN=add_msg WANT=6 scenario stray-then-new exact stray-uid:77
rm -f "$MAIL/006.eml"

# A message skipped for its size whose header is over 32 KiB (a 40 KB
# Subject, folded): its summary comes as a streamed literal.  Reported
# with its subject, the others copied; the mailbox does not fail.
python3 - "$MAIL/006.eml" <<'PY'
import sys
subj = "Subject: minutes of the very long meeting" + "".join("\r\n item %05d of the agenda" % i for i in range(1600))
hdr = "From: a@example.org\r\nTo: b@example.org\r\n%s\r\nDate: Mon, 1 Jan 2024 10:00:06 +0000\r\n" % subj
open(sys.argv[1], "wb").write(hdr.encode() + b"\r\n" + (b"y" * 998 + b"\r\n") * 2100)
PY
BATCH_ARGS="--max-message-size 2M" scenario big-header-skipped reported
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["skipped_items"]; assert len(s) == 1 and s[0]["reason"].startswith("large item") and s[0]["subject"].startswith("minutes of the very long meeting"), s' \
	"$T/big-header-skipped/stats.json" || fail "big-header-skipped: the skipped item is not reported with its subject"
expect_eq "$SYNCED" 5 "big-header-skipped: items synced"
rm -f "$MAIL/006.eml"

# A size over the limit is checked (the byte at the limit must exist)
# before the message is skipped as large: this one is small, and copied.
scenario lie-big exact lie-size:3:40000000
grep -q 'not over the limit' "$T/lie-big/sync.err" || fail "lie-big: no word about the lie"

finish
