/*
 * pool.c - the process table and what happens to its entries.
 *
 * A reaped child leaves the table before anything is decided about it,
 * so that no later action (a stop, a retirement) can signal its pid,
 * which the kernel may already have given to another process.
 *
 * The crash back-off counts crash events, not dead workers: a worker that
 * was already running when the current event began (a burst: a bad
 * request that crashes several workers, an OOM kill spree) joins that
 * event; only a worker started after it, one the pool respawned, that
 * dies young again proves a crash loop and doubles the delay.  After a
 * quiet period the delay starts over.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "pool.h"
#include "scoreboard.h"

#define POOL_BACKOFF_FIRST	0.1
#define POOL_BACKOFF_MAX	10.0
/* No crash for this long after the delay ran out: start over. */
#define POOL_BACKOFF_QUIET	5.0

int
pool_init(struct pool *p, int board_fd)
{
	memset(p, 0, sizeof(*p));
	p->p_ready[0] = p->p_ready[1] = -1;
	p->p_board_fd = board_fd;
	if (board_fd != -1)
		p->p_board = scoreboard_attach(board_fd);
	else
		p->p_board = scoreboard_create(&p->p_board_fd);
	if (p->p_board == NULL)
		return -1;
	if (pipe2(p->p_ready, O_CLOEXEC) == -1) {
		log_warn("pipe2");
		return -1;
	}
	if (fcntl(p->p_ready[0], F_SETFL, O_NONBLOCK) == -1) {
		log_warn("fcntl(O_NONBLOCK)");
		return -1;
	}
	return 0;
}

void
pool_fini(struct pool *p)
{
	for (int i = 0; i < 2; i++)
		if (p->p_ready[i] != -1)
			close(p->p_ready[i]);
	scoreboard_destroy(p->p_board);
	if (p->p_board_fd != -1)
		close(p->p_board_fd);
	free(p->p_workers);
	memset(p, 0, sizeof(*p));
	p->p_ready[0] = p->p_ready[1] = p->p_board_fd = -1;
}

static int
pool_grow(struct pool *p)
{
	size_t	 cap;
	void	*n;

	if (p->p_n < p->p_cap)
		return 0;
	cap = p->p_cap ? p->p_cap * 2 : 16;
	if ((n = reallocarray(p->p_workers, cap, sizeof(*p->p_workers)))
	    == NULL) {
		log_warn("reallocarray");
		return -1;
	}
	p->p_workers = n;
	p->p_cap = cap;
	return 0;
}

int
pool_spawn(struct pool *p, unsigned gen, struct worker_args *wa)
{
	struct pool_worker	*w;
	struct slot		*sl;
	pid_t			 pid;

	if (pool_grow(p) == -1)
		return -1;
	if ((sl = scoreboard_claim(p->p_board)) == NULL) {
		log_warnx("all %d scoreboard slots are taken",
		    SCOREBOARD_SLOTS);
		return -1;
	}
	/* Known before fork(): the child's getppid() could already be a
	 * reaper's if the master died in between. */
	wa->wa_master = getpid();
	wa->wa_slot = sl;
	wa->wa_board = p->p_board;
	wa->wa_ready_fd = p->p_ready[1];
	wa->wa_generation = gen;
	switch (pid = fork()) {
	case -1:
		log_warn("fork");
		scoreboard_release(p->p_board, sl);
		return -1;
	case 0:
		worker_run(wa);
	}
	w = &p->p_workers[p->p_n++];
	memset(w, 0, sizeof(*w));
	w->pw_pid = pid;
	w->pw_generation = gen;
	w->pw_started = clock_now();
	w->pw_slot = sl;
	log_debug("worker started pid=%ld generation=%u", (long)pid, gen);
	return 0;
}

int
pool_adopt(struct pool *p, const struct pool_worker *from, uint32_t slot)
{
	struct pool_worker	*w;

	if (slot >= SCOREBOARD_SLOTS) {
		log_warnx("adopting pid=%ld: slot %u out of range",
		    (long)from->pw_pid, slot);
		return -1;
	}
	if (pool_grow(p) == -1)
		return -1;
	w = &p->p_workers[p->p_n++];
	*w = *from;
	w->pw_slot = &p->p_board->sb_slot[slot];
	return 0;
}

static struct pool_worker *
pool_find(struct pool *p, pid_t pid)
{
	for (size_t i = 0; i < p->p_n; i++)
		if (p->p_workers[i].pw_pid == pid)
			return &p->p_workers[i];
	return NULL;
}

static bool
pool_is_ready(const struct pool_worker *w)
{
	uint32_t	 st = scoreboard_state(w->pw_slot);

	return st == SLOT_IDLE || st == SLOT_BUSY;
}

