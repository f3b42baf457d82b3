/* SPDX-License-Identifier: ISC */
/*
 * reload.h - the two-phase reload.
 *
 * A reload is two-phase: the new generation (generation.h) starts beside
 * the running one, its workers wait at a gate once ready, and only when
 * every one of them is ready does the master open the gate and retire the
 * running generation.  If the new workers cannot run with the new
 * configuration (they exit 78) or are not ready within
 * RELOAD_START_SECONDS, the reload is rolled back: they never served
 * anyone, and the running generation keeps serving, untouched (its sockets
 * were never handed over, only shared).  The file is read first by a
 * checker child (confcheck.h), never by the master itself.
 *
 * The reload works on the master's state as a whole (both generations,
 * the pool, the side doors it rebinds, the reload counters): it is the
 * one room besides master.c that sees struct master (master.h).  So is
 * what a worker's exit 78 (it cannot run with its configuration) does:
 * roll the reload back, stop a start, or freeze the pool's size.
 */
#ifndef PREFORKD_RELOAD_H
#define PREFORKD_RELOAD_H

#include <stdbool.h>
#include <time.h>

/* How long a reloaded generation has to become ready. */
#define RELOAD_START_SECONDS	10.0
/* After a commit, how long "ready" waits at most for the retired
 * workers to be out of accept() (see pool_others_accepting()): they
 * are there for microseconds; only a worker that lies would keep the
 * flag up.  And how often the master looks meanwhile. */
#define RELOAD_QUIET_SECONDS	1.0
#define RELOAD_QUIET_LOOK_MS	5

struct master;
struct pool_worker;
/* SIGHUP: have the file read (confcheck.h), then start a generation
 * from it (reload_check_read()). */
void	reload_start(struct master *);
/* The check is over: start the generation, or say why not. */
void	reload_check_read(struct master *);
/* Commit the starting generation, or announce the first, when ready. */
void	reload_check_ready(struct master *);
/* When to look again whether the retired workers left accept(), so
 * that the committed generation can say it is ready; false: no need. */
bool	reload_next_look(const struct master *, struct timespec *);
/* The starting generation's deadline: rolled back when passed. */
void	reload_check_deadline(struct master *, struct timespec now);
/* The starting generation cannot serve: drop it. */
void	reload_rollback(struct master *, const char *why);
/* A worker exited 78 (WORKER_EXIT_FATAL), out of the pool already, how
 * its description: roll a reload back, stop a start, or keep the pool
 * the size it has. */
void	reload_worker_fatal(struct master *, const struct pool_worker *,
	    const char *how);
/* Close the new agent and metrics ports a reload bound, if any. */
void	reload_free_ports(struct master *);

#endif
