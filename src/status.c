/* SPDX-License-Identifier: ISC */
/*
 * status.c - the pool as the operator sees it, read from the scoreboard.
 *
 * The view (poolview.c) is taken once per answer: a table, metrics or a
 * log report is a snapshot of slots that workers keep writing, so each
 * figure may be a moment old, but none is torn (the slots are atomic),
 * and the figures of one answer agree with each other.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "generation.h"
#include "listener.h"
#include "log.h"
#include "poolview.h"
#include "procfs.h"
#include "scoreboard.h"
#include "status.h"
#include "tls.h"

const char	*status_version = PACKAGE_VERSION;

/* Kept free at the end of an answer for the line that says it was cut. */
#define STATUS_NOTE_ROOM	128

void
status_line(const struct status_facts *f, char *buf, size_t size)
{
	const struct poolview	*v = f->sf_view;
	const struct listeners	*ls = &f->sf_cur->g_ls;
	const struct config	*cfg = f->sf_cur->g_cfg;
	const struct poolview_tally *t = &v->pv_serving;

	snprintf(buf, size, "%u workers, %s service on %s%s, %llu "
	    "connections served; %u busy, %u idle, max %u",
	    poolview_active(t), cfg->c_service,
	    ls->ls_n > 0 ? ls->ls[0].l_name : "-",
	    ls->ls_n > 1 ? " and more" : "", v->pv_totals.pg_served,
	    t->vt_kind[POOLVIEW_BUSY], t->vt_kind[POOLVIEW_IDLE],
	    v->pv_ceiling);
}

unsigned
status_weight(const struct poolview *v)
{
	unsigned	 max = v->pv_ceiling, pct;
	unsigned long	 taken;

	taken = (unsigned long)v->pv_serving.vt_kind[POOLVIEW_BUSY] +
	    v->pv_queued;
	if (max == 0 || taken >= max)
		return 1;
	pct = (unsigned)((max - taken) * 100 / max);
	return pct > 0 ? pct : 1;
}

