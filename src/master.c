/* SPDX-License-Identifier: ISC */
/*
 * master.c - the supervisor loop.
 *
 * The master blocks its control signals and sleeps in ppoll() with them
 * unblocked; the handler only marks them (signals.h), and the loop runs
 * the action that master_signals[] assigns to each (signals that arrive
 * together are one action: two quick TTINs may add one).  The same
 * ppoll() watches the ready pipe (a byte from each worker once it can
 * serve: who is ready is in the slots), the side doors (control socket,
 * agent, metrics: never blocking, each client within its own deadline),
 * the configuration check and an upgrade's check, and times the respawn
 * back-off, the reload's deadlines, the pool policy's tick and the
 * shutdown.  As it wakes it takes the pool's one view of the turn.
 *
 * The two-phase reload is reload.c; the process table pool.c; the tick's
 * sizing, shedding and hung workers poolpolicy.c; what a worker's end
 * means exits.c, and what an exit 78 does the reload's.  Here: the loop,
 * how the daemon stops, and which part of its state each room is given.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "exits.h"
#include "generation.h"
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "poolpolicy.h"
#include "poolview.h"
#include "proctitle.h"
#include "reload.h"
#include "scoreboard.h"
#include "sidedoor.h"
#include "signals.h"
#include "sockstore.h"
#include "status.h"
#include "takeover.h"
#include "upgrade.h"

static void	master_reap(struct master *);
static void	master_graceful_stop(struct master *);
static void	master_fast_stop(struct master *);
static void	master_report(struct master *);
static void	master_more(struct master *);
static void	master_fewer(struct master *);
static void	master_upgrade(struct master *);

/* Each signal has one meaning, here.  CHLD first: the other actions
 * then see a current process table. */
static const struct master_signal {
	int		  ms_signo;
	void		(*ms_action)(struct master *);
} master_signals[] = {
	{ SIGCHLD,	master_reap },		/* reap, log, respawn */
	{ SIGHUP,	reload_start },		/* re-read the file */
	{ SIGTERM,	master_graceful_stop },	/* finish, then exit */
	{ SIGQUIT,	master_graceful_stop },
	{ SIGINT,	master_fast_stop },	/* exit now */
	{ SIGUSR1,	master_report },	/* log a status report */
	{ SIGTTIN,	master_more },		/* one worker more */
	{ SIGTTOU,	master_fewer },		/* one worker less */
	{ SIGUSR2,	master_upgrade },	/* execve the new binary */
};
#define MASTER_NSIGNALS	(sizeof(master_signals) / sizeof(master_signals[0]))

/* Block the signals of the table: they arrive in ppoll() alone. */
static int
master_setup_signals(struct master *m)
{
	int	 signos[MASTER_NSIGNALS];

	for (size_t i = 0; i < MASTER_NSIGNALS; i++)
		signos[i] = master_signals[i].ms_signo;
	return signals_setup(signos, MASTER_NSIGNALS, &m->m_waitmask);
}

static void
master_handle_signals(struct master *m)
{
	for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
		int signo = master_signals[i].ms_signo;

		if (signals_take(signo))
			master_signals[i].ms_action(m);
	}
}


static void
master_reap(struct master *m)
{
	struct pool_worker	 w;
	siginfo_t		 si;
	int			 status, rc;
	char			 how[64];

	for (;;) {
		/* Who exited, without reaping it yet. */
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("waitid");
			return;
		}
		if (si.si_pid == 0)
			return;
		/* A check's process group goes with it, signalled while its
		 * id is still ours: before its leader is reaped. */
		if (si.si_pid == m->m_check.cc_pid ||
		    si.si_pid == m->m_upgrade.up_pid)
			(void)kill(-si.si_pid, SIGKILL);
		/* Each is out of the table before anything is done about
		 * it. */
		if ((rc = pool_reap(&m->m_pool, si.si_pid, &w, &status)) == 0)
			return;
		if (rc != 1) {
			if (!confcheck_reaped(&m->m_check, w.pw_pid, status))
				upgrade_reaped(&m->m_upgrade, w.pw_pid, status);
		} else if (exits_judge(&m->m_pool, &w, status, m->m_stopping,
		    how, sizeof(how)) == EXITS_FATAL)
			reload_worker_fatal(m, &w, how);
	}
}

