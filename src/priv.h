/* SPDX-License-Identifier: ISC */
/*
 * priv.h - dropping root in a worker.
 */
#ifndef PREFORKD_PRIV_H
#define PREFORKD_PRIV_H

struct config;

/* Become cfg's user and group with no supplementary groups: 0 or -1. */
int	priv_drop(const struct config *cfg);

#endif
