/* SPDX-License-Identifier: ISC */
/*
 * generation.c - configuration generations: start, commit, roll back.
 * The design is in generation.h.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "notify.h"
#include "poolview.h"
#include "proctitle.h"
#include "service.h"
#include "status.h"
#include "worker.h"

void
generation_init(struct generation *g)
{
	memset(g, 0, sizeof(*g));
	g->g_gate[0] = g->g_gate[1] = -1;
	sidedoor_socket_init(&g->g_agent);
	sidedoor_socket_init(&g->g_metrics);
}

static void
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
	sidedoor_socket_close(&g->g_agent);
	sidedoor_socket_close(&g->g_metrics);
	config_free(g->g_cfg);
	generation_init(g);
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
		for (size_t j = 0; j < other->g_ls.ls_n; j++)
			shared = shared || config_same_listen(
			    &g->g_ls.ls[i].l_conf, &other->g_ls.ls[j].l_conf);
		if (!shared)
			mask |= 1u << i;
	}
	return mask;
}

static int
generation_spawn(struct master *m, struct generation *g)
{
	const struct generation	*other = g == &m->m_cur ? &m->m_next :
	    &m->m_cur;
	struct worker_args	 wa;

	/* A worker keeps only its own descriptors (worker.c): a socket of
	 * the other generation would stay open (and accept connections
	 * nobody serves) for as long as the worker lives, and a gate's
	 * write end held by a worker would never let it open. */
	memset(&wa, 0, sizeof(wa));
	wa.wa_config = g->g_cfg;
	wa.wa_listeners = &g->g_ls;
	wa.wa_new_listeners = generation_new_listeners(g, other);
	wa.wa_gate_fd = g->g_gate[0];
	wa.wa_sigmask = m->m_waitmask;
	return pool_spawn(&m->m_pool, g->g_id, &wa);
}

/* Start the workers g lacks; -1 once a fork() failed. */
static int
generation_fill(struct master *m, struct generation *g)
{
	if (g->g_adopted)
		return 0;
	while (poolview_gen_active(&m->m_pool, g->g_id) < g->g_target) {
		if (generation_spawn(m, g) == -1) {
			/* Try again later, never spin. */
			log_warnx("cannot start a worker; retrying in %.1fs",
			    pool_crashed(&m->m_pool, NULL));
			return -1;
		}
	}
	return 0;
}

void
generation_fill_all(struct master *m)
{
	if (m->m_stopping || pool_backing_off(&m->m_pool, clock_now()))
		return;
	if (generation_fill(m, &m->m_cur) == 0 && m->m_next.g_id != 0)
		generation_fill(m, &m->m_next);
}

/* The reload under way is over: those who asked for it hear how. */
static void
generation_settled(struct master *m, unsigned long reload, bool ok,
    const char *what)
{
	if (ok)
		m->m_reloads_ok++;
	else
		m->m_reloads_failed++;
	control_reload_settled(&m->m_control, reload, ok, what);
}

static void	generation_reload_again(struct master *);

static void
generation_announce(struct master *m)
{
	char	 status[256];

	m->m_cur.g_announced = true;
	proctitle_set("master gen=%u -c %s", m->m_cur.g_id, m->m_file);
	status_line(m, status, sizeof(status));
	log_info("ready generation=%u workers=%u", m->m_cur.g_id,
	    poolview_gen_ready(&m->m_pool, m->m_cur.g_id));
	if (m->m_cur.g_committed) {
		log_info("reloaded generation=%u workers=%u; generation=%u "
		    "retiring", m->m_cur.g_id, m->m_cur.g_target,
		    m->m_cur.g_replaced);
		snprintf(status, sizeof(status), "reloaded generation=%u "
		    "workers=%u", m->m_cur.g_id, m->m_cur.g_target);
		generation_settled(m, m->m_cur.g_reload, true, status);
		status_line(m, status, sizeof(status));
	}
	notify_ready(status);
	/* A HUP that came meanwhile: only now, after READY=1. */
	if (m->m_cur.g_committed)
		generation_reload_again(m);
}

/* A HUP that came while a generation started is done now. */
static void
generation_reload_again(struct master *m)
{
	if (m->m_reload_again) {
		m->m_reload_again = false;
		generation_reload(m);
	}
}

