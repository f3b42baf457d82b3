/* SPDX-License-Identifier: ISC */
/*
 * worker.c - the life of one pre-forked worker: its start (signals,
 * privileges, the service's start, the reload gate), the accept loop, and
 * its stop, with what is still queued taken first.  Each connection it
 * accepts is served by serve.c.
 *
 * Workers wait in epoll_pwait() on the shared listening sockets, each
 * registered with EPOLLEXCLUSIVE so that a new connection wakes one idle
 * worker, not the whole pool; a worker busy serving is not waiting and so
 * is never chosen.  TERM and QUIT are blocked from the worker's last
 * look at its stop flag until it sleeps in epoll_pwait() (or in the
 * ppoll()s that wait for the reload gate or sit out an accept pause),
 * which unblocks them atomically: a stop request that arrives just before
 * the worker goes to sleep is delivered as it enters the wait, never
 * lost.  A plain blocking accept() cannot give that guarantee without
 * jumping out of a signal handler.
 *
 * epoll_pwait() looks at pending signals only when it has no event to
 * return: with a full accept queue it always has one, and a TERM sent
 * while the worker was serving would stay pending for as long as the
 * load lasts.  So TERM and QUIT are let in while the worker serves what
 * a wake-up brought (their handler only sets a flag, and restarts what
 * it interrupts; the waits for a client keep them out): a stop that
 * arrives meanwhile is seen at the end of the connection in hand, however
 * full the queue, by a look at the flag.  Two sigprocmask() calls per
 * wake-up instead of a sigpending() per connection.
 */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "listener.h"
#include "log.h"
#include "loglimit.h"
#include "priv.h"
#include "procfs.h"
#include "proctitle.h"
#include "scoreboard.h"
#include "serve.h"
#include "service.h"
#include "worker.h"

/* How long to stop accepting when out of descriptors or memory. */
#define WORKER_ACCEPT_PAUSE_MS	100

/* A worker's signal masks: the one it waits for connections with, and
 * the one it waits for a client with (only the master's request to shed
 * that client gets in; see conn.h); and the stop signals, let in while it
 * serves. */
struct worker_masks {
	sigset_t	 wm_accept;
	sigset_t	 wm_client;
	sigset_t	 wm_stop;
};

/* How long an idle worker sleeps before it shows a sign of life in its
 * slot: a stopped (or otherwise stuck) idle worker is found by its
 * silence (master.c). */
#define WORKER_BEAT_MS		1000
/* Connections taken from one socket before looking at the others. */
#define WORKER_BATCH		64

static volatile sig_atomic_t	 worker_stopping;

static void
worker_on_stop(int signo)
{
	(void)signo;
	worker_stopping = 1;
}

/* Only to interrupt a wait for the client: conn.c reads the request. */
static void
worker_on_shed(int signo)
{
	(void)signo;
}

static void
worker_set_handler(int signo, void (*handler)(int), int flags)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, NULL) == -1)
		fatal(EX_OSERR, "sigaction(%d)", signo);
}

/*
 * Replace the master's handlers.  TERM/QUIT: finish the connection in
 * hand, then exit.  INT: die now (the master's fast shutdown).  The
 * master's other signals mean nothing here.
 */
static void
worker_signals(const struct worker_args *wa, struct worker_masks *wm)
{
	sigset_t	 unblock, block;

	/* SA_RESTART: a stop let in while serving must not cut a write
	 * to the log short (the waits are never restarted anyway). */
	worker_set_handler(SIGTERM, worker_on_stop, SA_RESTART);
	worker_set_handler(SIGQUIT, worker_on_stop, SA_RESTART);
	worker_set_handler(SIGINT, SIG_DFL, 0);
	worker_set_handler(SIGCHLD, SIG_DFL, 0);
	worker_set_handler(SIGHUP, SIG_IGN, 0);
	worker_set_handler(SIGUSR1, SIG_IGN, 0);
	worker_set_handler(SIGTTIN, SIG_IGN, 0);
	worker_set_handler(SIGTTOU, SIG_IGN, 0);
	worker_set_handler(SIGUSR2, worker_on_shed, 0);

	sigemptyset(&unblock);
	sigaddset(&unblock, SIGINT);
	if (sigprocmask(SIG_UNBLOCK, &unblock, NULL) == -1)
		fatal(EX_OSERR, "sigprocmask");
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &block, NULL) == -1)
		fatal(EX_OSERR, "sigprocmask");

	wm->wm_accept = wa->wa_sigmask;
	sigdelset(&wm->wm_accept, SIGTERM);
	sigdelset(&wm->wm_accept, SIGQUIT);
	sigdelset(&wm->wm_accept, SIGINT);
	sigdelset(&wm->wm_accept, SIGUSR2);
	/* TERM stays blocked: the connection in hand is finished first. */
	if (sigprocmask(SIG_BLOCK, NULL, &wm->wm_client) == -1)
		fatal(EX_OSERR, "sigprocmask");
	sigdelset(&wm->wm_client, SIGUSR2);
	sigdelset(&wm->wm_client, SIGINT);
	sigemptyset(&wm->wm_stop);
	sigaddset(&wm->wm_stop, SIGTERM);
	sigaddset(&wm->wm_stop, SIGQUIT);
}

