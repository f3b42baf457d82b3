/* SPDX-License-Identifier: ISC */
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
 *
 * Which scoreboard slot is free is decided here, from the table: a slot
 * is in use while a worker in the table holds it, whatever its state
 * says (any worker can write that).  What the pool reads from a slot it
 * reads through scoreboard_read() and scoreboard_counter(), bounded by
 * the worker's start, which the master recorded itself.
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

static struct pool_worker *
pool_find(struct pool *p, pid_t pid)
{
	for (size_t i = 0; i < p->p_n; i++)
		if (p->p_workers[i].pw_pid == pid)
			return &p->p_workers[i];
	return NULL;
}

static bool
pool_has(const struct pool *p, pid_t pid)
{
	for (size_t i = 0; i < p->p_n; i++)
		if (p->p_workers[i].pw_pid == pid)
			return true;
	return false;
}

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

/* The slots the table's workers hold, and one past the highest. */
static uint32_t
pool_slots_used(const struct pool *p, uint64_t used[SCOREBOARD_SLOTS / 64])
{
	uint32_t	 high = 0, i;

	memset(used, 0, SCOREBOARD_SLOTS / 8);
	for (size_t n = 0; n < p->p_n; n++) {
		i = scoreboard_index(p->p_board, p->p_workers[n].pw_slot);
		used[i / 64] |= (uint64_t)1 << (i % 64);
		if (i + 1 > high)
			high = i + 1;
	}
	return high;
}

/* The lowest slot no worker in the table holds: 0, or -1 when none. */
static int
pool_slot_free(const struct pool *p, uint32_t *slot, uint32_t *high)
{
	uint64_t	 used[SCOREBOARD_SLOTS / 64];

	*high = pool_slots_used(p, used);
	for (uint32_t i = 0; i < SCOREBOARD_SLOTS / 64; i++) {
		if (used[i] == UINT64_MAX)
			continue;
		*slot = i * 64 + (uint32_t)__builtin_ctzll(~used[i]);
		if (*slot + 1 > *high)
			*high = *slot + 1;
		return 0;
	}
	return -1;
}

/* The workers' scans stop at the highest slot the table holds. */
static void
pool_publish_high(struct pool *p)
{
	uint64_t	 used[SCOREBOARD_SLOTS / 64];

	scoreboard_set_high(p->p_board, pool_slots_used(p, used));
}

int
pool_spawn(struct pool *p, unsigned gen, struct worker_args *wa)
{
	struct pool_worker	*w;
	struct slot		*sl;
	uint32_t		 slot, high;
	pid_t			 pid;

	if (pool_grow(p) == -1)
		return -1;
	if (pool_slot_free(p, &slot, &high) == -1) {
		log_warnx("all %d scoreboard slots are taken",
		    SCOREBOARD_SLOTS);
		return -1;
	}
	sl = scoreboard_claim(p->p_board, slot);
	scoreboard_set_high(p->p_board, high);
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
		pool_publish_high(p);
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

/*
 * What the image before an upgrade handed over is checked too: a pid
 * that is not our child (0 or -1 would make a kill() reach a process
 * group or everyone), a slot another worker holds, a start in the
 * future (it bounds what the slot's times may say).
 */
static const char *
pool_adopt_refusal(const struct pool *p, const struct pool_worker *from,
    uint32_t slot)
{
	uint64_t	 used[SCOREBOARD_SLOTS / 64];
	siginfo_t	 si;

	if (slot >= SCOREBOARD_SLOTS)
		return "slot out of range";
	pool_slots_used(p, used);
	if (used[slot / 64] & (uint64_t)1 << (slot % 64))
		return "slot taken by another worker";
	if (from->pw_pid <= 1)
		return "not a worker's pid";
	if (pool_has(p, from->pw_pid))
		return "pid taken by another worker";
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)from->pw_pid, &si, WEXITED | WNOHANG |
	    WNOWAIT) == -1)
		return "not a child of this process";
	if (from->pw_started.tv_sec < 0 || from->pw_started.tv_nsec < 0 ||
	    from->pw_started.tv_nsec >= 1000000000L ||
	    clock_diff(from->pw_started, clock_now()) < 0)
		return "started in the future";
	return NULL;
}

int
pool_adopt(struct pool *p, const struct pool_worker *from, uint32_t slot)
{
	struct pool_worker	*w;
	const char		*why;

	if ((why = pool_adopt_refusal(p, from, slot)) != NULL) {
		log_warnx("adopting pid=%ld slot=%u: %s", (long)from->pw_pid,
		    slot, why);
		return -1;
	}
	if (pool_grow(p) == -1)
		return -1;
	w = &p->p_workers[p->p_n++];
	*w = *from;
	w->pw_slot = &p->p_board->sb_slot[slot];
	pool_publish_high(p);
	return 0;
}

int64_t
pool_born_ms(const struct pool_worker *w)
{
	return (int64_t)w->pw_started.tv_sec * 1000 +
	    w->pw_started.tv_nsec / 1000000;
}

