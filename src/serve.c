/* SPDX-License-Identifier: ISC */
/*
 * serve.c - one connection a worker accepted, to its close (see serve.h).
 *
 * Before the service sees it, the connection is admitted: a PROXY
 * listener's header says who the client is, the access rules whether it
 * may come in, the per-source limit whether its source has its share
 * already; then a TLS listener's handshake, which a refused client never
 * gets to cost.  A refusal is counted in the worker's slot under its own name
 * and logged, rate-limited, with the client's text escaped.  Whatever the
 * outcome, the slot counts the bytes and the timeouts and goes back to
 * idle before the client sees the close.  A client that left without a
 * byte (a port scan, a health check) is counted as empty and logged only
 * with log.empty: the service's lines about it are held back too
 * (service.c).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "addr.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "escape.h"
#include "log.h"
#include "loglimit.h"
#include "proxy.h"
#include "scoreboard.h"
#include "serve.h"
#include "service.h"
#include "tls.h"

_Static_assert(SCOREBOARD_TLS_FAILS == TLS_FAIL_N,
    "a counter for each kind of failed handshake");

/* The least time a balancer has to send its PROXY header: the spec's
 * advice, whatever timeouts.read says. */
#define SERVE_PROXY_SECONDS	3.0

/*
 * Per-source limit: the workers whose connection is from this one's
 * prefix, this one included.  Its own source is published first, then
 * fenced, then the others' counted (and theirs before they count ours):
 * two workers that accept from one source at once see each other, never
 * only themselves; both may refuse, never both admit one over the limit.
 * A refusal is logged at most once a second per worker, with how many
 * were refused since.
 */
static bool
serve_over_limit(const struct serve_ctx *sc, struct conn *c)
{
	static struct log_limit	 limit;
	const struct config	*cfg = sc->sc_config;
	unsigned long		 held;
	unsigned		 n, bits;
	uint64_t		 key;

	bits = c->cn_addr.a_family == AF_INET6 ? cfg->c_source_bits6 :
	    cfg->c_source_bits4;
	key = scoreboard_source_key(sc->sc_board, &c->cn_addr, bits);
	scoreboard_set_source(sc->sc_board, sc->sc_slot, key);
	atomic_thread_fence(memory_order_seq_cst);
	n = scoreboard_count_source(sc->sc_board, key);
	if (n <= cfg->c_per_source)
		return false;
	atomic_fetch_add_explicit(&sc->sc_slot->sl_limited, 1,
	    memory_order_relaxed);
	if (log_limit_every(&limit, 1, &held))
		log_notice("per-source limit: refused peer=%s prefix=/%u "
		    "connections=%u limit=%u (%lu more refused)", conn_peer(c),
		    bits, n, cfg->c_per_source, held);
	return true;
}

/* " (N more suppressed)", or nothing. */
static void
serve_more(char *buf, size_t size, unsigned long held)
{
	buf[0] = '\0';
	if (held > 0)
		snprintf(buf, size, " (%lu more suppressed)", held);
}

/* Count a connection in one of the slot's counters. */
static void
serve_count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

/*
 * A PROXY listener: the sender must be a trusted balancer, and its header
 * names the client, who then is the connection's peer everywhere (logs,
 * access rules, the per-source limit, the status).  A v2 LOCAL header (a
 * health check) or v1 UNKNOWN keeps the balancer as the peer.  Anything
 * else closes the connection, logged (rate-limited) with what was sent,
 * escaped.
 */
