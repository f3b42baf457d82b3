/*
 * master.c - the supervisor loop.
 *
 * The master blocks its control signals and sleeps in ppoll() with them
 * unblocked; the handler only counts the signal in master_pending[], and
 * the loop runs the action that master_signals[] assigns to it.  The same
 * ppoll() watches the ready pipe, on which each worker writes its pid
 * once it is able to serve, and times the respawn back-off and the
 * shutdown deadline.
 *
 * The process table says, for each worker, which configuration
 * generation it belongs to and whether it is starting, ready or retiring
 * (told to finish its connection and exit).  Whether a dead worker is
 * replaced is decided from that table alone.
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
#include <sys/mman.h>
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
#include "scoreboard.h"
#include "worker.h"

/* A worker that dies sooner than this after its start is crash-looping. */
#define MASTER_YOUNG_SECONDS	1.0
#define MASTER_BACKOFF_FIRST	0.1
#define MASTER_BACKOFF_MAX	10.0

enum child_state {
	CHILD_STARTING,
	CHILD_READY,
	CHILD_RETIRING,		/* told to finish its connection and exit */
};

struct child {
	pid_t			 ch_pid;
	unsigned		 ch_generation;
	enum child_state	 ch_state;
	struct timespec		 ch_started;
	struct slot		*ch_slot;
};

