/* SPDX-License-Identifier: ISC */
/*
 * control.h - the control socket: a local stream socket on which the
 * master answers "status", "metrics" and "help" (the client side that
 * "preforkd -s" uses is ctlclient.c).
 *
 * The socket is created mode 0600, owned by the master's user, and a
 * client is also checked by its credentials (SO_PEERCRED): root or the
 * daemon's own user.  A client writes one line, the master writes the
 * answer and closes.  It is a side door of the master (sidedoor.h):
 * everything non-blocking and driven by the master's ppoll(), at most
 * CONTROL_CLIENTS at a time, each with CONTROL_DEADLINE seconds from its
 * accept for its request and the whole answer, and a request of at most
 * CONTROL_REQUEST_MAX bytes, so no client can stall the master or make
 * it hold more than a bounded amount.
 */
#ifndef PREFORKD_CONTROL_H
#define PREFORKD_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "loglimit.h"
#include "sidedoor.h"

#define CONTROL_CLIENTS		SIDEDOOR_CLIENTS
#define CONTROL_DEADLINE	2.0		/* seconds from accept */
/* A "reload" client waits for the outcome: the check, then the start of
 * the new generation, each bounded (confcheck.h, reload.h). */
#define CONTROL_RELOAD_DEADLINE	45.0
#define CONTROL_REQUEST_MAX	256		/* bytes, the newline included */
#define CONTROL_ANSWER_MAX	(1024 * 1024)	/* bytes; longer is cut */
#define CONTROL_FDS		SIDEDOOR_FDS

/*
 * A side door (sidedoor.h); each client that waits for the outcome of a
 * reload has its number in sc_token (see control_reload_settled()).
 */
struct control {
	struct sidedoor		 ctl_door;
	/* The socket file we made, removed at the end if still that one;
	 * "": none known to be ours. */
	char			 ctl_path[CONFIG_MAX_CONTROL_PATH];
	dev_t			 ctl_dev;
	ino_t			 ctl_ino;
	char			*ctl_scratch;	/* answers are formatted here */
	struct log_limit	 ctl_denied_log;
};

struct status_facts;

void	control_init(struct control *);
/* path as an AF_UNIX address; -1 (ENAMETOOLONG) if it does not fit. */
struct sockaddr_un;
int	control_sockaddr(const char *path, struct sockaddr_un *);
/*
 * Serve path (NULL: no socket).  Returns 0, or an exit status, logged:
 * EX_CANTCREAT when something that is not a socket is at path or the
 * socket cannot be made there, EX_UNAVAILABLE when another process
 * answers on it, EX_OSERR.
 */
int	control_open(struct control *, const char *path);
/* A reload committed with path (may be NULL): move to it if it changed;
 * if the new socket cannot be opened, keep the old one. */
void	control_reconfigure(struct control *, const char *path);
/* Close everything; the socket file is removed if it is still ours. */
void	control_close(struct control *);
/*
 * An in-place upgrade.  The old image holds: it takes no new client (they
 * wait in the backlog, which crosses the exec with the listening socket)
 * and answers those in hand; true once none is left.  Released, if the
 * exec does not come.  The new image adopts the socket with the file it
 * was bound to (its device and inode: removed at exit only if still that
 * one).
 */
bool	control_hold(struct control *);
void	control_release(struct control *);
void	control_adopt(struct control *, int fd, const char *path, dev_t,
	    ino_t);
/* Reload number seq is over: answer every client that waits for it or
 * an earlier one with "reloaded ..." or "error: reload failed: why". */
void	control_reload_settled(struct control *, unsigned long seq, bool ok,
	    const char *what);

/* Descriptors to watch, into pfd (room for CONTROL_FDS); how many. */
size_t	control_pollfds(const struct control *, struct pollfd *pfd);
/*
 * The master's side of a client's "reload": co_reload starts one (or
 * has one follow the one under way), and co_seq counts the reloads
 * begun; the client waits for the outcome of the next one
 * (control_reload_settled()).
 */
struct control_owner {
	void			 (*co_reload)(void *arg);
	void			  *co_arg;
	const unsigned long	  *co_seq;
};

/* Act on what ppoll() said about the descriptors control_pollfds() gave,
 * the answers from the facts of this turn. */
void	control_handle(struct control *, const struct status_facts *,
	    const struct control_owner *, const struct pollfd *pfd,
	    size_t n);
/* Drop the clients whose deadline has passed. */
void	control_expire(struct control *, struct timespec now);

#endif
