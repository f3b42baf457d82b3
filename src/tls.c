/* SPDX-License-Identifier: ISC */
/*
 * tls.c - OpenSSL 3 glue for TLS listeners (see tls.h).
 *
 * Contexts are built from PEM text in memory.  Renegotiation is off
 * (SSL_OP_NO_RENEGOTIATION): a client that asks is told no.  Sessions are
 * resumed only through tickets (no per-process cache, which one worker
 * could not share with the next); their keys come from the generation's
 * secret through HMAC-SHA256, one set per epoch of the wall clock, so
 * that every worker derives the same ones without talking to any other.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls.h"

#ifdef HAVE_TLS
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* A ticket key set: its name in the ticket, the cipher's and the MAC's. */
struct tls_ticket_key {
	uint8_t		 tk_name[16];
	uint8_t		 tk_aes[32];
	uint8_t		 tk_mac[32];
};

struct tls_server {
	SSL_CTX		*ts_ctx;
	uint8_t		 ts_secret[TLS_SECRET_LEN];
	bool		 ts_tickets;
	long long	 ts_epoch_len;	/* seconds */
	time_t		 ts_not_after;
};

struct tls {
	SSL		*t_ssl;
	enum tls_fail	 t_fail;
	char		 t_why[256];
	char		*t_subject;
};

/* The index of struct tls_server in an SSL_CTX's ex_data. */
static int	 tls_ctx_index = -1;

/* Name the first error on OpenSSL's queue into err after what. */
static void
tls_err(char *err, size_t errsize, const char *what)
{
	unsigned long	 e = ERR_peek_last_error();
	char		 buf[256];

	if (e == 0)
		snprintf(err, errsize, "%s", what);
	else {
		ERR_error_string_n(e, buf, sizeof(buf));
		snprintf(err, errsize, "%s: %s", what, buf);
	}
	ERR_clear_error();
}

/* The certificate chain, leaf first, from PEM text. */
static int
tls_load_chain(SSL_CTX *ctx, const char *pem, char *err, size_t errsize)
{
	BIO	*b;
	X509	*x;
	int	 n = 0;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL) {
		tls_err(err, errsize, "certificate");
		return -1;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if ((n == 0 ? SSL_CTX_use_certificate(ctx, x) :
		    SSL_CTX_add1_chain_cert(ctx, x)) != 1) {
			X509_free(x);
			BIO_free(b);
			tls_err(err, errsize, "certificate");
			return -1;
		}
		X509_free(x);
		n++;
	}
	BIO_free(b);
	ERR_clear_error();	/* the end of the text */
	if (n == 0) {
		snprintf(err, errsize, "certificate: no PEM certificate in it");
		return -1;
	}
	return 0;
}

static int
tls_load_key(SSL_CTX *ctx, const char *pem, char *err, size_t errsize)
{
	EVP_PKEY	*k;
	BIO		*b;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL) {
		tls_err(err, errsize, "key");
		return -1;
	}
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *)"");
	BIO_free(b);
	if (k == NULL) {
		tls_err(err, errsize, "key: no unencrypted PEM private key "
		    "in it");
		return -1;
	}
	if (SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		EVP_PKEY_free(k);
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH ||
		    ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_TYPE_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errsize, "key does not match the "
			    "certificate");
		} else
			tls_err(err, errsize, "key");
		return -1;
	}
	EVP_PKEY_free(k);
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errsize, "key does not match the certificate");
		return -1;
	}
	return 0;
}

/* The CAs that sign client certificates: trusted, and named to the
 * client in the request. */
static int
tls_load_ca(SSL_CTX *ctx, const char *pem, char *err, size_t errsize)
{
	STACK_OF(X509_NAME)	*names;
	X509_STORE		*store = SSL_CTX_get_cert_store(ctx);
	BIO			*b;
	X509			*x;
	int			 n = 0;

	if ((names = sk_X509_NAME_new_null()) == NULL ||
	    (b = BIO_new_mem_buf(pem, -1)) == NULL) {
		sk_X509_NAME_free(names);
		tls_err(err, errsize, "client_ca");
		return -1;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		X509_NAME *nm = X509_NAME_dup(X509_get_subject_name(x));

		if (X509_STORE_add_cert(store, x) != 1 || nm == NULL ||
		    sk_X509_NAME_push(names, nm) == 0) {
			X509_NAME_free(nm);
			X509_free(x);
			break;
		}
		X509_free(x);
		n++;
	}
	BIO_free(b);
	ERR_clear_error();
	if (n == 0) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		snprintf(err, errsize, "client_ca: no PEM certificate in it");
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	return 0;
}

