#!/bin/bash
# OAuth2 logins end to end (issue 11): real Dovecots whose oauth2 passdb
# introspects every token at tests/fixtures/authserver.py, which issues
# tokens that live 2-3 seconds.
#  - into an OAuth target (client credentials, XOAUTH2, Microsoft 365's
#    app-only model): several users one after the other, several token
#    lifetimes, every message exactly once (the oracle), renewals in the
#    authorization server's log;
#  - a token revoked mid-run: exactly one renewal, the run carries on;
#  - from an OAuth source (Google service account, OAUTHBEARER, sub = the
#    CSV's EmailAddress, SASL user = its UserName) into a Maildir;
#  - a wrong client secret, a key of another pair, an unreachable token
#    endpoint, a server without the mechanism: one clear line, exit 1, one
#    request (no retry storm);
#  - endpoint options validated (exit 2), get --json shows only that
#    secrets are set, test-server shows the token source and lifetime;
#  - a BYE saying the token expired, mid-session: one renewal, the reconnect
#    carries on, every message exactly once;
#  - the -vv trace shows nothing of the SASL exchange; no client secret,
#    private key or issued token in any output, log, the state file, the
#    JSON API's answers or /proc/*/cmdline.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
. "$IMAPMIG_SRCDIR/tests/fixtures/authserver.sh"
T=$TEST_TMP
export IMAPMIG_STATE="$T/state/state.db"
SCOPE=https://outlook.office365.com/.default
GSCOPE=https://mail.google.com/
SECRET='Xq8~s3cr3t.Value_With+Signs&='
SAMAIL=mig@proj.iam.gserviceaccount.com

run() { "$IMAPMIG" "$@" >"$T/out" 2>"$T/err"; RC=$?; }
one_line() { # FILE WHAT: stderr is exactly one line
	[ "$(wc -l <"$1")" = 1 ] || fail "$2: not one line on stderr: $(cat "$1")"
}
issued() { # GRANT: tokens the authorization server issued so far
	authserver_log_count "e[\"endpoint\"] == \"token\" and e[\"grant\"] == \"$1\" and e[\"result\"] == \"issued\""
}
token_requests() { authserver_log_count 'e["endpoint"] == "token"'; }
watch_cmdlines() { # PID: every process's argv while PID runs
	while kill -0 "$1" 2>/dev/null; do
		cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' >>"$T/cmdlines"
		sleep 0.1
	done
}
CC=client_credentials
JWT=urn:ietf:params:oauth:grant-type:jwt-bearer

printf '%s\n' "$SECRET" >"$T/secret"
printf 'a-wrong-secret-9876\n' >"$T/wrong"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
openssl pkey -in "$T/sa.key" -pubout -out "$T/sa.pub" 2>/dev/null
authserver_start "$T/as" --client-id imapmig-app --client-secret-file "$T/secret" \
	--sa-public-key "$T/sa.pub" --sa-client-email "$SAMAIL" \
	--lifetime 2 --cc-username app@contoso.edu || exit 1
sa_json() { # KEY OUT: Google's key file format, token_uri the test server
	python3 -c '
import json, sys
print(json.dumps({"type": "service_account", "project_id": "proj",
    "client_email": sys.argv[3], "private_key": open(sys.argv[1]).read(),
    "token_uri": sys.argv[2]}))' "$1" "$AUTHSRV_URL" "$SAMAIL" >"$2"
}
sa_json "$T/sa.key" "$T/sa.json"
sa_json "$T/other.key" "$T/other.json"

# The source: users u1..u4 (a migration of several token lifetimes), v1..v3
# (the revocation), w1 (an OAuth source), x1, x2 (failures).
: >"$T/users1"
: >"$T/users2"
for u in u1 u2 u3 u4 v1 v2 v3 w1 x1 x2; do
	echo "$u:pw-$u" >>"$T/users1"
	echo "$u@contoso.edu:x" >>"$T/users2"
