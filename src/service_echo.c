/* SPDX-License-Identifier: ISC */
/*
 * service_echo.c - RFC 862 echo over TCP: every byte back until EOF or
 * timeouts.read of silence.  One fixed buffer, so a stream of any length
 * runs in constant memory; a slow reader is bounded by timeouts.write, and
 * a dribbler, one byte just inside each read timeout, by
 * timeouts.connection (the daemon's connection deadline).
 *
 * Built in, but written against <preforkd/service.h> alone.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <preforkd/service.h>

#define ECHO_BUFSIZE	(64 * 1024)
/* Lines a second, per source and in all, per worker. */
#define ECHO_LOG_SOURCE	200
#define ECHO_LOG_ALL	1000

struct echo_worker {
	char			*ew_buf;
	struct preforkd_budget	*ew_log;
};

static void
echo_fini(const struct preforkd_api *api, void *config, void *worker)
{
	struct echo_worker	*ew = worker;

	if (ew == NULL)
		return;
	free(ew->ew_buf);
	api->budget_free(ew->ew_log);
	free(ew);
}

static int
echo_init(const struct preforkd_api *api, void *config, void **worker)
{
	struct echo_worker	*ew;

	if ((ew = calloc(1, sizeof(*ew))) == NULL) {
		api->log_errno("echo: calloc");
		return -1;
	}
	*worker = ew;
	if ((ew->ew_buf = malloc(ECHO_BUFSIZE)) == NULL ||
	    (ew->ew_log = api->budget_new(ECHO_LOG_ALL, ECHO_LOG_SOURCE)) ==
	    NULL) {
		api->log_errno("echo: malloc");
		return -1;
	}
	return 0;
}

static void
echo_serve(const struct preforkd_api *api, struct preforkd_conn *c,
    void *config, void *worker)
{
	struct echo_worker	*ew = worker;
	struct timespec		 idle, deadline;
	unsigned long long	 total = 0;
	unsigned long		 held;
	char			 more[64] = "";
	const char		*why = "eof";
	ssize_t			 n;

	for (;;) {
		idle = api->deadline(c, PREFORKD_TIMEOUT_READ);
		if ((n = api->read(c, ew->ew_buf, ECHO_BUFSIZE, &idle)) <= 0)
			break;
		deadline = api->deadline(c, PREFORKD_TIMEOUT_WRITE);
		if (api->write(c, ew->ew_buf, (size_t)n, &deadline) == -1)
			break;
		total += (unsigned long long)n;
	}
	if (n == -1)
		why = errno == ETIMEDOUT ? "timeout" : strerror(errno);
	else if (n > 0)
		why = errno == ETIMEDOUT ? "write timeout" : strerror(errno);
	if (!api->log_enabled(LOG_INFO) ||
	    !api->budget_allow(ew->ew_log, c, &held))
		return;
	if (held > 0)
		snprintf(more, sizeof(more), " (%lu more suppressed)", held);
	api->log(LOG_INFO, "echo done peer=%s bytes=%llu end=%s%s",
	    api->peer(c), total, why, more);
}

const struct preforkd_service service_echo = {
	.ps_abi = PREFORKD_SERVICE_ABI,
	.ps_name = "echo",
	.ps_flags = PREFORKD_CLIENT_FIRST,
	.ps_init = echo_init,
	.ps_serve = echo_serve,
	.ps_fini = echo_fini,
};
