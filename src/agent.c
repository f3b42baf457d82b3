/* SPDX-License-Identifier: ISC */
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
		log_warn("%s: bind(agent %s)", cfg->c_agent_where != NULL ?
		    cfg->c_agent_where : cfg->c_file, ag->ag_name);
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

int
agent_prepare(const struct agent *ag, struct agent *fresh,
    const struct config *cfg)
{
	agent_init(fresh);
	if (cfg->c_agent_address == NULL || agent_same(ag, cfg))
		return 0;
	return agent_listen(fresh, cfg) == 0 ? 0 : -1;
}

void
agent_commit(struct agent *ag, struct agent *fresh, const struct config *cfg)
{
	if (fresh->ag_fd != -1) {
		/* The old clients are answered already: let them go. */
		agent_close(ag);
		*ag = *fresh;
		agent_init(fresh);
		log_info("agent check on %s", ag->ag_name);
	} else if (cfg->c_agent_address == NULL && ag->ag_fd != -1) {
		agent_close(ag);
		log_info("agent check off");
	}
}

bool
agent_hold(struct agent *ag)
{
	ag->ag_held = true;
	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		if (ag->ag_client[i].ac_fd != -1)
			return false;
	return true;
}

void
agent_release(struct agent *ag)
{
	ag->ag_held = false;
}

void
agent_adopt(struct agent *ag, int fd, const struct addr *a)
{
	ag->ag_fd = fd;
	ag->ag_addr = *a;
	addr_format(&ag->ag_addr, ag->ag_name, sizeof(ag->ag_name));
	log_info("agent check kept across the upgrade %s", ag->ag_name);
}

size_t
agent_pollfds(const struct agent *ag, struct pollfd *pfd)
{
	size_t	 n = 0;

	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		if (ag->ag_client[i].ac_fd != -1)
			pfd[n++] = (struct pollfd){
			    .fd = ag->ag_client[i].ac_fd, .events = POLLIN };
	if (ag->ag_fd != -1 && !ag->ag_held &&
	    clock_diff(ag->ag_paused_until, clock_now()) >= 0)
		pfd[n++] = (struct pollfd){ .fd = ag->ag_fd, .events = POLLIN };
	return n;
}

/* Whatever the checker sends is not needed, but is read, so that our
 * close is a FIN, not a reset that could beat our line: one buffer per
 * wake-up (the loop has others to serve), AGENT_INPUT_MAX in all. */
static void
agent_read(struct agent_client *ac)
{
	char	 buf[1024];
	ssize_t	 n;

	n = recv(ac->ac_fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0 && (ac->ac_got += (size_t)n) <= AGENT_INPUT_MAX)
		return;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	agent_drop(ac);
}

/* A free place, or the oldest checker's: it has had its line. */
static struct agent_client *
agent_place(struct agent *ag)
{
	struct agent_client	*oldest = &ag->ag_client[0];

	for (size_t i = 0; i < AGENT_CLIENTS; i++) {
		if (ag->ag_client[i].ac_fd == -1)
			return &ag->ag_client[i];
		if (clock_diff(ag->ag_client[i].ac_deadline,
		    oldest->ac_deadline) > 0)
			oldest = &ag->ag_client[i];
	}
	agent_drop(oldest);
	return oldest;
}

/* accept() failed: out of descriptors or memory pauses the port (it
 * would be readable at every turn of the loop); the rest is a client's. */
static void
agent_accept_failed(struct agent *ag, int error)
{
	unsigned long	 held;

	if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR ||
	    error == ECONNABORTED)
		return;
	if (log_limit_allow(&ag->ag_error_log, &held)) {
		errno = error;
		log_warn("accept(agent %s) (%lu more suppressed)",
		    ag->ag_name, held);
	}
	if (error == EMFILE || error == ENFILE || error == ENOBUFS ||
	    error == ENOMEM)
		ag->ag_paused_until = clock_after(clock_now(), AGENT_PAUSE);
}

/* Checkers: the line now, then their side until they close.  A burst
 * is bounded by the places: the rest waits for the next turn. */
static void
agent_accept(struct agent *ag, const struct status_facts *f)
{
	struct agent_client	*ac;
	char			 line[AGENT_LINE_MAX];
	size_t			 len;
	int			 fd;

	for (size_t k = 0; k < AGENT_CLIENTS; k++) {
		fd = accept4(ag->ag_fd, NULL, NULL, SOCK_NONBLOCK |
		    SOCK_CLOEXEC);
		if (fd == -1) {
			agent_accept_failed(ag, errno);
			return;
		}
		len = status_agent(f, line, sizeof(line));
		if (send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
		    (ssize_t)len || shutdown(fd, SHUT_WR) == -1) {
			close(fd);
			continue;
		}
		ac = agent_place(ag);
		ac->ac_fd = fd;
		ac->ac_got = 0;
		ac->ac_deadline = clock_after(clock_now(), AGENT_LINGER);
	}
}

void
agent_handle(struct agent *ag, const struct status_facts *f,
    const struct pollfd *pfd, size_t n)
{
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
		agent_accept(ag, f);
}

bool
agent_next_deadline(const struct agent *ag, struct timespec *t)
{
	bool	 any = false;

	if (ag->ag_fd != -1 &&
	    clock_diff(clock_now(), ag->ag_paused_until) > 0) {
		*t = ag->ag_paused_until;
		any = true;
	}
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