done
fixture_start --users-file "$T/users1" --oauth2 "$AUTHSRV_INTROSPECT"
fixture_start_second --users-file "$T/users2" --oauth2 "$AUTHSRV_INTROSPECT"
for u in u1 u2 u3 u4 v1 v2 v3 w1 x1 x2; do
	$SEED --mail-root "$IMAPFIX_MAIL" --user "$u" \
		--folder INBOX --count 12 --seed "${#u}$RANDOM" >/dev/null || exit 1
done
# a folder below another, on the two sides the oracle reads folder by folder
for u in u1 w1; do
	$SEED --mail-root "$IMAPFIX_MAIL" --user "$u" \
		--folder 'Work/Projects' --count 5 --seed 3 >/dev/null || exit 1
done
bytes=$(du -sb "$IMAPFIX_MAIL/u1/Maildir" | cut -f1)
# each mailbox takes about 3 s to read at this pace (less when the
# kernel's buffers take a burst): a migration of 4 users lasts several
# lifetimes of a 2 s token
RATE=$((bytes / 3 + 1))
printf 'x\n' >"$T/x.pw"

# ---- the exact bytes, against a scripted server without SASL-IR: the
#      response after "+", the error challenge answered as each mechanism
#      wants, one renewal, then one line ----
echo "[${SECONDS}s] scripted server" >&2
FAKE="$IMAPMIG_SRCDIR/tests/fakeserver/fakeimap.py"
printf '#!/bin/sh\nn=$(cat "%s/n" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"%s/n"\necho "tok-$n" 3600\n' "$T" "$T" >"$T/tokcmd"
chmod +x "$T/tokcmd"
b64() { python3 -c 'import base64, sys; print(base64.b64encode(sys.argv[1].encode()).decode())' "$1"; }
fake_script() { # MECH: refused twice, with the error challenge each time
	local err ack
	if [ "$1" = OAUTHBEARER ]; then
		err=$(b64 '{"status":"invalid_token","scope":"mail"}') ack='C AQ=='
	else
		err=$(b64 '{"status":"401","schemes":"bearer","scope":"mail"}') ack='C '
	fi
	echo "S * OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2 AUTH=OAUTHBEARER] fake ready"
	for i in 1 2; do
		echo "C A$i AUTHENTICATE $1"
		echo "S + "
		echo "C [A-Za-z0-9+/]+=*"
		echo "S + $err"
		echo "$ack"
		echo "S A$i NO [AUTHENTICATIONFAILED] Authentication failed."
	done
	echo "WAIT_EOF"
}
for mech in OAUTHBEARER XOAUTH2; do
	rm -f "$T/n" "$T/fport" "$T/flog"
	fake_script $mech >"$T/fake.script"
	python3 "$FAKE" "$T/fake.script" --port-file "$T/fport" --log "$T/flog" 2>"$T/fake.err" &
	fpid=$!
	for _ in $(seq 100); do [ -s "$T/fport" ] && break; sleep 0.05; done
	FPORT=$(cat "$T/fport")
	"$IMAPMIG" -vv test-server --remote-server 127.0.0.1 --port "$FPORT" --security none \
		--authentication "${mech,,}" --user 'us,er=x' --email user@contoso.edu \
		--token-command "$T/tokcmd {email}" >"$T/fake-$mech.out" 2>"$T/fake-$mech.err"
	RC=$?
	wait "$fpid"
	expect_eq "$?" 0 "$mech: the scripted server saw other bytes: $(cat "$T/fake.err")"
	expect_eq "$RC" 1 "$mech refused twice: exit code"
	grep -v '^imapmig: \(trace\|warning\)\|renewing the token once' "$T/fake-$mech.err" >"$T/fake.lines"
	one_line "$T/fake.lines" "$mech refused twice"
	want=$([ $mech = OAUTHBEARER ] && echo 'status invalid_token' || echo 'status 401')
	grep -q "user us,er=x: $mech refused by 127.0.0.1:$FPORT: $want (\[AUTHENTICATIONFAILED\]" "$T/fake.lines" ||
		fail "$mech: the line does not say user and status: $(cat "$T/fake.lines")"
	expect_eq "$(cat "$T/n")" 2 "$mech: tokens asked for (one renewal)"
	python3 - "$T/flog" "$mech" "$FPORT" <<'EOF' || fail "$mech: wrong SASL responses: $(cat "$T/flog")"