static int
worker_epoll(const struct listeners *ls)
{
	struct epoll_event	 ev;
	int			 epfd;

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_warn("epoll_create1");
		return -1;
	}
	for (size_t i = 0; i < ls->ls_n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLEXCLUSIVE;
		ev.data.u32 = (uint32_t)i;	/* which socket: its index */
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, ls->ls[i].l_fd, &ev) == -1) {
			log_warn("epoll_ctl(%s)", ls->ls[i].l_name);
			close(epfd);
			return -1;
		}
	}
	return epfd;
}

/*
 * accept() failures caused by one client (it reset, the network said no)
 * are not ours to report loudly; running out of descriptors or memory is,
 * rate-limited, and pauses accepting instead of spinning.
 */
static void
worker_accept_failed(int error, const sigset_t *waitmask)
{
	static struct log_limit	 limit;
	struct timespec		 pause;
	unsigned long		 held;

	switch (error) {
	case EAGAIN:
#if EAGAIN != EWOULDBLOCK
	case EWOULDBLOCK:
#endif
	case EINTR:
		return;		/* another worker was quicker */
	case EINVAL:	/* the socket was shut down: we are retiring */
	case ECONNABORTED: case EPROTO: case ENETDOWN: case ENOPROTOOPT:
	case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP:
	case ENETUNREACH: case ETIMEDOUT:
		log_debug("accept: %s", strerror(error));
		return;
	}
	if (log_limit_allow(&limit, &held)) {
		errno = error;
		log_warn("accept (%lu more suppressed); pausing %d ms", held,
		    WORKER_ACCEPT_PAUSE_MS);
	}
	pause.tv_sec = 0;
	pause.tv_nsec = WORKER_ACCEPT_PAUSE_MS * 1000000L;
	/* Sleep with TERM deliverable, like the wait for connections. */
	log_flush();
	(void)ppoll(NULL, 0, &pause, waitmask);
}

/* A log line dropped (log.h): the master sums these for the status. */
static void
worker_log_dropped(void *slot)
{
	atomic_fetch_add_explicit(&((struct slot *)slot)->sl_log_dropped, 1,
	    memory_order_relaxed);
}


/*
 * Whether this worker may take another connection: not once it is
 * retiring, unless the daemon stops (then it takes what is queued).  A
 * handshake with the master's commit of a reload (sl_accepting, see
 * scoreboard.h): the flag is raised before the look and lowered once
 * accept() returned, both sequentially consistent, so either the master
 * sees it raised (and waits before it says "ready") or this look sees
 * sl_retiring.  A connection that arrives after "ready generation=N" is
 * never taken by an older generation.
 */
static bool
worker_may_accept(const struct worker_args *wa)
{
	struct slot	*sl = wa->wa_slot;

	atomic_store(&sl->sl_accepting, 1);
	if (atomic_load(&sl->sl_retiring) == 0 ||
	    atomic_load(&wa->wa_board->sb_stopping) != 0)
		return true;
	atomic_store(&sl->sl_accepting, 0);
	/* Our TERM is on its way: leave as if it had come. */
	worker_stopping = 1;
	return false;
}

/*
 * Accept a connection on listener li and serve it (serve.c): 1, or 0
 * when there was none.
 */
