#!/bin/bash
# The client against a scripted server: the exact bytes imapmig sends for
# the seed's admin UserName formats and awkward passwords, and clean
# one-line errors for what real servers won't do (BYE greeting, garbage,
# LOGINDISABLED, silence, a drop mid-literal).
set -u
: "${IMAPMIG:?built imapmig binary}" "${IMAPMIG_SRCDIR:?source tree}"
FAKE="$IMAPMIG_SRCDIR/tests/fakeserver/fakeimap.py"
T=$(mktemp -d)
FPID=
cleanup() { [ -n "$FPID" ] && kill "$FPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# start_fake SCRIPT: runs the fake server on a free port; sets PORT.
start_fake() {
	rm -f "$T/port" "$T/log"
	python3 "$FAKE" "$1" --port-file "$T/port" --log "$T/log" 2>"$T/fake.err" &
	FPID=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
	PORT=$(cat "$T/port")
}
stop_fake() { wait "$FPID" 2>/dev/null; FAKE_RC=$?; FPID=; }

run_login() { # USER PASSWORD SCRIPT-LOGIN-LINE-REGEX [extra script lines]
	local user=$1 pass=$2 re=$3
	printf '%s\n' "$pass" >"$T/pw"
	{
		echo 'S * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready'
		echo "C $re"
		if [ -n "${4:-}" ]; then printf '%s\n' "$4"; fi
		echo 'S $tag OK [CAPABILITY IMAP4rev1] logged in'
		echo 'C A[0-9]+ LIST "" "\*"'
		echo 'S * LIST (\HasNoChildren) "/" INBOX'
		echo 'S * LIST (\HasNoChildren) "/" Sent'
		echo 'S $tag OK done'
		echo 'C A[0-9]+ LOGOUT'
		echo 'S * BYE bye'
		echo 'S $tag OK bye'
	} >"$T/script"
	start_fake "$T/script"
	"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" \
		--security none --user "$user" --password-file "$T/pw" \
		>"$T/out" 2>"$T/err"
	RC=$?
	stop_fake
	if [ "$FAKE_RC" != 0 ]; then
		fail "login as $user: server saw unexpected bytes: $(cat "$T/fake.err")"
	fi
	if grep -qF -- "$pass" "$T/out" "$T/err"; then
		fail "the password of $user appeared in imapmig's output"
	fi
}

# The seed's three admin formats, sent verbatim.
run_login 'contoso-students/mailadmin/terry.adams' 'P@ssw0rd' \
	'A[0-9]+ LOGIN contoso-students/mailadmin/terry\.adams P@ssw0rd'
[ "$RC" = 0 ] || fail "Exchange format: exit $RC: $(cat "$T/err")"
grep -q '^Folders *2$' "$T/out" || fail "Exchange format: folder count missing: $(cat "$T/out")"

run_login '#terry.adams@contoso-students.edu#mailadmin#' 'P@ssw0rd' \
	'A[0-9]+ LOGIN #terry\.adams@contoso-students\.edu#mailadmin# P@ssw0rd'
[ "$RC" = 0 ] || fail "Mirapoint format: exit $RC"

run_login 'terry.adams*mailadmin' 'P@ssw0rd' \
	'A[0-9]+ LOGIN "terry\.adams\*mailadmin" P@ssw0rd'
[ "$RC" = 0 ] || fail "Dovecot format: exit $RC"

# Passwords that need quoting, and one that needs a literal (8-bit),
# sent as a synchronizing literal since the server has no LITERAL+.
run_login 'ann.beebe' 'a "quoted" \ pass' \
	'A[0-9]+ LOGIN ann\.beebe "a \\"quoted\\" \\\\ pass"'
[ "$RC" = 0 ] || fail "quoted password: exit $RC"

run_login 'paul.cannon' 'pässwörd' 'A[0-9]+ LOGIN paul\.cannon \{10\}' \
	"$(printf 'CONT\nCLIT\nC ')"
[ "$RC" = 0 ] || fail "literal password: exit $RC: $(cat "$T/err")"
grep -qa 'pässwörd' "$T/log" || fail "literal password bytes not sent"

# A refused login: exit 1, one line, says what to check, no password.
printf 'S * OK fake\nC A[0-9]+ CAPABILITY\nS * CAPABILITY IMAP4rev1\nS $tag OK\nC A[0-9]+ LOGIN .*\nS $tag NO [AUTHENTICATIONFAILED] Authentication failed.\n' >"$T/script"
start_fake "$T/script"
printf 'Secret-123\n' >"$T/pw"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none \
	--user bob --password-file "$T/pw" >"$T/out" 2>"$T/err"
RC=$?; stop_fake
[ "$RC" = 1 ] || fail "refused login: exit $RC, want 1"
[ "$(grep -c 'test-server:' "$T/err")" = 1 ] || fail "refused login: not one line: $(cat "$T/err")"
grep -q 'refused the login of "bob".*AUTHENTICATIONFAILED.*check --user and the password' "$T/err" ||
	fail "refused login: unclear error: $(cat "$T/err")"
grep -q 'Secret-123' "$T/out" "$T/err" && fail "password printed on refused login"

# BYE instead of a greeting.
printf 'S * BYE Too many connections\n' >"$T/script"
start_fake "$T/script"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none >"$T/out" 2>"$T/err"
RC=$?; stop_fake
[ "$RC" = 1 ] && grep -q 'refused the session: Too many connections' "$T/err" ||
	fail "BYE greeting: rc=$RC $(cat "$T/err")"

# Garbage instead of IMAP.
printf 'S SSH-2.0-OpenSSH_9.2\n' >"$T/script"
start_fake "$T/script"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none >"$T/out" 2>"$T/err"
RC=$?; stop_fake
[ "$RC" = 1 ] && grep -q 'IMAP' "$T/err" || fail "garbage greeting: rc=$RC $(cat "$T/err")"

# LOGINDISABLED on a plaintext connection.
printf 'S * OK [CAPABILITY IMAP4rev1 LOGINDISABLED STARTTLS] fake\n' >"$T/script"
start_fake "$T/script"
printf 'x\n' >"$T/pw"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none \
	--user u --password-file "$T/pw" >"$T/out" 2>"$T/err"
RC=$?; stop_fake
[ "$RC" = 1 ] && grep -q 'LOGINDISABLED.*--security tls' "$T/err" ||
	fail "LOGINDISABLED: rc=$RC $(cat "$T/err")"

# A server that says nothing: a timeout, not a hang.
printf 'SLEEP 5\n' >"$T/script"
start_fake "$T/script"
start=$(date +%s)
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none --timeout 1 >"$T/out" 2>"$T/err"
RC=$?; took=$(( $(date +%s) - start )); stop_fake
[ "$RC" = 1 ] && [ "$took" -le 3 ] && grep -q 'no answer' "$T/err" ||
	fail "silent server: rc=$RC after $took s: $(cat "$T/err")"

# Dropped in the middle of a literal.
printf '%s\n' 'S * OK [CAPABILITY IMAP4rev1] fake' 'C A[0-9]+ LOGIN u x' \
	'S $tag OK in' 'C A[0-9]+ CAPABILITY' \
	'SRAW b"* CAPABILITY {100}\r\nIMAP4rev1"' 'CLOSE' >"$T/script"
start_fake "$T/script"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none \
	--user u --password-file "$T/pw" >"$T/out" 2>"$T/err"
RC=$?; stop_fake
[ "$RC" = 1 ] && grep -q 'closed' "$T/err" || fail "drop mid-literal: rc=$RC $(cat "$T/err")"

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
