#!/bin/bash
# Secrets stay secret: the -vv protocol trace never shows a password (a
# synchronizing literal, AUTHENTICATE's continuation), the password prompt
# does not echo, an empty password is refused, and a running imapmig has
# core dumps off.  Scripted server: a real one would take the LOGIN
# literal just the same, but cannot be told to stall.
set -u
: "${IMAPMIG:?built imapmig binary}" "${IMAPMIG_SRCDIR:?source tree}"
FAKE="$IMAPMIG_SRCDIR/tests/fakeserver/fakeimap.py"
T=$(mktemp -d)
FPID=
IPID=
cleanup() {
	[ -n "$IPID" ] && kill "$IPID" 2>/dev/null
	[ -n "$FPID" ] && kill "$FPID" 2>/dev/null
	rm -rf "$T"
}
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

# leaks WHAT FILE...: fails if any fragment of $PW is in the files: each
# word, the UTF-8 bytes as the trace escapes them, the base64 of PLAIN.
leaks() {
	local what=$1 frag
	shift
	for frag in "${FRAGS[@]}"; do
		if grep -qaF -- "$frag" "$@"; then
			fail "$what: password fragment '$frag' printed: $(grep -haF -- "$frag" "$@" | head -3)"
		fi
	done
}

PW='Grüße aus Köln'
PWLEN=$(printf '%s' "$PW" | wc -c)
FRAGS=('Grüße' 'Köln' ' aus' 'Gr\x' 'K\x' '\xc3\xbc' '\xc3\xb6' '\xc3\x9fe')
printf '%s\n' "$PW" >"$T/pw"
ok_tail() { # [TAG of the login command, default the last one read]
	echo "S ${1:-\$tag} OK [CAPABILITY IMAP4rev1] logged in"
	echo 'C A[0-9]+ LIST "" "\*"'
	echo 'S * LIST (\HasNoChildren) "/" INBOX'
	echo 'S $tag OK done'
	echo 'C A[0-9]+ LOGOUT'
	echo 'S * BYE bye'
	echo 'S $tag OK bye'
}

# 1. LOGIN with the password as a synchronizing literal (no LITERAL+),
#    from --password-file and from standard input.
for how in file stdin; do
	{
		echo 'S * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready'
		echo "C A[0-9]+ LOGIN bob \\{$PWLEN\\}"
		echo 'CONT'
		echo 'CLIT'
		echo 'C '
		ok_tail
	} >"$T/script"
	start_fake "$T/script"
	if [ $how = file ]; then
		"$IMAPMIG" -vv test-server --remote-server 127.0.0.1 --port "$PORT" \
			--security none --user bob --password-file "$T/pw" >"$T/out" 2>"$T/err"
	else
		"$IMAPMIG" -vv test-server --remote-server 127.0.0.1 --port "$PORT" \
			--security none --user bob <"$T/pw" >"$T/out" 2>"$T/err"
	fi
	RC=$?
	stop_fake
	[ "$RC" = 0 ] || fail "LOGIN literal ($how): exit $RC: $(cat "$T/err")"
	[ "$FAKE_RC" = 0 ] || fail "LOGIN literal ($how): server saw: $(cat "$T/fake.err")"
	grep -qaF "$PW" "$T/log" || fail "LOGIN literal ($how): the password did not reach the server"
	grep -q 'trace: test C: A[0-9]* LOGIN$' "$T/err" ||
		fail "LOGIN literal ($how): no redacted LOGIN line in the trace: $(grep 'C:' "$T/err")"
	leaks "LOGIN literal ($how)" "$T/out" "$T/err"
done

