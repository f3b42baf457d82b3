/* SPDX-License-Identifier: ISC */
/*
 * check_metrics.c - the metrics endpoint in one process: the request
 * parser on its own (good requests, garbage, long heads, what Accept
 * asks), then a master of a few made-up workers serving HTTP clients of
 * a real socket, driven by the test's loop.  Time is moved on by passing
 * metrics_expire() a later moment, never by waiting.
 */
#include "autoconf.h"

#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "control.h"
#include "agent.h"
#include "generation.h"
#include "log.h"
#include "metrics.h"
#include "poolview.h"
#include "scoreboard.h"
#include "status.h"
#include "unit.h"

#define FAKE_WORKERS	4
#define PROMETHEUS_ACCEPT "application/openmetrics-text;version=1.0.0," \
	"application/openmetrics-text;version=0.0.1;q=0.75," \
	"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

/* ---- the parser ------------------------------------------------------- */

struct parse_case {
	const char	*head;
	bool		 decided;
	int		 status;	/* when decided */
	bool		 openmetrics;
	bool		 is_head;
};

static const struct parse_case parse_cases[] = {
	/* Scrapers. */
	{ "GET /metrics HTTP/1.1\r\nHost: h:9102\r\nUser-Agent: x\r\n\r\n",
	    true, 200, false, false },
	{ "GET /metrics HTTP/1.1\r\nAccept: " PROMETHEUS_ACCEPT "\r\n\r\n",
	    true, 200, true, false },
	{ "GET /metrics HTTP/1.0\r\n\r\n", true, 200, false, false },
	{ "GET /metrics?name[]=x HTTP/1.1\r\n\r\n", true, 200, false, false },
	{ "GET http://h:9102/metrics HTTP/1.1\r\n\r\n", true, 200, false,
	    false },
	{ "HEAD /metrics HTTP/1.1\r\n\r\n", true, 200, false, true },
	/* Bare LF, and an empty line before the request. */
	{ "GET /metrics HTTP/1.1\nHost: h\n\n", true, 200, false, false },
	{ "\r\nGET /metrics HTTP/1.1\r\n\r\n", true, 200, false, false },
	/* What Accept asks. */
	{ "GET /metrics HTTP/1.1\r\nAccept: */*\r\n\r\n", true, 200, false,
	    false },
	{ "GET /metrics HTTP/1.1\r\naccept:  APPLICATION/OpenMetrics-Text ;"
	    " version=1.0.0\r\n\r\n", true, 200, true, false },
	{ "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text;"
	    "q=0\r\n\r\n", true, 200, false, false },
	{ "GET /metrics HTTP/1.1\r\nAccept: text/plain;q=0.5,application/"
	    "openmetrics-text;q=0.4\r\n\r\n", true, 200, false, false },
	{ "GET /metrics HTTP/1.1\r\nAccept: text/plain;q=0.5\r\nAccept: "
	    "application/openmetrics-text\r\n\r\n", true, 200, true, false },
	/* Other paths, methods, versions. */
	{ "GET / HTTP/1.1\r\n\r\n", true, 404, false, false },
	{ "GET /metrics/ HTTP/1.1\r\n\r\n", true, 404, false, false },
	{ "GET /metricsx HTTP/1.1\r\n\r\n", true, 404, false, false },
	{ "HEAD /x HTTP/1.1\r\n\r\n", true, 404, false, true },
	{ "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", true, 405,
	    false, false },
	{ "get /metrics HTTP/1.1\r\n\r\n", true, 405, false, false },
	{ "GET /metrics HTTP/2.0\r\n\r\n", true, 505, false, false },
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", true, 505, false, false },
	/* Garbage: answered as soon as it is seen. */
	{ "hello\r\n", true, 400, false, false },
	{ "GET /metrics\r\n", true, 400, false, false },
	{ "GET  /metrics HTTP/1.1\r\n", true, 400, false, false },
	{ "GET /metrics HTTP/1.1 \r\n", true, 400, false, false },
	{ "GET /metrics HTTP/1.10\r\n", true, 400, false, false },
	{ "GET /met\x01rics HTTP/1.1\r\n", true, 400, false, false },
	{ "GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n", true, 400, false,
	    false },
	{ "GET /metrics HTTP/1.1\r\nHost : h\r\n\r\n", true, 400, false,
	    false },
	{ "GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", true, 400,
	    false, false },
	{ "GET /metrics HTTP/1.1\r\nA: b\x7f\r\n\r\n", true, 400, false,
	    false },
	{ "\x16\x03\x01\x02\x00\x01", true, 400, false, false },
	{ "GET /metrics HTTP/1.1\r\nA: \x01", true, 400, false, false },
	/* Not yet whole. */
	{ "", false, 0, false, false },
	{ "GET /met", false, 0, false, false },
	{ "GET /metrics HTTP/1.1\r", false, 0, false, false },
	{ "GET /metrics HTTP/1.1\r\nHost: h\r\n", false, 0, false, false },
	{ "GET /metrics HTTP/1.1\r\nHost: h\r\n\r", false, 0, false, false },
};

