/* SPDX-License-Identifier: ISC */
/*
 * signals.c - the master's signals, as signals.h says.
 */
#include "autoconf.h"

#include <string.h>

#include "log.h"
#include "signals.h"

static volatile sig_atomic_t	 signals_pending[_NSIG];

static void
signals_on(int signo)
{
	signals_pending[signo] = 1;
}

int
signals_setup(const int *signos, size_t n, sigset_t *waitmask)
{
	struct sigaction	 sa;
	sigset_t		 set;

	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, signos[i]);
	if (sigprocmask(SIG_BLOCK, &set, waitmask) == -1) {
		log_warn("sigprocmask");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		sigdelset(waitmask, signos[i]);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = signals_on;
	sa.sa_mask = set;
	for (size_t i = 0; i < n; i++)
		if (sigaction(signos[i], &sa, NULL) == -1) {
			log_warn("sigaction(%d)", signos[i]);
			return -1;
		}
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1) {
		log_warn("sigaction(SIG_IGN)");
		return -1;
	}
	return 0;
}

bool
signals_take(int signo)
{
	if (!signals_pending[signo])
		return false;
	signals_pending[signo] = 0;
	return true;
}

void
signals_raise(int signo)
{
	signals_pending[signo] = 1;
}
