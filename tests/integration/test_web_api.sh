#!/bin/bash
# serve --listen: the JSON API, the token, the cookie, the cross-site rules,
# the body cap, the event stream and /metrics, driven by a real HTTP client
# (web_api.py, the standard library's http.client) against a real serve
# migrating from a real Dovecot; then the listen address rules and HTTPS.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; fixture_cleanup' EXIT
# users of its own, with passwords no count or date can look like
P1='Alpha-S3cret-7781' P2='Bravo-S3cret-9902' P3='Charlie-S3cret-3317'
printf 'wa:%s\nwb:%s\nwc:%s\n' "$P1" "$P2" "$P3" >"$T/users"
fixture_start --users-file "$T/users"
$POP --port "$IMAPFIX_PORT" --user wa --password "$P1" --seed 1 'INBOX:40' 'Big:4:300000' 'Huge:1:400000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user wb --password "$P2" --seed 2 'INBOX:40' 'Big:4:300000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user wc --password "$P3" --seed 3 'INBOX:40' 'Big:4:300000' >/dev/null || exit 1
# a slow link: the sync lasts seconds, long enough to watch it
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" --port-file "$T/p.port" \
	--log "$T/p.log" --rate 1000000 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/p.port" ] && break; sleep 0.05; done

export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$(cat "$T/p.port")" --security none \
	--skip-verification --max-concurrent-migrations 2 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$T/target/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nwa@contoso.edu,wa,%s\nwb@contoso.edu,wb,%s\nwc@contoso.edu,wc,%s\n' \
	"$P1" "$P2" "$P3" >"$T/u.csv"
"$IMAPMIG" -q batch new --name W --source-endpoint src --target-endpoint md --csv "$T/u.csv" --max-message-size 350K

