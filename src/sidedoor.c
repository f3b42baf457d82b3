/* SPDX-License-Identifier: ISC */
/*
 * sidedoor.c - a listener with a bounded set of clients in the master's
 * loop (see sidedoor.h for what it promises).
 *
 * The master never waits for a client: every descriptor is non-blocking,
 * ppoll() says when each may be read or written, and a client that does
 * not finish by its deadline is dropped.  What a door says is its owner's
 * (control.c, agent.c, metrics.c); how it listens, accepts, reads, writes
 * and lets go is here.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "listener.h"
#include "log.h"
#include "sidedoor.h"

/* A client connects every few seconds at most: a short backlog is
 * plenty for a TCP door. */
#define SIDEDOOR_BACKLOG	16
/* After running out of descriptors, leave the backlog alone this long:
 * it would be readable, and wake the loop, at every turn. */
#define SIDEDOOR_PAUSE		0.1
/* What a client may have sent before it is told no. */
#define SIDEDOOR_JUNK		4096
/* Read per wake-up while lingering: the loop has others to serve. */
#define SIDEDOOR_DISCARD	1024

_Static_assert(SIDEDOOR_NAME_MAX >= ADDR_STRLEN, "a name holds an address");

void
sidedoor_socket_init(struct sidedoor_socket *sk)
{
	memset(sk, 0, sizeof(*sk));
	sk->sk_fd = -1;
}

void
sidedoor_init(struct sidedoor *sd, const struct sidedoor_ops *ops)
{
	memset(sd, 0, sizeof(*sd));
	sd->sd_ops = ops;
	sidedoor_socket_init(&sd->sd_sock);
	sd->sd_sock.sk_what = ops->so_what;
	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++)
		sd->sd_client[i].sc_fd = -1;
}

void
sidedoor_drop(struct sidedoor *sd, struct sidedoor_client *c)
{
	if (c->sc_fd != -1 && close(c->sc_fd) == -1)
		log_warn("close(%s client)", sd->sd_ops->so_what);
	free(c->sc_in);
	free(c->sc_out);
	memset(c, 0, sizeof(*c));
	c->sc_fd = -1;
}

void
sidedoor_socket_close(struct sidedoor_socket *sk)
{
	if (sk->sk_fd != -1 && close(sk->sk_fd) == -1)
		log_warn("close(%s %s)", sk->sk_what, sk->sk_name);
	sk->sk_fd = -1;
}

void
sidedoor_unlisten(struct sidedoor *sd)
{
	sidedoor_socket_close(&sd->sd_sock);
}

void
sidedoor_close(struct sidedoor *sd)
{
	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++)
		sidedoor_drop(sd, &sd->sd_client[i]);
	sidedoor_unlisten(sd);
}

void
sidedoor_adopt(struct sidedoor *sd, int fd, const struct addr *a,
    const char *path)
{
	struct sidedoor_socket	*sk = &sd->sd_sock;

	sk->sk_fd = fd;
	if (a != NULL) {
		sk->sk_addr = *a;
		sk->sk_port = a->a_port;
		addr_format(a, sk->sk_name, sizeof(sk->sk_name));
	} else
		snprintf(sk->sk_name, sizeof(sk->sk_name), "%s", path);
}

/* ---- TCP: the listening socket ----------------------------------------- */

int
sidedoor_socket_open(struct sidedoor_socket *sk, const char *what,
    const char *address, uint16_t port, const char *where)
{
	char	 name[SIDEDOOR_NAME_MAX + 32];
	int	 status;

	sk->sk_what = what;
	if (addr_parse(&sk->sk_addr, address) == 0) {
		log_warnx("%s.address \"%s\" is not an address", what,
		    address);
		return EX_CONFIG;
	}
	sk->sk_port = sk->sk_addr.a_port = port;
	addr_format(&sk->sk_addr, sk->sk_name, sizeof(sk->sk_name));
	snprintf(name, sizeof(name), "%s %s", what, sk->sk_name);
	status = listener_tcp(&sk->sk_addr, SIDEDOOR_BACKLOG, name, where,
	    &sk->sk_fd);
	if (status == 0)	/* the port it got, if any was asked */
		addr_format(&sk->sk_addr, sk->sk_name, sizeof(sk->sk_name));
	return status;
}

/* Whether the running socket is the one asked for. */
static bool
sidedoor_socket_is(const struct sidedoor_socket *sk, const char *address,
    uint16_t port)
{
	struct addr	 a;

	if (sk->sk_fd == -1 || addr_parse(&a, address) == 0)
		return false;
	return a.a_family == sk->sk_addr.a_family && memcmp(a.a_bytes,
	    sk->sk_addr.a_bytes, sizeof(a.a_bytes)) == 0 &&
	    port == sk->sk_port;
}

