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

ssize_t
conn_read(struct conn *c, void *buf, size_t len,
    const struct timespec *deadline)
{
	ssize_t	 n;

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
	if (conn_wait(c, POLLIN, deadline, true) == -1)
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
