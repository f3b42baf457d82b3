/*
 * pool.h - the process table: every worker the master has forked, the
 * configuration generation it belongs to and where it is in its life;
 * forking, reaping, retiring with a deadline, and the crash back-off.
 *
 * The master decides what the pool should look like (master.c); the pool
 * knows how to get there and never signals a process it has reaped.
 */
#ifndef PREFORKD_POOL_H
#define PREFORKD_POOL_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "worker.h"

struct slot;

enum pool_state {
	POOL_STARTING,		/* forked, not yet able to serve */
	POOL_READY,		/* wrote its pid on the ready pipe */
	POOL_RETIRING,		/* told to finish its connection and exit */
};

struct pool_worker {
	pid_t			 pw_pid;
	unsigned		 pw_generation;
	enum pool_state		 pw_state;
	bool			 pw_killed;	/* SIGKILL sent */
	struct timespec		 pw_started;
	struct timespec		 pw_kill_at;	/* when retiring */
	struct slot		*pw_slot;
};

struct pool {
	struct pool_worker	*p_workers;
	size_t			 p_n;
	size_t			 p_cap;
	struct slot		*p_board;
	int			 p_ready[2];	/* workers write their pid */
	unsigned long long	 p_served_gone;	/* by workers reaped */
	/* Crash back-off: one delay per crash event, see pool_crashed(). */
	double			 p_backoff;	/* seconds; 0: none */
	struct timespec		 p_event_at;	/* last crash event */
	struct timespec		 p_respawn_at;
};

int	pool_init(struct pool *);
void	pool_fini(struct pool *);

/* Fork one worker of generation gen; wa is the worker's arguments less
 * its slot and the ready pipe, which the pool fills in.  0 or -1. */
int	pool_spawn(struct pool *, unsigned gen, struct worker_args *wa);

/* Workers of gen not on their way out; of those, how many are ready. */
unsigned pool_active(const struct pool *, unsigned gen);
unsigned pool_ready(const struct pool *, unsigned gen);
unsigned long long pool_served(const struct pool *);

/* Drain the ready pipe, marking the writers ready. */
void	pool_read_ready(struct pool *);

/* TERM it; SIGKILL it if it is still there grace seconds later. */
void	pool_retire(struct pool_worker *, double grace);
/* Retire every worker, or every one whose generation is not keep. */
void	pool_retire_all(struct pool *, double grace);
void	pool_retire_others(struct pool *, unsigned keep, double grace);
/* Retire every worker of gen. */
void	pool_retire_generation(struct pool *, unsigned gen, double grace);
/* Retire the youngest active worker of gen, if there is one. */
void	pool_retire_youngest(struct pool *, unsigned gen, double grace);
/* SIGKILL the retired workers past their deadline; how many. */
unsigned pool_kill_overdue(struct pool *, struct timespec now);
void	pool_kill_all(struct pool *);
/* The earliest retirement deadline, if any worker has one. */
bool	pool_next_deadline(const struct pool *, struct timespec *);

/* Reap one exited child of ours: it is out of the table before the
 * caller acts on it.  1 with *out and *status set, 0 when none is left. */
int	pool_reap(struct pool *, struct pool_worker *out, int *status);

/* A worker died young (dead may be NULL for a failed fork): start or
 * join a crash event.  Returns the time left before the pool refills. */
double	pool_crashed(struct pool *, const struct pool_worker *dead);
/* Whether the back-off still holds spawning back. */
bool	pool_backing_off(const struct pool *, struct timespec now);
/* An operator's new configuration gets a fresh start. */
void	pool_backoff_reset(struct pool *);

#endif
