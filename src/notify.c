/*
 * notify.c - the sd_notify protocol: one datagram of "KEY=value" lines
 * to the AF_UNIX socket named by $NOTIFY_SOCKET.  libsystemd is used when
 * configured --with-libsystemd; by default the few lines below speak the
 * protocol, which is small and stable, and spare every worker the
 * libraries libsystemd would map into it.
 */
#include "autoconf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

static void
notify_send(const char *msg)
{
#ifdef HAVE_LIBSYSTEMD
	int	 r;

	if ((r = sd_notify(0, msg)) < 0) {
		errno = -r;
		log_warn("sd_notify");
	}
#else
	const char		*path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un	 sun;
	socklen_t		 len;
	size_t			 plen;
	int			 fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	if ((plen = strlen(path)) >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET is too long");
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket(AF_UNIX)");
		return;
	}
	/* Never block the master: a datagram systemd has no room for is
	 * dropped (and logged), the next STATUS= says the same again. */
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, len) == -1)
		log_warn("sendto(NOTIFY_SOCKET)");
	close(fd);
#endif
}

void
notify_ready(const char *status)
{
	char	 msg[512];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	notify_send(msg);
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
	notify_send(msg);
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}

void
notify_status(const char *status)
{
	char	 msg[512];

	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	notify_send(msg);
}