import base64, sys
lines = open(sys.argv[1], "rb").read().split(b"\r\n")
mech, port = sys.argv[2], sys.argv[3]
resp = [base64.b64decode(l) for l in lines if l and not l.startswith(b"A") and l != b"AQ=="]
for i, r in enumerate(resp, 1):
    tok = b"tok-%d" % i
    if mech == "OAUTHBEARER":
        want = b"n,a=us=2Cer=3Dx,\x01host=127.0.0.1\x01port=" + port.encode() + b"\x01auth=Bearer " + tok + b"\x01\x01"
    else:
        want = b"user=us,er=x\x01auth=Bearer " + tok + b"\x01\x01"
    assert r == want, (r, want)
assert len(resp) == 2, lines
acks = [l for l in lines if l in (b"", b"AQ==")]
assert acks.count(b"AQ==" if mech == "OAUTHBEARER" else b"") >= 2, lines
EOF
	grep -q 'S: + (SASL challenge omitted)' "$T/fake-$mech.err" || fail "$mech: the trace does not mark the challenges"
	grep -q 'tok-\|eyJzdGF0\|dXNlcj\|bixhPX' "$T/fake-$mech.err" "$T/fake-$mech.out" &&
		fail "$mech: the token or the exchange in the output: $(grep 'tok-\|eyJzdGF0\|dXNlcj\|bixhPX' "$T/fake-$mech.err" | head -3)"
done

echo "[${SECONDS}s] endpoints: options" >&2
# ---- endpoints: options and their validation ----
run endpoint new --name Src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" \
	--max-concurrent-migrations 1 --max-concurrent-incremental-syncs 1
expect_eq "$RC" 0 "endpoint new Src: $(cat "$T/err")"
CCOPTS=(--oauth-token-url "$AUTHSRV_URL" --oauth-client-id imapmig-app --oauth-scope "$SCOPE" --oauth-ca-file "$AUTHSRV_CA")
TGT=(--type imap --remote-server 127.0.0.1 --port "$IMAPFIX2_PORT_SSL" --ca-file "$IMAPFIX2_CA")
run endpoint new --name M365 "${TGT[@]}" --authentication xoauth2 --target-login '{email}' \
	"${CCOPTS[@]}" --oauth-client-secret-file "$T/secret"
expect_eq "$RC" 0 "endpoint new M365 (client credentials): $(cat "$T/err")"
bad_usage() { # WHAT ARGS...: exit 2 and one line
	local what=$1
	shift
	run "$@"
	expect_eq "$RC" 2 "$what: exit code ($(cat "$T/err"))"
	one_line "$T/err" "$what"
}
bad_usage "two token sources" endpoint new --name Bad1 "${TGT[@]}" --authentication xoauth2 \
	"${CCOPTS[@]}" --oauth-client-secret-file "$T/secret" --token-command '/bin/echo {email}' --skip-verification
bad_usage "client credentials without a scope" endpoint new --name Bad2 "${TGT[@]}" --authentication xoauth2 \
	--oauth-token-url "$AUTHSRV_URL" --oauth-client-id imapmig-app --oauth-client-secret-file "$T/secret" --skip-verification
grep -q -- '--oauth-scope' "$T/err" || fail "the missing option is not named: $(cat "$T/err")"
bad_usage "unreadable secret file" endpoint new --name Bad3 "${TGT[@]}" --authentication xoauth2 \
	"${CCOPTS[@]}" --oauth-client-secret-file "$T/nonexistent" --skip-verification
bad_usage "no token source" endpoint new --name Bad4 "${TGT[@]}" --authentication oauthbearer --skip-verification
bad_usage "OAuth options without OAuth" endpoint new --name Bad5 "${TGT[@]}" --target-login '{email}' \
	--password-file "$T/x.pw" --oauth-scope "$SCOPE" --skip-verification
