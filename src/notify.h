/* SPDX-License-Identifier: ISC */
/*
 * notify.h - readiness and status for the service manager (sd_notify):
 * without $NOTIFY_SOCKET every call does nothing.  And, for a start
 * without one (-d), the start's outcome to the process that waits for it.
 */
#ifndef PREFORKD_NOTIFY_H
#define PREFORKD_NOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>

void	notify_ready(const char *status);
void	notify_reloading(void);
void	notify_stopping(void);
/* Never blocks: -1 when the line was dropped (send it again later). */
int	notify_status(const char *status);
/* How often the service manager wants WATCHDOG=1 from this process, in
 * seconds (half its WatchdogSec=); 0: it does not. */
double	notify_watchdog_every(void);
/* WATCHDOG=1; never blocks. */
void	notify_watchdog(void);

/*
 * The manager's file descriptor store (FDSTORE=1): a descriptor handed
 * to it under a name is kept while the service runs, restarts or is
 * restarted after a crash, and passed to the next start like a socket of
 * socket activation ($LISTEN_FDS, the name in $LISTEN_FDNAMES).
 * FDSTOREREMOVE=1 takes every descriptor of a name out again.  A name is
 * printable ASCII without ':' (the separator of $LISTEN_FDNAMES), at
 * most NOTIFY_FDNAME_MAX bytes.
 */
#define NOTIFY_FDNAME_MAX	255

struct notify_fdmsg {
	struct msghdr	 nf_hdr;
	struct iovec	 nf_iov;
	char		 nf_text[NOTIFY_FDNAME_MAX + 32];
	union {
		struct cmsghdr	 nf_align;
		char		 nf_buf[CMSG_SPACE(sizeof(int))];
	}		 nf_control;
};

bool	notify_fdname_valid(const char *name);
/* The datagram, but for its address: fd in one SCM_RIGHTS message and
 * FDSTORE=1, or with fd -1 FDSTOREREMOVE=1; -1 (EINVAL) for a name that
 * is not valid. */
int	notify_fdstore_message(struct notify_fdmsg *, int fd,
	    const char *name);
/* Send it, never blocking: 1 when sent, 0 without a manager, -1 when it
 * could not go (logged with the call's name; try again later). */
int	notify_fdstore(int fd, const char *name);
int	notify_fdstore_remove(const char *name);

/*
 * Classic mode: tell the process waiting in "preforkd -d" how the start
 * went (0, or an exit status), once; *fd becomes -1.  No-op if it is -1.
 */
void	notify_started(int *fd, int status);

#endif
