#!/bin/bash
# A stop during one huge response: SIGTERM while the source is still
# sending a LIST of 200,000 folders (bench/bigmailbox.py, paced so that the
# listing lasts about 10 s) must end `imapmig sync` within 2 s, and the
# user must be left to resume (not Failed).
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
export IMAPMIG_STATE="$T/state/state.db"
SRV=""
SYNC=""
cleanup() {
	[ -n "$SYNC" ] && kill "$SYNC" 2>/dev/null
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	wait 2>/dev/null
	fixture_cleanup
}
trap cleanup EXIT

python3 "$IMAPMIG_SRCDIR/bench/bigmailbox.py" --port-file "$T/port" \
	--folders 200000 --messages 10 --list-pace 0.05 >"$T/srv.log" 2>&1 &
SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
[ -s "$T/port" ] || { fail "bigmailbox.py did not start"; finish; }

printf 'EmailAddress,UserName,Password\nbig@example.org,big,x\n' >"$T/u.csv"
"$IMAPMIG" -q endpoint new --name big --remote-server 127.0.0.1 --port "$(cat "$T/port")" \
	--security none --skip-verification 2>/dev/null || fail "endpoint new (source)"
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$T/mail/{local}/Maildir" ||
	fail "endpoint new (target)"
"$IMAPMIG" -q batch new --name B --source-endpoint big --target-endpoint md --csv "$T/u.csv" \
	--autostart || fail "batch new"

"$IMAPMIG" sync --batch B >"$T/sync.out" 2>"$T/sync.err" &
SYNC=$!
# into the listing: the LIST is sent at once and lasts ~10 s
sleep 3
kill -0 "$SYNC" 2>/dev/null || fail "sync ended before the stop: $(tail -3 "$T/sync.err")"
t0=$(date +%s%N)
kill -TERM "$SYNC"
for _ in $(seq 100); do kill -0 "$SYNC" 2>/dev/null || break; sleep 0.05; done
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
if kill -0 "$SYNC" 2>/dev/null; then
	fail "sync still running $ms ms after SIGTERM in the middle of a 200,000-folder LIST"
	kill -KILL "$SYNC" 2>/dev/null
fi
wait "$SYNC"
rc=$?
SYNC=""
echo "stopped $ms ms after SIGTERM (exit $rc)" >&2
[ "$ms" -le 2000 ] || fail "SIGTERM took $ms ms to end the run (bound: 2000 ms)"
expect_eq "$rc" 1 "sync exit status after SIGTERM"
grep -q "interrupted" "$T/sync.out" || fail "sync did not say it was interrupted: $(tail -2 "$T/sync.out")"
st=$("$IMAPMIG" user get --batch B --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])')
[ "$st" != "Failed" ] || fail "the user is Failed after a stop: $("$IMAPMIG" user get --batch B --json)"
echo "user status after the stop: $st" >&2
finish
