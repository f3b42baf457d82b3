/* SPDX-License-Identifier: ISC */
/*
 * reload.c - the two-phase reload: a generation started beside the
 * running one, committed when ready or rolled back.  The design is in
 * reload.h.
 */
#include "autoconf.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "poolpolicy.h"
#include "poolview.h"
#include "proctitle.h"
#include "reload.h"
#include "sockstore.h"
#include "status.h"

/* The reload under way is over: those who asked for it hear how. */
static void
reload_settled(struct master *m, unsigned long reload, bool ok,
    const char *what)
{
	if (ok)
		m->m_reloads_ok++;
	else
		m->m_reloads_failed++;
	control_reload_settled(&m->m_control, reload, ok, what);
}

static void	reload_again(struct master *);

/* The side doors' new ports a reload bound and did not commit. */
void
reload_free_ports(struct master *m)
{
	sidedoor_socket_close(&m->m_agent_next);
	sidedoor_socket_close(&m->m_metrics_next);
}

static void
reload_announce(struct master *m)
{
	char	 status[256];

	m->m_cur.g_announced = true;
	proctitle_set("master gen=%u -c %s", m->m_cur.g_id, m->m_file);
	master_look(m);		/* the workers that just became ready */
	status_line(master_facts(m), status, sizeof(status));
	log_notice("ready generation=%u workers=%u", m->m_cur.g_id,
	    poolview_gen_ready(&m->m_pool, m->m_cur.g_id));
	if (m->m_cur.g_committed) {
		log_notice("reloaded generation=%u workers=%u; generation=%u "
		    "retiring", m->m_cur.g_id, m->m_cur.g_target,
		    m->m_cur.g_replaced);
		snprintf(status, sizeof(status), "reloaded generation=%u "
		    "workers=%u", m->m_cur.g_id, m->m_cur.g_target);
		reload_settled(m, m->m_cur.g_reload, true, status);
		status_line(master_facts(m), status, sizeof(status));
	}
	notify_ready(status);
	/* A HUP that came meanwhile: only now, after READY=1. */
	if (m->m_cur.g_committed)
		reload_again(m);
}

/* A HUP that came while a generation started is done now. */
static void
reload_again(struct master *m)
{
	if (m->m_reload_again) {
		m->m_reload_again = false;
		reload_start(m);
	}
}

/* The new generation is ready: it takes over, the old one retires. */
static void
reload_commit(struct master *m)
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
	sockstore_close_unlisted(&old.g_ls, &m->m_cur.g_ls);
	sockstore_store(&m->m_cur.g_ls);
	log_reconfigure(m->m_cur.g_cfg->c_log_facility,
	    m->m_cur.g_cfg->c_log_level);
	control_reconfigure(&m->m_control, m->m_cur.g_cfg->c_control);
	agent_commit(&m->m_agent, &m->m_agent_next, m->m_cur.g_cfg);
	metrics_commit(&m->m_metrics, &m->m_metrics_next, m->m_cur.g_cfg);
	reload_free_ports(m);
	poolpolicy_reset(&m->m_policy);
	m->m_cur.g_committed = true;
	m->m_cur.g_replaced = old.g_id;
	m->m_cur.g_quiet_by = clock_after(clock_now(),
	    RELOAD_QUIET_SECONDS);
	generation_free(&old);
	master_look(m);		/* another generation serves */
	reload_check_ready(m);
}

/*
 * The generations before a committed one take no new connection: each of
 * their workers is either out of accept() for good or lying about it, and
 * then it is given RELOAD_QUIET_SECONDS at most.  Only then is the
 * new generation announced, so "ready generation=N" (and READY=1) means
 * that every connection from then on is served by generation N.
 */
static bool
reload_quiet(const struct master *m)
{
	if (!m->m_cur.g_committed ||
	    !pool_others_accepting(&m->m_pool, m->m_cur.g_id))
		return true;
	if (clock_diff(clock_now(), m->m_cur.g_quiet_by) > 0)
		return false;
	log_warnx("a retired worker still says it is accepting %.0fs after "
	    "generation=%u took over; announcing it all the same",
	    RELOAD_QUIET_SECONDS, m->m_cur.g_id);
	return true;
}

/* Ready to announce but for the old generation's last accept(). */
static bool
reload_waits_quiet(const struct master *m)
{
	return !m->m_cur.g_announced && m->m_cur.g_committed &&
	    poolview_gen_ready(&m->m_pool, m->m_cur.g_id) >=
	    m->m_cur.g_target;
}

bool
reload_next_look(const struct master *m, struct timespec *when)
{
	if (m->m_stopping || !reload_waits_quiet(m))
		return false;
	*when = clock_after(clock_now(), RELOAD_QUIET_LOOK_MS / 1000.0);
	return true;
}

/* READY=1 again after RELOADING=1, but never for a generation that has
 * not been ready yet (a reload during start-up). */
static void
reload_notify_failed(struct master *m, const char *status)
{
	if (m->m_cur.g_announced)
		notify_ready(status);
	else
		notify_status(status);
}

void
reload_rollback(struct master *m, const char *why)
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
	reload_free_ports(m);
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
	reload_notify_failed(m, status);
	snprintf(status, sizeof(status), "generation=%u %s; generation=%u "
	    "keeps serving", failed, why, m->m_cur.g_id);
	reload_settled(m, reload, false, status);
	reload_check_ready(m);
	reload_again(m);
}

