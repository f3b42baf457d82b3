/*
 * status.h - what the master says about the pool: the one-line summary
 * (READY=1, STATUS=), the report in the log (SIGUSR1).
 */
#ifndef PREFORKD_STATUS_H
#define PREFORKD_STATUS_H

#include <stddef.h>

struct master;

/* "N workers, greeting service on ADDR, S connections served; B busy,
 * I idle, max M" */
void	status_line(const struct master *, char *, size_t);
/* One line per generation and per worker, into the log. */
void	status_log(const struct master *);

#endif