START_TEST(test_parse)
{
	const struct parse_case	*pc = &parse_cases[_i];
	struct metrics_request	 r;
	size_t			 len = strlen(pc->head);

	/* The TLS case holds a NUL: its length is its own. */
	if (pc->head[0] == '\x16')
		len = 6;
	ck_assert_msg(metrics_parse(pc->head, len, &r) == pc->decided,
	    "case %d", _i);
	if (!pc->decided)
		return;
	ck_assert_msg(r.mr_status == pc->status, "case %d: %d", _i,
	    r.mr_status);
	ck_assert_msg(r.mr_openmetrics == pc->openmetrics, "case %d", _i);
	ck_assert_msg(r.mr_head == pc->is_head, "case %d", _i);
}
END_TEST

/* Whatever the bytes, the parser decides or waits, and never reads past
 * them: every prefix of every case, and random bytes. */
START_TEST(test_parse_prefixes)
{
	struct metrics_request	 r;
	char			 buf[METRICS_REQUEST_MAX];
	unsigned		 seed = 1;

	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	    i++) {
		const char	*h = parse_cases[i].head;
		size_t		 len = h[0] == '\x16' ? 6 : strlen(h);
		char		*copy;

		for (size_t n = 0; n <= len; n++) {
			/* Exactly n bytes, for the sanitizers to watch. */
			ck_assert_ptr_nonnull(copy = malloc(n + 1));
			memcpy(copy, h, n);
			(void)metrics_parse(copy, n, &r);
			free(copy);
		}
	}
	for (int round = 0; round < 2000; round++) {
		size_t	 n = (size_t)rand_r(&seed) % sizeof(buf);

		for (size_t k = 0; k < n; k++)
			buf[k] = (char)(rand_r(&seed) % 4 == 0 ? '\n' :
			    rand_r(&seed));
		if (metrics_parse(buf, n, &r))
			ck_assert(r.mr_status >= 200 && r.mr_status < 600);
	}
}
END_TEST

/* ---- the socket, driven by the test ------------------------------------ */

/* The parts of a master that the answers read, under the master's names;
 * facts() gathers them as the master does, its view taken now. */
static struct {
	struct generation	 m_cur, m_next;
	struct pool		 m_pool;
	struct control		 m_control;
	struct agent		 m_agent;
	struct metrics		 m_metrics;
	bool			 m_no_growth;
	bool			 m_draining, m_stopping;
	struct poolview		 m_view;
	struct status_facts	 m_facts;
} m;