void
reload_check_ready(struct master *m)
{
	if (m->m_stopping)
		return;
	/* The running generation first: a commit announces it here too. */
	if (!m->m_cur.g_announced &&
	    poolview_gen_ready(&m->m_pool, m->m_cur.g_id) >=
	    m->m_cur.g_target &&
	    (m->m_next.g_id == 0 || m->m_cur.g_committed) &&
	    reload_quiet(m))
		reload_announce(m);
	if (m->m_next.g_id != 0 &&
	    poolview_gen_ready(&m->m_pool, m->m_next.g_id) >=
	    m->m_next.g_target)
		reload_commit(m);
}

void
reload_check_deadline(struct master *m, struct timespec now)
{
	char	 why[64];

	if (m->m_next.g_id != 0 && clock_diff(m->m_next.g_deadline, now) > 0) {
		/* The last one may be ready unseen: look first. */
		pool_read_ready(&m->m_pool);
		reload_check_ready(m);
	}
	if (m->m_next.g_id != 0 && clock_diff(m->m_next.g_deadline, now) > 0) {
		snprintf(why, sizeof(why), "was not ready within %.0fs "
		    "(%u of %u workers)", RELOAD_START_SECONDS,
		    poolview_gen_ready(&m->m_pool, m->m_next.g_id),
		    m->m_next.g_target);
		reload_rollback(m, why);
	}
}

/* Take the checked configuration and open its sockets beside the
 * running ones. */
static int
reload_prepare(struct master *m, struct generation *g,
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
	if (rc == 0 && agent_prepare(&m->m_agent, &m->m_agent_next, g->g_cfg))
		rc = -1;
	if (rc == 0 && metrics_prepare(&m->m_metrics, &m->m_metrics_next,
	    g->g_cfg))
		rc = -1;
	if (rc == -1) {
		log_warnx("reload failed: cannot open the listening sockets "
		    "or the agent's or the metrics' port; keeping the running "
		    "configuration");
		listeners_relisten(&m->m_cur.g_ls);
		generation_free(g);
		reload_free_ports(m);
		reload_notify_failed(m, "reload failed; running the "
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
reload_start_size(const struct master *m, const struct config *cfg)
{
	unsigned	 n = m->m_cur.g_target;

	if (n < cfg->c_pool_min)
		n = cfg->c_pool_min;
	if (n > cfg->c_pool_max)
		n = cfg->c_pool_max;
	return n;
}

void
reload_start(struct master *m)
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
			log_notice("reload requested while the one before is "
			    "under way; it follows once that one is settled");
		m->m_reload_again = true;
		return;
	}
	log_notice("reloading %s", m->m_file);
	m->m_reload_seq++;
	if (confcheck_start(&m->m_check, m->m_file) == -1) {
		log_warnx("reload failed: cannot check %s; keeping the "
		    "running configuration", m->m_file);
		reload_settled(m, m->m_reload_seq, false,
		    "the check cannot start");
		reload_again(m);
	}
}

void
reload_check_read(struct master *m)
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
		reload_notify_failed(m, "reload failed; running the "
		    "previous configuration");
		reload_settled(m, m->m_reload_seq, false, err);
		reload_again(m);
		return;
	}
	if (reload_prepare(m, g, cfg) == -1) {
		reload_settled(m, m->m_reload_seq, false, "cannot open "
		    "the listening sockets or the agent's or the metrics' "
		    "port");
		reload_again(m);
		return;
	}
	g->g_id = ++m->m_last_id;
	g->g_reload = m->m_reload_seq;
	generation_set_target(g, g->g_cfg->c_pool_dynamic ?
	    reload_start_size(m, g->g_cfg) : g->g_cfg->c_workers,
	    "a reload starts it");
	g->g_deadline = clock_after(clock_now(), RELOAD_START_SECONDS);
	log_notice("starting generation=%u workers=%u", g->g_id, g->g_target);
	pool_backoff_reset(&m->m_pool);
	master_fill(m);
}

/*
 * A worker exited 78: it cannot run with its configuration.  At start
 * there is nothing to fall back to, so the daemon stops (respawning
 * would fail the same way).  Later there is: a reload is rolled back, and
 * a pool that cannot grow (TTIN, a respawn) stays the size it has.
 */
void
reload_worker_fatal(struct master *m, const struct pool_worker *w,
    const char *how)
{
	struct generation	*g = &m->m_cur;
	unsigned		 active;
	char			 why[128];

	if (m->m_next.g_id != 0 && w->pw_generation == m->m_next.g_id) {
		snprintf(why, sizeof(why), "cannot run with the new "
		    "configuration (worker pid=%ld %s)", (long)w->pw_pid, how);
		reload_rollback(m, why);
		return;
	}
	if (!g->g_announced) {
		log_warnx("worker exited pid=%ld %s: it cannot run with this "
		    "configuration; stopping", (long)w->pw_pid, how);
		m->m_status = EX_CONFIG;
		/* A start that failed: no drain, nothing to drain. */
		if (!m->m_stopping) {
			if (!m->m_draining)
				notify_stopping();
			master_stop_now(m);
		}
		return;
	}
	active = poolview_gen_active(&m->m_pool, g->g_id);
	if (active > 0 && active < g->g_target)
		generation_set_target(g, active, "a worker cannot run with "
		    "this configuration");
	log_warnx("worker exited pid=%ld %s: it cannot run with this "
	    "configuration; keeping workers=%u", (long)w->pw_pid, how,
	    g->g_target);
	/* Not in a loop: a dynamic pool stops growing until a reload, and
	 * refilling waits out the back-off. */
	poolpolicy_freeze(&m->m_policy);
	pool_crashed(&m->m_pool, w);
}
