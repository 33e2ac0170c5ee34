/* users.h - the users a CLI command works on, and a walk over them with
 * both sides of each open (user get, user preview, verify).  Private to
 * src/cli. */
#ifndef CLI_USERS_H
#define CLI_USERS_H

#include <stddef.h>

#include "util/err.h"

struct state;
struct state_user;
struct sync_endpoints;
struct sync_options;

/* EMAIL's user (email not NULL), else the users of batch NAME (batch not
 * NULL), else every user; status (canonical, or NULL) filters a list.
 * An unknown batch is an error even with an email.  The caller frees
 * *v_r with state_users_free(*v_r, *n_r). */
int cli_users_load(struct state *st, const char *email, const char *batch,
		   const char *status, struct state_user **v_r, size_t *n_r,
		   struct err *err);

/* Called with one user's two sides, opened for the call only; 0, or -1
 * with err set. */
typedef int cli_user_fn(struct state *st, const struct state_user *u,
			const struct sync_endpoints *ep,
			const struct sync_options *opt, void *ctx,
			struct err *err);

/* fn for each user in turn.  A user whose sides cannot be loaded, or for
 * whom fn fails, gets one line "imapmig: CMD EMAIL: error" and the walk
 * goes on.  Returns 1 if any user failed so, else 0. */
int cli_users_each(const char *cmd, struct state *st,
		   const struct state_user *users, size_t n, cli_user_fn *fn,
		   void *ctx);

#endif