static const struct status_facts *
facts(void)
{
	struct poolview_want	 want;

	generation_want(&m.m_cur, m.m_next.g_id, m.m_no_growth, &want);
	poolview_take(&m.m_pool, &want, &m.m_view);
	m.m_facts = (struct status_facts){ .sf_cur = &m.m_cur,
	    .sf_next = &m.m_next, .sf_pool = &m.m_pool, .sf_view = &m.m_view,
	    .sf_agent = m.m_agent.ag_door.sd_sock.sk_fd != -1 ?
	    m.m_agent.ag_door.sd_sock.sk_name : NULL,
	    .sf_draining = m.m_draining,
	    .sf_stopping = m.m_stopping };
	return &m.m_facts;
}
static struct config	 cfg;
static unsigned		 port;

static void
fake_master(void)
{
	memset(&m, 0, sizeof(m));
	memset(&cfg, 0, sizeof(cfg));
	cfg.c_service = (char *)"greeting";
	cfg.c_pool_min = cfg.c_pool_max = cfg.c_workers = FAKE_WORKERS;
	cfg.c_metrics_address = (char *)"127.0.0.1";
	cfg.c_metrics_where = (char *)"test.conf:1";
	generation_init(&m.m_cur);
	generation_init(&m.m_next);
	m.m_cur.g_id = 1;
	m.m_cur.g_cfg = &cfg;
	m.m_cur.g_target = FAKE_WORKERS;
	ck_assert_ptr_nonnull(m.m_pool.p_board = scoreboard_create(NULL));
	ck_assert_ptr_nonnull(m.m_pool.p_workers = calloc(FAKE_WORKERS,
	    sizeof(struct pool_worker)));
	m.m_pool.p_n = m.m_pool.p_cap = FAKE_WORKERS;
	for (size_t i = 0; i < FAKE_WORKERS; i++) {
		struct pool_worker *w = &m.m_pool.p_workers[i];

		w->pw_pid = (pid_t)(100000 + i);
		w->pw_generation = 1;
		w->pw_started = clock_now();
		w->pw_slot = scoreboard_claim(m.m_pool.p_board, (uint32_t)i);
		scoreboard_set_state(w->pw_slot, SLOT_IDLE);
		atomic_store(&w->pw_slot->sl_served, 10);
		scoreboard_count_duration(w->pw_slot, 3000);
	}
	control_init(&m.m_control);
	agent_init(&m.m_agent);
	metrics_init(&m.m_metrics);
}

static void
allow(const char *net)
{
	const char	*why;

	ck_assert_int_eq(addr_net_parse(&cfg.c_metrics_allow[
	    cfg.c_nmetrics_allow++], net, &why), 0);
}

