#!/bin/bash
# OAuth2 token sources (auth/oauth.h) against tests/fixtures/authserver.py:
# client credentials, service-account JWT, the cache and its renewal, one
# request for many askers, and one clear line (and one request) for each
# failure: wrong secret, key of another pair, unreachable endpoint,
# untrusted certificate, 5xx/429.  No secret in any output.
set -u
: "${IMAPMIG_BUILDDIR:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
. "$IMAPMIG_SRCDIR/tests/fixtures/authserver.sh"
T=$TEST_TMP
PROBE="$IMAPMIG_BUILDDIR/oauth_probe"
SCOPE=https://outlook.office365.com/.default
SECRET='Xq8~s3cr3t.Value_With+Signs&='

printf '%s\n' "$SECRET" >"$T/secret"
printf 'a-wrong-secret-9876\n' >"$T/wrong"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.key" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other.key" 2>/dev/null
openssl pkey -in "$T/sa.key" -pubout -out "$T/sa.pub" 2>/dev/null

authserver_start "$T/as" --client-id imapmig-app --client-secret-file "$T/secret" \
	--sa-public-key "$T/sa.pub" --sa-client-email mig@proj.iam.gserviceaccount.com \
	--lifetime 5 --cc-username app@contoso.test || exit 1

# Google's key file format; token_uri is the test server
sa_json() {
	/usr/bin/python3 -c '
import json, sys
print(json.dumps({"type": "service_account", "project_id": "proj",
    "client_email": "mig@proj.iam.gserviceaccount.com",
    "private_key": open(sys.argv[1]).read(), "token_uri": sys.argv[2]}))' "$1" "$AUTHSRV_URL" >"$2"
}
sa_json "$T/sa.key" "$T/sa.json"
sa_json "$T/other.key" "$T/other.json"

CC=(--token-url "$AUTHSRV_URL" --client-id imapmig-app --client-secret-file "$T/secret" --scope "$SCOPE" --ca-file "$AUTHSRV_CA")
probe() { "$PROBE" "$@" >"$T/out" 2>"$T/err"; RC=$?; }
count() { authserver_log_count "$1"; }
fps() { sed -n 's/^ok .* fp=\([0-9a-f]*\) .*/\1/p' "$T/out" | sort -u | wc -l; }
CCOK='e["endpoint"] == "token" and e["grant"] == "client_credentials" and e["result"] == "issued"'

# --- client credentials: one tenant token for every mailbox, reused
#     within its 5 s life (margin 0.5 s: handed out for 4.5 s), renewed after
probe "${CC[@]}" get terry@contoso.test get paul@contoso.test sleep 1500 get terry@contoso.test \
	sleep 3200 get terry@contoso.test
expect_eq "$RC" 0 "client credentials: $(cat "$T/err")"
expect_eq "$(grep -c '^ok' "$T/out")" 4 "client credentials: tokens"
expect_eq "$(sed -n 3p "$T/out" | sed 's/.*fp=\([0-9a-f]*\).*/\1/')" \
	"$(sed -n 2p "$T/out" | sed 's/.*fp=\([0-9a-f]*\).*/\1/')" "one token for two mailboxes"
expect_eq "$(fps)" 2 "client credentials: reused within its life, renewed after"
grep -q '^ok terry@contoso.test fp=[0-9a-f]* life=[45] ' "$T/out" || fail "client credentials: no lifetime: $(cat "$T/out")"
expect_eq "$(count "$CCOK")" 2 "client credentials: token requests seen by the server"

# the token introspects as active for the tenant's app user
/usr/bin/python3 - "$AUTHSRV_URL" "$AUTHSRV_CA" "$T/secret" "$SCOPE" >"$T/cc.tok" <<'PY'
import json, ssl, sys, urllib.parse, urllib.request
url, ca, secret, scope = sys.argv[1:5]
body = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "imapmig-app",
                               "client_secret": open(secret).read().strip(), "scope": scope})
ctx = ssl.create_default_context(cafile=ca)
print(json.load(urllib.request.urlopen(url, data=body.encode(), context=ctx))["access_token"])
PY
TOK=$(cat "$T/cc.tok")
ANS=$(authserver_post /introspect "token=$TOK")
grep -q '"active": true, "username": "app@contoso.test"' <<<"$ANS" || fail "introspection of a live token: $ANS"
authserver_post /revoke "token=$TOK" >/dev/null
authserver_post /introspect "token=$TOK" | grep -q '"active": false, "username": "app@contoso.test"' ||
	fail "introspection of a revoked token"
