/* SPDX-License-Identifier: ISC */
/*
 * service.c - the services a worker runs, and the table of what the
 * daemon offers them (<preforkd/service.h>).
 *
 * Built-in services and modules are the same thing to the rest of the
 * daemon: a descriptor, reached through struct service.  A module is
 * NAME.so in module_dir, dlopen()ed by the master as it reads the
 * configuration, which runs as root: the file is opened once, checked
 * (regular, owned by root or by us, writable by nobody else, in a
 * directory of the same kind) and loaded through /proc/self/fd, so the
 * code mapped is the file checked.
 *
 * dlopen() caches by name and by inode: asked for a path it has loaded it
 * returns the copy in memory, whatever happened to the file since.  The
 * name here is the descriptor's /proc path, unique while the module is
 * loaded (we hold the descriptor open until dlclose()), so only the inode
 * decides.  A module replaced by a new file (install(1), mv, a package
 * upgrade) has a new inode and is loaded afresh by the next reload, beside
 * the old copy that the running generation still uses.  A module
 * rewritten in place (same inode) while loaded would silently keep the
 * old code, if the process did not crash first: that is refused.
 */
#include "autoconf.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "confread.h"
#include "conn.h"
#include "escape.h"
#include "log.h"
#include "loglimit.h"
#include "service.h"
#include "tls.h"

static const struct preforkd_service *const service_builtins[] = {
	&service_greeting,
	&service_echo,
	NULL
};

/* Modules loaded in this process, for the in-place rewrite check. */
static struct service	*service_loaded;
/* A worker runs one service: what its ps_init made. */
static void		*service_worker;

const struct preforkd_service *
service_builtin(const char *name)
{
	for (size_t i = 0; service_builtins[i] != NULL; i++)
		if (strcmp(service_builtins[i]->ps_name, name) == 0)
			return service_builtins[i];
	return NULL;
}

const struct preforkd_service *
service_builtin_at(size_t i)
{
	return i < sizeof(service_builtins) / sizeof(service_builtins[0]) ?
	    service_builtins[i] : NULL;
}

const char *
service_names(void)
{
	static char	 names[128];

	if (names[0] == '\0')
		for (size_t i = 0; service_builtins[i] != NULL; i++) {
			if (i > 0)
				strcat(names, ", ");
			strcat(names, service_builtins[i]->ps_name);
		}
	return names;
}

bool
service_name_ok(const char *name)
{
	size_t	 n = strlen(name);

	if (n == 0 || n > PREFORKD_NAME_MAX)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/*
 * Code run as root must be as trusted as root: owned by root or by the
 * user we run as, writable by nobody else.  The directory too, or
 * anyone who can write it could put another file in the checked one's
 * place for the next reload.
 */
static int
service_trusted(const char *what, const struct stat *st, char *err,
    size_t errsize)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		snprintf(err, errsize, "%s is owned by uid %lu, not root or "
		    "%lu", what, (unsigned long)st->st_uid,
		    (unsigned long)geteuid());
	else if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		snprintf(err, errsize, "%s is writable by group or others "
		    "(mode %04o)", what, (unsigned)(st->st_mode & 07777));
	else
		return 0;
	return -1;
}

/* Open dir/NAME.so, checked; -1 with err (and *missing if absent). */
static int
service_open(const char *name, const char *dir, char *path, size_t pathsize,
    struct stat *st, char *err, size_t errsize, bool *missing)
{
	char	 file[PREFORKD_NAME_MAX + 4];
	int	 dfd, fd = -1;

