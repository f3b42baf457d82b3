/* SPDX-License-Identifier: ISC */
/*
 * listener.c - socket(), bind(), listen(), for every socket the daemon
 * listens on (the workers', and the master's side doors: sidedoor.h);
 * the workers' sockets kept across reloads.  Those systemd passes and
 * keeps: sockstore.c.
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
#include "log.h"
#include "loglimit.h"
#include "notify.h"

/* ---- one listening socket: every one the daemon listens on ------------ */

/* TCP: SO_REUSEADDR, so that a restart binds again while connections of
 * the last run wait in TIME_WAIT; "::" means IPv6 only (list "0.0.0.0"
 * too for both families).  A unix socket: mode 0600 (see
 * listener_bind_unix()). */
static int
listener_options(int fd, int family, const char *name)
{
	int	 on = 1;

	if (family == AF_UNIX) {
		if (fchmod(fd, 0600) == -1) {
			log_warn("fchmod(%s)", name);
			return EX_CANTCREAT;
		}
		return 0;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1) {
		log_warn("setsockopt(%s, SO_REUSEADDR)", name);
		return EX_OSERR;
	}
	if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
	    &on, sizeof(on)) == -1) {
		log_warn("setsockopt(%s, IPV6_V6ONLY)", name);
		return EX_OSERR;
	}
	return 0;
}

/*
 * A unix socket's file is made mode 0600: the socket's own mode and the
 * umask both say so, as Linux creates the file from the one less the
 * other.
 */
static int
listener_bind_unix(int fd, const struct sockaddr *sa, socklen_t len)
{
	mode_t	 old = umask(0177);
	int	 rc = bind(fd, sa, len);
	int	 saved = errno;

	umask(old);
	errno = saved;
	return rc;
}

/* bind(), its failure logged with where (may be NULL) before it. */
static int
listener_bind_to(int fd, const struct sockaddr *sa, socklen_t len,
    const char *name, const char *where)
{
	int	 rc;

	if (sa->sa_family == AF_UNIX)
		rc = listener_bind_unix(fd, sa, len);
	else
		rc = bind(fd, sa, len);
	if (rc == 0)
		return 0;
	log_warn("%s%sbind(%s)", where != NULL ? where : "",
	    where != NULL ? ": " : "", name);
	return sa->sa_family == AF_UNIX ? EX_CANTCREAT : EX_UNAVAILABLE;
}

/* The core of listener_tcp() and listener_unix(); errno is the failing
 * call's. */
static int
listener_socket(const struct sockaddr *sa, socklen_t len, int backlog,
    const char *name, const char *where, int *fdp)
{
	int	 fd, status, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_warn("socket(%s)", name);
		return EX_OSERR;
	}
	if ((status = listener_options(fd, sa->sa_family, name)) != 0 ||
	    (status = listener_bind_to(fd, sa, len, name, where)) != 0)
		goto fail;
	if (listen(fd, backlog) == -1) {
		log_warn("listen(%s)", name);
		status = sa->sa_family == AF_UNIX ? EX_CANTCREAT : EX_OSERR;
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	saved = errno;
	if (close(fd) == -1)
		log_warn("close(%s)", name);
	errno = saved;
	return status;
}

int
listener_tcp(struct addr *a, int backlog, const char *name,
    const char *where, int *fdp)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = addr_to_sockaddr(a, a->a_port, &ss);
	int			 fd, status;

	status = listener_socket((struct sockaddr *)&ss, len, backlog, name,
	    where, &fd);
	if (status != 0)
		return status;
	/* Port 0 asks for any: the one it got. */
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		log_warn("getsockname(%s)", name);
		if (close(fd) == -1)
			log_warn("close(%s)", name);
		return EX_OSERR;
	}
	addr_from_sockaddr(a, (struct sockaddr *)&ss, len);
	*fdp = fd;
	return 0;
}

int
listener_unix(const struct sockaddr_un *sun, int backlog, const char *name,
    int *fdp)
{
	int	 status;

	status = listener_socket((const struct sockaddr *)sun, sizeof(*sun),
	    backlog, name, NULL, fdp);
	if (status != 0 && errno == ENOENT)
		log_warnx("%s: its directory does not exist", name);
	return status;
}

/* ---- the sockets workers share --------------------------------------- */

