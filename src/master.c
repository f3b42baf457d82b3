/* SPDX-License-Identifier: ISC */
/*
 * master.c - the supervisor loop.
 *
 * The master blocks its control signals and sleeps in ppoll() with them
 * unblocked; the handler only sets a flag in master_pending[], and the
 * loop runs the action that master_signals[] assigns to it (so signals
 * that arrive together are one action: two quick TTINs may add one).  The
 * same ppoll() watches the ready pipe, on which each worker writes its
 * pid once it is able to serve, and times the respawn back-off, the
 * reload and retirement deadlines, the pool's upkeep tick and the
 * shutdown deadline.  The control socket and its clients are in the same
 * ppoll(), never blocking, each client within its own deadline
 * (control.c).
 *
 * Reloads are generation.c, the process table pool.c, the tick's sizing,
 * shedding and hung workers upkeep.c; here is what happens when a worker
 * exits, and how the daemon stops.
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
#include "generation.h"
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "metrics.h"
#include "notify.h"
#include "pidfile.h"
#include "pool.h"
#include "poolview.h"
#include "proctitle.h"
#include "scoreboard.h"
#include "status.h"
#include "upgrade.h"
#include "upkeep.h"
#include "worker.h"

/* A worker that dies sooner than this after its start is crash-looping. */
#define MASTER_YOUNG_SECONDS	1.0

static void	master_reap(struct master *);
static void	master_graceful_stop(struct master *);
static void	master_stop_now(struct master *);
static void	master_fast_stop(struct master *);
static void	master_report(struct master *);
static void	master_more(struct master *);
static void	master_fewer(struct master *);

/* Each signal has one meaning, here.  CHLD first: the other actions
 * then see a current process table. */
static const struct master_signal {
	int		  ms_signo;
	void		(*ms_action)(struct master *);
} master_signals[] = {
	{ SIGCHLD,	master_reap },		/* reap, log, respawn */
	{ SIGHUP,	generation_reload },	/* re-read the file */
	{ SIGTERM,	master_graceful_stop },	/* finish, then exit */
	{ SIGQUIT,	master_graceful_stop },
	{ SIGINT,	master_fast_stop },	/* exit now */
	{ SIGUSR1,	master_report },	/* log a status report */
	{ SIGTTIN,	master_more },		/* one worker more */
	{ SIGTTOU,	master_fewer },		/* one worker less */
	{ SIGUSR2,	upgrade_request },	/* execve the new binary */
};
#define MASTER_NSIGNALS	(sizeof(master_signals) / sizeof(master_signals[0]))

static volatile sig_atomic_t	 master_pending[_NSIG];

static void
master_on_signal(int signo)
{
	master_pending[signo] = 1;
}

static int
master_setup_signals(struct master *m)
{
	struct sigaction	 sa;
	sigset_t		 set;

	sigemptyset(&set);
	for (size_t i = 0; i < MASTER_NSIGNALS; i++)
		sigaddset(&set, master_signals[i].ms_signo);
	if (sigprocmask(SIG_BLOCK, &set, &m->m_waitmask) == -1) {
		log_warn("sigprocmask");
		return -1;
	}
	for (size_t i = 0; i < MASTER_NSIGNALS; i++)
		sigdelset(&m->m_waitmask, master_signals[i].ms_signo);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = master_on_signal;
	sa.sa_mask = set;
	for (size_t i = 0; i < MASTER_NSIGNALS; i++)
		if (sigaction(master_signals[i].ms_signo, &sa, NULL) == -1) {
			log_warn("sigaction(%d)", master_signals[i].ms_signo);
			return -1;
		}
	/* A peer that goes away must cost an EPIPE, never the process. */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1) {
		log_warn("sigaction(SIG_IGN)");
		return -1;
	}
	return 0;
}

static void
master_handle_signals(struct master *m)
{
	for (size_t i = 0; i < MASTER_NSIGNALS; i++) {
		int signo = master_signals[i].ms_signo;

		if (master_pending[signo]) {
			master_pending[signo] = 0;
			master_signals[i].ms_action(m);
		}
	}
}


static void
master_describe_exit(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "status=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "signal=%d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? " core dumped" : "");
	else
		snprintf(buf, size, "wait status=%#x", status);
}

/*
 * A worker exited 78: it cannot run with its configuration.  At start
 * there is nothing to fall back to, so the daemon stops (respawning
 * would fail the same way).  Later there is: a reload is rolled back, and
 * a pool that cannot grow (TTIN, a respawn) stays the size it has.
 */
