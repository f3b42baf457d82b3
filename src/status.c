/*
 * status.c - the pool as the operator sees it, read from the scoreboard.
 */
#include "autoconf.h"

#include <stdio.h>

#include "clock.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "scoreboard.h"
#include "status.h"

/* Busy and idle workers of gen that are not retiring. */
static void
status_count(const struct pool *p, unsigned gen, unsigned *busy,
    unsigned *idle)
{
	*busy = *idle = 0;
	for (size_t i = 0; i < p->p_n; i++) {
		const struct pool_worker *w = &p->p_workers[i];
		uint32_t st;

		if (w->pw_generation != gen || w->pw_retiring)
			continue;
		st = scoreboard_state(w->pw_slot);
		if (st == SLOT_BUSY)
			(*busy)++;
		else if (st == SLOT_IDLE)
			(*idle)++;
	}
}

void
status_line(const struct master *m, char *buf, size_t size)
{
	const struct listeners	*ls = &m->m_cur.g_ls;
	const struct config	*cfg = m->m_cur.g_cfg;
	unsigned		 busy, idle;

	status_count(&m->m_pool, m->m_cur.g_id, &busy, &idle);
	snprintf(buf, size, "%u workers, %s service on %s%s, %llu "
	    "connections served; %u busy, %u idle, max %u",
	    pool_active(&m->m_pool, m->m_cur.g_id), cfg->c_service,
	    ls->ls_n > 0 ? ls->ls[0].l_name : "-",
	    ls->ls_n > 1 ? " and more" : "",
	    pool_totals(&m->m_pool).pg_served, busy, idle, cfg->c_pool_max);
}

void
status_log(const struct master *m)
{
	struct timespec	 now = clock_now();
	char		 status[256];

	status_line(m, status, sizeof(status));
	log_info("status generation=%u target=%u %s", m->m_cur.g_id,
	    m->m_cur.g_target, status);
	if (m->m_next.g_id != 0)
		log_info("status generation=%u target=%u starting",
		    m->m_next.g_id, m->m_next.g_target);
	for (size_t i = 0; i < m->m_pool.p_n; i++) {
		const struct pool_worker *w = &m->m_pool.p_workers[i];

		log_info("worker pid=%ld generation=%u state=%s%s "
		    "uptime=%.1fs served=%llu", (long)w->pw_pid,
		    w->pw_generation,
		    scoreboard_state_name(scoreboard_state(w->pw_slot)),
		    w->pw_retiring ? " retiring=yes" : "",
		    clock_diff(w->pw_started, now),
		    (unsigned long long)atomic_load(&w->pw_slot->sl_served));
	}
}
