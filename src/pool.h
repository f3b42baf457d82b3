/* SPDX-License-Identifier: ISC */
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
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "scoreboard.h"
#include "worker.h"

struct slot;
struct slot_reading;

/*
 * What the master decided about a worker lives here; what the worker is
 * doing (starting, idle, busy, with whom) lives in its scoreboard slot
 * only, where the worker itself writes it.
 */
struct pool_worker {
	pid_t			 pw_pid;
	unsigned		 pw_generation;
	bool			 pw_retiring;	/* told to finish and exit */
	bool			 pw_killed;	/* SIGKILL sent */
	bool			 pw_hung;	/* ... because it was stuck */
	struct timespec		 pw_started;
	struct timespec		 pw_kill_at;	/* when retiring */
	struct slot		*pw_slot;	/* NULL once reaped */
	uint32_t		 pw_last_state;	/* its slot's, when reaped */
	unsigned long long	 pw_served;	/* when reaped */
};

/* How a worker ended (pool_exit_cause()), for the metrics. */
enum pool_exit {
	POOL_EXIT_NORMAL,	/* exited 0: retired, or the daemon stopped */
	POOL_EXIT_RECYCLED,	/* exited 0 after max_connections */
	POOL_EXIT_CRASHED,	/* another status, or another signal */
	POOL_EXIT_HUNG,		/* killed by the master as hung */
	POOL_EXIT_FATAL,	/* exited 78: cannot run its configuration */
	/* KILL, TERM or INT: sent on purpose (the master after a
	 * retirement deadline or on a fast stop, an operator, the OOM
	 * killer). */
	POOL_EXIT_KILLED,
	POOL_EXITS
};

/* Totals of the workers reaped, for the status; with pool_totals(),
 * those of the living too (all but the exits). */
struct pool_gone {
	unsigned long long	 pg_served;
	unsigned long long	 pg_limited;
	unsigned long long	 pg_shed;
	unsigned long long	 pg_denied;
	unsigned long long	 pg_proxy_failed;
	/* Of those served or proxy_failed: the client left without a
	 * byte. */
	unsigned long long	 pg_empty;
	unsigned long long	 pg_log_dropped;
	unsigned long long	 pg_exits[POOL_EXITS];
	unsigned long long	 pg_bytes_in;
	unsigned long long	 pg_bytes_out;
	unsigned long long	 pg_timeouts[SCOREBOARD_TIMEOUTS];
	/* Connections the service had, by duration (scoreboard.h). */
	unsigned long long	 pg_duration[SCOREBOARD_BUCKETS + 1];
	unsigned long long	 pg_duration_us;
	unsigned long long	 pg_tls_handshakes;
	unsigned long long	 pg_tls_resumed;
	unsigned long long	 pg_tls_failed[SCOREBOARD_TLS_FAILS];
};

struct pool {
	struct pool_worker	*p_workers;
	size_t			 p_n;
	size_t			 p_cap;
	struct scoreboard	*p_board;
	int			 p_board_fd;	/* behind p_board */
	int			 p_ready[2];	/* workers write their pid */
	struct pool_gone	 p_gone;
	/* Crash back-off: one delay per crash event, see pool_crashed(). */
	double			 p_backoff;	/* seconds; 0: none */
	struct timespec		 p_event_at;	/* last crash event */
	struct timespec		 p_respawn_at;
};

/* A new pool with a new board, or (board_fd not -1) the board behind
 * board_fd, that a master before an upgrade handed over. */
int	pool_init(struct pool *, int board_fd);
/* A worker the master had before an upgrade: in the table again. */
int	pool_adopt(struct pool *, const struct pool_worker *, uint32_t slot);
void	pool_fini(struct pool *);

/* Fork one worker of generation gen; wa is the worker's arguments less
 * its slot and the ready pipe, which the pool fills in.  0 or -1. */
int	pool_spawn(struct pool *, unsigned gen, struct worker_args *wa);

/* Served, refused by the per-source limit, shed, log lines dropped: all
 * workers, ever. */
struct pool_gone pool_totals(const struct pool *);

/* Whether a retiring worker of a generation other than gen may still
 * be in accept(): see sl_accepting in scoreboard.h. */
bool	pool_others_accepting(const struct pool *, unsigned gen);
/* The worker's slot, checked (scoreboard_read()) against its start,
 * which the master recorded: now is scoreboard_ms(). */
bool	pool_read(const struct pool_worker *, int64_t now,
	    struct slot_reading *);
/* What its slot says it served, bounded by its age. */
unsigned long long pool_served(const struct pool_worker *, int64_t now);
/* Its start, in scoreboard_ms() terms. */
int64_t	pool_born_ms(const struct pool_worker *);

/* Drain the ready pipe: it only wakes the master up. */
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
/* Retire the youngest idle worker of gen at least min_age seconds old;
 * whether there was one. */
bool	pool_retire_idle(struct pool *, unsigned gen, double min_age,
	    double grace);
/* Ask the worker to cut connection number conn short, if it is still
 * the one in hand (its client is silent and the pool is full). */
void	pool_shed(struct pool_worker *, uint64_t conn);
/* SIGKILL a stuck worker; its exit is logged as such, and it is
 * replaced at once. */
void	pool_kill_hung(struct pool_worker *);
/* SIGKILL the retired workers past their deadline; how many. */
unsigned pool_kill_overdue(struct pool *, struct timespec now);
void	pool_kill_all(struct pool *);
/* The earliest retirement deadline, if any worker has one. */
bool	pool_next_deadline(const struct pool *, struct timespec *);

/* How w ended, from its wait status and what the master knows of it. */
enum pool_exit pool_exit_cause(const struct pool_worker *w, int status);
const char *pool_exit_name(enum pool_exit);

/* Reap child pid (one that exited: see master_reap()): it is out of
 * the table before the caller acts on it, its exit counted.  1 with
 * *out and *status set, 0 when it could not be reaped; 2 for a child
 * that is not a worker (only out->pw_pid set). */
int	pool_reap(struct pool *, pid_t pid, struct pool_worker *out,
	    int *status);

/* A worker died young (dead may be NULL for a failed fork): start or
 * join a crash event.  Returns the time left before the pool refills. */
double	pool_crashed(struct pool *, const struct pool_worker *dead);
/* Whether the back-off still holds spawning back. */
bool	pool_backing_off(const struct pool *, struct timespec now);
/* An operator's new configuration gets a fresh start. */
void	pool_backoff_reset(struct pool *);

#endif
