/* SPDX-License-Identifier: ISC */
/*
 * agent.h - the answer to a load balancer's agent check (HAProxy's
 * "agent-check"): a TCP port on which the master says, in one line, how
 * much more this host can take, then closes.
 *
 *   "ready N%\n"	serving; N follows the pool's free share (at least
 *			1: a busy host still takes its share of new ones)
 *   "drain\n"		stopping after timeouts.drain: send no new clients
 *   "maint\n"		stopping now
 *
 * The master's loop serves it, never a worker a client can hold, and
 * never waits on it: the line fits in any socket buffer, so it is sent at
 * once.  What the checker may send (agent-send) is read, a buffer per
 * wake-up, and dropped, until it closes, sends more than AGENT_INPUT_MAX
 * or AGENT_LINGER passes: closing on unread bytes would reset the
 * connection.  At most AGENT_CLIENTS linger; a new checker takes the
 * place of the oldest, which has had its line, so that checkers that
 * never close cannot keep the balancer's own waiting.  Anyone who can
 * reach the port can ask: it says nothing but the line, but put it where
 * only the balancers reach (or firewall it).
 */
#ifndef PREFORKD_AGENT_H
#define PREFORKD_AGENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "config.h"
#include "sidedoor.h"
#include "status.h"

#define AGENT_CLIENTS		SIDEDOOR_CLIENTS
#define AGENT_LINGER		0.5	/* seconds from accept */
#define AGENT_INPUT_MAX		4096	/* bytes a checker may send */
#define AGENT_FDS		SIDEDOOR_FDS
#define AGENT_LINE_MAX		STATUS_AGENT_MAX

/* A side door (sidedoor.h) whose every client is answered at its accept
 * and lingers. */
struct agent {
	struct sidedoor		 ag_door;
};

struct status_facts;

void	agent_init(struct agent *);
/* Listen where cfg says (nowhere: no agent).  0, or EX_UNAVAILABLE /
 * EX_OSERR, logged. */
int	agent_open(struct agent *, const struct config *);
/*
 * A reload reads cfg: the port it names, when it is not the running
 * agent's, is bound into fresh before anything changes (0), or the
 * reload fails (-1, logged).  At the commit, agent_commit() moves to it,
 * or closes the agent that cfg no longer has; checkers in hand have
 * their line and finish.
 */
int	agent_prepare(const struct agent *, struct sidedoor_socket *fresh,
	    const struct config *cfg);
void	agent_commit(struct agent *, struct sidedoor_socket *fresh,
	    const struct config *cfg);
void	agent_close(struct agent *);
/*
 * An in-place upgrade (as control_hold()): the old image takes no new
 * checker (they wait in the backlog, which crosses the exec) and lets
 * those in hand, which have their line, close; true once none is left.
 * The new image adopts the socket, bound to a.
 */
bool	agent_hold(struct agent *);
void	agent_release(struct agent *);
void	agent_adopt(struct agent *, int fd, const struct addr *a);

size_t	agent_pollfds(const struct agent *, struct pollfd *pfd);
/* Act on what ppoll() said; the line comes from status_agent(). */
void	agent_handle(struct agent *, const struct status_facts *,
	    const struct pollfd *pfd, size_t n);
void	agent_expire(struct agent *, struct timespec now);

#endif
