/* SPDX-License-Identifier: ISC */
/*
 * conftls.h - listen.tls, a listener's TLS: read, its files loaded, and
 * checked by building the context a worker will build (tls.h).
 *
 * A full load (the check child's, -t's) reads the certificate, key and
 * client CA files, at most CONFTLS_FILE_MAX bytes each, and keeps their
 * bytes; the check answers them to the master with the text, and the
 * master's load from text takes them from there (CONFIG_NO_FILES): the
 * master opens no file, and what was checked is what is served.  A path
 * "credential:NAME" is NAME in $CREDENTIALS_DIRECTORY, where systemd's
 * LoadCredential= puts a key that only the service may read.
 */
#ifndef PREFORKD_CONFTLS_H
#define PREFORKD_CONFTLS_H

#include <libconfig.h>
#include <stddef.h>

struct conf_ctx;
struct config;
struct tls_config;

/* A certificate chain, key or CA bundle: 128 KiB is hundreds of
 * certificates. */
#define CONFTLS_FILE_MAX	(128 * 1024)
/* A ticket key lives this long by default, and at least/most (s). */
#define CONFTLS_TICKET_LIFETIME	3600.0
#define CONFTLS_TICKET_MIN	60.0
#define CONFTLS_TICKET_MAX	86400.0

/* listen[i].tls, the group g (NULL: none); 0, or -1 with the error. */
int	conftls_listen(struct conf_ctx *, const config_setting_t *g,
	    struct config *, size_t i);
/* The ticket secret, once every listener is read. */
int	conftls_secret(struct conf_ctx *, struct config *);
void	conftls_free(struct tls_config *);

#endif
