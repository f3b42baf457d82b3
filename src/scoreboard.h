/* SPDX-License-Identifier: ISC */
/*
 * scoreboard.h - one shared-memory slot per worker (as in Apache's
 * scoreboard): the single record of what each worker is doing.  The
 * worker writes its state, its peer and how long it has waited on that
 * peer; the master reads them to size the pool, shed connections, find
 * hung workers and answer status requests, and writes only the request to
 * shed a connection.  Fields are C11 atomics, so a reader never sees a
 * torn value; a slot has a cache line or two of its own, so workers never
 * write to a line another worker writes.
 *
 * Every worker can write every slot: a module's bug or a compromised
 * worker may leave anything there.  So the master reads the board as it
 * reads a client's bytes.  Which slots are free is its own record (the
 * process table, pool.c), never a slot's state; what it reads from a slot
 * goes through scoreboard_read(), which checks each value against what
 * the master knows (states in its own table, times between the worker's
 * start and now, counters bounded by the worker's age) and never returns
 * a value it could not check as if it were one.
 *
 * Fields that belong together (the state and since when, the wait and
 * since when, the connection's number and peer) are written inside a
 * sequence count (sl_seq, odd while a write is under way), so that a
 * reader gets them from one moment or, after a few tries, "unknown".
 *
 * The per-source limit does not read the slots: every worker counts
 * every other on each connection, and a slot is two or three cache lines
 * that its own worker keeps writing.  Each slot has a word of its own in
 * sb_source[] instead, eight to a cache line: the key of the source its
 * connection counts against (a hash of the prefix), 0 when none.  A
 * worker publishes its key, fences, then counts the keys equal to it
 * (scoreboard_count_source()): two workers that accept from one source
 * at once may both refuse, never both admit one over the limit.  Keys
 * are hashed with a random seed drawn when the board is made, so a
 * client cannot choose an address whose key is another's; two prefixes
 * whose keys are equal all the same are counted as one, which can only
 * refuse a client, never admit one over the limit.  A slot's key is
 * written by its worker alone (and zeroed by the master when it claims
 * or releases the slot); a hostile worker can write any key anywhere,
 * which can make a source look busier (or less busy) than it is, as it
 * could by writing slots before.
 */
#ifndef PREFORKD_SCOREBOARD_H
#define PREFORKD_SCOREBOARD_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

/* Old generations finish their connections while new ones start. */
#define SCOREBOARD_SLOTS	(4 * 1024)

enum slot_state {
	SLOT_FREE = 0,
	SLOT_STARTING,
	SLOT_IDLE,		/* waiting for a connection */
	SLOT_BUSY,		/* serving one */
	SLOT_RECYCLED,		/* served its max_connections, exiting */
	/* Never written: what a reader gets for a slot it cannot read in
	 * one piece or that holds no state above. */
	SLOT_UNKNOWN,
};

/* What a busy worker is doing now. */
enum slot_wait {
	SLOT_RUNNING = 0,	/* on the CPU, or about to be */
	SLOT_READING,		/* waiting for the client to send */
	SLOT_WRITING,		/* waiting for the client to read */
};

/* The timeout that ended a wait for the client (conn.c). */
enum slot_timeout {
	SLOT_TIMEOUT_NONE = 0,
	SLOT_TIMEOUT_READ,		/* timeouts.read, or PROXY's */
	SLOT_TIMEOUT_WRITE,		/* timeouts.write */
	SLOT_TIMEOUT_CONNECTION,	/* timeouts.connection, the whole */
};
#define SCOREBOARD_TIMEOUTS	3	/* the kinds above, less none */
/* TLS handshakes that failed, by what they were (tls.h: TLS_FAIL_N). */
#define SCOREBOARD_TLS_FAILS	6

/* The connection duration histogram's upper bounds (scoreboard.c), in
 * microseconds; a bucket more counts the longer ones. */
#define SCOREBOARD_BUCKETS	15
extern const uint64_t	 scoreboard_bucket_us[SCOREBOARD_BUCKETS];

