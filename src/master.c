/*
 * master.c - the supervisor loop.
 *
 * The master blocks its control signals and sleeps in ppoll() with them
 * unblocked; the handler only sets a flag in master_pending[], and the
 * loop runs the action that master_signals[] assigns to it (so signals
 * that arrive together are one action: two quick TTINs may add one).  The same
 * ppoll() watches the ready pipe, on which each worker writes its pid
 * once it is able to serve, and times the respawn back-off, the reload
 * and retirement deadlines and the shutdown deadline.
 *
 * A configuration generation is a configuration, its listening sockets
 * and the workers started from it.  A reload is two-phase: the new
 * generation starts beside the running one, its workers wait at a gate
 * once ready, and only when every one of them is ready does the master
 * open the gate and retire the running generation.  If the new workers
 * cannot run with the new configuration (they exit 78) or are not ready
 * within MASTER_START_SECONDS, the reload is rolled back: they never
 * served anyone, and the running generation keeps serving, untouched (its
 * sockets were never handed over, only shared).  The process table is
 * pool.c.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "pidfile.h"
#include "pool.h"
#include "scoreboard.h"
#include "worker.h"

/* A worker that dies sooner than this after its start is crash-looping. */
#define MASTER_YOUNG_SECONDS	1.0
/* How long a reloaded generation has to become ready. */
#define MASTER_START_SECONDS	10.0

struct generation {
	unsigned		 g_id;		/* 0: no such generation */
	struct config		*g_cfg;
	struct listeners	 g_ls;
	unsigned		 g_target;	/* workers wanted */
	bool			 g_announced;	/* READY=1 sent for it */
	struct timespec		 g_deadline;	/* to be ready by */
	int			 g_gate[2];	/* closed at commit; or -1 */
};

struct master {
	const char		*m_file;
	struct generation	 m_cur;		/* serving */
	struct generation	 m_next;	/* starting, on reload */
	unsigned		 m_last_id;
	bool			 m_reload_again; /* HUP while m_next starts */
	struct pool		 m_pool;
	int			 m_pidfile_fd;
	sigset_t		 m_waitmask;	/* control signals unblocked */
	bool			 m_stopping;
	bool			 m_killed;	/* SIGKILL already sent */
	struct timespec		 m_kill_at;
	int			 m_status;
};

static void	master_reap(struct master *);
static void	master_reload(struct master *);
static void	master_graceful_stop(struct master *);
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
	{ SIGHUP,	master_reload },	/* re-read the file */
	{ SIGTERM,	master_graceful_stop },	/* finish, then exit */
	{ SIGQUIT,	master_graceful_stop },
	{ SIGINT,	master_fast_stop },	/* exit now */
	{ SIGUSR1,	master_report },	/* log a status report */
	{ SIGTTIN,	master_more },		/* one worker more */
	{ SIGTTOU,	master_fewer },		/* one worker less */
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
		log_warn("sigaction(SIGPIPE)");
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
master_status_line(const struct master *m, char *buf, size_t size)
{
	const struct listeners *ls = &m->m_cur.g_ls;

	snprintf(buf, size, "%u workers, %s service on %s%s, "
	    "%llu connections served",
	    pool_active(&m->m_pool, m->m_cur.g_id), m->m_cur.g_cfg->c_service,
	    ls->ls_n > 0 ? ls->ls[0].l_name : "-",
	    ls->ls_n > 1 ? " and more" : "", pool_served(&m->m_pool));
}

static void
master_close_gate(struct generation *g)
{
	for (int i = 0; i < 2; i++) {
		if (g->g_gate[i] != -1 && close(g->g_gate[i]) == -1)
			log_warn("close(gate)");
		g->g_gate[i] = -1;
	}
}

static void
master_free_generation(struct generation *g)
{
	master_close_gate(g);
	listeners_close(&g->g_ls);
	config_free(g->g_cfg);
	memset(g, 0, sizeof(*g));
	g->g_gate[0] = g->g_gate[1] = -1;
}