/* Workers of gen not retiring; only the ready ones if ready. */
static unsigned
pool_count(const struct pool *p, unsigned gen, bool ready)
{
	unsigned	 n = 0;

	for (size_t i = 0; i < p->p_n; i++) {
		const struct pool_worker *w = &p->p_workers[i];

		if (w->pw_generation == gen && !w->pw_retiring &&
		    (!ready || pool_is_ready(w)))
			n++;
	}
	return n;
}

unsigned
pool_active(const struct pool *p, unsigned gen)
{
	return pool_count(p, gen, false);
}

unsigned
pool_ready(const struct pool *p, unsigned gen)
{
	return pool_count(p, gen, true);
}

struct pool_gone
pool_totals(const struct pool *p)
{
	struct pool_gone	 t = p->p_gone;

	for (size_t i = 0; i < p->p_n; i++) {
		const struct slot *sl = p->p_workers[i].pw_slot;

		t.pg_served += atomic_load_explicit(&sl->sl_served,
		    memory_order_relaxed);
		t.pg_limited += atomic_load_explicit(&sl->sl_limited,
		    memory_order_relaxed);
		t.pg_shed += atomic_load_explicit(&sl->sl_shed,
		    memory_order_relaxed);
		t.pg_denied += atomic_load_explicit(&sl->sl_denied,
		    memory_order_relaxed);
		t.pg_proxy_failed += atomic_load_explicit(
		    &sl->sl_proxy_failed, memory_order_relaxed);
		t.pg_log_dropped += atomic_load_explicit(&sl->sl_log_dropped,
		    memory_order_relaxed);
	}
	return t;
}

bool
pool_others_accepting(const struct pool *p, unsigned gen)
{
	for (size_t i = 0; i < p->p_n; i++) {
		const struct pool_worker *w = &p->p_workers[i];

		/* Its sl_retiring was stored (sequentially consistent) when
		 * it was retired, before this load. */
		if (w->pw_generation != gen && w->pw_retiring &&
		    atomic_load(&w->pw_slot->sl_accepting) != 0)
			return true;
	}
	return false;
}

void
pool_read_ready(struct pool *p)
{
	pid_t			 pids[64];
	ssize_t			 n;

	/* Who is ready is in the slots; the pids only woke us. */
	while ((n = read(p->p_ready[0], pids, sizeof(pids))) > 0)
		continue;
	if (n == -1 && errno != EAGAIN && errno != EINTR)
		log_warn("read(ready pipe)");
}

static void
pool_signal(const struct pool_worker *w, int signo)
{
	/* Still in the table, so not reaped: the pid is still ours.  It
	 * may have exited unreaped (ESRCH is not possible for a zombie,
	 * but be quiet about it anyway). */
	if (kill(w->pw_pid, signo) == -1 && errno != ESRCH)
		log_warn("kill(%ld, %s)", (long)w->pw_pid, sigabbrev_np(signo));
}

void
pool_retire(struct pool_worker *w, double grace)
{
	if (w->pw_retiring)
		return;
	w->pw_retiring = true;
	atomic_store(&w->pw_slot->sl_retiring, 1);
	w->pw_kill_at = clock_after(clock_now(), grace);
	pool_signal(w, SIGTERM);
}

void
pool_retire_all(struct pool *p, double grace)
{
	for (size_t i = 0; i < p->p_n; i++)
		pool_retire(&p->p_workers[i], grace);
}

void
pool_retire_others(struct pool *p, unsigned keep, double grace)
{
	for (size_t i = 0; i < p->p_n; i++)
		if (p->p_workers[i].pw_generation != keep)
			pool_retire(&p->p_workers[i], grace);
}

void
pool_retire_generation(struct pool *p, unsigned gen, double grace)
{
	for (size_t i = 0; i < p->p_n; i++)
		if (p->p_workers[i].pw_generation == gen)
			pool_retire(&p->p_workers[i], grace);
}

/* The youngest has the least warm state to lose. */
void
pool_retire_youngest(struct pool *p, unsigned gen, double grace)
{
	struct pool_worker	*young = NULL;

	for (size_t i = 0; i < p->p_n; i++) {
		struct pool_worker *w = &p->p_workers[i];

		if (w->pw_generation != gen || w->pw_retiring)
			continue;
		if (young == NULL ||
		    clock_diff(young->pw_started, w->pw_started) > 0)
			young = w;
	}
	if (young != NULL)
		pool_retire(young, grace);
}

bool
pool_retire_idle(struct pool *p, unsigned gen, double min_age, double grace)
{
	struct timespec		 now = clock_now();
	struct pool_worker	*young = NULL;

	for (size_t i = 0; i < p->p_n; i++) {
		struct pool_worker *w = &p->p_workers[i];

		if (w->pw_generation != gen || w->pw_retiring ||
		    scoreboard_state(w->pw_slot) != SLOT_IDLE ||
		    clock_diff(w->pw_started, now) < min_age)
			continue;
		if (young == NULL ||
		    clock_diff(young->pw_started, w->pw_started) > 0)
			young = w;
	}
	if (young == NULL)
		return false;
	pool_retire(young, grace);
	return true;
}

