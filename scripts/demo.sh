#!/bin/bash
# make demo: a whole IMAP migration on this machine, in a minute.
# Starts a throwaway Dovecot (tests/fixtures/) holding the seed's three
# mailboxes, describes it as a migration endpoint, migrates a batch from a
# CSV in the seed's Dovecot admin format into a local Maildir target, and
# prints the batch, its users and a report.  Everything lives in ./demo.
set -euo pipefail
IMAPMIG=$(realpath "${1:-build/imapmig}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
DEMO="$SRC/demo"

if [ -f "$DEMO/fixture/pid" ]; then
	"$SRC/tests/fixtures/dovecot.sh" stop "$DEMO/fixture" >/dev/null 2>&1 || true
fi
rm -rf "$DEMO"
mkdir -p "$DEMO"
export IMAPMIG_STATE="$DEMO/state.db"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$IMAPMIG|imapmig|; s|$DEMO|./demo|g"; "$@"; }

say "Starting a throwaway Dovecot with the seed's three mailboxes"
eval "$("$SRC/tests/fixtures/dovecot.sh" start "$DEMO/fixture")"
trap '"$SRC/tests/fixtures/dovecot.sh" stop "$DEMO/fixture" >/dev/null 2>&1 || true' EXIT
SEED="python3 $SRC/tests/fixtures/seed.py --mail-root $IMAPFIX_MAIL"
for u in terry.adams ann.beebe paul.cannon; do
	$SEED --user "$u" --folder INBOX --count 120 --seed 1 --size-mix realistic --flags random
	$SEED --user "$u" --folder Sent --count 40 --seed 2 --flags random
	$SEED --user "$u" --folder 'Projects/2026/Q4' --count 25 --seed 3 --size-mix realistic
	$SEED --user "$u" --folder 'Entwürfe' --count 5 --seed 4
done
# One message over the 35 MB limit: reported as a large item, not copied.
python3 - "$DEMO/big.eml" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"From: Terry Adams <terry.adams@contoso-students.edu>\r\n"
            b"To: Ann Beebe <ann.beebe@contoso-students.edu>\r\n"
            b"Subject: holiday video (too big to migrate)\r\n"
            b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <big-demo@contoso-students.edu>\r\n\r\n")
    line = b"A" * 998 + b"\r\n"
    for _ in range(36 * 1024 * 1024 // len(line) + 1):
        f.write(line)
PY
$SEED --user terry.adams --folder INBOX --file "$DEMO/big.eml" --flags S \
	--internaldate 2026-11-23T10:00:00Z

say "Step 1: check the source server"
printf 'P@ssw0rd\n' >"$DEMO/admin.pw"
run "$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$IMAPFIX_PORT_SSL" \
	--security ssl --ca-file "$IMAPFIX_CA" \
	--user 'terry.adams*mailadmin' --password-file "$DEMO/admin.pw"

say "Step 2: the CSV, in the seed's Dovecot admin format"
cat >"$DEMO/users.csv" <<CSV
EmailAddress,UserName,Password
terrya@contoso.edu,terry.adams*mailadmin,P@ssw0rd
annb@contoso.edu,ann.beebe*mailadmin,P@ssw0rd
paulc@contoso.edu,paul.cannon*mailadmin,P@ssw0rd
CSV
cat "$DEMO/users.csv"

say "Step 3: the migration endpoints"
run "$IMAPMIG" endpoint new --name IMAPEndpoint --remote-server 127.0.0.1 \
	--port "$IMAPFIX_PORT_SSL" --security ssl --ca-file "$IMAPFIX_CA"
run "$IMAPMIG" endpoint new --name Local --type maildir \
	--path-template "$DEMO/target/{domain}/{local}/Maildir"
run "$IMAPMIG" endpoint get

say "Step 4: create and start the batch, and watch it"
run "$IMAPMIG" batch new --name IMAPBatch1 --source-endpoint IMAPEndpoint \
	--target-endpoint Local --csv "$DEMO/users.csv" --autostart
run "$IMAPMIG" sync --batch IMAPBatch1 || true
run "$IMAPMIG" batch get IMAPBatch1
run "$IMAPMIG" user get --batch IMAPBatch1
run "$IMAPMIG" user stats terrya@contoso.edu --include-report --include-skipped-items

say "The migrated mailboxes"
find "$DEMO/target" -maxdepth 4 -name 'Maildir' | sed "s|$DEMO|./demo|"

say "Step 5: verify - both sides read afresh, every message's bytes compared"
echo '$ imapmig verify --batch IMAPBatch1 --deep | tail -1'
"$IMAPMIG" verify --batch IMAPBatch1 --deep | tail -1
echo
echo "Everything is in ./demo (state: ./demo/state.db). Run 'make demo' again to start over."
