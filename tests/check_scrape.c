/* SPDX-License-Identifier: ISC */
/*
 * check_scrape.c - the metrics endpoint of the real daemon: scraped with
 * a plain TCP client, every series checked against what the test did
 * (connections, a held client, timeouts, workers killed, reloads that
 * pass and fail), each answer through promtool when it is installed,
 * a client that never finishes its request dropped at its deadline while
 * the daemon serves on, the port moved by a reload, -t naming the line
 * of an address it cannot bind, a real Prometheus (Debian's
 * "prometheus") scraping the daemon and answering a query, and the
 * Grafana dashboard in docs/ asking for no series the daemon does not
 * serve.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>
#include <fcntl.h>

#include "clock.h"
#include "daemon.h"

#define SCRAPE_MAX	(256 * 1024)
#define METRICS_GET	"GET /metrics HTTP/1.1\r\nHost: preforkd\r\n\r\n"

static struct daemon	 d;
static char		 prom_dir[64];
static pid_t		 prom_pid;
static int		 held = -1;

/* Prometheus goes in every case: stopped, then its files removed. */
static int
prom_unlink(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == -1 ? 0 : 0;
}

static void
prom_stop(void)
{
	if (prom_pid > 0) {
		kill(prom_pid, SIGTERM);
		for (int i = 0; i < 100 && waitpid(prom_pid, NULL, WNOHANG) !=
		    prom_pid; i++) {
			if (i == 99) {
				kill(prom_pid, SIGKILL);
				waitpid(prom_pid, NULL, 0);
			}
			sleep_ms(100);
		}
	}
	prom_pid = 0;
	if (prom_dir[0] != '\0')
		nftw(prom_dir, prom_unlink, 16, FTW_DEPTH | FTW_PHYS);
	prom_dir[0] = '\0';
}

static void
teardown(void)
{
	prom_stop();
	if (held != -1)
		close(held);
	held = -1;
	daemon_cleanup(&d);
}

/* Where the daemon said its metrics are. */
static int
metrics_port(void)
{
	const char	*p = strstr(daemon_log(&d), "metrics on 127.0.0.1:");

	ck_assert_msg(p != NULL, "%s", daemon_log_tail(&d));
	return atoi(p + 21);
}

/* One request, the whole answer (to EOF) in buf; its length. */
static size_t
http(int port, const char *req, char *buf, size_t size)
{
	size_t	 got = 0;
	ssize_t	 n;
	int	 fd = tcp_connect("127.0.0.1", port);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL),
	    (ssize_t)strlen(req));
	while (got < size - 1 && (n = recv(fd, buf + got, size - 1 - got,
	    0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
	return got;
}

/* GET /metrics: 200 with a Content-Length that is the body's; the
 * body. */
static const char *
scrape(int port)
{
	static char	 buf[SCRAPE_MAX];
	const char	*body, *cl;
	size_t		 len = http(port, METRICS_GET, buf, sizeof(buf));

	ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\r\nContent-Type: text/plain; "
	    "version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\r\nConnection: close\r\n"));
	ck_assert_ptr_nonnull(cl = strstr(buf, "\r\nContent-Length: "));
	ck_assert_ptr_nonnull(body = strstr(buf, "\r\n\r\n"));
	body += 4;
	ck_assert_uint_eq(strtoul(cl + 18, NULL, 10), len - (size_t)(body -
	    buf));
	return body;
}

/* The value of the sample "name{labels}" as written; -1 if absent. */
static double
sample(const char *body, const char *series)
{
	char		 line[256];
	const char	*p;

	snprintf(line, sizeof(line), "\n%s ", series);
	if ((p = strstr(body, line)) == NULL)
		return -1;
	return strtod(p + strlen(line), NULL);
}

/* A program on $PATH, into path; false if there is none. */
static bool
on_path(const char *name, char *path, size_t size)
{
	const char	*dirs = getenv("PATH"), *end;
	size_t		 len;

	for (; dirs != NULL && *dirs != '\0'; dirs = *end ? end + 1 : end) {
		end = strchr(dirs, ':');
		if (end == NULL)
			end = dirs + strlen(dirs);
		len = (size_t)(end - dirs);
		snprintf(path, size, "%.*s/%s", (int)len, dirs, name);
		if (len > 0 && access(path, X_OK) == 0)
			return true;
	}
	return false;
}

/* promtool check metrics over body: no error, no lint.  Without
 * promtool, a SKIP line once. */
