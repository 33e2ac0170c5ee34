#!/bin/bash
# An IMAP target that answers nonsense (a real Dovecot behind
# tests/fakeserver/faultproxy.py --rewrite):
#   - APPENDUID with UIDVALIDITY 0, UID 0, no numbers, a UID the folder
#     already had, a UID past 2^32: the run completes, every message once
#     (oracle), and no copy is journaled under a UID that is not its own
#     (each journaled ref is fetched from the target: same size);
#   - PERMANENTFLAGS without \* (only $Forwarded kept): keywords not
#     listed are not sent, $Forwarded still is, every message copies, and
#     the log says which keyword was left out.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
PROXIES=()
trap 'for p in "${PROXIES[@]}"; do kill "$p" 2>/dev/null; done; fixture_cleanup' EXIT

CASES="uv0 uid0 nonnum dupuid huge kw"
fixture_start
: >"$T/users2"
for c in $CASES; do printf '%s@contoso.edu:x\n' "$c" >>"$T/users2"; done
fixture_start_second --users-file "$T/users2"
# INBOX and Work, flags and keywords ($Forwarded, Work) from populate.py
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 4 'INBOX:14' 'Work:8' >/dev/null ||
	{ fail "populate"; finish; }
export IMAPMIG_STATE="$T/state/state.db"
printf 'P@ssw0rd\n' >"$T/admin.pw"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" \
	--security none --skip-verification 2>/dev/null

rewrite_of() {
	case $1 in
	uv0) echo '\[APPENDUID \d+ (\d+)\]=>[APPENDUID 0 \1]' ;;
	uid0) echo '\[APPENDUID (\d+) \d+\]=>[APPENDUID \1 0]' ;;
	nonnum) echo '\[APPENDUID \d+ \d+\]=>[APPENDUID abc -7]' ;;
	dupuid) echo '\[APPENDUID (\d+) \d+\]=>[APPENDUID \1 1]' ;;
	huge) echo '\[APPENDUID (\d+) \d+\]=>[APPENDUID \1 4294967297]' ;;
	kw) echo ' \\\*\)\]=> $Forwarded)]' ;;
	esac
}

# target_check EMAIL: (1) every journaled ref names a copy of that size on
# the target; (2) prints "N WORK FWD": the target's messages, how many
# carry the keyword Work and how many $Forwarded (read from Dovecot
# directly, not through the proxy)
target_check() {
	python3 - "$IMAPMIG_STATE" "$1" "$IMAPFIX2_PORT" <<'PY'
import imaplib, sqlite3, sys
db, email, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = imaplib.IMAP4("127.0.0.1", port)
m.login(email + "*mailadmin", "P@ssw0rd")
rows = sqlite3.connect(db).execute(
    "SELECT f.dst, i.size, i.target_ref FROM items i JOIN folders f ON f.id=i.folder_id"
    " JOIN users u ON u.id=f.user_id WHERE u.email=? AND i.state=1", (email,)).fetchall()
bad, refs = [], 0
for dst, size, ref in rows:
    if not ref:
        continue
    refs += 1
    uv, uid = ref.split(":")
    typ, d = m.select('"%s"' % dst, readonly=True)
    typ, d = m.response("UIDVALIDITY")
    if d[0] is None or d[0].decode() != uv:
        bad.append("%s: ref %s, UIDVALIDITY is %s" % (dst, ref, d))
        continue
    typ, d = m.uid("FETCH", uid, "(RFC822.SIZE)")
    got = d[0].decode() if d and d[0] else ""
    if "RFC822.SIZE %d" % size not in got:
        bad.append("%s: ref %s of a %d-byte message names %r" % (dst, ref, size, got))
n = work = fwd = 0
for box in ("INBOX", "Work"):
    typ, d = m.select(box, readonly=True)
    if typ != "OK":
        continue
    typ, d = m.fetch("1:*", "(FLAGS)")
    for x in d or []:
        if not x:
            continue
        n += 1
        work += b" Work" in x or b"(Work" in x
        fwd += b"$Forwarded" in x
for b in bad:
    print("journaled garbage: " + b, file=sys.stderr)
print("%s: %d refs journaled, %d checked bad" % (email, refs, len(bad)), file=sys.stderr)
print(n, work, fwd)
sys.exit(1 if bad else 0)
PY
}

