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
#include "cli/opts.h"
#include "cli/users.h"
#include "state/state.h"
#include "sync/verify.h"
#include "util/escape.h"

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

/* What verify adds up over its users. */
struct verify_run {
	int deep;
	json_t *all; /* --json: the reports */
	unsigned long long compared, differ, missing, skipped;
	int differs; /* a message is missing or altered */
};

/* One user compared afresh, its result recorded in the state (a failure
 * to record it is only said), printed or kept for the JSON. */
static int verify_one(struct state *st, const struct state_user *u,
		      const struct sync_endpoints *ep,
		      const struct sync_options *opt, void *ctx,
		      struct err *err)
{
	struct verify_run *run = ctx;
	struct verify_report rep;
	struct state_verify v;

	memset(&rep, 0, sizeof(rep));
	if (sync_verify(st, u->id, ep, opt, run->deep, &rep, err) < 0) {
		verify_report_release(&rep);
		return -1;
	}
	memset(&v, 0, sizeof(v));
	v.at = time(NULL);
	v.deep = run->deep;
	v.compared = rep.copied + rep.altered;
	v.missing = rep.missing;
	v.altered = rep.altered;
	if (state_verify_record(st, u->id, &v, err) < 0) {
		fprintf(stderr, "imapmig: verify %s: %s\n", esc(u->email),
			esc(err->msg));
		err_clear(err);
	}
	if (run->all != NULL)
		json_array_append_new(run->all, report_json(u, &rep));
	else
		report_text(u, &rep);
	run->compared += rep.copied + rep.altered;
	run->differ += rep.altered;
	run->missing += rep.missing;
	run->skipped += rep.skipped;
	if (rep.missing > 0 || rep.altered > 0)
		run->differs = 1;
	verify_report_release(&rep);
	return 0;
}

struct verify_args {
	const char *batch;
	int deep, json;
};

static const struct opt verify_opts[] = {
	OPT_STRING("batch", struct verify_args, batch, "NAME",
		   "every user of the batch (default: every user)"),
	OPT_FLAG("deep", 0, struct verify_args, deep,
		 "compare the bytes too (SHA-256 of both sides)"),
	OPT_FLAG("json", 0, struct verify_args, json, "print JSON"),
	OPT_END(),
};

static const struct opts_cmd verify_cmd = {
	.name = "verify",
	.group = "verify",
	.usage = "verify [--batch NAME | EMAIL] [--deep] [--json]",
	.opts = verify_opts,
	.max_args = 1,
	.notes = "Compares each user's source and target afresh: every source "
		 "message\n(after the batch's folder filters) must be on the "
		 "target with its size\nand INTERNALDATE, or skipped for a "
		 "reason; --deep also compares the\nbytes (SHA-256 of both "
		 "sides).  Exit 0 only when nothing is missing\nor altered.",
};

int cmd_verify(int argc, char **argv)
{
	struct verify_args a = {0};
	struct verify_run run;
	const char *email;
	struct state_user *users = NULL;
	struct state *st;
	struct err err = ERR_INIT;
	size_t n = 0;
	int nargs, ret;

	ret = opts_parse(&verify_cmd, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	email = nargs > 0 ? argv[0] : NULL;
	if (a.batch != NULL && email != NULL)
		return cli_usage_error("verify: give --batch NAME or EMAIL, "
				       "not both");
	st = cli_state_open("verify", &ret);
	if (st == NULL)
		return ret;
	if (cli_users_load(st, email, a.batch, NULL, &users, &n, &err) < 0) {
		state_close(&st);
		return cli_fail("verify", &err);
	}
	memset(&run, 0, sizeof(run));
	run.deep = a.deep;
	if (a.json)
		run.all = json_array();
	ret = cli_users_each("verify", st, users, n, verify_one, &run);
	if (run.all != NULL) {
		char *s = cli_json_dumps(run.all);
		puts(s);
		free(s);
		json_decref(run.all);
	} else if (n > 1) {
		printf("verify: %zu users, %llu messages compared %s, %llu "
		       "differ; %llu skipped with a reason; %llu missing\n",
		       n, run.compared,
		       a.deep ? "byte for byte" : "by size and date",
		       run.differ, run.skipped, run.missing);
	}
	state_users_free(users, n);
	state_close(&st);
	return ret || run.differs ? 1 : 0;
}
