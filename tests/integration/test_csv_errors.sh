#!/bin/bash
# Every bad CSV is refused with exit 2, one line naming file:line and what
# to do, and nothing imported.  No server needed: the endpoint is saved
# with --skip-verification.
set -u
: "${IMAPMIG:?}"
. "$IMAPMIG_SRCDIR/tests/fixtures/lib.sh"
T=$TEST_TMP
export IMAPMIG_STATE="$T/state.db"
"$IMAPMIG" endpoint new --name Src --remote-server 127.0.0.1 --port 1 --skip-verification >/dev/null ||
	fail "endpoint new --skip-verification"
"$IMAPMIG" endpoint new --name Local --type maildir --path-template "$T/mail/{domain}/{local}/Maildir" >/dev/null ||
	fail "endpoint new maildir"

# --security and --authentication in any case, stored canonical
"$IMAPMIG" -q endpoint new --name Upper --remote-server 127.0.0.1 --port 1 --security TLS \
	--authentication PLAIN --skip-verification || fail "endpoint new --security TLS"
"$IMAPMIG" endpoint get Upper --json | python3 -c 'import json,sys; e=json.load(sys.stdin); e=e[0] if isinstance(e,list) else e; assert (e["security"], e["authentication"]) == ("tls", "plain"), e' ||
	fail "security/authentication not stored canonical"

check() { # NAME EXPECTED-REGEX (CSV on stdin)
	local name=$1 re=$2
	cat >"$T/$name.csv"
	"$IMAPMIG" batch new --name "B-$name" --source-endpoint Src --target-endpoint Local \
		--csv "$T/$name.csv" >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" = 2 ] || fail "$name: exit $rc, want 2 ($(cat "$T/err"))"
	[ "$(wc -l <"$T/err")" = 1 ] || fail "$name: not one line: $(cat "$T/err")"
	grep -Eq "$re" "$T/err" || fail "$name: message '$(cat "$T/err")' does not match '$re'"
	grep -q 'S3cret' "$T/err" && fail "$name: a password in the error"
	"$IMAPMIG" batch get "B-$name" >/dev/null 2>&1 && fail "$name: a batch was imported"
}

printf 'EmailAddress,UserName\na@b.com,x\n' | check missing 'missing.csv:1: required column Password is missing'
printf 'EmailAddress,UserName,Password,Dept\na@b.com,x,S3cret,IT\n' | check unknown 'unknown.csv:1: unknown column "Dept".*--allow-unknown-columns'
printf 'EmailAddress,UserName,Password\na@b.com,x,S3cret\nc@d.com,,S3cret\n' | check emptyuser 'emptyuser.csv:3: UserName is empty'
printf 'EmailAddress,UserName,Password\na@b.com,x,\n' | check emptypw 'emptypw.csv:2: Password is empty'
printf 'EmailAddress,UserName,Password\nterrya@,x,S3cret\n' | check badaddr 'badaddr.csv:2: EmailAddress "terrya@" is not a valid address'
printf 'EmailAddress,UserName,Password\na@b.com,x,S3cret\nA@B.com,y,S3cret\n' | check dup 'dup.csv:3: A@B.com is already on line 2'
printf 'EmailAddress,UserName,Password\n"a@b.com,x,S3cret\n' | check quote 'quote.csv:2: a quoted field is not closed'
printf 'EmailAddress,UserName,Password\na@b.com,x,S3cret,extra\n' | check fields 'fields.csv:2: 4 fields where the header has 3'
printf 'EmailAddress,UserName,Password\na@b.com,x,S3cret\n\xff\xfe,y,z\n' | check utf8 'utf8.csv: not valid UTF-8'
# Every row's error at once, in file order, then one line that sums up;
# each repeat names the line where the address first appeared.
printf 'EmailAddress,UserName,Password\nz@b.com,x,S3cret\na@b.com,x,S3cret\nc@d.com,x,S3cret\nC@D.com,x,S3cret\nA@b.com,,S3cret\na@B.com,x,S3cret\nbad@,x,S3cret\n' >"$T/multi.csv"
"$IMAPMIG" batch new --name B-multi --source-endpoint Src --target-endpoint Local --csv "$T/multi.csv" >/dev/null 2>"$T/err"
expect_eq "$?" 2 "a CSV with several bad rows"
cat >"$T/want" <<EOF
imapmig: batch new: $T/multi.csv:6: UserName is empty: fill it in
imapmig: batch new: $T/multi.csv:8: EmailAddress "bad@" is not a valid address: fix the row
imapmig: batch new: $T/multi.csv:5: C@D.com is already on line 4: each mailbox once per batch
imapmig: batch new: $T/multi.csv:7: a@B.com is already on line 3: each mailbox once per batch
imapmig: batch new: $T/multi.csv: 4 rows with errors (listed above): fix them; nothing was imported
EOF
diff "$T/want" "$T/err" >/dev/null || fail "several bad rows: $(diff "$T/want" "$T/err")"
"$IMAPMIG" batch get B-multi >/dev/null 2>&1 && fail "multi: a batch was imported"
# ... up to 20 of them
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password\n" + "".join("u%d@,x,S3cret\n" % i for i in range(100)))' >"$T/many.csv"
"$IMAPMIG" batch new --name B-many --source-endpoint Src --target-endpoint Local --csv "$T/many.csv" >/dev/null 2>"$T/err"
expect_eq "$?" 2 "a CSV with 100 bad rows"
expect_eq "$(wc -l <"$T/err")" 21 "100 bad rows: 20 listed and a summary"
grep -q 'at least 20 rows with errors' "$T/err" || fail "many: $(tail -1 "$T/err")"
# A spreadsheet that separates with ';'
printf 'EmailAddress;UserName;Password\na@b.com;x;S3cret\n' | check semicolon "semicolon.csv:1: the columns are separated by ';', not ','.*save the file as comma-separated"
# A UserName with a space at either end is taken as it is, with a warning.
printf 'EmailAddress,UserName,Password\nsp@b.com, terry.adams,S3cret\nok@b.com,ann,S3cret\n' >"$T/space.csv"
"$IMAPMIG" batch new --name B-space --source-endpoint Src --target-endpoint Local --csv "$T/space.csv" >/dev/null 2>"$T/err"
expect_eq "$?" 0 "a UserName with a leading space"
grep -q "^imapmig: warning: batch new: $T/space.csv:2: UserName \" terry.adams\" begins or ends with a space" "$T/err" ||
	fail "no warning for a UserName with a leading space: $(cat "$T/err")"
