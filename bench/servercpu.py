#!/usr/bin/env python3
"""servercpu.py - CPU seconds a Dovecot instance has used so far.

  servercpu.py [--settle S] PID...     prints seconds (float)

For each master PID: the sum, over the master and every live descendant,
of utime+stime+cutime+cstime from /proc/PID/stat.  The imap and imap-login
processes come and go per connection; when one exits the master reaps it
and its time moves into the master's cutime/cstime, so it is counted once
whether it is still alive (its own utime/stime) or gone (the master's
children time).  Long-lived children (auth, log, config, anvil, stats) are
counted while alive.  The difference of two readings is the CPU the
instance spent in between.  --settle S first waits up to S seconds until no
imap/imap-login process is left below any master (the tool has exited but
Dovecot may still be closing its sessions), so a reading taken after a run
includes all of it.
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def procs():
    """{pid: (ppid, comm, ticks)} for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                data = f.read()
        except OSError:
            continue
        comm = data[data.index("(") + 1:data.rindex(")")]
        rest = data[data.rindex(")") + 2:].split()
        # rest[0] is field 3 (state); utime is field 14 -> rest[11]
        ppid = int(rest[1])
        ticks = sum(int(x) for x in rest[11:15])
        out[int(name)] = (ppid, comm, ticks)
    return out


def tree(ps, roots):
    kids = {}
    for pid, (ppid, _, _) in ps.items():
        kids.setdefault(ppid, []).append(pid)
    seen, todo = [], [r for r in roots if r in ps]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


def main():
    args = sys.argv[1:]
    settle = 0.0
    if args and args[0] == "--settle":
        settle = float(args[1])
        args = args[2:]
    roots = [int(a) for a in args]
    deadline = time.time() + settle
    while True:
        ps = procs()
        members = tree(ps, roots)
        busy = [p for p in members if ps[p][1] in ("imap", "imap-login") and p not in roots]
        if not busy or time.time() >= deadline:
            break
        time.sleep(0.05)
    print("%.2f" % (sum(ps[p][2] for p in members) / TICK))


if __name__ == "__main__":
    main()
