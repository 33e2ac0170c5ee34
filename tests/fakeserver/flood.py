#!/usr/bin/env python3
"""flood.py - an IMAP server that tries to make the client hold too much.

Usage: flood.py SHAPE --port-file F
  Listens on 127.0.0.1 (a free port, written atomically to --port-file),
  serves one connection with SHAPE, and exits.  Shapes:

    literals     a greeting "* X" followed by 6,000 literals of 32 KiB each
                 (each under the client's inline limit, so each is kept)
    atoms        a greeting "* X" followed by 500,000 one-letter atoms
                 (under the 1 MiB line limit; a big parse tree)
    endless      "* OK " and 100 MB of text without a CRLF
    huge-literal "* X {9223372036854775808}" (2^63) and some bytes
    deep         "* X " and 10,000 '(' (then as many ')' and CRLF)
    bye-literal  a greeting, then the answer to the first command is a
                 literal of 1,000 bytes cut short by "* BYE" and a close
    stall        a greeting, then the answer to the first command stops
                 inside a literal; the connection stays open until the
                 client goes away (or 600 s)

  The client is expected to give up early; a send that fails because the
  client closed is the normal end.
"""
import argparse
import os
import socket
import sys
import time


def send_all(s, chunks):
    try:
        for c in chunks:
            s.sendall(c)
    except OSError:
        return False
    return True


def literals():
    yield b"* X"
    data = b"x" * 32768
    for _ in range(6000):
        yield b" {32768}\r\n" + data
    yield b"\r\n"


def atoms():
    yield b"* X" + b" a" * 500000 + b"\r\n"


def endless():
    yield b"* OK "
    chunk = b"a" * 65536
    for _ in range(100 * 1000 * 1000 // 65536 + 1):
        yield chunk


def read_line(s):
    buf = b""
    while not buf.endswith(b"\r\n"):
        d = s.recv(1)
        if not d:
            return None
        buf += d
    return buf


def serve(s, shape):
    if shape == "literals":
        send_all(s, literals())
    elif shape == "atoms":
        send_all(s, atoms())
    elif shape == "endless":
        send_all(s, endless())
    elif shape == "huge-literal":
        send_all(s, [b"* X {9223372036854775808}\r\n", b"y" * 65536])
    elif shape == "deep":
        send_all(s, [b"* X " + b"(" * 10000 + b")" * 10000 + b"\r\n"])
    elif shape in ("bye-literal", "stall"):
        send_all(s, [b"* OK flood ready\r\n"])
        if read_line(s) is None:
            return
        part = b"* 1 FETCH (BODY[] {1000}\r\nFrom: a@example.org\r\n"
        if shape == "bye-literal":
            send_all(s, [part + b"* BYE server shutting down\r\n"])
            return
        send_all(s, [part])
        s.settimeout(600)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    else:
        print("flood: unknown shape %s" % shape, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shape")
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    ls.settimeout(60)
    try:
        s, _ = ls.accept()
    except socket.timeout:
        print("flood: no client connected within 60 s", file=sys.stderr)
        return 4
    serve(s, a.shape)
    time.sleep(0.2)
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