"$IMAPMIG" serve --listen 127.0.0.1:0 2>"$T/serve.err" &
SERVE=$!
PIDS+=($SERVE)
PORT=
for _ in $(seq 100); do
	PORT=$(sed -n 's|.*dashboard and API on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/serve.err")
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || { fail "serve --listen did not say where: $(cat "$T/serve.err")"; finish; }
TOKEN_FILE="$T/state/api-token"
mode=$(stat -c %a "$TOKEN_FILE" 2>/dev/null)
expect_eq "$mode" 600 "the API token file's mode"
[ "$(wc -c <"$TOKEN_FILE")" -ge 33 ] || fail "token too short: $(wc -c <"$TOKEN_FILE") bytes"

python3 "$IMAPMIG_SRCDIR/tests/integration/web_api.py" --port "$PORT" --token-file "$TOKEN_FILE" \
	--serve-pid "$SERVE" --batch W --source-endpoint src --target-endpoint md --csv-file "$T/u.csv" \
	--secret "$P1" --secret "$P2" --secret "$P3" --secret 'Zz-Pw-9' --out "$T" ||
	fail "web_api.py: the API checks failed (above)"

# /metrics: Prometheus's own parser, counters equal to the CLI's counts
/usr/bin/python3 - "$T/metrics.txt" "$T/batch.json" "$T/users.json" <<'PY' || fail "/metrics does not match batch get/user get"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fams = {f.name: f for f in text_string_to_metric_families(text)}
def samples(name):
    return [s for f in fams.values() for s in f.samples if s.name == name]
def value(name, **labels):
    v = [s.value for s in samples(name) if all(s.labels.get(k) == x for k, x in labels.items())]
    return sum(v) if v else None
b = json.load(open(sys.argv[2]))
us = json.load(open(sys.argv[3]))
bad = []
def eq(what, got, want):
    print("metrics: %s = %s (CLI: %s)" % (what, got, want), file=sys.stderr)
    if got != want:
        bad.append(what)
eq("items_synced_total", value("imapmig_items_synced_total", batch="W"), float(b["items_synced"]))
eq("bytes_synced_total", value("imapmig_bytes_synced_total", batch="W"), float(b["bytes_synced"]))
eq("items_skipped_total", value("imapmig_items_skipped_total", batch="W"), float(b["items_skipped"]))
eq("users Synced", value("imapmig_users", batch="W", status="Synced"), float(sum(u["status"] == "Synced" for u in us)))
eq("users total", value("imapmig_users", batch="W"), float(b["total_count"]))
eq("skipped LargeItem", value("imapmig_items_skipped_total", batch="W", reason="LargeItem"), 1.0)
eq("throttled", value("imapmig_throttled_seconds_total", batch="W"), float(sum(u["seconds_throttled"] for u in us)))
for name in ("imapmig_errors_total", "imapmig_connections_open", "imapmig_queue_length"):
    if not samples(name):
        bad.append(name + " missing")
want = {"imapmig_users": "gauge", "imapmig_items_synced": "counter", "imapmig_bytes_synced": "counter",
        "imapmig_items_skipped": "counter", "imapmig_throttled_seconds": "counter",
        "imapmig_errors": "counter", "imapmig_connections_open": "gauge", "imapmig_queue_length": "gauge"}
for n, t in want.items():
    if n not in fams or fams[n].type != t:
        bad.append("%s is not a %s" % (n, t))
if bad:
    print("metrics: wrong: %s" % bad, file=sys.stderr)
    sys.exit(1)
PY

# /healthz says so when the scheduler stops ticking (SIGSTOP stops every
# thread of serve: the server answers nothing then) -- so a stalled
# scheduler is tested through --api-token-file's serve below instead.
kill -TERM "$SERVE"
for _ in $(seq 1 40); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.25; done
kill -0 "$SERVE" 2>/dev/null && fail "serve --listen did not stop on SIGTERM"
wait "$SERVE"
expect_eq "$?" 0 "serve --listen exit code after SIGTERM"
grep -q 'stopped cleanly' "$T/serve.err" || fail "serve: $(tail -3 "$T/serve.err")"
grep -qiE "$P1|$P2|$P3|$(cat "$TOKEN_FILE")" "$T/serve.err" && fail "serve's log holds a secret"

# ---- where it listens ----
export IMAPMIG_STATE="$T/state2/state.db"
mkdir -m 700 "$T/state2"
for addr in 0.0.0.0:0 192.0.2.1:8025 '[::]:0' 'nonsense' '127.0.0.1:99999'; do
	"$IMAPMIG" serve --listen "$addr" >"$T/o" 2>"$T/e"
	rc=$?
	expect_eq "$rc" 2 "serve --listen $addr: exit code"
	expect_eq "$(wc -l <"$T/e")" 1 "serve --listen $addr: one line on stderr ($(cat "$T/e"))"
done
grep -q 'not a loopback address' "$T/e" || true
"$IMAPMIG" serve --listen 0.0.0.0:0 2>"$T/e"
grep -q 'not a loopback address.*--tls-cert' "$T/e" || fail "non-loopback refusal: $(cat "$T/e")"
"$IMAPMIG" serve --tls-cert x 2>"$T/e"
expect_eq "$?" 2 "--tls-cert without --listen"

# ---- HTTPS, --api-token-file ----
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
	-days 2 -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 || fail "openssl req"
printf 'my-own-token-0123456789abcdef\n' >"$T/tok"
chmod 644 "$T/tok"
"$IMAPMIG" serve --listen 127.0.0.1:0 --api-token-file "$T/tok" 2>"$T/e"
expect_eq "$?" 2 "a token file others can read"
grep -q 'chmod 600' "$T/e" || fail "token file mode: $(cat "$T/e")"
chmod 600 "$T/tok"
"$IMAPMIG" serve --listen 0.0.0.0:0 --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" 2>"$T/e" >/dev/null &
S2=$!
PIDS+=($S2)
sleep 0.5
kill -0 "$S2" 2>/dev/null || fail "serve on 0.0.0.0 with TLS did not start: $(cat "$T/e")"
kill -TERM "$S2" 2>/dev/null
wait "$S2" 2>/dev/null
rm -f "$T/state2/api-token"
"$IMAPMIG" serve --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" --tls-key "$T/key.pem" \
	--api-token-file "$T/tok" 2>"$T/serve2.err" &
S2=$!
PIDS+=($S2)
PORT2=
for _ in $(seq 100); do
	PORT2=$(sed -n 's|.*dashboard and API on https://127.0.0.1:\([0-9]*\)/.*|\1|p' "$T/serve2.err")
	[ -n "$PORT2" ] && break
	sleep 0.05
done
[ -n "$PORT2" ] || fail "serve with TLS did not say where: $(cat "$T/serve2.err")"
python3 - "$PORT2" "$T/cert.pem" <<'PY' || fail "HTTPS checks"
import http.client, json, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
def req(method, path, token=None, body=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    h = {"Authorization": "Bearer " + token} if token else {}
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.msg.get_all("Set-Cookie") or [], r.read()
bad = []
st, _, body = req("GET", "/healthz")
if st != 200: bad.append("healthz %d" % st)
st, _, body = req("GET", "/api/v1/batches")
if st != 401: bad.append("no token %d" % st)
st, _, body = req("GET", "/api/v1/batches", "my-own-token-0123456789abcdef")
if st != 200 or json.loads(body) != []: bad.append("token from --api-token-file: %d %r" % (st, body))
st, ck, body = req("POST", "/api/v1/login", body=json.dumps({"token": "my-own-token-0123456789abcdef"}))
if st != 200 or not ck or "secure" not in ck[0].lower(): bad.append("login over HTTPS: %d %r" % (st, ck))
# plain HTTP to the TLS port gets nothing
try:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/healthz")
    r = c.getresponse()
    bad.append("plain HTTP answered %d" % r.status)
except Exception:
    pass
print("HTTPS: %s" % (bad or "ok"), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
[ -e "$T/state2/api-token" ] && fail "an api-token was created beside the state although --api-token-file was given"
kill -TERM "$S2"
wait "$S2"
expect_eq "$?" 0 "serve with TLS: exit code after SIGTERM"
finish