/* The agent's line, from v (NULL: stopping or draining need none). */
static size_t
status_agent_view(const struct status_facts *f, const struct poolview *v,
    char *buf, size_t size)
{
	int	 n;

	if (f->sf_stopping)
		n = snprintf(buf, size, "maint\n");
	else if (f->sf_draining)
		n = snprintf(buf, size, "drain\n");
	else
		n = snprintf(buf, size, "ready %u%%\n", status_weight(v));
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

size_t
status_agent(const struct status_facts *f, char *buf, size_t size)
{
	return status_agent_view(f, f->sf_view, buf, size);
}

void
status_worker(const struct pool_worker *w, struct timespec now,
    int64_t now_ms, struct status_worker *sw)
{
	struct slot_reading	 r;

	sw->sw_pid = w->pw_pid;
	sw->sw_generation = w->pw_generation;
	sw->sw_retiring = w->pw_retiring;
	sw->sw_uptime = clock_diff(w->pw_started, now);
	/* Checked, in one piece: a busy slot's peer is its own. */
	(void)pool_read(w, now_ms, &r);
	sw->sw_state = r.sr_state;
	sw->sw_for = (double)(now_ms - r.sr_since) / 1000;
	sw->sw_served = pool_served(w, now_ms);
	sw->sw_wait = r.sr_wait;
	sw->sw_peer = r.sr_peer;
	sw->sw_waited = -1;
	if (sw->sw_state == SLOT_BUSY && (sw->sw_wait == SLOT_READING ||
	    sw->sw_wait == SLOT_WRITING))
		sw->sw_waited = (double)(now_ms - r.sr_wait_since) / 1000;
	if (sw->sw_state != SLOT_BUSY)
		sw->sw_peer.a_family = 0;
}

/* " wait=reading waited=1.2s peer=ADDR" for a busy worker, or nothing. */
static void
status_log_busy(const struct status_worker *sw, char *buf, size_t size)
{
	char	 peer[ADDR_STRLEN], waited[32] = "";

	buf[0] = '\0';
	if (sw->sw_state != SLOT_BUSY)
		return;
	if (sw->sw_waited >= 0)
		snprintf(waited, sizeof(waited), " waited=%.1fs",
		    sw->sw_waited);
	addr_format(&sw->sw_peer, peer, sizeof(peer));
	snprintf(buf, size, " wait=%s%s peer=%s",
	    scoreboard_wait_name(sw->sw_wait), waited, peer);
}

/* The SIGUSR1 report: at notice, as the operator asked for it. */
void
status_log(const struct status_facts *f)
{
	struct timespec		 now = clock_now();
	int64_t			 ms = scoreboard_ms();
	struct status_worker	 sw;
	const struct poolview	*v = f->sf_view;
	char			 status[256], busy[ADDR_STRLEN + 64];

	status_line(f, status, sizeof(status));
	/* The line's "max" is the ceiling. */
	log_notice("status generation=%u target=%u %s", v->pv_generation,
	    v->pv_target, status);
	if (f->sf_next->g_id != 0)
		log_notice("status generation=%u target=%u starting",
		    f->sf_next->g_id, f->sf_next->g_target);
	for (size_t i = 0; i < f->sf_pool->p_n; i++) {
		status_worker(&f->sf_pool->p_workers[i], now, ms, &sw);
		status_log_busy(&sw, busy, sizeof(busy));
		log_notice("worker pid=%ld generation=%u state=%s%s "
		    "uptime=%.1fs served=%llu%s", (long)sw.sw_pid,
		    sw.sw_generation, scoreboard_state_name(sw.sw_state),
		    sw.sw_retiring ? " retiring=yes" : "", sw.sw_uptime,
		    sw.sw_served, busy);
	}
}

/* ---- answers ---------------------------------------------------------- */

/*
 * An answer being written into a fixed buffer.  Each call appends whole
 * lines or nothing: once one does not fit, the answer is cut there, and
 * the note that says so goes into the room kept for it.
 */
struct status_out {
	char	*so_buf;
	size_t	 so_size;	/* the buffer less the note's room */
	size_t	 so_len;
	bool	 so_cut;
};

static void
status_out_init(struct status_out *o, char *buf, size_t size)
{
	o->so_buf = buf;
	o->so_size = size - STATUS_NOTE_ROOM;
	o->so_len = 0;
	o->so_cut = false;
	buf[0] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
status_out(struct status_out *o, const char *fmt, ...)
{
	size_t	 room = o->so_size - o->so_len;
	va_list	 ap;
	int	 n;

	if (o->so_cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->so_buf + o->so_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		o->so_cut = true;
		o->so_buf[o->so_len] = '\0';	/* drop the partial line */
		return;
	}
	o->so_len += (size_t)n;
}

/* prefix is what a comment line starts with in this format. */
static size_t
status_out_end(struct status_out *o, const char *prefix)
{
	int	 n;

	if (!o->so_cut)
		return o->so_len;
	n = snprintf(o->so_buf + o->so_len, STATUS_NOTE_ROOM, "%scut: the "
	    "answer is longer than %zu bytes\n", prefix,
	    o->so_size + STATUS_NOTE_ROOM);
	if (n > 0)
		o->so_len += (size_t)n < STATUS_NOTE_ROOM ? (size_t)n :
		    STATUS_NOTE_ROOM - 1;
	return o->so_len;
}

static void
status_table_pool(struct status_out *o, const struct config *cfg,
    const struct poolview *v)
{
	char	 idle_min[16] = "-", idle_max[16] = "-";

	/* A fixed pool keeps no idle bounds. */
	if (cfg->c_pool_dynamic) {
		snprintf(idle_min, sizeof(idle_min), "%u", cfg->c_idle_min);
		snprintf(idle_max, sizeof(idle_max), "%u", cfg->c_idle_max);
	}
	status_out(o, "pool: %s min=%u max=%u idle_min=%s idle_max=%s "
	    "target=%u ceiling=%u\n", cfg->c_pool_dynamic ? "dynamic" :
	    "fixed", cfg->c_pool_min, cfg->c_pool_max, idle_min, idle_max,
	    v->pv_target, v->pv_ceiling);
}

/* What the agent check answers now, and where. */
/* With a TLS listener: its handshakes, and the failed ones by what
 * they were (tls.h). */
static void
status_table_tls(struct status_out *o, const struct status_facts *f,
    const struct poolview *v)
{
	const struct config	*cfg = f->sf_cur->g_cfg;
	const struct pool_gone	*t = &v->pv_totals;
	bool			 any = false;

	for (size_t i = 0; i < cfg->c_nlisten; i++)
		any = any || cfg->c_tls[i] != NULL;
	if (!any)
		return;
	status_out(o, "tls: handshakes=%llu resumed=%llu failed",
	    t->pg_tls_handshakes, t->pg_tls_resumed);
	for (int r = 0; r < SCOREBOARD_TLS_FAILS; r++)
		status_out(o, " %s=%llu", tls_fail_name((enum tls_fail)r),
		    t->pg_tls_failed[r]);
	status_out(o, "\n");
}

static void
status_table_agent(struct status_out *o, const struct status_facts *f,
    const struct poolview *v)
{
	char	 line[STATUS_AGENT_MAX];
	size_t	 n;

	if (f->sf_agent == NULL) {
		status_out(o, "agent: off\n");
		return;
	}
	n = status_agent_view(f, v, line, sizeof(line));
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	status_out(o, "agent: %s on %s\n", line, f->sf_agent);
}

static void
status_table_head(struct status_out *o, const struct status_facts *f,
    const struct poolview *v)
{
	const struct config		*cfg = f->sf_cur->g_cfg;
	const struct poolview_tally	*all = &v->pv_all;

	status_out(o, "preforkd %s pid=%ld service=%s\n", status_version,
	    (long)getpid(), cfg->c_service);
	if (v->pv_next != 0)
		status_out(o, "generation: %u (%u starting)\n",
		    v->pv_generation, v->pv_next);
	else
		status_out(o, "generation: %u\n", v->pv_generation);
	status_table_pool(o, cfg, v);
	status_out(o, "workers: %u starting=%u idle=%u busy=%u recycled=%u "
	    "retiring=%u\n", all->vt_workers, all->vt_kind[POOLVIEW_STARTING],
	    all->vt_kind[POOLVIEW_IDLE], all->vt_kind[POOLVIEW_BUSY],
	    all->vt_kind[POOLVIEW_RECYCLED], all->vt_kind[POOLVIEW_RETIRING]);
	status_out(o, "busy: running=%u reading=%u writing=%u held=%u\n",
	    all->vt_wait[SLOT_RUNNING], all->vt_wait[SLOT_READING],
	    all->vt_wait[SLOT_WRITING], all->vt_held);
	status_out(o, "accept queue: %u\n", v->pv_queued);
	status_out(o, "connections: served=%llu limited=%llu shed=%llu "
	    "denied=%llu proxy_failed=%llu empty=%llu\n",
	    v->pv_totals.pg_served, v->pv_totals.pg_limited,
	    v->pv_totals.pg_shed, v->pv_totals.pg_denied,
	    v->pv_totals.pg_proxy_failed, v->pv_totals.pg_empty);
	status_table_tls(o, f, v);
	status_table_agent(o, f, v);
	status_out(o, "log: dropped master=%llu workers=%llu\n",
	    v->pv_log_dropped, v->pv_totals.pg_log_dropped);
	status_out(o, "\n%-8s %5s %-14s %9s %-8s %7s %-22s %s\n", "PID",
	    "GEN", "STATE", "FOR", "WAIT", "WAITED", "PEER", "SERVED");
}

static void
status_table_row(struct status_out *o, const struct status_worker *sw)
{
	char	 state[32], secs[32], waited[32] = "-", peer[ADDR_STRLEN];
	bool	 busy = sw->sw_state == SLOT_BUSY;

	snprintf(state, sizeof(state), "%s%s",
	    scoreboard_state_name(sw->sw_state),
	    sw->sw_retiring ? ",retiring" : "");
	snprintf(secs, sizeof(secs), "%.1fs", sw->sw_for);
	if (sw->sw_waited >= 0)
		snprintf(waited, sizeof(waited), "%.1fs", sw->sw_waited);
	if (busy)
		addr_format(&sw->sw_peer, peer, sizeof(peer));
	status_out(o, "%-8ld %5u %-14s %9s %-8s %7s %-22s %llu\n",
	    (long)sw->sw_pid, sw->sw_generation, state, secs,
	    busy ? scoreboard_wait_name(sw->sw_wait) : "-", waited,
	    busy ? peer : "-", sw->sw_served);
}

size_t
status_table(const struct status_facts *f, char *buf, size_t size)
{
	struct timespec		 now = clock_now();
	int64_t			 ms = scoreboard_ms();
	struct status_worker	 sw;
	struct status_out	 o;

	status_out_init(&o, buf, size);
	status_table_head(&o, f, f->sf_view);
	for (size_t i = 0; i < f->sf_pool->p_n && !o.so_cut; i++) {
		status_worker(&f->sf_pool->p_workers[i], now, ms, &sw);
		status_table_row(&o, &sw);
	}
	return status_out_end(&o, "");
}

/* ---- Prometheus and OpenMetrics ------------------------------------- */

/*
 * The two formats differ in little: in OpenMetrics a counter's family is
 * named without "_total" (its samples keep it), comments are only HELP,
 * TYPE and UNIT, and "# EOF" ends the text.
 */
struct status_expo {
	struct status_out	 se_out;
	bool			 se_openmetrics;
};

/* A label value: backslash, double quote and newline escaped. */
static void
status_label(char *dst, size_t size, const char *src)
{
	size_t	 n = 0;

	for (; *src != '\0' && n + 3 < size; src++) {
		if (*src == '\\' || *src == '"' || *src == '\n')
			dst[n++] = '\\';
		dst[n++] = *src == '\n' ? 'n' : *src;
	}
	dst[n] = '\0';
}

/* HELP and TYPE of preforkd_NAME. */
static void
status_family(struct status_expo *e, const char *name, const char *type,
    const char *help)
{
	size_t	 len = strlen(name);
	int	 n = (int)len;

	if (e->se_openmetrics && strcmp(type, "counter") == 0 && len > 6 &&
	    strcmp(name + len - 6, "_total") == 0)
		n -= 6;
	status_out(&e->se_out, "# HELP preforkd_%.*s %s\n# TYPE preforkd_%.*s "
	    "%s\n", n, name, help, n, name, type);
}

static void
status_gauge(struct status_expo *e, const char *name, const char *help,
    unsigned long long value)
{
	status_family(e, name, "gauge", help);
	status_out(&e->se_out, "preforkd_%s %llu\n", name, value);
}

static void
status_counter(struct status_expo *e, const char *name, const char *help,
    unsigned long long value)
{
	status_family(e, name, "counter", help);
	status_out(&e->se_out, "preforkd_%s %llu\n", name, value);
}

/* When the process started (an upgrade keeps it: same pid), once. */
static bool
status_start_time(double *when)
{
	static double	 started;
	static int	 known;		/* 0: not asked yet; -1: unknown */

	if (known == 0)
		known = procfs_start_time(&started) == 0 ? 1 : -1;
	*when = started;
	return known == 1;
}

static void
status_metrics_daemon(struct status_expo *e, const struct status_facts *f,
    const struct poolview *v)
{
	const struct config	*cfg = f->sf_cur->g_cfg;
	struct status_out	*o = &e->se_out;
	char			 service[64];
	double			 started;

	status_label(service, sizeof(service), cfg->c_service);
	status_family(e, "info", "gauge", "The running daemon: its version "
	    "and the service of the serving generation.");
	status_out(o, "preforkd_info{version=\"%s\",service=\"%s\"} 1\n",
	    status_version, service);
	if (status_start_time(&started)) {
		status_family(e, "start_time_seconds", "gauge", "When the "
		    "master process started, in seconds since the epoch; an "
		    "upgrade in place keeps it.");
		status_out(o, "preforkd_start_time_seconds %.2f\n", started);
	}
	status_gauge(e, "generation", "The configuration generation that "
	    "serves.", v->pv_generation);
	status_gauge(e, "generation_starting", "The generation a reload is "
	    "starting, 0 when none.", v->pv_next);
	status_family(e, "reloads_total", "counter", "Reloads that settled, "
	    "by outcome: ok once the new generation serves, failed when the "
	    "running one serves on.");
	status_out(o, "preforkd_reloads_total{result=\"ok\"} %llu\n",
	    f->sf_reloads_ok);
	status_out(o, "preforkd_reloads_total{result=\"failed\"} %llu\n",
	    f->sf_reloads_failed);
	status_gauge(e, "pool_dynamic", "1 when the pool sizes itself within "
	    "its bounds, 0 for a fixed pool.", cfg->c_pool_dynamic);
	status_gauge(e, "pool_min", "Fewest workers.", cfg->c_pool_min);
	status_gauge(e, "pool_max", "Most workers, the bound on concurrent "
	    "connections.", cfg->c_pool_max);
	if (cfg->c_pool_dynamic) {
		status_gauge(e, "pool_idle_min", "Idle workers the pool keeps "
		    "ready.", cfg->c_idle_min);
		status_gauge(e, "pool_idle_max", "Idle workers above which the "
		    "pool shrinks.", cfg->c_idle_max);
	}
	status_gauge(e, "pool_target", "Workers the serving generation "
	    "wants.", v->pv_target);
	status_gauge(e, "pool_ceiling", "Workers the serving generation can "
	    "have now: pool.max, or its target when it is fixed or cannot "
	    "grow; the pool is full at this.", v->pv_ceiling);
	status_gauge(e, "draining", "1 while draining before a stop.",
	    f->sf_draining);
	if (f->sf_agent != NULL)
		status_gauge(e, "agent_weight", "The weight the agent check "
		    "gives, in percent; 0 while draining or stopping.",
		    f->sf_draining || f->sf_stopping ? 0 : status_weight(v));
}

static void
status_metrics_workers(struct status_expo *e, const struct poolview *v)
{
	const struct poolview_tally	*all = &v->pv_all;
	struct status_out		*o = &e->se_out;

	status_family(e, "workers", "gauge", "Worker processes by state; a "
	    "retiring worker counts as retiring only.");
	for (int k = 0; k < POOLVIEW_KINDS; k++)
		status_out(o, "preforkd_workers{state=\"%s\"} %u\n",
		    poolview_kind_name((enum poolview_kind)k),
		    all->vt_kind[k]);
	status_family(e, "workers_busy", "gauge", "Busy workers (not "
	    "retiring) by what they wait on: running, reading from or "
	    "writing to their client.");
	for (uint32_t w = 0; w < POOLVIEW_WAITS; w++)
		status_out(o, "preforkd_workers_busy{wait=\"%s\"} %u\n",
		    scoreboard_wait_name(w), all->vt_wait[w]);
	status_gauge(e, "workers_held", "Busy workers that have waited on "
	    "their client for 100 ms or more.", all->vt_held);
	status_family(e, "worker_exits_total", "counter", "Workers that "
	    "exited, by cause: normal (status 0), recycled (after "
	    "max_connections), crashed (another status or signal), hung "
	    "(killed as hung), fatal (status 78), killed (KILL, TERM or "
	    "INT).");
	for (int c = 0; c < POOL_EXITS; c++)
		status_out(o, "preforkd_worker_exits_total{cause=\"%s\"} "
		    "%llu\n", pool_exit_name((enum pool_exit)c),
		    v->pv_totals.pg_exits[c]);
}

static void
status_metrics_connections(struct status_expo *e, const struct poolview *v)
{
	const struct pool_gone	*t = &v->pv_totals;
	struct status_out	*o = &e->se_out;
	static const char *const kinds[SCOREBOARD_TIMEOUTS] = { "read",
	    "write", "connection" };

	status_gauge(e, "accept_queue", "Connections waiting in the listening "
	    "sockets' accept queues.", v->pv_queued);
	status_counter(e, "connections_served_total", "Connections handed to "
	    "the service (not those refused before it).", t->pg_served);
	status_counter(e, "connections_limited_total", "Connections closed "
	    "at once by the per-source limit.", t->pg_limited);
	status_counter(e, "connections_shed_total", "Connections cut short, "
	    "their client sending nothing or taking nothing, because the "
	    "pool was full.", t->pg_shed);
	status_counter(e, "connections_denied_total", "Connections closed "
	    "at once by the access rules.", t->pg_denied);
	status_counter(e, "connections_proxy_failed_total", "Connections "
	    "closed for want of a valid PROXY header from a trusted sender.",
	    t->pg_proxy_failed);
	status_counter(e, "connections_empty_total", "Connections whose "
	    "client left without sending a byte (a PROXY header aside), "
	    "also counted as served or proxy_failed; logged only with "
	    "log.empty.", t->pg_empty);
	status_family(e, "timeouts_total", "counter", "Connections a timeout "
	    "ended, by the first that did: timeouts.read, timeouts.write or "
	    "timeouts.connection.");
	for (int k = 0; k < SCOREBOARD_TIMEOUTS; k++)
		status_out(o, "preforkd_timeouts_total{kind=\"%s\"} %llu\n",
		    kinds[k], t->pg_timeouts[k]);
	status_counter(e, "received_bytes_total", "Bytes read from clients "
	    "(a PROXY header included).", t->pg_bytes_in);
	status_counter(e, "sent_bytes_total", "Bytes written to clients.",
	    t->pg_bytes_out);
	status_counter(e, "tls_handshakes_total", "TLS handshakes completed "
	    "on TLS listeners.", t->pg_tls_handshakes);
	status_counter(e, "tls_resumptions_total", "Of the TLS handshakes, "
	    "those that resumed a session (a ticket).", t->pg_tls_resumed);
	status_family(e, "tls_handshake_failures_total", "counter", "TLS "
	    "handshakes that failed, by what they were: not_tls, version, "
	    "certificate, timeout, closed, protocol.");
	for (int r = 0; r < SCOREBOARD_TLS_FAILS; r++)
		status_out(o, "preforkd_tls_handshake_failures_total"
		    "{reason=\"%s\"} %llu\n", tls_fail_name((enum tls_fail)r),
		    t->pg_tls_failed[r]);
}

/* The duration histogram: cumulative buckets, from the counts of each. */
static void
status_metrics_duration(struct status_expo *e, const struct status_facts *f,
    const struct poolview *v)
{
	const struct pool_gone	*t = &v->pv_totals;
	struct status_out	*o = &e->se_out;
	unsigned long long	 below = 0;
	char			 service[64];

	status_label(service, sizeof(service), f->sf_cur->g_cfg->c_service);
	status_family(e, "connection_duration_seconds", "histogram", "How "
	    "long the connections handed to the service lasted, from accept "
	    "to close; service is the serving generation's.");
	for (int b = 0; b < SCOREBOARD_BUCKETS; b++) {
		below += t->pg_duration[b];
		status_out(o, "preforkd_connection_duration_seconds_bucket{"
		    "service=\"%s\",le=\"%g\"} %llu\n", service,
		    (double)scoreboard_bucket_us[b] / 1e6, below);
	}
	below += t->pg_duration[SCOREBOARD_BUCKETS];
	status_out(o, "preforkd_connection_duration_seconds_bucket{service="
	    "\"%s\",le=\"+Inf\"} %llu\n", service, below);
	status_out(o, "preforkd_connection_duration_seconds_sum{service="
	    "\"%s\"} %.6f\n", service, (double)t->pg_duration_us / 1e6);
	status_out(o, "preforkd_connection_duration_seconds_count{service="
	    "\"%s\"} %llu\n", service, below);
}

static void
status_metrics_log(struct status_expo *e, const struct poolview *v)
{
	struct status_out	*o = &e->se_out;

	status_family(e, "log_dropped_total", "counter", "Log lines dropped "
	    "because syslog (or stderr) could not take them at once, by the "
	    "master and by all workers ever.");
	status_out(o, "preforkd_log_dropped_total{process=\"master\"} %llu\n",
	    v->pv_log_dropped);
	status_out(o, "preforkd_log_dropped_total{process=\"workers\"} "
	    "%llu\n", v->pv_totals.pg_log_dropped);
}

static size_t
status_exposition(const struct status_facts *f, char *buf, size_t size,
    bool openmetrics)
{
	struct status_expo	 e = { .se_openmetrics = openmetrics };
	const struct poolview	*v = f->sf_view;
	size_t			 len;
	int			 n;

	status_out_init(&e.se_out, buf, size);
	status_metrics_daemon(&e, f, v);
	status_metrics_workers(&e, v);
	status_metrics_connections(&e, v);
	status_metrics_duration(&e, f, v);
	status_metrics_log(&e, v);
	if (!openmetrics)
		return status_out_end(&e.se_out, "# ");
	/* No other comment is allowed: a cut text just ends. */
	len = e.se_out.so_len;
	n = snprintf(buf + len, STATUS_NOTE_ROOM, "# EOF\n");
	return n > 0 ? len + (size_t)n : len;
}

size_t
status_metrics(const struct status_facts *f, char *buf, size_t size)
{
	return status_exposition(f, buf, size, false);
}

size_t
status_openmetrics(const struct status_facts *f, char *buf, size_t size)
{
	return status_exposition(f, buf, size, true);
}