bad_usage "a key file that is not a key" endpoint new --name Bad6 --remote-server 127.0.0.1 \
	--authentication oauthbearer --oauth-service-account-file "$T/secret" --oauth-scope "$GSCOPE" --skip-verification
run endpoint get M365 --json
expect_eq "$RC" 0 "endpoint get --json: $(cat "$T/err")"
python3 - "$T/out" <<'EOF' || fail "endpoint get --json: $(cat "$T/out")"
import json, sys
e = json.load(open(sys.argv[1]))
assert e["authentication"] == "xoauth2", e
assert e["oauth_token_source"] == "client_credentials", e
assert e["oauth_client_secret_set"] is True and e["oauth_service_account_set"] is False, e
assert e["oauth_client_id"] == "imapmig-app" and e["target_login"] == "{email}", e
assert not any("secret" in k and k != "oauth_client_secret_set" for k in e), e
EOF

# test-server through the saved endpoint: the token source, its lifetime
run test-server --endpoint M365 --user u1@contoso.edu --json
expect_eq "$RC" 0 "test-server --endpoint M365: $(cat "$T/err")"
python3 - "$T/out" <<'EOF' || fail "test-server --json: $(cat "$T/out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["login_method"] == "AUTHENTICATE XOAUTH2", r
assert r["token_source"] == "client credentials" and r["token_requests"] == 1, r
assert 0 < r["token_expires_in"] <= 2, r
EOF
run test-server --remote-server 127.0.0.1 --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" \
	--authentication oauthbearer --user w1 --email w1@contoso.edu \
	--oauth-service-account-file "$T/sa.json" --oauth-scope "$GSCOPE" --oauth-ca-file "$AUTHSRV_CA"
expect_eq "$RC" 0 "test-server (service account, OAUTHBEARER): $(cat "$T/err")"
grep -q '^Token .*service account.*expires in [0-9]' "$T/out" || fail "test-server shows no token line: $(cat "$T/out")"
grep -q '^Login .*ok: w1 (AUTHENTICATE OAUTHBEARER)' "$T/out" || fail "test-server login line: $(cat "$T/out")"

echo "[${SECONDS}s] A" >&2
# ---- A: into an OAuth target, several token lifetimes ----
{
	echo "EmailAddress,UserName,Password"
	for u in u1 u2 u3 u4; do echo "$u@contoso.edu,$u,pw-$u"; done
} >"$T/a.csv"
run batch new --name ToM365 --source-endpoint Src --target-endpoint M365 --csv "$T/a.csv" \
	--max-bytes-per-second "$RATE" --autostart
expect_eq "$RC" 0 "batch new ToM365: $(cat "$T/err")"
before=$(issued $CC)
t0=$(date +%s.%N)
"$IMAPMIG" -vv sync --batch ToM365 >"$T/a.out" 2>"$T/a.err" &
SPID=$!
watch_cmdlines "$SPID"
wait "$SPID"
RC=$?
t1=$(date +%s.%N)
expect_eq "$RC" 0 "sync into the OAuth target: $(grep -v trace: "$T/a.err" | tail -3)"
renewals=$(($(issued $CC) - before))
secs=$(python3 -c "print(round($t1 - $t0, 1))")
echo "A: 4 users in $secs s with 2 s tokens: $renewals client-credentials token(s) issued" >&2
python3 -c "import sys; sys.exit(0 if $secs >= 4 else 1)" || fail "the migration took $secs s: not several token lifetimes"
[ "$renewals" -ge 2 ] || fail "no renewal in the authorization server's log ($renewals token(s) in $secs s)"
[ "$renewals" -le 4 ] || fail "$renewals tokens for 4 logins: more than one a login"
for u in u1 u2 u3 u4; do
	user_stats "$u@contoso.edu" "A-$u"
	expect_eq "$STATUS" Synced "A: $u status"
	expect_eq "$SYNCED" "$([ $u = u1 ] && echo 17 || echo 12)" "A: $u items"
	oracle_compare "A: $u (IMAP target over OAuth)" "served:$IMAPFIX_MAIL/$u/Maildir" \
		"imap:127.0.0.1:$IMAPFIX2_PORT:$u@contoso.edu:$T/x.pw" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
