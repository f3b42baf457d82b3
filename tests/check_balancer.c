/* SPDX-License-Identifier: ISC */
/*
 * check_balancer.c - behind a load balancer: PROXY headers (v1, v2,
 * LOCAL, split, malformed, untrusted, late), access rules on the real
 * client, the per-source limit on the real client, the agent check's
 * answers, and the stop that drains first and serves every connection
 * already queued, with the pool saturated.
 *
 * The "balancer" is this process on 127.0.0.1 and the untrusted one on
 * 127.0.0.2: every 127/8 address is local.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

#define BANNER		"Welcome to Network Server!!"
#define BAL_QUEUED	20	/* connections left in the accept queue */
#define BAL_MAX_HELD	(BAL_QUEUED + 8)

static struct daemon	 d;
static char		 conftext[2048];
static int		 held[BAL_MAX_HELD];
static size_t		 nheld;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof(d));
	nheld = 0;
}

static void
teardown(void)
{
	for (size_t i = 0; i < nheld; i++)
		close(held[i]);
	nheld = 0;
	daemon_cleanup(&d);
}

static int
hold(int fd)
{
	ck_assert_int_ne(fd, -1);
	ck_assert_uint_lt(nheld, BAL_MAX_HELD);
	return held[nheld++] = fd;
}

/* A connection from src (a 127/8 address) to 127.0.0.1:port. */
static int
connect_from(const char *src, int port)
{
	struct sockaddr_in	 from = { .sin_family = AF_INET };
	struct sockaddr_in	 to = { .sin_family = AF_INET };
	struct timeval		 tv = { 10, 0 };
	int			 fd, one = 1;

	ck_assert_int_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)port);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* Each send its own segment: a header split is really split. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0,
	    "connect: %s", strerror(errno));
	return fd;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* The greeting after a header: banner, message, the server's close. */
static void
assert_greeting(int fd, const char *msg)
{
	char	 buf[64];

	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	ck_assert_str_eq(buf, BANNER);
	send_all(fd, msg, strlen(msg) + 1);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
}

/* Closed before a word of the service: no banner, EOF or a reset. */
static void
assert_refused(int fd)
{
	char	 buf[64];

	ck_assert_int_le(read_all(fd, buf, sizeof(buf)), 0);
}

/* A v2 header, TCP over IPv4, from src:sport. */
static size_t
v2_header4(uint8_t *out, const char *src, uint16_t sport)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	uint16_t	 len = htons(12), port = htons(sport), dport = htons(9);

	memcpy(out, sig, 12);
	out[12] = 0x21;		/* version 2, PROXY */
	out[13] = 0x11;		/* AF_INET, STREAM */
	memcpy(out + 14, &len, 2);
	ck_assert_int_eq(inet_pton(AF_INET, src, out + 16), 1);
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", out + 20), 1);
	memcpy(out + 24, &port, 2);
	memcpy(out + 26, &dport, 2);
	return 28;
}

/* The same, TCP over IPv6. */
static size_t
v2_header6(uint8_t *out, const char *src, uint16_t sport)
{
	uint16_t	 len = htons(36), port = htons(sport), dport = htons(9);

	v2_header4(out, "0.0.0.0", 0);
	out[13] = 0x21;		/* AF_INET6, STREAM */
	memcpy(out + 14, &len, 2);
	ck_assert_int_eq(inet_pton(AF_INET6, src, out + 16), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", out + 32), 1);
	memcpy(out + 48, &port, 2);
	memcpy(out + 50, &dport, 2);
	return 52;
}

/* A PROXY listener trusting 127.0.0.1, then extra. */
static const char *
proxy_config(const char *mode, const char *extra)
{
	snprintf(conftext, sizeof(conftext), "listen = { address = "
	    "\"127.0.0.1\"; port = 0; proxy_protocol = \"%s\";\n"
	    "  proxy_from = [ \"127.0.0.1/32\" ]; };\n%s", mode,
	    extra != NULL ? extra : "");
	return conftext;
}

/* The value of a line of "preforkd -s status" (static storage). */
static const char *
status_field(const char *head)
{
	static char	 out[8192];
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c",
	    d.d_conf, "-s", "status", NULL };
	char		*p, *end;

	ck_assert_int_eq(run_capture(argv, out, sizeof(out)), 0);
	ck_assert_msg((p = strstr(out, head)) != NULL, "%s", out);
	p += strlen(head);
	if ((end = strchr(p, '\n')) != NULL)
		*end = '\0';
	return p;
}

