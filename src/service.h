/* SPDX-License-Identifier: ISC */
/*
 * service.h - the services a worker can run: built in, or loaded from a
 * module (NAME.so in module_dir), both through <preforkd/service.h>.
 *
 * A configuration holds one struct service: the descriptor, the module
 * it came from, and the configuration its hook built.  Loading and
 * configuring happen as the file is read in the checker child
 * (confcheck.h), so a module that is missing, unsafe, of another ABI or
 * refusing its group is an error of the file, at -t, at start and at
 * reload alike; then in each worker (config_service()), never in the
 * master.
 */
#ifndef PREFORKD_SERVICE_H
#define PREFORKD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <preforkd/service.h>

struct config;
struct conn;

struct service {
	const struct preforkd_service	*sv_desc;
	void				*sv_dl;	/* NULL: built in */
	void				*sv_config;	/* ps_configure's */
	/* The module file, open while it is loaded (see service.c); -1. */
	int				 sv_fd;
	/* The module file as loaded: a changed file is never mistaken
	 * for the code already mapped (see service_load()). */
	dev_t				 sv_dev;
	ino_t				 sv_ino;
	struct timespec			 sv_mtime;
	off_t				 sv_size;
	struct service			*sv_next;	/* loaded, this process */
};

extern const struct preforkd_service service_greeting;
extern const struct preforkd_service service_echo;
/* The table handed to every hook. */
extern const struct preforkd_api service_api;

/* A built-in service, or NULL. */
const struct preforkd_service	*service_builtin(const char *name);
/* The i-th built-in service, or NULL past the last. */
const struct preforkd_service	*service_builtin_at(size_t i);
/* "greeting, echo": for error messages. */
const char		*service_names(void);
/* Letters, digits, '_' and '-': never a path. */
bool			 service_name_ok(const char *name);

/*
 * Find NAME, built in or dir/NAME.so, for the configuration being read:
 * a pointer to it, or NULL with the reason in err.  *missing is set when
 * there is no such service at all.
 */
struct service	*service_load(const char *name, const char *dir, char *err,
		    size_t errsize, bool *missing);
/* Configure it (ps_configure) with its group; -1: the error is in conf. */
int		 service_configure(struct service *, struct preforkd_conf *);
void		 service_free(struct service *);
bool		 service_client_first(const struct service *);

/* In a worker: once before serving, each connection (with the read and
 * write timeouts, in seconds, that the API's deadlines use, and whether
 * the service's info and debug lines about a connection whose client
 * left without a byte are written: log.empty), once at the end. */
int		 service_init(const struct service *);
void		 service_serve(const struct service *, struct conn *,
		    double read_timeout, double write_timeout, bool log_empty);
void		 service_fini(const struct service *);

#endif
