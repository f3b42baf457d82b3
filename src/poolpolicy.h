/* SPDX-License-Identifier: ISC */
/*
 * poolpolicy.h - the pool's policy, applied at the master's periodic look:
 * size it, shed connections when it is full, replace hung workers, tell
 * systemd.
 *
 * Each tick reads the master's view of the pool for this turn
 * (poolview.h) and acts on it.
 *
 * Sizing grows the pool for slow clients, not for a busy CPU.  A busy
 * worker that has waited on its client for POOLVIEW_HELD_MS is "held": it
 * cannot run anyone else's connection however idle the CPU is, so the
 * pool adds one for it.  A worker busy running a connection is not:
 * another process would only compete with it for the same CPUs.  So a
 * dynamic pool wants
 *
 *	held + idle_min workers, within pool.min .. the ceiling (pool.max
 *	unless the pool cannot grow),
 *
 * and, while fewer than idle_min workers are free (not held) and
 * connections wait in the accept queue, one more for each of those too:
 * at the start of an attack the held workers are few and the queue is
 * full of clients that will hold the next ones; adding two at a time
 * would leave everyone queued for seconds.  A queue behind workers that
 * are merely running (a CPU-bound load) adds nothing.  The pool grows
 * towards that at a rate that doubles each tick it grows
 * (POOLPOLICY_RATE_FIRST ... POOLPOLICY_RATE_MAX; back to the first after
 * POOLPOLICY_RATE_KEEP ticks without growth), and retires one idle worker a
 * tick once
 * more than idle_max have been idle for POOLPOLICY_SHRINK_TICKS in a row,
 * never one younger than POOLPOLICY_MIN_AGE.
 */
#ifndef PREFORKD_POOLPOLICY_H
#define PREFORKD_POOLPOLICY_H

#include <stdbool.h>
#include <time.h>

#include "loglimit.h"

#define POOLPOLICY_TICK	0.1	/* seconds between looks */
#define POOLPOLICY_RATE_FIRST	4	/* workers started per tick, at first */
#define POOLPOLICY_RATE_MAX	32	/* ... and at most */
#define POOLPOLICY_RATE_KEEP	5	/* ticks without growth: rate over */
#define POOLPOLICY_SHRINK_TICKS	10	/* too many idle for this long */
#define POOLPOLICY_MIN_AGE	5.0	/* seconds before it may retire */
/* A client that has sent nothing, or taken none of what it was sent, for
 * this long, while the pool is full, may be shed. */
#define POOLPOLICY_SHED_SILENT_MS	1000
#define POOLPOLICY_STATUS_EVERY	1.0	/* seconds between STATUS= */

struct config;
struct generation;
struct pool;
struct poolview;
struct status_facts;

struct poolpolicy {
	struct timespec	 pp_next;	/* the next tick */
	unsigned	 pp_rate;	/* workers to add at most, this tick */
	unsigned	 pp_calm;	/* ticks in a row without growth */
	unsigned	 pp_idle_ticks;	/* ticks in a row above idle_max */
	/* A worker could not run with this configuration (exit 78): the
	 * pool stays the size it has until the next reload. */
	bool		 pp_no_growth;
	struct timespec	 pp_status_at;	/* STATUS= last sent */
	char		 pp_status[160];
	unsigned long long pp_shed;	/* shed requests made */
	struct log_limit pp_shed_log;
};

void	poolpolicy_init(struct poolpolicy *);
/* A worker cannot run with this configuration (exit 78): the pool stays
 * the size it has until the next reload (poolpolicy_reset()). */
void	poolpolicy_freeze(struct poolpolicy *);
/* A new generation serves: the sizing starts over. */
void	poolpolicy_reset(struct poolpolicy *);
/* When the next tick is due. */
struct timespec poolpolicy_due(const struct poolpolicy *);
/* Run the tick if due, on the pool p whose serving generation is cur,
 * from the facts of this turn (status.h), its view of the pool among
 * them. */
void	poolpolicy_run(struct poolpolicy *, struct pool *p,
	    struct generation *cur, const struct status_facts *,
	    struct timespec now);

/*
 * The sizing decision alone, for the tests: how many workers to add (> 0)
 * or retire (< 0) given cfg's bounds and the view (its serving
 * generation, queue and ceiling); it updates the rate and the shrink
 * count in pp.
 */
int	poolpolicy_size(struct poolpolicy *, const struct config *,
	    const struct poolview *);

#endif
