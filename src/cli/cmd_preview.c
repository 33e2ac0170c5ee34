/* cmd_preview.c - `imapmig user preview`: what a sync of a user (or of a
 * batch's users) would do, before it runs: the source's folders, the
 * target folder each goes to or that it is excluded, whether that exists
 * on the target, and the message counts.  Connects to both sides; copies
 * nothing and writes no state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "sched/runner.h"
#include "state/state.h"
#include "sync/preview.h"
#include "util/escape.h"
#include "util/xalloc.h"

static json_t *preview_json(const struct state_user *u,
			    const struct preview_report *rep)
{
	json_t *o = json_object(), *arr = json_array();
	size_t i;

	json_object_set_new(o, "email", json_string(u->email));
	for (i = 0; i < rep->n; i++) {
		const struct preview_folder *f = &rep->v[i];
		json_t *j = json_object();
		json_object_set_new(j, "source", json_string(f->src));
		json_object_set_new(j, "target",
				    f->dst ? json_string(f->dst) : json_null());
		json_object_set_new(j, "excluded",
				    json_boolean(f->dst == NULL));
		json_object_set_new(j, "parent_only",
				    json_boolean(f->noselect));
		json_object_set_new(j, "target_exists",
				    json_boolean(f->exists));
		json_object_set_new(j, "messages",
				    f->has_count ? json_integer(f->messages)
						 : json_null());
		json_array_append_new(arr, j);
	}
	json_object_set_new(o, "folders", arr);
	json_object_set_new(o, "messages",
			    rep->counts_known
				    ? json_integer((json_int_t)rep->messages)
				    : json_null());
	return o;
}

static void preview_text(const struct state_user *u,
			 const struct preview_report *rep)
{
	size_t i, copied = 0;
	char a[512], b[512];

	for (i = 0; i < rep->n; i++)
		if (rep->v[i].dst != NULL && !rep->v[i].noselect)
			copied++;
	printf("%s: %zu of %zu folders to copy, %s%llu messages\n",
	       esc(u->email), copied, rep->n,
	       rep->counts_known ? "" : "at least ",
	       (unsigned long long)rep->messages);
	printf("  %s %s %8s  %s\n", cli_pad("source folder", 30, a, sizeof(a)),
	       cli_pad("target folder", 30, b, sizeof(b)), "messages",
	       "on the target");
	for (i = 0; i < rep->n; i++) {
		const struct preview_folder *f = &rep->v[i];
		char n[16] = "?";
		if (f->has_count)
			snprintf(n, sizeof(n), "%u", f->messages);
		printf("  %s %s %8s  %s\n",
		       cli_pad(esc(f->src), 30, a, sizeof(a)),
		       cli_pad(f->dst ? esc(f->dst) : "(excluded)", 30, b,
			       sizeof(b)),
		       f->dst == NULL || f->noselect ? "" : n,
		       f->dst == NULL ? ""
		       : f->exists    ? "exists"
		       : f->noselect  ? "new (parent only)"
				      : "new");
	}
}

int cmd_user_preview(int argc, char **argv)
{
	const char *batch = NULL, *email = NULL;
	struct state_user *users = NULL;
	struct err err = ERR_INIT;
	struct state *st;
	json_t *all = NULL;
	size_t n = 0, i;
	int json = 0, ai, ret = 0;

	for (ai = 1; ai < argc; ai++) {
		if (strcmp(argv[ai], "--json") == 0)
			json = 1;
		else if (strcmp(argv[ai], "--batch") == 0 && ai + 1 < argc)
			batch = argv[++ai];
		else if (argv[ai][0] != '-' && email == NULL)
			email = argv[ai];
		else
			return cli_usage_error("user preview: unexpected '%s': "
					       "give EMAIL or --batch NAME",
					       argv[ai]);
	}
	if ((email == NULL) == (batch == NULL))
		return cli_usage_error("user preview: give EMAIL or --batch "
				       "NAME");
	st = cli_state_open("user preview", &ret);
	if (st == NULL)
		return ret;
	if (email != NULL) {
		users = xcalloc(1, sizeof(*users));
		if (state_user_get(st, email, users, &err) < 0) {
			free(users);
			state_close(&st);
			return cli_fail("user preview", &err);
		}
		n = 1;
	} else {
		struct state_batch b;
		if (state_batch_get(st, batch, &b, &err) < 0 ||
		    state_user_list(st, b.id, NULL, &users, &n, &err) < 0) {
			state_close(&st);
			return cli_fail("user preview", &err);
		}
		state_batch_release(&b);
	}
	if (json)
		all = json_array();
	for (i = 0; i < n; i++) {
		struct sync_endpoints ep;
		struct sync_options opt;
		struct preview_report rep;
		struct sched_sides *sd;

		memset(&rep, 0, sizeof(rep));
		sd = sched_sides_load(st, users[i].id, &ep, &opt, &err);
		if (sd == NULL || sync_preview(&ep, &opt, &rep, &err) < 0) {
			fprintf(stderr, "imapmig: user preview %s: %s\n",
				esc(users[i].email), esc(err.msg));
			err_clear(&err);
			sched_sides_free(&sd);
			preview_report_release(&rep);
			ret = 1;
			continue;
		}
		sched_sides_free(&sd);
		if (json)
			json_array_append_new(all,
					      preview_json(&users[i], &rep));
		else
			preview_text(&users[i], &rep);
		preview_report_release(&rep);
	}
	if (json) {
		char *s = cli_json_dumps(email ? json_array_get(all, 0) : all);
		puts(s ? s : "null");
		free(s);
		json_decref(all);
	}
	state_users_free(users, n);
	state_close(&st);
	return ret;
}