authserver_post /introspect "token=nonsense" | grep -q '"active": false, "username": "invalid-token"' ||
	fail "introspection of an unknown token"

# --- invalidate (the server refused it): exactly one new request; a
#     stale token is ignored
BEFORE=$(count "$CCOK")
probe "${CC[@]}" get terry@contoso.test invalidate terry@contoso.test get terry@contoso.test get paul@contoso.test
expect_eq "$RC" 0 "invalidate"
expect_eq "$(fps)" 2 "invalidate: a new token"
expect_eq "$(tail -1 "$T/out")" "requests 2" "invalidate: one renewal"
expect_eq "$(($(count "$CCOK") - BEFORE))" 2 "invalidate: requests seen by the server"

# --- eight threads at once: one request
BEFORE=$(count "$CCOK")
authserver_post /control "delay=0.5" >/dev/null
probe "${CC[@]}" parallel 8 terry@contoso.test
expect_eq "$(grep -c '^ok' "$T/out")" 8 "concurrent: every thread has a token"
expect_eq "$(fps)" 1 "concurrent: one token"
expect_eq "$(($(count "$CCOK") - BEFORE))" 1 "concurrent: requests seen by the server"

# --- a wrong secret: one line, ERR_AUTH, exit 1, one request for three
#     mailboxes (the refusal is remembered), the secret nowhere
REFUSED='e["endpoint"] == "token" and e["result"] == "refused"'
BEFORE=$(count "$REFUSED")
probe --token-url "$AUTHSRV_URL" --client-id imapmig-app --client-secret-file "$T/wrong" \
	--scope "$SCOPE" --ca-file "$AUTHSRV_CA" get a@contoso.test get b@contoso.test get c@contoso.test
expect_eq "$RC" 1 "wrong secret: exit"
expect_eq "$(grep -c '^fail .* class=auth' "$T/out")" 3 "wrong secret: each mailbox fails"
expect_eq "$(sort -u "$T/err" | wc -l)" 1 "wrong secret: one distinct line"
grep -qx "endpoint target: token endpoint $AUTHSRV_URL refused the client credentials: invalid_client (AADSTS7000215: Invalid client secret provided.)" "$T/err" ||
	fail "wrong secret: unclear line: $(head -1 "$T/err")"
expect_eq "$(($(count "$REFUSED") - BEFORE))" 1 "wrong secret: requests (no retry storm)"
cat "$T/out" "$T/err" >>"$T/all-output"

# --- unreachable endpoint: ERR_CONNECT naming the URL
DEAD=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
probe --token-url "https://127.0.0.1:$DEAD/oauth2/v2.0/token" --client-id x --client-secret-file "$T/secret" \
	--ca-file "$AUTHSRV_CA" get a@contoso.test
expect_eq "$RC" 1 "unreachable: exit"
grep -q '^fail a@contoso.test class=connect' "$T/out" || fail "unreachable: class: $(cat "$T/out")"
grep -q "^endpoint target: token endpoint https://127.0.0.1:$DEAD/oauth2/v2.0/token cannot be reached" "$T/err" ||
	fail "unreachable: unclear line: $(cat "$T/err")"
expect_eq "$(wc -l <"$T/err")" 1 "unreachable: one line"
cat "$T/out" "$T/err" >>"$T/all-output"

# --- untrusted certificate without --oauth-ca-file: refused before any
#     request reaches the server
BEFORE=$(count 'e["endpoint"] == "token"')
probe --token-url "$AUTHSRV_URL" --client-id imapmig-app --client-secret-file "$T/secret" get a@contoso.test
expect_eq "$RC" 1 "untrusted: exit"
grep -q '^fail a@contoso.test class=connect' "$T/out" || fail "untrusted: class"
grep -q 'certificate is not trusted.*--oauth-ca-file' "$T/err" || fail "untrusted: unclear line: $(cat "$T/err")"
expect_eq "$(count 'e["endpoint"] == "token"')" "$BEFORE" "untrusted: the secret never reached the server"
cat "$T/out" "$T/err" >>"$T/all-output"

# --- 503 and 429: transient, retried later by the caller
authserver_post /control "fail=503&count=1" >/dev/null
probe "${CC[@]}" get a@contoso.test get a@contoso.test
grep -q '^fail a@contoso.test class=transient' "$T/out" || fail "503: not transient: $(cat "$T/out")"
grep -q 'unavailable (HTTP 503)' "$T/err" || fail "503: unclear line: $(cat "$T/err")"
expect_eq "$(grep -c '^ok a@contoso.test' "$T/out")" 1 "503: the next ask renews (transient failures are not held)"
authserver_post /control "fail=429&count=1" >/dev/null
probe "${CC[@]}" get a@contoso.test
grep -q '^fail a@contoso.test class=transient code=13' "$T/out" || fail "429: not throttled: $(cat "$T/out")"

