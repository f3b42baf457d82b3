/* SPDX-License-Identifier: ISC */
/*
 * handover.h - what a master hands its new image across an in-place
 * upgrade (upgrade.h), and how the new image takes it.
 *
 * Descriptors, from 3 on, named in LISTEN_FDNAMES as systemd names them:
 * "pfd-listen" and "pfd-passed" (a listening socket; the second came from
 * systemd), "pfd-pidfile" (with its lock), "pfd-control" and "pfd-agent"
 * (the control socket and the agent check, listening: nobody is refused
 * during the exec), "pfd-board" (the scoreboard's memfd) and "pfd-state"
 * (a memfd: the layout below its format name, generation numbers, the
 * sockets as configured, the control socket's file, the agent's address,
 * the process table, the configuration file's path and the text its
 * workers were started with).  Nothing is written to disk.  A binary
 * reads only its own format; its -t says so (upgrade_check_format()),
 * before any exec.
 */
#ifndef PREFORKD_HANDOVER_H
#define PREFORKD_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* Listening sockets, the pid file, the control socket, the agent, the
 * board, the state. */
#define HANDOVER_MAX_FDS	(CONFIG_MAX_LISTEN + 5)

struct master;

/* The name of the layout this binary writes and reads: it changes with
 * any structure that crosses the exec. */
const char *handover_format(void);

/* The old image: the state in a fresh memfd (-1, logged), and every
 * descriptor to hand over with its name, in order; how many. */
int	handover_write(const struct master *);
size_t	handover_fds(const struct master *, int state, int *fds,
	    const char **names);

/* The new image: whether this start is an upgrade's (1; 0: not; -1: a
 * malformed hand-over, logged), and what came with it. */
int	handover_take(void);
bool	handover_active(void);
int	handover_fd_count(void);
const char *handover_config_file(void);
int	handover_pidfile_fd(void);
const char *handover_pidfile_path(void);
int	handover_board_fd(void);
int	handover_adopt(struct master *);
const char *handover_from_version(void);
/* The file cannot be loaded any more (why): the configuration the
 * workers were started with, or NULL (logged either way). */
struct config *handover_config_fallback(const char *why);

#endif
