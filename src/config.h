/* SPDX-License-Identifier: ISC */
/*
 * config.h - the configuration file, parsed and validated once into an
 * immutable structure.  A reload builds a new one; nothing is changed in
 * place.
 */
#ifndef PREFORKD_CONFIG_H
#define PREFORKD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <preforkd/service.h>

#include "access.h"
#include "proxy.h"
#include "tls.h"

struct service;

#define CONFIG_MAX_LISTEN	16
#define CONFIG_MAX_WORKERS	1024
/* timeouts.hung exceeds timeouts.connection by at least this (s). */
#define CONFIG_HUNG_SLACK	3
/* Trusted PROXY senders per listener. */
#define CONFIG_MAX_PROXY_FROM	16
/* Rules in access: a list longer than this wants a firewall. */
#define CONFIG_MAX_ACCESS	256
/* sizeof(sun_path) */
#define CONFIG_MAX_CONTROL_PATH	108
/* Networks in metrics.allow. */
#define CONFIG_MAX_METRICS_ALLOW	64

struct config_listen {
	char		*cl_address;	/* numeric IPv4 or IPv6 literal */
	uint16_t	 cl_port;	/* 0: any free port */
	int		 cl_backlog;
	/* A balancer in front says who the client is: a PROXY header,
	 * taken only from these senders. */
	enum proxy_mode	 cl_proxy;
	struct addr_net	 cl_proxy_from[CONFIG_MAX_PROXY_FROM];
	size_t		 cl_nproxy_from;
};

struct config {
	char			*c_file;
	char			*c_text;	/* as parsed, includes merged */
	struct config_listen	 c_listen[CONFIG_MAX_LISTEN];
	/* Each listener's TLS; NULL: clear text. */
	struct tls_config	*c_tls[CONFIG_MAX_LISTEN];
	/* The generation's ticket secret (tls.h), drawn by each load that
	 * has a TLS listener with tickets; c_tls_secret_ok false: none. */
	uint8_t			 c_tls_secret[TLS_SECRET_LEN];
	bool			 c_tls_secret_ok;
	/* Where each listener is written, "FILE:LINE", for -t. */
	char			*c_listen_where[CONFIG_MAX_LISTEN];
	size_t			 c_nlisten;
	/* The pool: c_workers for a fixed one (c_pool_dynamic false, and
	 * min = max = workers), or grown and shrunk within the bounds. */
	bool			 c_pool_dynamic;
	unsigned		 c_workers;	/* start with */
	unsigned		 c_pool_min;
	unsigned		 c_pool_max;
	unsigned		 c_idle_min;
	unsigned		 c_idle_max;
	unsigned		 c_per_source;	/* connections; 0: no limit */
	unsigned		 c_source_bits4;	/* what one source is */
	unsigned		 c_source_bits6;
	unsigned long		 c_max_connections; /* per worker; 0: no */
	char			*c_service;	/* its name */
	char			*c_module_dir;	/* where NAME.so is looked for */
	struct service		*c_sv;		/* loaded and configured */
	bool			 c_client_first;	/* TCP_DEFER_ACCEPT */
	double			 c_timeout_read;
	double			 c_timeout_write;
	double			 c_timeout_shutdown;
	double			 c_timeout_connection;	/* whole connection */
	double			 c_timeout_hung;	/* 0: never */
	double			 c_timeout_drain;	/* before a stop */
	/* allow/deny, first match wins; none: everyone. */
	struct access_rule	 c_access[CONFIG_MAX_ACCESS];
	size_t			 c_naccess;
	char			*c_agent_address;	/* NULL: no agent */
	uint16_t		 c_agent_port;
	char			*c_agent_where;		/* "FILE:LINE" */
	/* The HTTP metrics endpoint and who may scrape it (loopback
	 * unless the file says). */
	char			*c_metrics_address;	/* NULL: none */
	uint16_t		 c_metrics_port;	/* 0: any free one */
	char			*c_metrics_where;	/* "FILE:LINE" */
	struct addr_net		 c_metrics_allow[CONFIG_MAX_METRICS_ALLOW];
	size_t			 c_nmetrics_allow;
	int			 c_log_facility;
	int			 c_log_level;
	/* Log connections whose client left without sending a byte (else
	 * they are only counted). */
	bool			 c_log_empty;
	char			*c_user;	/* NULL: keep the starting user */
	char			*c_group;
	uid_t			 c_uid;
	gid_t			 c_gid;
	/* c_uid and c_gid were looked up (here or by the check child):
	 * never serve as root for a user whose ids are not known. */
	bool			 c_ids_known;
	char			*c_pid_file;	/* NULL: no pid file */
	char			*c_control;	/* NULL: no control socket */
};

/*
 * What the master must not find out by itself (see confcheck.h): the
 * accounts' ids (NSS may wait on a directory server) and what a module
 * says of itself (only a checker child and the workers load one).
 */
struct config_facts {
	uid_t		 cf_uid;
	gid_t		 cf_gid;
	bool		 cf_client_first;
};

/* A service module is named and checked for a valid name, not loaded:
 * c_sv stays NULL until config_service() in a worker. */
#define CONFIG_NO_MODULES	0x1
/* user and group are not looked up: the ids are the facts' (or 0). */
#define CONFIG_NO_NSS		0x2
/* TLS files are not read: their texts are the material's (below). */
#define CONFIG_NO_FILES		0x4

/*
 * The TLS material: the PEM texts of every TLS listener, in the order of
 * the listeners, each NUL-terminated: certificate, key, client CAs ("" for
 * none).  What a full load read, for a load from text to take.
 */
struct config_material {
	const char	*cm_bytes;
	size_t		 cm_len;
};

/*
 * Parse and validate file and the files it includes (see conffile.h).
 * On failure return NULL and put one line, "FILE:LINE: message" (or
 * "FILE: message"), in err; FILE is the file that holds the line.
 */
struct config	*config_load(const char *file, char *err, size_t errsize);
/* The same with CONFIG_NO_... flags. */
struct config	*config_load_flags(const char *file, int flags, char *err,
		    size_t errsize);
/*
 * The same from text that config_load() read before (c_text), as file
 * said it then: what an upgraded binary needs to go on with the
 * configuration the running workers were started with.  Errors name
 * FILE only: the lines of its includes are not known any more.
 */
struct config	*config_load_text(const char *file, const char *text,
		    int flags, const struct config_facts *,
		    const struct config_material *, char *err, size_t errsize);
/* The TLS material of c (see above), malloc(3)ed, in *out; -1: ENOMEM. */
int		 config_get_material(const struct config *, char **out,
		    size_t *len);
void		 config_free(struct config *);
/* What a full load learnt: for the master, from a checker child. */
void		 config_get_facts(const struct config *,
		    struct config_facts *);
/*
 * The service to serve with: the built-in one, or (in a worker) the
 * module, loaded and configured with its group of c_text now.  NULL with
 * the reason in err.
 */
struct service	*config_service(const struct config *, char *err,
		    size_t errsize);

bool		 config_same_listen(const struct config_listen *,
		    const struct config_listen *);

#endif
