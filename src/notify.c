/*
 * notify.c - the sd_notify protocol: one datagram of "KEY=value" lines
 * to the AF_UNIX socket named by $NOTIFY_SOCKET.  libsystemd is used when
 * configured --with-libsystemd, for state changes only (status lines
 * must not wait, and sd_notify() may); by default the few lines below
 * speak the protocol, which is small and stable, and spare every worker
 * the libraries libsystemd would map into it.
 */
#include "autoconf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

/*
 * State changes (READY=1, RELOADING=1, STOPPING=1) must reach systemd, or
 * it fails the start or the reload on its timeout: they wait for room in
 * its queue, up to NOTIFY_WAIT_SECONDS.  A status line may be dropped
 * (drop): the master sends them from its loop, which must never block;
 * -1 tells the caller to send it again later.
 */
#define NOTIFY_WAIT_SECONDS	2

/* The protocol itself: one datagram, on a socket of its own. */
static int
notify_datagram(const char *msg, int drop)
{
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	size_t			 plen;
	int			 fd;

	struct timeval		 wait = { NOTIFY_WAIT_SECONDS, 0 };
	int			 rc = 0;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	if ((plen = strlen(path)) >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET is too long");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket(AF_UNIX)");
		return -1;
	}
	if (!drop && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait,
	    sizeof(wait)) == -1)
		log_warn("setsockopt(SO_SNDTIMEO)");
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL |
	    (drop ? MSG_DONTWAIT : 0), (struct sockaddr *)&sun, len) == -1) {
		if (!drop || (errno != EAGAIN && errno != EWOULDBLOCK))
			log_warn("sendto(NOTIFY_SOCKET)");
		rc = -1;
	}
	close(fd);
	return rc;
}

static int
notify_send(const char *msg, int drop)
{
#ifdef HAVE_LIBSYSTEMD
	int	 r;

	/* sd_notify() sends on a blocking socket, with no bound on the
	 * wait: a status line, sent from the master's loop, takes the
	 * datagram above, which does not wait. */
	if (drop)
		return notify_datagram(msg, drop);
	if ((r = sd_notify(0, msg)) < 0) {
		errno = -r;
		log_warn("sd_notify");
		return -1;
	}
	return 0;
#else
	return notify_datagram(msg, drop);
#endif
}

void
notify_ready(const char *status)
{
	char	 msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	(void)notify_send(msg, 0);
}

void
notify_reloading(void)
{
	struct timespec	 ts;
	char		 msg[128];

	/* systemd >= 253 matches RELOADING=1 to the reload it started by
	 * this timestamp; older managers ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	(void)notify_send(msg, 0);
}

void
notify_stopping(void)
{
	(void)notify_send("STOPPING=1", 0);
}

int
notify_status(const char *status)
{
	char	 msg[512];

	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	return notify_send(msg, 1);
}

/*
 * WATCHDOG_USEC says the unit has WatchdogSec=; WATCHDOG_PID, when set,
 * names the process it is meant for (not a worker, nor the check child,
 * which inherit the environment).  Pinging at half the period leaves a
 * whole half for a loop turn that takes long.
 */
double
notify_watchdog_every(void)
{
	const char		*usec = getenv("WATCHDOG_USEC");
	const char		*pid = getenv("WATCHDOG_PID");
	char			*end;
	unsigned long long	 us;

	if (usec == NULL || getenv("NOTIFY_SOCKET") == NULL)
		return 0;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	us = strtoull(usec, &end, 10);
	if (errno != 0 || end == usec || *end != '\0' || us == 0) {
		log_warnx("WATCHDOG_USEC=%s is not a number of microseconds; "
		    "no watchdog", usec);
		return 0;
	}
	return (double)us / 2e6;
}

void
notify_watchdog(void)
{
	/* A ping lost to a full queue is sent again next time. */
	(void)notify_datagram("WATCHDOG=1", 1);
}
