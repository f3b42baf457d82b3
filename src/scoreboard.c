/* SPDX-License-Identifier: ISC */
/*
 * scoreboard.c - the shared worker status table: written by workers,
 * checked by every reader (see scoreboard.h).
 *
 * Ordering: the fields that go together are written between two steps of
 * the slot's sequence count, a seqlock: the writer makes it odd (relaxed,
 * then a release fence), stores the fields (relaxed), and makes it even
 * again (release); a reader loads it (acquire), loads the fields
 * (relaxed), fences (acquire) and loads it again: the same even value
 * twice means the fields are one write's.  Only a slot's own worker
 * writes them, so the writer needs no lock; a second writer (a hostile
 * one) can garble them, and the checks, not the count, catch that.  The
 * heartbeat alone is one word and stands outside the count.
 */
#include "autoconf.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scoreboard.h"

#define RELAXED	memory_order_relaxed

/* Reads of a slot that moves before the reader gives it up as unknown:
 * a write takes a few stores, so more than a couple means the writer was
 * preempted in the middle, or left the count odd on purpose. */
#define SCOREBOARD_READ_TRIES	64
/* A time this far past the reader's now is still now: the worker read
 * the clock after the reader did. */
#define SCOREBOARD_SKEW_MS	1000
/* No worker counts more than this many of anything a second: a counter
 * above it in a slot is garbage, cut so that totals cannot wrap. */
#define SCOREBOARD_COUNT_RATE	1000000
/* Nor moves more bytes a second than this (16 GiB: above a 100 Gbit/s
 * link). */
#define SCOREBOARD_BYTE_RATE	((uint64_t)1 << 34)

/* From a loopback exchange to timeouts.connection's default and over. */
const uint64_t	 scoreboard_bucket_us[SCOREBOARD_BUCKETS] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

/* A bijection of 64-bit words that spreads every input bit over the
 * output (xor-shifts and odd multipliers): the source keys' hash. */
static uint64_t
scoreboard_mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/*
 * The seed of the source keys: a client that knew it could pick an
 * address whose key is another's.  Without the kernel's randomness
 * (early in boot), the clocks, the pid and where the board is mapped.
 */
static uint64_t
scoreboard_seed(const void *where)
{
	struct timespec	 rt, mono;
	uint64_t	 seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) ==
	    (ssize_t)sizeof(seed))
		return seed;
	log_warn("getrandom(scoreboard seed)");
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return scoreboard_mix((uint64_t)rt.tv_nsec ^ (uint64_t)rt.tv_sec <<
	    30 ^ scoreboard_mix((uint64_t)mono.tv_nsec ^ (uint64_t)getpid() <<
	    32 ^ (uint64_t)(uintptr_t)where));
}

/*
 * Shared memory backed by a memfd rather than anonymous: a master that
 * upgrades its binary in place (execve) keeps its workers, and must keep
 * their board too; the descriptor is what survives the exec.
 */
