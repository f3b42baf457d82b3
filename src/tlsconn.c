/* SPDX-License-Identifier: ISC */
/*
 * tlsconn.c - one TLS connection of a worker (see tls.h): made from a
 * listener's context over the socket (or memory, for the fuzz target),
 * each step done once and its outcome said, a failed handshake told
 * apart by what it was, and what was agreed named for the service.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

#ifdef HAVE_TLS
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tls {
	SSL		*t_ssl;
	enum tls_fail	 t_fail;
	char		 t_why[256];
	char		*t_subject;
	/* A fatal error happened: no close_notify may follow. */
	bool		 t_fatal;
};

static struct tls *
tls_conn_new(struct tls_server *ts)
{
	struct tls	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->t_ssl = SSL_new(tls_server_ssl_ctx(ts))) == NULL) {
		ERR_clear_error();
		free(t);
		return NULL;
	}
	return t;
}

struct tls *
tls_new(struct tls_server *ts, int fd)
{
	struct tls	*t;

	if ((t = tls_conn_new(ts)) == NULL)
		return NULL;
	if (SSL_set_fd(t->t_ssl, fd) != 1) {
		ERR_clear_error();
		tls_free(t);
		return NULL;
	}
	SSL_set_accept_state(t->t_ssl);
	return t;
}

struct tls *
tls_new_bio(struct tls_server *ts, void *rbio, void *wbio)
{
	struct tls	*t;

	if ((t = tls_conn_new(ts)) == NULL)
		return NULL;
	SSL_set_bio(t->t_ssl, rbio, wbio);
	SSL_set_accept_state(t->t_ssl);
	return t;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_free(t->t_ssl);
	free(t->t_subject);
	free(t);
}

/* What a failed handshake was, from OpenSSL's reason: ours, or an
 * alert the client sent (about our certificate, say: one we serve
 * expired, or from a CA it does not know, is a certificate failure). */
static enum tls_fail
tls_classify(unsigned long e)
{
	if (ERR_GET_LIB(e) != ERR_LIB_SSL)
		return TLS_FAIL_PROTOCOL;
	switch (ERR_GET_REASON(e)) {
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_UNKNOWN_PROTOCOL:
	case SSL_R_RECORD_LENGTH_MISMATCH:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
		return TLS_FAIL_NOT_TLS;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_TLSV1_ALERT_INSUFFICIENT_SECURITY:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
		return TLS_FAIL_VERSION;
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		return TLS_FAIL_CERT;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return TLS_FAIL_CLOSED;
	default:
		return TLS_FAIL_PROTOCOL;
	}
}

/* OpenSSL's reason for e, never NULL. */
static const char *
tls_reason(unsigned long e)
{
	const char	*r = e != 0 ? ERR_reason_error_string(e) : NULL;

	return r != NULL ? r : "TLS error";
}

/*
 * The outcome of an SSL call that returned rc.  The client's close_notify
 * is an EOF; an EOF without it, or the socket's error, leaves the
 * connection gone (ECONNRESET: a reply cut short is never taken for a
 * whole one); any other error is the client's fault (EPROTO).
 */
