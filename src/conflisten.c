/* SPDX-License-Identifier: ISC */
/*
 * conflisten.c - the sockets the file asks for: the listeners (listen),
 * the agent's port and the metrics endpoint, each address checked and made
 * canonical, each port clear of the others (see conflisten.h).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "conflisten.h"
#include "conftls.h"
#include "confread.h"
#include "proxy.h"

static const char *const conflisten_listen_keys[] = { "address", "port",
	"backlog", "proxy_protocol", "proxy_from", "tls", NULL };
static const char *const conflisten_agent_keys[] = { "address", "port",
	NULL };
static const char *const conflisten_metrics_keys[] = { "address", "port",
	"allow", NULL };
/* Who may scrape the metrics when metrics.allow does not say. */
static const char *const conflisten_loopback[] = { "127.0.0.0/8",
	"::1", NULL };

/*
 * Keep the canonical spelling, so that "::1" and "0::1" compare equal
 * when a reload decides which sockets to keep.  An IPv4-mapped IPv6
 * address (::ffff:127.0.0.1) is refused, not rewritten: listener.c makes
 * IPv6 sockets IPv6-only, which can never bind one, and a rewrite would
 * log an address that the file does not say.
 */
static int
conflisten_address(struct conf_ctx *ctx, const config_setting_t *g,
    const char *what, struct config_listen *cl)
{
	const config_setting_t	*s = conf_member(g, "address");
	union {
		struct in_addr	 v4;
		struct in6_addr	 v6;
	}			 addr;
	char			 canon[INET6_ADDRSTRLEN], *copy;
	int			 family;

	if (inet_pton(AF_INET, cl->cl_address, &addr.v4) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, cl->cl_address, &addr.v6) == 1)
		family = AF_INET6;
	else
		return conf_error(ctx, s, "%s \"%s\" is not a "
		    "numeric IPv4 or IPv6 address", what, cl->cl_address);
	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&addr.v6)) {
		inet_ntop(AF_INET, &addr.v6.s6_addr[12], canon, sizeof(canon));
		return conf_error(ctx, s, "%s \"%s\" is an "
		    "IPv4-mapped IPv6 address, which an IPv6-only socket "
		    "cannot bind: write \"%s\"", what, cl->cl_address, canon);
	}
	/* bind() and listen() succeed on these, and nobody can connect. */
	if ((family == AF_INET && (IN_MULTICAST(ntohl(addr.v4.s_addr)) ||
	    addr.v4.s_addr == htonl(INADDR_BROADCAST))) ||
	    (family == AF_INET6 && IN6_IS_ADDR_MULTICAST(&addr.v6)))
		return conf_error(ctx, s, "%s \"%s\" is a "
		    "multicast or broadcast address: TCP cannot be served "
		    "there", what, cl->cl_address);
	if (inet_ntop(family, &addr, canon, sizeof(canon)) == NULL)
		return conf_error(ctx, s, "inet_ntop: %s", strerror(errno));
	if ((copy = strdup(canon)) == NULL)
		return conf_error(ctx, s, "strdup: %s", strerror(errno));
	free(cl->cl_address);
	cl->cl_address = copy;
	return 0;
}

static bool
conflisten_is_ipv6(const struct config_listen *cl)
{
	return strchr(cl->cl_address, ':') != NULL;
}

static bool
conflisten_is_wildcard(const struct config_listen *cl)
{
	return strcmp(cl->cl_address, "0.0.0.0") == 0 ||
	    strcmp(cl->cl_address, "::") == 0;
}

/*
 * Listeners that can never all be bound: the same address and port
 * twice, or a wildcard address and another address of its family on the
 * same port (Linux refuses the second listening socket, SO_REUSEADDR or
 * not).  "::" leaves IPv4 alone, as listener.c sets IPV6_V6ONLY.  With
 * port 0 each socket gets a port of its own.
 */
