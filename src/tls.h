/* SPDX-License-Identifier: ISC */
/*
 * tls.h - the glue between a worker's connections and OpenSSL 3: the
 * listeners' contexts (tls.c) and the connections (tlsconn.c).
 *
 * A TLS listener (listen.tls) has a server context per generation, built
 * from the certificate, key and client CAs that the configuration check
 * read and built the same context from (conftls.h): the bytes that were
 * checked are the bytes served, whatever happened to the files since, and
 * neither the master nor a worker opens them.  The master builds the
 * context once, before the generation's first worker (generation.c), and
 * every worker shares it copy-on-write: OpenSSL's state is most of a TLS
 * worker's memory.  Connections are the workers' alone.
 *
 * Session tickets are encrypted with keys every worker of a generation
 * derives alike from the generation's secret and the wall clock's epoch
 * (the ticket lifetime): a ticket one worker issued resumes on any other,
 * survives a worker's recycling, dies with its generation (a reload
 * draws a new secret), and is refused once its key is two epochs old.
 *
 * The I/O is the caller's (conn.c): each step here either completes or
 * says which way the socket must become ready, so that every wait keeps
 * the connection's deadlines and can be cut short by a shed.
 */
#ifndef PREFORKD_TLS_H
#define PREFORKD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* listen.tls.verify */
enum tls_verify {
	TLS_VERIFY_NONE,		/* no client certificate asked */
	TLS_VERIFY_OPTIONAL,		/* asked; one that fails is refused */
	TLS_VERIFY_REQUIRE,		/* a verified one, or no service */
};

/*
 * listen.tls: a listener's TLS, as the configuration says it
 * (conftls.c reads it).  The paths are as written; the PEM texts
 * are the files' bytes as the full load read them, and what every later
 * load from text (the master's, an upgraded image's) takes from the
 * check's answer instead of the files (conftls.h).
 */
struct tls_config {
	char		*tc_certificate;	/* chain, leaf first */
	char		*tc_key;
	char		*tc_client_ca;		/* NULL: none */
	char		*tc_cert_pem;
	char		*tc_key_pem;
	char		*tc_ca_pem;		/* NULL: none */
	enum tls_verify	 tc_verify;
	int		 tc_min_version;	/* 12 or 13: TLS 1.2, 1.3 */
	char		*tc_ciphers;		/* NULL: OpenSSL's */
	char		*tc_ciphersuites;	/* NULL: OpenSSL's */
	bool		 tc_tickets;
	double		 tc_ticket_lifetime;	/* seconds */
	char		*tc_where;		/* "FILE:LINE" of the group */
	unsigned	 tc_listener;		/* its index in listen */
};

/* The ticket secret of a generation. */
#define TLS_SECRET_LEN	32

/* What a handshake that failed was, for the counters and the log. */
enum tls_fail {
	TLS_FAIL_NOT_TLS,	/* plain text, HTTP, garbage */
	TLS_FAIL_VERSION,	/* no protocol version or cipher in common */
	TLS_FAIL_CERT,		/* the client's certificate did not verify */
	TLS_FAIL_TIMEOUT,	/* no handshake before timeouts.read */
	TLS_FAIL_CLOSED,	/* the client left in the middle of it */
	TLS_FAIL_PROTOCOL,	/* any other fault of the client's */
	TLS_FAIL_N
};

/* One step of TLS work on a non-blocking socket. */
enum tls_io {
	TLS_IO_DONE,		/* it completed */
	TLS_IO_WANT_READ,	/* wait until readable, then again */
	TLS_IO_WANT_WRITE,	/* wait until writable, then again */
	TLS_IO_EOF,		/* the peer closed (a read: cleanly) */
	TLS_IO_ERROR,		/* see tls_why() / errno */
};

/* What the service may learn of the connection's TLS. */
enum tls_fact {
	TLS_FACT_VERSION,	/* "TLSv1.3" */
	TLS_FACT_CIPHER,	/* "TLS_AES_256_GCM_SHA384" */
	TLS_FACT_SNI,		/* the name the client asked for */
	TLS_FACT_SUBJECT,	/* the verified client certificate's */
};

struct tls_server;		/* a listener's context, in a worker */
struct tls;			/* one connection */

/*
 * Build a listener's context from what the check read.  secret: the
 * generation's ticket secret, or NULL for no tickets.  NULL on failure,
 * with "certificate ...", "key ...", "client_ca ..." or another key's
 * name first in err, so that the caller can name its line.
 */
struct tls_server *tls_server_new(const struct tls_config *,
		    const uint8_t *secret, char *err, size_t errsize);
void		 tls_server_free(struct tls_server *);
/* Seconds until the certificate expires (negative: it has). */
long long	 tls_server_expiry(const struct tls_server *);
/* The OpenSSL context (an SSL_CTX), for tlsconn.c alone. */
void		*tls_server_ssl_ctx(struct tls_server *);
/* The key of the configuration a failed build names ("key", ...). */
const char	*tls_server_bad_key(const char *err);

/* A connection on fd (whose PROXY header, if any, was taken already). */
struct tls	*tls_new(struct tls_server *, int fd);
/* The same over memory: what the fuzz target drives. */
struct tls	*tls_new_bio(struct tls_server *, void *rbio, void *wbio);
void		 tls_free(struct tls *);

enum tls_io	 tls_handshake(struct tls *);
/* *done: bytes read or written (DONE only). */
enum tls_io	 tls_read(struct tls *, void *, size_t, size_t *done);
enum tls_io	 tls_write(struct tls *, const void *, size_t, size_t *done);
/* Say goodbye (close_notify), without waiting for the client's. */
void		 tls_close_notify(struct tls *);

/* After a failed handshake: what it was, and a line for the log. */
enum tls_fail	 tls_failure(const struct tls *);
const char	*tls_why(const struct tls *);
/* The bytes read and written on the wire so far. */
uint64_t	 tls_wire_in(const struct tls *);
uint64_t	 tls_wire_out(const struct tls *);
bool		 tls_resumed(const struct tls *);
/* NULL when there is none (no SNI, no client certificate). */
const char	*tls_fact(struct tls *, enum tls_fact);

/* For the metrics and the status: "not_tls", "version", ... */
const char	*tls_fail_name(enum tls_fail);

/* "OpenSSL 3.0.x ...": for the version line. */
const char	*tls_library(void);

#endif
