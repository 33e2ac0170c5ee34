#!/bin/bash
# bench/run.sh [IMAPMIG] - issue 9's benchmark: imapmig against its peers on
# the same corpus, in the same run, every result verified byte for byte.
#
# Corpus (bench/corpus.py): BENCH_USERS mailboxes x BENCH_MSGS messages,
# median ~7 KB, 6.5 % 100-480 KB attachments, BENCH_BIG messages of 10 MB
# each, 6 folders (nested, non-ASCII) on a real Dovecot (the source,
# tests/fixtures/dovecot.sh); the tools log in to it as the master user
# ("benchN*mailadmin").  A second Dovecot is the IMAP target.
#
# Runs, all mailboxes at once (imapmig: one batch of all users; the peers:
# one process per mailbox, all started together), each from an empty target,
# in plain IMAP and over TLS (the fixtures' implicit-TLS port, certificate
# checked against their CA):
#   imapmig -> IMAP   mbsync -> IMAP   imapsync -> IMAP (with IMAPSYNC=...)
#   imapmig -> Maildir   doveadm backup -R (imapc) -> Maildir
# and for each: full, incremental after BENCH_INCR new messages per mailbox,
# and incremental with nothing new.  For imapmig (plain) the nothing-new
# pass runs once more through bench/imapcount.py, a counting proxy: the
# commands and round trips the source received, per folder.
#
# Per run: wall s, msg/s, the tool's CPU s and peak RSS (GNU time; peers:
# CPU summed over their processes, RSS the largest one), the Dovecot
# servers' CPU s (bench/servercpu.py: the servers' process trees before and
# after, the master's cutime/cstime included, so the per-connection imap
# processes that came and went are counted), and the oracle's verdict
# (bench/verify.py over tests/fixtures/oracle.py: per folder SHA-256
# multiset, flags, INTERNALDATE; "NOT EXACT" in the table otherwise).
#
# Knobs (environment):
#   BENCH_USERS=4        mailboxes, all migrated at once
#   BENCH_MSGS=5000      messages per mailbox (4 x 5000: 726 MB)
#   BENCH_BIG=           10 MB messages per mailbox (default BENCH_MSGS/1000, >= 1)
#   BENCH_INCR=100       new messages per mailbox before the incremental run
#   BENCH_SEED=1         corpus seed
#   BENCH_TOOLS="imapmig-imap mbsync-imap imapsync-imap imapmig-md doveadm-md"
#   BENCH_SECURITY="plain tls"
#   IMAPSYNC=/path/to/imapsync   adds imapsync -> IMAP (skipped otherwise)
#   BENCH_RESULTS=FILE   also write the per-run results (TSV) there
#   IMAPMIG_KEEP_TMP=1   keep the temp directory (logs, oracle reports, mail)
#   BENCH_KEEP_TARGETS=1 do not delete each tool's target mail after its runs
# Run it under `nice` on a busy machine; take real figures on a quiet one.
set -u
BENCH_T0=$(date +%s.%N)
IMAPMIG=$(realpath "${1:-build/imapmig}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
HERE=$SRC/bench
USERS=${BENCH_USERS:-4}
MSGS=${BENCH_MSGS:-5000}
BIG=${BENCH_BIG:-$((MSGS / 1000 > 0 ? MSGS / 1000 : 1))}
INCR=${BENCH_INCR:-100}
SEED_N=${BENCH_SEED:-1}
TOOLS=${BENCH_TOOLS:-imapmig-imap mbsync-imap imapsync-imap imapmig-md doveadm-md}
SECS=${BENCH_SECURITY:-plain tls}
FOLDERS_PER_USER=6
[ -x "$IMAPMIG" ] || { echo "bench: $IMAPMIG is not an executable (make build first)" >&2; exit 2; }
export IMAPMIG_SRCDIR=$SRC
. "$SRC/tests/fixtures/lib.sh"
T=$TEST_TMP
PROXY_PID=
trap '[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null; fixture_cleanup' EXIT
say() { printf 'bench: [%4.0fs] %s\n' "$(echo "$(date +%s.%N) - $BENCH_T0" | bc)" "$*" >&2; }

NOTES=()
have_tool() { # TOOL -> 0 when it can run here
	case $1 in
	mbsync-imap) command -v mbsync >/dev/null || { NOTES+=("mbsync: not installed (apt-get install isync), skipped"); return 1; } ;;
	doveadm-md) command -v doveadm >/dev/null || { NOTES+=("doveadm: not installed, skipped"); return 1; } ;;
	imapsync-imap)
		if [ -z "${IMAPSYNC:-}" ]; then
			NOTES+=("imapsync: skipped (give IMAPSYNC=/path/to/imapsync to run it)")
			return 1
		fi
		[ -x "$IMAPSYNC" ] || { NOTES+=("imapsync: $IMAPSYNC is not executable, skipped"); return 1; }
		;;
	esac
	return 0
}
RUN_TOOLS=()
for tool in $TOOLS; do have_tool "$tool" && RUN_TOOLS+=("$tool"); done