/* Wait until the status line that starts with head holds want. */
static bool
status_wait(const char *head, const char *want, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);

	do {
		if (strstr(status_field(head), want) != NULL)
			return true;
		sleep_ms(50);
	} while (clock_ms_until(end) > 0);
	return false;
}

/* ---- PROXY headers ------------------------------------------------------- */

/* v1 and v2 name the client, in the log; LOCAL keeps the balancer. */
START_TEST(test_proxy_names_the_client)
{
	uint8_t		 h[64];
	size_t		 n;
	int		 fd;

	daemon_start(&d, proxy_config("any", "workers = 2;\n"));
	fd = connect_from("127.0.0.1", d.d_port);
	send_all(fd, "PROXY TCP4 198.51.100.7 192.0.2.1 40000 9\r\n", 43);
	assert_greeting(fd, "one");
	close(fd);

	fd = connect_from("127.0.0.1", d.d_port);
	n = v2_header6(h, "2001:db8:77::5", 5555);
	send_all(fd, h, n);
	assert_greeting(fd, "two");
	close(fd);

	/* LOCAL: a health check of the balancer's own. */
	fd = connect_from("127.0.0.1", d.d_port);
	n = v2_header4(h, "0.0.0.0", 0);
	h[12] = 0x20;
	h[13] = 0x00;
	h[14] = h[15] = 0;
	send_all(fd, h, 16);
	assert_greeting(fd, "three");
	close(fd);

	ck_assert_msg(daemon_log_wait(&d, "message peer=198.51.100.7:40000 "
	    "bytes=3", 10), "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "message peer=[2001:db8:77::5]:5555 "
	    "bytes=3", 10), "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "message peer=127.0.0.1:", 10),
	    "%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "PROXY"), 0);
}
END_TEST

/* A header one byte a segment, and a header with the client's first
 * bytes in the same segment: nothing past the header is taken from the
 * service. */
START_TEST(test_proxy_split_and_joined)
{
	uint8_t		 h[128];
	size_t		 n;
	char		 buf[64];
	int		 fd;

	daemon_start(&d, proxy_config("v2", "workers = 2;\n"));
	fd = connect_from("127.0.0.1", d.d_port);
	n = v2_header4(h, "203.0.113.9", 1234);
	for (size_t i = 0; i < n; i++) {
		send_all(fd, h + i, 1);
		sleep_ms(5);
	}
	assert_greeting(fd, "bytewise");
	close(fd);

	fd = connect_from("127.0.0.1", d.d_port);
	n = v2_header4(h, "203.0.113.10", 4321);
	memcpy(h + n, "joined", 7);
	send_all(fd, h, n + 7);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	ck_assert_msg(daemon_log_wait(&d, "message peer=203.0.113.9:1234 "
	    "bytes=8 msg=\"bytewise\"", 10), "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "message peer=203.0.113.10:4321 "
	    "bytes=6 msg=\"joined\"", 10), "%s", daemon_log_tail(&d));
}
END_TEST

/* What is not a valid header from a trusted sender is closed before the
 * service says a word, logged escaped, and counted. */
