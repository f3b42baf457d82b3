/* SPDX-License-Identifier: ISC */
/*
 * metrics.h - the metrics endpoint: HTTP "GET /metrics" on a TCP port of
 * the master's own (metrics = { address; port; allow; }), answered with
 * the Prometheus text exposition format, or OpenMetrics when the
 * request's Accept asks for application/openmetrics-text.  The body is
 * status_metrics() (status.h), from one view of the pool.
 *
 * The master's loop serves it, as it serves the control socket, as a side
 * door (sidedoor.h): every descriptor non-blocking and in its ppoll(), at
 * most METRICS_CLIENTS at a time, each with METRICS_DEADLINE seconds from
 * its accept for its request and the whole answer, a request of at most
 * METRICS_REQUEST_MAX bytes, the answer formatted whole once the request
 * is in.  So no client, however slow or hostile, can stall the master or
 * make it hold more than a bounded amount.
 *
 * A minimal HTTP/1.0 and 1.1 server: one request per connection, then
 * "Connection: close".  GET and HEAD of /metrics (a query string is
 * ignored) are answered 200 with Content-Type and Content-Length;
 * another path is 404, another method 405, anything that is not HTTP
 * 400, a request that does not fit 431, another HTTP version 505.  A
 * client whose address is not in metrics.allow (loopback by default) is
 * answered 403 at once, and one that finds every place taken 503: either
 * closes then, holding no place.
 */
#ifndef PREFORKD_METRICS_H
#define PREFORKD_METRICS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "config.h"
#include "loglimit.h"
#include "sidedoor.h"

#define METRICS_CLIENTS		SIDEDOOR_CLIENTS
#define METRICS_DEADLINE	5.0		/* seconds from accept */
/* After the answer, how long the client has to close its side: what it
 * still sends is read and dropped meanwhile, so that our close is not a
 * reset that could beat the answer. */
#define METRICS_LINGER		1.0
#define METRICS_REQUEST_MAX	4096		/* the head, in bytes */
#define METRICS_ANSWER_MAX	(64 * 1024)	/* the body; longer is cut */
#define METRICS_FDS		SIDEDOOR_FDS

struct metrics {
	struct sidedoor		 me_door;
	char			*me_scratch;	/* bodies are formatted here */
	struct log_sources	 me_denied_log;
};

/* What a request asks, as far as the answer goes. */
struct metrics_request {
	int			 mr_status;	/* 200, or the error's */
	bool			 mr_head;	/* HEAD: no body */
	bool			 mr_openmetrics;
	/* Accept's preference for each format, in thousandths; -1: not
	 * named. */
	int			 mr_q_openmetrics;
	int			 mr_q_text;
};

/*
 * The request head in buf (len bytes, as received so far): true when the
 * answer is decided (*r filled: a whole head, or bytes that no request
 * starts with), false when more is needed.  What follows the head is
 * not looked at.
 */
bool	metrics_parse(const char *buf, size_t len, struct metrics_request *r);

struct status_facts;

void	metrics_init(struct metrics *);
/* Listen where cfg says (nowhere: no endpoint).  0, or EX_UNAVAILABLE /
 * EX_OSERR / EX_CONFIG, logged. */
int	metrics_open(struct metrics *, const struct config *);
/*
 * A reload reads cfg: an address or port other than the running one's
 * is bound into fresh before anything changes (0), or the reload fails
 * (-1, logged).  At the commit, metrics_commit() moves to it, or closes
 * the endpoint cfg no longer has; clients in hand are answered anyway.
 */
int	metrics_prepare(const struct metrics *, struct sidedoor_socket *fresh,
	    const struct config *cfg);
void	metrics_commit(struct metrics *, struct sidedoor_socket *fresh,
	    const struct config *cfg);
void	metrics_close(struct metrics *);
/*
 * An in-place upgrade (as agent_hold()): the old image takes no new
 * scraper (they wait in the backlog, which crosses the exec) and answers
 * those in hand; true once none is left.  The new image adopts the
 * socket, bound to a, asked for port asked (0: any) by the file.
 */
bool	metrics_hold(struct metrics *);
void	metrics_release(struct metrics *);
void	metrics_adopt(struct metrics *, int fd, const struct addr *a,
	    uint16_t asked);
/* For -t: whether the address can be bound on this host (its port may
 * be the running daemon's): 0, or -1 with "FILE:LINE: ..." in err. */
int	metrics_probe(const struct config *, char *err, size_t errsize);

size_t	metrics_pollfds(const struct metrics *, struct pollfd *pfd);
void	metrics_handle(struct metrics *, const struct status_facts *,
	    const struct pollfd *pfd, size_t n);
void	metrics_expire(struct metrics *, struct timespec now);

#endif
