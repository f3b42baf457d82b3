/* SPDX-License-Identifier: ISC */
/*
 * confkeys.h - the configuration's keys and groups other than the sockets
 * (conflisten.h) and the service (config.c), read into struct config:
 * each left at its default when absent, checked against its range and
 * the keys it depends on.
 */
#ifndef PREFORKD_CONFKEYS_H
#define PREFORKD_CONFKEYS_H

#include <libconfig.h>

struct conf_ctx;
struct config;

/* Each 0, or -1 with the error in ctx. */
/* timeouts = { read; write; shutdown; connection; hung; drain; } */
int	confkeys_timeouts(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
/* workers = N (a fixed pool) or pool = { min; max; idle_min; idle_max; } */
int	confkeys_pool(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
/* limits = { per_source; source_prefix4; source_prefix6; } and
 * max_connections */
int	confkeys_limits(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
/* control = "/path": the control socket */
int	confkeys_control(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
/* access = [ "allow CIDR", "deny all", ... ] */
int	confkeys_access(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
/* log = { facility; level; } */
int	confkeys_log(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
/* user and group, looked up unless ctx says CONFIG_NO_NSS */
int	confkeys_identity(struct conf_ctx *, const config_setting_t *root,
	    struct config *);

#endif
