/* views.c - the JSON shapes shared by the CLI and the web API (views.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sched/views.h"

const char *view_fmt_time(long long t, int slot)
{
	static _Thread_local char bufs[4][40];
	char *b = bufs[slot & 3];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0)
		return "-";
	gmtime_r(&tt, &tm);
	strftime(b, sizeof(bufs[0]), "%Y-%m-%d %H:%M:%S UTC", &tm);
	return b;
}

enum view_grade view_user_grade(struct state *st, const struct state_user *u)
{
	struct state_verify v;
	struct err err = ERR_INIT;
	enum status_class c = user_status_class(user_status_parse(u->status));

	if (c == CLASS_FAILED)
		return GRADE_POOR;
	if (state_verify_get(st, u->id, &v, &err) == 0 && v.at != 0 &&
	    (v.missing > 0 || v.altered > 0))
		return GRADE_POOR;
	if (u->bad_items > 0)
		return GRADE_INVESTIGATE;
	if (c == CLASS_SYNCED || c == CLASS_COMPLETED)
		return GRADE_PERFECT;
	return GRADE_GOOD;
}

const char *view_grade_name(enum view_grade g)
{
	static const char *const names[] = {"Perfect", "Good", "Investigate",
					    "Poor"};

	return names[g];
}

static const char *batch_grade(struct state *st, int64_t id)
{
	struct state_user *u = NULL;
	size_t n = 0, i;
	struct err err = ERR_INIT;
	enum view_grade worst = GRADE_PERFECT;

	if (state_user_list(st, id, NULL, &u, &n, &err) < 0)
		return view_grade_name(GRADE_INVESTIGATE);
	for (i = 0; i < n; i++) {
		enum view_grade g = view_user_grade(st, &u[i]);
		if (g > worst)
			worst = g;
	}
	state_users_free(u, n);
	return view_grade_name(worst);
}

/* A time as JSON: null when it never happened. */
static json_t *jtime(time_t t)
{
	return t ? json_string(view_fmt_time(t, 0)) : json_null();
}

static json_t *jstr(const char *s)
{
	return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* Everything 'batch get' shows, in one object: the table prints these
 * same names, so a script and a person read the same fields. */
json_t *view_batch(struct state *st, const struct state_batch *b,
		   const struct state_batch_counts *c)
{
	struct state_endpoint se, te;
	struct err err = ERR_INIT;
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(b->name));
	json_object_set_new(o, "status", json_string(b->status));
	if (state_endpoint_get_id(st, b->source_id, &se, &err) == 0) {
		json_object_set_new(o, "source_endpoint", json_string(se.name));
		state_endpoint_release(&se);
	}
	if (state_endpoint_get_id(st, b->target_id, &te, &err) == 0) {
		json_object_set_new(o, "target_endpoint", json_string(te.name));
		state_endpoint_release(&te);
	}
	json_object_set_new(o, "total_count", json_integer(c->total));
	json_object_set_new(o, "synced_count", json_integer(c->synced));
	json_object_set_new(o, "failed_count", json_integer(c->failed));
	json_object_set_new(o, "queued_count", json_integer(c->queued));
	json_object_set_new(o, "syncing_count", json_integer(c->syncing));
	json_object_set_new(o, "stopped_count", json_integer(c->stopped));
	json_object_set_new(o, "items_synced",
			    json_integer((json_int_t)c->items_synced));
	json_object_set_new(o, "items_skipped",
			    json_integer((json_int_t)c->items_skipped));
	json_object_set_new(o, "bytes_synced",
			    json_integer((json_int_t)c->bytes_synced));
	json_object_set_new(o, "data_consistency",
			    json_string(batch_grade(st, b->id)));
	json_object_set_new(o, "created", jtime(b->created));
	json_object_set_new(o, "start_after", jtime(b->start_after));
	json_object_set_new(o, "started", jtime(b->started));
	json_object_set_new(o, "initial_sync_completed",
			    jtime(b->initial_done));
	json_object_set_new(o, "last_synced", jtime(b->last_synced));
	json_object_set_new(o, "cutover", jtime(b->cutover));
	json_object_set_new(o, "completed", jtime(b->completed));
	json_object_set_new(o, "include_folders", jstr(b->include_folders));
	json_object_set_new(o, "exclude_folders", jstr(b->exclude_folders));
	json_object_set_new(o, "max_message_size",
			    json_integer((json_int_t)b->max_message_size));
	json_object_set_new(o, "max_items",
			    json_integer((json_int_t)b->max_items));
	json_object_set_new(o, "bad_item_limit",
			    json_integer((json_int_t)b->bad_item_limit));
	json_object_set_new(o, "allow_incremental_syncs",
			    json_boolean(b->allow_incremental));
	json_object_set_new(o, "notification_emails",
			    jstr(b->notification_emails));
	json_object_set_new(o, "max_bytes_per_second",
			    json_integer((json_int_t)b->max_bytes_per_second));
	return o;
}

