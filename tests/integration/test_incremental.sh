#!/bin/bash
# Incremental syncs against real Dovecot: new messages and new folders are
# picked up, nothing is copied twice, an unchanged mailbox costs a handful
# of commands whatever its folder count (LIST-STATUS), and a folder whose
# UIDVALIDITY changed is re-read and matched, not copied again.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
fixture_start --layout fs
printf 'terrya:x\nterrya@contoso.edu:x\nterryn@contoso.edu:x\n' >"$T/users2"
fixture_start_second --users-file "$T/users2"

specs=('INBOX:10')
for i in $(seq 1 30); do specs+=("Projects/P$i:2"); done
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 "${specs[@]}" >/dev/null || exit 1

export IMAPMIG_STATE="$T/state/state.db"
printf 'P@ssw0rd\n' >"$T/admin.pw"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$IMAPFIX2_MAIL/{local}/Maildir"
"$IMAPMIG" -q endpoint new --name dst --type imap --remote-server 127.0.0.1 --port "$IMAPFIX2_PORT" \
	--security none --skip-verification --target-login '{email}*mailadmin' --password-file "$T/admin.pw" 2>/dev/null
printf 'EmailAddress,UserName,Password\nterrya@contoso.edu,terry.adams,1091990\n' >"$T/u.csv"
printf 'x\n' >"$T/x.pw"

# same md|dst WHAT [GONE]: tests/fixtures/oracle.py (no code shared with
# imapmig) finds every source message (its files, as Dovecot serves them)
# on the target exactly once, byte for byte with flags and INTERNALDATE - a
# Maildir target's files as stored, a Dovecot target's files and what it
# serves over IMAP - except, on the IMAP target, those imapmig reported
# skipped for NUL bytes (an IMAP literal cannot carry NUL), exactly as many
# as the source holds.  The counts imapmig reports must be what the oracle
# found - plus GONE: once folders were renamed or deleted on the source,
# the target keeps (and imapmig still counts) GONE messages the source no
# longer has.
same() {
	local src="served:$IMAPFIX_MAIL/terry.adams/Maildir" counts nuls
	user_stats terrya@contoso.edu "$1" || return 1
	local stats="$T/$1.stats"
	expect_eq "$BAD" 0 "$1: $2: bad items"
	counts=(--expect-copied "$((SYNCED - ${3:-0}))" --expect-skipped "$SKIPPED")
	if [ "$1" = md ]; then
		# into Maildir, only what the source cannot give exactly
		skipped_list "$stats" "$SKIP_SRCNUL" "$T/$1.allow" >/dev/null ||
			fail "$1: $2: unexpected skipped items"
		oracle_compare "$1: $2 (files)" "$src" "files:$IMAPFIX2_MAIL/terrya/Maildir" \
			--allow-skipped "$T/$1.allow" "${counts[@]}"
		return
	fi
	nuls=$(skipped_list "$stats" 'NUL' "$T/$1.allow") || fail "$1: $2: unexpected skipped items"
	expect_eq "$nuls" "$(nul_files "$IMAPFIX_MAIL/terry.adams/Maildir")" "$1: $2: messages skipped for NUL bytes"
	oracle_compare "$1: $2 (files)" "$src" "served:$IMAPFIX2_MAIL/terrya@contoso.edu/Maildir" \
		--allow-skipped "$T/$1.allow" "${counts[@]}"
	oracle_compare "$1: $2 (IMAP)" "$src" "imap:127.0.0.1:$IMAPFIX2_PORT:terrya@contoso.edu:$T/x.pw" \
		--allow-skipped "$T/$1.allow" "${counts[@]}"
}

