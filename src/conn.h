/* SPDX-License-Identifier: ISC */
/*
 * conn.h - one accepted connection and I/O bounded by deadlines.
 */
#ifndef PREFORKD_CONN_H
#define PREFORKD_CONN_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "proxy.h"
#include "scoreboard.h"

#define CONN_PEER_MAX	ADDR_STRLEN	/* "[ipv6]:port" */

struct slot;
struct tls;
struct tls_server;

struct conn {
	int		 cn_fd;		/* non-blocking */
	struct addr	 cn_addr;	/* the peer */
	/* The peer formatted, by conn_peer(), when a line needs it. */
	char		 cn_peer_text[CONN_PEER_MAX];
	unsigned	 cn_listener;	/* index of the accepting socket */
	/* No wait for the client goes past this (timeouts.connection);
	 * zero: none. */
	struct timespec	 cn_end;
	/* In a worker: waits are published in its slot, and a request from
	 * the master to shed this connection (number cn_seq) ends a wait
	 * for the client at once, as if it had timed out.  The request is
	 * a signal that only cn_waitmask lets in.  NULL/0: plain waits. */
	struct slot	*cn_slot;
	uint64_t	 cn_seq;
	const sigset_t	*cn_waitmask;
	bool		 cn_shed;	/* it was */
	/* For the metrics: bytes read and written, and the first timeout
	 * that ended a wait (a shed is not one). */
	uint64_t	 cn_bytes_in;
	uint64_t	 cn_bytes_out;
	enum slot_timeout cn_timeout;
	/* Of cn_bytes_in, the PROXY header's: a balancer's, not the
	 * client's. */
	uint64_t	 cn_bytes_header;
	/* The client closed or reset the connection: a read saw EOF, a
	 * read or write failed on the socket (not on a deadline). */
	bool		 cn_gone;
	/* A TLS listener's: reads and writes go through it, and the bytes
	 * counted are those on the wire, after cn_tls_base of them. */
	struct tls	*cn_tls;
	uint64_t	 cn_tls_base;
};

/* The rest of struct conn is zeroed. */
void	conn_init(struct conn *, int fd, const struct sockaddr *, socklen_t);

/* The client left without sending a byte (the PROXY header aside): a
 * port scan, a health check that connects and closes. */
bool	conn_empty(const struct conn *);

/* The peer as "1.2.3.4:80" or "[::1]:80", formatted on first use: most
 * connections never write a line that names it.  errno is left alone. */
const char *conn_peer(struct conn *);

/*
 * Read once: > 0 bytes, 0 at EOF, -1 on error with errno set
 * (ETIMEDOUT when deadline passes first).
 */
ssize_t	conn_read(struct conn *, void *, size_t,
	    const struct timespec *deadline);

/*
 * The same, for the answer to what was just sent: the peer has not had
 * the time to reply, so it waits for it first instead of trying a read
 * that would block.  Same results as conn_read(), one system call fewer
 * on every exchange.
 */
ssize_t	conn_read_reply(struct conn *, void *, size_t,
	    const struct timespec *deadline);

/*
 * The PROXY header a balancer sends first (mode: which versions), and
 * not a byte past it: what follows is the client's.  1 with ph filled;
 * 0 when what came is no such header (*why says why, and the bytes seen,
 * up to PROXY_V1_MAX of them, are in seen, seenlen long, for the log); -1 on
 * error with errno (ETIMEDOUT when deadline passes first).
 */
int	conn_read_proxy(struct conn *, enum proxy_mode,
	    const struct timespec *deadline, struct proxy_header *ph,
	    const char **why, uint8_t *seen, size_t *seenlen);

/* Write everything or fail: 0, or -1 with errno (ETIMEDOUT, EPIPE...). */
int	conn_write(struct conn *, const void *, size_t,
	    const struct timespec *deadline);

/*
 * TLS from here on (after any PROXY header): the handshake, done by
 * deadline, as a read is (a wait for the client is sheddable).  0; or -1
 * with errno: ETIMEDOUT, EPROTO (tls_failure() of cn_tls says what),
 * ECONNRESET (cn_gone: the client left), ENOMEM.
 */
int	conn_tls_accept(struct conn *, struct tls_server *,
	    const struct timespec *deadline);
/* Say goodbye and let go of the TLS state (none: nothing). */
void	conn_tls_end(struct conn *);

#endif
