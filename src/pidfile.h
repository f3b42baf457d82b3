/*
 * pidfile.h - the pid file of the classic (-d) mode, and -s.
 */
#ifndef PREFORKD_PIDFILE_H
#define PREFORKD_PIDFILE_H

#include <sys/types.h>

/*
 * Create and lock path: the fd (kept open, it holds the lock, and the
 * lock survives fork), or -1 when another live preforkd holds it or on
 * error.  Taken before daemonizing, so that the failure is visible.
 */
int	pidfile_lock(const char *path);
/* Write our pid into the locked file: 0 or -1. */
int	pidfile_write(int fd, const char *path);
void	pidfile_remove(const char *path, int fd);
/*
 * Classic mode: tell the process waiting in "preforkd -d" how the start
 * went (0, or an exit status), once; *fd becomes -1.  No-op if it is -1.
 */
void	daemon_report(int *fd, int status);
/* The pid of the running daemon, or -1 (logged) if there is none. */
pid_t	pidfile_running(const char *path);

#endif