START_TEST(test_proxy_refused)
{
	uint8_t	 h[64];
	char	 extra[256];
	size_t	 n;
	int	 fd;

	daemon_write_config(&d, NULL);
	snprintf(extra, sizeof(extra), "workers = 2;\n"
	    "timeouts = { read = 1; };\ncontrol = \"%s/control\";\n", d.d_dir);
	daemon_start(&d, proxy_config("v2", extra));
	/* Not a trusted sender, even with a good header. */
	fd = connect_from("127.0.0.2", d.d_port);
	n = v2_header4(h, "198.51.100.1", 1);
	send_all(fd, h, n);
	assert_refused(fd);
	close(fd);
	/* Not a header at all. */
	fd = connect_from("127.0.0.1", d.d_port);
	send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	assert_refused(fd);
	close(fd);
	/* A v1 header on a v2 listener: never guessed. */
	fd = connect_from("127.0.0.1", d.d_port);
	send_all(fd, "PROXY TCP4 198.51.100.1 192.0.2.1 1 2\r\n", 39);
	assert_refused(fd);
	close(fd);
	/* A version 3. */
	fd = connect_from("127.0.0.1", d.d_port);
	n = v2_header4(h, "198.51.100.1", 1);
	h[12] = 0x31;
	send_all(fd, h, n);
	assert_refused(fd);
	close(fd);
	/* Nothing: the header's deadline is 3 s, whatever timeouts.read. */
	fd = connect_from("127.0.0.1", d.d_port);
	assert_refused(fd);
	close(fd);
	/* Nothing, and gone: a health check that connects and closes,
	 * counted as empty too, and not logged (log.empty). */
	close(connect_from("127.0.0.1", d.d_port));
	ck_assert_msg(status_wait("connections: ", "empty=1", 10), "%s",
	    daemon_log_tail(&d));

	ck_assert_msg(daemon_log_wait(&d, "PROXY listener: refused "
	    "peer=127.0.0.2:", 10), "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "\"GET / HTTP/1.0\\r\\n\\r\\n\"",
	    10), "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "\"PROXY TCP4 198.51.100.1", 10),
	    "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "none before the deadline", 10),
	    "%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "message peer="), 0);
	ck_assert_int_eq(daemon_log_count(&d, "closed before sending"), 0);
	/* Each counted, whatever the log budget let through, and none
	 * as served: the service never had them. */
	ck_assert_str_eq(status_field("connections: "), "served=0 limited=0 "
	    "shed=0 denied=0 proxy_failed=6 empty=1");
}
END_TEST

/* ---- access rules and limits on the real client --------------------------- */

/* The rules see the direct peer on a plain listener, the header's client
 * on a PROXY one; the first match decides. */
START_TEST(test_access_rules)
{
	uint8_t		 h[64];
	size_t		 n;
	int		 fd, proxy_port;
	const char	*p;

	snprintf(conftext, sizeof(conftext), "listen = (\n"
	    "  { address = \"127.0.0.1\"; port = 0; },\n"
	    "  { address = \"127.0.0.1\"; port = 0; proxy_protocol = \"any\";\n"
	    "    proxy_from = [ \"127.0.0.1\" ]; } );\n"
	    "workers = 2;\n"
	    "access = [ \"deny 127.0.0.3\", \"deny 203.0.113.0/24\",\n"
	    "  \"allow 127.0.0.0/8\", \"allow 198.51.100.0/24\",\n"
	    "  \"deny all\" ];\n");
	daemon_start(&d, conftext);
	/* The second "listening on" line is the PROXY listener. */
	p = strstr(daemon_log(&d), "listening on ");
	ck_assert_ptr_nonnull(p = strstr(p + 1, "listening on 127.0.0.1:"));
	proxy_port = atoi(p + strlen("listening on 127.0.0.1:"));
	ck_assert_int_gt(proxy_port, 0);

	fd = connect_from("127.0.0.3", d.d_port);
	assert_refused(fd);
	close(fd);
	fd = connect_from("127.0.0.2", d.d_port);
	assert_greeting(fd, "allowed");
	close(fd);

	fd = connect_from("127.0.0.1", proxy_port);
	n = v2_header4(h, "203.0.113.5", 7);
	send_all(fd, h, n);
	assert_refused(fd);
	close(fd);
	fd = connect_from("127.0.0.1", proxy_port);
	n = v2_header4(h, "192.0.2.200", 8);	/* no rule: "deny all" */
	send_all(fd, h, n);
	assert_refused(fd);
	close(fd);
	fd = connect_from("127.0.0.1", proxy_port);
	n = v2_header4(h, "198.51.100.5", 9);
	send_all(fd, h, n);
	assert_greeting(fd, "through");
	close(fd);

	ck_assert_msg(daemon_log_wait(&d, "access: denied peer=127.0.0.3:", 10),
	    "%s", daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, "by rule 1 \"deny 127.0.0.3/32\"", 10));
	ck_assert(daemon_log_wait(&d, "access: denied peer=203.0.113.5:7 by "
	    "rule 2 \"deny 203.0.113.0/24\"", 10));
	ck_assert(daemon_log_wait(&d, "access: denied peer=192.0.2.200:8 by "
	    "rule 5 \"deny all\"", 10));
	ck_assert(daemon_log_wait(&d, "message peer=198.51.100.5:9 ", 10));
	ck_assert(daemon_log_wait(&d, "message peer=127.0.0.2:", 10));
	ck_assert_int_eq(daemon_log_count(&d, "access: denied"), 3);
}
END_TEST

