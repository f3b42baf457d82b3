/*
 * upgrade.h - replacing the daemon's binary without a dropped connection
 * and without a new PID (SIGUSR2, "preforkd -s upgrade").
 *
 * The master runs the binary now at its path with -t on the current
 * file; if that fails, nothing else happens.  Otherwise it execve()s it
 * in place, with its original argv.  The PID stays, so systemd sees only
 * RELOADING=1 and later READY=1, and the workers stay its children.
 * Across the exec go, by systemd's LISTEN_FDS convention with names: the
 * listening sockets ("pfd-listen", or "pfd-passed" for those systemd
 * passed), the pid file ("pfd-pidfile", its lock with it), the scoreboard
 * ("pfd-board", a memfd) and the state ("pfd-state", a memfd: generation
 * numbers and the process table).  The new image adopts the running
 * workers as the serving generation and starts a new one beside it, as a
 * reload does; when that one is ready the old workers retire.  If it
 * never is, the reload is rolled back and the old workers keep serving.
 */
#ifndef PREFORKD_UPGRADE_H
#define PREFORKD_UPGRADE_H

#include <stdbool.h>
#include <time.h>

/* How long the new binary's -t may take. */
#define UPGRADE_CHECK_SECONDS	10.0
/* How long a request waits for a quiet moment (no worker starting, no
 * reload under way) before it is dropped. */
#define UPGRADE_WAIT_SECONDS	10.0

struct master;

/* Keep argv as given (getopt may permute it) and the binary's path. */
int	upgrade_init(int argc, char *const argv[]);
/*
 * Whether this process is the new image of an upgrade: 1, and the
 * handed-over descriptors are taken (the LISTEN_ variables unset); 0
 * when it is not; -1 when the hand-over is malformed (logged).
 */
int	upgrade_inherit(void);
bool	upgrade_inherited(void);
/* How many descriptors, from 3 on, were handed over. */
int	upgrade_fd_count(void);
/* Handed over, or -1. */
int	upgrade_pidfile_fd(void);
int	upgrade_board_fd(void);
/* -t for an upgrade: whether this binary can take the hand-over of the
 * running one (the format it names in the environment); 0 or -1, with
 * the reason in err. */
int	upgrade_check_format(char *err, size_t size);

/* In the new image, once the pool has its board: the sockets, the
 * workers and the generation numbers.  0, or an exit status, logged. */
int	upgrade_adopt(struct master *);
/* What the log says at start: "version=0.1.0 workers=4" or the like. */
const char *upgrade_from_version(void);

/* SIGUSR2. */
void	upgrade_request(struct master *);
/* From the loop: do a requested upgrade once the pool is quiet. */
void	upgrade_run(struct master *, struct timespec now);

#endif
