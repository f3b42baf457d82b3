/* SPDX-License-Identifier: ISC */
/*
 * ctlclient.c - the client side of the control socket: what "preforkd -s"
 * uses to ask the running daemon (see control.h for the server).
 *
 * A short-lived process of its own: it may block, but never for longer
 * than its deadline, so that a daemon that does not answer makes -s fail
 * rather than hang.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "ctlclient.h"
#include "log.h"


/* Connect, blocking for no longer than the deadline (a full backlog). */
static enum ctlclient_result
ctlclient_connect(const char *path, int fd, struct timespec deadline)
{
	int			 ms = clock_ms_until(deadline);
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct sockaddr_un	 sun;

	if (control_sockaddr(path, &sun) == -1) {
		log_warn("control socket %s", path);
		return CTLCLIENT_FAILED;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		log_warn("setsockopt(SO_SNDTIMEO)");
		return CTLCLIENT_FAILED;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return CTLCLIENT_OK;
	switch (errno) {
	case ENOENT:
	case ECONNREFUSED:
		log_warnx("not running (nobody answers on %s)", path);
		return CTLCLIENT_NOT_RUNNING;
	case EACCES:
	case EPERM:
		log_warnx("permission denied: %s (mode 0600: only root and "
		    "the daemon's user may ask)", path);
		return CTLCLIENT_DENIED;
	case EAGAIN:
	case EINPROGRESS:
		log_warnx("%s: no answer in time", path);
		return CTLCLIENT_TIMEOUT;
	default:
		log_warn("connect(%s)", path);
		return CTLCLIENT_FAILED;
	}
}

/* Wait for fd to be ready for events by the deadline. */
static enum ctlclient_result
ctlclient_wait(int fd, short events, struct timespec deadline,
    const char *path)
{
	struct pollfd	 pfd = { .fd = fd, .events = events };
	int		 rc;

	while ((rc = poll(&pfd, 1, clock_ms_until(deadline))) == -1 &&
	    errno == EINTR)
		continue;
	if (rc == -1) {
		log_warn("poll");
		return CTLCLIENT_FAILED;
	}
	if (rc == 0) {
		log_warnx("%s: no answer in time", path);
		return CTLCLIENT_TIMEOUT;
	}
	return CTLCLIENT_OK;
}

static enum ctlclient_result
ctlclient_request(int fd, const char *command, struct timespec deadline,
    const char *path)
{
	char			 line[CONTROL_REQUEST_MAX];
	size_t			 len, off = 0;
	ssize_t			 n;
	enum ctlclient_result	 r;

	len = (size_t)snprintf(line, sizeof(line), "%s\n", command);
	while (off < len) {
		if ((r = ctlclient_wait(fd, POLLOUT, deadline, path)) !=
		    CTLCLIENT_OK)
			return r;
		n = send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		/* The daemon may have answered and closed at once (a
		 * refusal): read what it said. */
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return CTLCLIENT_OK;
		if (n == -1) {
			log_warn("send(%s)", path);
			return CTLCLIENT_FAILED;
		}
		off += (size_t)n;
	}
	return CTLCLIENT_OK;
}

/* Read the answer to its end into buf (room for size, less a NUL). */
static enum ctlclient_result
ctlclient_receive(int fd, char *buf, size_t size, size_t *len,
    struct timespec deadline, const char *path)
{
	enum ctlclient_result	 r;
	ssize_t			 n;

	*len = 0;
	for (;;) {
		if ((r = ctlclient_wait(fd, POLLIN, deadline, path)) !=
		    CTLCLIENT_OK)
			return r;
		n = recv(fd, buf + *len, size - 1 - *len, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1 && errno == ECONNRESET && *len > 0)
			n = 0;		/* the answer came, then a reset */
		if (n == -1) {
			log_warn("recv(%s)", path);
			return CTLCLIENT_FAILED;
		}
		if (n == 0)
			break;
		if ((*len += (size_t)n) == size - 1) {
			log_warnx("%s: the answer is longer than %zu bytes",
			    path, size - 1);
			return CTLCLIENT_REFUSED;
		}
	}
	buf[*len] = '\0';
	return CTLCLIENT_OK;
}

/* What the daemon said: an answer for out_fd, or a refusal. */
static enum ctlclient_result
ctlclient_judge(const char *buf, size_t len, int out_fd, const char *path)
{
	size_t	 off = 0;
	ssize_t	 n;

	if (len == 0) {
		log_warnx("%s: the daemon closed without an answer", path);
		return CTLCLIENT_REFUSED;
	}
	if (strcmp(buf, "denied\n") == 0) {
		log_warnx("%s: the daemon denied the request: only root and "
		    "its own user may ask", path);
		return CTLCLIENT_DENIED;
	}
	if (strncmp(buf, "error: ", 7) == 0) {
		log_warnx("%s: the daemon answered: %.*s", path,
		    (int)strcspn(buf + 7, "\n"), buf + 7);
		return strcmp(buf, "error: busy\n") == 0 ? CTLCLIENT_BUSY :
		    CTLCLIENT_REFUSED;
	}
	while (off < len) {
		if ((n = write(out_fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("write(answer)");
			return CTLCLIENT_FAILED;
		}
		off += (size_t)n;
	}
	return CTLCLIENT_OK;
}

enum ctlclient_result
ctlclient_ask(const char *path, const char *command, int out_fd,
    double timeout)
{
	struct timespec		 deadline = clock_after(clock_now(), timeout);
	enum ctlclient_result	 r;
	size_t			 size = CONTROL_ANSWER_MAX + 1, len = 0;
	char			*buf;
	int			 fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket(AF_UNIX)");
		return CTLCLIENT_FAILED;
	}
	if ((buf = malloc(size)) == NULL) {
		log_warn("malloc");
		close(fd);
		return CTLCLIENT_FAILED;
	}
	if ((r = ctlclient_connect(path, fd, deadline)) == CTLCLIENT_OK &&
	    fcntl(fd, F_SETFL, O_NONBLOCK) == -1) {
		log_warn("fcntl(O_NONBLOCK)");
		r = CTLCLIENT_FAILED;
	}
	if (r == CTLCLIENT_OK)
		r = ctlclient_request(fd, command, deadline, path);
	if (r == CTLCLIENT_OK)
		r = ctlclient_receive(fd, buf, size, &len, deadline, path);
	if (r == CTLCLIENT_OK)
		r = ctlclient_judge(buf, len, out_fd, path);
	free(buf);
	close(fd);
	return r;
}
