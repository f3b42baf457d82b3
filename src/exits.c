/* SPDX-License-Identifier: ISC */
/*
 * exits.c - a worker's end, described, logged and judged (exits.h).
 */
#include "autoconf.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "clock.h"
#include "exits.h"
#include "log.h"
#include "pool.h"
#include "scoreboard.h"
#include "worker.h"

void
exits_describe(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "status=%d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "signal=%d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)),
		    WCOREDUMP(status) ? " core dumped" : "");
	else
		snprintf(buf, size, "wait status=%#x", status);
}

enum exits_verdict
exits_judge(struct pool *p, const struct pool_worker *w, int status,
    bool stopping, char *how, size_t size)
{
	double	 uptime = clock_diff(w->pw_started, clock_now());
	bool	 crashed;

	exits_describe(status, how, size);
	/* Asked to leave: the reload, the stop or the pool's shrinking said
	 * so once for all of them, at notice or info; each one's end is
	 * a detail. */
	if (w->pw_retiring || stopping) {
		log_debug("worker retired pid=%ld generation=%u %s "
		    "uptime=%.1fs", (long)w->pw_pid, w->pw_generation, how,
		    uptime);
		return EXITS_REFILL;
	}
	if (w->pw_hung) {
		log_warnx("worker pid=%ld killed as hung %s uptime=%.1fs; "
		    "replacing it", (long)w->pw_pid, how, uptime);
		return EXITS_REFILL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    w->pw_last_state == SLOT_RECYCLED) {
		log_info("worker recycled pid=%ld served=%llu uptime=%.1fs; "
		    "replacing it", (long)w->pw_pid, w->pw_served, uptime);
		return EXITS_REFILL;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL)
		return EXITS_FATAL;	/* the master's to decide */
	/* KILL and TERM come from outside (an operator, the OOM killer):
	 * deliberate, not a crash loop, so the place is refilled at once. */
	crashed = WIFEXITED(status) ? WEXITSTATUS(status) != 0 :
	    !(WIFSIGNALED(status) && (WTERMSIG(status) == SIGKILL ||
	    WTERMSIG(status) == SIGTERM));
	if (crashed && uptime < EXITS_YOUNG_SECONDS) {
		log_warnx("worker exited pid=%ld %s uptime=%.1fs; died young, "
		    "respawning in %.1fs", (long)w->pw_pid, how, uptime,
		    pool_crashed(p, w));
		return EXITS_REFILL;
	}
	log_warnx("worker exited pid=%ld %s uptime=%.1fs; respawning",
	    (long)w->pw_pid, how, uptime);
	return EXITS_REFILL;
}