done
# the trace: the exchange is there, nothing of it readable
grep -q 'dst C: A[0-9]* AUTHENTICATE' "$T/a.err" || fail "no AUTHENTICATE in the -vv trace"
grep -q 'dst C: (credentials omitted)' "$T/a.err" || fail "the trace does not say the credentials were omitted"
# base64 of "user=" (XOAUTH2's start)
grep -q 'dXNlcj' "$T/a.err" && fail "the -vv trace shows the XOAUTH2 response: $(grep dXNlcj "$T/a.err" | head -2)"

echo "[${SECONDS}s] B" >&2
# ---- B: a token revoked mid-run: one renewal, the run carries on ----
authserver_post /control lifetime=600 >/dev/null
{
	echo "EmailAddress,UserName,Password"
	for u in v1 v2 v3; do echo "$u@contoso.edu,$u,pw-$u"; done
} >"$T/b.csv"
# each mailbox takes about 4 s: the revocation falls after v1's login,
# before v2's
run batch new --name Revoked --source-endpoint Src --target-endpoint M365 --csv "$T/b.csv" \
	--max-bytes-per-second $((bytes / 5 + 1)) --autostart
expect_eq "$RC" 0 "batch new Revoked: $(cat "$T/err")"
before=$(issued $CC)
"$IMAPMIG" -vv sync --batch Revoked >"$T/b.out" 2>"$T/b.err" &
SPID=$!
watch_cmdlines "$SPID" &
WPID=$!
revoked=0
while kill -0 "$SPID" 2>/dev/null; do
	if [ $revoked = 0 ] && grep -q 'oauth2(v1@contoso.edu.*Finished passdb lookup' "$IMAPFIX2_LOG"; then
		authserver_post /revoke all=1 >"$T/revoke.out"
		revoked=1
	fi
	sleep 0.05
done
wait "$SPID"
RC=$?
wait "$WPID"
expect_eq "$revoked" 1 "the revocation happened mid-run"
expect_eq "$RC" 0 "sync with a token revoked mid-run: $(grep -v trace: "$T/b.err" | tail -3)"
expect_eq "$(($(issued $CC) - before))" 2 "tokens issued: the first and exactly one renewal"
for u in v1 v2 v3; do
	user_stats "$u@contoso.edu" "B-$u"
	expect_eq "$STATUS" Synced "B: $u status"
	oracle_compare "B: $u" "served:$IMAPFIX_MAIL/$u/Maildir" \
		"imap:127.0.0.1:$IMAPFIX2_PORT:$u@contoso.edu:$T/x.pw" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
done
# the refusal went through the error challenge, which the trace hides
grep -q 'dst S: + (SASL challenge omitted)' "$T/b.err" || fail "no error challenge in the trace after the revocation"
grep -q 'eyJzdGF0dXMi' "$T/b.err" && fail "the trace shows the error challenge"
authserver_post /control lifetime=2 >/dev/null

echo "[${SECONDS}s] C" >&2
# ---- C: from an OAuth source (service account, OAUTHBEARER) ----
run endpoint new --name Gmail --remote-server 127.0.0.1 --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" \
	--authentication oauthbearer --oauth-service-account-file "$T/sa.json" --oauth-scope "$GSCOPE" \
	--oauth-ca-file "$AUTHSRV_CA"
