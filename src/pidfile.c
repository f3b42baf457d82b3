/*
 * pidfile.c - classic mode's bookkeeping.  A pid file that cannot lie: it is locked with flock() for
 * the daemon's life, so a stale file left by a crash is simply taken
 * over, and a live daemon's file is never overwritten.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"

static pid_t
pidfile_parse(int fd)
{
	char	 buf[32], *end;
	ssize_t	 n;
	long	 pid;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || pid <= 0 || (*end != '\n' &&
	    *end != '\0'))
		return -1;
	return (pid_t)pid;
}

int
pidfile_lock(const char *path)
{
	int	 fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		log_warn("open(%s)", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			log_warnx("already running pid=%ld (%s is locked)",
			    (long)pidfile_parse(fd), path);
		else
			log_warn("flock(%s)", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
pidfile_write(int fd, const char *path)
{
	if (ftruncate(fd, 0) == -1 || dprintf(fd, "%ld\n", (long)getpid())
	    < 0) {
		log_warn("write(%s)", path);
		return -1;
	}
	return 0;
}

void
pidfile_remove(const char *path, int fd)
{
	if (fd == -1)
		return;
	if (unlink(path) == -1)
		log_warn("unlink(%s)", path);
	close(fd);
}

pid_t
pidfile_running(const char *path)
{
	pid_t	 pid;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("open(%s)", path);
		return -1;
	}
	/* Unlocked means nobody holds it: the file is stale. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		log_warnx("not running (%s is stale)", path);
		close(fd);
		return -1;
	}
	pid = pidfile_parse(fd);
	close(fd);
	if (pid == -1 || (kill(pid, 0) == -1 && errno == ESRCH)) {
		log_warnx("not running (%s holds no live pid)", path);
		return -1;
	}
	return pid;
}

void
daemon_report(int *fd, int status)
{
	unsigned char	 byte = (unsigned char)status;

	if (*fd == -1)
		return;
	if (write(*fd, &byte, 1) != 1)
		log_warn("write(start report)");
	close(*fd);
	*fd = -1;
}
