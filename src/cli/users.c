/* users.c - the users a CLI command works on (cli/users.h). */
#include <stdio.h>
#include <stdlib.h>

#include "cli/users.h"
#include "sched/runner.h"
#include "state/state.h"
#include "util/escape.h"
#include "util/xalloc.h"

int cli_users_load(struct state *st, const char *email, const char *batch,
		   const char *status, struct state_user **v_r, size_t *n_r,
		   struct err *err)
{
	int64_t batch_id = 0;

	*v_r = NULL;
	*n_r = 0;
	if (batch != NULL) {
		struct state_batch b;
		if (state_batch_get(st, batch, &b, err) < 0)
			return -1;
		batch_id = b.id;
		state_batch_release(&b);
	}
	if (email == NULL)
		return state_user_list(st, batch_id, status, v_r, n_r, err);
	*v_r = xcalloc(1, sizeof(**v_r));
	if (state_user_get(st, email, *v_r, err) < 0) {
		free(*v_r);
		*v_r = NULL;
		return -1;
	}
	*n_r = 1;
	return 0;
}

int cli_users_each(const char *cmd, struct state *st,
		   const struct state_user *users, size_t n, cli_user_fn *fn,
		   void *ctx)
{
	struct err err = ERR_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; i < n; i++) {
		struct sync_endpoints ep;
		struct sync_options opt;
		struct sched_sides *sd;

		sd = sched_sides_load(st, users[i].id, &ep, &opt, &err);
		if (sd == NULL || fn(st, &users[i], &ep, &opt, ctx, &err) < 0) {
			fprintf(stderr, "imapmig: %s %s: %s\n", cmd,
				esc(users[i].email), esc(err.msg));
			err_clear(&err);
			ret = 1;
		}
		sched_sides_free(&sd);
	}
	return ret;
}