static int
master_spawn(struct master *m, struct generation *g)
{
	const struct generation	*other = g == &m->m_cur ? &m->m_next :
	    &m->m_cur;
	struct worker_args	 wa;
	int			 close_fds[5 + CONFIG_MAX_LISTEN];
	size_t			 n = 0;

	/* Descriptors of the master's own that a worker must not keep: a
	 * socket of the other generation would stay open (and accept
	 * connections nobody serves) for as long as the worker lives, and a
	 * gate's write end held by a worker would never let it open. */
	close_fds[n++] = m->m_pool.p_ready[0];
	close_fds[n++] = m->m_pidfile_fd;
	close_fds[n++] = g->g_gate[1];
	close_fds[n++] = other->g_gate[0];
	close_fds[n++] = other->g_gate[1];
	for (size_t i = 0; i < other->g_ls.ls_n; i++)
		close_fds[n++] = other->g_ls.ls[i].l_fd;
	memset(&wa, 0, sizeof(wa));
	wa.wa_config = g->g_cfg;
	wa.wa_listeners = &g->g_ls;
	wa.wa_gate_fd = g->g_gate[0];
	wa.wa_close_fds = close_fds;
	wa.wa_nclose_fds = n;
	wa.wa_sigmask = m->m_waitmask;
	return pool_spawn(&m->m_pool, g->g_id, &wa);
}

/* Start the workers g lacks; -1 once a fork() failed. */
static int
master_fill_generation(struct master *m, struct generation *g)
{
	while (pool_active(&m->m_pool, g->g_id) < g->g_target) {
		if (master_spawn(m, g) == -1) {
			/* Try again later, never spin. */
			log_warnx("cannot start a worker; retrying in %.1fs",
			    pool_crashed(&m->m_pool, NULL));
			return -1;
		}
	}
	return 0;
}

static void
master_fill_pool(struct master *m)
{
	if (m->m_stopping || pool_backing_off(&m->m_pool, clock_now()))
		return;
	if (master_fill_generation(m, &m->m_cur) == 0 && m->m_next.g_id != 0)
		master_fill_generation(m, &m->m_next);
}

static void
master_announce_ready(struct master *m)
{
	char	 status[256];

	m->m_cur.g_announced = true;
	master_status_line(m, status, sizeof(status));
	log_info("ready generation=%u workers=%u", m->m_cur.g_id,
	    pool_ready(&m->m_pool, m->m_cur.g_id));
	notify_ready(status);
}

/* A HUP that came while a generation started is done now. */
static void
master_reload_again(struct master *m)
{
	if (m->m_reload_again) {
		m->m_reload_again = false;
		master_reload(m);
	}
}

/* The new generation is ready: it takes over, the old one retires. */
static void
master_commit(struct master *m)
{
	struct generation	 old = m->m_cur;

	/* Retire first: an old worker learns it is retiring no later than
	 * the new ones may serve. */
	pool_retire_others(&m->m_pool, m->m_next.g_id,
	    m->m_next.g_cfg->c_timeout_shutdown);
	m->m_cur = m->m_next;
	memset(&m->m_next, 0, sizeof(m->m_next));
	m->m_next.g_gate[0] = m->m_next.g_gate[1] = -1;
	master_close_gate(&m->m_cur);		/* EOF: serve */
	/* Sockets no longer listed stop accepting now; shared ones stay. */
	listeners_close_unlisted(&old.g_ls, &m->m_cur.g_ls);
	log_reconfigure(m->m_cur.g_cfg->c_log_facility,
	    m->m_cur.g_cfg->c_log_level);
	master_announce_ready(m);
	log_info("reloaded generation=%u workers=%u; generation=%u retiring",
	    m->m_cur.g_id, m->m_cur.g_target, old.g_id);
	master_free_generation(&old);
	master_reload_again(m);
}

/* READY=1 again after RELOADING=1, but never for a generation that has
 * not been ready yet (a reload during start-up). */