expect_eq "$(wc -l <"$T/err")" 1 "one warning, for the one row"
# Fields are capped: 1 KiB, and 320 bytes for an address (RFC 5321: local
# part 64 + '@' + domain 255).  The size is told, never the value.
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password\npw@b.com,x,S3cret" + "p" * (2 * 1024 * 1024) + "\n")' |
	check bigpw 'bigpw.csv:2: Password is 2097158 bytes; the limit is 1024$'
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password\nuser1@b.com,x,S3cret\nuser2@b.com," + "u" * 1025 + ",S3cret\n")' |
	check biguser 'biguser.csv:3: UserName is 1025 bytes; the limit is 1024$'
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password,UserRoot\nroot@b.com,x,S3cret,\"" + "r" * 4000 + "\"\n")' |
	check bigroot 'bigroot.csv:2: UserRoot is 4000 bytes; the limit is 1024$'
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password\n" + "a" * 64 + "@" + "b" * 252 + ".com,x,S3cret\n")' |
	check bigaddr 'bigaddr.csv:2: EmailAddress is 321 bytes; the limit is 320$'
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password,TargetPassword\ntpw@b.com,x,S3cret,S3cret" + "t" * 1100 + "\n")' |
	check bigtpw 'bigtpw.csv:2: TargetPassword is 1106 bytes; the limit is 1024$'
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password," + "D" * 1025 + "\nhdr@b.com,x,S3cret,IT\n")' >"$T/bighdr.csv"
"$IMAPMIG" batch new --name B-bighdr --source-endpoint Src --target-endpoint Local --csv "$T/bighdr.csv" \
	--allow-unknown-columns >/dev/null 2>"$T/err"
expect_eq "$?" 2 "a 1025-byte column name"
grep -Eq 'bighdr.csv:1: column 4.s name is 1025 bytes; the limit is 1024$' "$T/err" || fail "bighdr: $(cat "$T/err")"
# Every row keeps a copy of the extra columns' names: 200 columns of 1 KiB
# names made a 636 KB file take 486 MB; so at most 32 extra columns, their
# names 1 KiB together.
python3 -c 'print("EmailAddress,UserName,Password," + ",".join("C%d" % i for i in range(33))); print("x33@b.com,x,S3cret" + "," * 33)' >"$T/cols.csv"
"$IMAPMIG" batch new --name B-cols --source-endpoint Src --target-endpoint Local --csv "$T/cols.csv" \
	--allow-unknown-columns >/dev/null 2>"$T/err"
