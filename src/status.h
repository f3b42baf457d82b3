/*
 * status.h - what the master says about the pool: the one-line summary
 * (READY=1, STATUS=), the report in the log (SIGUSR1), and the answers of
 * the control socket (a table, Prometheus metrics).  All of them read the
 * same view, gathered here from the process table and the scoreboard.
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

struct master;

/* This binary's version, as -V, the log and the status say it. */
extern const char	*status_version;

/* Workers by state; a retiring worker counts as retiring only. */
enum status_kind {
	STATUS_STARTING,
	STATUS_IDLE,
	STATUS_BUSY,
	STATUS_RECYCLED,
	STATUS_RETIRING,
	STATUS_KINDS
};

/* The daemon as a whole, at one moment. */
struct status_view {
	unsigned		 sv_generation;		/* serving */
	unsigned		 sv_next;		/* starting; 0: none */
	unsigned		 sv_target;	/* workers the serving one wants */
	unsigned		 sv_workers;		/* every process */
	unsigned		 sv_kind[STATUS_KINDS];
	unsigned		 sv_queued;		/* accept queues */
	struct pool_gone	 sv_totals;		/* ever, all workers */
	unsigned long long	 sv_log_dropped;	/* by the master */
};

/* One worker, at one moment. */
struct status_worker {
	pid_t			 sw_pid;
	unsigned		 sw_generation;
	uint32_t		 sw_state;		/* enum slot_state */
	bool			 sw_retiring;
	uint32_t		 sw_wait;	/* enum slot_wait, when busy */
	double			 sw_for;	/* seconds in sw_state */
	double			 sw_uptime;
	struct addr		 sw_peer;	/* when busy; else family 0 */
	unsigned long long	 sw_served;
};

/* The smallest buffer status_table() and status_metrics() take: the
 * note that says an answer was cut must fit. */
#define STATUS_OUT_MIN		256

void	status_gather(const struct master *, struct status_view *);
void	status_worker(const struct pool_worker *, struct timespec now,
	    int64_t now_ms, struct status_worker *);
const char *status_kind_name(enum status_kind);

/* "N workers, greeting service on ADDR, S connections served; B busy,
 * I idle, max M" */
void	status_line(const struct master *, char *, size_t);
/*
 * The agent check's line (agent.h), NUL-terminated; its length.  Ready,
 * the weight is the share of the pool's maximum that is neither busy nor
 * already owed to a queued connection, at least 1%.
 */
size_t	status_agent(const struct master *, char *, size_t);
/* That weight, in percent (1..100). */
unsigned status_weight(const struct master *);
/* One line per generation and per worker, into the log. */
void	status_log(const struct master *);

/*
 * The control socket's answers, NUL-terminated in buf (size at least
 * STATUS_OUT_MIN): "status", a table for people, and "metrics", the
 * Prometheus text exposition format.  An answer longer than buf is cut
 * after its last whole line and ends with a line saying so.  Return the
 * length.
 */
size_t	status_table(const struct master *, char *buf, size_t size);
size_t	status_metrics(const struct master *, char *buf, size_t size);

#endif
