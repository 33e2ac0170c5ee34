#!/usr/bin/env python3
"""torture.py OUTDIR [--big]

Writes hand-crafted hard-case messages, one file each, for the byte-for-byte
fidelity test:

  OUTDIR/torture/*.eml        always
  OUTDIR/torture-big/*.eml    only with --big (three messages around 35 MiB)
  OUTDIR/TORTURE.tsv          one row per file written:
      file  sha256  size  nul  line_endings  bare_lf  bare_cr  what
    nul          1 if the file holds a 0x00 byte, else 0
    line_endings crlf | lf | cr | mixed: the kinds of line break in the
                 file (CRLF, bare LF, bare CR); one kind gives its name,
                 more than one gives "mixed"; a file with no line break
                 at all counts as crlf
    bare_lf      number of LF bytes not preceded by CR
    bare_cr      number of CR bytes not followed by LF

Deterministic: the same bytes on every run (no clock, no randomness; the
"random" payloads come from SHA-256 in counter mode).  Stdlib only.

Re-running replaces OUTDIR/torture/ (and OUTDIR/torture-big/ with --big) and
their rows in TORTURE.tsv; rows for other files are kept.

Messages whose name starts with "size-" have exactly the size in their name,
use CRLF everywhere and keep lines under 998 bytes, so that the RFC822.SIZE
an IMAP server reports equals the file size.
"""

import base64
import hashlib
import os
import shutil
import sys

CRLF = b"\r\n"
KIB = 1024
MIB = 1024 * 1024

# ---------------------------------------------------------------- helpers


def prng(seed, n):
    """n deterministic pseudo-random bytes."""
    out = bytearray()
    seed = seed.encode() if isinstance(seed, str) else seed
    ctr = 0
    while len(out) < n:
        out += hashlib.sha256(seed + ctr.to_bytes(8, "big")).digest()
        ctr += 1
    return bytes(out[:n])


def b64(data):
    """base64 in 76-char lines, CRLF-terminated."""
    return base64.encodebytes(data).replace(b"\n", CRLF)


def b64_len(n):
    """Length of b64() output for n input bytes."""
    if n == 0:
        return 0
    chars = (n + 2) // 3 * 4
    lines = (chars + 75) // 76
    return chars + 2 * lines


