/* SPDX-License-Identifier: ISC */
/*
 * handover.h - what crosses the exec of an in-place upgrade: the format
 * both images read, written by the old one (handover.c, driven by
 * upgrade.c) and taken by the new one (takeover.c).
 *
 * Descriptors, from 3 on, named in LISTEN_FDNAMES as systemd names them:
 * "pfd-listen" and "pfd-passed" (a listening socket; the second came from
 * systemd), "pfd-pidfile" (with its lock), "pfd-control", "pfd-agent" and
 * "pfd-metrics" (the control socket, the agent check and the metrics
 * endpoint, listening: nobody is refused during the exec), "pfd-board"
 * (the scoreboard's memfd) and "pfd-state" (a memfd: the layout below its
 * format name, generation numbers, the sockets as configured, the control
 * socket's file, the agent's and the metrics' addresses, the process
 * table, the configuration file's path and the text its workers were
 * started with).  Nothing is written to disk.  A binary
 * reads only its own format; its -t says so (upgrade_check_format()),
 * before any exec.
 */
#ifndef PREFORKD_HANDOVER_H
#define PREFORKD_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#include <limits.h>
#include <time.h>

#include "conftls.h"
#include "pool.h"

/* Listening sockets, the pid file, the control socket, the agent, the
 * metrics, the board, the state. */
#define HANDOVER_MAX_FDS	(CONFIG_MAX_LISTEN + 6)

#define HANDOVER_TEXT_MAX	(4 * 1024 * 1024)
/* The TLS material (config.h): three files a listener, at most. */
#define HANDOVER_MATERIAL_MAX	(CONFIG_MAX_LISTEN * 3 * \
	(CONFTLS_FILE_MAX + 1))

/*
 * A TCP side door that crosses (the agent, the metrics): the address it
 * is bound to (addr.h), and the port the file asked for, which a reload
 * compares the file with (metrics.port 0, any free one, stays 0: the
 * endpoint stays where it is rather than move to another free port).
 */
struct handover_door {
	uint8_t			 hd_family;	/* 0: none */
	uint16_t		 hd_port;	/* bound */
	uint16_t		 hd_asked;	/* as configured */
	uint8_t			 hd_bytes[16];
};

struct handover_state {
	char			 hs_format[96];
	uint32_t		 hs_nlisteners;
	uint32_t		 hs_nworkers;
	uint32_t		 hs_text_len;	/* after the workers */
	uint32_t		 hs_material_len; /* TLS's, after the text */
	/* The generation's ticket secret (config.h): its workers that the
	 * new image starts resume the sessions of those it adopts. */
	uint8_t			 hs_tls_secret[TLS_SECRET_LEN];
	uint8_t			 hs_tls_secret_ok;
	uint32_t		 hs_generation;	/* serving */
	uint32_t		 hs_last_id;
	uint32_t		 hs_target;
	struct pool_gone	 hs_gone;
	uint64_t		 hs_reloads_ok;		/* for the metrics */
	uint64_t		 hs_reloads_failed;
	char			 hs_version[64];	/* the old image's */
	char			 hs_file[PATH_MAX];	/* its configuration */
	char			 hs_pidfile[PATH_MAX];	/* "" : none */
	/* With "pfd-control": the socket file, as control.h keeps it. */
	char			 hs_control[CONFIG_MAX_CONTROL_PATH];
	uint64_t		 hs_control_dev;
	uint64_t		 hs_control_ino;
	struct handover_door	 hs_agent;	/* with "pfd-agent" */
	struct handover_door	 hs_metrics;	/* with "pfd-metrics" */
};

/* A listening socket as the file said it: a reload compares the file
 * with this (port 0 stays 0, not the port it got), as before the exec. */
struct handover_listener {
	char			 hl_address[64];
	int32_t			 hl_backlog;
	uint16_t		 hl_port;
};

/* CLOCK_MONOTONIC times are the same on both sides of the exec. */
struct handover_worker {
	int32_t			 hw_pid;
	uint32_t		 hw_generation;
	uint32_t		 hw_slot;
	uint8_t			 hw_retiring;
	uint8_t			 hw_killed;
	uint8_t			 hw_hung;
	struct timespec		 hw_started;
	struct timespec		 hw_kill_at;
};

struct agent;
struct control;
struct generation;
struct metrics;

/*
 * The parts of the supervisor that cross: the old image writes them, the
 * new one fills them; nothing else of the master is seen on either side.
 */
struct handover_parts {
	const char		*hp_file;	/* the configuration file */
	struct generation	*hp_cur;	/* the serving generation */
	struct pool		*hp_pool;
	struct control		*hp_control;
	struct agent		*hp_agent;
	struct metrics		*hp_metrics;
	unsigned		*hp_last_id;	/* generation numbers */
	unsigned long long	*hp_reloads_ok;
	unsigned long long	*hp_reloads_failed;
	int			 hp_pidfile_fd;	/* -1: none */
	const char		*hp_pidfile_path;
};

/* The name of the layout this binary writes and reads: its sizes change
 * with the structures that cross the exec, and its number must change
 * with any other change to them (a field moved, removed or reused keeps
 * the size: the board lost two fields at state-4 and kept its size). */
const char *handover_format(void);

/* The old image: the state in a fresh memfd (-1, logged), and every
 * descriptor to hand over with its name, in order; how many. */
int	handover_write(const struct handover_parts *);
size_t	handover_fds(const struct handover_parts *, int state, int *fds,
	    const char **names);

#endif
