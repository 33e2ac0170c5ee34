#!/bin/bash
# A Maildir target's durability and tidiness against a real Dovecot source:
# 1. every directory imapmig creates (the root and its missing parents,
#    each folder, its cur/ new/ tmp/) is fsynced in its parent after the
#    mkdir (strace -f -y of a sync into a fresh target);
# 2. a run killed with SIGKILL mid-message leaves a partial file in tmp/;
#    the next run removes it (its writer is dead) and nothing else in tmp/
#    (Dovecot's files, a living writer's), and the oracle finds the target
#    exact.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
command -v strace >/dev/null || { echo "FAIL: strace is not installed (scripts/deps.sh)" >&2; exit 1; }

fixture_start
printf 'terrya:x\nannb:x\n' >"$T/users2"
fixture_start_second --users-file "$T/users2"
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" \
	--port-file "$T/proxy.port" --rate 1000000 &
PROXY=$!
trap 'kill $PROXY 2>/dev/null; fixture_cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
PROXY_PORT=$(cat "$T/proxy.port")

$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 4 \
	'INBOX:3' 'Work/Q1/Deep:2' 'Sent:1' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 5 \
	'INBOX:2' 'Big:3:2500000' >/dev/null || exit 1

export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name slow --remote-server 127.0.0.1 --port "$PROXY_PORT" --security none --skip-verification 2>/dev/null
# two levels below the mail root do not exist yet
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$IMAPFIX2_MAIL/new/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nterrya@contoso.edu,terry.adams,1091990\n' >"$T/ta.csv"
printf 'EmailAddress,UserName,Password\nannb@contoso.edu,ann.beebe,2111991\n' >"$T/ab.csv"

# --- 1. directories fsynced in their parents
"$IMAPMIG" -q batch new --name Dirs --source-endpoint src --target-endpoint md --csv "$T/ta.csv" --autostart
# (LeakSanitizer cannot run under ptrace: off for this one run)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -y -s 4096 -o "$T/strace" -e trace=mkdir,mkdirat,fsync,fdatasync \
	"$IMAPMIG" -q sync --batch Dirs 2>"$T/dirs.err" || fail "sync into a fresh Maildir: $(cat "$T/dirs.err")"
python3 - "$T/strace" "$IMAPFIX2_MAIL/" <<'PY' || fail "directories not fsynced in their parents (above)"
import os, re, sys
lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
under = sys.argv[2]
made, synced = [], []  # (line number, path)
for i, l in enumerate(lines):
    m = re.search(r'\bmkdir(?:at)?\((?:AT_FDCWD, )?"([^"]*)".*= 0$', l)
    if m and m.group(1).startswith(under):
        made.append((i, os.path.normpath(m.group(1))))
    m = re.search(r'\b(?:fsync|fdatasync)\(\d+<([^>]*)>', l)
    if m:
        # "= 0" may come on a later "resumed" line; a failed fsync fails the run
        synced.append((i, os.path.normpath(m.group(1))))
bad = []
for i, d in made:
    parent = os.path.dirname(d)
    if not any(j > i and p == parent for j, p in synced):
        bad.append("%s (parent %s)" % (d, parent))
print("%d directories created, %d not fsynced in their parent after the mkdir"
      % (len(made), len(bad)), file=sys.stderr)
for b in bad[:15]:
    print("  not made durable: " + b, file=sys.stderr)
sys.exit(1 if bad or len(made) < 10 else 0)
PY

# --- 2. partial files of a killed run
"$IMAPMIG" -q batch new --name Kill --source-endpoint slow --target-endpoint md --csv "$T/ab.csv" --autostart
AB="$IMAPFIX2_MAIL/new/annb/Maildir"
"$IMAPMIG" -q sync --batch Kill >/dev/null 2>"$T/kill.err" &
pid=$!
partial=
for _ in $(seq 600); do
	partial=$(find "$AB" -path '*/tmp/*' -type f -size +100k 2>/dev/null | head -1)
	[ -n "$partial" ] && break
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ -n "$partial" ] && [ -f "$partial" ] || fail "no partial message in tmp/ after the kill"
echo "partial file after kill -9: ${partial#"$AB/"} ($(stat -c %s "$partial") bytes)" >&2
# files in tmp/ that are not imapmig's, or whose writer lives: kept
TMPD=$(dirname "$partial")
sleep 300 &
LIVE=$!
host=$(hostname)
touch "$TMPD/1700000000.M1P1.$host" "$AB/tmp/1700000000.M2P2Q1.$host"
touch "$TMPD/imapmig.$LIVE.1700000000.M3P${LIVE}Q1.$host"
"$IMAPMIG" -q batch set Kill --sync-now
"$IMAPMIG" -v sync --batch Kill >/dev/null 2>"$T/resume.err" || fail "resumed sync: $(cat "$T/resume.err")"
kill "$LIVE" 2>/dev/null
[ -e "$partial" ] && fail "the killed run's partial file is still in tmp/: ${partial#"$AB/"}"
left=$(cd "$AB" && find . -path '*/tmp/*' -type f | sort | tr '\n' ' ')
expect_eq "$left" "./.Big/tmp/1700000000.M1P1.$host ./.Big/tmp/imapmig.$LIVE.1700000000.M3P${LIVE}Q1.$host ./tmp/1700000000.M2P2Q1.$host " \
	"files left in tmp/ (only those imapmig did not write or whose writer lives)"
grep -q 'a partial message an interrupted run left behind' "$T/resume.err" ||
	fail "the removal of the partial file was not logged: $(cat "$T/resume.err")"
chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
user_stats annb@contoso.edu ab || true
expect_eq "$BAD" 0 "after the kill: bad items"
oracle_compare "after the kill (files)" "served:$IMAPFIX_MAIL/ann.beebe/Maildir" "files:$AB" \
	--expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
finish
