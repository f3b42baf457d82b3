/* SPDX-License-Identifier: ISC */
/*
 * master.h - the supervisor: keeps the pool at size, reloads, shuts down.
 *
 * struct master is the supervisor's whole state, and master.c its one
 * owner; the two-phase reload (reload.c) works on it too, as it changes
 * both generations, the pool and the side doors at once.  Only they
 * include this header.  Every other room takes only the part it acts on:
 * the pool, a generation, a side door, or the read-only facts of
 * status.h; main() starts the supervisor through supervisor.h.
 */
#ifndef PREFORKD_MASTER_H
#define PREFORKD_MASTER_H

#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "agent.h"
#include "confcheck.h"
#include "control.h"
#include "generation.h"
#include "metrics.h"
#include "pool.h"
#include "poolpolicy.h"
#include "poolview.h"
#include "status.h"
#include "supervisor.h"
#include "upgrade.h"

struct config;

struct master {
	const char		*m_file;
	struct generation	 m_cur;		/* serving */
	struct generation	 m_next;	/* starting, on reload */
	unsigned		 m_last_id;
	bool			 m_reload_again; /* HUP while m_next starts */
	struct confcheck	 m_check;	/* reading the file, on HUP */
	unsigned long		 m_reload_seq;	/* reloads begun, ever */
	struct pool		 m_pool;
	struct poolpolicy	 m_policy;	/* sizing, shedding, hung */
	/* The pool's one view of this turn of the loop (master_look()):
	 * sizing, shedding, STATUS=, the answers and the agent read it. */
	struct poolview		 m_view;
	struct status_facts	 m_facts;	/* what the answers read */
	enum master_start	 m_start;	/* how this image started */
	struct control		 m_control;	/* the control socket */
	struct agent		 m_agent;	/* the agent check */
	struct metrics		 m_metrics;	/* HTTP GET /metrics */
	/* Their new ports, bound by a reload when the file moved them;
	 * taken at the commit. */
	struct sidedoor_socket	 m_agent_next;
	struct sidedoor_socket	 m_metrics_next;
	/* Reloads that settled (reload_settled()), by outcome. */
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

/* For the reload: start the workers each generation lacks, unless
 * stopping or backing off; take the pool's view again (a commit changed
 * which generation serves); the facts for an answer, current. */
void	master_fill(struct master *);
/* Stop now (the start failed, or the drain is over). */
void	master_stop_now(struct master *);
void	master_look(struct master *);
const struct status_facts *master_facts(struct master *);

#endif