static void
promtool_check(const char *body, const char *what)
{
	static bool	 said;
	char		 tool[256], file[128], cmd[512], out[4096];
	const char	*argv[] = { "/bin/sh", "-c", cmd, NULL };
	FILE		*fp;
	int		 status;

	if (!on_path("promtool", tool, sizeof(tool))) {
		if (!said)
			printf("SKIP: promtool check metrics: promtool is not "
			    "installed (Debian: apt-get install "
			    "prometheus)\n");
		said = true;
		return;
	}
	snprintf(file, sizeof(file), "%s/scrape.txt", d.d_dir);
	ck_assert_ptr_nonnull(fp = fopen(file, "w"));
	fputs(body, fp);
	ck_assert_int_eq(fclose(fp), 0);
	snprintf(cmd, sizeof(cmd), "'%s' check metrics < '%s'", tool, file);
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    out[0] == '\0', "promtool on the metrics %s: status %#x: %s\n%s",
	    what, status, out, body);
	unlink(file);
}

/* Scrape until series has value, within secs; the last body. */
static const char *
scrape_until(int port, const char *series, double value, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	const char	*body;

	do {
		body = scrape(port);
		if (sample(body, series) == value)
			return body;
		sleep_ms(50);
	} while (clock_ms_until(end) > 0);
	ck_abort_msg("%s is %g, not %g:\n%s", series, sample(body, series),
	    value, body);
	return body;
}

/* A worker, killed with signo; its exit logged. */
static void
kill_worker(int signo)
{
	pid_t	 kids[8];
	char	 want[64];

	ck_assert(proc_wait_children(d.d_pid, 2, 10));
	ck_assert_uint_ge(proc_children(d.d_pid, kids, 8), 1);
	ck_assert_int_eq(kill(kids[0], signo), 0);
	snprintf(want, sizeof(want), "worker exited pid=%ld signal=%d",
	    (long)kids[0], signo);
	ck_assert_msg(daemon_log_wait(&d, want, 10), "%s",
	    daemon_log_tail(&d));
}

/* Every series against what was done, and each answer through
 * promtool. */
START_TEST(test_series)
{
	const char	*conf = "workers = 2;\ntimeouts = { read = 0.5; };\n"
	    "metrics = { port = 0; };\n";
	const char	*body;
	char		 banner[64];
	int		 mport;

	daemon_start(&d, conf);
	mport = metrics_port();
	body = scrape(mport);
	promtool_check(body, "at start");
	ck_assert(sample(body, "preforkd_connections_served_total") == 0);
	ck_assert(sample(body, "preforkd_start_time_seconds") > 1e9);
	ck_assert_ptr_null(strstr(body, "pid="));

	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(greet(d.d_port, "hello", 6), 0);
	/* One held after its banner: busy, reading; then timed out. */
	held = tcp_connect("127.0.0.1", d.d_port);
	ck_assert_int_gt(read_banner(held, banner, sizeof(banner)), 0);
	body = scrape_until(mport, "preforkd_workers_busy{wait=\"reading\"}", 1,
	    10);
	promtool_check(body, "with a busy worker");
	ck_assert(sample(body, "preforkd_connections_served_total") == 3);
	ck_assert(sample(body, "preforkd_connection_duration_seconds_count{"
	    "service=\"greeting\"}") == 3);
	ck_assert(sample(body, "preforkd_connection_duration_seconds_bucket{"
	    "service=\"greeting\",le=\"+Inf\"}") == 3);
	ck_assert(sample(body, "preforkd_received_bytes_total") == 18);
	ck_assert(sample(body, "preforkd_sent_bytes_total") == 3 * 28);
	body = scrape_until(mport, "preforkd_timeouts_total{kind=\"read\"}", 1,
	    10);
	ck_assert(sample(body, "preforkd_timeouts_total{kind=\"write\"}") == 0);
	ck_assert(sample(body, "preforkd_connection_duration_seconds_count{"
	    "service=\"greeting\"}") == 4);
	/* It lasted timeouts.read at least: above le="0.25". */
	ck_assert(sample(body, "preforkd_connection_duration_seconds_bucket{"
	    "service=\"greeting\",le=\"0.25\"}") == 3);
	close(held);
	held = -1;

	kill_worker(SIGKILL);
	body = scrape_until(mport, "preforkd_worker_exits_total{cause="
	    "\"killed\"}", 1, 10);
	/* Not SEGV: a sanitizer build catches that one and exits 1. */
	kill_worker(SIGABRT);
	body = scrape_until(mport, "preforkd_worker_exits_total{cause="
	    "\"crashed\"}", 1, 10);
	promtool_check(body, "after workers died");

	/* A reload that fails (agent.port = 0 is out of range), then one
	 * that passes: the two workers of generation 1 retire. */
	daemon_write_config(&d, "workers = 2;\ntimeouts = { read = 0.5; };\n"
	    "metrics = { port = 0; };\nagent = { port = 0; };\n");
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reload failed", 10), "%s",
	    daemon_log_tail(&d));
	body = scrape_until(mport, "preforkd_reloads_total{result=\"failed\"}",
	    1, 10);
	ck_assert(sample(body, "preforkd_reloads_total{result=\"ok\"}") == 0);
	daemon_write_config(&d, "timeouts = { read = 0.5; };\n"
	    "metrics = { port = 0; };\npool = { min = 1; max = 4; };\n");
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2", 20), "%s",
	    daemon_log_tail(&d));
	body = scrape_until(mport, "preforkd_worker_exits_total{cause="
	    "\"normal\"}", 2, 20);
	promtool_check(body, "after reloads");
	ck_assert(sample(body, "preforkd_reloads_total{result=\"ok\"}") == 1);
	ck_assert(sample(body, "preforkd_reloads_total{result=\"failed\"}") ==
	    1);
	ck_assert(sample(body, "preforkd_generation") == 2);
	ck_assert(sample(body, "preforkd_pool_dynamic") == 1);
	ck_assert(sample(body, "preforkd_pool_idle_min") >= 0);
	ck_assert(sample(body, "preforkd_worker_exits_total{cause="
	    "\"killed\"}") == 1);
	ck_assert(sample(body, "preforkd_worker_exits_total{cause="
	    "\"crashed\"}") == 1);
	ck_assert(sample(body, "preforkd_worker_exits_total{cause="
	    "\"hung\"}") == 0);
	/* The counts of workers gone stay in the totals. */
	ck_assert(sample(body, "preforkd_connections_served_total") == 4);
	ck_assert(sample(body, "preforkd_connection_duration_seconds_count{"
	    "service=\"greeting\"}") == 4);
}
END_TEST

