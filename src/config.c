/* SPDX-License-Identifier: ISC */
/*
 * config.c - libconfig text -> validated struct config.
 *
 * conffile.c reads the file and its @includes; libconfig parses the
 * merged text from memory.  Every key has a default and a range; a wrong
 * type, an out-of-range value, an unknown key, listeners that can never
 * all be bound, or a syntax error stop the load with "FILE:LINE:
 * message", FILE being the file that holds the line.  The first error
 * wins, as in nginx -t; what conffile finds (a file that cannot be read,
 * a 32-bit overflow) comes before what libconfig finds.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "conffile.h"
#include "config.h"
#include "confread.h"
#include "service.h"

/* Where service modules are looked for (module_dir). */
#ifndef PREFORKD_MODULE_DIR
#define PREFORKD_MODULE_DIR	"/usr/local/lib/preforkd"
#endif

static const struct conf_name conf_facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "cron", LOG_CRON }, { "daemon", LOG_DAEMON }, { "ftp", LOG_FTP },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ "lpr", LOG_LPR }, { "mail", LOG_MAIL }, { "news", LOG_NEWS },
	{ "syslog", LOG_SYSLOG }, { "user", LOG_USER }, { "uucp", LOG_UUCP },
	{ NULL, 0 }
};

static const struct conf_name conf_levels[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
	{ NULL, 0 }
};

static const char *const conf_root_keys[] = { "listen", "workers",
	"pool", "limits", "max_connections", "service", "module_dir",
	"timeouts", "log", "user", "group", "pid_file", "control", "access",
	"agent", "metrics", NULL };
static const char *const conf_pool_keys[] = { "min", "max", "idle_min",
	"idle_max", NULL };
static const char *const conf_limits_keys[] = { "per_source",
	"source_prefix4", "source_prefix6", NULL };
static const char *const conf_listen_keys[] = { "address", "port",
	"backlog", "proxy_protocol", "proxy_from", NULL };
static const char *const conf_timeout_keys[] = { "read", "write",
	"shutdown", "connection", "hung", "drain", NULL };
static const char *const conf_agent_keys[] = { "address", "port", NULL };
static const char *const conf_metrics_keys[] = { "address", "port",
	"allow", NULL };
/* Who may scrape the metrics when metrics.allow does not say. */
static const char *const conf_metrics_loopback[] = { "127.0.0.0/8",
	"::1", NULL };
static const char *const conf_log_keys[] = { "facility", "level", NULL };

/*
 * Keep the canonical spelling, so that "::1" and "0::1" compare equal
 * when a reload decides which sockets to keep.  An IPv4-mapped IPv6
 * address (::ffff:127.0.0.1) is refused, not rewritten: listener.c makes
 * IPv6 sockets IPv6-only, which can never bind one, and a rewrite would
 * log an address that the file does not say.
 */