struct slot {
	alignas(64) _Atomic uint32_t sl_state;
	_Atomic uint32_t	 sl_wait;
	_Atomic uint64_t	 sl_served;
	_Atomic uint64_t	 sl_conn;	/* number of the one in hand */
	_Atomic uint64_t	 sl_limited;	/* closed: per-source limit */
	_Atomic uint64_t	 sl_shed;	/* closed: shed by the master */
	_Atomic uint64_t	 sl_denied;	/* closed: access rules */
	_Atomic uint64_t	 sl_proxy_failed; /* closed: PROXY header */
	/* Of all it accepted: the client left without sending a byte (a
	 * PROXY header aside), counted instead of logged (log.empty). */
	_Atomic uint64_t	 sl_empty;
	_Atomic uint64_t	 sl_log_dropped; /* log lines it dropped */
	_Atomic int64_t		 sl_since;	/* ms: entered sl_state */
	_Atomic int64_t		 sl_wait_since;	/* ms: began sl_wait */
	_Atomic int64_t		 sl_beat;	/* ms: last sign of life */
	/* Written by the master: cut connection number N (sl_conn) short;
	 * 0: none. */
	_Atomic uint64_t	 sl_shed_req;
	/* Written by the master: this worker is retiring (it finishes the
	 * connection in hand and leaves); not counted per source. */
	_Atomic uint32_t	 sl_retiring;
	/* Written by the worker: 1 from its look at sl_retiring until its
	 * accept() returned.  With sl_retiring, a handshake (worker.c,
	 * pool.c, reload.c): once the master has seen 0 here after setting
	 * sl_retiring, this worker accepts no connection any more. */
	_Atomic uint32_t	 sl_accepting;
	/* The peer: family and port, then the address, 4 words. */
	_Atomic uint32_t	 sl_peer[5];
	/* Odd while the worker writes the fields that go together (last:
	 * the offsets of the others are as before it came). */
	_Atomic uint32_t	 sl_seq;
	/*
	 * Counters the worker adds to at the end of each connection
	 * (scoreboard_count_io(), scoreboard_count_duration()), read as
	 * counters are: the bytes each way and the connections a timeout
	 * ended, by kind (slot_timeout less one), of every connection; and
	 * of those the service had, how long each lasted: a count per
	 * bucket of scoreboard_bucket_us[] (the last: longer), and the sum
	 * of the durations in microseconds.
	 */
	_Atomic uint64_t	 sl_bytes_in;
	_Atomic uint64_t	 sl_bytes_out;
	_Atomic uint64_t	 sl_timeouts[SCOREBOARD_TIMEOUTS];
	_Atomic uint64_t	 sl_duration[SCOREBOARD_BUCKETS + 1];
	_Atomic uint64_t	 sl_duration_us;
	/* TLS listeners': handshakes done, of them resumed sessions, and
	 * those that failed by what they were. */
	_Atomic uint64_t	 sl_tls_handshakes;
	_Atomic uint64_t	 sl_tls_resumed;
	_Atomic uint64_t	 sl_tls_failed[SCOREBOARD_TLS_FAILS];
};

struct scoreboard {
	/* Slots below this index may be in use: a bound for the workers'
	 * scans, written by the master from its own record (it reads it
	 * never). */
	alignas(64) _Atomic uint32_t sb_high;
	/* Written by the master when the daemon stops: a worker told to
	 * stop first takes what is still queued on its own sockets. */
	_Atomic uint32_t	 sb_stopping;
	/* Set by the one stopping worker that stays for the connections
	 * TCP_DEFER_ACCEPT still holds back (worker.c). */
	_Atomic uint32_t	 sb_defer_waiter;
	/* Drawn when the board is made: the seed of the source keys. */
	_Atomic uint64_t	 sb_source_seed;
	/* Per slot, the source its connection counts against (see
	 * above): written by the slot's worker, read by all. */
	alignas(64) _Atomic uint64_t sb_source[SCOREBOARD_SLOTS];
	struct slot		 sb_slot[SCOREBOARD_SLOTS];
};

/* A fresh board in shared memory; *fd (unless fd is NULL) gets the
 * memfd behind it, close-on-exec, to hand over across an upgrade. */
struct scoreboard *scoreboard_create(int *fd);
/* The board behind fd, as scoreboard_create() made it. */
struct scoreboard *scoreboard_attach(int fd);
void		 scoreboard_destroy(struct scoreboard *);
/*
 * The master only, which alone knows which slots are free (pool.c): slot
 * i made ready for a new worker (NULL if out of range), or given back;
 * and the bound of the workers' scans, one past the highest slot in use.
 */
