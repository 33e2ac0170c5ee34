#!/bin/bash
# serve's notification emails, received by a real SMTP server
# (tests/fixtures/smtpsink.py, aiosmtpd) while serve migrates from a real
# Dovecot: the initial report (per user status, items, size, skipped
# items; the failed user first with its error), the daily report, the
# completion report; none for a batch without notification emails; with
# the SMTP server down the migration is not slower and, once it is back,
# the waiting report arrives exactly once; no password in any mail or log.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
SINK="/usr/bin/python3 $IMAPMIG_SRCDIR/tests/fixtures/smtpsink.py"
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	fixture_cleanup
}
trap cleanup EXIT
fixture_start
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 1 'INBOX:40' 'Big:1:300000' 'Work:20:20000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 2 'INBOX:40' 'Work:20:20000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user mailadmin --password 'P@ssw0rd' --seed 3 'INBOX:5' >/dev/null || exit 1
WRONGPW='Wr0ng-pa55word'
SMTPPW='smtp-S3cret-x9'
printf 'reporter:%s\n' "$SMTPPW" >"$T/sink.auth"
printf '%s\n' "$SMTPPW" >"$T/smtp.pw"
chmod 600 "$T/smtp.pw"
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\npc@contoso.edu,paul.cannon,%s\nab@contoso.edu,ann.beebe,2111991\n' "$WRONGPW" >"$T/a.csv"
printf 'EmailAddress,UserName,Password\nma@contoso.edu,mailadmin,P@ssw0rd\n' >"$T/b.csv"