static int
listener_sockaddr(const struct config_listen *cl,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct addr	 a;

	if (addr_parse(&a, cl->cl_address) == 0) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	*len = addr_to_sockaddr(&a, cl->cl_port, ss);
	return 0;
}

/* Name a socket by its bound address. */
void
listener_name(struct listener *l, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct addr	 a;

	addr_from_sockaddr(&a, (const struct sockaddr *)ss, len);
	addr_format(&a, l->l_name, sizeof(l->l_name));
}

/* The listening socket is non-blocking: workers wait in epoll and more
 * than one may race for the same connection. */
static int
listener_bind(struct listener *l)
{
	struct addr	 a;
	char		 name[ADDR_STRLEN];

	if (addr_parse(&a, l->l_conf.cl_address) == 0) {
		errno = EAFNOSUPPORT;
		log_warn("listen %s", l->l_conf.cl_address);
		return -1;
	}
	a.a_port = l->l_conf.cl_port;
	addr_format(&a, name, sizeof(name));
	if (listener_tcp(&a, l->l_conf.cl_backlog, name, NULL, &l->l_fd) != 0)
		return -1;
	addr_format(&a, l->l_name, sizeof(l->l_name));
	log_notice("listening on %s backlog=%d", l->l_name,
	    l->l_conf.cl_backlog);
	return 0;
}

static struct listener *
listener_find(struct listeners *set, const struct config_listen *cl)
{
	if (set == NULL)
		return NULL;
	for (size_t i = 0; i < set->ls_n; i++)
		if (set->ls[i].l_fd != -1 &&
		    config_same_listen(&set->ls[i].l_conf, cl))
			return &set->ls[i];
	return NULL;
}

/* Take over an already bound socket; a changed backlog applies now. */
static int
listener_adopt(struct listener *l, struct listener *from)
{
	if (l->l_conf.cl_backlog != from->l_conf.cl_backlog &&
	    listen(from->l_fd, l->l_conf.cl_backlog) == -1) {
		log_warn("listen %s", from->l_name);
		return -1;
	}
	l->l_fd = from->l_fd;
	l->l_passed = from->l_passed;
	l->l_stored = from->l_stored;
	memcpy(l->l_name, from->l_name, sizeof(l->l_name));
	log_info("keeping %s backlog=%d", l->l_name, l->l_conf.cl_backlog);
	return 0;
}

/*
 * A service whose client speaks first has each connection held by the
 * kernel until its first bytes arrive, for up to the read timeout: a
 * client that connects and says nothing never takes a worker from the
 * pool.  (After that the kernel hands it over anyway, and the worker's
 * own read timeout applies.)  Set when a generation starts serving, never
 * before: a shared socket still serves the running generation, whose
 * service may speak first.
 */
static void
listener_defer(const struct listener *l)
{
	if (setsockopt(l->l_fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &l->l_defer,
	    sizeof(l->l_defer)) == -1)
		log_warn("setsockopt(%s, TCP_DEFER_ACCEPT)", l->l_name);
}

void
listeners_defer(struct listeners *set, const struct config *cfg)
{
	int			 secs = 0;

	if (cfg->c_client_first)
		secs = (int)ceil(cfg->c_timeout_read);
	for (size_t i = 0; i < set->ls_n; i++) {
		set->ls[i].l_defer = secs;
		listener_defer(&set->ls[i]);
	}
}

int
listeners_open(struct listeners *set, const struct config *cfg,
    struct listeners *old)
{
	struct listener	*from[CONFIG_MAX_LISTEN] = { NULL };
	size_t		 i;

	memset(set, 0, sizeof(*set));
	for (i = 0; i < cfg->c_nlisten; i++) {
		struct listener *l = &set->ls[i];

		l->l_fd = -1;
		l->l_conf = cfg->c_listen[i];
		if ((l->l_conf.cl_address = strdup(l->l_conf.cl_address))
		    == NULL) {
			log_warn("strdup");
			goto fail;
		}
		set->ls_n = i + 1;
		if ((from[i] = listener_find(old, &l->l_conf)) != NULL) {
			if (listener_adopt(l, from[i]) == -1)
				goto fail;
			from[i]->l_fd = -1;
		} else if (listener_bind(l) == -1)
			goto fail;
	}
	return 0;
fail:
	/* Hand adopted sockets back; close only those opened here. */
	for (i = 0; i < set->ls_n; i++) {
		if (from[i] != NULL && set->ls[i].l_fd != -1) {
			from[i]->l_fd = set->ls[i].l_fd;
			set->ls[i].l_fd = -1;
		}
	}
	listeners_close(set);
	return -1;
}

