#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/buf.h"
#include "util/escape.h"

static enum log_level cur_level = LOG_WARN;
static int stamps; /* a long-running service: time and level on every line */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
	cur_level = level;
}

void log_set_timestamps(int on)
{
	stamps = on;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

static void vlog(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* One line on stderr, what came from a server or a file in it escaped
 * (util/escape.h): a log line cannot drive the terminal. */
static void put_line(const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void put_line(const char *prefix, const char *fmt, va_list ap)
{
	struct buf raw = BUF_INIT, out = BUF_INIT;

	buf_vaddf(&raw, fmt, ap);
	if (stamps) {
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ ", &tm);
		buf_addstr(&out, when);
	}
	buf_addstr(&out, "imapmig: ");
	buf_addstr(&out, prefix);
	buf_add_escaped(&out, raw.p, raw.len);
	buf_addch(&out, '\n');
	fwrite(out.p, 1, out.len, stderr);
	buf_release(&raw);
	buf_release(&out);
}

static void vlog(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		"", "error: ", "warning: ", "", "debug: ", "trace: "};
	static const char *const stamped[] = {
		"", "error: ", "warning: ", "info: ", "debug: ", "trace: "};
	if (level > cur_level)
		return;
	pthread_mutex_lock(&log_lock);
	put_line(stamps ? stamped[level] : names[level], fmt, ap);
	pthread_mutex_unlock(&log_lock);
}

#define LOGFN(name, level)                                                     \
	void name(const char *fmt, ...)                                        \
	{                                                                      \
		va_list ap;                                                    \
		va_start(ap, fmt);                                             \
		vlog(level, fmt, ap);                                          \
		va_end(ap);                                                    \
	}
LOGFN(log_error, LOG_ERROR)
LOGFN(log_warn, LOG_WARN)
LOGFN(log_info, LOG_INFO)
LOGFN(log_debug, LOG_DEBUG)
LOGFN(log_trace, LOG_TRACE)

void fatalx(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line("", fmt, ap);
	va_end(ap);
	exit(code);
}
