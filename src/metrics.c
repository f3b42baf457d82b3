/* SPDX-License-Identifier: ISC */
/*
 * metrics.c - the metrics endpoint (see metrics.h for what it promises).
 *
 * The request head is parsed again from its first byte whenever more of
 * it comes (it is 4 KiB at most): the parser keeps no state, so that the
 * unit tests see what the loop sees.  Each client's answer is formatted
 * whole, its head and body in one buffer, once its request is in: a slow
 * reader costs that buffer and its place until its deadline, nothing
 * more (the clients are a side door's: sidedoor.c).  A client outside
 * metrics.allow never gets a place: it cannot keep a scraper waiting.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "generation.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "status.h"

/* Connections taken from the backlog per wake-up. */
#define METRICS_ACCEPT_BURST	16
/* The status line and the fields of an answer. */
#define METRICS_HEAD_MAX	512

static const char metrics_text_type[] =
    "text/plain; version=0.0.4; charset=utf-8";
static const char metrics_openmetrics_type[] =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
static const char metrics_plain_type[] = "text/plain; charset=utf-8";


/* What a pass over the clients works with: the endpoint and the facts
 * its answers read (status.h). */
struct metrics_call {
	struct metrics			*mc_me;
	const struct status_facts	*mc_facts;
};
/* ---- the request ------------------------------------------------------ */

/* RFC 9110's tchar: what a method or a field name is made of. */
static bool
metrics_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* What no line of a head holds: controls but HTAB, and DEL. */
static bool
metrics_ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

static size_t
metrics_token(const char *s, size_t n)
{
	size_t	 i = 0;

	while (i < n && metrics_tchar((unsigned char)s[i]))
		i++;
	return i;
}