/*
 * A slowloris: a client that starts a request and never ends it holds
 * its place until the deadline (5 s), then is told 408 and closed; the
 * daemon scrapes and serves as usual meanwhile.
 */
START_TEST(test_slowloris)
{
	struct timeval	 tv = { 30, 0 };
	char		 buf[4096];
	ssize_t		 n;
	size_t		 got = 0;
	int		 mport;

	daemon_start(&d, "workers = 2;\nmetrics = { port = 0; };\n");
	mport = metrics_port();
	held = tcp_connect("127.0.0.1", mport);
	ck_assert_int_ne(held, -1);
	ck_assert_int_eq(setsockopt(held, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	ck_assert_int_eq(send(held, "GET /metrics HTTP/1.1\r\nX: ", 26, 0),
	    26);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(greet(d.d_port, "meanwhile", 10), 0);
		ck_assert_ptr_nonnull(scrape(mport));
		ck_assert_int_eq(send(held, "x", 1, 0), 1);
	}
	while (got < sizeof(buf) - 1 && (n = recv(held, buf + got,
	    sizeof(buf) - 1 - got, 0)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	ck_assert_msg(strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30) ==
	    0, "%s", buf);
	ck_assert_msg(daemon_log_wait(&d, "metrics client dropped: no whole "
	    "request within 5s", 5), "%s", daemon_log_tail(&d));
	ck_assert(sample(scrape(mport), "preforkd_connections_served_total")
	    == 3);
}
END_TEST

/* What is not a scrape gets its error, the daemon serving on. */
START_TEST(test_not_a_scrape)
{
	static char	 buf[SCRAPE_MAX];
	int		 mport;

	daemon_start(&d, "workers = 1;\nmetrics = { port = 0; };\n");
	mport = metrics_port();
	http(mport, "GET / HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 404 ", 13) == 0, "%s", buf);
	http(mport, "PUT /metrics HTTP/1.1\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 405 ", 13) == 0, "%s", buf);
	http(mport, "\x16\x03\x01 not tls\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "%s", buf);
	http(mport, "GET /metrics HTTP/1.1\r\nAccept: application/"
	    "openmetrics-text\r\n\r\n", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "\r\nContent-Type: application/openmetrics-"
	    "text; version=1.0.0; charset=utf-8\r\n") != NULL, "%s", buf);
	ck_assert_str_eq(buf + strlen(buf) - 6, "# EOF\n");
	ck_assert_int_eq(greet(d.d_port, "still", 6), 0);
}
END_TEST