struct master {
	struct config		*m_cfg;
	const char		*m_file;
	struct listeners	 m_listeners;
	struct child		*m_children;
	size_t			 m_nchildren;
	size_t			 m_capacity;
	unsigned		 m_generation;
	unsigned		 m_target;	/* workers wanted */
	struct slot		*m_board;
	int			 m_ready[2];	/* workers write their pid */
	int			 m_pidfile_fd;
	sigset_t		 m_waitmask;	/* control signals unblocked */
	double			 m_backoff;	/* seconds; 0: respawn now */
	struct timespec		 m_respawn_at;
	bool			 m_announced;	/* READY=1 sent for this gen */
	bool			 m_stopping;
	bool			 m_killed;	/* SIGKILL already sent */
	struct timespec		 m_kill_at;
	unsigned long long	 m_served_gone;	/* by workers that exited */
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

/* Workers of the running generation that are not on their way out. */
static unsigned
master_active(const struct master *m)
{
	unsigned	 n = 0;

	for (size_t i = 0; i < m->m_nchildren; i++)
		if (m->m_children[i].ch_generation == m->m_generation &&
		    m->m_children[i].ch_state != CHILD_RETIRING)
			n++;
	return n;
}

static unsigned long long
master_served(const struct master *m)
{
	unsigned long long	 n = m->m_served_gone;

	for (size_t i = 0; i < m->m_nchildren; i++)
		n += m->m_children[i].ch_slot->sl_served;
	return n;
}

static void
master_status_line(const struct master *m, char *buf, size_t size)
{
	snprintf(buf, size, "%u workers, %s service on %s%s, "
	    "%llu connections served", master_active(m), m->m_cfg->c_service,
	    m->m_listeners.ls_n > 0 ? m->m_listeners.ls[0].l_name : "-",
	    m->m_listeners.ls_n > 1 ? " and more" : "", master_served(m));
}

static struct child *
master_find(struct master *m, pid_t pid)
{
	for (size_t i = 0; i < m->m_nchildren; i++)
		if (m->m_children[i].ch_pid == pid)
			return &m->m_children[i];
	return NULL;
}

static int
master_spawn(struct master *m)
{
	struct worker_args	 wa;
	struct child		*ch;
	struct slot		*sl;
	pid_t			 pid;

	if (m->m_nchildren == m->m_capacity) {
		size_t	 cap = m->m_capacity ? m->m_capacity * 2 : 16;
		void	*p = reallocarray(m->m_children, cap, sizeof(*ch));

		if (p == NULL) {
			log_warn("reallocarray");
			return -1;
		}
		m->m_children = p;
		m->m_capacity = cap;
	}
	if ((sl = scoreboard_claim(m->m_board)) == NULL) {
		log_warnx("all %d scoreboard slots are taken",
		    SCOREBOARD_SLOTS);
		return -1;
	}
	/* Known before fork(): the child's getppid() could already be a
	 * reaper's if the master died in between. */
	wa.wa_master = getpid();
	switch (pid = fork()) {
	case -1:
		log_warn("fork");
		scoreboard_release(sl);
		return -1;
	case 0:
		wa.wa_config = m->m_cfg;
		wa.wa_listeners = &m->m_listeners;
		wa.wa_slot = sl;
		wa.wa_ready_fd = m->m_ready[1];
		wa.wa_close_fds = (int[]){ m->m_ready[0], m->m_pidfile_fd };
		wa.wa_nclose_fds = m->m_pidfile_fd == -1 ? 1 : 2;
		wa.wa_sigmask = m->m_waitmask;
		worker_run(&wa);
	}
	ch = &m->m_children[m->m_nchildren++];
	ch->ch_pid = pid;
	ch->ch_generation = m->m_generation;
	ch->ch_state = CHILD_STARTING;
	ch->ch_started = clock_now();
	ch->ch_slot = sl;
	log_debug("worker started pid=%ld generation=%u", (long)pid,
	    m->m_generation);
	return 0;
}

static void
master_fill_pool(struct master *m)
{
	struct timespec	 now = clock_now();

	if (clock_diff(now, m->m_respawn_at) > 0)
		return;			/* backing off */
	while (master_active(m) < m->m_target) {
		if (master_spawn(m) == -1) {
			/* fork() failed: try again later, never spin. */
			m->m_backoff = m->m_backoff == 0 ? MASTER_BACKOFF_FIRST :
			    m->m_backoff * 2;
			if (m->m_backoff > MASTER_BACKOFF_MAX)
				m->m_backoff = MASTER_BACKOFF_MAX;
			m->m_respawn_at = clock_after(now, m->m_backoff);
			log_warnx("cannot start a worker; retrying in %.1fs",
			    m->m_backoff);
			return;
		}
		/* While backing off, one worker per period. */
		if (m->m_backoff > 0) {
			m->m_respawn_at = clock_after(now, m->m_backoff);
			return;
		}
	}
}

static void
master_announce_ready(struct master *m)
{
	unsigned	 ready = 0;
	char		 status[256];

	if (m->m_announced || m->m_stopping)
		return;
	for (size_t i = 0; i < m->m_nchildren; i++)
		if (m->m_children[i].ch_generation == m->m_generation &&
		    m->m_children[i].ch_state == CHILD_READY)
			ready++;
	if (ready < m->m_target)
		return;
	m->m_announced = true;
	master_status_line(m, status, sizeof(status));
	log_info("ready generation=%u workers=%u", m->m_generation, ready);
	notify_ready(status);
}

static void
master_read_ready(struct master *m)
{
	struct child	*ch;
	pid_t		 pids[64];
	ssize_t		 n;

	while ((n = read(m->m_ready[0], pids, sizeof(pids))) > 0)
		for (size_t i = 0; i < (size_t)n / sizeof(pid_t); i++)
			if ((ch = master_find(m, pids[i])) != NULL &&
			    ch->ch_state == CHILD_STARTING)
				ch->ch_state = CHILD_READY;
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("read(ready pipe)");
	master_announce_ready(m);
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

/* Decide, from how the worker ended, what to do about its place. */
static void
master_child_exited(struct master *m, struct child *ch, int status)
{
	struct timespec	 now = clock_now();
	double		 uptime = clock_diff(ch->ch_started, now);
	char		 how[64];
	bool		 crashed;

	master_describe_exit(status, how, sizeof(how));
	m->m_served_gone += ch->ch_slot->sl_served;
	if (ch->ch_state == CHILD_RETIRING || m->m_stopping) {
		log_info("worker retired pid=%ld %s uptime=%.1fs served=%llu",
		    (long)ch->ch_pid, how, uptime,
		    (unsigned long long)ch->ch_slot->sl_served);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL) {
		log_warnx("worker exited pid=%ld %s: it cannot run with this "
		    "configuration; stopping", (long)ch->ch_pid, how);
		m->m_status = EX_CONFIG;
		master_graceful_stop(m);
		return;
	}
	/* KILL and TERM come from outside (an operator, the OOM killer):
	 * deliberate, not a crash loop, so the place is refilled at once. */
	crashed = WIFEXITED(status) ? WEXITSTATUS(status) != 0 :
	    !(WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL ||
	    WTERMSIG(status) == SIGTERM));
	if (crashed && uptime < MASTER_YOUNG_SECONDS) {
		m->m_backoff = m->m_backoff == 0 ? MASTER_BACKOFF_FIRST :
		    m->m_backoff * 2;
		if (m->m_backoff > MASTER_BACKOFF_MAX)
			m->m_backoff = MASTER_BACKOFF_MAX;
		m->m_respawn_at = clock_after(now, m->m_backoff);
		log_warnx("worker exited pid=%ld %s uptime=%.1fs; died young, "
		    "respawning in %.1fs", (long)ch->ch_pid, how, uptime,
		    m->m_backoff);
		return;
	}
	m->m_backoff = 0;
	log_warnx("worker exited pid=%ld %s uptime=%.1fs; respawning",
	    (long)ch->ch_pid, how, uptime);
}

static void
master_reap(struct master *m)
{
	struct child	*ch;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((ch = master_find(m, pid)) == NULL)
			continue;
		master_child_exited(m, ch, status);
		scoreboard_release(ch->ch_slot);
		*ch = m->m_children[--m->m_nchildren];
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

static void
master_retire(struct master *m, struct child *ch)
{
	if (ch->ch_state == CHILD_RETIRING)
		return;
	ch->ch_state = CHILD_RETIRING;
	if (kill(ch->ch_pid, SIGTERM) == -1)
		log_warn("kill(%ld, SIGTERM)", (long)ch->ch_pid);
}

static void
master_reload(struct master *m)
{
	struct listeners	 ls;
	struct config		*cfg;
	char			 err[1024];

	if (m->m_stopping)
		return;
	log_info("reloading %s", m->m_file);
	if ((cfg = config_load(m->m_file, err, sizeof(err))) == NULL) {
		log_warnx("reload failed: %s; keeping the running "
		    "configuration", err);
		return;
	}
	notify_reloading();
	if (listeners_open(&ls, cfg, &m->m_listeners) == -1) {
		log_warnx("reload failed: cannot open the listening sockets; "
		    "keeping the running configuration");
		config_free(cfg);
		notify_ready("reload failed; running the previous "
		    "configuration");
		return;
	}
	listeners_close(&m->m_listeners);	/* those no longer wanted */
	m->m_listeners = ls;
	config_free(m->m_cfg);
	m->m_cfg = cfg;
	log_reconfigure(cfg->c_log_facility, cfg->c_log_level);

	/* Start the new generation first: someone is always accepting. */
	m->m_generation++;
	m->m_target = cfg->c_workers;
	m->m_backoff = 0;
	m->m_respawn_at = clock_now();
	m->m_announced = false;
	master_fill_pool(m);
	for (size_t i = 0; i < m->m_nchildren; i++)
		if (m->m_children[i].ch_generation != m->m_generation)
			master_retire(m, &m->m_children[i]);
	log_info("reloaded generation=%u workers=%u", m->m_generation,
	    m->m_target);
}

static void
master_signal_all(struct master *m, int signo)
{
	for (size_t i = 0; i < m->m_nchildren; i++)
		if (kill(m->m_children[i].ch_pid, signo) == -1 &&
		    errno != ESRCH)
			log_warn("kill(%ld, %d)",
			    (long)m->m_children[i].ch_pid, signo);
}

static void
master_graceful_stop(struct master *m)
{
	if (m->m_stopping)
		return;
	m->m_stopping = true;
	notify_stopping();
	log_info("shutting down workers=%zu timeout=%.1fs", m->m_nchildren,
	    m->m_cfg->c_timeout_shutdown);
	for (size_t i = 0; i < m->m_nchildren; i++)
		master_retire(m, &m->m_children[i]);
	m->m_kill_at = clock_after(clock_now(), m->m_cfg->c_timeout_shutdown);
	listeners_close(&m->m_listeners);
}

static void
master_fast_stop(struct master *m)
{
	if (!m->m_stopping) {
		m->m_stopping = true;
		notify_stopping();
		listeners_close(&m->m_listeners);
	}
	if (m->m_killed)
		return;
	log_info("shutting down now workers=%zu", m->m_nchildren);
	master_signal_all(m, SIGKILL);
	m->m_killed = true;
}

static void
master_escalate(struct master *m)
{
	if (m->m_killed || clock_diff(clock_now(), m->m_kill_at) > 0)
		return;
	log_warnx("shutdown timeout passed; killing workers=%zu",
	    m->m_nchildren);
	master_signal_all(m, SIGKILL);
	m->m_killed = true;
}

static void
master_report(struct master *m)
{
	char	 status[256];

	master_status_line(m, status, sizeof(status));
	log_info("status generation=%u target=%u %s", m->m_generation,
	    m->m_target, status);
	for (size_t i = 0; i < m->m_nchildren; i++) {
		const struct child *ch = &m->m_children[i];

		log_info("worker pid=%ld generation=%u state=%s%s "
		    "uptime=%.1fs served=%llu", (long)ch->ch_pid,
		    ch->ch_generation,
		    scoreboard_state_name(ch->ch_slot->sl_state),
		    ch->ch_state == CHILD_RETIRING ? " retiring=yes" : "",
		    clock_diff(ch->ch_started, clock_now()),
		    (unsigned long long)ch->ch_slot->sl_served);
	}
	notify_status(status);
}

static void
master_more(struct master *m)
{
	if (m->m_stopping || m->m_target >= CONFIG_MAX_WORKERS)
		return;
	m->m_target++;
	log_info("workers=%u (one more on TTIN)", m->m_target);
}

static void
master_fewer(struct master *m)
{
	if (m->m_stopping || m->m_target <= 1)
		return;
	m->m_target--;
	/* Retire the youngest: it has the least warm state to lose. */
	for (size_t i = m->m_nchildren; i-- > 0;)
		if (m->m_children[i].ch_generation == m->m_generation &&
		    m->m_children[i].ch_state != CHILD_RETIRING) {
			master_retire(m, &m->m_children[i]);
			break;
		}
	log_info("workers=%u (one less on TTOU)", m->m_target);
}

/* Sleep until a signal, a ready worker or the next timer. */
static void
master_wait(struct master *m)
{
	struct pollfd	 pfd = { .fd = m->m_ready[0], .events = POLLIN };
	struct timespec	 ts, *tsp = NULL, deadline = { 0, 0 };
	double		 left;
	bool		 timed = false;

	if (m->m_stopping && !m->m_killed) {
		deadline = m->m_kill_at;
		timed = true;
	} else if (!m->m_stopping && master_active(m) < m->m_target) {
		deadline = m->m_respawn_at;
		timed = true;
	}
	if (timed) {
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
	if (pfd.revents & POLLIN)
		master_read_ready(m);
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
	rc = listeners_open(&m->m_listeners, m->m_cfg, &passed);
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
	if (master_setup_signals(m) == -1)
		return EX_OSERR;
	if ((m->m_board = scoreboard_create()) == NULL)
		return EX_OSERR;
	if (pipe2(m->m_ready, O_CLOEXEC) == -1) {
		log_warn("pipe2");
		return EX_OSERR;
	}
	if (fcntl(m->m_ready[0], F_SETFL, O_NONBLOCK) == -1) {
		log_warn("fcntl(O_NONBLOCK)");
		return EX_OSERR;
	}
	if (master_listen(m) == -1)
		return EX_OSERR;
	if (geteuid() == 0 && m->m_cfg->c_user == NULL)
		log_warnx("running as root and no user is configured: "
		    "workers will serve as root");
	else if (geteuid() != 0 && m->m_cfg->c_user != NULL)
		log_notice("not started as root: user \"%s\" is ignored, "
		    "workers run as uid=%lu", m->m_cfg->c_user,
		    (unsigned long)geteuid());
	return 0;
}

static void
master_cleanup(struct master *m)
{
	listeners_close(&m->m_listeners);
	if (m->m_ready[0] != -1)
		close(m->m_ready[0]);
	if (m->m_ready[1] != -1)
		close(m->m_ready[1]);
	if (m->m_board != NULL)
		munmap(m->m_board, SCOREBOARD_SLOTS * sizeof(struct slot));
	free(m->m_children);
	config_free(m->m_cfg);
}

int
master_run(struct config *cfg, const char *config_file, int pidfile_fd,
    int *report_fd)
{
	struct master	 m;
	int		 status;

	memset(&m, 0, sizeof(m));
	m.m_cfg = cfg;
	m.m_file = config_file;
	m.m_ready[0] = m.m_ready[1] = -1;
	m.m_pidfile_fd = pidfile_fd;
	m.m_target = cfg->c_workers;
	m.m_generation = 1;

	if ((status = master_setup(&m)) != 0) {
		master_cleanup(&m);
		return status;
	}
	daemon_report(report_fd, 0);
	log_info("started version=%s workers=%u service=%s", PACKAGE_VERSION,
	    m.m_target, cfg->c_service);
	for (;;) {
		master_handle_signals(&m);
		if (m.m_stopping) {
			if (m.m_nchildren == 0)
				break;
			master_escalate(&m);
		} else
			master_fill_pool(&m);
		master_wait(&m);
	}
	log_info("exiting status=%d served=%llu", m.m_status,
	    m.m_served_gone);
	status = m.m_status;
	master_cleanup(&m);
	return status;
}
