#!/usr/bin/env python3
"""web_api.py - drives `imapmig serve --listen` with the standard library's
http.client, as a script would: every route, every error status, the token,
the cookie, the cross-site rules, the body cap, the event stream.

  web_api.py --port P --token-file F --serve-pid PID --batch B
             --source-endpoint S --target-endpoint T --csv-file F
             --secret S [--secret S...] --out DIR

Prints one line per failed check ("FAIL: ...") and what it measured;
exit 1 if any check failed.  Every response body (event streams included)
is kept and scanned at the end for the secrets and the token.
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

FAILS = []
BODIES = []
BODIES_LOCK = threading.Lock()


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg, file=sys.stderr, flush=True)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def keep(b):
    with BODIES_LOCK:
        BODIES.append(b)


class Api:
    def __init__(self, port, token):
        self.port = port
        self.token = token

    def req(self, method, path, body=None, headers=None, auth=True,
            timeout=20):
        h = {"Host": "127.0.0.1:%d" % self.port}
        if auth:
            h["Authorization"] = "Bearer " + self.token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        if r.getheader("Content-Type", "").startswith("text/event-stream"):
            data = b""  # a stream does not end: the status says enough
        else:
            data = r.read()
        keep(data)
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        hdrs["set-cookie-all"] = r.msg.get_all("Set-Cookie") or []
        c.close()
        return r.status, hdrs, data

    def json(self, method, path, want, body=None, **kw):
        st, h, data = self.req(method, path, body=body, **kw)
        check(st == want, "%s %s: status %d, want %d: %s" %
              (method, path, st, want, data[:300]))
        if st == want and want != 204:
            check(h.get("content-type", "").startswith("application/json"),
                  "%s %s: content type %s" % (method, path,
                                              h.get("content-type")))
        try:
            return json.loads(data) if data else None
        except ValueError:
            fail("%s %s: not JSON: %r" % (method, path, data[:200]))
            return None


def error_shape(j, what):
    check(isinstance(j, dict) and isinstance(j.get("error"), str) and
          "\n" not in j["error"] and j["error"],
          "%s: error body is not {\"error\": one line}: %r" % (what, j))


class Events:
    """A GET /api/v1/events stream read in a thread of its own."""

    def __init__(self, port, token, last_id=None, cookie=None):
        self.events = []
        self.lock = threading.Lock()
        self.closed = False
        self.status = None
        h = {"Host": "127.0.0.1:%d" % port, "Accept": "text/event-stream"}
        if cookie:
            h["Cookie"] = cookie
        else:
            h["Authorization"] = "Bearer " + token
        if last_id is not None:
            h["Last-Event-ID"] = str(last_id)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/api/v1/events", headers=h)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.ctype = self.resp.getheader("Content-Type", "")
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        cur = {}
        raw = []
        try:
            while True:
                line = self.resp.fp.readline()
                if not line:
                    break
                raw.append(line)
                line = line.decode().rstrip("\n")
                if line == "":
                    if "data" in cur:
                        with self.lock:
                            self.events.append(cur)
                    cur = {}
                elif line.startswith(":"):
                    continue
                else:
                    k, _, v = line.partition(":")
                    cur[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError):
            pass
        keep(b"".join(raw))
        self.closed = True

    def wait(self, pred, seconds):
        end = time.time() + seconds
        while time.time() < end:
            with self.lock:
                for e in self.events:
                    if pred(e):
                        return e
            time.sleep(0.05)
        return None

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
        self.t.join(5)


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def cli(*args):
    r = subprocess.run([os.environ["IMAPMIG"]] + list(args),
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail("imapmig %s: exit %d: %s" % (" ".join(args), r.returncode,
                                           r.stderr.strip()))
        return None
    return json.loads(r.stdout)


def big_body(port, token, pid, chunked, out):
    """100 MB at POST /api/v1/batches: refused, the server's peak memory
    grows by at most what the cap allows."""
    total = 100 * 1024 * 1024
    before = vm(pid, "VmHWM")
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    head = ("POST /api/v1/batches HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            % (port, token))
    head += ("Transfer-Encoding: chunked\r\n\r\n" if chunked else
             "Content-Length: %d\r\n\r\n" % total)
    s.sendall(head.encode())
    chunk = b"x" * (1024 * 1024)
    sent = 0
    t0 = time.time()
    try:
        while sent < total:
            if chunked:
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            else:
                s.sendall(chunk)
            sent += len(chunk)
        if chunked:
            s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    reply = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            reply += d
    except OSError:
        pass
    s.close()
    keep(reply)
    grown = vm(pid, "VmHWM") - before
    kind = "chunked" if chunked else "Content-Length"
    print("100 MB body (%s): refused after %d MiB sent in %.2f s; serve's "
          "peak RSS grew by %d KiB" % (kind, sent >> 20, time.time() - t0,
                                       grown >> 10), file=sys.stderr)
    check(sent < total, "%s: the whole 100 MB was read" % kind)
    # under ASan every allocation carries a redzone and freed memory waits
    # in quarantine: the bounds there are looser
    slack = 4 if os.environ.get("IMAPMIG_SANITIZED") == "1" else 1
    if chunked:
        # read up to the 12 MiB cap, then the connection is closed
        check(grown < slack * 16 * 1024 * 1024,
              "chunked 100 MB body: peak RSS grew %d KiB (cap 12 MiB)" %
              (grown >> 10))
    else:
        check(reply.startswith(b"HTTP/1.1 413"),
              "100 MB body with Content-Length: %r" % reply[:80])
        check(grown < slack * 2 * 1024 * 1024,
              "100 MB body with Content-Length: peak RSS grew %d KiB" %
              (grown >> 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--serve-pid", type=int, required=True)
    ap.add_argument("--batch", required=True)
    ap.add_argument("--source-endpoint", required=True)
    ap.add_argument("--target-endpoint", required=True)
    ap.add_argument("--csv-file", required=True)
    ap.add_argument("--secret", action="append", default=[])
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    token = open(a.token_file).read().strip()
    api = Api(a.port, token)
    B = a.batch
    csv_text = open(a.csv_file).read()
    emails = [l.split(",")[0] for l in csv_text.splitlines()[1:] if l]

    # ---- without the token: only /, assets, /healthz, /metrics ----
    st, h, data = api.req("GET", "/healthz", auth=False)
    check(st == 200 and json.loads(data) == {"state": "ok",
                                              "scheduler": "alive"},
          "GET /healthz: %d %r" % (st, data))
    st, h, data = api.req("GET", "/metrics", auth=False)
    check(st == 200 and h.get("content-type", "").startswith("text/plain")
          and b"imapmig_queue_length" in data,
          "GET /metrics without a token: %d %r" % (st, data[:200]))
    st, h, data = api.req("GET", "/", auth=False)
    check(st == 200 and h.get("content-type", "").startswith("text/html")
          and "content-security-policy" in h,
          "GET /: %d %s" % (st, h.get("content-type")))
    st, h, data = api.req("GET", "/assets/index.html", auth=False)
    check(st == 200, "GET /assets/index.html: %d" % st)
    j = api.json("GET", "/assets/nosuch.js", 404, auth=False)
    error_shape(j, "GET /assets/nosuch.js")
    routes = [("GET", "/api/v1/endpoints"), ("GET", "/api/v1/batches"),
              ("GET", "/api/v1/batches/" + B),
              ("GET", "/api/v1/batches/%s/users" % B),
              ("GET", "/api/v1/users/" + emails[0]),
              ("GET", "/api/v1/events"),
              ("POST", "/api/v1/batches"),
              ("POST", "/api/v1/batches/%s/start" % B),
              ("POST", "/api/v1/batches/%s/stop" % B),
              ("POST", "/api/v1/batches/%s/complete" % B),
              ("POST", "/api/v1/batches/%s/sync-now" % B),
              ("DELETE", "/api/v1/batches/" + B),
              ("GET", "/api/v1/nosuch")]
    for m, p in routes:
        for hdr in ({}, {"Authorization": "Bearer wrong-" + token},
                    {"Authorization": "Basic " + token},
                    {"Cookie": "imapmig_session=" + token}):
            st, h, data = api.req(m, p, body="{}" if m == "POST" else None,
                                  headers=hdr, auth=False)
            check(st == 401, "%s %s with %s: status %d, want 401" %
                  (m, p, list(hdr) or "no token", st))
        check("bearer" in h.get("www-authenticate", "").lower(),
              "401 without WWW-Authenticate: Bearer")
    st, h, data = api.req("GET", "/api/v1/batches/" + B)
    check(st == 200 and json.loads(data)["status"] == "Created",
          "the batch is not Created before the test: %r" % data[:200])

    # ---- the body cap ----
    big_body(a.port, token, a.serve_pid, False, a.out)
    big_body(a.port, token, a.serve_pid, True, a.out)
    st, h, data = api.req("POST", "/api/v1/batches/%s/stop" % B,
                          body=b"x" * (100 * 1024),
                          headers={"Content-Type": "application/json"})
    check(st == 413, "a 100 KiB body on an action: %d" % st)

    # ---- login and the cookie ----
    j = api.json("POST", "/api/v1/login", 401, body={"token": "nope" * 8},
                 auth=False)
    error_shape(j, "login with a wrong token")
    api.json("POST", "/api/v1/login", 400, body="{", auth=False)
    st, h, data = api.req("GET", "/api/v1/login", auth=False)
    check(st == 405, "GET /api/v1/login: %d" % st)
    st, h, data = api.req("POST", "/api/v1/login", body={"token": token},
                          auth=False)
    cookies = h["set-cookie-all"]
    check(st == 200 and len(cookies) == 1, "login: %d %r" % (st, cookies))
    ck = cookies[0] if cookies else ""
    attrs = [x.strip().lower() for x in ck.split(";")]
    check("httponly" in attrs and "samesite=strict" in attrs and
          "path=/" in attrs, "login cookie attributes: %s" % ck)
    check(token not in ck, "the login cookie holds the token itself")
    cookie = ck.split(";")[0]
    st, h, data = api.req("POST", "/api/v1/login", auth=False,
                          body="token=" + token,
                          headers={"Content-Type":
                                   "application/x-www-form-urlencoded"})
    check(st == 303 and h.get("location") == "/" and
          h["set-cookie-all"] and h["set-cookie-all"][0].split(";")[0] ==
          cookie, "form login: %d %r" % (st, h.get("location")))
    st, h, data = api.req("GET", "/api/v1/batches", auth=False,
                          headers={"Cookie": cookie})
    check(st == 200, "GET with the session cookie: %d" % st)

    # ---- DNS rebinding: another name for 127.0.0.1 ----
    for p in ("/metrics", "/", "/api/v1/batches"):
        st, h, data = api.req("GET", p, auth=True,
                              headers={"Host": "evil.example:%d" % a.port})
        check(st == 403, "GET %s with Host evil.example: %d" % (p, st))
    st, h, data = api.req("GET", "/healthz", auth=False,
                          headers={"Host": "localhost:%d" % a.port})
    check(st == 200, "GET /healthz with Host localhost: %d" % st)

    # ---- cross-site ----
    for hdr, what in (({"Origin": "http://evil.example"}, "foreign Origin"),
                      ({"Origin": "null"}, "Origin null"),
                      ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site"),
                      ({"Origin": "http://127.0.0.1:%d" % (a.port + 1)},
                       "another port's Origin")):
        j = api.json("POST", "/api/v1/batches/%s/start" % B, 403,
                     headers=hdr)
        error_shape(j, "cross-site POST (%s)" % what)
        api.json("DELETE", "/api/v1/batches/%s?force=1" % B, 403,
                 headers=hdr)
    api.json("POST", "/api/v1/login", 403, body={"token": token},
             auth=False, headers={"Origin": "http://evil.example"})
    # a cookie alone: the page's header or this Origin
    j = api.json("POST", "/api/v1/batches/%s/stop" % B, 403, auth=False,
                 headers={"Cookie": cookie})
    error_shape(j, "cookie POST without X-Imapmig")
    st, h, data = api.req("GET", "/api/v1/batches/" + B)
    check(json.loads(data)["status"] == "Created",
          "a refused request changed the batch: %r" % data[:120])

    # ---- reads: the CLI's shapes ----
    eps = api.json("GET", "/api/v1/endpoints", 200)
    check(eps == cli("endpoint", "get", "--json"),
          "GET /api/v1/endpoints differs from endpoint get --json")
    got = api.json("GET", "/api/v1/batches/" + B, 200)
    check(got == cli("batch", "get", B, "--json"),
          "GET /api/v1/batches/B differs from batch get B --json")
    got = api.json("GET", "/api/v1/batches", 200)
    check(got == cli("batch", "get", "--json"),
          "GET /api/v1/batches differs from batch get --json")
    got = api.json("GET", "/api/v1/batches/%s/users" % B, 200)
    check(got == cli("user", "get", "--batch", B, "--json"),
          "GET /api/v1/batches/B/users differs from user get --json")
    got = api.json("GET", "/api/v1/batches/%s/users?status=Queued" % B, 200)
    check(len(got) == len(emails), "?status=Queued: %d users" % len(got))
    api.json("GET", "/api/v1/batches/%s/users?status=Nope" % B, 400)
    got = api.json("GET", "/api/v1/users/" + emails[0], 200)
    check(got == cli("user", "stats", emails[0], "--include-report",
                     "--include-skipped-items", "--json"),
          "GET /api/v1/users/EMAIL differs from user stats --json")

    # ---- errors ----
    for m, p, want in (("GET", "/api/v1/nosuch", 404),
                       ("GET", "/nosuch", 404),
                       ("GET", "/api/v2/batches", 404),
                       ("GET", "/api/v1/batches/NoSuchBatch", 404),
                       ("GET", "/api/v1/batches/NoSuchBatch/users", 404),
                       ("GET", "/api/v1/users/nobody@nowhere.example", 404),
                       ("POST", "/api/v1/batches/NoSuchBatch/start", 404),
                       ("DELETE", "/api/v1/batches/NoSuchBatch", 404),
                       ("PUT", "/api/v1/batches", 405),
                       ("PATCH", "/api/v1/batches/" + B, 405),
                       ("GET", "/api/v1/batches/%s/start" % B, 405),
                       ("DELETE", "/api/v1/endpoints", 405),
                       ("POST", "/api/v1/users/" + emails[0], 405),
                       ("POST", "/healthz", 405),
                       ("POST", "/metrics", 405),
                       ("POST", "/", 405),
                       ("POST", "/api/v1/events", 405)):
        st, h, data = api.req(m, p, body="{}" if m in ("POST", "PUT",
                                                      "PATCH") else None)
        check(st == want, "%s %s: status %d, want %d" % (m, p, st, want))
        if want == 405:
            check(h.get("allow"), "%s %s: 405 without Allow" % (m, p))
        error_shape(json.loads(data), "%s %s" % (m, p))
    new = {"name": "W2", "source_endpoint": a.source_endpoint,
           "target_endpoint": a.target_endpoint}
    for body, what in (("{\"name\": ", "bad JSON"),
                       ("[1, 2]", "not an object"),
                       (dict(new, csv=csv_text, colour="blue"),
                        "unknown field"),
                       (dict(new, csv=csv_text, max_items="many"),
                        "bad option value"),
                       ({"name": "W2", "csv": csv_text},
                        "no source endpoint"),
                       (dict(new, csv=csv_text,
                             source_endpoint="NoSuchEndpoint"),
                        "unknown endpoint"),
                       (dict(new, csv=csv_text, exclude_folders="Junk,,["),
                        "bad folder filter")):
        st, h, data = api.req("POST", "/api/v1/batches", body=body)
        check(st in (400, 404), "POST /api/v1/batches (%s): %d %r" %
              (what, st, data[:200]))
        error_shape(json.loads(data), "POST /api/v1/batches (%s)" % what)
    # a bad CSV: the CLI's messages, nothing imported
    bad = csv_text.splitlines()
    bad.insert(2, "not-an-address,u,p")
    bad.append(bad[1])
    j = api.json("POST", "/api/v1/batches", 400,
                 body=dict(new, csv="\n".join(bad) + "\n",
                           csv_name="users.csv"))
    error_shape(j, "bad CSV")
    lines = j.get("errors", []) if j else []
    print("bad CSV: %s | %s" % (j and j.get("error"), lines),
          file=sys.stderr)
    check(any(l.startswith("users.csv:3: ") for l in lines),
          "bad CSV: no users.csv:3 error: %r" % lines)
    check(any(l.startswith("users.csv:%d: " % (len(bad))) and
              "already on line 2" in l for l in lines),
          "bad CSV: no duplicate error naming line 2: %r" % lines)
    with open(os.path.join(a.out, "bad.csv"), "w") as f:
        f.write("\n".join(bad) + "\n")
    r = subprocess.run([os.environ["IMAPMIG"], "batch", "new", "--name",
                        "W2", "--source-endpoint", a.source_endpoint,
                        "--target-endpoint", a.target_endpoint, "--csv",
                        os.path.join(a.out, "bad.csv")],
                       capture_output=True, text=True)
    cli_lines = [l.split(": ", 2)[2].replace(
        os.path.join(a.out, "bad.csv"), "users.csv")
        for l in r.stderr.splitlines() if l.count(": ") >= 2][:-1]
    check(cli_lines == lines, "the CLI's CSV errors %r differ from the "
          "API's %r" % (cli_lines, lines))
    api.json("GET", "/api/v1/batches/W2", 404)
    got = api.json("GET", "/api/v1/batches", 200)
    check(len(got) == 1, "a refused batch was imported: %r" %
          [b["name"] for b in got])
    # a good one, then its duplicate addresses refused (the users are in B)
    j = api.json("POST", "/api/v1/batches", 400,
                 body=dict(new, csv=csv_text))
    error_shape(j, "CSV whose users are in another batch")
    api.json("GET", "/api/v1/batches/W2", 404)
    other = "EmailAddress,UserName,Password\nzz@contoso.edu,zz,Zz-Pw-9\n"
    j = api.json("POST", "/api/v1/batches", 201,
                 body=dict(new, csv=other, max_message_size="20M",
                           exclude_folders="Junk", autostart=False,
                           notification_emails="a@b.example"))
    check(j and j.get("name") == "W2" and j.get("status") == "Created" and
          j.get("max_message_size") == 20 * 1024 * 1024 and
          j.get("total_count") == 1, "POST /api/v1/batches: %r" % j)
    check(j == cli("batch", "get", "W2", "--json"),
          "the new batch differs from batch get --json")
    api.json("POST", "/api/v1/batches", 400, body=dict(new, csv=other))

    # ---- events, actions ----
    ev = Events(a.port, token)
    check(ev.status == 200 and ev.ctype.startswith("text/event-stream"),
          "GET /api/v1/events: %s %s" % (ev.status, ev.ctype))
    ev_cookie = Events(a.port, token, cookie=cookie)
    check(ev_cookie.status == 200, "events with the cookie: %s" %
          ev_cookie.status)
    j = api.json("POST", "/api/v1/batches/%s/start" % B, 200,
                 headers={"Origin": "http://127.0.0.1:%d" % a.port})
    check(j and j.get("status") == "Syncing", "start: %r" % j)
    e = ev.wait(lambda e: e.get("event") == "status" and
                json.loads(e["data"]).get("status") == "Syncing", 20)
    check(e is not None, "no status event Syncing after start")
    if e:
        u = json.loads(e["data"])
        check(u.get("batch") == B and u.get("email") in emails and
              "items_synced" in u, "status event data: %r" % u)
    e = ev.wait(lambda e: e.get("event") == "progress", 20)
    check(e is not None, "no progress event while syncing")
    if e:
        p = json.loads(e["data"])
        job = (p.get("jobs") or [{}])[0]
        check(all(k in job for k in ("email", "folder", "items", "bytes",
                                     "rate")), "progress event: %r" % p)
    check(ev_cookie.wait(lambda e: e.get("event") == "progress", 10)
          is not None, "the cookie's stream saw no progress")
    # remove while syncing: refused, the batch stays
    j = api.json("DELETE", "/api/v1/batches/" + B, 409)
    error_shape(j, "DELETE while syncing")
    print("DELETE while syncing: %s" % (j and j.get("error")),
          file=sys.stderr)
    api.json("GET", "/api/v1/batches/" + B, 200)
    # complete while syncing: refused
    api.json("POST", "/api/v1/batches/%s/complete" % B, 409)
    ids = [int(x["id"]) for x in ev.events if "id" in x]
    check(ids == sorted(ids) and len(set(ids)) == len(ids),
          "event ids not increasing: %r" % ids[:20])
    # a reconnect with Last-Event-ID gets the status change it missed
    last = max(ids) if ids else 0
    ev.close()
    time.sleep(0.3)
    st, h, data = api.req("POST", "/api/v1/batches/%s/stop" % B,
                          auth=False, headers={"Cookie": cookie,
                                               "X-Imapmig": "1"})
    check(st == 200 and json.loads(data).get("status") == "Stopped",
          "stop with the cookie and X-Imapmig: %d %r" % (st, data[:200]))
    seen = ev_cookie.wait(lambda e: e.get("event") == "status" and
                          json.loads(e["data"]).get("status") == "Stopped",
                          20)
    check(seen is not None, "the live stream saw no Stopped status")
    time.sleep(1)
    ev2 = Events(a.port, token, last_id=last)
    e = ev2.wait(lambda e: e.get("event") == "status" and
                 json.loads(e["data"]).get("status") == "Stopped", 10)
    check(e is not None and int(e["id"]) > last,
          "a reconnect with Last-Event-ID %d did not get the missed "
          "Stopped status" % last)
    check(all(x.get("event") != "progress" or int(x["id"]) > (seen and
              int(seen["id"]) or 0) for x in ev2.events),
          "progress events were replayed")
    ev2.close()
    ev3 = Events(a.port, token, last_id=10 ** 12)
    e = ev3.wait(lambda e: True, 5)
    check(e is not None and e.get("event") == "reset",
          "Last-Event-ID from another run: first event %r, want reset" % e)
    ev3.close()
    # the CLI's own change (another process) shows on the stream
    r = subprocess.run([os.environ["IMAPMIG"], "-q", "batch", "start", B])
    check(r.returncode == 0, "batch start from the CLI")
    e = ev_cookie.wait(lambda e: e.get("event") == "status" and
                       json.loads(e["data"]).get("status") in
                       ("Queued", "Syncing") and int(e["id"]) >
                       int(seen["id"] if seen else 0), 20)
    check(e is not None, "a start by the CLI did not show on the stream")
    # until every user is Synced
    end = time.time() + 120
    while time.time() < end:
        us = api.json("GET", "/api/v1/batches/%s/users" % B, 200)
        if us and all(u["status"] == "Synced" for u in us):
            break
        time.sleep(0.5)
    check(us and all(u["status"] == "Synced" for u in us),
          "not Synced: %r" % [u["status"] for u in us or []])
    e = ev_cookie.wait(lambda e: e.get("event") == "batch" and
                       json.loads(e["data"]).get("name") == B and
                       json.loads(e["data"]).get("synced_count") ==
                       len(emails), 15)
    check(e is not None, "no batch event with every user synced")
    time.sleep(1)
    got = api.json("GET", "/api/v1/batches/%s/users" % B, 200)
    check(got == cli("user", "get", "--batch", B, "--json"),
          "synced users differ from user get --json")
    got = api.json("GET", "/api/v1/users/" + emails[0], 200)
    check(got and got.get("skipped_items"),
          "no skipped items for %s: %r" % (emails[0], got))
    check(got == cli("user", "stats", emails[0], "--include-report",
                     "--include-skipped-items", "--json"),
          "user stats after the sync differ from the CLI")
    # /metrics and the CLI at one moment, for the Prometheus parser
    with open(os.path.join(a.out, "metrics.txt"), "wb") as f:
        f.write(api.req("GET", "/metrics", auth=False)[2])
    with open(os.path.join(a.out, "batch.json"), "w") as f:
        json.dump(cli("batch", "get", B, "--json"), f)
    with open(os.path.join(a.out, "users.json"), "w") as f:
        json.dump(cli("user", "get", "--batch", B, "--json"), f)
    for what in ("sync-now", "complete"):
        j = api.json("POST", "/api/v1/batches/%s/%s" % (B, what), 200)
        print("%s: %s" % (what, j and j.get("status")), file=sys.stderr)
    # removing W2 (idle) and B with force
    api.json("DELETE", "/api/v1/batches/W2", 200)
    api.json("GET", "/api/v1/batches/W2", 404)
    e = ev_cookie.wait(lambda e: e.get("event") == "removed" and
                       json.loads(e["data"]).get("batch") == "W2", 10)
    check(e is not None, "no removed event for W2")
    ev_cookie.close()

    # ---- logout ----
    st, h, data = api.req("POST", "/api/v1/logout", auth=False,
                          headers={"Cookie": cookie})
    check(st == 200 and any("max-age=0" in c.lower()
                            for c in h["set-cookie-all"]),
          "logout: %d %r" % (st, h["set-cookie-all"]))

    # ---- no secret anywhere ----
    secrets = a.secret + [token]
    n = 0
    for b in BODIES:
        n += len(b)
        for s in secrets:
            if s.encode() in b:
                fail("a response carries a secret (%s...): %r" %
                     (s[:3], b[:200]))
    print("scanned %d response bodies (%d bytes) for %d secrets" %
          (len(BODIES), n, len(secrets)), file=sys.stderr)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
