#!/bin/bash
# imapmig serve: initial syncs within the endpoint's concurrency limit
# (counted at the source), incremental syncs on its timer, a stop from
# another process within seconds, one serve per state, a clean SIGTERM.
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
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 1 'INBOX:30' 'Big:3:300000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 2 'INBOX:30' 'Big:3:300000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user paul.cannon --password 3281986 --seed 3 'INBOX:30' 'Big:3:300000' >/dev/null || exit 1
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" --port-file "$T/p.port" \
	--log "$T/p.log" --rate 1500000 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/p.port" ] && break; sleep 0.05; done

export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$(cat "$T/p.port")" --security none \
	--skip-verification --max-concurrent-migrations 1 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$IMAPFIX2_MAIL/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\nab@contoso.edu,ann.beebe,2111991\npc@contoso.edu,paul.cannon,3281986\n' >"$T/u.csv"
"$IMAPMIG" -q batch new --name S --source-endpoint src --target-endpoint md --csv "$T/u.csv" --autostart

"$IMAPMIG" serve --incremental-interval 4s 2>"$T/serve.err" &
SERVE=$!
PIDS+=($SERVE)
sleep 0.5
"$IMAPMIG" serve 2>"$T/serve2.err"
expect_eq "$?" 1 "a second serve on the same state"
grep -q 'another imapmig serve' "$T/serve2.err" || fail "second serve: $(cat "$T/serve2.err")"

statuses() { "$IMAPMIG" user get --batch S --json | python3 -c 'import json,sys; print(" ".join(sorted(u["status"] for u in json.load(sys.stdin))))'; }
wait_for() { # WANT SECONDS
	local i
	for i in $(seq 1 $(($2 * 4))); do
		[ "$(statuses)" = "$1" ] && return 0
		sleep 0.25
	done
	return 1
}
wait_for "Synced Synced Synced" 30 || { fail "serve did not sync every user: $(statuses)"; cat "$T/serve.err" >&2; "$IMAPMIG" user get --batch S >&2; }
max=$(awk '/^open/ {if ($4 > m) m = $4} END {print m + 0}' "$T/p.log")
echo "serve: at most $max connection(s) at the source (limit 1)" >&2
expect_eq "$max" 1 "concurrent connections at the source with --max-concurrent-migrations 1"

# New mail is picked up by the incremental timer, without anyone asking.
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 9 'INBOX:5' >/dev/null
ok=0
for _ in $(seq 1 60); do
	n=$(cd "$IMAPFIX2_MAIL/ab" 2>/dev/null && find . -path '*/cur/*' -type f | wc -l)
	[ "$n" = 38 ] && { ok=1; break; }
	sleep 0.5
done
expect_eq "$ok" 1 "incremental sync by serve's timer (ab has $n of 38 messages)"

# A stop from another process takes effect within seconds.
$POP --port "$IMAPFIX_PORT" --user paul.cannon --password 3281986 --seed 8 'Big:8:600000' >/dev/null
sleep 5
"$IMAPMIG" -q batch stop S
wait_for "Stopped Stopped Stopped" 15 || fail "batch stop did not take effect: $(statuses)"

# SIGTERM: a clean exit, nothing left Syncing.
kill -TERM "$SERVE"
for _ in $(seq 1 40); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.25; done
kill -0 "$SERVE" 2>/dev/null && fail "serve did not stop on SIGTERM"
wait "$SERVE"
expect_eq "$?" 0 "serve exit code after SIGTERM"
grep -q 'stopped cleanly' "$T/serve.err" || fail "serve: $(tail -3 "$T/serve.err")"
# The log: a time and a level on every line; an idle mailbox's passes (ta
# got no new mail, its incremental sync ran every 4 s) add no lines.
grep -Evq '^20[0-9-]{8}T[0-9:]{8}Z imapmig: (info|warning|error): ' "$T/serve.err" &&
	fail "serve's log has lines without a time and a level: $(grep -Ev '^20[0-9-]{8}T' "$T/serve.err" | head -3)"
n=$(grep -c 'user ta@contoso.edu' "$T/serve.err")
echo "serve: $(wc -l <"$T/serve.err") log lines, $n about the idle ta@contoso.edu" >&2
[ "$n" -le 1 ] || fail "serve logs the idle user ta on every pass: $(grep 'user ta@' "$T/serve.err" | head -5)"
grep -q 'warning: ' "$T/serve.err" && fail "serve warns with nothing wrong: $(grep 'warning: ' "$T/serve.err" | head -3)"
statuses | grep -q Syncing && fail "users left Syncing after SIGTERM"
finish