/* A reload moves the endpoint: one that cannot take the new port fails
 * before anything changes; one that can answers there, the old port
 * closed; one without the group turns it off. */
START_TEST(test_reload_port)
{
	char	 extra[256], want[64];
	int	 m1 = free_port(), m2, taken, fd;

	snprintf(extra, sizeof(extra), "workers = 1;\nmetrics = { port = %d; "
	    "};\n", m1);
	daemon_start(&d, extra);
	ck_assert_int_eq(metrics_port(), m1);
	fd = tcp_listener(&taken);
	snprintf(extra, sizeof(extra), "workers = 1;\nmetrics = { port = %d; "
	    "};\n", taken);
	daemon_write_config(&d, extra);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reload failed: cannot open the "
	    "listening sockets or the agent's or the metrics' port", 10), "%s",
	    daemon_log_tail(&d));
	ck_assert(sample(scrape(m1), "preforkd_reloads_total{result="
	    "\"failed\"}") == 1);
	close(fd);

	m2 = free_port();
	snprintf(extra, sizeof(extra), "workers = 1;\nmetrics = { port = %d; "
	    "};\n", m2);
	daemon_write_config(&d, extra);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "metrics on 127.0.0.1:%d", m2);
	ck_assert_msg(daemon_log_wait(&d, want, 20), "%s",
	    daemon_log_tail(&d));
	ck_assert(sample(scrape(m2), "preforkd_reloads_total{result=\"ok\"}")
	    == 1);
	ck_assert_int_eq(tcp_connect("127.0.0.1", m1), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);

	daemon_write_config(&d, "workers = 1;\n");
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "metrics off", 20), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(tcp_connect("127.0.0.1", m2), -1);
}
END_TEST

/* -t: an address this host cannot bind, with its line; at start, a
 * port that is taken stops the daemon. */
START_TEST(test_check_address)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-t",
	    "-c", NULL, NULL };
	char		 out[4096], want[256], extra[128];
	int		 status, fd, taken;

	daemon_write_config(&d, "workers = 1;\n\nmetrics = {\n port = 9102;\n"
	    " address = \"192.0.2.1\"; };\n");
	argv[3] = d.d_conf;
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG,
	    "%s", out);
	snprintf(want, sizeof(want), "%s:5: metrics address 192.0.2.1 cannot "
	    "be bound on this host", d.d_conf);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);

	fd = tcp_listener(&taken);
	snprintf(extra, sizeof(extra), "workers = 1;\nmetrics = { port = %d; "
	    "};\n", taken);
	daemon_write_config(&d, extra);
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	    out);
	daemon_launch(&d, extra, NULL, NULL);
	status = daemon_wait(&d, 20);
	close(fd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) ==
	    EX_UNAVAILABLE, "status %#x: %s", status, daemon_log_tail(&d));
	ck_assert_msg(strstr(daemon_log(&d), ":2: bind(metrics 127.0.0.1:") !=
	    NULL, "%s", daemon_log_tail(&d));
}
END_TEST

/* ---- the Grafana dashboard ------------------------------------------- */

#define DASHBOARD_MAX	(256 * 1024)
#define DASHBOARD_EXPRS	64

/* docs/grafana-preforkd.json, whole, into buf. */
static void
dashboard_read(char *buf, size_t size)
{
	const char	*srcdir = getenv("srcdir");
	char		 path[512];
	size_t		 n;
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/docs/grafana-preforkd.json",
	    srcdir != NULL ? srcdir : "..");
	fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, size - 1, fp);
	ck_assert_msg(n < size - 1 && !ferror(fp), "%s: too long", path);
	buf[n] = '\0';
	fclose(fp);
}

/* Each "expr" string of the JSON, unescaped, into exprs; how many. */
static size_t
dashboard_exprs(char *json, char **exprs, size_t max)
{
	static const char	 key[] = "\"expr\": \"";
	char			*p = json, *in, *out;
	size_t			 n = 0;

	while ((p = strstr(p, key)) != NULL) {
		ck_assert_uint_lt(n, max);
		in = out = p + sizeof(key) - 1;
		exprs[n++] = out;
		for (; *in != '"'; in++) {
			ck_assert_msg(*in != '\0', "an expr never ends");
			if (*in == '\\')
				in++;
			*out++ = *in;
		}
		p = in + 1;
		*out = '\0';
	}
	return n;
}