# setup STATE-DIR: endpoints and batch A (with notification emails, one
# user with a wrong password, a message over the size limit), batch B
# (without), both started
setup() {
	export IMAPMIG_STATE="$1/state.db"
	"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none \
		--skip-verification 2>/dev/null || fail "endpoint new src"
	"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$1/mail/{local}/Maildir" || fail "endpoint new md"
	"$IMAPMIG" -q batch new --name A --source-endpoint src --target-endpoint md --csv "$T/a.csv" \
		--autostart --max-message-size 200K --notification-emails 'ops@contoso.edu, admin@contoso.edu' || fail "batch new A"
	"$IMAPMIG" -q batch new --name B --source-endpoint src --target-endpoint md --csv "$T/b.csv" --autostart || fail "batch new B"
}
batch_status() { "$IMAPMIG" batch get "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'; }
# wait_batch NAME REGEX SECONDS: until the batch's status matches
wait_batch() {
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -le "$end" ]; do
		[[ "$(batch_status "$1")" =~ ^($2)$ ]] && return 0
		sleep 0.05
	done
	return 1
}
# start_sink PORT [DIR [smtpsink options]]: the sink on PORT (0: any),
# writing to DIR ($T/mail); its pid in SINKPID, port in SINKPORT
start_sink() {
	local port=$1 dir=${2:-$T/mail}
	shift 2 2>/dev/null || shift
	rm -f "$T/sink.port"
	$SINK --dir "$dir" --port "$port" --port-file "$T/sink.port" --auth-file "$T/sink.auth" "$@" 2>>"$T/sink.err" &
	SINKPID=$!
	PIDS+=("$SINKPID")
	for _ in $(seq 100); do [ -s "$T/sink.port" ] && break; sleep 0.05; done
	SINKPORT=$(cat "$T/sink.port" 2>/dev/null)
	[ -n "$SINKPORT" ] || { fail "smtpsink did not start: $(cat "$T/sink.err")"; finish; }
}
stop_sink() {
	kill "$SINKPID"
	wait "$SINKPID" 2>/dev/null
}
# mails KIND: how many received mails are batch A's KIND report
mails() { grep -l "^Subject: imapmig: batch A: $1" "$T"/mail/*.eml 2>/dev/null | wc -l; }
wait_mail() { # KIND COUNT SECONDS
	local end=$((SECONDS + $3))
	while [ "$SECONDS" -le "$end" ]; do
		[ "$(mails "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
mkdir -p "$T/mail"

# --- 1. the SMTP server down: the migration is not slower ---
# Two serves at once, on two states and targets, from the same Dovecot:
# one without SMTP, one whose SMTP server refuses connections.  Same load
# on both (the machine is shared), so their times compare.
# On a loaded machine one pair may still differ by chance: up to two more
# pairs (on fresh states) are run then, and the best pair counts; a serve
# that is slower by design (a blocking send) loses in every pair.
start_sink 0
stop_sink # its port now refuses connections
export IMAPMIG_TEST_RETRY_SECONDS=1 IMAPMIG_TEST_DAILY_SECONDS=12
SMTPDOWN=(--smtp-server "127.0.0.1:$SINKPORT" --smtp-security none --smtp-user reporter
	--smtp-password-file "$T/smtp.pw" --smtp-from imapmig@contoso.edu)
# race N: serves on $T/run1$N (no SMTP) and $T/run2$N (SMTP down) at once;
# sets T1 and T2, the seconds from their start to batch A's initial_done
# (the batch's own time: polling would measure the machine's load); leaves
# the second serve running as SERVE
race() {
	local d1=$T/run1$1 d2=$T/run2$1 t0 s1
	mkdir -p "$d1" "$d2"
	(setup "$d1")
	setup "$d2"
	t0=$(date +%s)
	IMAPMIG_STATE="$d1/state.db" "$IMAPMIG" serve --incremental-interval 1h 2>"$T/serve1$1.err" &
	s1=$!
	PIDS+=("$s1")
	"$IMAPMIG" serve --incremental-interval 1h "${SMTPDOWN[@]}" 2>"$T/serve2$1.err" &
	SERVE=$!
	PIDS+=("$SERVE")
	wait_batch A 'SyncedWithErrors' 120 || fail "run 2$1: batch A is $(batch_status A)"
	IMAPMIG_STATE="$d1/state.db" wait_batch A 'SyncedWithErrors' 60 ||
		fail "run 1$1: batch A is $(IMAPMIG_STATE="$d1/state.db" batch_status A)"
	T1=$(sqlite3 "$d1/state.db" "SELECT initial_done - $t0 FROM batches WHERE name='A'")
	T2=$(sqlite3 "$d2/state.db" "SELECT initial_done - $t0 FROM batches WHERE name='A'")
	echo "batch A synced in ${T1:-?} s without SMTP, in ${T2:-?} s with the SMTP server down (1 s resolution)" >&2
	kill -TERM "$s1"
	wait "$s1"
	[ -n "$T1" ] && [ -n "$T2" ] && [ "$T2" -le $((T1 + 2)) ]
}
if ! race ""; then
	main=$SERVE
	ok=0
	for r in b c; do
		race "$r" && ok=1
		kill -TERM "$SERVE"
		wait "$SERVE"
		[ "$ok" = 1 ] && break
	done
	[ "$ok" = 1 ] || fail "the migration was slower by more than 2 s with the SMTP server down, in 3 pairs of runs"
	SERVE=$main
	export IMAPMIG_STATE="$T/run2/state.db"
fi
wait_batch B 'Synced' 30 || fail "batch B is $(batch_status B)"
for _ in $(seq 50); do grep -q 'not sent (attempt 2)' "$T/serve2.err" && break; sleep 0.1; done
grep -q 'not sent (attempt 2)' "$T/serve2.err" || fail "no retried send in the log: $(tail -3 "$T/serve2.err")"
expect_eq "$(mails 'initial sync finished')" 0 "initial reports received while the SMTP server is down"

# a daily report (every 12 s here) queued behind the initial one
for _ in $(seq 300); do grep -q 'daily report queued' "$T/serve2.err" && break; sleep 0.1; done
grep -q 'daily report queued' "$T/serve2.err" || fail "no daily report queued: $(tail -3 "$T/serve2.err")"
sleep 2 # it waits behind the initial one: never tried while that one waits
expect_eq "$(sqlite3 "$T/run2/state.db" "SELECT group_concat(kind || ':' || (attempts > 0), ' ') FROM notifications WHERE sent IS NULL ORDER BY id")" \
	"initial:1 daily:0" "reports waiting (kind:tried)"

# --- 2. the server is back: the waiting reports arrive, once each, in order ---
start_sink "$SINKPORT"
wait_mail 'initial sync finished' 1 40 || fail "the initial report did not arrive: $(tail -3 "$T/serve2.err")"
sleep 3 # several retry periods: a second copy would come now
expect_eq "$(mails 'initial sync finished')" 1 "initial reports received"
f=$(grep -l '^Subject: imapmig: batch A: initial sync finished' "$T"/mail/*.eml | head -1)
[ -n "$f" ] && python3 - "$f" "${f%.eml}.json" <<'PY' || fail "the initial report is not as expected (above)"
import email, email.policy, json, re, sys
raw = open(sys.argv[1], "rb").read()
meta = json.load(open(sys.argv[2]))
bad = []
def want(cond, what):
    if not cond:
        bad.append(what)
want(meta["mail_from"] == "imapmig@contoso.edu", "envelope sender %r" % meta["mail_from"])
want(sorted(meta["rcpt_tos"]) == ["admin@contoso.edu", "ops@contoso.edu"], "recipients %r" % meta["rcpt_tos"])
want(meta["login"] == "reporter", "AUTH login %r" % meta["login"])
want(b"\n" not in raw.replace(b"\r\n", b""), "a bare LF")
want(max(len(l) for l in raw.split(b"\r\n")) <= 998, "a line over 998 octets")
m = email.message_from_bytes(raw, policy=email.policy.default)
for h in ("Date", "Message-ID", "From", "To", "Subject"):
    want(m[h] is not None, "no %s header" % h)
want(m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8", "not text/plain UTF-8")
want("imapmig@contoso.edu" in m["From"], "From %r" % m["From"])
body = m.get_content().replace("\r\n", "\n")
users = [l for l in body.splitlines() if l.startswith("- ") and "@contoso.edu: " in l and "folder" not in l]
want(len(users) == 3, "user lines %r" % users)
if len(users) == 3:
    want(users[0].startswith("- pc@contoso.edu: Failed, 0 items"), "first user line %r" % users[0])
    lines = body.splitlines()
    i = lines.index(users[0])
    want(lines[i + 1].startswith("  Error: ") and "paul.cannon" in lines[i + 1] or "login" in lines[i + 1].lower(),
         "no error line after the failed user: %r" % lines[i + 1])
    want(re.match(r"- ta@contoso\.edu: Synced, 60 items, [0-9.]+ [KM]iB, 1 skipped", users[1]) is not None,
         "ta's line %r" % users[1])
    want(re.match(r"- ab@contoso\.edu: Synced, 60 items, [0-9.]+ [KM]iB, 0 skipped", users[2]) is not None,
         "ab's line %r" % users[2])
want(re.search(r"^- ta@contoso\.edu: folder Big, .*: ", body, re.M) is not None, "ta's skipped item not listed")
want(re.search(r"^Users: +3 \(1 Failed, 2 Synced\)$", body, re.M) is not None, "no tally line")
for b in bad:
    print("initial report: " + b, file=sys.stderr)
if bad:
    print(body, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# --- 3. the daily report, while incremental syncs run ---
wait_mail 'daily report' 1 30 || fail "no daily report: $(tail -3 "$T/serve2.err")"
first=$(ls "$T"/mail/*.eml | head -2 | xargs grep -h '^Subject:' | cut -d: -f4 | tr '\n' ';')
expect_eq "$first" " initial sync finished; daily report;" "the first two reports received, in order"

# --- 4. batch complete: the completion report ---
"$IMAPMIG" -q batch complete A || fail "batch complete A"
wait_batch A 'CompletedWithErrors' 60 || fail "batch A is $(batch_status A) after complete"
wait_mail 'completed' 1 20 || fail "no completion report: $(tail -3 "$T/serve2.err")"
grep -q '^Subject: imapmig: batch A: completed (CompletedWithErrors)' "$T"/mail/*.eml ||
	fail "completion report subject: $(grep -h '^Subject: imapmig: batch A: completed' "$T"/mail/*.eml)"
sleep 2
kill -TERM "$SERVE"
wait "$SERVE"
expect_eq "$?" 0 "serve's exit code"

# --- 5. serve on run 1's state, whose batch A got no report (that serve
# had no SMTP): its initial report waits for a server that is stuck (never
# answers) without holding up a SIGTERM; STARTTLS to a certificate not
# trusted is refused; with --smtp-ca-file it goes, over STARTTLS.
export IMAPMIG_STATE="$T/run1/state.db"
SMTPOPTS=(--smtp-user reporter --smtp-password-file "$T/smtp.pw" --smtp-from imapmig@contoso.edu)
start_sink 0 "$T/mail-hang" --hang
"$IMAPMIG" serve --incremental-interval 1h --smtp-server "127.0.0.1:$SINKPORT" --smtp-security none \
	"${SMTPOPTS[@]}" 2>"$T/serve3.err" &
SERVE=$!
PIDS+=("$SERVE")
for _ in $(seq 100); do grep -q 'initial report queued' "$T/serve3.err" && break; sleep 0.1; done
grep -q 'initial report queued' "$T/serve3.err" || fail "run 1's initial report was not queued: $(tail -3 "$T/serve3.err")"
sleep 1 # the send waits for a greeting that never comes
s0=$SECONDS
kill -TERM "$SERVE"
wait "$SERVE"
expect_eq "$?" 0 "serve's exit code, stopped while its SMTP server hangs"
echo "serve stopped in $((SECONDS - s0)) s while a send hung" >&2
[ $((SECONDS - s0)) -le 3 ] || fail "serve took $((SECONDS - s0)) s to stop while a send hung"
stop_sink
start_sink 0 "$T/mail-tls" --tls-cert "$IMAPFIX_DIR/server.pem" --tls-key "$IMAPFIX_DIR/server.key"
"$IMAPMIG" serve --incremental-interval 1h --smtp-server "127.0.0.1:$SINKPORT" "${SMTPOPTS[@]}" 2>"$T/serve4.err" &
SERVE=$!
PIDS+=("$SERVE")
for _ in $(seq 100); do grep -q 'not sent' "$T/serve4.err" && break; sleep 0.1; done
grep -q 'not sent (attempt 1): SMTP server 127.0.0.1:[0-9]*: .*certificate' "$T/serve4.err" ||
	fail "STARTTLS to an untrusted certificate: $(grep 'not sent' "$T/serve4.err" | head -1)"
kill -TERM "$SERVE"
wait "$SERVE"
"$IMAPMIG" serve --incremental-interval 1h --smtp-server "127.0.0.1:$SINKPORT" --smtp-security tls \
	--smtp-ca-file "$IMAPFIX_CA" "${SMTPOPTS[@]}" 2>"$T/serve5.err" &
SERVE=$!
PIDS+=("$SERVE")
for _ in $(seq 200); do ls "$T"/mail-tls/*.eml >/dev/null 2>&1 && break; sleep 0.1; done
sleep 1
kill -TERM "$SERVE"
wait "$SERVE"
expect_eq "$(grep -l '^Subject: imapmig: batch A: initial sync finished' "$T"/mail-tls/*.eml 2>/dev/null | wc -l)" 1 \
	"run 1's initial report, over STARTTLS"
expect_eq "$(cat "$T"/mail-tls/*.json 2>/dev/null | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["login"])')" \
	reporter "the login over STARTTLS"
stop_sink
expect_eq "$(ls "$T"/mail-hang | wc -l)" 0 "mail received by the server that hangs"

# every report once: no Message-ID twice; nothing for batch B
n=$(ls "$T"/mail/*.eml | wc -l)
u=$(grep -hi '^Message-ID:' "$T"/mail/*.eml | sort -u | wc -l)
echo "received $n mail(s): $(grep -h '^Subject:' "$T"/mail/*.eml | sort | uniq -c | tr -s ' ' | tr '\n' ';')" >&2
expect_eq "$u" "$n" "distinct Message-IDs among the mails received"
expect_eq "$(mails 'initial sync finished')" 1 "initial reports in the end"
expect_eq "$(mails 'completed')" 1 "completion reports in the end"
grep -q '^Subject: imapmig: batch B' "$T"/mail/*.eml && fail "a report for batch B, which has no notification emails"
expect_eq "$(sqlite3 "$T/run2/state.db" "SELECT count(*) FROM notifications n JOIN batches b ON b.id=n.batch_id WHERE b.name='B'")" 0 \
	"notifications queued for batch B"
expect_eq "$(sqlite3 "$T/run2/state.db" "SELECT count(*) FROM notifications WHERE sent IS NULL")" 0 "reports left unsent"

# no password in any mail or log
for pw in 1091990 2111991 "$WRONGPW" 'P@ssw0rd' "$SMTPPW"; do
	grep -rlF -- "$pw" "$T"/mail* "$T"/serve*.err && fail "a password ($pw) in the mails or logs above"
done
finish