void
listeners_close(struct listeners *set)
{
	for (size_t i = 0; i < set->ls_n; i++) {
		if (set->ls[i].l_fd != -1 && close(set->ls[i].l_fd) == -1)
			log_warn("close %s", set->ls[i].l_name);
		set->ls[i].l_fd = -1;
		free(set->ls[i].l_conf.cl_address);
		set->ls[i].l_conf.cl_address = NULL;
	}
	set->ls_n = 0;
}

/*
 * A second set of descriptors for the same sockets.  A reload opens the
 * new generation's set from a copy, so that the running set stays whole
 * until the new generation is ready, and is still whole if it never is.
 */
int
listeners_dup(struct listeners *copy, const struct listeners *set)
{
	memset(copy, 0, sizeof(*copy));
	for (size_t i = 0; i < set->ls_n; i++) {
		struct listener *l = &copy->ls[i];

		*l = set->ls[i];
		l->l_fd = -1;
		if ((l->l_conf.cl_address = strdup(set->ls[i].l_conf.cl_address))
		    == NULL) {
			log_warn("strdup");
			listeners_close(copy);
			return -1;
		}
		copy->ls_n = i + 1;
		if (set->ls[i].l_fd != -1 && (l->l_fd = fcntl(set->ls[i].l_fd,
		    F_DUPFD_CLOEXEC, 0)) == -1) {
			log_warn("fcntl(%s, F_DUPFD_CLOEXEC)", l->l_name);
			listeners_close(copy);
			return -1;
		}
	}
	return 0;
}

/* A reload that was abandoned may have changed a shared socket's
 * backlog: set ours again. */
void
listeners_relisten(const struct listeners *set)
{
	for (size_t i = 0; i < set->ls_n; i++) {
		const struct listener *l = &set->ls[i];

		if (l->l_fd == -1)
			continue;
		if (l->l_conf.cl_backlog >= 0 &&
		    listen(l->l_fd, l->l_conf.cl_backlog) == -1)
			log_warn("listen %s", l->l_name);
		listener_defer(l);
	}
}

int
listener_probe(const char *address)
{
	struct config_listen	 any = { .cl_address = (char *)address };
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, rc, saved;

	if (listener_sockaddr(&any, &ss, &len) == -1)
		return -1;
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = bind(fd, (struct sockaddr *)&ss, len);
	saved = errno;
	if (close(fd) == -1 && rc == 0)
		return -1;
	errno = saved;
	return rc;
}

/* The agent's address too: it is bound by the master, at start. */
static int
listeners_probe_agent(const struct config *cfg, char *err, size_t errsize)
{
	if (cfg->c_agent_address == NULL ||
	    listener_probe(cfg->c_agent_address) == 0)
		return 0;
	snprintf(err, errsize, "%s: agent address %s cannot be bound on this "
	    "host: %s", cfg->c_agent_where, cfg->c_agent_address,
	    strerror(errno));
	return -1;
}

int
listeners_probe(const struct config *cfg, char *err, size_t errsize)
{
	for (size_t i = 0; i < cfg->c_nlisten; i++) {
		const struct config_listen *cl = &cfg->c_listen[i];

		if (listener_probe(cl->cl_address) == -1) {
			snprintf(err, errsize, "%s: listen address %s cannot "
			    "be bound on this host: %s",
			    cfg->c_listen_where[i] != NULL ?
			    cfg->c_listen_where[i] : cfg->c_file,
			    cl->cl_address, strerror(errno));
			return -1;
		}
	}
	return listeners_probe_agent(cfg, err, errsize);
}

/*
 * A socket filter on a listening socket sees each segment from its TCP
 * header on: this one drops a SYN without ACK (a new connection) and lets
 * everything else in, so that handshakes under way complete and join the
 * queue.  The client's SYN goes unanswered and is sent again, by which
 * time the port is closed (refused) or another instance listens on it.
 * (Answering it with a reset at once would take the socket out of LISTEN,
 * which resets the queue too.)
 */
