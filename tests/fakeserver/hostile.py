#!/usr/bin/env python3
"""hostile.py - a stateful IMAP source server that misbehaves on purpose.

Real servers (tests/fixtures/) cover correct behaviour and fakeimap.py plays
fixed scripts; this one serves a real mailbox (one folder, INBOX) from a
directory of message files to any number of clients, and can be told to
misbehave in ways Dovecot never will, so tests can prove the client neither
loses nor silently alters mail.

Usage: hostile.py --maildir DIR --port-file F --log F
                  [--user U --password P] [--seed S] [--mode MODE ...]
       hostile.py --self-test

  DIR holds *.eml files, one message each, served byte for byte.  UIDs go
  in sorted filename order from 1; files that appear later get the next
  UIDs (the directory is rescanned on SELECT/EXAMINE/STATUS), so UIDs stay
  stable for the life of the process.  INTERNALDATE is the file's mtime,
  "+0000".  UIDVALIDITY is 1234.

  Listens on 127.0.0.1 on a free port (written atomically to --port-file),
  one thread per connection, until killed.  Every byte received from any
  client is appended to --log.  Without --user/--password any login works.

  Commands: CAPABILITY NOOP LOGOUT LOGIN NAMESPACE LIST LSUB STATUS SELECT
  EXAMINE CLOSE UNSELECT, UID SEARCH ALL, FETCH and UID FETCH with UID FLAGS
  INTERNALDATE RFC822.SIZE RFC822 RFC822.HEADER RFC822.TEXT FAST
  BODY[]/BODY.PEEK[] (also HEADER, TEXT, HEADER.FIELDS (...),
  HEADER.FIELDS.NOT (...), and <partial>); anything else is BAD.  BINARY.*
  is BAD unless --mode binary.

  Modes (repeatable, combinable):
    no-body:UID         a body fetch including UID answers the other UIDs,
                        then "NO [UNAVAILABLE] try later"; never UID itself
    no-body-once:UID    the same, the first such fetch only (per process)
    omit:UID[:N]        FETCH responses leave UID out the first N commands
                        that include it (default: always); still OK
    omit-body:UID[:N]   the same, counting and hitting only body fetches
    shuffle             FETCH responses of one command in random order
                        (random.Random(--seed))
    lie-size:UID:N      RFC822.SIZE of UID says N; bodies stay true
    stray-uid:N         a FETCH asking RFC822.SIZE or INTERNALDATE also gets
                        "* 99 FETCH (UID N FLAGS ())" for a UID that does
                        not exist
    drop-at:BYTES       the first connection is closed after BYTES bytes
                        have been sent on it
    binary              offer BINARY: BINARY[]/BINARY.PEEK[] send the
                        stored bytes as literal8, BINARY.SIZE[] the size
"""
import argparse
import os
import random
import re
import socket
import sys
import threading
import time

UIDVALIDITY = 1234
CAPS = "IMAP4rev1 LITERAL+ UIDPLUS NAMESPACE"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


class Bad(Exception):
    """Answer the command with tagged BAD."""


class Drop(Exception):
    """The connection is to be (or was) closed."""


# --- the mailbox --------------------------------------------------------

class Message:
    def __init__(self, uid, path):
        self.uid = uid
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        self.mtime = int(os.stat(path).st_mtime)

    def internaldate(self):
        t = time.gmtime(self.mtime)
        return "%02d-%s-%04d %02d:%02d:%02d +0000" % (
            t.tm_mday, MONTHS[t.tm_mon - 1], t.tm_year,
            t.tm_hour, t.tm_min, t.tm_sec)

    def header(self):
        """Up to and including the first empty line (CRLF or bare LF)."""
        d = self.data
        ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n")
                for i in [d.find(sep)] if i >= 0]
        return d[:min(ends)] if ends else d

    def text(self):
        return self.data[len(self.header()):]

    def header_fields(self, names, negate):
        """The named fields' lines (continuations kept), then CRLF."""
        want = {n.lower() for n in names}
        out = []
        keep = False
        for line in self.header().splitlines(keepends=True):
            if line in (b"\r\n", b"\n"):
                break
            if line[:1] in (b" ", b"\t"):
                if keep:
                    out.append(line)
                continue
            name = line.split(b":", 1)[0].strip().lower()
            keep = (name in want) != negate
            if keep:
                out.append(line)
        return b"".join(out) + b"\r\n"


class Mailbox:
    """The folder, shared by all connections; UIDs stable for the process."""

    def __init__(self, d):
        self.dir = d
        self.lock = threading.Lock()
        self.uid_of = {}      # filename -> uid
        self.next_uid = 1
        self.msgs = []
        self.rescan()

    def rescan(self):
        with self.lock:
            names = sorted(n for n in os.listdir(self.dir)
                           if n.endswith(".eml"))
            for n in names:
                if n not in self.uid_of:
                    self.uid_of[n] = self.next_uid
                    self.next_uid += 1
            msgs = [Message(self.uid_of[n], os.path.join(self.dir, n))
                    for n in names]
            msgs.sort(key=lambda m: m.uid)
            self.msgs = msgs
            return list(msgs), self.next_uid


