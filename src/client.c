/* SPDX-License-Identifier: ISC */
/*
 * client.c - preforkd-client: the study client of the greeting protocol
 * as a tool.  Connect, print the banner (everything up to its NUL), send
 * one message with its NUL, close.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdnoreturn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "escape.h"

#define CLIENT_BANNER_MAX	4096

struct client_options {
	const char	*co_host;
	const char	*co_port;
	const char	*co_message;
	double		 co_timeout;
};

static void
client_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: preforkd-client [-h host] [-p port] [-m message] "
	    "[-t seconds]\n"
	    "  -h host     server address or name (default 127.0.0.1)\n"
	    "  -p port     server port (default 9001)\n"
	    "  -m message  what to send (default \"I want a HTTP "
	    "Service.\")\n"
	    "  -t seconds  limit for the whole exchange (default 5)\n"
	    "  --help      this help\n");
}

static noreturn void
client_fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
client_fail(int status, const char *fmt, ...)
{
	va_list	 ap;

	fputs("preforkd-client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* A failed or timed-out exchange, as a sysexits status. */
static int
client_errno_status(int error)
{
	switch (error) {
	case ETIMEDOUT:
		return EX_TEMPFAIL;
	case ECONNREFUSED: case ENETUNREACH: case EHOSTUNREACH:
	case ECONNRESET:
		return EX_UNAVAILABLE;
	default:
		return EX_IOERR;
	}
}

static void
client_parse(int argc, char *argv[], struct client_options *co)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	char	*end;
	int	 ch;

	co->co_host = "127.0.0.1";
	co->co_port = "9001";
	co->co_message = "I want a HTTP Service.";
	co->co_timeout = 5.0;
	while ((ch = getopt_long(argc, argv, "h:p:m:t:", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'h':
			co->co_host = optarg;
			break;
		case 'p':
			co->co_port = optarg;
			break;
		case 'm':
			co->co_message = optarg;
			break;
		case 't':
			errno = 0;
			co->co_timeout = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    !(co->co_timeout > 0 && co->co_timeout <= 86400))
				client_fail(EX_USAGE, "-t: \"%s\" is not a "
				    "number of seconds in (0, 86400]", optarg);
			break;
		case 'H':
			client_usage(stdout);
			exit(0);
		default:
			client_usage(stderr);
			exit(EX_USAGE);
		}
	}
	if (optind != argc) {
		client_usage(stderr);
		exit(EX_USAGE);
	}
}

/* Non-blocking connect bounded by deadline: fd, or -1 with errno. */
static int
client_connect_one(const struct addrinfo *ai, const struct timespec *dl)
{
	struct pollfd	 pfd;
	socklen_t	 len = sizeof(int);
	int		 fd, err = 0, n;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		n = poll(&pfd, 1, clock_ms_until(*dl));
	while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	if (n <= 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		goto fail;
	if (err == 0)
		return fd;
	errno = err;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int
client_connect(const struct client_options *co, const struct timespec *dl)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(co->co_host, co->co_port, &hints, &res)) != 0)
		client_fail(r == EAI_SERVICE ? EX_USAGE : EX_NOHOST,
		    "%s port %s: %s", co->co_host, co->co_port,
		    gai_strerror(r));
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = client_connect_one(ai, dl);
	freeaddrinfo(res);
	if (fd == -1)
		client_fail(client_errno_status(errno), "connect to %s port "
		    "%s: %s", co->co_host, co->co_port, strerror(errno));
	return fd;
}

/* Read up to and including the banner's NUL; bytes after it are the
 * server's business, not ours. */
static size_t
client_read_banner(struct conn *c, char *buf, size_t size,
    const struct timespec *dl)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < size) {
		n = conn_read(c, buf + len, size - len, dl);
		if (n == -1)
			client_fail(client_errno_status(errno), "reading the "
			    "banner from %s: %s", conn_peer(c),
			    errno == ETIMEDOUT ? "timed out" : strerror(errno));
		if (n == 0)
			break;
		if (memchr(buf + len, '\0', (size_t)n) != NULL)
			return strlen(buf);
		len += (size_t)n;
	}
	if (len == 0)
		client_fail(EX_PROTOCOL, "%s closed the connection without "
		    "a banner", conn_peer(c));
	return len;	/* no NUL: the banner is whatever came */
}

int
main(int argc, char *argv[])
{
	struct client_options	 co;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen = sizeof(ss);
	struct timespec		 deadline;
	struct conn		 c;
	char			 banner[CLIENT_BANNER_MAX];
	char			 shown[ESCAPE_MAX(CLIENT_BANNER_MAX)];
	size_t			 len;
	int			 fd;

	client_parse(argc, argv, &co);
	deadline = clock_after(clock_now(), co.co_timeout);
	fd = client_connect(&co, &deadline);
	if (getpeername(fd, (struct sockaddr *)&ss, &sslen) == -1)
		sslen = 0;
	conn_init(&c, fd, (struct sockaddr *)&ss, sslen);

	len = client_read_banner(&c, banner, sizeof(banner), &deadline);
	/* The server is not trusted with our terminal either. */
	escape_bytes(shown, sizeof(shown), banner, len);
	printf("%s\n", shown);
	fflush(stdout);

	if (conn_write(&c, co.co_message, strlen(co.co_message) + 1,
	    &deadline) == -1)
		client_fail(client_errno_status(errno), "sending to %s: %s",
		    conn_peer(&c), errno == ETIMEDOUT ? "timed out" :
		    strerror(errno));
	if (close(fd) == -1)
		client_fail(EX_IOERR, "close: %s", strerror(errno));
	return 0;
}
