/* http.c - the HTTP server of `serve --listen`: the options, the
 * libmicrohttpd daemon and its callbacks (the body cap), start and stop,
 * and the scheduler's snapshot (web_tick).  Routing is in http_route.c,
 * replies in http_reply.c (docs/internals/web.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/escape.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "web/internal.h"

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct web *w = cls;
	struct web_req *r = *con_cls;

	(void)version;
	if (r == NULL) {
		const char *cl = web_header(c, "Content-Length");
		/* only a new batch carries a CSV */
		size_t max = strcmp(url, "/api/v1/batches") == 0
				     ? WEB_BODY_MAX
				     : WEB_SMALL_BODY_MAX;
		r = xcalloc(1, sizeof(*r));
		buf_init(&r->body, max);
		*con_cls = r;
		/* refused before a byte of it is read: MHD answers and
		 * closes the connection */
		if (cl != NULL && strtoull(cl, NULL, 10) > max) {
			r->too_big = 1;
			return web_reply_error(
				c, 413,
				"request body of %s bytes is over the limit "
				"of %zu bytes",
				cl, max);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (r->too_big) {
			*upload_size = 0;
			return MHD_YES;
		}
		if (buf_add(&r->body, upload, *upload_size) < 0) {
			/* chunked and past the cap: MHD can answer only
			 * before the body or after all of it; read no more,
			 * close the connection */
			log_info("web: a chunked request body passed %zu "
				 "bytes: connection closed",
				 r->body.max);
			return MHD_NO;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return MHD_YES;
	return web_dispatch(w, c, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct web_req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r == NULL)
		return;
	OPENSSL_cleanse(r->body.p, r->body.len);
	buf_release(&r->body);
	free(r);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;

	(void)cls;
	buf_vaddf(&b, fmt, ap);
	while (b.len > 0 && b.p[b.len - 1] == '\n')
		buf_setlen(&b, b.len - 1);
	log_debug("web: %s", b.p);
	buf_release(&b);
}

/* ---- start and stop ---- */

static char *read_pem(const char *path, const char *what, struct err *err)
{
	struct buf b = BUF_INIT_MAX(1024 * 1024);
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		err_set(err, ERR_USAGE, EC_IO, "cannot read %s %s: %s", what,
			path, strerror(errno));
		return NULL;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&b, chunk, (size_t)n) < 0)
			break;
	close(fd);
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (n != 0 || strstr(b.p, "-----BEGIN ") == NULL) {
		OPENSSL_cleanse(b.p, b.len);
		buf_release(&b);
		err_set(err, ERR_USAGE, EC_IO,
			"%s %s: not a PEM file (or over 1 MiB): give the PEM "
			"file",
			what, path);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* "HOST:PORT" or "[V6]:PORT" into sa; *loopback_r says if it is. */
static int parse_listen(const char *s, struct sockaddr_storage *sa,
			socklen_t *len_r, int *v6_r, int *loopback_r,
			struct err *err)
{
	char host[256];
	const char *colon, *h = s;
	size_t hl;
	long port;
	char *end;
	struct addrinfo hints, *ai = NULL;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			goto bad;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535 ||
	    errno != 0)
		goto bad;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (strcmp(host, "localhost") != 0)
		hints.ai_flags |= AI_NUMERICHOST;
	else
		hints.ai_family = AF_INET;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || ai == NULL)
		goto bad;
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*len_r = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (sa->ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		in->sin_port = htons((uint16_t)port);
		*v6_r = 0;
		*loopback_r = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		in6->sin6_port = htons((uint16_t)port);
		*v6_r = 1;
		*loopback_r = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
bad:
	return err_set(err, ERR_USAGE, EC_NONE,
		       "--listen %s: give an address and port such as "
		       "127.0.0.1:8025 or [::1]:8025",
		       esc(s));
}

int web_opts_check(const struct web_opts *o, struct err *err)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int v6 = 0, loopback = 0;

	if (parse_listen(o->listen, &sa, &salen, &v6, &loopback, err) < 0)
		return -1;
	if ((o->tls_cert == NULL) != (o->tls_key == NULL))
		return err_set(err, ERR_USAGE, EC_NONE,
			       "--tls-cert and --tls-key go together");
	if (!loopback && o->tls_cert == NULL)
		return err_set(err, ERR_USAGE, EC_NONE,
			       "--listen %s is not a loopback address: the "
			       "token would cross the network in plaintext; "
			       "give --tls-cert and --tls-key, or listen on "
			       "127.0.0.1",
			       esc(o->listen));
	return 0;
}