static int
conf_listen_address(struct conf_ctx *ctx, const config_setting_t *g,
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
conf_is_ipv6(const struct config_listen *cl)
{
	return strchr(cl->cl_address, ':') != NULL;
}

static bool
conf_is_wildcard(const struct config_listen *cl)
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
conf_listen_clash(struct conf_ctx *ctx, const config_setting_t *e,
    const struct config *c, size_t i)
{
	const struct config_listen	*a = &c->c_listen[i], *b;

	for (size_t j = 0; j < i; j++) {
		b = &c->c_listen[j];
		if (a->cl_port == 0 || a->cl_port != b->cl_port ||
		    conf_is_ipv6(a) != conf_is_ipv6(b))
			continue;
		if (config_same_listen(a, b))
			return conf_error(ctx, e, "listen %s port %u appears "
			    "twice (also at %s)", a->cl_address, a->cl_port,
			    c->c_listen_where[j]);
		if (conf_is_wildcard(a) || conf_is_wildcard(b))
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
conf_proxy_from(struct conf_ctx *ctx, const config_setting_t *s,
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
conf_listen_proxy(struct conf_ctx *ctx, const config_setting_t *g,
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
	return from != NULL ? conf_proxy_from(ctx, from, cl) : 0;
}

static int
conf_listen_one(struct conf_ctx *ctx, const config_setting_t *g,
    struct config *c, size_t i)
{
	struct config_listen	*cl = &c->c_listen[i];
	const config_setting_t	*a = conf_member(g, "address");
	char			 where[PATH_MAX + 16];
	long long		 v;

	if (!config_setting_is_group(g))
		return conf_error(ctx, g, "listen entries must be groups "
		    "{ address = ...; port = ...; }");
	if (conf_known_keys(ctx, g, "listen.", conf_listen_keys) == -1 ||
	    conf_string(ctx, g, "listen.address", "address", 64,
	    &cl->cl_address) == -1 ||
	    conf_listen_address(ctx, g, "listen.address", cl) == -1)
		return -1;
	v = cl->cl_port;
	if (conf_int(ctx, g, "listen.port", "port", 0, 65535, &v) == -1)
		return -1;
	cl->cl_port = (uint16_t)v;
	v = cl->cl_backlog;
	if (conf_int(ctx, g, "listen.backlog", "backlog", 1, 65535, &v) == -1)
		return -1;
	cl->cl_backlog = (int)v;
	if (conf_listen_proxy(ctx, g, cl) == -1)
		return -1;
	/* For -t, which names the line of an address it cannot bind. */
	free(c->c_listen_where[i]);
	if ((c->c_listen_where[i] = strdup(conf_where(ctx, a != NULL ? a : g,
	    where, sizeof(where)))) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	return conf_listen_clash(ctx, g, c, i);
}

static int
conf_listen(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*s = conf_member(root, "listen");
	int			 n;

	if (s == NULL)
		return 0;		/* the default listener stays */
	if (config_setting_is_group(s))
		return conf_listen_one(ctx, s, c, 0);
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
		if (conf_listen_one(ctx, config_setting_get_elem(s, i), c,
		    (size_t)i) == -1)
			return -1;
	return 0;
}

static int
conf_timeouts(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;

	if (conf_group(ctx, root, "timeouts", conf_timeout_keys, &g) == -1 ||
	    conf_seconds(ctx, g, "timeouts.read", "read", 0.001, 3600,
	    &c->c_timeout_read) == -1 ||
	    conf_seconds(ctx, g, "timeouts.write", "write", 0.001, 3600,
	    &c->c_timeout_write) == -1 ||
	    conf_seconds(ctx, g, "timeouts.shutdown", "shutdown", 0, 3600,
	    &c->c_timeout_shutdown) == -1 ||
	    conf_seconds(ctx, g, "timeouts.connection", "connection", 0.001,
	    86400, &c->c_timeout_connection) == -1 ||
	    conf_seconds(ctx, g, "timeouts.hung", "hung", 0,
	    86400 + CONFIG_HUNG_SLACK, &c->c_timeout_hung) == -1 ||
	    conf_seconds(ctx, g, "timeouts.drain", "drain", 0, 3600,
	    &c->c_timeout_drain) == -1)
		return -1;
	/* Every connection ends by timeouts.connection: a worker busy
	 * with one for longer is stuck, but not a moment sooner; an idle
	 * one shows a sign of life every second, so a few must be missed. */
	if (c->c_timeout_hung != 0 && c->c_timeout_hung <
	    c->c_timeout_connection + CONFIG_HUNG_SLACK)
		return conf_error(ctx, conf_member(g, "hung") != NULL ?
		    conf_member(g, "hung") : conf_member(g, "connection"),
		    "timeouts.hung = %g must be at least timeouts.connection "
		    "+ %d = %g (or 0: never)", c->c_timeout_hung,
		    CONFIG_HUNG_SLACK, c->c_timeout_connection +
		    CONFIG_HUNG_SLACK);
	return 0;
}

/*
 * The pool: "workers = N" is a fixed pool of N; "pool = { ... }" (or
 * neither) a dynamic one.  Both at once would leave the operator guessing
 * which wins.
 */
static int
conf_pool(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g, *w = conf_member(root, "workers");
	long long		 v[4] = { c->c_pool_min, c->c_pool_max,
	    c->c_idle_min, c->c_idle_max };
	long long		 workers = c->c_workers;

	if (conf_int(ctx, root, "workers", "workers", 1, CONFIG_MAX_WORKERS,
	    &workers) == -1 ||
	    conf_group(ctx, root, "pool", conf_pool_keys, &g) == -1)
		return -1;
	if (w != NULL && g != NULL)
		return conf_error(ctx, g, "pool and workers cannot both be "
		    "set: workers = N is a fixed pool of N, pool = { ... } "
		    "one that grows and shrinks");
	if (w != NULL) {
		c->c_pool_dynamic = false;
		c->c_workers = c->c_pool_min = c->c_pool_max =
		    (unsigned)workers;
		return 0;
	}
	if (conf_int(ctx, g, "pool.min", "min", 1, CONFIG_MAX_WORKERS,
	    &v[0]) == -1 ||
	    conf_int(ctx, g, "pool.max", "max", 1, CONFIG_MAX_WORKERS,
	    &v[1]) == -1 ||
	    conf_int(ctx, g, "pool.idle_min", "idle_min", 0,
	    CONFIG_MAX_WORKERS, &v[2]) == -1 ||
	    conf_int(ctx, g, "pool.idle_max", "idle_max", 1,
	    CONFIG_MAX_WORKERS, &v[3]) == -1)
		return -1;
	if (v[1] < v[0])
		return conf_error(ctx, conf_member(g, "max") != NULL ?
		    conf_member(g, "max") : conf_member(g, "min"),
		    "pool.max = %lld is below pool.min = %lld", v[1], v[0]);
	if (v[3] < v[2])
		return conf_error(ctx, conf_member(g, "idle_max") != NULL ?
		    conf_member(g, "idle_max") : conf_member(g, "idle_min"),
		    "pool.idle_max = %lld is below pool.idle_min = %lld", v[3],
		    v[2]);
	c->c_pool_dynamic = true;
	c->c_pool_min = (unsigned)v[0];
	c->c_pool_max = (unsigned)v[1];
	c->c_idle_min = (unsigned)v[2];
	c->c_idle_max = (unsigned)v[3];
	c->c_workers = c->c_pool_min;
	return 0;
}

static int
conf_limits(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;
	long long		 v[3] = { c->c_per_source, c->c_source_bits4,
	    c->c_source_bits6 };
	long long		 maxconn = (long long)c->c_max_connections;

	if (conf_group(ctx, root, "limits", conf_limits_keys, &g) == -1 ||
	    conf_int(ctx, g, "limits.per_source", "per_source", 0, 65535,
	    &v[0]) == -1 ||
	    conf_int(ctx, g, "limits.source_prefix4", "source_prefix4", 1,
	    32, &v[1]) == -1 ||
	    conf_int(ctx, g, "limits.source_prefix6", "source_prefix6", 1,
	    128, &v[2]) == -1 ||
	    conf_int(ctx, root, "max_connections", "max_connections", 0,
	    1000000000, &maxconn) == -1)
		return -1;
	c->c_per_source = (unsigned)v[0];
	c->c_source_bits4 = (unsigned)v[1];
	c->c_source_bits6 = (unsigned)v[2];
	c->c_max_connections = (unsigned long)maxconn;
	return 0;
}

/* An AF_UNIX path: absolute, and short enough for sun_path. */
static int
conf_control(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	if (conf_string(ctx, root, "control", "control", PATH_MAX,
	    &c->c_control) == -1)
		return -1;
	if (c->c_control == NULL)
		return 0;
	if (c->c_control[0] != '/')
		return conf_error(ctx, conf_member(root, "control"),
		    "control must be an absolute path");
	if (strlen(c->c_control) >= CONFIG_MAX_CONTROL_PATH)
		return conf_error(ctx, conf_member(root, "control"),
		    "control is longer than %d bytes, the limit of a unix "
		    "socket's path", CONFIG_MAX_CONTROL_PATH - 1);
	return 0;
}

/* access = [ "allow 10.0.0.0/8", "deny all" ]: an ordered list. */
static int
conf_access(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*s = conf_member(root, "access"), *e;
	const char		*why;
	int			 n;

	if (s == NULL)
		return 0;
	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return conf_error(ctx, s, "access must be a list of rules: "
		    "[ \"allow CIDR\", \"deny all\", ... ]");
	if ((n = config_setting_length(s)) > CONFIG_MAX_ACCESS)
		return conf_error(ctx, s, "access has %d rules; at most %d",
		    n, CONFIG_MAX_ACCESS);
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_error(ctx, e, "access rules are strings, "
			    "\"allow CIDR\" or \"deny CIDR\" (or \"all\")");
		if (access_rule_parse(&c->c_access[i],
		    config_setting_get_string(e), &why) == -1)
			return conf_error(ctx, e, "access rule \"%s\": %s",
			    config_setting_get_string(e), why);
	}
	c->c_naccess = (size_t)n;
	return 0;
}

/* Whether two sockets can never both be bound (port 0: each gets its
 * own). */
static bool
conf_clash(const struct config_listen *a, const struct config_listen *b)
{
	if (a->cl_port == 0 || a->cl_port != b->cl_port ||
	    conf_is_ipv6(a) != conf_is_ipv6(b))
		return false;
	return config_same_listen(a, b) || conf_is_wildcard(a) ||
	    conf_is_wildcard(b);
}

/*
 * The address of a port of the master's own (the agent, the metrics):
 * a numeric one that an IPv6-only socket can bind (as listen.address),
 * on a port no listener takes.  A wildcard takes the port on every
 * address of its family: either side's is a clash.  *address is made
 * canonical.
 */
static int
conf_side_address(struct conf_ctx *ctx, const config_setting_t *g,
    const char *what, char **address, uint16_t port, struct config *c)
{
	struct config_listen	 side = { .cl_port = port };
	char			 path[32];
	int			 rc;

	/* Checked and made canonical as a listen address is. */
	snprintf(path, sizeof(path), "%s.address", what);
	side.cl_address = *address;
	*address = NULL;
	rc = conf_listen_address(ctx, g, path, &side);
	*address = side.cl_address;
	if (rc == -1)
		return -1;
	for (size_t i = 0; i < c->c_nlisten; i++)
		if (conf_clash(&side, &c->c_listen[i]))
			return conf_error(ctx, g, "%s %s port %u clashes "
			    "with listen %s port %u at %s", what,
			    side.cl_address, side.cl_port,
			    c->c_listen[i].cl_address, c->c_listen[i].cl_port,
			    c->c_listen_where[i]);
	return 0;
}

static int
conf_agent_address(struct conf_ctx *ctx, const config_setting_t *g,
    struct config *c)
{
	return conf_side_address(ctx, g, "agent", &c->c_agent_address,
	    c->c_agent_port, c);
}

/* agent = { address = "10.0.0.2"; port = 9100; } */
static int
conf_agent(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;
	char			 where[PATH_MAX + 16];
	long long		 port = 0;

	if (conf_group(ctx, root, "agent", conf_agent_keys, &g) == -1)
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
	return conf_agent_address(ctx, g, c);
}

/* allow = [ "CIDR", ... ]: who may scrape; loopback when absent. */
static int
conf_metrics_allow(struct conf_ctx *ctx, const config_setting_t *g,
    struct config *c)
{
	const config_setting_t	*s = conf_member(g, "allow"), *e;
	const char		*why;
	int			 n;

	if (s == NULL) {
		for (n = 0; conf_metrics_loopback[n] != NULL; n++)
			if (addr_net_parse(&c->c_metrics_allow[n],
			    conf_metrics_loopback[n], &why) == -1)
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
static int
conf_metrics(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;
	struct config_listen	 me, agent;
	char			 where[PATH_MAX + 16];
	long long		 port = 0;

	if (conf_group(ctx, root, "metrics", conf_metrics_keys, &g) == -1)
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
	if (conf_side_address(ctx, g, "metrics", &c->c_metrics_address,
	    c->c_metrics_port, c) == -1)
		return -1;
	me = (struct config_listen){ .cl_address = c->c_metrics_address,
	    .cl_port = c->c_metrics_port };
	agent = (struct config_listen){ .cl_address = c->c_agent_address,
	    .cl_port = c->c_agent_port };
	if (c->c_agent_address != NULL && conf_clash(&me, &agent))
		return conf_error(ctx, g, "metrics %s port %u clashes with "
		    "agent %s port %u at %s", me.cl_address, me.cl_port,
		    agent.cl_address, agent.cl_port, c->c_agent_where);
	return conf_metrics_allow(ctx, g, c);
}

static int
conf_log(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;

	if (conf_group(ctx, root, "log", conf_log_keys, &g) == -1 ||
	    conf_name_lookup(ctx, g, "log.facility", "facility",
	    conf_facilities, &c->c_log_facility) == -1 ||
	    conf_name_lookup(ctx, g, "log.level", "level", conf_levels,
	    &c->c_log_level) == -1)
		return -1;
	return 0;
}

/* Resolve user and group now, so that -t reports a missing account. */
static int
conf_identity(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	struct passwd	*pw;
	struct group	*gr;

	if (conf_string(ctx, root, "user", "user", 64, &c->c_user) == -1 ||
	    conf_string(ctx, root, "group", "group", 64, &c->c_group) == -1)
		return -1;
	if (ctx->flags & CONFIG_NO_NSS) {
		/* Looked up by the checker child; the names are checked. */
		if (c->c_group != NULL && c->c_user == NULL)
			return conf_error(ctx, conf_member(root, "group"),
			    "group needs user to be set too");
		if (ctx->facts != NULL && c->c_user != NULL) {
			c->c_uid = ctx->facts->cf_uid;
			c->c_gid = ctx->facts->cf_gid;
			c->c_ids_known = true;
		}
		return 0;
	}
	if (c->c_user != NULL) {
		errno = 0;
		if ((pw = getpwnam(c->c_user)) == NULL)
			return conf_error(ctx, conf_member(root, "user"),
			    "user \"%s\" does not exist", c->c_user);
		c->c_uid = pw->pw_uid;
		c->c_gid = pw->pw_gid;
	}
	if (c->c_group != NULL) {
		if (c->c_user == NULL)
			return conf_error(ctx, conf_member(root, "group"),
			    "group needs user to be set too");
		if ((gr = getgrnam(c->c_group)) == NULL)
			return conf_error(ctx, conf_member(root, "group"),
			    "group \"%s\" does not exist", c->c_group);
		c->c_gid = gr->gr_gid;
	}
	c->c_ids_known = true;
	return 0;
}

/* ---- services ------------------------------------------------------ */

/*
 * Hand sv its group, if the file has one: a group { ... } or nothing.  A
 * hook that fails without saying why still fails, at the group's line.
 */
static int
conf_service_group(struct conf_ctx *ctx, const config_setting_t *root,
    struct service *sv)
{
	struct preforkd_conf	 pc = { ctx, NULL, conf_member(root,
	    "service"), sv->sv_desc->ps_name, false };
	const config_setting_t	*g = conf_member(root, pc.pc_name);

	if (g != NULL && !config_setting_is_group(g))
		return conf_error(ctx, g, "%s must be a group { ... }",
		    pc.pc_name);
	pc.pc_group = g;
	if (service_configure(sv, &pc) == 0 && !pc.pc_failed)
		return 0;
	if (!pc.pc_failed)
		conf_error(ctx, g != NULL ? g : pc.pc_service, "service \"%s\" "
		    "refused its configuration", pc.pc_name);
	return -1;
}

/*
 * A group named after a built-in service that is not the one chosen is
 * checked all the same, as it always was: switching service = "echo"
 * back to "greeting" must not reveal an error the file always had.
 */
static int
conf_other_builtins(struct conf_ctx *ctx, const config_setting_t *root,
    const struct config *c)
{
	const struct preforkd_service	*d;
	struct service			*sv;
	char				 err[256];
	bool				 missing;
	int				 rc;

	for (size_t i = 0; (d = service_builtin_at(i)) != NULL; i++) {
		if (strcmp(d->ps_name, c->c_service) == 0 ||
		    conf_member(root, d->ps_name) == NULL)
			continue;
		if ((sv = service_load(d->ps_name, c->c_module_dir, err,
		    sizeof(err), &missing)) == NULL)
			return conf_error(ctx, NULL, "%s", err);
		rc = conf_service_group(ctx, root, sv);
		service_free(sv);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* service = "NAME": built in, or NAME.so in module_dir. */
static int
conf_service(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*s = conf_member(root, "service");
	char			 err[PATH_MAX + 256];
	bool			 missing;

	if (conf_string(ctx, root, "module_dir", "module_dir", PATH_MAX,
	    &c->c_module_dir) == -1 ||
	    conf_string(ctx, root, "service", "service", PREFORKD_NAME_MAX,
	    &c->c_service) == -1)
		return -1;
	if (c->c_module_dir[0] != '/')
		return conf_error(ctx, conf_member(root, "module_dir"),
		    "module_dir must be an absolute path");
	for (size_t k = 0; conf_root_keys[k] != NULL; k++)
		if (strcmp(conf_root_keys[k], c->c_service) == 0)
			return conf_error(ctx, s, "service \"%s\" would share "
			    "its group with the key %s", c->c_service,
			    c->c_service);
	if ((ctx->flags & CONFIG_NO_MODULES) &&
	    service_builtin(c->c_service) == NULL) {
		if (!service_name_ok(c->c_service))
			return conf_error(ctx, s, "service \"%s\": a service "
			    "name has only letters, digits, '_' and '-'",
			    c->c_service);
		c->c_client_first = ctx->facts != NULL &&
		    ctx->facts->cf_client_first;
		return conf_other_builtins(ctx, root, c);
	}
	if ((c->c_sv = service_load(c->c_service, c->c_module_dir, err,
	    sizeof(err), &missing)) == NULL) {
		if (missing)
			return conf_error(ctx, s, "service \"%s\" is unknown "
			    "(known: %s): %s", c->c_service, service_names(),
			    err);
		return conf_error(ctx, s, "service \"%s\": %s", c->c_service,
		    err);
	}
	c->c_client_first = service_client_first(c->c_sv);
	if (conf_service_group(ctx, root, c->c_sv) == -1)
		return -1;
	return conf_other_builtins(ctx, root, c);
}

/* The core's keys, and the groups of services: the chosen one's and
 * the built-in ones'. */
static int
conf_root_known(struct conf_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t	*sv = conf_member(root, "service");
	const char		*chosen = NULL;

	if (sv != NULL && config_setting_type(sv) == CONFIG_TYPE_STRING)
		chosen = config_setting_get_string(sv);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t	*s = config_setting_get_elem(root, i);
		const char		*name = config_setting_name(s);
		size_t			 k;

		for (k = 0; conf_root_keys[k] != NULL; k++)
			if (strcmp(conf_root_keys[k], name) == 0)
				break;
		if (conf_root_keys[k] == NULL && service_builtin(name) == NULL &&
		    (chosen == NULL || strcmp(chosen, name) != 0))
			return conf_error(ctx, s, "unknown key \"%s\"", name);
	}
	return 0;
}

static int
conf_root(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	if (conf_root_known(ctx, root) == -1 ||
	    conf_listen(ctx, root, c) == -1 ||
	    conf_pool(ctx, root, c) == -1 ||
	    conf_limits(ctx, root, c) == -1 ||
	    conf_control(ctx, root, c) == -1 ||
	    conf_access(ctx, root, c) == -1 ||
	    conf_agent(ctx, root, c) == -1 ||
	    conf_metrics(ctx, root, c) == -1 ||
	    conf_service(ctx, root, c) == -1 ||
	    conf_timeouts(ctx, root, c) == -1 ||
	    conf_log(ctx, root, c) == -1 ||
	    conf_identity(ctx, root, c) == -1 ||
	    conf_string(ctx, root, "pid_file", "pid_file", PATH_MAX,
	    &c->c_pid_file) == -1)
		return -1;
	if (c->c_pid_file != NULL && c->c_pid_file[0] != '/')
		return conf_error(ctx, conf_member(root, "pid_file"),
		    "pid_file must be an absolute path");
	return 0;
}

static struct config *
conf_defaults(const char *file)
{
	struct config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_file = strdup(file);
	c->c_listen[0].cl_address = strdup("127.0.0.1");
	c->c_listen_where[0] = strdup(file);
	c->c_listen[0].cl_port = 9001;
	c->c_listen[0].cl_backlog = 128;
	c->c_nlisten = 1;
	/* The shipped defence: a dynamic pool, a per-source limit, a bound
	 * on every connection, and hung workers replaced. */
	c->c_pool_dynamic = true;
	c->c_workers = c->c_pool_min = 4;
	c->c_pool_max = 64;
	c->c_idle_min = 2;
	c->c_idle_max = 8;
	c->c_per_source = 8;
	c->c_source_bits4 = 32;
	c->c_source_bits6 = 64;
	c->c_timeout_connection = 30.0;
	c->c_timeout_hung = 60.0;
	c->c_service = strdup("greeting");
	c->c_module_dir = strdup(PREFORKD_MODULE_DIR);
	c->c_timeout_read = 5.0;
	c->c_timeout_write = 5.0;
	c->c_timeout_shutdown = 10.0;
	c->c_log_facility = LOG_DAEMON;
	c->c_log_level = LOG_INFO;
	if (c->c_file == NULL || c->c_listen[0].cl_address == NULL ||
	    c->c_listen_where[0] == NULL ||
	    c->c_service == NULL || c->c_module_dir == NULL) {
		config_free(c);
		return NULL;
	}
	return c;
}

/* The merged text, parsed and validated; it is kept in c_text. */
static struct config *
conf_parse(struct conf_ctx *ctx, const char *text)
{
	struct config	*c = NULL;
	char		 where[PATH_MAX + 16];
	config_t	 cf;

	config_init(&cf);
	/* conffile expanded every @include.  Should libconfig still see
	 * one, it opens it under /dev/null, which no path goes through:
	 * an error, never the file system. */
	config_set_include_dir(&cf, "/dev/null");
	if (config_read_string(&cf, text) != CONFIG_TRUE) {
		snprintf(ctx->err, ctx->errsize, "%s: %s", conf_where_line(ctx,
		    (unsigned)config_error_line(&cf), where, sizeof(where)),
		    config_error_text(&cf));
		goto fail;
	}
	if ((c = conf_defaults(ctx->file)) == NULL ||
	    (c->c_text = strdup(text)) == NULL) {
		conf_error(ctx, NULL, "out of memory");
		goto fail;
	}
	if (conf_root(ctx, config_root_setting(&cf), c) == -1)
		goto fail;
	config_destroy(&cf);
	return c;
fail:
	config_destroy(&cf);
	config_free(c);
	return NULL;
}

struct config *
config_load(const char *file, char *err, size_t errsize)
{
	return config_load_flags(file, 0, err, errsize);
}

struct config *
config_load_flags(const char *file, int flags, char *err, size_t errsize)
{
	struct conf_ctx	 ctx = { file, NULL, err, errsize, flags, NULL };
	struct config	*c;

	if ((ctx.text = conffile_read(file, err, errsize)) == NULL)
		return NULL;
	c = conf_parse(&ctx, conffile_text(ctx.text));
	conffile_free(ctx.text);
	return c;
}

struct config *
config_load_text(const char *file, const char *text, int flags,
    const struct config_facts *facts, char *err, size_t errsize)
{
	struct conf_ctx	 ctx = { file, NULL, err, errsize, flags, facts };

	return conf_parse(&ctx, text);
}

void
config_get_facts(const struct config *c, struct config_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->cf_uid = c->c_uid;
	f->cf_gid = c->c_gid;
	f->cf_client_first = c->c_client_first;
}

/* The module named by c, loaded and configured from c's text. */
static struct service *
conf_module(const struct config *c, char *err, size_t errsize)
{
	struct conf_ctx		 ctx = { c->c_file, NULL, err, errsize, 0,
	    NULL };
	const config_setting_t	*root;
	struct service		*sv = NULL;
	char			 why[PATH_MAX + 256];
	bool			 missing;
	config_t		 cf;

	config_init(&cf);
	config_set_include_dir(&cf, "/dev/null");
	if (config_read_string(&cf, c->c_text) != CONFIG_TRUE) {
		snprintf(err, errsize, "%s: %s", c->c_file,
		    config_error_text(&cf));
		goto done;
	}
	root = config_root_setting(&cf);
	if ((sv = service_load(c->c_service, c->c_module_dir, why,
	    sizeof(why), &missing)) == NULL)
		conf_error(&ctx, conf_member(root, "service"), "service "
		    "\"%s\": %s", c->c_service, why);
	else if (conf_service_group(&ctx, root, sv) == -1) {
		service_free(sv);
		sv = NULL;
	}
done:
	config_destroy(&cf);
	return sv;
}

struct service *
config_service(const struct config *c, char *err, size_t errsize)
{
	if (c->c_sv != NULL)
		return c->c_sv;
	return conf_module(c, err, errsize);
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CONFIG_MAX_LISTEN; i++) {
		free(c->c_listen[i].cl_address);
		free(c->c_listen_where[i]);
	}
	free(c->c_file);
	free(c->c_service);
	free(c->c_module_dir);
	service_free(c->c_sv);
	free(c->c_user);
	free(c->c_group);
	free(c->c_pid_file);
	free(c->c_control);
	free(c->c_agent_address);
	free(c->c_agent_where);
	free(c->c_metrics_address);
	free(c->c_metrics_where);
	free(c->c_text);
	free(c);
}

bool
config_same_listen(const struct config_listen *a,
    const struct config_listen *b)
{
	return a->cl_port == b->cl_port &&
	    strcmp(a->cl_address, b->cl_address) == 0;
}
