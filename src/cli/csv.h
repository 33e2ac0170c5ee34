/* csv.h - the migration batch CSV (design.md, "The CSV").
 *
 * Header row (names case-insensitive, any order), RFC 4180 quoting
 * (quoted fields with "" and embedded commas, CR and LF), strict UTF-8
 * with or without BOM, CRLF or LF, a last line with or without newline,
 * blank lines ignored.  Required EmailAddress, UserName, Password;
 * optional UserRoot, TargetUserName, TargetPassword; other columns only
 * with allow_unknown (kept as extras for {Column} templates).
 *
 * All or nothing: any problem gives one error line
 * "FILE:LINE: what is wrong: what to do" and no rows.  A password (or any
 * value of a Password column) never appears in an error. */
#ifndef CLI_CSV_H
#define CLI_CSV_H

#include <stddef.h>

#include "util/err.h"

#define CSV_MAX_ROWS  50000
#define CSV_MAX_BYTES (10u * 1024 * 1024)

/* An unknown column kept under allow_unknown; name as in the header
 * (spaces around it trimmed, case kept). */
struct csv_extra {
	char *name, *value;
};

/* One mailbox.  Every string is owned by the batch (a caller may steal
 * them and zero the row, as cmd_batch does).  email, username and
 * password are non-empty; email is trimmed of spaces.  user_root,
 * target_username and target_password are NULL when the file has no such
 * column and may be "" when the cell is empty.  line is the file line
 * where the row starts (a quoted field may span lines). */
struct csv_row {
	unsigned line;
	char *email, *username, *password, *user_root;
	char *target_username, *target_password;
	struct csv_extra *extra;
	size_t n_extra;
};

/* rows[0..n), in file order; n >= 1. */
struct csv_batch {
	struct csv_row *rows;
	size_t n;
};

/* Read and check the CSV at path.  Returns a new batch to free with
 * csv_batch_free(), or NULL with err set: ERR_USAGE for bad content
 * (including over CSV_MAX_BYTES, refused before reading), ERR_LOCAL
 * (EC_IO) when the file cannot be opened or read.  The file's bytes are
 * wiped from memory after parsing. */
struct csv_batch *csv_batch_load(const char *path, int allow_unknown,
				 struct err *err);
/* The same from memory (data[0..len), borrowed, need not be
 * NUL-terminated); name stands for the file name in messages. */
struct csv_batch *csv_batch_from_mem(const char *data, size_t len,
				     const char *name, int allow_unknown,
				     struct err *err);
/* Free a batch (passwords are wiped first) and set *bp to NULL; NULL is
 * fine. */
void csv_batch_free(struct csv_batch **bp);

#endif