# ---- servers and users ------------------------------------------------------
: >"$T/src-users"
for i in $(seq 1 "$USERS"); do echo "bench$i:pw$i" >>"$T/src-users"; done
: >"$T/dst-users"
for i in $(seq 1 "$USERS"); do
	for tool in imapmig mbsync imapsync doveadm; do
		for sec in plain tls; do echo "u$i.$tool.$sec@bench.test:x" >>"$T/dst-users"; done
	done
done
fixture_start --users-file "$T/src-users"
fixture_start_second --users-file "$T/dst-users"
export IMAPFIX_UID IMAPFIX_GID
printf 'P@ssw0rd\n' >"$T/admin.pw"
SRC_PIDS="$(cat "$IMAPFIX_DIR/pid" "$IMAPFIX_DIR/pid-notls")"
DST_PIDS="$(cat "$IMAPFIX2_DIR/pid" "$IMAPFIX2_DIR/pid-notls")"
DOVEADM_SRC="doveadm -c $IMAPFIX_DIR/main.conf"

src_port() { [ "$1" = tls ] && echo "$IMAPFIX_PORT_SSL" || echo "$IMAPFIX_PORT"; }
dst_port() { [ "$1" = tls ] && echo "$IMAPFIX2_PORT_SSL" || echo "$IMAPFIX2_PORT"; }

# ---- the corpus ---------------------------------------------------------------
say "seeding $USERS mailboxes x $MSGS messages ($BIG of 10 MB each) ..."
for i in $(seq 1 "$USERS"); do
	nice python3 "$HERE/corpus.py" --mail-root "$IMAPFIX_MAIL" --user "bench$i" --count "$MSGS" \
		--big "$BIG" --seed "$SEED_N" >"$T/seed.$i" &
done
wait
BYTES=$(cat "$T"/seed.* | awk '{ s += $2 } END { print s }')
NMSGS=$((USERS * MSGS))
say "corpus: $NMSGS messages, $((BYTES / 1048576)) MB"

# source_state NAME: index every mailbox (bench/warm.py) and keep the
# oracle's reading of the source as $T/src/NAME.<i>.json
source_state() {
	local i
	mkdir -p "$T/src"
	for i in $(seq 1 "$USERS"); do
		python3 "$HERE/warm.py" 127.0.0.1 "$IMAPFIX_PORT" "bench$i*mailadmin" "$T/admin.pw" ||
			say "warming bench$i failed"
		python3 "$HERE/verify.py" dump "served:$IMAPFIX_MAIL/bench$i/Maildir" "$T/src/$1.$i.json"
	done
}
source_state base

# add_incr / drop_incr: BENCH_INCR new messages per mailbox (the same ones
# every time), and their removal after each tool's runs (doveadm expunge by
# UID), so every tool starts from the same source.
add_incr() {
	local i f
	for i in $(seq 1 "$USERS"); do
		for f in INBOX Sent; do
			$DOVEADM_SRC -f flow mailbox status -u "bench$i" uidnext "$f" |
				sed 's/.*uidnext=//' >"$T/uidnext.$i.$f"
		done
		python3 "$HERE/corpus.py" --mail-root "$IMAPFIX_MAIL" --user "bench$i" \
			--incremental "$INCR" --seed "$SEED_N" >/dev/null
	done
	source_state plus
}
drop_incr() {
	local i f
	for i in $(seq 1 "$USERS"); do
		for f in INBOX Sent; do
			$DOVEADM_SRC expunge -u "bench$i" mailbox "$f" uid "$(cat "$T/uidnext.$i.$f"):*"
		done
	done
	for i in $(seq 1 "$USERS"); do
		python3 "$HERE/warm.py" 127.0.0.1 "$IMAPFIX_PORT" "bench$i*mailadmin" "$T/admin.pw"
	done
}

# ---- the tools ------------------------------------------------------------------
# prep_TOOL SEC: an empty target and one script per process in $T/run/TOOL-SEC.*.sh
# (each ends in `exec TOOL ...`, so GNU time measures the tool itself).
# pre_TOOL SEC PHASE: what must happen before a run (not timed).

