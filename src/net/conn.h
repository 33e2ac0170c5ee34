/* conn.h - a buffered connection to a server: TCP with deadlines,
 * OpenSSL TLS (implicit or upgraded by STARTTLS), certificate checks.
 *
 * The socket is non-blocking; every read and write waits in poll() for at
 * most the connection's timeout, so no call can hang forever.  Errors come
 * back classed (util/err.h): a name that does not resolve (EC_RESOLVE),
 * connection refused (EC_REFUSED), timeout (EC_TIMEOUT), reset or closed
 * by the peer (EC_RESET), TLS failures (EC_TLS, EC_CERT). */
#ifndef NET_CONN_H
#define NET_CONN_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

enum conn_security {
	CONN_SEC_NONE, /* plaintext; opt-in only */
	CONN_SEC_SSL,  /* implicit TLS, port 993 */
	CONN_SEC_TLS,  /* STARTTLS on port 143, never falling back */
};

struct conn_tls_opts {
	const char *ca_file;  /* NULL: the system CA store */
	int accept_untrusted; /* 1: complete the handshake anyway */
};

/* What a person needs to see to fix a connection (test-server prints it). */
struct conn_info {
	char addr[64]; /* numeric address connected to */
	double connect_ms;
	int tls; /* 1 once TLS is up */
	char tls_version[32];
	char cipher[96];
	char cert_subject[256];
	char cert_issuer[256];
	char cert_not_after[64];
	time_t cert_expires; /* the same, as a time; 0 if unknown */
	int cert_verified;   /* chain and host name check passed */
	int cert_self_signed;
	char cert_verify_msg[256]; /* why it failed, when it did */
};

struct conn;

/* Resolve host and connect (trying every address) within timeout_ms.
 * Returns NULL with err set on failure. */
struct conn *conn_connect(const char *host, unsigned port, int timeout_ms,
			  struct err *err);
/* Run a TLS handshake as client on an open connection (right after
 * connect for CONN_SEC_SSL, after the STARTTLS reply for CONN_SEC_TLS).
 * host is used for SNI and the name check.  TLS 1.2 minimum.  An
 * unverified certificate fails with EC_CERT unless accept_untrusted. */
int conn_start_tls(struct conn *c, const char *host,
		   const struct conn_tls_opts *opts, struct err *err);
void conn_set_timeout(struct conn *c, int timeout_ms);
/* Read at most bytes_per_second on average (0: no limit): conn_fill()
 * waits before reading when the bytes so far are ahead of the rate, so the
 * server's sending is paced by TCP itself. */
void conn_set_rate(struct conn *c, unsigned long long bytes_per_second);
const struct conn_info *conn_get_info(const struct conn *c);

/* Buffered input.  conn_fill() reads whatever is available (at least one
 * byte, waiting up to the timeout) and appends it to the input buffer;
 * returns the number of bytes added, or -1 with err set (a clean close by
 * the peer is EC_RESET: "connection closed by server").  It never reads
 * more than the buffer's free space allows (at most 256 KiB buffered). */
int conn_fill(struct conn *c, struct err *err);
/* The buffered input not yet consumed. */
const char *conn_rbuf(const struct conn *c, size_t *len_r);
void conn_consume(struct conn *c, size_t n);

/* Buffered output: conn_write() queues bytes (flushing when the buffer
 * passes 64 KiB); conn_flush() sends everything queued.  While waiting to
 * write, input that arrives is read into the input buffer, so a server
 * that answers while we send can never deadlock us. */
int conn_write(struct conn *c, const void *data, size_t len, struct err *err);
int conn_flush(struct conn *c, struct err *err);
/* Zero the output buffer's bytes already sent (after a command that
 * held a password), so no stale copy stays in memory or is carried
 * into a grown buffer. */
void conn_wipe_sent(struct conn *c);
/* Bytes written and read since connect, for statistics. */
unsigned long long conn_bytes_in(const struct conn *c);
unsigned long long conn_bytes_out(const struct conn *c);

/* Close and free; NULLs *cp.  Safe on NULL. */
void conn_destroy(struct conn **cp);

#endif
