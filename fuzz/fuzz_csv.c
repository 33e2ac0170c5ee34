/* fuzz_csv.c - libFuzzer target for the batch CSV reader.  The first byte
 * picks --allow-unknown-columns; the rest is the file.  Every accepted
 * batch must hold only rows the reader promises (required fields filled,
 * within the caps, each address once, case aside); every refusal must be
 * a usage error with a message.  (A message may quote a field holding a
 * newline: the CLI escapes what it prints, so that is not checked here.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sched/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_row(const struct csv_row *r)
{
	size_t k;

	if (r->email == NULL || r->username == NULL || r->password == NULL ||
	    !r->email[0] || !r->username[0] || !r->password[0] ||
	    strchr(r->email, '@') == NULL || strlen(r->email) > 320 ||
	    strlen(r->username) > 1024 || strlen(r->password) > 1024 ||
	    (r->user_root && strlen(r->user_root) > 1024) ||
	    (r->target_username && strlen(r->target_username) > 1024) ||
	    (r->target_password && strlen(r->target_password) > 1024))
		abort();
	for (k = 0; k < r->n_extra; k++)
		if (r->extra[k].name == NULL || r->extra[k].value == NULL ||
		    strlen(r->extra[k].name) > 1024 ||
		    strlen(r->extra[k].value) > 1024)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err err = ERR_INIT;
	struct csv_batch *b;
	size_t i, j;

	if (size < 1)
		return 0;
	b = csv_batch_from_mem((const char *)data + 1, size - 1, "fuzz.csv",
			       data[0] & 1, NULL, &err);
	if (b == NULL) {
		if (err.cls != ERR_USAGE || err.msg[0] == '\0')
			abort();
		return 0;
	}
	if (b->n == 0 || b->n > CSV_MAX_ROWS)
		abort();
	for (i = 0; i < b->n; i++) {
		check_row(&b->rows[i]);
		if (i > 0 && b->rows[i].line <= b->rows[i - 1].line)
			abort();
		/* the duplicate rule, checked the slow way */
		for (j = 0; j < i; j++)
			if (strcasecmp(b->rows[i].email, b->rows[j].email) == 0)
				abort();
	}
	csv_batch_free(&b);
	return 0;
}
