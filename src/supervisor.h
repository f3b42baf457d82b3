/* SPDX-License-Identifier: ISC */
/*
 * supervisor.h - how main() starts the master (master.c), and how this
 * start came about.
 */
#ifndef PREFORKD_SUPERVISOR_H
#define PREFORKD_SUPERVISOR_H

struct config;

/* How this start came about, decided once, by main(): a fresh start, an
 * in-place upgrade's new image taking the old one's state over
 * (handover.h), or -t, which checks the file and runs no master. */
enum master_start {
	MASTER_START_FRESH,
	MASTER_START_UPGRADE,
	MASTER_START_CHECK
};

/*
 * Run until shutdown with cfg (ownership passes to the master) and the
 * file to re-read on SIGHUP; the pid file (-1: none) and its path hand
 * over to an upgrade.  When *report_fd is not -1, a 0 byte is
 * written to it once the sockets are bound and the loop starts, and it is
 * closed and set to -1; if set-up fails it is left for the caller, which
 * reports the status after its own cleanup.  Returns the exit status.
 */
int	master_run(struct config *cfg, const char *config_file,
	    enum master_start, int pidfile_fd, const char *pidfile_path,
	    int *report_fd);

#endif
