#!/bin/bash
# Control under `imapmig serve` that takes effect at once:
#  - `batch set --sync-now` starts the pass within 2 s (serve notices new
#    work while it naps);
#  - `batch remove` is refused while serve syncs the batch, naming the
#    users, and the batch stays;
#  - `batch stop` stops the traffic within 2 s: no bytes from the source,
#    no new files on the target after that; a later start completes the
#    migration exactly (oracle);
#  - a throttling source (NO [THROTTLED], NO [UNAVAILABLE], Microsoft 365's
#    "Suggested Backoff Time", injected by faultproxy in front of the real
#    Dovecot): the retries wait at least the hint, the wait is counted as
#    throttled time, no bad item, the copy is exact (oracle);
#  - a full disk under a Maildir target (a 2 MB tmpfs; needs root to
#    mount): the user fails with a clear error, the journal holds only what
#    is on disk, and after space is freed the next run completes exactly.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; fixture_cleanup' EXIT
printf 'tt:x\ndf:x\n' >"$T/users1"
fixture_start --users-file "$T/users1"
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 1 'INBOX:10' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 2 'INBOX:20' 'Big:25:600000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user paul.cannon --password 3281986 --seed 3 'INBOX:20' 'Big:25:600000' >/dev/null || exit 1
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" --port-file "$T/p.port" \
	--log "$T/p.log" --log-bytes --rate 1500000 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/p.port" ] && break; sleep 0.05; done

export IMAPMIG_STATE="$T/state/state.db"
MD="$T/md"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$(cat "$T/p.port")" --security none \
	--skip-verification --max-concurrent-migrations 4 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$MD/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\n' >"$T/a.csv"
printf 'EmailAddress,UserName,Password\nab@contoso.edu,ann.beebe,2111991\npc@contoso.edu,paul.cannon,3281986\n' >"$T/s.csv"
"$IMAPMIG" -q batch new --name A --source-endpoint src --target-endpoint md --csv "$T/a.csv" --autostart

"$IMAPMIG" serve 2>"$T/serve.err" &
SERVE=$!
PIDS+=($SERVE)

