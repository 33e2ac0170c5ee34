#!/bin/bash
# Fidelity: mail that nobody here wrote (public MIME test corpora fetched
# from Debian packages) and a generated torture set, migrated from a real
# Dovecot into a Maildir target and into a second Dovecot over IMAP, then
# read back by tests/fixtures/oracle.py - which shares no code and no
# method with imapmig (files from disk, imaplib with BODY.PEEK[]).  Every
# source message must be on the target byte for byte with its flags and
# INTERNALDATE, or be in imapmig's skipped-item report with a reason the
# test expects; the counts imapmig reports must equal what the oracle
# counted.
#
# IMAPMIG_CORPUS=DIR uses DIR's subfolders as the corpus instead of
# building it (tests/corpus/foreign.sh + torture.py, cached in the build
# directory).
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
ORACLE="python3 $IMAPMIG_SRCDIR/tests/fixtures/oracle.py"
export IMAPMIG_STATE="$T/state/state.db"

corpus_ensure

printf 'terrya@contoso.edu:x\n' >"$T/users2"
fixture_start
fixture_start_second --users-file "$T/users2"
# Cyrus, unpacked from Debian's packages (it conflicts with dovecot-imapd)
CYRUS="$IMAPMIG_SRCDIR/tests/fixtures/cyrus.sh"
FIXTURE_DIRS+=("$T/cyrus")
trap '"$CYRUS" stop "$T/cyrus" >/dev/null 2>&1; fixture_cleanup' EXIT
eval "$("$CYRUS" start "$T/cyrus")" || { echo "FAIL: Cyrus did not start" >&2; exit 1; }