/* The keys of epoch e: HMAC-SHA256(secret, "preforkd-ticket" e i). */
static int
tls_ticket_key(const struct tls_server *ts, long long e,
    struct tls_ticket_key *k)
{
	uint8_t		 in[32], out[EVP_MAX_MD_SIZE];
	uint8_t		*dst[3] = { k->tk_name, k->tk_aes, k->tk_mac };
	size_t		 len[3] = { 16, 32, 32 }, n;
	int		 inlen;

	for (int i = 0; i < 3; i++) {
		inlen = snprintf((char *)in, sizeof(in), "preforkd-ticket %lld "
		    "%d", e, i);
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, ts->ts_secret,
		    sizeof(ts->ts_secret), in, (size_t)inlen, out, sizeof(out),
		    &n) == NULL || n < len[i])
			return -1;
		memcpy(dst[i], out, len[i]);
	}
	return 0;
}

static long long
tls_epoch(const struct tls_server *ts)
{
	struct timespec	 now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (long long)now.tv_sec / ts->ts_epoch_len;
}

static int
tls_ticket_init(const struct tls_ticket_key *k, const uint8_t *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	OSSL_PARAM	 params[2];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->tk_aes, iv,
	    enc) != 1 || EVP_MAC_CTX_set_params(hctx, params) != 1 ||
	    EVP_MAC_init(hctx, k->tk_mac, sizeof(k->tk_mac), NULL) != 1)
		return -1;
	return 0;
}

/*
 * Issue with the epoch's keys; take this epoch's and the last one's
 * (renewed: 2), nothing older: a ticket never outlives its key by more
 * than one lifetime, and SSL_CTX_set_timeout() bounds its session by one.
 */
