/* SPDX-License-Identifier: ISC */
/*
 * conftls.c - listen.tls (see conftls.h).
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "confread.h"
#include "conftls.h"
#include "log.h"
#include "tls.h"

static const char *const conftls_keys[] = { "certificate", "key",
	"client_ca", "verify", "min_version", "ciphers", "ciphersuites",
	"tickets", "ticket_lifetime", NULL };

static const struct conf_name conftls_verify_names[] = {
	{ "none", TLS_VERIFY_NONE },
	{ "optional", TLS_VERIFY_OPTIONAL },
	{ "require", TLS_VERIFY_REQUIRE },
	{ NULL, 0 },
};

static const struct conf_name conftls_version_names[] = {
	{ "1.2", 12 },
	{ "1.3", 13 },
	{ NULL, 0 },
};

void
conftls_free(struct tls_config *ct)
{
	if (ct == NULL)
		return;
	free(ct->tc_certificate);
	free(ct->tc_key);
	free(ct->tc_client_ca);
	/* The key's bytes do not linger in freed memory. */
	if (ct->tc_key_pem != NULL)
		explicit_bzero(ct->tc_key_pem, strlen(ct->tc_key_pem));
	free(ct->tc_cert_pem);
	free(ct->tc_key_pem);
	free(ct->tc_ca_pem);
	free(ct->tc_ciphers);
	free(ct->tc_ciphersuites);
	free(ct->tc_where);
	free(ct);
}

/* "credential:NAME": NAME in the directory systemd's LoadCredential=
 * fills; else the path itself.  NULL with *why when it cannot be. */
static char *
conftls_path(const char *path, const char **why)
{
	const char	*dir, *name;
	char		*out;

	if (strncmp(path, "credential:", 11) != 0)
		return strdup(path);
	name = path + 11;
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		*why = "a credential's NAME is a file name: no '/'";
		return NULL;
	}
	if ((dir = getenv("CREDENTIALS_DIRECTORY")) == NULL || dir[0] == '\0') {
		*why = "CREDENTIALS_DIRECTORY is not set (LoadCredential= in "
		    "the unit provides it)";
		return NULL;
	}
	if (asprintf(&out, "%s/%s", dir, name) == -1)
		return NULL;
	return out;
}

/* A buffer that may hold a key, zeroed before it goes back to malloc:
 * CONFTLS_FILE_MAX + 1 bytes, as conftls_slurp() allocates them. */
static void
conftls_drop(char *buf)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, CONFTLS_FILE_MAX + 1);
	free(buf);
}

/* The whole regular file, NUL-terminated and without a NUL in it, at
 * most CONFTLS_FILE_MAX bytes: opened so that a FIFO or a device
 * cannot hold the check (O_NONBLOCK, then fstat()). */
static char *
conftls_slurp(const char *path, const char **why)
{
	struct stat	 st;
	char		*buf = NULL;
	ssize_t		 n;
	size_t		 have = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC))
	    == -1) {
		*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &st) == -1)
		*why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		*why = "not a regular file";
	else if (st.st_size > CONFTLS_FILE_MAX)
		*why = "larger than 128 KiB";
	else if ((buf = malloc(CONFTLS_FILE_MAX + 1)) == NULL)
		*why = strerror(errno);
	while (buf != NULL && (n = read(fd, buf + have,
	    CONFTLS_FILE_MAX + 1 - have)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || (have += (size_t)n) > CONFTLS_FILE_MAX) {
			*why = n == -1 ? strerror(errno) :
			    "larger than 128 KiB";
			conftls_drop(buf);
			buf = NULL;
		}
	}
	close(fd);
	if (buf == NULL)
		return NULL;
	buf[have] = '\0';
	if (memchr(buf, '\0', have) != NULL || have == 0) {
		*why = have == 0 ? "empty" : "not PEM text (a NUL byte in it)";
		conftls_drop(buf);
		return NULL;
	}
	return buf;
}

/* One file of the group: its path read from key, its bytes into *pem. */
static int
conftls_file(struct conf_ctx *ctx, const config_setting_t *g,
    const char *key, char **path, char **pem)
{
	char		 what[32];
	const char	*why = NULL;
	char		*real;

	snprintf(what, sizeof(what), "listen.tls.%s", key);
	if (conf_string(ctx, g, what, key, PATH_MAX, path) == -1)
		return -1;
	if (*path == NULL)
		return 0;
	/* The daemon runs from "/": a relative path would be read from
	 * wherever -t ran, and from elsewhere at the next reload. */
	if ((*path)[0] != '/' && strncmp(*path, "credential:", 11) != 0)
		return conf_error(ctx, conf_member(g, key), "%s \"%s\" must "
		    "be an absolute path (or credential:NAME)", what, *path);
	if ((real = conftls_path(*path, &why)) != NULL) {
		*pem = conftls_slurp(real, &why);
		free(real);
	}
	if (*pem == NULL)
		return conf_error(ctx, conf_member(g, key), "%s \"%s\": %s",
		    what, *path, why != NULL ? why : strerror(errno));
	return 0;
}

