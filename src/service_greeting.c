/* SPDX-License-Identifier: ISC */
/*
 * service_greeting.c - the greeting protocol, byte-compatible with the
 * original study server and client:
 *
 *   server: banner + one NUL byte (the seed sends strlen + 1)
 *   client: one message ending at NUL or LF, or at EOF
 *   server: logs the message, escaped, and closes.
 *
 * The whole message must arrive before timeouts.read runs out, counted
 * from the end of the banner; bytes past greeting.max_message are
 * counted but not kept.
 *
 * Built in, but written against <preforkd/service.h> alone, as a module
 * would be: everything it does with the daemon goes through the api.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <preforkd/service.h>

#include "greeting.h"

/*
 * The room a message has in its log line: the longest line less the
 * prefix and the other fields, which take well under 1 KiB.  A longer
 * message is logged cut at a whole escape, with truncated=yes, so that its
 * quotes always close.  It also keeps the line under rsyslog's default
 * 8 KiB.
 */
#define GREETING_LOG_ROOM	(PREFORKD_LOG_LINE_MAX - 1024)

/*
 * Every message is logged, as the protocol says, up to a budget no client
 * can exceed: GREETING_LOG_SOURCE lines a second per source and worker,
 * GREETING_LOG_ALL in all.  Beyond it the lines are counted, and the count
 * is on the next line let through.  A connection that failed on the
 * client's side (a reset, a vanished peer, a close without a word) is a
 * fault: any client can cause these at will, so their budget is small.
 */
#define GREETING_LOG_SOURCE	200
#define GREETING_LOG_ALL	1000
#define GREETING_FAULT_SOURCE	2
#define GREETING_FAULT_ALL	10

/* One worker's. */
struct greeting_worker {
	char			*gw_text;	/* received message */
	char			*gw_escaped;	/* the same, fit for a log line */
	size_t			 gw_escaped_size;
	size_t			 gw_banner_len;	/* including the NUL */
	struct preforkd_budget	*gw_messages;
	struct preforkd_budget	*gw_faults;
};

void
greeting_msg_init(struct greeting_msg *m, char *buf, size_t max)
{
	memset(m, 0, sizeof(*m));
	m->gm_buf = buf;
	m->gm_max = max;
	buf[0] = '\0';
}

size_t
greeting_msg_feed(struct greeting_msg *m, const void *data, size_t n)
{
	const unsigned char	*p = data;
	size_t			 i;

	for (i = 0; i < n && !m->gm_done; i++) {
		unsigned char c = p[i];

		if (c == '\0' || c == '\n') {
			if (c == '\n' && m->gm_cr) {
				/* Drop the CR of a CRLF ending. */
				if (m->gm_len == m->gm_total)
					m->gm_len--;
				m->gm_total--;
			}
			m->gm_done = true;
		} else {
			if (m->gm_len < m->gm_max)
				m->gm_buf[m->gm_len++] = (char)c;
			m->gm_total++;
			m->gm_cr = c == '\r';
		}
	}
	m->gm_buf[m->gm_len] = '\0';
	return i;
}

bool
greeting_msg_truncated(const struct greeting_msg *m)
{
	return m->gm_total > m->gm_len;
}

static const char *const greeting_keys[] = { "banner", "max_message",
	NULL };

static void
greeting_unconfigure(void *config)
{
	struct greeting_config	*gc = config;

	if (gc == NULL)
		return;
	free(gc->gc_banner);
	free(gc);
}

static int
greeting_configure(const struct preforkd_api *api, struct preforkd_conf *conf,
    void **config)
{
	struct greeting_config	*gc;
	long long		 v = 256;

	if ((gc = calloc(1, sizeof(*gc))) == NULL ||
	    (gc->gc_banner = strdup("Welcome to Network Server!!")) == NULL) {
		free(gc);
		return api->conf_error(conf, NULL, "greeting: %s",
		    strerror(errno));
	}
	*config = gc;
	if (api->conf_keys(conf, greeting_keys) == -1 ||
	    api->conf_string(conf, "banner", GREETING_MAX_BANNER,
	    &gc->gc_banner) == -1 ||
	    api->conf_int(conf, "max_message", 1, GREETING_MAX_MESSAGE,
	    &v) == -1)
		return -1;
	gc->gc_max_message = (size_t)v;
	return 0;
}

static void
greeting_fini(const struct preforkd_api *api, void *config, void *worker)
{
	struct greeting_worker	*gw = worker;

	if (gw == NULL)
		return;
	free(gw->gw_text);
	free(gw->gw_escaped);
	api->budget_free(gw->gw_messages);
	api->budget_free(gw->gw_faults);
	free(gw);
}

