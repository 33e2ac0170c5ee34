/* err.h - one error type that says what it loses (isync's classes).
 *
 * Functions return 0 on success and -1 on error, filling a struct err
 * whose class tells the caller how far the damage reaches and whether
 * to retry.  The message is one line for a human: what failed, where,
 * and what to do.  It never holds a password. */
#ifndef UTIL_ERR_H
#define UTIL_ERR_H

#include <stdarg.h>

enum err_class {
	ERR_NONE = 0,
	/* One message could not be copied: record it, skip it, go on. */
	ERR_MESSAGE,
	/* One folder cannot be read or written: abort that folder. */
	ERR_FOLDER,
	/* The connection broke or the server is busy (BYE, reset, timeout,
	 * NO [UNAVAILABLE], throttling): reconnect and retry later. */
	ERR_TRANSIENT,
	/* Credentials refused or account unusable: stop this mailbox. */
	ERR_AUTH,
	/* The server or network cannot be used as configured (refused,
	 * unresolvable, certificate untrusted, no STARTTLS, protocol
	 * violation): stop, a person must act. */
	ERR_CONNECT,
	/* Bad usage or bad input: exit code 2. */
	ERR_USAGE,
	/* Local failure (disk full, state store). */
	ERR_LOCAL,
};

/* Finer reasons, for tests and for retry policy. */
enum err_code {
	EC_NONE = 0,
	EC_RESOLVE,	/* name does not resolve */
	EC_REFUSED,	/* connection refused */
	EC_TIMEOUT,	/* deadline passed */
	EC_RESET,	/* connection reset / closed by peer */
	EC_TLS,		/* TLS handshake failed */
	EC_CERT,	/* certificate not trusted / wrong name */
	EC_NO_STARTTLS, /* --security tls but the server has no STARTTLS */
	EC_PROTOCOL,	/* malformed or unexpected server response */
	EC_BYE,		/* server said BYE */
	EC_NO,		/* tagged NO */
	EC_BAD,		/* tagged BAD */
	EC_AUTHFAIL,	/* login refused */
	EC_THROTTLED,	/* server asked us to slow down */
	EC_TOO_BIG,	/* limit exceeded */
	EC_IO,		/* local I/O */
};

struct err {
	enum err_class cls;
	enum err_code code;
	/* Milliseconds the server suggested waiting before a retry, 0 if
	 * it said nothing. */
	unsigned retry_after_ms;
	char msg[600];
};

#define ERR_INIT                                                               \
	{                                                                      \
		ERR_NONE, EC_NONE, 0, ""                                       \
	}

void err_clear(struct err *e);
/* Set the error; always returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, enum err_class cls, enum err_code code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int err_vset(struct err *e, enum err_class cls, enum err_code code,
	     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
/* Prefix the existing message with more context ("user x: ..."). */
void err_prefix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append to the message (advice the caller knows and the callee does not). */
void err_suffix(struct err *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
const char *err_class_name(enum err_class cls);
/* Exit code for a command that ended with this error: 2 for usage, else 1. */
int err_exit_code(const struct err *e);

#endif