static void
setup(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	/* The notices of refused and dropped clients are expected. */
	log_init("check_unit", LOG_TO_STDERR, LOG_DAEMON, LOG_WARNING);
	fake_master();
	allow("127.0.0.0/8");
	ck_assert_int_eq(metrics_open(&m.m_metrics, &cfg), 0);
	ck_assert_int_eq(getsockname(m.m_metrics.me_door.sd_sock.sk_fd,
	    (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
}

static void
teardown(void)
{
	metrics_close(&m.m_metrics);
	free(m.m_pool.p_workers);
	scoreboard_destroy(m.m_pool.p_board);
}

static int
client(void)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	int			 fd;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    -1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* One turn of the master's loop, for the endpoint alone. */
static void
turn(void)
{
	struct pollfd	 pfd[METRICS_FDS];
	size_t		 n = metrics_pollfds(&m.m_metrics, pfd);

	ck_assert_int_ge(poll(pfd, n, 100), 0);
	metrics_handle(&m.m_metrics, facts(), pfd, n);
}

static size_t
places_taken(void)
{
	size_t	 n = 0;

	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		n += m.m_metrics.me_door.sd_client[i].sc_fd != -1;
	return n;
}

/* Turns until every client has gone (they close after the answer). */
static size_t
settle(void)
{
	for (int turns = 0; places_taken() != 0 && turns < 100; turns++)
		turn();
	return places_taken();
}

/* Everything the server sends until it closes, the loop turning
 * meanwhile; NUL-terminated.  Its length. */
static size_t
answer(int fd, char *buf, size_t size)
{
	size_t	 got = 0;
	ssize_t	 n;

	for (int turns = 0; turns < 1000; turns++) {
		turn();
		while ((n = recv(fd, buf + got, size - 1 - got,
		    MSG_DONTWAIT)) > 0)
			got += (size_t)n;
		if (n == 0 || (n == -1 && errno != EAGAIN) || got == size - 1)
			break;
	}
	buf[got] = '\0';
	return got;
}

static size_t
exchange(const char *request, size_t len, char *buf, size_t size)
{
	int	 fd = client();
	size_t	 got;

	ck_assert_int_eq(send(fd, request, len, 0), (ssize_t)len);
	got = answer(fd, buf, size);
	close(fd);
	return got;
}

/* The head's Content-Length, and where the body starts. */
static size_t
content_length(const char *resp, const char **body)
{
	const char	*p = strstr(resp, "\r\nContent-Length: ");

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(*body = strstr(resp, "\r\n\r\n"));
	*body += 4;
	return (size_t)strtoul(p + 18, NULL, 10);
}

START_TEST(test_scrape_text)
{
	static char	 resp[METRICS_ANSWER_MAX + 1024];
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	const char	*body;
	size_t		 len = exchange(req, sizeof(req) - 1, resp,
	    sizeof(resp));

	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s",
	    resp);
	ck_assert_ptr_nonnull(strstr(resp, "\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(resp, "\r\nConnection: close\r\n"));
	ck_assert_uint_eq(content_length(resp, &body), len - (size_t)(body -
	    resp));
	ck_assert_ptr_nonnull(strstr(body, "\npreforkd_connections_served_"
	    "total 40\n"));
	ck_assert_ptr_nonnull(strstr(body, "\npreforkd_connection_duration_"
	    "seconds_bucket{service=\"greeting\",le=\"0.005\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(body, "\npreforkd_workers{state=\"idle\"} "
	    "4\n"));
	ck_assert_uint_eq(settle(), 0);
}
END_TEST

START_TEST(test_scrape_openmetrics)
{
	static char	 resp[METRICS_ANSWER_MAX + 1024];
	static const char req[] = "GET /metrics HTTP/1.1\r\nAccept: "
	    PROMETHEUS_ACCEPT "\r\n\r\n";
	const char	*body;
	size_t		 len = exchange(req, sizeof(req) - 1, resp,
	    sizeof(resp));

	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s",
	    resp);
	ck_assert_ptr_nonnull(strstr(resp, "\r\nContent-Type: application/"
	    "openmetrics-text; version=1.0.0; charset=utf-8\r\n"));
	ck_assert_uint_eq(content_length(resp, &body), len - (size_t)(body -
	    resp));
	ck_assert_str_eq(resp + len - 6, "# EOF\n");
	ck_assert_ptr_nonnull(strstr(body, "# TYPE preforkd_connections_served "
	    "counter\n"));
}
END_TEST

/* HEAD: the head a GET would have, no body. */
START_TEST(test_head)
{
	char		 resp[4096];
	static const char req[] = "HEAD /metrics HTTP/1.0\r\n\r\n";
	const char	*body;
	size_t		 len = exchange(req, sizeof(req) - 1, resp,
	    sizeof(resp));

	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s",
	    resp);
	ck_assert_uint_gt(content_length(resp, &body), 1000);
	ck_assert_uint_eq((size_t)(body - resp), len);
}
END_TEST

/* Each error, with its status line and a body that says it. */
START_TEST(test_errors)
{
	static const struct {
		const char	*req;
		const char	*status;
	} cases[] = {
		{ "GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n" },
		{ "DELETE /metrics HTTP/1.1\r\n\r\n",
		    "HTTP/1.1 405 Method Not Allowed\r\n" },
		{ "GET /metrics HTTP/3.0\r\n\r\n",
		    "HTTP/1.1 505 HTTP Version Not Supported\r\n" },
		/* No blank line: answered at the first bad line. */
		{ "EHLO example.org\r\n", "HTTP/1.1 400 Bad Request\r\n" },
	};
	char		 resp[4096];
	const char	*body;
	size_t		 len;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = exchange(cases[i].req, strlen(cases[i].req), resp,
		    sizeof(resp));
		ck_assert_msg(strncmp(resp, cases[i].status,
		    strlen(cases[i].status)) == 0, "%s", resp);
		ck_assert_uint_eq(content_length(resp, &body), len -
		    (size_t)(body - resp));
		ck_assert_int_eq(atoi(body), atoi(cases[i].status + 9));
		ck_assert_ptr_nonnull(strstr(resp, "\r\nConnection: close"));
	}
	exchange("POST /metrics HTTP/1.1\r\n\r\n", 26, resp, sizeof(resp));
	ck_assert_ptr_nonnull(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));
	ck_assert_uint_eq(settle(), 0);
}
END_TEST

/* A head longer than METRICS_REQUEST_MAX: 431, never more memory. */
START_TEST(test_long_head)
{
	static char	 req[METRICS_REQUEST_MAX + 1024];
	char		 resp[4096];
	int		 fd = client();
	size_t		 len;

	len = (size_t)snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\n"
	    "Cookie: ");
	memset(req + len, 'c', sizeof(req) - len);
	/* Sent as far as the server reads: it stops at its limit. */
	ck_assert_int_gt(send(fd, req, sizeof(req), MSG_DONTWAIT), 0);
	answer(fd, resp, sizeof(resp));
	ck_assert_msg(strncmp(resp, "HTTP/1.1 431 Request Header Fields Too "
	    "Large\r\n", 45) == 0, "%s", resp);
	close(fd);
	/* And a request line alone that long. */
	fd = client();
	memset(req, 'x', sizeof(req));
	memcpy(req, "GET /", 5);
	ck_assert_int_gt(send(fd, req, sizeof(req), MSG_DONTWAIT), 0);
	answer(fd, resp, sizeof(resp));
	ck_assert_msg(strncmp(resp, "HTTP/1.1 431 ", 13) == 0, "%s", resp);
	close(fd);
}
END_TEST