/* The next string of the material, for a load from text. */
static int
conftls_take(struct conf_ctx *ctx, const config_setting_t *g, char **pem,
    bool optional)
{
	const struct config_material	*cm = ctx->material;
	const char			*s, *nul;

	if (cm == NULL || ctx->material_off >= cm->cm_len ||
	    (nul = memchr(cm->cm_bytes + ctx->material_off, '\0',
	    cm->cm_len - ctx->material_off)) == NULL)
		return conf_error(ctx, g, "listen.tls: the checked "
		    "certificates and keys are missing");
	s = cm->cm_bytes + ctx->material_off;
	ctx->material_off += (size_t)(nul - s) + 1;
	if (s[0] == '\0' && optional)
		return 0;
	if ((*pem = strdup(s)) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	return 0;
}

static int
conftls_material(struct conf_ctx *ctx, const config_setting_t *g,
    struct tls_config *ct)
{
	if (ctx->flags & CONFIG_NO_FILES) {
		char	*skip = NULL;
		int	 rc;

		/* Without the material (-s, which serves nothing): the keys
		 * alone, no file opened. */
		if (conf_string(ctx, g, "listen.tls.certificate",
		    "certificate", PATH_MAX, &ct->tc_certificate) == -1 ||
		    conf_string(ctx, g, "listen.tls.key", "key", PATH_MAX,
		    &ct->tc_key) == -1 ||
		    conf_string(ctx, g, "listen.tls.client_ca", "client_ca",
		    PATH_MAX, &ct->tc_client_ca) == -1)
			return -1;
		if (ctx->material == NULL)
			return 0;
		rc = conftls_take(ctx, g, &ct->tc_cert_pem, false) == -1 ||
		    conftls_take(ctx, g, &ct->tc_key_pem, false) == -1 ||
		    conftls_take(ctx, g, ct->tc_client_ca != NULL ?
		    &ct->tc_ca_pem : &skip, true) == -1;
		free(skip);
		return rc ? -1 : 0;
	}
	return conftls_file(ctx, g, "certificate", &ct->tc_certificate,
	    &ct->tc_cert_pem) == -1 ||
	    conftls_file(ctx, g, "key", &ct->tc_key, &ct->tc_key_pem) == -1 ||
	    conftls_file(ctx, g, "client_ca", &ct->tc_client_ca,
	    &ct->tc_ca_pem) == -1 ? -1 : 0;
}

/* verify and client_ca go together: a CA asks for certificates
 * ("require" unless said), and asking for them needs a CA. */
static int
conftls_verify(struct conf_ctx *ctx, const config_setting_t *g,
    struct tls_config *ct)
{
	const config_setting_t	*v = conf_member(g, "verify");
	int			 mode;

	mode = conf_member(g, "client_ca") != NULL ? TLS_VERIFY_REQUIRE :
	    TLS_VERIFY_NONE;
	if (conf_name_lookup(ctx, g, "listen.tls.verify", "verify",
	    conftls_verify_names, &mode) == -1)
		return -1;
	ct->tc_verify = (enum tls_verify)mode;
	if (mode != TLS_VERIFY_NONE && conf_member(g, "client_ca") == NULL)
		return conf_error(ctx, v, "listen.tls.verify = \"%s\" needs "
		    "client_ca, the CAs that sign the clients' certificates",
		    conftls_verify_names[mode].name);
	if (mode == TLS_VERIFY_NONE && conf_member(g, "client_ca") != NULL)
		return conf_error(ctx, v, "listen.tls.client_ca is set but "
		    "verify = \"none\" asks no client for a certificate");
	return 0;
}

static int
conftls_options(struct conf_ctx *ctx, const config_setting_t *g,
    struct tls_config *ct)
{
	int	 version = 12;

	ct->tc_tickets = true;
	ct->tc_ticket_lifetime = CONFTLS_TICKET_LIFETIME;
	if (conftls_verify(ctx, g, ct) == -1 ||
	    conf_name_lookup(ctx, g, "listen.tls.min_version", "min_version",
	    conftls_version_names, &version) == -1 ||
	    conf_string(ctx, g, "listen.tls.ciphers", "ciphers", 1024,
	    &ct->tc_ciphers) == -1 ||
	    conf_string(ctx, g, "listen.tls.ciphersuites", "ciphersuites",
	    1024, &ct->tc_ciphersuites) == -1 ||
	    conf_bool(ctx, g, "listen.tls.tickets", "tickets",
	    &ct->tc_tickets) == -1 ||
	    conf_seconds(ctx, g, "listen.tls.ticket_lifetime",
	    "ticket_lifetime", CONFTLS_TICKET_MIN, CONFTLS_TICKET_MAX,
	    &ct->tc_ticket_lifetime) == -1)
		return -1;
	ct->tc_min_version = version;
	return 0;
}

/*
 * Build the context a worker will build, so that a key that does not
 * match its certificate, a cipher list OpenSSL does not know or a CA
 * file without a certificate is this file's error, at its line.  An
 * expired certificate is served (a warning): refusing it would take the
 * service down at a reload for what the clients will judge anyway.
 */
static int
conftls_check(struct conf_ctx *ctx, const config_setting_t *g,
    const struct tls_config *ct)
{
	struct tls_server	*ts;
	const char		*key;
	char			 err[1024];
	long long		 left;

	if ((ts = tls_server_new(ct, NULL, err, sizeof(err))) == NULL) {
		key = tls_server_bad_key(err);
		return conf_error(ctx, key != NULL && conf_member(g, key) !=
		    NULL ? conf_member(g, key) : g, "listen.tls.%s", err);
	}
	if ((left = tls_server_expiry(ts)) < 0)
		log_warnx("%s: listen.tls.certificate \"%s\" has expired "
		    "(%lld hours ago): served all the same", ct->tc_where,
		    ct->tc_certificate, -left / 3600);
	tls_server_free(ts);
	return 0;
}

int
conftls_listen(struct conf_ctx *ctx, const config_setting_t *g,
    struct config *c, size_t i)
{
	struct tls_config	*ct;
	char			 where[PATH_MAX + 16];

	conftls_free(c->c_tls[i]);
	c->c_tls[i] = NULL;
	if (g == NULL)
		return 0;
#ifndef HAVE_TLS
	return conf_error(ctx, g, "listen.tls: this preforkd was built "
	    "without TLS (configure --without-tls)");
#endif
	if (!config_setting_is_group(g))
		return conf_error(ctx, g, "listen.tls must be a group "
		    "{ certificate = ...; key = ...; }");
	if (conf_known_keys(ctx, g, "listen.tls.", conftls_keys) == -1)
		return -1;
	if (conf_member(g, "certificate") == NULL ||
	    conf_member(g, "key") == NULL)
		return conf_error(ctx, g, "listen.tls needs a certificate "
		    "and its key");
	if ((ct = calloc(1, sizeof(*ct))) == NULL)
		return conf_error(ctx, g, "calloc: %s", strerror(errno));
	c->c_tls[i] = ct;
	ct->tc_listener = (unsigned)i;
	if ((ct->tc_where = strdup(conf_where(ctx, g, where,
	    sizeof(where)))) == NULL)
		return conf_error(ctx, g, "strdup: %s", strerror(errno));
	if (conftls_options(ctx, g, ct) == -1 ||
	    conftls_material(ctx, g, ct) == -1)
		return -1;
	return ctx->flags & CONFIG_NO_FILES ? 0 : conftls_check(ctx, g, ct);
}

/* Each load draws its own: a reload's workers issue tickets that the
 * old generation's cannot read, and the other way round. */
int
conftls_secret(struct conf_ctx *ctx, struct config *c)
{
	bool	 want = false;

	/* Drawn where workers get their configuration from: the master's
	 * load from text (a check's load serves nothing). */
	for (size_t i = 0; i < CONFIG_MAX_LISTEN; i++)
		want = want || (c->c_tls[i] != NULL && c->c_tls[i]->tc_tickets);
	c->c_tls_secret_ok = false;
	if (!want || !(ctx->flags & CONFIG_NO_FILES) || ctx->material == NULL)
		return 0;
	/* GRND_NONBLOCK: never wait for the pool at boot; without a
	 * secret, sessions are not resumed (tls.c), nothing else. */
	if (getrandom(c->c_tls_secret, sizeof(c->c_tls_secret),
	    GRND_NONBLOCK) == (ssize_t)sizeof(c->c_tls_secret))
		c->c_tls_secret_ok = true;
	else
		log_warn("getrandom(ticket secret): TLS sessions will not "
		    "be resumed");
	return 0;
}