struct slot	*scoreboard_claim(struct scoreboard *, uint32_t i);
void		 scoreboard_release(struct scoreboard *, struct slot *);
void		 scoreboard_set_high(struct scoreboard *, uint32_t high);
/* The index of a slot of sb. */
uint32_t	 scoreboard_index(const struct scoreboard *,
		    const struct slot *);
/* Names for any value at all: "unknown" for one not in the table. */
const char	*scoreboard_state_name(uint32_t);
const char	*scoreboard_wait_name(uint32_t);

/* Milliseconds on CLOCK_MONOTONIC: the slots' timestamps. */
int64_t		 scoreboard_ms(void);

/*
 * A slot as the master may believe it.  The times are within born (the
 * worker's start, on the master's clock) and now: one outside was not
 * written by the worker's clock, and counts as born (the oldest it can
 * be), so that a garbled time never makes a stuck worker look alive.  A
 * state or wait not in the tables is SLOT_UNKNOWN or SLOT_RUNNING; a
 * peer of another family is family 0.
 */
struct slot_reading {
	uint32_t	 sr_state;
	uint32_t	 sr_wait;
	uint64_t	 sr_conn;
	int64_t		 sr_since;
	int64_t		 sr_wait_since;
	int64_t		 sr_beat;
	struct addr	 sr_peer;
};

/* Fills *r; false (state unknown, the times born) when the slot did
 * not hold still for a few tries: a worker preempted as it wrote, or one
 * that left its sequence count odd. */
bool	 scoreboard_read(const struct slot *, int64_t born, int64_t now,
	    struct slot_reading *);
/* A time from a slot, put within born .. now (see struct slot_reading);
 * born after now counts as now. */
int64_t	 scoreboard_clamp_ms(int64_t stamp, int64_t born, int64_t now);
/* The largest count a worker born then can have made by now: a counter
 * read from its slot is cut to that, so that no slot can wrap a total. */
uint64_t scoreboard_count_max(int64_t born, int64_t now);
/* A counter, cut to max. */
uint64_t scoreboard_counter(const _Atomic uint64_t *, uint64_t max);
/* The same bounds for bytes (a worker moves no more than a fast link
 * carries) and for a sum of durations in microseconds (a worker serves
 * one connection at a time: no more than its age). */
uint64_t scoreboard_bytes_max(int64_t born, int64_t now);
uint64_t scoreboard_usecs_max(int64_t born, int64_t now);

/* The worker's side. */
void	scoreboard_set_state(struct slot *, enum slot_state);
/* Connection number conn (the worker's accepted count) from peer. */
void	scoreboard_busy(struct slot *, const struct addr *peer,
	    uint64_t conn);
/* The peer, once known (behind a balancer: from its PROXY header). */
void	scoreboard_set_peer(struct slot *, const struct addr *);
void	scoreboard_set_wait(struct slot *, enum slot_wait);
void	scoreboard_beat(struct slot *);
/* A connection is over: its bytes each way and the timeout that ended
 * it; and, for one the service had, how long it lasted. */
void	scoreboard_count_io(struct slot *, uint64_t in, uint64_t out,
	    enum slot_timeout);
void	scoreboard_count_duration(struct slot *, uint64_t usecs);

/* Anyone's: checked as scoreboard_read() checks them. */
uint32_t scoreboard_state(const struct slot *);
void	scoreboard_peer(const struct slot *, struct addr *);

/* The key of peer's source, its first bits (an address of no family:
 * 0, nobody's source); never 0 otherwise. */
uint64_t scoreboard_source_key(const struct scoreboard *,
	    const struct addr *peer, unsigned bits);
/* The worker's: the source of the connection in hand, key (0: none, as
 * once the connection is over). */
void	scoreboard_set_source(struct scoreboard *, const struct slot *,
	    uint64_t key);
/* Slots whose source is key, self included (0: none counted); retiring
 * workers are not counted: during a reload the old generation finishes
 * its connections beside the new one, and a client must not be refused
 * for the overlap. */
unsigned scoreboard_count_source(const struct scoreboard *, uint64_t key);

#endif
