/* SPDX-License-Identifier: ISC */
/*
 * access.h - allow and deny rules on the client's address.
 *
 * An ordered list, as in xinetd's only_from/no_access or nginx's
 * allow/deny: the first rule whose network holds the address decides,
 * and an address no rule holds is allowed.  "deny all" at the end turns
 * the list into an allow list.  The address is the real client's: the
 * one a PROXY header gave, when a trusted balancer sent one.
 */
#ifndef PREFORKD_ACCESS_H
#define PREFORKD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

struct access_rule {
	bool		 ar_allow;
	bool		 ar_all;	/* "all": every address */
	struct addr_net	 ar_net;
};

/*
 * "allow CIDR", "deny CIDR", "allow all", "deny all" (words separated by
 * blanks).  0, or -1 with *why set to a static reason.
 */
int	access_rule_parse(struct access_rule *, const char *,
	    const char **why);
/* The rule as it would be written, normalised ("deny 10.0.0.0/8"). */
void	access_rule_format(const struct access_rule *, char *, size_t);
/*
 * Whether rules allow a.  *rule is the index of the rule that decided,
 * or n when none held a (allowed by default).
 */
bool	access_allowed(const struct access_rule *rules, size_t n,
	    const struct addr *a, size_t *rule);

#endif
