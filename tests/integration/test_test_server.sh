#!/bin/bash
# test-server against a real Dovecot: every security mode, certificate
# trust, STARTTLS refusal, the seed's admin formats, clear errors.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
fixture_start
T=$TEST_TMP
printf 'P@ssw0rd\n' >"$T/admin.pw"
printf '1091990\n' >"$T/terry.pw"
H="--remote-server 127.0.0.1"

run() { "$IMAPMIG" test-server "$@" >"$T/out" 2>"$T/err"; RC=$?; }

# plaintext, STARTTLS, implicit TLS -- each with a real login
run $H --port "$IMAPFIX_PORT" --security none --user terry.adams --password-file "$T/terry.pw"
expect_eq "$RC" 0 "security none: $(cat "$T/err")"
grep -q 'not encrypted' "$T/err" || fail "security none is not said loudly"
grep -q '^Login *ok: terry.adams' "$T/out" || fail "no login line: $(cat "$T/out")"

run $H --port "$IMAPFIX_PORT" --security tls --ca-file "$IMAPFIX_CA" --user terry.adams --password-file "$T/terry.pw"
expect_eq "$RC" 0 "security tls: $(cat "$T/err")"
grep -q '^TLS *ok: TLSv1\.[23]' "$T/out" || fail "STARTTLS: no TLS line"
grep -q 'verified: yes' "$T/out" || fail "STARTTLS: not verified"
# after STARTTLS the capabilities are read again: no STARTTLS any more
grep '^Capabilities' "$T/out" | grep -q STARTTLS && fail "capabilities not re-read after STARTTLS"

run $H --port "$IMAPFIX_PORT_SSL" --security ssl --ca-file "$IMAPFIX_CA" --user terry.adams --password-file "$T/terry.pw"
expect_eq "$RC" 0 "security ssl"
grep -q 'subject CN=127.0.0.1' "$T/out" || fail "certificate subject missing"
grep -q 'issuer  CN=imapmig test CA' "$T/out" || fail "certificate issuer missing"
grep -q 'expires 20' "$T/out" || fail "certificate expiry missing"
grep -q '^Folders *[0-9]' "$T/out" || fail "folder count missing"

# an untrusted certificate is refused by default, accepted only on opt-in
run $H --port "$IMAPFIX_PORT_SSL" --security ssl
expect_eq "$RC" 1 "untrusted certificate"
grep -q 'not trusted.*--ca-file.*--accept-untrusted-certificates' "$T/err" || fail "untrusted: unclear error: $(cat "$T/err")"
run $H --port "$IMAPFIX_PORT" --security tls
expect_eq "$RC" 1 "untrusted certificate over STARTTLS"
run $H --port "$IMAPFIX_PORT_SSL" --security ssl --accept-untrusted-certificates
expect_eq "$RC" 0 "untrusted certificate with the opt-in"
grep -q 'verified: NO' "$T/out" || fail "opt-in: verification failure not shown"
grep -q 'identity is not checked' "$T/err" || fail "opt-in not said loudly"
# the right CA but the wrong name
run --remote-server localhost --port "$IMAPFIX_PORT_SSL" --security ssl --ca-file "$IMAPFIX_CA"
expect_eq "$RC" 0 "localhost is in the certificate's SAN"

# tls against a port without STARTTLS: refused, never plaintext
run $H --port "$IMAPFIX_PORT_NOTLS" --security tls --user terry.adams --password-file "$T/terry.pw"
expect_eq "$RC" 1 "tls on a no-STARTTLS port"
grep -q 'offers no STARTTLS: use --security ssl' "$T/err" || fail "no STARTTLS: unclear error: $(cat "$T/err")"
grep -q 'Login' "$T/out" && fail "logged in without TLS"
grep -c 'LOGIN\|AUTHENTICATE' "$IMAPFIX_LOG" >/dev/null
# ssl against a plaintext port
run $H --port "$IMAPFIX_PORT_NOTLS" --security ssl --timeout 5
expect_eq "$RC" 1 "ssl on a plaintext port"
grep -q 'TLS handshake' "$T/err" || fail "ssl on plain port: unclear error: $(cat "$T/err")"

# The seed's Dovecot admin format really logs in as the user.
run $H --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" --user 'terry.adams*mailadmin' --password-file "$T/admin.pw"
expect_eq "$RC" 0 "Dovecot master-user login: $(cat "$T/err")"
grep -q "master_user=<mailadmin>" "$IMAPFIX_LOG" || grep -q 'user=<terry.adams>.*mailadmin\|mailadmin.*terry.adams' "$IMAPFIX_LOG" ||
	fail "master login not seen by Dovecot"