/*
 * Stop: no new connection from now on, but those already queued are
 * taken and served by the workers as they leave (worker.c), within
 * timeouts.shutdown; the sockets close once the last worker is gone.
 */
void
master_stop_now(struct master *m)
{
	double	 grace = m->m_cur.g_cfg->c_timeout_shutdown;

	m->m_draining = false;
	m->m_stopping = true;
	confcheck_abort(&m->m_check);	/* a reload under way ends */
	control_reload_settled(&m->m_control, ULONG_MAX, false, "the daemon "
	    "is stopping");
	/* First the overall deadline: each worker's is no earlier. */
	m->m_kill_at = clock_after(clock_now(), grace);
	/* Before the signals: a worker told to stop sees it.  And before
	 * the sockets stop taking new connections: a worker that takes one
	 * made since sees it too (see listener_clear_hop_limit()). */
	atomic_store(&m->m_pool.p_board->sb_stopping, 1);
	listeners_stop_new(&m->m_cur.g_ls);
	listeners_stop_new(&m->m_next.g_ls);
	/* Said once new connections are turned away: a client that reads
	 * the line and connects is one of those. */
	log_notice("shutting down workers=%zu timeout=%.1fs", m->m_pool.p_n,
	    grace);
	pool_retire_all(&m->m_pool, grace);
}

/*
 * TERM, QUIT.  With timeouts.drain, first a drain: the agent says
 * "drain" and the pool serves on while the balancer moves clients away;
 * a second request ends the drain at once.
 */
static void
master_graceful_stop(struct master *m)
{
	double	 drain = m->m_cur.g_cfg->c_timeout_drain;

	if (m->m_stopping)
		return;
	if (m->m_draining || drain <= 0) {
		if (!m->m_draining)
			notify_stopping();
		master_stop_now(m);
		return;
	}
	m->m_draining = true;
	m->m_drain_until = clock_after(clock_now(), drain);
	confcheck_abort(&m->m_check);	/* a reload under way ends */
	control_reload_settled(&m->m_control, ULONG_MAX, false, "the daemon "
	    "is stopping");
	notify_stopping();
	log_notice("draining for %.1fs before shutting down: the agent says "
	    "drain, workers=%zu serve on", drain, m->m_pool.p_n);
}

/* The drain period is over. */
static void
master_check_drain(struct master *m, struct timespec now)
{
	if (m->m_draining && clock_diff(now, m->m_drain_until) <= 0)
		master_stop_now(m);
}

static void
master_fast_stop(struct master *m)
{
	if (!m->m_stopping) {
		if (!m->m_draining)
			notify_stopping();
		m->m_draining = false;
		m->m_stopping = true;
		sockstore_close_unlisted(&m->m_cur.g_ls, NULL);
		sockstore_close_unlisted(&m->m_next.g_ls, NULL);
	}
	if (m->m_killed)
		return;
	log_notice("shutting down now workers=%zu", m->m_pool.p_n);
	pool_kill_all(&m->m_pool);
	m->m_killed = true;
}

static void
master_escalate(struct master *m)
{
	if (m->m_killed || clock_diff(clock_now(), m->m_kill_at) > 0)
		return;
	log_warnx("shutdown timeout passed; killing workers=%zu",
	    m->m_pool.p_n);
	pool_kill_all(&m->m_pool);
	m->m_killed = true;
}

static void
master_report(struct master *m)
{
	const struct status_facts *f;
	char			 status[256];

	master_look(m);		/* the report sees the exits reaped */
	f = master_facts(m);
	status_log(f);
	status_line(f, status, sizeof(status));
	notify_status(status);
}

/* TTIN and TTOU size the generation that serves next: the starting one
 * during a reload, so that the change outlives the commit. */
