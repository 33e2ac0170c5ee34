#!/bin/bash
# Unsafe string functions are compile-time errors in git (banned.h); here a
# lint test: any use in src/ fails `make check`.
set -u
src=${1:-src}
if grep -rnE '\b(strcpy|strcat|strncpy|strncat|sprintf|vsprintf|gets|strtok)\s*\(' \
	--include='*.[ch]' "$src"; then
	echo "check-banned: use buf_add*/snprintf/strtok_r instead of the functions above" >&2
	exit 1
fi
exit 0
