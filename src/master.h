/*
 * master.h - the supervisor: keeps the pool at size, reloads, shuts down.
 */
#ifndef PREFORKD_MASTER_H
#define PREFORKD_MASTER_H

struct config;

/*
 * Run until shutdown with cfg (ownership passes to the master) and the
 * file to re-read on SIGHUP.  Returns the process exit status.
 */
int	master_run(struct config *cfg, const char *config_file,
	    int pidfile_fd);

#endif