static int
conflisten_clash_earlier(struct conf_ctx *ctx, const config_setting_t *e,
    const struct config *c, size_t i)
{
	const struct config_listen	*a = &c->c_listen[i], *b;

	for (size_t j = 0; j < i; j++) {
		b = &c->c_listen[j];
		if (a->cl_port == 0 || a->cl_port != b->cl_port ||
		    conflisten_is_ipv6(a) != conflisten_is_ipv6(b))
			continue;
		if (config_same_listen(a, b))
			return conf_error(ctx, e, "listen %s port %u appears "
			    "twice (also at %s)", a->cl_address, a->cl_port,
			    c->c_listen_where[j]);
		if (conflisten_is_wildcard(a) || conflisten_is_wildcard(b))
			return conf_error(ctx, e, "listen %s port %u overlaps "
			    "%s port %u at %s: a wildcard address takes the "
			    "port on every address of its family",
			    a->cl_address, a->cl_port, b->cl_address,
			    b->cl_port, c->c_listen_where[j]);
	}
	return 0;
}

/* proxy_from = [ "CIDR", ... ]: who may send a PROXY header. */
static int
conflisten_proxy_from(struct conf_ctx *ctx, const config_setting_t *s,
    struct config_listen *cl)
{
	const config_setting_t	*e;
	const char		*why;
	int			 n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_error(ctx, s, "listen.proxy_from must be a list "
		    "of networks: [ \"10.0.0.1\", \"192.0.2.0/24\" ]");
	if ((n = config_setting_length(s)) < 1 ||
	    n > CONFIG_MAX_PROXY_FROM)
		return conf_error(ctx, s, "listen.proxy_from must have "
		    "1..%d entries", CONFIG_MAX_PROXY_FROM);
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_error(ctx, e, "listen.proxy_from entries "
			    "are strings, \"ADDRESS\" or \"ADDRESS/BITS\"");
		if (addr_net_parse(&cl->cl_proxy_from[i],
		    config_setting_get_string(e), &why) == -1)
			return conf_error(ctx, e, "listen.proxy_from \"%s\": "
			    "%s", config_setting_get_string(e), why);
	}
	cl->cl_nproxy_from = (size_t)n;
	return 0;
}

/* A PROXY listener needs its trusted senders, and they need it. */
static int
conflisten_proxy(struct conf_ctx *ctx, const config_setting_t *g,
    struct config_listen *cl)
{
	const config_setting_t	*from = conf_member(g, "proxy_from");
	char			*mode = NULL;
	int			 rc;

	cl->cl_proxy = PROXY_OFF;
	cl->cl_nproxy_from = 0;
	if (conf_string(ctx, g, "listen.proxy_protocol", "proxy_protocol", 16,
	    &mode) == -1)
		return -1;
	rc = mode != NULL && proxy_mode_parse(mode, &cl->cl_proxy) == -1;
	free(mode);
	if (rc)
		return conf_error(ctx, conf_member(g, "proxy_protocol"),
		    "listen.proxy_protocol must be \"off\", \"v1\", \"v2\" "
		    "or \"any\"");
	if (cl->cl_proxy == PROXY_OFF && from != NULL)
		return conf_error(ctx, from, "listen.proxy_from is set but "
		    "proxy_protocol is off");
	if (cl->cl_proxy != PROXY_OFF && from == NULL)
		return conf_error(ctx, conf_member(g, "proxy_protocol"),
		    "listen.proxy_protocol = \"%s\" needs proxy_from, the "
		    "balancers allowed to send it", proxy_mode_name(cl->cl_proxy));
	return from != NULL ? conflisten_proxy_from(ctx, from, cl) : 0;
}

static int
conflisten_one(struct conf_ctx *ctx, const config_setting_t *g,
    struct config *c, size_t i)
{
	struct config_listen	*cl = &c->c_listen[i];
	const config_setting_t	*a = conf_member(g, "address");
	char			 where[PATH_MAX + 16];
	long long		 v;