# im ARGS: an imapmig setup command; its warnings (plaintext endpoints) go
# to a log, its error, if any, to the terminal
im() {
	"$IMAPMIG" -q "$@" 2>>"$T/log/imapmig-setup.err" && return 0
	say "imapmig $1 $2 failed: $(tail -n 1 "$T/log/imapmig-setup.err")"
	return 1
}

prep_imapmig() { # KIND(imap|md) SEC
	local kind=$1 sec=$2 d="$T/imapmig-$1-$2" i sslsrc="" ssldst=""
	rm -rf "$d"
	mkdir -p "$d/state" "$d/out"
	export IMAPMIG_STATE="$d/state/state.db"
	[ "$sec" = tls ] && sslsrc="--security ssl --ca-file $IMAPFIX_CA" || sslsrc="--security none"
	[ "$sec" = tls ] && ssldst="--security ssl --ca-file $IMAPFIX2_CA" || ssldst="--security none"
	im endpoint new --name src --remote-server 127.0.0.1 --port "$(src_port "$sec")" $sslsrc \
		--skip-verification --max-concurrent-migrations "$USERS" --max-concurrent-incremental-syncs "$USERS" || return 1
	if [ "$kind" = md ]; then
		im endpoint new --name dst --type maildir --path-template "$d/out/{local}/Maildir" || return 1
	else
		im endpoint new --name dst --type imap --remote-server 127.0.0.1 --port "$(dst_port "$sec")" \
			$ssldst --skip-verification --target-login '{email}*mailadmin' --password-file "$T/admin.pw" || return 1
	fi
	printf 'EmailAddress,UserName,Password\n' >"$d/users.csv"
	for i in $(seq 1 "$USERS"); do
		printf 'u%s.imapmig.%s@bench.test,bench%s*mailadmin,P@ssw0rd\n' "$i" "$sec" "$i" >>"$d/users.csv"
	done
	im batch new --name B --source-endpoint src --target-endpoint dst --csv "$d/users.csv" --autostart || return 1
	printf 'export IMAPMIG_STATE=%q\nexec %q -q sync --batch B\n' "$IMAPMIG_STATE" "$IMAPMIG" >"$T/run/$3.1.sh"
}
prep_imapmig-imap() { prep_imapmig imap "$1" "imapmig-imap-$1"; }
prep_imapmig-md() { prep_imapmig md "$1" "imapmig-md-$1"; }
pre_imapmig() { # KIND SEC PHASE
	[ "$3" = full ] && return 0
	IMAPMIG_STATE="$T/imapmig-$1-$2/state/state.db" "$IMAPMIG" -q batch set B --sync-now
}
pre_imapmig-imap() { pre_imapmig imap "$@"; }
pre_imapmig-md() { pre_imapmig md "$@"; }
target_imapmig-imap() { echo "imap:127.0.0.1:$IMAPFIX2_PORT:u$2.imapmig.$1@bench.test*mailadmin:$T/admin.pw"; }
target_imapmig-md() { echo "files:$T/imapmig-md-$1/out/u$2.imapmig.$1/Maildir"; }

prep_mbsync-imap() { # SEC
	local sec=$1 d="$T/mbsync-$1" i ssl
	rm -rf "$d"
	mkdir -p "$d"
	[ "$sec" = tls ] && ssl="SSLType IMAPS" || ssl="SSLType None"
	for i in $(seq 1 "$USERS"); do
		mkdir -p "$d/state$i"
		cat >"$d/rc$i" <<EOF
IMAPAccount src
Host 127.0.0.1
Port $(src_port "$sec")
User bench$i*mailadmin
Pass P@ssw0rd
$ssl$([ "$sec" = tls ] && printf '\nCertificateFile %s' "$IMAPFIX_CA")
AuthMechs LOGIN

IMAPAccount dst
Host 127.0.0.1
Port $(dst_port "$sec")
User u$i.mbsync.$sec@bench.test*mailadmin
Pass P@ssw0rd
$ssl$([ "$sec" = tls ] && printf '\nCertificateFile %s' "$IMAPFIX2_CA")
AuthMechs LOGIN

IMAPStore src
Account src

IMAPStore dst
Account dst

Channel c
Far :src:
Near :dst:
Patterns *
Create Near
Sync Pull
CopyArrivalDate yes
SyncState $d/state$i/
EOF
		printf 'exec mbsync -q -c %q -a\n' "$d/rc$i" >"$T/run/mbsync-imap-$sec.$i.sh"
	done
}
pre_mbsync-imap() { :; }
target_mbsync-imap() { echo "imap:127.0.0.1:$IMAPFIX2_PORT:u$2.mbsync.$1@bench.test*mailadmin:$T/admin.pw"; }

