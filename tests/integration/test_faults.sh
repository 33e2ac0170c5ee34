#!/bin/bash
# Faults: a proxy that drops connections at random byte offsets (mid-
# command, mid-literal, mid-APPEND) in front of the source and of the
# target, then a source server restarted and a target server restarted in
# the middle of a sync.  One mailbox holds the fidelity corpus (mail nobody
# here wrote, and the torture set but its three 35 MiB messages), the
# other generated mail with messages large enough to be cut mid-literal.
# Every time the migration completes exactly, as tests/fixtures/oracle.py
# reads it: nothing lost, nothing twice; missing only what imapmig
# reported (NUL bytes the source hides or an IMAP target cannot take,
# copies the target stored altered and that were taken back).
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
POP="python3 $IMAPMIG_SRCDIR/tests/fixtures/populate.py"
PROXY="python3 $IMAPMIG_SRCDIR/tests/fakeserver/faultproxy.py"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; fixture_cleanup' EXIT

fixture_start
printf 'ta@contoso.edu:x\nab@contoso.edu:x\nta2@contoso.edu:x\nab2@contoso.edu:x\n' >"$T/users2"
fixture_start_second --users-file "$T/users2"
corpus_ensure
seed_corpus "$IMAPFIX_MAIL" terry.adams authheaders enmime flufl-bounce jwz-ham python-email torture
[ -d "$IMAPFIX_MAIL/terry.adams/Maildir/.jwz-ham" ] || { echo "FAIL: the corpus was not seeded" >&2; exit 1; }
$POP --port "$IMAPFIX_PORT" --user ann.beebe --password 2111991 --seed 2 'INBOX:40' 'Big:3:800000' >/dev/null || exit 1

start_proxy() { # NAME TO-PORT ARGS...: sets PORT_<NAME>
	local name=$1 to=$2
	shift 2
	$PROXY --to "$to" --port-file "$T/$name.port" --log "$T/$name.log" "$@" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$T/$name.port" ] && break; sleep 0.05; done
	eval "PORT_$name=$(cat "$T/$name.port")"
}
start_proxy src "$IMAPFIX_PORT" --drop 20000:2000000 --drop-count 12 --seed 3
start_proxy dst "$IMAPFIX2_PORT" --drop 20000:2000000 --drop-count 12 --seed 4
start_proxy slow "$IMAPFIX_PORT" --rate 2000000

export IMAPMIG_STATE="$T/state/state.db"
printf 'P@ssw0rd\n' >"$T/admin.pw"
printf 'x\n' >"$T/x.pw"
"$IMAPMIG" -q endpoint new --name flaky-src --remote-server 127.0.0.1 --port "$PORT_src" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name slow-src --remote-server 127.0.0.1 --port "$PORT_slow" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name flaky-dst --type imap --remote-server 127.0.0.1 --port "$PORT_dst" \
	--security none --skip-verification --target-login '{email}*mailadmin' --password-file "$T/admin.pw" 2>/dev/null
"$IMAPMIG" -q endpoint new --name dst --type imap --remote-server 127.0.0.1 --port "$IMAPFIX2_PORT" \
	--security none --skip-verification --target-login '{email}*mailadmin' --password-file "$T/admin.pw" 2>/dev/null
printf 'EmailAddress,UserName,Password\nta@contoso.edu,terry.adams,1091990\nab@contoso.edu,ann.beebe,2111991\n' >"$T/a.csv"
printf 'EmailAddress,UserName,Password\nta2@contoso.edu,terry.adams,1091990\nab2@contoso.edu,ann.beebe,2111991\n' >"$T/b.csv"
# exact TARGET-USER SOURCE-USER WHAT: tests/fixtures/oracle.py (no code
# shared with imapmig) finds every source message (its files, as Dovecot
# serves them) on the target - in its files and as it serves them over
# IMAP - byte for byte with flags and INTERNALDATE, none lost, none
# duplicated; the only ones missing are those imapmig reported skipped for
# NUL bytes (an IMAP literal cannot carry NUL), exactly as many as the
# source holds; no transient fault counted as a bad item; the counts
# imapmig reports are what the oracle found.
exact() {
	local nuls
	user_stats "$1" "$1" || return
	expect_eq "$STATUS" Synced "$3: $1 status"
	expect_eq "$BAD" 0 "$3: $1: bad items (transient faults counted as bad items?)"
	nuls=$(skipped_list "$T/$1.stats" "$SKIP_IMAP" "$T/$1.allow") || fail "$3: $1: unexpected skipped items"
	expect_eq "$nuls" "$(nul_files "$IMAPFIX_MAIL/$2/Maildir")" "$3: $1: messages skipped for NUL bytes"
	oracle_compare "$3: $1 (files)" "served:$IMAPFIX_MAIL/$2/Maildir" "served:$IMAPFIX2_MAIL/$1/Maildir" \
		--allow-skipped "$T/$1.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
	oracle_compare "$3: $1 (IMAP)" "served:$IMAPFIX_MAIL/$2/Maildir" "imap:127.0.0.1:$IMAPFIX2_PORT:$1:$T/x.pw" \
		--allow-skipped "$T/$1.allow" --expect-copied "$SYNCED" --expect-skipped "$SKIPPED"
}

# 1. Drops at random byte offsets on both sides.
"$IMAPMIG" -q batch new --name Flaky --source-endpoint flaky-src --target-endpoint flaky-dst --csv "$T/a.csv" --autostart
"$IMAPMIG" sync --batch Flaky >"$T/out" 2>"$T/err"
RC=$?
expect_eq "$RC" 0 "sync through dropping proxies: $(tail -3 "$T/err")"
drops=$(cat "$T/src.log" "$T/dst.log" 2>/dev/null | grep -c dropped)
echo "faults: $drops connections dropped mid-stream" >&2
[ "$drops" -ge 8 ] || fail "only $drops drops happened"
exact ta@contoso.edu terry.adams "drops"
exact ab@contoso.edu ann.beebe "drops"

# 2. The source server restarted in the middle of a sync (slow link), then
# 3. the target server restarted in the middle of another.
"$IMAPMIG" -q batch new --name Restart --source-endpoint slow-src --target-endpoint dst --csv "$T/b.csv" --autostart
"$IMAPMIG" sync --batch Restart >"$T/out" 2>"$T/err" &
SP=$!
sleep 1.5
"$FIXTURE" restart "$IMAPFIX_DIR"
sleep 1.5
"$FIXTURE" restart "$TEST_TMP/fx2"
wait "$SP"
RC=$?
cat "$T/err" >&2
expect_eq "$RC" 0 "sync across server restarts: $(tail -3 "$T/err")"
grep -qi 'retrying' "$T/err" || fail "no restart was noticed (the sync ended too early?)"
exact ta2@contoso.edu terry.adams "restarts"
exact ab2@contoso.edu ann.beebe "restarts"
finish
