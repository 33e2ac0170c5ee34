/* log.h - logging to stderr (OpenSMTPD's log_warnx/fatalx shape).
 *
 * Nothing that reaches a log may hold a password: the IMAP trace
 * redacts LOGIN and AUTHENTICATE arguments before calling log_trace(). */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

enum log_level {
	LOG_QUIET = 0,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Prefix every line with the UTC time and name every level, info too
 * (serve's log). */
void log_set_timestamps(int on);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "imapmig: msg" and exit(code). */
void fatalx(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
