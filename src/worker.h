/* SPDX-License-Identifier: ISC */
/*
 * worker.h - a pre-forked worker: wait for a connection on the shared
 * listening sockets, serve it, repeat.
 */
#ifndef PREFORKD_WORKER_H
#define PREFORKD_WORKER_H

#include <signal.h>
#include <stdint.h>
#include <stdnoreturn.h>
#include <sys/types.h>

struct config;
struct listeners;
struct scoreboard;
struct slot;

/*
 * Exit status of a worker that cannot work with this configuration
 * (privileges cannot be dropped, the service cannot start).  Respawning
 * would only fail again: at start the master stops (EX_CONFIG), during a
 * reload it rolls the reload back.
 */
#define WORKER_EXIT_FATAL	78

struct tls_server;

struct worker_args {
	const struct config	*wa_config;
	const struct listeners	*wa_listeners;
	/* Each listener's TLS context, built by the master for the
	 * generation and shared copy-on-write; NULL: clear text. */
	struct tls_server *const *wa_tls;
	struct slot		*wa_slot;
	struct scoreboard	*wa_board;	/* everyone's slots */
	int			 wa_ready_fd;	/* a byte here once ready */
	int			 wa_gate_fd;	/* serve after its EOF; or -1 */
	/* A bit per listener that only this generation has (a reload
	 * added it): taken by a worker stopped at the gate. */
	uint32_t		 wa_new_listeners;
	pid_t			 wa_master;
	unsigned		 wa_generation;	/* for its title */
	sigset_t		 wa_sigmask;	/* the master's original mask */
};

noreturn void	worker_run(const struct worker_args *);

#endif