static void
master_notify_reload_failed(struct master *m, const char *status)
{
	if (m->m_cur.g_announced)
		notify_ready(status);
	else
		notify_status(status);
}

static void	master_check_ready(struct master *);

/* The new generation cannot serve: drop it, the old one never stopped. */
static void
master_rollback(struct master *m, const char *why)
{
	char	 status[256];

	log_warnx("reload failed: generation=%u %s; generation=%u keeps "
	    "serving with the previous configuration", m->m_next.g_id, why,
	    m->m_cur.g_id);
	/* TERM before the gate closes: they exit instead of serving. */
	pool_retire_generation(&m->m_pool, m->m_next.g_id,
	    m->m_cur.g_cfg->c_timeout_shutdown);
	master_free_generation(&m->m_next);
	listeners_relisten(&m->m_cur.g_ls);
	/* The new generation's crashes must not hold the old one back. */
	pool_backoff_reset(&m->m_pool);
	snprintf(status, sizeof(status), "reload failed (%s); running "
	    "generation %u", why, m->m_cur.g_id);
	master_notify_reload_failed(m, status);
	master_check_ready(m);
	master_reload_again(m);
}

static void
master_check_ready(struct master *m)
{
	if (m->m_stopping)
		return;
	if (m->m_next.g_id != 0) {
		if (pool_ready(&m->m_pool, m->m_next.g_id) >=
		    m->m_next.g_target)
			master_commit(m);
	} else if (!m->m_cur.g_announced &&
	    pool_ready(&m->m_pool, m->m_cur.g_id) >= m->m_cur.g_target)
		master_announce_ready(m);
}

static void
master_check_deadlines(struct master *m, struct timespec now)
{
	char	 why[64];

	if (m->m_next.g_id != 0 && clock_diff(m->m_next.g_deadline, now) > 0) {
		/* The last pid may be in the pipe, unread: look first. */
		pool_read_ready(&m->m_pool);
		master_check_ready(m);
	}
	if (m->m_next.g_id != 0 && clock_diff(m->m_next.g_deadline, now) > 0) {
		snprintf(why, sizeof(why), "was not ready within %.0fs "
		    "(%u of %u workers)", MASTER_START_SECONDS,
		    pool_ready(&m->m_pool, m->m_next.g_id),
		    m->m_next.g_target);
		master_rollback(m, why);
	}
	pool_kill_overdue(&m->m_pool, now);
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
		master_rollback(m, why);
		return;
	}
	if (!g->g_announced) {
		log_warnx("worker exited pid=%ld %s: it cannot run with this "
		    "configuration; stopping", (long)w->pw_pid, how);
		m->m_status = EX_CONFIG;
		master_graceful_stop(m);
		return;
	}
	active = pool_active(&m->m_pool, g->g_id);
	if (active > 0 && active < g->g_target)
		g->g_target = active;
	log_warnx("worker exited pid=%ld %s: it cannot run with this "
	    "configuration; keeping workers=%u", (long)w->pw_pid, how,
	    g->g_target);
	if (active == 0)
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
	if (w->pw_state == POOL_RETIRING || m->m_stopping) {
		log_info("worker retired pid=%ld generation=%u %s "
		    "uptime=%.1fs", (long)w->pw_pid, w->pw_generation, how,
		    uptime);
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
	int			 status;

	/* Each is out of the table before anything is done about it. */
	while (pool_reap(&m->m_pool, &w, &status) == 1)
		master_worker_exited(m, &w, status);
}

