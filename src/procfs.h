/* SPDX-License-Identifier: ISC */
/*
 * procfs.h - what /proc tells about a process (the descriptors it holds,
 * the program it runs), and closing what this one inherited.
 */
#ifndef PREFORKD_PROCFS_H
#define PREFORKD_PROCFS_H

#include <sys/stat.h>
#include <sys/types.h>

/*
 * Whether pid has file open with a write flock() on that descriptor:
 * 1, 0, or -1 when /proc cannot tell (logged).
 */
int	procfs_holds_lock(pid_t pid, const struct stat *file);
/*
 * Whether pid runs this program: the same file, or the file this one
 * replaced at the same path (an upgrade while it ran).  1, 0 (its path
 * goes to what), or -1 when /proc cannot tell (logged).
 */
int	procfs_same_program(pid_t pid, char *what, size_t size);
/* When this process started, in seconds since the epoch, as ps(1)
 * says it (an exec keeps it): 0, or -1 (logged). */
int	procfs_start_time(double *when);
/* Close every descriptor from lowfd up: 0 or -1 (logged). */
int	procfs_close_from(int lowfd);
/* Close every descriptor but the n in keep (-1s are ignored; keep is
 * sorted in place): 0 or -1 (logged). */
int	procfs_close_except(int *keep, size_t n);

#endif
