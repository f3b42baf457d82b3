/* SPDX-License-Identifier: ISC */
/*
 * serve.h - one connection, accepted by a worker, served and closed: who
 * the client is (PROXY), whether it may come in (access, the per-source
 * limit), the service, and what the worker's slot counts of it.
 */
#ifndef PREFORKD_SERVE_H
#define PREFORKD_SERVE_H

#include <signal.h>
#include <sys/socket.h>

struct config;
struct scoreboard;
struct service;
struct slot;
struct tls_server;

/* What serving needs from the worker that accepted. */
struct serve_ctx {
	const struct config	*sc_config;
	struct scoreboard	*sc_board;	/* everyone's slots */
	struct slot		*sc_slot;	/* the worker's own */
	const struct service	*sc_service;
	/* The mask a wait for the client is made with (conn.h). */
	const sigset_t		*sc_waitmask;
	/* Each listener's TLS context, by index; NULL: clear text. */
	struct tls_server	*const *sc_tls;
};

/* Serve fd, accepted on listener li from sa, and close it. */
void	serve_connection(const struct serve_ctx *, int fd,
	    const struct sockaddr *sa, socklen_t len, unsigned li);

#endif