bool
pool_read(const struct pool_worker *w, int64_t now,
    struct slot_reading *r)
{
	return scoreboard_read(w->pw_slot, pool_born_ms(w), now, r);
}

unsigned long long
pool_served(const struct pool_worker *w, int64_t now)
{
	return scoreboard_counter(&w->pw_slot->sl_served,
	    scoreboard_count_max(pool_born_ms(w), now));
}

/* The worker's counters added to t, each no more than its age allows. */
static void
pool_add_counts(const struct pool_worker *w, int64_t now,
    struct pool_gone *t)
{
	const struct slot	*sl = w->pw_slot;
	int64_t			 born = pool_born_ms(w);
	uint64_t		 max = scoreboard_count_max(born, now);
	uint64_t		 bytes = scoreboard_bytes_max(born, now);

	t->pg_served += scoreboard_counter(&sl->sl_served, max);
	t->pg_limited += scoreboard_counter(&sl->sl_limited, max);
	t->pg_shed += scoreboard_counter(&sl->sl_shed, max);
	t->pg_denied += scoreboard_counter(&sl->sl_denied, max);
	t->pg_proxy_failed += scoreboard_counter(&sl->sl_proxy_failed, max);
	t->pg_empty += scoreboard_counter(&sl->sl_empty, max);
	t->pg_log_dropped += scoreboard_counter(&sl->sl_log_dropped, max);
	t->pg_bytes_in += scoreboard_counter(&sl->sl_bytes_in, bytes);
	t->pg_bytes_out += scoreboard_counter(&sl->sl_bytes_out, bytes);
	for (int k = 0; k < SCOREBOARD_TIMEOUTS; k++)
		t->pg_timeouts[k] += scoreboard_counter(&sl->sl_timeouts[k],
		    max);
	for (int b = 0; b <= SCOREBOARD_BUCKETS; b++)
		t->pg_duration[b] += scoreboard_counter(&sl->sl_duration[b],
		    max);
	t->pg_duration_us += scoreboard_counter(&sl->sl_duration_us,
	    scoreboard_usecs_max(born, now));
	t->pg_tls_handshakes += scoreboard_counter(&sl->sl_tls_handshakes,
	    max);
	t->pg_tls_resumed += scoreboard_counter(&sl->sl_tls_resumed, max);
	for (int f = 0; f < SCOREBOARD_TLS_FAILS; f++)
		t->pg_tls_failed[f] += scoreboard_counter(&sl->sl_tls_failed[f],
		    max);
}

struct pool_gone
pool_totals(const struct pool *p)
{
	struct pool_gone	 t = p->p_gone;
	int64_t			 now = scoreboard_ms();

	for (size_t i = 0; i < p->p_n; i++)
		pool_add_counts(&p->p_workers[i], now, &t);
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
	char			 wake[64];
	ssize_t			 n;

	/* Who is ready is in the slots; the bytes only woke us. */
	while ((n = read(p->p_ready[0], wake, sizeof(wake))) > 0)
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

/*
 * The slot's last word goes into the totals and the record: read once,
 * when the worker is gone and cannot change it, so that a counter that
 * went down or jumped before cannot be counted twice or go back.  The
 * worker is out of the table already: its slot is free.
 */
static void
pool_forget_slot(struct pool *p, struct pool_worker *w)
{
	int64_t		 now = scoreboard_ms();

	w->pw_last_state = scoreboard_state(w->pw_slot);
	w->pw_served = pool_served(w, now);
	pool_add_counts(w, now, &p->p_gone);
	scoreboard_release(p->p_board, w->pw_slot);
	pool_publish_high(p);
	w->pw_slot = NULL;
}

/* In the order of exits_judge()'s decisions, which log each. */
enum pool_exit
pool_exit_cause(const struct pool_worker *w, int status)
{
	int	 sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;

	if (w->pw_hung)
		return POOL_EXIT_HUNG;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return w->pw_last_state == SLOT_RECYCLED ?
		    POOL_EXIT_RECYCLED : POOL_EXIT_NORMAL;
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL)
		return POOL_EXIT_FATAL;
	if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT)
		return POOL_EXIT_KILLED;
	return POOL_EXIT_CRASHED;
}

const char *
pool_exit_name(enum pool_exit e)
{
	switch (e) {
	case POOL_EXIT_NORMAL:		return "normal";
	case POOL_EXIT_RECYCLED:	return "recycled";
	case POOL_EXIT_CRASHED:		return "crashed";
	case POOL_EXIT_HUNG:		return "hung";
	case POOL_EXIT_FATAL:		return "fatal";
	case POOL_EXIT_KILLED:		return "killed";
	default:			return "?";
	}
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
		*w = p->p_workers[--p->p_n];
		pool_forget_slot(p, out);
		p->p_gone.pg_exits[pool_exit_cause(out, *status)]++;
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