static int
tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	const struct tls_server	*ts = SSL_CTX_get_ex_data(
	    SSL_get_SSL_CTX(ssl), tls_ctx_index);
	struct tls_ticket_key	 k;
	long long		 e;
	int			 rc = 0;

	if (ts == NULL || !ts->ts_tickets)
		return 0;
	e = tls_epoch(ts);
	if (enc) {
		if (tls_ticket_key(ts, e, &k) == -1 ||
		    RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
		    tls_ticket_init(&k, iv, cctx, hctx, 1) == -1)
			rc = -1;
		else {
			memcpy(name, k.tk_name, sizeof(k.tk_name));
			rc = 1;
		}
	} else {
		for (int back = 0; back < 2 && rc == 0; back++)
			if (tls_ticket_key(ts, e - back, &k) == 0 &&
			    memcmp(name, k.tk_name, sizeof(k.tk_name)) == 0)
				rc = tls_ticket_init(&k, iv, cctx, hctx, 0) ==
				    -1 ? -1 : back == 0 ? 1 : 2;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

static int
tls_versions(SSL_CTX *ctx, const struct tls_config *ct, char *err,
    size_t errsize)
{
	if (SSL_CTX_set_min_proto_version(ctx, ct->tc_min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1) {
		tls_err(err, errsize, "min_version");
		return -1;
	}
	if (ct->tc_ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, ct->tc_ciphers) != 1) {
		tls_err(err, errsize, "ciphers: none of them is known");
		return -1;
	}
	if (ct->tc_ciphersuites != NULL &&
	    SSL_CTX_set_ciphersuites(ctx, ct->tc_ciphersuites) != 1) {
		tls_err(err, errsize, "ciphersuites: not a valid list");
		return -1;
	}
	return 0;
}

static void
tls_sessions(struct tls_server *ts, const struct tls_config *ct,
    const uint8_t *secret)
{
	SSL_CTX		*ctx = ts->ts_ctx;
	static const unsigned char sid[] = "preforkd";

	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	ts->ts_tickets = ct->tc_tickets && secret != NULL;
	ts->ts_epoch_len = (long long)ct->tc_ticket_lifetime;
	if (ts->ts_epoch_len < 1)
		ts->ts_epoch_len = 1;
	if (!ts->ts_tickets) {
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return;
	}
	memcpy(ts->ts_secret, secret, TLS_SECRET_LEN);
	SSL_CTX_set_timeout(ctx, ts->ts_epoch_len);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
}

static int
tls_verify_mode(const struct tls_config *ct)
{
	switch (ct->tc_verify) {
	case TLS_VERIFY_REQUIRE:
		return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	case TLS_VERIFY_OPTIONAL:
		return SSL_VERIFY_PEER;
	default:
		return SSL_VERIFY_NONE;
	}
}

struct tls_server *
tls_server_new(const struct tls_config *ct, const uint8_t *secret,
    char *err, size_t errsize)
{
	struct tls_server	*ts;
	const ASN1_TIME		*na;
	struct tm		 tm;

	if (tls_ctx_index == -1 && (tls_ctx_index = SSL_CTX_get_ex_new_index(0,
	    NULL, NULL, NULL, NULL)) == -1) {
		tls_err(err, errsize, "SSL_CTX_get_ex_new_index");
		return NULL;
	}
	if ((ts = calloc(1, sizeof(*ts))) == NULL ||
	    (ts->ts_ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		tls_err(err, errsize, "SSL_CTX_new");
		free(ts);
		return NULL;
	}
	SSL_CTX_set_ex_data(ts->ts_ctx, tls_ctx_index, ts);
	/* A client that just closes is a close, not an error. */
	SSL_CTX_set_options(ts->ts_ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ts->ts_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (tls_versions(ts->ts_ctx, ct, err, errsize) == -1 ||
	    tls_load_chain(ts->ts_ctx, ct->tc_cert_pem, err, errsize) == -1 ||
	    tls_load_key(ts->ts_ctx, ct->tc_key_pem, err, errsize) == -1 ||
	    (ct->tc_ca_pem != NULL &&
	    tls_load_ca(ts->ts_ctx, ct->tc_ca_pem, err, errsize) == -1)) {
		tls_server_free(ts);
		return NULL;
	}
	SSL_CTX_set_verify(ts->ts_ctx, tls_verify_mode(ct), NULL);
	tls_sessions(ts, ct, secret);
	na = X509_get0_notAfter(SSL_CTX_get0_certificate(ts->ts_ctx));
	ts->ts_not_after = na != NULL && ASN1_TIME_to_tm(na, &tm) == 1 ?
	    timegm(&tm) : 0;
	return ts;
}

void
tls_server_free(struct tls_server *ts)
{
	if (ts == NULL)
		return;
	SSL_CTX_free(ts->ts_ctx);
	OPENSSL_cleanse(ts->ts_secret, sizeof(ts->ts_secret));
	free(ts);
}

long long
tls_server_expiry(const struct tls_server *ts)
{
	return ts->ts_not_after == 0 ? 0 :
	    (long long)(ts->ts_not_after - time(NULL));
}

static struct tls *
tls_conn_new(struct tls_server *ts)
{
	struct tls	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->t_ssl = SSL_new(ts->ts_ctx)) == NULL) {
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

/* What a failed handshake was, from OpenSSL's reason. */
static enum tls_fail
tls_classify(unsigned long e)
{
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
		return TLS_FAIL_VERSION;
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		return TLS_FAIL_CERT;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return TLS_FAIL_CLOSED;
	default:
		return TLS_FAIL_PROTOCOL;
	}
}

/* The outcome of an SSL call that returned rc. */
static enum tls_io
tls_result(struct tls *t, int rc)
{
	unsigned long	 e;

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
		if (e == 0 && errno == 0)
			errno = ECONNRESET;
		/* An EOF without close_notify, or the socket's own error. */
		t->t_fail = TLS_FAIL_CLOSED;
		snprintf(t->t_why, sizeof(t->t_why), "%s", e != 0 ?
		    ERR_reason_error_string(e) : strerror(errno));
		return e == 0 && errno == ECONNRESET ? TLS_IO_EOF :
		    TLS_IO_ERROR;
	default:
		e = ERR_peek_last_error();
		t->t_fail = tls_classify(e);
		snprintf(t->t_why, sizeof(t->t_why), "%s",
		    ERR_reason_error_string(e) != NULL ?
		    ERR_reason_error_string(e) : "TLS error");
		ERR_clear_error();
		errno = EPROTO;
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
	 * worth a worker's time. */
	if (SSL_is_init_finished(t->t_ssl))
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

const char *
tls_library(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}

#else /* !HAVE_TLS: conftls.c refuses listen.tls, nothing gets here. */

struct tls_server *
tls_server_new(const struct tls_config *ct, const uint8_t *secret,
    char *err, size_t errsize)
{
	(void)ct;
	(void)secret;
	snprintf(err, errsize, "tls: built without TLS");
	return NULL;
}

void
tls_server_free(struct tls_server *ts)
{
	(void)ts;
}

long long
tls_server_expiry(const struct tls_server *ts)
{
	(void)ts;
	return 0;
}

const char *
tls_library(void)
{
	return "none";
}

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

/* The key of the configuration that the text before ':' or ' ' names. */
const char *
tls_server_bad_key(const char *err)
{
	static const char *const keys[] = { "certificate", "key", "client_ca",
	    "min_version", "ciphers", "ciphersuites", NULL };
	size_t	 n;

	for (size_t i = 0; keys[i] != NULL; i++) {
		n = strlen(keys[i]);
		if (strncmp(err, keys[i], n) == 0 &&
		    (err[n] == ':' || err[n] == ' ' || err[n] == '\0'))
			return keys[i];
	}
	return NULL;
}

const char *
tls_fail_name(enum tls_fail f)
{
	static const char *const names[TLS_FAIL_N] = { "not_tls", "version",
	    "certificate", "timeout", "closed", "protocol" };

	return (unsigned)f < TLS_FAIL_N ? names[f] : "protocol";
}
