/* SPDX-License-Identifier: ISC */
/*
 * confcheck.h - the configuration is read by a checker child, never by
 * the master itself.
 *
 * Reading a configuration runs code that is not the master's and may not
 * come back: a service module's constructors and ps_configure hook, NSS
 * lookups of user and group (a directory server that does not answer),
 * opens of files on a mount that hangs.  So a child forks, reads the
 * file the whole way (modules loaded and configured, accounts looked
 * up), and answers through a pipe: the merged text and the facts the
 * master cannot learn by itself (config.h), or the error, FILE:LINE.  The
 * master then parses the text again with CONFIG_NO_MODULES |
 * CONFIG_NO_NSS: pure computation.  A child that crashes, exits without
 * an answer or overruns its deadline is an error with that cause; the
 * running configuration is untouched.  Only workers load a module, after
 * the check passed (config_service()).
 */
#ifndef PREFORKD_CONFCHECK_H
#define PREFORKD_CONFCHECK_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct config;

/* How long a check may take: a module's hook included. */
#define CONFCHECK_SECONDS	10.0

struct confcheck {
	pid_t		 cc_pid;	/* 0: none running */
	int		 cc_fd;		/* the answer's read end; -1 */
	struct timespec	 cc_deadline;
	char		*cc_buf;	/* the answer so far */
	size_t		 cc_len;
	size_t		 cc_cap;
	bool		 cc_eof;
	bool		 cc_reaped;
	bool		 cc_overdue;
	int		 cc_status;	/* the child's wait status */
};

void	confcheck_init(struct confcheck *);
/* Fork a child that checks file; 0, or -1 (logged). */
int	confcheck_start(struct confcheck *, const char *file);
bool	confcheck_running(const struct confcheck *);
/* For the master's ppoll(): 0 or 1 descriptors. */
size_t	confcheck_pollfds(const struct confcheck *, struct pollfd *);
/* Read what the child wrote, as ppoll() said. */
void	confcheck_handle(struct confcheck *, const struct pollfd *, size_t);
/* Whether pid is the child; its wait status is kept if so. */
bool	confcheck_reaped(struct confcheck *, pid_t, int status);
/* The deadline, while one runs; kill it once it has passed. */
bool	confcheck_next_deadline(const struct confcheck *, struct timespec *);
void	confcheck_expire(struct confcheck *, struct timespec now);
/* Answered and reaped (or given up on): the result can be taken. */
bool	confcheck_done(const struct confcheck *);
/* The configuration, parsed from the answer, or NULL with the cause in
 * err; the check is over either way. */
struct config *confcheck_result(struct confcheck *, const char *file,
	    char *err, size_t errsize);
/* Give up on a running check (the daemon stops): kill it. */
void	confcheck_abort(struct confcheck *);

/* The whole check, waiting for it (at start, and for -t). */
struct config *confcheck_run(const char *file, char *err, size_t errsize);

#endif
