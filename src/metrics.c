/* SPDX-License-Identifier: ISC */
/*
 * metrics.c - the metrics endpoint (see metrics.h for what it promises).
 *
 * The request head is parsed again from its first byte whenever more of
 * it comes (it is 4 KiB at most): the parser keeps no state, so that the
 * unit tests see what the loop sees.  Each client's answer is formatted
 * whole, its head and body in one buffer, once its request is in: a slow
 * reader costs that buffer and its place until its deadline, nothing
 * more.  A client outside metrics.allow never gets a place: it cannot
 * keep a scraper waiting.
 */
#include "autoconf.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "generation.h"
#include "status.h"
#include "log.h"
#include "metrics.h"
#include "status.h"

/* A scraper connects every few seconds: a short backlog is plenty. */
#define METRICS_BACKLOG		16
/* Connections taken from the backlog per wake-up. */
#define METRICS_ACCEPT_BURST	16
/* After running out of descriptors, leave the backlog alone this long:
 * it would be readable, and wake the loop, at every turn. */
#define METRICS_PAUSE		0.1
/* The status line and the fields of an answer. */
#define METRICS_HEAD_MAX	512

static const char metrics_text_type[] =
    "text/plain; version=0.0.4; charset=utf-8";
static const char metrics_openmetrics_type[] =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
static const char metrics_plain_type[] = "text/plain; charset=utf-8";

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

void
metrics_listener_init(struct metrics_listener *ml)
{
	memset(ml, 0, sizeof(*ml));
	ml->ml_fd = -1;
}

void
metrics_init(struct metrics *me)
{
	memset(me, 0, sizeof(*me));
	metrics_listener_init(&me->me_listen);
	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		me->me_client[i].mc_fd = -1;
}

/* The port the socket got (port 0 asks for any), into ml. */
static void
metrics_bound(struct metrics_listener *ml)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getsockname(ml->ml_fd, (struct sockaddr *)&ss, &len) == -1)
		log_warn("getsockname(metrics %s)", ml->ml_name);
	else if (addr_from_sockaddr(&ml->ml_addr, (struct sockaddr *)&ss,
	    len))
		addr_format(&ml->ml_addr, ml->ml_name, sizeof(ml->ml_name));
}

/* Listen where cfg says, into ml: 0 or an exit status (logged). */
static int
metrics_listen(struct metrics_listener *ml, const struct config *cfg)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, one = 1;

	if (addr_parse(&ml->ml_addr, cfg->c_metrics_address) == 0) {
		log_warnx("metrics.address \"%s\" is not an address",
		    cfg->c_metrics_address);
		return EX_CONFIG;
	}
	ml->ml_port = ml->ml_addr.a_port = cfg->c_metrics_port;
	addr_format(&ml->ml_addr, ml->ml_name, sizeof(ml->ml_name));
	len = addr_to_sockaddr(&ml->ml_addr, ml->ml_port, &ss);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		log_warn("socket(metrics %s)", ml->ml_name);
		return EX_OSERR;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		log_warn("setsockopt(metrics %s, SO_REUSEADDR)", ml->ml_name);
	if (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		log_warn("setsockopt(metrics %s, IPV6_V6ONLY)", ml->ml_name);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		log_warn("%s: bind(metrics %s)", cfg->c_metrics_where != NULL ?
		    cfg->c_metrics_where : cfg->c_file, ml->ml_name);
		close(fd);
		return EX_UNAVAILABLE;
	}
	if (listen(fd, METRICS_BACKLOG) == -1) {
		log_warn("listen(metrics %s)", ml->ml_name);
		close(fd);
		return EX_OSERR;
	}
	ml->ml_fd = fd;
	metrics_bound(ml);
	return 0;
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
metrics_announce(const struct metrics_listener *ml, const struct config *cfg)
{
	log_info("metrics on %s", ml->ml_name);
	if (!metrics_loopback(&ml->ml_addr) && metrics_loopback_only(cfg))
		log_notice("metrics on %s answer loopback clients only: name "
		    "the scrapers' networks in metrics.allow", ml->ml_name);
}

int
metrics_open(struct metrics *me, const struct config *cfg)
{
	int	 status;

	if (cfg->c_metrics_address == NULL)
		return 0;
	if ((status = metrics_listen(&me->me_listen, cfg)) != 0)
		return status;
	metrics_announce(&me->me_listen, cfg);
	return 0;
}

