#!/bin/bash
# Exact resume: `imapmig sync` killed with SIGKILL at 20+ random moments
# while it migrates several mailboxes, then run to the end.  The target must
# hold exactly the source's messages (SHA-256 multiset per folder): none
# lost, none duplicated.  Once into Maildir, once into a Dovecot over IMAP.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
KILLS=${KILLS:-22}

fixture_start
# A slow link to the source, so every kill lands in the middle of the work.
python3 "$IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py" --to "$IMAPFIX_PORT" \
	--port-file "$T/proxy.port" --rate 1000000 &
PROXY=$!
trap 'kill $PROXY 2>/dev/null; fixture_cleanup' EXIT
for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
PROXY_PORT=$(cat "$T/proxy.port")
printf 'ta:x\nab:x\npc:x\nta@contoso.edu:x\nab@contoso.edu:x\npc@contoso.edu:x\n' >"$T/users2"
fixture_start_second --users-file "$T/users2"

# Three mailboxes, some messages large enough to be cut mid-literal.
$POP --port "$IMAPFIX_PORT" --user terry.adams --password 1091990 --seed 1 'INBOX:60' 'Sent:20' 'Big:6:900000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 2 'INBOX:50' 'Work/Q1:20' 'Big:4:1500000' >/dev/null || exit 1
$POP --port "$IMAPFIX_PORT" --user paul.cannon --password 3281986 --seed 3 'INBOX:70' 'Big:5:700000' >/dev/null || exit 1

export IMAPMIG_STATE="$T/state/state.db"
printf 'P@ssw0rd\n' >"$T/admin.pw"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$PROXY_PORT" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$IMAPFIX2_MAIL/{local}/Maildir"
"$IMAPMIG" -q endpoint new --name dst --type imap --remote-server 127.0.0.1 --port "$IMAPFIX2_PORT" \
	--security none --skip-verification --target-login '{email}*mailadmin' --password-file "$T/admin.pw" 2>/dev/null
cat >"$T/users.csv" <<EOF
EmailAddress,UserName,Password
ta@contoso.edu,terry.adams,1091990
ab@contoso.edu,ann.beebe,2111991
pc@contoso.edu,paul.cannon,3281986
EOF

for dump in terry.adams:1091990 ann.beebe:2111991 paul.cannon:3281986; do
	printf '%s\n' "${dump#*:}" >"$T/pw"
	$IMAPDUMP --port "$IMAPFIX_PORT" --user "${dump%%:*}" --password-file "$T/pw" --no-public >"$T/src-${dump%%:*}.json" || exit 1
done
printf 'x\n' >"$T/x.pw"

kill_loop() { # BATCH
	local i delay pid killed=0
	for i in $(seq 1 "$KILLS"); do
		"$IMAPMIG" -q sync --batch "$1" >/dev/null 2>>"$T/sync.err" &
		pid=$!
		delay=$(python3 -c "import random; print('%.3f' % random.uniform(0.1, 1.0))")
		sleep "$delay"
		if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
		wait "$pid" 2>/dev/null
	done
	echo "$1: killed $killed times in the middle of the work" >&2
	[ "$killed" -ge 20 ] || fail "$1: only $killed kills landed while imapmig ran"
	"$IMAPMIG" sync --batch "$1" >"$T/final.out" 2>"$T/final.err" ||
		fail "$1: the final run failed: $(cat "$T/final.err")"
}

compare() { # TARGET-USER LOCAL-SOURCE-USER PORT
	$IMAPDUMP --port "$3" --user "$1" --password-file "$T/x.pw" --no-public >"$T/dst.json" ||
		{ fail "dump of $1"; return; }
	python3 - "$T/src-$2.json" "$T/dst.json" "$1" <<'EOF' || fail "$1 differs from $2 after the kills"
import json, sys
from collections import Counter
src, dst = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ok = True
for f in set(src) | set(dst):
    a = Counter(m["sha256"] for m in src.get(f, []))
    b = Counter(m["sha256"] for m in dst.get(f, []))
    if a != b:
        lost, dup = sum((a - b).values()), sum((b - a).values())
        print("%s %s: %d lost, %d duplicated or extra" % (sys.argv[3], f, lost, dup))
        ok = False
sys.exit(0 if ok else 1)
EOF
}

"$IMAPMIG" -q batch new --name KillMaildir --source-endpoint src --target-endpoint md --csv "$T/users.csv" --autostart
kill_loop KillMaildir
chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
compare ta terry.adams "$IMAPFIX2_PORT"
compare ab ann.beebe "$IMAPFIX2_PORT"
compare pc paul.cannon "$IMAPFIX2_PORT"
# nothing half-written left behind
left=$(cd "$IMAPFIX2_MAIL" && find . -path '*/tmp/*' -type f | wc -l)
echo "KillMaildir: $left partial file(s) in tmp/ (not visible to the server)" >&2

"$IMAPMIG" -q batch remove KillMaildir --force
"$IMAPMIG" -q batch new --name KillImap --source-endpoint src --target-endpoint dst --csv "$T/users.csv" --autostart
kill_loop KillImap
compare ta@contoso.edu terry.adams "$IMAPFIX2_PORT"
compare ab@contoso.edu ann.beebe "$IMAPFIX2_PORT"
compare pc@contoso.edu paul.cannon "$IMAPFIX2_PORT"
"$IMAPMIG" user get --batch KillImap >&2
finish
