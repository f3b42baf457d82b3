/* SPDX-License-Identifier: ISC */
/*
 * logsink.h - where log.c's lines go, never waiting: datagrams to syslog's
 * /dev/log (as syslog(3) with LOG_PID sends them) or writes to stderr.
 * A line that cannot be written at once is dropped and counted; a worker's
 * info and debug lines to syslog may be held back and sent several at a
 * time.  The public face of all this is log.h.
 */
#ifndef PREFORKD_LOGSINK_H
#define PREFORKD_LOGSINK_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The longest line, prefix and errno text included; the rest is cut.
 * Callers logging client text bound it against this (escape_fit()), so
 * that their quoted field is never cut open.
 */
#define LOG_LINE_MAX	8192

/* Where the lines go. */
enum log_target {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,
};

/* Lines from ident[pid] to target at facility, from now on. */
void	logsink_open(const char *ident, enum log_target, int facility);
void	logsink_set_facility(int facility);
/* In a new child process: see log_after_fork(). */
void	logsink_after_fork(void);
int	logsink_descriptor(void);
/* The length of "ident[pid]: ", which each line carries. */
size_t	logsink_prefix_len(void);

/* One line, without its prefix or newline: sent, held, or dropped. */
void	logsink_write(int priority, const char *text, size_t len);

unsigned long long logsink_dropped(void);
void	logsink_set_drop_hook(void (*fn)(void *), void *arg);

/* Lines at notice and above that syslog could not take at once, sent
 * now if it takes them (see log_retry()). */
void	logsink_retry(void);
/* Held lines: see log_hold(). */
void	logsink_hold(bool);
void	logsink_flush(void);
int	logsink_held_ms(void);

#endif
