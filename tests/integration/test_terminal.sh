#!/bin/bash
# Server text never reaches the terminal raw: a greeting, capabilities and
# a NO text with escape sequences (scripted server: a real one will not
# send them), and a folder name and a subject with ESC held by a real
# Dovecot, through test-server, sync's errors, 'user stats' (text and
# JSON) and 'verify'.
set -u
: "${IMAPMIG:?built imapmig binary}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
FAKE="$IMAPMIG_SRCDIR/tests/fakeserver/fakeimap.py"
T=$TEST_TMP
FPID=
trap 'fixture_cleanup; [ -n "$FPID" ] && kill "$FPID" 2>/dev/null' EXIT

start_fake() {
	rm -f "$T/port" "$T/log"
	python3 "$FAKE" "$1" --port-file "$T/port" --log "$T/log" 2>"$T/fake.err" &
	FPID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	PORT=$(cat "$T/port")
}
stop_fake() { wait "$FPID" 2>/dev/null; FPID=; }

# raw WHAT FILE...: fails if a control byte other than newline (ESC, BEL,
# CR, a C1 control in UTF-8 or raw) is in the files.
raw() {
	local what=$1
	shift
	if LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$@"; then
		fail "$what: control bytes reached the terminal: $(LC_ALL=C grep -haP '[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$@" | head -3 | cat -v)"
	fi
}

# 1. test-server: greeting, capabilities, the text of a refused login.
{
	printf 'S * OK \033]0;PWNED\007\033[2J ready \302\233m\n'
	printf 'C A[0-9]+ CAPABILITY\n'
	printf 'S * CAPABILITY IMAP4rev1 X-\302\233RED\n'
	printf 'S $tag OK done\n'
	printf 'C A[0-9]+ LOGIN bob pw\n'
	printf 'S $tag NO [AUTHENTICATIONFAILED] no \033[2J\007 way \302\2332J \177\n'
} >"$T/script"
printf 'pw\n' >"$T/pw"
start_fake "$T/script"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none \
	--user bob --password-file "$T/pw" >"$T/out" 2>"$T/err"
RC=$?
stop_fake
expect_eq "$RC" 1 "refused login"
raw "test-server" "$T/out" "$T/err"
grep -qF 'Greeting      \x1b]0;PWNED\x07\x1b[2J ready \xc2\x9bm' "$T/out" ||
	fail "greeting not shown escaped: $(cat -v "$T/out")"
grep -qF 'X-\xc2\x9bRED' "$T/out" || fail "capabilities not shown escaped: $(cat -v "$T/out")"
# (C0 controls in an error are spaces already: one line, always)
grep -qF 'no  [2J  way \xc2\x9b2J \x7f' "$T/err" || fail "NO text not shown escaped: $(cat -v "$T/err")"
expect_eq "$(grep -c 'test-server:' "$T/err")" 1 "refused login: one line"

# A BYE instead of a greeting, its text in the one-line error.
printf 'S * BYE \033[2J\302\233]0;PWNED\007 busy\n' >"$T/script"
start_fake "$T/script"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none >"$T/out" 2>"$T/err"
RC=$?
stop_fake
expect_eq "$RC" 1 "BYE greeting"
raw "BYE greeting" "$T/out" "$T/err"
grep -qF 'refused the session:  [2J\xc2\x9b]0;PWNED  busy' "$T/err" ||
	fail "BYE text not shown escaped: $(cat -v "$T/err")"

