/* SPDX-License-Identifier: ISC */
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
#include "loglimit.h"
#include "notify.h"

/*
 * State changes (READY=1, RELOADING=1, STOPPING=1) must reach systemd, or
 * it fails the start or the reload on its timeout: they wait for room in
 * its queue, up to NOTIFY_WAIT_SECONDS.  A status line may be dropped
 * (drop): the master sends them from its loop, which must never block;
 * -1 tells the caller to send it again later.
 */
#define NOTIFY_WAIT_SECONDS	2

/* The service manager's socket, from $NOTIFY_SOCKET: 1, or 0 when there
 * is none (nothing to send), -1 when it cannot be used (logged). */
static int
notify_address(struct sockaddr_un *sun, socklen_t *len)
{
	const char	*path = getenv("NOTIFY_SOCKET");
	size_t		 plen;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;
	if ((plen = strlen(path)) >= sizeof(sun->sun_path)) {
		log_warnx("NOTIFY_SOCKET is too long");
		return -1;
	}
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, plen);
	if (path[0] == '@')
		sun->sun_path[0] = '\0';	/* abstract namespace */
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	return 1;
}

/*
 * The protocol itself: one datagram, on a socket of its own.  With drop,
 * never waits; EAGAIN (a full queue) is then the caller's to report or
 * not, in *error.
 */
static int
notify_sendmsg(struct msghdr *mh, int drop, int *error)
{
	struct sockaddr_un	 sun;
	socklen_t		 len;
	int			 fd, rc;

	struct timeval		 wait = { NOTIFY_WAIT_SECONDS, 0 };

	*error = 0;
	if ((rc = notify_address(&sun, &len)) <= 0)
		return rc;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1) {
		log_warn("socket(AF_UNIX)");
		return -1;
	}
	if (!drop && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait,
	    sizeof(wait)) == -1)
		log_warn("setsockopt(SO_SNDTIMEO)");
	mh->msg_name = &sun;
	mh->msg_namelen = len;
	rc = 1;
	if (sendmsg(fd, mh, MSG_NOSIGNAL | (drop ? MSG_DONTWAIT : 0)) == -1) {
		*error = errno;
		rc = -1;
	}
	close(fd);
	errno = *error;
	return rc;
}

static int
notify_datagram(const char *msg, int drop)
{
	struct iovec	 iov = { .iov_base = (void *)msg,
			    .iov_len = strlen(msg) };
	struct msghdr	 mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int		 error;

	if (notify_sendmsg(&mh, drop, &error) != -1)
		return 0;
	if (error != 0 && (!drop || (error != EAGAIN && error != EWOULDBLOCK)))
		log_warn("sendmsg(NOTIFY_SOCKET)");
	return -1;
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

bool
notify_fdname_valid(const char *name)
{
	size_t	 n;

	for (n = 0; name[n] != '\0'; n++)
		if (name[n] < ' ' || name[n] > '~' || name[n] == ':')
			return false;
	return n <= NOTIFY_FDNAME_MAX;
}

int
notify_fdstore_message(struct notify_fdmsg *nf, int fd, const char *name)
{
	struct cmsghdr	*cm;

	memset(nf, 0, sizeof(*nf));
	if (!notify_fdname_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(nf->nf_text, sizeof(nf->nf_text), "%s\nFDNAME=%s",
	    fd == -1 ? "FDSTOREREMOVE=1" : "FDSTORE=1", name);
	nf->nf_iov.iov_base = nf->nf_text;
	nf->nf_iov.iov_len = strlen(nf->nf_text);
	nf->nf_hdr.msg_iov = &nf->nf_iov;
	nf->nf_hdr.msg_iovlen = 1;
	if (fd == -1)
		return 0;
	nf->nf_hdr.msg_control = nf->nf_control.nf_buf;
	nf->nf_hdr.msg_controllen = sizeof(nf->nf_control.nf_buf);
	cm = CMSG_FIRSTHDR(&nf->nf_hdr);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return 0;
}

/*
 * Sent without waiting, like a status line: the master must not block on
 * a busy manager.  A message that did not go is logged (at most a line a
 * second: the caller tries again) and -1; 0 without a manager.
 */
static int
notify_fdstore_send(int fd, const char *name)
{
	static struct log_limit	 limit;
	struct notify_fdmsg	 nf;
	unsigned long		 held;
	int			 rc, error;

	if (notify_fdstore_message(&nf, fd, name) == -1) {
		log_warnx("file descriptor name \"%s\" is not valid", name);
		return -1;
	}
	rc = notify_sendmsg(&nf.nf_hdr, 1, &error);
	if (rc == -1 && error != 0 && log_limit_every(&limit, 1, &held)) {
		errno = error;
		log_warn("sendmsg(NOTIFY_SOCKET, %s FDNAME=%s; %lu more "
		    "suppressed)", fd == -1 ? "FDSTOREREMOVE=1" : "FDSTORE=1",
		    name, held);
	}
	return rc;
}

int
notify_fdstore(int fd, const char *name)
{
	return notify_fdstore_send(fd, name);
}

int
notify_fdstore_remove(const char *name)
{
	return notify_fdstore_send(-1, name);
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

void
notify_started(int *fd, int status)
{
	unsigned char	 byte = (unsigned char)status;

	if (*fd == -1)
		return;
	if (write(*fd, &byte, 1) != 1)
		log_warn("write(start report)");
	close(*fd);
	*fd = -1;
}