for target in md dst; do
	user=terrya; [ "$target" = dst ] && user=terrya@contoso.edu
	"$IMAPMIG" -q batch new --name "B-$target" --source-endpoint src --target-endpoint "$target" --csv "$T/u.csv" --autostart
	"$IMAPMIG" -q sync --batch "B-$target" || fail "$target: initial sync"
	[ "$target" = md ] && chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
	same "$target" "after the initial sync"

	# Nothing new: an incremental pass is a handful of commands.
	"$IMAPMIG" -q batch set "B-$target" --sync-now
	"$IMAPMIG" -vv sync --batch "B-$target" >/dev/null 2>"$T/trace"
	n=$(grep -c 'trace: src C: ' "$T/trace")
	echo "$target: unchanged 31-folder mailbox: $n commands to the source" >&2
	[ "$n" -le 8 ] || fail "$target: $n commands for an unchanged mailbox: $(grep 'src C:' "$T/trace" | head -20)"
	grep -q 'P@ssw0rd\|1091990' "$T/trace" && fail "$target: a password in the protocol trace"

	# Flags changed on the source are carried (CONDSTORE).  Other
	# messages for each target: the second target's batch must find
	# changes too, not flags the first pass already set at the source.
	python3 - "$IMAPFIX_PORT" "$target" <<'EOF' || fail "$target: could not change flags on the source"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("terry.adams", "1091990")
m.select("INBOX")
if sys.argv[2] == "md":
    m.uid("STORE", "1:3", "+FLAGS", "(\\Flagged $Important)")
    m.uid("STORE", "4", "FLAGS", "(\\Answered)")
    m.select("Projects/P5")
    m.uid("STORE", "1", "+FLAGS", "(\\Seen \\Draft)")
else:
    m.uid("STORE", "5:7", "+FLAGS", "(\\Flagged $Urgent)")
    m.uid("STORE", "8", "FLAGS", "(\\Draft $Later)")
    m.select("Projects/P5")
    m.uid("STORE", "2", "+FLAGS", "(\\Seen $Reviewed)")
m.logout()
EOF
	"$IMAPMIG" -q batch set "B-$target" --sync-now
	"$IMAPMIG" -vv sync --batch "B-$target" >/dev/null 2>"$T/trace" || fail "$target: incremental sync (flags)"
	[ "$target" = md ] && chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
	same "$target" "flags carried"
	if [ "$target" = dst ]; then
		# exactly the 5 changed messages get a UID STORE: the journal
		# knew every other message's flags (they reached it at the copy)
		n=$(grep -c 'trace: dst C: .*UID STORE' "$T/trace")
		expect_eq "$n" 5 "$target: UID STORE commands for 5 changed messages"
	fi

	# New mail and a new folder.
	$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed "$RANDOM" \
		'INBOX:5' 'Projects/P7:3' "New/Folder $target:4" >/dev/null || exit 1
	"$IMAPMIG" -q batch set "B-$target" --sync-now
	"$IMAPMIG" -q sync --batch "B-$target" || fail "$target: incremental sync"
	[ "$target" = md ] && chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
	same "$target" "after new mail and a new folder"
	# A folder renamed and another deleted on the source: the target
	# keeps what it has (nothing is deleted), the new name is copied.
	python3 - "$IMAPFIX_PORT" "$target" <<'EOF' || fail "$target: rename/delete on the source"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("terry.adams", "1091990")
t = sys.argv[2]
a, b = ("P9", "P10") if t == "md" else ("P11", "P12")
assert m.rename('"Projects/%s"' % a, '"Renamed %s"' % t)[0] == "OK"
assert m.delete('"Projects/%s"' % b)[0] == "OK"
m.logout()
EOF
	"$IMAPMIG" -q batch set "B-$target" --sync-now
	"$IMAPMIG" -q sync --batch "B-$target" || fail "$target: sync after rename/delete"
	[ "$target" = md ] && chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
	# Projects/P9 (or P11), renamed, and P10 (or P12), deleted: 2 + 2 messages
	same "$target" "after rename/delete" 4
	if [ "$target" = md ]; then
		$ORACLE dump "files:$IMAPFIX2_MAIL/terrya/Maildir" >"$T/dst.json" || fail "$target: dump of the target"
	else
		$ORACLE dump "imap:127.0.0.1:$IMAPFIX2_PORT:$user:$T/x.pw" >"$T/dst.json" || fail "$target: dump of the target"
	fi
	python3 - "$T/dst.json" "$target" <<'EOF' || fail "$target: target after rename/delete"
