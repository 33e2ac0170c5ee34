#!/bin/bash
# The batch lifecycle of the procedure (Steps 4-6) against real Dovecot:
# Created -> start -> Synced -> complete (one last incremental sync) ->
# Completed -> remove, with the cutover guard; --allow-incremental-syncs
# false; user stop/start/remove.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
fixture_start
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 'INBOX:5' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 'INBOX:4' >/dev/null || exit 1
export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$T/mail/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\nab@contoso.edu,ann.beebe,2111991\n' >"$T/u.csv"

bstatus() { "$IMAPMIG" batch get "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
ustatus() { "$IMAPMIG" user get "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["status"])'; }
count() { find "$T/mail/$1" -path '*/cur/*' -type f 2>/dev/null | wc -l; }

"$IMAPMIG" -q batch new --name L --source-endpoint src --target-endpoint md --csv "$T/u.csv"
expect_eq "$(bstatus L)" Created "a new batch without --autostart"
"$IMAPMIG" sync --batch L >/dev/null 2>"$T/err"
expect_eq "$?" 2 "sync of a batch not started"
grep -q "batch start L" "$T/err" || fail "not-started error: $(cat "$T/err")"
"$IMAPMIG" batch start L >"$T/out" || fail "batch start"
grep -q "'imapmig sync --batch L' copies them now, or a running 'imapmig serve'" "$T/out" ||
	fail "batch start does not say what runs it: $(cat "$T/out")"
"$IMAPMIG" -q sync --batch L || fail "initial sync"
expect_eq "$(bstatus L)" Synced "after the initial sync"
expect_eq "$(count ta)" 5 "ta copied"

# stop / start one user
"$IMAPMIG" -q user stop ab@contoso.edu
expect_eq "$(ustatus ab@contoso.edu)" Stopped "user stop"
"$IMAPMIG" -q user start ab@contoso.edu
expect_eq "$(ustatus ab@contoso.edu)" Queued "user start"
"$IMAPMIG" -q sync --batch L || fail "sync after user start"

# complete: one last incremental sync, then Completed for good
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 5 'INBOX:2' >/dev/null
"$IMAPMIG" -q batch complete L
expect_eq "$(bstatus L)" Completing "batch complete"
"$IMAPMIG" -q sync --batch L || fail "the final sync"
expect_eq "$(bstatus L)" Completed "after the final sync"
expect_eq "$(ustatus ta@contoso.edu)" Completed "user after complete"
expect_eq "$(count ta)" 7 "mail that arrived before complete is copied"
"$IMAPMIG" sync --batch L >/dev/null 2>&1
expect_eq "$?" 2 "a completed batch does not sync again"
# a completed user does not start or stop again (status.h's one table)
"$IMAPMIG" user start ta@contoso.edu >/dev/null 2>"$T/err"
expect_eq "$?" 2 "user start of a completed user"
grep -q "is Completed: 'user start' does not apply" "$T/err" || fail "user start of a completed user: $(cat "$T/err")"
"$IMAPMIG" user stop ta@contoso.edu >/dev/null 2>&1
expect_eq "$?" 2 "user stop of a completed user"
expect_eq "$(ustatus ta@contoso.edu)" Completed "a completed user stays Completed"

# remove: refused while the last sync is older than the cutover
"$IMAPMIG" -q batch set L --cutover +1h
"$IMAPMIG" batch remove L >/dev/null 2>"$T/err"
expect_eq "$?" 2 "remove before a sync after the cutover"
grep -q 'cutover.*--force' "$T/err" || fail "cutover guard: $(cat "$T/err")"
# remove asks first; with no terminal to answer, --yes is needed
"$IMAPMIG" batch remove L --force </dev/null >/dev/null 2>"$T/err"
expect_eq "$?" 2 "remove without --yes and no terminal"
grep -q 'add --yes' "$T/err" || fail "remove without --yes: $(cat "$T/err")"
"$IMAPMIG" batch get L >/dev/null 2>&1 || fail "batch removed without confirmation"
printf 'n\n' | script -qec "$IMAPMIG batch remove L --force" /dev/null >"$T/out" 2>&1
"$IMAPMIG" batch get L >/dev/null 2>&1 || fail "batch removed though the answer was no: $(cat "$T/out")"
grep -q 'Remove batch L and its 2 user(s)' "$T/out" || fail "remove did not ask: $(cat "$T/out")"
"$IMAPMIG" -q batch remove L --force --yes || fail "remove --force --yes"
"$IMAPMIG" batch get L >/dev/null 2>&1 && fail "batch still there after remove"
expect_eq "$(count ta)" 7 "remove keeps the mail on the target"

# --allow-incremental-syncs false: Stopped after the initial sync
"$IMAPMIG" -q batch new --name N --source-endpoint src --target-endpoint md --csv "$T/u.csv" \
	--allow-incremental-syncs false --autostart 2>"$T/err" || fail "batch new N: $(cat "$T/err")"
"$IMAPMIG" -q sync --batch N || fail "sync N"
expect_eq "$(bstatus N)" Stopped "no incremental syncs"
# N imported the users of the removed batch L again: what L copied is
# found on the target, not copied a second time
expect_eq "$(count ta)" 7 "ta after remove and re-import"
expect_eq "$(count ab)" 4 "ab after remove and re-import"
"$IMAPMIG" user remove ab@contoso.edu </dev/null >/dev/null 2>&1
expect_eq "$?" 2 "user remove without --yes and no terminal"
"$IMAPMIG" -q user remove ab@contoso.edu --yes
"$IMAPMIG" user get ab@contoso.edu >/dev/null 2>&1 && fail "user remove"

# --max-bytes-per-second paces what the source sends, per mailbox: about
# 1.2 MB at 400K a second takes 3 s or more; the copy is complete.
$POP --port "$IMAPFIX_PORT" --user paul.cannon --password 3281986 --seed 4 'Big:4:300000' >/dev/null || exit 1
printf 'EmailAddress,UserName,Password\npc@contoso.edu,paul.cannon,3281986\n' >"$T/pc.csv"
"$IMAPMIG" -q batch new --name Slow --source-endpoint src --target-endpoint md --csv "$T/pc.csv" \
	--max-bytes-per-second 400K --autostart || fail "batch new --max-bytes-per-second"
"$IMAPMIG" batch get Slow --json | grep -q '"max_bytes_per_second": 409600' || fail "batch get: no max_bytes_per_second"
start=$(date +%s%N)
"$IMAPMIG" -q sync --batch Slow || fail "sync Slow"
took=$((($(date +%s%N) - start) / 1000000))
echo "1.2 MB at --max-bytes-per-second 400K: $took ms" >&2
[ "$took" -ge 2700 ] || fail "--max-bytes-per-second 400K: 1.2 MB took only $took ms"
expect_eq "$(count pc)" 4 "pc's messages under the rate limit"
"$IMAPMIG" -q batch set Slow --max-bytes-per-second 0 || fail "batch set --max-bytes-per-second 0"
"$IMAPMIG" batch get Slow --json | grep -q '"max_bytes_per_second": 0' || fail "batch set: the limit stays"

# A source that refuses the password: Failed at once, with the reason,
# not retried for minutes.  The batch's other user syncs, and the batch's
# last_synced says when, failed user or not.
printf 'EmailAddress,UserName,Password
bad@contoso.edu,terry.adams,WrongSecret
good@contoso.edu,ann.beebe,2111991
' >"$T/bad.csv"
# no --target-endpoint: the batch says where the mail goes
"$IMAPMIG" batch new --name Bad --source-endpoint src --csv "$T/bad.csv" --autostart \
	--include-folders INBOX >"$T/out" 2>&1
grep -q "No --target-endpoint: mail goes to Maildir under $T/state/mail/" "$T/out" ||
	fail "batch new without a target does not say where mail goes: $(cat "$T/out")"
"$IMAPMIG" -q batch set Bad --cutover '2030-01-01 00:00' || fail "batch set --cutover"
start=$(date +%s)
"$IMAPMIG" sync --batch Bad >/dev/null 2>"$T/err"
expect_eq "$?" 1 "sync with a refused password"
[ $(( $(date +%s) - start )) -le 5 ] || fail "a refused password was retried"
expect_eq "$(ustatus bad@contoso.edu)" Failed "user with a refused password"
"$IMAPMIG" user get bad@contoso.edu --json | grep -q 'refused the login of' || fail "no reason for the failure"
grep -q WrongSecret "$T/err" && fail "the password was printed"
"$IMAPMIG" batch get Bad --json >"$T/b.json"
python3 - "$T/b.json" <<'EOF' || fail "batch get Bad: $(cat "$T/b.json")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["failed_count"] == 1 and b["synced_count"] == 1, b
assert b["last_synced"] is not None, "last_synced not updated because a user failed"
assert b["cutover"].startswith("2030-01-01"), b["cutover"]
assert b["include_folders"] == "INBOX" and "notification_emails" in b and "start_after" in b, b
assert b["completed"] is None, "an unset time is null"
EOF
# the table shows the JSON's fields under the same names
"$IMAPMIG" batch get Bad >"$T/b.txt"
for k in name cutover include_folders last_synced start_after; do
	grep -q "^$k  *: " "$T/b.txt" || fail "batch get table lacks $k: $(cat "$T/b.txt")"
done
"$IMAPMIG" batch get >"$T/all.txt"
expect_eq "$(grep -c '^Bad ' "$T/all.txt")" 1 "batch get without a name: one line per batch"
# --status: any case; an unknown status is an error, not an empty list
"$IMAPMIG" user get --status failed >"$T/out" || fail "user get --status failed"
grep -q '^bad@contoso.edu ' "$T/out" || fail "user get --status failed: $(cat "$T/out")"
grep -q '^good@contoso.edu ' "$T/out" && fail "user get --status failed lists a synced user"
"$IMAPMIG" user get --status Bogus >/dev/null 2>"$T/err"
expect_eq "$?" 2 "user get --status Bogus"
grep -q "use one of Queued, Syncing" "$T/err" || fail "user get --status Bogus: $(cat "$T/err")"
finish