/* Connections the rules refuse count as denied, never as served. */
START_TEST(test_denied_not_served)
{
	char	 extra[256];
	int	 fd;

	daemon_write_config(&d, NULL);
	snprintf(extra, sizeof(extra), "workers = 2;\n"
	    "access = [ \"deny all\" ];\ncontrol = \"%s/control\";\n",
	    d.d_dir);
	daemon_start(&d, extra);
	for (int i = 0; i < 5; i++) {
		fd = connect_from("127.0.0.2", d.d_port);
		assert_refused(fd);
		close(fd);
	}
	ck_assert_msg(daemon_log_wait(&d, "access: denied peer=127.0.0.2:",
	    10), "%s", daemon_log_tail(&d));
	ck_assert_str_eq(status_field("connections: "), "served=0 limited=0 "
	    "shed=0 denied=5 proxy_failed=0 empty=0");
}
END_TEST

/* Behind a balancer every connection comes from it: the per-source
 * limit counts the clients its headers name, never the balancer. */
START_TEST(test_per_source_behind_proxy)
{
	uint8_t	 h[64];
	char	 buf[64];
	size_t	 n;
	int	 fd;

	daemon_start(&d, proxy_config("v2", "workers = 4;\n"
	    "limits = { per_source = 1; };\ntimeouts = { read = 20; };\n"));
	/* One client of 198.51.100.1 in service, waiting to talk. */
	fd = hold(connect_from("127.0.0.1", d.d_port));
	n = v2_header4(h, "198.51.100.1", 1000);
	send_all(fd, h, n);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	/* A second from the same client: over its limit. */
	fd = connect_from("127.0.0.1", d.d_port);
	n = v2_header4(h, "198.51.100.1", 1001);
	send_all(fd, h, n);
	assert_refused(fd);
	close(fd);
	/* Another client through the same balancer: served. */
	fd = connect_from("127.0.0.1", d.d_port);
	n = v2_header4(h, "198.51.100.2", 1002);
	send_all(fd, h, n);
	assert_greeting(fd, "other");
	close(fd);
	ck_assert_msg(daemon_log_wait(&d, "per-source limit: refused "
	    "peer=198.51.100.1:1001", 10), "%s", daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, "message peer=198.51.100.2:1002 ", 10));
}
END_TEST

/* ---- the agent check ------------------------------------------------------ */

