/* SPDX-License-Identifier: ISC */
/*
 * pidfile.h - the pid file of the classic (-d) mode, and -s.
 */
#ifndef PREFORKD_PIDFILE_H
#define PREFORKD_PIDFILE_H

#include <sys/types.h>

/*
 * Open or create path and lock it: 0 with *fd (kept open, it holds the
 * lock, and the lock survives fork), or an exit status: EX_UNAVAILABLE
 * when a live preforkd holds it, EX_NOPERM when the file is not ours to
 * take (another owner, writable by others, a link), EX_OSERR.  Taken
 * before daemonizing, so that the failure is visible.
 */
int	pidfile_lock(const char *path, int *fd);
/* Write our pid into the locked file: 0 or -1. */
int	pidfile_write(int fd, const char *path);
/* Unlink path if it is still the file fd holds, and close fd. */
void	pidfile_remove(const char *path, int fd);

enum pidfile_state {
	PIDFILE_RUNNING,	/* *pid and *pidfd are the daemon */
	PIDFILE_STALE,		/* no file, unlocked, or no live pid */
	PIDFILE_REFUSED,	/* a file or a pid not to be believed */
	PIDFILE_ERROR,
};

/*
 * For -s: the running daemon, checked (the file is ours or root's and
 * nobody else may write it; the pid holds its lock and runs preforkd).
 * Anything but PIDFILE_RUNNING is logged.  *pidfd (a pidfd_open(2)
 * descriptor, or -1) is the caller's to signal through and close.
 */
enum pidfile_state pidfile_running(const char *path, pid_t *pid,
	    int *pidfd);

#endif