src_kw=$(python3 - "$IMAPFIX_PORT" <<'PY'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("ann.beebe", "2111991")
work = fwd = 0
for box in ("INBOX", "Work"):
    m.select(box, readonly=True)
    typ, d = m.fetch("1:*", "(FLAGS)")
    for x in d:
        work += b" Work" in x or b"(Work" in x
        fwd += b"$Forwarded" in x
print(work, fwd)
PY
)
read -r SRC_WORK SRC_FWD <<<"$src_kw"
echo "source: $SRC_WORK messages with Work, $SRC_FWD with \$Forwarded" >&2
[ "$SRC_WORK" -gt 0 ] && [ "$SRC_FWD" -gt 0 ] || fail "the source has not both keywords: the test proves nothing"

for c in $CASES; do
	# CASE=NAME runs one case (to watch it fail on broken code)
	[ -n "${CASE:-}" ] && [ "$c" != "$CASE" ] && continue
	python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX2_PORT" \
		--port-file "$T/$c.port" --rewrite "$(rewrite_of "$c")" &
	PROXIES+=($!)
	for _ in $(seq 100); do [ -s "$T/$c.port" ] && break; sleep 0.05; done
	"$IMAPMIG" -q endpoint new --name "t_$c" --type imap --remote-server 127.0.0.1 --port "$(cat "$T/$c.port")" \
		--security none --skip-verification --target-login '{email}*mailadmin' --password-file "$T/admin.pw" 2>/dev/null
	printf 'EmailAddress,UserName,Password\n%s@contoso.edu,ann.beebe,2111991\n' "$c" >"$T/$c.csv"
	"$IMAPMIG" -q batch new --name "B_$c" --source-endpoint src --target-endpoint "t_$c" --csv "$T/$c.csv" --autostart
	"$IMAPMIG" sync --batch "B_$c" >"$T/$c.out" 2>"$T/$c.err"
	rc=$?
	expect_eq "$rc" 0 "$c: sync exit status ($(tail -2 "$T/$c.err"))"
	user_stats "$c@contoso.edu" "$c"
	expect_eq "$STATUS" Synced "$c: status"
	# populate.py's messages with NUL bytes or bare CRs: an IMAP target
	# cannot take them exactly (reported)
	expect_eq "$((SYNCED + SKIPPED))" 22 "$c: items synced and skipped"
	skipped_list "$T/$c.stats" "$SKIP_IMAP" "$T/$c.allow" >/dev/null ||
		fail "$c: unexpected skipped items"
	read -r n work fwd < <(target_check "$c@contoso.edu") || fail "$c: a journaled ref names another message"
	expect_eq "$n" "$SYNCED" "$c: messages on the target"
	if [ "$c" = kw ]; then
		expect_eq "$work" 0 "kw: messages with the keyword Work on a target that keeps only \$Forwarded"
		expect_eq "$fwd" "$SRC_FWD" "kw: messages with \$Forwarded"
		grep -q 'keeps no keyword Work' "$T/$c.err" ||
			fail "kw: no warning that Work was left out: $(grep -i keyword "$T/$c.err" | head -2)"
	else
		oracle_compare "$c" "served:$IMAPFIX_MAIL/ann.beebe/Maildir" "served:$IMAPFIX2_MAIL/$c@contoso.edu/Maildir" \
			--allow-skipped "$T/$c.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
		grep -q 'APPENDUID' "$T/$c.err" || fail "$c: no warning about the bogus APPENDUID"
	fi
done
finish