struct scoreboard *
scoreboard_create(int *fdp)
{
	struct scoreboard	*sb;
	int			 fd;

	if ((fd = memfd_create("preforkd-scoreboard", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create(scoreboard)");
		return NULL;
	}
	if (ftruncate(fd, sizeof(struct scoreboard)) == -1) {
		log_warn("ftruncate(scoreboard)");
		close(fd);
		return NULL;
	}
	sb = scoreboard_attach(fd);	/* zero-filled: every slot free */
	if (sb != NULL)
		atomic_store(&sb->sb_source_seed, scoreboard_seed(sb));
	if (sb == NULL || fdp == NULL)
		close(fd);
	else
		*fdp = fd;
	return sb;
}

struct scoreboard *
scoreboard_attach(int fd)
{
	struct stat	 st;
	void		*p;

	if (fstat(fd, &st) == -1) {
		log_warn("fstat(scoreboard)");
		return NULL;
	}
	if (st.st_size != (off_t)sizeof(struct scoreboard)) {
		log_warnx("scoreboard of %lld bytes, expected %zu: another "
		    "version's", (long long)st.st_size,
		    sizeof(struct scoreboard));
		return NULL;
	}
	p = mmap(NULL, sizeof(struct scoreboard), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		log_warn("mmap(scoreboard)");
		return NULL;
	}
	return p;
}

void
scoreboard_destroy(struct scoreboard *sb)
{
	if (sb != NULL && munmap(sb, sizeof(*sb)) == -1)
		log_warn("munmap(scoreboard)");
}

int64_t
scoreboard_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Only the master claims and releases, and it decides which slot from its
 * own process table: a slot whose state a worker set to free is not
 * given to a second worker for that.
 */
struct slot *
scoreboard_claim(struct scoreboard *sb, uint32_t i)
{
	struct slot	*sl;

	if (i >= SCOREBOARD_SLOTS)
		return NULL;
	sl = &sb->sb_slot[i];
	atomic_store_explicit(&sb->sb_source[i], 0, RELAXED);
	atomic_store_explicit(&sl->sl_seq, 0, RELAXED);
	atomic_store_explicit(&sl->sl_served, 0, RELAXED);
	atomic_store_explicit(&sl->sl_conn, 0, RELAXED);
	atomic_store_explicit(&sl->sl_limited, 0, RELAXED);
	atomic_store_explicit(&sl->sl_shed, 0, RELAXED);
	atomic_store_explicit(&sl->sl_denied, 0, RELAXED);
	atomic_store_explicit(&sl->sl_proxy_failed, 0, RELAXED);
	atomic_store_explicit(&sl->sl_empty, 0, RELAXED);
	atomic_store_explicit(&sl->sl_shed_req, 0, RELAXED);
	atomic_store_explicit(&sl->sl_retiring, 0, RELAXED);
	atomic_store_explicit(&sl->sl_accepting, 0, RELAXED);
	atomic_store_explicit(&sl->sl_log_dropped, 0, RELAXED);
	atomic_store_explicit(&sl->sl_wait_since, 0, RELAXED);
	for (int w = 0; w < 5; w++)
		atomic_store_explicit(&sl->sl_peer[w], 0, RELAXED);
	atomic_store_explicit(&sl->sl_bytes_in, 0, RELAXED);
	atomic_store_explicit(&sl->sl_bytes_out, 0, RELAXED);
	for (int k = 0; k < SCOREBOARD_TIMEOUTS; k++)
		atomic_store_explicit(&sl->sl_timeouts[k], 0, RELAXED);
	for (int b = 0; b <= SCOREBOARD_BUCKETS; b++)
		atomic_store_explicit(&sl->sl_duration[b], 0, RELAXED);
	atomic_store_explicit(&sl->sl_duration_us, 0, RELAXED);
	atomic_store_explicit(&sl->sl_tls_handshakes, 0, RELAXED);
	atomic_store_explicit(&sl->sl_tls_resumed, 0, RELAXED);
	for (int f = 0; f < SCOREBOARD_TLS_FAILS; f++)
		atomic_store_explicit(&sl->sl_tls_failed[f], 0, RELAXED);
	scoreboard_set_state(sl, SLOT_STARTING);
	return sl;
}

/* A worker that died serving left its key: it counts no more. */
void
scoreboard_release(struct scoreboard *sb, struct slot *sl)
{
	atomic_store(&sb->sb_source[scoreboard_index(sb, sl)], 0);
	atomic_store(&sl->sl_state, SLOT_FREE);
}

void
scoreboard_set_high(struct scoreboard *sb, uint32_t high)
{
	atomic_store(&sb->sb_high, high < SCOREBOARD_SLOTS ? high :
	    SCOREBOARD_SLOTS);
}

uint32_t
scoreboard_index(const struct scoreboard *sb, const struct slot *sl)
{
	return (uint32_t)(sl - sb->sb_slot);
}

const char *
scoreboard_state_name(uint32_t state)
{
	switch (state) {
	case SLOT_FREE:		return "free";
	case SLOT_STARTING:	return "starting";
	case SLOT_IDLE:		return "idle";
	case SLOT_BUSY:		return "busy";
	case SLOT_RECYCLED:	return "recycled";
	default:		return "unknown";
	}
}

const char *
scoreboard_wait_name(uint32_t wait)
{
	switch (wait) {
	case SLOT_READING:	return "reading";
	case SLOT_WRITING:	return "writing";
	default:		return "running";
	}
}

/* ---- the worker's side ---------------------------------------------- */

/* Odd: a write is under way.  From an odd value (someone else's), odd
 * still, so that the end makes a value no reader has started from. */
static uint32_t
scoreboard_write_begin(struct slot *sl)
{
	uint32_t	 seq = atomic_load_explicit(&sl->sl_seq, RELAXED) | 1;

	atomic_store_explicit(&sl->sl_seq, seq, RELAXED);
	atomic_thread_fence(memory_order_release);
	return seq;
}

static void
scoreboard_write_end(struct slot *sl, uint32_t seq)
{
	atomic_store_explicit(&sl->sl_seq, seq + 1, memory_order_release);
}

static void
scoreboard_put_state(struct slot *sl, enum slot_state state, int64_t now)
{
	atomic_store_explicit(&sl->sl_since, now, RELAXED);
	atomic_store_explicit(&sl->sl_beat, now, RELAXED);
	atomic_store_explicit(&sl->sl_wait, SLOT_RUNNING, RELAXED);
	atomic_store_explicit(&sl->sl_state, state, RELAXED);
}

static void
scoreboard_put_peer(struct slot *sl, const struct addr *peer)
{
	uint32_t	 w[4];

	memcpy(w, peer->a_bytes, sizeof(w));
	atomic_store_explicit(&sl->sl_peer[0],
	    (uint32_t)peer->a_family << 16 | peer->a_port, RELAXED);
	for (int i = 0; i < 4; i++)
		atomic_store_explicit(&sl->sl_peer[i + 1], w[i], RELAXED);
}

void
scoreboard_set_state(struct slot *sl, enum slot_state state)
{
	int64_t		 now = scoreboard_ms();
	uint32_t	 seq = scoreboard_write_begin(sl);

	scoreboard_put_state(sl, state, now);
	scoreboard_write_end(sl, seq);
}

void
scoreboard_set_peer(struct slot *sl, const struct addr *peer)
{
	uint32_t	 seq = scoreboard_write_begin(sl);

	scoreboard_put_peer(sl, peer);
	scoreboard_write_end(sl, seq);
}

void
scoreboard_busy(struct slot *sl, const struct addr *peer, uint64_t conn)
{
	int64_t		 now = scoreboard_ms();
	uint32_t	 seq = scoreboard_write_begin(sl);

	atomic_store_explicit(&sl->sl_conn, conn, RELAXED);
	scoreboard_put_peer(sl, peer);
	scoreboard_put_state(sl, SLOT_BUSY, now);
	scoreboard_write_end(sl, seq);
}

void
scoreboard_set_wait(struct slot *sl, enum slot_wait wait)
{
	int64_t		 now = scoreboard_ms();
	uint32_t	 seq = scoreboard_write_begin(sl);

	atomic_store_explicit(&sl->sl_wait_since, now, RELAXED);
	atomic_store_explicit(&sl->sl_beat, now, RELAXED);
	atomic_store_explicit(&sl->sl_wait, wait, RELAXED);
	scoreboard_write_end(sl, seq);
}

void
scoreboard_beat(struct slot *sl)
{
	atomic_store_explicit(&sl->sl_beat, scoreboard_ms(), RELAXED);
}

/* Only the slot's worker adds to its counters: a load and a store, no
 * locked instruction on the way out of every connection. */
static void
scoreboard_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, RELAXED) + n,
	    RELAXED);
}

