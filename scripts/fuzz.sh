#!/bin/bash
# fuzz.sh BUILD_DIR SECONDS: run every fuzz target from a copy of its
# seed corpus, with its dictionary.  FUZZ_PER_TARGET=1 (`make fuzz`)
# gives each target SECONDS of its own: `make fuzz FUZZ_SECONDS=600` is
# ten minutes per target.  Otherwise SECONDS is shared equally, each
# target getting at least FUZZ_MIN_SECONDS (default 5): `make check`'s
# 60 s smoke run over 10 targets costs 10 x 6 s.  Exit non-zero on any
# crash, leak or timeout, saying where the reproducer is.
set -u
B=${1:?build dir}
SECS=${2:-60}
SRC=$(cd "$(dirname "$0")/.." && pwd)
targets=()
for t in "$B"/fuzz_*; do [ -x "$t" ] && targets+=("$t"); done
[ ${#targets[@]} -gt 0 ] || { echo "fuzz.sh: no fuzz targets in $B" >&2; exit 1; }
MIN=${FUZZ_MIN_SECONDS:-5}
if [ "${FUZZ_PER_TARGET:-0}" = 1 ]; then
	per=$SECS
else
	per=$(( SECS / ${#targets[@]} ))
	[ "$per" -ge "$MIN" ] || per=$MIN
fi
status=0
for t in "${targets[@]}"; do
	name=$(basename "$t"); short=${name#fuzz_}
	work=$(mktemp -d)
	mkdir -p "$work/corpus" "$work/art"
	[ -d "$SRC/fuzz/corpus/$short" ] && cp "$SRC/fuzz/corpus/$short"/* "$work/corpus/" 2>/dev/null
	dict=()
	[ -f "$SRC/fuzz/$short.dict" ] && dict=(-dict="$SRC/fuzz/$short.dict")
	echo "fuzz: $name for $per s"
	if ! "$t" "${dict[@]}" -max_total_time="$per" -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$work/art/" -print_final_stats=1 "$work/corpus" >"$work/log" 2>&1; then
		echo "fuzz: $name FAILED; reproducer and log kept in $work/art and $work/log" >&2
		tail -30 "$work/log" >&2
		status=1
		continue
	fi
	grep -E 'DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done' "$work/log" | tail -4
	rm -rf "$work"
done
exit $status
