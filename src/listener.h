/* SPDX-License-Identifier: ISC */
/*
 * listener.h - the listening sockets, opened by the master and shared by
 * every worker; and how every socket the daemon listens on is made, the
 * master's side doors' too (sidedoor.h).
 */
#ifndef PREFORKD_LISTENER_H
#define PREFORKD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "addr.h"
#include "config.h"
#include "conn.h"

struct sockaddr_un;

/*
 * A listening socket, as every one the daemon listens on is made: a
 * stream socket, non-blocking and close-on-exec, bound, listening with
 * backlog.  name says which in the line of a call that fails; where
 * ("FILE:LINE" of its configuration; may be NULL) goes before bind()'s.
 * 0 with *fd, or an exit status, logged: EX_UNAVAILABLE when the address
 * cannot be bound, EX_OSERR.
 *
 * TCP: *a is the address and port to bind (0: any), then the one bound.
 * SO_REUSEADDR, and "::" is IPv6 only.
 */
int	listener_tcp(struct addr *a, int backlog, const char *name,
	    const char *where, int *fd);
/* A unix socket, its file made mode 0600 whatever the umask; each
 * failure past socket() is EX_CANTCREAT. */
int	listener_unix(const struct sockaddr_un *, int backlog,
	    const char *name, int *fd);
/* Whether address can be bound on this host (with port 0: a running
 * daemon may hold the port): 0, or -1 with errno. */
int	listener_probe(const char *address);

struct listener {
	struct config_listen	 l_conf;	/* l_conf.cl_address owned */
	int			 l_fd;
	bool			 l_passed;	/* by a socket unit: never shut */
	bool			 l_stored;	/* in systemd's store (FDSTORE) */
	int			 l_defer;	/* TCP_DEFER_ACCEPT seconds */
	char			 l_name[CONN_PEER_MAX];	/* bound address */
};

struct listeners {
	struct listener		 ls[CONFIG_MAX_LISTEN];
	size_t			 ls_n;
};

/*
 * Open the sockets cfg asks for.  A socket of old (may be NULL) with the
 * same address and port is moved over instead of being re-bound, so a
 * reload never has a window in which the port is closed.  On failure
 * nothing is moved and -1 is returned.
 */
int	listeners_open(struct listeners *, const struct config *,
	    struct listeners *old);
void	listeners_close(struct listeners *);
/* The same sockets under new descriptors, for a reload to take from. */
int	listeners_dup(struct listeners *copy, const struct listeners *);
/* TCP_DEFER_ACCEPT as cfg's service wants it (client speaks first). */
void	listeners_defer(struct listeners *, const struct config *);
/* Restore each socket's configured backlog and deferral. */
void	listeners_relisten(const struct listeners *);


/*
 * The daemon stops: no new connection on its own sockets (a SYN is
 * dropped: by a socket filter, or without the privilege for one by the
 * socket's minimum hop limit), while those already queued stay, for the
 * workers to take before the sockets close (a socket shut down would
 * reset its whole queue).  Sockets systemd holds (a socket unit's, or in
 * the store) are left as they are: new connections wait in their queue
 * for the next start.
 */
void	listeners_stop_new(const struct listeners *);
/*
 * How many connections a stopping worker takes from l's queue before it
 * exits: all (LISTENER_SHARE_ALL) from the daemon's own socket, whose
 * queue listeners_stop_new() closed to new ones; none from a socket
 * unit's, which keeps listening for the next start; from a stored one,
 * those queued now, and no more: later ones wait for the next start, and
 * a queue that load keeps full never holds the stop up.
 */
#define LISTENER_SHARE_ALL	(~0U)
unsigned listener_stop_share(const struct listener *);
/* A connection taken once the daemon stops may come from a handshake that
 * completed after listeners_stop_new(), and have inherited the hop limit
 * that drops its client's segments: lower it.  family: the peer's. */
void	listener_clear_hop_limit(int fd, int family);

/* Name l by the address its socket is bound to (ss, len). */
void	listener_name(struct listener *l, const struct sockaddr_storage *ss,
	    socklen_t len);

/* Connections waiting in the sockets' accept queues (TCP_INFO). */
unsigned listeners_queued(const struct listeners *);


/*
 * For -t, which cannot take the ports (a running daemon holds them):
 * check that each address of cfg can be bound on this host.  On failure
 * put "FILE:LINE: listen address X cannot be bound on this host: why"
 * in err and return -1.
 */
int	listeners_probe(const struct config *cfg, char *err, size_t errsize);

#endif