# 2. A real Dovecot holds a folder whose name has ESC in it and, there, a
#    message whose Subject has ESC and a C1 CSI, skipped for its size: the
#    sync's output, 'user stats' (text and JSON) and 'verify' keep the
#    terminal safe; the JSON is valid and keeps the exact subject.
fixture_start
export IMAPMIG_STATE="$T/state/state.db"
EVIL=$'Evil\e]0;PWNED\a'
SUBJ=$'Hi \e[2J\e]0;PWNED\a there \xc2\x9b31m'
$SEED --mail-root "$IMAPFIX_MAIL" --user terry.adams --folder "$EVIL" --count 2 --seed 3 >/dev/null ||
	fail "seeding $EVIL"
{
	printf 'From: a@example.org\r\nTo: b@example.org\r\nSubject: %s\r\n' "$SUBJ"
	printf 'Date: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <esc@example.org>\r\n\r\n'
	for _ in $(seq 60); do printf 'padding padding padding padding padding padding\r\n'; done
} >"$T/evil.eml"
$SEED --mail-root "$IMAPFIX_MAIL" --user terry.adams --folder "$EVIL" --file "$T/evil.eml" >/dev/null ||
	fail "seeding the message"
"$IMAPMIG" -q endpoint new --name Src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none ||
	fail "endpoint new (source)"
"$IMAPMIG" -q endpoint new --name Dst --type maildir --path-template "$T/target/{local}/Maildir" ||
	fail "endpoint new (maildir)"
printf 'EmailAddress,UserName,Password\nterry@example.org,terry.adams,1091990\n' >"$T/u.csv"
"$IMAPMIG" -q batch new --name B --source-endpoint Src --target-endpoint Dst --csv "$T/u.csv" \
	--max-message-size 2000 --autostart >"$T/out" 2>"$T/err" || fail "batch new: $(cat "$T/err")"
"$IMAPMIG" -v sync --batch B >"$T/sync.out" 2>"$T/sync.err"
expect_eq "$?" 0 "sync: $(cat "$T/sync.err")"
raw "sync" "$T/sync.out" "$T/sync.err"

"$IMAPMIG" user stats terry@example.org --include-skipped-items --include-report >"$T/out" 2>"$T/err"
expect_eq "$?" 0 "user stats: $(cat "$T/err")"
raw "user stats" "$T/out" "$T/err"
grep -qF 'Evil\x1b]0;PWNED\x07 ' "$T/out" || fail "user stats: folder not shown escaped: $(cat -v "$T/out")"
grep -qF '"Hi \x1b[2J\x1b]0;PWNED\x07 there \xc2\x9b31m"' "$T/out" ||
	fail "user stats: subject not shown escaped: $(cat -v "$T/out")"

"$IMAPMIG" user stats terry@example.org --include-skipped-items --include-report --json >"$T/json" 2>"$T/err"
expect_eq "$?" 0 "user stats --json: $(cat "$T/err")"
raw "user stats --json" "$T/json" "$T/err"
python3 - "$T/json" "$SUBJ" "$EVIL" <<'PY' || fail "user stats --json: not the exact subject and folder: $(cat -v "$T/json")"
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
subj = sys.argv[2].encode("utf-8", "surrogateescape").decode("utf-8")
assert subj in [s["subject"] for s in d["skipped_items"]], d["skipped_items"]
assert sys.argv[3] in [f["source"] for f in d["folders"]], d["folders"]
PY

"$IMAPMIG" verify terry@example.org >"$T/out" 2>"$T/err"
raw "verify" "$T/out" "$T/err"
grep -qF 'Evil\x1b]0;PWNED\x07 ->' "$T/out" || fail "verify: folder not shown escaped: $(cat -v "$T/out" "$T/err")"

# 3. CSV fields echoed in errors: a bad address, an unknown column.
printf 'EmailAddress,UserName,Password\nbad\033[2J\302\233x,u,p\n' >"$T/e1.csv"
printf 'EmailAddress,UserName,Password,Bogus\302\233]0;T\007\na@b.c,u,p,x\n' >"$T/e2.csv"
for f in e1 e2; do
	"$IMAPMIG" batch new --name "C$f" --source-endpoint Src --target-endpoint Dst --csv "$T/$f.csv" >"$T/out" 2>"$T/err"
	expect_eq "$?" 2 "CSV $f"
	raw "CSV $f" "$T/out" "$T/err"
	grep -q '\\xc2\\x9b' "$T/err" || fail "CSV $f: field not shown escaped: $(cat -v "$T/err")"
done

finish
