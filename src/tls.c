/* SPDX-License-Identifier: ISC */
/*
 * tls.c - OpenSSL 3 glue for TLS listeners (see tls.h).
 *
 * Contexts are built from PEM text in memory.  Renegotiation is off
 * (SSL_OP_NO_RENEGOTIATION): a client that asks is told no.  Sessions are
 * resumed only through tickets (no per-process cache, which one worker
 * could not share with the next); their keys come from the generation's
 * secret and the listener's identity through HMAC-SHA256, one set per
 * epoch of the wall clock, so that every worker derives the same ones
 * without talking to any other, and no listener takes another's.
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
#include <openssl/sha.h>
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
	/* What this listener is (tls_identity()): its sessions and tickets
	 * are its own, never another listener's. */
	uint8_t		 ts_id[SHA256_DIGEST_LENGTH];
	uint8_t		 ts_secret[TLS_SECRET_LEN];
	bool		 ts_tickets;
	long long	 ts_epoch_len;	/* seconds */
	/* The keys of the last two epochs derived, by epoch parity. */
	struct tls_ticket_key ts_keys[2];
	long long	 ts_key_epoch[2];	/* -1: none */
	time_t		 ts_not_after;
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

/*
 * Why a loop of PEM_read_bio_X509() stopped: at the end of the text (no
 * more "-----BEGIN"), or at a block it could not read, which is an error
 * of the file (a chain cut short, a CA bundle with a broken entry) and
 * not the end of it.  0 at the end; -1 with the block's number in err.
 */
static int
tls_pem_end(char *err, size_t errsize, const char *what, int read)
{
	unsigned long	 e = ERR_peek_last_error();
	char		 where[64];

	err[0] = '\0';
	if (e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		ERR_clear_error();
		return 0;
	}
	snprintf(where, sizeof(where), "%s: certificate %d", what, read + 1);
	tls_err(err, errsize, where);
	return -1;
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
	if (tls_pem_end(err, errsize, "certificate", n) == -1)
		return -1;
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
	if (tls_pem_end(err, errsize, "client_ca", n) == -1 || n == 0) {
		sk_X509_NAME_pop_free(names, X509_NAME_free);
		if (n == 0 && err[0] == '\0')
			snprintf(err, errsize, "client_ca: no PEM certificate "
			    "in it");
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	return 0;
}

/* The keys of epoch e: HMAC-SHA256(secret, "preforkd-ticket" id e i), i
 * for the name, the cipher's key and the MAC's. */
static int
tls_ticket_derive(const struct tls_server *ts, long long e,
    struct tls_ticket_key *k)
{
	uint8_t		 in[64 + SHA256_DIGEST_LENGTH], out[EVP_MAX_MD_SIZE];
	uint8_t		*dst[3] = { k->tk_name, k->tk_aes, k->tk_mac };
	size_t		 len[3] = { 16, 32, 32 }, n;
	int		 inlen, rc = 0;

	for (int i = 0; i < 3 && rc == 0; i++) {
		inlen = snprintf((char *)in, 64, "preforkd-ticket %lld %d ", e,
		    i);
		memcpy(in + inlen, ts->ts_id, sizeof(ts->ts_id));
		if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, ts->ts_secret,
		    sizeof(ts->ts_secret), in, (size_t)inlen +
		    sizeof(ts->ts_id), out, sizeof(out), &n) == NULL ||
		    n < len[i])
			rc = -1;
		else
			memcpy(dst[i], out, len[i]);
	}
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

