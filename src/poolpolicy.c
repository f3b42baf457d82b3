/* SPDX-License-Identifier: ISC */
/*
 * poolpolicy.c - the maintenance tick (see poolpolicy.h for the sizing rule).
 *
 * Everything here reads the scoreboard, which workers write without
 * asking: a view is a moment old when it is acted on, and every action
 * is safe against that.  A worker picked to retire while idle that has
 * just taken a connection finishes it first (its deadline allows for a
 * whole connection); a shed request names the connection by the number
 * the worker published, so one that ended in between is never cut.
 * And every slot is read through pool_read(), checked: a worker can write
 * anything there, and a garbled slot must not steer the master (see
 * scoreboard.h).
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "notify.h"
#include "poolview.h"
#include "scoreboard.h"
#include "status.h"
#include "poolpolicy.h"

void
poolpolicy_init(struct poolpolicy *pp)
{
	memset(pp, 0, sizeof(*pp));
	pp->pp_rate = POOLPOLICY_RATE_FIRST;
	pp->pp_next = clock_now();
}

void
poolpolicy_freeze(struct poolpolicy *pp)
{
	pp->pp_no_growth = true;
}

void
poolpolicy_reset(struct poolpolicy *pp)
{
	pp->pp_rate = POOLPOLICY_RATE_FIRST;
	pp->pp_calm = 0;
	pp->pp_idle_ticks = 0;
	pp->pp_no_growth = false;
}

struct timespec
poolpolicy_due(const struct poolpolicy *pp)
{
	return pp->pp_next;
}

/* Too many idle for a while: one fewer. */
static int
poolpolicy_shrink(struct poolpolicy *pp, const struct config *cfg,
    const struct poolview_tally *t)
{
	if (poolview_idle(t) > cfg->c_idle_max &&
	    poolview_active(t) > cfg->c_pool_min) {
		/* Hysteresis: idle for a while, not between two bursts. */
		if (++pp->pp_idle_ticks >= POOLPOLICY_SHRINK_TICKS)
			return -1;
		return 0;
	}
	pp->pp_idle_ticks = 0;
	return 0;
}

int
poolpolicy_size(struct poolpolicy *pp, const struct config *cfg,
    const struct poolview *v)
{
	const struct poolview_tally *t = &v->pv_serving;
	unsigned	 want, add, active = poolview_active(t);
	unsigned	 held = t->vt_held;
	unsigned	 starting = t->vt_kind[POOLVIEW_STARTING];

	if (!cfg->c_pool_dynamic)
		return 0;
	/* Free: neither held nor still starting (a worker just forked has
	 * not taken its first client from the queue yet). */
	want = held + cfg->c_idle_min;
	if (held > 0 && active - held - starting < cfg->c_idle_min)
		want += v->pv_queued;
	if (want < cfg->c_pool_min)
		want = cfg->c_pool_min;
	/* Last: a pool that cannot grow stays below pool.min. */
	if (want > v->pv_ceiling)
		want = v->pv_ceiling;
	if (want > active) {
		add = want - active;
		if (add > pp->pp_rate)
			add = pp->pp_rate;
		if (pp->pp_rate < POOLPOLICY_RATE_MAX)
			pp->pp_rate *= 2;
		pp->pp_idle_ticks = 0;
		pp->pp_calm = 0;
		return (int)add;
	}
	/* The workers just added take a tick or two to be seen held: the
	 * growth is over only after POOLPOLICY_RATE_KEEP ticks without any. */
	if (starting == 0 && pp->pp_calm < POOLPOLICY_RATE_KEEP &&
	    ++pp->pp_calm == POOLPOLICY_RATE_KEEP)
		pp->pp_rate = POOLPOLICY_RATE_FIRST;
	return poolpolicy_shrink(pp, cfg, t);
}

/*
 * A worker retired for being idle may have taken a connection meanwhile:
 * it finishes it (every connection ends within timeouts.connection)
 * before the retirement deadline kills it.
 */
static double
poolpolicy_grace(const struct config *cfg)
{
	double	 g = cfg->c_timeout_connection + 1;

	return g > cfg->c_timeout_shutdown ? g : cfg->c_timeout_shutdown;
}

