/* SPDX-License-Identifier: ISC */
/*
 * confread.h - reading libconfig settings into typed values, every error
 * "FILE:LINE: message" with FILE the file that holds the line: the
 * machinery behind the keys config.c, conflisten.c and confkeys.c know
 * and the groups that service modules read through their api (the
 * config_api_ functions).
 */
#ifndef PREFORKD_CONFREAD_H
#define PREFORKD_CONFREAD_H

#include <libconfig.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct conffile;

/* One load: the file, its merged text (NULL: lines unknown), where the
 * first error goes. */
struct config_facts;

struct conf_ctx {
	const char		*file;
	struct conffile		*text;
	char			*err;
	size_t			 errsize;
	int			 flags;		/* CONFIG_NO_... */
	const struct config_facts *facts;	/* or NULL */
	/* CONFIG_NO_FILES: the TLS material, and how much of it the
	 * listeners so far have taken. */
	const struct config_material *material;
	size_t			 material_off;
};

struct conf_name {
	const char	*name;
	int		 value;
};

/* "FILE:LINE" of line textline of the merged text, or "FILE". */
const char *conf_where_line(const struct conf_ctx *, unsigned textline,
	    char *, size_t);
/* Where the operator wrote s. */
const char *conf_where(const struct conf_ctx *, const config_setting_t *s,
	    char *, size_t);
/* The error, at s's line (a later one replaces it); -1. */
int	conf_verror(struct conf_ctx *, const config_setting_t *s,
	    const char *fmt, va_list) __attribute__((format(printf, 3, 0)));
int	conf_error(struct conf_ctx *, const config_setting_t *s,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Every member of group is one of keys: "unknown key PREFIXname". */
int	conf_known_keys(struct conf_ctx *, const config_setting_t *group,
	    const char *prefix, const char *const *keys);
/* An optional member; NULL if absent (or group is NULL). */
const config_setting_t *conf_member(const config_setting_t *group,
	    const char *name);
/* Typed members, left as they are when absent; path names them in
 * errors ("timeouts.read"). */
int	conf_int(struct conf_ctx *, const config_setting_t *group,
	    const char *path, const char *name, long long min, long long max,
	    long long *out);
int	conf_seconds(struct conf_ctx *, const config_setting_t *group,
	    const char *path, const char *name, double min, double max,
	    double *out);
int	conf_string(struct conf_ctx *, const config_setting_t *group,
	    const char *path, const char *name, size_t maxlen, char **out);
int	conf_bool(struct conf_ctx *, const config_setting_t *group,
	    const char *path, const char *name, bool *out);
/* A group name = { ... } of keys, or NULL in *out when absent. */
int	conf_group(struct conf_ctx *, const config_setting_t *root,
	    const char *name, const char *const *keys,
	    const config_setting_t **out);
/* A string that must be one of table's names (case aside). */
int	conf_name_lookup(struct conf_ctx *, const config_setting_t *group,
	    const char *path, const char *name, const struct conf_name *table,
	    int *out);

/* A service's group, as its module reads it (see config.h). */
struct preforkd_conf {
	struct conf_ctx		*pc_ctx;
	const config_setting_t	*pc_group;	/* NULL: not in the file */
	const config_setting_t	*pc_service;	/* the service line, or NULL */
	const char		*pc_name;
	bool			 pc_failed;
};

/*
 * The configuration functions of <preforkd/service.h>: a service reads
 * its group NAME = { ... } through these, with the core's FILE:LINE
 * errors.  Valid only inside config_load().
 */
const char	*config_api_name(const struct preforkd_conf *);
bool		 config_api_present(const struct preforkd_conf *);
int		 config_api_keys(struct preforkd_conf *, const char *const *);
int		 config_api_int(struct preforkd_conf *, const char *,
		    long long, long long, long long *);
int		 config_api_seconds(struct preforkd_conf *, const char *,
		    double, double, double *);
int		 config_api_string(struct preforkd_conf *, const char *, size_t,
		    char **);
int		 config_api_bool(struct preforkd_conf *, const char *, bool *);
int		 config_api_error(struct preforkd_conf *, const char *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

#endif