int
sidedoor_prepare(const struct sidedoor *sd, struct sidedoor_socket *fresh,
    const char *address, uint16_t port, const char *where)
{
	sidedoor_socket_init(fresh);
	if (address == NULL || sidedoor_socket_is(&sd->sd_sock, address, port))
		return 0;
	return sidedoor_socket_open(fresh, sd->sd_ops->so_what, address, port,
	    where) == 0 ? 0 : -1;
}

int
sidedoor_commit(struct sidedoor *sd, struct sidedoor_socket *fresh,
    const char *address)
{
	if (fresh->sk_fd != -1) {
		sidedoor_unlisten(sd);
		sd->sd_sock = *fresh;
		sidedoor_socket_init(fresh);
		return 1;
	}
	if (address == NULL && sd->sd_sock.sk_fd != -1) {
		sidedoor_unlisten(sd);
		return -1;
	}
	return 0;
}

/* ---- an in-place upgrade ----------------------------------------------- */

bool
sidedoor_hold(struct sidedoor *sd)
{
	sd->sd_held = true;
	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++)
		if (sd->sd_client[i].sc_fd != -1)
			return false;
	return true;
}

void
sidedoor_release(struct sidedoor *sd)
{
	sd->sd_held = false;
}

/* ---- answers ----------------------------------------------------------- */

void
sidedoor_tell(const struct sidedoor *sd, int fd, const char *text,
    size_t len)
{
	char	 junk[SIDEDOOR_JUNK];

	/* Whatever it returns, the answer is tried next. */
	(void)recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
	if (send(fd, text, len, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("send(%s client): %s", sd->sd_ops->so_what,
		    strerror(errno));
}

void
sidedoor_refuse(const struct sidedoor *sd, int fd, const char *text,
    size_t len)
{
	sidedoor_tell(sd, fd, text, len);
	if (close(fd) == -1)
		log_warn("close(%s client)", sd->sd_ops->so_what);
}

/* All sent: let go now, or shut our side and give the client so_linger
 * at most to close its own. */
static void
sidedoor_answered(struct sidedoor *sd, struct sidedoor_client *c)
{
	struct timespec	 until;

	if (sd->sd_ops->so_linger <= 0) {
		sidedoor_drop(sd, c);
		return;
	}
	free(c->sc_out);
	c->sc_out = NULL;
	if (shutdown(c->sc_fd, SHUT_WR) == -1) {
		log_debug("shutdown(%s client): %s", sd->sd_ops->so_what,
		    strerror(errno));
		sidedoor_drop(sd, c);
		return;
	}
	c->sc_state = SIDEDOOR_LINGERING;
	until = clock_after(clock_now(), sd->sd_ops->so_linger);
	if (clock_diff(until, c->sc_deadline) > 0)
		c->sc_deadline = until;
}

/* Write what the socket takes; once all of it went, answered. */
static void
sidedoor_send(struct sidedoor *sd, struct sidedoor_client *c)
{
	ssize_t	 n;

	while (c->sc_sent < c->sc_outlen) {
		n = send(c->sc_fd, c->sc_out + c->sc_sent,
		    c->sc_outlen - c->sc_sent, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			log_debug("send(%s client): %s", sd->sd_ops->so_what,
			    strerror(errno));
			sidedoor_drop(sd, c);
			return;
		}
		c->sc_sent += (size_t)n;
	}
	sidedoor_answered(sd, c);
}

void
sidedoor_answerv(struct sidedoor *sd, struct sidedoor_client *c,
    const struct iovec *iov, int iovcnt)
{
	size_t	 len = 0;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len == 0) {		/* nothing to say */
		sidedoor_answered(sd, c);
		return;
	}
	if ((c->sc_out = malloc(len)) == NULL) {
		log_warn("malloc(%s answer)", sd->sd_ops->so_what);
		sidedoor_drop(sd, c);
		return;
	}
	c->sc_outlen = c->sc_sent = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(c->sc_out + c->sc_outlen, iov[i].iov_base,
		    iov[i].iov_len);
		c->sc_outlen += iov[i].iov_len;
	}
	c->sc_state = SIDEDOOR_SENDING;
	sidedoor_send(sd, c);
}

void
sidedoor_answer(struct sidedoor *sd, struct sidedoor_client *c,
    const char *text, size_t len)
{
	struct iovec	 iov = { .iov_base = (void *)text, .iov_len = len };

	sidedoor_answerv(sd, c, &iov, 1);
}

