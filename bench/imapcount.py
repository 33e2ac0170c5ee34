#!/usr/bin/env python3
"""imapcount.py - a counting IMAP proxy: what a client asks of the server.

  imapcount.py --to PORT --port-file F --log F      (runs until SIGTERM)
  imapcount.py --summary LOG FOLDERS                 prints the figures

Forwards every connection on 127.0.0.1 to 127.0.0.1:PORT unchanged (plain
IMAP only) and, when the connection ends, appends one JSON line to --log:
the client's commands (tagged lines; the bytes of literals are skipped),
and its round trips: a round trip is a flight of client bytes sent after
the server last spoke (pipelined commands in one flight are one round
trip).  Both are also attributed to folders: a command or flight goes to
the folder named by a SELECT, EXAMINE or STATUS in it, else to the folder
last selected, else to "(session)" (greeting, LOGIN, LIST, LOGOUT).

--summary LOG FOLDERS: totals over all connections, per folder (FOLDERS =
the number of folders the mailboxes hold, to divide by), and the verbs.
"""
import argparse
import collections
import json
import os
import re
import select
import signal
import socket
import sys
import threading

LITERAL = re.compile(rb"\{(\d+)\+?\}\r?$")


def folder_arg(rest):
    """The mailbox name at the start of a command's arguments."""
    rest = rest.strip()
    if rest.startswith(b'"'):
        m = re.match(rb'"((?:[^"\\]|\\.)*)"', rest)
        return m.group(1).decode("utf-8", "replace") if m else rest.decode("utf-8", "replace")
    return rest.split(b" ", 1)[0].decode("utf-8", "replace")


class Conn:
    def __init__(self):
        self.buf = b""
        self.skip = 0  # literal bytes still to pass
        self.cont = False  # the next line continues a command after a literal
        self.folder = "(session)"
        self.cmds = collections.Counter()
        self.verbs = collections.Counter()
        self.trips = collections.Counter()
        self.flight_open = False
        self.flight_folder = None

    def client(self, data):
        new_flight = not self.flight_open
        self.flight_open = True
        if new_flight:
            self.flight_folder = None
        self.buf += data
        while True:
            if self.skip:
                n = min(self.skip, len(self.buf))
                self.buf = self.buf[n:]
                self.skip -= n
                if self.skip:
                    return
            if b"\n" not in self.buf:
                return
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r")
            words = line.split(b" ", 2)
            if self.cont:
                self.cont = False
            elif len(words) >= 2 and line:
                verb = words[1].upper()
                rest = words[2] if len(words) > 2 else b""
                if verb == b"UID" and rest:
                    sub = rest.split(b" ", 1)
                    verb = b"UID " + sub[0].upper()
                    rest = sub[1] if len(sub) > 1 else b""
                if verb in (b"SELECT", b"EXAMINE", b"STATUS"):
                    f = folder_arg(rest)
                    if verb != b"STATUS":
                        self.folder = f
                    if self.flight_folder is None:
                        self.flight_folder = f
                    self.cmds[f] += 1
                else:
                    self.cmds[self.folder] += 1
                self.verbs[verb.decode("latin-1")] += 1
            m = LITERAL.search(line)
            if m:
                self.skip = int(m.group(1))
                self.cont = True

    def server(self):
        if self.flight_open:
            self.trips[self.flight_folder or self.folder] += 1
            self.flight_open = False

    def report(self):
        self.server()
        return {"commands": dict(self.cmds), "trips": dict(self.trips), "verbs": dict(self.verbs)}


def proxy(a):
    lock = threading.Lock()
    logf = open(a.log, "a")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def serve(c):
        try:
            s = socket.create_connection(("127.0.0.1", a.to))
        except OSError:
            c.close()
            return
        st = Conn()
        try:
            while True:
                r, _, _ = select.select([c, s], [], [], 300)
                if not r:
                    break
                for src in r:
                    data = src.recv(65536)
                    if not data:
                        raise EOFError
                    if src is c:
                        st.client(data)
                        s.sendall(data)
                    else:
                        st.server()
                        c.sendall(data)
        except (EOFError, OSError):
            pass
        for x in (c, s):
            try:
                x.close()
            except OSError:
                pass
        with lock:
            logf.write(json.dumps(st.report()) + "\n")
            logf.flush()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def summary(log, folders):
    cmds, trips, verbs = collections.Counter(), collections.Counter(), collections.Counter()
    conns = 0
    cmax = tmax = 0  # the most of one folder in one connection
    with open(log) as f:
        for line in f:
            r = json.loads(line)
            conns += 1
            for k, v in r["commands"].items():
                if k != "(session)":
                    cmax = max(cmax, v)
            for k, v in r["trips"].items():
                if k != "(session)":
                    tmax = max(tmax, v)
            cmds.update(r["commands"])
            trips.update(r["trips"])
            verbs.update(r["verbs"])
    tc, tt = sum(cmds.values()), sum(trips.values())
    out = {
        "connections": conns, "commands": tc, "round_trips": tt, "folders": folders,
        "commands_per_folder": tc / folders if folders else 0,
        "round_trips_per_folder": tt / folders if folders else 0,
        "in_folder_commands_max": cmax,
        "in_folder_round_trips_max": tmax,
        "session_commands": cmds.get("(session)", 0),
        "session_round_trips": trips.get("(session)", 0),
        "verbs": dict(sorted(verbs.items())),
    }
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--to", type=int)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--summary", nargs=2, metavar=("LOG", "FOLDERS"))
    a = ap.parse_args()
    if a.summary:
        summary(a.summary[0], int(a.summary[1]))
        return 0
    if not (a.to and a.port_file and a.log):
        sys.exit("usage: imapcount.py --to PORT --port-file F --log F | --summary LOG FOLDERS")
    proxy(a)


if __name__ == "__main__":
    sys.exit(main())