static struct generation *
master_sized(struct master *m)
{
	return m->m_next.g_id != 0 ? &m->m_next : &m->m_cur;
}

/* TTIN: one worker more. */
static void
master_more(struct master *m)
{
	if (!m->m_stopping)
		generation_resize(master_sized(m), &m->m_pool, 1);
}

/* TTOU: one less; a starting generation may be complete now. */
static void
master_fewer(struct master *m)
{
	if (!m->m_stopping && generation_resize(master_sized(m), &m->m_pool,
	    -1) && m->m_next.g_id != 0)
		reload_check_ready(m);
}

/* What crosses the exec of an upgrade (handover.h), and nothing else. */
static struct handover_parts
master_parts(struct master *m)
{
	return (struct handover_parts){
		.hp_file = m->m_file,
		.hp_cur = &m->m_cur,
		.hp_pool = &m->m_pool,
		.hp_control = &m->m_control,
		.hp_agent = &m->m_agent,
		.hp_metrics = &m->m_metrics,
		.hp_last_id = &m->m_last_id,
		.hp_reloads_ok = &m->m_reloads_ok,
		.hp_reloads_failed = &m->m_reloads_failed,
		.hp_pidfile_fd = m->m_pidfile_fd,
		.hp_pidfile_path = m->m_pidfile_path,
	};
}

/* SIGUSR2. */
static void
master_upgrade(struct master *m)
{
	upgrade_request(&m->m_upgrade, m->m_stopping || m->m_draining);
}

/* The next step of an upgrade under way, which waits for a quiet pool:
 * no reload under way. */
static void
master_upgrade_step(struct master *m, struct timespec now)
{
	struct handover_parts	 parts = master_parts(m);

	upgrade_run(&m->m_upgrade, &parts, m->m_stopping || m->m_draining,
	    m->m_next.g_id != 0 || confcheck_running(&m->m_check), now);
}

/*
 * The pool's one view (poolview.h), which the answers, the reports, the
 * sizing, the shedding, STATUS= and the agent all read: taken as the loop
 * wakes, for the answers of that turn; and again, after the exits are
 * reaped, for a SIGUSR1 report, for each tick of the pool's policy, and
 * when a generation is announced or a commit changes which one serves.
 */
void
master_look(struct master *m)
{
	struct poolview_want	 want;

	generation_want(&m->m_cur, m->m_next.g_id, m->m_policy.pp_no_growth,
	    &want);
	poolview_take(&m->m_pool, &want, &m->m_view);
}

const struct status_facts *
master_facts(struct master *m)
{
	m->m_facts = (struct status_facts){
		.sf_cur = &m->m_cur,
		.sf_next = &m->m_next,
		.sf_pool = &m->m_pool,
		.sf_view = &m->m_view,
		.sf_agent = m->m_agent.ag_door.sd_sock.sk_fd != -1 ?
		    m->m_agent.ag_door.sd_sock.sk_name : NULL,
		.sf_reloads_ok = m->m_reloads_ok,
		.sf_reloads_failed = m->m_reloads_failed,
		.sf_draining = m->m_draining,
		.sf_stopping = m->m_stopping,
	};
	return &m->m_facts;
}

/* Start the workers each generation lacks, unless backing off. */
void
master_fill(struct master *m)
{
	if (m->m_stopping || pool_backing_off(&m->m_pool, clock_now()))
		return;
	if (generation_fill(&m->m_pool, &m->m_cur, &m->m_next,
	    &m->m_waitmask) == 0 && m->m_next.g_id != 0)
		(void)generation_fill(&m->m_pool, &m->m_next, &m->m_cur,
		    &m->m_waitmask);
}

/*
 * The side doors (sidedoor.h), asked the same questions through one
 * interface: control, agent, metrics, in the order they are served.
 */
#define MASTER_DOORS	3

static struct sidedoor *
master_door(struct master *m, int i)
{
	return i == 0 ? &m->m_control.ctl_door : i == 1 ?
	    &m->m_agent.ag_door : &m->m_metrics.me_door;
}

