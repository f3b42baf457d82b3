/* SPDX-License-Identifier: ISC */
/*
 * loglimit.h - budgets for the lines that clients can provoke, so that no
 * client, nor many, can make the daemon write more than a bounded number
 * of lines a second.  Each kind of event has its own budget (a static
 * struct log_limit at the call site); lines about one client are also
 * held to a budget per source address.  What is held back is counted and
 * reported, "N more suppressed", with the next line let through.
 */
#ifndef PREFORKD_LOGLIMIT_H
#define PREFORKD_LOGLIMIT_H

#include <stdbool.h>

#include "addr.h"

/* Per kind, per process: lines a second. */
#define LOG_LIMIT_BURST		10
/* A table of the sources seen last, one per kind of line. */
#define LOG_SOURCES		64

struct log_limit {
	long		 ll_second;
	unsigned	 ll_count;
	unsigned long	 ll_suppressed;
};

struct log_source {
	struct addr		 ls_addr;	/* the prefix; port 0 */
	struct log_limit	 ls_limit;
};

struct log_sources {
	struct log_limit	 lss_kind;	/* all sources together */
	struct log_source	 lss_source[LOG_SOURCES];
};

/* Whether to log now, LOG_LIMIT_BURST a second; *suppressed gets the
 * count held back since the last line let through. */
bool	log_limit_allow(struct log_limit *, unsigned long *suppressed);
/* The same with a budget of burst lines a second. */
bool	log_limit_every(struct log_limit *, unsigned burst,
	    unsigned long *suppressed);
/*
 * A line about a client: within the kind's budget (kind_burst a second)
 * and within its source's (source_burst a second for the /32 or /64 it
 * comes from).  *suppressed gets what was held back for this source and,
 * when the kind's budget ran out, for the others.
 */
bool	log_limit_source(struct log_sources *, unsigned kind_burst,
	    unsigned source_burst, const struct addr *,
	    unsigned long *suppressed);

#endif
