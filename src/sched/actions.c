/* actions.c - batch start, stop, complete, sync-now and remove: the one
 * set of rules the CLI and the web API share (actions.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched/actions.h"
#include "sched/csv.h"
#include "sched/runner.h"
#include "sched/views.h"
#include "util/buf.h"
#include "util/escape.h"
#include "util/xalloc.h"
#include "sync/plan.h"

static const char *const names[] = {"start", "stop", "complete", "sync-now",
				    "remove"};

const char *sched_action_name(enum sched_action a)
{
	return names[a];
}

int sched_action_parse(const char *name)
{
	int i;

	for (i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static int refuse(struct sched_action_result *res, enum sched_refusal why)
{
	res->why = why;
	return -1;
}

/* Refused while a worker of any process ('serve', 'sync') holds a user
 * (a live claim, or a Syncing status), and before the cutover catch-up,
 * unless forced. */
static int remove_check(struct state *st, const struct state_batch *b,
			const struct state_batch_counts *c, unsigned flags,
			struct sched_action_result *res, struct err *err)
{
	char **busy = NULL;
	size_t nbusy = 0, k;
	int ret = 0;

	if (flags & SCHED_FORCE)
		return 0;
	if (state_batch_busy_users(st, b->id, sched_owner_alive, &busy, &nbusy,
				   err) < 0)
		return refuse(res, SCHED_FAILED);
	if (nbusy > 0) {
		struct buf who = BUF_INIT;
		for (k = 0; k < nbusy && k < 5; k++) {
			if (k > 0)
				buf_addf(&who, ", ");
			buf_add_escaped(&who, busy[k], strlen(busy[k]));
		}
		if (nbusy > 5)
			buf_addf(&who, " and %zu more", nbusy - 5);
		err_set(err, ERR_USAGE, EC_NONE,
			"batch %s: %zu user(s) are syncing now (%s): run "
			"'imapmig batch stop %s' and wait for them, or pass "
			"--force",
			b->name, nbusy, who.p, b->name);
		buf_release(&who);
		ret = refuse(res, SCHED_CONFLICT);
	}
	for (k = 0; k < nbusy; k++)
		free(busy[k]);
	free(busy);
	if (ret == 0 && b->cutover != 0 && c->last_synced < b->cutover) {
		err_set(err, ERR_USAGE, EC_NONE,
			"batch %s: some users have not synced since the "
			"cutover (%s): run 'imapmig batch set %s --sync-now', "
			"or pass --force",
			b->name, view_fmt_time(b->cutover, 0), b->name);
		ret = refuse(res, SCHED_CONFLICT);
	}
	return ret;
}

/* start and sync-now: a completed batch does not sync again */
static int completed_refused(const struct state_batch *b,
			     struct sched_action_result *res, struct err *err)
{
	if (!batch_status_completed(batch_status_parse(b->status)))
		return 0;
	err_set(err, ERR_USAGE, EC_NONE,
		"batch %s is %s: a completed batch does not sync again",
		b->name, b->status);
	return refuse(res, SCHED_CONFLICT);
}

static int batch_act(struct state *st, const char *name, enum sched_action a,
		     unsigned flags, struct sched_action_result *res,
		     struct err *err)
{
	struct sched_action_result dummy;
	struct state_batch_counts c;
	struct state_batch b;
	int ret = 0;

	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (state_batch_get(st, name, &b, err) < 0)
		return refuse(res, err->cls == ERR_USAGE ? SCHED_NOT_FOUND
							 : SCHED_FAILED);
	if (state_batch_counts(st, b.id, &c, err) < 0) {
		state_batch_release(&b);
		return refuse(res, SCHED_FAILED);
	}
	res->users = c.total;
	switch (a) {
	case SCHED_START:
		if (completed_refused(&b, res, err) < 0) {
			ret = -1;
			break;
		}
		ret = state_users_move(st, b.id, USER_START, err);
		state_batch_set_status(&b, BATCH_SYNCING);
		if (b.started == 0)
			b.started = time(NULL);
		break;
	case SCHED_STOP:
		ret = state_users_move(st, b.id, USER_STOP, err);
		state_batch_set_status(&b, BATCH_STOPPED);
		break;
	case SCHED_COMPLETE:
		if (c.syncing > 0) {
			err_set(err, ERR_USAGE, EC_NONE,
				"batch %s has %u users syncing: let them "
				"finish first",
				name, c.syncing);
			ret = refuse(res, SCHED_CONFLICT);
			break;
		}
		/* One last incremental sync of every synced user, then no
		 * more: 'sync' or 'serve' runs it and marks the batch
		 * Completed. */
		ret = state_users_move(st, b.id, USER_AGAIN, err);
		if (ret < 0)
			break;
		if (c.synced + c.queued == 0) {
			state_batch_set_status(
				&b, c.failed ? BATCH_COMPLETED_WITH_ERRORS
					     : BATCH_COMPLETED);
			b.completed = time(NULL);
			res->completed_now = 1;
		} else {
			state_batch_set_status(&b, BATCH_COMPLETING);
		}
		break;
	case SCHED_SYNC_NOW:
		if (completed_refused(&b, res, err) < 0) {
			ret = -1;
			break;
		}
		ret = state_users_move(st, b.id, USER_AGAIN, err);
		state_batch_set_status(&b, BATCH_SYNCING);
		break;
	case SCHED_REMOVE:
		ret = remove_check(st, &b, &c, flags, res, err);
		if (ret == 0 && !(flags & SCHED_CHECK_ONLY) &&
		    state_batch_remove(st, b.id, err) < 0)
			ret = refuse(res, SCHED_FAILED);
		state_batch_release(&b);
		return ret;
	}
	if (ret == 0 && state_batch_update(st, &b, err) < 0)
		ret = -1;
	if (ret < 0 && res->why == SCHED_OK)
		res->why = SCHED_FAILED;
	state_batch_release(&b);
	return ret;
}

