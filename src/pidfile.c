/* SPDX-License-Identifier: ISC */
/*
 * pidfile.c - classic mode's bookkeeping.  A pid file that cannot lie: it
 * is locked with flock() for the daemon's life, so a stale file left by a
 * crash is simply taken over, and a live daemon's file is never
 * overwritten.
 *
 * pid_file may sit in a directory others can write to.  The daemon
 * creates the file itself or takes over only its own, and -s believes a
 * file only if its own user (or root) owns it and nobody else can write
 * it, and then signals the pid it names only if that process holds
 * the file's lock and runs preforkd.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "pidfile.h"
#include "procfs.h"

/* Never a symlink, never block on a FIFO, never a controlling tty. */
#define PIDFILE_OPEN	(O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

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
	if (errno != 0 || end == buf || pid <= 0 || pid > INT_MAX ||
	    (*end != '\n' && *end != '\0'))
		return -1;
	return (pid_t)pid;
}

/*
 * Whether a file we opened may be believed: a regular file with one
 * name (not a hard link to some other file), owned by us or, for -s, by
 * root, and that nobody else can write.
 */
static bool
pidfile_trusted(const char *path, const struct stat *st, bool root_ok)
{
	if (!S_ISREG(st->st_mode))
		log_warnx("refusing pid file %s: not a regular file", path);
	else if (st->st_uid != geteuid() && !(root_ok && st->st_uid == 0))
		log_warnx("refusing pid file %s: owned by uid %lu, not %lu",
		    path, (unsigned long)st->st_uid,
		    (unsigned long)geteuid());
	else if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		log_warnx("refusing pid file %s: writable by group or others "
		    "(mode %04o)", path, (unsigned)(st->st_mode & 07777));
	else if (st->st_nlink != 1)
		log_warnx("refusing pid file %s: %lu hard links", path,
		    (unsigned long)st->st_nlink);
	else
		return true;
	return false;
}

/* The exit status for an open() of the pid file that failed; logged. */
static int
pidfile_open_failed(const char *path)
{
	if (errno == ELOOP) {
		log_warnx("refusing pid file %s: a symbolic link", path);
		return EX_NOPERM;
	}
	log_warn("open(%s)", path);
	return EX_OSERR;
}

/*
 * Open the file that is there, to be checked, or create ours: O_EXCL, so
 * that nobody slips theirs in between.  A race with someone creating or
 * removing it is retried a few times.
 */
static int
pidfile_create(const char *path)
{
	int	 fd = -1;

	for (int tries = 0; tries < 3; tries++) {
		if ((fd = open(path, O_RDWR | PIDFILE_OPEN)) != -1 ||
		    errno != ENOENT)
			break;
		if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | PIDFILE_OPEN,
		    0644)) != -1 || errno != EEXIST)
			break;
	}
	return fd;
}

static int
pidfile_lock_failed(const char *path, int fd)
{
	if (errno != EWOULDBLOCK) {
		log_warn("flock(%s)", path);
		return EX_OSERR;
	}
	log_warnx("already running pid=%ld (%s is locked)",
	    (long)pidfile_parse(fd), path);
	return EX_UNAVAILABLE;
}

int
pidfile_lock(const char *path, int *fdp)
{
	struct stat	 st;
	int		 fd, rc;

	if ((fd = pidfile_create(path)) == -1)
		return pidfile_open_failed(path);
	if (fstat(fd, &st) == -1) {
		log_warn("fstat(%s)", path);
		rc = EX_OSERR;
	} else if (!pidfile_trusted(path, &st, false))
		rc = EX_NOPERM;
	else if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		rc = pidfile_lock_failed(path, fd);
	else {
		*fdp = fd;
		return 0;
	}
	close(fd);
	return rc;
}

int
pidfile_write(int fd, const char *path)
{
	char	 buf[32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		log_warn("write(%s)", path);
		return -1;
	}
	return 0;
}