json_t *view_batches(struct state *st, const char *name, struct err *err)
{
	struct state_batch *v = NULL, one;
	size_t n = 0, i;
	json_t *arr;

	if (name != NULL) {
		struct state_batch_counts c;
		json_t *o;
		if (state_batch_get(st, name, &one, err) < 0)
			return NULL;
		if (state_batch_counts(st, one.id, &c, err) < 0) {
			state_batch_release(&one);
			return NULL;
		}
		o = view_batch(st, &one, &c);
		state_batch_release(&one);
		return o;
	}
	if (state_batch_list(st, &v, &n, err) < 0)
		return NULL;
	arr = json_array();
	for (i = 0; i < n; i++) {
		struct state_batch_counts c;
		struct err e2 = ERR_INIT;
		/* a batch removed meanwhile is left out */
		if (state_batch_counts(st, v[i].id, &c, &e2) == 0)
			json_array_append_new(arr, view_batch(st, &v[i], &c));
		state_batch_release(&v[i]);
	}
	free(v);
	return arr;
}

json_t *view_user(struct state *st, const struct state_user *u)
{
	struct state_batch b;
	struct err err = ERR_INIT;
	json_t *o = json_object();

	json_object_set_new(o, "email", json_string(u->email));
	if (state_batch_get_id(st, u->batch_id, &b, &err) == 0) {
		json_object_set_new(o, "batch", json_string(b.name));
		state_batch_release(&b);
	}
	json_object_set_new(o, "status", json_string(u->status));
	json_object_set_new(o, "username", json_string(u->username));
	json_object_set_new(o, "items_total",
			    json_integer((json_int_t)u->items_total));
	json_object_set_new(o, "items_synced",
			    json_integer((json_int_t)u->items_synced));
	json_object_set_new(o, "items_skipped",
			    json_integer((json_int_t)u->items_skipped));
	json_object_set_new(o, "bad_items",
			    json_integer((json_int_t)u->bad_items));
	json_object_set_new(o, "bytes_synced",
			    json_integer((json_int_t)u->bytes_synced));
	json_object_set_new(
		o, "last_synced",
		u->last_synced ? json_string(view_fmt_time(u->last_synced, 0))
			       : json_null());
	json_object_set_new(o, "error",
			    u->error ? json_string(u->error) : json_null());
	json_object_set_new(
		o, "data_consistency",
		json_string(view_grade_name(view_user_grade(st, u))));
	json_object_set_new(o, "seconds_syncing",
			    json_integer((json_int_t)u->seconds_syncing));
	json_object_set_new(o, "seconds_throttled",
			    json_integer((json_int_t)u->seconds_throttled));
	json_object_set_new(
		o, "queued_at",
		u->queued_at ? json_string(view_fmt_time(u->queued_at, 0))
			     : json_null());
	return o;
}

