/*
 * scoreboard.c - the shared worker status table.
 */
#include "autoconf.h"

#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "scoreboard.h"

struct slot *
scoreboard_create(void)
{
	void	*p;

	p = mmap(NULL, SCOREBOARD_SLOTS * sizeof(struct slot),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_warn("mmap(scoreboard)");
		return NULL;
	}
	return p;
}

struct slot *
scoreboard_claim(struct slot *board)
{
	for (size_t i = 0; i < SCOREBOARD_SLOTS; i++)
		if (board[i].sl_state == SLOT_FREE) {
			board[i].sl_pid = 0;
			board[i].sl_served = 0;
			board[i].sl_state = SLOT_STARTING;
			return &board[i];
		}
	return NULL;
}

void
scoreboard_release(struct slot *sl)
{
	sl->sl_pid = 0;
	sl->sl_state = SLOT_FREE;
}

const char *
scoreboard_state_name(uint32_t state)
{
	switch (state) {
	case SLOT_STARTING:	return "starting";
	case SLOT_IDLE:		return "idle";
	case SLOT_BUSY:		return "busy";
	default:		return "free";
	}
}
