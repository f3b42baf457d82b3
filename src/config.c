/* SPDX-License-Identifier: ISC */
/*
 * config.c - libconfig text -> validated struct config: the defaults, the
 * load, the root's keys, the service and its module, and the struct's end.
 *
 * conffile.c reads the file and its @includes; libconfig parses the
 * merged text from memory; confread.c reads typed values; the sockets
 * (listen, agent, metrics) are checked in conflisten.c, the other keys
 * in confkeys.c.  Every key has a default and a range; a wrong
 * type, an out-of-range value, an unknown key, listeners that can never
 * all be bound, or a syntax error stop the load with "FILE:LINE:
 * message", FILE being the file that holds the line.  The first error
 * wins, as in nginx -t; what conffile finds (a file that cannot be read,
 * a 32-bit overflow) comes before what libconfig finds.
 */
#include "autoconf.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conffile.h"
#include "config.h"
#include "confkeys.h"
#include "conftls.h"
#include "conflisten.h"
#include "confread.h"
#include "service.h"

/* Where service modules are looked for (module_dir). */
#ifndef PREFORKD_MODULE_DIR
#define PREFORKD_MODULE_DIR	"/usr/local/lib/preforkd"
#endif

static const char *const conf_root_keys[] = { "listen", "workers",
	"pool", "limits", "max_connections", "service", "module_dir",
	"timeouts", "log", "user", "group", "pid_file", "control", "access",
	"agent", "metrics", NULL };

/* ---- services ------------------------------------------------------ */

/*
 * Hand sv its group, if the file has one: a group { ... } or nothing.  A
 * hook that fails without saying why still fails, at the group's line.
 */
static int
conf_service_group(struct conf_ctx *ctx, const config_setting_t *root,
    struct service *sv)
{
	struct preforkd_conf	 pc = { ctx, NULL, conf_member(root,
	    "service"), sv->sv_desc->ps_name, false };
	const config_setting_t	*g = conf_member(root, pc.pc_name);

	if (g != NULL && !config_setting_is_group(g))
		return conf_error(ctx, g, "%s must be a group { ... }",
		    pc.pc_name);
	pc.pc_group = g;
	if (service_configure(sv, &pc) == 0 && !pc.pc_failed)
		return 0;
	if (!pc.pc_failed)
		conf_error(ctx, g != NULL ? g : pc.pc_service, "service \"%s\" "
		    "refused its configuration", pc.pc_name);
	return -1;
}

/*
 * A group named after a built-in service that is not the one chosen is
 * checked all the same, as it always was: switching service = "echo"
 * back to "greeting" must not reveal an error the file always had.
 */
