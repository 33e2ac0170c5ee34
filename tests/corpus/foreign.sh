#!/usr/bin/env bash
# foreign.sh OUTDIR
#
# Builds a corpus of test mail that nobody on this project wrote, from the
# test data that Debian packages ship, for the byte-for-byte fidelity test.
#
#   - each package is fetched with `apt-get download` into a cache dir
#     (${IMAPMIG_CORPUS_CACHE:-$HOME/.cache/imapmig-corpus}); a .deb that is
#     already there is reused, so a second run needs no network and never
#     calls apt (and never `apt-get update`).  Only when a package is not in
#     the cache and `apt-get download` fails for lack of package lists does
#     it run `apt-get update` once, and only as root.
#   - packages are unpacked with `dpkg-deb -x` into a temp dir.
#   - message bytes are kept exactly as shipped (no line-ending conversion).
#     Files starting with an mbox "From " envelope line are treated as mbox:
#     split before each "From " line that starts the file or follows an empty
#     line, and the From_ line itself is dropped; ">From" is left alone.
#     When a file holds several messages, the one empty line in front of
#     each following From_ line is the mbox separator and is dropped too.
#   - only whole messages are kept: a header block that holds at least one
#     "Name: value" line, then an empty line.  Empty files, files over
#     40 MB and exact duplicates (same SHA-256 anywhere in the output) are
#     skipped.
#
# Output: OUTDIR/<corpus>/<NNNN>-<sanitised-basename>.eml and
#         OUTDIR/MANIFEST.tsv (corpus, file, sha256, size, source).
# The source column is the path inside the package; "#N" is appended for the
# N-th message of an mbox file.  Re-running replaces OUTDIR/<corpus>/ and
# MANIFEST.tsv and leaves everything else in OUTDIR alone.
#
# IMAPMIG_CORPUS_LIMIT=N keeps at most N messages per corpus (0 = all, the
# default), taking the first N in sorted path order.
#
# Exits 0 only if at least 300 messages from at least 2 corpora were written.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUT=$1
CACHE=${IMAPMIG_CORPUS_CACHE:-${HOME:-/root}/.cache/imapmig-corpus}
LIMIT=${IMAPMIG_CORPUS_LIMIT:-0}
MIN_TOTAL=300
MIN_CORPORA=2

# corpus name | candidate packages (first one that can be had wins) | globs
# (relative to the unpacked package root; bash globs with ** disabled, so
# one level of * per path component)
CORPORA=(
    "enmime|golang-github-jhillyerd-enmime-dev|usr/share/gocode/src/github.com/jhillyerd/enmime/testdata/mail/* usr/share/gocode/src/github.com/jhillyerd/enmime/testdata/low-quality/* usr/share/gocode/src/github.com/jhillyerd/enmime/testdata/parts/* usr/share/gocode/src/github.com/jhillyerd/enmime/testdata/encode/*.golden"
    "python-email|libpython3.11-testsuite libpython3.13-testsuite libpython3.12-testsuite|usr/lib/python3.*/test/test_email/data/msg_* usr/lib/python3.*/test/test_mailbox/* usr/lib/python3.*/test/mailbox_data/*"
    "flufl-bounce|python3-flufl.bounce|usr/lib/python3/dist-packages/flufl/bounce/tests/data/*.txt"
    "jwz-ham|golang-github-gatherstars-com-jwz-dev|usr/share/gocode/src/github.com/gatherstars-com/jwz/test/testdata/*/*"
    "authheaders|python3-authheaders|usr/lib/python3/dist-packages/authheaders/test/*message*"
)

mkdir -p "$CACHE" "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/imapmig-corpus.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

updated=0

# cached_deb PKG: prints the newest cached .deb of PKG, if any.
cached_deb() {
    local pkg=$1 f
    f=$(find "$CACHE" -maxdepth 1 -type f -name "${pkg}_*.deb" -size +0 2>/dev/null | sort -V | tail -n 1)
    [ -n "$f" ] && printf '%s\n' "$f"
}

# get_deb PKG: prints the path of a .deb of PKG, downloading it if needed.
get_deb() {
    local pkg=$1 f dl
    if f=$(cached_deb "$pkg"); then
        printf '%s\n' "$f"
        return 0
    fi
    dl=$(mktemp -d "$CACHE/.download.XXXXXX")
    if ! (cd "$dl" && apt-get download -q "$pkg" >"$dl/.log" 2>&1); then
        # No package lists on a fresh machine: update once, as root only.
        if [ "$updated" = 0 ] && [ "$(id -u)" = 0 ] &&
            grep -q -e 'Unable to locate package' -e "Can't select candidate" "$dl/.log"; then
            updated=1
            apt-get update -q >/dev/null 2>&1 || true
            if ! (cd "$dl" && apt-get download -q "$pkg" >"$dl/.log" 2>&1); then
                rm -rf "$dl"
                return 1
            fi
        else
            rm -rf "$dl"
            return 1
        fi
    fi
    f=$(find "$dl" -maxdepth 1 -type f -name '*.deb' | head -n 1)
    if [ -z "$f" ]; then
        rm -rf "$dl"
        return 1
    fi
    mv -f "$f" "$CACHE/"
    rm -rf "$dl"
    cached_deb "$pkg"
}