/* The new generation is ready: it takes over, the old one retires. */
static void
generation_commit(struct master *m)
{
	struct generation	 old = m->m_cur;

	/* Retire first: an old worker learns it is retiring no later than
	 * the new ones may serve. */
	pool_retire_others(&m->m_pool, m->m_next.g_id,
	    m->m_next.g_cfg->c_timeout_shutdown);
	m->m_cur = m->m_next;
	generation_init(&m->m_next);
	listeners_defer(&m->m_cur.g_ls, m->m_cur.g_cfg);
	generation_close_gate(&m->m_cur);		/* EOF: serve */
	/* Sockets no longer listed stop accepting now (and leave systemd's
	 * store); shared ones stay.  New ones join the store before READY=1
	 * says the reload is done. */
	listeners_close_unlisted(&old.g_ls, &m->m_cur.g_ls);
	listeners_store(&m->m_cur.g_ls);
	log_reconfigure(m->m_cur.g_cfg->c_log_facility,
	    m->m_cur.g_cfg->c_log_level);
	control_reconfigure(&m->m_control, m->m_cur.g_cfg->c_control);
	agent_commit(&m->m_agent, &m->m_cur.g_agent, m->m_cur.g_cfg);
	metrics_commit(&m->m_metrics, &m->m_cur.g_metrics, m->m_cur.g_cfg);
	upkeep_reset(&m->m_upkeep);
	m->m_cur.g_committed = true;
	m->m_cur.g_replaced = old.g_id;
	m->m_cur.g_quiet_by = clock_after(clock_now(),
	    GENERATION_QUIET_SECONDS);
	generation_free(&old);
	generation_check_ready(m);
}

/*
 * The generations before a committed one take no new connection: each of
 * their workers is either out of accept() for good or lying about it, and
 * then it is given GENERATION_QUIET_SECONDS at most.  Only then is the
 * new generation announced, so "ready generation=N" (and READY=1) means
 * that every connection from then on is served by generation N.
 */
static bool
generation_quiet(const struct master *m)
{
	if (!m->m_cur.g_committed ||
	    !pool_others_accepting(&m->m_pool, m->m_cur.g_id))
		return true;
	if (clock_diff(clock_now(), m->m_cur.g_quiet_by) > 0)
		return false;
	log_warnx("a retired worker still says it is accepting %.0fs after "
	    "generation=%u took over; announcing it all the same",
	    GENERATION_QUIET_SECONDS, m->m_cur.g_id);
	return true;
}

/* Ready to announce but for the old generation's last accept(). */
static bool
generation_waits_quiet(const struct master *m)
{
	return !m->m_cur.g_announced && m->m_cur.g_committed &&
	    poolview_gen_ready(&m->m_pool, m->m_cur.g_id) >=
	    m->m_cur.g_target;
}

bool
generation_next_look(const struct master *m, struct timespec *when)
{
	if (m->m_stopping || !generation_waits_quiet(m))
		return false;
	*when = clock_after(clock_now(), GENERATION_QUIET_LOOK_MS / 1000.0);
	return true;
}

/* READY=1 again after RELOADING=1, but never for a generation that has
 * not been ready yet (a reload during start-up). */
static void
generation_notify_failed(struct master *m, const char *status)
{
	if (m->m_cur.g_announced)
		notify_ready(status);
	else
		notify_status(status);
}

void
generation_rollback(struct master *m, const char *why)
{
	unsigned	 failed = m->m_next.g_id;
	unsigned long	 reload = m->m_next.g_reload;
	char		 status[256];

	log_warnx("reload failed: generation=%u %s; generation=%u keeps "
	    "serving with the previous configuration", m->m_next.g_id, why,
	    m->m_cur.g_id);
	/* TERM before the gate closes: they exit instead of serving. */
	pool_retire_generation(&m->m_pool, m->m_next.g_id,
	    m->m_cur.g_cfg->c_timeout_shutdown);
	generation_free(&m->m_next);
	/* A kept socket's backlog and deferral may have been changed. */
	listeners_relisten(&m->m_cur.g_ls);
	/* The new generation's crashes must not hold the old one back. */
	pool_backoff_reset(&m->m_pool);
	if (m->m_cur.g_adopted)
		log_warnx("generation=%u, taken over from the binary before "
		    "the upgrade, serves on with workers=%u and gets no new "
		    "ones: fix the cause and reload", m->m_cur.g_id,
		    poolview_gen_active(&m->m_pool, m->m_cur.g_id));
	snprintf(status, sizeof(status), "reload failed (%s); running "
	    "generation %u", why, m->m_cur.g_id);
	generation_notify_failed(m, status);
	snprintf(status, sizeof(status), "generation=%u %s; generation=%u "
	    "keeps serving", failed, why, m->m_cur.g_id);
	generation_settled(m, reload, false, status);
	generation_check_ready(m);
	generation_reload_again(m);
}

void
generation_check_ready(struct master *m)
{
	if (m->m_stopping)
		return;
	/* The running generation first: a commit announces it here too. */
	if (!m->m_cur.g_announced &&
	    poolview_gen_ready(&m->m_pool, m->m_cur.g_id) >=
	    m->m_cur.g_target && (m->m_next.g_id == 0 || m->m_cur.g_committed) &&
	    generation_quiet(m))
		generation_announce(m);
	if (m->m_next.g_id != 0 &&
	    poolview_gen_ready(&m->m_pool, m->m_next.g_id) >=
	    m->m_next.g_target)
		generation_commit(m);
}

