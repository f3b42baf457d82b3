/* SPDX-License-Identifier: ISC */
/*
 * master.h - the supervisor: keeps the pool at size, reloads, shuts down.
 */
#ifndef PREFORKD_MASTER_H
#define PREFORKD_MASTER_H

struct config;

/*
 * Run until shutdown with cfg (ownership passes to the master) and the
 * file to re-read on SIGHUP; the pid file (-1: none) and its path hand
 * over to an upgrade.  When *report_fd is not -1, a 0 byte is
 * written to it once the sockets are bound and the loop starts, and it is
 * closed and set to -1; if set-up fails it is left for the caller, which
 * reports the status after its own cleanup.  Returns the exit status.
 */
int	master_run(struct config *cfg, const char *config_file,
	    int pidfile_fd, const char *pidfile_path, int *report_fd);

#endif