static enum tls_io
tls_result(struct tls *t, int rc)
{
	unsigned long	 e;
	int		 error = errno;

	switch (SSL_get_error(t->t_ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return TLS_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_EOF;
	case SSL_ERROR_SYSCALL:
		e = ERR_peek_last_error();
		ERR_clear_error();
		t->t_fatal = true;
		t->t_fail = TLS_FAIL_CLOSED;
		snprintf(t->t_why, sizeof(t->t_why), "%s", e != 0 ?
		    tls_reason(e) : error != 0 ? strerror(error) :
		    "the connection ended");
		errno = error != 0 ? error : ECONNRESET;
		return TLS_IO_ERROR;
	default:
		e = ERR_peek_last_error();
		ERR_clear_error();
		t->t_fatal = true;
		t->t_fail = tls_classify(e);
		snprintf(t->t_why, sizeof(t->t_why), "%s", tls_reason(e));
		errno = t->t_fail == TLS_FAIL_CLOSED ? ECONNRESET : EPROTO;
		return TLS_IO_ERROR;
	}
}

enum tls_io
tls_handshake(struct tls *t)
{
	int	 rc;

	errno = 0;
	ERR_clear_error();
	if ((rc = SSL_do_handshake(t->t_ssl)) == 1)
		return TLS_IO_DONE;
	return tls_result(t, rc);
}

enum tls_io
tls_read(struct tls *t, void *buf, size_t len, size_t *done)
{
	int	 rc;

	errno = 0;
	ERR_clear_error();
	if ((rc = SSL_read_ex(t->t_ssl, buf, len, done)) == 1)
		return TLS_IO_DONE;
	return tls_result(t, rc);
}

enum tls_io
tls_write(struct tls *t, const void *buf, size_t len, size_t *done)
{
	int	 rc;

	errno = 0;
	ERR_clear_error();
	if ((rc = SSL_write_ex(t->t_ssl, buf, len, done)) == 1)
		return TLS_IO_DONE;
	return tls_result(t, rc);
}

void
tls_close_notify(struct tls *t)
{
	/* Once, without waiting: the client's own close_notify is not
	 * worth a worker's time.  Not after a fatal error (OpenSSL says
	 * so), nor before a handshake that never completed. */
	if (!t->t_fatal && SSL_is_init_finished(t->t_ssl))
		(void)SSL_shutdown(t->t_ssl);
	ERR_clear_error();
}

enum tls_fail
tls_failure(const struct tls *t)
{
	return t->t_fail;
}

const char *
tls_why(const struct tls *t)
{
	return t->t_why[0] != '\0' ? t->t_why : "no reason given";
}

uint64_t
tls_wire_in(const struct tls *t)
{
	return BIO_number_read(SSL_get_rbio(t->t_ssl));
}

uint64_t
tls_wire_out(const struct tls *t)
{
	return BIO_number_written(SSL_get_wbio(t->t_ssl));
}

bool
tls_resumed(const struct tls *t)
{
	return SSL_session_reused(t->t_ssl) == 1;
}

/* The verified client certificate's subject, RFC 2253. */
static const char *
tls_subject(struct tls *t)
{
	X509	*x;
	BIO	*b;
	char	*p;
	long	 n;

	if (t->t_subject != NULL)
		return t->t_subject;
	if ((x = SSL_get0_peer_certificate(t->t_ssl)) == NULL ||
	    SSL_get_verify_result(t->t_ssl) != X509_V_OK ||
	    (b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253) >= 0 && (n = BIO_get_mem_data(b, &p)) >= 0 &&
	    (t->t_subject = strndup(p, (size_t)n)) == NULL)
		errno = ENOMEM;
	BIO_free(b);
	return t->t_subject;
}

const char *
tls_fact(struct tls *t, enum tls_fact f)
{
	switch (f) {
	case TLS_FACT_VERSION:
		return SSL_get_version(t->t_ssl);
	case TLS_FACT_CIPHER:
		return SSL_get_cipher_name(t->t_ssl);
	case TLS_FACT_SNI:
		return SSL_get_servername(t->t_ssl, TLSEXT_NAMETYPE_host_name);
	case TLS_FACT_SUBJECT:
		return tls_subject(t);
	}
	return NULL;
}

#else /* !HAVE_TLS */

/* No connection ever has TLS here: what follows is never reached. */
struct tls *
tls_new(struct tls_server *ts, int fd)
{
	(void)ts;
	(void)fd;
	errno = ENOTSUP;
	return NULL;
}

struct tls *
tls_new_bio(struct tls_server *ts, void *rbio, void *wbio)
{
	(void)rbio;
	(void)wbio;
	return tls_new(ts, -1);
}

void
tls_free(struct tls *t)
{
	(void)t;
}

static enum tls_io
tls_none(struct tls *t)
{
	(void)t;
	errno = ENOTSUP;
	return TLS_IO_ERROR;
}

enum tls_io
tls_handshake(struct tls *t)
{
	return tls_none(t);
}

enum tls_io
tls_read(struct tls *t, void *buf, size_t len, size_t *done)
{
	(void)buf;
	(void)len;
	*done = 0;
	return tls_none(t);
}

enum tls_io
tls_write(struct tls *t, const void *buf, size_t len, size_t *done)
{
	(void)buf;
	(void)len;
	*done = 0;
	return tls_none(t);
}

void
tls_close_notify(struct tls *t)
{
	(void)t;
}

enum tls_fail
tls_failure(const struct tls *t)
{
	(void)t;
	return TLS_FAIL_PROTOCOL;
}

const char *
tls_why(const struct tls *t)
{
	(void)t;
	return "built without TLS";
}

uint64_t
tls_wire_in(const struct tls *t)
{
	(void)t;
	return 0;
}

uint64_t
tls_wire_out(const struct tls *t)
{
	(void)t;
	return 0;
}

bool
tls_resumed(const struct tls *t)
{
	(void)t;
	return false;
}

const char *
tls_fact(struct tls *t, enum tls_fact f)
{
	(void)t;
	(void)f;
	return NULL;
}

#endif /* HAVE_TLS */