def crlf(text):
    """str or bytes with \\n line ends -> bytes with CRLF line ends."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return text.replace(b"\r\n", b"\n").replace(b"\n", CRLF)


def nul_binary(seed, n, line=72):
    """n bytes of binary data holding NULs and high bytes but no CR or LF,
    cut into CRLF-terminated lines of at most `line` bytes (so the lines stay
    short; the CTE is still `binary` because of the NULs)."""
    raw = bytearray()
    for b in prng(seed, n):
        if b in (0x0A, 0x0D):
            b = 0x00
        raw.append(b)
    # make sure there are NULs, including a line that starts and ends with one
    raw[0:4] = b"\x00\x00BN"
    raw[-1] = 0
    out = bytearray()
    for i in range(0, len(raw), line):
        out += raw[i:i + line] + CRLF
    return bytes(out)


_counter = [0]


def date_hdr():
    """A fixed, distinct Date per message (deterministic)."""
    _counter[0] += 1
    k = _counter[0]
    return "Mon, %02d Mar 2026 %02d:%02d:%02d +0000" % (
        2 + (k // 3600) % 27, (k // 60) % 24, k % 60, (k * 7) % 60)


def headers(name, subject=None, msgid=True, extra=(), mime=True,
            ctype=None, cte=None, frm=None):
    """Standard header block (bytes, CRLF, without the terminating empty
    line)."""
    h = [
        ("Return-Path", "<sender@torture.imapmig.test>"),
        ("Received", "from mx.torture.imapmig.test (mx.torture.imapmig.test"
                     " [192.0.2.25])\r\n\tby mail.imapmig.test with ESMTP id "
                     + hashlib.sha256(name.encode()).hexdigest()[:12]
                     + ";\r\n\t" + "Mon, 02 Mar 2026 09:59:59 +0000"),
        ("From", frm or "Torture Sender <sender@torture.imapmig.test>"),
        ("To", "Torture Recipient <rcpt@imapmig.test>"),
        ("Subject", subject or ("imapmig torture: " + name)),
        ("Date", date_hdr()),
    ]
    if msgid is True:
        h.append(("Message-ID", "<torture-%s@imapmig.test>" % name))
    elif msgid:
        h.append(("Message-ID", msgid))
    if mime:
        h.append(("MIME-Version", "1.0"))
    if ctype:
        h.append(("Content-Type", ctype))
    if cte:
        h.append(("Content-Transfer-Encoding", cte))
    h.extend(extra)
    out = bytearray()
    for k, v in h:
        v = v.encode("utf-8") if isinstance(v, str) else v
        out += k.encode() + b": " + v + CRLF
    return bytes(out)


def message(name, ctype, cte, body, **kw):
    return headers(name, ctype=ctype, cte=cte, **kw) + CRLF + body


# ------------------------------------------------------------ MIME parts
#
# A part is (headers_bytes, body_bytes, cte); a multipart is built from
# parts.  `cte` is carried so that a container can declare the strongest
# encoding of its contents (binary > 8bit > 7bit).

RANK = {"7bit": 0, "quoted-printable": 0, "base64": 0, "8bit": 1,
        "binary": 2}


def part(ctype, cte, body, extra=b""):
    h = b"Content-Type: " + ctype.encode() + CRLF
    if cte:
        h += b"Content-Transfer-Encoding: " + cte.encode() + CRLF
    h += extra
    return (h, body, cte or "7bit")


def strongest(ctes):
    best = "7bit"
    for c in ctes:
        if RANK.get(c, 0) > RANK[best]:
            best = c
    return best


def multipart(subtype, boundary, parts, params="", preamble=b"",
              epilogue=b""):
    """Returns (content-type value, body bytes, effective cte)."""
    ctype = 'multipart/%s; boundary="%s"%s' % (subtype, boundary, params)
    body = bytearray(preamble)
    for ph, pb, _ in parts:
        body += b"--" + boundary.encode() + CRLF + ph + CRLF + pb
        if not pb.endswith(CRLF):
            body += CRLF
    body += b"--" + boundary.encode() + b"--" + CRLF + epilogue
    cte = strongest(c for _, _, c in parts)
    return ctype, bytes(body), cte


def mp_part(subtype, boundary, parts, params=""):
    ctype, body, cte = multipart(subtype, boundary, parts, params)
    return part(ctype, None if cte == "7bit" else cte, body)


def top_cte(cte):
    return None if cte == "7bit" else cte


# sample bodies for each encoding -------------------------------------

TEXT_7BIT = crlf(
    "Plain 7-bit text.\n"
    "Second line, with trailing spaces.   \n"
    "\tA line starting with a tab.\n"
    "\n"
    "Last line.\n")

TEXT_8BIT = crlf(
    "Raw 8-bit UTF-8 text: Gr\u00fc\u00dfe aus K\u00f6ln, \u00bd \u20ac, "
    "\u65e5\u672c\u8a9e, \U0001F600.\n"
    "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m.\n")

TEXT_QP = crlf(
    "Quoted-printable: Gr=C3=BC=C3=9Fe, =E2=82=AC 5, a=3Db, tab at end=09\n"
    "A long line that is broken with a soft line break so that it stays und=\n"
    "er seventy-six characters per encoded line, then continues here.\n"
    "Trailing space encoded=20\n"
    "=46rom a line that would start with From in mbox.\n"
    "=2E\n")


def enc_body(enc, seed):
    """(content-type, cte, body) for one leaf of the given encoding."""
    if enc == "7bit":
        return "text/plain; charset=us-ascii", "7bit", TEXT_7BIT
    if enc == "8bit":
        return "text/plain; charset=utf-8", "8bit", TEXT_8BIT
    if enc == "binary":
        return ('application/octet-stream; name="%s.bin"' % seed, "binary",
                nul_binary(seed, 700))
    if enc == "base64":
        data = prng(seed, 1500) + b"\x00\x00\x00"
        return ('application/octet-stream; name="%s.dat"' % seed, "base64",
                b64(data))
    if enc == "quoted-printable":
        return "text/plain; charset=utf-8", "quoted-printable", TEXT_QP
    raise ValueError(enc)


def enc_part(enc, seed, disposition=True):
    ct, cte, body = enc_body(enc, seed)
    extra = b""
    if disposition and ct.startswith("application/"):
        extra = (b'Content-Disposition: attachment; filename="' +
                 seed.encode() + (b'.bin"' if enc == "binary" else b'.dat"') +
                 CRLF)
    return part(ct, cte, body, extra)


PNG_B64 = b64(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + prng("png", 600))

ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable"]
ENC_TAG = {"7bit": "7bit", "8bit": "8bit", "binary": "binary-nul",
           "base64": "base64", "quoted-printable": "qp"}

# ------------------------------------------------------------ the cases


class Out:
    def __init__(self, outdir, sub):
        self.dir = os.path.join(outdir, sub)
        self.sub = sub
        self.rows = []

    def add(self, name, data, what):
        assert isinstance(data, (bytes, bytearray)), name
        fn = name + ".eml"
        path = os.path.join(self.dir, fn)
        assert not os.path.exists(path), "duplicate case name " + name
        with open(path, "wb") as f:
            f.write(data)
        self.rows.append(row(self.sub + "/" + fn, data, what))


def line_kinds(data):
    n_crlf = data.count(CRLF)
    bare_lf = data.count(b"\n") - n_crlf
    bare_cr = data.count(b"\r") - n_crlf
    kinds = [k for k, n in (("crlf", n_crlf), ("lf", bare_lf),
                            ("cr", bare_cr)) if n]
    if not kinds:
        le = "crlf"
    elif len(kinds) == 1:
        le = kinds[0]
    else:
        le = "mixed"
    return le, bare_lf, bare_cr


def row(file, data, what):
    le, blf, bcr = line_kinds(data)
    return [file, hashlib.sha256(data).hexdigest(), str(len(data)),
            "1" if b"\x00" in data else "0", le, str(blf), str(bcr),
            what.replace("\t", " ").replace("\n", " ")]


def encoding_cases(o):
    # top level
    for enc in ENCODINGS:
        tag = ENC_TAG[enc]
        name = "enc-top-" + tag
        ct, cte, body = enc_body(enc, name)
        o.add(name, message(name, ct, cte, body),
              "top-level single part, Content-Transfer-Encoding " + enc)

    # nested: multipart/mixed, alternative, related, signed, message/rfc822
    for enc in ENCODINGS:
        tag = ENC_TAG[enc]

        name = "enc-mixed-" + tag
        ct, body, c = multipart("mixed", "=_mixed_" + tag, [
            part("text/plain; charset=us-ascii", "7bit", TEXT_7BIT),
            enc_part(enc, name)])
        o.add(name, message(name, ct, top_cte(c), body),
              "multipart/mixed: 7bit text + %s part" % enc)

        name = "enc-alternative-" + tag
        ect, ecte, ebody = enc_body(enc, name)
        if ect.startswith("text/plain"):
            ect = ect.replace("text/plain", "text/html")
            if enc in ("7bit",):
                ebody = crlf("<html><body><p>HTML 7bit</p></body></html>\n")
        ct, body, c = multipart("alternative", "=_alt_" + tag, [
            part("text/plain; charset=us-ascii", "7bit", TEXT_7BIT),
            part(ect, ecte, ebody)])
        o.add(name, message(name, ct, top_cte(c), body),
              "multipart/alternative: 7bit text/plain + %s alternative" % enc)

        name = "enc-related-" + tag
        ect, ecte, ebody = enc_body(enc, name)
        if ect.startswith("text/plain"):
            ect = ect.replace("text/plain", "text/css")
        ct, body, c = multipart("related", "=_rel_" + tag, [
            part("text/html; charset=us-ascii", "7bit", crlf(
                '<html><body><img src="cid:res1@imapmig.test"></body>'
                '</html>\n')),
            part(ect, ecte, ebody,
                 b"Content-ID: <res1@imapmig.test>" + CRLF)],
            params='; type="text/html"')
        o.add(name, message(name, ct, top_cte(c), body),
              "multipart/related: 7bit html + %s related resource" % enc)

        name = "enc-signed-" + tag
        ct, body, c = multipart(
            "signed", "=_sig_" + tag, [
                enc_part(enc, name, disposition=False),
                part('application/pgp-signature; name="signature.asc"',
                     "7bit", crlf(
                         "-----BEGIN PGP SIGNATURE-----\n\n"
                         "iQEzBAEBCAAdFiEEfakefakefakefakefakefakefakefakeFAmX"
                         "AAAAAAAoJEH\n=AbCd\n-----END PGP SIGNATURE-----\n"))],
            params='; micalg=pgp-sha256; protocol="application/pgp-signature"')
        o.add(name, message(name, ct, top_cte(c), body),
              "multipart/signed (PGP, 7bit signature): %s signed content"
              % enc)

        name = "enc-rfc822-" + tag
        ict, ibody, ic = multipart("mixed", "=_inner_" + tag, [
            part("text/plain; charset=us-ascii", "7bit", TEXT_7BIT),
            enc_part(enc, name),
            part('image/png; name="dot.png"', "base64", PNG_B64,
                 b'Content-Disposition: attachment; filename="dot.png"'
                 + CRLF)])
        inner = message(name + "-inner", ict, top_cte(ic), ibody,
                        subject="imapmig torture: inner of " + name)
        ct, body, c = multipart("mixed", "=_outer_" + tag, [
            part("text/plain; charset=us-ascii", "7bit",
                 crlf("Forwarded message attached.\n")),
            part("message/rfc822", None if ic == "7bit" else ic, inner,
                 b'Content-Disposition: attachment; filename="fwd.eml"'
                 + CRLF)])
        o.add(name, message(name, ct, top_cte(c), body),
              "message/rfc822 attachment whose message is multipart/mixed "
              "with 7bit text + %s part + base64 image" % enc)

    # NUL-bearing binary part next to a base64 part / only next to 7bit
    name = "enc-mixed-binary-nul-next-to-base64"
    ct, body, c = multipart("mixed", "=_mixed_bin_b64", [
        part("text/plain; charset=us-ascii", "7bit", TEXT_7BIT),
        enc_part("binary", name + "-a"),
        enc_part("base64", name + "-b")])
    o.add(name, message(name, ct, top_cte(c), body),
          "multipart/mixed: binary part with NULs directly followed by a "
          "base64 part")

    name = "enc-mixed-base64-next-to-binary-nul"
    ct, body, c = multipart("mixed", "=_mixed_b64_bin", [
        enc_part("base64", name + "-a"),
        enc_part("binary", name + "-b"),
        enc_part("base64", name + "-c")])
    o.add(name, message(name, ct, top_cte(c), body),
          "multipart/mixed: base64, binary with NULs, base64 (binary "
          "sandwiched between base64 parts)")

    name = "enc-mixed-binary-nul-only-7bit-neighbours"
    ct, body, c = multipart("mixed", "=_mixed_bin_7bit", [
        part("text/plain; charset=us-ascii", "7bit", TEXT_7BIT),
        enc_part("binary", name),
        part("text/plain; charset=us-ascii", "7bit",
             crlf("Closing 7bit part.\n"))])
    o.add(name, message(name, ct, top_cte(c), body),
          "multipart/mixed: binary part with NULs between two 7bit parts, "
          "no base64 anywhere")

    name = "enc-alternative-binary-nul-next-to-base64"
    ct, body, c = multipart("alternative", "=_alt_bin_b64", [
        part("text/plain; charset=utf-8", "base64",
             b64(TEXT_8BIT)),
        part("text/html; charset=x-binary", "binary",
             nul_binary(name, 400))])
    o.add(name, message(name, ct, top_cte(c), body),
          "multipart/alternative: base64 text/plain next to binary NUL html")

    name = "enc-related-binary-nul-next-to-base64"
    ct, body, c = multipart("related", "=_rel_bin_b64", [
        part("text/html; charset=us-ascii", "7bit",
             crlf('<html><img src="cid:a@x"><img src="cid:b@x"></html>\n')),
        part("application/octet-stream", "binary", nul_binary(name, 500),
             b"Content-ID: <a@x>" + CRLF),
        part("image/png", "base64", PNG_B64, b"Content-ID: <b@x>" + CRLF)],
        params='; type="text/html"')
    o.add(name, message(name, ct, top_cte(c), body),
          "multipart/related: binary NUL resource next to base64 image")

    name = "enc-signed-binary-nul-smime-base64-signature"
    ct, body, c = multipart("signed", "=_sig_bin_b64", [
        enc_part("binary", name, disposition=False),
        part('application/pkcs7-signature; name="smime.p7s"', "base64",
             b64(prng(name + "-sig", 900)),
             b'Content-Disposition: attachment; filename="smime.p7s"'
             + CRLF)],
        params='; micalg=sha-256; protocol="application/pkcs7-signature"')
    o.add(name, message(name, ct, top_cte(c), body),
          "multipart/signed (S/MIME): binary NUL content next to base64 "
          "signature")

    name = "enc-rfc822-binary-nul-only-7bit-neighbours"
    ict, ibody, ic = multipart("mixed", "=_inner_bin_7bit", [
        part("text/plain; charset=us-ascii", "7bit", TEXT_7BIT),
        enc_part("binary", name),
        part("text/plain; charset=us-ascii", "7bit", crlf("Bye.\n"))])
    inner = message(name + "-inner", ict, top_cte(ic), ibody,
                    subject="imapmig torture: inner of " + name)
    ct, body, c = multipart("mixed", "=_outer_bin_7bit", [
        part("text/plain; charset=us-ascii", "7bit",
             crlf("Forwarded message attached.\n")),
        part("message/rfc822", "binary", inner)])
    o.add(name, message(name, ct, top_cte(c), body),
          "message/rfc822 whose multipart holds a binary NUL part between "
          "7bit parts only")

    name = "enc-binary-raw-bytes"
    data = prng(name, 4096) + bytes(range(256))
    ct, body, c = multipart("mixed", "=_rawbin", [
        part("text/plain; charset=us-ascii", "7bit", TEXT_7BIT),
        part('application/octet-stream; name="raw.bin"', "binary",
             data + CRLF),
        enc_part("base64", name)])
    o.add(name, message(name, ct, top_cte(c), body),
          "binary part of unrestricted bytes (NUL, bare CR, bare LF, every "
          "byte value) next to base64")


# -------------------------------------------------------- size-exact cases


def text_lines(n, seed):
    """Exactly n bytes (n >= 2) of CRLF-terminated printable lines, each
    under 80 bytes."""
    assert n >= 2
    pat = [("%s line %06d: the quick brown fox jumps over the lazy dog 0123"
            % (seed, i))[:76].encode() for i in range(1000)]
    out = []
    total = 0
    i = 0
    while n - total >= 78 + 2 or n - total == 78:
        out.append(pat[i % 1000])
        out.append(CRLF)
        total += 78
        i += 1
    rem = n - total  # 0 or 2..79
    if rem == 1:  # cannot be: handled by the loop condition
        raise AssertionError
    if rem:
        out.append(pat[i % 1000][:rem - 2] if rem - 2 <= 76
                   else pat[i % 1000] + b"x" * (rem - 78))
        out.append(CRLF)
    body = b"".join(out)
    assert len(body) == n, (len(body), n)
    return body


def fit(target, build):
    """build(m, pad) -> message bytes whose payload is m bytes, base64
    encoded; pick m and an optional X-Pad header so that the message is
    exactly target bytes."""
    overhead = len(build(1, b"")) - b64_len(1)
    m = (target - overhead) * 3 // 4
    while overhead + b64_len(m) > target:
        m -= 1
    for _ in range(1000):
        rem = target - overhead - b64_len(m)
        if rem == 0 or 10 <= rem <= 900:
            pad = b"X-Pad: " + b"p" * (rem - 9) + CRLF if rem else b""
            data = build(m, pad)
            assert len(data) == target, (len(data), target)
            return data
        m -= 1
    raise AssertionError("cannot fit %d" % target)


def size_cases(o, sizes, variants):
    for size in sizes:
        label = {32 * KIB: "32KiB", MIB: "1MiB", 35 * MIB: "35MiB"}
        for base_size, lab in label.items():
            if abs(size - base_size) <= 1:
                tag = lab + {-1: "-minus1", 0: "", 1: "-plus1"}[size - base_size]

        if "plain" in variants:
            name = "size-%d-text-plain" % size
            h = headers(name, ctype="text/plain; charset=us-ascii",
                        subject="imapmig torture: exactly %d bytes (%s), "
                                "text/plain 7bit" % (size, tag)) + CRLF
            data = h + text_lines(size - len(h), name)
            assert len(data) == size
            o.add(name, data, "exactly %d bytes (%s), text/plain without "
                              "transfer encoding, CRLF" % (size, tag))

        if "base64" in variants:
            name = "size-%d-base64" % size
            payload = prng(name, size)

            def build(m, pad, name=name, payload=payload):
                return (headers(name, ctype='application/octet-stream; '
                                'name="blob.bin"', cte="base64",
                                subject="imapmig torture: exactly %d bytes "
                                "(%s), single-part base64" % (size, tag),
                                extra=[("Content-Disposition",
                                        'attachment; filename="blob.bin"')])
                        + pad + CRLF + b64(payload[:m]))
            data = fit(size, build)
            o.add(name, data, "exactly %d bytes (%s), single-part base64 "
                              "body, CRLF" % (size, tag))

        if "multipart" in variants:
            name = "size-%d-multipart-base64" % size
            payload = prng(name, size)

            def build(m, pad, name=name, payload=payload):
                ct, body, _ = multipart("mixed", "=_size_%d" % size, [
                    part("text/plain; charset=us-ascii", "7bit",
                         crlf("See the attachment.\n")),
                    part('application/octet-stream; name="blob.bin"',
                         "base64", b64(payload[:m]),
                         b'Content-Disposition: attachment; '
                         b'filename="blob.bin"' + CRLF)])
                return (headers(name, ctype=ct,
                                subject="imapmig torture: exactly %d bytes "
                                "(%s), multipart/mixed + base64 attachment"
                                % (size, tag))
                        + pad + CRLF + body)
            data = fit(size, build)
            o.add(name, data, "exactly %d bytes (%s), multipart/mixed with "
                              "a base64 attachment, CRLF" % (size, tag))


# ----------------------------------------------------------- other cases

PLAIN = "text/plain; charset=us-ascii"


def simple(name, body, **kw):
    kw.setdefault("ctype", PLAIN)
    return headers(name, **kw) + CRLF + body


def misc_cases(o):
    # Message-ID oddities and duplicates
    name = "no-message-id"
    o.add(name, simple(name, crlf("This message has no Message-ID.\n"),
                       msgid=False),
          "no Message-ID header")

    shared = "<same-message-id-twice@imapmig.test>"
    for k in ("a", "b"):
        name = "same-message-id-" + k
        o.add(name, simple(name, crlf("Body %s: %s\n" % (
            k, "first body" if k == "a" else "a different second body")),
            msgid=shared),
            "Message-ID %s shared with a different body (%s)" % (shared, k))

    name = "exact-duplicate"
    dup = simple(name, crlf("Two files hold exactly these bytes.\n"),
                 subject="imapmig torture: exact duplicate (two files)")
    o.add(name + "-a", dup, "byte-for-byte identical to exact-duplicate-b")
    o.add(name + "-b", dup, "byte-for-byte identical to exact-duplicate-a")

    name = "one-byte-diff"
    base = simple(name, crlf("These two messages differ in one byte: X.\n"),
                  subject="imapmig torture: differ in one byte")
    other = base.replace(b"one byte: X.", b"one byte: Y.")
    assert len(other) == len(base) and other != base
    o.add(name + "-a", base, "same headers and body as one-byte-diff-b "
                             "except one byte (X)")
    o.add(name + "-b", other, "same headers and body as one-byte-diff-a "
                              "except one byte (Y)")

    # line endings
    name = "bare-lf-throughout"
    msg = simple(name, crlf("Every line of this message ends in a bare LF.\n"
                            "Headers too.\n\nEnd.\n"))
    o.add(name, msg.replace(CRLF, b"\n"), "bare LF line endings everywhere")

    name = "bare-cr-inside-lines"
    o.add(name, simple(name, b"A line with a bare CR\rin the middle." + CRLF +
                       b"Another\r\r one, and one at the end\r" + CRLF +
                       b"\r" + CRLF + b"End." + CRLF),
          "CRLF line endings with bare CR bytes inside lines")

    name = "bare-cr-line-endings"
    msg = simple(name, crlf("Old Mac style: every line ends in a bare CR.\n"
                            "Second line.\n"))
    o.add(name, msg.replace(CRLF, b"\r"), "bare CR line endings everywhere")

    name = "mixed-crlf-lf"
    msg = simple(name, crlf("line 1 crlf\nline 2 lf\nline 3 crlf\n"
                            "line 4 lf\n\nline 6 lf\n"))
    lines = msg.split(CRLF)
    mixed = b"".join(l + (CRLF if i % 2 == 0 else b"\n")
                     for i, l in enumerate(lines[:-1])) + lines[-1]
    o.add(name, mixed, "alternating CRLF and bare LF line endings, in "
                       "headers and body")

    name = "no-final-newline"
    o.add(name, simple(name, crlf("The last line has no line ending.\n") +
                       b"No newline here"),
          "CRLF message whose last line has no line ending")

    name = "no-final-newline-lf"
    o.add(name, simple(name, crlf("LF message, last line unterminated.\n")
                       ).replace(CRLF, b"\n") + b"no newline",
          "bare-LF message whose last line has no line ending")

    # 8-bit headers
    name = "header-8bit-utf8"
    o.add(name, simple(
        name, crlf("Raw UTF-8 in Subject, From and X-Note.\n"),
        subject="imapmig torture: raw UTF-8 header Gr\u00fc\u00dfe \u20ac "
                "\u65e5\u672c\u8a9e \U0001F600",
        frm="J\u00fcrgen M\u00fcller <juergen@torture.imapmig.test>",
        extra=[("X-Note", "caf\u00e9 \u00bd")],
        ctype="text/plain; charset=utf-8"),
        "raw (unencoded) UTF-8 bytes in header values")

    name = "header-8bit-latin1"
    o.add(name, simple(
        name, crlf("Raw ISO-8859-1 in Subject and From.\n"),
        subject="imapmig torture: raw Latin-1 header ".encode() +
                "Gr\u00fc\u00dfe caf\u00e9 \u00bd".encode("latin-1"),
        frm="J\u00fcrgen M\u00fcller <juergen@torture.imapmig.test>"
            .encode("latin-1"),
        ctype="text/plain; charset=iso-8859-1"),
        "raw ISO-8859-1 bytes in header values (invalid UTF-8)")

    # long lines
    for n in (1000, 5000, 100000):
        name = "long-line-%d" % n
        line = (b"L" + b"0123456789" * (n // 10 + 1))[:n]
        o.add(name, simple(name, b"Next line is %d bytes long:" % n + CRLF +
                           line + CRLF + b"end" + CRLF),
              "body line of %d bytes (over the 998 limit)" % n)

    name = "long-header-line-5000"
    o.add(name, simple(name, crlf("The X-Long header is one 5000-byte "
                                  "line.\n"),
                       extra=[("X-Long", "h" * 5000)]),
          "unfolded header line over 5000 bytes")

    # huge header blocks
    for label, target in (("40KB", 40000), ("70KB", 70000)):
        name = "header-block-" + label
        recv = []
        total = 0
        i = 0
        while total < target:
            r = ("Received: from relay%04d.imapmig.test (relay%04d.imapmig."
                 "test [198.51.100.%d])\r\n\tby relay%04d.imapmig.test "
                 "with ESMTP id %08X;\r\n\tMon, 02 Mar 2026 09:%02d:%02d "
                 "+0000\r\n" % (i, i, i % 256, i + 1, i * 2654435761 %
                                2 ** 32, (i // 60) % 60, i % 60)).encode()
            recv.append(r)
            total += len(r)
            i += 1
        h = headers(name, ctype=PLAIN)
        msg = b"".join(recv) + h + CRLF + crlf(
            "Header block of %d bytes (%d Received: fields).\n"
            % (total + len(h), i))
        o.add(name, msg, "header block over %s (%d Received: fields)"
              % ("32 KiB" if target < 65536 else "64 KiB", i))

    # From_ and dot lines
    name = "from-and-dot-lines"
    o.add(name, simple(name, crlf(
        "From the start of the body (right after the empty line).\n"
        "\n"
        "From here on, a line after an empty line starts with From.\n"
        ">From an already escaped line.\n"
        ">>From a doubly escaped line.\n"
        " From a line starting with a space.\n"
        ".\n"
        "..\n"
        "...\n"
        ". \n"
        ".leading dot\n"
        "..leading dots\n"
        "\n"
        "From \n"
        "From\n"
        ".\n"
        "end\n")),
        'body lines starting with "From ", ">From", and lines ".", "..", '
        '"..." and leading dots')

    name = "body-starts-with-from"
    o.add(name, simple(name, crlf("From sender@torture.imapmig.test  Mon Mar "
                                  " 2 10:00:00 2026\nlooks like an mbox "
                                  "separator\n")),
          "body whose first line looks exactly like an mbox From_ line")

    name = "ends-with-dot-line"
    o.add(name, simple(name, crlf("The last line of this message is a single "
                                  "dot.\n.\n")),
          'last line is "." (SMTP end-of-data lookalike)')

    name = "ends-with-dot-dot-line"
    o.add(name, simple(name, crlf("The last line is two dots.\n..\n")),
          'last line is ".."')

    name = "ends-with-dot-no-newline"
    o.add(name, simple(name, crlf("Final line is a dot without newline.\n") +
                       b"."),
          'last line is "." without a line ending')

    # header/body shape
    name = "headers-only-no-body"
    o.add(name, headers(name, ctype=PLAIN),
          "only a header block: no empty line, no body")

    name = "headers-only-no-final-newline"
    o.add(name, headers(name, ctype=PLAIN)[:-2],
          "only a header block, last header without line ending")

    name = "empty-body"
    o.add(name, headers(name, ctype=PLAIN) + CRLF,
          "header block, empty line, then nothing")

    name = "empty-body-extra-blank-lines"
    o.add(name, headers(name, ctype=PLAIN) + CRLF * 4,
          "header block, then only empty lines")

    name = "folded-headers-tabs"
    o.add(name, simple(name, crlf("Headers folded with tabs.\n"),
                       subject="imapmig torture: folded\r\n\twith a tab\r\n"
                               "\t\tand two tabs",
                       extra=[("X-Folded", "one\r\n\ttwo\r\n\t three\r\n"
                                           " \tfour"),
                              ("References", "<a@imapmig.test>\r\n\t"
                                             "<b@imapmig.test>\r\n\t"
                                             "<c@imapmig.test>")]),
          "headers folded with tabs (Subject, References, X-Folded)")

    name = "header-no-space-after-colon"
    h = headers(name, ctype=PLAIN).replace(
        b"Subject: ", b"Subject:").replace(b"To: ", b"To:")
    o.add(name, h + b"X-Compact:value" + CRLF + b"X-Empty:" + CRLF + CRLF +
          crlf("Headers without a space after the colon.\n"),
          "header lines with no space after the colon (Subject, To, X-) "
          "and an empty header value")

    name = "header-space-before-colon"
    o.add(name, headers(name, ctype=PLAIN) + b"X-Space-Before-Colon : odd" +
          CRLF + b"X-Tab-Before-Colon\t: odder" + CRLF + CRLF +
          crlf("Obsolete syntax: white space between field name and colon.\n"),
          "obs-syntax header with white space before the colon")

    name = "subject-encoded-words"
    o.add(name, simple(name, crlf("Encoded-word Subject and From.\n"),
                       subject="=?UTF-8?B?aW1hcG1pZyB0b3J0dXJlOiDDnGJlcg==?="
                               " =?ISO-8859-1?Q?Gr=FC=DFe_caf=E9?=\r\n"
                               " =?UTF-8?Q?=E2=82=AC_5?= plain"
                               " =?utf-8?b?8J+YgA==?=",
                       frm="=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= "
                           "<juergen@torture.imapmig.test>"),
          "RFC 2047 encoded-words (B and Q, UTF-8 and Latin-1, folded) in "
          "Subject and From")

    # deep nesting
    name = "deep-nesting-20"
    inner = part("text/plain; charset=us-ascii", "7bit",
                 crlf("Innermost part, 20 levels down.\n"))
    for level in range(19, 0, -1):
        inner = mp_part("mixed", "=_level_%02d" % level, [
            part("text/plain; charset=us-ascii", "7bit",
                 crlf("Text at level %d.\n" % level)), inner])
    ct, body, c = multipart("mixed", "=_level_00", [
        part("text/plain; charset=us-ascii", "7bit",
             crlf("Text at level 0.\n")), inner])
    o.add(name, message(name, ct, top_cte(c), body),
          "20 levels of nested multipart/mixed")

    name = "deep-nesting-20-binary-nul"
    inner = enc_part("binary", name)
    for level in range(19, 0, -1):
        inner = mp_part("mixed", "=_blevel_%02d" % level, [inner])
    ct, body, c = multipart("mixed", "=_blevel_00", [inner])
    o.add(name, message(name, ct, top_cte(c), body),
          "20 levels of nested multipart/mixed around one binary NUL part")

    name = "nul-in-header"
    o.add(name, simple(name, crlf("The X-Nul header holds a NUL byte.\n"),
                       extra=[("X-Nul", b"before\x00after")]),
          "NUL byte inside a header value")

    name = "nul-in-7bit-body"
    o.add(name, simple(name, b"NUL here:\x00 and a line of NULs:" + CRLF +
                       b"\x00" * 64 + CRLF + b"end" + CRLF),
          "NUL bytes in a body that claims no transfer encoding")


# ---------------------------------------------------------------- main


def write_tsv(outdir, rows, replaced_prefixes):
    path = os.path.join(outdir, "TORTURE.tsv")
    header = ["file", "sha256", "size", "nul", "line_endings", "bare_lf",
              "bare_cr", "what"]
    keep = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        for line in lines[1:]:
            if not line:
                continue
            cols = line.split("\t")
            if not any(cols[0].startswith(p) for p in replaced_prefixes):
                keep.append(cols)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write("\t".join(header) + "\n")
        for r in keep + rows:
            f.write("\t".join(r) + "\n")
    os.replace(tmp, path)


def main(argv):
    args = [a for a in argv[1:] if a != "--big"]
    big = "--big" in argv[1:]
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write("usage: torture.py OUTDIR [--big]\n")
        return 2
    outdir = args[0]
    os.makedirs(outdir, exist_ok=True)

    subs = ["torture"] + (["torture-big"] if big else [])
    for sub in subs:
        shutil.rmtree(os.path.join(outdir, sub), ignore_errors=True)
        os.makedirs(os.path.join(outdir, sub))

    o = Out(outdir, "torture")
    encoding_cases(o)
    size_cases(o, (32 * KIB - 1, 32 * KIB, 32 * KIB + 1),
               ("plain", "base64", "multipart"))
    size_cases(o, (MIB - 1, MIB, MIB + 1), ("plain", "base64", "multipart"))
    misc_cases(o)
    rows = list(o.rows)

    if big:
        ob = Out(outdir, "torture-big")
        size_cases(ob, (35 * MIB - 1, 35 * MIB, 35 * MIB + 1), ("plain",))
        rows += ob.rows

    write_tsv(outdir, rows, [s + "/" for s in subs])
    print("torture: %d files in %s" % (len(o.rows),
                                       os.path.join(outdir, "torture")))
    if big:
        print("torture-big: %d files in %s" % (
            len(ob.rows), os.path.join(outdir, "torture-big")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