/* Load the file and open its sockets beside the running ones. */
static int
master_prepare(struct master *m, struct generation *g)
{
	struct listeners	 copy;
	char			 err[1024];
	int			 rc;

	if ((g->g_cfg = config_load(m->m_file, err, sizeof(err))) == NULL) {
		log_warnx("reload failed: %s; keeping the running "
		    "configuration", err);
		return -1;
	}
	notify_reloading();
	if ((rc = listeners_dup(&copy, &m->m_cur.g_ls)) == 0) {
		rc = listeners_open(&g->g_ls, g->g_cfg, &copy);
		listeners_close(&copy);		/* those not wanted */
	}
	if (rc == 0 && pipe2(g->g_gate, O_CLOEXEC) == -1) {
		log_warn("pipe2(gate)");
		rc = -1;
	}
	if (rc == -1) {
		log_warnx("reload failed: cannot open the listening sockets; "
		    "keeping the running configuration");
		/* A kept socket's backlog may have been changed already. */
		listeners_relisten(&m->m_cur.g_ls);
		master_free_generation(g);
		master_notify_reload_failed(m, "reload failed; running the "
		    "previous configuration");
		return -1;
	}
	return 0;
}

static void
master_reload(struct master *m)
{
	struct generation	*g = &m->m_next;

	if (m->m_stopping)
		return;
	if (g->g_id != 0) {
		/* One generation starts at a time; the file is read again
		 * once this one is settled. */
		m->m_reload_again = true;
		log_info("reload requested while generation=%u starts; it "
		    "follows once that one is settled", g->g_id);
		return;
	}
	log_info("reloading %s", m->m_file);
	if (master_prepare(m, g) == -1)
		return;
	g->g_id = ++m->m_last_id;
	g->g_target = g->g_cfg->c_workers;
	g->g_deadline = clock_after(clock_now(), MASTER_START_SECONDS);
	log_info("starting generation=%u workers=%u", g->g_id, g->g_target);
	pool_backoff_reset(&m->m_pool);
	master_fill_pool(m);
}

static void
master_graceful_stop(struct master *m)
{
	double	 grace = m->m_cur.g_cfg->c_timeout_shutdown;

	if (m->m_stopping)
		return;
	m->m_stopping = true;
	notify_stopping();
	log_info("shutting down workers=%zu timeout=%.1fs", m->m_pool.p_n,
	    grace);
	/* First the overall deadline: each worker's is no earlier. */
	m->m_kill_at = clock_after(clock_now(), grace);
	pool_retire_all(&m->m_pool, grace);
	/* Stop accepting now, though busy workers still hold the sockets. */
	listeners_close_unlisted(&m->m_cur.g_ls, NULL);
	listeners_close_unlisted(&m->m_next.g_ls, NULL);
}