# --- modes --------------------------------------------------------------

class Modes:
    def __init__(self, specs, seed):
        self.no_body = set()
        self.no_body_once = set()
        self.omit = {}        # uid -> N (None: always)
        self.omit_body = {}
        self.lie = {}
        self.stray = []
        self.drop_at = None
        self.shuffle = False
        self.binary = False
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.omitted = {}     # uid -> times left out so far
        self.connections = 0
        for s in specs:
            p = s.split(":")
            try:
                if p[0] == "no-body" and len(p) == 2:
                    self.no_body.add(int(p[1]))
                elif p[0] == "no-body-once" and len(p) == 2:
                    self.no_body_once.add(int(p[1]))
                elif p[0] == "omit" and len(p) in (2, 3):
                    self.omit[int(p[1])] = int(p[2]) if len(p) == 3 else None
                elif p[0] == "omit-body" and len(p) in (2, 3):
                    self.omit_body[int(p[1])] = int(p[2]) if len(p) == 3 else None
                elif p[0] == "shuffle" and len(p) == 1:
                    self.shuffle = True
                elif p[0] == "lie-size" and len(p) == 3:
                    self.lie[int(p[1])] = int(p[2])
                elif p[0] == "stray-uid" and len(p) == 2:
                    self.stray.append(int(p[1]))
                elif p[0] == "drop-at" and len(p) == 2:
                    self.drop_at = int(p[1])
                elif p[0] == "binary" and len(p) == 1:
                    self.binary = True
                else:
                    raise ValueError
            except ValueError:
                raise SystemExit("hostile.py: bad --mode %r" % s)

    def caps(self):
        return CAPS + (" BINARY" if self.binary else "")

    def omit_now(self, uid, body):
        """Called once per FETCH command that includes uid."""
        return self._omit(self.omit, uid, uid) or \
            (body and self._omit(self.omit_body, uid, ("body", uid)))

    def _omit(self, table, uid, key):
        if uid not in table:
            return False
        with self.lock:
            n = self.omitted.get(key, 0)
            lim = table[uid]
            if lim is not None and n >= lim:
                return False
            self.omitted[key] = n + 1
            return True

    def refuse_body(self, uid):
        if uid in self.no_body:
            return True
        with self.lock:
            if uid in self.no_body_once:
                self.no_body_once.discard(uid)
                return True
        return False


# --- parsing ------------------------------------------------------------

class Lit(bytes):
    """A string that came as a literal."""


class Quoted(bytes):
    """A string that came quoted."""


def tokenize(buf, lits):
    """buf: the command with literal bytes inline; lits: {start: length}.
    Returns a list of tokens: bytes (atom), Quoted, Lit, list."""
    pos = 0
    n = len(buf)

    def parse_list(pos, close):
        out = []
        while True:
            while pos < n and buf[pos:pos + 1] == b" ":
                pos += 1
            if pos >= n:
                if close:
                    raise Bad("unterminated list")
                return out, pos
            c = buf[pos:pos + 1]
            if c == b")":
                if not close:
                    raise Bad("unexpected )")
                return out, pos + 1
            if c == b"(":
                sub, pos = parse_list(pos + 1, True)
                out.append(sub)
            elif c == b'"':
                s = bytearray()
                pos += 1
                while True:
                    if pos >= n:
                        raise Bad("unterminated quoted string")
                    ch = buf[pos:pos + 1]
                    if ch == b"\\":
                        if pos + 1 >= n:
                            raise Bad("bad escape")
                        s += buf[pos + 1:pos + 2]
                        pos += 2
                    elif ch == b'"':
                        pos += 1
                        break
                    else:
                        s += ch
                        pos += 1
                out.append(Quoted(bytes(s)))
            elif c in (b"{", b"~"):
                m = re.compile(rb"~?\{(\d+)\+?\}").match(buf, pos)
                if not m or m.end() not in lits:
                    raise Bad("bad literal")
                ln = lits[m.end()]
                out.append(Lit(buf[m.end():m.end() + ln]))
                pos = m.end() + ln
            else:
                start = pos
                depth = 0
                while pos < n:
                    ch = buf[pos:pos + 1]
                    if ch == b"[":
                        depth += 1
                    elif ch == b"]":
                        depth -= 1
                    elif depth == 0 and ch in (b" ", b"(", b")"):
                        break
                    pos += 1
                if depth != 0:
                    raise Bad("unbalanced [")
                out.append(bytes(buf[start:pos]))

    toks, _ = parse_list(0, False)
    return toks


def astring(t):
    if isinstance(t, list):
        raise Bad("expected a string")
    return bytes(t)


def parse_set(s, maxval, is_uid):
    """A sequence set -> predicate list of (lo, hi)."""
    ranges = []
    for part in s.split(b","):
        if not part:
            raise Bad("bad set")
        ends = part.split(b":")
        if len(ends) > 2:
            raise Bad("bad set")
        vals = []
        for e in ends:
            if e == b"*":
                vals.append(maxval)
            elif e.isdigit() and int(e) > 0:
                vals.append(int(e))
            else:
                raise Bad("bad set")
        if not is_uid and max(vals) > maxval:
            raise Bad("invalid message sequence number")
        ranges.append((min(vals), max(vals)))
    return ranges