static void
master_earliest(struct timespec *deadline, bool *timed, struct timespec t)
{
	if (!*timed || clock_diff(t, *deadline) > 0)
		*deadline = t;
	*timed = true;
}

/* The next moment the loop has something to do without being woken. */
static bool
master_next_timer(struct master *m, struct timespec *deadline)
{
	struct timespec	 t;
	bool		 timed = false;

	if (m->m_stopping && !m->m_killed)
		master_earliest(deadline, &timed, m->m_kill_at);
	if (!m->m_stopping && pool_backing_off(&m->m_pool, clock_now()))
		master_earliest(deadline, &timed, m->m_pool.p_respawn_at);
	if (!m->m_stopping && m->m_next.g_id != 0)
		master_earliest(deadline, &timed, m->m_next.g_deadline);
	if (reload_next_look(m, &t))
		master_earliest(deadline, &timed, t);
	if (confcheck_next_deadline(&m->m_check, &t))
		master_earliest(deadline, &timed, t);
	if (!m->m_stopping)
		master_earliest(deadline, &timed, poolpolicy_due(&m->m_policy));
	if (m->m_draining)
		master_earliest(deadline, &timed, m->m_drain_until);
	if (upgrade_next_deadline(&m->m_upgrade, &t))
		master_earliest(deadline, &timed, t);
	if (pool_next_deadline(&m->m_pool, &t))
		master_earliest(deadline, &timed, t);
	for (int i = 0; i < MASTER_DOORS; i++)
		if (sidedoor_next_deadline(master_door(m, i), &t))
			master_earliest(deadline, &timed, t);
	if (m->m_watchdog_every > 0)
		master_earliest(deadline, &timed, m->m_watchdog_at);
	return timed;
}

/* A control client's "reload" (control.h). */
static void
master_reload_asked(void *m)
{
	reload_start(m);
}

/* Sleep until a signal, a ready worker, a control client or the next
 * timer. */
static void
master_wait(struct master *m)
{
	struct pollfd	 pfd[1 + MASTER_DOORS * SIDEDOOR_FDS + 1 + 1];
	struct timespec	 ts, *tsp = NULL, deadline;
	double		 left;
	size_t		 n, nd[MASTER_DOORS], nup, nck;
	int		 rc;
	const struct control_owner owner = { master_reload_asked, m,
	    &m->m_reload_seq };

	log_retry();		/* lines syslog could not take yet */
	if (master_next_timer(m, &deadline)) {
		left = clock_diff(clock_now(), deadline);
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		tsp = &ts;
	}
	pfd[0] = (struct pollfd){ .fd = m->m_pool.p_ready[0],
	    .events = POLLIN };
	n = 1;
	for (int i = 0; i < MASTER_DOORS; i++)
		n += nd[i] = sidedoor_pollfds(master_door(m, i), pfd + n);
	nup = upgrade_pollfds(&m->m_upgrade, pfd + n);
	n += nup;
	nck = confcheck_pollfds(&m->m_check, pfd + n);
	n += nck;
	rc = ppoll(pfd, n, tsp, &m->m_waitmask);
	/* Awake: the one view of this turn, before anything reads it. */
	master_look(m);
	if (rc == -1) {
		if (errno != EINTR)
			log_warn("ppoll");
		return;
	}
	confcheck_handle(&m->m_check, pfd + n - nck, nck);
	/* Control, agent and metrics first: a commit below may replace
	 * their sockets. */
	n = 1;
	control_handle(&m->m_control, master_facts(m), &owner, pfd + n, nd[0]);
	n += nd[0];
	agent_handle(&m->m_agent, master_facts(m), pfd + n, nd[1]);
	n += nd[1];
	metrics_handle(&m->m_metrics, master_facts(m), pfd + n, nd[2]);
	upgrade_handle(&m->m_upgrade, pfd + n + nd[2], nup);
	if (pfd[0].revents & POLLIN) {
		pool_read_ready(&m->m_pool);
		reload_check_ready(m);
	}
}