	snprintf(file, sizeof(file), "%s.so", name);
	snprintf(path, pathsize, "%s/%s", dir, file);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		if ((*missing = errno == ENOENT))
			snprintf(err, errsize, "no module %s", path);
		else
			snprintf(err, errsize, "open %s: %s", dir,
			    strerror(errno));
		return -1;
	}
	if (fstat(dfd, st) == -1) {
		snprintf(err, errsize, "fstat %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (service_trusted("module_dir", st, err, errsize) == -1)
		goto fail;
	/* Never through a link, and a FIFO must not block the open. */
	fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1) {
		*missing = errno == ENOENT;
		if (*missing)
			snprintf(err, errsize, "no module %s", path);
		else if (errno == ELOOP)
			snprintf(err, errsize, "%s is a symbolic link", path);
		else
			snprintf(err, errsize, "open %s: %s", path,
			    strerror(errno));
		goto fail;
	}
	if (fstat(fd, st) == -1) {
		snprintf(err, errsize, "fstat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errsize, "%s is not a regular file", path);
		goto fail;
	}
	if (service_trusted(path, st, err, errsize) == -1)
		goto fail;
	close(dfd);
	return fd;
fail:
	if (fd != -1)
		close(fd);
	close(dfd);
	return -1;
}

/* The same inode loaded before, but the file has changed since. */
static bool
service_rewritten(const struct stat *st)
{
	for (const struct service *s = service_loaded; s != NULL;
	    s = s->sv_next)
		if (s->sv_dev == st->st_dev && s->sv_ino == st->st_ino &&
		    (s->sv_size != st->st_size ||
		    s->sv_mtime.tv_sec != st->st_mtim.tv_sec ||
		    s->sv_mtime.tv_nsec != st->st_mtim.tv_nsec))
			return true;
	return false;
}

/* What the descriptor says, checked before anything in it is called. */
static int
service_check_desc(const struct preforkd_service *d, const char *name,
    const char *path, char *err, size_t errsize)
{
	if (d->ps_abi != PREFORKD_SERVICE_ABI)
		snprintf(err, errsize, "%s is built for service ABI %u, this "
		    "preforkd has ABI %u: rebuild it against this "
		    "preforkd's <preforkd/service.h>", path, d->ps_abi,
		    PREFORKD_SERVICE_ABI);
	else if (d->ps_name == NULL || strcmp(d->ps_name, name) != 0)
		snprintf(err, errsize, "%s names its service \"%.*s\", not "
		    "\"%s\"", path, PREFORKD_NAME_MAX, d->ps_name == NULL ?
		    "" : d->ps_name, name);
	else if (d->ps_serve == NULL)
		snprintf(err, errsize, "%s has no ps_serve", path);
	else
		return 0;
	return -1;
}

/* A module of this file loaded already, holding its descriptor. */
static struct service *
service_same_file(const struct stat *st)
{
	for (struct service *sv = service_loaded; sv != NULL; sv = sv->sv_next)
		if (sv->sv_fd != -1 && sv->sv_dev == st->st_dev &&
		    sv->sv_ino == st->st_ino)
			return sv;
	return NULL;
}

/* Another module loaded from the same file as sv (not in the list). */
static struct service *
service_other_copy(const struct service *sv)
{
	for (struct service *s = service_loaded; s != NULL; s = s->sv_next)
		if (s != sv && s->sv_dl != NULL && s->sv_dev == sv->sv_dev &&
		    s->sv_ino == sv->sv_ino)
			return s;
	return NULL;
}

static struct service *
service_dlopen(const char *name, const char *dir, char *err, size_t errsize,
    bool *missing)
{
	struct service	*sv, *same;
	struct stat	 st;
	char		 path[PATH_MAX], self[64];
	const char	*why;
	int		 fd;

	if ((fd = service_open(name, dir, path, sizeof(path), &st, err,
	    errsize, missing)) == -1)
		return NULL;
	if (service_rewritten(&st)) {
		snprintf(err, errsize, "%s was rewritten in place since it was "
		    "loaded, and the running code would be kept: install "
		    "modules as a new file (install(1), mv)", path);
		close(fd);
		return NULL;
	}
	if ((sv = calloc(1, sizeof(*sv))) == NULL) {
		snprintf(err, errsize, "calloc: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	/*
	 * The same file loaded already (a reload): dlopen() by the name it
	 * was loaded under, so that it only counts one more reference, and
	 * take that descriptor over, so that the name stays open for as
	 * long as the library is loaded.  A second name would outlive its
	 * descriptor and could later be given to another file, which
	 * dlopen() would then take for this one.
	 */
	if ((same = service_same_file(&st)) != NULL) {
		close(fd);
		fd = same->sv_fd;
		same->sv_fd = -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if ((sv->sv_dl = dlopen(self, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		why = dlerror();
		/* dlerror() names the /proc path: name the file instead. */
		if (why != NULL && strncmp(why, self, strlen(self)) == 0)
			why += strlen(self) + (why[strlen(self)] == ':' ? 1 :
			    0);
		snprintf(err, errsize, "%s: %s", path, why != NULL ?
		    why + strspn(why, " ") : "cannot be loaded");
		goto fail;
	}
	if ((sv->sv_desc = dlsym(sv->sv_dl, PREFORKD_SERVICE_SYMBOL)) ==
	    NULL) {
		snprintf(err, errsize, "%s has no symbol %s: not a preforkd "
		    "service module", path, PREFORKD_SERVICE_SYMBOL);
		goto fail;
	}
	if (service_check_desc(sv->sv_desc, name, path, err, errsize) == -1)
		goto fail;
	sv->sv_fd = fd;
	sv->sv_dev = st.st_dev;
	sv->sv_ino = st.st_ino;
	sv->sv_size = st.st_size;
	sv->sv_mtime = st.st_mtim;
	sv->sv_next = service_loaded;
	service_loaded = sv;
	return sv;
fail:
	if (sv->sv_dl != NULL && dlclose(sv->sv_dl) != 0)
		log_warnx("dlclose %s: %s", path, dlerror());
	free(sv);
	if (same != NULL)
		same->sv_fd = fd;	/* still its */
	else
		close(fd);
	return NULL;
}

struct service *
service_load(const char *name, const char *dir, char *err, size_t errsize,
    bool *missing)
{
	const struct preforkd_service	*d;
	struct service			*sv;

	*missing = false;
	err[0] = '\0';
	if ((d = service_builtin(name)) != NULL) {
		if ((sv = calloc(1, sizeof(*sv))) == NULL) {
			snprintf(err, errsize, "calloc: %s", strerror(errno));
			return NULL;
		}
		sv->sv_desc = d;
		sv->sv_fd = -1;
		return sv;
	}
	if (!service_name_ok(name)) {
		snprintf(err, errsize, "a service name has only letters, "
		    "digits, '_' and '-', at most %d", PREFORKD_NAME_MAX);
		return NULL;
	}
	return service_dlopen(name, dir, err, errsize, missing);
}

int
service_configure(struct service *sv, struct preforkd_conf *conf)
{
	static const char *const none[] = { NULL };

	if (sv->sv_desc->ps_configure == NULL)
		return service_api.conf_keys(conf, none);
	return sv->sv_desc->ps_configure(&service_api, conf, &sv->sv_config);
}

void
service_free(struct service *sv)
{
	struct service	**p, *heir;

	if (sv == NULL)
		return;
	if (sv->sv_desc->ps_unconfigure != NULL && sv->sv_config != NULL)
		sv->sv_desc->ps_unconfigure(sv->sv_config);
	if (sv->sv_dl != NULL) {
		for (p = &service_loaded; *p != NULL; p = &(*p)->sv_next)
			if (*p == sv) {
				*p = sv->sv_next;
				break;
			}
		if (dlclose(sv->sv_dl) != 0)
			log_warnx("dlclose: %s", dlerror());
	}
	/* While the module is loaded its /proc name must not be given to
	 * another file: another loaded copy of the same file (a reload
	 * rolled back) inherits the descriptor; else it is closed, after
	 * dlclose().  The module's own name is gone with it: not logged. */
	if (sv->sv_fd != -1 && (heir = service_other_copy(sv)) != NULL)
		heir->sv_fd = sv->sv_fd;
	else if (sv->sv_fd != -1 && close(sv->sv_fd) == -1)
		log_warn("close(module descriptor %d)", sv->sv_fd);
	free(sv);
}

bool
service_client_first(const struct service *sv)
{
	return (sv->sv_desc->ps_flags & PREFORKD_CLIENT_FIRST) != 0;
}

int
service_init(const struct service *sv)
{
	service_worker = NULL;
	if (sv->sv_desc->ps_init == NULL)
		return 0;
	return sv->sv_desc->ps_init(&service_api, sv->sv_config,
	    &service_worker);
}

/* What a module holds of one connection. */
struct preforkd_conn {
	struct conn		*pc_conn;
	double			 pc_read;	/* timeouts.read, seconds */
	double			 pc_write;	/* timeouts.write */
};

/*
 * The connection in hand, while the service has it: a client that left
 * without sending a byte (a port scan, a health check that connects and
 * closes) is counted, not logged, unless log.empty says so.  The daemon
 * decides it here, for every service alike: the service's lines at info
 * and debug about such a connection are not written, and log_enabled()
 * says so, which spares it the work of making them.
 */
static struct conn	*service_conn;
static bool		 service_log_empty;

void
service_serve(const struct service *sv, struct conn *c, double read_timeout,
    double write_timeout, bool log_empty)
{
	struct preforkd_conn	 pc = { c, read_timeout, write_timeout };

	service_conn = c;
	service_log_empty = log_empty;
	sv->sv_desc->ps_serve(&service_api, &pc, sv->sv_config,
	    service_worker);
	service_conn = NULL;
}

/* A line of this level about the connection in hand is not written. */
static bool
service_quiet(int level)
{
	return level >= LOG_INFO && service_conn != NULL &&
	    !service_log_empty && conn_empty(service_conn);
}

void
service_fini(const struct service *sv)
{
	if (sv->sv_desc->ps_fini != NULL)
		sv->sv_desc->ps_fini(&service_api, sv->sv_config,
		    service_worker);
	service_worker = NULL;
}

/* ---- the table ---------------------------------------------------- */

static const char *
api_peer(struct preforkd_conn *pc)
{
	return conn_peer(pc->pc_conn);
}

static struct timespec
api_deadline(struct preforkd_conn *pc, enum preforkd_timeout which)
{
	return clock_after(clock_now(), which == PREFORKD_TIMEOUT_WRITE ?
	    pc->pc_write : pc->pc_read);
}

static ssize_t
api_read(struct preforkd_conn *pc, void *buf, size_t len,
    const struct timespec *deadline)
{
	return conn_read(pc->pc_conn, buf, len, deadline);
}

static ssize_t
api_read_reply(struct preforkd_conn *pc, void *buf, size_t len,
    const struct timespec *deadline)
{
	return conn_read_reply(pc->pc_conn, buf, len, deadline);
}

static int
api_write(struct preforkd_conn *pc, const void *buf, size_t len,
    const struct timespec *deadline)
{
	return conn_write(pc->pc_conn, buf, len, deadline);
}

static bool
api_log_enabled(int level)
{
	return log_enabled(level) && !service_quiet(level);
}

static void api_log(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void api_log_errno(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static void service_log_line(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
service_log_line(int level, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(level, false, fmt, ap);
	va_end(ap);
}

/* A line about a TLS connection says its version and, when the client
 * sent a verified certificate, whose (escaped: the client chose it). */
static void __attribute__((format(printf, 2, 0)))
service_log_tls(int level, const char *fmt, va_list ap)
{
	static char	 line[PREFORKD_LOG_LINE_MAX];
	static char	 subject[ESCAPE_MAX(256)];
	const char	*who;

	vsnprintf(line, sizeof(line), fmt, ap);
	if ((who = tls_fact(service_conn->cn_tls, TLS_FACT_SUBJECT)) != NULL)
		escape_bytes(subject, sizeof(subject), who, strlen(who));
	service_log_line(level, "%s tls=%s%s%s%s", line, tls_fact(service_conn->cn_tls,
	    TLS_FACT_VERSION), who != NULL ? " subject=\"" : "",
	    who != NULL ? subject : "", who != NULL ? "\"" : "");
}

static const char *
api_tls(struct preforkd_conn *pc, enum preforkd_tls_fact f)
{
	static const enum tls_fact facts[] = { TLS_FACT_VERSION,
	    TLS_FACT_CIPHER, TLS_FACT_SNI, TLS_FACT_SUBJECT };

	if (pc->pc_conn->cn_tls == NULL || (unsigned)f >= sizeof(facts) /
	    sizeof(facts[0]))
		return NULL;
	return tls_fact(pc->pc_conn->cn_tls, facts[f]);
}

static void
api_log(int level, const char *fmt, ...)
{
	va_list	 ap;

	/* A module's lines go from LOG_ERR to LOG_DEBUG, as the header
	 * says: no emergency a module could broadcast to every terminal. */
	level &= LOG_PRIMASK;
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (service_quiet(level))
		return;
	va_start(ap, fmt);
	if (service_conn != NULL && service_conn->cn_tls != NULL)
		service_log_tls(level, fmt, ap);
	else
		log_vlog(level, false, fmt, ap);
	va_end(ap);
}

static void
api_log_errno(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, true, fmt, ap);
	va_end(ap);
}

struct preforkd_budget {
	struct log_sources	 pb_sources;
	unsigned		 pb_all;
	unsigned		 pb_per_source;
};

static struct preforkd_budget *
api_budget_new(unsigned all, unsigned per_source)
{
	struct preforkd_budget	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->pb_all = all;
	b->pb_per_source = per_source;
	return b;
}

static void
api_budget_free(struct preforkd_budget *b)
{
	free(b);
}

static bool
api_budget_allow(struct preforkd_budget *b, struct preforkd_conn *pc,
    unsigned long *suppressed)
{
	return log_limit_source(&b->pb_sources, b->pb_all, b->pb_per_source,
	    &pc->pc_conn->cn_addr, suppressed);
}

const struct preforkd_api service_api = {
	.pa_abi = PREFORKD_SERVICE_ABI,
	.pa_size = sizeof(struct preforkd_api),
	.conf_name = config_api_name,
	.conf_present = config_api_present,
	.conf_keys = config_api_keys,
	.conf_int = config_api_int,
	.conf_seconds = config_api_seconds,
	.conf_string = config_api_string,
	.conf_bool = config_api_bool,
	.conf_error = config_api_error,
	.peer = api_peer,
	.deadline = api_deadline,
	.read = api_read,
	.read_reply = api_read_reply,
	.write = api_write,
	.log_enabled = api_log_enabled,
	.log = api_log,
	.log_errno = api_log_errno,
	.budget_new = api_budget_new,
	.budget_free = api_budget_free,
	.budget_allow = api_budget_allow,
	.escape = escape_fit,
	.tls = api_tls,
};
