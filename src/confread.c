/* SPDX-License-Identifier: ISC */
/*
 * confread.c - typed values from libconfig settings, errors with their
 * FILE:LINE (see confread.h), and the same for a service module's group.
 */
#include "autoconf.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <preforkd/service.h>

#include "conffile.h"
#include "confread.h"

/* "FILE:LINE" of line textline of the merged text, or "FILE". */
const char *
conf_where_line(const struct conf_ctx *ctx, unsigned textline, char *buf,
    size_t size)
{
	const char	*file = ctx->file;
	unsigned	 line = 0;

	if (ctx->text != NULL)
		file = conffile_where(ctx->text, textline, &line);
	if (line > 0)
		snprintf(buf, size, "%s:%u", file, line);
	else
		snprintf(buf, size, "%s", file);
	return buf;
}

/* Where the operator wrote s: the file and line it came from. */
const char *
conf_where(const struct conf_ctx *ctx, const config_setting_t *s, char *buf,
    size_t size)
{
	return conf_where_line(ctx, s != NULL ? config_setting_source_line(s) :
	    0, buf, size);
}

int
conf_verror(struct conf_ctx *ctx, const config_setting_t *s,
    const char *fmt, va_list ap)
{
	char		 where[PATH_MAX + 16];
	int		 n;

	n = snprintf(ctx->err, ctx->errsize, "%s: ", conf_where(ctx, s, where,
	    sizeof(where)));
	if (n < 0 || (size_t)n >= ctx->errsize)
		return -1;
	vsnprintf(ctx->err + n, ctx->errsize - n, fmt, ap);
	return -1;
}

int
conf_error(struct conf_ctx *ctx, const config_setting_t *s,
    const char *fmt, ...)
{
	va_list		 ap;

	va_start(ap, fmt);
	conf_verror(ctx, s, fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_known_keys(struct conf_ctx *ctx, const config_setting_t *group,
    const char *prefix, const char *const *keys)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t	*s = config_setting_get_elem(group, i);
		const char		*name = config_setting_name(s);
		size_t			 k;

		for (k = 0; keys[k] != NULL; k++)
			if (strcmp(keys[k], name) == 0)
				break;
		if (keys[k] == NULL)
			return conf_error(ctx, s, "unknown key \"%s%s\"",
			    prefix, name);
	}
	return 0;
}

/* Look up an optional scalar member; NULL if absent. */
const config_setting_t *
conf_member(const config_setting_t *group, const char *name)
{
	return group == NULL ? NULL :
	    config_setting_get_member((config_setting_t *)group, name);
}

int
conf_int(struct conf_ctx *ctx, const config_setting_t *group,
    const char *path, const char *name, long long min, long long max,
    long long *out)
{
	const config_setting_t	*s = conf_member(group, name);
	long long		 v;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return conf_error(ctx, s, "%s must be an integer", path);
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return conf_error(ctx, s, "%s = %lld is out of range "
		    "(%lld..%lld)", path, v, min, max);
	*out = v;
	return 0;
}

int
conf_seconds(struct conf_ctx *ctx, const config_setting_t *group,
    const char *path, const char *name, double min, double max,
    double *out)
{
	const config_setting_t	*s = conf_member(group, name);
	double			 v;

	if (s == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	default:
		return conf_error(ctx, s, "%s must be a number of seconds",
		    path);
	}
	if (!isfinite(v) || v < min || v > max)
		return conf_error(ctx, s, "%s = %g is out of range "
		    "(%g..%g seconds)", path, v, min, max);
	*out = v;
	return 0;
}

int
conf_string(struct conf_ctx *ctx, const config_setting_t *group,
    const char *path, const char *name, size_t maxlen, char **out)
{
	const config_setting_t	*s = conf_member(group, name);
	const char		*v;
	char			*copy;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_error(ctx, s, "%s must be a string", path);
	v = config_setting_get_string(s);
	if (strlen(v) > maxlen)
		return conf_error(ctx, s, "%s is longer than %zu bytes",
		    path, maxlen);
	if ((copy = strdup(v)) == NULL)
		return conf_error(ctx, s, "strdup: %s", strerror(errno));
	free(*out);
	*out = copy;
	return 0;
}