import json, sys
d = json.load(open(sys.argv[1]))
a, b = ("P9", "P10") if sys.argv[2] == "md" else ("P11", "P12")
assert len(d.get("Projects/" + a, [])) == 2, "renamed-away folder lost on the target"
assert len(d.get("Projects/" + b, [])) == 2, "deleted folder lost on the target"
assert len(d.get("Renamed " + sys.argv[2], [])) == 2, sorted(d)
EOF
	"$IMAPMIG" -q batch remove "B-$target" --force --yes
	# Import the same user again: what the removed batch copied is found
	# on the target (read back and hashed), not copied a second time.
	"$IMAPMIG" -q batch new --name "R-$target" --source-endpoint src --target-endpoint "$target" --csv "$T/u.csv" --autostart
	"$IMAPMIG" -q sync --batch "R-$target" || fail "$target: sync after remove and re-import"
	[ "$target" = md ] && chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
	same "$target" "after remove and re-import"
	"$IMAPMIG" -q batch remove "R-$target" --force --yes
done

# A source without CONDSTORE (the fixture's no-TLS instance): every pass
# compares every message's flags with the journal, so the journal must
# hold the flags each copy was given.  Two changes: two UID STOREs.
"$IMAPMIG" -q endpoint new --name old-src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT_NOTLS" --security none --skip-verification 2>/dev/null
printf 'EmailAddress,UserName,Password\nterryn@contoso.edu,terry.adams,1091990\n' >"$T/n.csv"
"$IMAPMIG" -q batch new --name B-old --source-endpoint old-src --target-endpoint dst --csv "$T/n.csv" --autostart
"$IMAPMIG" -vv sync --batch B-old >/dev/null 2>"$T/trace" || fail "no CONDSTORE: initial sync"
grep -q 'trace: src S: .*CAPABILITY.*CONDSTORE' "$T/trace" && fail "no CONDSTORE: the source offers it after all"
python3 - "$IMAPFIX_PORT" <<'EOF' || fail "no CONDSTORE: could not change flags on the source"
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("terry.adams", "1091990")
m.select("INBOX")
m.uid("STORE", "9", "+FLAGS", "($OldServer)")
m.select("Projects/P6")
m.uid("STORE", "1", "+FLAGS", "($OldServer)")
m.logout()
EOF
"$IMAPMIG" -q batch set B-old --sync-now
"$IMAPMIG" -vv sync --batch B-old >/dev/null 2>"$T/trace" || fail "no CONDSTORE: incremental sync"
expect_eq "$(grep -c 'trace: dst C: .*UID STORE' "$T/trace")" 2 "no CONDSTORE: UID STORE commands for 2 changed messages"
"$IMAPMIG" -q batch remove B-old --force --yes

# UIDVALIDITY change: Dovecot renumbers a folder whose uidlist and index
# are gone.  The next pass must match, not copy again - also for the
# torture set (no Message-ID, one Message-ID on different bodies, exact
# duplicates, `From ` lines and lone dots, bare CR and LF).
corpus_ensure
# (this server has LAYOUT=fs: the folder is a plain directory)
$SEED --public "$IMAPFIX_MAIL/terry.adams/Maildir" --folder torture --dir "$CORPUS/torture" >/dev/null ||
	fail "renumber: seeding the torture set"
rm -rf "$IMAPFIX2_MAIL/terrya/Maildir"
"$IMAPMIG" -q batch new --name B-re --source-endpoint src --target-endpoint md --csv "$T/u.csv" --autostart
"$IMAPMIG" -q sync --batch B-re || fail "renumber: first sync"
for box in "$IMAPFIX_MAIL/terry.adams/Maildir/Projects/P3" "$IMAPFIX_MAIL/terry.adams/Maildir/torture"; do
	[ -d "$box" ] || fail "renumber: no folder $box"
	rm -f "$box"/dovecot-uidlist "$box"/dovecot.index*
done
before=$(cd "$IMAPFIX2_MAIL/terrya" && find . -path '*/cur/*' -type f | wc -l)
"$IMAPMIG" -q batch set B-re --sync-now
"$IMAPMIG" sync --batch B-re >/dev/null 2>"$T/re.err" || fail "renumber: sync: $(cat "$T/re.err")"
grep -q 'changed UIDVALIDITY' "$T/re.err" || fail "renumber: the UIDVALIDITY change went unnoticed"
after=$(cd "$IMAPFIX2_MAIL/terrya" && find . -path '*/cur/*' -type f | wc -l)
expect_eq "$after" "$before" "messages on the target after a UIDVALIDITY change"
chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
same md "renumber"
finish