expect_eq "$RC" 0 "endpoint new Gmail (service account): $(cat "$T/err")"
run endpoint new --name Local --type maildir --path-template "$T/md/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nw1@contoso.edu,w1,unused\n' >"$T/c.csv"
run batch new --name FromGmail --source-endpoint Gmail --target-endpoint Local --csv "$T/c.csv" --autostart
expect_eq "$RC" 0 "batch new FromGmail: $(cat "$T/err")"
"$IMAPMIG" -vv sync --batch FromGmail >"$T/c.out" 2>"$T/c.err"
RC=$?
expect_eq "$RC" 0 "sync from the OAuth source: $(grep -v trace: "$T/c.err" | tail -3)"
user_stats w1@contoso.edu C-w1
expect_eq "$STATUS" Synced "C: w1 status"
oracle_compare "C: w1 (OAuth source)" "served:$IMAPFIX_MAIL/w1/Maildir" "files:$T/md/w1/Maildir" \
	--expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
[ "$(authserver_log_count 'e["endpoint"] == "token" and e["result"] == "issued" and e["sub"] == "w1@contoso.edu"')" -ge 1 ] ||
	fail "no token for sub w1@contoso.edu (the CSV's EmailAddress)"
grep -q 'bixhPX' "$T/c.err" && fail "the -vv trace shows the OAUTHBEARER response"

echo "[${SECONDS}s] D" >&2
# ---- D: failures: one line, exit 1, one request ----
run endpoint new --name WrongSecret "${TGT[@]}" --authentication xoauth2 "${CCOPTS[@]}" \
	--oauth-client-secret-file "$T/wrong"
expect_eq "$RC" 0 "endpoint new WrongSecret: $(cat "$T/err")"
printf 'EmailAddress,UserName,Password\nx1@contoso.edu,x1,pw-x1\nx2@contoso.edu,x2,pw-x2\n' >"$T/d.csv"
run batch new --name Wrong --source-endpoint Src --target-endpoint WrongSecret --csv "$T/d.csv" --autostart
before=$(token_requests)
run sync --batch Wrong
expect_eq "$RC" 1 "sync with a wrong client secret: exit code"
expect_eq "$(($(token_requests) - before))" 1 "token requests for two mailboxes with a wrong secret"
"$IMAPMIG" user get --batch Wrong --json >"$T/d.json"
python3 - "$T/d.json" <<'EOF' || fail "wrong secret: users: $(cat "$T/d.json")"
import json, sys
us = json.load(open(sys.argv[1]))
assert len(us) == 2 and all(u["status"] == "Failed" for u in us), us
assert all(u["error"].startswith("target: ") for u in us), us
assert all("invalid_client" in u["error"] or "nvalid client" in u["error"] for u in us), us
assert all("\n" not in u["error"] for u in us), us
EOF
before=$(token_requests)
run test-server --endpoint WrongSecret --user x1@contoso.edu
expect_eq "$RC" 1 "test-server, wrong client secret: exit code"
one_line "$T/err" "test-server, wrong client secret"
expect_eq "$(($(token_requests) - before))" 1 "test-server, wrong secret: token requests"

before=$(token_requests)
run test-server --remote-server 127.0.0.1 --port "$IMAPFIX_PORT_SSL" --ca-file "$IMAPFIX_CA" \
	--authentication oauthbearer --user w1 --email w1@contoso.edu \
	--oauth-service-account-file "$T/other.json" --oauth-scope "$GSCOPE" --oauth-ca-file "$AUTHSRV_CA"
expect_eq "$RC" 1 "test-server, key of another pair: exit code"
one_line "$T/err" "test-server, key of another pair"
expect_eq "$(($(token_requests) - before))" 1 "key of another pair: token requests"
echo "other key: $(cat "$T/err")" >&2

DEAD=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run endpoint new --name Unreachable "${TGT[@]}" --authentication xoauth2 \
	--oauth-token-url "https://127.0.0.1:$DEAD/token" --oauth-client-id imapmig-app --oauth-scope "$SCOPE" \
	--oauth-client-secret-file "$T/secret"
