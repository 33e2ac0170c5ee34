/* conn.c - buffered connections with deadlines and TLS; see conn.h. */
#include "net/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/buf.h"
#include "util/xalloc.h"

#define RBUF_MAX   (256 * 1024)
#define WBUF_FLUSH (64 * 1024)
#define READ_CHUNK (64 * 1024)

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char *host;
	unsigned port;
	int timeout_ms;
	struct buf rbuf;
	size_t rpos; /* consumed prefix of rbuf */
	struct buf wbuf;
	unsigned long long bytes_in, bytes_out;
	unsigned long long rate, rate_base; /* conn_set_rate */
	long long rate_t0;
	struct conn_info info;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Wait for events until deadline; returns revents, 0 on timeout, -1 on
 * a poll error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = {fd, events, 0};
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			continue;
		return p.revents;
	}
}

static int try_connect(struct conn *c, const struct addrinfo *ai,
		       long long deadline, struct err *err)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	int fd, rc, soerr = 0;
	socklen_t len = sizeof(soerr);
	long long start = now_ms();

	if (ai->ai_family == AF_INET)
		inet_ntop(AF_INET,
			  &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr,
			  sizeof(addr));
	else if (ai->ai_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
			  addr, sizeof(addr));
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return err_set(err, ERR_CONNECT, EC_REFUSED,
			       "cannot create a socket: %s", strerror(errno));
	if (set_nonblock(fd) < 0) {
		close(fd);
		return err_set(err, ERR_LOCAL, EC_IO, "fcntl: %s",
			       strerror(errno));
	}
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	if (rc < 0 && errno == EINPROGRESS) {
		int ev = wait_fd(fd, POLLOUT, deadline);
		if (ev == 0) {
			close(fd);
			return err_set(err, ERR_CONNECT, EC_TIMEOUT,
				       "connection to %s:%u (%s) timed out "
				       "after %d ms: check the host, the port "
				       "and the firewall",
				       c->host, c->port, addr, c->timeout_ms);
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		rc = soerr ? -1 : 0;
		errno = soerr;
	}
	if (rc < 0) {
		int e = errno;
		close(fd);
		if (e == ECONNREFUSED)
			return err_set(err, ERR_CONNECT, EC_REFUSED,
				       "connection to %s:%u (%s) refused: is "
				       "the IMAP server running and the port "
				       "right?",
				       c->host, c->port, addr);
		return err_set(err, ERR_CONNECT,
			       e == ETIMEDOUT ? EC_TIMEOUT : EC_RESET,
			       "cannot connect to %s:%u (%s): %s", c->host,
			       c->port, addr, strerror(e));
	}
	{
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->fd = fd;
	snprintf(c->info.addr, sizeof(c->info.addr), "%s", addr);
	c->info.connect_ms = (double)(now_ms() - start);
	return 0;
}

struct conn *conn_connect(const char *host, unsigned port, int timeout_ms,
			  struct err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	struct conn *c;
	long long deadline;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(portstr, sizeof(portstr), "%u", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		/* AI_ADDRCONFIG hides 127.0.0.1 on a box with no other
		 * address configured: try once more without it. */
		hints.ai_flags = 0;
		rc = getaddrinfo(host, portstr, &hints, &res);
	}
	if (rc != 0) {
		err_set(err, ERR_CONNECT, EC_RESOLVE,
			"cannot resolve %s: %s: check the server name", host,
			rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	c->host = xstrdup(host);
	c->port = port;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 60000;
	buf_init(&c->rbuf, RBUF_MAX + READ_CHUNK);
	buf_init(&c->wbuf, 0);
	deadline = now_ms() + c->timeout_ms;
	err_clear(err);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (try_connect(c, ai, deadline, err) == 0)
			break;
		if (err->code == EC_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		conn_destroy(&c);
		return NULL;
	}
	err_clear(err);
	return c;
}

void conn_set_timeout(struct conn *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 60000;
}

const struct conn_info *conn_get_info(const struct conn *c)
{
	return &c->info;
}

/* ---- TLS ---- */

static void ssl_reason(char *out, size_t size)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(out, size, "the peer closed the connection");
	else
		ERR_error_string_n(e, out, size);
	ERR_clear_error();
}

static int is_ip_literal(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, host, &a4) == 1 ||
	       inet_pton(AF_INET6, host, &a6) == 1;
}

static void name_oneline(X509_NAME *n, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	len = BIO_read(b, out, (int)size - 1);
	out[len > 0 ? len : 0] = '\0';
	BIO_free(b);
}

static void fill_cert_info(struct conn *c, long verify)
{
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	const ASN1_TIME *na;
	struct tm tm;

	snprintf(c->info.tls_version, sizeof(c->info.tls_version), "%s",
		 SSL_get_version(c->ssl));
	snprintf(c->info.cipher, sizeof(c->info.cipher), "%s",
		 SSL_get_cipher_name(c->ssl));
	c->info.tls = 1;
	c->info.cert_verified = verify == X509_V_OK && cert != NULL;
	c->info.cert_self_signed =
		verify == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		verify == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
	snprintf(c->info.cert_verify_msg, sizeof(c->info.cert_verify_msg), "%s",
		 cert == NULL ? "no certificate"
			      : X509_verify_cert_error_string(verify));
	if (cert == NULL)
		return;
	name_oneline(X509_get_subject_name(cert), c->info.cert_subject,
		     sizeof(c->info.cert_subject));
	name_oneline(X509_get_issuer_name(cert), c->info.cert_issuer,
		     sizeof(c->info.cert_issuer));
	na = X509_get0_notAfter(cert);
	if (na != NULL && ASN1_TIME_to_tm(na, &tm) == 1) {
		strftime(c->info.cert_not_after, sizeof(c->info.cert_not_after),
			 "%Y-%m-%d %H:%M:%S UTC", &tm);
		c->info.cert_expires = timegm(&tm);
	}
	X509_free(cert);
}

static int cert_error(struct conn *c, long verify, struct err *err)
{
	const char *fix = "pass --ca-file FILE with the CA that signed it, or "
			  "--accept-untrusted-certificates on a network you "
			  "trust";

	switch (verify) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return err_set(err, ERR_CONNECT, EC_CERT,
			       "certificate for %s is self-signed and not "
			       "trusted: pass --ca-file FILE, or "
			       "--accept-untrusted-certificates on a network "
			       "you trust",
			       c->host);
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return err_set(err, ERR_CONNECT, EC_CERT,
			       "certificate for %s does not match the name "
			       "(it is for %s): connect with a name the "
			       "certificate shows, or pass "
			       "--accept-untrusted-certificates",
			       c->host, c->info.cert_subject);
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return err_set(err, ERR_CONNECT, EC_CERT,
			       "certificate for %s expired on %s: renew it "
			       "on the server, or pass "
			       "--accept-untrusted-certificates",
			       c->host, c->info.cert_not_after);
	default:
		return err_set(err, ERR_CONNECT, EC_CERT,
			       "certificate for %s is not trusted (%s): %s",
			       c->host, c->info.cert_verify_msg, fix);
	}
}