SPEC=$TMP/spec.tsv
: >"$SPEC"
i=0
for entry in "${CORPORA[@]}"; do
    IFS='|' read -r name pkgs globs <<<"$entry"
    deb=""
    pkg=""
    for p in $pkgs; do
        if deb=$(get_deb "$p"); then
            pkg=$p
            break
        fi
    done
    if [ -z "$deb" ]; then
        echo "warning: corpus $name: none of [$pkgs] could be downloaded" >&2
        continue
    fi
    i=$((i + 1))
    root=$TMP/root$i
    mkdir -p "$root"
    if ! dpkg-deb -x "$deb" "$root"; then
        echo "warning: corpus $name: dpkg-deb -x $deb failed" >&2
        continue
    fi
    printf '%s\t%s\t%s\t%s\n' "$name" "$pkg" "$root" "$globs" >>"$SPEC"
done

python3 - "$OUT" "$SPEC" "$LIMIT" "$MIN_TOTAL" "$MIN_CORPORA" <<'PYEOF'
import glob, hashlib, os, re, shutil, sys

out, spec, limit, min_total, min_corpora = sys.argv[1:6]
limit, min_total, min_corpora = int(limit), int(min_total), int(min_corpora)
MAX_SIZE = 40 * 1000 * 1000

FIELD = re.compile(rb'^[\x21-\x39\x3b-\x7e]+[ \t]*:')
FROM_ = re.compile(rb'^From ')


def header_ok(msg):
    """Whole message: a header block (the lines before the first empty line,
    LF or CRLF) that holds at least one 'Name: value' field line, and that
    empty line."""
    m = re.search(rb'(?:^|\n)\r?\n', msg)
    if m is None:
        return False
    head = msg[:m.start()]
    return any(FIELD.match(l) for l in head.split(b'\n'))


def split_mbox(data):
    """Split on 'From ' lines at start of data or after an empty line; drop
    the From_ lines; bytes otherwise untouched."""
    # positions of line starts that begin with b'From '
    starts = [0]
    for m in re.finditer(rb'(?:\r?\n)(\r?\n)(?=From )', data):
        starts.append(m.end())
    msgs = []
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else len(data)
        chunk = data[s:e]
        if k + 1 < len(starts):
            # the empty line before the next From_ belongs to the mbox format
            if chunk.endswith(b'\r\n\r\n'):
                chunk = chunk[:-2]
            elif chunk.endswith(b'\n\n'):
                chunk = chunk[:-1]
            elif chunk.endswith(b'\n\r\n'):
                chunk = chunk[:-2]
        nl = chunk.find(b'\n')
        chunk = b'' if nl < 0 else chunk[nl + 1:]
        msgs.append(chunk)
    return msgs


def sanitise(name):
    s = re.sub(r'[^A-Za-z0-9._-]', '_', name).strip('.')
    return (s or 'msg')[:100]


seen = set()
manifest = []
summary = []
with open(spec, encoding='utf-8') as f:
    entries = [l.rstrip('\n').split('\t') for l in f if l.strip()]

for name, pkg, root, globs in entries:
    cdir = os.path.join(out, name)
    shutil.rmtree(cdir, ignore_errors=True)
    os.makedirs(cdir)
    files = set()
    for g in globs.split():
        for p in glob.glob(os.path.join(root, g)):
            if os.path.isfile(p) and not os.path.islink(p):
                files.add(p)
    n = 0
    skipped = {'empty': 0, 'big': 0, 'dup': 0, 'notmsg': 0}
    for p in sorted(files):
        if limit and n >= limit:
            break
        size = os.path.getsize(p)
        if size == 0:
            skipped['empty'] += 1
            continue
        if size > MAX_SIZE:
            skipped['big'] += 1
            continue
        with open(p, 'rb') as fh:
            data = fh.read()
        rel = '/' + os.path.relpath(p, root)
        if FROM_.match(data):
            parts = split_mbox(data)
            cands = [(b, f'{rel}#{k + 1}',
                      os.path.basename(p) + (f'-{k + 1}' if len(parts) > 1 else ''))
                     for k, b in enumerate(parts)]
        else:
            cands = [(data, rel, os.path.basename(p))]
        for body, src, base in cands:
            if limit and n >= limit:
                break
            if not body:
                skipped['empty'] += 1
                continue
            if not header_ok(body):
                skipped['notmsg'] += 1
                continue
            h = hashlib.sha256(body).hexdigest()
            if h in seen:
                skipped['dup'] += 1
                continue
            seen.add(h)
            n += 1
            fn = f'{n:04d}-{sanitise(base)}.eml'
            with open(os.path.join(cdir, fn), 'wb') as fh:
                fh.write(body)
            manifest.append((name, f'{name}/{fn}', h, str(len(body)), src))
    summary.append((name, n))
    extra = ', '.join(f'{k} {v}' for k, v in skipped.items() if v)
    print(f'corpus {name}: {n} messages' + (f' (skipped: {extra})' if extra else ''))

tmp = os.path.join(out, '.MANIFEST.tsv.tmp')
with open(tmp, 'w', encoding='utf-8', newline='\n') as fh:
    fh.write('corpus\tfile\tsha256\tsize\tsource\n')
    for row in manifest:
        fh.write('\t'.join(row) + '\n')
os.replace(tmp, os.path.join(out, 'MANIFEST.tsv'))

total = sum(n for _, n in summary)
ncorp = sum(1 for _, n in summary if n > 0)
print(f'total: {total} messages in {ncorp} corpora')
if total < min_total or ncorp < min_corpora:
    print(f'foreign.sh: only {total} messages in {ncorp} corpora '
          f'(need >= {min_total} in >= {min_corpora})', file=sys.stderr)
    sys.exit(1)
PYEOF