/* The line the agent answers now. */
static void
agent_line(int port, char *buf, size_t size)
{
	ssize_t	 n;
	int	 fd = hold(connect_from("127.0.0.1", port));

	n = read_all(fd, buf, size - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
}

/* Wait until the agent answers want. */
static bool
agent_says(int port, const char *want, double secs)
{
	char	 line[64];

	for (int i = 0; i < (int)(secs * 20); i++) {
		agent_line(port, line, sizeof(line));
		close(held[--nheld]);
		if (strcmp(line, want) == 0)
			return true;
		sleep_ms(50);
	}
	return false;
}

/* The weight falls as workers are held and connections queue; 1% at
 * worst, never 0 (that is drain's). */
START_TEST(test_agent_weight)
{
	char	 extra[256], buf[64];
	int	 agent = free_port();

	snprintf(extra, sizeof(extra), "workers = 4;\n"
	    "agent = { address = \"127.0.0.1\"; port = %d; };\n"
	    "timeouts = { read = 30; };\n", agent);
	daemon_start(&d, extra);
	ck_assert_msg(daemon_log_wait(&d, "agent check on 127.0.0.1:", 5),
	    "%s", daemon_log_tail(&d));
	ck_assert(agent_says(agent, "ready 100%\n", 10));
	for (int i = 0; i < 2; i++) {
		hold(tcp_connect("127.0.0.1", d.d_port));
		ck_assert_int_eq(read_banner(held[nheld - 1], buf,
		    sizeof(buf)), sizeof(BANNER));
	}
	ck_assert(agent_says(agent, "ready 50%\n", 10));
	/* Saturated: two more held, two queued behind them. */
	for (int i = 0; i < 4; i++)
		hold(tcp_connect("127.0.0.1", d.d_port));
	ck_assert(agent_says(agent, "ready 1%\n", 10));
}
END_TEST

/* TTIN moves a fixed pool's ceiling: workers = 4 all held say 1%, and
 * four more workers, idle, are offered (four of eight free: 50%). */
START_TEST(test_agent_weight_ttin)
{
	char	 extra[256], buf[64], want[64];
	int	 agent = free_port();

	snprintf(extra, sizeof(extra), "workers = 4;\n"
	    "agent = { address = \"127.0.0.1\"; port = %d; };\n"
	    "timeouts = { read = 30; };\n", agent);
	daemon_start(&d, extra);
	ck_assert(agent_says(agent, "ready 100%\n", 10));
	for (int i = 0; i < 4; i++) {
		hold(tcp_connect("127.0.0.1", d.d_port));
		ck_assert_int_eq(read_banner(held[nheld - 1], buf,
		    sizeof(buf)), sizeof(BANNER));
	}
	ck_assert(agent_says(agent, "ready 1%\n", 10));
	/* One at a time: two signals that arrive together are one. */
	for (int n = 5; n <= 8; n++) {
		ck_assert_int_eq(kill(d.d_pid, SIGTTIN), 0);
		snprintf(want, sizeof(want), "workers=%d (one more on TTIN)",
		    n);
		ck_assert_msg(daemon_log_wait(&d, want, 10), "%s",
		    daemon_log_tail(&d));
	}
	ck_assert(proc_wait_children(d.d_pid, 8, 20));
	ck_assert_msg(agent_says(agent, "ready 50%\n", 10), "%s",
	    daemon_log_tail(&d));
}
END_TEST

/* A reload moves the agent; one that cannot take the new port fails
 * before anything changes, as one that cannot take a listener's. */
START_TEST(test_agent_reload)
{
	char	 extra[256];
	int	 a1 = free_port(), a2, taken, fd;

	snprintf(extra, sizeof(extra), "workers = 2;\n"
	    "agent = { port = %d; };\n", a1);
	daemon_start(&d, extra);
	ck_assert(agent_says(a1, "ready 100%\n", 10));
	/* A port someone holds: the agent stays where it is. */
	fd = tcp_listener(&taken);
	snprintf(extra, sizeof(extra), "workers = 2;\nagent = { port = %d; };\n",
	    taken);
	daemon_write_config(&d, extra);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reload failed: cannot open the "
	    "listening sockets or the agent's", 10), "%s",
	    daemon_log_tail(&d));
	ck_assert(agent_says(a1, "ready 100%\n", 10));
	ck_assert_int_eq(daemon_log_count(&d, "starting generation=2"), 0);
	close(fd);
	a2 = free_port();
	snprintf(extra, sizeof(extra), "workers = 2;\nagent = { port = %d; };\n",
	    a2);
	daemon_write_config(&d, extra);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	snprintf(extra, sizeof(extra), "agent check on 127.0.0.1:%d", a2);
	ck_assert_msg(daemon_log_wait(&d, extra, 20), "%s",
	    daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, "reloaded generation=2", 10));
	ck_assert(agent_says(a2, "ready 100%\n", 10));
	ck_assert_int_eq(tcp_connect("127.0.0.1", a1), -1);
}
END_TEST

/* -t checks that the agent's address can be bound here, and names its
 * line. */
START_TEST(test_agent_checked_by_t)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-t", "-c",
	    d.d_conf, NULL };
	char		 out[1024], want[256];
	int		 status;

	daemon_write_config(&d, "workers = 2;\n"
	    "agent = { port = 9100;\n address = \"192.0.2.1\"; };\n");
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 78, "%s",
	    out);
	snprintf(want, sizeof(want), "%s:3: agent address 192.0.2.1 cannot "
	    "be bound on this host", d.d_conf);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
}
END_TEST