static const struct sock_filter listener_no_syn[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),		/* TCP flags */
	BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),	/* SYN | ACK */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),	/* SYN alone */
	BPF_STMT(BPF_RET | BPF_K, 0),			/* drop */
	BPF_STMT(BPF_RET | BPF_K, 0xffffffff),		/* keep */
};

static int
listener_filter_syn(const struct listener *l)
{
	struct sock_fprog	 prog = {
		.len = sizeof(listener_no_syn) / sizeof(listener_no_syn[0]),
		.filter = (struct sock_filter *)listener_no_syn,
	};

	return setsockopt(l->l_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof(prog));
}

/* The minimum TTL (IPv4) or hop limit (IPv6) of what a socket takes in. */
static int
listener_set_hop_limit(int fd, int family, int limit)
{
	if (family == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, &limit,
		    sizeof(limit));
	return setsockopt(fd, IPPROTO_IP, IP_MINTTL, &limit, sizeof(limit));
}

/*
 * The same, for a process without CAP_NET_ADMIN, which the kernel asks of
 * whoever filters a TCP socket (a service manager's dynamic user has
 * none): the socket takes in only segments that arrive with a TTL or hop
 * limit of 255, so a new SYN is dropped as the filter drops it, unless its
 * client is one hop away and sends with 255.  A handshake under way still
 * completes: its ACK goes to its request socket, not to the listening
 * one.  The connection made from it inherits the limit, and its worker
 * lowers it (listener_clear_hop_limit()).
 */
static int
listener_limit_hops(const struct listener *l)
{
	socklen_t	 len = sizeof(int);
	int		 family;

	if (getsockopt(l->l_fd, SOL_SOCKET, SO_DOMAIN, &family, &len) == -1)
		return -1;
	return listener_set_hop_limit(l->l_fd, family, 255);
}

void
listeners_stop_new(const struct listeners *set)
{
	for (size_t i = 0; i < set->ls_n; i++) {
		const struct listener *l = &set->ls[i];
		int		 filter_errno;

		if (l->l_fd == -1 || l->l_passed || l->l_stored ||
		    listener_filter_syn(l) == 0)
			continue;
		filter_errno = errno;
		if (listener_limit_hops(l) == 0) {
			log_info("%s: new connections dropped by hop limit, "
			    "no socket filter (%s)", l->l_name,
			    strerror(filter_errno));
			continue;
		}
		/* Neither: the queue would never empty under load.  Stop
		 * accepting the old way, resetting it. */
		log_warn("%s: no socket filter (%s), no hop limit; shutting "
		    "it down", l->l_name, strerror(filter_errno));
		if (shutdown(l->l_fd, SHUT_RD) == -1)
			log_warn("shutdown(%s)", l->l_name);
	}
}

void
listener_clear_hop_limit(int fd, int family)
{
	if (listener_set_hop_limit(fd, family, 0) == -1)
		log_warn("setsockopt(%s)", family == AF_INET6 ?
		    "IPV6_MINHOPCOUNT" : "IP_MINTTL");
}

/* Connections waiting in l's accept queue; 0 when it cannot tell. */
static unsigned
listener_queued(const struct listener *l)
{
	static struct log_limit	 limit;
	struct tcp_info		 ti;
	socklen_t		 len = sizeof(ti);
	unsigned long		 held;

	if (l->l_fd == -1)
		return 0;
	memset(&ti, 0, sizeof(ti));
	/* On a listening socket, tcpi_unacked is the length of its accept
	 * queue (and tcpi_sacked the backlog). */
	if (getsockopt(l->l_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1) {
		if (log_limit_allow(&limit, &held))
			log_warn("getsockopt(%s, TCP_INFO)", l->l_name);
		return 0;
	}
	return ti.tcpi_unacked;
}

unsigned
listeners_queued(const struct listeners *set)
{
	unsigned	 n = 0;

	for (size_t i = 0; i < set->ls_n; i++)
		n += listener_queued(&set->ls[i]);
	return n;
}

unsigned
listener_stop_share(const struct listener *l)
{
	if (l->l_passed)
		return 0;
	if (l->l_stored)
		return listener_queued(l);
	return LISTENER_SHARE_ALL;
}