void
sidedoor_wait(struct sidedoor_client *c, double seconds)
{
	c->sc_state = SIDEDOOR_WAITING;
	c->sc_deadline = clock_after(clock_now(), seconds);
}

/* ---- clients ----------------------------------------------------------- */

/* Its request so far to its owner, who must answer one that is over. */
static void
sidedoor_ask(struct sidedoor *sd, void *arg, struct sidedoor_client *c,
    bool eof)
{
	sd->sd_ops->so_request(arg, sd, c, eof);
	if (c->sc_fd != -1 && c->sc_state == SIDEDOOR_READING &&
	    (eof || c->sc_inlen == sd->sd_ops->so_request_max))
		sidedoor_drop(sd, c);
}

/* Read what the client sent; its owner looks at it each time. */
static void
sidedoor_read(struct sidedoor *sd, void *arg, struct sidedoor_client *c)
{
	ssize_t	 n;

	n = recv(c->sc_fd, c->sc_in + c->sc_inlen,
	    sd->sd_ops->so_request_max - c->sc_inlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1 || (n == 0 && c->sc_inlen == 0)) {
		if (n == -1)
			log_debug("recv(%s client): %s", sd->sd_ops->so_what,
			    strerror(errno));
		sidedoor_drop(sd, c);
		return;
	}
	c->sc_inlen += (size_t)n;
	sidedoor_ask(sd, arg, c, n == 0);
}

/* After the answer: what still comes is dropped, a buffer per wake-up,
 * until the client closes (or so_discard_max, or its deadline). */
static void
sidedoor_discard(struct sidedoor *sd, struct sidedoor_client *c)
{
	char	 junk[SIDEDOOR_DISCARD];
	size_t	 max = sd->sd_ops->so_discard_max;
	ssize_t	 n = recv(c->sc_fd, junk, sizeof(junk), 0);

	if (n > 0 && ((c->sc_discarded += (size_t)n) <= max || max == 0))
		return;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	sidedoor_drop(sd, c);
}

static void
sidedoor_serve(struct sidedoor *sd, void *arg, struct sidedoor_client *c,
    short revents)
{
	switch (c->sc_state) {
	case SIDEDOOR_READING:
		sidedoor_read(sd, arg, c);
		break;
	case SIDEDOOR_WAITING:
		if (revents & (POLLHUP | POLLERR))
			sidedoor_drop(sd, c);	/* gone: its place */
		break;
	case SIDEDOOR_SENDING:
		sidedoor_send(sd, c);
		break;
	case SIDEDOOR_LINGERING:
		sidedoor_discard(sd, c);
		break;
	}
}

/* ---- accepting --------------------------------------------------------- */

/* accept4() failed: whether to try again now. */
static bool
sidedoor_accept_failed(struct sidedoor *sd)
{
	unsigned long	 held;
	int		 error = errno;

	if (error == EAGAIN || error == EWOULDBLOCK)
		return false;
	if (error == EINTR || error == ECONNABORTED)
		return true;
	if (log_limit_allow(&sd->sd_error_log, &held)) {
		errno = error;
		log_warn("accept4(%s %s) (%lu more suppressed)",
		    sd->sd_ops->so_what, sd->sd_sock.sk_name, held);
	}
	sd->sd_paused_until = clock_after(clock_now(), SIDEDOOR_PAUSE);
	return false;
}

/* A free place; or the oldest's, when the door evicts. */
static struct sidedoor_client *
sidedoor_free_place(struct sidedoor *sd)
{
	struct sidedoor_client	*oldest = &sd->sd_client[0];

	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++) {
		if (sd->sd_client[i].sc_fd == -1)
			return &sd->sd_client[i];
		if (clock_diff(sd->sd_client[i].sc_deadline,
		    oldest->sc_deadline) > 0)
			oldest = &sd->sd_client[i];
	}
	if (!sd->sd_ops->so_evict)
		return NULL;
	sidedoor_drop(sd, oldest);
	return oldest;
}

static void
sidedoor_busy(struct sidedoor *sd, int fd)
{
	unsigned long	 held;

	if (log_limit_allow(&sd->sd_full_log, &held))
		log_notice("%s client refused: %d are being served (%lu more "
		    "suppressed)", sd->sd_ops->so_what, SIDEDOOR_CLIENTS, held);
	if (sd->sd_ops->so_busy != NULL)
		sd->sd_ops->so_busy(sd, fd);
	else if (close(fd) == -1)
		log_warn("close(%s client)", sd->sd_ops->so_what);
}