/* ---- drain and stop ------------------------------------------------------- */

/* TERM with timeouts.drain: the agent says drain and clients are still
 * served; a HUP meanwhile is ignored; then "maint" while the last
 * connection finishes, and a clean exit. */
START_TEST(test_drain_then_stop)
{
	char	 extra[256], buf[64];
	int	 agent = free_port(), fd;

	snprintf(extra, sizeof(extra), "workers = 2;\n"
	    "agent = { port = %d; };\n"
	    "timeouts = { drain = 2; read = 30; shutdown = 30; };\n", agent);
	daemon_start(&d, extra);
	fd = hold(tcp_connect("127.0.0.1", d.d_port));
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	ck_assert_int_eq(kill(d.d_pid, SIGTERM), 0);
	ck_assert_msg(daemon_log_wait(&d, "draining for 2.0s", 10), "%s",
	    daemon_log_tail(&d));
	ck_assert(agent_says(agent, "drain\n", 10));
	ck_assert_int_eq(greet(d.d_port, "while draining", 15), 0);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert(daemon_log_wait(&d, "reload requested while draining to "
	    "stop: ignored", 10));
	ck_assert_msg(daemon_log_wait(&d, "shutting down workers=", 10), "%s",
	    daemon_log_tail(&d));
	/* The held client keeps the daemon stopping. */
	ck_assert(agent_says(agent, "maint\n", 10));
	send_all(fd, "bye", 4);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(daemon_wait(&d, 20), 0);
	ck_assert(daemon_log_wait(&d, "message peer=127.0.0.1:", 1));
	ck_assert_int_eq(daemon_log_count(&d, "starting generation=2"), 0);
}
END_TEST

/*
 * The pool saturated (closed-loop clients, four per worker): through the
 * drain the daemon keeps serving them, then stops cleanly, nothing
 * killed.
 */
