/* SPDX-License-Identifier: ISC */
/*
 * loglimit.c - per-kind and per-source line budgets.
 *
 * The source table is small and fixed: a client that cycles through more
 * addresses than it holds finds each of them new, but still within the
 * kind's budget, which bounds the total.
 */
#include "autoconf.h"

#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "loglimit.h"

bool
log_limit_every(struct log_limit *ll, unsigned burst,
    unsigned long *suppressed)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != ll->ll_second) {
		ll->ll_second = now.tv_sec;
		ll->ll_count = 0;
	}
	if (ll->ll_count >= burst) {
		ll->ll_suppressed++;
		return false;
	}
	ll->ll_count++;
	*suppressed = ll->ll_suppressed;
	ll->ll_suppressed = 0;
	return true;
}

bool
log_limit_allow(struct log_limit *ll, unsigned long *suppressed)
{
	return log_limit_every(ll, LOG_LIMIT_BURST, suppressed);
}

/* The table entry for a's source: found, or the stalest one taken. */
static struct log_source *
log_source_find(struct log_sources *t, const struct addr *a)
{
	struct log_source	*stale = &t->lss_source[0];
	struct addr		 key = *a;

	key.a_port = 0;
	if (key.a_family == AF_INET6)	/* a /64 is one site */
		memset(key.a_bytes + 8, 0, 8);
	for (size_t i = 0; i < LOG_SOURCES; i++) {
		struct log_source *s = &t->lss_source[i];

		if (memcmp(&s->ls_addr, &key, sizeof(key)) == 0)
			return s;
		if (s->ls_limit.ll_second < stale->ls_limit.ll_second)
			stale = s;
	}
	memset(stale, 0, sizeof(*stale));
	stale->ls_addr = key;
	return stale;
}

bool
log_limit_source(struct log_sources *t, unsigned kind_burst,
    unsigned source_burst, const struct addr *a, unsigned long *suppressed)
{
	struct log_source	*s = log_source_find(t, a);
	unsigned long		 kind_held;

	if (!log_limit_every(&s->ls_limit, source_burst, suppressed))
		return false;
	if (!log_limit_every(&t->lss_kind, kind_burst, &kind_held)) {
		/* Not this source's doing: it keeps its budget, and the line
		 * is counted once, by the kind. */
		s->ls_limit.ll_count--;
		s->ls_limit.ll_suppressed = *suppressed;
		return false;
	}
	*suppressed += kind_held;
	return true;
}
