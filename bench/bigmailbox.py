#!/usr/bin/env python3
"""bigmailbox.py - a scripted IMAP source with a huge mailbox, for
bench/hostile_rss.sh: --folders N folders in the listing (with LIST-STATUS
answers), and an INBOX of --messages M messages whose UID FETCH listing is
generated on the fly.  Bodies are never asked for by the measured commands
(user preview lists and plans; the sync is stopped once the listing is
read).  Serves connections one after another on 127.0.0.1 until killed.

--list-pace S sleeps S seconds after every 1,000 folders of the listing
(a LIST that takes a while, for tests/integration/test_stop_list.sh).

Usage: bigmailbox.py --port-file F [--folders N] [--messages M] [--list-pace S]
"""
import argparse
import os
import re
import socket
import time


def serve(conn, folders, messages, pace=0.0):
    f = conn.makefile("rb")
    w = conn.makefile("wb", buffering=1 << 20)
    w.write(b"* OK [CAPABILITY IMAP4rev1 LIST-STATUS LITERAL+ UIDPLUS] bench\r\n")
    w.flush()
    for line in f:
        m = re.match(rb"(\S+) (\S+)", line)
        if not m:
            break
        tag, cmd = m.group(1), m.group(2).upper()
        if cmd == b"LOGIN":
            w.write(tag + b" OK [CAPABILITY IMAP4rev1 LIST-STATUS LITERAL+ UIDPLUS] in\r\n")
        elif cmd == b"CAPABILITY":
            w.write(b"* CAPABILITY IMAP4rev1 LIST-STATUS LITERAL+ UIDPLUS\r\n" + tag + b" OK\r\n")
        elif cmd == b"LIST" and b'"" ""' in line:
            w.write(b'* LIST (\\Noselect) "/" ""\r\n' + tag + b" OK\r\n")
        elif cmd == b"LIST":
            status = b"RETURN" in line.upper()
            w.write(b'* LIST () "/" INBOX\r\n')
            if status:
                w.write(b"* STATUS INBOX (MESSAGES %d UIDNEXT %d UIDVALIDITY 7)\r\n" % (messages, messages + 1))
            for i in range(folders):
                if pace and i % 1000 == 999:
                    w.flush()
                    time.sleep(pace)
                w.write(b'* LIST (\\HasNoChildren) "/" "Projects/P%07d"\r\n' % i)
                if status:
                    w.write(b'* STATUS "Projects/P%07d" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 7)\r\n' % i)
            w.write(tag + b" OK LIST done\r\n")
        elif cmd in (b"SELECT", b"EXAMINE"):
            n = messages if b"INBOX" in line.upper() else 0
            w.write(b"* %d EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT %d] x\r\n" % (n, n + 1))
            w.write(tag + b" OK [READ-ONLY] done\r\n")
        elif cmd == b"UID" and b"FETCH" in line.upper() and b"RFC822.SIZE" in line.upper():
            for u in range(1, messages + 1):
                w.write(b'* %d FETCH (UID %d FLAGS (\\Seen) INTERNALDATE "01-Jan-2024 10:00:00 +0000" RFC822.SIZE 2048)\r\n' % (u, u))
            w.write(tag + b" OK FETCH done\r\n")
        elif cmd == b"LOGOUT":
            w.write(b"* BYE\r\n" + tag + b" OK\r\n")
            w.flush()
            break
        else:
            w.write(tag + b" NO [CANNOT] not in this bench server\r\n")
        w.flush()
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--folders", type=int, default=0)
    ap.add_argument("--messages", type=int, default=10)
    ap.add_argument("--list-pace", type=float, default=0.0)
    a = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as fp:
        fp.write(str(s.getsockname()[1]))
    os.rename(tmp, a.port_file)
    while True:
        c, _ = s.accept()
        try:
            serve(c, a.folders, a.messages, a.list_pace)
        except OSError:
            pass


if __name__ == "__main__":
    main()
