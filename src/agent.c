/*
 * agent.c - the agent-check port (see agent.h for what it answers).
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "generation.h"
#include "log.h"
#include "status.h"

/* A checker connects every few seconds: a short backlog is plenty. */
#define AGENT_BACKLOG	16

void
agent_init(struct agent *ag)
{
	memset(ag, 0, sizeof(*ag));
	ag->ag_fd = -1;
	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		ag->ag_client[i].ac_fd = -1;
}

static int
agent_listen(struct agent *ag, const struct config *cfg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, one = 1;

	if (addr_parse(&ag->ag_addr, cfg->c_agent_address) == 0) {
		log_warnx("agent.address \"%s\" is not an address",
		    cfg->c_agent_address);
		return EX_CONFIG;
	}
	ag->ag_addr.a_port = cfg->c_agent_port;
	addr_format(&ag->ag_addr, ag->ag_name, sizeof(ag->ag_name));
	len = addr_to_sockaddr(&ag->ag_addr, ag->ag_addr.a_port, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_warn("socket(agent %s)", ag->ag_name);
		return EX_OSERR;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		log_warn("setsockopt(agent %s, SO_REUSEADDR)", ag->ag_name);
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		log_warn("setsockopt(agent %s, IPV6_V6ONLY)", ag->ag_name);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		log_warn("bind(agent %s)", ag->ag_name);
		close(fd);
		return EX_UNAVAILABLE;
	}
	if (listen(fd, AGENT_BACKLOG) == -1) {
		log_warn("listen(agent %s)", ag->ag_name);
		close(fd);
		return EX_OSERR;
	}
	ag->ag_fd = fd;
	return 0;
}

int
agent_open(struct agent *ag, const struct config *cfg)
{
	int	 status;

	if (cfg->c_agent_address == NULL)
		return 0;
	if ((status = agent_listen(ag, cfg)) != 0)
		return status;
	log_info("agent check on %s", ag->ag_name);
	return 0;
}

static void
agent_drop(struct agent_client *ac)
{
	if (ac->ac_fd != -1 && close(ac->ac_fd) == -1)
		log_warn("close(agent client)");
	ac->ac_fd = -1;
}

void
agent_close(struct agent *ag)
{
	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		agent_drop(&ag->ag_client[i]);
	if (ag->ag_fd != -1 && close(ag->ag_fd) == -1)
		log_warn("close(agent %s)", ag->ag_name);
	ag->ag_fd = -1;
}

static bool
agent_same(const struct agent *ag, const struct config *cfg)
{
	struct addr	 a;

	if (ag->ag_fd == -1 || cfg->c_agent_address == NULL)
		return ag->ag_fd == -1 && cfg->c_agent_address == NULL;
	if (addr_parse(&a, cfg->c_agent_address) == 0)
		return false;
	a.a_port = cfg->c_agent_port;
	return memcmp(&a, &ag->ag_addr, sizeof(a)) == 0;
}

void
agent_reconfigure(struct agent *ag, const struct config *cfg)
{
	struct agent	 fresh;

	if (agent_same(ag, cfg))
		return;
	agent_init(&fresh);
	if (cfg->c_agent_address != NULL && agent_listen(&fresh, cfg) != 0) {
		log_warnx("agent check stays on %s", ag->ag_fd != -1 ?
		    ag->ag_name : "(none)");
		return;
	}
	/* The old clients are answered already: let them go. */
	agent_close(ag);
	*ag = fresh;
	if (ag->ag_fd != -1)
		log_info("agent check on %s", ag->ag_name);
	else
		log_info("agent check off");
}

size_t
agent_pollfds(const struct agent *ag, struct pollfd *pfd)
{
	size_t	 n = 0, used = 0;

	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		if (ag->ag_client[i].ac_fd != -1) {
			pfd[n++] = (struct pollfd){
			    .fd = ag->ag_client[i].ac_fd, .events = POLLIN };
			used++;
		}
	/* Full: new checkers wait in the backlog. */
	if (ag->ag_fd != -1 && used < AGENT_CLIENTS)
		pfd[n++] = (struct pollfd){ .fd = ag->ag_fd, .events = POLLIN };
	return n;
}

/* Whatever the checker sends is not needed: read it until it closes,
 * so that our close is a FIN, not a reset that could beat our line. */
static void
agent_read(struct agent_client *ac)
{
	char	 buf[512];
	ssize_t	 n;

	while ((n = recv(ac->ac_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		agent_drop(ac);
}

static struct agent_client *
agent_free_place(struct agent *ag)
{
	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		if (ag->ag_client[i].ac_fd == -1)
			return &ag->ag_client[i];
	return NULL;
}

/* One checker: the line now, then its side until it closes. */
static void
agent_accept(struct master *m, struct agent *ag)
{
	struct agent_client	*ac;
	unsigned long		 held;
	char			 line[AGENT_LINE_MAX];
	size_t			 len;
	int			 fd;

	while ((ac = agent_free_place(ag)) != NULL) {
		fd = accept4(ag->ag_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR &&
			    log_limit_allow(&ag->ag_error_log, &held))
				log_warn("accept(agent %s) (%lu more "
				    "suppressed)", ag->ag_name, held);
			return;
		}
		len = status_agent(m, line, sizeof(line));
		if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
		    (ssize_t)len || shutdown(fd, SHUT_WR) == -1) {
			close(fd);
			continue;
		}
		ac->ac_fd = fd;
		ac->ac_deadline = clock_after(clock_now(), AGENT_DEADLINE);
	}
}

void
agent_handle(struct master *m, const struct pollfd *pfd, size_t n)
{
	struct agent	*ag = &m->m_agent;
	bool		 listening = false;

	for (size_t i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == ag->ag_fd) {
			listening = true;
			continue;
		}
		for (size_t k = 0; k < AGENT_CLIENTS; k++)
			if (ag->ag_client[k].ac_fd == pfd[i].fd)
				agent_read(&ag->ag_client[k]);
	}
	if (listening)
		agent_accept(m, ag);
}

bool
agent_next_deadline(const struct agent *ag, struct timespec *t)
{
	bool	 any = false;

	for (size_t i = 0; i < AGENT_CLIENTS; i++) {
		const struct agent_client *ac = &ag->ag_client[i];

		if (ac->ac_fd != -1 && (!any ||
		    clock_diff(ac->ac_deadline, *t) > 0)) {
			*t = ac->ac_deadline;
			any = true;
		}
	}
	return any;
}

void
agent_expire(struct agent *ag, struct timespec now)
{
	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		if (ag->ag_client[i].ac_fd != -1 &&
		    clock_diff(now, ag->ag_client[i].ac_deadline) <= 0)
			agent_drop(&ag->ag_client[i]);
}

size_t
agent_fds(const struct agent *ag, int *fds)
{
	size_t	 n = 0;

	if (ag->ag_fd != -1)
		fds[n++] = ag->ag_fd;
	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		if (ag->ag_client[i].ac_fd != -1)
			fds[n++] = ag->ag_client[i].ac_fd;
	return n;
}
