/* SPDX-License-Identifier: ISC */
/*
 * check_control.c - the control socket and "preforkd -s status|metrics",
 * against the real daemon: what the answers say (checked against /proc
 * and the clients the test holds), who may ask, clients that do not play
 * along, the socket file's life, and all of it with the pool saturated.
 *
 * Every wait has a deadline far above what an idle machine needs; none
 * is a measurement.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

#define CTL_OUT		65536
#define CTL_ROWS	64
#define CTL_SAMPLES	256

static struct daemon	 d;
static char		 ctlpath[128];
static char		 conftext[1024];
static int		 port;
static pid_t		 load;
static char		 load_out[192];
static int		 held[32];		/* client sockets */
static size_t		 nheld;

static void
setup(void)
{
	load = 0;
	nheld = 0;
	port = free_port();
}

static void
teardown(void)
{
	if (load > 0)
		load_kill(load);
	load = 0;
	for (size_t i = 0; i < nheld; i++)
		close(held[i]);
	nheld = 0;
	daemon_cleanup(&d);
}

static int
hold(int fd)
{
	ck_assert_int_ne(fd, -1);
	ck_assert_uint_lt(nheld, sizeof(held) / sizeof(held[0]));
	return held[nheld++] = fd;
}

/* The scratch directory, and a configuration with the control socket
 * in it; extra goes first. */
static const char *
ctl_config(const char *extra)
{
	if (d.d_dir[0] == '\0')
		daemon_write_config(&d, NULL);
	snprintf(ctlpath, sizeof(ctlpath), "%s/control", d.d_dir);
	snprintf(conftext, sizeof(conftext), "%s\ncontrol = \"%s\";\n"
	    "listen = { address = \"127.0.0.1\"; port = %d; };",
	    extra != NULL ? extra : "", ctlpath, port);
	return conftext;
}

static void
ctl_start(const char *extra)
{
	daemon_start(&d, ctl_config(extra));
}

static bool
exited_with(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* preforkd -c conf -s cmd, as the test's user. */
static int
ctl_run(const char *cmd, char *out, size_t size)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c",
	    d.d_conf, "-s", cmd, NULL };

	return run_capture(argv, out, size);
}

/* -s cmd must succeed; its output goes to out. */
static void
ctl_ok(const char *cmd, char *out, size_t size)
{
	int	 status = ctl_run(cmd, out, size);

	ck_assert_msg(exited_with(status, 0), "-s %s: status %#x: %s\nlog:\n%s",
	    cmd, status, out, daemon_log_tail(&d));
}

/* A client of the control socket, connected, nothing sent. */
static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct timeval		 tv = { 10, 0 };
	int			 fd;

	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path) + 1);
	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    -1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send request, read the whole answer (to EOF). */
static void
ctl_exchange(const void *req, size_t len, char *out, size_t size)
{
	int	 fd = ctl_connect(ctlpath);
	ssize_t	 n;

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	n = read_all(fd, out, size - 1);
	out[n] = '\0';
	close(fd);
}

/* Send req, unless the daemon has already refused the client (one too
 * many) and closed. */
static void
ctl_send_or_refused(int fd, const char *req)
{
	ssize_t	 n = send(fd, req, strlen(req), MSG_NOSIGNAL);

	ck_assert_msg(n == (ssize_t)strlen(req) || (n == -1 &&
	    (errno == EPIPE || errno == ECONNRESET)), "send: %s",
	    strerror(errno));
}

/* Whether the daemon has closed its end of fd, within secs. */
static bool
ctl_closed_by_daemon(int fd, double secs)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLRDHUP };

	if (poll(&pfd, 1, (int)(secs * 1000)) != 1)
		return false;
	return (pfd.revents & (POLLHUP | POLLRDHUP)) != 0;
}

/* HUP, and wait until generation gen serves. */
static void
reload_to(int gen)
{
	char	 want[64];

	snprintf(want, sizeof(want), "ready generation=%d ", gen);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, want, 20), "no generation %d:\n%s",
	    gen, daemon_log_tail(&d));
}

/* ---- parsing the answers ------------------------------------------------- */

struct row {
	long			 r_pid;
	unsigned		 r_gen;
	char			 r_state[32];
	char			 r_for[16];
	char			 r_wait[16];
	char			 r_waited[16];
	char			 r_peer[80];
	unsigned long long	 r_served;
};

/* The value after "key" at the start of a line of the table's head. */
static const char *
table_head(const char *out, const char *key, char *val, size_t size)
{
	const char	*p = out;
	size_t		 n;

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p += p != NULL)
		if (strncmp(p, key, strlen(key)) == 0) {
			p += strlen(key);
			n = strcspn(p, "\n");
			ck_assert_uint_lt(n, size);
			memcpy(val, p, n);
			val[n] = '\0';
			return val;
		}
	ck_abort_msg("no \"%s\" in:\n%s", key, out);
	return NULL;
}