void
generation_check_deadline(struct master *m, struct timespec now)
{
	char	 why[64];

	if (m->m_next.g_id != 0 && clock_diff(m->m_next.g_deadline, now) > 0) {
		/* The last one may be ready unseen: look first. */
		pool_read_ready(&m->m_pool);
		generation_check_ready(m);
	}
	if (m->m_next.g_id != 0 && clock_diff(m->m_next.g_deadline, now) > 0) {
		snprintf(why, sizeof(why), "was not ready within %.0fs "
		    "(%u of %u workers)", GENERATION_START_SECONDS,
		    poolview_gen_ready(&m->m_pool, m->m_next.g_id),
		    m->m_next.g_target);
		generation_rollback(m, why);
	}
}

/* Take the checked configuration and open its sockets beside the
 * running ones. */
static int
generation_prepare(struct master *m, struct generation *g,
    struct config *cfg)
{
	struct listeners	 copy;
	int			 rc;

	g->g_cfg = cfg;
	notify_reloading();
	if ((rc = listeners_dup(&copy, &m->m_cur.g_ls)) == 0) {
		rc = listeners_open(&g->g_ls, g->g_cfg, &copy);
		listeners_close(&copy);		/* those not wanted */
	}
	if (rc == 0 && pipe2(g->g_gate, O_CLOEXEC) == -1) {
		log_warn("pipe2(gate)");
		rc = -1;
	}
	if (rc == 0 && agent_prepare(&m->m_agent, &g->g_agent, g->g_cfg))
		rc = -1;
	if (rc == 0 && metrics_prepare(&m->m_metrics, &g->g_metrics,
	    g->g_cfg))
		rc = -1;
	if (rc == -1) {
		log_warnx("reload failed: cannot open the listening sockets "
		    "or the agent's or the metrics' port; keeping the running "
		    "configuration");
		listeners_relisten(&m->m_cur.g_ls);
		generation_free(g);
		generation_notify_failed(m, "reload failed; running the "
		    "previous configuration");
		return -1;
	}
	return 0;
}

/*
 * The new generation starts at the size the running one has now, within
 * its own bounds: a reload under load does not shrink the pool to its
 * minimum and grow it again.
 */
static unsigned
generation_start_size(const struct master *m, const struct config *cfg)
{
	unsigned	 n = m->m_cur.g_target;

	if (n < cfg->c_pool_min)
		n = cfg->c_pool_min;
	if (n > cfg->c_pool_max)
		n = cfg->c_pool_max;
	return n;
}

void
generation_reload(struct master *m)
{
	if (m->m_stopping)
		return;
	if (m->m_draining) {
		log_notice("reload requested while draining to stop: "
		    "ignored");
		return;
	}
	if (m->m_next.g_id != 0 || confcheck_running(&m->m_check) ||
	    (m->m_cur.g_committed && !m->m_cur.g_announced)) {
		/* One reload at a time, to its READY=1; the file is read
		 * again once this one is settled (once, however many HUPs
		 * came meanwhile). */
		if (!m->m_reload_again)
			log_info("reload requested while the one before is "
			    "under way; it follows once that one is settled");
		m->m_reload_again = true;
		return;
	}
	log_info("reloading %s", m->m_file);
	m->m_reload_seq++;
	if (confcheck_start(&m->m_check, m->m_file) == -1) {
		log_warnx("reload failed: cannot check %s; keeping the "
		    "running configuration", m->m_file);
		generation_settled(m, m->m_reload_seq, false,
		    "the check cannot start");
		generation_reload_again(m);
	}
}

void
generation_check_read(struct master *m)
{
	struct generation	*g = &m->m_next;
	struct config		*cfg;
	char			 err[2048];

	if (!confcheck_done(&m->m_check))
		return;
	cfg = confcheck_result(&m->m_check, m->m_file, err, sizeof(err));
	if (m->m_stopping || m->m_draining) {
		config_free(cfg);
		return;
	}
	if (cfg == NULL) {
		log_warnx("reload failed: %s; keeping the running "
		    "configuration", err);
		generation_notify_failed(m, "reload failed; running the "
		    "previous configuration");
		generation_settled(m, m->m_reload_seq, false, err);
		generation_reload_again(m);
		return;
	}
	if (generation_prepare(m, g, cfg) == -1) {
		generation_settled(m, m->m_reload_seq, false, "cannot open "
		    "the listening sockets or the agent's or the metrics' "
		    "port");
		generation_reload_again(m);
		return;
	}
	g->g_id = ++m->m_last_id;
	g->g_reload = m->m_reload_seq;
	g->g_target = g->g_cfg->c_pool_dynamic ?
	    generation_start_size(m, g->g_cfg) : g->g_cfg->c_workers;
	g->g_deadline = clock_after(clock_now(), GENERATION_START_SECONDS);
	log_info("starting generation=%u workers=%u", g->g_id, g->g_target);
	pool_backoff_reset(&m->m_pool);
	generation_fill_all(m);
}
