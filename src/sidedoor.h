/* SPDX-License-Identifier: ISC */
/*
 * sidedoor.h - a side door of the master: a small listening socket with a
 * bounded set of non-blocking clients, each with a deadline, served from
 * the master's loop.  The control socket, the agent check and the metrics
 * endpoint are side doors: each says what it answers (its hooks in
 * struct sidedoor_ops), the door does the rest, the same for all three.
 *
 *   - At most SIDEDOOR_CLIENTS clients at a time.  One more is refused
 *     (so_busy()), or takes the place of the oldest (so_evict).
 *   - Each has so_deadline seconds from its accept for its request, at
 *     most so_request_max bytes, and the whole answer.
 *   - The answer is kept whole once known and written as the socket takes
 *     it: a slow reader costs its buffer and its place until its deadline.
 *   - After the answer, a door with so_linger shuts its side and reads
 *     what the client still sends until it closes, so that our close is
 *     not a reset that could beat the answer; so_linger seconds at most.
 *   - Out of descriptors, the backlog is left alone for a moment; an
 *     in-place upgrade holds it (sidedoor_hold()) for the next image.
 *
 * So no client, however slow or hostile, can stall the master or make it
 * hold more than a bounded amount.  The sockets themselves are made as
 * every other (listener.h).
 */
#ifndef PREFORKD_SIDEDOOR_H
#define PREFORKD_SIDEDOOR_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "addr.h"
#include "loglimit.h"

#define SIDEDOOR_CLIENTS	8
/* The listening socket and every client. */
#define SIDEDOOR_FDS		(1 + SIDEDOOR_CLIENTS)
/* An address (ADDR_STRLEN), or the path of a unix socket (sun_path). */
#define SIDEDOOR_NAME_MAX	108

enum sidedoor_state {
	SIDEDOOR_READING,	/* its request */
	SIDEDOOR_WAITING,	/* on its owner (sidedoor_wait()) */
	SIDEDOOR_SENDING,	/* its answer */
	SIDEDOOR_LINGERING,	/* answered; until it closes */
};

struct sidedoor_client {
	int			 sc_fd;		/* -1: a free place */
	enum sidedoor_state	 sc_state;
	struct timespec		 sc_deadline;
	char			*sc_in;		/* the request so far */
	size_t			 sc_inlen;
	char			*sc_out;	/* the answer, once known */
	size_t			 sc_outlen;
	size_t			 sc_sent;
	size_t			 sc_discarded;	/* read while lingering */
	unsigned long		 sc_token;	/* its owner's; 0 when placed */
};

/* A door's listening socket, apart from its clients: what a reload binds
 * before it commits. */
struct sidedoor_socket {
	int			 sk_fd;		/* -1: none */
	const char		*sk_what;	/* its door's so_what */
	struct addr		 sk_addr;	/* TCP: bound; port included */
	uint16_t		 sk_port;	/* TCP: as configured; 0: any */
	char			 sk_name[SIDEDOOR_NAME_MAX]; /* address, path */
};

struct sidedoor;

/*
 * What a door is: its limits and its owner's hooks.  arg is what the
 * owner passed to sidedoor_handle() (the master).
 */
struct sidedoor_ops {
	const char	*so_what;	/* "control": "control client ..." */
	double		 so_deadline;	/* seconds from accept */
	double		 so_linger;	/* after the answer; 0: close at once */
	/* The request, in bytes; 0: the connection is the request, answered
	 * as soon as it is accepted. */
	size_t		 so_request_max;
	size_t		 so_discard_max; /* read while lingering; 0: no bound */
	int		 so_burst;	/* accepted per wake-up at most */
	bool		 so_evict;	/* all taken: the oldest makes room */
	/* A new client (peer: family 0 on a unix socket): 0 to give it a
	 * place, -1 when the hook has refused it (sidedoor_refuse()).  May
	 * be NULL. */
	int	(*so_admit)(void *arg, struct sidedoor *, int fd,
		    const struct addr *peer);
	/* Every place taken: refuse fd (sidedoor_refuse()). */
	void	(*so_busy)(struct sidedoor *, int fd);
	/* Its request so far in sc_in, sc_inlen bytes (eof: the client has
	 * closed its side): answer it once it is whole (sidedoor_answer(),
	 * sidedoor_wait()), or return for more.  One that fills
	 * so_request_max must be answered: left unanswered, it is dropped. */
	void	(*so_request)(void *arg, struct sidedoor *,
		    struct sidedoor_client *, bool eof);
	/* Its deadline passed before it was answered, or before it took the
	 * answer: a last word (sidedoor_tell()) and a notice, if any; it is
	 * dropped then.  May be NULL. */
	void	(*so_expired)(struct sidedoor *, struct sidedoor_client *);
};

