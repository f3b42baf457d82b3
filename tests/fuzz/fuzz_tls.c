/* SPDX-License-Identifier: ISC */
/*
 * fuzz_tls.c - libFuzzer target: arbitrary client bytes through our TLS
 * glue (tls.h) over memory BIOs, as a worker's handshake and first reads
 * would meet them on a TLS listener.
 *
 * The server's context is built once, as a worker builds it: from PEM
 * text (a self-signed P-256 certificate made at start), with a ticket
 * secret (so that a ClientHello carrying a ticket reaches our ticket
 * callback) and client certificates asked for (the certificate request
 * path).  The first input byte is how many bytes the client hands over
 * at a time (0: all at once); the rest is what it sent, then EOF.
 *
 * Invariants: each step either asks to read (only while the client has
 * more to send), completes, ends at EOF or fails; a memory BIO never asks
 * to wait for writing.  A failure has a reason in range with a name and a
 * non-empty line for the log.  No more bytes are counted read than were
 * sent.  The facts of a finished handshake can be asked for.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tls.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct tls_server	*fuzz_server;

/* What a memory BIO holds, as a NUL-terminated string of our own. */
static char *
fuzz_bio_text(BIO *b)
{
	char	*p, *s;
	long	 n;

	assert((n = BIO_get_mem_data(b, &p)) > 0);
	assert((s = malloc((size_t)n + 1)) != NULL);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	BIO_free(b);
	return s;
}

/* A self-signed certificate for a fresh P-256 key, both as PEM. */
static void
fuzz_credentials(char **cert, char **key)
{
	EVP_PKEY	*k;
	X509_NAME	*nm;
	X509		*x;
	BIO		*b;

	assert((k = EVP_EC_gen("P-256")) != NULL);
	assert((x = X509_new()) != NULL);
	assert(X509_set_version(x, 2) == 1);
	assert(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
	assert(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL);
	assert(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) != NULL);
	assert((nm = X509_get_subject_name(x)) != NULL);
	assert(X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz", -1, -1, 0) == 1);
	assert(X509_set_issuer_name(x, nm) == 1);
	assert(X509_set_pubkey(x, k) == 1);
	assert(X509_sign(x, k, EVP_sha256()) > 0);
	assert((b = BIO_new(BIO_s_mem())) != NULL);
	assert(PEM_write_bio_X509(b, x) == 1);
	*cert = fuzz_bio_text(b);
	assert((b = BIO_new(BIO_s_mem())) != NULL);
	assert(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
	*key = fuzz_bio_text(b);
	X509_free(x);
	EVP_PKEY_free(k);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct tls_config	 ct;
	static uint8_t			 secret[TLS_SECRET_LEN];
	char				 err[1024];

	(void)argc;
	(void)argv;
	fuzz_credentials(&ct.tc_cert_pem, &ct.tc_key_pem);
	/* Its own CA: a client certificate is asked for, and judged. */
	ct.tc_ca_pem = ct.tc_cert_pem;
	ct.tc_verify = TLS_VERIFY_OPTIONAL;
	ct.tc_min_version = 12;
	ct.tc_tickets = true;
	ct.tc_ticket_lifetime = 3600;
	memset(secret, 0x5a, sizeof(secret));
	fuzz_server = tls_server_new(&ct, secret, err, sizeof(err));
	assert(fuzz_server != NULL);
	/* A certificate made now expires in a year. */
	assert(tls_server_expiry(fuzz_server) > 0);
	return 0;
}

/* A finished handshake: what a service may ask of it. */
static void
fuzz_facts(struct tls *t)
{
	const char	*v = tls_fact(t, TLS_FACT_VERSION);

	assert(v != NULL && strncmp(v, "TLSv1.", 6) == 0);
	(void)tls_fact(t, TLS_FACT_CIPHER);
	(void)tls_fact(t, TLS_FACT_SNI);
	(void)tls_fact(t, TLS_FACT_SUBJECT);
	(void)tls_resumed(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*in = data + 1;
	struct tls	*t;
	enum tls_io	 io;
	uint8_t		 buf[4096];
	size_t		 len, fed = 0, chunk, got;
	bool		 shaken = false;
	BIO		*rb, *wb;

	if (size < 1)
		return 0;
	len = size - 1;
	chunk = data[0] == 0 ? len : data[0];
	assert((rb = BIO_new(BIO_s_mem())) != NULL);
	assert((wb = BIO_new(BIO_s_mem())) != NULL);
	assert((t = tls_new_bio(fuzz_server, rb, wb)) != NULL);
	for (size_t steps = 0; steps <= len + 16; steps++) {
		if (fed < len) {
			size_t n = len - fed < chunk ? len - fed : chunk;

			assert(BIO_write(rb, in + fed, (int)n) == (int)n);
			fed += n;
		}
		if (fed == len)
			BIO_set_mem_eof_return(rb, 0);	/* then EOF */
		if (!shaken)
			io = tls_handshake(t);
		else
			io = tls_read(t, buf, sizeof(buf), &got);
		/* What the server answered is not our concern here. */
		(void)BIO_reset(wb);
		assert(tls_wire_in(t) <= len);
		assert(io != TLS_IO_WANT_WRITE);
		/* At EOF a read ends; it waits only for what is to come. */
		if (io == TLS_IO_WANT_READ) {
			assert(fed < len);
			continue;
		}
		if (io == TLS_IO_DONE) {
			if (!shaken)
				fuzz_facts(t);
			shaken = true;
			continue;
		}
		if (io == TLS_IO_ERROR) {
			assert((unsigned)tls_failure(t) < TLS_FAIL_N);
			assert(tls_fail_name(tls_failure(t)) != NULL);
			assert(tls_why(t) != NULL && tls_why(t)[0] != '\0');
		}
		break;
	}
	tls_close_notify(t);
	(void)BIO_reset(wb);
	tls_free(t);
	return 0;
}
