/* SPDX-License-Identifier: ISC */
/*
 * sockstore.c - the listening sockets that outlive a process (see
 * sockstore.h): those systemd passes at start, and its file descriptor
 * store, where the daemon keeps its own.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "listener.h"
#include "sockstore.h"
#include "log.h"
#include "loglimit.h"
#include "notify.h"

/* Check a passed descriptor and describe it like a configured listener. */
static int
sockstore_passed(int fd, struct listener *l)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct addr		 a;
	char			 host[ADDR_STRLEN];
	int			 type, listening, flags;
	socklen_t		 olen = sizeof(int);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) == -1
	    || getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("passed descriptor %d", fd);
		return -1;
	}
	if (type != SOCK_STREAM || !listening || (ss.ss_family != AF_INET &&
	    ss.ss_family != AF_INET6)) {
		log_warnx("passed descriptor %d is not a listening TCP socket",
		    fd);
		return -1;
	}
	/* systemd hands them over blocking and inheritable. */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("fcntl(%d)", fd);
		return -1;
	}
	addr_from_sockaddr(&a, (struct sockaddr *)&ss, len);
	addr_format_host(&a, host, sizeof(host));
	l->l_conf.cl_port = a.a_port;
	if ((l->l_conf.cl_address = strdup(host)) == NULL) {
		log_warn("strdup");
		return -1;
	}
	l->l_conf.cl_backlog = -1;	/* unknown: listen() again */
	l->l_passed = true;
	l->l_stored = false;
	l->l_fd = fd;
	listener_name(l, &ss, len);
	return 0;
}

int
sockstore_passed_count(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char		*end;
	long		 n;

	if (pid == NULL || fds == NULL || strtol(pid, &end, 10) != getpid() ||
	    *end != '\0')
		return 0;
	n = strtol(fds, &end, 10);
	if (*end != '\0' || n < 0 || n > CONFIG_MAX_LISTEN)
		return -1;
	return (int)n;
}

int
sockstore_adopt(struct listeners *set, int fd, bool passed,
    const struct config_listen *conf)
{
	struct listener	*l = &set->ls[set->ls_n];
	char		*address;

	if (set->ls_n == CONFIG_MAX_LISTEN || sockstore_passed(fd, l) == -1)
		return -1;
	if ((address = strdup(conf->cl_address)) == NULL) {
		log_warn("strdup");
		/* The slot past ls_n is nobody's: leave it empty.  fd is
		 * still the caller's. */
		free(l->l_conf.cl_address);
		memset(l, 0, sizeof(*l));
		l->l_fd = -1;
		return -1;
	}
	free(l->l_conf.cl_address);
	l->l_conf = *conf;
	l->l_conf.cl_address = address;
	l->l_passed = passed;
	set->ls_n++;
	log_notice("socket kept across the upgrade %s%s", l->l_name,
	    passed ? " (from systemd)" : "");
	return 0;
}

/*
 * The name a socket has in the store: its bound address, which no other
 * socket has, with '-' for ':' (the separator of $LISTEN_FDNAMES), e.g.
 * "listen-127.0.0.1-9001", "listen-[--1]-9001".
 */
static void
sockstore_name(const struct listener *l, char *buf, size_t size)
{
	snprintf(buf, size, "listen-%s", l->l_name);
	for (char *p = buf; *p != '\0'; p++)
		if (*p == ':')
			*p = '-';
}

/* The i-th of the colon-separated names, or "" (none, or no such). */
static void
sockstore_passed_name(const char *names, int i, char *buf, size_t size)
{
	size_t	 len;

	buf[0] = '\0';
	while (names != NULL && i-- > 0)
		if ((names = strchr(names, ':')) != NULL)
			names++;
	if (names == NULL)
		return;
	len = strcspn(names, ":");
	if (len < size)
		snprintf(buf, size, "%.*s", (int)len, names);
}

/* A passed socket named as the store names ours was in the store. */
static void
sockstore_passed_origin(struct listener *l, const char *names, int i)
{
	char	 name[NOTIFY_FDNAME_MAX + 1], ours[sizeof(name)];

	sockstore_passed_name(names, i, name, sizeof(name));
	sockstore_name(l, ours, sizeof(ours));
	if (strcmp(name, ours) == 0) {
		l->l_passed = false;
		l->l_stored = true;
		log_notice("socket from systemd's store %s", l->l_name);
	} else
		log_notice("socket from systemd %s", l->l_name);
}

