/* SPDX-License-Identifier: ISC */
/*
 * procfs.c - questions about processes that only /proc answers.
 *
 * -s must not signal whatever pid a pid file names: it checks that the
 * process holds the file's lock and runs preforkd.  A flock() records no
 * owner that fcntl(F_GETLK) could report, and /proc/locks names the
 * process that took it (before -d forked), not the one holding it now;
 * /proc/PID/fdinfo lists the locks held through each descriptor.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "procfs.h"

#define PROCFS_DELETED	" (deleted)"

/* Whether descriptor name in /proc/PID/fd (open as dfd) is file. */
static bool
procfs_fd_is(int dfd, const char *name, const struct stat *file)
{
	struct stat	 st;

	/* Gone since readdir(), or a descriptor we may not follow. */
	if (fstatat(dfd, name, &st, 0) == -1)
		return false;
	return st.st_dev == file->st_dev && st.st_ino == file->st_ino;
}

/* "lock:\t1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF" */
static int
procfs_fd_locked(pid_t pid, int fd)
{
	char	 path[64], line[256];
	FILE	*fp;
	int	 locked = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%d", (long)pid, fd);
	if ((fp = fopen(path, "re")) == NULL) {
		log_warn("fopen(%s)", path);
		return -1;
	}
	while (!locked && fgets(line, sizeof(line), fp) != NULL)
		locked = strncmp(line, "lock:", 5) == 0 &&
		    strstr(line, " FLOCK ") != NULL &&
		    strstr(line, " WRITE ") != NULL;
	fclose(fp);
	return locked;
}

int
procfs_holds_lock(pid_t pid, const struct stat *file)
{
	char		 path[64];
	struct dirent	*e;
	DIR		*dir;
	int		 held = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL) {
		/* The master is not dumpable (master.c): its entries are
		 * root's, even for its own user. */
		if (errno == EACCES)
			log_warn("opendir(%s) (the daemon is not dumpable: "
			    "only root can look at it; signal it with kill, "
			    "or ask its control socket)", path);
		else
			log_warn("opendir(%s)", path);
		return -1;
	}
	while (held == 0 && (e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.' && procfs_fd_is(dirfd(dir), e->d_name,
		    file))
			held = procfs_fd_locked(pid, atoi(e->d_name));
	closedir(dir);
	return held;
}

static int
procfs_exe(const char *link, char *path, size_t size)
{
	ssize_t	 n;

	if ((n = readlink(link, path, size - 1)) == -1) {
		log_warn("readlink(%s)", link);
		return -1;
	}
	path[n] = '\0';
	return 0;
}

int
procfs_same_program(pid_t pid, char *what, size_t size)
{
	char		 link[64], self[PATH_MAX];
	struct stat	 ours, theirs;
	size_t		 len;

	snprintf(link, sizeof(link), "/proc/%ld/exe", (long)pid);
	if (stat("/proc/self/exe", &ours) == -1) {
		log_warn("stat(/proc/self/exe)");
		return -1;
	}
	if (stat(link, &theirs) == -1) {
		log_warn("stat(%s)", link);
		return -1;
	}
	if (ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino)
		return 1;
	if (procfs_exe("/proc/self/exe", self, sizeof(self)) == -1 ||
	    procfs_exe(link, what, size) == -1)
		return -1;
	/* Installing a new version leaves the running one's file deleted:
	 * a program that was at our very path, which only those who may
	 * install us can write. */
	len = strlen(self);
	return strncmp(what, self, len) == 0 &&
	    strcmp(what + len, PROCFS_DELETED) == 0;
}

/* Without close_range(2) (Linux < 5.9, or a filter): close one by one. */
static int
procfs_close_listed(int lowfd)
{
	struct dirent	*e;
	DIR		*dir;
	int		 fd;

	if ((dir = opendir("/proc/self/fd")) == NULL) {
		log_warn("opendir(/proc/self/fd)");
		return -1;
	}
	while ((e = readdir(dir)) != NULL) {
		fd = atoi(e->d_name);
		if (e->d_name[0] != '.' && fd >= lowfd && fd != dirfd(dir) &&
		    close(fd) == -1)
			log_warn("close(%d)", fd);
	}
	closedir(dir);
	return 0;
}

int
procfs_close_from(int lowfd)
{
	if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
		return 0;
	log_debug("close_range: %s; closing by /proc/self/fd",
	    strerror(errno));
	return procfs_close_listed(lowfd);
}

static int
procfs_fd_cmp(const void *a, const void *b)
{
	int	 x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int
procfs_close_except(int *keep, size_t n)
{
	unsigned	 from = 0;

	qsort(keep, n, sizeof(keep[0]), procfs_fd_cmp);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from &&
		    close_range(from, (unsigned)keep[i] - 1, 0) == -1) {
			log_warn("close_range(%u, %d)", from, keep[i] - 1);
			return -1;
		}
		from = (unsigned)keep[i] + 1;
	}
	if (close_range(from, ~0U, 0) == -1) {
		log_warn("close_range(%u, ~0)", from);
		return -1;
	}
	return 0;
}

/* The boot time, /proc/stat's "btime": seconds since the epoch. */
static int
procfs_boot_time(unsigned long long *btime)
{
	char	 line[256];
	FILE	*fp;
	int	 rc = -1;

	if ((fp = fopen("/proc/stat", "re")) == NULL) {
		log_warn("fopen(/proc/stat)");
		return -1;
	}
	while (rc == -1 && fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "btime %llu", btime) == 1)
			rc = 0;
	fclose(fp);
	if (rc == -1)
		log_warnx("/proc/stat: no btime");
	return rc;
}

/* Field 22 of /proc/self/stat: the start after boot, in clock ticks.
 * The fields are counted from the last ')': the name before it may
 * hold anything, spaces and parentheses too. */
static int
procfs_start_ticks(unsigned long long *ticks)
{
	char		 buf[1024], *p;
	FILE		*fp;
	size_t		 n;
	int		 field = 2;

	if ((fp = fopen("/proc/self/stat", "re")) == NULL) {
		log_warn("fopen(/proc/self/stat)");
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		goto bad;
	for (p++; *p != '\0' && field < 22; p++)
		if (*p == ' ' && p[1] != ' ')
			field++;
	if (field == 22 && sscanf(p, "%llu", ticks) == 1)
		return 0;
bad:
	log_warnx("/proc/self/stat: no start time");
	return -1;
}

int
procfs_start_time(double *when)
{
	unsigned long long	 btime, ticks;
	long			 hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0 || procfs_boot_time(&btime) == -1 ||
	    procfs_start_ticks(&ticks) == -1)
		return -1;
	*when = (double)btime + (double)ticks / (double)hz;
	return 0;
}
