/* SPDX-License-Identifier: ISC */
/*
 * agent.c - the agent-check port (see agent.h for what it answers).
 *
 * A side door (sidedoor.c) whose request is the connection itself: the
 * line is sent as soon as a checker is accepted.  What the checker may
 * send (agent-send) is not needed, but is read while it lingers, so that
 * our close is a FIN, not a reset that could beat our line: a buffer per
 * wake-up, AGENT_INPUT_MAX in all.
 */
#include "autoconf.h"

#include <string.h>

#include "agent.h"
#include "log.h"
#include "status.h"

static void	agent_request(void *, struct sidedoor *,
		    struct sidedoor_client *, bool);

/*
 * A checker that never closes cannot keep the others waiting: a new one
 * takes the oldest's place, which has had its line.  A burst is bounded
 * by the places, so that none accepted in it loses its place in it: the
 * rest waits for the next turn.
 */
static const struct sidedoor_ops agent_door = {
	.so_what = "agent",
	.so_deadline = AGENT_LINGER,
	.so_linger = AGENT_LINGER,
	.so_discard_max = AGENT_INPUT_MAX,
	.so_burst = AGENT_CLIENTS,
	.so_evict = true,
	.so_request = agent_request,
};

void
agent_init(struct agent *ag)
{
	sidedoor_init(&ag->ag_door, &agent_door);
}

/* Where cfg's agent is, in lines about it. */
static const char *
agent_where(const struct config *cfg)
{
	return cfg->c_agent_where != NULL ? cfg->c_agent_where : cfg->c_file;
}

int
agent_open(struct agent *ag, const struct config *cfg)
{
	int	 status;

	if (cfg->c_agent_address == NULL)
		return 0;
	if ((status = sidedoor_socket_open(&ag->ag_door.sd_sock, "agent",
	    cfg->c_agent_address, cfg->c_agent_port, agent_where(cfg))) != 0)
		return status;
	log_notice("agent check on %s", ag->ag_door.sd_sock.sk_name);
	return 0;
}

void
agent_close(struct agent *ag)
{
	sidedoor_close(&ag->ag_door);
}

int
agent_prepare(const struct agent *ag, struct sidedoor_socket *fresh,
    const struct config *cfg)
{
	return sidedoor_prepare(&ag->ag_door, fresh, cfg->c_agent_address,
	    cfg->c_agent_port, agent_where(cfg));
}

void
agent_commit(struct agent *ag, struct sidedoor_socket *fresh,
    const struct config *cfg)
{
	switch (sidedoor_commit(&ag->ag_door, fresh, cfg->c_agent_address)) {
	case 1:
		log_notice("agent check on %s", ag->ag_door.sd_sock.sk_name);
		break;
	case -1:
		log_notice("agent check off");
		break;
	}
}

bool
agent_hold(struct agent *ag)
{
	return sidedoor_hold(&ag->ag_door);
}

void
agent_release(struct agent *ag)
{
	sidedoor_release(&ag->ag_door);
}

void
agent_adopt(struct agent *ag, int fd, const struct addr *a)
{
	sidedoor_adopt(&ag->ag_door, fd, a, NULL);
	log_notice("agent check kept across the upgrade %s",
	    ag->ag_door.sd_sock.sk_name);
}

/* What a pass over the checkers works with: the facts of this turn. */
struct agent_call {
	const struct status_facts	*ac_facts;
};

/* The line, from status_agent(): the socket is new, its buffer empty. */
static void
agent_request(void *arg, struct sidedoor *sd, struct sidedoor_client *c,
    bool eof)
{
	char	 line[AGENT_LINE_MAX];

	(void)eof;
	sidedoor_answer(sd, c, line, status_agent(
	    ((struct agent_call *)arg)->ac_facts, line, sizeof(line)));
}

size_t
agent_pollfds(const struct agent *ag, struct pollfd *pfd)
{
	return sidedoor_pollfds(&ag->ag_door, pfd);
}

void
agent_handle(struct agent *ag, const struct status_facts *f,
    const struct pollfd *pfd, size_t n)
{
	struct agent_call	 cl = { f };

	sidedoor_handle(&ag->ag_door, &cl, pfd, n);
}

void
agent_expire(struct agent *ag, struct timespec now)
{
	sidedoor_expire(&ag->ag_door, now);
}