static int
conf_other_builtins(struct conf_ctx *ctx, const config_setting_t *root,
    const struct config *c)
{
	const struct preforkd_service	*d;
	struct service			*sv;
	char				 err[256];
	bool				 missing;
	int				 rc;

	for (size_t i = 0; (d = service_builtin_at(i)) != NULL; i++) {
		if (strcmp(d->ps_name, c->c_service) == 0 ||
		    conf_member(root, d->ps_name) == NULL)
			continue;
		if ((sv = service_load(d->ps_name, c->c_module_dir, err,
		    sizeof(err), &missing)) == NULL)
			return conf_error(ctx, NULL, "%s", err);
		rc = conf_service_group(ctx, root, sv);
		service_free(sv);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/* service = "NAME": built in, or NAME.so in module_dir. */
static int
conf_service(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	const config_setting_t	*s = conf_member(root, "service");
	char			 err[PATH_MAX + 256];
	bool			 missing;

	if (conf_string(ctx, root, "module_dir", "module_dir", PATH_MAX,
	    &c->c_module_dir) == -1 ||
	    conf_string(ctx, root, "service", "service", PREFORKD_NAME_MAX,
	    &c->c_service) == -1)
		return -1;
	if (c->c_module_dir[0] != '/')
		return conf_error(ctx, conf_member(root, "module_dir"),
		    "module_dir must be an absolute path");
	for (size_t k = 0; conf_root_keys[k] != NULL; k++)
		if (strcmp(conf_root_keys[k], c->c_service) == 0)
			return conf_error(ctx, s, "service \"%s\" would share "
			    "its group with the key %s", c->c_service,
			    c->c_service);
	if ((ctx->flags & CONFIG_NO_MODULES) &&
	    service_builtin(c->c_service) == NULL) {
		if (!service_name_ok(c->c_service))
			return conf_error(ctx, s, "service \"%s\": a service "
			    "name has only letters, digits, '_' and '-'",
			    c->c_service);
		c->c_client_first = ctx->facts != NULL &&
		    ctx->facts->cf_client_first;
		return conf_other_builtins(ctx, root, c);
	}
	if ((c->c_sv = service_load(c->c_service, c->c_module_dir, err,
	    sizeof(err), &missing)) == NULL) {
		if (missing)
			return conf_error(ctx, s, "service \"%s\" is unknown "
			    "(known: %s): %s", c->c_service, service_names(),
			    err);
		return conf_error(ctx, s, "service \"%s\": %s", c->c_service,
		    err);
	}
	c->c_client_first = service_client_first(c->c_sv);
	if (conf_service_group(ctx, root, c->c_sv) == -1)
		return -1;
	return conf_other_builtins(ctx, root, c);
}

/* The core's keys, and the groups of services: the chosen one's and
 * the built-in ones'. */
static int
conf_root_known(struct conf_ctx *ctx, const config_setting_t *root)
{
	const config_setting_t	*sv = conf_member(root, "service");
	const char		*chosen = NULL;

	if (sv != NULL && config_setting_type(sv) == CONFIG_TYPE_STRING)
		chosen = config_setting_get_string(sv);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t	*s = config_setting_get_elem(root, i);
		const char		*name = config_setting_name(s);
		size_t			 k;

		for (k = 0; conf_root_keys[k] != NULL; k++)
			if (strcmp(conf_root_keys[k], name) == 0)
				break;
		if (conf_root_keys[k] == NULL && service_builtin(name) == NULL &&
		    (chosen == NULL || strcmp(chosen, name) != 0))
			return conf_error(ctx, s, "unknown key \"%s\"", name);
	}
	return 0;
}

static int
conf_root(struct conf_ctx *ctx, const config_setting_t *root,
    struct config *c)
{
	if (conf_root_known(ctx, root) == -1 ||
	    conflisten_listeners(ctx, root, c) == -1 ||
	    confkeys_pool(ctx, root, c) == -1 ||
	    confkeys_limits(ctx, root, c) == -1 ||
	    confkeys_control(ctx, root, c) == -1 ||
	    confkeys_access(ctx, root, c) == -1 ||
	    conflisten_agent(ctx, root, c) == -1 ||
	    conflisten_metrics(ctx, root, c) == -1 ||
	    conf_service(ctx, root, c) == -1 ||
	    confkeys_timeouts(ctx, root, c) == -1 ||
	    confkeys_log(ctx, root, c) == -1 ||
	    confkeys_identity(ctx, root, c) == -1 ||
	    conf_string(ctx, root, "pid_file", "pid_file", PATH_MAX,
	    &c->c_pid_file) == -1)
		return -1;
	if (c->c_pid_file != NULL && c->c_pid_file[0] != '/')
		return conf_error(ctx, conf_member(root, "pid_file"),
		    "pid_file must be an absolute path");
	return 0;
}

static struct config *
conf_defaults(const char *file)
{
	struct config	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->c_file = strdup(file);
	c->c_listen[0].cl_address = strdup("127.0.0.1");
	c->c_listen_where[0] = strdup(file);
	c->c_listen[0].cl_port = 9001;
	c->c_listen[0].cl_backlog = 128;
	c->c_nlisten = 1;
	/* The shipped defence: a dynamic pool, a per-source limit, a bound
	 * on every connection, and hung workers replaced. */
	c->c_pool_dynamic = true;
	c->c_workers = c->c_pool_min = 4;
	c->c_pool_max = 64;
	c->c_idle_min = 2;
	c->c_idle_max = 8;
	c->c_per_source = 8;
	c->c_source_bits4 = 32;
	c->c_source_bits6 = 64;
	c->c_timeout_connection = 30.0;
	c->c_timeout_hung = 60.0;
	c->c_service = strdup("greeting");
	c->c_module_dir = strdup(PREFORKD_MODULE_DIR);
	c->c_timeout_read = 5.0;
	c->c_timeout_write = 5.0;
	c->c_timeout_shutdown = 10.0;
	c->c_log_facility = LOG_DAEMON;
	c->c_log_level = LOG_INFO;
	c->c_log_empty = false;
	if (c->c_file == NULL || c->c_listen[0].cl_address == NULL ||
	    c->c_listen_where[0] == NULL ||
	    c->c_service == NULL || c->c_module_dir == NULL) {
		config_free(c);
		return NULL;
	}
	return c;
}

/* The merged text, parsed and validated; it is kept in c_text. */
static struct config *
conf_parse(struct conf_ctx *ctx, const char *text)
{
	struct config	*c = NULL;
	char		 where[PATH_MAX + 16];
	config_t	 cf;

	config_init(&cf);
	/* conffile expanded every @include.  Should libconfig still see
	 * one, it opens it under /dev/null, which no path goes through:
	 * an error, never the file system. */
	config_set_include_dir(&cf, "/dev/null");
	if (config_read_string(&cf, text) != CONFIG_TRUE) {
		snprintf(ctx->err, ctx->errsize, "%s: %s", conf_where_line(ctx,
		    (unsigned)config_error_line(&cf), where, sizeof(where)),
		    config_error_text(&cf));
		goto fail;
	}
	if ((c = conf_defaults(ctx->file)) == NULL ||
	    (c->c_text = strdup(text)) == NULL) {
		conf_error(ctx, NULL, "out of memory");
		goto fail;
	}
	if (conf_root(ctx, config_root_setting(&cf), c) == -1)
		goto fail;
	config_destroy(&cf);
	return c;
fail:
	config_destroy(&cf);
	config_free(c);
	return NULL;
}

struct config *
config_load(const char *file, char *err, size_t errsize)
{
	return config_load_flags(file, 0, err, errsize);
}

struct config *
config_load_flags(const char *file, int flags, char *err, size_t errsize)
{
	struct conf_ctx	 ctx = { file, NULL, err, errsize, flags, NULL, NULL,
	    0 };
	struct config	*c;

	if ((ctx.text = conffile_read(file, err, errsize)) == NULL)
		return NULL;
	c = conf_parse(&ctx, conffile_text(ctx.text));
	conffile_free(ctx.text);
	return c;
}

struct config *
config_load_text(const char *file, const char *text, int flags,
    const struct config_facts *facts, const struct config_material *cm,
    char *err, size_t errsize)
{
	struct conf_ctx	 ctx = { file, NULL, err, errsize, flags, facts, cm,
	    0 };
	struct config	*c;

	if ((c = conf_parse(&ctx, text)) != NULL && cm != NULL &&
	    ctx.material_off != cm->cm_len) {
		snprintf(err, errsize, "%s: the checked certificates and keys "
		    "do not match the listeners", file);
		config_free(c);
		return NULL;
	}
	return c;
}

/* One NUL-terminated string (NULL: "") at out + *len, if out is not
 * NULL; how many bytes it takes. */
static size_t
conf_material_add(char *out, size_t *len, const char *s)
{
	size_t	 n = strlen(s != NULL ? s : "") + 1;

	if (out != NULL) {
		memcpy(out + *len, s != NULL ? s : "", n);
		*len += n;
	}
	return n;
}

int
config_get_material(const struct config *c, char **out, size_t *len)
{
	const struct tls_config	*ct;
	size_t			 need = 0;

	*out = NULL;
	*len = 0;
	/* Sized first, then one allocation: no realloc() leaves a copy of
	 * a key behind. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < c->c_nlisten; i++) {
			if ((ct = c->c_tls[i]) == NULL)
				continue;
			need += conf_material_add(pass ? *out : NULL, len,
			    ct->tc_cert_pem);
			need += conf_material_add(pass ? *out : NULL, len,
			    ct->tc_key_pem);
			need += conf_material_add(pass ? *out : NULL, len,
			    ct->tc_ca_pem);
		}
		if (pass == 0 && need > 0 && (*out = malloc(need)) == NULL)
			return -1;
		if (need == 0)
			break;
	}
	return 0;
}

void
config_get_facts(const struct config *c, struct config_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->cf_uid = c->c_uid;
	f->cf_gid = c->c_gid;
	f->cf_client_first = c->c_client_first;
}

/* The module named by c, loaded and configured from c's text. */
static struct service *
conf_module(const struct config *c, char *err, size_t errsize)
{
	struct conf_ctx		 ctx = { c->c_file, NULL, err, errsize, 0,
	    NULL, NULL, 0 };
	const config_setting_t	*root;
	struct service		*sv = NULL;
	char			 why[PATH_MAX + 256];
	bool			 missing;
	config_t		 cf;

	config_init(&cf);
	config_set_include_dir(&cf, "/dev/null");
	if (config_read_string(&cf, c->c_text) != CONFIG_TRUE) {
		snprintf(err, errsize, "%s: %s", c->c_file,
		    config_error_text(&cf));
		goto done;
	}
	root = config_root_setting(&cf);
	if ((sv = service_load(c->c_service, c->c_module_dir, why,
	    sizeof(why), &missing)) == NULL)
		conf_error(&ctx, conf_member(root, "service"), "service "
		    "\"%s\": %s", c->c_service, why);
	else if (conf_service_group(&ctx, root, sv) == -1) {
		service_free(sv);
		sv = NULL;
	}
done:
	config_destroy(&cf);
	return sv;
}

struct service *
config_service(const struct config *c, char *err, size_t errsize)
{
	if (c->c_sv != NULL)
		return c->c_sv;
	return conf_module(c, err, errsize);
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < CONFIG_MAX_LISTEN; i++) {
		free(c->c_listen[i].cl_address);
		free(c->c_listen_where[i]);
		conftls_free(c->c_tls[i]);
	}
	explicit_bzero(c->c_tls_secret, sizeof(c->c_tls_secret));
	free(c->c_file);
	free(c->c_service);
	free(c->c_module_dir);
	service_free(c->c_sv);
	free(c->c_user);
	free(c->c_group);
	free(c->c_pid_file);
	free(c->c_control);
	free(c->c_agent_address);
	free(c->c_agent_where);
	free(c->c_metrics_address);
	free(c->c_metrics_where);
	free(c->c_text);
	free(c);
}

bool
config_same_listen(const struct config_listen *a,
    const struct config_listen *b)
{
	return a->cl_port == b->cl_port &&
	    strcmp(a->cl_address, b->cl_address) == 0;
}