/*
 * A slowloris: a client that never finishes its head holds a place
 * until its deadline, no longer, while others are answered meanwhile;
 * then it is told 408 and let go.
 */
START_TEST(test_slowloris)
{
	static char	 resp[METRICS_ANSWER_MAX + 1024];
	static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
	int		 slow = client(), turns = 0;

	ck_assert_int_eq(send(slow, "GET /metrics HTTP/1.1\r\nX-a: ", 28, 0),
	    28);
	while (places_taken() == 0 && turns++ < 100)
		turn();
	ck_assert_uint_eq(places_taken(), 1);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(send(slow, "b", 1, 0), 1);
		exchange(req, sizeof(req) - 1, resp, sizeof(resp));
		ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0,
		    "%s", resp);
	}
	turn();
	metrics_expire(&m.m_metrics, clock_now());
	ck_assert_uint_eq(places_taken(), 1);		/* not yet */
	metrics_expire(&m.m_metrics, clock_after(clock_now(),
	    METRICS_DEADLINE + 1));
	ck_assert_uint_eq(places_taken(), 0);
	answer(slow, resp, sizeof(resp));
	ck_assert_msg(strncmp(resp, "HTTP/1.1 408 Request Timeout\r\n", 30) ==
	    0, "%s", resp);
	close(slow);
}
END_TEST