expect_eq "$RC" 0 "endpoint new Unreachable: $(cat "$T/err")"
printf 'EmailAddress,UserName,Password\ny1@contoso.edu,x1,pw-x1\n' >"$T/u.csv"
run batch new --name Dead --source-endpoint Src --target-endpoint Unreachable --csv "$T/u.csv" --autostart
expect_eq "$RC" 0 "batch new Dead: $(cat "$T/err")"
t0=$(date +%s)
run sync --batch Dead
expect_eq "$RC" 1 "sync with an unreachable token endpoint: exit code"
[ $(($(date +%s) - t0)) -le 10 ] || fail "an unreachable token endpoint was retried for $(($(date +%s) - t0)) s"
"$IMAPMIG" user get y1@contoso.edu --json | grep -q '"status": "Failed"' || fail "unreachable: the user is not Failed"
run test-server --endpoint Unreachable --user x1@contoso.edu
expect_eq "$RC" 1 "test-server, unreachable token endpoint: exit code"
one_line "$T/err" "test-server, unreachable token endpoint"
echo "unreachable: $(cat "$T/err")" >&2

# a server that offers XOAUTH2 only
FX3="$T/fx3"
FIXTURE_DIRS+=("$FX3")
"$FIXTURE" start "$FX3" --oauth2 "$AUTHSRV_INTROSPECT" --oauth2-mechs xoauth2 >"$T/fx3.env" || fail "third dovecot"
P3=$(sed -n 's/^IMAPFIX_PORT_SSL=//p' "$T/fx3.env")
run test-server --remote-server 127.0.0.1 --port "$P3" --ca-file "$FX3/ca.pem" --user terry.adams \
	--authentication oauthbearer --oauth-service-account-file "$T/sa.json" --oauth-scope "$GSCOPE" \
	--oauth-ca-file "$AUTHSRV_CA"
expect_eq "$RC" 1 "a server without OAUTHBEARER: exit code"
one_line "$T/err" "a server without OAUTHBEARER"
grep -q 'does not offer AUTHENTICATE OAUTHBEARER.*xoauth2' "$T/err" || fail "no clear line for a missing mechanism: $(cat "$T/err")"
run test-server --remote-server 127.0.0.1 --port "$P3" --ca-file "$FX3/ca.pem" --user terry.adams \
	--authentication xoauth2 --oauth-service-account-file "$T/sa.json" --oauth-scope "$GSCOPE" \
	--oauth-ca-file "$AUTHSRV_CA"
expect_eq "$RC" 0 "the same server with XOAUTH2: $(cat "$T/err")"

echo "[${SECONDS}s] F" >&2
# ---- F: a BYE that says the token expired, mid-session (Microsoft 365's
#      "Session invalidated - AccessTokenExpired"): the token is dropped, the
#      reconnect logs in with a renewed one, nothing is copied twice ----
authserver_post /control lifetime=120 >/dev/null
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX2_PORT" --port-file "$T/byeproxy.port" \
	--log "$T/byeproxy.log" --inject 'APPEND:4:* BYE Session invalidated - AccessTokenExpired' &
BYEPROXY=$!
for _ in $(seq 100); do [ -s "$T/byeproxy.port" ] && break; sleep 0.05; done
run endpoint new --name M365bye --type imap --remote-server 127.0.0.1 --port "$(cat "$T/byeproxy.port")" \
	--security none --skip-verification --authentication xoauth2 --target-login '{email}' \
	"${CCOPTS[@]}" --oauth-client-secret-file "$T/secret"
expect_eq "$RC" 0 "endpoint new M365bye: $(cat "$T/err")"
run batch remove Wrong --force --yes
printf 'EmailAddress,UserName,Password\nx2@contoso.edu,x2,pw-x2\n' >"$T/f.csv"
run batch new --name Bye --source-endpoint Src --target-endpoint M365bye --csv "$T/f.csv" --autostart
expect_eq "$RC" 0 "batch new Bye: $(cat "$T/err")"
before=$(issued $CC)
"$IMAPMIG" -v sync --batch Bye >"$T/f.out" 2>"$T/f.err"
RC=$?
expect_eq "$RC" 0 "sync through a BYE saying the token expired: $(tail -3 "$T/f.err")"
grep -q '^inject .* APPEND 4' "$T/byeproxy.log" || fail "the BYE was never sent: $(cat "$T/byeproxy.log")"
# one token for the first login, one renewed after the BYE: without the
# BYE hook the reconnect reuses the cached token (it lives 120 s)
expect_eq "$(($(issued $CC) - before))" 2 "client-credentials tokens issued around the BYE"
user_stats x2@contoso.edu F-x2
expect_eq "$STATUS" Synced "F: x2 status"
oracle_compare "F: x2 (a BYE mid-session)" "served:$IMAPFIX_MAIL/x2/Maildir" \
	"imap:127.0.0.1:$IMAPFIX2_PORT:x2@contoso.edu:$T/x.pw" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
