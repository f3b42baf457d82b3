/*
 * service_echo.c - RFC 862 echo over TCP: every byte back until EOF or
 * timeouts.read of silence.  One fixed buffer, so a stream of any length
 * runs in constant memory; a slow reader is bounded by timeouts.write, and
 * a dribbler, one byte just inside each read timeout, by
 * timeouts.connection (conn.c).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "loglimit.h"
#include "service.h"

#define ECHO_BUFSIZE	(64 * 1024)
/* Lines a second, per source and in all, per worker (loglimit.h). */
#define ECHO_LOG_SOURCE	200
#define ECHO_LOG_ALL	1000

static char	*echo_buf;

static int
echo_init(const struct config *cfg)
{
	(void)cfg;
	if ((echo_buf = malloc(ECHO_BUFSIZE)) == NULL) {
		log_warn("echo: malloc");
		return -1;
	}
	return 0;
}

static void
echo_fini(void)
{
	free(echo_buf);
	echo_buf = NULL;
}

static void
echo_serve(struct conn *c, const struct config *cfg)
{
	struct timespec	 idle, deadline;
	unsigned long long total = 0;
	static struct log_sources limit;
	unsigned long	 held;
	char		 more[64] = "";
	const char	*why = "eof";
	ssize_t		 n;

	for (;;) {
		idle = clock_after(clock_now(), cfg->c_timeout_read);
		if ((n = conn_read(c, echo_buf, ECHO_BUFSIZE, &idle)) <= 0)
			break;
		deadline = clock_after(clock_now(), cfg->c_timeout_write);
		if (conn_write(c, echo_buf, (size_t)n, &deadline) == -1)
			break;
		total += (unsigned long long)n;
	}
	if (n == -1)
		why = errno == ETIMEDOUT ? "timeout" : strerror(errno);
	else if (n > 0)
		why = errno == ETIMEDOUT ? "write timeout" : strerror(errno);
	if (!log_enabled(LOG_INFO) || !log_limit_source(&limit, ECHO_LOG_ALL,
	    ECHO_LOG_SOURCE, &c->cn_addr, &held))
		return;
	if (held > 0)
		snprintf(more, sizeof(more), " (%lu more suppressed)", held);
	log_info("echo done peer=%s bytes=%llu end=%s%s", conn_peer(c), total,
	    why, more);
}

const struct service service_echo = {
	.sv_name = "echo",
	.sv_client_first = true,
	.sv_init = echo_init,
	.sv_serve = echo_serve,
	.sv_fini = echo_fini,
};