# --- a connection -------------------------------------------------------

class Session:
    def __init__(self, srv, conn, index):
        self.srv = srv
        self.conn = conn
        self.index = index
        self.buf = b""
        self.sent = 0
        self.state = "nonauth"
        self.view = []          # the selected folder's messages
        self.readonly = False

    # -- I/O
    def recv(self):
        d = self.conn.recv(65536)
        if not d:
            raise Drop
        self.srv.log_bytes(d)
        self.buf += d

    def readline(self):
        while b"\n" not in self.buf:
            self.recv()
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def readn(self, n):
        while len(self.buf) < n:
            self.recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        lim = self.srv.modes.drop_at
        if lim is not None and self.index == 0:
            if self.sent + len(data) >= lim:
                part = data[:max(0, lim - self.sent)]
                try:
                    self.conn.sendall(part)
                finally:
                    self.sent += len(part)
                raise Drop
        self.conn.sendall(data)
        self.sent += len(data)

    def line(self, s):
        self.send((s if isinstance(s, bytes) else s.encode()) + b"\r\n")

    def read_command(self):
        """One command: its text with literals inline, and their places."""
        buf = b""
        lits = {}
        while True:
            line = self.readline()
            buf += line
            m = re.search(rb"~?\{(\d+)(\+?)\}$", line)
            if not m:
                return buf, lits
            n = int(m.group(1))
            if not m.group(2):
                self.line("+ Ready for literal data")
            lits[len(buf)] = n
            buf += self.readn(n)

    # -- the loop
    def run(self):
        self.line("* OK [CAPABILITY %s] hostile ready" % self.srv.modes.caps())
        while True:
            cmd, lits = self.read_command()
            tag = cmd.split(b" ", 1)[0] if cmd else b"*"
            try:
                toks = tokenize(cmd, lits)
                if len(toks) < 2 or isinstance(toks[0], list) or \
                        isinstance(toks[1], list) or \
                        not isinstance(toks[0], bytes) or \
                        type(toks[0]) is not bytes:
                    raise Bad("missing command")
                tag = toks[0]
                name = bytes(toks[1]).upper()
                args = toks[2:]
                if name == b"UID":
                    if not args or isinstance(args[0], list):
                        raise Bad("UID what?")
                    sub = bytes(args[0]).upper()
                    if sub not in (b"FETCH", b"SEARCH"):
                        raise Bad("UID %s not supported" % sub.decode(errors="replace"))
                    name = b"UID " + sub
                    args = args[1:]
                h = self.HANDLERS.get(name)
                if h is None:
                    raise Bad("unknown command")
                if name not in (b"CAPABILITY", b"NOOP", b"LOGOUT", b"LOGIN") \
                        and self.state == "nonauth":
                    raise Bad("log in first")
                if name in (b"CLOSE", b"UNSELECT", b"UID SEARCH", b"FETCH",
                            b"UID FETCH") and self.state != "selected":
                    raise Bad("no folder selected")
                if h(self, tag, args) == "logout":
                    return
            except Bad as e:
                self.line(tag + b" BAD " + str(e).encode())

    # -- commands
    def c_capability(self, tag, args):
        self.line("* CAPABILITY " + self.srv.modes.caps())
        self.line(tag + b" OK CAPABILITY completed")

    def c_noop(self, tag, args):
        self.line(tag + b" OK NOOP completed")

    def c_logout(self, tag, args):
        self.line("* BYE hostile logging out")
        self.line(tag + b" OK LOGOUT completed")
        return "logout"

    def c_login(self, tag, args):
        if len(args) != 2:
            raise Bad("LOGIN needs a user and a password")
        user, pw = astring(args[0]), astring(args[1])
        if self.state != "nonauth":
            raise Bad("already logged in")
        want = self.srv.creds
        if want is not None and (user, pw) != want:
            self.line(tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.")
            return
        self.state = "auth"
        self.line(tag + b" OK [CAPABILITY " + self.srv.modes.caps().encode() +
                  b"] Logged in")

    def c_namespace(self, tag, args):
        self.line('* NAMESPACE (("" "/")) NIL NIL')
        self.line(tag + b" OK NAMESPACE completed")

    @staticmethod
    def _matches(pattern, name):
        rx = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c)
                     for c in pattern)
        return re.fullmatch(rx, name, re.I) is not None

    def _list(self, tag, args, word):
        if len(args) < 2:
            raise Bad("%s needs a reference and a pattern" % word)
        ref, pat = astring(args[0]).decode(errors="replace"), \
            astring(args[1]).decode(errors="replace")
        if pat == "":
            self.line('* %s (\\Noselect) "/" ""' % word)
        elif self._matches(ref + pat, "INBOX"):
            self.line('* %s () "/" INBOX' % word)
        self.line(tag + (" OK %s completed" % word).encode())

    def c_list(self, tag, args):
        self._list(tag, args, "LIST")

    def c_lsub(self, tag, args):
        self._list(tag, args, "LSUB")

    def c_status(self, tag, args):
        if len(args) != 2 or not isinstance(args[1], list):
            raise Bad("STATUS needs a mailbox and items")
        if astring(args[0]).upper() != b"INBOX":
            self.line(tag + b" NO [NONEXISTENT] Mailbox doesn't exist")
            return
        msgs, nxt = self.srv.box.rescan()
        vals = {b"MESSAGES": len(msgs), b"RECENT": 0, b"UIDNEXT": nxt,
                b"UIDVALIDITY": UIDVALIDITY, b"UNSEEN": len(msgs)}
        out = []
        for it in args[1]:
            k = astring(it).upper()
            if k not in vals:
                raise Bad("unknown STATUS item")
            out.append(b"%s %d" % (k, vals[k]))
        self.line(b"* STATUS INBOX (" + b" ".join(out) + b")")
        self.line(tag + b" OK STATUS completed")

    def _select(self, tag, args, readonly):
        if len(args) != 1:
            raise Bad("SELECT needs one mailbox")
        self.state = "auth"
        self.view = []
        if astring(args[0]).upper() != b"INBOX":
            self.line(tag + b" NO [NONEXISTENT] Mailbox doesn't exist")
            return
        msgs, nxt = self.srv.box.rescan()
        self.view = msgs
        self.readonly = readonly
        self.state = "selected"
        self.line("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
        self.line("* OK [PERMANENTFLAGS ()] No permanent flags permitted")
        self.line("* %d EXISTS" % len(msgs))
        self.line("* 0 RECENT")
        self.line("* OK [UIDVALIDITY %d] UIDs valid" % UIDVALIDITY)
        self.line("* OK [UIDNEXT %d] Predicted next UID" % nxt)
        self.line(tag + (b" OK [READ-ONLY] EXAMINE completed" if readonly
                         else b" OK [READ-WRITE] SELECT completed"))

    def c_select(self, tag, args):
        self._select(tag, args, False)

    def c_examine(self, tag, args):
        self._select(tag, args, True)

    def c_close(self, tag, args):
        self.state = "auth"
        self.view = []
        self.line(tag + b" OK CLOSE completed")

    c_unselect = c_close

    def c_uid_search(self, tag, args):
        if len(args) != 1 or astring(args[0]).upper() != b"ALL":
            raise Bad("only UID SEARCH ALL is supported")
        self.line(b"* SEARCH" + b"".join(b" %d" % m.uid for m in self.view))
        self.line(tag + b" OK SEARCH completed")

    def c_fetch(self, tag, args):
        self._fetch(tag, args, False)

    def c_uid_fetch(self, tag, args):
        self._fetch(tag, args, True)

    # -- FETCH
    def _items(self, spec, is_uid):
        """The requested items as (kind, request-atom) in order."""
        if isinstance(spec, list):
            raw = spec
        else:
            raw = [spec]
        items = []
        for t in raw:
            if isinstance(t, list) or type(t) is not bytes:
                raise Bad("bad fetch item")
            u = t.upper()
            if u == b"FAST":
                items += [(b"FLAGS", b"FLAGS"), (b"INTERNALDATE", b"INTERNALDATE"),
                          (b"RFC822.SIZE", b"RFC822.SIZE")]
            elif u in (b"UID", b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE",
                       b"RFC822", b"RFC822.HEADER", b"RFC822.TEXT"):
                items.append((u, t))
            elif re.match(rb"(?i)BODY(\.PEEK)?\[", t):
                items.append((b"BODY", t))
            elif re.match(rb"(?i)BINARY(\.PEEK|\.SIZE)?\[", t):
                if not self.srv.modes.binary:
                    raise Bad("BINARY not supported (no BINARY capability)")
                items.append((b"BINARY.SIZE" if u.startswith(b"BINARY.SIZE")
                              else b"BINARY", t))
            else:
                raise Bad("unsupported fetch item %s" % t.decode(errors="replace"))
        if is_uid and not any(k == b"UID" for k, _ in items):
            items.insert(0, (b"UID", b"UID"))
        # UID first, always
        items.sort(key=lambda kt: 0 if kt[0] == b"UID" else 1)
        return items

    @staticmethod
    def _is_body(kind, atom):
        if kind in (b"RFC822", b"RFC822.TEXT", b"BINARY"):
            return True
        if kind == b"BODY":
            sec = atom[atom.index(b"[") + 1:atom.rindex(b"]")].upper()
            return not sec.startswith(b"HEADER")
        return False

    @staticmethod
    def _section(m, atom):
        """BODY[...]/BINARY[...] request atom -> (response key, bytes)."""
        i, j = atom.index(b"["), atom.rindex(b"]")
        sec = atom[i + 1:j]
        partial = atom[j + 1:]
        su = sec.upper()
        if su == b"":
            data = m.data
        elif su == b"HEADER":
            data = m.header()
        elif su == b"TEXT":
            data = m.text()
        elif su.startswith(b"HEADER.FIELDS"):
            mm = re.fullmatch(rb"(?is)HEADER\.FIELDS(\.NOT)? \((.*)\)", sec)
            if not mm:
                raise Bad("bad HEADER.FIELDS")
            names = mm.group(2).split()
            data = m.header_fields(names, bool(mm.group(1)))
        else:
            raise Bad("unsupported section")
        base = atom[:i].upper()
        base = b"BINARY" if base.startswith(b"BINARY") else b"BODY"
        key = base + b"[" + sec + b"]"
        if partial:
            mm = re.fullmatch(rb"<(\d+)\.(\d+)>", partial)
            if not mm:
                raise Bad("bad partial")
            o, ln = int(mm.group(1)), int(mm.group(2))
            data = data[o:o + ln]
            key += b"<%d>" % o
        return key, data

    def _response(self, seq, m, items):
        modes = self.srv.modes
        out = [b"* %d FETCH (" % seq]
        first = True
        for kind, atom in items:
            if not first:
                out.append(b" ")
            first = False
            if kind == b"UID":
                out.append(b"UID %d" % m.uid)
            elif kind == b"FLAGS":
                out.append(b"FLAGS ()")
            elif kind == b"INTERNALDATE":
                out.append(b'INTERNALDATE "%s"' % m.internaldate().encode())
            elif kind == b"RFC822.SIZE":
                out.append(b"RFC822.SIZE %d" % modes.lie.get(m.uid, len(m.data)))
            elif kind in (b"RFC822", b"RFC822.HEADER", b"RFC822.TEXT"):
                data = {b"RFC822": m.data, b"RFC822.HEADER": m.header(),
                        b"RFC822.TEXT": m.text()}[kind]
                out.append(kind + b" {%d}\r\n" % len(data) + data)
            elif kind == b"BINARY.SIZE":
                key, data = self._section(m, atom)
                out.append(key.replace(b"BINARY[", b"BINARY.SIZE[", 1) +
                           b" %d" % len(data))
            elif kind == b"BINARY":
                key, data = self._section(m, atom)
                out.append(key + b" ~{%d}\r\n" % len(data) + data)
            else:
                key, data = self._section(m, atom)
                out.append(key + b" {%d}\r\n" % len(data) + data)
        out.append(b")\r\n")
        return b"".join(out)

    def _fetch(self, tag, args, is_uid):
        if len(args) < 2 or isinstance(args[0], list):
            raise Bad("FETCH needs a set and items")
        if len(args) > 2:
            raise Bad("FETCH modifiers not supported")
        items = self._items(args[1], is_uid)
        modes = self.srv.modes
        view = self.view
        if is_uid:
            ranges = parse_set(bytes(args[0]), view[-1].uid if view else 0, True)
            sel = [(i + 1, m) for i, m in enumerate(view)
                   if any(lo <= m.uid <= hi for lo, hi in ranges)]
        else:
            if not view:
                raise Bad("no messages")
            ranges = parse_set(bytes(args[0]), len(view), False)
            sel = [(i + 1, m) for i, m in enumerate(view)
                   if any(lo <= i + 1 <= hi for lo, hi in ranges)]
        # build every response first, so a BAD leaves nothing half sent
        resps = []
        refused = False
        wants_body = any(self._is_body(k, a) for k, a in items)
        for seq, m in sel:
            if modes.omit_now(m.uid, wants_body):
                continue
            if wants_body and modes.refuse_body(m.uid):
                refused = True
                continue
            resps.append(self._response(seq, m, items))
        if any(k in (b"RFC822.SIZE", b"INTERNALDATE") for k, _ in items):
            for u in modes.stray:
                resps.append(b"* 99 FETCH (UID %d FLAGS ())\r\n" % u)
        if modes.shuffle:
            with modes.lock:
                modes.rng.shuffle(resps)
        for r in resps:
            self.send(r)
        if refused:
            self.line(tag + b" NO [UNAVAILABLE] try later")
        else:
            self.line(tag + b" OK FETCH completed")

    HANDLERS = {
        b"CAPABILITY": c_capability, b"NOOP": c_noop, b"LOGOUT": c_logout,
        b"LOGIN": c_login, b"NAMESPACE": c_namespace, b"LIST": c_list,
        b"LSUB": c_lsub, b"STATUS": c_status, b"SELECT": c_select,
        b"EXAMINE": c_examine, b"CLOSE": c_close, b"UNSELECT": c_unselect,
        b"UID SEARCH": c_uid_search, b"FETCH": c_fetch,
        b"UID FETCH": c_uid_fetch,
    }


# --- the server ---------------------------------------------------------

class Server:
    def __init__(self, maildir, log, modes, creds=None):
        self.box = Mailbox(maildir)
        self.log = open(log, "ab") if isinstance(log, str) else log
        self.log_lock = threading.Lock()
        self.modes = modes
        self.creds = creds
        self.count_lock = threading.Lock()
        self.nconn = 0
        self.ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]

    def log_bytes(self, d):
        with self.log_lock:
            self.log.write(d)
            self.log.flush()

    def serve_forever(self):
        while True:
            try:
                conn, _ = self.ls.accept()
            except OSError:
                return
            with self.count_lock:
                idx = self.nconn
                self.nconn += 1
            threading.Thread(target=self.handle, args=(conn, idx),
                             daemon=True).start()

    def start(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self):
        try:
            self.ls.close()
        except OSError:
            pass

    def handle(self, conn, idx):
        conn.settimeout(120)
        s = Session(self, conn, idx)
        try:
            s.run()
        except (Drop, EOFError, OSError):
            pass
        except Exception as e:  # a bug here must not look like a hang
            print("hostile.py: connection %d: %r" % (idx, e), file=sys.stderr)
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="hostile IMAP source server")
    ap.add_argument("--maildir")
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", action="append", nargs="+", default=[])
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    if not (a.maildir and a.port_file and a.log):
        ap.error("--maildir, --port-file and --log are required")
    if (a.user is None) != (a.password is None):
        ap.error("--user and --password go together")
    modes = Modes([m for ms in a.mode for m in ms], a.seed)
    creds = (a.user.encode(), a.password.encode()) if a.user is not None else None
    srv = Server(a.maildir, a.log, modes, creds)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.port))
    os.rename(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


# --- self-test ----------------------------------------------------------

class RawClient:
    """Just enough of a client to see the exact responses."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.n = 0
        self.greeting = self.readline()

    def readline(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def readn(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def response(self):
        """One response line with its literals: (text, [literal bytes])."""
        text, lits = b"", []
        while True:
            line = self.readline()
            text += line
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return text, lits
            lits.append(self.readn(int(m.group(1))))

    def cmd(self, c):
        """Returns ([untagged (text, lits)], tagged line)."""
        self.n += 1
        tag = b"t%d" % self.n
        self.s.sendall(tag + b" " + c + b"\r\n")
        out = []
        while True:
            text, lits = self.response()
            if text.startswith(tag + b" "):
                return out, text
            out.append((text, lits))

    def close(self):
        self.s.close()


def fetch_uids(untagged):
    out = []
    for text, lits in untagged:
        m = re.match(rb"\* \d+ FETCH \(UID (\d+)", text)
        if m:
            out.append(int(m.group(1)))
    return out


def self_test():
    import imaplib
    import shutil
    import tempfile

    tmp = tempfile.mkdtemp(prefix="hostile.")
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print("%s %s%s" % ("PASS" if ok else "FAIL", name,
                           "" if ok or not detail else ": " + str(detail)))

    try:
        md = os.path.join(tmp, "md")
        os.mkdir(md)
        bodies = [
            b"From: a@x.org\r\nSubject: one\r\nMessage-ID: <1@x>\r\n"
            b"Content-Transfer-Encoding: 7bit\r\n\r\nbody one\r\n",
            b"From: b@x.org\r\nSubject: two,\r\n folded\r\nMessage-ID: <2@x>\r\n"
            b"X-Nul: a\x00b\r\n\r\nbody\rtwo with bare CR\x00 and NUL\r\n",
            b"From: c@x.org\nSubject: three bare LF\nMessage-ID: <3@x>\n\nbody three\n",
        ]
        for i, b in enumerate(bodies):
            p = os.path.join(md, "%02d.eml" % (i + 1))
            with open(p, "wb") as f:
                f.write(b)
            os.utime(p, (1600000000 + i * 86400, 1600000000 + i * 86400))
        pw = 'p"w\\d'
        log = os.path.join(tmp, "log")

        def server(*modes, seed=1):
            return Server(md, log, Modes(list(modes), seed),
                          (b"user", pw.encode())).start()

        def login(port):
            c = RawClient(port)
            c.n += 1
            c.s.sendall(b"t%d LOGIN user {%d+}\r\n%s\r\n" % (c.n, len(pw), pw.encode()))
            t = c.readline()
            if not t.startswith(b"t%d OK" % c.n):
                raise AssertionError("login: %r" % t)
            c.cmd(b"SELECT INBOX")
            return c

        # --- the normal path through imaplib
        srv = server()
        try:
            M = imaplib.IMAP4("127.0.0.1", srv.port)
            check("greeting", b"LITERAL+" in M.welcome and b"hostile ready" in M.welcome,
                  M.welcome)
            M.literal = pw.encode()            # sent as a synchronizing literal
            typ, dat = M._simple_command("LOGIN", "user")
            check("LOGIN with a synchronizing literal", typ == "OK", (typ, dat))
            M.state = "AUTH"
            typ, dat = M.select("INBOX")
            check("SELECT", typ == "OK" and dat == [b"3"], (typ, dat))
            check("UIDVALIDITY/UIDNEXT",
                  M.untagged_responses.get("UIDVALIDITY") == [b"1234"] and
                  M.untagged_responses.get("UIDNEXT") == [b"4"],
                  M.untagged_responses)
            typ, dat = M.uid("FETCH", "1:*", "(UID RFC822.SIZE BODY.PEEK[])")
            got = [d[1] for d in dat if isinstance(d, tuple)]
            sizes = [int(re.search(rb"RFC822\.SIZE (\d+)", d[0]).group(1))
                     for d in dat if isinstance(d, tuple)]
            check("UID FETCH 1:* bodies byte-identical",
                  typ == "OK" and got == bodies, (typ, dat))
            check("RFC822.SIZE true", sizes == [len(b) for b in bodies], sizes)
            typ, dat = M.uid("SEARCH", None, "ALL")
            check("UID SEARCH ALL", typ == "OK" and dat == [b"1 2 3"], dat)
            M.logout()
        except Exception as e:
            check("imaplib session", False, repr(e))

        # --- the details, raw
        try:
            c = RawClient(srv.port)
            c.n += 1
            c.s.sendall(b"t1 LOGIN {4}\r\n")
            cont = c.readline()
            c.s.sendall(b"user {%d+}\r\n%s\r\n" % (len(pw), pw.encode()))
            t = c.readline()
            check("LOGIN with a synchronizing and a LITERAL+ literal",
                  cont.startswith(b"+") and t.startswith(b"t1 OK"), (cont, t))
            u, t = c.cmd(b'LIST "" "*"')
            check('LIST "" "*"', u == [(b'* LIST () "/" INBOX', [])] and b"OK" in t, u)
            u, t = c.cmd(b'LIST "" ""')
            check('LIST "" ""', u == [(b'* LIST (\\Noselect) "/" ""', [])], u)
            u, t = c.cmd(b"NAMESPACE")
            check("NAMESPACE", u == [(b'* NAMESPACE (("" "/")) NIL NIL', [])], u)
            u, t = c.cmd(b"STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)")
            check("STATUS", u and u[0][0] == b"* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1234)", u)
            u, t = c.cmd(b"FOO")
            check("unknown command BAD", t.startswith(b"t%d BAD" % c.n), t)
            c.cmd(b"EXAMINE INBOX")
            u, t = c.cmd(b"UID FETCH 7:* (UID FLAGS)")
            check("UID n:* above the highest gives the highest",
                  fetch_uids(u) == [3] and b"OK" in t, u)
            u, t = c.cmd(b"UID FETCH 1,3 (FLAGS INTERNALDATE)")
            check("UID FETCH comma list, UID first, date",
                  [x[0] for x in u] == [
                      b'* 1 FETCH (UID 1 FLAGS () INTERNALDATE "13-Sep-2020 12:26:40 +0000")',
                      b'* 3 FETCH (UID 3 FLAGS () INTERNALDATE "15-Sep-2020 12:26:40 +0000")'], u)
            u, t = c.cmd(b"UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (Message-ID SUBJECT)])")
            want = [b"Subject: one\r\nMessage-ID: <1@x>\r\n\r\n",
                    b"Subject: two,\r\n folded\r\nMessage-ID: <2@x>\r\n\r\n",
                    b"Subject: three bare LF\nMessage-ID: <3@x>\n\r\n"]
            check("HEADER.FIELDS (echoed list, folded lines kept)",
                  [x[1][0] for x in u] == want and
                  all(b"BODY[HEADER.FIELDS (Message-ID SUBJECT)] {" in x[0] for x in u), u)
            u, t = c.cmd(b"FETCH 2 (BODY.PEEK[HEADER])")
            check("BODY[HEADER]", u and u[0][1] == [bodies[1][:bodies[1].index(b"\r\n\r\n") + 4]], u)
            u, t = c.cmd(b"FETCH * (UID BODY[])")
            check("FETCH * (sequence)", u and u[0][1] == [bodies[2]] and
                  u[0][0].startswith(b"* 3 FETCH (UID 3 BODY[] {"), u)
            u, t = c.cmd(b"UID FETCH 1 (BINARY.PEEK[])")
            check("BINARY without the capability is BAD", t.startswith(b"t%d BAD" % c.n), t)
            u, t = c.cmd(b"FETCH 9 (UID)")
            check("FETCH beyond EXISTS is BAD", t.startswith(b"t%d BAD" % c.n), t)
            c.cmd(b"LOGOUT")
            c.close()
            with open(log, "rb") as f:
                check("log has the client's bytes", b"t1 LOGIN {4}\r\nuser {" in f.read())
        except Exception as e:
            check("raw session", False, repr(e))
        srv.stop()

        # --- the modes
        def mode_check(name, fn, *modes, **kw):
            s = server(*modes, **kw)
            try:
                fn(s)
            except Exception as e:
                check(name, False, repr(e))
            finally:
                s.stop()

        body_cmd = b"UID FETCH 1:3 (UID BODY.PEEK[])"

        def t_nobody(s):
            c = login(s.port)
            u, t = c.cmd(body_cmd)
            u2, t2 = c.cmd(body_cmd)
            u3, t3 = c.cmd(b"UID FETCH 1:* (UID RFC822.SIZE)")
            check("no-body:2", fetch_uids(u) == [1, 3] and
                  t.endswith(b"NO [UNAVAILABLE] try later") and
                  fetch_uids(u2) == [1, 3] and b" NO " in t2 and
                  fetch_uids(u3) == [1, 2, 3] and b" OK " in t3, (u, t, t2, t3))
        mode_check("no-body:2", t_nobody, "no-body:2")

        def t_nobody_once(s):
            c = login(s.port)
            u, t = c.cmd(body_cmd)
            u2, t2 = c.cmd(body_cmd)
            check("no-body-once:2", fetch_uids(u) == [1, 3] and b" NO [UNAVAILABLE]" in t and
                  fetch_uids(u2) == [1, 2, 3] and b" OK " in t2 and
                  [x[1][0] for x in u2] == bodies, (u, t, u2, t2))
        mode_check("no-body-once:2", t_nobody_once, "no-body-once:2")

        def t_omit(s):
            c = login(s.port)
            u, t = c.cmd(b"UID FETCH 1:* (UID FLAGS RFC822.SIZE)")
            u2, t2 = c.cmd(body_cmd)
            u3, t3 = c.cmd(body_cmd)
            check("omit:1:2", fetch_uids(u) == [2, 3] and b" OK " in t and
                  fetch_uids(u2) == [2, 3] and b" OK " in t2 and
                  fetch_uids(u3) == [1, 2, 3], (u, u2, u3))
        mode_check("omit:1:2", t_omit, "omit:1:2")

        def t_omit_always(s):
            c = login(s.port)
            ok = True
            for _ in range(4):
                u, t = c.cmd(body_cmd)
                ok = ok and fetch_uids(u) == [1, 2] and b" OK " in t
            check("omit:3 (always)", ok, u)
        mode_check("omit:3 (always)", t_omit_always, "omit:3")

        def t_omit_body(s):
            c = login(s.port)
            u, t = c.cmd(b"UID FETCH 1:* (UID FLAGS RFC822.SIZE)")
            u2, t2 = c.cmd(body_cmd)
            u3, t3 = c.cmd(body_cmd)
            check("omit-body:2:1", fetch_uids(u) == [1, 2, 3] and
                  fetch_uids(u2) == [1, 3] and b" OK " in t2 and
                  fetch_uids(u3) == [1, 2, 3], (u, u2, u3))
        mode_check("omit-body:2:1", t_omit_body, "omit-body:2:1")

        def t_shuffle(s):
            c = login(s.port)
            orders = set()
            ok = True
            for _ in range(10):
                u, t = c.cmd(body_cmd)
                orders.add(tuple(fetch_uids(u)))
                ok = ok and sorted(fetch_uids(u)) == [1, 2, 3] and \
                    sorted(x[1][0] for x in u) == sorted(bodies)
            check("shuffle", ok and len(orders) > 1, orders)
        mode_check("shuffle", t_shuffle, "shuffle")

        def t_lie(s):
            c = login(s.port)
            u, t = c.cmd(b"UID FETCH 2 (UID RFC822.SIZE BODY.PEEK[])")
            check("lie-size:2:5", u and b"RFC822.SIZE 5 " in u[0][0] and
                  u[0][1] == [bodies[1]], u)
        mode_check("lie-size:2:5", t_lie, "lie-size:2:5")

        def t_stray(s):
            c = login(s.port)
            u, t = c.cmd(b"UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)")
            u2, t2 = c.cmd(body_cmd)
            check("stray-uid:77", (b"* 99 FETCH (UID 77 FLAGS ())", []) in u and
                  fetch_uids(u) == [1, 2, 3, 77] and fetch_uids(u2) == [1, 2, 3],
                  (u, u2))
        mode_check("stray-uid:77", t_stray, "stray-uid:77")

        def t_drop(s):
            c = RawClient(s.port)   # connection 0: dropped
            got = len(c.greeting) + 2
            c.s.sendall(b"a LOGIN user {%d+}\r\n%s\r\na SELECT INBOX\r\n"
                        b"b UID FETCH 1:* (BODY.PEEK[])\r\n" % (len(pw), pw.encode()))
            c.s.settimeout(5)
            rest = b""
            try:
                while True:
                    d = c.s.recv(65536)
                    if not d:
                        break
                    rest += d
            except OSError:
                pass
            got += len(c.buf) + len(rest)
            c2 = login(s.port)    # a second connection is not dropped
            u, t = c2.cmd(body_cmd)
            check("drop-at:300", got == 300 and fetch_uids(u) == [1, 2, 3], (got, u))
        mode_check("drop-at:300", t_drop, "drop-at:300")

        def t_binary(s):
            c = login(s.port)
            u, t = c.cmd(b"UID FETCH 2 (UID BINARY.SIZE[] BINARY.PEEK[])")
            check("binary", u and u[0][1] == [bodies[1]] and
                  (b"BINARY.SIZE[] %d BINARY[] ~{" % len(bodies[1])) in u[0][0], u)
        mode_check("binary", t_binary, "binary")

        def t_combined(s):
            c = login(s.port)
            u, t = c.cmd(b"UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE)")
            u2, t2 = c.cmd(body_cmd)
            check("combined no-body:1 omit:3:1 lie-size:2:1",
                  fetch_uids(u) == [1, 2, 77] and b"RFC822.SIZE 1 " in u[1][0] and
                  fetch_uids(u2) == [2, 3] and b" NO " in t2, (u, u2, t2))
        mode_check("combined", t_combined, "no-body:1", "omit:3:1",
                   "lie-size:2:1", "stray-uid:77")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d/%d checks passed" % (sum(results), len(results)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
