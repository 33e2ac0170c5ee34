#!/bin/bash
# An interrupted run resumes by itself (issue 13, item 2).  SIGTERM to
# `serve` and Ctrl-C (SIGINT) to `sync` in the middle of the work are not
# an administrator's stop: no user and no batch may be left Stopped, the
# log must not call a cut-short user synced, and the next `serve` or plain
# `sync` finishes the migration.  The result is read back by the oracle
# (tests/fixtures/oracle.py), and the counts imapmig reports are checked
# against what it found.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; fixture_cleanup' EXIT
fixture_start
printf 'ta:x\nab:x\npc:x\n' >"$T/users2"
fixture_start_second --users-file "$T/users2"
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 1 'INBOX:40' 'Big:10:300000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 2 'INBOX:40' 'Big:10:300000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user paul.cannon --password 3281986 --seed 3 'INBOX:40' 'Big:10:300000' >/dev/null || exit 1
# A slow link, so each signal lands in the middle of the work.
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" --port-file "$T/p.port" \
	--log "$T/p.log" --rate 400000 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/p.port" ] && break; sleep 0.05; done

export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$(cat "$T/p.port")" --security none \
	--skip-verification --max-concurrent-migrations 2 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$IMAPFIX2_MAIL/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\nab@contoso.edu,ann.beebe,2111991\npc@contoso.edu,paul.cannon,3281986\n' >"$T/u.csv"

statuses() { "$IMAPMIG" user get --batch "$1" --json | python3 -c 'import json,sys; print(" ".join(sorted(u["status"] for u in json.load(sys.stdin))))'; }
batch_status() { "$IMAPMIG" batch get "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
# wait until the target holds at least N message files
wait_files() {
	local i n=0
	for i in $(seq 1 200); do
		n=$(find "$IMAPFIX2_MAIL" -path '*/cur/*' -type f 2>/dev/null | wc -l)
		[ "$n" -ge "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
all_exact() { # WHAT
	local u l
	for u in ta:terry.adams ab:ann.beebe pc:paul.cannon; do
		l=${u%%:*}
		user_stats "$l@contoso.edu" "$1-$l" || continue
		expect_eq "$STATUS" Synced "$1: $l status"
		oracle_compare "$1: $l" "served:$IMAPFIX_MAIL/${u#*:}/Maildir" "files:$IMAPFIX2_MAIL/$l/Maildir" \
			--expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
	done
}

# serve, SIGTERM in the middle of the initial syncs
"$IMAPMIG" -q batch new --name S --source-endpoint src --target-endpoint md --csv "$T/u.csv" --autostart
"$IMAPMIG" serve 2>"$T/serve1.err" &
SERVE=$!
PIDS+=($SERVE)
wait_files 10 || fail "serve copied nothing"
kill -TERM "$SERVE"
wait "$SERVE"
expect_eq "$?" 0 "serve exit code after SIGTERM"
n=$(find "$IMAPFIX2_MAIL" -path '*/cur/*' -type f | wc -l)
echo "SIGTERM to serve with $n of 150 messages on the target" >&2
[ "$n" -lt 150 ] || fail "serve had finished before SIGTERM: the test proves nothing"
st=$(statuses S)
echo "after SIGTERM: users $st, batch $(batch_status S)" >&2
case " $st " in *Stopped* | *Syncing\ *) fail "SIGTERM left users Stopped or Syncing: $st" ;; esac
expect_eq "$(batch_status S)" Syncing "batch status after SIGTERM"
grep -q 'interrupted' "$T/serve1.err" || fail "serve's log does not say the run was interrupted: $(tail -5 "$T/serve1.err")"
# the log calls synced only users that are; every line has its time
grep -Evq '^20[0-9-]{8}T[0-9:]{8}Z imapmig: (info|warning|error): ' "$T/serve1.err" &&
	fail "serve's log has lines without a time and a level: $(grep -Ev '^20[0-9-]{8}T' "$T/serve1.err" | head -3)"
for u in $(sed -n 's/.*user \([^ ]*\): initial sync done.*/\1/p' "$T/serve1.err"); do
	"$IMAPMIG" user get "$u" --json | grep -q '"status": *"Synced"' ||
		fail "serve's log says $u synced, but it is $("$IMAPMIG" user get "$u" --json | head -c 300)"
done

# a new serve resumes it with nobody asking
"$IMAPMIG" serve 2>"$T/serve2.err" &
SERVE=$!
PIDS+=($SERVE)
ok=0
for _ in $(seq 1 240); do
	[ "$(statuses S)" = "Synced Synced Synced" ] && { ok=1; break; }
	sleep 0.25
done
kill -TERM "$SERVE"
wait "$SERVE"
expect_eq "$ok" 1 "a restarted serve resumes the interrupted batch (users: $(statuses S))"
all_exact serve
"$IMAPMIG" -q batch remove S --force --yes
rm -rf "${IMAPFIX2_MAIL:?}"/ta "$IMAPFIX2_MAIL"/ab "$IMAPFIX2_MAIL"/pc

# sync, Ctrl-C (SIGINT) in the middle; a plain re-run finishes it
"$IMAPMIG" -q batch new --name C --source-endpoint src --target-endpoint md --csv "$T/u.csv" --autostart
"$IMAPMIG" sync --batch C >"$T/sync1.out" 2>"$T/sync1.err" &
SYNC=$!
PIDS+=($SYNC)
wait_files 10 || fail "sync copied nothing"
kill -INT "$SYNC"
wait "$SYNC"
expect_eq "$?" 1 "sync exit code after Ctrl-C"
grep -q 'interrupted' "$T/sync1.out" || fail "sync does not say it was interrupted: $(tail -2 "$T/sync1.out")"
st=$(statuses C)
echo "after Ctrl-C: users $st, batch $(batch_status C)" >&2
case " $st " in *Stopped* | *Syncing\ *) fail "Ctrl-C left users Stopped or Syncing: $st" ;; esac
"$IMAPMIG" sync --batch C >"$T/sync2.out" 2>"$T/sync2.err"
expect_eq "$?" 0 "sync re-run after Ctrl-C: $(cat "$T/sync2.err")"
expect_eq "$(statuses C)" "Synced Synced Synced" "users after the re-run"
all_exact sync
finish