static int
greeting_init(const struct preforkd_api *api, void *config, void **worker)
{
	const struct greeting_config	*gc = config;
	struct greeting_worker		*gw;

	if ((gw = calloc(1, sizeof(*gw))) == NULL) {
		api->log_errno("greeting: calloc");
		return -1;
	}
	*worker = gw;
	gw->gw_banner_len = strlen(gc->gc_banner) + 1;
	gw->gw_text = malloc(gc->gc_max_message + 1);
	gw->gw_escaped_size = PREFORKD_ESCAPE_MAX(gc->gc_max_message);
	if (gw->gw_escaped_size > GREETING_LOG_ROOM)
		gw->gw_escaped_size = GREETING_LOG_ROOM;
	gw->gw_escaped = malloc(gw->gw_escaped_size);
	gw->gw_messages = api->budget_new(GREETING_LOG_ALL,
	    GREETING_LOG_SOURCE);
	gw->gw_faults = api->budget_new(GREETING_FAULT_ALL,
	    GREETING_FAULT_SOURCE);
	if (gw->gw_text == NULL || gw->gw_escaped == NULL ||
	    gw->gw_messages == NULL || gw->gw_faults == NULL) {
		api->log_errno("greeting: malloc");
		return -1;
	}
	return 0;
}

static void
greeting_log(const struct preforkd_api *api, struct preforkd_conn *c,
    struct greeting_worker *gw, const struct greeting_msg *m,
    const char *ending)
{
	unsigned long	 held;
	char		 more[64] = "";
	size_t		 kept;

	if (!api->log_enabled(LOG_INFO) ||
	    !api->budget_allow(gw->gw_messages, c, &held))
		return;
	if (held > 0)
		snprintf(more, sizeof(more), " (%lu more suppressed)", held);
	api->escape(gw->gw_escaped, gw->gw_escaped_size, m->gm_buf,
	    m->gm_len, &kept);
	api->log(LOG_INFO, "message peer=%s bytes=%zu%s%s msg=\"%s\"%s",
	    api->peer(c), m->gm_total, greeting_msg_truncated(m) ||
	    kept < m->gm_len ? " truncated=yes" : "", ending, gw->gw_escaped,
	    more);
}

/* A connection that failed on the client's side; errno says how (0: a
 * close without a word). */
static void
greeting_fault(const struct preforkd_api *api, struct preforkd_conn *c,
    struct greeting_worker *gw, const char *what, size_t bytes)
{
	unsigned long	 held;
	int		 error = errno;
	const char	*why;

	if (!api->log_enabled(LOG_INFO) ||
	    !api->budget_allow(gw->gw_faults, c, &held))
		return;
	why = error == ETIMEDOUT ? "deadline passed" : error == 0 ?
	    "closed" : strerror(error);
	if (held > 0)
		api->log(LOG_INFO, "%s peer=%s bytes=%zu: %s (%lu more "
		    "suppressed)", what, api->peer(c), bytes, why, held);
	else
		api->log(LOG_INFO, "%s peer=%s bytes=%zu: %s", what,
		    api->peer(c), bytes, why);
}

static void
greeting_serve(const struct preforkd_api *api, struct preforkd_conn *c,
    void *config, void *worker)
{
	const struct greeting_config	*gc = config;
	struct greeting_worker		*gw = worker;
	struct greeting_msg		 m;
	struct timespec			 deadline;
	char				 chunk[4096];
	ssize_t				 n = 0;
	bool				 first = true;

	deadline = api->deadline(c, PREFORKD_TIMEOUT_WRITE);
	if (api->write(c, gc->gc_banner, gw->gw_banner_len, &deadline) == -1) {
		greeting_fault(api, c, gw, "banner not delivered", 0);
		return;
	}

	greeting_msg_init(&m, gw->gw_text, gc->gc_max_message);
	deadline = api->deadline(c, PREFORKD_TIMEOUT_READ);
	while (!m.gm_done) {
		/* Bytes after the terminator in the same read go with it:
		 * the study client sends its whole 257-byte buffer at once,
		 * and nothing left unread turns our close into a reset.
		 * The first read is for an answer to the banner. */
		n = first ? api->read_reply(c, chunk, sizeof(chunk),
		    &deadline) : api->read(c, chunk, sizeof(chunk), &deadline);
		first = false;
		if (n <= 0)
			break;
		greeting_msg_feed(&m, chunk, (size_t)n);
	}
	if (m.gm_done)
		greeting_log(api, c, gw, &m, "");
	else if (m.gm_total == 0 && (n == 0 || errno == ETIMEDOUT)) {
		/* Not a message: a port scan, a health check, a silent
		 * client timed out or shed, a flood. */
		if (n == 0)
			errno = 0;
		greeting_fault(api, c, gw, "no message", 0);
	} else if (n == 0)
		greeting_log(api, c, gw, &m, " end=eof");
	else if (errno == ETIMEDOUT)
		greeting_log(api, c, gw, &m, " end=timeout");
	else
		greeting_fault(api, c, gw, "message lost", m.gm_total);
}

const struct preforkd_service service_greeting = {
	.ps_abi = PREFORKD_SERVICE_ABI,
	.ps_name = "greeting",
	.ps_configure = greeting_configure,
	.ps_unconfigure = greeting_unconfigure,
	.ps_init = greeting_init,
	.ps_serve = greeting_serve,
	.ps_fini = greeting_fini,
};