/* One transaction: the users and the batch move together, so a serve
 * planning its run (sched/runner.c, also one transaction) sees both or
 * neither and never writes an old status back over Completing. */
int sched_batch_act(struct state *st, const char *name, enum sched_action a,
		    unsigned flags, struct sched_action_result *res,
		    struct err *err)
{
	int ret;

	if (state_begin(st, err) < 0) {
		if (res != NULL) {
			memset(res, 0, sizeof(*res));
			res->why = SCHED_FAILED;
		}
		return -1;
	}
	ret = batch_act(st, name, a, flags, res, err);
	if (ret == 0 && state_commit(st, err) < 0) {
		ret = -1;
		if (res != NULL)
			res->why = SCHED_FAILED;
	}
	if (ret < 0)
		state_rollback(st);
	return ret;
}

#define DEFAULT_TARGET "default-maildir"

/* The embedded default target: Maildir beside the state. */
static int default_target(struct state *st, const char *state_path,
			  int64_t *id_r, struct err *err)
{
	struct state_endpoint e;
	char *dir, *p;

	if (state_endpoint_get(st, DEFAULT_TARGET, &e, err) == 0) {
		*id_r = e.id;
		state_endpoint_release(&e);
		return 0;
	}
	err_clear(err);
	memset(&e, 0, sizeof(e));
	e.name = xstrdup(DEFAULT_TARGET);
	e.kind = STATE_EP_TARGET_MAILDIR;
	dir = xstrdup(state_path);
	p = strrchr(dir, '/');
	if (p != NULL)
		*p = '\0';
	e.path_template =
		xasprintf("%s/mail/{domain}/{local}/Maildir", p ? dir : ".");
	free(dir);
	e.max_migrations = 100;
	e.max_incremental = 20;
	if (state_endpoint_add(st, &e, err) < 0) {
		state_endpoint_release(&e);
		return -1;
	}
	*id_r = e.id;
	state_endpoint_release(&e);
	return 0;
}

struct state_user *sched_users_from_csv(struct csv_batch *cb)
{
	struct state_user *v = xcalloc(cb->n + 1, sizeof(*v));
	size_t i, k;

	for (i = 0; i < cb->n; i++) {
		struct csv_row *r = &cb->rows[i];
		v[i].email = r->email;
		v[i].username = r->username;
		v[i].password = r->password;
		v[i].user_root = r->user_root;
		v[i].target_username = r->target_username;
		v[i].target_password = r->target_password;
		v[i].csv_line = r->line;
		v[i].extra = xcalloc(r->n_extra + 1, sizeof(*v[i].extra));
		for (k = 0; k < r->n_extra; k++) {
			v[i].extra[k].name = r->extra[k].name;
			v[i].extra[k].value = r->extra[k].value;
		}
		v[i].n_extra = r->n_extra;
		v[i].status = xstrdup(user_status_name(USER_QUEUED));
		free(r->extra);
		memset(r, 0, sizeof(*r));
	}
	return v;
}

int sched_batch_new(struct state *st, struct state_batch *b, const char *source,
		    const char *target, int autostart, struct csv_batch *cb,
		    const char *csv_name, const char *state_path,
		    int *default_target_r, struct err *err)
{
	struct state_endpoint se, te;
	struct state_user *users;
	struct sync_filter f;
	size_t n;
	int ret;

	if (default_target_r != NULL)
		*default_target_r = target == NULL;
	/* every input checked before anything is written */
	if (sync_filter_parse(b->exclude_folders, &f, err) < 0)
		return -1;
	sync_filter_release(&f);
	if (sync_filter_parse(b->include_folders, &f, err) < 0)
		return -1;
	sync_filter_release(&f);
	if (state_endpoint_get(st, source, &se, err) < 0)
		return -1;
	b->source_id = se.id;
	if (se.kind != STATE_EP_SOURCE_IMAP) {
		state_endpoint_release(&se);
		return err_set(err, ERR_USAGE, EC_NONE,
			       "endpoint %s is a target; --source-endpoint "
			       "needs a source (created without --type)",
			       source);
	}
	state_endpoint_release(&se);
	if (target != NULL) {
		if (state_endpoint_get(st, target, &te, err) < 0)
			return -1;
		b->target_id = te.id;
		if (te.kind == STATE_EP_SOURCE_IMAP) {
			state_endpoint_release(&te);
			return err_set(err, ERR_USAGE, EC_NONE,
				       "endpoint %s is a source; "
				       "--target-endpoint needs one created "
				       "with --type maildir or --type imap",
				       target);
		}
		state_endpoint_release(&te);
	}
	if (state_begin(st, err) < 0)
		return -1;
	if (target == NULL &&
	    default_target(st, state_path, &b->target_id, err) < 0)
		goto fail_tx;
	free(b->status);
	b->status = xstrdup(
		batch_status_name(autostart ? BATCH_SYNCING : BATCH_CREATED));
	if (autostart)
		b->started = time(NULL);
	if (state_batch_add(st, b, err) < 0)
		goto fail_tx;
	if (state_commit(st, err) < 0)
		return -1;
	n = cb->n;
	users = sched_users_from_csv(cb);
	ret = state_users_add(st, b->id, users, n, csv_name, err);
	if (ret < 0) {
		struct err e2 = ERR_INIT;
		/* all or nothing: the batch goes too */
		state_batch_remove(st, b->id, &e2);
	}
	state_users_free(users, n);
	return ret;
fail_tx:
	state_rollback(st);
	return -1;
}
