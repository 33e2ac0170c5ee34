#!/bin/bash
# Exact resume: `imapmig sync` killed with SIGKILL at 20+ random moments
# while it migrates several mailboxes, then run to the end.  The target must
# hold exactly the source's messages (SHA-256 multiset per folder, flags,
# INTERNALDATE, as tests/fixtures/oracle.py reads both sides): none lost,
# none duplicated.  One mailbox holds the fidelity corpus (mail nobody here
# wrote, and the torture set but its three 35 MiB messages), the others
# generated mail with messages large enough to be cut mid-literal.  The
# only messages allowed missing are those imapmig reported: NUL bytes the
# source hides, NUL bytes an IMAP target cannot take, copies the target
# stored altered (taken back).  Once into Maildir, once into a Dovecot
# over IMAP.
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

corpus_ensure
seed_corpus "$IMAPFIX_MAIL" terry.adams authheaders enmime flufl-bounce jwz-ham python-email torture
[ -d "$IMAPFIX_MAIL/terry.adams/Maildir/.jwz-ham" ] || { echo "FAIL: the corpus was not seeded" >&2; exit 1; }
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

printf 'x\n' >"$T/x.pw"

kill_loop() { # BATCH
	local i delay pid killed=0
	"$IMAPMIG" -q endpoint set src --port "$PROXY_PORT" --skip-verification || fail "endpoint set src --port (proxy)"
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
	# the run that resumes after the kills need not crawl: straight to
	# the server
	"$IMAPMIG" -q endpoint set src --port "$IMAPFIX_PORT" --skip-verification || fail "endpoint set src --port"
	"$IMAPMIG" sync --batch "$1" >"$T/final.out" 2>"$T/final.err" ||
		fail "$1: the final run failed: $(cat "$T/final.err")"
}

# compare EMAIL SOURCE-USER md|imap: tests/fixtures/oracle.py (no
# code shared with imapmig) finds every source message (its files, as
# Dovecot serves them) on the target exactly once, byte for byte with flags
# and INTERNALDATE - a Maildir target's files as stored, a Dovecot target's
# files and what it serves over IMAP - except those imapmig reported
# skipped for NUL bytes on an IMAP target (an IMAP literal cannot carry
# NUL), exactly as many as the source holds; the counts imapmig reports,
# after all the kills, are what the oracle found.
compare() {
	local src="served:$IMAPFIX_MAIL/$2/Maildir" nuls
	user_stats "$1" "$3-$1" || return
	expect_eq "$STATUS" Synced "$1 status after the kills"
	expect_eq "$BAD" 0 "$1: bad items after the kills"
	if [ "$3" = md ]; then
		# into Maildir, only what the source cannot give exactly
		skipped_list "$T/$3-$1.stats" "$SKIP_SRCNUL" "$T/$3-$1.allow" >/dev/null || fail "$1: unexpected skipped items"
		oracle_compare "$1 (files) after the kills" "$src" "files:$IMAPFIX2_MAIL/${1%%@*}/Maildir" \
			--allow-skipped "$T/$3-$1.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
		return
	fi
	nuls=$(skipped_list "$T/$3-$1.stats" "$SKIP_IMAP" "$T/$3-$1.allow") || fail "$1: unexpected skipped items"
	expect_eq "$nuls" "$(nul_files "$IMAPFIX_MAIL/$2/Maildir")" "$1: messages skipped for NUL bytes"
	oracle_compare "$1 (files) after the kills" "$src" "served:$IMAPFIX2_MAIL/$1/Maildir" \
		--allow-skipped "$T/$3-$1.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
	oracle_compare "$1 (IMAP) after the kills" "$src" "imap:127.0.0.1:$IMAPFIX2_PORT:$1:$T/x.pw" \
		--allow-skipped "$T/$3-$1.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
}

"$IMAPMIG" -q batch new --name KillMaildir --source-endpoint src --target-endpoint md --csv "$T/users.csv" --autostart
kill_loop KillMaildir
chown -R "$IMAPFIX2_UID:$IMAPFIX2_GID" "$IMAPFIX2_MAIL"
compare ta@contoso.edu terry.adams md
compare ab@contoso.edu ann.beebe md
compare pc@contoso.edu paul.cannon md
# nothing half-written left behind
left=$(cd "$IMAPFIX2_MAIL" && find . -path '*/tmp/*' -type f | wc -l)
echo "KillMaildir: $left partial file(s) in tmp/ (not visible to the server)" >&2

"$IMAPMIG" -q batch remove KillMaildir --force --yes
"$IMAPMIG" -q batch new --name KillImap --source-endpoint src --target-endpoint dst --csv "$T/users.csv" --autostart
kill_loop KillImap
compare ta@contoso.edu terry.adams imap
compare ab@contoso.edu ann.beebe imap
compare pc@contoso.edu paul.cannon imap
"$IMAPMIG" user get --batch KillImap >&2
finish