void
pool_shed(struct pool_worker *w, uint64_t conn)
{
	/* Named by its number: a connection that ended meanwhile is never
	 * confused with the next one. */
	atomic_store(&w->pw_slot->sl_shed_req, conn);
	pool_signal(w, SIGUSR2);
}

void
pool_kill_hung(struct pool_worker *w)
{
	pool_signal(w, SIGKILL);
	w->pw_killed = true;
	w->pw_hung = true;
}

unsigned
pool_kill_overdue(struct pool *p, struct timespec now)
{
	unsigned	 n = 0;

	for (size_t i = 0; i < p->p_n; i++) {
		struct pool_worker *w = &p->p_workers[i];

		if (!w->pw_retiring || w->pw_killed ||
		    clock_diff(w->pw_kill_at, now) < 0)
			continue;
		log_warnx("worker pid=%ld generation=%u still %s after its "
		    "retirement deadline; killing it", (long)w->pw_pid,
		    w->pw_generation, scoreboard_state_name(
		    scoreboard_state(w->pw_slot)));
		pool_signal(w, SIGKILL);
		w->pw_killed = true;
		n++;
	}
	return n;
}

void
pool_kill_all(struct pool *p)
{
	for (size_t i = 0; i < p->p_n; i++)
		if (!p->p_workers[i].pw_killed) {
			pool_signal(&p->p_workers[i], SIGKILL);
			p->p_workers[i].pw_killed = true;
		}
}

bool
pool_next_deadline(const struct pool *p, struct timespec *when)
{
	bool	 any = false;

	for (size_t i = 0; i < p->p_n; i++) {
		const struct pool_worker *w = &p->p_workers[i];

		if (!w->pw_retiring || w->pw_killed)
			continue;
		if (!any || clock_diff(w->pw_kill_at, *when) > 0)
			*when = w->pw_kill_at;
		any = true;
	}
	return any;
}

/* The slot's last word goes into the totals and the record. */
static void
pool_forget_slot(struct pool *p, struct pool_worker *w)
{
	struct slot	*sl = w->pw_slot;

	w->pw_last_state = scoreboard_state(sl);
	w->pw_served = atomic_load(&sl->sl_served);
	p->p_gone.pg_served += w->pw_served;
	p->p_gone.pg_limited += atomic_load(&sl->sl_limited);
	p->p_gone.pg_shed += atomic_load(&sl->sl_shed);
	p->p_gone.pg_denied += atomic_load(&sl->sl_denied);
	p->p_gone.pg_proxy_failed += atomic_load(&sl->sl_proxy_failed);
	p->p_gone.pg_log_dropped += atomic_load(&sl->sl_log_dropped);
	scoreboard_release(p->p_board, sl);
	w->pw_slot = NULL;
}

int
pool_reap(struct pool *p, pid_t which, struct pool_worker *out, int *status)
{
	struct pool_worker	*w;
	pid_t			 pid;

	for (;;) {
		if ((pid = waitpid(which, status, WNOHANG)) == 0)
			return 0;
		if (pid == -1) {
			if (errno == EINTR)
				continue;
			log_warn("waitpid(%ld)", (long)which);
			return 0;
		}
		if ((w = pool_find(p, pid)) == NULL) {
			/* Not a worker: the master's other child. */
			memset(out, 0, sizeof(*out));
			out->pw_pid = pid;
			return 2;
		}
		*out = *w;
		pool_forget_slot(p, out);
		*w = p->p_workers[--p->p_n];
		return 1;
	}
}

double
pool_crashed(struct pool *p, const struct pool_worker *dead)
{
	struct timespec	 now = clock_now();

	/* Running before this event began: the same burst. */
	if (dead != NULL && p->p_backoff > 0 &&
	    clock_diff(dead->pw_started, p->p_event_at) >= 0)
		return clock_diff(now, p->p_respawn_at) > 0 ?
		    clock_diff(now, p->p_respawn_at) : 0;
	if (p->p_backoff > 0 && clock_diff(p->p_event_at, now) >
	    p->p_backoff + POOL_BACKOFF_QUIET)
		p->p_backoff = 0;
	p->p_backoff = p->p_backoff == 0 ? POOL_BACKOFF_FIRST :
	    p->p_backoff * 2;
	if (p->p_backoff > POOL_BACKOFF_MAX)
		p->p_backoff = POOL_BACKOFF_MAX;
	p->p_event_at = now;
	p->p_respawn_at = clock_after(now, p->p_backoff);
	return p->p_backoff;
}

bool
pool_backing_off(const struct pool *p, struct timespec now)
{
	return p->p_backoff > 0 && clock_diff(now, p->p_respawn_at) > 0;
}

void
pool_backoff_reset(struct pool *p)
{
	p->p_backoff = 0;
	p->p_respawn_at = clock_now();
}