# One source folder per corpus.
seed_corpus "$IMAPFIX_MAIL" terry.adams
folders=$(cd "$CORPUS" && ls -d */ | tr -d / | tr '\n' ' ')
# A folder name Cyrus refuses: migrated under a safe spelling.
$SEED --mail-root "$IMAPFIX_MAIL" --user terry.adams --folder 'Quote "Test"' --count 3 --seed 4 >/dev/null
total=$(find "$CORPUS"/*/ -type f | wc -l)
echo "corpus: $total messages in folders $folders" >&2

printf 'P@ssw0rd\n' >"$T/admin.pw"
run() { "$IMAPMIG" "$@" >"$T/out" 2>"$T/err"; RC=$?; }

run endpoint new --name Src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA"
expect_eq "$RC" 0 "endpoint new (source): $(cat "$T/err")"
run endpoint new --name Local --type maildir --path-template "$T/md/{local}/Maildir"
expect_eq "$RC" 0 "endpoint new (maildir): $(cat "$T/err")"
run endpoint new --name Dove --type imap --remote-server 127.0.0.1 --port "$IMAPFIX2_PORT_SSL" \
	--ca-file "$IMAPFIX2_CA" --target-login '{email}*mailadmin' --password-file "$T/admin.pw"
expect_eq "$RC" 0 "endpoint new (dovecot target): $(cat "$T/err")"

printf 'EmailAddress,UserName,Password\nterrym@contoso.edu,terry.adams*mailadmin,P@ssw0rd\n' >"$T/md.csv"
printf 'EmailAddress,UserName,Password\nterrya@contoso.edu,terry.adams*mailadmin,P@ssw0rd\n' >"$T/imap.csv"
printf 'EmailAddress,UserName,Password\nannb@contoso.edu,terry.adams*mailadmin,P@ssw0rd\n' >"$T/cyrus.csv"
printf '%s\n' "$CYRUSFIX_ADMIN_PASSWORD" >"$T/cyrusadmin.pw"
printf 'x\n' >"$T/x.pw"
run endpoint new --name Cyrus --type imap --remote-server 127.0.0.1 --port "$CYRUSFIX_PORT" --security none \
	--authentication plain --target-login cyrusadmin --target-authzid '{email}' --password-file "$T/cyrusadmin.pw"
expect_eq "$RC" 0 "endpoint new (cyrus target): $(cat "$T/err")"

# skipped.py STATS.json EXPECTED-REASONS-REGEX -> the oracle's allow list;
# fails on a skipped item whose reason the test does not expect.
skipped_list() {
	python3 - "$1" "$2" "$3" <<'PY'
import json, re, sys
st = json.load(open(sys.argv[1]))
ok = re.compile(sys.argv[2])
out, bad = [], []
for s in st.get("skipped_items", []):
    if not ok.search(s["reason"]):
        bad.append("%s size %s: %s" % (s["folder"], s["size"], s["reason"]))
    out.append({"folder": s["folder"], "size": s["size"], "reason": s["reason"]})
json.dump(out, open(sys.argv[3], "w"))
for b in bad:
    print("unexpected skip: " + b)
sys.exit(1 if bad else 0)
PY
}

# migrate NAME TARGET-ENDPOINT CSV EMAIL ALLOWED-SKIP-REGEX [batch options]
migrate() {
	local name=$1 ep=$2 csv=$3 email=$4 allow=$5
	shift 5
	run batch new --name "$name" --source-endpoint Src --target-endpoint "$ep" --csv "$csv" --autostart "$@"
	expect_eq "$RC" 0 "batch new $name: $(cat "$T/err")"
	run sync --batch "$name"
	expect_eq "$RC" 0 "sync $name: $(tail -3 "$T/err")"
	run user stats "$email" --include-skipped-items --json
	cp "$T/out" "$T/$name.stats"
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["status"], d["items_synced"], d["items_skipped"], d["data_consistency"])' \
		"$T/$name.stats" >"$T/$name.summary"
	read -r STATUS SYNCED SKIPPED GRADE <"$T/$name.summary"
	echo "$name: imapmig says $STATUS, $SYNCED synced, $SKIPPED skipped, $GRADE" >&2
	expect_eq "$STATUS" Synced "$name status"
	skipped_list "$T/$name.stats" "$allow" "$T/$name.allow" >&2 || fail "$name: unexpected skipped items"
}

# ---- into Maildir ----
# Reasons a message may be skipped, and nothing else: over the size limit;
# NUL bytes that the source (Dovecot) serves only as 0x80 because the
# message also has transfer-encoded parts (BINARY[] would decode those):
# the source cannot give its exact bytes.
LARGE='^large item'
migrate ToMaildir Local "$T/md.csv" terrym@contoso.edu "$LARGE|$SKIP_SRCNUL"
$ORACLE compare --source "served:$IMAPFIX_MAIL/terry.adams/Maildir" --target "files:$T/md/terrym/Maildir" \
	--allow-skipped "$T/ToMaildir.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED" \
	>"$T/oracle.md" 2>&1 || fail "Maildir target differs from the source: $(head -20 "$T/oracle.md")"
tail -1 "$T/oracle.md" >&2

# verify EMAIL NAME: imapmig's own afresh comparison must agree with the
# oracle and with the counts it reported.
verify_agrees() {
	"$IMAPMIG" verify "$1" --deep --json >"$T/$2.verify" 2>"$T/$2.verify.err"
	local rc=$?
	expect_eq "$rc" 0 "verify $2 exit ($(cat "$T/$2.verify.err"))"
	python3 - "$T/$2.verify" "$SYNCED" "$SKIPPED" <<'PY' || fail "verify $2: $(head -c 600 "$T/$2.verify")"
import json, sys
d = json.load(open(sys.argv[1]))[0]
assert d["deep"] and d["missing"] == 0 and d["altered"] == 0, d
assert d["copied"] == int(sys.argv[2]) and d["skipped"] == int(sys.argv[3]), (d["copied"], d["skipped"])
PY
}
verify_agrees terrym@contoso.edu ToMaildir
# ... and it must see a change: one byte of one copy (same size, same
# date: only --deep sees it), then one copy gone.
victim=$(find "$T/md/terrym/Maildir/.enmime/cur" -type f | head -1)
cp -p "$victim" "$T/victim.bak"
python3 -c 'import os,sys; p=sys.argv[1]; st=os.stat(p); b=bytearray(open(p,"rb").read()); b[-3]^=1; open(p,"wb").write(b); os.utime(p,(st.st_mtime,st.st_mtime))' "$victim"
"$IMAPMIG" verify terrym@contoso.edu --deep >"$T/v1.out" 2>&1
expect_eq "$?" 1 "verify --deep after one byte changed"
grep -q '1 altered' "$T/v1.out" || fail "verify --deep does not name the altered copy: $(grep enmime "$T/v1.out")"
"$IMAPMIG" user get terrym@contoso.edu --json | grep -q '"Poor"' || fail "an altered copy leaves the grade above Poor"
rm -f "$victim"
"$IMAPMIG" verify terrym@contoso.edu >"$T/v2.out" 2>&1
expect_eq "$?" 1 "verify after one copy was deleted"
grep -q '1 missing' "$T/v2.out" || fail "verify does not count the missing copy: $(grep enmime "$T/v2.out")"
cp -p "$T/victim.bak" "$victim"
"$IMAPMIG" verify terrym@contoso.edu --deep >"$T/v3.out" 2>&1 || fail "verify after the repair: $(tail -3 "$T/v3.out")"
"$IMAPMIG" user get terrym@contoso.edu --json | grep -q '"Perfect"' || fail "the grade is not Perfect after a clean verify"

# ---- into Dovecot over IMAP ----
# A message with NUL bytes cannot be APPENDed unaltered (IMAP literals
# cannot carry NUL; Dovecot's literal8 APPEND re-encodes binary parts): it
# must be skipped with that reason, never stored altered.
# Dovecot as a target also rewrites bare CRs: such a copy is read back,
# found altered, taken back and reported.
migrate ToDovecot Dove "$T/imap.csv" terrya@contoso.edu \
	"$LARGE|$SKIP_IMAP"
# what the target stores, read from its files ...
$ORACLE compare --source "served:$IMAPFIX_MAIL/terry.adams/Maildir" \
	--target "served:$IMAPFIX2_MAIL/terrya@contoso.edu/Maildir" \
	--allow-skipped "$T/ToDovecot.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED" \
	>"$T/oracle.dv" 2>&1 || fail "Dovecot target (files) differs from the source: $(head -20 "$T/oracle.dv")"
tail -1 "$T/oracle.dv" >&2
# ... and what it serves, through imaplib's BODY.PEEK[]
$ORACLE compare --source "served:$IMAPFIX_MAIL/terry.adams/Maildir" \
	--target "imap:127.0.0.1:$IMAPFIX2_PORT:terrya@contoso.edu*mailadmin:$T/admin.pw" \
	--allow-skipped "$T/ToDovecot.allow" --expect-copied "$SYNCED" \
	>"$T/oracle.dvi" 2>&1 || fail "Dovecot target (IMAP) differs from the source: $(head -20 "$T/oracle.dvi")"
tail -1 "$T/oracle.dvi" >&2
verify_agrees terrya@contoso.edu ToDovecot

# ---- into Cyrus over IMAP ----
# Cyrus refuses some messages outright (bare CR line endings: "invalid
# header"): bad items, reported with the server's words.  The folder
# 'Quote "Test"' is refused and created as 'Quote _Test_'.
migrate ToCyrus Cyrus "$T/cyrus.csv" annb@contoso.edu \
	"$LARGE|$SKIP_IMAP|^bad item: .*APPEND: server said NO" \
	--bad-item-limit 20
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"] == "Synced", d' "$T/ToCyrus.stats" >/dev/null ||
	fail "Cyrus: not Synced"
"$IMAPMIG" user stats annb@contoso.edu --include-report --json >"$T/cyrus.report"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=[f["target"] for f in d["folders"] if f["source"]=="Quote \"Test\""]; assert t == ["Quote _Test_"], t' "$T/cyrus.report" ||
	fail "Cyrus: the folder report does not show the substitute name"
$ORACLE compare --source "served:$IMAPFIX_MAIL/terry.adams/Maildir" \
	--target "imap:127.0.0.1:$CYRUSFIX_PORT:annb@contoso.edu:$T/x.pw" --map 'Quote "Test"=Quote _Test_' \
	--allow-skipped "$T/ToCyrus.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED" \
	>"$T/oracle.cy" 2>&1 || fail "Cyrus target differs from the source: $(head -20 "$T/oracle.cy")"
tail -1 "$T/oracle.cy" >&2
verify_agrees annb@contoso.edu ToCyrus

finish