# 1b. AUTHENTICATE PLAIN, the response after "+" (no SASL-IR) and inline
#     (SASL-IR): neither the base64 nor the user's part of it is printed.
B64=$(printf 'bob\0bob\0%s' "$PW" | base64 -w0)
FRAGS+=("$B64" "${B64:8:12}")
for ir in no yes; do
	{
		if [ $ir = yes ]; then
			echo 'S * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] fake ready'
			echo "C A[0-9]+ AUTHENTICATE PLAIN $B64"
		else
			echo 'S * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready'
			echo 'C A1 AUTHENTICATE PLAIN'
			echo 'S + '
			echo "C $B64"
		fi
		ok_tail "$([ $ir = no ] && echo A1)"
	} >"$T/script"
	start_fake "$T/script"
	"$IMAPMIG" -vv test-server --remote-server 127.0.0.1 --port "$PORT" \
		--security none --authentication plain --authzid bob --user bob \
		--password-file "$T/pw" >"$T/out" 2>"$T/err"
	RC=$?
	stop_fake
	[ "$RC" = 0 ] || fail "AUTHENTICATE (SASL-IR $ir): exit $RC: $(cat "$T/err")"
	[ "$FAKE_RC" = 0 ] || fail "AUTHENTICATE (SASL-IR $ir): server saw: $(cat "$T/fake.err")"
	grep -q 'trace: test C: A[0-9]* AUTHENTICATE$' "$T/err" ||
		fail "AUTHENTICATE (SASL-IR $ir): no redacted line in the trace: $(grep 'C:' "$T/err")"
	leaks "AUTHENTICATE (SASL-IR $ir)" "$T/out" "$T/err"
done

# 1c. The server drops the connection while the password literal waits
#     for its "+": a one-line error, no crash (the LOGIN's result lived on
#     a stack frame already gone when the client was destroyed).
printf '%s\n' 'S * OK [CAPABILITY IMAP4rev1] fake ready' \
	"C A[0-9]+ LOGIN bob \\{$PWLEN\\}" 'CLOSE' >"$T/script"
start_fake "$T/script"
"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none \
	--user bob --password-file "$T/pw" >"$T/out" 2>"$T/err"
RC=$?
stop_fake
[ "$RC" = 1 ] || fail "drop before the password literal: exit $RC, want 1: $(cat "$T/err")"
[ "$(grep -c 'test-server:' "$T/err")" = 1 ] && grep -q 'closed\|reset' "$T/err" ||
	fail "drop before the password literal: unclear: $(cat "$T/err")"

# 3. An empty password is refused before any connection: standard input
#    at EOF, an empty line, an empty password file.  (The port is closed:
#    a connection attempt would say "refused".)
PORT_CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
: >"$T/empty.pw"
for how in devnull newline file; do
	case $how in
	devnull) "$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT_CLOSED" \
		--security none --user bob </dev/null >"$T/out" 2>"$T/err" ;;
	newline) echo | "$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT_CLOSED" \
		--security none --user bob >"$T/out" 2>"$T/err" ;;
	file) "$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT_CLOSED" \
		--security none --user bob --password-file "$T/empty.pw" >"$T/out" 2>"$T/err" ;;
	esac
	RC=$?
	[ "$RC" = 2 ] || fail "empty password ($how): exit $RC, want 2: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "empty password ($how): not one line: $(cat "$T/err")"
	grep -q 'empty password' "$T/err" || fail "empty password ($how): unclear: $(cat "$T/err")"
	grep -q 'refused\|^Connect' "$T/err" "$T/out" && fail "empty password ($how): a connection was tried"
done

# 3a. --password VALUE is refused (exit 2) and its value never printed,
#     however it is spelled (getopt would take "--password" as a prefix of
#     --password-file).
for how in '--password' '--password=' '--passw'; do
	if [ "$how" = '--password=' ]; then set -- "--password=Cmdline-S3cret"; else set -- "$how" Cmdline-S3cret; fi
	"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT_CLOSED" --security none --user bob "$@" \
		</dev/null >"$T/out" 2>"$T/err"
	RC=$?
	[ "$RC" = 2 ] || fail "$how on the command line: exit $RC, want 2: $(cat "$T/err")"
	grep -q 'never taken on the command line.*--password-file' "$T/err" || fail "$how: unclear: $(cat "$T/err")"
	grep -q 'Cmdline-S3cret' "$T/out" "$T/err" && fail "$how: the value was printed: $(cat "$T/err")"
	"$IMAPMIG" endpoint new --name pw --remote-server 127.0.0.1 --skip-verification "$@" >"$T/out" 2>"$T/err"
	[ "$?" = 2 ] && grep -q 'never taken on the command line' "$T/err" || fail "endpoint new $how: $(cat "$T/err")"
	grep -q 'Cmdline-S3cret' "$T/out" "$T/err" && fail "endpoint new $how: the value was printed"