struct sidedoor {
	const struct sidedoor_ops *sd_ops;
	struct sidedoor_socket	 sd_sock;
	struct sidedoor_client	 sd_client[SIDEDOOR_CLIENTS];
	/* Out of descriptors: the backlog is left alone until then. */
	struct timespec		 sd_paused_until;
	bool			 sd_held;	/* sidedoor_hold() */
	struct log_limit	 sd_error_log;	/* accept4() */
	struct log_limit	 sd_full_log;	/* clients refused: busy */
	struct log_limit	 sd_late_log;	/* for so_expired()'s notices */
};

void	sidedoor_init(struct sidedoor *, const struct sidedoor_ops *);
/* Drop every client and close the listening socket. */
void	sidedoor_close(struct sidedoor *);
/* Close the listening socket; the clients in hand may finish. */
void	sidedoor_unlisten(struct sidedoor *);
/* Listen on fd, bound to a (TCP) or at path (a unix socket): one made by
 * the owner, or handed over by an upgrade. */
void	sidedoor_adopt(struct sidedoor *, int fd, const struct addr *a,
	    const char *path);

/* ---- TCP: the listening socket ----------------------------------------- */

void	sidedoor_socket_init(struct sidedoor_socket *);
/* Listen on address and port (0: any), named "WHAT ADDRESS:PORT" in
 * lines, where (FILE:LINE) before bind()'s: 0, or an exit status, logged:
 * EX_CONFIG when address is none, EX_UNAVAILABLE, EX_OSERR. */
int	sidedoor_socket_open(struct sidedoor_socket *, const char *what,
	    const char *address, uint16_t port, const char *where);
void	sidedoor_socket_close(struct sidedoor_socket *);
/*
 * A reload asks for address and port (address NULL: no door): one other
 * than the running one's is bound into fresh before anything changes (0),
 * or the reload fails (-1, logged).  At its commit the door moves to
 * fresh, if it was bound, or closes when address is NULL: 1 moved, -1
 * closed, 0 as it was.  Clients in hand are answered either way.
 */
int	sidedoor_prepare(const struct sidedoor *, struct sidedoor_socket *fresh,
	    const char *address, uint16_t port, const char *where);
int	sidedoor_commit(struct sidedoor *, struct sidedoor_socket *fresh,
	    const char *address);

/* ---- an in-place upgrade ----------------------------------------------- */

/* Take no new client (they wait in the backlog, which crosses the exec)
 * and let those in hand finish: true once none is left.  Released, if
 * the exec does not come. */
bool	sidedoor_hold(struct sidedoor *);
void	sidedoor_release(struct sidedoor *);

/* ---- the master's loop ------------------------------------------------- */

/* Descriptors to watch, into pfd (room for SIDEDOOR_FDS); how many. */
size_t	sidedoor_pollfds(const struct sidedoor *, struct pollfd *pfd);
/* Act on what ppoll() said about them; arg goes to the hooks. */
void	sidedoor_handle(struct sidedoor *, void *arg,
	    const struct pollfd *pfd, size_t n);
/* The earliest deadline, if any: a client's, or the end of a pause. */
bool	sidedoor_next_deadline(const struct sidedoor *, struct timespec *);
/* Drop the clients whose deadline has passed. */
void	sidedoor_expire(struct sidedoor *, struct timespec now);

/* ---- for the hooks ----------------------------------------------------- */

/* Keep the answer (a copy; iov: in parts) and start sending it. */
void	sidedoor_answer(struct sidedoor *, struct sidedoor_client *,
	    const char *text, size_t len);
void	sidedoor_answerv(struct sidedoor *, struct sidedoor_client *,
	    const struct iovec *iov, int iovcnt);
/* Neither read nor written until its owner answers it, or until seconds
 * from now; only its hanging up is noticed meanwhile. */
void	sidedoor_wait(struct sidedoor_client *, double seconds);
void	sidedoor_drop(struct sidedoor *, struct sidedoor_client *);
/*
 * A short answer to a client that is let go: what it sent is read first,
 * so that the close is no reset that could beat the answer; it goes at
 * once into the socket's buffer or not at all.  sidedoor_refuse() closes
 * fd after it.
 */
void	sidedoor_tell(const struct sidedoor *, int fd, const char *text,
	    size_t len);
void	sidedoor_refuse(const struct sidedoor *, int fd, const char *text,
	    size_t len);

#endif
