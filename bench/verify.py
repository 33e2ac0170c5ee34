#!/usr/bin/env python3
"""verify.py - one benchmark result checked byte for byte by the oracle.

  verify.py dump SPEC OUT.json           the source, read once per state
  verify.py check SOURCE.json SPEC LOG   compare a target with it

Uses tests/fixtures/oracle.py (read_spec, compare): per folder, SHA-256
multisets of the messages' bytes, and flags and INTERNALDATE of each.
check prints one word-line: "exact N" (N messages compared) or
"NOT-EXACT missing=.. extra=.. flags=.. date=.." and writes the first 200
differences to LOG.  Exit 0 when exact, 1 when not.
"""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures"))
import oracle  # noqa: E402


def size_delta(problems):
    """When every missing message has an extra one in its folder that is
    the same number of bytes larger (or smaller), say so: the tool added
    or removed something in each copy (mbsync's X-TUID header: +22)."""
    miss, extra = collections.defaultdict(list), collections.defaultdict(list)
    for p in problems:
        w = p.split()
        if w[0] in ("missing", "extra"):
            (miss if w[0] == "missing" else extra)[" ".join(w[1:-2])].append(int(w[-1]))
    deltas = set()
    for folder in set(miss) | set(extra):
        a, b = sorted(miss[folder]), sorted(extra[folder])
        if len(a) != len(b):
            return ""
        deltas.update(y - x for x, y in zip(a, b))
    if len(deltas) == 1 and len(problems) == sum(len(v) for v in miss.values()) * 2:
        return " (each copy %+d bytes)" % deltas.pop()
    return ""


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "dump":
        with open(sys.argv[3], "w") as f:
            json.dump(oracle.read_spec(sys.argv[2]), f)
        return 0
    if len(sys.argv) != 5 or sys.argv[1] != "check":
        sys.exit("usage: verify.py dump SPEC OUT.json | check SOURCE.json SPEC LOG")
    with open(sys.argv[2]) as f:
        src = json.load(f)
    try:
        dst = oracle.read_spec(sys.argv[3])
    except (SystemExit, Exception) as e:  # an unreadable target is not exact
        with open(sys.argv[4], "w") as f:
            f.write("cannot read the target: %s\n" % e)
        print("NOT-EXACT unreadable")
        return 1
    problems, counts = oracle.compare(src, dst, set(), {}, [], True)
    # folders on the target that the source does not have
    for folder in sorted(set(dst) - set(src)):
        for m in dst[folder]:
            problems.append("extra    %s %s %d" % (folder, m["sha256"][:16], m["size"]))
    with open(sys.argv[4], "w") as f:
        for p in problems[:200]:
            f.write(p + "\n")
    if not problems:
        print("exact %d" % counts["copied"])
        return 0
    kinds = collections.Counter(p.split()[0] for p in problems)
    print("NOT-EXACT " + " ".join("%s=%d" % kv for kv in sorted(kinds.items())) + size_delta(problems))
    return 1


if __name__ == "__main__":
    sys.exit(main())