done
# before the command too, where the global options are read: an unknown
# "--x=value" is named without its value
for arg in --password=Cmdline-S3cret --secret=Cmdline-S3cret; do
	"$IMAPMIG" "$arg" batch get >"$T/out" 2>"$T/err"
	[ "$?" = 2 ] || fail "imapmig $arg: exit $?, want 2"
	grep -q 'Cmdline-S3cret' "$T/out" "$T/err" && fail "imapmig ${arg%%=*}=...: the value was printed: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "imapmig ${arg%%=*}=...: not one line: $(cat "$T/err")"
done

# 3b. On a terminal the prompt goes to stderr and the typed password is
#     not echoed; it still reaches the server intact.
printf '%s\n' 'S * OK [CAPABILITY IMAP4rev1] fake ready' \
	'C A[0-9]+ LOGIN bob Typed-S3cret' 'S $tag OK [CAPABILITY IMAP4rev1] in' >"$T/script"
ok_tail | tail -n +2 >>"$T/script"
start_fake "$T/script"
python3 - "$IMAPMIG" "$PORT" "$T/tty.out" <<'PY' 2>"$T/tty.err"
import os, pty, select, sys, time
imapmig, port, out = sys.argv[1:4]
pid, fd = pty.fork()
if pid == 0:
    os.execv(imapmig, [imapmig, "test-server", "--remote-server", "127.0.0.1",
                       "--port", port, "--security", "none", "--user", "bob"])
got = b""
def pump(until, secs):
    global got
    end = time.time() + secs
    while until not in got and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            got += d
pump(b"Password:", 10)
time.sleep(0.3)
os.write(fd, b"Typed-S3cret\n")
pump(b"Result", 10)
_, st = os.waitpid(pid, 0)
open(out, "wb").write(got)
sys.exit(os.waitstatus_to_exitcode(st))
PY
RC=$?
stop_fake
[ "$RC" = 0 ] || fail "password typed on a terminal: exit $RC: $(cat "$T/tty.out" "$T/tty.err")"
[ "$FAKE_RC" = 0 ] || fail "password typed on a terminal: server saw: $(cat "$T/fake.err")"
grep -q 'Password:' "$T/tty.out" || fail "no prompt on the terminal: $(cat "$T/tty.out")"
grep -qaF 'Typed-S3cret' "$T/tty.out" && fail "the typed password was echoed: $(cat -v "$T/tty.out")"
grep -qaF 'S3cret' "$T/tty.out" && fail "part of the typed password was echoed"

# 3c. Ctrl-C at the prompt: the terminal gets its echo back.
python3 - "$IMAPMIG" <<'PY' || fail "Ctrl-C at the password prompt left the terminal without echo"
import os, pty, select, signal, sys, termios, time
imapmig = sys.argv[1]
pid, fd = pty.fork()
if pid == 0:
    os.execv(imapmig, [imapmig, "test-server", "--remote-server", "127.0.0.1",
                       "--port", "1", "--security", "none", "--user", "bob"])
got = b""
end = time.time() + 10
while b"Password:" not in got and time.time() < end:
    if select.select([fd], [], [], 0.2)[0]:
        got += os.read(fd, 4096)
time.sleep(0.2)
os.write(fd, b"\x03")
_, st = os.waitpid(pid, 0)
lflag = termios.tcgetattr(fd)[3]
print("after Ctrl-C: signalled=%s echo=%s" % (os.WIFSIGNALED(st), bool(lflag & termios.ECHO)), file=sys.stderr)
sys.exit(0 if os.WIFSIGNALED(st) and lflag & termios.ECHO else 1)
PY