static bool
serve_proxy(const struct serve_ctx *sc, struct conn *c)
{
	static struct log_sources	 limit;
	const struct config_listen	*cl =
	    &sc->sc_config->c_listen[c->cn_listener];
	struct proxy_header		 ph;
	struct timespec			 deadline;
	uint8_t				 seen[PROXY_V1_MAX];
	char				 text[ESCAPE_MAX(PROXY_V1_MAX)];
	const char			*why = NULL;
	char				 more[64];
	unsigned long			 held;
	size_t				 nseen = 0;
	bool				 trusted = false;
	int				 rc = 0, error;

	for (size_t i = 0; i < cl->cl_nproxy_from; i++)
		trusted = trusted || addr_in_net(&c->cn_addr,
		    &cl->cl_proxy_from[i]);
	if (trusted) {
		deadline = clock_after(clock_now(), SERVE_PROXY_SECONDS >
		    sc->sc_config->c_timeout_read ? SERVE_PROXY_SECONDS :
		    sc->sc_config->c_timeout_read);
		rc = conn_read_proxy(c, cl->cl_proxy, &deadline, &ph, &why,
		    seen, &nseen);
		if (rc == 1) {
			if (!ph.ph_local) {
				c->cn_addr = ph.ph_src;
				c->cn_peer_text[0] = '\0';
			}
			return true;
		}
		/* Shed to make room (counted so): not the balancer's fault. */
		if (c->cn_shed)
			return false;
	}
	error = errno;
	serve_count(&sc->sc_slot->sl_proxy_failed);
	/* A balancer's health check that connects and closes: counted as
	 * empty too (serve_connection()), and logged only if asked. */
	if (conn_empty(c) && !sc->sc_config->c_log_empty)
		return false;
	if (!log_limit_source(&limit, LOG_LIMIT_BURST, 2, &c->cn_addr, &held))
		return false;
	serve_more(more, sizeof(more), held);
	if (!trusted)
		log_notice("PROXY listener: refused peer=%s: not in "
		    "proxy_from%s", conn_peer(c), more);
	else if (rc == -1)
		log_notice("PROXY header from peer=%s: %s%s", conn_peer(c),
		    error == ETIMEDOUT ? "none before the deadline" :
		    strerror(error), more);
	else {
		escape_bytes(text, sizeof(text), (const char *)seen, nseen);
		log_notice("PROXY header from peer=%s: %s: \"%s\"%s",
		    conn_peer(c), why, text, more);
	}
	return false;
}

/* The access rules, on the real peer. */
static bool
serve_allowed(const struct serve_ctx *sc, struct conn *c)
{
	static struct log_sources	 limit;
	const struct config		*cfg = sc->sc_config;
	char				 rule[ADDR_STRLEN + 16], more[64];
	unsigned long			 held;
	size_t				 which;

	if (access_allowed(cfg->c_access, cfg->c_naccess, &c->cn_addr,
	    &which))
		return true;
	serve_count(&sc->sc_slot->sl_denied);
	if (log_limit_source(&limit, LOG_LIMIT_BURST, 2, &c->cn_addr, &held)) {
		access_rule_format(&cfg->c_access[which], rule, sizeof(rule));
		serve_more(more, sizeof(more), held);
		log_notice("access: denied peer=%s by rule %zu \"%s\"%s",
		    conn_peer(c), which + 1, rule, more);
	}
	return false;
}

/*
 * A TLS listener's handshake, within timeouts.read and sheddable as a
 * read is.  A failure is counted by what it was and logged, rate-limited
 * per source; a client that sent nothing is only counted as empty (a
 * port scan, a TCP health check), one that was shed only as shed.
 */
static bool
serve_tls(const struct serve_ctx *sc, struct conn *c)
{
	static struct log_sources	 limit;
	struct timespec			 deadline;
	enum tls_fail			 f;
	unsigned long			 held;
	char				 more[64];
	int				 error;

	deadline = clock_after(clock_now(), sc->sc_config->c_timeout_read);
	if (conn_tls_accept(c, sc->sc_tls[c->cn_listener], &deadline) == 0) {
		serve_count(&sc->sc_slot->sl_tls_handshakes);
		if (tls_resumed(c->cn_tls))
			serve_count(&sc->sc_slot->sl_tls_resumed);
		return true;
	}
	error = errno;
	if (c->cn_shed || conn_empty(c))
		return false;
	if (c->cn_tls == NULL) {	/* ours (ENOMEM), not the client's */
		if (log_limit_source(&limit, LOG_LIMIT_BURST, 2, &c->cn_addr,
		    &held))
			log_warnx("TLS for peer=%s: %s", conn_peer(c),
			    strerror(error));
		return false;
	}
	f = error == ETIMEDOUT ? TLS_FAIL_TIMEOUT : c->cn_gone ?
	    TLS_FAIL_CLOSED : tls_failure(c->cn_tls);
	serve_count(&sc->sc_slot->sl_tls_failed[f]);
	if (!log_limit_source(&limit, LOG_LIMIT_BURST, 2, &c->cn_addr, &held))
		return false;
	serve_more(more, sizeof(more), held);
	log_notice("TLS handshake with peer=%s failed: %s (%s)%s",
	    conn_peer(c), tls_fail_name(f), f == TLS_FAIL_TIMEOUT ?
	    "none before timeouts.read" : f == TLS_FAIL_CLOSED ?
	    "the client closed the connection" : tls_why(c->cn_tls), more);
	return false;
}