static void
poolpolicy_reset_rate(struct poolpolicy *pp)
{
	pp->pp_rate = POOLPOLICY_RATE_FIRST;
}

static void
poolpolicy_resize(struct poolpolicy *pp, struct pool *p, struct generation *g,
    const struct poolview *v, struct timespec now)
{
	const struct config	*cfg = g->g_cfg;
	const struct poolview_tally *t = &v->pv_serving;
	unsigned		 active = poolview_active(t);
	int			 delta;

	/* While crashes hold spawning back, the growth rate waits too. */
	if (pool_backing_off(p, now)) {
		poolpolicy_reset_rate(pp);
		return;
	}
	/* A pool that cannot grow has its ceiling where it is: no growth. */
	delta = poolpolicy_size(pp, cfg, v);
	if (delta > 0) {
		generation_set_target(g, active + (unsigned)delta, "held "
		    "workers or a queue: the pool grows");
		log_info("pool growing workers=%u held=%u idle=%u (max %u)",
		    g->g_target, t->vt_held, poolview_idle(t), v->pv_ceiling);
	} else if (delta < 0 && pool_retire_idle(p, g->g_id,
	    POOLPOLICY_MIN_AGE, poolpolicy_grace(cfg))) {
		generation_set_target(g, active - 1, "too many idle: the pool "
		    "shrinks");
		log_info("pool shrinking workers=%u idle=%u (idle_max %u)",
		    g->g_target, poolview_idle(t) - 1, cfg->c_idle_max);
	} else if (g->g_target < active)
		generation_set_target(g, active, "more are running than it "
		    "wanted");
}

/*
 * How long the client of a busy worker has made no progress: sent
 * nothing while the worker waits to read, taken nothing while it waits
 * to write (each wait starts at the last progress).  Which connection
 * that is, which wait and who; -1 if it is not waiting on its client (or
 * its slot could not be read in one piece), or it was asked to shed that
 * one already.
 */
static int64_t
poolpolicy_silence(const struct pool_worker *w, int64_t now, uint64_t *conn,
    uint32_t *wait, struct addr *peer)
{
	struct slot_reading	 r;

	if (!pool_read(w, now, &r) || r.sr_state != SLOT_BUSY ||
	    (r.sr_wait != SLOT_READING && r.sr_wait != SLOT_WRITING) ||
	    atomic_load(&w->pw_slot->sl_shed_req) == r.sr_conn)
		return -1;
	*conn = r.sr_conn;
	*wait = r.sr_wait;
	*peer = r.sr_peer;
	return now - r.sr_wait_since;
}

/* The busy worker of gen whose client has made no progress for longest,
 * at least POOLPOLICY_SHED_SILENT_MS, and not asked to shed it already. */
static struct pool_worker *
poolpolicy_most_silent(struct pool *p, unsigned gen, int64_t now,
    int64_t *silent, uint64_t *conn, uint32_t *wait, struct addr *peer)
{
	struct pool_worker	*pick = NULL;
	struct addr		 who;
	uint64_t		 c;
	uint32_t		 wt;
	int64_t			 s;

	*silent = 0;
	for (size_t i = 0; i < p->p_n; i++) {
		struct pool_worker *w = &p->p_workers[i];

		if (w->pw_generation != gen || w->pw_retiring)
			continue;
		s = poolpolicy_silence(w, now, &c, &wt, &who);
		if (s >= POOLPOLICY_SHED_SILENT_MS && s > *silent) {
			*silent = s;
			*conn = c;
			*wait = wt;
			*peer = who;
			pick = w;
		}
	}
	return pick;
}

/*
 * The pool is at its ceiling, nobody is idle and connections wait in the
 * accept queue: the clients that have made no progress for longest (sent
 * nothing, or taken nothing of what they were sent) give their worker
 * up, one for each connection waiting (up to idle_min, at least one, a
 * tick).  The wait for them is cut short; nothing else is.
 */