void
scoreboard_count_io(struct slot *sl, uint64_t in, uint64_t out,
    enum slot_timeout timeout)
{
	scoreboard_add(&sl->sl_bytes_in, in);
	scoreboard_add(&sl->sl_bytes_out, out);
	if (timeout > SLOT_TIMEOUT_NONE && timeout <= SCOREBOARD_TIMEOUTS)
		scoreboard_add(&sl->sl_timeouts[timeout - 1], 1);
}

void
scoreboard_count_duration(struct slot *sl, uint64_t usecs)
{
	int	 b = 0;

	while (b < SCOREBOARD_BUCKETS && usecs > scoreboard_bucket_us[b])
		b++;
	scoreboard_add(&sl->sl_duration[b], 1);
	scoreboard_add(&sl->sl_duration_us, usecs);
}

/* ---- reading, checked ------------------------------------------------- */

/* The fields as the slot holds them: one write's, or false. */
struct slot_raw {
	uint32_t	 rw_state;
	uint32_t	 rw_wait;
	uint64_t	 rw_conn;
	int64_t		 rw_since;
	int64_t		 rw_wait_since;
	uint32_t	 rw_peer[5];
};

static bool
scoreboard_read_raw(const struct slot *sl, struct slot_raw *rw)
{
	uint32_t	 before, after;

	for (int tries = 0; tries < SCOREBOARD_READ_TRIES; tries++) {
		before = atomic_load_explicit(&sl->sl_seq,
		    memory_order_acquire);
		if (before & 1)
			continue;
		rw->rw_state = atomic_load_explicit(&sl->sl_state, RELAXED);
		rw->rw_wait = atomic_load_explicit(&sl->sl_wait, RELAXED);
		rw->rw_conn = atomic_load_explicit(&sl->sl_conn, RELAXED);
		rw->rw_since = atomic_load_explicit(&sl->sl_since, RELAXED);
		rw->rw_wait_since = atomic_load_explicit(&sl->sl_wait_since,
		    RELAXED);
		for (int i = 0; i < 5; i++)
			rw->rw_peer[i] = atomic_load_explicit(&sl->sl_peer[i],
			    RELAXED);
		atomic_thread_fence(memory_order_acquire);
		after = atomic_load_explicit(&sl->sl_seq, RELAXED);
		if (after == before)
			return true;
	}
	return false;
}