	if (!config_setting_is_group(g))
		return conf_error(ctx, g, "listen entries must be groups "
		    "{ address = ...; port = ...; }");
	if (conf_known_keys(ctx, g, "listen.", conflisten_listen_keys) == -1 ||
	    conf_string(ctx, g, "listen.address", "address", 64,
	    &cl->cl_address) == -1 ||
	    conflisten_address(ctx, g, "listen.address", cl) == -1)
		return -1;
	v = cl->cl_port;
	if (conf_int(ctx, g, "listen.port", "port", 0, 65535, &v) == -1)
		return -1;
	cl->cl_port = (uint16_t)v;
	v = cl->cl_backlog;
	if (conf_int(ctx, g, "listen.backlog", "backlog", 1, 65535, &v) == -1)
		return -1;
	cl->cl_backlog = (int)v;
	if (conflisten_proxy(ctx, g, cl) == -1 ||
	    conftls_listen(ctx, conf_member(g, "tls"), c, i) == -1)
		return -1;
	/* For -t, which names the line of an address it cannot bind. */
	free(c->c_listen_where[i]);
	if ((c->c_listen_where[i] = strdup(conf_where(ctx, a != NULL ? a : g,
	    where, sizeof(where)))) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	return conflisten_clash_earlier(ctx, g, c, i);
}

/* listen = { ... } or ( { ... }, ... ) */
static int
conflisten_list(struct conf_ctx *ctx, const config_setting_t *s,
    struct config *c)
{
	int	 n;