# --- answers that are not a usable token: ERR_CONNECT, one line
for a in html:'without a JSON token' space-token:'not printable ASCII' \
	mac-token:"of type 'mac', not Bearer" no-token:'without an access_token'; do
	authserver_post /control "answer=${a%%:*}" >/dev/null
	probe "${CC[@]}" get odd@contoso.test
	grep -q '^fail odd@contoso.test class=connect' "$T/out" || fail "${a%%:*}: class: $(cat "$T/out")"
	grep -qF "${a#*:}" "$T/err" || fail "${a%%:*}: unclear line: $(cat "$T/err")"
done

# --- plain http:// is for loopback only; a bad template is a usage error
probe --token-url http://login.example.com/token --client-id x --client-secret-file "$T/secret" get a@b
expect_eq "$RC" 2 "http:// to a remote host"
grep -q "must be https://" "$T/err" || fail "http://: unclear line: $(cat "$T/err")"

# --- service account: one token per mailbox (sub), the JWT verified by
#     the server (signature, aud, iat/exp, sub, iss)
SAOK='e["endpoint"] == "token" and e["grant"].endswith("jwt-bearer") and e["result"] == "issued"'
probe --sa-file "$T/sa.json" --scope https://mail.google.com/ --ca-file "$AUTHSRV_CA" \
	get terry@contoso.test get paul@contoso.test get terry@contoso.test
expect_eq "$RC" 0 "service account: $(cat "$T/err")"
expect_eq "$(fps)" 2 "service account: one token per mailbox"
expect_eq "$(tail -1 "$T/out")" "requests 2" "service account: cached per mailbox"
expect_eq "$(count "$SAOK and e['sub'] == 'terry@contoso.test'")" 1 "service account: sub=terry"
expect_eq "$(count "$SAOK and e['sub'] == 'paul@contoso.test'")" 1 "service account: sub=paul"

# --- a key of another pair: refused, one line, one request, no key text
BEFORE=$(count "$REFUSED")
probe --sa-file "$T/other.json" --scope https://mail.google.com/ --ca-file "$AUTHSRV_CA" get terry@contoso.test
expect_eq "$RC" 1 "other key: exit"
grep -q '^fail terry@contoso.test class=auth' "$T/out" || fail "other key: class: $(cat "$T/out")"
grep -qx "endpoint target: token endpoint $AUTHSRV_URL refused the service account's assertion for terry@contoso.test: invalid_grant (Invalid JWT Signature.)" "$T/err" ||
	fail "other key: unclear line: $(cat "$T/err")"
expect_eq "$(($(count "$REFUSED") - BEFORE))" 1 "other key: requests"
cat "$T/out" "$T/err" >>"$T/all-output"

# --- an unusable key file: usage error before any request
printf '{"client_email": "x@y", "private_key": "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n"}' >"$T/bad.json"
probe --sa-file "$T/bad.json" --scope https://mail.google.com/ get a@b
expect_eq "$RC" 2 "bad key file: exit"
grep -q "private_key is not an RSA private key" "$T/err" || fail "bad key file: unclear line: $(cat "$T/err")"

# --- no secret in any output: the client secret (raw or URL-encoded),
#     either private key (any line of its PEM body), a token, a signed
#     assertion
# (the needles go to grep from files, never in argv: test_oauth, which
# may run at the same time, scans every process's command line)
/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read().strip(), safe=""))' \
	"$T/secret" >"$T/secret.enc"
for f in "$T/all-output" "$T/out" "$T/err"; do
	grep -qF -f "$T/secret" "$f" && fail "the client secret is in $f"
	grep -qF -f "$T/secret.enc" "$f" && fail "the client secret (URL-encoded) is in $f"
	grep -qF "a-wrong-secret-9876" "$f" && fail "the wrong secret is in $f"
	for k in "$T/sa.key" "$T/other.key"; do
		grep -v -- '-----' "$k" | grep -qF -f - "$f" && fail "private key text ($k) is in $f"
	done
	grep -q 'at-' "$f" && fail "a token is in $f"
	grep -q 'eyJhbGciOiJSUzI1NiIs' "$f" && fail "a signed assertion is in $f"
done

authserver_stop
finish