now() { date +%s.%N; }
files() { find "$MD/$1" -path '*/cur/*' -type f 2>/dev/null | wc -l; }
statuses() { "$IMAPMIG" user get --batch "$1" --json | python3 -c 'import json,sys; print(" ".join(sorted(u["status"] for u in json.load(sys.stdin))))'; }
wait_for() { # BATCH WANT SECONDS
	local i
	for i in $(seq 1 $(($3 * 10))); do
		[ "$(statuses "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# 1. --sync-now: serve has just finished a pass and naps; the command
# must not wait for the nap to end.  Three rounds at different offsets
# into serve's nap (a 5 s nap cannot hide all three).
wait_for A Synced 30 || fail "serve did not sync A: $(statuses A)"
expect_eq "$(files ta)" 10 "ta's messages on the target"
want=10
for off in 0 1.5 3; do
	want=$((want + 1))
	sleep "$off"
	$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed "$want" 'INBOX:1' >/dev/null
	t0=$(now)
	"$IMAPMIG" -q batch set A --sync-now
	t1=""
	for _ in $(seq 1 200); do
		[ "$(files ta)" = "$want" ] && { t1=$(now); break; }
		sleep 0.05
	done
	if [ -z "$t1" ]; then
		fail "sync-now: the new message did not reach the target in 10 s"
		continue
	fi
	d=$(python3 -c "print('%.2f' % ($t1 - $t0))")
	echo "sync-now (round +$off s): the new message was on the target $d s after the command" >&2
	python3 -c "import sys; sys.exit(0 if $t1 - $t0 <= 2.0 else 1)" ||
		fail "sync-now: the pass started $d s after the command (want <= 2 s)"
	wait_for A Synced 10 || fail "A did not end its pass: $(statuses A)"
done

# 2. remove while serve syncs the batch: refused, users named, batch kept.
"$IMAPMIG" -q batch new --name S --source-endpoint src --target-endpoint md --csv "$T/s.csv" --autostart
for _ in $(seq 1 100); do
	[ "$(files ab)" -gt 0 ] && [ "$(files pc)" -gt 0 ] && break
	sleep 0.1
done
[ "$(files ab)" -gt 0 ] || fail "serve did not start syncing S: $(statuses S)"
"$IMAPMIG" batch remove S --yes >"$T/rm.out" 2>"$T/rm.err"
rc=$?
echo "remove while syncing: exit $rc: $(cat "$T/rm.err")" >&2
expect_eq "$rc" 2 "batch remove S while serve syncs it"
expect_eq "$(wc -l <"$T/rm.err")" 1 "lines of the refusal"
grep -q 'ab@contoso.edu' "$T/rm.err" && grep -q 'pc@contoso.edu' "$T/rm.err" ||
	fail "the refusal does not name the syncing users: $(cat "$T/rm.err")"
"$IMAPMIG" batch get S >/dev/null 2>&1 || fail "batch S is gone after a refused remove"

# 3. stop: traffic ends within 2 s of the command's return.
sleep 1
"$IMAPMIG" -q batch stop S
ts=$(now)
sleep 2
n_2s=$(($(files ab) + $(files pc)))
sleep 4
n_late=$(($(files ab) + $(files pc)))
read -r late_bytes last_t < <(awk -v t="$ts" '$1 == "down" && $2 > t {b += $3; if ($2 > m) m = $2} END {printf "%d %.3f\n", b, m}' "$T/p.log")
lag=$(python3 -c "print('%.2f' % max(0, $last_t - $ts))")
echo "stop: $late_bytes bytes from the source after the command, the last $lag s after it; $((n_late - n_2s)) new files on the target 2 to 6 s after it" >&2
python3 -c "import sys; sys.exit(0 if $lag <= 2.0 else 1)" ||
	fail "stop: the source still sent data $lag s after batch stop ($late_bytes bytes)"
[ "$n_2s" -lt 90 ] || fail "stop: S had finished copying before the stop; the check proves nothing"
# files that appeared within the first 2 s may be in-flight ones; none later
expect_eq "$n_late" "$n_2s" "files on the target 2 to 6 s after batch stop"
wait_for S "Stopped Stopped" 10 || fail "S not stopped: $(statuses S)"

# 4. start again: the migration completes exactly.
"$IMAPMIG" -q batch start S
wait_for S "Synced Synced" 90 || fail "S did not sync after start: $(statuses S)"
for u in ab:ann.beebe pc:paul.cannon ta:terry.adams; do
	oracle_compare "after stop and start: ${u%%:*}" "served:$IMAPFIX_MAIL/${u#*:}/Maildir" "files:$MD/${u%%:*}/Maildir"
	user_stats "${u%%:*}@contoso.edu" "${u%%:*}"
	expect_eq "$BAD" 0 "bad items of ${u%%:*}"
done

kill -TERM "$SERVE"
for _ in $(seq 1 40); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.25; done
wait "$SERVE"
expect_eq "$?" 0 "serve exit code after SIGTERM"

# 5. Throttling: the 1st, 3rd and 6th EXAMINE are refused (three attempts,
# each getting one folder further).
$POP --port "$IMAPFIX_PORT" --user tt --password x --seed 5 'INBOX:10' 'A:5' 'B:5' 'C:3:200000' >/dev/null || exit 1
HINT=2000
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" --port-file "$T/q.port" \
	--log "$T/q.log" --inject 'EXAMINE:1:NO [THROTTLED] too many commands, slow down' \
	--inject 'EXAMINE:3:NO [UNAVAILABLE] the backend is busy, try later' \
	--inject "EXAMINE:6:NO Request is throttled. Suggested Backoff Time: $HINT milliseconds" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/q.port" ] && break; sleep 0.05; done
"$IMAPMIG" -q endpoint new --name busy --remote-server 127.0.0.1 --port "$(cat "$T/q.port")" --security none \
	--skip-verification 2>/dev/null
printf 'EmailAddress,UserName,Password\ntt@contoso.edu,tt,x\n' >"$T/t.csv"
"$IMAPMIG" -q batch new --name TH --source-endpoint busy --target-endpoint md --csv "$T/t.csv" --autostart
"$IMAPMIG" sync --batch TH >"$T/th.out" 2>"$T/th.err"
expect_eq "$?" 0 "sync of a throttling source"
expect_eq "$(grep -c '^inject' "$T/q.log")" 3 "throttled answers given"
# every injected answer: the next connection (the retry) came after the
# back-off, at least the hint where there was one
python3 - "$T/q.log" "$HINT" <<'PY' || fail "retries did not honour the back-off"
import sys
ev = [l.split() for l in open(sys.argv[1])]
opens = [float(e[-1]) for e in ev if e[0] == "open"]
for e in ev:
    if e[0] != "inject":
        continue
    t, occ = float(e[1]), int(e[3])
    nxt = min((o for o in opens if o > t), default=None)
    want = int(sys.argv[2]) / 1000 if occ == 6 else 0.25
    gap = None if nxt is None else nxt - t
    print("throttle: EXAMINE #%d answered NO, retry %s s later (want >= %.2f)" %
          (occ, "never" if gap is None else "%.2f" % gap, want), file=sys.stderr)
    if gap is None or gap < want:
        sys.exit(1)
PY
grep -q 'Suggested Backoff Time' "$T/th.err" || fail "the hint's retry not logged: $(cat "$T/th.err")"
user_stats tt@contoso.edu tt
expect_eq "$STATUS" Synced "tt after throttling"
expect_eq "$BAD" 0 "bad items after throttling"
thr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds_throttled"])' "$T/tt.stats")
echo "throttle: seconds_throttled $thr" >&2
[ "$thr" -ge 2 ] || fail "seconds_throttled is $thr, want >= 2 (0.25 + 0.5 + $HINT ms waited)"
oracle_compare "after throttling: tt" "served:$IMAPFIX_MAIL/tt/Maildir" "files:$MD/tt/Maildir"

# 6. A full disk under the Maildir target.
FULL="$T/full"
mkdir -p "$FULL"
if ! mount -t tmpfs -o size=2m tmpfs "$FULL" 2>"$T/mount.err"; then
	fail "disk full: cannot mount a tmpfs (run as root): $(cat "$T/mount.err")"
	finish
fi
trap 'umount "$FULL" 2>/dev/null; kill "${PIDS[@]}" 2>/dev/null; fixture_cleanup' EXIT
$POP --port "$IMAPFIX_PORT" --user df --password x --seed 6 'INBOX:10' 'Big:12:300000' >/dev/null || exit 1
"$IMAPMIG" -q endpoint new --name full --type maildir --path-template "$FULL/{local}/Maildir"
printf 'EmailAddress,UserName,Password\ndf@contoso.edu,df,x\n' >"$T/d.csv"
"$IMAPMIG" -q batch new --name DF --source-endpoint src --target-endpoint full --csv "$T/d.csv" --autostart
"$IMAPMIG" sync --batch DF >"$T/df.out" 2>"$T/df.err"
rc=$?
echo "disk full: exit $rc: $(grep -v '^ ' "$T/df.err" | head -3)" >&2
[ "$rc" != 0 ] || fail "sync onto a full disk exits 0"
user_stats df@contoso.edu df
expect_eq "$STATUS" Failed "df on a full disk"
err=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"] or "")' "$T/df.stats")
echo "disk full: the user's error: $err" >&2
case "$err" in *"disk full"* | *"No space left"*) ;; *) fail "df's error does not say the disk is full: $err" ;; esac
on_disk=$(find "$FULL/df" -path '*/cur/*' -type f | wc -l)
# the journal: copied (done) only what is on disk; what is on disk is done
# or in flight (looked up by the next run), never unknown
read -r done inflight < <(python3 - "$IMAPMIG_STATE" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
q = "SELECT COUNT(*) FROM items i JOIN folders f ON f.id = i.folder_id JOIN users u ON u.id = f.user_id WHERE u.email = 'df@contoso.edu' AND i.state = ?"
print(db.execute(q, (1,)).fetchone()[0], db.execute(q, (0,)).fetchone()[0])
PY
)
echo "disk full: journal: $done copied, $inflight in flight; $on_disk files on the target" >&2
[ "$done" -le "$on_disk" ] && [ "$on_disk" -le $((done + inflight)) ] ||
	fail "disk full: the journal ($done copied, $inflight in flight) does not match the $on_disk files on the target"
expect_eq "$BAD" 0 "bad items on a full disk"
mount -o remount,size=20m "$FULL" || fail "cannot grow the tmpfs"
"$IMAPMIG" -q user start df@contoso.edu 2>/dev/null || "$IMAPMIG" -q batch start DF
"$IMAPMIG" sync --batch DF >"$T/df2.out" 2>"$T/df2.err"
expect_eq "$?" 0 "sync after space was freed: $(head -3 "$T/df2.err")"
user_stats df@contoso.edu df2
expect_eq "$STATUS" Synced "df after space was freed"
oracle_compare "after a full disk: df" "served:$IMAPFIX_MAIL/df/Maildir" "files:$FULL/df/Maildir"
finish
