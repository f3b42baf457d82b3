/* SPDX-License-Identifier: ISC */
/*
 * priv.c - the master keeps root to bind and to re-bind on reload; each
 * worker gives it up, for good, before it serves anyone.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "priv.h"

int
priv_drop(const struct config *cfg)
{
	if (cfg->c_user == NULL || geteuid() != 0)
		return 0;
	if (!cfg->c_ids_known) {
		log_warnx("user \"%s\": its ids are not known here; not "
		    "serving as root instead", cfg->c_user);
		return -1;
	}
	if (setgroups(0, NULL) == -1) {
		log_warn("setgroups");
		return -1;
	}
	if (setresgid(cfg->c_gid, cfg->c_gid, cfg->c_gid) == -1) {
		log_warn("setresgid(%lu)", (unsigned long)cfg->c_gid);
		return -1;
	}
	if (setresuid(cfg->c_uid, cfg->c_uid, cfg->c_uid) == -1) {
		log_warn("setresuid(%lu)", (unsigned long)cfg->c_uid);
		return -1;
	}
	/* Paranoia, as in OpenBSD's daemons: the way back must be shut. */
	if (cfg->c_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_warnx("regained root after dropping privileges");
		return -1;
	}
	return 0;
}
