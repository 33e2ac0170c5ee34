#!/bin/bash
# A folder is listed, planned and copied in windows of UIDs (at most
# 50,000 messages held at once; IMAPMIG_WINDOW_MSGS=7 here, so two small
# folders make dozens of windows).  Across windows and folders:
#   1. --max-items keeps exactly the newest N, ties at the boundary
#      included (dates in groups of three spread over both folders);
#   2. kill -9 at random moments then resume: every message exactly once
#      (tests/fixtures/oracle.py), then an incremental pass copies new mail;
#   3. the peak RSS of a sync listing a 300,000-message folder
#      (bench/bigmailbox.py, default windows) stays under 24 MiB: held
#      whole, the listing alone took 38 MB.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
export IMAPMIG_STATE="$T/state/state.db"
PROXY=""
SRV=""
trap '[ -n "$PROXY" ] && kill $PROXY 2>/dev/null; [ -n "$SRV" ] && kill $SRV 2>/dev/null; fixture_cleanup' EXIT

fixture_start
MD="$T/md"

# ---- 1. the item limit across windows and folders
# message g (0..149): INBOX if g is even, Work if odd; dated base + (g / 3)
# hours, so dates tie in threes, across the two folders.
python3 - "$IMAPFIX_PORT" <<'PY' || { fail "seeding terry.adams"; finish; }
import imaplib, sys, time
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("terry.adams", "1091990")
m.create("Work")
base = 1600000000
for g in range(150):
    folder = "INBOX" if g % 2 == 0 else "Work"
    msg = ("From: a@example.org\r\nTo: b@example.org\r\nSubject: g=%03d\r\n"
           "Message-ID: <g%03d@example.org>\r\n\r\nbody %d\r\n" % (g, g, g)).encode()
    typ, d = m.append(folder, None, imaplib.Time2Internaldate(base + (g // 3) * 3600), msg)
    if typ != "OK":
        sys.exit("append failed: %r" % d)
m.logout()
PY
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" \
	--security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$MD/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\n' >"$T/ta.csv"
"$IMAPMIG" -q batch new --name Lim --source-endpoint src --target-endpoint md --csv "$T/ta.csv" \
	--max-items 100 --autostart
IMAPMIG_WINDOW_MSGS=7 "$IMAPMIG" -q sync --batch Lim >"$T/lim.out" 2>"$T/lim.err" ||
	fail "sync with --max-items: $(tail -3 "$T/lim.err")"
user_stats ta@contoso.edu lim
expect_eq "$SYNCED" 100 "--max-items 100 of 150: items synced"
expect_eq "$SKIPPED" 50 "--max-items 100 of 150: items skipped"
# newest 100 of 150: g >= 51 all, one of the tie group 48..50, none below
python3 - "$MD/ta/Maildir" <<'PY' || fail "--max-items did not keep the newest 100 (above)"
import os, re, sys
root = sys.argv[1]
got = []
for d in (root, os.path.join(root, ".Work")):
    for sub in ("cur", "new"):
        p = os.path.join(d, sub)
        for f in os.listdir(p) if os.path.isdir(p) else []:
            m = re.search(rb"^Subject: g=(\d+)", open(os.path.join(p, f), "rb").read(), re.M)
            got.append(int(m.group(1)))
s = set(got)
bad = []
if len(got) != len(s):
    bad.append("duplicates")
if not set(range(51, 150)) <= s:
    bad.append("missing newest: %s" % sorted(set(range(51, 150)) - s))
if len(s & {48, 49, 50}) != 1:
    bad.append("tie group 48..50: %s copied, want one" % sorted(s & {48, 49, 50}))
if s & set(range(48)):
    bad.append("older copied: %s" % sorted(s & set(range(48))))
print("max-items: %d copied, %s" % (len(got), "; ".join(bad) or "the newest 100"), file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# ---- 2. kill -9 across windows, resume, then an incremental pass
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 5 'INBOX:120' 'Work/Q1:40' \
	'Big:8:400000' >/dev/null || fail "populate ann.beebe"
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" \
	--port-file "$T/proxy.port" --rate 150000 &
PROXY=$!
for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
"$IMAPMIG" -q endpoint new --name slow --remote-server 127.0.0.1 --port "$(cat "$T/proxy.port")" \
	--security none --skip-verification 2>/dev/null
printf 'EmailAddress,UserName,Password\nab@contoso.edu,ann.beebe,2111991\n' >"$T/ab.csv"
"$IMAPMIG" -q batch new --name Kill --source-endpoint slow --target-endpoint md --csv "$T/ab.csv" --autostart
killed=0
# (a run after a kill may find the user still marked as running and end
# at once, so about one run in two is killed in the middle of the work)
for i in $(seq 1 10); do
	IMAPMIG_WINDOW_MSGS=7 "$IMAPMIG" -q sync --batch Kill >/dev/null 2>>"$T/kill.err" &
	pid=$!
	sleep "$(python3 -c "import random; print('%.3f' % random.uniform(0.3, 1.5))")"
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
done
echo "killed $killed times in the middle of the work" >&2
[ "$killed" -ge 3 ] || fail "only $killed kills landed while imapmig ran: $(tail -3 "$T/kill.err")"
# the run that resumes after the kills need not crawl: straight to the server
"$IMAPMIG" -q endpoint set slow --port "$IMAPFIX_PORT" --skip-verification || fail "endpoint set slow --port"
IMAPMIG_WINDOW_MSGS=7 "$IMAPMIG" -q sync --batch Kill >"$T/final.out" 2>"$T/final.err" ||
	fail "the final run failed: $(tail -3 "$T/final.err")"
user_stats ab@contoso.edu kill
expect_eq "$STATUS" Synced "status after the kills"
expect_eq "$SYNCED" 168 "items synced after the kills"
oracle_compare "after the kills" "served:$IMAPFIX_MAIL/ann.beebe/Maildir" "files:$MD/ab/Maildir"
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 6 'INBOX:9' 'Work/Q1:5' \
	>/dev/null || fail "populate ann.beebe again"
IMAPMIG_WINDOW_MSGS=7 "$IMAPMIG" -q batch set Kill --sync-now 2>/dev/null
IMAPMIG_WINDOW_MSGS=7 "$IMAPMIG" -q sync --batch Kill >"$T/incr.out" 2>"$T/incr.err" ||
	fail "the incremental run failed: $(tail -3 "$T/incr.err")"
user_stats ab@contoso.edu incr
expect_eq "$SYNCED" 182 "items synced after the incremental pass"
oracle_compare "after the incremental pass" "served:$IMAPFIX_MAIL/ann.beebe/Maildir" "files:$MD/ab/Maildir"

# ---- 3. peak RSS while a 300,000-message folder is listed
if [ -n "${IMAPMIG_SANITIZED:-}" ]; then
	echo "RSS bound: skipped under the sanitizer (its shadow memory is the figure)" >&2
else
	python3 "$IMAPMIG_SRCDIR/bench/bigmailbox.py" --port-file "$T/big.port" --folders 0 \
		--messages 300000 >/dev/null 2>&1 &
	SRV=$!
	for _ in $(seq 100); do [ -s "$T/big.port" ] && break; sleep 0.05; done
	"$IMAPMIG" -q endpoint new --name big --remote-server 127.0.0.1 --port "$(cat "$T/big.port")" \
		--security none --skip-verification 2>/dev/null
	printf 'EmailAddress,UserName,Password\nbig@example.org,big,x\n' >"$T/big.csv"
	"$IMAPMIG" -q batch new --name Big --source-endpoint big --target-endpoint md --csv "$T/big.csv" --autostart
	# the bench server refuses bodies: the run retries until the timeout;
	# the listing (read more than once meanwhile) is the peak
	/usr/bin/time -f '%M' -o "$T/rss" timeout 40 "$IMAPMIG" -q sync --batch Big >/dev/null 2>"$T/big.err"
	rss=$(tail -1 "$T/rss")
	echo "peak RSS listing 300,000 messages: $rss KiB" >&2
	grep -q "UID FETCH\|did not deliver\|refused" "$T/big.err" ||
		echo "note: $(tail -2 "$T/big.err")" >&2
	[ "$rss" -lt $((24 * 1024)) ] || fail "peak RSS $rss KiB listing a 300,000-message folder (bound: 24 MiB)"
fi
finish