prep_imapsync-imap() { # SEC
	local sec=$1 d="$T/imapsync-$1" i ssl=""
	rm -rf "$d"
	mkdir -p "$d"
	[ "$sec" = tls ] && ssl="--ssl1 --sslargs1 SSL_verify_mode=1 --sslargs1 SSL_ca_file=$IMAPFIX_CA --ssl2 --sslargs2 SSL_verify_mode=1 --sslargs2 SSL_ca_file=$IMAPFIX2_CA"
	for i in $(seq 1 "$USERS"); do
		mkdir -p "$d/tmp$i"
		printf 'exec %q --host1 127.0.0.1 --port1 %s --user1 bench%s --authuser1 mailadmin --passfile1 %q --host2 127.0.0.1 --port2 %s --user2 u%s.imapsync.%s@bench.test --authuser2 mailadmin --passfile2 %q %s --nolog --noreleasecheck --nofoldersizes --nofoldersizesatend --tmpdir %q\n' \
			"$IMAPSYNC" "$(src_port "$sec")" "$i" "$T/admin.pw" "$(dst_port "$sec")" "$i" "$sec" "$T/admin.pw" "$ssl" "$d/tmp$i" \
			>"$T/run/imapsync-imap-$sec.$i.sh"
	done
}
pre_imapsync-imap() { :; }
target_imapsync-imap() { echo "imap:127.0.0.1:$IMAPFIX2_PORT:u$2.imapsync.$1@bench.test*mailadmin:$T/admin.pw"; }

prep_doveadm-md() { # SEC: doveadm of the target's Dovecot, writing Maildirs, reading the source by imapc
	local sec=$1 d="$T/doveadm-$1" i
	rm -rf "$d"
	mkdir -p "$d"
	chown "$IMAPFIX2_UID:$IMAPFIX2_GID" "$d"
	for i in $(seq 1 "$USERS"); do
		# the password stays in a file, not in argv
		cat >"$d/conf$i" <<EOF
!include $IMAPFIX2_DIR/main.conf
mail_location = maildir:$d/u$i
mail_fsync = optimized
imapc_host = 127.0.0.1
imapc_port = $(src_port "$sec")
imapc_ssl = $([ "$sec" = tls ] && echo imaps || echo no)
$([ "$sec" = tls ] && echo "ssl_client_ca_file = $IMAPFIX_CA")
imapc_user = bench$i
imapc_master_user = mailadmin
imapc_password = P@ssw0rd
imapc_features = rfc822.size fetch-headers
EOF
		chmod 644 "$d/conf$i"
		printf 'exec doveadm -c %q backup -R -u u%s.doveadm.%s@bench.test imapc:\n' "$d/conf$i" "$i" "$sec" \
			>"$T/run/doveadm-md-$sec.$i.sh"
	done
}
pre_doveadm-md() { :; }
target_doveadm-md() { echo "served:$T/doveadm-$1/u$2"; }

clean_target() { # TOOL SEC: free the disk before the next tool
	local i
	[ -n "${BENCH_KEEP_TARGETS:-}" ] && return 0
	case $1 in
	imapmig-imap | mbsync-imap | imapsync-imap)
		for i in $(seq 1 "$USERS"); do
			rm -rf "$IMAPFIX2_MAIL/u$i.${1%-imap}.$2@bench.test"
		done
		;;
	imapmig-md) rm -rf "$T/imapmig-md-$2/out" ;;
	doveadm-md) rm -rf "$T/doveadm-$2" ;;
	esac
}

# ---- measuring --------------------------------------------------------------------
srv_cpu() { # TOOL -> CPU s of the servers this tool talks to (the source; the target too for IMAP)
	case $1 in
	*-imap) python3 "$HERE/servercpu.py" --settle 15 $SRC_PIDS $DST_PIDS ;;
	*) python3 "$HERE/servercpu.py" --settle 15 $SRC_PIDS ;;
	esac
}

RESULTS="$T/results.tsv"
printf 'tool\tsecurity\tphase\tmessages\twall_s\ttool_cpu_s\tpeak_rss_kb\tprocesses\tdovecot_cpu_s\trc\tverified\n' >"$RESULTS"

