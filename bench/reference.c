/* SPDX-License-Identifier: ISC */
/*
 * reference.c - the speed-of-light reference for the greeting protocol
 * on this machine: one process, one epoll loop, non-blocking sockets, no
 * logging.  Not a server to deploy; a yardstick for bench/run.sh.
 *
 *   reference PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char	 banner[] = "Welcome to Network Server!!";

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct epoll_event	 ev, evs[256];
	char			 buf[4096];
	int			 lfd, ep, one = 1;

	if (argc != 2)
		return 64;
	sin.sin_port = htons((uint16_t)atoi(argv[1]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 1024) == -1) {
		perror("bind/listen");
		return 71;
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					/* The banner fits any socket buffer. */
					send(c, banner, sizeof(banner),
					    MSG_NOSIGNAL);
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			/* One read is the message (or EOF): close. */
			ssize_t r = recv(fd, buf, sizeof(buf), 0);

			if (r == -1 && errno == EAGAIN)
				continue;
			close(fd);
		}
	}
}
