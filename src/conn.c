/* SPDX-License-Identifier: ISC */
/*
 * conn.c - deadline-bounded reads and writes on a non-blocking socket.
 *
 * The optimistic path is one recv()/send(); poll() is only entered when
 * the socket would block, with whatever time is left until the deadline.
 * An answer to what was just sent is waited for first (conn_read_reply()):
 * it cannot be there yet.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "addr.h"
#include "conn.h"
#include "log.h"
#include "scoreboard.h"
#include "tls.h"

void
conn_init(struct conn *c, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	memset(c, 0, sizeof(*c));
	c->cn_fd = fd;
	addr_from_sockaddr(&c->cn_addr, peer, peerlen);
}

/* errno is kept: it is often the next argument of the same line. */
const char *
conn_peer(struct conn *c)
{
	int	 saved_errno = errno;

	if (c->cn_peer_text[0] == '\0')
		addr_format(&c->cn_addr, c->cn_peer_text,
		    sizeof(c->cn_peer_text));
	errno = saved_errno;
	return c->cn_peer_text;
}

bool
conn_empty(const struct conn *c)
{
	return c->cn_gone && c->cn_bytes_in == c->cn_bytes_header;
}

/* A read or write failed on the socket itself, or a read saw EOF: the
 * client's doing (a deadline or a shed is ours).  -1, errno kept. */
static int
conn_lost(struct conn *c)
{
	c->cn_gone = true;
	return -1;
}

static bool
conn_shed_requested(const struct conn *c)
{
	return c->cn_slot != NULL && atomic_load_explicit(
	    &c->cn_slot->sl_shed_req, memory_order_relaxed) == c->cn_seq;
}

/*
 * Wait for events until deadline: 0 when ready, -1 with errno.  With
 * first set, a wait that would end before it starts (the deadline is
 * past, the master asks to shed the connection) returns 1 instead, and
 * nothing is published: the caller then tries the socket, as it would
 * have done before any wait.
 */
static int
conn_wait(struct conn *c, short events, const struct timespec *deadline,
    bool first)
{
	struct pollfd	 pfd = { .fd = c->cn_fd, .events = events };
	struct timespec	 ts, until = *deadline;
	enum slot_timeout kind = events == POLLIN ? SLOT_TIMEOUT_READ :
	    SLOT_TIMEOUT_WRITE;
	int		 ms, n, held, wait;

	/* No wait outlives the connection's own deadline. */
	if ((c->cn_end.tv_sec != 0 || c->cn_end.tv_nsec != 0) &&
	    clock_diff(c->cn_end, until) > 0) {
		until = c->cn_end;
		kind = SLOT_TIMEOUT_CONNECTION;
	}

	ms = clock_ms_until(until);
	if (first && (ms == 0 || conn_shed_requested(c)))
		return 1;
	if (c->cn_slot != NULL)
		scoreboard_set_wait(c->cn_slot, events == POLLIN ?
		    SLOT_READING : SLOT_WRITING);
	for (;;) {
		if (conn_shed_requested(c)) {
			c->cn_shed = true;
			n = -1;
			errno = ETIMEDOUT;
			break;
		}
		if (ms == 0) {
			if (c->cn_timeout == SLOT_TIMEOUT_NONE)
				c->cn_timeout = kind;
			n = -1;
			errno = ETIMEDOUT;
			break;
		}
		/* Log lines held back wait no longer than they may (log.h):
		 * a slow client does not keep the last ones in. */
		if ((held = log_held_ms()) == 0) {
			log_flush();
			held = -1;
		}
		wait = held > 0 && held < ms ? held : ms;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (long)(wait % 1000) * 1000000L;
		n = ppoll(&pfd, 1, &ts, c->cn_waitmask);
		if (n > 0 || (n == -1 && errno != EINTR))
			break;
		ms = clock_ms_until(until);
	}
	if (c->cn_slot != NULL)
		scoreboard_set_wait(c->cn_slot, SLOT_RUNNING);
	return n > 0 ? 0 : -1;
}

/* The bytes on the wire so far, for the counters. */
static void
conn_tls_count(struct conn *c)
{
	c->cn_bytes_in = c->cn_tls_base + tls_wire_in(c->cn_tls);
	c->cn_bytes_out = tls_wire_out(c->cn_tls);
}

/* Wait as a TLS step asks; an EOF or a fault is the client's. */
static int
conn_tls_step(struct conn *c, enum tls_io io, const struct timespec *deadline)
{
	conn_tls_count(c);
	switch (io) {
	case TLS_IO_WANT_READ:
		return conn_wait(c, POLLIN, deadline, false);
	case TLS_IO_WANT_WRITE:
		return conn_wait(c, POLLOUT, deadline, false);
	case TLS_IO_EOF:
		errno = ECONNRESET;
		return conn_lost(c);
	default:
		/* EPROTO: the client's fault; else the connection is gone. */
		return errno == EPROTO ? -1 : conn_lost(c);
	}
}

static ssize_t
conn_tls_read(struct conn *c, void *buf, size_t len,
    const struct timespec *deadline)
{
	enum tls_io	 io;
	size_t		 got;

	if (len == 0)
		return 0;		/* as recv() does */
	for (;;) {
		if ((io = tls_read(c->cn_tls, buf, len, &got)) == TLS_IO_DONE) {
			conn_tls_count(c);
			return (ssize_t)got;
		}
		if (io == TLS_IO_EOF) {
			conn_tls_count(c);
			c->cn_gone = true;
			return 0;
		}
		if (conn_tls_step(c, io, deadline) == -1)
			return -1;
	}
}