START_TEST(test_drain_saturated)
{
	char	 out[256];
	int	 before;
	long	 ok, errors;
	pid_t	 load;

	daemon_start(&d, "workers = 2;\nlimits = { per_source = 0; };\n"
	    "timeouts = { drain = 2; shutdown = 20; };\n");
	snprintf(out, sizeof(out), "%s/load.out", d.d_dir);
	load = load_start(d.d_port, 8, 5, out);
	sleep_ms(1000);
	ck_assert_int_eq(kill(d.d_pid, SIGTERM), 0);
	ck_assert(daemon_log_wait(&d, "draining for 2.0s", 10));
	before = daemon_log_count(&d, "message peer=");
	ck_assert_msg(daemon_log_wait_count(&d, "message peer=", before + 10,
	    10), "not serving while draining:\n%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "shutting down workers="), 0);
	ck_assert_int_eq(daemon_wait(&d, 30), 0);
	ck_assert(daemon_log_wait(&d, "shutting down workers=2", 1));
	ck_assert_int_eq(daemon_log_count(&d, "killing"), 0);
	load_wait(load, out, &ok, &errors);
	ck_assert_int_gt(ok, 0);
}
END_TEST

/* A second TERM ends the drain at once. */
START_TEST(test_second_term)
{
	daemon_start(&d, "workers = 2;\ntimeouts = { drain = 600; };\n");
	ck_assert_int_eq(kill(d.d_pid, SIGTERM), 0);
	ck_assert(daemon_log_wait(&d, "draining for 600.0s", 10));
	ck_assert_int_eq(greet(d.d_port, "still", 6), 0);
	ck_assert_int_eq(kill(d.d_pid, SIGTERM), 0);
	ck_assert_int_eq(daemon_wait(&d, 30), 0);
	ck_assert(daemon_log_wait(&d, "shutting down workers=2", 1));
}
END_TEST

/*
 * The pool saturated: both workers held, n connections in the accept
 * queue behind them.  A stop serves every queued one once the held ones
 * are done, instead of resetting the queue; a connection tried after the
 * stop began is never served.
 */
static void
stop_serves_queue(int n, bool unprivileged)
{
	int	 queued[BAL_QUEUED], late, i;
	char	 buf[64];

	ck_assert_int_le(n, BAL_QUEUED);
	if (unprivileged) {
		/* The build may sit where "nobody" cannot enter. */
		snprintf(d.d_exe, sizeof(d.d_exe), "%s",
		    daemon_copy_program(&d, "PREFORKD", "./preforkd"));
		daemon_pre_exec = daemon_become_nobody;
	}
	daemon_start(&d, "workers = 2;\nlimits = { per_source = 0; };\n"
	    "timeouts = { read = 30; shutdown = 60; };\n");
	daemon_pre_exec = NULL;
	for (i = 0; i < 2; i++) {
		hold(tcp_connect("127.0.0.1", d.d_port));
		ck_assert_int_eq(read_banner(held[i], buf, sizeof(buf)),
		    sizeof(BANNER));
	}
	for (i = 0; i < n; i++)
		queued[i] = hold(tcp_connect("127.0.0.1", d.d_port));
	ck_assert_int_eq(kill(d.d_pid, SIGTERM), 0);
	ck_assert_msg(daemon_log_wait(&d, "shutting down workers=2", 10),
	    "%s", daemon_log_tail(&d));
	/* Not accepted any more: its SYN goes unanswered. */
	late = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	{
		struct sockaddr_in sin = { .sin_family = AF_INET };

		sin.sin_port = htons((uint16_t)d.d_port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(connect(late, (struct sockaddr *)&sin,
		    sizeof(sin)), -1);
		ck_assert_int_eq(errno, EINPROGRESS);
	}
	for (i = 0; i < 2; i++) {
		send_all(held[i], "done", 5);
		ck_assert_int_eq(recv(held[i], buf, sizeof(buf), 0), 0);
	}
	/* Each one whole: the banner, then the server's close, no reset. */
	for (i = 0; i < n; i++) {
		ck_assert_msg(read_banner(queued[i], buf, sizeof(buf)) ==
		    sizeof(BANNER), "queued connection %d: no banner (%s):\n%s",
		    i, strerror(errno), daemon_log_tail(&d));
		send_all(queued[i], "queued", 7);
		ck_assert_msg(recv(queued[i], buf, sizeof(buf), 0) == 0,
		    "queued connection %d: %s", i, strerror(errno));
	}
	ck_assert_int_eq(daemon_wait(&d, 30), 0);
	ck_assert_int_eq(daemon_log_count(&d, "msg=\"queued\""), n);
	ck_assert_msg(strstr(daemon_log(&d), "shutting it down") == NULL,
	    "%s", daemon_log_tail(&d));
	/* The late one: refused once the port closed, or still trying;
	 * never a banner. */
	ck_assert_int_le(recv(late, buf, sizeof(buf), 0), 0);
	close(late);
}

START_TEST(test_stop_serves_the_queue)
{
	stop_serves_queue(BAL_QUEUED, false);
}
END_TEST

/* The same with the daemon unprivileged from the start. */
START_TEST(test_stop_serves_the_queue_unprivileged)
{
	if (geteuid() != 0)
		return;		/* needs to become another user */
	stop_serves_queue(5, true);
}
END_TEST

/*
 * A client-first service (echo): TCP_DEFER_ACCEPT holds a client that has
 * not spoken yet out of the queue.  Those that speak after the stop began
 * are still served, to the end of their exchange: one stopping worker
 * stays for them.
 */
static void
stop_serves_deferred(bool unprivileged)
{
	int	 fd[5];
	char	 buf[16];

	if (unprivileged) {
		snprintf(d.d_exe, sizeof(d.d_exe), "%s",
		    daemon_copy_program(&d, "PREFORKD", "./preforkd"));
		daemon_pre_exec = daemon_become_nobody;
	}
	daemon_start(&d, "workers = 2;\nservice = \"echo\";\n"
	    "limits = { per_source = 0; };\n"
	    "timeouts = { read = 3; shutdown = 20; };\n");
	daemon_pre_exec = NULL;
	for (int i = 0; i < 5; i++)
		fd[i] = hold(tcp_connect("127.0.0.1", d.d_port));
	sleep_ms(100);
	ck_assert_int_eq(kill(d.d_pid, SIGTERM), 0);
	ck_assert(daemon_log_wait(&d, "shutting down workers=2", 10));
	sleep_ms(500);
	for (int i = 0; i < 5; i++) {
		send_all(fd[i], "late\n", 5);
		ck_assert_msg(read_all(fd[i], buf, 5) == 5, "client %d: no "
		    "echo", i);
		/* What it says next reaches the worker too. */
		send_all(fd[i], "more\n", 5);
		ck_assert_msg(read_all(fd[i], buf, 5) == 5, "client %d: no "
		    "second echo", i);
		ck_assert_int_eq(shutdown(fd[i], SHUT_WR), 0);
		ck_assert_int_eq(recv(fd[i], buf, sizeof(buf), 0), 0);
	}
	ck_assert_int_eq(daemon_wait(&d, 30), 0);
}

START_TEST(test_stop_serves_deferred)
{
	stop_serves_deferred(false);
}
END_TEST

/* The same with the daemon unprivileged from the start. */
START_TEST(test_stop_serves_deferred_unprivileged)
{
	if (geteuid() != 0)
		return;		/* needs to become another user */
	stop_serves_deferred(true);
}
END_TEST

/*
 * A stop while a reload starts: a connection queued on a port that only
 * the starting generation has (the reload added it) is served by a
 * worker of that generation as it stops at its gate, not reset.  (If the
 * reload is done first, the new generation serves it the usual way.)
 */
START_TEST(test_stop_during_reload)
{
	char	 extra[256], buf[64];
	int	 port2 = free_port(), fd;

	daemon_start(&d, "workers = 2;\n");
	snprintf(extra, sizeof(extra), "workers = 64;\n"
	    "listen = ( { address = \"127.0.0.1\"; port = 0; },\n"
	    "  { address = \"127.0.0.1\"; port = %d; } );\n", port2);
	daemon_write_config(&d, extra);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	snprintf(extra, sizeof(extra), "listening on 127.0.0.1:%d", port2);
	ck_assert_msg(daemon_log_wait(&d, extra, 20), "%s",
	    daemon_log_tail(&d));
	fd = hold(tcp_connect("127.0.0.1", port2));
	ck_assert_int_eq(kill(d.d_pid, SIGTERM), 0);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	send_all(fd, "new port", 9);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(daemon_wait(&d, 30), 0);
	ck_assert(daemon_log_wait(&d, "msg=\"new port\"", 1));
}
END_TEST

Suite *
balancer_suite(void)
{
	Suite	*s = suite_create("balancer");
	TCase	*proxy = tcase_create("proxy");
	TCase	*access = tcase_create("access");
	TCase	*agent = tcase_create("agent");
	TCase	*stop = tcase_create("stop");

	tcase_add_checked_fixture(proxy, setup, teardown);
	tcase_add_test(proxy, test_proxy_names_the_client);
	tcase_add_test(proxy, test_proxy_split_and_joined);
	tcase_add_test(proxy, test_proxy_refused);
	tcase_set_timeout(proxy, 60);
	suite_add_tcase(s, proxy);

	tcase_add_checked_fixture(access, setup, teardown);
	tcase_add_test(access, test_access_rules);
	tcase_add_test(access, test_per_source_behind_proxy);
	tcase_add_test(access, test_denied_not_served);
	tcase_set_timeout(access, 60);
	suite_add_tcase(s, access);

	tcase_add_checked_fixture(agent, setup, teardown);
	tcase_add_test(agent, test_agent_weight);
	tcase_add_test(agent, test_agent_weight_ttin);
	tcase_add_test(agent, test_agent_reload);
	tcase_add_test(agent, test_agent_checked_by_t);
	tcase_set_timeout(agent, 60);
	suite_add_tcase(s, agent);

	tcase_add_checked_fixture(stop, setup, teardown);
	tcase_add_test(stop, test_drain_then_stop);
	tcase_add_test(stop, test_second_term);
	tcase_add_test(stop, test_drain_saturated);
	tcase_add_test(stop, test_stop_serves_the_queue);
	tcase_add_test(stop, test_stop_serves_the_queue_unprivileged);
	tcase_add_test(stop, test_stop_serves_deferred);
	tcase_add_test(stop, test_stop_serves_deferred_unprivileged);
	tcase_add_test(stop, test_stop_during_reload);
	tcase_set_timeout(stop, 90);
	suite_add_tcase(s, stop);
	return s;
}