/* The API token: the file given, or "<state dir>/api-token", created
 * when missing. */
static int token_setup(struct web *w, const struct web_opts *o, struct err *err)
{
	char *dir, *slash, *token_path;
	int rc;

	if (o->token_file != NULL)
		return web_token_load(w, o->token_file, 0, err);
	dir = xstrdup(o->state_path);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	token_path = xasprintf("%s/api-token", slash ? dir : ".");
	free(dir);
	rc = web_token_load(w, token_path, 1, err);
	free(token_path);
	return rc;
}

/* The certificate and key, when TLS is asked for. */
static int tls_setup(struct web *w, const struct web_opts *o, struct err *err)
{
	if (o->tls_cert == NULL)
		return 0;
	w->cert_pem = read_pem(o->tls_cert, "--tls-cert", err);
	if (w->cert_pem == NULL)
		return -1;
	w->key_pem = read_pem(o->tls_key, "--tls-key", err);
	if (w->key_pem == NULL)
		return -1;
	w->tls = 1;
	return 0;
}

/* The daemon: a thread per connection, at most WEB_MAX_CONNECTIONS,
 * idle ones closed after 120 s. */
static struct MHD_Daemon *
daemon_start(struct web *w, const struct sockaddr_storage *sa, int v6)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

	if (v6)
		flags |= MHD_USE_IPv6;
	if (w->tls)
		flags |= MHD_USE_TLS;
	if (w->tls)
		return MHD_start_daemon(
			flags, 0, NULL, NULL, on_request, w,
			MHD_OPTION_SOCK_ADDR, (struct sockaddr *)sa,
			MHD_OPTION_CONNECTION_LIMIT,
			(unsigned)WEB_MAX_CONNECTIONS,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
			MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w,
			MHD_OPTION_HTTPS_MEM_CERT, w->cert_pem,
			MHD_OPTION_HTTPS_MEM_KEY, w->key_pem, MHD_OPTION_END);
	return MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)sa, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)WEB_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w, MHD_OPTION_END);
}

/* The address bound (with the port the system chose for 0), for
 * web_address() and the Host check. */
static void set_address(struct web *w, const struct sockaddr_storage *sa,
			int v6, int loopback)
{
	const union MHD_DaemonInfo *info =
		MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
	char ip[INET6_ADDRSTRLEN];

	if (v6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)sa)->sin6_addr, ip,
			  sizeof(ip));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
			  ip, sizeof(ip));
	snprintf(w->address, sizeof(w->address), v6 ? "[%s]:%u" : "%s:%u", ip,
		 info != NULL ? (unsigned)info->port : 0);
	snprintf(w->port, sizeof(w->port), "%u",
		 info != NULL ? (unsigned)info->port : 0);
	snprintf(w->bind_ip, sizeof(w->bind_ip), v6 ? "[%s]" : "%s", ip);
	w->loopback = loopback;
}

struct web *web_start(const struct web_opts *o, struct err *err)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int v6 = 0, loopback = 0;
	struct web *w;

	if (web_opts_check(o, err) < 0 ||
	    parse_listen(o->listen, &sa, &salen, &v6, &loopback, err) < 0)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	pthread_mutex_init(&w->pool_lock, NULL);
	pthread_mutex_init(&w->jobs_lock, NULL);
	w->state_path = xstrdup(o->state_path);
	w->alive_seconds = o->alive_seconds ? o->alive_seconds : 60;
	atomic_store(&w->heartbeat, (long long)time(NULL));
	if (token_setup(w, o, err) < 0 || tls_setup(w, o, err) < 0)
		goto fail;
	w->events = web_events_start(w, err);
	if (w->events == NULL)
		goto fail;
	w->daemon = daemon_start(w, &sa, v6);
	if (w->daemon == NULL) {
		err_set(err, w->tls ? ERR_USAGE : ERR_LOCAL, EC_NONE,
			"cannot listen on %s%s: is the port in use%s?",
			esc(o->listen), w->tls ? " with TLS" : "",
			w->tls ? ", or the certificate and key not a pair"
			       : "");
		goto fail;
	}
	set_address(w, &sa, v6, loopback);
	return w;
fail:
	web_stop(&w);
	return NULL;
}