/* Whether the running socket is the one cfg asks for (none for none). */
static bool
metrics_same(const struct metrics_listener *ml, const struct config *cfg)
{
	struct addr	 a;

	if (ml->ml_fd == -1 || cfg->c_metrics_address == NULL)
		return ml->ml_fd == -1 && cfg->c_metrics_address == NULL;
	if (addr_parse(&a, cfg->c_metrics_address) == 0)
		return false;
	return a.a_family == ml->ml_addr.a_family && memcmp(a.a_bytes,
	    ml->ml_addr.a_bytes, sizeof(a.a_bytes)) == 0 &&
	    cfg->c_metrics_port == ml->ml_port;
}

int
metrics_prepare(const struct metrics *me, struct metrics_listener *fresh,
    const struct config *cfg)
{
	metrics_listener_init(fresh);
	if (cfg->c_metrics_address == NULL || metrics_same(&me->me_listen, cfg))
		return 0;
	return metrics_listen(fresh, cfg) == 0 ? 0 : -1;
}

void
metrics_listener_close(struct metrics_listener *ml)
{
	if (ml->ml_fd != -1 && close(ml->ml_fd) == -1)
		log_warn("close(metrics %s)", ml->ml_name);
	ml->ml_fd = -1;
}

void
metrics_commit(struct metrics *me, struct metrics_listener *fresh,
    const struct config *cfg)
{
	if (fresh->ml_fd != -1) {
		metrics_listener_close(&me->me_listen);
		me->me_listen = *fresh;
		metrics_listener_init(fresh);
		metrics_announce(&me->me_listen, cfg);
	} else if (cfg->c_metrics_address == NULL &&
	    me->me_listen.ml_fd != -1) {
		metrics_listener_close(&me->me_listen);
		log_info("metrics off");
	}
}

int
metrics_probe(const struct config *cfg, char *err, size_t errsize)
{
	struct sockaddr_storage	 ss;
	struct addr		 a;
	socklen_t		 len;
	int			 fd, rc = -1, saved = EINVAL;

	if (cfg->c_metrics_address == NULL)
		return 0;
	if (addr_parse(&a, cfg->c_metrics_address) == 1) {
		len = addr_to_sockaddr(&a, 0, &ss);
		if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1)
			saved = errno;
		else {
			rc = bind(fd, (struct sockaddr *)&ss, len);
			saved = errno;
			close(fd);
		}
	}
	if (rc == 0)
		return 0;
	snprintf(err, errsize, "%s: metrics address %s cannot be bound on "
	    "this host: %s", cfg->c_metrics_where != NULL ?
	    cfg->c_metrics_where : cfg->c_file, cfg->c_metrics_address,
	    strerror(saved));
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

static void
metrics_drop(struct metrics_client *mc)
{
	if (mc->mc_fd != -1 && close(mc->mc_fd) == -1)
		log_warn("close(metrics client)");
	free(mc->mc_out);
	mc->mc_fd = -1;
	mc->mc_reqlen = 0;
	mc->mc_out = NULL;
	mc->mc_outlen = mc->mc_sent = 0;
	mc->mc_closing = false;
}

/*
 * An error answer to a client that holds no place (403, 503) or is let
 * go (408): what it sent so far is taken first, so that the close is no
 * reset that could beat the answer; the answer is short, and goes at
 * once into the socket's buffer or not at all.
 */
