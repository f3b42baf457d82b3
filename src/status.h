/* SPDX-License-Identifier: ISC */
/*
 * status.h - what the master says about the pool: the one-line summary
 * (READY=1, STATUS=), the report in the log (SIGUSR1), and the answers of
 * the control socket and the metrics endpoint (a table, Prometheus
 * metrics).  All of them read the facts below: one view of the pool
 * (poolview.h), taken by the master once per turn of its loop, and the
 * generations, read-only; the rows of the table add each worker's own
 * figures.
 */
#ifndef PREFORKD_STATUS_H
#define PREFORKD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "addr.h"
#include "pool.h"

struct generation;
struct poolview;

/* What every answer reads: the supervisor's state, read-only, gathered
 * by the master (master_facts()). */
struct status_facts {
	const struct generation	*sf_cur;	/* serving */
	const struct generation	*sf_next;	/* starting; g_id 0: none */
	const struct pool	*sf_pool;
	const struct poolview	*sf_view;	/* taken this turn */
	const char		*sf_agent;	/* its address; NULL: off */
	unsigned long long	 sf_reloads_ok;
	unsigned long long	 sf_reloads_failed;
	bool			 sf_draining;
	bool			 sf_stopping;
};

/* This binary's version, as -V, the log and the status say it. */
extern const char	*status_version;

/* One worker, at one moment. */
struct status_worker {
	pid_t			 sw_pid;
	unsigned		 sw_generation;
	uint32_t		 sw_state;		/* enum slot_state */
	bool			 sw_retiring;
	uint32_t		 sw_wait;	/* enum slot_wait, when busy */
	double			 sw_for;	/* seconds in sw_state */
	/* Seconds waiting on its client without progress (since the last
	 * byte it sent or took); -1 when not waiting on it. */
	double			 sw_waited;
	double			 sw_uptime;
	struct addr		 sw_peer;	/* when busy; else family 0 */
	unsigned long long	 sw_served;
};

/* The smallest buffer status_table() and status_metrics() take: the
 * note that says an answer was cut must fit. */
#define STATUS_OUT_MIN		256

void	status_worker(const struct pool_worker *, struct timespec now,
	    int64_t now_ms, struct status_worker *);

/* "N workers, greeting service on ADDR, S connections served; B busy,
 * I idle, max M", M the ceiling. */
void	status_line(const struct status_facts *, char *, size_t);
/*
 * The agent check's line (agent.h), NUL-terminated; its length.  Ready,
 * the weight is the share of the pool's ceiling (what it can have now)
 * that is neither busy nor already owed to a queued connection, at least
 * 1%.
 */
size_t	status_agent(const struct status_facts *, char *, size_t);
/* The longest such line, NUL included ("ready 100%\n"). */
#define STATUS_AGENT_MAX	32
/* That weight, in percent (1..100). */
unsigned status_weight(const struct poolview *);
/* One line per generation and per worker, into the log. */
void	status_log(const struct status_facts *);

/*
 * The control socket's answers, NUL-terminated in buf (size at least
 * STATUS_OUT_MIN): "status", a table for people, and "metrics", the
 * Prometheus text exposition format (0.0.4), which the metrics endpoint
 * serves too, or OpenMetrics (1.0.0) when asked.  The metrics have no
 * series per worker: their size does not grow with the pool.  An answer
 * longer than buf is cut after its last whole line and ends with a line
 * saying so (OpenMetrics allows no such comment: it just ends).  Return
 * the length.
 */
size_t	status_table(const struct status_facts *, char *buf, size_t size);
size_t	status_metrics(const struct status_facts *, char *buf, size_t size);
size_t	status_openmetrics(const struct status_facts *, char *buf, size_t size);

#endif
