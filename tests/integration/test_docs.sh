#!/bin/bash
# The documentation stays true: the man page renders without a warning,
# and every command the binary knows is in the man page and the README,
# each with its usage reachable by 'imapmig help CMD' and 'CMD --help'.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
MAN="$IMAPMIG_SRCDIR/docs/imapmig.1"
groff -man -ww -z "$MAN" 2>"$T/groff.err" || fail "the man page does not render"
[ -s "$T/groff.err" ] && fail "groff warns on the man page: $(head -5 "$T/groff.err")"
"$IMAPMIG" --help >"$T/help" || fail "imapmig --help"
cmds=$(sed -n 's/^  \([a-z-]*\)  .*/\1/p' "$T/help")
[ "$(echo "$cmds" | wc -w)" -ge 7 ] || fail "imapmig --help lists too few commands: $cmds"
for c in $cmds; do
	grep -q "^\.B ${c//-/\\\\-}" "$MAN" || grep -q "^\.B ${c//-/\\-}" "$MAN" || fail "man page lacks command $c"
	grep -q "imapmig $c" "$IMAPMIG_SRCDIR/README.md" || fail "README lacks an example of 'imapmig $c'"
	"$IMAPMIG" help "$c" >"$T/h1" 2>&1 || fail "imapmig help $c: exit $?"
	"$IMAPMIG" "$c" --help >"$T/h2" 2>&1 || fail "imapmig $c --help: exit $?"
	cmp -s "$T/h1" "$T/h2" || fail "'help $c' and '$c --help' differ"
	grep -q "usage: imapmig $c" "$T/h1" || fail "imapmig help $c: $(head -2 "$T/h1")"
done
"$IMAPMIG" help nosuch >/dev/null 2>&1
expect_eq "$?" 2 "help for an unknown command"
finish
