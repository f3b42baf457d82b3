/* SPDX-License-Identifier: ISC */
/*
 * conflisten.h - the sockets the configuration asks for, read into struct
 * config: listen (one group or a list of them), agent and metrics.  Every
 * address must be numeric, is made canonical ("0::1" is "::1", so that a
 * reload keeps the socket), and must be one an IPv6-only socket can bind;
 * listeners that can never all be bound, and an agent or metrics port that
 * one of them (or the other) takes, are errors at the line that says so.
 */
#ifndef PREFORKD_CONFLISTEN_H
#define PREFORKD_CONFLISTEN_H

#include <libconfig.h>

struct conf_ctx;
struct config;

/* Each 0, or -1 with the error in ctx.  In this order: the agent is
 * checked against the listeners, the metrics against both. */
int	conflisten_listeners(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
int	conflisten_agent(struct conf_ctx *, const config_setting_t *root,
	    struct config *);
int	conflisten_metrics(struct conf_ctx *, const config_setting_t *root,
	    struct config *);

#endif
