#include "util/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	static const char *const names[] = {
		"", "error: ", "warning: ", "", "debug: ", "trace: "};
	static const char *const stamped[] = {
		"", "error: ", "warning: ", "info: ", "debug: ", "trace: "};
	if (level > cur_level)
		return;
	pthread_mutex_lock(&log_lock);
	if (stamps) {
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(stderr, "%s imapmig: %s", when, stamped[level]);
	} else {
		fprintf(stderr, "imapmig: %s", names[level]);
	}
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
	fprintf(stderr, "imapmig: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}
