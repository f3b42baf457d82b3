/*
 * scoreboard.h - one shared-memory slot per worker (as in Apache's
 * scoreboard): the single record of what each worker is doing.  The
 * worker writes its state, its peer and how long it has waited on that
 * peer; the master reads them to size the pool, shed connections, find
 * hung workers and answer status requests, and writes only the request to
 * shed a connection.  Fields are C11 atomics, so a reader never sees a
 * torn value; a slot has a cache line or two of its own, so workers never
 * write to a line another worker writes.
 */
#ifndef PREFORKD_SCOREBOARD_H
#define PREFORKD_SCOREBOARD_H

#include <stdalign.h>
#include <stdatomic.h>
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
};

/* What a busy worker is doing now. */
enum slot_wait {
	SLOT_RUNNING = 0,	/* on the CPU, or about to be */
	SLOT_READING,		/* waiting for the client to send */
	SLOT_WRITING,		/* waiting for the client to read */
};

struct slot {
	alignas(64) _Atomic int32_t sl_pid;
	_Atomic uint32_t	 sl_state;
	_Atomic uint32_t	 sl_wait;
	_Atomic uint32_t	 sl_listener;	/* of the connection */
	_Atomic uint64_t	 sl_served;
	_Atomic uint64_t	 sl_conn;	/* number of the one in hand */
	_Atomic uint64_t	 sl_limited;	/* closed: per-source limit */
	_Atomic uint64_t	 sl_shed;	/* closed: shed by the master */
	_Atomic uint64_t	 sl_denied;	/* closed: access rules */
	_Atomic uint64_t	 sl_proxy_failed; /* closed: PROXY header */
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
	 * generation.c): once the master has seen 0 here after setting
	 * sl_retiring, this worker accepts no connection any more. */
	_Atomic uint32_t	 sl_accepting;
	/* The peer: family and port, then the address, 4 words. */
	_Atomic uint32_t	 sl_peer[5];
};

struct scoreboard {
	/* Slots below this index may be in use: a bound for scans. */
	alignas(64) _Atomic uint32_t sb_high;
	/* Written by the master when the daemon stops: a worker told to
	 * stop first takes what is still queued on its own sockets. */
	_Atomic uint32_t	 sb_stopping;
	/* Set by the one stopping worker that stays for the connections
	 * TCP_DEFER_ACCEPT still holds back (worker.c). */
	_Atomic uint32_t	 sb_defer_waiter;
	struct slot		 sb_slot[SCOREBOARD_SLOTS];
};

/* A fresh board in shared memory; *fd (unless fd is NULL) gets the
 * memfd behind it, close-on-exec, to hand over across an upgrade. */
struct scoreboard *scoreboard_create(int *fd);
/* The board behind fd, as scoreboard_create() made it. */
struct scoreboard *scoreboard_attach(int fd);
void		 scoreboard_destroy(struct scoreboard *);
/* A free slot, or NULL when all are taken (the master only). */
struct slot	*scoreboard_claim(struct scoreboard *);
void		 scoreboard_release(struct scoreboard *, struct slot *);
const char	*scoreboard_state_name(uint32_t);
const char	*scoreboard_wait_name(uint32_t);

/* Milliseconds on CLOCK_MONOTONIC: the slots' timestamps. */
int64_t		 scoreboard_ms(void);

/* The worker's side. */
void	scoreboard_set_state(struct slot *, enum slot_state);
/* Connection number conn (served + 1) from peer, on a listener. */
void	scoreboard_busy(struct slot *, const struct addr *peer,
	    unsigned listener, uint64_t conn);
/* The peer, once known (behind a balancer: from its PROXY header). */
void	scoreboard_set_peer(struct slot *, const struct addr *);
void	scoreboard_set_wait(struct slot *, enum slot_wait);
void	scoreboard_beat(struct slot *);

/* Anyone's. */
uint32_t scoreboard_state(const struct slot *);
void	scoreboard_peer(const struct slot *, struct addr *);
/* Busy slots whose peer is in the same prefix as peer, self included;
 * retiring workers are not counted: during a reload the old generation
 * finishes its connections beside the new one, and a client must not be
 * refused for the overlap. */
unsigned scoreboard_count_source(const struct scoreboard *,
	    const struct addr *peer, unsigned bits);

#endif