kill "$BYEPROXY" 2>/dev/null
wait "$BYEPROXY" 2>/dev/null
authserver_post /control lifetime=2 >/dev/null

# the JSON API serves the endpoints as endpoint get --json does: that the
# secrets are set, never the secrets (E scans api-*.out)
APIPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$IMAPMIG" serve --listen "127.0.0.1:$APIPORT" >"$T/serve.out" 2>"$T/serve.err" &
SERVE=$!
python3 - "$APIPORT" "$(dirname "$IMAPMIG_STATE")/api-token" "$T" <<'EOF2' || fail "the JSON API did not answer"
import os, sys, time, urllib.request
port, token_file, out = sys.argv[1:]
for _ in range(100):
    try:
        token = open(token_file).read().strip()
        urllib.request.urlopen("http://127.0.0.1:%s/healthz" % port, timeout=5)
        break
    except OSError:
        time.sleep(0.1)
for route in ("endpoints", "batches", "batches/Bye/users"):
    req = urllib.request.Request("http://127.0.0.1:%s/api/v1/%s" % (port, route),
                                 headers={"Authorization": "Bearer " + token})
    with open(os.path.join(out, "api-%s.out" % route.replace("/", "-")), "wb") as f:
        f.write(urllib.request.urlopen(req, timeout=10).read())
EOF2
python3 - "$T/api-endpoints.out" <<'EOF2' || fail "GET /api/v1/endpoints: $(head -c 600 "$T/api-endpoints.out")"
import json, sys
eps = {e["name"]: e for e in json.load(open(sys.argv[1]))}
m = eps["M365"]
assert m["oauth_token_source"] == "client_credentials" and m["oauth_client_secret_set"] is True, m
assert eps["Gmail"]["oauth_service_account_set"] is True, eps["Gmail"]
for e in eps.values():
    assert not any(("secret" in k or "key" in k) and not k.endswith("_set") for k in e), e
EOF2
kill "$SERVE" 2>/dev/null
wait "$SERVE" 2>/dev/null

echo "[${SECONDS}s] E" >&2
# ---- E: secrets: nowhere but the files they came from ----
python3 - "$AUTHSRV_CTL" >"$T/token_ids" <<'EOF'
import json, sys, urllib.request
for e in json.load(urllib.request.urlopen(sys.argv[1] + "/log")):
    if e.get("token_id"):
        print("at-" + e["token_id"])
EOF
echo "secrets scan: $(wc -l <"$T/token_ids") issued tokens" >&2
[ "$(wc -l <"$T/token_ids")" -ge 5 ] || fail "too few tokens in the authorization server's log"
{
	echo "$SECRET"
	sed -n 2p "$T/sa.key"  # a line of the private key
	sed -n 10p "$T/sa.key"
	cat "$T/token_ids"
} >"$T/needles"
# the state (a copy, read as bytes), every output and log this test kept
files=("$IMAPMIG_STATE" "$T"/*.out "$T"/*.err "$T"/d.json "$T"/cmdlines "$T"/*.stats)
# (each needle goes to grep from a file, never in argv: this test samples
# every process's command line, and so may a test running beside it)
while IFS= read -r n; do
	[ -n "$n" ] || continue
	printf '%s\n' "$n" >"$T/needle"
	if grep -l -F -a -f "$T/needle" "${files[@]}" >"$T/hits" 2>/dev/null; then
		fail "a secret (${n:0:6}...) found in: $(tr '\n' ' ' <"$T/hits")"
	fi
done <"$T/needles"

finish
