/* SPDX-License-Identifier: ISC */
/*
 * generation.h - a configuration generation: a configuration, its
 * listening sockets, the gate its workers wait at before they serve, and
 * how many workers it wants.  The reload that starts, commits and rolls back
 * generations is reload.h; the workers themselves are in the pool
 * (pool.h), each marked with its generation's number.
 */
#ifndef PREFORKD_GENERATION_H
#define PREFORKD_GENERATION_H

#include <signal.h>
#include <stdbool.h>
#include <time.h>

#include "listener.h"
#include "pool.h"
#include "poolview.h"

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
	/* Each TLS listener's context (tls.h), built once before the
	 * generation's first worker is forked: every worker shares it
	 * copy-on-write.  NULL: clear text, or not built yet. */
	struct tls_server	*g_tls[CONFIG_MAX_LISTEN];
	bool			 g_tls_built;
};

void	generation_init(struct generation *);
void	generation_free(struct generation *);
/* Close the gate: its workers, waiting for EOF on it, serve. */
void	generation_close_gate(struct generation *);
/* Start the workers g lacks, the descriptors of other (the generation
 * beside it, or NULL) kept out of them; -1 once a fork() failed. */
int	generation_fill(struct pool *, struct generation *g,
	    const struct generation *other, const sigset_t *worker_mask);
/* What cur, serving (next: the starting one's number, or 0), wants of
 * the pool, for its view (poolview.h); no_growth: a dynamic pool that
 * may not grow (a worker exited 78), whose ceiling is its target. */
void	generation_want(const struct generation *cur, unsigned next,
	    bool no_growth, struct poolview_want *);
/* TTIN (by 1) and TTOU (by -1), for a fixed pool: one worker more or
 * less (the youngest retires), never below 1 or above the maximum; false
 * when nothing changed. */
bool	generation_resize(struct generation *, struct pool *, int by);
/*
 * The one way a generation's target changes: each writer (the start, a
 * reload, TTIN and TTOU, the pool's sizing, a fatal exit, an upgrade's
 * take-over) says why, and the change is logged at debug with the reason.
 */
void	generation_set_target(struct generation *, unsigned n,
	    const char *why);

#endif