static int
worker_accept(const struct worker_args *wa, const struct serve_ctx *sc,
    unsigned li, const struct worker_masks *wm)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct slot		*sl = wa->wa_slot;
	int			 fd;

	if (!worker_may_accept(wa))
		return 0;
	fd = accept4(wa->wa_listeners->ls[li].l_fd, (struct sockaddr *)&ss,
	    &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	atomic_store(&sl->sl_accepting, 0);
	if (fd == -1) {
		worker_accept_failed(errno, &wm->wm_accept);
		return 0;
	}
	/* It may have been made after the socket stopped taking new ones. */
	if (atomic_load(&wa->wa_board->sb_stopping) != 0)
		listener_clear_hop_limit(fd, ss.ss_family);
	serve_connection(sc, fd, (struct sockaddr *)&ss, len, li);
	return 1;
}

/* max_connections, give or take up to a tenth more, so that workers
 * started together do not all retire together. */
static unsigned long
worker_lifetime(const struct config *cfg)
{
	unsigned long	 n = cfg->c_max_connections;

	if (n == 0)
		return 0;
	srandom((unsigned)getpid() ^ (unsigned)time(NULL));
	return n + (n >= 10 ? (unsigned long)random() % (n / 10 + 1) : 0);
}

/* A stop delivered in a wait, or one still pending (blocked) since. */
static bool
worker_stop_requested(void)
{
	sigset_t	 pending;

	if (worker_stopping)
		return true;
	if (sigpending(&pending) == -1) {
		log_warn("sigpending");
		return false;
	}
	return sigismember(&pending, SIGTERM) == 1 ||
	    sigismember(&pending, SIGQUIT) == 1;
}

/* The worker has served its share: it retires by itself, and the
 * master starts another in its place. */
static bool
worker_done(const struct worker_args *wa, unsigned long lifetime)
{
	if (lifetime == 0 || atomic_load_explicit(&wa->wa_slot->sl_served,
	    memory_order_relaxed) < lifetime)
		return false;
	scoreboard_set_state(wa->wa_slot, SLOT_RECYCLED);
	log_debug("served max_connections=%lu; exiting to be replaced",
	    lifetime);
	return true;
}

/* TERM and QUIT in (while serving) or out again. */
static void
worker_let_stop_in(const struct worker_masks *wm, bool in)
{
	if (sigprocmask(in ? SIG_UNBLOCK : SIG_BLOCK, &wm->wm_stop, NULL) == -1)
		fatal(EX_OSERR, "sigprocmask");
}

/* One event for each listener, as if each had woken us. */
static int
worker_all_events(const struct listeners *ls, struct epoll_event *ev)
{
	for (size_t i = 0; i < ls->ls_n; i++)
		ev[i].data.u32 = (uint32_t)i;
	return (int)ls->ls_n;
}

static void
worker_loop(const struct worker_args *wa, const struct serve_ctx *sc,
    int epfd, const struct worker_masks *wm)
{
	struct epoll_event	 ev[CONFIG_MAX_LISTEN];
	unsigned long		 lifetime = worker_lifetime(wa->wa_config);
	int			 n;

	while (!worker_stop_requested() && !worker_done(wa, lifetime)) {
		/* Nothing held back while we sleep (log.h). */
		log_flush();
		n = epoll_pwait(epfd, ev, CONFIG_MAX_LISTEN, WORKER_BEAT_MS,
		    &wm->wm_accept);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			fatal(EX_OSERR, "epoll_pwait");
		}
		/* Alive, whatever woke us: an idle worker that keeps losing
		 * the race for connections, or whose accept() keeps failing,
		 * is not stuck. */
		scoreboard_beat(wa->wa_slot);
		/* A quiet second: look at every queue all the same.  A
		 * retiring worker that the kernel woke for a connection and
		 * that leaves without it (worker_may_accept()) took the
		 * wake-up with it; this bounds that client's wait. */
		if (n == 0)
			n = worker_all_events(wa->wa_listeners, ev);
		/* Serve what woke us even if a stop arrived with it: the
		 * wake-up was ours alone and nobody else would take it.
		 * Then take what else is queued there, up to a batch,
		 * before waiting again: an epoll_pwait() saved per
		 * connection under load.  A stop wins over a queue that is
		 * never empty: let in meanwhile, it sets worker_stopping,
		 * which is all there is to look at after a connection. */
		worker_let_stop_in(wm, true);
		for (int i = 0; i < n; i++) {
			for (int k = 0; k < WORKER_BATCH; k++)
				if (worker_accept(wa, sc, ev[i].data.u32,
				    wm) == 0 || worker_stopping ||
				    worker_done(wa, lifetime))
					break;
			if (worker_stopping || worker_done(wa, lifetime))
				break;
		}
		/* Out again before the next look and wait: one that arrives
		 * from now on is pending until epoll_pwait() lets it in. */
		worker_let_stop_in(wm, false);
	}
}