	if (config_setting_is_group(s))
		return conflisten_one(ctx, s, c, 0);
	if (!config_setting_is_list(s))
		return conf_error(ctx, s, "listen must be a group { ... } "
		    "or a list ( { ... }, ... )");
	n = config_setting_length(s);
	if (n < 1 || n > CONFIG_MAX_LISTEN)
		return conf_error(ctx, s, "listen must have 1..%d entries",
		    CONFIG_MAX_LISTEN);
	for (int i = 1; i < n; i++) {
		c->c_listen[i] = c->c_listen[0];
		if ((c->c_listen[i].cl_address = strdup("127.0.0.1")) == NULL)
			return conf_error(ctx, s, "strdup: %s",
			    strerror(errno));
	}
	c->c_nlisten = n;
	for (int i = 0; i < n; i++)
		if (conflisten_one(ctx, config_setting_get_elem(s, i), c,
		    (size_t)i) == -1)
			return -1;
	return 0;
}

int
conflisten_listeners(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*s = conf_member(root, "listen");

	if (s == NULL)
		return 0;		/* the default listener stays */
	if (conflisten_list(ctx, s, c) == -1)
		return -1;
	return conftls_secret(ctx, c);
}

/* Whether two sockets can never both be bound (port 0: each gets its
 * own). */
static bool
conflisten_clash(const struct config_listen *a, const struct config_listen *b)
{
	if (a->cl_port == 0 || a->cl_port != b->cl_port ||
	    conflisten_is_ipv6(a) != conflisten_is_ipv6(b))
		return false;
	return config_same_listen(a, b) || conflisten_is_wildcard(a) ||
	    conflisten_is_wildcard(b);
}

/*
 * The address of a port of the master's own (the agent, the metrics):
 * a numeric one that an IPv6-only socket can bind (as listen.address),
 * on a port no listener takes.  A wildcard takes the port on every
 * address of its family: either side's is a clash.  *address is made
 * canonical.
 */
static int
conflisten_side_address(struct conf_ctx *ctx, const config_setting_t *g,
    const char *what, char **address, uint16_t port, struct config *c)
{
	struct config_listen	 side = { .cl_port = port };
	char			 path[32];
	int			 rc;

	/* Checked and made canonical as a listen address is. */
	snprintf(path, sizeof(path), "%s.address", what);
	side.cl_address = *address;
	*address = NULL;
	rc = conflisten_address(ctx, g, path, &side);
	*address = side.cl_address;
	if (rc == -1)
		return -1;
	for (size_t i = 0; i < c->c_nlisten; i++)
		if (conflisten_clash(&side, &c->c_listen[i]))
			return conf_error(ctx, g, "%s %s port %u clashes "
			    "with listen %s port %u at %s", what,
			    side.cl_address, side.cl_port,
			    c->c_listen[i].cl_address, c->c_listen[i].cl_port,
			    c->c_listen_where[i]);
	return 0;
}

static int
conflisten_agent_address(struct conf_ctx *ctx, const config_setting_t *g,
    struct config *c)
{
	return conflisten_side_address(ctx, g, "agent", &c->c_agent_address,
	    c->c_agent_port, c);
}

/* agent = { address = "10.0.0.2"; port = 9100; } */
int
conflisten_agent(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;
	char			 where[PATH_MAX + 16];
	long long		 port = 0;

	if (conf_group(ctx, root, "agent", conflisten_agent_keys, &g) == -1)
		return -1;
	if (g == NULL)
		return 0;
	if (conf_member(g, "port") == NULL)
		return conf_error(ctx, g, "agent needs a port");
	if (conf_int(ctx, g, "agent.port", "port", 1, 65535, &port) == -1 ||
	    conf_string(ctx, g, "agent.address", "address", 64,
	    &c->c_agent_address) == -1)
		return -1;
	c->c_agent_port = (uint16_t)port;
	if (c->c_agent_address == NULL &&
	    (c->c_agent_address = strdup("127.0.0.1")) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	/* For -t and the start, which name the line of an address they
	 * cannot bind. */
	if ((c->c_agent_where = strdup(conf_where(ctx,
	    conf_member(g, "address") != NULL ? conf_member(g, "address") : g,
	    where, sizeof(where)))) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	return conflisten_agent_address(ctx, g, c);
}

/* allow = [ "CIDR", ... ]: who may scrape; loopback when absent. */
static int
conflisten_metrics_allow(struct conf_ctx *ctx, const config_setting_t *g,
    struct config *c)
{
	const config_setting_t	*s = conf_member(g, "allow"), *e;
	const char		*why;
	int			 n;

	if (s == NULL) {
		for (n = 0; conflisten_loopback[n] != NULL; n++)
			if (addr_net_parse(&c->c_metrics_allow[n],
			    conflisten_loopback[n], &why) == -1)
				return conf_error(ctx, g, "%s", why);
		c->c_nmetrics_allow = (size_t)n;
		return 0;
	}
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_error(ctx, s, "metrics.allow must be a list of "
		    "networks: [ \"127.0.0.1\", \"192.0.2.0/24\" ]");
	if ((n = config_setting_length(s)) < 1 ||
	    n > CONFIG_MAX_METRICS_ALLOW)
		return conf_error(ctx, s, "metrics.allow must have 1..%d "
		    "entries", CONFIG_MAX_METRICS_ALLOW);
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_error(ctx, e, "metrics.allow entries are "
			    "strings, \"ADDRESS\" or \"ADDRESS/BITS\"");
		if (addr_net_parse(&c->c_metrics_allow[i],
		    config_setting_get_string(e), &why) == -1)
			return conf_error(ctx, e, "metrics.allow \"%s\": %s",
			    config_setting_get_string(e), why);
	}
	c->c_nmetrics_allow = (size_t)n;
	return 0;
}

/*
 * metrics = { address = "127.0.0.1"; port = 9102; allow = [ ... ]; }:
 * on a port of its own, clear of the listeners' and the agent's.
 */
int
conflisten_metrics(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;
	struct config_listen	 me, agent;
	char			 where[PATH_MAX + 16];
	long long		 port = 0;

	if (conf_group(ctx, root, "metrics", conflisten_metrics_keys, &g) == -1)
		return -1;
	if (g == NULL)
		return 0;
	if (conf_member(g, "port") == NULL)
		return conf_error(ctx, g, "metrics needs a port");
	if (conf_int(ctx, g, "metrics.port", "port", 0, 65535, &port) == -1 ||
	    conf_string(ctx, g, "metrics.address", "address", 64,
	    &c->c_metrics_address) == -1)
		return -1;
	c->c_metrics_port = (uint16_t)port;
	if (c->c_metrics_address == NULL &&
	    (c->c_metrics_address = strdup("127.0.0.1")) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	/* For -t and the start, which name the line of an address they
	 * cannot bind. */
	if ((c->c_metrics_where = strdup(conf_where(ctx,
	    conf_member(g, "address") != NULL ? conf_member(g, "address") : g,
	    where, sizeof(where)))) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	if (conflisten_side_address(ctx, g, "metrics", &c->c_metrics_address,
	    c->c_metrics_port, c) == -1)
		return -1;
	me = (struct config_listen){ .cl_address = c->c_metrics_address,
	    .cl_port = c->c_metrics_port };
	agent = (struct config_listen){ .cl_address = c->c_agent_address,
	    .cl_port = c->c_agent_port };
	if (c->c_agent_address != NULL && conflisten_clash(&me, &agent))
		return conf_error(ctx, g, "metrics %s port %u clashes with "
		    "agent %s port %u at %s", me.cl_address, me.cl_port,
		    agent.cl_address, agent.cl_port, c->c_agent_where);
	return conflisten_metrics_allow(ctx, g, c);
}
