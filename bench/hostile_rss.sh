#!/bin/bash
# hostile_rss.sh IMAPMIG: peak RSS of imapmig against sources of hostile
# size (issue 8's bound: 64 MiB), from a scripted server
# (bench/bigmailbox.py):
#   - a 200,000-folder mailbox, listed and planned (imapmig user preview);
#   - a 1,000,000-message folder, listed (imapmig sync, stopped once the
#     listing has been read: no body is ever asked for).
# Figures, not a pass/fail test: it prints a table.
set -u
IMAPMIG=${1:?usage: bench/hostile_rss.sh path/to/imapmig}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
SRV=
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT
export IMAPMIG_STATE="$T/state/state.db"

start_server() { # ARGS
	rm -f "$T/port"
	python3 "$HERE/bigmailbox.py" --port-file "$T/port" "$@" &
	SRV=$!
	for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.05; done
}
stop_server() { kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null; SRV=; }

# peak RSS (KiB) and seconds of CMD; the command's stderr goes to $T/err
measure() {
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$T/rss" "$@" >/dev/null 2>"$T/err"
	RC=$?
	t1=$(date +%s%N)
	RSS=$(tail -1 "$T/rss")
	SECS=$(( (t1 - t0) / 1000000 ))
}

printf 'x\n' >"$T/pw"
printf 'EmailAddress,UserName,Password\nbig@example.org,big,x\n' >"$T/u.csv"
printf '%-44s %10s %10s %6s\n' "case" "peak KiB" "ms" "exit"

start_server --folders 200000 --messages 10
"$IMAPMIG" -q endpoint new --name big --remote-server 127.0.0.1 --port "$(cat "$T/port")" \
	--security none --skip-verification 2>/dev/null
"$IMAPMIG" -q endpoint new --name md --type maildir --path-template "$T/mail/{local}/Maildir"
"$IMAPMIG" -q batch new --name B --source-endpoint big --target-endpoint md --csv "$T/u.csv"
measure "$IMAPMIG" user preview big@example.org
printf '%-44s %10s %10s %6s\n' "200,000 folders: listed and planned" "$RSS" "$SECS" "$RC"
stop_server

start_server --folders 0 --messages 1000000
"$IMAPMIG" -q endpoint set big --port "$(cat "$T/port")" 2>/dev/null ||
	{ "$IMAPMIG" -q endpoint remove big; "$IMAPMIG" -q endpoint new --name big --remote-server 127.0.0.1 \
		--port "$(cat "$T/port")" --security none --skip-verification 2>/dev/null; }
"$IMAPMIG" -q batch remove B --force --yes
"$IMAPMIG" -q batch new --name B --source-endpoint big --target-endpoint md --csv "$T/u.csv" --autostart
# the bench server refuses body fetches, so the sync retries until the
# timeout (60 s): the peak is the listing's
measure timeout 60 "$IMAPMIG" sync --batch B
printf '%-44s %10s %10s %6s\n' "1,000,000-message folder: listed" "$RSS" "$SECS" "$RC"
stop_server