int
sockstore_inherit(struct listeners *set)
{
	int		 n = sockstore_passed_count();
	const char	*env = getenv("LISTEN_FDNAMES");
	char		*names = NULL;

	memset(set, 0, sizeof(*set));
	if (n == -1)
		log_warnx("LISTEN_FDS=%s: expected 0..%d", getenv("LISTEN_FDS"),
		    CONFIG_MAX_LISTEN);
	if (n > 0 && env != NULL && (names = strdup(env)) == NULL) {
		log_warn("strdup");
		n = -1;
	}
	/* Workers and later reloads must not take them again. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (int fd = 3; n > 0 && fd < 3 + n; fd++) {
		if (sockstore_passed(fd, &set->ls[set->ls_n]) == -1) {
			listeners_close(set);
			n = -1;
			break;
		}
		sockstore_passed_origin(&set->ls[set->ls_n], names, fd - 3);
		set->ls_n++;
	}
	free(names);
	return n;
}

void
sockstore_store(struct listeners *set)
{
	char	 name[NOTIFY_FDNAME_MAX + 1];

	for (size_t i = 0; i < set->ls_n; i++) {
		struct listener *l = &set->ls[i];

		if (l->l_fd == -1 || l->l_passed || l->l_stored)
			continue;
		sockstore_name(l, name, sizeof(name));
		if (notify_fdstore(l->l_fd, name) != 1)
			continue;
		l->l_stored = true;
		log_notice("%s handed to systemd's file descriptor store as %s",
		    l->l_name, name);
	}
}

/* Out of the store (one the configuration no longer lists).  A socket
 * shut down leaves it too: systemd drops a stored descriptor that hangs
 * up. */
static void
sockstore_unstore(struct listener *l)
{
	char	 name[NOTIFY_FDNAME_MAX + 1];

	sockstore_name(l, name, sizeof(name));
	if (notify_fdstore_remove(name) == 1)
		log_notice("%s taken out of systemd's file descriptor store",
		    l->l_name);
	l->l_stored = false;
}

/*
 * A socket that the configuration no longer lists stops accepting at
 * once, although busy workers still hold it, and its port can be bound
 * again: on a listening socket, SHUT_RD resets the queue and moves it out
 * of LISTEN for every process that holds it.  One in the store is taken
 * out first.
 */
static void
sockstore_shut(struct listener *l)
{
	if (l->l_stored)
		sockstore_unstore(l);
	if (shutdown(l->l_fd, SHUT_RD) == -1)
		log_warn("shutdown(%s)", l->l_name);
}

void
sockstore_close_unlisted(struct listeners *set, const struct listeners *keep)
{
	for (size_t i = 0; i < set->ls_n; i++) {
		struct listener	*l = &set->ls[i];
		bool		 kept = false;

		for (size_t j = 0; keep != NULL && j < keep->ls_n; j++)
			kept = kept || config_same_listen(&l->l_conf,
			    &keep->ls[j].l_conf);
		if (l->l_fd != -1 && !kept && !l->l_passed &&
		    !(l->l_stored && keep == NULL))
			sockstore_shut(l);
	}
	listeners_close(set);
}

void
sockstore_drop_unlisted(struct listeners *set, const struct config *cfg)
{
	for (size_t i = 0; i < set->ls_n; i++) {
		struct listener	*l = &set->ls[i];
		bool		 listed = false;

		for (size_t j = 0; j < cfg->c_nlisten; j++)
			listed = listed || config_same_listen(&l->l_conf,
			    &cfg->c_listen[j]);
		if (l->l_fd == -1 || listed)
			continue;
		log_warnx("socket from systemd %s is not in %s; not serving "
		    "it%s", l->l_name, cfg->c_file, l->l_stored ?
		    ", nor keeping it" : "");
		if (!l->l_passed)
			sockstore_shut(l);
		if (close(l->l_fd) == -1)
			log_warn("close %s", l->l_name);
		l->l_fd = -1;
	}
}