expect_eq "$?" 2 "33 extra columns"
grep -Eq 'cols.csv:1: 33 extra columns; the limit is 32' "$T/err" || fail "cols: $(cat "$T/err")"
python3 -c 'print("EmailAddress,UserName,Password,A" + "a" * 599 + ",B" + "b" * 599); print("ab@b.com,x,S3cret,1,2")' >"$T/names.csv"
"$IMAPMIG" batch new --name B-names --source-endpoint Src --target-endpoint Local --csv "$T/names.csv" \
	--allow-unknown-columns >/dev/null 2>"$T/err"
expect_eq "$?" 2 "extra column names of 1200 bytes"
grep -Eq "names.csv:1: the extra columns' names are 1200 bytes together; the limit is 1024" "$T/err" ||
	fail "names: $(cat "$T/err")"
python3 -c 'print("EmailAddress,UserName,Password," + ",".join("C%d" % i for i in range(32))); print("x32@b.com,x,S3cret" + "," * 32)' >"$T/cols32.csv"
"$IMAPMIG" batch new --name B-cols32 --source-endpoint Src --target-endpoint Local --csv "$T/cols32.csv" \
	--allow-unknown-columns >/dev/null 2>"$T/err" || fail "32 extra columns refused: $(cat "$T/err")"
# At the limits, accepted.
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password,UserRoot\n" + "a" * 64 + "@" + "b" * 251 + ".com," + "u" * 1024 + "," + "p" * 1024 + "," + "r" * 1024 + "\n")' >"$T/limits.csv"
"$IMAPMIG" batch new --name Limits --source-endpoint Src --target-endpoint Local --csv "$T/limits.csv" >/dev/null 2>"$T/err" ||
	fail "fields at the limits refused: $(cat "$T/err")"
python3 -c 'print("EmailAddress,UserName,Password"); [print("u%d@contoso.edu,u%d,S3cret" % (i, i)) for i in range(50001)]' |
	check rows 'rows.csv:50002: more than 50000 rows'
python3 -c 'import sys; sys.stdout.write("EmailAddress,UserName,Password,Notes\n" + ("a@b.com,x,S3cret,%s\n" % ("n" * (11 * 1024 * 1024))))' |
	check big 'big.csv: [0-9]+ bytes, over the 10 MB limit'

# The good files of the seed load, quoted fields, BOM, CRLF, any order and case.
printf '\xef\xbb\xbfusername,PASSWORD,emailaddress\r\n"contoso-students/mailadmin/terry.adams","P@ss,""w0rd""",terrya@contoso.edu\r\n#ann.beebe@contoso-students.edu#mailadmin#,P@ssw0rd,annb@contoso.edu\r\n' >"$T/good.csv"
"$IMAPMIG" batch new --name Good --source-endpoint Src --target-endpoint Local --csv "$T/good.csv" >"$T/out" 2>"$T/err" ||
	fail "good CSV refused: $(cat "$T/err")"
"$IMAPMIG" user get terrya@contoso.edu --json >"$T/out" || fail "user get"
python3 -c 'import json,sys; u=json.load(open(sys.argv[1]))[0]; assert u["status"]=="Queued" and u["batch"]=="Good", u' "$T/out" ||
	fail "good CSV: $(cat "$T/out")"
grep -q 'P@ss' "$T/out" && fail "user get prints a password"
# A user is in one batch at a time.
printf 'EmailAddress,UserName,Password\nTERRYA@contoso.edu,x,S3cret\n' | check other 'other.csv:2: TERRYA@contoso.edu is already in batch Good'
# Bad options exit 2 too.
"$IMAPMIG" batch new --name X --source-endpoint Src --csv "$T/good.csv" --max-message-size lots 2>/dev/null
expect_eq "$?" 2 "bad --max-message-size"
"$IMAPMIG" batch new --name X --source-endpoint Nope --csv "$T/good.csv" 2>"$T/err"
expect_eq "$?" 2 "unknown endpoint"
grep -q 'no endpoint named Nope' "$T/err" || fail "unknown endpoint: $(cat "$T/err")"
"$IMAPMIG" batch new --name X --source-endpoint Src --csv "$T/good.csv" --exclude-folders '#Bogus#' 2>"$T/err"
expect_eq "$?" 2 "bad well-known folder"
finish