/* What is queued now on our sockets, up to each one's share (a count
 * per listener, spent here), until the queues are empty; how many. */
static unsigned long
worker_take_queued(const struct worker_args *wa, const struct serve_ctx *sc,
    const struct worker_masks *wm, unsigned *share)
{
	const struct listeners	*ls = wa->wa_listeners;
	unsigned long		 taken = 0, before;

	do {
		before = taken;
		for (size_t i = 0; i < ls->ls_n; i++)
			while (share[i] > 0 &&
			    worker_accept(wa, sc, (unsigned)i, wm) == 1) {
				if (share[i] != LISTENER_SHARE_ALL)
					share[i]--;
				taken++;
			}
	} while (taken != before);
	return taken;
}

/*
 * With TCP_DEFER_ACCEPT, a client that connected but has not spoken yet
 * is held by the kernel, not queued: it joins the queue when its first
 * bytes come, up to l_defer seconds later.  One stopping worker (the
 * first to ask) stays that long for them; the others need not.  Only on
 * sockets whose whole queue is ours to take: on the others they join the
 * queue for the next start.
 */
static unsigned long
worker_take_deferred(const struct worker_args *wa, const struct serve_ctx *sc,
    const struct worker_masks *wm, unsigned *share)
{
	const struct listeners	*ls = wa->wa_listeners;
	struct pollfd		 pfd[CONFIG_MAX_LISTEN];
	struct timespec		 end;
	unsigned long		 taken = 0;
	uint32_t		 none = 0;
	int			 defer = 0;
	nfds_t			 n = 0;

	for (size_t i = 0; i < ls->ls_n; i++)
		if (share[i] == LISTENER_SHARE_ALL && ls->ls[i].l_defer > 0) {
			pfd[n++] = (struct pollfd){ .fd = ls->ls[i].l_fd,
			    .events = POLLIN };
			if (ls->ls[i].l_defer > defer)
				defer = ls->ls[i].l_defer;
		}
	if (n == 0 || !atomic_compare_exchange_strong(
	    &wa->wa_board->sb_defer_waiter, &none, 1))
		return 0;
	end = clock_after(clock_now(), defer + 1);
	while (clock_ms_until(end) > 0) {
		struct timespec	 left = { 0, 100 * 1000000L };

		scoreboard_beat(wa->wa_slot);
		log_flush();
		if (ppoll(pfd, n, &left, &wm->wm_accept) > 0)
			taken += worker_take_queued(wa, sc, wm, share);
	}
	return taken;
}

/*
 * The daemon stops (not a reload, not recycling): take what is still
 * queued on our sockets (those in mask) before leaving, so that no
 * client that reached the host is reset.  The master filters new
 * connections out of our own sockets first (listeners_stop_new()), so
 * their queues empty; the retirement deadline bounds the rest.  Sockets
 * systemd holds keep their queue for the next start: of one in its store
 * we take what is queued as we look (a plain stop closes it with the
 * service; a restart passes it on), of a socket unit's nothing.
 */
static void
worker_take_queue(const struct worker_args *wa, const struct serve_ctx *sc,
    const struct worker_masks *wm, uint32_t mask)
{
	const struct listeners	*ls = wa->wa_listeners;
	unsigned		 share[CONFIG_MAX_LISTEN];
	unsigned long		 taken;

	if (!worker_stop_requested() ||
	    atomic_load(&wa->wa_board->sb_stopping) == 0)
		return;
	for (size_t i = 0; i < ls->ls_n; i++)
		share[i] = (mask & (1u << i)) ?
		    listener_stop_share(&ls->ls[i]) : 0;
	taken = worker_take_queued(wa, sc, wm, share);
	taken += worker_take_deferred(wa, sc, wm, share);
	if (taken > 0)
		log_debug("stopping: served %lu queued connections", taken);
}

static void
worker_announce(const struct worker_args *wa)
{
	const char	 up = 1;

	/* Ready in the slot, the one source of readiness; the byte only
	 * wakes the master, which then counts the slots. */
	scoreboard_set_state(wa->wa_slot, SLOT_IDLE);
	if (write(wa->wa_ready_fd, &up, 1) != 1)
		log_warn("write(ready pipe)");
	close(wa->wa_ready_fd);
}

