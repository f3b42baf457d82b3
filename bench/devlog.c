/*
 * devlog.c - the syslog daemon's part in bench/cost.sh: a datagram
 * socket at PATH, read as fast as lines come, as journald or rsyslog
 * reads /dev/log (the daemon under test sees it there, in a mount
 * namespace of its own).  The lines are counted, not kept.
 *
 *   devlog PATH
 *
 * Prints "lines=N" when told to stop (SIGTERM or SIGINT).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t	 stopping;

static void
on_stop(int signo)
{
	(void)signo;
	stopping = 1;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct sigaction	 sa;
	char			 buf[16384];
	unsigned long long	 lines = 0;
	int			 fd, big = 4 << 20;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: devlog PATH\n");
		return 64;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: recv() returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	strcpy(sun.sun_path, argv[1]);
	unlink(argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		perror("devlog: socket/bind");
		return 71;
	}
	/* A reader that keeps up, as a syslog daemon's queue is sized to. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	while (!stopping)
		if (recv(fd, buf, sizeof(buf), 0) >= 0)
			lines++;
		else if (errno != EINTR)
			break;
	printf("lines=%llu\n", lines);
	unlink(argv[1]);
	return 0;
}
