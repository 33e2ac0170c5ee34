#!/bin/bash
# A Maildir target after the source renumbered a folder (UIDVALIDITY
# change): every source message is matched to its copy (tag, or size and
# SHA-256 among the unclaimed copies) and none is copied again - also the
# torture set's messages without Message-ID, exact duplicates, NUL bytes.
# Twice after a clean pass, then once after the pass that noticed the
# change was killed (SIGKILL) before it had marked the messages for
# matching.  tests/fixtures/oracle.py checks the files.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
fixture_start --layout fs
printf 'terrya:x\nterrya@contoso.edu:x\n' >"$T/users2"
fixture_start_second --users-file "$T/users2"

# a slow link, so a kill lands anywhere in a pass
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" \
	--port-file "$T/proxy.port" --rate 2000000 &
PROXY=$!
trap 'kill $PROXY 2>/dev/null; fixture_cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done

export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$(cat "$T/proxy.port")" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$IMAPFIX2_MAIL/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nterrya@contoso.edu,terry.adams,1091990\n' >"$T/u.csv"

corpus_ensure
# (this server has LAYOUT=fs: the folder is a plain directory)
$SEED --public "$IMAPFIX_MAIL/terry.adams/Maildir" --folder torture --dir "$CORPUS/torture" >/dev/null ||
	fail "seeding the torture set"
SRC="$IMAPFIX_MAIL/terry.adams/Maildir"
DST="$IMAPFIX2_MAIL/terrya/Maildir"

check() { # WHAT
	user_stats terrya@contoso.edu md || return 1
	expect_eq "$BAD" 0 "$1: bad items"
	skipped_list "$T/md.stats" "$SKIP_SRCNUL" "$T/md.allow" >/dev/null || fail "$1: unexpected skipped items"
	oracle_compare "$1 (files)" "served:$SRC" "files:$DST" \
		--allow-skipped "$T/md.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
}

renumber() {
	rm -f "$SRC/torture"/dovecot-uidlist "$SRC/torture"/dovecot.index*
}

"$IMAPMIG" -q batch new --name B --source-endpoint src --target-endpoint md --csv "$T/u.csv" --autostart
"$IMAPMIG" -q sync --batch B 2>"$T/first.err" || fail "first sync: $(cat "$T/first.err")"
chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
check "first pass"
before=$(find "$DST" -path '*/cur/*' -type f | wc -l)

for round in 1 2; do
	renumber
	"$IMAPMIG" -q batch set B --sync-now
	"$IMAPMIG" sync --batch B >/dev/null 2>"$T/re.err" || fail "renumber $round: sync: $(cat "$T/re.err")"
	grep -q 'changed UIDVALIDITY' "$T/re.err" || fail "renumber $round: the UIDVALIDITY change went unnoticed"
	after=$(find "$DST" -path '*/cur/*' -type f | wc -l)
	expect_eq "$after" "$before" "renumber $round: messages on the target"
	chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
	check "renumber $round"
done

# The pass that sees the new UIDVALIDITY killed right after it noticed
# (while it reads the listing, over a link slowed to a crawl): the next
# pass must still match every message, not copy the folder again.
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" \
	--port-file "$T/crawl.port" --rate 3000 &
CRAWL=$!
trap 'kill $PROXY $CRAWL 2>/dev/null; fixture_cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/crawl.port" ] && break; sleep 0.05; done
"$IMAPMIG" -q endpoint set src --port "$(cat "$T/crawl.port")" || fail "endpoint set"
renumber
"$IMAPMIG" -q batch set B --sync-now
"$IMAPMIG" sync --batch B >/dev/null 2>"$T/killed.err" &
pid=$!
for _ in $(seq 3000); do
	grep -q 'changed UIDVALIDITY' "$T/killed.err" && break
	sleep 0.02
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
grep -q 'changed UIDVALIDITY' "$T/killed.err" || fail "killed pass: the UIDVALIDITY change went unnoticed: $(cat "$T/killed.err")"
"$IMAPMIG" -q endpoint set src --port "$(cat "$T/proxy.port")" || fail "endpoint set"
"$IMAPMIG" -q batch set B --sync-now
"$IMAPMIG" sync --batch B >/dev/null 2>"$T/re.err" || fail "after the killed pass: sync: $(cat "$T/re.err")"
after=$(find "$DST" -path '*/cur/*' -type f | wc -l)
expect_eq "$after" "$before" "after a killed renumbered pass: messages on the target"
chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
check "after a killed renumbered pass"
finish
