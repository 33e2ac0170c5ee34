#!/usr/bin/env python3
"""corpus.py - the benchmark corpus of issue 9, one mailbox at a time.

  corpus.py --mail-root DIR --user U --count N [--big K] [--seed S]
  corpus.py --mail-root DIR --user U --incremental N [--seed S]

Writes N messages into U's Maildir below DIR (the fixture Dovecot's
IMAPFIX_MAIL) with tests/fixtures/seed.py's message maker and writer:

  sizes   93.5 % small text, log-normal around a median of 7 KB (1.5-64 KB);
          6.5 % with an attachment, 100-480 KB; K messages of 10 MB
          (default N/1000, at least 1), in INBOX and Sent
  folders INBOX 40 %, Sent 20 %, Archive/2024/Q1 15 %, Projekte/Überblick
          10 %, Lists/dovecot 10 %, Notizen/日本語 5 % (nested, non-ASCII)
  flags   seed.py's random mix (\\Seen 70 %, \\Answered 20 %, ...)

At N=5,000 that is about 182 MB a mailbox, median 7.0 KB (4 mailboxes: 726 MB; the
issue's 746 MB).  --incremental N writes N new small/medium messages
instead (80 % INBOX, 20 % Sent), the same ones for the same --seed.
The output is reproducible for a given user, count and seed.  Prints
"messages bytes".
"""
import argparse
import math
import os
import random
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
import seed  # noqa: E402  (tests/fixtures/seed.py: make_message, write_msg, ...)

FOLDERS = [("INBOX", 40), ("Sent", 20), ("Archive/2024/Q1", 15),
           ("Projekte/Überblick", 10), ("Lists/dovecot", 10), ("Notizen/日本語", 5)]
BIG = 10 * 1024 * 1024


def small_size(rng):
    return int(min(64 * 1024, max(1536, math.exp(rng.gauss(math.log(6600), 0.6)))))


def plan(rng, count, big):
    """[(folder, size)] for a full mailbox."""
    out = []
    names = [f for f, _ in FOLDERS]
    weights = [w for _, w in FOLDERS]
    for i in range(count - big):
        size = rng.randint(100 * 1024, 480 * 1024) if rng.random() < 0.065 else small_size(rng)
        out.append((rng.choices(names, weights)[0], size))
    for i in range(big):
        out.insert(rng.randint(0, len(out)), ("INBOX" if i % 2 == 0 else "Sent", BIG))
    return out


def plan_incremental(rng, count):
    out = []
    for _ in range(count):
        size = rng.randint(100 * 1024, 480 * 1024) if rng.random() < 0.065 else small_size(rng)
        out.append(("INBOX" if rng.random() < 0.8 else "Sent", size))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mail-root", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--big", type=int)
    ap.add_argument("--incremental", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    owner = (int(os.environ.get("IMAPFIX_UID", "65534")), int(os.environ.get("IMAPFIX_GID", "65534")))
    top = os.path.join(a.mail_root, a.user, "Maildir")
    os.makedirs(top, exist_ok=True)
    seed.ensure_maildir(top, owner, top, False, "")
    if a.incremental:
        rng = random.Random("bench-incr/%s/%d" % (a.user, a.seed))
        items = plan_incremental(rng, a.incremental)
        base = 10_000_000
    else:
        rng = random.Random("bench/%s/%d" % (a.user, a.seed))
        big = a.big if a.big is not None else max(1, a.count // 1000)
        items = plan(rng, a.count, min(big, a.count))
        base = 0
    host = socket.gethostname().replace("/", "_").replace(":", "_")
    made = set()
    total = 0
    for i, (folder, size) in enumerate(items):
        path = seed.folder_dir(top, folder, False, "/")
        if folder not in made:
            seed.ensure_maildir(path, owner, top, False, folder)
            made.add(folder)
        data, mtime = seed.make_message(rng, base + i, size, a.user)
        seed.write_msg(path, data, mtime, seed.pick_flags(rng, "random"), host)
        total += len(data)
    seed.chown_tree(os.path.join(a.mail_root, a.user), owner)
    print(len(items), total)


if __name__ == "__main__":
    main()