/*
 * No orphan may hold the port: die with the master.  It may have died
 * before the signal was armed, in which case our parent is already
 * someone else.
 */
static void
worker_die_with_master(const struct worker_args *wa)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		log_warn("prctl(PR_SET_PDEATHSIG)");
	if (getppid() != wa->wa_master)
		_exit(0);
}

/*
 * A worker of a reloaded generation is ready before it may serve: it
 * waits here until the master commits the generation (it closes the
 * gate's write end: EOF for every worker at once), or until it is told to
 * stop because the reload was rolled back.  So a configuration that never
 * takes over never serves a client.  False: stopped at the gate.
 */
static bool
worker_wait_gate(const struct worker_args *wa, const sigset_t *waitmask)
{
	struct pollfd	 pfd = { .fd = wa->wa_gate_fd, .events = POLLIN };
	struct timespec	 beat = { WORKER_BEAT_MS / 1000, 0 };
	bool		 open = false;
	int		 n;

	if (wa->wa_gate_fd == -1)
		return true;
	/* A sign of life each second here too: a reload can take a while
	 * to commit, and a silent worker looks hung. */
	while (!worker_stop_requested()) {
		scoreboard_beat(wa->wa_slot);
		if ((n = ppoll(&pfd, 1, &beat, waitmask)) == -1) {
			if (errno == EINTR)
				continue;
			fatal(EX_OSERR, "ppoll(gate)");
		}
		if (n > 0 && pfd.revents != 0) {
			open = true;
			break;
		}
	}
	scoreboard_beat(wa->wa_slot);
	close(wa->wa_gate_fd);
	return open;
}

static void
worker_close_others(const struct worker_args *wa)
{
	int		 keep[4 + CONFIG_MAX_LISTEN + 3];
	size_t		 n = 0;

	keep[n++] = STDIN_FILENO;
	keep[n++] = STDOUT_FILENO;
	keep[n++] = STDERR_FILENO;
	for (size_t i = 0; i < wa->wa_listeners->ls_n; i++)
		keep[n++] = wa->wa_listeners->ls[i].l_fd;
	keep[n++] = wa->wa_gate_fd;
	keep[n++] = wa->wa_ready_fd;
	keep[n++] = log_descriptor();
	if (procfs_close_except(keep, n) == -1)
		_exit(EX_OSERR);
}

void
worker_run(const struct worker_args *wa)
{
	const struct service	*sv;
	struct worker_masks	 wm;
	struct serve_ctx	 sc;
	char			 err[2048];
	int			 epfd;

	/* Set now as well, for the time until the privileges are gone. */
	worker_die_with_master(wa);
	log_after_fork();
	log_set_drop_hook(worker_log_dropped, wa->wa_slot);
	worker_close_others(wa);
	proctitle_set("worker gen=%u", wa->wa_generation);
	worker_signals(wa, &wm);

	/* A module is loaded here, never in the master, and before the
	 * privileges go, as the check that passed it did (confcheck.h). */
	if ((sv = config_service(wa->wa_config, err, sizeof(err))) == NULL) {
		log_warnx("cannot start the service: %s", err);
		_exit(WORKER_EXIT_FATAL);
	}
	if (priv_drop(wa->wa_config) == -1)
		_exit(WORKER_EXIT_FATAL);
	/* The kernel clears the parent-death signal when the user changes:
	 * set it again, as the user that will serve. */
	worker_die_with_master(wa);
	if (service_init(sv) == -1)
		_exit(WORKER_EXIT_FATAL);
	if ((epfd = worker_epoll(wa->wa_listeners)) == -1)
		_exit(EX_OSERR);
	sc = (struct serve_ctx){ .sc_config = wa->wa_config,
	    .sc_board = wa->wa_board, .sc_slot = wa->wa_slot,
	    .sc_service = sv, .sc_waitmask = &wm.wm_client, .sc_tls = wa->wa_tls };
	worker_announce(wa);
	if (worker_wait_gate(wa, &wm.wm_accept)) {
		/* A line per connection: sent several at a time (log.h). */
		log_hold(true);
		worker_loop(wa, &sc, epfd, &wm);
		worker_take_queue(wa, &sc, &wm, UINT32_MAX);
		log_hold(false);
	} else
		/* Stopped at the gate, the daemon stopping during a reload:
		 * the sockets the reload added have nobody else. */
		worker_take_queue(wa, &sc, &wm, wa->wa_new_listeners);
	service_fini(sv);
	close(epfd);
	_exit(0);
}
