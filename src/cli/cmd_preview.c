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
#include "cli/opts.h"
#include "cli/users.h"
#include "state/state.h"
#include "sync/preview.h"
#include "util/escape.h"

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

/* One user's preview, printed or added to the JSON array ctx. */
static int preview_one(struct state *st, const struct state_user *u,
		       const struct sync_endpoints *ep,
		       const struct sync_options *opt, void *ctx,
		       struct err *err)
{
	json_t *all = ctx;
	struct preview_report rep;

	(void)st;
	memset(&rep, 0, sizeof(rep));
	if (sync_preview(ep, opt, &rep, err) < 0) {
		preview_report_release(&rep);
		return -1;
	}
	if (all != NULL)
		json_array_append_new(all, preview_json(u, &rep));
	else
		preview_text(u, &rep);
	preview_report_release(&rep);
	return 0;
}

struct preview_args {
	const char *batch;
	int json;
};

static const struct opt preview_opts[] = {
	OPT_STRING("batch", struct preview_args, batch, "NAME",
		   "every user of the batch"),
	OPT_FLAG("json", 0, struct preview_args, json, "print JSON"),
	OPT_END(),
};

const struct opts_cmd cmd_user_preview_opts = {
	.name = "user preview",
	.group = "user",
	.usage = "user preview EMAIL|--batch NAME [--json]",
	.opts = preview_opts,
	.max_args = 1,
	.notes =
		"preview connects to both sides and shows, before a sync,\n"
		"each source folder, the target folder it goes to (or that\n"
		"it is excluded), whether that exists, and the message counts.",
};

int cmd_user_preview(int argc, char **argv)
{
	struct preview_args a = {0};
	const char *email;
	struct state_user *users = NULL;
	struct err err = ERR_INIT;
	struct state *st;
	json_t *all = NULL;
	size_t n = 0;
	int nargs, ret;

	ret = opts_parse(&cmd_user_preview_opts, &a, argc, argv, &nargs);
	if (ret != 0)
		return OPTS_EXIT(ret);
	email = nargs > 0 ? argv[0] : NULL;
	if ((email == NULL) == (a.batch == NULL))
		return cli_usage_error("user preview: give EMAIL or --batch "
				       "NAME");
	st = cli_state_open("user preview", &ret);
	if (st == NULL)
		return ret;
	if (cli_users_load(st, email, a.batch, NULL, &users, &n, &err) < 0) {
		state_close(&st);
		return cli_fail("user preview", &err);
	}
	if (a.json)
		all = json_array();
	ret = cli_users_each("user preview", st, users, n, preview_one, all);
	if (a.json) {
		char *s = cli_json_dumps(email ? json_array_get(all, 0) : all);
		puts(s ? s : "null");
		free(s);
		json_decref(all);
	}
	state_users_free(users, n);
	state_close(&st);
	return ret;
}
