#!/usr/bin/env python3
"""fakeimap.py - a scripted IMAP server for what real servers won't do.

Real servers (tests/fixtures/) cover correct behaviour; this one plays a
script so tests can check the exact bytes the client sends and how it
copes with malformed or hostile replies and drops at exact bytes.

Usage: fakeimap.py SCRIPT --port-file F --log F [--tls CERT KEY]
  Listens on 127.0.0.1 (a free port, written to --port-file), accepts one
  connection per script run (--repeat N for several), and plays SCRIPT:

    S <text>        send text + CRLF; "$tag" is the tag of the last C line
    SRAW <pyrepr>   send raw bytes, e.g. SRAW b"* 1 FETCH (BODY[] {10}\\r\\nabc"
    C <regex>       read one line from the client, must match (fullmatch,
                    bytes); the first word is captured as $tag
    CLIT            the last C line ended in {n} or {n+}: read n bytes
    CONT            send "+ go ahead"
    SLEEP <secs>    pause
    CLOSE           close the connection now
    RESET           close with RST (SO_LINGER 0)
    WAIT_EOF        read until the client closes

  Every byte received is appended to --log, so a test can check exactly
  what the client sent.  A mismatch prints "fakeimap: expected ... got ..."
  on stderr and exits 3 after closing.
"""
import argparse
import re
import socket
import ssl
import struct
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("script")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()

    with open(a.script, "rb") as f:
        script = [l.rstrip(b"\n") for l in f if l.strip() and not l.startswith(b"#")]

    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    import os
    os.rename(a.port_file + ".tmp", a.port_file)
    log = open(a.log, "ab")
    ctx = None
    if a.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls[0], a.tls[1])

    status = 0
    for _ in range(a.repeat):
        ls.settimeout(30)
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            print("fakeimap: no client connected within 30 s", file=sys.stderr)
            return 4
        if ctx:
            conn = ctx.wrap_socket(conn, server_side=True)
        conn.settimeout(15)
        status = play(conn, script, log) or status
    return status


def play(conn, script, log):
    buf = b""
    tag = b"*"
    lit = 0

    def readline():
        nonlocal buf
        while b"\n" not in buf:
            d = conn.recv(65536)
            if not d:
                raise EOFError
            log.write(d)
            log.flush()
            buf += d
        line, _, buf = buf.partition(b"\n")
        return line.rstrip(b"\r")

    def readn(n):
        nonlocal buf
        while len(buf) < n:
            d = conn.recv(65536)
            if not d:
                raise EOFError
            log.write(d)
            log.flush()
            buf += d
        out, buf = buf[:n], buf[n:]
        return out

    try:
        for step in script:
            op, _, arg = step.partition(b" ")
            if op == b"S":
                conn.sendall(arg.replace(b"$tag", tag) + b"\r\n")
            elif op == b"SRAW":
                data = eval(arg.decode())  # test-authored literal only
                conn.sendall(data.replace(b"$tag", tag))
            elif op == b"C":
                line = readline()
                if not re.fullmatch(arg, line, re.S):
                    print("fakeimap: expected %r got %r" % (arg, line), file=sys.stderr)
                    conn.close()
                    return 3
                if line:
                    tag = line.split(b" ", 1)[0]
                m = re.search(rb"[~]?\{(\d+)\+?\}$", line)
                lit = int(m.group(1)) if m else 0
            elif op == b"CLIT":
                readn(lit)
            elif op == b"CONT":
                conn.sendall(b"+ go ahead\r\n")
            elif op == b"SLEEP":
                time.sleep(float(arg))
            elif op == b"CLOSE":
                conn.close()
                return 0
            elif op == b"RESET":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                conn.close()
                return 0
            elif op == b"WAIT_EOF":
                try:
                    while conn.recv(65536):
                        pass
                except OSError:
                    pass
            else:
                print("fakeimap: bad script step %r" % step, file=sys.stderr)
                return 3
    except (EOFError, OSError) as e:
        print("fakeimap: client went away: %s" % e, file=sys.stderr)
        return 0
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