# run_phase TOOL SEC PHASE MESSAGES SOURCE-STATE: all of the tool's processes
# at once under GNU time, then the oracle on every mailbox.
run_phase() {
	local tool=$1 sec=$2 phase=$3 n=$4 state=$5 s k pids=() rc=0 c0 c1 t0 t1 i v verdict=exact cpu rss
	"pre_$tool" "$sec" "$phase" || rc=1
	c0=$(srv_cpu "$tool")
	t0=$(date +%s.%N)
	k=0
	for s in "$T/run/$tool-$sec".*.sh; do
		k=$((k + 1))
		/usr/bin/time -f '%e %U %S %M %x' -o "$T/log/$tool-$sec-$phase.$k.time" \
			bash "$s" >"$T/log/$tool-$sec-$phase.$k.out" 2>&1 &
		pids+=($!)
	done
	for s in "${pids[@]}"; do wait "$s" || rc=1; done
	t1=$(date +%s.%N)
	c1=$(srv_cpu "$tool")
	read -r cpu rss < <(for s in "$T/log/$tool-$sec-$phase".*.time; do tail -1 "$s"; done |
		awk '{ c += $2 + $3; if ($4 > m) m = $4 } END { printf "%.2f %d\n", c, m }')
	[ "$rc" = 0 ] || say "$tool $sec $phase: a process failed: $(tail -q -n 3 "$T/log/$tool-$sec-$phase".*.out | tr '\n' ' ')"
	for i in $(seq 1 "$USERS"); do
		v=$(python3 "$HERE/verify.py" check "$T/src/$state.$i.json" "$("target_$tool" "$sec" "$i")" \
			"$T/log/$tool-$sec-$phase.verify.$i")
		case $v in
		exact*) ;;
		*) verdict="NOT-EXACT(mailbox$i:${v#NOT-EXACT })"; say "$tool $sec $phase mailbox $i: $v (see $T/log/$tool-$sec-$phase.verify.$i)" ;;
		esac
	done
	printf '%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%s\t%.2f\t%s\t%s\n' "$tool" "$sec" "$phase" "$n" \
		"$(echo "$t1 - $t0" | bc)" "$cpu" "$rss" "$k" "$(echo "$c1 - $c0" | bc)" "$rc" "$verdict" >>"$RESULTS"
	say "$(tail -1 "$RESULTS" | tr '\t' ' ')"
}

# count_noop TOOL: imapmig's nothing-new pass once more, through the
# counting proxy in front of the source (plain only)
count_noop() {
	local tool=$1 kind=${1#imapmig-} d port
	d="$T/imapmig-$kind-plain"
	rm -f "$T/proxy.port"
	python3 "$HERE/imapcount.py" --to "$IMAPFIX_PORT" --port-file "$T/proxy.port" --log "$T/count-$tool.jsonl" &
	PROXY_PID=$!
	for _ in $(seq 100); do [ -s "$T/proxy.port" ] && break; sleep 0.05; done
	port=$(cat "$T/proxy.port")
	export IMAPMIG_STATE="$d/state/state.db"
	im endpoint set src --port "$port" --skip-verification &&
		im batch set B --sync-now &&
		"$IMAPMIG" -q sync --batch B >"$T/log/count-$tool.out" 2>&1 ||
		say "$tool: the counted nothing-new pass failed: $(tail -2 "$T/log/count-$tool.out")"
	im endpoint set src --port "$IMAPFIX_PORT" --skip-verification
	sleep 0.5
	kill "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	PROXY_PID=
	python3 "$HERE/imapcount.py" --summary "$T/count-$tool.jsonl" "$((USERS * FOLDERS_PER_USER))" >"$T/count-$tool.json"
	say "$tool nothing new, source side: $(cat "$T/count-$tool.json")"
}

mkdir -p "$T/run" "$T/log"
for sec in $SECS; do
	for tool in "${RUN_TOOLS[@]}"; do
		say "== $tool ($sec)"
		rm -f "$T/run/$tool-$sec".*.sh
		if ! "prep_$tool" "$sec"; then
			say "$tool $sec: setup failed"
			continue
		fi
		run_phase "$tool" "$sec" full "$NMSGS" base
		add_incr
		run_phase "$tool" "$sec" incr "$((USERS * INCR))" plus
		run_phase "$tool" "$sec" noop 0 plus
		case $tool in imapmig-*) [ "$sec" = plain ] && count_noop "$tool" ;; esac
		drop_incr
		clean_target "$tool" "$sec"
	done
done

[ -n "${BENCH_RESULTS:-}" ] && cp "$RESULTS" "$BENCH_RESULTS"
BENCH_T1=$(date +%s.%N)
printf '%s\n' "${NOTES[@]}" >"$T/notes"
python3 "$HERE/report.py" --results "$RESULTS" --bytes "$BYTES" --users "$USERS" --msgs "$MSGS" \
	--incr "$INCR" --counts "$T" --notes "$T/notes" --elapsed "$(echo "$BENCH_T1 - $BENCH_T0" | bc)"