# SASL PLAIN with an authorization identity (Dovecot master user too)
run $H --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" --authentication plain \
	--authzid terry.adams --user mailadmin --password-file "$T/admin.pw"
expect_eq "$RC" 0 "AUTHENTICATE PLAIN with authzid: $(cat "$T/err")"

# The Exchange and Mirapoint formats reach the server byte for byte (the
# accounts do not exist in Dovecot, so the login fails after the server
# saw the exact name).
for u in 'contoso-students/mailadmin/terry.adams' '#terry.adams@contoso-students.edu#mailadmin#'; do
	run $H --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" --user "$u" --password-file "$T/admin.pw"
	expect_eq "$RC" 1 "login as $u"
	grep -qF "user=<$u>" "$IMAPFIX_LOG" || fail "server did not receive '$u' verbatim"
	grep -qF "refused the login of \"$u\"" "$T/err" || fail "unclear login error: $(cat "$T/err")"
done

# A wrong password: one line, says what to do, no password anywhere.
printf 'Wr0ng-Secret\n' >"$T/bad.pw"
run $H --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" --user terry.adams --password-file "$T/bad.pw"
expect_eq "$RC" 1 "wrong password"
expect_eq "$(wc -l <"$T/err")" 1 "wrong password: one line"
grep -q 'check --user and the password' "$T/err" || fail "wrong password: unclear: $(cat "$T/err")"
grep -q 'Wr0ng-Secret' "$T/out" "$T/err" "$IMAPFIX_LOG" && fail "a password was printed or logged"
grep -q 'P@ssw0rd\|1091990' "$T/out" "$T/err" && fail "a password was printed"
# the password from standard input works too, and never in argv
run $H --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" --user terry.adams <"$T/terry.pw"
expect_eq "$RC" 0 "password on standard input"

# Connection refused and unresolvable names have their own errors.
PORT_CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
run $H --port "$PORT_CLOSED" --security none
expect_eq "$RC" 1 "refused"
grep -q 'refused: is the IMAP server running' "$T/err" || fail "refused: unclear: $(cat "$T/err")"
run --remote-server no-such-host.invalid --port 993
expect_eq "$RC" 1 "unresolvable"
grep -q 'cannot resolve no-such-host.invalid' "$T/err" || fail "unresolvable: unclear: $(cat "$T/err")"

# A saved endpoint is tested with its own settings.
export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name Saved --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security tls --ca-file "$IMAPFIX_CA" ||
	fail "endpoint new (verified over STARTTLS)"
run --endpoint Saved --user terry.adams --password-file "$T/terry.pw"
expect_eq "$RC" 0 "test-server --endpoint: $(cat "$T/err")"
grep -q 'security tls (STARTTLS)' "$T/out" && grep -q 'verified: yes' "$T/out" ||
	fail "test-server --endpoint did not use the endpoint's settings: $(cat "$T/out")"
run --endpoint Nope
expect_eq "$RC" 2 "test-server --endpoint with an unknown name"

# Bad usage: exit 2.
run --port 993
expect_eq "$RC" 2 "missing --remote-server"
# --json: the same report as one object, for scripts
run $H --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" --user terry.adams --password-file "$T/terry.pw" --json
expect_eq "$RC" 0 "test-server --json: $(cat "$T/err")"
python3 - "$T/out" <<'EOF' || fail "test-server --json: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] is True and r["tls"] is True and r["cert_verified"] is True, r
assert r["login"] == "terry.adams" and r["folders"] >= 1 and 390 <= r["cert_days_left"] <= 400, r
assert r["greeting"].startswith("* OK") or "ready" in r["greeting"].lower() or r["greeting"], r
EOF
[ -s "$T/err" ] && fail "test-server with a 400-day certificate warns: $(cat "$T/err")"
# A certificate that expires within 30 days: a warning, the check still passes.
IMAPFIX_CERT_DAYS=5 fixture_start_second
run $H --port "$IMAPFIX2_PORT_SSL" --ca-file "$IMAPFIX2_CA"
expect_eq "$RC" 0 "test-server, certificate expiring in 5 days"
grep -q "warning: the certificate of 127.0.0.1 expires in [45] day(s).*renew it before the migration ends" "$T/err" ||
	fail "no expiry warning: $(cat "$T/err")"
run $H --port 1 --json </dev/null
expect_eq "$RC" 1 "test-server --json, refused"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ok"] is False and "refused" in r["error"], r' "$T/out" ||
	fail "test-server --json on failure: $(cat "$T/out")"

run $H --port 99999
expect_eq "$RC" 2 "bad port"
run $H --security starttls
expect_eq "$RC" 2 "bad security"
finish