static void
master_fast_stop(struct master *m)
{
	if (!m->m_stopping) {
		m->m_stopping = true;
		notify_stopping();
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
	struct timespec	 now = clock_now();
	char		 status[256];

	master_status_line(m, status, sizeof(status));
	log_info("status generation=%u target=%u %s", m->m_cur.g_id,
	    m->m_cur.g_target, status);
	if (m->m_next.g_id != 0)
		log_info("status generation=%u target=%u starting",
		    m->m_next.g_id, m->m_next.g_target);
	for (size_t i = 0; i < m->m_pool.p_n; i++) {
		const struct pool_worker *w = &m->m_pool.p_workers[i];

		log_info("worker pid=%ld generation=%u state=%s%s "
		    "uptime=%.1fs served=%llu", (long)w->pw_pid,
		    w->pw_generation,
		    scoreboard_state_name(w->pw_slot->sl_state),
		    w->pw_state == POOL_RETIRING ? " retiring=yes" : "",
		    clock_diff(w->pw_started, now),
		    (unsigned long long)w->pw_slot->sl_served);
	}
	notify_status(status);
}

/* TTIN and TTOU size the generation that serves next: the starting one
 * during a reload, so that the change outlives the commit. */
static struct generation *
master_sized(struct master *m)
{
	return m->m_next.g_id != 0 ? &m->m_next : &m->m_cur;
}

static void
master_more(struct master *m)
{
	struct generation	*g = master_sized(m);

	if (m->m_stopping || g->g_target >= CONFIG_MAX_WORKERS)
		return;
	g->g_target++;
	log_info("workers=%u (one more on TTIN)", g->g_target);
}

static void
master_fewer(struct master *m)
{
	struct generation	*g = master_sized(m);

	if (m->m_stopping || g->g_target <= 1)
		return;
	g->g_target--;
	pool_retire_youngest(&m->m_pool, g->g_id,
	    g->g_cfg->c_timeout_shutdown);
	log_info("workers=%u (one less on TTOU)", g->g_target);
	if (g == &m->m_next)
		master_check_ready(m);	/* it may be complete now */
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
	if (pool_next_deadline(&m->m_pool, &t))
		master_earliest(deadline, &timed, t);
	return timed;
}

/* Sleep until a signal, a ready worker or the next timer. */
static void
master_wait(struct master *m)
{
	struct pollfd	 pfd = { .fd = m->m_pool.p_ready[0], .events = POLLIN };
	struct timespec	 ts, *tsp = NULL, deadline;
	double		 left;

	if (master_next_timer(m, &deadline)) {
		left = clock_diff(clock_now(), deadline);
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		tsp = &ts;
	}
	if (ppoll(&pfd, 1, tsp, &m->m_waitmask) == -1) {
		if (errno != EINTR)
			log_warn("ppoll");
		return;
	}
	if (pfd.revents & POLLIN) {
		pool_read_ready(&m->m_pool);
		master_check_ready(m);
	}
}

/*
 * Open the configured sockets, taking those systemd passed where the
 * address and port match.  A passed socket the configuration does not
 * list is closed here (systemd keeps its own copy): say so, since
 * connections to it would then wait for nobody.
 */
static int
master_listen(struct master *m)
{
	struct listeners	 passed;
	int			 rc;

	if (listeners_inherit(&passed) == -1)
		return -1;
	rc = listeners_open(&m->m_cur.g_ls, m->m_cur.g_cfg, &passed);
	for (size_t i = 0; rc == 0 && i < passed.ls_n; i++)
		if (passed.ls[i].l_fd != -1)
			log_warnx("socket from systemd %s is not in %s; not "
			    "serving it", passed.ls[i].l_name, m->m_file);
	listeners_close(&passed);
	return rc;
}

static int
master_setup(struct master *m)
{
	const struct config	*cfg = m->m_cur.g_cfg;

	if (master_setup_signals(m) == -1 || pool_init(&m->m_pool) == -1)
		return EX_OSERR;
	if (master_listen(m) == -1)
		return EX_OSERR;
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
	master_free_generation(&m->m_cur);
	master_free_generation(&m->m_next);
	pool_fini(&m->m_pool);
}

static void
master_loop(struct master *m)
{
	for (;;) {
		master_handle_signals(m);
		if (m->m_stopping) {
			if (m->m_pool.p_n == 0)
				break;
			master_escalate(m);
			pool_kill_overdue(&m->m_pool, clock_now());
		} else {
			master_check_deadlines(m, clock_now());
			master_fill_pool(m);
		}
		master_wait(m);
	}
}

int
master_run(struct config *cfg, const char *config_file, int pidfile_fd,
    int *report_fd)
{
	struct master	 m;
	int		 status;

	memset(&m, 0, sizeof(m));
	m.m_file = config_file;
	m.m_pool.p_ready[0] = m.m_pool.p_ready[1] = -1;
	m.m_pidfile_fd = pidfile_fd;
	m.m_cur.g_id = m.m_last_id = 1;
	m.m_cur.g_cfg = cfg;
	m.m_cur.g_target = cfg->c_workers;
	/* The first generation has no gate: nothing serves before it. */
	m.m_cur.g_gate[0] = m.m_cur.g_gate[1] = -1;
	m.m_next.g_gate[0] = m.m_next.g_gate[1] = -1;

	if ((status = master_setup(&m)) != 0) {
		master_cleanup(&m);
		return status;
	}
	daemon_report(report_fd, 0);
	log_info("started version=%s workers=%u service=%s", PACKAGE_VERSION,
	    m.m_cur.g_target, cfg->c_service);
	master_loop(&m);
	log_info("exiting status=%d served=%llu", m.m_status,
	    m.m_pool.p_served_gone);
	status = m.m_status;
	master_cleanup(&m);
	return status;
}