static int
conn_tls_write(struct conn *c, const void *buf, size_t len,
    const struct timespec *deadline)
{
	const char	*p = buf;
	enum tls_io	 io;
	size_t		 put;

	while (len > 0) {
		if ((io = tls_write(c->cn_tls, p, len, &put)) == TLS_IO_DONE) {
			conn_tls_count(c);
			p += put;
			len -= put;
		} else if (conn_tls_step(c, io, deadline) == -1)
			return -1;
	}
	return 0;
}

int
conn_tls_accept(struct conn *c, struct tls_server *ts,
    const struct timespec *deadline)
{
	enum tls_io	 io;

	if ((c->cn_tls = tls_new(ts, c->cn_fd)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	c->cn_tls_base = c->cn_bytes_in;
	while ((io = tls_handshake(c->cn_tls)) != TLS_IO_DONE)
		if (conn_tls_step(c, io, deadline) == -1)
			return -1;
	conn_tls_count(c);
	return 0;
}

void
conn_tls_end(struct conn *c)
{
	if (c->cn_tls == NULL)
		return;
	/* Also to a client that sent its own (a half-close): it waits for
	 * ours to know that the reply was whole. */
	tls_close_notify(c->cn_tls);
	conn_tls_count(c);
	tls_free(c->cn_tls);
	c->cn_tls = NULL;
}

ssize_t
conn_read(struct conn *c, void *buf, size_t len,
    const struct timespec *deadline)
{
	ssize_t	 n;

	if (c->cn_tls != NULL)
		return conn_tls_read(c, buf, len, deadline);
	for (;;) {
		n = recv(c->cn_fd, buf, len, 0);
		if (n >= 0) {
			c->cn_bytes_in += (uint64_t)n;
			c->cn_gone = c->cn_gone || (n == 0 && len > 0);
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return conn_lost(c);
		if (conn_wait(c, POLLIN, deadline, false) == -1)
			return -1;
	}
}

ssize_t
conn_read_reply(struct conn *c, void *buf, size_t len,
    const struct timespec *deadline)
{
	/* TLS: the record may be in hand already, and a wait is OpenSSL's
	 * to ask for. */
	if (c->cn_tls == NULL && conn_wait(c, POLLIN, deadline, true) == -1)
		return -1;
	return conn_read(c, buf, len, deadline);
}

/* Take n bytes a peek saw: they are there, the read cannot block. */
static int
conn_take(struct conn *c, uint8_t *buf, size_t n)
{
	ssize_t	 got;

	while ((got = recv(c->cn_fd, buf, n, 0)) == -1 && errno == EINTR)
		;
	if (got == -1)
		return conn_lost(c);
	c->cn_bytes_in += (uint64_t)got;
	if ((size_t)got != n) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* What conn_read_proxy() had read: the start of it, for the log. */
static void
conn_proxy_seen(const uint8_t *buf, size_t len, uint8_t *seen,
    size_t *seenlen)
{
	*seenlen = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	memcpy(seen, buf, *seenlen);
}

/*
 * The header is peeked at, and only what the parser knows to be header is
 * taken off the socket: a v1 line ends where its CRLF is, a v2 block
 * where its length says, and the client's first bytes may be in the same
 * segment.  Bytes that are all header but not yet all of it are taken,
 * so that the next peek shows only new ones and the wait below sleeps.
 * One header per connection: a static buffer, as a worker serves one
 * connection at a time.
 */
int
conn_read_proxy(struct conn *c, enum proxy_mode mode,
    const struct timespec *deadline, struct proxy_header *ph,
    const char **why, uint8_t *seen, size_t *seenlen)
{
	static uint8_t	 buf[PROXY_V2_MAX];
	size_t		 have = 0;
	ssize_t		 n, hlen;

	*seenlen = 0;
	for (;;) {
		n = recv(c->cn_fd, buf + have, sizeof(buf) - have, MSG_PEEK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (conn_wait(c, POLLIN, deadline, false) == -1)
				return -1;
			continue;
		}
		if (n == -1)
			return conn_lost(c);
		if (n == 0) {
			c->cn_gone = true;
			*why = have == 0 ? "closed before sending a PROXY "
			    "header" : "closed in the middle of the PROXY "
			    "header";
			conn_proxy_seen(buf, have, seen, seenlen);
			return 0;
		}
		hlen = proxy_parse(buf, have + (size_t)n, mode, ph, why);
		if (hlen == -1) {
			conn_proxy_seen(buf, have + (size_t)n, seen, seenlen);
			return 0;
		}
		/* Take the header's bytes (or all, if it goes on). */
		n = hlen > 0 ? hlen - (ssize_t)have : n;
		if (conn_take(c, buf + have, (size_t)n) == -1)
			return -1;
		if (hlen > 0) {
			c->cn_bytes_header = c->cn_bytes_in;
			return 1;
		}
		have += (size_t)n;
	}
}

int
conn_write(struct conn *c, const void *buf, size_t len,
    const struct timespec *deadline)
{
	const char	*p = buf;
	ssize_t		 n;

	if (c->cn_tls != NULL)
		return conn_tls_write(c, buf, len, deadline);
	while (len > 0) {
		/* MSG_NOSIGNAL: a vanished peer is EPIPE, not SIGPIPE. */
		n = send(c->cn_fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			c->cn_bytes_out += (uint64_t)n;
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return conn_lost(c);
		if (conn_wait(c, POLLOUT, deadline, false) == -1)
			return -1;
	}
	return 0;
}
