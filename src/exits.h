/* SPDX-License-Identifier: ISC */
/*
 * exits.h - what a worker's end means.  Each end is logged once, with
 * its cause: retired (by a reload, a resize or a stop), killed as hung,
 * recycled (max_connections), crashed (young: the pool's crash back-off
 * holds the respawn back) or killed from outside (refilled at once), or
 * unable to run with its configuration (exit 78), which only the master
 * can act on: it rolls a reload back, stops a start, or stops growing.
 */
#ifndef PREFORKD_EXITS_H
#define PREFORKD_EXITS_H

#include <stdbool.h>
#include <stddef.h>

struct pool;
struct pool_worker;

/* A worker that dies sooner than this after its start is crash-looping. */
#define EXITS_YOUNG_SECONDS	1.0

enum exits_verdict {
	EXITS_REFILL,	/* logged; the place is refilled as the pool wants */
	EXITS_FATAL	/* exit 78: for the master to decide (not logged) */
};

/* "status=N" or "signal=N (name)", for the log. */
void	exits_describe(int status, char *buf, size_t size);
/* The end of w (out of the pool p already) with its wait status; how
 * gets its description.  stopping: every end is expected. */
enum exits_verdict exits_judge(struct pool *p, const struct pool_worker *w,
	    int status, bool stopping, char *how, size_t size);

#endif