static void
master_worker_fatal(struct master *m, const struct pool_worker *w,
    const char *how)
{
	struct generation	*g = &m->m_cur;
	unsigned		 active;
	char			 why[128];

	if (m->m_next.g_id != 0 && w->pw_generation == m->m_next.g_id) {
		snprintf(why, sizeof(why), "cannot run with the new "
		    "configuration (worker pid=%ld %s)", (long)w->pw_pid, how);
		generation_rollback(m, why);
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
		g->g_target = active;
	log_warnx("worker exited pid=%ld %s: it cannot run with this "
	    "configuration; keeping workers=%u", (long)w->pw_pid, how,
	    g->g_target);
	/* Not in a loop: a dynamic pool stops growing until a reload, and
	 * refilling waits out the back-off. */
	m->m_upkeep.u_no_growth = true;
	pool_crashed(&m->m_pool, w);
}

/* Decide, from how the worker ended, what to do about its place. */
static void
master_worker_exited(struct master *m, const struct pool_worker *w,
    int status)
{
	double	 uptime = clock_diff(w->pw_started, clock_now());
	char	 how[64];
	bool	 crashed;

	master_describe_exit(status, how, sizeof(how));
	if (w->pw_retiring || m->m_stopping) {
		log_info("worker retired pid=%ld generation=%u %s "
		    "uptime=%.1fs", (long)w->pw_pid, w->pw_generation, how,
		    uptime);
		return;
	}
	if (w->pw_hung) {
		log_warnx("worker pid=%ld killed as hung %s uptime=%.1fs; "
		    "replacing it", (long)w->pw_pid, how, uptime);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    w->pw_last_state == SLOT_RECYCLED) {
		log_info("worker recycled pid=%ld served=%llu uptime=%.1fs; "
		    "replacing it", (long)w->pw_pid, w->pw_served, uptime);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL) {
		master_worker_fatal(m, w, how);
		return;
	}
	/* KILL and TERM come from outside (an operator, the OOM killer):
	 * deliberate, not a crash loop, so the place is refilled at once. */
	crashed = WIFEXITED(status) ? WEXITSTATUS(status) != 0 :
	    !(WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL ||
	    WTERMSIG(status) == SIGTERM));
	if (crashed && uptime < MASTER_YOUNG_SECONDS) {
		log_warnx("worker exited pid=%ld %s uptime=%.1fs; died young, "
		    "respawning in %.1fs", (long)w->pw_pid, how, uptime,
		    pool_crashed(&m->m_pool, w));
		return;
	}
	log_warnx("worker exited pid=%ld %s uptime=%.1fs; respawning",
	    (long)w->pw_pid, how, uptime);
}

static void
master_reap(struct master *m)
{
	struct pool_worker	 w;
	int			 status, rc;

	siginfo_t		 si;

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
		if (rc == 1)
			master_worker_exited(m, &w, status);
		else if (!confcheck_reaped(&m->m_check, w.pw_pid, status))
			upgrade_reaped(m, w.pw_pid, status);
	}
}

/*
 * Stop: no new connection from now on, but those already queued are
 * taken and served by the workers as they leave (worker.c), within
 * timeouts.shutdown; the sockets close once the last worker is gone.
 */
static void
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
	log_info("shutting down workers=%zu timeout=%.1fs", m->m_pool.p_n,
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
	log_info("draining for %.1fs before shutting down: the agent says "
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
		listeners_close_unlisted(&m->m_cur.g_ls, NULL);
		listeners_close_unlisted(&m->m_next.g_ls, NULL);
	}
	if (m->m_killed)
		return;
	log_info("shutting down now workers=%zu", m->m_pool.p_n);
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
	char	 status[256];

	status_log(m);
	status_line(m, status, sizeof(status));
	notify_status(status);
}

/* TTIN and TTOU size the generation that serves next: the starting one
 * during a reload, so that the change outlives the commit. */
static struct generation *
master_sized(struct master *m)
{
	return m->m_next.g_id != 0 ? &m->m_next : &m->m_cur;
}

/* A dynamic pool sizes itself within its bounds: TTIN and TTOU are for a
 * fixed one. */
static bool
master_dynamic(const struct generation *g)
{
	if (!g->g_cfg->c_pool_dynamic)
		return false;
	log_notice("TTIN and TTOU size a fixed pool; this one is dynamic "
	    "(pool.min = %u, pool.max = %u): change those and reload",
	    g->g_cfg->c_pool_min, g->g_cfg->c_pool_max);
	return true;
}

static void
master_more(struct master *m)
{
	struct generation	*g = master_sized(m);

	if (m->m_stopping || master_dynamic(g) ||
	    g->g_target >= CONFIG_MAX_WORKERS)
		return;
	g->g_target++;
	log_info("workers=%u (one more on TTIN)", g->g_target);
}

