/* SPDX-License-Identifier: ISC */
/*
 * confkeys.c - the daemon's other keys and groups, each with its default
 * (config.c), range and cross-checks: the pool (workers, pool), limits and
 * max_connections, timeouts, control, access, log, user and group.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <syslog.h>

#include "access.h"
#include "config.h"
#include "confkeys.h"
#include "confread.h"

static const struct conf_name confkeys_facilities[] = {
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

static const struct conf_name confkeys_levels[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
	{ NULL, 0 }
};

static const char *const confkeys_pool_keys[] = { "min", "max",
	"idle_min", "idle_max", NULL };
static const char *const confkeys_limits_keys[] = { "per_source",
	"source_prefix4", "source_prefix6", NULL };
static const char *const confkeys_timeout_keys[] = { "read", "write",
	"shutdown", "connection", "hung", "drain", NULL };
static const char *const confkeys_log_keys[] = { "facility", "level",
	"empty", NULL };

int
confkeys_timeouts(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;

	if (conf_group(ctx, root, "timeouts", confkeys_timeout_keys,
	    &g) == -1 ||
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
int
confkeys_pool(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g, *w = conf_member(root, "workers");
	long long		 v[4] = { c->c_pool_min, c->c_pool_max,
	    c->c_idle_min, c->c_idle_max };
	long long		 workers = c->c_workers;

	if (conf_int(ctx, root, "workers", "workers", 1, CONFIG_MAX_WORKERS,
	    &workers) == -1 ||
	    conf_group(ctx, root, "pool", confkeys_pool_keys, &g) == -1)
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

int
confkeys_limits(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;
	long long		 v[3] = { c->c_per_source, c->c_source_bits4,
	    c->c_source_bits6 };
	long long		 maxconn = (long long)c->c_max_connections;

	if (conf_group(ctx, root, "limits", confkeys_limits_keys, &g) == -1 ||
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
int
confkeys_control(struct conf_ctx *ctx, const config_setting_t *root,
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
int
confkeys_access(struct conf_ctx *ctx, const config_setting_t *root,
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

int
confkeys_log(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*g;

	if (conf_group(ctx, root, "log", confkeys_log_keys, &g) == -1 ||
	    conf_name_lookup(ctx, g, "log.facility", "facility",
	    confkeys_facilities, &c->c_log_facility) == -1 ||
	    conf_name_lookup(ctx, g, "log.level", "level", confkeys_levels,
	    &c->c_log_level) == -1 ||
	    conf_bool(ctx, g, "log.empty", "empty", &c->c_log_empty) == -1)
		return -1;
	return 0;
}

/* Resolve user and group now, so that -t reports a missing account. */
int
confkeys_identity(struct conf_ctx *ctx, const config_setting_t *root,
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