# 4. Core dumps are off in a running imapmig (its buffers hold passwords):
#    core size 0 (soft and hard), and not dumpable - then its /proc files
#    belong to root, not to its user, which shows when it runs as nobody.
printf '%s\n' 'S * OK [CAPABILITY IMAP4rev1] fake ready' 'SLEEP 4' >"$T/script"
start_fake "$T/script"
AS=()
WANT_OWNER=$(id -un)
if [ "$(id -u)" = 0 ]; then
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	WANT_OWNER=root
fi
chmod 644 "$T/pw"
chmod 755 "$T"
(ulimit -c unlimited; exec "${AS[@]}" "$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" \
	--security none --user bob --password-file "$T/pw" >"$T/out" 2>"$T/err") &
IPID=$!
for _ in $(seq 100); do grep -q '^Greeting' "$T/out" 2>/dev/null && break; sleep 0.05; done
grep -q '^Greeting' "$T/out" || fail "core dumps: imapmig did not get to the greeting: $(cat "$T/err")"
core=$(awk '/^Max core file size/ {print $5, $6}' "/proc/$IPID/limits")
owner=$(stat -c %U "/proc/$IPID/status")
echo "running imapmig: core size '$core', /proc/$IPID owned by $owner" >&2
[ "$core" = "0 0" ] || fail "core dumps: core file size is '$core', want '0 0'"
[ "$owner" = "$WANT_OWNER" ] || fail "core dumps: the process is dumpable (/proc/$IPID owned by $owner, want $WANT_OWNER)"
wait "$IPID"
IPID=
stop_fake

# 4b. After the login, the process holds the password once (the string
#     the command keeps until it exits), and the base64 of AUTHENTICATE
#     PLAIN nowhere (its tail: the next command overwrites the head): the command and connection buffers are wiped, for a
#     literal and for a SASL continuation alike.  (gcore: gdb attaches as
#     root whether or not the process is dumpable.)  The release build
#     only: under AddressSanitizer the core holds the sanitizer's shadow
#     map (a sparse file of terabytes: grep reads it for hours).
if [ -z "${IMAPMIG_SANITIZED:-}" ] && command -v gcore >/dev/null && [ "$(id -u)" = 0 ]; then
	for how in literal literal-plus authenticate; do
		case $how in
		literal) first='S * OK [CAPABILITY IMAP4rev1] fake ready'
			login=("C A[0-9]+ LOGIN bob \\{$PWLEN\\}" CONT CLIT 'C ') ;;
		literal-plus) first='S * OK [CAPABILITY IMAP4rev1 LITERAL+] fake ready'
			login=("C A[0-9]+ LOGIN bob \\{$PWLEN\\+\\}" CLIT 'C ') ;;
		authenticate) first='S * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready'
			login=('C A1 AUTHENTICATE PLAIN' 'S + ' "C $B64") ;;
		esac
		printf '%s\n' "$first" "${login[@]}" 'S A1 OK [CAPABILITY IMAP4rev1] in' \
			'C A[0-9]+ LIST "" "\*"' 'SLEEP 6' >"$T/script"
		start_fake "$T/script"
		extra=()
		[ $how = authenticate ] && extra=(--authentication plain --authzid bob)
		"$IMAPMIG" test-server --remote-server 127.0.0.1 --port "$PORT" --security none \
			--user bob "${extra[@]}" --password-file "$T/pw" >"$T/out" 2>"$T/err" &
		IPID=$!
		for _ in $(seq 100); do grep -q '^Login' "$T/out" 2>/dev/null && break; sleep 0.05; done
		sleep 0.2
		rm -f "$T/core".*
		gcore -o "$T/core" "$IPID" >/dev/null 2>&1 || fail "memory ($how): gcore failed: $(cat "$T/err" "$T/fake.err")"
		n_pw=$(grep -caF "$PW" "$T/core.$IPID" 2>/dev/null)
		n_b64=$(grep -caF "${B64:20}" "$T/core.$IPID" 2>/dev/null)
		echo "memory after login ($how): password $n_pw time(s), base64 $n_b64 time(s)" >&2
		[ "$n_pw" = 1 ] || fail "memory ($how): the password is in $n_pw places, want 1"
		[ "$n_b64" = 0 ] || fail "memory ($how): the AUTHENTICATE response is still in memory"
		kill "$IPID" 2>/dev/null
		wait "$IPID" 2>/dev/null
		IPID=
		rm -f "$T/core".*
		stop_fake
	done
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "ok"