/* Whether body has a sample of the series name (with labels or not). */
static bool
served(const char *body, const char *name, size_t len)
{
	char	 line[128];

	snprintf(line, sizeof(line), "\n%.*s", (int)len, name);
	for (const char *p = body; (p = strstr(p, line)) != NULL; p++)
		if (p[len + 1] == '{' || p[len + 1] == ' ')
			return true;
	return false;
}

/* Every series an expression names ("preforkd_..."), and every label it
 * groups by ("by (a, b)") that Prometheus does not add, in body. */
static void
dashboard_check_expr(const char *body, const char *expr)
{
	const char	*p, *end;
	char		 label[64];
	size_t		 len;

	for (p = expr; (p = strstr(p, "preforkd_")) != NULL; p += len) {
		len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
		ck_assert_msg(served(body, p, len), "the dashboard asks for "
		    "%.*s, which the daemon does not serve:\n  %s", (int)len,
		    p, expr);
	}
	for (p = expr; (p = strstr(p, "by (")) != NULL; p = end) {
		p += 4;
		end = p + strcspn(p, ")");
		while (p < end) {
			p += strspn(p, ", ");
			len = strcspn(p, ", )");
			snprintf(label, sizeof(label), "%.*s=\"", (int)len, p);
			ck_assert_msg(strcmp(label, "instance=\"") == 0 ||
			    strstr(body, label) != NULL, "the dashboard "
			    "groups by %.*s, which no series has:\n  %s",
			    (int)len, p, expr);
			p += len;
		}
	}
}

/* Every var in s replaced by value, no longer than var. */
static void
dashboard_fill(char *s, const char *var, const char *value)
{
	size_t	 vlen = strlen(var), len = strlen(value);
	char	*p;

	while ((p = strstr(s, var)) != NULL) {
		memcpy(p, value, len);
		memmove(p + len, p + vlen, strlen(p + vlen) + 1);
	}
}

/* The expressions as Prometheus rules, through promtool check rules,
 * when it is installed: each one parses. */
static void
dashboard_promtool(char **exprs, size_t n)
{
	char		 tool[256], file[128], cmd[512], out[4096];
	const char	*argv[] = { "/bin/sh", "-c", cmd, NULL };
	FILE		*fp;
	int		 status;

	if (!on_path("promtool", tool, sizeof(tool)))
		return;		/* promtool_check() has said so */
	snprintf(file, sizeof(file), "%s/dashboard.rules.yml", d.d_dir);
	ck_assert_ptr_nonnull(fp = fopen(file, "w"));
	fprintf(fp, "groups:\n  - name: dashboard\n    rules:\n");
	for (size_t i = 0; i < n; i++) {
		/* Grafana's variables, as it would fill them in. */
		dashboard_fill(exprs[i], "$__rate_interval", "5m");
		dashboard_fill(exprs[i], "$instance", ".*");
		fprintf(fp, "      - record: dashboard:expr%zu\n"
		    "        expr: '%s'\n", i, exprs[i]);
	}
	ck_assert_int_eq(fclose(fp), 0);
	snprintf(cmd, sizeof(cmd), "'%s' check rules '%s' 2>&1", tool, file);
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "promtool check rules on the dashboard's expressions: %s", out);
	unlink(file);
}

/*
 * The dashboard cannot drift from the daemon: every series its
 * expressions name is in the daemon's own /metrics, with every label
 * they group by, and each expression parses (promtool).  Counters and
 * gauges the dashboard reads appear at start, at 0, as the endpoint
 * serves all of them from the first scrape.
 */
START_TEST(test_dashboard)
{
	static char	 json[DASHBOARD_MAX];
	char		*exprs[DASHBOARD_EXPRS];
	const char	*body;
	size_t		 n;

	daemon_start(&d, "workers = 1;\nmetrics = { port = 0; };\n");
	body = scrape(metrics_port());
	dashboard_read(json, sizeof(json));
	n = dashboard_exprs(json, exprs, DASHBOARD_EXPRS);
	ck_assert_uint_ge(n, 10);
	for (size_t i = 0; i < n; i++)
		dashboard_check_expr(body, exprs[i]);
	dashboard_promtool(exprs, n);
}
END_TEST

/* ---- a real Prometheus ---------------------------------------------- */

