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
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "conn.h"

void
conn_format_addr(const struct sockaddr *sa, char *buf, size_t size)
{
	char	 host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, size, "(family %d)", sa->sa_family);
}

void
conn_init(struct conn *c, int fd, const struct sockaddr *peer,
    socklen_t peerlen)
{
	c->cn_fd = fd;
	if (peer != NULL && peerlen > 0)
		conn_format_addr(peer, c->cn_peer, sizeof(c->cn_peer));
	else
		snprintf(c->cn_peer, sizeof(c->cn_peer), "(unknown)");
}

/* Wait for events until deadline: 0 when ready, -1 with errno. */
static int
conn_wait(struct conn *c, short events, const struct timespec *deadline)
{
	struct pollfd	 pfd = { .fd = c->cn_fd, .events = events };
	int		 ms, n;

	for (;;) {
		if ((ms = clock_ms_until(*deadline)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
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
