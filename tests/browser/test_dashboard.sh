#!/bin/bash
# The dashboard in a real headless browser (Debian's chromium, driven by
# puppeteer-core): a real `imapmig serve --listen` migrating from a real
# Dovecot.  The page signs in with the token, starts a batch and watches
# it sync to the end without a reload, stops and restarts it, shows a
# user's skipped items, and shows a CSV error with its line number.
#   IMAPMIG_SCREENSHOT=FILE  where the mid-migration screenshot goes
#                            (default: the build directory; the one in
#                            docs/dashboard.png comes from here)
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
SERVE=
trap '[ -n "$SERVE" ] && kill "$SERVE" 2>/dev/null; fixture_cleanup' EXIT

SECONDS=0
bash "$IMAPMIG_SRCDIR/scripts/browser-deps.sh" || { echo "FAIL: scripts/browser-deps.sh" >&2; exit 1; }
echo "browser test: dependencies ready after $SECONDS s" >&2

fixture_start
# Three users, about 1.1 MB each in five folders (a folder's copies are
# committed together: the progress bar moves folder by folder); ann.beebe also has one message over the
# batch's --max-message-size, whose subject is markup (shown as text).
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 1 'INBOX:4' 'Big:1:250000' 'Projects:1:250000' 'Travel:1:250000' 'Work/2026:1:250000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 2 'INBOX:4' 'Big:1:250000' 'Projects:1:250000' 'Travel:1:250000' 'Work/2026:1:250000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user paul.cannon --password 3281986 --seed 3 'INBOX:4' 'Big:1:250000' 'Projects:1:250000' 'Travel:1:250000' 'Work/2026:1:250000' >/dev/null || exit 1
python3 - "$IMAPFIX_PORT" <<'PY' || exit 1
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("ann.beebe", "2111991")
m.create("Huge")
body = b"x" * 78 + b"\r\n"
msg = (b"From: Mallory <mallory@example.org>\r\nTo: ann.beebe@contoso.edu\r\n"
       b"Subject: <img src=x onerror=alert(1)> Quarterly <b>scans</b>\r\n"
       b"Date: Tue, 3 Mar 2020 10:00:00 +0000\r\nMessage-ID: <huge.1@test>\r\n\r\n" + body * 7000)
typ, d = m.append("Huge", None, None, msg)
assert typ == "OK", d
m.logout()
PY

echo "browser test: Dovecot and its mail ready after $SECONDS s" >&2
export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none \
	--skip-verification || exit 1
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$T/target/{local}/Maildir" || exit 1
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\nab@contoso.edu,ann.beebe,2111991\npc@contoso.edu,paul.cannon,3281986\n' >"$T/u.csv"
# 1.1 MB a mailbox at 64 KiB/s: some 17 seconds of Syncing to watch,
# stop and resume.
"$IMAPMIG" -q batch new --name Spring --source-endpoint src --target-endpoint md --csv "$T/u.csv" \
	--max-message-size 300K --max-bytes-per-second 64K || exit 1
# The CSV the page uploads: line 3 has no address, line 4 a bad one.
printf 'EmailAddress,UserName,Password\nnew1@contoso.edu,terry.adams,1091990\n,ann.beebe,2111991\nnot-an-address,paul.cannon,3281986\n' >"$T/bad.csv"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$IMAPMIG" serve --listen "127.0.0.1:$PORT" --incremental-interval 1h 2>"$T/serve.err" &
SERVE=$!
for _ in $(seq 100); do
	python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$PORT" 2>/dev/null && break
	kill -0 "$SERVE" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$SERVE" 2>/dev/null || { fail "serve --listen did not start: $(tail -3 "$T/serve.err")"; finish; }
[ -s "$T/state/api-token" ] || { fail "serve wrote no $T/state/api-token"; finish; }

# The token travels in a file, never in argv.
t0=$(date +%s.%N)
DASH_URL="http://127.0.0.1:$PORT/" DASH_TOKEN_FILE="$T/state/api-token" DASH_BATCH=Spring \
	DASH_SKIPPED_USER=ab@contoso.edu DASH_BAD_CSV="$T/bad.csv" \
	DASH_SCREENSHOT="${IMAPMIG_SCREENSHOT:-${IMAPMIG_BUILDDIR:-$T}/dashboard.png}" \
	node "$IMAPMIG_SRCDIR/tests/browser/dashboard.test.js" || fail "the browser test failed (above)"
echo "browser test: $(python3 -c "import time; print('%.1f' % (time.time() - $t0))") s in chromium" >&2

# What the page showed is what the state says.
"$IMAPMIG" user get --batch Spring --json >"$T/users.json"
python3 - "$T/users.json" <<'PY' || fail "the users are not all Synced after the page's run: $(cat "$T/users.json")"
import json, sys
us = json.load(open(sys.argv[1]))
sys.exit(0 if len(us) == 3 and all(u["status"] == "Synced" for u in us) else 1)
PY
"$IMAPMIG" batch get Bad >/dev/null 2>&1 && fail "the CSV with an error created batch Bad"
kill -TERM "$SERVE"
wait "$SERVE"
SERVE=
echo "browser test: $SECONDS s in all" >&2
finish