int
conf_bool(struct conf_ctx *ctx, const config_setting_t *group,
    const char *path, const char *name, bool *out)
{
	const config_setting_t	*s = conf_member(group, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_error(ctx, s, "%s must be true or false", path);
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

int
conf_group(struct conf_ctx *ctx, const config_setting_t *root,
    const char *name, const char *const *keys,
    const config_setting_t **out)
{
	const config_setting_t	*g = conf_member(root, name);
	char			 prefix[64];

	*out = NULL;
	if (g == NULL)
		return 0;
	if (!config_setting_is_group(g))
		return conf_error(ctx, g, "%s must be a group { ... }", name);
	snprintf(prefix, sizeof(prefix), "%s.", name);
	if (conf_known_keys(ctx, g, prefix, keys) == -1)
		return -1;
	*out = g;
	return 0;
}

int
conf_name_lookup(struct conf_ctx *ctx, const config_setting_t *group,
    const char *path, const char *name, const struct conf_name *table,
    int *out)
{
	char	*v = NULL;

	if (conf_string(ctx, group, path, name, 32, &v) == -1)
		return -1;
	if (v == NULL)
		return 0;
	for (; table->name != NULL; table++)
		if (strcasecmp(table->name, v) == 0) {
			*out = table->value;
			free(v);
			return 0;
		}
	free(v);
	return conf_error(ctx, conf_member(group, name),
	    "%s: unknown name \"%s\"", path, config_setting_get_string(
	    conf_member(group, name)));
}

/* "NAME.key", for messages. */
static const char *
conf_api_path(const struct preforkd_conf *pc, const char *key, char *buf,
    size_t size)
{
	snprintf(buf, size, "%s.%s", pc->pc_name, key);
	return buf;
}

static int
conf_api_failed(struct preforkd_conf *pc, int rc)
{
	if (rc == -1)
		pc->pc_failed = true;
	return rc;
}

const char *
config_api_name(const struct preforkd_conf *pc)
{
	return pc->pc_name;
}

bool
config_api_present(const struct preforkd_conf *pc)
{
	return pc->pc_group != NULL;
}

int
config_api_keys(struct preforkd_conf *pc, const char *const *keys)
{
	char	 prefix[PREFORKD_NAME_MAX + 2];

	if (pc->pc_group == NULL)
		return 0;
	snprintf(prefix, sizeof(prefix), "%s.", pc->pc_name);
	return conf_api_failed(pc, conf_known_keys(pc->pc_ctx, pc->pc_group,
	    prefix, keys));
}

int
config_api_int(struct preforkd_conf *pc, const char *key, long long min,
    long long max, long long *out)
{
	char	 path[128];

	return conf_api_failed(pc, conf_int(pc->pc_ctx, pc->pc_group,
	    conf_api_path(pc, key, path, sizeof(path)), key, min, max, out));
}

int
config_api_seconds(struct preforkd_conf *pc, const char *key, double min,
    double max, double *out)
{
	char	 path[128];

	return conf_api_failed(pc, conf_seconds(pc->pc_ctx, pc->pc_group,
	    conf_api_path(pc, key, path, sizeof(path)), key, min, max, out));
}

int
config_api_string(struct preforkd_conf *pc, const char *key, size_t maxlen,
    char **out)
{
	char	 path[128];

	return conf_api_failed(pc, conf_string(pc->pc_ctx, pc->pc_group,
	    conf_api_path(pc, key, path, sizeof(path)), key, maxlen, out));
}

int
config_api_bool(struct preforkd_conf *pc, const char *key, bool *out)
{
	char	 path[128];

	return conf_api_failed(pc, conf_bool(pc->pc_ctx, pc->pc_group,
	    conf_api_path(pc, key, path, sizeof(path)), key, out));
}

int
config_api_error(struct preforkd_conf *pc, const char *key,
    const char *fmt, ...)
{
	const config_setting_t	*s = NULL;
	va_list			 ap;

	if (key != NULL)
		s = conf_member(pc->pc_group, key);
	if (s == NULL)
		s = pc->pc_group != NULL ? pc->pc_group : pc->pc_service;
	va_start(ap, fmt);
	conf_verror(pc->pc_ctx, s, fmt, ap);
	va_end(ap);
	pc->pc_failed = true;
	return -1;
}