/* Drive an SSL operation until it completes or the deadline passes;
 * returns the SSL return value (>0 ok), or 0/-1 with *ssl_err set. */
static int ssl_wait(struct conn *c, int r, long long deadline, int *timed_out)
{
	int e = SSL_get_error(c->ssl, r);
	int ev;

	*timed_out = 0;
	if (e == SSL_ERROR_WANT_READ)
		ev = wait_fd(c->fd, POLLIN, deadline);
	else if (e == SSL_ERROR_WANT_WRITE)
		ev = wait_fd(c->fd, POLLOUT, deadline);
	else
		return -1;
	if (ev == 0) {
		*timed_out = 1;
		return -1;
	}
	return 0; /* try again */
}

int conn_start_tls(struct conn *c, const char *host,
		   const struct conn_tls_opts *opts, struct err *err)
{
	long long deadline = now_ms() + c->timeout_ms;
	char reason[256];
	long verify;
	int r, to;

	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return err_set(err, ERR_LOCAL, EC_TLS, "cannot set up TLS");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* We check the result ourselves after the handshake, so that an
	 * opt-in can accept it and test-server can show why it failed. */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	if (opts != NULL && opts->ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, opts->ca_file,
						  NULL) != 1) {
			ERR_clear_error();
			return err_set(err, ERR_USAGE, EC_CERT,
				       "cannot load CA certificates from %s: "
				       "give a PEM file",
				       opts->ca_file);
		}
	} else {
		SSL_CTX_set_default_verify_paths(c->ctx);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL)
		return err_set(err, ERR_LOCAL, EC_TLS, "cannot set up TLS");
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_mode(c->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				     SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (is_ip_literal(host)) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, host);
		SSL_set1_host(c->ssl, host);
	}
	for (;;) {
		r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		if (ssl_wait(c, r, deadline, &to) < 0) {
			if (to)
				return err_set(err, ERR_CONNECT, EC_TIMEOUT,
					       "TLS handshake with %s:%u timed "
					       "out: is this port TLS "
					       "(--security ssl) or plain "
					       "(--security tls for STARTTLS)?",
					       c->host, c->port);
			ssl_reason(reason, sizeof(reason));
			return err_set(err, ERR_CONNECT, EC_TLS,
				       "TLS handshake with %s:%u failed: %s: "
				       "is this port TLS (--security ssl) or "
				       "plain (--security tls for STARTTLS)?",
				       c->host, c->port, reason);
		}
	}
	verify = SSL_get_verify_result(c->ssl);
	fill_cert_info(c, verify);
	if (!c->info.cert_verified && !(opts != NULL && opts->accept_untrusted))
		return cert_error(c, verify, err);
	return 0;
}

