/* csv.h - the migration batch CSV (README, "batch"; docs/internals/csv.md).
 *
 * Header row (names case-insensitive, any order), RFC 4180 quoting, UTF-8
 * with or without BOM, CRLF or LF.  Required EmailAddress, UserName,
 * Password; optional UserRoot, TargetUserName, TargetPassword; other
 * columns only with allow_unknown (kept as extras for {Column} templates).
 * All or nothing: any error gives ERR_USAGE "FILE:LINE: what: what to do"
 * and no rows.  A password never appears in an error.  Limits: the file
 * 10 MB, 50,000 rows, each field and column name 1 KiB, EmailAddress 320
 * bytes (RFC 5321). */
#ifndef SCHED_CSV_H
#define SCHED_CSV_H

#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

#define CSV_MAX_ROWS  50000
#define CSV_MAX_BYTES (10u * 1024 * 1024)

struct csv_extra {
	char *name, *value;
};

struct csv_row {
	unsigned line;
	char *email, *username, *password, *user_root;
	char *target_username, *target_password;
	struct csv_extra *extra;
	size_t n_extra;
};

struct csv_batch {
	struct csv_row *rows;
	size_t n;
};

/* Every row's errors, not only the first (up to CSV_MAX_ERRORS), and
 * warnings about rows that are taken as they are: one line each,
 * "FILE:LINE: ...", '\n'-terminated.  err holds the first error too. */
#define CSV_MAX_ERRORS 20
struct csv_report {
	struct buf errors, warnings;
	unsigned n_errors, n_warnings;
};
void csv_report_release(struct csv_report *rep);

/* rep may be NULL. */
struct csv_batch *csv_batch_load(const char *path, int allow_unknown,
				 struct csv_report *rep, struct err *err);
/* name is used in messages in place of a file name. */
struct csv_batch *csv_batch_from_mem(const char *data, size_t len,
				     const char *name, int allow_unknown,
				     struct csv_report *rep, struct err *err);
void csv_batch_free(struct csv_batch **bp);

#endif