/*
 * Open the configured sockets, taking those systemd passed where the
 * address and port match; those the configuration does not list are
 * closed first (sockstore_drop_unlisted()).
 */
static int
master_listen(struct master *m)
{
	struct listeners	 passed;
	int			 rc;

	if (sockstore_inherit(&passed) == -1)
		return -1;
	sockstore_drop_unlisted(&passed, m->m_cur.g_cfg);
	rc = listeners_open(&m->m_cur.g_ls, m->m_cur.g_cfg, &passed);
	if (rc == 0)
		listeners_defer(&m->m_cur.g_ls, m->m_cur.g_cfg);
	listeners_close(&passed);
	return rc;
}

/*
 * The control socket, the agent and the metrics endpoint, unless an
 * upgrade handed them over (takeover_adopt()).  At start, failing to open
 * one stops the daemon; after an upgrade, whose workers serve already, it
 * is logged and the daemon goes on without it (a reload tries again).
 */
static int
master_open_local(struct master *m, const struct config *cfg)
{
	static const char *const what[MASTER_DOORS] = { "the control socket",
	    "the agent check", "the metrics endpoint" };
	int			 status;

	for (int i = 0; i < MASTER_DOORS; i++) {
		if (master_door(m, i)->sd_sock.sk_fd != -1)
			continue;	/* handed over */
		status = i == 0 ? control_open(&m->m_control, cfg->c_control) :
		    i == 1 ? agent_open(&m->m_agent, cfg) :
		    metrics_open(&m->m_metrics, cfg);
		if (status != 0 && m->m_start != MASTER_START_UPGRADE)
			return status;
		if (status != 0)
			log_warnx("upgrade: going on without %s", what[i]);
	}
	return 0;
}

static int
master_setup(struct master *m)
{
	const struct config	*cfg = m->m_cur.g_cfg;
	bool			 upgrade = m->m_start == MASTER_START_UPGRADE;
	struct handover_parts	 parts;
	int			 status;

	if (master_setup_signals(m) == -1 || pool_init(&m->m_pool,
	    upgrade ? takeover_board_fd() : -1) == -1)
		return EX_OSERR;
	if (upgrade) {
		parts = master_parts(m);
		if ((status = takeover_adopt(&parts)) != 0)
			return status;
		/* Workers that exited during the exec are reaped now. */
		signals_raise(SIGCHLD);
		cfg = m->m_cur.g_cfg;	/* the workers' */
	} else if (master_listen(m) == -1)
		return EX_OSERR;
	if ((status = master_open_local(m, cfg)) != 0)
		return status;
	if (geteuid() == 0 && cfg->c_user == NULL)
		log_warnx("running as root and no user is configured: "
		    "workers will serve as root");
	else if (geteuid() != 0 && cfg->c_user != NULL)
		log_notice("not started as root: user \"%s\" is ignored, "
		    "workers run as uid=%lu", cfg->c_user,
		    (unsigned long)geteuid());
	return 0;
}

static void
master_cleanup(struct master *m)
{
	confcheck_abort(&m->m_check);
	control_close(&m->m_control);
	agent_close(&m->m_agent);
	metrics_close(&m->m_metrics);
	generation_free(&m->m_cur);
	generation_free(&m->m_next);
	reload_free_ports(m);
	pool_fini(&m->m_pool);
}

/* Alive: only a loop that turns says so. */
static void
master_watchdog(struct master *m, struct timespec now)
{
	if (m->m_watchdog_every <= 0 || clock_diff(now, m->m_watchdog_at) > 0)
		return;
	notify_watchdog();
	m->m_watchdog_at = clock_after(now, m->m_watchdog_every);
}

