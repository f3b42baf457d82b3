/* SPDX-License-Identifier: ISC */
/*
 * upgrade.h - replacing the daemon's binary without a dropped connection
 * and without a new PID (SIGUSR2, "preforkd -s upgrade").
 *
 * The master runs the binary now at the path it was started from with -t
 * on its file, in the background; if that fails, or the binary does not
 * say it can take over this one's state, nothing else happens.
 * Otherwise it execve()s it in place, with its original argv.  The PID
 * stays, so systemd sees only RELOADING=1 and later READY=1, and the
 * workers stay its children.  Across the exec go, by systemd's LISTEN_FDS
 * convention with names: the listening sockets ("pfd-listen", or
 * "pfd-passed" for those systemd passed), the pid file ("pfd-pidfile",
 * its lock with it), the control socket, the agent and the metrics
 * endpoint ("pfd-control", "pfd-agent", "pfd-metrics": just before, they
 * stop taking clients and finish those in hand, so a client that comes
 * meanwhile waits in the backlog for the new image), the scoreboard ("pfd-board", a memfd) and the state
 * ("pfd-state", a memfd: generation numbers, the process table, the
 * sockets as configured, the file's path and the text the running
 * workers were configured with).  The new image takes the workers over as
 * the serving generation, with that configuration, and starts a new one
 * beside it as a reload does; if the new one never becomes ready, the
 * reload is rolled back and the old workers serve on.
 */
#ifndef PREFORKD_UPGRADE_H
#define PREFORKD_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* How long the new binary's -t may take. */
#define UPGRADE_CHECK_SECONDS	10.0
/* How long a request waits for a quiet moment (no worker starting, no
 * reload under way, then no control, agent or metrics client in hand)
 * before it is dropped. */
#define UPGRADE_WAIT_SECONDS	10.0
/* What the check may print, kept for the log and the acknowledgement. */
#define UPGRADE_OUTPUT_MAX	4096

enum upgrade_step {
	UPGRADE_IDLE,
	UPGRADE_WAIT_CHECK,	/* for a quiet moment to run the check */
	UPGRADE_CHECKING,	/* the new binary's -t runs */
	UPGRADE_WAIT_EXEC,	/* checked: for a quiet moment to exec */
};

/* The old image's side of an upgrade under way. */
struct upgrade {
	enum upgrade_step	 up_step;
	struct timespec		 up_until;	/* the step's deadline */
	pid_t			 up_pid;	/* the check; 0 once reaped */
	int			 up_fd;		/* its output; -1 at EOF */
	int			 up_status;	/* its wait status */
	bool			 up_timed_out;	/* and was killed */
	char			 up_out[UPGRADE_OUTPUT_MAX];
	size_t			 up_len;
};

struct handover_parts;
struct pollfd;

/* Keep argv as given (getopt may permute it) and the binary's path as
 * it was started (not resolved: a symlink may be moved to a new one). */
int	upgrade_init(int argc, char *const argv[]);
void	upgrade_reset(struct upgrade *);

/* -t for an upgrade: print that this binary can take over the running
 * one (the format it names in the environment), or fail: 0 or -1, with
 * the reason in err. */
int	upgrade_check_format(char *err, size_t size);

/* SIGUSR2; ignored while the daemon stops (stopping). */
void	upgrade_request(struct upgrade *, bool stopping);
/* From the loop: the next step of a requested upgrade, on the parts that
 * cross the exec (handover.h); stopping gives it up, and a reload under
 * way (reloading) makes it wait. */
void	upgrade_run(struct upgrade *, const struct handover_parts *,
	    bool stopping, bool reloading, struct timespec now);
/* The check's output, for the master's ppoll(): 0 or 1 descriptor. */
size_t	upgrade_pollfds(const struct upgrade *, struct pollfd *);
void	upgrade_handle(struct upgrade *, const struct pollfd *, size_t n);
bool	upgrade_next_deadline(const struct upgrade *, struct timespec *);
/* A child that is not a worker was reaped: the check, perhaps. */
void	upgrade_reaped(struct upgrade *, pid_t, int status);

#endif
