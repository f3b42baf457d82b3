/*
 * scoreboard.c - the shared worker status table.
 *
 * Ordering: a worker publishes its peer before it says it is busy
 * (release), and a reader that sees it busy (acquire) sees that peer.
 * Everything else is a gauge read with relaxed loads: a status line may
 * be a moment old, never torn.
 */
#include "autoconf.h"

#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scoreboard.h"

#define RELAXED	memory_order_relaxed

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

struct slot *
scoreboard_claim(struct scoreboard *sb)
{
	for (uint32_t i = 0; i < SCOREBOARD_SLOTS; i++) {
		struct slot *sl = &sb->sb_slot[i];

		if (atomic_load(&sl->sl_state) != SLOT_FREE)
			continue;
		atomic_store_explicit(&sl->sl_pid, 0, RELAXED);
		atomic_store_explicit(&sl->sl_served, 0, RELAXED);
		atomic_store_explicit(&sl->sl_conn, 0, RELAXED);
		atomic_store_explicit(&sl->sl_limited, 0, RELAXED);
		atomic_store_explicit(&sl->sl_shed, 0, RELAXED);
		atomic_store_explicit(&sl->sl_denied, 0, RELAXED);
		atomic_store_explicit(&sl->sl_proxy_failed, 0, RELAXED);
		atomic_store_explicit(&sl->sl_log_dropped, 0, RELAXED);
		atomic_store_explicit(&sl->sl_shed_req, 0, RELAXED);
		atomic_store_explicit(&sl->sl_retiring, 0, RELAXED);
		atomic_store_explicit(&sl->sl_accepting, 0, RELAXED);
		atomic_store_explicit(&sl->sl_wait, SLOT_RUNNING, RELAXED);
		atomic_store_explicit(&sl->sl_beat, scoreboard_ms(), RELAXED);
		for (int w = 0; w < 5; w++)
			atomic_store_explicit(&sl->sl_peer[w], 0, RELAXED);
		scoreboard_set_state(sl, SLOT_STARTING);
		if (i + 1 > atomic_load(&sb->sb_high))
			atomic_store(&sb->sb_high, i + 1);
		return sl;
	}
	return NULL;
}

void
scoreboard_release(struct scoreboard *sb, struct slot *sl)
{
	uint32_t	 high = atomic_load(&sb->sb_high);

	atomic_store_explicit(&sl->sl_pid, 0, RELAXED);
	atomic_store(&sl->sl_state, SLOT_FREE);
	/* Scans stop at the highest slot in use (only the master claims
	 * and releases, so this cannot race another release). */
	while (high > 0 && atomic_load(&sb->sb_slot[high - 1].sl_state) ==
	    SLOT_FREE)
		high--;
	atomic_store(&sb->sb_high, high);
}

const char *
scoreboard_state_name(uint32_t state)
{
	switch (state) {
	case SLOT_STARTING:	return "starting";
	case SLOT_IDLE:		return "idle";
	case SLOT_BUSY:		return "busy";
	case SLOT_RECYCLED:	return "recycled";
	default:		return "free";
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

void
scoreboard_set_state(struct slot *sl, enum slot_state state)
{
	int64_t	 now = scoreboard_ms();

	atomic_store_explicit(&sl->sl_since, now, RELAXED);
	atomic_store_explicit(&sl->sl_beat, now, RELAXED);
	atomic_store_explicit(&sl->sl_wait, SLOT_RUNNING, RELAXED);
	atomic_store_explicit(&sl->sl_state, state, memory_order_release);
}

void
scoreboard_set_peer(struct slot *sl, const struct addr *peer)
{
	uint32_t	 w[4];

	memcpy(w, peer->a_bytes, sizeof(w));
	atomic_store_explicit(&sl->sl_peer[0],
	    (uint32_t)peer->a_family << 16 | peer->a_port, RELAXED);
	for (int i = 0; i < 4; i++)
		atomic_store_explicit(&sl->sl_peer[i + 1], w[i], RELAXED);
}

void
scoreboard_busy(struct slot *sl, const struct addr *peer, unsigned listener,
    uint64_t conn)
{
	atomic_store_explicit(&sl->sl_conn, conn, RELAXED);
	scoreboard_set_peer(sl, peer);
	atomic_store_explicit(&sl->sl_listener, listener, RELAXED);
	scoreboard_set_state(sl, SLOT_BUSY);
}

void
scoreboard_set_wait(struct slot *sl, enum slot_wait wait)
{
	int64_t	 now = scoreboard_ms();

	atomic_store_explicit(&sl->sl_wait_since, now, RELAXED);
	atomic_store_explicit(&sl->sl_beat, now, RELAXED);
	atomic_store_explicit(&sl->sl_wait, wait, RELAXED);
}

void
scoreboard_beat(struct slot *sl)
{
	atomic_store_explicit(&sl->sl_beat, scoreboard_ms(), RELAXED);
}

uint32_t
scoreboard_state(const struct slot *sl)
{
	return atomic_load_explicit(&sl->sl_state, memory_order_acquire);
}

void
scoreboard_peer(const struct slot *sl, struct addr *a)
{
	uint32_t	 w[4];
	uint32_t	 fp;

	memset(a, 0, sizeof(*a));
	fp = atomic_load_explicit(&sl->sl_peer[0], RELAXED);
	for (int i = 0; i < 4; i++)
		w[i] = atomic_load_explicit(&sl->sl_peer[i + 1], RELAXED);
	a->a_family = (uint8_t)(fp >> 16);
	a->a_port = (uint16_t)fp;
	memcpy(a->a_bytes, w, sizeof(w));
}

unsigned
scoreboard_count_source(const struct scoreboard *sb, const struct addr *peer,
    unsigned bits)
{
	uint32_t	 high = atomic_load(&sb->sb_high);
	struct addr	 a;
	unsigned	 n = 0;

	for (uint32_t i = 0; i < high && i < SCOREBOARD_SLOTS; i++) {
		const struct slot *sl = &sb->sb_slot[i];

		if (scoreboard_state(sl) != SLOT_BUSY ||
		    atomic_load_explicit(&sl->sl_retiring, RELAXED))
			continue;
		scoreboard_peer(sl, &a);
		if (addr_same_prefix(&a, peer, bits))
			n++;
	}
	return n;
}