static bool
metrics_is(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* Blanks off both ends of *s (n bytes); the length left. */
static size_t
metrics_trim(const char **s, size_t n)
{
	while (n > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		n--;
	}
	while (n > 0 && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t'))
		n--;
	return n;
}

/*
 * Whether a request target names /metrics: "/metrics", with a query or
 * not, or the same in absolute form ("http://host:9102/metrics"), which
 * a proxy sends.
 */
static bool
metrics_target(const char *t, size_t n)
{
	const char	*sep, *slash;
	size_t		 len;

	if (n > 0 && t[0] != '/') {
		if ((sep = memmem(t, n, "://", 3)) == NULL)
			return false;
		sep += 3;
		if ((slash = memchr(sep, '/', n - (size_t)(sep - t))) == NULL)
			return false;
		n -= (size_t)(slash - t);
		t = slash;
	}
	for (len = 0; len < n && t[len] != '?' && t[len] != '#'; len++)
		continue;
	return metrics_is(t, len, "/metrics");
}

/* "METHOD TARGET HTTP/1.x": the status it calls for (400: not one). */
static int
metrics_request_line(const char *s, size_t n, struct metrics_request *r)
{
	const char	*target, *version;
	size_t		 m = metrics_token(s, n), t, rest;

	if (m == 0 || m >= n || s[m] != ' ')
		return 400;
	target = s + m + 1;
	rest = n - m - 1;
	for (t = 0; t < rest && (unsigned char)target[t] > 0x20 &&
	    (unsigned char)target[t] < 0x7f; t++)
		continue;
	if (t == 0 || t >= rest || target[t] != ' ')
		return 400;
	version = target + t + 1;
	rest -= t + 1;
	if (rest != 8 || memcmp(version, "HTTP/", 5) != 0 ||
	    version[5] < '0' || version[5] > '9' || version[6] != '.' ||
	    version[7] < '0' || version[7] > '9')
		return 400;
	r->mr_head = metrics_is(s, m, "HEAD");
	if (version[5] != '1')
		return 505;
	if (!metrics_target(target, t))
		return 404;
	if (!r->mr_head && !metrics_is(s, m, "GET"))
		return 405;
	return 200;
}

/* A qvalue ("1", "0.5", "0.125") in thousandths; a malformed one is 1. */
static int
metrics_qvalue(const char *s, size_t n)
{
	int	 q, scale = 100;

	if (n == 0 || (s[0] != '0' && s[0] != '1') || (n > 1 && s[1] != '.'))
		return 1000;
	q = (s[0] - '0') * 1000;
	for (size_t i = 2; i < n && i < 5; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 1000;
		q += (s[i] - '0') * scale;
		scale /= 10;
	}
	return q > 1000 ? 1000 : q;
}

/* The q parameter of a media range's parameters (";a=b;q=0.5"). */
static int
metrics_range_q(const char *p, size_t n)
{
	const char	*next, *param;
	size_t		 len;
	int		 q = 1000;

	while (n > 0 && p[0] == ';') {
		p++;
		n--;
		next = memchr(p, ';', n);
		len = next != NULL ? (size_t)(next - p) : n;
		param = p;
		p += len;
		n -= len;
		len = metrics_trim(&param, len);
		if (len >= 2 && (param[0] == 'q' || param[0] == 'Q') &&
		    param[1] == '=')
			q = metrics_qvalue(param + 2, len - 2);
	}
	return q;
}

/* One media range of Accept: the preference it gives either format. */
static void
metrics_range(const char *s, size_t n, struct metrics_request *r)
{
	const char	*semi = memchr(s, ';', n), *type = s;
	size_t		 len = semi != NULL ? (size_t)(semi - s) : n;
	int		 q = metrics_range_q(s + len, n - len), *to = NULL;

	len = metrics_trim(&type, len);
	if (len == 28 && strncasecmp(type, "application/openmetrics-text",
	    len) == 0)
		to = &r->mr_q_openmetrics;
	else if ((len == 10 && strncasecmp(type, "text/plain", len) == 0) ||
	    (len == 6 && strncasecmp(type, "text/*", len) == 0) ||
	    (len == 3 && memcmp(type, "*/*", len) == 0))
		to = &r->mr_q_text;
	if (to != NULL && q > *to)
		*to = q;
}

/* Accept: media ranges separated by commas. */
static void
metrics_accept_field(const char *s, size_t n, struct metrics_request *r)
{
	const char	*comma;
	size_t		 len;

	for (;;) {
		comma = memchr(s, ',', n);
		len = comma != NULL ? (size_t)(comma - s) : n;
		metrics_range(s, len, r);
		if (comma == NULL)
			return;
		s += len + 1;
		n -= len + 1;
	}
}

/* "Name: value": false if it is no field line. */
static bool
metrics_field(const char *s, size_t n, struct metrics_request *r)
{
	size_t	 m = metrics_token(s, n);

	if (m == 0 || m >= n || s[m] != ':')
		return false;
	for (size_t i = m + 1; i < n; i++)
		if (metrics_ctl((unsigned char)s[i]))
			return false;
	if (m == 6 && strncasecmp(s, "accept", m) == 0)
		metrics_accept_field(s + m + 1, n - m - 1, r);
	return true;
}

/* Every line of the head is in: the format it asks for. */
static void
metrics_head_done(struct metrics_request *r)
{
	r->mr_openmetrics = r->mr_q_openmetrics > 0 &&
	    r->mr_q_openmetrics >= r->mr_q_text;
}

bool
metrics_parse(const char *buf, size_t len, struct metrics_request *r)
{
	const char	*line = buf, *end = buf + len, *nl;
	bool		 first = true;
	size_t		 n;

	memset(r, 0, sizeof(*r));
	r->mr_q_openmetrics = r->mr_q_text = -1;
	for (; (nl = memchr(line, '\n', (size_t)(end - line))) != NULL;
	    line = nl + 1) {
		n = (size_t)(nl - line);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (first && n == 0)
			continue;	/* an empty line before: allowed */
		if (first) {
			r->mr_status = metrics_request_line(line, n, r);
			if (r->mr_status == 400)
				return true;
			first = false;
		} else if (n == 0) {
			metrics_head_done(r);
			return true;
		} else if (!metrics_field(line, n, r)) {
			r->mr_status = 400;
			return true;
		}
	}
	/* The line under way: bytes that no head holds end it now (a TLS
	 * handshake, a binary protocol). */
	for (; line < end; line++)
		if (metrics_ctl((unsigned char)*line) && *line != '\r') {
			r->mr_status = 400;
			return true;
		}
	return false;
}

/* ---- the listening socket ------------------------------------------- */

static int	metrics_admit(void *, struct sidedoor *, int,
		    const struct addr *);
static void	metrics_busy(struct sidedoor *, int);
static void	metrics_request(void *, struct sidedoor *,
		    struct sidedoor_client *, bool);
static void	metrics_expired(struct sidedoor *, struct sidedoor_client *);

static const struct sidedoor_ops metrics_door = {
	.so_what = "metrics",
	.so_deadline = METRICS_DEADLINE,
	.so_linger = METRICS_LINGER,
	.so_request_max = METRICS_REQUEST_MAX,
	.so_burst = METRICS_ACCEPT_BURST,
	.so_admit = metrics_admit,
	.so_busy = metrics_busy,
	.so_request = metrics_request,
	.so_expired = metrics_expired,
};

void
metrics_init(struct metrics *me)
{
	memset(me, 0, sizeof(*me));
	sidedoor_init(&me->me_door, &metrics_door);
}

/* Where cfg's endpoint is, in lines about it. */
static const char *
metrics_where(const struct config *cfg)
{
	return cfg->c_metrics_where != NULL ? cfg->c_metrics_where :
	    cfg->c_file;
}

static bool
metrics_loopback(const struct addr *a)
{
	static const uint8_t	 one6[16] = { [15] = 1 };

	return (a->a_family == AF_INET && a->a_bytes[0] == 127) ||
	    (a->a_family == AF_INET6 && memcmp(a->a_bytes, one6, 16) == 0);
}

/* Whether every network of metrics.allow is loopback's. */
static bool
metrics_loopback_only(const struct config *cfg)
{
	for (size_t i = 0; i < cfg->c_nmetrics_allow; i++) {
		const struct addr_net *an = &cfg->c_metrics_allow[i];

		if (!metrics_loopback(&an->an_addr) ||
		    an->an_bits < (an->an_addr.a_family == AF_INET ? 8 : 128))
			return false;
	}
	return true;
}

/* Said when it starts to listen; and that a port other hosts can reach
 * answers none of them, which a missing metrics.allow means. */
static void
metrics_announce(const struct sidedoor_socket *sk, const struct config *cfg)
{
	log_notice("metrics on %s", sk->sk_name);
	if (!metrics_loopback(&sk->sk_addr) && metrics_loopback_only(cfg))
		log_notice("metrics on %s answer loopback clients only: name "
		    "the scrapers' networks in metrics.allow", sk->sk_name);
}

int
metrics_open(struct metrics *me, const struct config *cfg)
{
	int	 status;

	if (cfg->c_metrics_address == NULL)
		return 0;
	if ((status = sidedoor_socket_open(&me->me_door.sd_sock, "metrics",
	    cfg->c_metrics_address, cfg->c_metrics_port,
	    metrics_where(cfg))) != 0)
		return status;
	metrics_announce(&me->me_door.sd_sock, cfg);
	return 0;
}

int
metrics_prepare(const struct metrics *me, struct sidedoor_socket *fresh,
    const struct config *cfg)
{
	return sidedoor_prepare(&me->me_door, fresh, cfg->c_metrics_address,
	    cfg->c_metrics_port, metrics_where(cfg));
}

void
metrics_commit(struct metrics *me, struct sidedoor_socket *fresh,
    const struct config *cfg)
{
	switch (sidedoor_commit(&me->me_door, fresh, cfg->c_metrics_address)) {
	case 1:
		metrics_announce(&me->me_door.sd_sock, cfg);
		break;
	case -1:
		log_notice("metrics off");
		break;
	}
}

void
metrics_close(struct metrics *me)
{
	sidedoor_close(&me->me_door);
	free(me->me_scratch);
	me->me_scratch = NULL;
}

bool
metrics_hold(struct metrics *me)
{
	return sidedoor_hold(&me->me_door);
}

void
metrics_release(struct metrics *me)
{
	sidedoor_release(&me->me_door);
}

void
metrics_adopt(struct metrics *me, int fd, const struct addr *a,
    uint16_t asked)
{
	sidedoor_adopt(&me->me_door, fd, a, NULL);
	/* What a reload compares the file with: port 0 stays 0. */
	me->me_door.sd_sock.sk_port = asked;
	log_notice("metrics kept across the upgrade %s",
	    me->me_door.sd_sock.sk_name);
}

int
metrics_probe(const struct config *cfg, char *err, size_t errsize)
{
	if (cfg->c_metrics_address == NULL ||
	    listener_probe(cfg->c_metrics_address) == 0)
		return 0;
	snprintf(err, errsize, "%s: metrics address %s cannot be bound on "
	    "this host: %s", metrics_where(cfg), cfg->c_metrics_address,
	    strerror(errno));
	return -1;
}

/* ---- answers ---------------------------------------------------------- */

static const char *
metrics_reason(int status)
{
	switch (status) {
	case 200:	return "OK";
	case 400:	return "Bad Request";
	case 403:	return "Forbidden";
	case 404:	return "Not Found";
	case 405:	return "Method Not Allowed";
	case 408:	return "Request Timeout";
	case 431:	return "Request Header Fields Too Large";
	case 503:	return "Service Unavailable";
	case 505:	return "HTTP Version Not Supported";
	default:	return "Internal Server Error";
	}
}

/* The status line and fields of an answer whose body is len bytes (a
 * HEAD's too: the length its GET would have); the head's length. */
static size_t
metrics_head(char *buf, size_t size, int status, const char *type,
    size_t len)
{
	char		 date[64] = "";
	struct tm	 tm;
	time_t		 now = time(NULL);
	int		 n;

	if (gmtime_r(&now, &tm) != NULL)
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(buf, size, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n", status,
	    metrics_reason(status), date, type, len, status == 405 ?
	    "Allow: GET, HEAD\r\n" : "");
	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* The body of an error: its reason, a line. */
static size_t
metrics_error_body(char *buf, size_t size, int status)
{
	int	 n = snprintf(buf, size, "%d %s\n", status,
	    metrics_reason(status));

	return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* An error answer, head and body, for a client that is let go (403, 503,
 * 408: sidedoor_tell()); its length. */
static size_t
metrics_last_word(char *buf, size_t size, int status)
{
	char	 body[64];
	size_t	 blen = metrics_error_body(body, sizeof(body), status);
	size_t	 hlen = metrics_head(buf, size - blen, status,
	    metrics_plain_type, blen);

	memcpy(buf + hlen, body, blen);
	return hlen + blen;
}

static void
metrics_refuse(const struct sidedoor *sd, int fd, int status)
{
	char	 out[METRICS_HEAD_MAX + 64];

	sidedoor_refuse(sd, fd, out, metrics_last_word(out, sizeof(out),
	    status));
}

/* The answer, head and body (none for HEAD), sent. */
static void
metrics_keep(struct sidedoor *sd, struct sidedoor_client *c, int status,
    const char *type, const char *body, size_t len, bool head)
{
	char		 h[METRICS_HEAD_MAX];
	struct iovec	 iov[2] = {
		{ .iov_base = h,
		  .iov_len = metrics_head(h, sizeof(h), status, type, len) },
		{ .iov_base = (void *)body, .iov_len = head ? 0 : len },
	};

	sidedoor_answerv(sd, c, iov, 2);
}

static void
metrics_error(struct sidedoor *sd, struct sidedoor_client *c, int status,
    bool head)
{
	char	 body[64];

	metrics_keep(sd, c, status, metrics_plain_type, body,
	    metrics_error_body(body, sizeof(body), status), head);
}

/* 200: the pool now, in the format asked for. */
static void
metrics_respond(struct metrics_call *cl, struct sidedoor_client *c,
    const struct metrics_request *r)
{
	struct metrics	*me = cl->mc_me;
	size_t		 (*format)(const struct status_facts *, char *, size_t);
	size_t		 len;

	if (r->mr_status != 200) {
		metrics_error(&me->me_door, c, r->mr_status, r->mr_head);
		return;
	}
	if (me->me_scratch == NULL &&
	    (me->me_scratch = malloc(METRICS_ANSWER_MAX)) == NULL) {
		log_warn("malloc(metrics answer)");
		metrics_error(&me->me_door, c, 500, r->mr_head);
		return;
	}
	format = r->mr_openmetrics ? status_openmetrics : status_metrics;
	len = format(cl->mc_facts, me->me_scratch, METRICS_ANSWER_MAX);
	metrics_keep(&me->me_door, c, 200, r->mr_openmetrics ?
	    metrics_openmetrics_type : metrics_text_type, me->me_scratch, len,
	    r->mr_head);
}

/* Answered once its head is in, or cannot be. */
static void
metrics_request(void *arg, struct sidedoor *sd, struct sidedoor_client *c,
    bool eof)
{
	struct metrics_request	 r;

	if (metrics_parse(c->sc_in, c->sc_inlen, &r))
		metrics_respond(arg, c, &r);
	else if (eof)
		metrics_error(sd, c, 400, false);	/* it stopped midway */
	else if (c->sc_inlen == METRICS_REQUEST_MAX)
		metrics_error(sd, c, 431, false);
}

/* ---- the master's loop ------------------------------------------------- */

size_t
metrics_pollfds(const struct metrics *me, struct pollfd *pfd)
{
	return sidedoor_pollfds(&me->me_door, pfd);
}

void
metrics_handle(struct metrics *me, const struct status_facts *f,
    const struct pollfd *pfd, size_t n)
{
	struct metrics_call	 cl = { me, f };

	sidedoor_handle(&me->me_door, &cl, pfd, n);
}

void
metrics_expire(struct metrics *me, struct timespec now)
{
	sidedoor_expire(&me->me_door, now);
}

/* One without a whole request is told 408 as it goes. */
static void
metrics_expired(struct sidedoor *sd, struct sidedoor_client *c)
{
	char		 out[METRICS_HEAD_MAX + 64];
	unsigned long	 held;

	if (log_limit_allow(&sd->sd_late_log, &held))
		log_notice("metrics client dropped: %s within %.0fs "
		    "(%lu more suppressed)", c->sc_state == SIDEDOOR_READING ?
		    "no whole request" : "did not take its answer",
		    METRICS_DEADLINE, held);
	if (c->sc_state == SIDEDOOR_READING)
		sidedoor_tell(sd, c->sc_fd, out, metrics_last_word(out,
		    sizeof(out), 408));
}

/* Whether metrics.allow holds the peer (a configuration without the
 * endpoint lets nobody in). */
static bool
metrics_allowed(const struct config *cfg, const struct addr *peer)
{
	for (size_t i = 0; i < cfg->c_nmetrics_allow; i++)
		if (addr_in_net(peer, &cfg->c_metrics_allow[i]))
			return true;
	return false;
}

/* Outside metrics.allow: 403, without a place. */
static int
metrics_admit(void *arg, struct sidedoor *sd, int fd, const struct addr *peer)
{
	struct metrics_call	*cl = arg;
	char		 name[ADDR_STRLEN];
	unsigned long	 held;

	if (metrics_allowed(cl->mc_facts->sf_cur->g_cfg, peer))
		return 0;
	if (log_limit_source(&cl->mc_me->me_denied_log, LOG_LIMIT_BURST, 1,
	    peer, &held)) {
		addr_format(peer, name, sizeof(name));
		log_notice("metrics client peer=%s denied: not in "
		    "metrics.allow (%lu more suppressed)", name, held);
	}
	metrics_refuse(sd, fd, 403);
	return -1;
}

static void
metrics_busy(struct sidedoor *sd, int fd)
{
	metrics_refuse(sd, fd, 503);
}