/* A place for fd, its deadline running from now. */
static void
sidedoor_place(struct sidedoor *sd, void *arg, int fd)
{
	const struct sidedoor_ops	*ops = sd->sd_ops;
	struct sidedoor_client		*c;

	if ((c = sidedoor_free_place(sd)) == NULL) {
		sidedoor_busy(sd, fd);
		return;
	}
	if (ops->so_request_max > 0 &&
	    (c->sc_in = malloc(ops->so_request_max)) == NULL) {
		log_warn("malloc(%s request)", ops->so_what);
		if (close(fd) == -1)
			log_warn("close(%s client)", ops->so_what);
		return;
	}
	c->sc_fd = fd;
	c->sc_state = SIDEDOOR_READING;
	c->sc_deadline = clock_after(clock_now(), ops->so_deadline);
	if (ops->so_request_max == 0)
		sidedoor_ask(sd, arg, c, false);
}

static void
sidedoor_accept(struct sidedoor *sd, void *arg)
{
	const struct sidedoor_ops	*ops = sd->sd_ops;
	struct sockaddr_storage		 ss;
	struct addr			 peer;
	socklen_t			 len;
	int				 fd;

	for (int i = 0; i < ops->so_burst && sd->sd_sock.sk_fd != -1; i++) {
		len = sizeof(ss);
		fd = accept4(sd->sd_sock.sk_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (sidedoor_accept_failed(sd))
				continue;
			return;
		}
		addr_from_sockaddr(&peer, (struct sockaddr *)&ss, len);
		if (ops->so_admit != NULL &&
		    ops->so_admit(arg, sd, fd, &peer) == -1)
			continue;
		sidedoor_place(sd, arg, fd);
	}
}

/* ---- the master's loop ------------------------------------------------- */

size_t
sidedoor_pollfds(const struct sidedoor *sd, struct pollfd *pfd)
{
	/* One that waits on its owner has nothing to say meanwhile: only
	 * its hanging up (POLLHUP, always reported) matters. */
	static const short	 events[] = {
		[SIDEDOOR_READING] = POLLIN,
		[SIDEDOOR_WAITING] = 0,
		[SIDEDOOR_SENDING] = POLLOUT,
		[SIDEDOOR_LINGERING] = POLLIN,
	};
	size_t			 n = 0;

	if (sd->sd_sock.sk_fd != -1 && !sd->sd_held &&
	    clock_diff(sd->sd_paused_until, clock_now()) >= 0)
		pfd[n++] = (struct pollfd){ .fd = sd->sd_sock.sk_fd,
		    .events = POLLIN };
	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++) {
		const struct sidedoor_client *c = &sd->sd_client[i];

		if (c->sc_fd != -1)
			pfd[n++] = (struct pollfd){ .fd = c->sc_fd,
			    .events = events[c->sc_state] };
	}
	return n;
}

static struct sidedoor_client *
sidedoor_client_of(struct sidedoor *sd, int fd)
{
	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++)
		if (sd->sd_client[i].sc_fd == fd)
			return &sd->sd_client[i];
	return NULL;
}

void
sidedoor_handle(struct sidedoor *sd, void *arg, const struct pollfd *pfd,
    size_t n)
{
	struct sidedoor_client	*c;
	bool			 acceptable = false;

	/* Clients first: a descriptor accepted now may reuse the number of
	 * one dropped in this pass. */
	for (size_t i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == sd->sd_sock.sk_fd)
			acceptable = true;
		else if ((c = sidedoor_client_of(sd, pfd[i].fd)) != NULL)
			sidedoor_serve(sd, arg, c, pfd[i].revents);
	}
	if (acceptable)
		sidedoor_accept(sd, arg);
}

bool
sidedoor_next_deadline(const struct sidedoor *sd, struct timespec *t)
{
	bool	 any = false;

	if (sd->sd_sock.sk_fd != -1 &&
	    clock_diff(clock_now(), sd->sd_paused_until) > 0) {
		*t = sd->sd_paused_until;
		any = true;
	}
	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++) {
		const struct sidedoor_client *c = &sd->sd_client[i];

		if (c->sc_fd == -1)
			continue;
		if (!any || clock_diff(c->sc_deadline, *t) > 0)
			*t = c->sc_deadline;
		any = true;
	}
	return any;
}

void
sidedoor_expire(struct sidedoor *sd, struct timespec now)
{
	for (size_t i = 0; i < SIDEDOOR_CLIENTS; i++) {
		struct sidedoor_client *c = &sd->sd_client[i];

		if (c->sc_fd == -1 || clock_diff(c->sc_deadline, now) < 0)
			continue;
		/* One that lingers was answered: it just did not close. */
		if (c->sc_state != SIDEDOOR_LINGERING &&
		    sd->sd_ops->so_expired != NULL)
			sd->sd_ops->so_expired(sd, c);
		sidedoor_drop(sd, c);
	}
}