void web_stop(struct web **wp)
{
	struct web *w = *wp;
	size_t i;

	if (w == NULL)
		return;
	atomic_store(&w->stopping, 1);
	/* the event streams end first, or the daemon would wait for them */
	web_events_shutdown(w->events);
	if (w->daemon != NULL)
		MHD_stop_daemon(w->daemon);
	web_events_free(&w->events);
	for (i = 0; i < w->npool; i++)
		state_close(&w->pool[i]);
	if (w->key_pem != NULL) {
		OPENSSL_cleanse(w->key_pem, strlen(w->key_pem));
		free(w->key_pem);
	}
	free(w->cert_pem);
	free(w->jobs);
	free(w->counted);
	free(w->state_path);
	OPENSSL_cleanse(w->token_hash, sizeof(w->token_hash));
	OPENSSL_cleanse(w->session, sizeof(w->session));
	pthread_mutex_destroy(&w->pool_lock);
	pthread_mutex_destroy(&w->jobs_lock);
	free(w);
	*wp = NULL;
}

const char *web_address(const struct web *w)
{
	return w->address;
}

void web_heartbeat(struct web *w)
{
	if (w != NULL)
		atomic_store(&w->heartbeat, (long long)time(NULL));
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The failed passes of the run, by error class, each job once (its index
 * and start time).  Under jobs_lock. */
static void count_failures(struct web *w, struct sched_job *jobs, size_t n)
{
	size_t i;

	if (n != w->ncounted) {
		free(w->counted);
		w->counted = xcalloc(n + 1, sizeof(*w->counted));
		w->ncounted = n;
	}
	for (i = 0; i < n; i++) {
		int cls = jobs[i].error_class;
		if (atomic_load(&jobs[i].finished) != JOB_FAILED ||
		    w->counted[i] == jobs[i].started)
			continue;
		w->counted[i] = jobs[i].started;
		if (cls <= ERR_NONE || cls > ERR_LOCAL)
			cls = ERR_LOCAL;
		w->errors[cls]++;
	}
}

/* Running job j as x: its progress, and its rate over the last two
 * seconds or more (from the last snapshot's sample).  Under jobs_lock. */
static void job_snapshot(const struct web *w, struct sched_job *j,
			 struct web_job *x, long long ms, long long now)
{
	size_t m;

	x->user_id = j->user_id;
	x->batch_id = j->batch_id;
	x->source_id = j->source_id;
	snprintf(x->email, sizeof(x->email), "%s", j->email);
	pthread_mutex_lock(&j->prog.lock);
	snprintf(x->folder, sizeof(x->folder), "%s", j->prog.folder);
	pthread_mutex_unlock(&j->prog.lock);
	x->incremental = j->incremental;
	x->items_done = atomic_load(&j->prog.items_done);
	x->items_total = atomic_load(&j->prog.items_total);
	x->bytes_done = atomic_load(&j->prog.bytes_done);
	x->started = (long long)j->started;
	for (m = 0; m < w->njobs; m++)
		if (w->jobs[m].user_id == x->user_id)
			break;
	if (m < w->njobs) {
		const struct web_job *o = &w->jobs[m];
		x->rate = o->rate;
		x->sample_bytes = o->sample_bytes;
		x->sample_ms = o->sample_ms;
	} else {
		x->rate = now > x->started ? (double)x->bytes_done /
						     (double)(now - x->started)
					   : 0;
		x->sample_bytes = x->bytes_done;
		x->sample_ms = ms;
	}
	if (x->bytes_done < x->sample_bytes) { /* a new pass */
		x->sample_bytes = x->bytes_done;
		x->sample_ms = ms;
	}
	if (ms - x->sample_ms >= 2000) {
		x->rate = (double)(x->bytes_done - x->sample_bytes) * 1000.0 /
			  (double)(ms - x->sample_ms);
		x->sample_bytes = x->bytes_done;
		x->sample_ms = ms;
	}
}

void web_tick(struct web *w, struct sched_job *jobs, size_t n)
{
	struct web_job *v;
	long long ms = now_ms(), now = (long long)time(NULL);
	size_t i, k = 0;

	if (w == NULL)
		return;
	web_heartbeat(w);
	v = xcalloc(n + 1, sizeof(*v));
	pthread_mutex_lock(&w->jobs_lock);
	count_failures(w, jobs, n);
	for (i = 0; i < n; i++) {
		if (jobs[i].started == 0 || atomic_load(&jobs[i].finished) != 0)
			continue;
		job_snapshot(w, &jobs[i], &v[k++], ms, now);
	}
	free(w->jobs);
	w->jobs = v;
	w->njobs = k;
	w->jobs_at = now;
	pthread_mutex_unlock(&w->jobs_lock);
}