/* The keys of epoch e, derived once per epoch and kept for the next. */
static const struct tls_ticket_key *
tls_ticket_key(struct tls_server *ts, long long e)
{
	int	 slot = (int)(e & 1);

	if (ts->ts_key_epoch[slot] != e) {
		ts->ts_key_epoch[slot] = -1;
		if (tls_ticket_derive(ts, e, &ts->ts_keys[slot]) == -1)
			return NULL;
		ts->ts_key_epoch[slot] = e;
	}
	return &ts->ts_keys[slot];
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
	struct tls_server		*ts = SSL_CTX_get_ex_data(
	    SSL_get_SSL_CTX(ssl), tls_ctx_index);
	const struct tls_ticket_key	*k;
	long long			 e;
	int				 rc = 0;

	if (ts == NULL || !ts->ts_tickets)
		return 0;
	e = tls_epoch(ts);
	if (enc) {
		if ((k = tls_ticket_key(ts, e)) == NULL ||
		    RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
		    tls_ticket_init(k, iv, cctx, hctx, 1) == -1)
			return -1;
		memcpy(name, k->tk_name, sizeof(k->tk_name));
		return 1;
	}
	for (int back = 0; back < 2 && rc == 0; back++)
		if ((k = tls_ticket_key(ts, e - back)) != NULL &&
		    memcmp(name, k->tk_name, sizeof(k->tk_name)) == 0)
			rc = tls_ticket_init(k, iv, cctx, hctx, 0) == -1 ? -1 :
			    back == 0 ? 1 : 2;
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

/*
 * What the listener is: which one, where the file says it, what it
 * serves and whom it asks for what.  Its sessions' context and its tickets' keys derive
 * from it, so that two listeners of one generation share neither.
 */
static int
tls_identity(struct tls_server *ts, const struct tls_config *ct)
{
	const char	*parts[4] = { ct->tc_where != NULL ? ct->tc_where : "",
	    ct->tc_cert_pem, ct->tc_ca_pem != NULL ? ct->tc_ca_pem : "",
	    NULL };
	uint8_t		 modes[3] = { (uint8_t)ct->tc_verify,
	    (uint8_t)ct->tc_min_version, (uint8_t)ct->tc_listener };
	EVP_MD_CTX	*md;
	int		 rc = 0;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		rc = -1;
	for (int i = 0; rc == 0 && parts[i] != NULL; i++)
		if (EVP_DigestUpdate(md, parts[i], strlen(parts[i]) + 1) != 1)
			rc = -1;
	if (rc == 0 && (EVP_DigestUpdate(md, modes, sizeof(modes)) != 1 ||
	    EVP_DigestFinal_ex(md, ts->ts_id, NULL) != 1))
		rc = -1;
	EVP_MD_CTX_free(md);
	return rc;
}

static void
tls_sessions(struct tls_server *ts, const struct tls_config *ct,
    const uint8_t *secret)
{
	SSL_CTX		*ctx = ts->ts_ctx;

	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* A session of one listener never resumes on another (whose client
	 * certificates, say, are required where the first's were not). */
	SSL_CTX_set_session_id_context(ctx, ts->ts_id, sizeof(ts->ts_id));
	ts->ts_key_epoch[0] = ts->ts_key_epoch[1] = -1;
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
	/* An EOF without close_notify stays an error (a cut reply must not
	 * pass for a whole one); a write is retried with the same buffer. */
	SSL_CTX_set_options(ts->ts_ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ts->ts_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
	if (tls_versions(ts->ts_ctx, ct, err, errsize) == -1 ||
	    tls_load_chain(ts->ts_ctx, ct->tc_cert_pem, err, errsize) == -1 ||
	    tls_load_key(ts->ts_ctx, ct->tc_key_pem, err, errsize) == -1 ||
	    (ct->tc_ca_pem != NULL &&
	    tls_load_ca(ts->ts_ctx, ct->tc_ca_pem, err, errsize) == -1)) {
		tls_server_free(ts);
		return NULL;
	}
	SSL_CTX_set_verify(ts->ts_ctx, tls_verify_mode(ct), NULL);
	if (tls_identity(ts, ct) == -1) {
		tls_err(err, errsize, "SHA-256");
		tls_server_free(ts);
		return NULL;
	}
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
	OPENSSL_cleanse(ts, sizeof(*ts));
	free(ts);
}

long long
tls_server_expiry(const struct tls_server *ts)
{
	return ts->ts_not_after == 0 ? 0 :
	    (long long)(ts->ts_not_after - time(NULL));
}

/* For tlsconn.c: the context a connection is made from. */
void *
tls_server_ssl_ctx(struct tls_server *ts)
{
	return ts->ts_ctx;
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
