#!/usr/bin/env python3
"""warm.py - bring a source mailbox's Dovecot indexes up to date.

  warm.py HOST PORT LOGIN PASSWORDFILE

EXAMINEs every selectable folder and fetches, for all messages, the
metadata every tool asks for (UID FLAGS INTERNALDATE RFC822.SIZE and the
Message-ID header), so that Dovecot's index and cache are built before a
measured run, not by whichever tool comes first after new mail arrived.
(The message files themselves are in the page cache after the oracle's
dump of the source, which reads them all.)
"""
import imaplib
import re
import sys

LIST_RE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<delim>"[^"]*"|NIL) (?P<name>.+)')


def main():
    host, port, login, pwfile = sys.argv[1:5]
    with open(pwfile) as f:
        pw = f.read().split("\n")[0]
    m = imaplib.IMAP4(host, int(port))
    m.login(login, pw)
    _, data = m.list()
    for item in data:
        if isinstance(item, tuple):
            item = item[0] + item[1]
        mm = LIST_RE.match(item or b"")
        if not mm or b"\\Noselect" in mm.group("flags"):
            continue
        name = mm.group("name").decode("utf-8", "replace")
        if not name.startswith('"'):
            name = '"' + name + '"'
        typ, d = m.select(name, readonly=True)
        if typ == "OK" and int(d[0]):
            m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        m.close()
    m.logout()


if __name__ == "__main__":
    main()