/* ---- I/O ---- */

static ssize_t raw_read(struct conn *c, char *p, size_t n, int *again)
{
	*again = 0;
	if (c->ssl != NULL) {
		int r;
		ERR_clear_error();
		errno = 0;
		r = SSL_read(c->ssl, p, (int)n);
		if (r > 0)
			return r;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE: *again = 1; return -1;
		case SSL_ERROR_ZERO_RETURN: return 0;
		case SSL_ERROR_SYSCALL:
			if (errno == 0)
				return 0; /* EOF without close_notify */
			return -2;
		default:
			errno = EPROTO;
			ERR_clear_error();
			return -2;
		}
	}
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*again = 1;
			return -1;
		}
		return -2;
	}
}

static ssize_t raw_write(struct conn *c, const char *p, size_t n, int *again)
{
	*again = 0;
	if (c->ssl != NULL) {
		int r;
		ERR_clear_error();
		errno = 0;
		r = SSL_write(c->ssl, p, (int)(n > 1 << 30 ? 1 << 30 : n));
		if (r > 0)
			return r;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE: *again = 1; return -1;
		case SSL_ERROR_SYSCALL:
			if (errno == 0)
				errno = EPIPE;
			return -2;
		default:
			errno = EPROTO;
			ERR_clear_error();
			return -2;
		}
	}
	for (;;) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*again = 1;
			return -1;
		}
		return -2;
	}
}

static int closed_error(struct conn *c, int reset, struct err *err)
{
	return err_set(err, ERR_TRANSIENT, EC_RESET,
		       reset ? "connection to %s:%u reset: %s"
			     : "connection closed by %s:%u%s",
		       c->host, c->port, reset ? strerror(errno) : "");
}

/* Read what is available into rbuf without waiting; returns bytes read,
 * 0 if nothing was available, -1 on error. */
static int read_some(struct conn *c, struct err *err)
{
	ssize_t r;
	int again;

	if (c->rpos > 0 && c->rpos == c->rbuf.len) {
		buf_reset(&c->rbuf);
		c->rpos = 0;
	} else if (c->rpos > RBUF_MAX / 2) {
		buf_consume(&c->rbuf, c->rpos);
		c->rpos = 0;
	}
	if (c->rbuf.len - c->rpos >= RBUF_MAX)
		return 0; /* full: the caller must consume first */
	if (buf_grow(&c->rbuf, READ_CHUNK) < 0)
		return 0;
	r = raw_read(c, c->rbuf.p + c->rbuf.len, READ_CHUNK, &again);
	if (r > 0) {
		c->rbuf.len += (size_t)r;
		c->rbuf.p[c->rbuf.len] = '\0';
		c->bytes_in += (unsigned long long)r;
		return (int)r;
	}
	if (r < 0 && again)
		return 0;
	return closed_error(c, r == -2, err);
}

void conn_set_rate(struct conn *c, unsigned long long bytes_per_second)
{
	c->rate = bytes_per_second;
	c->rate_base = c->bytes_in;
	c->rate_t0 = now_ms();
}

