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
#include "escape.h"
#include "log.h"
#include "loglimit.h"
#include "service.h"

/*
 * The room a message has in its log line: log.c's line less the prefix
 * and the other fields, which take well under 1 KiB.  A longer message is
 * logged cut at a whole escape, with truncated=yes, so that its quotes
 * always close.  It also keeps the line under rsyslog's default 8 KiB.
 */
#define GREETING_LOG_ROOM	(LOG_LINE_MAX - 1024)

static char	*greeting_text;		/* received message */
static char	*greeting_escaped;	/* the same, fit for a log line */
static size_t	 greeting_escaped_size;
static size_t	 greeting_banner_len;	/* including the NUL */

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

static int
greeting_init(const struct config *cfg)
{
	greeting_banner_len = strlen(cfg->c_banner) + 1;
	greeting_text = malloc(cfg->c_max_message + 1);
	greeting_escaped_size = ESCAPE_MAX(cfg->c_max_message);
	if (greeting_escaped_size > GREETING_LOG_ROOM)
		greeting_escaped_size = GREETING_LOG_ROOM;
	greeting_escaped = malloc(greeting_escaped_size);
	if (greeting_text == NULL || greeting_escaped == NULL) {
		log_warn("greeting: malloc");
		return -1;
	}
	return 0;
}

static void
greeting_fini(void)
{
	free(greeting_text);
	free(greeting_escaped);
	greeting_text = greeting_escaped = NULL;
}

/*
 * Every message is logged, as the protocol says, up to a budget no client
 * can exceed: GREETING_LOG_SOURCE lines a second per source and worker,
 * GREETING_LOG_ALL in all.  Beyond it the lines are counted, and the count
 * is on the next line let through.
 */
#define GREETING_LOG_SOURCE	200
#define GREETING_LOG_ALL	1000

static void
greeting_log(struct conn *c, const struct greeting_msg *m,
    const char *ending)
{
	static struct log_sources	 limit;
	unsigned long			 held;
	char				 more[64] = "";
	size_t				 kept;

	if (!log_enabled(LOG_INFO) || !log_limit_source(&limit,
	    GREETING_LOG_ALL, GREETING_LOG_SOURCE, &c->cn_addr, &held))
		return;
	if (held > 0)
		snprintf(more, sizeof(more), " (%lu more suppressed)", held);
	escape_fit(greeting_escaped, greeting_escaped_size, m->gm_buf,
	    m->gm_len, &kept);
	log_info("message peer=%s bytes=%zu%s%s msg=\"%s\"%s", conn_peer(c),
	    m->gm_total, greeting_msg_truncated(m) || kept < m->gm_len ?
	    " truncated=yes" : "", ending, greeting_escaped, more);
}

/* A connection that failed on the client's side: a reset, a vanished
 * peer, a close without a word (errno 0).  Any client can cause these at
 * will, so their budget is small: 2 lines a second per source and
 * LOG_LIMIT_BURST in all, per worker. */
static void
greeting_fault(struct conn *c, const char *what, size_t bytes)
{
	static struct log_sources limit;
	unsigned long		 held;
	int			 error = errno;
	const char		*why;

	if (!log_enabled(LOG_INFO) || !log_limit_source(&limit,
	    LOG_LIMIT_BURST, 2, &c->cn_addr, &held))
		return;
	why = error == ETIMEDOUT ? "deadline passed" : error == 0 ?
	    "closed" : strerror(error);
	if (held > 0)
		log_info("%s peer=%s bytes=%zu: %s (%lu more suppressed)",
		    what, conn_peer(c), bytes, why, held);
	else
		log_info("%s peer=%s bytes=%zu: %s", what, conn_peer(c), bytes,
		    why);
}

static void
greeting_serve(struct conn *c, const struct config *cfg)
{
	struct greeting_msg	 m;
	struct timespec		 deadline;
	char			 chunk[4096];
	ssize_t			 n = 0;
	bool			 first = true;

	deadline = clock_after(clock_now(), cfg->c_timeout_write);
	if (conn_write(c, cfg->c_banner, greeting_banner_len, &deadline)
	    == -1) {
		greeting_fault(c, "banner not delivered", 0);
		return;
	}

	greeting_msg_init(&m, greeting_text, cfg->c_max_message);
	deadline = clock_after(clock_now(), cfg->c_timeout_read);
	while (!m.gm_done) {
		/* Bytes after the terminator in the same read go with it:
		 * the study client sends its whole 257-byte buffer at once,
		 * and nothing left unread turns our close into a reset.
		 * The first read is for an answer to the banner. */
		n = first ? conn_read_reply(c, chunk, sizeof(chunk), &deadline) :
		    conn_read(c, chunk, sizeof(chunk), &deadline);
		first = false;
		if (n <= 0)
			break;
		greeting_msg_feed(&m, chunk, (size_t)n);
	}
	if (m.gm_done)
		greeting_log(c, &m, "");
	else if (m.gm_total == 0 && (n == 0 || errno == ETIMEDOUT)) {
		/* Not a message: a port scan, a health check, a silent
		 * client timed out or shed, a flood. */
		if (n == 0)
			errno = 0;
		greeting_fault(c, "no message", 0);
	} else if (n == 0)
		greeting_log(c, &m, " end=eof");
	else if (errno == ETIMEDOUT)
		greeting_log(c, &m, " end=timeout");
	else
		greeting_fault(c, "message lost", m.gm_total);
}

const struct service service_greeting = {
	.sv_name = "greeting",
	.sv_init = greeting_init,
	.sv_serve = greeting_serve,
	.sv_fini = greeting_fini,
};