static void
master_fewer(struct master *m)
{
	struct generation	*g = master_sized(m);

	if (m->m_stopping || master_dynamic(g) || g->g_target <= 1)
		return;
	g->g_target--;
	pool_retire_youngest(&m->m_pool, g->g_id,
	    g->g_cfg->c_timeout_shutdown);
	log_info("workers=%u (one less on TTOU)", g->g_target);
	if (g == &m->m_next)
		generation_check_ready(m);	/* it may be complete now */
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
master_next_timer(const struct master *m, struct timespec *deadline)
{
	struct timespec	 t;
	bool		 timed = false;

	if (m->m_stopping && !m->m_killed)
		master_earliest(deadline, &timed, m->m_kill_at);
	if (!m->m_stopping && pool_backing_off(&m->m_pool, clock_now()))
		master_earliest(deadline, &timed, m->m_pool.p_respawn_at);
	if (!m->m_stopping && m->m_next.g_id != 0)
		master_earliest(deadline, &timed, m->m_next.g_deadline);
	if (generation_next_look(m, &t))
		master_earliest(deadline, &timed, t);
	if (confcheck_next_deadline(&m->m_check, &t))
		master_earliest(deadline, &timed, t);
	if (!m->m_stopping)
		master_earliest(deadline, &timed, upkeep_due(&m->m_upkeep));
	if (m->m_draining)
		master_earliest(deadline, &timed, m->m_drain_until);
	if (upgrade_next_deadline(&m->m_upgrade, &t))
		master_earliest(deadline, &timed, t);
	if (agent_next_deadline(&m->m_agent, &t))
		master_earliest(deadline, &timed, t);
	if (metrics_next_deadline(&m->m_metrics, &t))
		master_earliest(deadline, &timed, t);
	if (pool_next_deadline(&m->m_pool, &t))
		master_earliest(deadline, &timed, t);
	if (control_next_deadline(&m->m_control, &t))
		master_earliest(deadline, &timed, t);
	if (m->m_watchdog_every > 0)
		master_earliest(deadline, &timed, m->m_watchdog_at);
	return timed;
}

/* Sleep until a signal, a ready worker, a control client or the next
 * timer. */
static void
master_wait(struct master *m)
{
	struct pollfd	 pfd[1 + CONTROL_FDS + AGENT_FDS + METRICS_FDS + 1 + 1];
	struct timespec	 ts, *tsp = NULL, deadline;
	double		 left;
	size_t		 n, nctl, nag, nme, nup, nck;

	if (master_next_timer(m, &deadline)) {
		left = clock_diff(clock_now(), deadline);
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		tsp = &ts;
	}
	pfd[0] = (struct pollfd){ .fd = m->m_pool.p_ready[0], .events = POLLIN };
	nctl = control_pollfds(&m->m_control, pfd + 1);
	nag = agent_pollfds(&m->m_agent, pfd + 1 + nctl);
	nme = metrics_pollfds(&m->m_metrics, pfd + 1 + nctl + nag);
	n = 1 + nctl + nag + nme;
	nup = upgrade_pollfds(&m->m_upgrade, pfd + n);
	n += nup;
	nck = confcheck_pollfds(&m->m_check, pfd + n);
	n += nck;
	if (ppoll(pfd, n, tsp, &m->m_waitmask) == -1) {
		if (errno != EINTR)
			log_warn("ppoll");
		return;
	}
	confcheck_handle(&m->m_check, pfd + n - nck, nck);
	/* Control, agent and metrics first: a commit below may replace
	 * their sockets. */
	control_handle(m, pfd + 1, nctl);
	agent_handle(m, pfd + 1 + nctl, nag);
	metrics_handle(m, pfd + 1 + nctl + nag, nme);
	upgrade_handle(m, pfd + 1 + nctl + nag + nme, nup);
	if (pfd[0].revents & POLLIN) {
		pool_read_ready(&m->m_pool);
		generation_check_ready(m);
	}
}

/*
 * Open the configured sockets, taking those systemd passed where the
 * address and port match; those the configuration does not list are
 * closed first (listeners_drop_unlisted()).
 */
static int
master_listen(struct master *m)
{
	struct listeners	 passed;
	int			 rc;

	if (listeners_inherit(&passed) == -1)
		return -1;
	listeners_drop_unlisted(&passed, m->m_cur.g_cfg);
	rc = listeners_open(&m->m_cur.g_ls, m->m_cur.g_cfg, &passed);
	if (rc == 0)
		listeners_defer(&m->m_cur.g_ls, m->m_cur.g_cfg);
	listeners_close(&passed);
	return rc;
}

/*
 * The control socket, the agent and the metrics endpoint, unless an
 * upgrade handed them over (handover_adopt()).  At start, failing to open
 * one stops the daemon; after an upgrade, whose workers serve already, it
 * is logged and the daemon goes on without it (a reload tries again).
 */
static int
master_open_local(struct master *m, const struct config *cfg)
{
	int	 status = 0;

	if (m->m_control.ctl_door.sd_sock.sk_fd == -1 &&
	    (status = control_open(&m->m_control, cfg->c_control)) != 0 &&
	    !handover_active())
		return status;
	if (status != 0)
		log_warnx("upgrade: going on without the control socket");
	status = 0;
	if (m->m_agent.ag_door.sd_sock.sk_fd == -1 &&
	    (status = agent_open(&m->m_agent, cfg)) != 0 &&
	    !handover_active())
		return status;
	if (status != 0)
		log_warnx("upgrade: going on without the agent check");
	if ((status = metrics_open(&m->m_metrics, cfg)) != 0 &&
	    !handover_active())
		return status;
	if (status != 0)
		log_warnx("upgrade: going on without the metrics endpoint");
	return 0;
}

static int
master_setup(struct master *m)
{
	const struct config	*cfg = m->m_cur.g_cfg;
	int			 status;

	if (master_setup_signals(m) == -1 || pool_init(&m->m_pool,
	    handover_active() ? handover_board_fd() : -1) == -1)
		return EX_OSERR;
	if (handover_active()) {
		if ((status = handover_adopt(m)) != 0)
			return status;
		/* Workers that exited during the exec are reaped now. */
		master_pending[SIGCHLD] = 1;
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
		control_expire(&m->m_control, now);
		agent_expire(&m->m_agent, now);
		metrics_expire(&m->m_metrics, now);
		confcheck_expire(&m->m_check, now);
		generation_check_read(m);
		upgrade_run(m, now);	/* a stop ends one under way */
		if (m->m_stopping) {
			if (m->m_pool.p_n == 0)
				break;
			master_escalate(m);
			pool_kill_overdue(&m->m_pool, now);
		} else {
			/* Sockets a start or a reload opened, into the
			 * store; one whose message could not go, again. */
			listeners_store(&m->m_cur.g_ls);
			generation_check_deadline(m, now);
			generation_check_ready(m);
			pool_kill_overdue(&m->m_pool, now);
			upkeep_run(m, now);
			generation_fill_all(m);
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
master_run(struct config *cfg, const char *config_file, int pidfile_fd,
    const char *pidfile_path, int *report_fd)
{
	struct master	 m;
	int		 status;

	master_undumpable();
	memset(&m, 0, sizeof(m));
	m.m_file = config_file;
	m.m_pool.p_ready[0] = m.m_pool.p_ready[1] = -1;
	m.m_pidfile_fd = pidfile_fd;
	m.m_pidfile_path = pidfile_path;
	/* The first generation has no gate: nothing serves before it. */
	generation_init(&m.m_cur);
	generation_init(&m.m_next);
	m.m_cur.g_id = m.m_last_id = 1;
	m.m_cur.g_cfg = cfg;
	m.m_cur.g_target = cfg->c_workers;
	upkeep_init(&m.m_upkeep);
	confcheck_init(&m.m_check);
	if ((m.m_watchdog_every = notify_watchdog_every()) > 0)
		m.m_watchdog_at = clock_now();
	control_init(&m.m_control);
	agent_init(&m.m_agent);
	metrics_init(&m.m_metrics);
	upgrade_reset(&m.m_upgrade);

	if ((status = master_setup(&m)) != 0) {
		master_cleanup(&m);
		return status;
	}
	daemon_report(report_fd, 0);
	if (handover_active()) {
		log_info("started version=%s in place of version=%s, same "
		    "pid; generation=%u workers=%zu taken over", status_version,
		    handover_from_version(), m.m_cur.g_id, m.m_pool.p_n);
		/* The new generation, as a reload starts it. */
		generation_reload(&m);
	} else
		log_info("started version=%s workers=%u service=%s",
		    status_version, m.m_cur.g_target,
		    m.m_cur.g_cfg->c_service);
	proctitle_set("master -c %s", m.m_file);
	master_loop(&m);
	log_info("exiting status=%d served=%llu", m.m_status,
	    pool_totals(&m.m_pool).pg_served);
	status = m.m_status;
	master_cleanup(&m);
	return status;
}