static void
metrics_refuse(int fd, int status)
{
	char	 junk[METRICS_REQUEST_MAX], out[METRICS_HEAD_MAX + 64];
	char	 body[64];
	size_t	 blen = metrics_error_body(body, sizeof(body), status);
	size_t	 hlen = metrics_head(out, sizeof(out) - blen, status,
	    metrics_plain_type, blen);

	(void)recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
	memcpy(out + hlen, body, blen);
	if (send(fd, out, hlen + blen, MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("send(metrics client): %s", strerror(errno));
	if (close(fd) == -1)
		log_warn("close(metrics client)");
}

/* All sent: our side is closed, and the client has METRICS_LINGER at
 * most to close its own. */
static void
metrics_linger(struct metrics_client *mc)
{
	struct timespec	 until = clock_after(clock_now(), METRICS_LINGER);

	free(mc->mc_out);
	mc->mc_out = NULL;
	if (shutdown(mc->mc_fd, SHUT_WR) == -1) {
		metrics_drop(mc);
		return;
	}
	mc->mc_closing = true;
	if (clock_diff(until, mc->mc_deadline) > 0)
		mc->mc_deadline = until;
}

/* Write what the socket takes; once all of it went, linger. */
static void
metrics_send(struct metrics_client *mc)
{
	ssize_t	 n;

	while (mc->mc_sent < mc->mc_outlen) {
		n = send(mc->mc_fd, mc->mc_out + mc->mc_sent,
		    mc->mc_outlen - mc->mc_sent, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			log_debug("send(metrics client): %s", strerror(errno));
			metrics_drop(mc);
			return;
		}
		mc->mc_sent += (size_t)n;
	}
	metrics_linger(mc);
}

/* The answer, head and body (none for HEAD) in one buffer, sent. */
static void
metrics_keep(struct metrics_client *mc, int status, const char *type,
    const char *body, size_t len, bool head)
{
	char	 h[METRICS_HEAD_MAX];
	size_t	 hlen = metrics_head(h, sizeof(h), status, type, len);
	size_t	 blen = head ? 0 : len;

	if ((mc->mc_out = malloc(hlen + blen)) == NULL) {
		log_warn("malloc(metrics answer)");
		metrics_drop(mc);
		return;
	}
	memcpy(mc->mc_out, h, hlen);
	memcpy(mc->mc_out + hlen, body, blen);
	mc->mc_outlen = hlen + blen;
	metrics_send(mc);
}

static void
metrics_error(struct metrics_client *mc, int status, bool head)
{
	char	 body[64];

	metrics_keep(mc, status, metrics_plain_type, body,
	    metrics_error_body(body, sizeof(body), status), head);
}

/* 200: the pool now, in the format asked for. */
static void
metrics_respond(struct metrics *me, const struct status_facts *f,
    struct metrics_client *mc,
    const struct metrics_request *r)
{
	size_t		 len;

	if (r->mr_status != 200) {
		metrics_error(mc, r->mr_status, r->mr_head);
		return;
	}
	if (me->me_scratch == NULL &&
	    (me->me_scratch = malloc(METRICS_ANSWER_MAX)) == NULL) {
		log_warn("malloc(metrics answer)");
		metrics_error(mc, 500, r->mr_head);
		return;
	}
	len = r->mr_openmetrics ?
	    status_openmetrics(f, me->me_scratch, METRICS_ANSWER_MAX) :
	    status_metrics(f, me->me_scratch, METRICS_ANSWER_MAX);
	metrics_keep(mc, 200, r->mr_openmetrics ? metrics_openmetrics_type :
	    metrics_text_type, me->me_scratch, len, r->mr_head);
}

/* After the answer: what still comes is dropped, a buffer per wake-up,
 * until the client closes (or its deadline). */
static void
metrics_discard(struct metrics_client *mc)
{
	char	 junk[1024];
	ssize_t	 n = recv(mc->mc_fd, junk, sizeof(junk), 0);

	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)))
		return;
	metrics_drop(mc);
}

/* Read what the client sent; answer once its head is in (or cannot
 * be). */
static void
metrics_read(struct metrics *me, const struct status_facts *f,
    struct metrics_client *mc)
{
	struct metrics_request	 r;
	ssize_t			 n;

	n = recv(mc->mc_fd, mc->mc_req + mc->mc_reqlen,
	    METRICS_REQUEST_MAX - mc->mc_reqlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1 || (n == 0 && mc->mc_reqlen == 0)) {
		if (n == -1)
			log_debug("recv(metrics client): %s",
			    strerror(errno));
		metrics_drop(mc);
		return;
	}
	mc->mc_reqlen += (size_t)n;
	if (metrics_parse(mc->mc_req, mc->mc_reqlen, &r))
		metrics_respond(me, f, mc, &r);
	else if (n == 0)
		metrics_error(mc, 400, false);	/* it stopped midway */
	else if (mc->mc_reqlen == METRICS_REQUEST_MAX)
		metrics_error(mc, 431, false);
}

/* ---- the master's loop ------------------------------------------------- */

size_t
metrics_pollfds(const struct metrics *me, struct pollfd *pfd)
{
	size_t	 n = 0;

	if (me->me_listen.ml_fd != -1 &&
	    clock_diff(me->me_paused_until, clock_now()) >= 0)
		pfd[n++] = (struct pollfd){ .fd = me->me_listen.ml_fd,
		    .events = POLLIN };
	for (size_t i = 0; i < METRICS_CLIENTS; i++) {
		const struct metrics_client *mc = &me->me_client[i];

		if (mc->mc_fd != -1)
			pfd[n++] = (struct pollfd){ .fd = mc->mc_fd,
			    .events = mc->mc_out != NULL ? POLLOUT : POLLIN };
	}
	return n;
}

bool
metrics_next_deadline(const struct metrics *me, struct timespec *t)
{
	bool	 any = false;

	if (me->me_listen.ml_fd != -1 &&
	    clock_diff(clock_now(), me->me_paused_until) > 0) {
		*t = me->me_paused_until;
		any = true;
	}
	for (size_t i = 0; i < METRICS_CLIENTS; i++) {
		const struct metrics_client *mc = &me->me_client[i];

		if (mc->mc_fd == -1)
			continue;
		if (!any || clock_diff(mc->mc_deadline, *t) > 0)
			*t = mc->mc_deadline;
		any = true;
	}
	return any;
}

