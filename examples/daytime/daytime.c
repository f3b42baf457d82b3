/* SPDX-License-Identifier: ISC */
/*
 * daytime.c - an example preforkd service module: the daytime protocol
 * (RFC 867) over TCP, one line.  The server speaks first: it sends the
 * time as a line and closes; whatever the client sends is ignored.
 *
 * Its configuration group, all optional:
 *
 *	daytime = {
 *		format = "%Y-%m-%dT%H:%M:%SZ";	# strftime(3), at most 64 bytes
 *		utc = true;			# or local time
 *		log = false;			# a line per connection
 *	};
 *
 * Build it with the Makefile beside it, against an installed preforkd:
 * it needs nothing but <preforkd/service.h>.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <preforkd/service.h>

#define DAYTIME_FORMAT_MAX	64
#define DAYTIME_LINE_MAX	256

struct daytime_config {
	char	*dc_format;
	bool	 dc_utc;
	bool	 dc_log;
};

/* Lines a second this worker may log: in all, and per client address.
 * A client can connect as fast as it likes; the log must not follow. */
#define DAYTIME_LOG_ALL		100
#define DAYTIME_LOG_SOURCE	10

static const char *const daytime_keys[] = { "format", "utc", "log", NULL };

/* Now, in the configured format, with CRLF; 0 if it gives nothing. */
static size_t
daytime_format(const struct daytime_config *dc, char *line, size_t size)
{
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 n;

	if ((dc->dc_utc ? gmtime_r(&now, &tm) : localtime_r(&now, &tm)) ==
	    NULL)
		return 0;
	if ((n = strftime(line, size - 2, dc->dc_format, &tm)) == 0)
		return 0;
	memcpy(line + n, "\r\n", 2);
	return n + 2;
}

static void
daytime_unconfigure(void *config)
{
	struct daytime_config	*dc = config;

	free(dc->dc_format);
	free(dc);
}

/*
 * Read and check the group.  Errors go through the api, which puts the
 * file and line in front: "FILE:LINE: daytime.format ...".
 */
static int
daytime_configure(const struct preforkd_api *api, struct preforkd_conf *conf,
    void **config)
{
	struct daytime_config	*dc;
	char			 line[DAYTIME_LINE_MAX];

	if ((dc = calloc(1, sizeof(*dc))) == NULL ||
	    (dc->dc_format = strdup("%Y-%m-%dT%H:%M:%SZ")) == NULL) {
		free(dc);
		return api->conf_error(conf, NULL, "daytime: %s",
		    strerror(errno));
	}
	dc->dc_utc = true;
	*config = dc;		/* freed by daytime_unconfigure, even now */
	if (api->conf_keys(conf, daytime_keys) == -1 ||
	    api->conf_string(conf, "format", DAYTIME_FORMAT_MAX,
	    &dc->dc_format) == -1 ||
	    api->conf_bool(conf, "utc", &dc->dc_utc) == -1 ||
	    api->conf_bool(conf, "log", &dc->dc_log) == -1)
		return -1;
	if (daytime_format(dc, line, sizeof(line)) == 0)
		return api->conf_error(conf, "format", "daytime.format \"%s\" "
		    "gives an empty line", dc->dc_format);
	return 0;
}

/* Per worker: the log budget. */
static int
daytime_init(const struct preforkd_api *api, void *config, void **worker)
{
	(void)config;
	if ((*worker = api->budget_new(DAYTIME_LOG_ALL,
	    DAYTIME_LOG_SOURCE)) == NULL) {
		api->log_errno("daytime: budget");
		return -1;
	}
	return 0;
}

static void
daytime_fini(const struct preforkd_api *api, void *config, void *worker)
{
	(void)config;
	api->budget_free(worker);
}

static void
daytime_serve(const struct preforkd_api *api, struct preforkd_conn *c,
    void *config, void *worker)
{
	const struct daytime_config	*dc = config;
	struct timespec			 deadline;
	char				 line[DAYTIME_LINE_MAX], more[64] = "";
	unsigned long			 held;
	size_t				 n;
	int				 rc;

	if ((n = daytime_format(dc, line, sizeof(line))) == 0)
		return;
	deadline = api->deadline(c, PREFORKD_TIMEOUT_WRITE);
	rc = api->write(c, line, n, &deadline);
	if (!dc->dc_log || !api->log_enabled(LOG_INFO) ||
	    !api->budget_allow(worker, c, &held))
		return;
	if (held > 0)
		snprintf(more, sizeof(more), " (%lu more suppressed)", held);
	if (rc == -1)
		api->log(LOG_INFO, "daytime peer=%s: %s%s", api->peer(c),
		    strerror(errno), more);
	else
		api->log(LOG_INFO, "daytime peer=%s sent=%zu%s", api->peer(c),
		    n, more);
}

PREFORKD_EXPORT const struct preforkd_service preforkd_service = {
	.ps_abi = PREFORKD_SERVICE_ABI,
	.ps_name = "daytime",
	.ps_configure = daytime_configure,
	.ps_unconfigure = daytime_unconfigure,
	.ps_init = daytime_init,
	.ps_serve = daytime_serve,
	.ps_fini = daytime_fini,
};