static void
poolpolicy_shed(struct poolpolicy *pp, struct pool *p,
    const struct generation *g, const struct poolview *v, int64_t now)
{
	const struct config	*cfg = g->g_cfg;
	struct pool_worker	*w;
	unsigned		 n;
	unsigned long		 held;
	uint64_t		 conn;
	uint32_t		 wait;
	int64_t			 silent;
	struct addr		 peer;
	char			 name[ADDR_STRLEN];

	if (!poolview_full(v))
		return;
	n = cfg->c_idle_min > 0 ? cfg->c_idle_min : 1;
	if (n > v->pv_queued)
		n = v->pv_queued;
	while (n-- > 0 &&
	    (w = poolpolicy_most_silent(p, g->g_id, now, &silent,
	    &conn, &wait, &peer)) != NULL) {
		pool_shed(w, conn);
		pp->pp_shed++;
		if (!log_limit_allow(&pp->pp_shed_log, &held))
			continue;
		addr_format(&peer, name, sizeof(name));
		log_notice("pool full (%u workers, %u queued): shedding "
		    "peer=%s wait=%s silent=%.1fs pid=%ld shed=%llu (%lu more "
		    "suppressed)", poolview_active(&v->pv_serving),
		    v->pv_queued, name, scoreboard_wait_name(wait),
		    (double)silent / 1000, (long)w->pw_pid,
		    pp->pp_shed, held);
	}
}

/*
 * A worker busy with one connection for longer than timeouts.hung (every
 * connection ends by timeouts.connection, which is shorter), or one that
 * has shown no sign of life for as long (idle workers show one each
 * second), is stuck: stopped, looping, blocked.  It is killed and
 * replaced.  Retiring workers have their own deadline, and a starting
 * generation its own.
 */
static void
poolpolicy_hung(struct pool *p, const struct generation *cur, unsigned next,
    int64_t now)
{
	double		 hung = cur->g_cfg->c_timeout_hung;
	char		 name[ADDR_STRLEN];

	if (hung == 0)
		return;
	for (size_t i = 0; i < p->p_n; i++) {
		struct pool_worker *w = &p->p_workers[i];
		struct slot_reading r;
		double age;

		if (w->pw_retiring || w->pw_killed ||
		    (next != 0 && w->pw_generation == next))
			continue;
		pool_read(w, now, &r);
		age = (double)(now - (r.sr_state == SLOT_BUSY ? r.sr_since :
		    r.sr_beat)) / 1000;
		if (age <= hung)
			continue;
		if (r.sr_state == SLOT_BUSY) {
			addr_format(&r.sr_peer, name, sizeof(name));
			log_warnx("killed hung worker pid=%ld busy=%.1fs "
			    "peer=%s", (long)w->pw_pid, age, name);
		} else
			log_warnx("killed hung worker pid=%ld state=%s "
			    "silent=%.1fs", (long)w->pw_pid,
			    scoreboard_state_name(r.sr_state), age);
		pool_kill_hung(w);
	}
}

/* STATUS= with the pool's figures, when they changed, once a second. */
static void
poolpolicy_status(struct poolpolicy *pp, const struct status_facts *f,
    struct timespec now)
{
	char	 status[sizeof(pp->pp_status)];

	if (clock_diff(pp->pp_status_at, now) < POOLPOLICY_STATUS_EVERY)
		return;
	status_line(f, status, sizeof(status));
	if (strcmp(status, pp->pp_status) == 0)
		return;
	pp->pp_status_at = now;
	/* Remembered only once sent: a dropped line is sent again. */
	if (notify_status(status) == 0)
		memcpy(pp->pp_status, status, sizeof(status));
}

void
poolpolicy_run(struct poolpolicy *pp, struct pool *p, struct generation *cur,
    const struct status_facts *f, struct timespec now)
{
	int64_t		 ms = scoreboard_ms();
	unsigned	 next = f->sf_next->g_id;

	if (clock_diff(pp->pp_next, now) < 0)
		return;
	pp->pp_next = clock_after(now, POOLPOLICY_TICK);
	poolpolicy_hung(p, cur, next, ms);
	if (next != 0 || !cur->g_announced)
		return;		/* sizing waits for a settled pool */
	/* The master's one view of this turn: sizing, shedding, STATUS=,
	 * the answers and the agent agree. */
	poolpolicy_resize(pp, p, cur, f->sf_view, now);
	poolpolicy_shed(pp, p, cur, f->sf_view, ms);
	poolpolicy_status(pp, f, now);
}