/* Ahead of the rate: wait until the bytes read so far are due. */
static void rate_wait(struct conn *c)
{
	long long due, now;

	if (c->rate == 0)
		return;
	due = c->rate_t0 +
	      (long long)((c->bytes_in - c->rate_base) * 1000 / c->rate);
	now = now_ms();
	if (due > now) {
		struct timespec ts = {(due - now) / 1000,
				      (long)((due - now) % 1000) * 1000000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

int conn_fill(struct conn *c, struct err *err)
{
	long long deadline;

	rate_wait(c);
	deadline = now_ms() + c->timeout_ms;

	for (;;) {
		int n, ev;

		/* TLS may hold decrypted bytes the socket no longer shows */
		if (c->ssl == NULL || SSL_pending(c->ssl) == 0) {
			ev = wait_fd(c->fd, POLLIN, deadline);
			if (ev == 0)
				return err_set(err, ERR_TRANSIENT, EC_TIMEOUT,
					       "no answer from %s:%u for %d "
					       "s",
					       c->host, c->port,
					       c->timeout_ms / 1000);
			if (ev < 0)
				return closed_error(c, 1, err);
		}
		n = read_some(c, err);
		if (n != 0)
			return n;
		if (c->rbuf.len - c->rpos >= RBUF_MAX)
			return err_set(err, ERR_LOCAL, EC_TOO_BIG,
				       "input buffer full");
	}
}

const char *conn_rbuf(const struct conn *c, size_t *len_r)
{
	*len_r = c->rbuf.len - c->rpos;
	return c->rbuf.p + c->rpos;
}

void conn_consume(struct conn *c, size_t n)
{
	c->rpos += n;
	if (c->rpos > c->rbuf.len)
		c->rpos = c->rbuf.len;
}

int conn_write(struct conn *c, const void *data, size_t len, struct err *err)
{
	const char *p = data;

	/* Big writes go straight out instead of through the buffer. */
	while (len > 0) {
		size_t room =
			WBUF_FLUSH > c->wbuf.len ? WBUF_FLUSH - c->wbuf.len : 0;
		size_t n = len < room ? len : room;
		if (n > 0) {
			buf_add(&c->wbuf, p, n);
			p += n;
			len -= n;
		}
		if (c->wbuf.len >= WBUF_FLUSH && conn_flush(c, err) < 0)
			return -1;
	}
	return 0;
}

int conn_flush(struct conn *c, struct err *err)
{
	size_t off = 0;
	long long deadline = now_ms() + c->timeout_ms;

	while (off < c->wbuf.len) {
		int again;
		ssize_t r = raw_write(c, c->wbuf.p + off, c->wbuf.len - off,
				      &again);
		if (r > 0) {
			off += (size_t)r;
			c->bytes_out += (unsigned long long)r;
			deadline = now_ms() + c->timeout_ms;
			continue;
		}
		if (!again) {
			buf_consume(&c->wbuf, off);
			return closed_error(c, 1, err);
		}
		{
			/* While we wait to write, read what the server
			 * sends, so it can never block us both. */
			short want = POLLOUT;
			int ev;
			if (c->rbuf.len - c->rpos < RBUF_MAX)
				want |= POLLIN;
			ev = wait_fd(c->fd, want, deadline);
			if (ev == 0) {
				buf_consume(&c->wbuf, off);
				return err_set(err, ERR_TRANSIENT, EC_TIMEOUT,
					       "%s:%u does not take data for "
					       "%d s",
					       c->host, c->port,
					       c->timeout_ms / 1000);
			}
			if (ev > 0 && (ev & POLLIN) && !(ev & POLLOUT)) {
				if (read_some(c, err) < 0) {
					buf_consume(&c->wbuf, off);
					return -1;
				}
			}
		}
	}
	buf_reset(&c->wbuf);
	return 0;
}

void conn_wipe_sent(struct conn *c)
{
	if (c->wbuf.cap > c->wbuf.len + 1)
		OPENSSL_cleanse(c->wbuf.p + c->wbuf.len + 1,
				c->wbuf.cap - c->wbuf.len - 1);
}

unsigned long long conn_bytes_in(const struct conn *c)
{
	return c->bytes_in;
}

unsigned long long conn_bytes_out(const struct conn *c)
{
	return c->bytes_out;
}

void conn_destroy(struct conn **cp)
{
	struct conn *c = *cp;

	if (c == NULL)
		return;
	*cp = NULL;
	if (c->ssl != NULL) {
		/* best effort, never waits */
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	buf_release(&c->rbuf);
	buf_release(&c->wbuf);
	free(c->host);
	free(c);
}