/*
 * Whether to serve the connection: who the client is (PROXY), whether
 * it may come in (access), whether its source has its share already,
 * and its TLS handshake.
 */
static bool
serve_admit(const struct serve_ctx *sc, struct conn *c)
{
	const struct config_listen	*cl =
	    &sc->sc_config->c_listen[c->cn_listener];

	if (cl->cl_proxy != PROXY_OFF) {
		if (!serve_proxy(sc, c))
			return false;
		scoreboard_set_peer(sc->sc_slot, &c->cn_addr);
	}
	if (!serve_allowed(sc, c))
		return false;
	if (sc->sc_config->c_per_source != 0 && serve_over_limit(sc, c))
		return false;
	return sc->sc_tls[c->cn_listener] == NULL || serve_tls(sc, c);
}
/*
 * Serve fd, accepted on listener li, and close it.  Each accepted
 * connection has a number (the master names it to shed it); only one
 * handed to the service counts as served, in the status and towards
 * max_connections: those refused before it count under their own names
 * (limited, denied, proxy_failed).
 */
void
serve_connection(const struct serve_ctx *sc, int fd,
    const struct sockaddr *sa, socklen_t len, unsigned li)
{
	static uint64_t		 accepted;	/* this process's */
	static const struct addr no_peer;
	struct conn		 c;
	struct slot		*sl = sc->sc_slot;
	struct timespec		 begun;

	conn_init(&c, fd, sa, len);
	c.cn_listener = li;
	c.cn_slot = sl;
	c.cn_seq = ++accepted;
	c.cn_waitmask = sc->sc_waitmask;
	begun = clock_now();
	c.cn_end = clock_after(begun, sc->sc_config->c_timeout_connection);
	/* Behind a balancer, the peer is known once its header is in: the
	 * balancer's address is nobody's source. */
	scoreboard_busy(sl, sc->sc_config->c_listen[li].cl_proxy ==
	    PROXY_OFF ? &c.cn_addr : &no_peer, c.cn_seq);
	/* Counted, and idle, before the client sees the close: a status
	 * asked for once a client is done always includes it. */
	if (serve_admit(sc, &c)) {
		service_serve(sc->sc_service, &c,
		    sc->sc_config->c_timeout_read,
		    sc->sc_config->c_timeout_write,
		    sc->sc_config->c_log_empty);
		serve_count(&sl->sl_served);
		scoreboard_count_duration(sl, (uint64_t)(clock_diff(begun,
		    clock_now()) * 1e6));
	}
	conn_tls_end(&c);
	/* Out of the per-source count once the service is done. */
	if (sc->sc_config->c_per_source != 0)
		scoreboard_set_source(sc->sc_board, sl, 0);
	if (c.cn_shed)
		serve_count(&sl->sl_shed);
	if (conn_empty(&c))
		serve_count(&sl->sl_empty);
	scoreboard_count_io(sl, c.cn_bytes_in, c.cn_bytes_out, c.cn_timeout);
	scoreboard_set_state(sl, SLOT_IDLE);
	if (close(fd) == -1)
		log_warn("close(%s)", conn_peer(&c));
}
