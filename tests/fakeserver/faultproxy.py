#!/usr/bin/env python3
"""faultproxy.py - a TCP proxy on 127.0.0.1 that slows or breaks traffic.

  faultproxy.py --to PORT --port-file F [--rate BYTES_PER_S]
                [--drop MIN:MAX] [--drop-count N] [--seed S] [--log F]

Every connection is forwarded to 127.0.0.1:PORT.  --rate limits the
server-to-client direction (so a migration takes long enough to be
interrupted anywhere).  --drop closes a connection after a random number of
bytes (both directions counted) between MIN and MAX -- mid-command,
mid-literal, mid-APPEND -- for the first N connections (--drop-count,
default: all).  --log-bytes adds a line "down TIME N" to --log for every
block of N bytes the server sent (TIME: seconds since the epoch), so a test
can tell when traffic stopped.  --inject VERB:N:ANSWER (repeatable) answers
the Nth command VERB (counted over all connections, e.g. EXAMINE:3) with
"TAG ANSWER" instead of forwarding it -- NO [THROTTLED], NO [UNAVAILABLE]
or Microsoft 365's "Suggested Backoff Time" in front of a real server -- and
logs "inject TIME VERB N"; --log also gets "open TIME ..." then.  An
ANSWER that starts with "* " is sent untagged and ends the session, e.g.
APPEND:4:* BYE Session invalidated - AccessTokenExpired (Microsoft 365).
--rewrite 'REGEX=>REPLACEMENT' (repeatable) rewrites each line the server
sends (Python re.sub on bytes, \\1 for groups), e.g. a target that answers
bogus APPENDUIDs or keeps no keywords:
  --rewrite '\[APPENDUID (\d+) \d+\]=>[APPENDUID \1 0]'
  --rewrite ' \\\*\)\]=>)]'   (PERMANENTFLAGS without \*)
Writes the listening port to --port-file; runs until killed.
"""
import argparse
import os
import random
import re
import select
import socket
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", type=int, required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--drop")
    ap.add_argument("--drop-count", type=int, default=-1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log")
    ap.add_argument("--log-bytes", action="store_true")
    ap.add_argument("--inject", action="append", default=[])
    ap.add_argument("--rewrite", action="append", default=[])
    a = ap.parse_args()
    rewrites = []
    for spec in a.rewrite:
        pat, rep = spec.split("=>", 1)
        rewrites.append((re.compile(pat.encode()), rep.encode()))

    def rewrite(buf, data):
        """Whole lines of the server's bytes, rewritten; the rest kept."""
        buf += data
        cut = buf.rfind(b"\n") + 1
        out, buf = buf[:cut], buf[cut:]
        for pat, rep in rewrites:
            out = pat.sub(rep, out)
        return out, buf
    rng = random.Random(a.seed)
    lock = threading.Lock()
    state = {"conns": 0, "drops": 0}
    logf = open(a.log, "a") if a.log else None
    inject = {}
    for spec in a.inject:
        verb, n, answer = spec.split(":", 2)
        inject[(verb.upper(), int(n))] = answer
    seen = {}

    def client_lines(c, s, pending, data):
        """Forward the client's bytes line by line; answer injected ones."""
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            words = line.split(None, 2)
            verb = words[1].decode("latin-1").upper() if len(words) > 1 else ""
            answer = None
            with lock:
                if verb:
                    seen[verb] = seen.get(verb, 0) + 1
                    answer = inject.get((verb, seen[verb]))
                    if answer is not None and logf:
                        logf.write("inject %.3f %s %d\n" % (time.time(), verb, seen[verb]))
                        logf.flush()
            if answer is not None and answer.startswith("* "):
                # an untagged answer (e.g. "* BYE ... AccessTokenExpired"):
                # said, then the session ends, as a server ending it would
                c.sendall(answer.encode() + b"\r\n")
                c.shutdown(socket.SHUT_WR)
                time.sleep(0.3)
                raise EOFError
            if answer is not None:
                c.sendall(words[0] + b" " + answer.encode() + b"\r\n")
            else:
                s.sendall(line + b"\n")
        return pending

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(a.port_file + ".tmp", a.port_file)

    def serve(c):
        try:
            s = socket.create_connection(("127.0.0.1", a.to))
        except OSError:
            c.close()
            return
        with lock:
            state["conns"] += 1
            state["active"] = state.get("active", 0) + 1
            n = state["conns"]
            if logf:
                logf.write("open %d active %d%s\n" % (n, state["active"],
                           " at %.3f" % time.time() if inject else ""))
                logf.flush()
            limit = None
            if a.drop and (a.drop_count < 0 or n <= a.drop_count):
                lo, hi = (int(x) for x in a.drop.split(":"))
                limit = rng.randint(lo, hi)
        moved = 0
        t0 = time.time()
        down = 0
        pending = b""
        held = b""
        try:
            while True:
                r, _, _ = select.select([c, s], [], [], 60)
                if not r:
                    break
                for src in r:
                    dst = s if src is c else c
                    data = src.recv(16384)
                    if not data:
                        raise EOFError
                    if limit is not None and moved + len(data) >= limit:
                        data = data[: max(0, limit - moved)]
                        if data:
                            dst.sendall(data)
                        if logf:
                            logf.write("conn %d dropped after %d bytes\n" % (n, limit))
                            logf.flush()
                        raise EOFError
                    moved += len(data)
                    if src is c and inject:
                        pending = client_lines(c, s, pending, data)
                        continue
                    if src is s and rewrites:
                        data, held = rewrite(held, data)
                        if not data:
                            continue
                    dst.sendall(data)
                    if src is s and a.log_bytes and logf:
                        with lock:
                            logf.write("down %.3f %d\n" % (time.time(), len(data)))
                            logf.flush()
                    if src is s and a.rate > 0:
                        down += len(data)
                        ahead = down / a.rate - (time.time() - t0)
                        if ahead > 0:
                            time.sleep(ahead)
        except (EOFError, OSError):
            pass
        with lock:
            state["active"] -= 1
        for x in (c, s):
            try:
                x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                x.close()
            except OSError:
                pass

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
