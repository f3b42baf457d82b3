/* SPDX-License-Identifier: ISC */
/*
 * access.c - allow and deny rules: parsed once, matched per connection.
 *
 * A linear scan: lists are short (the configuration caps them), and a
 * match costs a few byte compares, far below what accepting costs.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "access.h"

#define ACCESS_BLANKS	" \t"

/* The n bytes at s, a network. */
static int
access_net(struct access_rule *r, const char *s, size_t n, const char **why)
{
	char	 net[ADDR_STRLEN];

	if (n >= sizeof(net)) {
		*why = "not a numeric IPv4 or IPv6 address";
		return -1;
	}
	memcpy(net, s, n);
	net[n] = '\0';
	return addr_net_parse(&r->ar_net, net, why);
}

int
access_rule_parse(struct access_rule *r, const char *s, const char **why)
{
	size_t	 n;

	memset(r, 0, sizeof(*r));
	s += strspn(s, ACCESS_BLANKS);
	n = strcspn(s, ACCESS_BLANKS);
	if (n == 5 && strncmp(s, "allow", n) == 0)
		r->ar_allow = true;
	else if (!(n == 4 && strncmp(s, "deny", n) == 0)) {
		*why = "a rule starts with \"allow\" or \"deny\"";
		return -1;
	}
	s += n;
	s += strspn(s, ACCESS_BLANKS);
	n = strcspn(s, ACCESS_BLANKS);
	if (n == 0) {
		*why = "a rule needs an address, a network or \"all\"";
		return -1;
	}
	if (s[n + strspn(s + n, ACCESS_BLANKS)] != '\0') {
		*why = "a rule is two words: allow|deny CIDR|all";
		return -1;
	}
	if (n == 3 && strncmp(s, "all", n) == 0) {
		r->ar_all = true;
		return 0;
	}
	return access_net(r, s, n, why);
}

void
access_rule_format(const struct access_rule *r, char *buf, size_t size)
{
	char	 net[ADDR_STRLEN + 8];

	if (r->ar_all)
		snprintf(net, sizeof(net), "all");
	else
		addr_net_format(&r->ar_net, net, sizeof(net));
	snprintf(buf, size, "%s %s", r->ar_allow ? "allow" : "deny", net);
}

bool
access_allowed(const struct access_rule *rules, size_t n,
    const struct addr *a, size_t *rule)
{
	for (size_t i = 0; i < n; i++)
		if (rules[i].ar_all || addr_in_net(a, &rules[i].ar_net)) {
			*rule = i;
			return rules[i].ar_allow;
		}
	*rule = n;
	return true;
}
