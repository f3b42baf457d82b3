/*
 * pidfile.h - the pid file of the classic (-d) mode, and -s.
 */
#ifndef PREFORKD_PIDFILE_H
#define PREFORKD_PIDFILE_H

#include <sys/types.h>

/*
 * Create and lock path, write our pid: the fd (kept open, it holds the
 * lock), or -1 when another live preforkd holds it or on error.
 */
int	pidfile_create(const char *path);
void	pidfile_remove(const char *path, int fd);
/* The pid of the running daemon, or -1 (logged) if there is none. */
pid_t	pidfile_running(const char *path);

#endif
