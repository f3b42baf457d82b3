/* SPDX-License-Identifier: ISC */
/*
 * poolview.h - one set of numbers for the pool.
 *
 * What the workers are doing (read from the scoreboard), how many the
 * serving generation wants (its target) and how many it can have now (its
 * ceiling), and how many connections wait in its accept queues: the
 * sizing, the shedding, the status line, the status table, the metrics
 * and the agent's weight all read one view, taken by poolview_take(), so
 * that they never disagree about how full the pool is.  The master takes
 * it as its loop wakes, and again after reaping for each policy tick and
 * report (master_look()).
 *
 * The ceiling is what "full" means: a fixed pool has its target (workers,
 * moved by TTIN and TTOU); a dynamic pool pool.max, unless it cannot grow
 * (a worker exited 78, or the generation was taken over from the binary
 * before an upgrade): then what it has.
 *
 * Every worker is classified by one function, in one loop; a view is a
 * moment old when it is acted on (workers keep writing their slots), and
 * each figure in it is read once.
 */
#ifndef PREFORKD_POOLVIEW_H
#define PREFORKD_POOLVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "pool.h"
#include "scoreboard.h"

/* A busy worker waiting on its client this long is "held". */
#define POOLVIEW_HELD_MS	100
/* An idle worker whose last sign of life is older (workers show one a
 * second) is not counted as idle: stopped or stuck, it serves no one. */
#define POOLVIEW_STALE_MS	2500

/* Workers by state; a retiring worker counts as retiring only. */
enum poolview_kind {
	POOLVIEW_STARTING,
	POOLVIEW_IDLE,
	POOLVIEW_BUSY,
	POOLVIEW_RECYCLED,
	POOLVIEW_RETIRING,
	POOLVIEW_KINDS
};

/* Busy workers by what they wait on: enum slot_wait. */
#define POOLVIEW_WAITS		(SLOT_WRITING + 1)

/* Some workers, counted. */
struct poolview_tally {
	unsigned	 vt_workers;
	unsigned	 vt_kind[POOLVIEW_KINDS];
	unsigned	 vt_wait[POOLVIEW_WAITS];	/* the busy ones */
	unsigned	 vt_held;	/* busy, waiting on the client */
	unsigned	 vt_stale;	/* idle, but no sign of life */
};

struct listeners;

/* What the serving generation wants of the pool (generation_want()). */
struct poolview_want {
	unsigned		 vw_generation;	/* serving */
	unsigned		 vw_next;	/* starting; 0: none */
	unsigned		 vw_target;	/* workers it wants */
	unsigned		 vw_max;	/* ... and may have */
	/* Taken over from the binary before an upgrade: none is added,
	 * so it may have as many as it has. */
	bool			 vw_as_is;
	const struct listeners	*vw_ls;		/* its accept queues */
};

/* The daemon's pool, at one moment. */
struct poolview {
	unsigned		 pv_generation;	/* serving */
	unsigned		 pv_next;	/* starting; 0: none */
	unsigned		 pv_target;	/* workers it wants */
	unsigned		 pv_ceiling;	/* ... and can have: full */
	struct poolview_tally	 pv_serving;	/* its workers */
	struct poolview_tally	 pv_all;	/* every process */
	unsigned		 pv_queued;	/* its accept queues */
	struct pool_gone	 pv_totals;	/* ever, all workers */
	unsigned long long	 pv_log_dropped;	/* by the master */
};

/* The view now, of the pool and what its serving generation wants. */
void	poolview_take(const struct pool *, const struct poolview_want *,
	    struct poolview *);
/* The workers of generation gen, counted the same way. */
void	poolview_count(const struct pool *, unsigned gen,
	    struct poolview_tally *);

/* Of a tally: those not retiring; of those, the ready ones (idle or
 * busy); the idle ones that show signs of life. */
unsigned poolview_active(const struct poolview_tally *);
unsigned poolview_ready(const struct poolview_tally *);
unsigned poolview_idle(const struct poolview_tally *);
/* The same for generation gen of the pool (one count each). */
unsigned poolview_gen_active(const struct pool *, unsigned gen);
unsigned poolview_gen_ready(const struct pool *, unsigned gen);

/* Whether the serving generation is full: at its ceiling, nobody idle
 * and connections waiting. */
bool	poolview_full(const struct poolview *);

const char *poolview_kind_name(enum poolview_kind);

#endif
