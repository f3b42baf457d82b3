/* SPDX-License-Identifier: ISC */
/*
 * signals.h - the master's signals: blocked at all times except inside
 * its ppoll(), whose mask lets them in; the handler only marks the signal
 * pending, and the loop takes the marks and acts (master.c's table).
 * Signals that arrive together are one mark each.
 */
#ifndef PREFORKD_SIGNALS_H
#define PREFORKD_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Block signos and install the marking handler for them; SIGPIPE is
 * ignored (a peer that goes away costs an EPIPE, never the process).
 * waitmask gets the mask for ppoll(): the one before, with them
 * unblocked.  0, or -1 (logged). */
int	signals_setup(const int *signos, size_t n, sigset_t *waitmask);
/* Whether signo was marked since; the mark is cleared. */
bool	signals_take(int signo);
/* Mark signo as if it had come (work to do at the next turn). */
void	signals_raise(int signo);

#endif
