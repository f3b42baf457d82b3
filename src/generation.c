/* SPDX-License-Identifier: ISC */
/*
 * generation.c - a configuration generation: its resources, its workers'
 * start, its target.  What a generation is: generation.h.
 */
#include "autoconf.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "generation.h"
#include "log.h"
#include "poolview.h"
#include "tls.h"
#include "worker.h"

void
generation_init(struct generation *g)
{
	memset(g, 0, sizeof(*g));
	g->g_gate[0] = g->g_gate[1] = -1;
}

void
generation_close_gate(struct generation *g)
{
	for (int i = 0; i < 2; i++) {
		if (g->g_gate[i] != -1 && close(g->g_gate[i]) == -1)
			log_warn("close(gate)");
		g->g_gate[i] = -1;
	}
}

void
generation_free(struct generation *g)
{
	generation_close_gate(g);
	listeners_close(&g->g_ls);
	for (size_t i = 0; i < CONFIG_MAX_LISTEN; i++)
		tls_server_free(g->g_tls[i]);
	config_free(g->g_cfg);
	generation_init(g);
}

/*
 * The TLS contexts, once per generation, before its first worker: made
 * from the bytes the configuration check read and built the same
 * contexts from (confcheck.h), so this is computation on checked input,
 * no file and no client; the workers inherit them copy-on-write instead
 * of each building its own (OpenSSL's state is most of a TLS worker's
 * memory).  -1 (logged) only when memory runs out.
 */
static int
generation_tls(struct generation *g)
{
	const struct config	*cfg = g->g_cfg;
	char			 err[1024];

	if (g->g_tls_built)
		return 0;
	for (size_t i = 0; i < cfg->c_nlisten; i++) {
		if (cfg->c_tls[i] == NULL || g->g_tls[i] != NULL)
			continue;
		if ((g->g_tls[i] = tls_server_new(cfg->c_tls[i],
		    cfg->c_tls_secret_ok ? cfg->c_tls_secret : NULL, err,
		    sizeof(err))) == NULL) {
			log_warnx("%s: listen.tls.%s", cfg->c_tls[i]->tc_where,
			    err);
			return -1;
		}
	}
	g->g_tls_built = true;
	return 0;
}

/* A bit for each socket of g that other does not have. */
static uint32_t
generation_new_listeners(const struct generation *g,
    const struct generation *other)
{
	uint32_t	 mask = 0;
	bool		 shared;

	for (size_t i = 0; i < g->g_ls.ls_n; i++) {
		shared = false;
		for (size_t j = 0; other != NULL && j < other->g_ls.ls_n; j++)
			shared = shared || config_same_listen(
			    &g->g_ls.ls[i].l_conf, &other->g_ls.ls[j].l_conf);
		if (!shared)
			mask |= 1u << i;
	}
	return mask;
}

static int
generation_spawn(struct pool *p, struct generation *g,
    const struct generation *other, const sigset_t *mask)
{
	struct worker_args	 wa;

	if (generation_tls(g) == -1)
		return -1;

	/* A worker keeps only its own descriptors (worker.c): a socket of
	 * the other generation would stay open (and accept connections
	 * nobody serves) for as long as the worker lives, and a gate's
	 * write end held by a worker would never let it open. */
	memset(&wa, 0, sizeof(wa));
	wa.wa_config = g->g_cfg;
	wa.wa_listeners = &g->g_ls;
	wa.wa_tls = g->g_tls;
	wa.wa_new_listeners = generation_new_listeners(g, other);
	wa.wa_gate_fd = g->g_gate[0];
	wa.wa_sigmask = *mask;
	return pool_spawn(p, g->g_id, &wa);
}

int
generation_fill(struct pool *p, struct generation *g,
    const struct generation *other, const sigset_t *mask)
{
	if (g->g_adopted)
		return 0;
	while (poolview_gen_active(p, g->g_id) < g->g_target) {
		if (generation_spawn(p, g, other, mask) == -1) {
			/* Try again later, never spin. */
			log_warnx("cannot start a worker; retrying in %.1fs",
			    pool_crashed(p, NULL));
			return -1;
		}
	}
	return 0;
}

/* A dynamic pool sizes itself within its bounds: TTIN and TTOU are for a
 * fixed one. */
static bool
generation_dynamic(const struct generation *g)
{
	if (!g->g_cfg->c_pool_dynamic)
		return false;
	log_notice("TTIN and TTOU size a fixed pool; this one is dynamic "
	    "(pool.min = %u, pool.max = %u): change those and reload",
	    g->g_cfg->c_pool_min, g->g_cfg->c_pool_max);
	return true;
}

bool
generation_resize(struct generation *g, struct pool *p, int by)
{
	if (generation_dynamic(g))
		return false;
	if (by > 0) {
		if (g->g_target >= CONFIG_MAX_WORKERS)
			return false;
		generation_set_target(g, g->g_target + 1, "TTIN");
		log_notice("workers=%u (one more on TTIN)", g->g_target);
		return true;
	}
	if (g->g_target <= 1)
		return false;
	generation_set_target(g, g->g_target - 1, "TTOU");
	pool_retire_youngest(p, g->g_id, g->g_cfg->c_timeout_shutdown);
	log_notice("workers=%u (one less on TTOU)", g->g_target);
	return true;
}

void
generation_want(const struct generation *cur, unsigned next,
    bool no_growth, struct poolview_want *want)
{
	*want = (struct poolview_want){
		.vw_generation = cur->g_id,
		.vw_next = next,
		.vw_target = cur->g_target,
		/* A fixed pool, or one that may not grow, is at its ceiling
		 * at its target. */
		.vw_max = !cur->g_cfg->c_pool_dynamic || no_growth ?
		    cur->g_target : cur->g_cfg->c_pool_max,
		.vw_as_is = cur->g_adopted,
		.vw_ls = &cur->g_ls,
	};
}

void
generation_set_target(struct generation *g, unsigned n, const char *why)
{
	if (g->g_target == n)
		return;
	log_debug("generation=%u target %u -> %u: %s", g->g_id, g->g_target,
	    n, why);
	g->g_target = n;
}
