/* SPDX-License-Identifier: ISC */
/*
 * poolview.c - the pool counted once (see poolview.h).
 */
#include "autoconf.h"

#include <string.h>

#include "listener.h"
#include "log.h"
#include "poolview.h"
#include "scoreboard.h"

/* What one worker is doing, read once from its slot. */
struct poolview_one {
	enum poolview_kind	 vo_kind;
	uint32_t		 vo_wait;	/* when busy */
	bool			 vo_held;
	bool			 vo_stale;
};

static void
poolview_classify(const struct pool_worker *w, int64_t now,
    struct poolview_one *o)
{
	struct slot_reading	 r;

	memset(o, 0, sizeof(*o));
	o->vo_wait = SLOT_RUNNING;
	if (w->pw_retiring) {
		o->vo_kind = POOLVIEW_RETIRING;
		return;
	}
	/* Checked, in one piece (pool_read()): an unknown state counts as
	 * starting, which is neither ready nor idle. */
	(void)pool_read(w, now, &r);
	switch (r.sr_state) {
	case SLOT_IDLE:
		o->vo_kind = POOLVIEW_IDLE;
		o->vo_stale = now - r.sr_beat >= POOLVIEW_STALE_MS;
		break;
	case SLOT_BUSY:
		o->vo_kind = POOLVIEW_BUSY;
		o->vo_wait = r.sr_wait < POOLVIEW_WAITS ? r.sr_wait :
		    SLOT_RUNNING;
		o->vo_held = o->vo_wait != SLOT_RUNNING &&
		    now - r.sr_wait_since >= POOLVIEW_HELD_MS;
		break;
	case SLOT_RECYCLED:
		o->vo_kind = POOLVIEW_RECYCLED;
		break;
	default:
		o->vo_kind = POOLVIEW_STARTING;
		break;
	}
}

static void
poolview_add(struct poolview_tally *t, const struct poolview_one *o)
{
	t->vt_workers++;
	t->vt_kind[o->vo_kind]++;
	if (o->vo_kind == POOLVIEW_BUSY)
		t->vt_wait[o->vo_wait]++;
	t->vt_held += o->vo_held;
	t->vt_stale += o->vo_stale;
}

/* The one loop: every worker into all (unless NULL), and those of
 * generation gen into g too. */
static void
poolview_scan(const struct pool *p, unsigned gen, struct poolview_tally *g,
    struct poolview_tally *all)
{
	int64_t			 now = scoreboard_ms();
	struct poolview_one	 o;

	memset(g, 0, sizeof(*g));
	if (all != NULL)
		memset(all, 0, sizeof(*all));
	for (size_t i = 0; i < p->p_n; i++) {
		const struct pool_worker *w = &p->p_workers[i];

		if (all == NULL && w->pw_generation != gen)
			continue;
		poolview_classify(w, now, &o);
		if (all != NULL)
			poolview_add(all, &o);
		if (w->pw_generation == gen)
			poolview_add(g, &o);
	}
}

void
poolview_count(const struct pool *p, unsigned gen, struct poolview_tally *t)
{
	poolview_scan(p, gen, t, NULL);
}

/* How many the serving generation can have now (see poolview.h). */
static unsigned
poolview_ceiling(const struct poolview_want *want,
    const struct poolview_tally *t)
{
	if (want->vw_as_is)
		return poolview_active(t);	/* none is added to it */
	return want->vw_max;
}

void
poolview_take(const struct pool *p, const struct poolview_want *want,
    struct poolview *v)
{
	memset(v, 0, sizeof(*v));
	v->pv_generation = want->vw_generation;
	v->pv_next = want->vw_next;
	v->pv_target = want->vw_target;
	poolview_scan(p, want->vw_generation, &v->pv_serving, &v->pv_all);
	v->pv_ceiling = poolview_ceiling(want, &v->pv_serving);
	v->pv_queued = listeners_queued(want->vw_ls);
	v->pv_totals = pool_totals(p);
	v->pv_log_dropped = log_dropped();
}

unsigned
poolview_active(const struct poolview_tally *t)
{
	return t->vt_workers - t->vt_kind[POOLVIEW_RETIRING];
}

unsigned
poolview_ready(const struct poolview_tally *t)
{
	return t->vt_kind[POOLVIEW_IDLE] + t->vt_kind[POOLVIEW_BUSY];
}

unsigned
poolview_idle(const struct poolview_tally *t)
{
	return t->vt_kind[POOLVIEW_IDLE] - t->vt_stale;
}

unsigned
poolview_gen_active(const struct pool *p, unsigned gen)
{
	struct poolview_tally	 t;

	poolview_count(p, gen, &t);
	return poolview_active(&t);
}

unsigned
poolview_gen_ready(const struct pool *p, unsigned gen)
{
	struct poolview_tally	 t;

	poolview_count(p, gen, &t);
	return poolview_ready(&t);
}

bool
poolview_full(const struct poolview *v)
{
	return poolview_active(&v->pv_serving) >= v->pv_ceiling &&
	    poolview_idle(&v->pv_serving) == 0 && v->pv_queued > 0;
}

const char *
poolview_kind_name(enum poolview_kind k)
{
	switch (k) {
	case POOLVIEW_STARTING:	return "starting";
	case POOLVIEW_IDLE:	return "idle";
	case POOLVIEW_BUSY:	return "busy";
	case POOLVIEW_RECYCLED:	return "recycled";
	case POOLVIEW_RETIRING:	return "retiring";
	default:		return "?";
	}
}
