/* SPDX-License-Identifier: ISC */
/*
 * generation.h - configuration generations and the two-phase reload.
 *
 * A generation is a configuration, its listening sockets and the workers
 * started from it.  A reload is two-phase: the new generation starts
 * beside the running one, its workers wait at a gate once ready, and only
 * when every one of them is ready does the master open the gate and
 * retire the running generation.  If the new workers cannot run with the
 * new configuration (they exit 78) or are not ready within
 * GENERATION_START_SECONDS, the reload is rolled back: they never served
 * anyone, and the running generation keeps serving, untouched (its sockets
 * were never handed over, only shared).
 *
 * struct master is here because the master's loop (master.c), the reload
 * (generation.c), the pool's upkeep (upkeep.c) and the status (status.c)
 * all work on it; each file changes only its own part.
 */
#ifndef PREFORKD_GENERATION_H
#define PREFORKD_GENERATION_H

#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "agent.h"
#include "confcheck.h"
#include "control.h"
#include "listener.h"
#include "metrics.h"
#include "pool.h"
#include "upgrade.h"
#include "upkeep.h"

/* How long a reloaded generation has to become ready. */
#define GENERATION_START_SECONDS	10.0
/* After a commit, how long "ready" waits at most for the retired
 * workers to be out of accept() (see pool_others_accepting()): they
 * are there for microseconds; only a worker that lies would keep the
 * flag up.  And how often the master looks meanwhile. */
#define GENERATION_QUIET_SECONDS	1.0
#define GENERATION_QUIET_LOOK_MS	5

struct generation {
	unsigned		 g_id;		/* 0: no such generation */
	struct config		*g_cfg;
	struct listeners	 g_ls;
	unsigned		 g_target;	/* workers wanted */
	bool			 g_announced;	/* READY=1 sent for it */
	/* Committed by a reload: "ready" once the generation before it
	 * takes no connection any more, or by then at the latest. */
	bool			 g_committed;
	unsigned		 g_replaced;	/* the one it retired */
	unsigned long		 g_reload;	/* the reload that made it */
	struct timespec		 g_quiet_by;
	struct timespec		 g_deadline;	/* to be ready by */
	int			 g_gate[2];	/* closed at commit; or -1 */
	/* Taken over from the binary before an upgrade: its workers run
	 * the old code with the old file, so none is added to it. */
	bool			 g_adopted;
	/* Its agent port, bound by the reload when it is a new one. */
	struct sidedoor_socket	 g_agent;
	/* The same for its metrics endpoint. */
	struct sidedoor_socket	 g_metrics;
};

struct master {
	const char		*m_file;
	struct generation	 m_cur;		/* serving */
	struct generation	 m_next;	/* starting, on reload */
	unsigned		 m_last_id;
	bool			 m_reload_again; /* HUP while m_next starts */
	struct confcheck	 m_check;	/* reading the file, on HUP */
	unsigned long		 m_reload_seq;	/* reloads begun, ever */
	struct pool		 m_pool;
	struct upkeep		 m_upkeep;	/* sizing, shedding, hung */
	struct control		 m_control;	/* the control socket */
	struct agent		 m_agent;	/* the agent check */
	struct metrics		 m_metrics;	/* HTTP GET /metrics */
	/* Reloads that settled (generation_settled()), by outcome. */
	unsigned long long	 m_reloads_ok;
	unsigned long long	 m_reloads_failed;
	int			 m_pidfile_fd;
	const char		*m_pidfile_path;
	sigset_t		 m_waitmask;	/* control signals unblocked */
	/* TERM with timeouts.drain: serving on until m_drain_until while
	 * the agent says "drain", then m_stopping. */
	bool			 m_draining;
	struct timespec		 m_drain_until;
	bool			 m_stopping;
	struct upgrade		 m_upgrade;	/* SIGUSR2 */
	bool			 m_killed;	/* SIGKILL already sent */
	struct timespec		 m_kill_at;
	int			 m_status;
	/* systemd's watchdog: WATCHDOG=1 every m_watchdog_every seconds,
	 * from the loop, so that a master that stops turning is noticed. */
	double			 m_watchdog_every;	/* 0: none */
	struct timespec		 m_watchdog_at;
};

void	generation_init(struct generation *);
void	generation_free(struct generation *);
/* Start the workers each generation lacks, unless backing off. */
void	generation_fill_all(struct master *);
/* SIGHUP: have the file read (confcheck.h), then start a generation
 * from it (generation_check_read()). */
void	generation_reload(struct master *);
/* The check is over: start the generation, or say why not. */
void	generation_check_read(struct master *);
/* Commit the starting generation, or announce the first, when ready. */
void	generation_check_ready(struct master *);
/* When to look again whether the retired workers left accept(), so
 * that the committed generation can say it is ready; false: no need. */
bool	generation_next_look(const struct master *, struct timespec *);
/* The starting generation's deadline: rolled back when passed. */
void	generation_check_deadline(struct master *, struct timespec now);
/* The starting generation cannot serve: drop it. */
void	generation_rollback(struct master *, const char *why);

#endif