static uint32_t
scoreboard_check_state(uint32_t state)
{
	switch (state) {
	case SLOT_STARTING:
	case SLOT_IDLE:
	case SLOT_BUSY:
	case SLOT_RECYCLED:
		return state;
	default:	/* free is for slots nobody holds: not a worker's */
		return SLOT_UNKNOWN;
	}
}

static uint32_t
scoreboard_check_wait(uint32_t wait)
{
	return wait == SLOT_READING || wait == SLOT_WRITING ? wait :
	    SLOT_RUNNING;
}

static void
scoreboard_check_peer(const uint32_t w[5], struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (w[0] >> 16 != AF_INET && w[0] >> 16 != AF_INET6)
		return;		/* family 0: unknown */
	a->a_family = (uint8_t)(w[0] >> 16);
	a->a_port = (uint16_t)w[0];
	memcpy(a->a_bytes, &w[1], sizeof(a->a_bytes));
}

int64_t
scoreboard_clamp_ms(int64_t stamp, int64_t born, int64_t now)
{
	if (born > now)
		born = now;
	/* The difference of the two as unsigned is exact when stamp is
	 * the larger: no signed overflow whatever a slot holds. */
	if (stamp < born || (stamp > now &&
	    (uint64_t)stamp - (uint64_t)now > SCOREBOARD_SKEW_MS))
		return born;
	return stamp > now ? now : stamp;
}

bool
scoreboard_read(const struct slot *sl, int64_t born, int64_t now,
    struct slot_reading *r)
{
	struct slot_raw	 rw;
	bool		 whole = scoreboard_read_raw(sl, &rw);

	memset(r, 0, sizeof(*r));
	r->sr_beat = scoreboard_clamp_ms(atomic_load_explicit(&sl->sl_beat,
	    RELAXED), born, now);
	if (!whole) {
		r->sr_state = SLOT_UNKNOWN;
		r->sr_wait = SLOT_RUNNING;
		r->sr_since = r->sr_wait_since = scoreboard_clamp_ms(born,
		    born, now);
		return false;
	}
	r->sr_state = scoreboard_check_state(rw.rw_state);
	r->sr_wait = scoreboard_check_wait(rw.rw_wait);
	r->sr_conn = rw.rw_conn;
	r->sr_since = scoreboard_clamp_ms(rw.rw_since, born, now);
	r->sr_wait_since = scoreboard_clamp_ms(rw.rw_wait_since, born, now);
	scoreboard_check_peer(rw.rw_peer, &r->sr_peer);
	return true;
}

