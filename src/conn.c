/*
 * conn.c - deadline-bounded reads and writes on a non-blocking socket.
 *
 * The optimistic path is one recv()/send(); poll() is only entered when
 * the socket would block, with whatever time is left until the deadline.
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
#include "scoreboard.h"

void
conn_init(struct conn *c, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	memset(c, 0, sizeof(*c));
	c->cn_fd = fd;
	addr_from_sockaddr(&c->cn_addr, peer, peerlen);
	addr_format(&c->cn_addr, c->cn_peer, sizeof(c->cn_peer));
}

static bool
conn_shed_requested(const struct conn *c)
{
	return c->cn_slot != NULL && atomic_load_explicit(
	    &c->cn_slot->sl_shed_req, memory_order_relaxed) == c->cn_seq;
}

/* Wait for events until deadline: 0 when ready, -1 with errno. */
static int
conn_wait(struct conn *c, short events, const struct timespec *deadline)
{
	struct pollfd	 pfd = { .fd = c->cn_fd, .events = events };
	struct timespec	 ts, until = *deadline;
	int		 ms, n;

	/* No wait outlives the connection's own deadline. */
	if ((c->cn_end.tv_sec != 0 || c->cn_end.tv_nsec != 0) &&
	    clock_diff(c->cn_end, until) > 0)
		until = c->cn_end;

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
		if ((ms = clock_ms_until(until)) == 0) {
			n = -1;
			errno = ETIMEDOUT;
			break;
		}
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (long)(ms % 1000) * 1000000L;
		n = ppoll(&pfd, 1, &ts, c->cn_waitmask);
		if (n > 0 || (n == -1 && errno != EINTR))
			break;
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
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (conn_wait(c, POLLIN, deadline) == -1)
			return -1;
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
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (conn_wait(c, POLLOUT, deadline) == -1)
			return -1;
	}
	return 0;
}
