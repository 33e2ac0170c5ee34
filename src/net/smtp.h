/* smtp.h - hand one message to an SMTP server (libcurl's SMTP client).
 *
 * Used by serve's notification sender (sched/notify.c), from a thread of
 * its own: a call may take up to the timeout, never longer, and a cancel
 * flag ends it within about a second.  The password is given to libcurl
 * only; no error message or log line holds it (nor the AUTH exchange:
 * libcurl's verbose trace is never switched on). */
#ifndef NET_SMTP_H
#define NET_SMTP_H

#include <stdatomic.h>
#include <stddef.h>

#include "util/err.h"

enum smtp_security {
	SMTP_SEC_NONE, /* plaintext; opt-in only */
	SMTP_SEC_SSL,  /* implicit TLS (smtps, port 465) */
	SMTP_SEC_TLS,  /* STARTTLS, required: never falls back to plaintext */
};

struct smtp_server {
	char *host; /* name or address; an IPv6 address without brackets */
	unsigned port;
	enum smtp_security security;
	char *user;	    /* NULL: no AUTH */
	char *password;	    /* with user */
	char *ca_file;	    /* NULL: the system CA store */
	unsigned timeout_s; /* the whole exchange; 0: 30 s */
};

/* Call once, before any thread sends (curl_global_init). */
int smtp_global_init(struct err *err);

/* "HOST:PORT" or "[V6ADDR]:PORT" into s->host (allocated) and s->port.
 * -1 (ERR_USAGE) when malformed. */
int smtp_parse_server(const char *arg, struct smtp_server *s, struct err *err);
/* "none", "ssl" or "tls"; -1 otherwise. */
int smtp_parse_security(const char *name);
const char *smtp_security_name(enum smtp_security sec);
/* A bare address (local@domain, printable ASCII, none of the characters
 * that would end a header or an SMTP path: space, <>()[],;:"\).  1 or 0. */
int smtp_address_ok(const char *addr);

/* Send msg (a complete RFC 5322 message, CRLF line ends) from the
 * envelope sender from to the n recipients.  0 only when the server
 * accepted the message (its 250 reply to the end of DATA); otherwise -1,
 * classed: ERR_TRANSIENT (refused, timeout, reset, a 4xx reply), ERR_AUTH
 * (credentials refused), ERR_CONNECT (TLS, certificate, no STARTTLS, a
 * 5xx reply).  *cancel (may be NULL) set to non-zero ends the exchange
 * early (ERR_TRANSIENT). */
int smtp_send(const struct smtp_server *s, const char *from,
	      const char *const *rcpt, size_t n, const char *msg, size_t len,
	      const _Atomic int *cancel, struct err *err);

/* Frees host, user, ca_file; wipes and frees the password. */
void smtp_server_release(struct smtp_server *s);

#endif
