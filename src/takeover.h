/* SPDX-License-Identifier: ISC */
/*
 * takeover.h - the new image of an in-place upgrade (upgrade.h): whether
 * this start is one, and taking over what the old image handed over
 * (handover.h).  main() asks takeover_begin() once, first of all, and
 * passes the answer down as the start mode (master.h).
 */
#ifndef PREFORKD_TAKEOVER_H
#define PREFORKD_TAKEOVER_H

struct config;
struct handover_parts;

/* Whether this start is an upgrade's (1; 0: not; -1: a malformed
 * hand-over, logged), and what came with it. */
int	takeover_begin(void);
int	takeover_fd_count(void);
const char *takeover_config_file(void);
int	takeover_pidfile_fd(void);
const char *takeover_pidfile_path(void);
int	takeover_board_fd(void);
const char *takeover_from_version(void);
/* Fill the parts (handover.h) with what was handed over: the serving
 * generation, its workers, the control socket, the agent, the metrics
 * endpoint; 0 or an exit status. */
int	takeover_adopt(const struct handover_parts *);
/* The file cannot be loaded any more (why): the configuration the
 * workers were started with, or NULL (logged either way). */
struct config *takeover_config_fallback(const char *why);

#endif