/* rate for each second of the worker's age. */
static uint64_t
scoreboard_rate_max(int64_t born, int64_t now, uint64_t rate)
{
	uint64_t	 secs;

	/* A second more for the clocks' granularity; born after now (a
	 * worker not yet started) is that second alone.  The difference
	 * as unsigned is exact, now being the larger. */
	secs = (now > born ? ((uint64_t)now - (uint64_t)born) / 1000 : 0) + 1;
	if (secs > UINT64_MAX / rate)
		return UINT64_MAX;
	return secs * rate;
}

uint64_t
scoreboard_count_max(int64_t born, int64_t now)
{
	return scoreboard_rate_max(born, now, SCOREBOARD_COUNT_RATE);
}

uint64_t
scoreboard_bytes_max(int64_t born, int64_t now)
{
	return scoreboard_rate_max(born, now, SCOREBOARD_BYTE_RATE);
}

uint64_t
scoreboard_usecs_max(int64_t born, int64_t now)
{
	return scoreboard_rate_max(born, now, 1000000);
}

uint64_t
scoreboard_counter(const _Atomic uint64_t *c, uint64_t max)
{
	uint64_t	 v = atomic_load_explicit(c, RELAXED);

	return v < max ? v : max;
}

uint32_t
scoreboard_state(const struct slot *sl)
{
	return scoreboard_check_state(atomic_load_explicit(&sl->sl_state,
	    memory_order_acquire));
}

void
scoreboard_peer(const struct slot *sl, struct addr *a)
{
	struct slot_raw	 rw;

	if (!scoreboard_read_raw(sl, &rw))
		memset(a, 0, sizeof(*a));
	else
		scoreboard_check_peer(rw.rw_peer, a);
}

/* ---- the per-source count --------------------------------------------- */

/*
 * The family, the prefix length and the prefix's two halves, through the
 * mix in turn, from the board's seed.  For one family and length, an
 * IPv4 prefix or an IPv6 one of up to 64 bits is one half (the other is
 * 0), and each step is a bijection: two such prefixes never share a key.
 */
uint64_t
scoreboard_source_key(const struct scoreboard *sb, const struct addr *peer,
    unsigned bits)
{
	struct addr	 a = *peer;
	uint64_t	 w[2] = { 0, 0 }, h;

	if (a.a_family != AF_INET && a.a_family != AF_INET6)
		return 0;
	if (bits > (a.a_family == AF_INET ? 32u : 128u))
		bits = a.a_family == AF_INET ? 32 : 128;
	addr_mask(&a, bits);
	memcpy(w, a.a_bytes, a.a_family == AF_INET ? 4 : 16);
	h = scoreboard_mix(atomic_load_explicit(&sb->sb_source_seed, RELAXED) ^
	    ((uint64_t)a.a_family << 8 | bits));
	h = scoreboard_mix(scoreboard_mix(h ^ w[0]) ^ w[1]);
	return h != 0 ? h : 1;
}

void
scoreboard_set_source(struct scoreboard *sb, const struct slot *sl,
    uint64_t key)
{
	atomic_store_explicit(&sb->sb_source[scoreboard_index(sb, sl)], key,
	    RELAXED);
}

/*
 * A word per slot, eight to a cache line; only a slot whose key is equal
 * is looked at further, for its retiring flag.  The caller published its
 * own key and fenced first (scoreboard.h).
 */
unsigned
scoreboard_count_source(const struct scoreboard *sb, uint64_t key)
{
	uint32_t	 high = atomic_load(&sb->sb_high);
	unsigned	 n = 0;

	if (key == 0)
		return 0;
	if (high > SCOREBOARD_SLOTS)
		high = SCOREBOARD_SLOTS;
	for (uint32_t i = 0; i < high; i++)
		if (atomic_load_explicit(&sb->sb_source[i], RELAXED) == key &&
		    atomic_load_explicit(&sb->sb_slot[i].sl_retiring,
		    RELAXED) == 0)
			n++;
	return n;
}
