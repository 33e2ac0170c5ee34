#include "util/err.h"

#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
	e->cls = ERR_NONE;
	e->code = EC_NONE;
	e->retry_after_ms = 0;
	e->msg[0] = '\0';
}

int err_vset(struct err *e, enum err_class cls, enum err_code code,
	     const char *fmt, va_list ap)
{
	size_t i;

	e->cls = cls;
	e->code = code;
	e->retry_after_ms = 0;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	/* One line, always: a server's text may carry CR/LF or controls. */
	for (i = 0; e->msg[i]; i++)
		if ((unsigned char)e->msg[i] < 0x20)
			e->msg[i] = ' ';
	return -1;
}

int err_set(struct err *e, enum err_class cls, enum err_code code,
	    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(e, cls, code, fmt, ap);
	va_end(ap);
	return -1;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
	char old[sizeof(e->msg)];
	size_t n;
	va_list ap;

	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	n = strlen(e->msg);
	if (n < sizeof(e->msg) - 1) {
		size_t room = sizeof(e->msg) - 1 - n, ol = strlen(old);
		if (ol > room)
			ol = room;
		memcpy(e->msg + n, old, ol);
		e->msg[n + ol] = '\0';
	}
}

void err_suffix(struct err *e, const char *fmt, ...)
{
	size_t n = strlen(e->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - n, fmt, ap);
	va_end(ap);
}

const char *err_class_name(enum err_class cls)
{
	switch (cls) {
	case ERR_NONE: return "none";
	case ERR_MESSAGE: return "message";
	case ERR_FOLDER: return "folder";
	case ERR_TRANSIENT: return "transient";
	case ERR_AUTH: return "auth";
	case ERR_CONNECT: return "connect";
	case ERR_USAGE: return "usage";
	case ERR_LOCAL: return "local";
	}
	return "unknown";
}

int err_exit_code(const struct err *e)
{
	return e->cls == ERR_USAGE ? 2 : 1;
}