void
pidfile_remove(const char *path, int fd)
{
	struct stat	 ours, named;

	if (fd == -1)
		return;
	/* In a shared directory the name may now be someone else's. */
	if (fstat(fd, &ours) == -1)
		log_warn("fstat(%s)", path);
	else if (lstat(path, &named) == -1)
		log_warn("lstat(%s)", path);
	else if (named.st_dev != ours.st_dev || named.st_ino != ours.st_ino)
		log_warnx("%s is no longer our pid file: left alone", path);
	else if (unlink(path) == -1)
		log_warn("unlink(%s)", path);
	close(fd);
}

/* Whether pid holds the lock on the file (st) and runs preforkd. */
static enum pidfile_state
pidfile_is_daemon(const char *path, const struct stat *st, pid_t pid)
{
	char	 exe[PATH_MAX];
	int	 rc;

	if ((rc = procfs_holds_lock(pid, st)) != 1) {
		if (rc == 0)
			log_warnx("refusing pid file %s: pid %ld does not "
			    "hold its lock", path, (long)pid);
		return rc == 0 ? PIDFILE_REFUSED : PIDFILE_ERROR;
	}
	if ((rc = procfs_same_program(pid, exe, sizeof(exe))) != 1) {
		if (rc == 0)
			log_warnx("refusing pid file %s: pid %ld runs %s, "
			    "not this program", path, (long)pid, exe);
		return rc == 0 ? PIDFILE_REFUSED : PIDFILE_ERROR;
	}
	return PIDFILE_RUNNING;
}

/*
 * *pidfd refers to the process from before the checks on, so that a
 * signal sent through it cannot reach one that reused the pid since.
 */
static enum pidfile_state
pidfile_verify(const char *path, const struct stat *st, pid_t pid,
    int *pidfd)
{
	enum pidfile_state	 state;

	if ((*pidfd = pidfd_open(pid, 0)) == -1) {
		if (errno == ESRCH) {
			log_warnx("not running (%s holds no live pid)", path);
			return PIDFILE_STALE;
		}
		log_warn("pidfd_open(%ld)", (long)pid);
		return PIDFILE_ERROR;
	}
	if ((state = pidfile_is_daemon(path, st, pid)) != PIDFILE_RUNNING) {
		close(*pidfd);
		*pidfd = -1;
	}
	return state;
}

/* A trusted file: who holds it? */
static enum pidfile_state
pidfile_holder(int fd, const char *path, const struct stat *st, pid_t *pid,
    int *pidfd)
{
	/* Unlocked means nobody holds it: the file is stale. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		log_warnx("not running (%s is stale)", path);
		return PIDFILE_STALE;
	}
	if (errno != EWOULDBLOCK) {
		log_warn("flock(%s)", path);
		return PIDFILE_ERROR;
	}
	if ((*pid = pidfile_parse(fd)) == -1) {
		log_warnx("not running (%s holds no pid)", path);
		return PIDFILE_STALE;
	}
	return pidfile_verify(path, st, *pid, pidfd);
}

enum pidfile_state
pidfile_running(const char *path, pid_t *pid, int *pidfd)
{
	enum pidfile_state	 state;
	struct stat		 st;
	int			 fd;

	*pidfd = -1;
	if ((fd = open(path, O_RDONLY | PIDFILE_OPEN)) == -1) {
		if (errno == ENOENT) {
			log_warnx("not running (no %s)", path);
			return PIDFILE_STALE;
		}
		return pidfile_open_failed(path) == EX_NOPERM ?
		    PIDFILE_REFUSED : PIDFILE_ERROR;
	}
	if (fstat(fd, &st) == -1) {
		log_warn("fstat(%s)", path);
		state = PIDFILE_ERROR;
	} else if (!pidfile_trusted(path, &st, true))
		state = PIDFILE_REFUSED;
	else
		state = pidfile_holder(fd, path, &st, pid, pidfd);
	close(fd);
	return state;
}
