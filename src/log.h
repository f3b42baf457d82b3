/* SPDX-License-Identifier: ISC */
/*
 * log.h - the daemon's five-call logging API.
 *
 * Lines go to syslog (/dev/log, as syslog(3) with LOG_PID sends them),
 * or to stderr when the daemon runs with -e (and before the configuration
 * is known).  Never both: under systemd the journal already collects
 * syslog.  Nothing here ever waits for the reader: a line that cannot be
 * written at once is dropped and counted.  Nothing here may be called
 * from a signal handler.
 */
#ifndef PREFORKD_LOG_H
#define PREFORKD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdnoreturn.h>

#include "logsink.h"

void	log_init(const char *ident, enum log_target target, int facility,
	    int level);
/* In a new child process: its own pid on its lines, its own syslog
 * socket, its own count of dropped lines (from 0, without a hook). */
void	log_after_fork(void);
/* The descriptor lines go to now (a forked worker keeps it); or -1. */
int	log_descriptor(void);
/* A reload: new facility and level, same target. */
void	log_reconfigure(int facility, int level);

/* Lines this process dropped because syslog or stderr could not take
 * them at once (a stalled journald, a full pipe). */
unsigned long long log_dropped(void);
/* Called on each line dropped, with arg: a worker counts its drops in
 * its scoreboard slot, where the master sums them. */
void	log_set_drop_hook(void (*fn)(void *), void *arg);

/*
 * A worker's info and debug lines to syslog, held back and sent several
 * at a time (logsink.c says why): on or off (off sends what is held).  What
 * holds them sends them (log_flush()) before it sleeps for long, and cuts
 * any other wait to log_held_ms(): milliseconds until what is held is
 * due (0: now), -1 when nothing is.
 */
void	log_hold(bool);
void	log_flush(void);
int	log_held_ms(void);

/* Lines at notice and above that syslog could not take when they were
 * logged are kept a while (logsink.c): send them now if it takes them.
 * The master calls this every turn of its loop. */
void	log_retry(void);

/* Whether lines of this syslog level are written: callers skip the work
 * of preparing a line that would be filtered out. */
bool	log_enabled(int level);

/* A system call failed (LOG_ERR); errno is appended as ": strerror". */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Something is wrong, without an errno (LOG_WARNING). */
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A line at any syslog priority (its facility bits are ignored), with
 * ": strerror(errno)" appended when asked: what service modules call. */
void	log_vlog(int priority, bool with_errno, const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));

/* Start-up failures and broken invariants only: log and exit(status). */
noreturn void fatal(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
noreturn void fatalx(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
