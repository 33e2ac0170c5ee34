#!/bin/bash
# bench/incremental.sh [IMAPMIG] - the cost of an incremental pass with
# nothing new: a 100-folder, 50,000-message mailbox (BENCH_FOLDERS,
# BENCH_PER_FOLDER) migrated once into Maildir, then synced again; prints
# the wall time of the second pass and the commands it sent to the source.
set -u
IMAPMIG=$(realpath "${1:-build/imapmig}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
FOLDERS=${BENCH_FOLDERS:-100}
PER=${BENCH_PER_FOLDER:-500}
export IMAPMIG_SRCDIR=$SRC
. "$SRC/tests/fixtures/lib.sh"
T=$TEST_TMP
fixture_start
echo "bench: seeding $FOLDERS folders x $PER messages ..." >&2
for i in $(seq 1 "$FOLDERS"); do
	$SEED --mail-root "$IMAPFIX_MAIL" --user terry.adams --folder "Folder $i" --count "$PER" \
		--seed "$i" --size-mix small >/dev/null
done
export IMAPMIG_STATE="$T/state/state.db"
"$IMAPMIG" -q endpoint new --name src --remote-server 127.0.0.1 --port "$IMAPFIX_PORT" --security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$T/out/{local}/Maildir"
printf 'EmailAddress,UserName,Password\nterrya@contoso.edu,terry.adams,1091990\n' >"$T/u.csv"
"$IMAPMIG" -q batch new --name B --source-endpoint src --target-endpoint md --csv "$T/u.csv" --autostart
s=$(date +%s.%N)
"$IMAPMIG" -q sync --batch B || { echo "bench: initial sync failed" >&2; exit 1; }
e=$(date +%s.%N)
n=$(find "$T/out" -path '*/cur/*' -type f | wc -l)
echo "initial sync: $n messages in $(echo "$e - $s" | bc) s"
"$IMAPMIG" -q batch set B --sync-now
s=$(date +%s.%N)
"$IMAPMIG" -vv sync --batch B >/dev/null 2>"$T/trace"
e=$(date +%s.%N)
echo "incremental pass, nothing new: $(echo "$e - $s" | bc) s, $(grep -c 'trace: src C: ' "$T/trace") commands to the source:"
grep 'trace: src C: ' "$T/trace" | sed 's/.*src C: /    /'
