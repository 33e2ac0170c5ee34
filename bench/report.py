#!/usr/bin/env python3
"""report.py - bench/run.sh's tables: every run, issue 9's table, the
ratios against each peer and issue 9's goals, each met or not met.

  report.py --results R.tsv --bytes B --users U --msgs M --incr I
            --counts DIR --notes F --elapsed S

A figure from a run whose copy the oracle did not find exact is printed
with "NOT EXACT" and no goal is counted met on it.
"""
import argparse
import csv
import json
import os

ROWS = [("imapmig-imap", "imapmig -> IMAP"), ("mbsync-imap", "mbsync -> IMAP"),
        ("imapsync-imap", "imapsync -> IMAP"), ("doveadm-md", "doveadm backup (imapc) -> Maildir"),
        ("imapmig-md", "imapmig -> Maildir")]
PEERS = ("mbsync-imap", "imapsync-imap", "doveadm-md")


def fnum(x, fmt="%.2f"):
    return "-" if x is None else fmt % x


def main():
    ap = argparse.ArgumentParser()
    for k in ("results", "counts", "notes"):
        ap.add_argument("--" + k, required=True)
    for k in ("bytes", "users", "msgs", "incr"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--elapsed", type=float, required=True)
    a = ap.parse_args()
    runs = {}
    with open(a.results) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            for k in ("wall_s", "tool_cpu_s", "dovecot_cpu_s"):
                r[k] = float(r[k])
            r["messages"] = int(r["messages"])
            r["peak_rss_kb"] = int(r["peak_rss_kb"])
            r["ok"] = r["rc"] == "0" and r["verified"] == "exact"
            runs[(r["tool"], r["security"], r["phase"])] = r

    def get(tool, sec="plain", phase="full"):
        return runs.get((tool, sec, phase))

    def rate(r):
        return r["messages"] / r["wall_s"] if r and r["wall_s"] > 0 else None

    def mark(r, s):
        if r is None:
            return "-"
        if r["rc"] != "0":
            return s + " FAILED"
        return s if r["ok"] else s + " NOT EXACT"

    total = a.users * a.msgs
    print()
    print("Corpus: %d mailboxes x %d messages = %d messages, %.0f MB; incremental +%d per mailbox."
          % (a.users, a.msgs, total, a.bytes / 1048576, a.incr))
    print("All mailboxes at once; every run from an empty target; verified by the oracle.")
    print()
    print("Every run (Dovecot CPU: the source's, plus the target's for IMAP targets):")
    hdr = ("tool", "sec", "phase", "msgs", "wall s", "msg/s", "tool CPU s", "Dovecot CPU s", "peak RSS MB", "procs", "verified")
    fmt = "%-14s %-5s %-5s %7s %8s %8s %10s %13s %11s %5s  %s"
    print(fmt % hdr)
    for r in runs.values():
        rt = rate(r) if r["messages"] else None
        print(fmt % (r["tool"], r["security"], r["phase"], r["messages"], "%.2f" % r["wall_s"], fnum(rt, "%.0f"),
                     "%.2f" % r["tool_cpu_s"], "%.2f" % r["dovecot_cpu_s"], "%.1f" % (r["peak_rss_kb"] / 1024),
                     r["processes"], r["verified"] + ("" if r["rc"] == "0" else " (exit status not 0)")))

    print()
    print("Issue 9's table (plain unless marked TLS):")
    print()
    print("| tool | full wall s | msg/s | tool CPU s | Dovecot CPU s | peak RSS MB | incr +%d s | incr +0 s "
          "| TLS full wall s | TLS/plain | verified |" % a.incr)
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for tool, name in ROWS:
        full = get(tool)
        if full is None and get(tool, "tls") is None:
            continue
        if tool not in ("imapmig-imap", "imapmig-md") and full:
            name += " (%s processes)" % full["processes"]
        inc, noop, tls = get(tool, phase="incr"), get(tool, phase="noop"), get(tool, "tls")
        ratio = tls["wall_s"] / full["wall_s"] if tls and full and full["wall_s"] > 0 else None
        bad = [p for p, r in (("full", full), ("incr", inc), ("noop", noop), ("TLS full", tls),
                              ("TLS incr", get(tool, "tls", "incr")), ("TLS noop", get(tool, "tls", "noop")))
               if r is not None and not r["ok"]]
        rss = "%.0f" % (full["peak_rss_kb"] / 1024) if full else "-"
        if full and full["processes"] != "1":
            rss += " each"
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, mark(full, fnum(full and full["wall_s"])), mark(full, fnum(rate(full), "%.0f")),
            fnum(full and full["tool_cpu_s"]), fnum(full and full["dovecot_cpu_s"]), rss,
            mark(inc, fnum(inc and inc["wall_s"])), mark(noop, fnum(noop and noop["wall_s"])),
            mark(tls, fnum(tls and tls["wall_s"])), fnum(ratio, "%.2fx"),
            "exact" if not bad else "NOT EXACT: " + ", ".join(bad)))

    print()
    print("Dovecot CPU: the source's and the target's servers for IMAP targets, the source's only for Maildir"
          " targets (doveadm backup writes the Maildir itself: that is its tool CPU). Peak RSS: the largest"
          " process. Tool CPU: all of the tool's processes. NOT EXACT: the oracle found the copy altered.")

    # ---- ratios and goals
    def both_ok(*rs):
        return all(r is not None and r["ok"] for r in rs)

    goals = []

    def goal(text, value, ok, rs, peers=()):
        """rs: imapmig's runs, which must be exact for a goal to be met;
        peers: the peer's runs compared with, whose inexact copies are said."""
        if any(r is None for r in list(rs) + list(peers)):
            goals.append((text, "not measured", value))
        elif not both_ok(*rs):
            goals.append((text, "not met (imapmig's copy NOT EXACT or failed)", value))
        else:
            peer_bad = [p for p in peers if not p["ok"]]
            goals.append((text, ("met" if ok else "not met") +
                          (" (the peer's copies NOT EXACT)" if peer_bad else ""), value))

    print()
    print("Ratios (plain, full run unless said):")
    im, ims = get("imapmig-imap"), get("imapmig-md")
    for peer, mine, label, want in (("mbsync-imap", im, "imapmig/mbsync msg/s (IMAP)", 1.3),
                                    ("imapsync-imap", im, "imapmig/imapsync msg/s (IMAP)", 3.2),
                                    ("doveadm-md", ims, "imapmig/doveadm msg/s (Maildir)", 1.5)):
        p = get(peer)
        r = rate(mine) / rate(p) if mine and p and rate(p) else None
        print("  %-40s %s" % (label, fnum(r, "%.2fx") + ("" if both_ok(mine, p) or r is None else " (NOT EXACT)")))
        goal("%s >= %.1fx" % (label, want), fnum(r, "%.2fx"), r is not None and r >= want, [mine], [p])
    mb = get("mbsync-imap")
    cpm = lambda r: r["dovecot_cpu_s"] * 1000 / r["messages"] if r and r["messages"] else None
    print("  %-40s imapmig %s, mbsync %s" % ("Dovecot CPU ms per message (IMAP)", fnum(cpm(im), "%.3f"),
                                              fnum(cpm(mb), "%.3f")))
    goal("servers' CPU per message <= mbsync's (IMAP)", "%s vs %s ms" % (fnum(cpm(im), "%.3f"), fnum(cpm(mb), "%.3f")),
         im is not None and mb is not None and cpm(im) <= cpm(mb), [im], [mb])
    for tool, label in (("imapmig-imap", "IMAP"), ("imapmig-md", "Maildir")):
        p, t = get(tool), get(tool, "tls")
        r = t["wall_s"] / p["wall_s"] if p and t and p["wall_s"] > 0 else None
        print("  %-40s %s" % ("imapmig TLS/plain wall (%s)" % label, fnum(r, "%.2fx")))
        goal("imapmig TLS full <= 1.3x plain (%s)" % label, fnum(r, "%.2fx"), r is not None and r <= 1.3, [p, t])
    for peer in PEERS + ("imapmig-imap",):
        p, t = get(peer), get(peer, "tls")
        if p and t and p["wall_s"] > 0 and peer != "imapmig-imap":
            print("  %-40s %.2fx" % ("%s TLS/plain wall" % peer, t["wall_s"] / p["wall_s"]))
    ii, mi = get("imapmig-imap", phase="incr"), get("mbsync-imap", phase="incr")
    print("  %-40s imapmig %s s, mbsync %s s" % ("incremental +%d" % a.incr, fnum(ii and ii["wall_s"]),
                                                 fnum(mi and mi["wall_s"])))
    goal("incremental +%d <= mbsync's (IMAP)" % a.incr,
         "%s vs %s s" % (fnum(ii and ii["wall_s"]), fnum(mi and mi["wall_s"])),
         ii is not None and mi is not None and ii["wall_s"] <= mi["wall_s"], [ii], [mi])
    for tool, label in (("imapmig-imap", "IMAP"), ("imapmig-md", "Maildir")):
        n = get(tool, phase="noop")
        cfile = os.path.join(a.counts, "count-%s.json" % tool)
        c = json.load(open(cfile)) if os.path.exists(cfile) else None
        if c:
            print("  %-40s %s s; source: %d commands, %d round trips over %d connections, %d folders:"
                  " %.2f commands, %.2f round trips per folder (in one folder at most %d commands, %d round trips;"
                  " per session %d commands, %d round trips); verbs %s" % (
                      "imapmig nothing new (%s)" % label, fnum(n and n["wall_s"]), c["commands"], c["round_trips"],
                      c["connections"], c["folders"], c["commands_per_folder"], c["round_trips_per_folder"],
                      c["in_folder_commands_max"], c["in_folder_round_trips_max"], c["session_commands"],
                      c["session_round_trips"], " ".join("%s=%d" % kv for kv in c["verbs"].items())))
        trips = c["round_trips_per_folder"] if c else None
        goal("nothing new < 0.2 s and <= 2 round trips per folder (%s)" % label,
             "%s s, %s round trips/folder" % (fnum(n and n["wall_s"]), fnum(trips)),
             n is not None and c is not None and n["wall_s"] < 0.2 and trips <= 2, [n] if c else [n, None])
    for tool, label in (("imapmig-imap", "IMAP"), ("imapmig-md", "Maildir")):
        r = get(tool)
        v = r["tool_cpu_s"] * 1000 / r["messages"] if r else None
        goal("imapmig CPU <= 0.14 ms per message (%s)" % label, fnum(v, "%.3f ms"), v is not None and v <= 0.14, [r])
    peak = max((r["peak_rss_kb"] for k, r in runs.items() if k[0].startswith("imapmig")), default=None)
    goals.append(("peak RSS < 64 MiB with 20 mailboxes and 35 MB messages",
                  "not measured here (%d mailboxes, 10 MB messages: imapmig peaked at %s MB)"
                  % (a.users, fnum(peak and peak / 1024, "%.1f")), ""))
    goals.append(("scale: 10,000 users x 50 messages, scheduler+state overhead < 10 %",
                  "not measured by make bench", ""))

    print()
    print("Issue 9's goals:")
    for text, verdict, value in goals:
        print("  %-62s %-46s %s" % (text, verdict, value))
    notes = [l.strip() for l in open(a.notes) if l.strip()]
    if notes:
        print()
        for n in notes:
            print("note: " + n)
    print()
    print("total run time: %.0f s (%d mailboxes x %d messages; the runs, the oracle's checks, seeding and"
          " the servers' settling included)" % (a.elapsed, a.users, a.msgs))


if __name__ == "__main__":
    main()
