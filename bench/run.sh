#!/bin/bash
# bench/run.sh [IMAPMIG] - imapmig against the peers on the same corpus, in
# the same run: a seeded mailbox (realistic size mix, nested and non-ASCII
# folders) on a real Dovecot, migrated Dovecot->Maildir and Dovecot->Dovecot
# by imapmig, mbsync (Debian isync) and doveadm backup with imapc; then 100
# new messages and an incremental run of each.  Prints messages/s, MB/s,
# peak RSS and CPU seconds side by side.
#
#   BENCH_MSGS=1500 (messages in the mailbox)  BENCH_SEED=1
set -u
IMAPMIG=$(realpath "${1:-build/imapmig}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
MSGS=${BENCH_MSGS:-1500}
SEED_N=${BENCH_SEED:-1}
export IMAPMIG_SRCDIR=$SRC
. "$SRC/tests/fixtures/lib.sh"
T=$TEST_TMP

command -v mbsync >/dev/null || echo "bench: mbsync not found (apt-get install isync); skipping it" >&2
fixture_start
printf 'bench:x\nbench2:x\nbench3:x\n' >"$T/users2"
fixture_start_second --users-file "$T/users2"

echo "bench: seeding $MSGS messages (realistic size mix) ..." >&2
S="$SEED --mail-root $IMAPFIX_MAIL --user terry.adams --size-mix realistic --flags random"
$S --folder INBOX --count $((MSGS * 50 / 100)) --seed "$SEED_N" >/dev/null
$S --folder Sent --count $((MSGS * 20 / 100)) --seed "$((SEED_N + 1))" >/dev/null
$S --folder 'Archive/2024/Q1' --count $((MSGS * 15 / 100)) --seed "$((SEED_N + 2))" >/dev/null
$S --folder 'Projekte/Überblick' --count $((MSGS * 10 / 100)) --seed "$((SEED_N + 3))" >/dev/null
$S --folder 'Lists/dovecot' --count $((MSGS * 5 / 100)) --seed "$((SEED_N + 4))" >/dev/null
BYTES=$(du -sb "$IMAPFIX_MAIL/terry.adams" | cut -f1)
# Let Dovecot index the mailbox once, so no tool pays for that.
echo 1091990 >"$T/terry.pw"
python3 "$SRC/tests/fixtures/oracle.py" dump "imap:127.0.0.1:$IMAPFIX_PORT:terry.adams:$T/terry.pw" >/dev/null

# measure LABEL CMD...: wall, CPU (user+sys of the tool), peak RSS (KB),
# by GNU time, whose own footprint is tiny.
measure() {
	local label=$1 out
	shift
	out=$(/usr/bin/time -f '%e %U %S %M %x' "$@" 2>"$T/tool.err" >/dev/null; tail -1 "$T/tool.err")
	set -- $out
	[ "${5:-1}" = 0 ] || { echo "bench: $label failed: $out" >&2; tail -4 "$T/tool.err" >&2; }
	echo "$label	$1	$(echo "$2 + $3" | bc)	$4	${5:-1}"
}

count_msgs() { find "$1" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l; }

RESULTS="$T/results"
: >"$RESULTS"
row() { # LABEL MEASURE-LINE
	printf '%s\t%s\n' "$1" "$2" >>"$RESULTS"
}

export IMAPMIG_STATE="$T/imapmig/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$T/out-imapmig/{local}/Maildir"
printf 'P@ssw0rd\n' >"$T/admin.pw"
"$IMAPMIG" -q endpoint new --name dst --type imap --remote-server 127.0.0.1 --port "$IMAPFIX2_PORT" \
	--security none --skip-verification --target-login '{local}*mailadmin' --password-file "$T/admin.pw" 2>/dev/null
printf 'EmailAddress,UserName,Password\nterrya@contoso.edu,terry.adams,1091990\n' >"$T/md.csv"
printf 'EmailAddress,UserName,Password\nbench@contoso.edu,terry.adams,1091990\n' >"$T/imap.csv"
"$IMAPMIG" -q batch new --name md --source-endpoint src --target-endpoint md --csv "$T/md.csv" --autostart
"$IMAPMIG" -q batch new --name imap --source-endpoint src --target-endpoint dst --csv "$T/imap.csv" --autostart

# mbsync: one channel per target
mkdir -p "$T/out-mbsync"
cat >"$T/mbsyncrc" <<EOF
IMAPAccount src
Host 127.0.0.1
Port $IMAPFIX_PORT
User terry.adams
Pass 1091990
SSLType None
AuthMechs LOGIN
PipelineDepth 64

IMAPStore src
Account src

MaildirStore md
Path $T/out-mbsync/
Inbox $T/out-mbsync/INBOX
SubFolders Verbatim

IMAPAccount dst
Host 127.0.0.1
Port $IMAPFIX2_PORT
User bench2*mailadmin
Pass P@ssw0rd
SSLType None
AuthMechs LOGIN
PipelineDepth 64

IMAPStore dst
Account dst

Channel md
Far :src:
Near :md:
Patterns *
Create Near
Sync Pull
SyncState *

Channel imap
Far :src:
Near :dst:
Patterns *
Create Near
Sync Pull
SyncState $T/mbsync-state/
EOF
mkdir -p "$T/mbsync-state"

mkdir -p "$T/out-doveadm"
chown "$IMAPFIX2_UID:$IMAPFIX2_GID" "$T/out-doveadm"
cat >"$T/doveadm-backup" <<EOF
#!/bin/sh
exec /usr/bin/doveadm -c "$IMAPFIX2_DIR/main.conf" -o "mail_location=maildir:$T/out-doveadm" \\
	-o imapc_host=127.0.0.1 -o imapc_port=$IMAPFIX_PORT -o imapc_user=terry.adams \\
	-o imapc_password=1091990 -o "imapc_features=rfc822.size fetch-headers" \\
	-o mail_fsync=optimized backup -R -u bench3 imapc:
EOF
chmod +x "$T/doveadm-backup"

run_all() { # PHASE
	local p=$1
	row "imapmig -> Maildir ($p)" "$(measure imapmig "$IMAPMIG" -q sync --batch md)"
	row "imapmig -> Dovecot ($p)" "$(measure imapmig "$IMAPMIG" -q sync --batch imap)"
	if command -v mbsync >/dev/null; then
		row "mbsync  -> Maildir ($p)" "$(measure mbsync mbsync -q -c "$T/mbsyncrc" md)"
		row "mbsync  -> Dovecot ($p)" "$(measure mbsync mbsync -q -c "$T/mbsyncrc" imap)"
	fi
	row "doveadm -> Maildir ($p)" "$(measure doveadm "$T/doveadm-backup")"
}

echo "bench: full migration of $MSGS messages, $((BYTES / 1048576)) MB ..." >&2
run_all full
"$IMAPMIG" -q batch set md --sync-now
"$IMAPMIG" -q batch set imap --sync-now
$S --folder INBOX --count 100 --seed "$((SEED_N + 99))" --size-mix small >/dev/null
echo "bench: incremental after 100 new messages ..." >&2
run_all incremental

echo
echo "messages: $MSGS (+100 incremental), $((BYTES / 1048576)) MB; CPU = user+sys of the tool's process"
printf '%-32s %8s %10s %10s %10s %10s\n' "tool -> target" "seconds" "msgs/s" "MB/s" "peak MB" "CPU s"
while IFS=$'\t' read -r label tool wall cpu rss rc; do
	n=$MSGS; b=$BYTES
	case $label in *incremental*) n=100; b=$((100 * 3000)) ;; esac
	awk -v l="$label" -v w="$wall" -v c="$cpu" -v r="$rss" -v n="$n" -v b="$b" -v rc="$rc" 'BEGIN {
		printf "%-32s %8.2f %10.0f %10.1f %10.1f %10.2f%s\n", l, w, n / (w > 0 ? w : 1), b / 1048576 / (w > 0 ? w : 1), r / 1024, c, rc == 0 ? "" : "  (FAILED)" }'
done <"$RESULTS"
echo
echo "copies: imapmig $(count_msgs "$T/out-imapmig"), mbsync $(count_msgs "$T/out-mbsync"), doveadm $(count_msgs "$T/out-doveadm") messages in the Maildir targets"