const char *view_skipped_kind(const struct state_skipped *s)
{
	if (s->bad)
		return "BadItem";
	if (strncmp(s->reason, "large item", 10) == 0)
		return "LargeItem";
	if (strncmp(s->reason, "over the ", 9) == 0)
		return "OverItemLimit";
	return "Uncopyable";
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *view_user_stats(struct state *st, const char *email, int folders,
			int skipped, struct err *err)
{
	struct state_user u;
	struct state_skipped *sk = NULL;
	struct state_folder_row *fr = NULL;
	size_t nsk = 0, nfr = 0, i;
	json_t *o;

	if (state_user_get(st, email, &u, err) < 0)
		return NULL;
	if ((skipped && state_skipped_list(st, u.id, &sk, &nsk, err) < 0) ||
	    (folders && state_folder_list(st, u.id, &fr, &nfr, err) < 0)) {
		state_skipped_free(sk, nsk);
		state_user_release(&u);
		return NULL;
	}
	o = view_user(st, &u);
	if (folders) {
		json_t *fa = json_array();
		for (i = 0; i < nfr; i++) {
			json_t *f = json_object();
			json_object_set_new(f, "source",
					    json_string(fr[i].src));
			json_object_set_new(f, "target",
					    jstr_or_null(fr[i].dst));
			json_object_set_new(f, "messages",
					    json_integer(fr[i].messages));
			json_object_set_new(
				f, "items_synced",
				json_integer((json_int_t)fr[i].items_synced));
			json_object_set_new(f, "uidvalidity",
					    json_integer(fr[i].uidvalidity));
			json_array_append_new(fa, f);
		}
		json_object_set_new(o, "folders", fa);
	}
	if (skipped) {
		json_t *sa = json_array();
		for (i = 0; i < nsk; i++) {
			json_t *s = json_object();
			json_object_set_new(s, "folder",
					    json_string(sk[i].folder));
			json_object_set_new(s, "uid", json_integer(sk[i].uid));
			json_object_set_new(s, "subject",
					    jstr_or_null(sk[i].subject));
			json_object_set_new(s, "sender",
					    jstr_or_null(sk[i].sender));
			json_object_set_new(s, "date",
					    jstr_or_null(sk[i].date));
			json_object_set_new(
				s, "size",
				json_integer((json_int_t)sk[i].size));
			json_object_set_new(
				s, "kind",
				json_string(view_skipped_kind(&sk[i])));
			json_object_set_new(s, "reason",
					    json_string(sk[i].reason));
			json_array_append_new(sa, s);
		}
		json_object_set_new(o, "skipped_items", sa);
	}
	state_skipped_free(sk, nsk);
	state_folder_rows_free(fr, nfr);
	state_user_release(&u);
	return o;
}

/* OAuth2 settings: the secrets themselves never, only that they are
 * set. */
static void view_endpoint_oauth(json_t *o, const struct state_endpoint *e)
{
	json_object_set_new(
		o, "oauth_token_source",
		json_string(e->oauth_client_id	       ? "client_credentials"
			    : e->oauth_service_account ? "service_account"
						       : "token_command"));
	if (e->oauth_token_url)
		json_object_set_new(o, "oauth_token_url",
				    json_string(e->oauth_token_url));
	if (e->oauth_client_id)
		json_object_set_new(o, "oauth_client_id",
				    json_string(e->oauth_client_id));
	json_object_set_new(o, "oauth_client_secret_set",
			    json_boolean(e->oauth_client_secret != NULL));
	json_object_set_new(o, "oauth_service_account_set",
			    json_boolean(e->oauth_service_account != NULL));
	if (e->oauth_scope)
		json_object_set_new(o, "oauth_scope",
				    json_string(e->oauth_scope));
	if (e->token_command)
		json_object_set_new(o, "token_command",
				    json_string(e->token_command));
	if (e->oauth_ca_file)
		json_object_set_new(o, "oauth_ca_file",
				    json_string(e->oauth_ca_file));
}

json_t *view_endpoint(const struct state_endpoint *e)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(e->name));
	json_object_set_new(o, "type",
			    json_string(state_ep_kind_name(e->kind)));
	if (e->kind == STATE_EP_TARGET_MAILDIR) {
		json_object_set_new(o, "path_template",
				    json_string(e->path_template));
	} else {
		json_object_set_new(o, "remote_server", json_string(e->host));
		json_object_set_new(o, "port", json_integer(e->port));
		json_object_set_new(o, "security", json_string(e->security));
		json_object_set_new(o, "authentication",
				    json_string(e->authentication));
		if (e->login_template)
			json_object_set_new(o, "target_login",
					    json_string(e->login_template));
		if (e->authzid_template)
			json_object_set_new(o, "target_authzid",
					    json_string(e->authzid_template));
		json_object_set_new(o, "password_set",
				    json_boolean(e->password != NULL));
		if (e->authentication != NULL &&
		    (strcasecmp(e->authentication, "xoauth2") == 0 ||
		     strcasecmp(e->authentication, "oauthbearer") == 0))
			view_endpoint_oauth(o, e);
		if (e->ca_file)
			json_object_set_new(o, "ca_file",
					    json_string(e->ca_file));
		json_object_set_new(o, "accept_untrusted_certificates",
				    json_boolean(e->accept_untrusted));
	}
	json_object_set_new(o, "max_concurrent_migrations",
			    json_integer(e->max_migrations));
	json_object_set_new(o, "max_concurrent_incremental_syncs",
			    json_integer(e->max_incremental));
	json_object_set_new(o, "created",
			    json_string(view_fmt_time(e->created, 0)));
	return o;
}