/* A client that takes its answer a little at a time gets all of it. */
START_TEST(test_slow_reader)
{
	static char	 resp[METRICS_ANSWER_MAX + 1024];
	static const char req[] = "GET /metrics HTTP/1.1\r\n\r\n";
	const char	*body;
	size_t		 got = 0;
	ssize_t		 n = -1;
	int		 fd = client(), size = 1024, turns = 0;

	while (places_taken() == 0 && turns++ < 100)
		turn();
	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		if (m.m_metrics.me_door.sd_client[i].sc_fd != -1)
			ck_assert_int_eq(setsockopt(
			    m.m_metrics.me_door.sd_client[i].sc_fd, SOL_SOCKET,
			    SO_SNDBUF, &size, sizeof(size)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
	    sizeof(size)), 0);
	ck_assert_int_eq(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	for (turns = 0; turns < 100000; turns++) {
		turn();
		n = recv(fd, resp + got, 512 < sizeof(resp) - 1 - got ? 512 :
		    sizeof(resp) - 1 - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	ck_assert_int_eq(n, 0);
	resp[got] = '\0';
	ck_assert_uint_eq(content_length(resp, &body), got - (size_t)(body -
	    resp));
	ck_assert_ptr_nonnull(strstr(body, "preforkd_log_dropped_total"));
	close(fd);
}
END_TEST

/* Every place taken by a silent client: the next one is told 503 at
 * once and closed, without a place. */
START_TEST(test_full)
{
	int		 fds[METRICS_CLIENTS], extra, turns = 0;
	char		 resp[4096];

	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		fds[i] = client();
	while (places_taken() < METRICS_CLIENTS && turns++ < 100)
		turn();
	ck_assert_uint_eq(places_taken(), METRICS_CLIENTS);
	extra = client();
	answer(extra, resp, sizeof(resp));
	ck_assert_msg(strncmp(resp, "HTTP/1.1 503 Service Unavailable\r\n",
	    34) == 0, "%s", resp);
	ck_assert_uint_eq(places_taken(), METRICS_CLIENTS);
	close(extra);
	for (size_t i = 0; i < METRICS_CLIENTS; i++)
		close(fds[i]);
}
END_TEST

/* Outside metrics.allow: 403 at once, no place taken. */
START_TEST(test_denied)
{
	char	 resp[4096];
	int	 fd;

	cfg.c_nmetrics_allow = 0;
	allow("192.0.2.0/24");
	allow("::1");
	fd = client();
	ck_assert_int_eq(send(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25, 0), 25);
	answer(fd, resp, sizeof(resp));
	ck_assert_msg(strncmp(resp, "HTTP/1.1 403 Forbidden\r\n", 24) == 0,
	    "%s", resp);
	ck_assert_uint_eq(places_taken(), 0);
	close(fd);
}
END_TEST

/* After its answer a client that sends more is read until it closes
 * (our close is then no reset); one that stays is let go after
 * METRICS_LINGER. */
START_TEST(test_linger)
{
	static char	 resp[METRICS_ANSWER_MAX + 1024];
	static const char req[] = "GET /metrics HTTP/1.1\r\n\r\nGET /metrics "
	    "HTTP/1.1\r\n\r\n";
	int		 fd = client();

	ck_assert_int_eq(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
	answer(fd, resp, sizeof(resp));
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s",
	    resp);
	/* One answer only: the pipelined request is dropped. */
	ck_assert_ptr_null(strstr(resp + 17, "HTTP/1.1 200"));
	ck_assert_uint_eq(places_taken(), 1);
	metrics_expire(&m.m_metrics, clock_after(clock_now(),
	    METRICS_LINGER + 0.5));
	ck_assert_uint_eq(places_taken(), 0);
	close(fd);
	fd = client();
	ck_assert_int_eq(send(fd, req, 25, 0), 25);
	answer(fd, resp, sizeof(resp));
	close(fd);
	ck_assert_uint_eq(settle(), 0);
}
END_TEST

/* A reload moves the endpoint only when its address or port changes,
 * binding the new one first; a port that is taken fails the reload
 * and leaves the running one as it was. */
START_TEST(test_reload)
{
	struct sidedoor_socket	 fresh;
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	char			 resp[4096];
	int			 taken, old = m.m_metrics.me_door.sd_sock.sk_fd;

	ck_assert_int_eq(metrics_prepare(&m.m_metrics, &fresh, &cfg), 0);
	ck_assert_int_eq(fresh.sk_fd, -1);		/* the same: kept */
	metrics_commit(&m.m_metrics, &fresh, &cfg);
	ck_assert_int_eq(m.m_metrics.me_door.sd_sock.sk_fd, old);

	ck_assert_int_ne(taken = socket(AF_INET, SOCK_STREAM, 0), -1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(taken, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(taken, 1), 0);
	ck_assert_int_eq(getsockname(taken, (struct sockaddr *)&sin, &len), 0);
	cfg.c_metrics_port = ntohs(sin.sin_port);
	ck_assert_int_eq(metrics_prepare(&m.m_metrics, &fresh, &cfg), -1);
	ck_assert_int_eq(fresh.sk_fd, -1);
	ck_assert_int_eq(m.m_metrics.me_door.sd_sock.sk_fd, old);
	close(taken);

	/* Free now: moved there at the commit, the old port closed. */
	ck_assert_int_eq(metrics_prepare(&m.m_metrics, &fresh, &cfg), 0);
	ck_assert_int_ne(fresh.sk_fd, -1);
	metrics_commit(&m.m_metrics, &fresh, &cfg);
	ck_assert_int_eq(fresh.sk_fd, -1);
	port = ntohs(sin.sin_port);
	exchange("GET /metrics HTTP/1.1\r\n\r\n", 25, resp, sizeof(resp));
	ck_assert_msg(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s",
	    resp);

	cfg.c_metrics_address = NULL;
	ck_assert_int_eq(metrics_prepare(&m.m_metrics, &fresh, &cfg), 0);
	metrics_commit(&m.m_metrics, &fresh, &cfg);
	ck_assert_int_eq(m.m_metrics.me_door.sd_sock.sk_fd, -1);
}
END_TEST

/* -t: an address this host does not have, named with its line. */
START_TEST(test_probe)
{
	char	 err[256];

	ck_assert_int_eq(metrics_probe(&cfg, err, sizeof(err)), 0);
	cfg.c_metrics_address = (char *)"192.0.2.1";
	ck_assert_int_eq(metrics_probe(&cfg, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "test.conf:1: metrics address 192.0.2.1 "
	    "cannot be bound on this host: ", 62) == 0, "%s", err);
	cfg.c_metrics_address = NULL;
	ck_assert_int_eq(metrics_probe(&cfg, err, sizeof(err)), 0);
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*parse = tcase_create("parser");
	TCase	*sock = tcase_create("endpoint");

	tcase_add_loop_test(parse, test_parse, 0,
	    sizeof(parse_cases) / sizeof(parse_cases[0]));
	tcase_add_test(parse, test_parse_prefixes);
	suite_add_tcase(s, parse);

	tcase_add_checked_fixture(sock, setup, teardown);
	tcase_add_test(sock, test_scrape_text);
	tcase_add_test(sock, test_scrape_openmetrics);
	tcase_add_test(sock, test_head);
	tcase_add_test(sock, test_errors);
	tcase_add_test(sock, test_long_head);
	tcase_add_test(sock, test_slowloris);
	tcase_add_test(sock, test_slow_reader);
	tcase_add_test(sock, test_full);
	tcase_add_test(sock, test_denied);
	tcase_add_test(sock, test_linger);
	tcase_add_test(sock, test_reload);
	tcase_add_test(sock, test_probe);
	tcase_set_timeout(sock, 60);
	suite_add_tcase(s, sock);
	return s;
}