static void
master_loop(struct master *m)
{
	struct timespec	 now;

	for (;;) {
		master_handle_signals(m);
		now = clock_now();
		master_watchdog(m, now);
		master_check_drain(m, now);
		for (int i = 0; i < MASTER_DOORS; i++)
			sidedoor_expire(master_door(m, i), now);
		confcheck_expire(&m->m_check, now);
		reload_check_read(m);
		master_upgrade_step(m, now);	/* a stop ends one under way */
		if (m->m_stopping) {
			if (m->m_pool.p_n == 0)
				break;
			master_escalate(m);
			pool_kill_overdue(&m->m_pool, now);
		} else {
			/* Sockets a start or a reload opened, into the
			 * store; one whose message could not go, again. */
			sockstore_store(&m->m_cur.g_ls);
			reload_check_deadline(m, now);
			reload_check_ready(m);
			pool_kill_overdue(&m->m_pool, now);
			/* A tick sees the exits reaped this turn. */
			if (clock_diff(poolpolicy_due(&m->m_policy), now) >= 0)
				master_look(m);
			poolpolicy_run(&m->m_policy, &m->m_pool, &m->m_cur,
			    master_facts(m), now);
			master_fill(m);
		}
		master_wait(m);
	}
}

/*
 * Workers run modules and serve clients, often as the master's own user
 * (an unprivileged daemon): such a worker, compromised, could ptrace()
 * the master or write its /proc/PID/mem and so take over the one process
 * whose death ends the service.  A process that is not dumpable can be
 * traced or read that way by root (CAP_SYS_PTRACE) alone, and leaves no
 * core.  The workers inherit it (a change of user would clear it too,
 * fs.suid_dumpable being 0).  So are /proc/PID/fd and exe root's: -s,
 * which looks there, needs root (procfs.c).  Set in each image: an exec
 * (an upgrade) makes a process dumpable again.
 */
static void
master_undumpable(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		log_warn("prctl(PR_SET_DUMPABLE)");
}

int
master_run(struct config *cfg, const char *config_file,
    enum master_start start, int pidfile_fd, const char *pidfile_path,
    int *report_fd)
{
	struct master	 m;
	int		 status;

	master_undumpable();
	memset(&m, 0, sizeof(m));
	m.m_file = config_file;
	m.m_start = start;
	m.m_pool.p_ready[0] = m.m_pool.p_ready[1] = -1;
	m.m_pidfile_fd = pidfile_fd;
	m.m_pidfile_path = pidfile_path;
	/* The first generation has no gate: nothing serves before it. */
	generation_init(&m.m_cur);
	generation_init(&m.m_next);
	m.m_cur.g_id = m.m_last_id = 1;
	m.m_cur.g_cfg = cfg;
	generation_set_target(&m.m_cur, cfg->c_workers, "the configured "
	    "size");
	poolpolicy_init(&m.m_policy);
	confcheck_init(&m.m_check);
	if ((m.m_watchdog_every = notify_watchdog_every()) > 0)
		m.m_watchdog_at = clock_now();
	control_init(&m.m_control);
	agent_init(&m.m_agent);
	metrics_init(&m.m_metrics);
	sidedoor_socket_init(&m.m_agent_next);
	sidedoor_socket_init(&m.m_metrics_next);
	upgrade_reset(&m.m_upgrade);

	if ((status = master_setup(&m)) != 0) {
		master_cleanup(&m);
		return status;
	}
	notify_started(report_fd, 0);
	if (start == MASTER_START_UPGRADE) {
		log_notice("started version=%s in place of version=%s, same "
		    "pid; generation=%u workers=%zu taken over", status_version,
		    takeover_from_version(), m.m_cur.g_id, m.m_pool.p_n);
		/* The new generation, as a reload starts it. */
		reload_start(&m);
	} else
		log_notice("started version=%s workers=%u service=%s",
		    status_version, m.m_cur.g_target,
		    m.m_cur.g_cfg->c_service);
	proctitle_set("master -c %s", m.m_file);
	master_look(&m);
	master_loop(&m);
	log_notice("exiting status=%d served=%llu", m.m_status,
	    pool_totals(&m.m_pool).pg_served);
	status = m.m_status;
	master_cleanup(&m);
	return status;
}