static size_t
table_rows(const char *out, struct row *rows, size_t max)
{
	const char	*p = strstr(out, "\nPID ");
	size_t		 n = 0;

	ck_assert_msg(p != NULL, "no table in:\n%s", out);
	p = strchr(p + 1, '\n');
	while (p != NULL && p[1] != '\0') {
		p++;
		ck_assert_uint_lt(n, max);
		ck_assert_msg(sscanf(p, "%ld %u %31s %15s %15s %15s %79s "
		    "%llu", &rows[n].r_pid, &rows[n].r_gen, rows[n].r_state,
		    rows[n].r_for, rows[n].r_wait, rows[n].r_waited,
		    rows[n].r_peer, &rows[n].r_served) == 8, "row: %.*s",
		    (int)strcspn(p, "\n"), p);
		n++;
		p = strchr(p, '\n');
	}
	return n;
}

static const struct row *
row_of(const struct row *rows, size_t n, long pid)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].r_pid == pid)
			return &rows[i];
	return NULL;
}

struct sample {
	char		 s_name[64];
	char		 s_labels[160];
	double		 s_value;
};

static bool
metric_name_ok(const char *p, size_t n)
{
	if (n == 0 || !(p[0] == '_' || p[0] == ':' || (p[0] >= 'a' &&
	    p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(p[i] == '_' || p[i] == ':' || (p[i] >= 'a' &&
		    p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9')))
			return false;
	return true;
}

/* The label set {k="v",...}: its length, checked; 0 when malformed. */
static size_t
metric_labels_len(const char *p)
{
	const char	*q = p + 1;

	if (*p != '{')
		return 0;
	while (*q != '}') {
		size_t k = strcspn(q, "=");

		if (!metric_name_ok(q, k) || q[k + 1] != '"')
			return 0;
		for (q += k + 2; *q != '"'; q++) {
			if (*q == '\0' || *q == '\n')
				return 0;
			if (*q == '\\')
				q++;
		}
		q++;
		if (*q == ',')
			q++;
		else if (*q != '}')
			return 0;
	}
	return (size_t)(q + 1 - p);
}

/* One sample line into s; false if it is not one. */
static bool
metric_sample(const char *line, size_t len, struct sample *s)
{
	size_t	 n = strcspn(line, "{ ");
	size_t	 l = 0;
	char	 num[64], *end;

	if (!metric_name_ok(line, n) || n >= sizeof(s->s_name))
		return false;
	memcpy(s->s_name, line, n);
	s->s_name[n] = '\0';
	s->s_labels[0] = '\0';
	if (line[n] == '{') {
		if ((l = metric_labels_len(line + n)) == 0 ||
		    l >= sizeof(s->s_labels))
			return false;
		memcpy(s->s_labels, line + n, l);
		s->s_labels[l] = '\0';
	}
	if (line[n + l] != ' ' || len - n - l - 1 >= sizeof(num))
		return false;
	memcpy(num, line + n + l + 1, len - n - l - 1);
	num[len - n - l - 1] = '\0';
	s->s_value = strtod(num, &end);
	return end != num && *end == '\0';
}

/* Whether sample name belongs to the family typed last: its own name,
 * or a histogram's with _bucket, _sum or _count. */
static bool
metric_of(const char *name, const char *family, bool histogram)
{
	size_t	 len = strlen(family);

	if (strcmp(name, family) == 0)
		return !histogram;
	return histogram && strncmp(name, family, len) == 0 &&
	    (strcmp(name + len, "_bucket") == 0 ||
	    strcmp(name + len, "_sum") == 0 ||
	    strcmp(name + len, "_count") == 0);
}

/*
 * The text exposition format, line by line: HELP and TYPE once per
 * metric and before its samples, the samples of a metric together, each
 * line a comment or a sample.  Returns how many samples.
 */
static size_t
metrics_parse(const char *out, struct sample *s, size_t max)
{
	char		 typed[64][64], current[64] = "";
	size_t		 ntyped = 0, n = 0, len;
	const char	*p = out;
	bool		 histogram = false;

	for (; *p != '\0'; p += len + 1) {
		len = strcspn(p, "\n");
		ck_assert_msg(p[len] == '\n', "last line unended: %s", p);
		if (strncmp(p, "# TYPE ", 7) == 0) {
			ck_assert_uint_lt(ntyped, 64);
			ck_assert_int_eq(sscanf(p + 7, "%63s", typed[ntyped]), 1);
			for (size_t i = 0; i < ntyped; i++)
				ck_assert_str_ne(typed[i], typed[ntyped]);
			snprintf(current, sizeof(current), "%s",
			    typed[ntyped++]);
			histogram = strstr(p, " histogram\n") == p + len - 10;
			ck_assert_msg(strstr(p, " gauge\n") == p + len - 6 ||
			    strstr(p, " counter\n") == p + len - 8 ||
			    histogram, "%.*s", (int)len, p);
			continue;
		}
		if (p[0] == '#')
			continue;
		ck_assert_uint_lt(n, max);
		ck_assert_msg(metric_sample(p, len, &s[n]), "not a sample: "
		    "%.*s", (int)len, p);
		ck_assert_msg(metric_of(s[n].s_name, current, histogram),
		    "%s outside its TYPE (%s)", s[n].s_name, current);
		n++;
	}
	return n;
}

/* The value of name{labels} (labels "" for none); asserts it is there. */
static double
metric(const struct sample *s, size_t n, const char *name,
    const char *labels)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s[i].s_name, name) == 0 &&
		    strcmp(s[i].s_labels, labels) == 0)
			return s[i].s_value;
	ck_abort_msg("no %s%s", name, labels);
	return -1;
}

static size_t
metric_count(const struct sample *s, size_t n, const char *name)
{
	size_t	 c = 0;

	for (size_t i = 0; i < n; i++)
		c += strcmp(s[i].s_name, name) == 0;
	return c;
}

/* ---- what the daemon holds ------------------------------------------------ */

/* Inodes of the unix sockets at path: the listening one and the ones it
 * accepted (they carry its address). */
static size_t
unix_inodes(const char *path, unsigned long *ino, size_t max)
{
	char		 line[512], p[256];
	unsigned long	 i;
	size_t		 n = 0;
	FILE		*fp;

	ck_assert_ptr_nonnull(fp = fopen("/proc/net/unix", "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %255s", &i, p) ==
		    2 && strcmp(p, path) == 0 && n < max)
			ino[n++] = i;
	fclose(fp);
	return n;
}

/* Whether pid holds one of the sockets ino. */
static bool
proc_holds_socket(pid_t pid, const unsigned long *ino, size_t n)
{
	char		 dir[64], link[320], target[64], want[64];
	struct dirent	*e;
	DIR		*dp;
	bool		 found = false;
	ssize_t		 len;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	if ((dp = opendir(dir)) == NULL)
		return false;		/* gone */
	while (!found && (e = readdir(dp)) != NULL) {
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		if ((len = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[len] = '\0';
		for (size_t i = 0; i < n && !found; i++) {
			snprintf(want, sizeof(want), "socket:[%lu]", ino[i]);
			found = strcmp(target, want) == 0;
		}
	}
	closedir(dp);
	return found;
}

/* ---- status and metrics ---------------------------------------------------- */

/* A client that has its banner and says nothing: a busy worker, reading. */
static int
busy_client(char *peer, size_t size)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	char			 buf[64], ip[INET_ADDRSTRLEN];
	int			 fd = hold(tcp_connect("127.0.0.1", port));

	ck_assert_int_gt(read_banner(fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
	snprintf(peer, size, "%s:%d", ip, ntohs(sin.sin_port));
	return fd;
}

/* -s status until the busy worker is seen waiting for its client (it
 * says so once it polls, just after the banner went). */
static size_t
status_until_reading(char *out, size_t size, struct row *rows)
{
	struct timespec	 end = clock_after(clock_now(), 10);
	size_t		 n;

	for (;;) {
		ctl_ok("status", out, size);
		n = table_rows(out, rows, CTL_ROWS);
		for (size_t i = 0; i < n; i++)
			if (strcmp(rows[i].r_wait, "reading") == 0)
				return n;
		ck_assert_msg(clock_ms_until(end) > 0, "never reading:\n%s",
		    out);
		sleep_ms(20);
	}
}

START_TEST(test_status_table)
{
	char		 out[CTL_OUT], peer[64], val[128];
	struct row	 rows[CTL_ROWS];
	const struct row *r;
	pid_t		 kids[8];
	size_t		 n;

	ctl_start("workers = 2;");
	ck_assert_int_eq(greet(port, "one", 4), 0);
	busy_client(peer, sizeof(peer));
	ck_assert(proc_wait_children(d.d_pid, 2, 10));
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 8), 2);
	n = status_until_reading(out, sizeof(out), rows);

	ck_assert_uint_eq(n, 2);
	table_head(out, "generation: ", val, sizeof(val));
	ck_assert_str_eq(val, "1");
	table_head(out, "pool: ", val, sizeof(val));
	ck_assert_msg(strncmp(val, "fixed min=2 max=2 ", 18) == 0, "%s", val);
	ck_assert_msg(strstr(val, " target=2 ceiling=2") != NULL, "%s", val);
	table_head(out, "workers: ", val, sizeof(val));
	ck_assert_str_eq(val, "2 starting=0 idle=1 busy=1 recycled=0 "
	    "retiring=0");
	table_head(out, "busy: ", val, sizeof(val));
	ck_assert_msg(strncmp(val, "running=0 reading=1 writing=0 held=",
	    35) == 0, "%s", val);
	table_head(out, "accept queue: ", val, sizeof(val));
	ck_assert_str_eq(val, "0");
	table_head(out, "connections: ", val, sizeof(val));
	ck_assert_str_eq(val, "served=1 limited=0 shed=0 denied=0 "
	    "proxy_failed=0 empty=0");
	for (size_t i = 0; i < 2; i++) {
		ck_assert_ptr_nonnull(r = row_of(rows, n, kids[i]));
		ck_assert_uint_eq(r->r_gen, 1);
	}
	for (size_t i = 0; i < n; i++) {
		r = &rows[i];
		if (strcmp(r->r_state, "busy") == 0) {
			ck_assert_str_eq(r->r_wait, "reading");
			ck_assert_msg(r->r_waited[strlen(r->r_waited) - 1] ==
			    's', "%s", r->r_waited);
			ck_assert_str_eq(r->r_peer, peer);
		} else {
			ck_assert_str_eq(r->r_state, "idle");
			ck_assert_str_eq(r->r_wait, "-");
			ck_assert_str_eq(r->r_waited, "-");
			ck_assert_str_eq(r->r_peer, "-");
		}
		ck_assert_msg(r->r_for[strlen(r->r_for) - 1] == 's', "%s",
		    r->r_for);
	}
	ck_assert_uint_eq(rows[0].r_served + rows[1].r_served, 1);
}
END_TEST

START_TEST(test_metrics)
{
	char		 out[CTL_OUT], peer[64];
	struct sample	 s[CTL_SAMPLES];
	struct row	 rows[CTL_ROWS];
	pid_t		 kids[8];
	size_t		 n;

	ctl_start("workers = 2;");
	ck_assert_int_eq(greet(port, "one", 4), 0);
	ck_assert_int_eq(greet(port, "two", 4), 0);
	busy_client(peer, sizeof(peer));
	ck_assert(proc_wait_children(d.d_pid, 2, 10));
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 8), 2);
	status_until_reading(out, sizeof(out), rows);
	ctl_ok("metrics", out, sizeof(out));
	n = metrics_parse(out, s, CTL_SAMPLES);

	ck_assert(metric(s, n, "preforkd_generation", "") == 1);
	ck_assert(metric(s, n, "preforkd_pool_dynamic", "") == 0);
	ck_assert(metric(s, n, "preforkd_pool_min", "") == 2);
	ck_assert(metric(s, n, "preforkd_pool_max", "") == 2);
	ck_assert(metric(s, n, "preforkd_accept_queue", "") == 0);
	ck_assert(metric(s, n, "preforkd_pool_target", "") == 2);
	ck_assert(metric(s, n, "preforkd_pool_ceiling", "") == 2);
	ck_assert(metric(s, n, "preforkd_workers", "{state=\"busy\"}") == 1);
	ck_assert(metric(s, n, "preforkd_workers_busy", "{wait=\"reading\"}")
	    == 1);
	ck_assert(metric(s, n, "preforkd_workers_busy", "{wait=\"writing\"}")
	    == 0);
	ck_assert(metric(s, n, "preforkd_workers", "{state=\"idle\"}") == 1);
	ck_assert(metric(s, n, "preforkd_workers", "{state=\"starting\"}")
	    == 0);
	ck_assert(metric(s, n, "preforkd_workers", "{state=\"retiring\"}")
	    == 0);
	ck_assert(metric(s, n, "preforkd_connections_served_total", "") == 2);
	ck_assert(metric(s, n, "preforkd_connections_limited_total", "") ==
	    0);
	ck_assert(metric(s, n, "preforkd_connections_shed_total", "") == 0);
	/* Two whole exchanges: the banner and its NUL out, "one" and its
	 * NUL in, each (the busy one is counted once it ends). */
	ck_assert(metric(s, n, "preforkd_received_bytes_total", "") == 8);
	ck_assert(metric(s, n, "preforkd_sent_bytes_total", "") == 2 * 28);
	ck_assert(metric(s, n, "preforkd_connection_duration_seconds_count",
	    "{service=\"greeting\"}") == 2);
	ck_assert(metric(s, n, "preforkd_connection_duration_seconds_bucket",
	    "{service=\"greeting\",le=\"+Inf\"}") == 2);
	ck_assert(metric(s, n, "preforkd_reloads_total", "{result=\"ok\"}")
	    == 0);
	ck_assert(metric(s, n, "preforkd_worker_exits_total",
	    "{cause=\"crashed\"}") == 0);
	ck_assert(metric(s, n, "preforkd_start_time_seconds", "") > 1e9);
	/* No series per worker: the pool's size does not make more. */
	ck_assert_ptr_null(strstr(out, "pid="));
	ck_assert_uint_eq(metric_count(s, n, "preforkd_worker_served_total"),
	    0);
}
END_TEST

START_TEST(test_help_and_errors)
{
	char	 out[4096], big[600];
	ssize_t	 n;
	int	 fd;

	ctl_start("workers = 1;");
	ctl_exchange("help\n", 5, out, sizeof(out));
	ck_assert_msg(strstr(out, "status") && strstr(out, "metrics"), "%s",
	    out);
	ctl_exchange("\x01garbage\"\r\n", 11, out, sizeof(out));
	ck_assert_str_eq(out, "error: unknown command \"\\x01garbage\\\"\"; "
	    "try help\n");
	ctl_exchange("\n", 1, out, sizeof(out));
	ck_assert_str_eq(out, "error: empty request\n");
	memset(big, 's', sizeof(big));
	ctl_exchange(big, sizeof(big), out, sizeof(out));
	ck_assert_str_eq(out, "error: request longer than 256 bytes\n");
	/* A request ended by EOF instead of a newline is a request. */
	ck_assert_int_ne(fd = ctl_connect(ctlpath), -1);
	ck_assert_int_eq(send(fd, "status", 6, MSG_NOSIGNAL), 6);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	n = read_all(fd, out, sizeof(out) - 1);
	out[n] = '\0';
	close(fd);
	ck_assert_msg(strstr(out, "\nPID ") != NULL, "%s", out);
	ctl_ok("status", out, sizeof(out));
}
END_TEST

/* ---- who may ask ------------------------------------------------------------ */

START_TEST(test_socket_mode)
{
	struct stat	 st;

	ctl_start("workers = 1;");
	ck_assert_int_eq(lstat(ctlpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_uint_eq(st.st_uid, geteuid());
}
END_TEST

/* prog -c conf -s cmd as uid; output to out. */
static int
run_as(uid_t uid, const char *bin, const char *cmd, char *out, size_t size)
{
	struct passwd	*pw = getpwuid(uid);
	int		 p[2], status;
	size_t		 len = 0;
	ssize_t		 n;
	pid_t		 pid;

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
		    setuid(uid) == -1)
			_exit(126);
		execl(bin, bin, "-c", d.d_conf, "-s", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len < size - 1 && (n = read(p[0], out + len,
	    size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/*
 * Another user: refused by the file's mode; and when the mode is opened
 * up (a mistake), by the daemon itself, which checks who connects.
 */
START_TEST(test_other_user_denied)
{
	struct passwd	*pw = getpwnam("nobody");
	const char	*bin;
	char		 out[4096];
	int		 status;

	if (geteuid() != 0)
		return;			/* another user needs root */
	ck_assert_ptr_nonnull(pw);
	bin = daemon_copy_program(&d, "PREFORKD", "./preforkd");
	ctl_start("workers = 1;");
	status = run_as(pw->pw_uid, bin, "status", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_NOPERM), "%#x: %s", status, out);
	ck_assert_msg(strstr(out, "permission denied") != NULL, "%s", out);

	ck_assert_int_eq(chmod(ctlpath, 0666), 0);
	status = run_as(pw->pw_uid, bin, "metrics", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_NOPERM), "%#x: %s", status, out);
	ck_assert_msg(strstr(out, "denied the request") != NULL, "%s", out);
	ck_assert_msg(daemon_log_wait(&d, "denied: only root and uid 0 may "
	    "ask", 10), "%s", daemon_log_tail(&d));
	ck_assert(strstr(out, "preforkd_") == NULL);
	/* Root still may. */
	ctl_ok("status", out, sizeof(out));
}
END_TEST

/* ---- clients that do not play along --------------------------------------- */

/*
 * A client that connects and says nothing holds a place until its
 * deadline, nothing more: meanwhile a reload runs and another client is
 * answered; then the daemon drops it.
 */
START_TEST(test_silent_client)
{
	char	 out[CTL_OUT], val[64];
	int	 fd;

	ctl_start("workers = 2;");
	fd = hold(ctl_connect(ctlpath));
	reload_to(2);
	ctl_ok("status", out, sizeof(out));
	table_head(out, "generation: ", val, sizeof(val));
	ck_assert_str_eq(val, "2");
	ck_assert_int_eq(greet(port, "served", 7), 0);
	ck_assert_msg(ctl_closed_by_daemon(fd, 20), "still held");
	ck_assert_msg(daemon_log_wait(&d, "control client dropped: no "
	    "request", 10), "%s", daemon_log_tail(&d));
}
END_TEST

/*
 * Twenty clients ask and never read: each either gets its answer queued
 * or is refused as one too many, and the daemon is done with every one
 * (it closed its end) while they still hold theirs.  It serves on.
 */
START_TEST(test_unread_answers)
{
	char	 out[CTL_OUT];
	int	 fds[20];

	ctl_start("workers = 2;");
	for (int i = 0; i < 20; i++) {
		fds[i] = hold(ctl_connect(ctlpath));
		ctl_send_or_refused(fds[i], "metrics\n");
	}
	for (int i = 0; i < 20; i++)
		ck_assert_msg(ctl_closed_by_daemon(fds[i], 20), "client %d "
		    "still held", i);
	ctl_ok("status", out, sizeof(out));
	ctl_ok("metrics", out, sizeof(out));
	reload_to(2);
	ck_assert_int_eq(greet(port, "served", 7), 0);
	/* What they were sent: an answer, or the refusal. */
	for (int i = 0; i < 20; i++) {
		ssize_t n = read_all(fds[i], out, sizeof(out) - 1);

		out[n] = '\0';
		ck_assert_msg(strncmp(out, "# HELP ", 7) == 0 ||
		    strcmp(out, "error: busy\n") == 0, "client %d: %s", i, out);
	}
}
END_TEST

/* ---- the socket file -------------------------------------------------------- */

START_TEST(test_removed_on_stop)
{
	int	 status;

	ctl_start("workers = 1;");
	ck_assert_int_eq(access(ctlpath, F_OK), 0);
	status = daemon_stop(&d, SIGTERM, 10);
	ck_assert(exited_with(status, 0));
	ck_assert_int_eq(access(ctlpath, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* A file put in its place is not the daemon's to remove. */
START_TEST(test_replaced_left_alone)
{
	char	 moved[160];
	int	 status, fd;

	ctl_start("workers = 1;");
	snprintf(moved, sizeof(moved), "%s.moved", ctlpath);
	ck_assert_int_eq(rename(ctlpath, moved), 0);
	ck_assert_int_ne(fd = open(ctlpath, O_WRONLY | O_CREAT, 0600), -1);
	close(fd);
	status = daemon_stop(&d, SIGTERM, 10);
	ck_assert(exited_with(status, 0));
	ck_assert_int_eq(access(ctlpath, F_OK), 0);
	ck_assert_ptr_nonnull(strstr(daemon_log(&d), "is no longer our "
	    "control socket: left alone"));
}
END_TEST

/* A daemon killed leaves its socket behind; the next one replaces it. */
START_TEST(test_stale_socket_replaced)
{
	char		 out[CTL_OUT], want[64];
	struct stat	 st;

	ctl_start("workers = 1;");
	daemon_stop(&d, SIGKILL, 10);
	ck_assert_int_eq(lstat(ctlpath, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	unlink(d.d_log);		/* the second daemon's log alone */
	ctl_start("workers = 1;");
	ck_assert_ptr_nonnull(strstr(daemon_log(&d), "removed a stale "
	    "socket nobody answered on"));
	ctl_ok("status", out, sizeof(out));
	snprintf(want, sizeof(want), " pid=%ld ", (long)d.d_pid);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
}
END_TEST

START_TEST(test_not_a_socket)
{
	char	 text[32] = "";
	int	 status, fd;

	ctl_config(NULL);
	ck_assert_int_ne(fd = open(ctlpath, O_WRONLY | O_CREAT, 0600), -1);
	ck_assert_int_eq(write(fd, "mine\n", 5), 5);
	close(fd);
	daemon_launch(&d, ctl_config("workers = 1;"), NULL, NULL);
	status = daemon_wait(&d, 10);
	ck_assert_msg(exited_with(status, EX_CANTCREAT), "%#x: %s", status,
	    daemon_log_tail(&d));
	ck_assert_msg(strstr(daemon_log(&d), "something that is not a socket "
	    "is there; refusing to replace it") != NULL, "%s",
	    daemon_log_tail(&d));
	ck_assert_int_ne(fd = open(ctlpath, O_RDONLY), -1);
	ck_assert_int_eq(read(fd, text, sizeof(text) - 1), 5);
	close(fd);
	ck_assert_str_eq(text, "mine\n");
}
END_TEST

/* A second daemon on the same path must not take the first one's
 * socket: it fails to start, and the first one still answers. */
START_TEST(test_second_daemon_refused)
{
	struct daemon	 second;
	char		 conf[512], out[CTL_OUT], want[64];
	int		 status;

	ctl_start("workers = 1;");
	memset(&second, 0, sizeof(second));
	snprintf(conf, sizeof(conf), "workers = 1;\ncontrol = \"%s\";",
	    ctlpath);
	daemon_launch(&second, conf, NULL, NULL);
	status = daemon_wait(&second, 10);
	ck_assert_msg(exited_with(status, EX_UNAVAILABLE), "%#x: %s", status,
	    daemon_log_tail(&second));
	ck_assert_msg(strstr(daemon_log(&second), "another process answers "
	    "on it") != NULL, "%s", daemon_log_tail(&second));
	daemon_cleanup(&second);
	ctl_ok("status", out, sizeof(out));
	snprintf(want, sizeof(want), " pid=%ld ", (long)d.d_pid);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
}
END_TEST

/* A reload moves the socket; one that cannot be opened keeps the old;
 * one without control closes it. */
START_TEST(test_reload_moves_socket)
{
	char	 old[128], extra[256], out[CTL_OUT];

	ctl_start("workers = 1;");
	snprintf(old, sizeof(old), "%s", ctlpath);
	snprintf(extra, sizeof(extra), "workers = 1;\ncontrol = \"%s/nodir/"
	    "control\";\nlisten = { address = \"127.0.0.1\"; port = %d; };",
	    d.d_dir, port);
	daemon_write_config(&d, extra);
	reload_to(2);
	ck_assert_msg(strstr(daemon_log(&d), "nodir/control cannot be "
	    "opened; keeping ") != NULL, "%s", daemon_log_tail(&d));
	ck_assert_int_eq(access(old, F_OK), 0);

	snprintf(extra, sizeof(extra), "workers = 1;\ncontrol = \"%s/moved\";"
	    "\nlisten = { address = \"127.0.0.1\"; port = %d; };", d.d_dir,
	    port);
	daemon_write_config(&d, extra);
	snprintf(ctlpath, sizeof(ctlpath), "%s/moved", d.d_dir);
	reload_to(3);
	ck_assert_int_eq(access(old, F_OK), -1);
	ctl_ok("status", out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "generation: 3\n"));

	snprintf(extra, sizeof(extra), "workers = 1;\nlisten = { address = "
	    "\"127.0.0.1\"; port = %d; };", port);
	daemon_write_config(&d, extra);
	reload_to(4);
	ck_assert_int_eq(access(ctlpath, F_OK), -1);
}
END_TEST

/* Workers fork without exec: no control descriptor may reach them, the
 * listening socket nor a client's, even one forked while it is there. */
START_TEST(test_workers_hold_no_control_fd)
{
	unsigned long	 ino[16];
	pid_t		 before[8], after[8];
	size_t		 n, k;

	ctl_start("workers = 2;");
	hold(ctl_connect(ctlpath));
	ck_assert(proc_wait_children(d.d_pid, 2, 10));
	ck_assert_uint_eq(proc_children(d.d_pid, before, 8), 2);
	ck_assert_int_eq(kill(before[0], SIGKILL), 0);
	/* Its replacement is forked while the client is connected. */
	for (struct timespec end = clock_after(clock_now(), 10);;) {
		k = proc_children(d.d_pid, after, 8);
		if (k == 2 && after[0] != before[0] && after[1] != before[0])
			break;
		ck_assert_msg(clock_ms_until(end) > 0, "not replaced");
		sleep_ms(10);
	}
	/* Idle: past its start, where it closes what is not its own. */
	for (struct timespec end = clock_after(clock_now(), 10);;) {
		struct row rows[CTL_ROWS];
		const struct row *r;
		char out[CTL_OUT];
		bool idle = true;

		ctl_ok("status", out, sizeof(out));
		n = table_rows(out, rows, CTL_ROWS);
		for (size_t i = 0; i < k; i++)
			idle = idle && (r = row_of(rows, n, after[i])) != NULL &&
			    strcmp(r->r_state, "idle") == 0;
		if (idle)
			break;
		ck_assert_msg(clock_ms_until(end) > 0, "not idle:\n%s", out);
		sleep_ms(10);
	}
	n = unix_inodes(ctlpath, ino, 16);
	ck_assert_uint_ge(n, 2);		/* listening, accepted */
	ck_assert(proc_holds_socket(d.d_pid, ino, n));
	for (size_t i = 0; i < k; i++)
		ck_assert_msg(!proc_holds_socket(after[i], ino, n), "worker "
		    "%ld holds a control socket", (long)after[i]);
}
END_TEST

/* ---- the command line --------------------------------------------------------- */

START_TEST(test_cli_not_running)
{
	char	 out[4096];
	int	 status;

	daemon_write_config(&d, ctl_config("workers = 1;"));
	status = ctl_run("status", out, sizeof(out));
	ck_assert_msg(exited_with(status, 3), "%#x: %s", status, out);
	ck_assert_msg(strstr(out, "not running") != NULL, "%s", out);
	status = ctl_run("metrics", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_UNAVAILABLE), "%#x: %s", status,
	    out);

	/* No control socket: metrics cannot be had; status falls back to
	 * the pid file, and without one cannot find the daemon. */
	daemon_write_config(&d, "workers = 1;");
	status = ctl_run("metrics", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_CONFIG), "%#x: %s", status, out);
	ck_assert_msg(strstr(out, "sets no control socket") != NULL, "%s",
	    out);
	status = ctl_run("status", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_CONFIG), "%#x: %s", status, out);
	ck_assert_msg(strstr(out, "sets neither control nor pid_file") != NULL,
	    "%s", out);
}
END_TEST

/* Without control, -s status keeps telling from the pid file. */
START_TEST(test_cli_status_fallback)
{
	char	 conf[512], out[4096], want[64];
	int	 status;

	daemon_write_config(&d, NULL);
	snprintf(conf, sizeof(conf), "workers = 1;\npid_file = \"%s/pid\";",
	    d.d_dir);
	daemon_start(&d, conf);
	status = ctl_run("status", out, sizeof(out));
	ck_assert_msg(exited_with(status, 0), "%#x: %s", status, out);
	snprintf(want, sizeof(want), "preforkd is running pid=%ld\n",
	    (long)d.d_pid);
	ck_assert_str_eq(out, want);
}
END_TEST

/* ---- under load ----------------------------------------------------------- */

/*
 * The pool saturated (64 closed-loop clients, 2 workers): status and
 * metrics answer and agree with /proc, a silent control client and a
 * reload change nothing for the clients, and the socket goes at stop.
 */
START_TEST(test_sat_status_and_reload)
{
	char		 out[CTL_OUT], val[128];
	struct row	 rows[CTL_ROWS];
	struct sample	 s[CTL_SAMPLES];
	pid_t		 kids[8];
	long		 ok, errors;
	double		 served = 0, now;
	size_t		 n;
	int		 status;

	ctl_start("workers = 2;");
	snprintf(load_out, sizeof(load_out), "%s/load.out", d.d_dir);
	load = load_start(port, 64, 6, load_out);
	ck_assert(daemon_log_wait(&d, "message peer=", 10));
	for (int i = 0; i < 5; i++) {
		ctl_ok("status", out, sizeof(out));
		n = table_rows(out, rows, CTL_ROWS);
		ck_assert_uint_ge(n, 2);
		table_head(out, "workers: ", val, sizeof(val));
		ctl_ok("metrics", out, sizeof(out));
		n = metrics_parse(out, s, CTL_SAMPLES);
		now = metric(s, n, "preforkd_connections_served_total", "");
		ck_assert(now >= served);
		served = now;
	}
	ck_assert(served > 0);
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 8), 2);
	ctl_ok("status", out, sizeof(out));
	n = table_rows(out, rows, CTL_ROWS);
	for (size_t i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(row_of(rows, n, kids[i]));

	hold(ctl_connect(ctlpath));
	reload_to(2);
	ctl_ok("metrics", out, sizeof(out));
	n = metrics_parse(out, s, CTL_SAMPLES);
	ck_assert(metric(s, n, "preforkd_generation", "") == 2);
	load_wait(load, load_out, &ok, &errors);
	load = 0;
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
	status = daemon_stop(&d, SIGTERM, 20);
	ck_assert(exited_with(status, 0));
	ck_assert_int_eq(access(ctlpath, F_OK), -1);
}
END_TEST

/* Twenty unread answers and a refused user while saturated. */
START_TEST(test_sat_unread_answers)
{
	char	 out[CTL_OUT];
	long	 ok, errors;
	int	 fds[20];

	ctl_start("workers = 2;");
	snprintf(load_out, sizeof(load_out), "%s/load.out", d.d_dir);
	load = load_start(port, 64, 5, load_out);
	ck_assert(daemon_log_wait(&d, "message peer=", 10));
	for (int i = 0; i < 20; i++) {
		fds[i] = hold(ctl_connect(ctlpath));
		ctl_send_or_refused(fds[i], "status\n");
	}
	for (int i = 0; i < 20; i++)
		ck_assert_msg(ctl_closed_by_daemon(fds[i], 20), "client %d "
		    "still held", i);
	ctl_ok("status", out, sizeof(out));
	load_wait(load, load_out, &ok, &errors);
	load = 0;
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
}
END_TEST

/*
 * -s reload through the control socket waits for the outcome: the new
 * generation serves (exit 0, "reloaded generation=2 ..."), or the file is
 * refused (exit 78 and the FILE:LINE cause), the running one serving on.
 */
START_TEST(test_cli_reload_outcome)
{
	char	 out[4096], want[512];
	int	 status;

	ctl_start("workers = 2;");
	ctl_ok("reload", out, sizeof(out));
	ck_assert_msg(strstr(out, "reloaded generation=2 workers=2") != NULL,
	    "%s", out);
	/* A value out of range, on line 1: refused, said so. */
	daemon_write_config(&d, ctl_config("workers = 0;"));
	status = ctl_run("reload", out, sizeof(out));
	ck_assert_msg(exited_with(status, 78), "status %#x: %s", status, out);
	snprintf(want, sizeof(want), "reload failed: %s:1: ", d.d_conf);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
	ck_assert_int_eq(greet(port, "still", 6), 0);
	/* The file fixed: the next one goes through. */
	daemon_write_config(&d, ctl_config("workers = 3;"));
	ctl_ok("reload", out, sizeof(out));
	ck_assert_msg(strstr(out, "reloaded generation=3 workers=3") != NULL,
	    "%s", out);
	/* stop through the socket: the daemon finishes and exits 0. */
	ctl_ok("stop", out, sizeof(out));
	ck_assert_int_eq(daemon_wait(&d, 30), 0);
}
END_TEST

/*
 * -s status while the file on disk is broken: a value refused (the file
 * still parses: its control line is read), or a syntax error (-S names
 * the socket).
 */
START_TEST(test_cli_status_broken_file)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c",
	    d.d_conf, "-s", "status", "-S", ctlpath, NULL };
	char		 out[8192];
	int		 status;

	ctl_start("workers = 2;");
	daemon_write_config(&d, ctl_config("workers = 0;"));
	ctl_ok("status", out, sizeof(out));
	ck_assert_msg(strstr(out, "workers") != NULL, "%s", out);
	daemon_write_config(&d, ctl_config("workers = = ;"));
	argv[2] = d.d_conf;
	argv[6] = ctlpath;
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(exited_with(status, 0), "status %#x: %s", status, out);
	ck_assert_msg(strstr(out, "workers") != NULL, "%s", out);
}
END_TEST

Suite *
control_suite(void)
{
	Suite	*s = suite_create("control");
	TCase	*answers = tcase_create("answers");
	TCase	*access_ = tcase_create("access");
	TCase	*hostile = tcase_create("hostile clients");
	TCase	*file = tcase_create("socket file");
	TCase	*cli = tcase_create("command line");
	TCase	*sat = tcase_create("saturated");

	tcase_add_checked_fixture(answers, setup, teardown);
	tcase_add_test(answers, test_status_table);
	tcase_add_test(answers, test_metrics);
	tcase_add_test(answers, test_help_and_errors);
	tcase_set_timeout(answers, 60);
	suite_add_tcase(s, answers);

	tcase_add_checked_fixture(access_, setup, teardown);
	tcase_add_test(access_, test_socket_mode);
	tcase_add_test(access_, test_other_user_denied);
	tcase_set_timeout(access_, 60);
	suite_add_tcase(s, access_);

	tcase_add_checked_fixture(hostile, setup, teardown);
	tcase_add_test(hostile, test_silent_client);
	tcase_add_test(hostile, test_unread_answers);
	tcase_set_timeout(hostile, 90);
	suite_add_tcase(s, hostile);

	tcase_add_checked_fixture(file, setup, teardown);
	tcase_add_test(file, test_removed_on_stop);
	tcase_add_test(file, test_replaced_left_alone);
	tcase_add_test(file, test_stale_socket_replaced);
	tcase_add_test(file, test_not_a_socket);
	tcase_add_test(file, test_second_daemon_refused);
	tcase_add_test(file, test_reload_moves_socket);
	tcase_add_test(file, test_workers_hold_no_control_fd);
	tcase_set_timeout(file, 90);
	suite_add_tcase(s, file);

	tcase_add_checked_fixture(cli, setup, teardown);
	tcase_add_test(cli, test_cli_not_running);
	tcase_add_test(cli, test_cli_status_fallback);
	tcase_add_test(cli, test_cli_reload_outcome);
	tcase_add_test(cli, test_cli_status_broken_file);
	tcase_set_timeout(cli, 60);
	suite_add_tcase(s, cli);

	tcase_add_checked_fixture(sat, setup, teardown);
	tcase_add_test(sat, test_sat_status_and_reload);
	tcase_add_test(sat, test_sat_unread_answers);
	tcase_set_timeout(sat, 120);
	suite_add_tcase(s, sat);

	return s;
}
