/*
 * scoreboard.h - one shared-memory slot per worker, written by the worker
 * and read by the master for status reports (as in Apache's scoreboard).
 * A slot has one writer, so plain stores are enough.
 */
#ifndef PREFORKD_SCOREBOARD_H
#define PREFORKD_SCOREBOARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Old generations finish their connections while new ones start. */
#define SCOREBOARD_SLOTS	(4 * 1024)

enum slot_state {
	SLOT_FREE = 0,
	SLOT_STARTING,
	SLOT_IDLE,		/* waiting for a connection */
	SLOT_BUSY,		/* serving one */
};

struct slot {
	volatile pid_t		 sl_pid;
	volatile uint32_t	 sl_state;
	volatile uint64_t	 sl_served;
};

struct slot	*scoreboard_create(void);
/* A free slot, or NULL when all are taken. */
struct slot	*scoreboard_claim(struct slot *board);
void		 scoreboard_release(struct slot *);
const char	*scoreboard_state_name(uint32_t);

#endif
