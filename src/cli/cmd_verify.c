/* cmd_verify.c - `imapmig verify [--batch NAME | EMAIL] [--deep] [--json]`:
 * read both sides afresh and say, per folder, what is on the target as it
 * should be, skipped for a reason, missing, altered or extra.  Exit 0 only
 * when every source message is on the target or skipped for a reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "sched/runner.h"
#include "state/state.h"
#include "sync/verify.h"
#include "util/xalloc.h"
#include "util/escape.h"

static const char usage_text[] =
	"usage: imapmig verify [--batch NAME | EMAIL] [--deep] [--json]\n"
	"  Compares each user's source and target afresh: every source "
	"message\n"
	"  (after the batch's folder filters) must be on the target with its "
	"size\n"
	"  and INTERNALDATE, or skipped for a reason; --deep also compares "
	"the\n"
	"  bytes (SHA-256 of both sides).  Exit 0 only when nothing is "
	"missing\n"
	"  or altered.\n";

static json_t *report_json(const struct state_user *u,
			   const struct verify_report *r)
{
	json_t *o = json_object(), *fa = json_array();
	size_t i;

	json_object_set_new(o, "email", json_string(u->email));
	json_object_set_new(o, "deep", json_boolean(r->deep));
	json_object_set_new(o, "source", json_integer((json_int_t)r->source));
	json_object_set_new(o, "copied", json_integer((json_int_t)r->copied));
	json_object_set_new(o, "skipped", json_integer((json_int_t)r->skipped));
	json_object_set_new(o, "missing", json_integer((json_int_t)r->missing));
	json_object_set_new(o, "altered", json_integer((json_int_t)r->altered));
	json_object_set_new(o, "extra", json_integer((json_int_t)r->extra));
	for (i = 0; i < r->n; i++) {
		const struct verify_folder *f = &r->v[i];
		json_t *fo = json_object();
		json_object_set_new(fo, "source_folder", json_string(f->src));
		json_object_set_new(fo, "target_folder", json_string(f->dst));
		json_object_set_new(fo, "source",
				    json_integer((json_int_t)f->source));
		json_object_set_new(fo, "copied",
				    json_integer((json_int_t)f->copied));
		json_object_set_new(fo, "skipped",
				    json_integer((json_int_t)f->skipped));
		json_object_set_new(fo, "missing",
				    json_integer((json_int_t)f->missing));
		json_object_set_new(fo, "altered",
				    json_integer((json_int_t)f->altered));
		json_object_set_new(fo, "extra",
				    json_integer((json_int_t)f->extra));
		json_array_append_new(fa, fo);
	}
	json_object_set_new(o, "folders", fa);
	return o;
}

static void report_text(const struct state_user *u,
			const struct verify_report *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct verify_folder *f = &r->v[i];
		printf("%s  %s -> %s: %llu source, %llu on the target, %llu "
		       "skipped, %llu missing, %llu altered, %llu extra",
		       esc(u->email), esc(f->src), esc(f->dst),
		       (unsigned long long)f->source,
		       (unsigned long long)f->copied,
		       (unsigned long long)f->skipped,
		       (unsigned long long)f->missing,
		       (unsigned long long)f->altered,
		       (unsigned long long)f->extra);
		if (f->missing)
			printf(" (first missing: UID %u)",
			       f->first_missing_uid);
		if (f->altered)
			printf(" (first altered: UID %u)",
			       f->first_altered_uid);
		putchar('\n');
	}
	printf("%s: %llu messages compared %s, %llu differ; %llu skipped with "
	       "a reason; %llu missing\n",
	       esc(u->email), (unsigned long long)(r->copied + r->altered),
	       r->deep ? "byte for byte" : "by size and date",
	       (unsigned long long)r->altered, (unsigned long long)r->skipped,
	       (unsigned long long)r->missing);
}

int cmd_verify(int argc, char **argv)
{
	const char *batch = NULL, *email = NULL;
	struct state_user *users = NULL;
	struct state *st;
	struct err err = ERR_INIT;
	json_t *all = NULL;
	size_t n = 0, i;
	int deep = 0, json = 0, ai, ret = 0;
	unsigned long long compared = 0, differ = 0, missing = 0, skipped = 0;

	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--deep") == 0)
			deep = 1;
		else if (strcmp(argv[ai], "--json") == 0)
			json = 1;
		else if (strcmp(argv[ai], "--batch") == 0 && ai + 1 < argc)
			batch = argv[++ai];
		else if (strcmp(argv[ai], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else if (argv[ai][0] != '-' && email == NULL)
			email = argv[ai];
		else
			return cli_usage_error(
				"verify: unexpected argument \"%s\": see "
				"'imapmig verify --help'",
				argv[ai]);
	}
	if (batch != NULL && email != NULL)
		return cli_usage_error("verify: give --batch NAME or EMAIL, "
				       "not both");
	st = cli_state_open("verify", &ret);
	if (st == NULL)
		return ret;
	if (email != NULL) {
		users = xcalloc(1, sizeof(*users));
		if (state_user_get(st, email, users, &err) < 0) {
			free(users);
			state_close(&st);
			return cli_fail("verify", &err);
		}
		n = 1;
	} else {
		int64_t batch_id = 0;
		if (batch != NULL) {
			struct state_batch b;
			if (state_batch_get(st, batch, &b, &err) < 0) {
				state_close(&st);
				return cli_fail("verify", &err);
			}
			batch_id = b.id;
			state_batch_release(&b);
		}
		if (state_user_list(st, batch_id, NULL, &users, &n, &err) < 0) {
			state_close(&st);
			return cli_fail("verify", &err);
		}
	}
	if (json)
		all = json_array();
	for (i = 0; i < n; i++) {
		struct sync_endpoints ep;
		struct sync_options opt;
		struct verify_report rep;
		struct sched_sides *sd;
		struct state_verify v;

		memset(&rep, 0, sizeof(rep));
		sd = sched_sides_load(st, users[i].id, &ep, &opt, &err);
		if (sd == NULL || sync_verify(st, users[i].id, &ep, &opt, deep,
					      &rep, &err) < 0) {
			fprintf(stderr, "imapmig: verify %s: %s\n",
				esc(users[i].email), esc(err.msg));
			err_clear(&err);
			sched_sides_free(&sd);
			verify_report_release(&rep);
			ret = 1;
			continue;
		}
		sched_sides_free(&sd);
		memset(&v, 0, sizeof(v));
		v.at = time(NULL);
		v.deep = deep;
		v.compared = rep.copied + rep.altered;
		v.missing = rep.missing;
		v.altered = rep.altered;
		if (state_verify_record(st, users[i].id, &v, &err) < 0) {
			fprintf(stderr, "imapmig: verify %s: %s\n",
				esc(users[i].email), esc(err.msg));
			err_clear(&err);
		}
		if (json)
			json_array_append_new(all,
					      report_json(&users[i], &rep));
		else
			report_text(&users[i], &rep);
		compared += rep.copied + rep.altered;
		differ += rep.altered;
		missing += rep.missing;
		skipped += rep.skipped;
		if (rep.missing > 0 || rep.altered > 0)
			ret = 1;
		verify_report_release(&rep);
	}
	if (json) {
		char *s = cli_json_dumps(all);
		puts(s);
		free(s);
		json_decref(all);
	} else if (n > 1) {
		printf("verify: %zu users, %llu messages compared %s, %llu "
		       "differ; %llu skipped with a reason; %llu missing\n",
		       n, compared, deep ? "byte for byte" : "by size and date",
		       differ, skipped, missing);
	}
	state_users_free(users, n);
	state_close(&st);
	return ret;
}