/* Prometheus on port pport, scraping the daemon's metrics every second;
 * it dies with this process whatever happens (and teardown stops it). */
static void
prom_start(const char *bin, int pport, int mport)
{
	char	 conf[128], data[128], logf[128], listen[64], cfgarg[160];
	char	 dataarg[160];
	FILE	*fp;
	int	 fd;

	snprintf(prom_dir, sizeof(prom_dir), "/tmp/preforkd-prom.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(prom_dir));
	snprintf(conf, sizeof(conf), "%s/prometheus.yml", prom_dir);
	snprintf(data, sizeof(data), "%s/data", prom_dir);
	snprintf(logf, sizeof(logf), "%s/prometheus.log", prom_dir);
	ck_assert_ptr_nonnull(fp = fopen(conf, "w"));
	fprintf(fp, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
	    "  evaluation_interval: 1s\nscrape_configs:\n"
	    "  - job_name: preforkd\n    static_configs:\n"
	    "      - targets: ['127.0.0.1:%d']\n", mport);
	ck_assert_int_eq(fclose(fp), 0);
	snprintf(cfgarg, sizeof(cfgarg), "--config.file=%s", conf);
	snprintf(dataarg, sizeof(dataarg), "--storage.tsdb.path=%s", data);
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d",
	    pport);
	ck_assert_int_ne(prom_pid = fork(), -1);
	if (prom_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(bin, bin, cfgarg, dataarg, listen, (char *)NULL);
		_exit(127);
	}
}

/* The value of the first sample of an instant query's answer, as the
 * HTTP API writes it ("value":[TIME,"VALUE"]); -1 if none yet. */
static double
prom_query(int pport, const char *query)
{
	static char	 buf[65536];
	char		 req[512];
	const char	*p;
	int		 fd;

	/* Not up yet: tcp_connect() fails. */
	if ((fd = tcp_connect("127.0.0.1", pport)) == -1)
		return -1;
	close(fd);
	snprintf(req, sizeof(req), "GET /api/v1/query?query=%s HTTP/1.0\r\n"
	    "Host: 127.0.0.1\r\n\r\n", query);
	http(pport, req, buf, sizeof(buf));
	if (strstr(buf, "\"status\":\"success\"") == NULL ||
	    (p = strstr(buf, "\"value\":[")) == NULL ||
	    (p = strstr(p, ",\"")) == NULL)
		return -1;
	return strtod(p + 2, NULL);
}

START_TEST(test_prometheus)
{
	struct timespec	 end;
	char		 bin[256];
	double		 served = -1, count = -1;
	int		 mport, pport;

	if (!on_path("prometheus", bin, sizeof(bin))) {
		printf("SKIP: a real Prometheus scraping the daemon: "
		    "prometheus is not installed (Debian: apt-get install "
		    "prometheus)\n");
		return;
	}
	daemon_start(&d, "workers = 2;\nmetrics = { port = 0; };\n");
	mport = metrics_port();
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(greet(d.d_port, "for prometheus", 15), 0);
	pport = free_port();
	prom_start(bin, pport, mport);
	end = clock_after(clock_now(), 90);
	do {
		sleep_ms(500);
		ck_assert_msg(waitpid(prom_pid, NULL, WNOHANG) == 0,
		    "prometheus exited: see its log in %s", prom_dir);
		served = prom_query(pport, "preforkd_connections_served_total");
		count = prom_query(pport, "sum(preforkd_connection_duration_"
		    "seconds_count)");
	} while ((served != 5 || count != 5) && clock_ms_until(end) > 0);
	ck_assert_msg(served == 5 && count == 5, "served %g, histogram count "
	    "%g", served, count);
	/* The histogram as Prometheus reads it: every connection took less
	 * than a second here. */
	ck_assert(prom_query(pport, "histogram_quantile(0.5,preforkd_"
	    "connection_duration_seconds_bucket)") < 1);
	ck_assert(prom_query(pport, "up") == 1);
}
END_TEST

Suite *
scrape_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("endpoint");
	TCase	*prom = tcase_create("prometheus");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_series);
	tcase_add_test(tc, test_slowloris);
	tcase_add_test(tc, test_not_a_scrape);
	tcase_add_test(tc, test_reload_port);
	tcase_add_test(tc, test_check_address);
	tcase_add_test(tc, test_dashboard);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(prom, NULL, teardown);
	tcase_add_test(prom, test_prometheus);
	tcase_set_timeout(prom, 180);
	suite_add_tcase(s, prom);
	return s;
}