void
metrics_expire(struct metrics *me, struct timespec now)
{
	unsigned long	 held;

	for (size_t i = 0; i < METRICS_CLIENTS; i++) {
		struct metrics_client *mc = &me->me_client[i];

		if (mc->mc_fd == -1 || clock_diff(mc->mc_deadline, now) < 0)
			continue;
		if (mc->mc_closing) {	/* answered: it just did not close */
			metrics_drop(mc);
			continue;
		}
		if (log_limit_allow(&me->me_dropped_log, &held))
			log_notice("metrics client dropped: %s within %.0fs "
			    "(%lu more suppressed)", mc->mc_out == NULL ?
			    "no whole request" : "did not take its answer",
			    METRICS_DEADLINE, held);
		if (mc->mc_out == NULL) {
			metrics_refuse(mc->mc_fd, 408);
			mc->mc_fd = -1;
		}
		metrics_drop(mc);
	}
}

/* accept4() failed: whether to try again now. */
static bool
metrics_accept_failed(struct metrics *me)
{
	unsigned long	 held;

	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return false;
	if (errno == EINTR || errno == ECONNABORTED)
		return true;
	if (log_limit_allow(&me->me_error_log, &held))
		log_warn("accept4(metrics %s) (%lu more suppressed)",
		    me->me_listen.ml_name, held);
	me->me_paused_until = clock_after(clock_now(), METRICS_PAUSE);
	return false;
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

static void
metrics_denied(struct metrics *me, int fd, const struct addr *peer)
{
	char		 name[ADDR_STRLEN];
	unsigned long	 held;

	if (log_limit_source(&me->me_denied_log, LOG_LIMIT_BURST, 1, peer,
	    &held)) {
		addr_format(peer, name, sizeof(name));
		log_notice("metrics client peer=%s denied: not in "
		    "metrics.allow (%lu more suppressed)", name, held);
	}
	metrics_refuse(fd, 403);
}

static struct metrics_client *
metrics_free_place(struct metrics *me)
{
	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		if (me->me_client[i].mc_fd == -1)
			return &me->me_client[i];
	return NULL;
}

static void
metrics_accept(struct metrics *me, const struct status_facts *f)
{
	struct sockaddr_storage	 ss;
	struct metrics_client	*mc;
	struct addr		 peer;
	socklen_t		 len;
	unsigned long		 held;
	int			 fd;

	for (int i = 0; i < METRICS_ACCEPT_BURST; i++) {
		len = sizeof(ss);
		fd = accept4(me->me_listen.ml_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (metrics_accept_failed(me))
				continue;
			return;
		}
		addr_from_sockaddr(&peer, (struct sockaddr *)&ss, len);
		if (!metrics_allowed(f->sf_cur->g_cfg, &peer)) {
			metrics_denied(me, fd, &peer);
			continue;
		}
		if ((mc = metrics_free_place(me)) == NULL) {
			if (log_limit_allow(&me->me_full_log, &held))
				log_notice("metrics client refused: %d are "
				    "being served (%lu more suppressed)",
				    METRICS_CLIENTS, held);
			metrics_refuse(fd, 503);
			continue;
		}
		mc->mc_fd = fd;
		mc->mc_deadline = clock_after(clock_now(), METRICS_DEADLINE);
	}
}

static struct metrics_client *
metrics_client_of(struct metrics *me, int fd)
{
	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		if (me->me_client[i].mc_fd == fd)
			return &me->me_client[i];
	return NULL;
}

void
metrics_handle(struct metrics *me, const struct status_facts *f,
    const struct pollfd *pfd, size_t n)
{
	struct metrics_client	*mc;
	bool			 acceptable = false;

	/* Clients first: a descriptor accepted now may reuse the number of
	 * one dropped in this pass. */
	for (size_t i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == me->me_listen.ml_fd) {
			acceptable = true;
			continue;
		}
		if ((mc = metrics_client_of(me, pfd[i].fd)) == NULL)
			continue;
		if (mc->mc_closing)
			metrics_discard(mc);
		else if (mc->mc_out == NULL)
			metrics_read(me, f, mc);
		else
			metrics_send(mc);
	}
	if (acceptable && me->me_listen.ml_fd != -1)
		metrics_accept(me, f);
}

void
metrics_close(struct metrics *me)
{
	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		metrics_drop(&me->me_client[i]);
	metrics_listener_close(&me->me_listen);
	free(me->me_scratch);
	me->me_scratch = NULL;
}
