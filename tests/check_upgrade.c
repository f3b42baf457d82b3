/* SPDX-License-Identifier: ISC */
/*
 * check_upgrade.c - the in-place binary upgrade (SIGUSR2): the daemon
 * runs from a copy in its scratch directory, which the test replaces as a
 * package manager would (a new file renamed over the old one), with the
 * second build of the suite (another version) or with something that is
 * not a daemon at all.  With the pool saturated throughout: no failed
 * connection, the same master PID, the new version running.  The control
 * socket, the agent and the metrics endpoint asked throughout: none
 * refused.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

#define UP_WORKERS	2
#define UP_CLIENTS	8	/* closed-loop: four per worker */

static struct daemon	 d;
static char		 exe[256], loadout[256];
static pid_t		 load, poller;

static void
setup(void)
{
	memset(&d, 0, sizeof(d));
	load = poller = 0;
}

static void
teardown(void)
{
	if (load > 0)
		load_kill(load);
	load = 0;
	if (poller > 0) {
		kill(poller, SIGKILL);
		waitpid(poller, NULL, 0);
	}
	poller = 0;
	daemon_cleanup(&d);
}

/* Start the daemon from a copy of the build that the test may replace. */
static void
up_start(const char *extra, const char *const *prefix)
{
	char	 conf[512];

	snprintf(exe, sizeof(exe), "%s", daemon_copy_program(&d, "PREFORKD",
	    "./preforkd"));
	snprintf(d.d_exe, sizeof(d.d_exe), "%s", exe);
	snprintf(conf, sizeof(conf), "workers = %d;\n"
	    "limits = { per_source = 0; };\n%s", UP_WORKERS,
	    extra != NULL ? extra : "");
	daemon_launch(&d, conf, NULL, prefix);
	daemon_wait_ready(&d, 20);
	snprintf(loadout, sizeof(loadout), "%s/load.out", d.d_dir);
}

/* Install path over exe, as a package would: a new file renamed. */
static void
up_install(const char *from)
{
	char	 tmp[300], buf[65536];
	ssize_t	 n;
	int	 in, out;

	snprintf(tmp, sizeof(tmp), "%s.new", exe);
	ck_assert_int_ne(in = open(from, O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_ne(out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0755), -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
	ck_assert_int_eq(rename(tmp, exe), 0);
}

/* A script in place of the binary. */
static void
up_install_script(const char *body)
{
	char	 tmp[300];
	FILE	*fp;

	snprintf(tmp, sizeof(tmp), "%s.new", exe);
	ck_assert_ptr_nonnull(fp = fopen(tmp, "w"));
	fprintf(fp, "#!/bin/sh\n%s\n", body);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	ck_assert_int_eq(rename(tmp, exe), 0);
}

/* "preforkd X" from the binary the master now runs. */
static void
up_running_version(char *out, size_t size)
{
	char		 path[64], bin[PATH_MAX];
	ssize_t		 n;
	const char	*argv[] = { bin, "-V", NULL };

	snprintf(path, sizeof(path), "/proc/%ld/exe", (long)d.d_pid);
	ck_assert_int_gt(n = readlink(path, bin, sizeof(bin) - 1), 0);
	bin[n] = '\0';
	ck_assert_int_eq(run_capture(argv, out, size), 0);
	out[strcspn(out, "\n")] = '\0';
}

/* Every line of the log so far came from one master: pid. */
static void
assert_same_master(void)
{
	char	 want[64];

	ck_assert(proc_alive(d.d_pid));
	snprintf(want, sizeof(want), "preforkd[%ld]: started version=",
	    (long)d.d_pid);
	ck_assert_int_eq(daemon_log_count(&d, "]: started version="),
	    daemon_log_count(&d, want));
}

/*
 * The pool saturated (closed-loop clients, four per worker): the binary
 * is replaced and USR2 sent.  The new version serves under the same pid,
 * the old workers retire, and not one connection fails.
 */
START_TEST(test_upgrade_saturated)
{
	char	 before[128], after[128], want[256];
	long	 ok, errors;

	/* At debug: the old workers' ends ("generation=1 status=0"). */
	up_start("log = { level = \"debug\"; };", NULL);
	up_running_version(before, sizeof(before));
	load = load_start(d.d_port, UP_CLIENTS, 8, loadout);
	sleep_ms(1500);
	up_install(prog("PREFORKD_NEXT", "./tests/preforkd-next"));
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2", 30),
	    "%s", daemon_log_tail(&d));
	up_running_version(after, sizeof(after));
	ck_assert_str_ne(before, after);
	ck_assert_str_eq(strchr(after, '+'), "+next");
	snprintf(want, sizeof(want), "preforkd[%ld]: started version=%s in "
	    "place of version=%s, same pid; generation=1", (long)d.d_pid,
	    strchr(after, ' ') + 1, strchr(before, ' ') + 1);
	ck_assert_msg(daemon_log_wait(&d, want, 1), "%s", daemon_log_tail(&d));
	ck_assert(daemon_log_wait_count(&d, "generation=1 status=0 ",
	    UP_WORKERS, 20));
	load_wait(load, loadout, &ok, &errors);
	load = 0;
	ck_assert_int_gt(ok, 0);
	ck_assert_msg(errors == 0, "%ld failed; log:\n%s", errors,
	    daemon_log_tail(&d));
	assert_same_master();
	ck_assert_int_eq(daemon_log_count(&d, "worker exited"), 0);
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
}
END_TEST

/* A binary that cannot start fails its -t first: nothing changes, and
 * the daemon says why. */
START_TEST(test_upgrade_refused)
{
	long	 ok, errors;

	up_start(NULL, NULL);
	load = load_start(d.d_port, UP_CLIENTS, 4, loadout);
	up_install_script("echo 'preforkd: this build cannot run' >&2\n"
	    "exit 78");
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert_msg(daemon_log_wait(&d, "-t failed (exit 78): preforkd: "
	    "this build cannot run; version=", 20), "%s", daemon_log_tail(&d));
	/* Exit 0 is not enough: it must say it can take over. */
	up_install_script("exit 0");
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert_msg(daemon_log_wait(&d, "-t failed (exit 0 without", 20),
	    "%s", daemon_log_tail(&d));
	/* Gone altogether. */
	ck_assert_int_eq(unlink(exe), 0);
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert(daemon_log_wait(&d, "No such file or directory; version=",
	    20));
	load_wait(load, loadout, &ok, &errors);
	load = 0;
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
	ck_assert_int_eq(greet(d.d_port, "still", 6), 0);
	ck_assert_int_eq(daemon_log_count(&d, "upgrading in place"), 0);
	ck_assert_int_eq(daemon_log_count(&d, "starting generation=2"), 0);
	assert_same_master();
}
END_TEST

/*
 * The new binary starts, but its workers cannot run (they cannot switch
 * to the user the file now names: the daemon runs as root of a user
 * namespace that maps no one else).  The new generation is rolled back;
 * the workers taken over keep serving, with the old banner, and one that
 * dies is replaced with the configuration they were started with.
 */
START_TEST(test_upgrade_rolled_back)
{
	const char *const prefix[] = { "unshare", "--user", "--map-root-user",
	    NULL };
	char	 buf[64], conf[512];
	pid_t	 pids[8];
	long	 ok, errors;
	int	 fd;

	up_start("greeting = { banner = \"old\"; };\n", prefix);
	load = load_start(d.d_port, UP_CLIENTS, 6, loadout);
	snprintf(conf, sizeof(conf), "workers = %d;\n"
	    "limits = { per_source = 0; };\n"
	    "greeting = { banner = \"new\"; };\nuser = \"nobody\";\n",
	    UP_WORKERS);
	daemon_write_config(&d, conf);
	up_install(prog("PREFORKD_NEXT", "./tests/preforkd-next"));
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert_msg(daemon_log_wait(&d, "reload failed: generation=2 "
	    "cannot run with the new configuration", 30), "%s",
	    daemon_log_tail(&d));
	load_wait(load, loadout, &ok, &errors);
	load = 0;
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
	/* The workers taken over keep their configuration, and so does
	 * the one that replaces a worker that dies: the old banner. */
	ck_assert_uint_eq(proc_children(d.d_pid, pids, 8), UP_WORKERS);
	ck_assert_int_eq(kill(pids[0], SIGKILL), 0);
	ck_assert(daemon_log_wait(&d, "; respawning", 10));
	ck_assert(proc_wait_children(d.d_pid, UP_WORKERS, 10));
	for (int i = 0; i < 2 * UP_WORKERS; i++) {
		ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
		ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), 4);
		ck_assert_str_eq(buf, "old");
		close(fd);
	}
	ck_assert_int_eq(daemon_log_count(&d, "gets no new ones"), 0);
	assert_same_master();
}
END_TEST

/*
 * A check that never ends runs in the background: meanwhile the master
 * replaces a worker that dies and answers; a stop ends the check, with
 * everything it started.
 */
START_TEST(test_upgrade_check_in_background)
{
	char	 body[512], path[300], buf[32];
	pid_t	 pids[8], check = 0;
	FILE	*fp;

	up_start(NULL, NULL);
	snprintf(path, sizeof(path), "%s/check.pid", d.d_dir);
	snprintf(body, sizeof(body), "echo $$ > %s\nexec sleep 60", path);
	up_install_script(body);
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert(daemon_log_wait(&d, "upgrade: checking ", 10));
	for (int i = 0; i < 100 && check == 0; i++) {
		if ((fp = fopen(path, "r")) != NULL) {
			if (fgets(buf, sizeof(buf), fp) != NULL)
				check = (pid_t)atol(buf);
			fclose(fp);
		}
		sleep_ms(50);
	}
	ck_assert_int_gt(check, 0);
	ck_assert_uint_ge(proc_children(d.d_pid, pids, 8), UP_WORKERS);
	ck_assert_int_eq(kill(pids[0] == check ? pids[1] : pids[0], SIGKILL),
	    0);
	ck_assert(daemon_log_wait(&d, "; respawning", 5));
	ck_assert_int_eq(greet(d.d_port, "meanwhile", 10), 0);
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
	ck_assert(daemon_log_wait(&d, "upgrade: the daemon is stopping; not "
	    "upgrading", 1));
	for (int i = 0; i < 100 && proc_alive(check); i++)
		sleep_ms(50);
	ck_assert(!proc_alive(check));
}
END_TEST

/* ---- the control socket, the agent and the metrics across upgrades --- */

#define POLL_CONTROL	0
#define POLL_AGENT	1
#define POLL_METRICS	2
#define POLL_KINDS	3

/* What the poller asks: a control socket's path, an agent's and a
 * metrics endpoint's ports (NULL, 0: not that one). */
struct poll_targets {
	const char	*pt_control;
	int		 pt_agent;
	int		 pt_metrics;
};

/* What the poller saw, of each. */
struct poll_result {
	long	 pr_tries[POLL_KINDS];
	long	 pr_misses[POLL_KINDS];
	char	 pr_first[POLL_KINDS][160];	/* the first miss, said */
};

/* A client of the control socket at path: connected, or -1 (errno). */
static int
ctl_connect(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct timeval		 tv = { 10, 0 };
	int			 fd, error;

	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		error = errno;
		close(fd);
		errno = error;
		return -1;
	}
	return fd;
}

/* connect + "status": 0 when a table came back, else -1 and why. */
static int
poll_control(const char *path, char *why, size_t size)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 fd;

	if ((fd = ctl_connect(path)) == -1) {
		snprintf(why, size, "connect: %s", strerror(errno));
		return -1;
	}
	if (send(fd, "status\n", 7, MSG_NOSIGNAL) != 7) {
		snprintf(why, size, "send: %s", strerror(errno));
		close(fd);
		return -1;
	}
	n = read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n] = '\0';
	if (n == 0 || strncmp(buf, "error", 5) == 0 ||
	    strncmp(buf, "denied", 6) == 0) {
		snprintf(why, size, "answer \"%.*s\"", (int)strcspn(buf, "\n"),
		    buf);
		return -1;
	}
	return 0;
}

/* connect + a line: 0 when the agent said one, else -1 and why. */
static int
poll_agent(int port, char *why, size_t size)
{
	char	 buf[64];
	ssize_t	 n;
	int	 fd;

	if ((fd = tcp_connect("127.0.0.1", port)) == -1) {
		snprintf(why, size, "connect: %s", strerror(errno));
		return -1;
	}
	n = read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n] = '\0';
	if (n == 0 || buf[n - 1] != '\n') {
		snprintf(why, size, "line \"%s\"", buf);
		return -1;
	}
	return 0;
}

/* connect + GET /metrics: 0 when the answer is a 200, else -1 and why. */
static int
poll_metrics(int port, char *why, size_t size)
{
	static const char	 get[] = "GET /metrics HTTP/1.1\r\n"
	    "Host: preforkd\r\n\r\n";
	static char		 buf[256 * 1024];
	ssize_t			 n;
	int			 fd;

	if ((fd = tcp_connect("127.0.0.1", port)) == -1) {
		snprintf(why, size, "connect: %s", strerror(errno));
		return -1;
	}
	if (send(fd, get, sizeof(get) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(get) - 1) {
		snprintf(why, size, "send: %s", strerror(errno));
		close(fd);
		return -1;
	}
	n = read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n] = '\0';
	if (strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) != 0 ||
	    strstr(buf, "\npreforkd_info{") == NULL) {
		snprintf(why, size, "answer \"%.*s\"", (int)strcspn(buf,
		    "\r\n"), buf);
		return -1;
	}
	return 0;
}

static void
poll_count(struct poll_result *r, int which, int rc, const char *why)
{
	r->pr_tries[which]++;
	if (rc == 0)
		return;
	if (r->pr_misses[which]++ == 0)
		snprintf(r->pr_first[which], sizeof(r->pr_first[which]), "%s",
		    why);
}

/* The child: each target, every 3 ms, until stop is closed; then the
 * counts to out. */
static void
poll_loop(const struct poll_targets *pt, int stop, int out)
{
	struct poll_result	 r;
	struct pollfd		 pfd = { .fd = stop, .events = POLLIN };
	char			 why[160];

	memset(&r, 0, sizeof(r));
	while (poll(&pfd, 1, 3) == 0) {
		if (pt->pt_control != NULL)
			poll_count(&r, POLL_CONTROL, poll_control(
			    pt->pt_control, why, sizeof(why)), why);
		if (pt->pt_agent != 0)
			poll_count(&r, POLL_AGENT, poll_agent(pt->pt_agent,
			    why, sizeof(why)), why);
		if (pt->pt_metrics != 0)
			poll_count(&r, POLL_METRICS, poll_metrics(
			    pt->pt_metrics, why, sizeof(why)), why);
	}
	_exit(write(out, &r, sizeof(r)) == (ssize_t)sizeof(r) ? 0 : 1);
}

/* Start the poller; *stop ends it (poll_stop()), *out has its counts. */
static void
poll_start(const struct poll_targets *pt, int *stop, int *out)
{
	int	 s[2], o[2];

	ck_assert_int_eq(pipe2(s, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	ck_assert_int_ne(poller = fork(), -1);
	if (poller == 0) {
		close(s[1]);
		close(o[0]);
		poll_loop(pt, s[0], o[1]);
	}
	close(s[0]);
	close(o[1]);
	*stop = s[1];
	*out = o[0];
}

static void
poll_stop(int stop, int out, struct poll_result *r)
{
	int	 status;

	close(stop);
	ck_assert_int_eq(read(out, r, sizeof(*r)), (ssize_t)sizeof(*r));
	close(out);
	ck_assert_int_eq(waitpid(poller, &status, 0), poller);
	poller = 0;
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* n upgrades, back and forth between the two builds, each to its
 * reload's end. */
static void
up_upgrades(int n)
{
	const char	*builds[2];
	char		 want[64];

	builds[0] = prog("PREFORKD_NEXT", "./tests/preforkd-next");
	builds[1] = prog("PREFORKD", "./preforkd");
	for (int i = 1; i <= n; i++) {
		up_install(builds[(i - 1) % 2]);
		ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
		ck_assert_msg(daemon_log_wait_count(&d, ", same pid;", i, 30),
		    "upgrade %d:\n%s", i, daemon_log_tail(&d));
		snprintf(want, sizeof(want), "reloaded generation=%d workers",
		    i + 1);
		ck_assert_msg(daemon_log_wait(&d, want, 30), "upgrade %d:\n%s",
		    i, daemon_log_tail(&d));
	}
}

/* The port of the TCP side door the log says is on ("metrics on "). */
static int
up_logged_port(const char *what)
{
	char		 needle[64];
	const char	*p;

	snprintf(needle, sizeof(needle), "%s 127.0.0.1:", what);
	p = strstr(daemon_log(&d), needle);
	ck_assert_msg(p != NULL, "no \"%s\":\n%s", needle,
	    daemon_log_tail(&d));
	return atoi(p + strlen(needle));
}

/*
 * Ten upgrades, back and forth between the two builds, while a client
 * asks the control socket for its status and a checker asks the agent,
 * one after the other every 3 ms: not one is refused or left without an
 * answer (the sockets cross the exec; a connection made meanwhile waits
 * in the backlog for the new image).  The socket file is the one made at
 * start throughout, and the stop removes it.
 */
START_TEST(test_upgrade_keeps_control_and_agent)
{
	struct poll_result	 r;
	struct poll_targets	 pt;
	struct stat		 before, after;
	char			 ctl[128], extra[512];
	int			 agent = free_port(), stop, out;

	daemon_write_config(&d, NULL);		/* the scratch directory */
	snprintf(ctl, sizeof(ctl), "%s/control", d.d_dir);
	snprintf(extra, sizeof(extra), "control = \"%s\";\n"
	    "agent = { address = \"127.0.0.1\"; port = %d; };\n", ctl, agent);
	up_start(extra, NULL);
	ck_assert_int_eq(lstat(ctl, &before), 0);
	pt = (struct poll_targets){ ctl, agent, 0 };
	poll_start(&pt, &stop, &out);
	up_upgrades(10);
	sleep_ms(100);			/* a few more after the last */
	poll_stop(stop, out, &r);
	ck_assert_int_gt(r.pr_tries[POLL_CONTROL], 0);
	ck_assert_int_gt(r.pr_tries[POLL_AGENT], 0);
	ck_assert_msg(r.pr_misses[POLL_CONTROL] == 0, "control: %ld of %ld "
	    "missed, the first: %s", r.pr_misses[POLL_CONTROL],
	    r.pr_tries[POLL_CONTROL], r.pr_first[POLL_CONTROL]);
	ck_assert_msg(r.pr_misses[POLL_AGENT] == 0, "agent: %ld of %ld "
	    "missed, the first: %s", r.pr_misses[POLL_AGENT],
	    r.pr_tries[POLL_AGENT], r.pr_first[POLL_AGENT]);
	ck_assert_int_eq(daemon_log_count(&d, "control socket kept across "
	    "the upgrade"), 10);
	ck_assert_int_eq(daemon_log_count(&d, "agent check kept across the "
	    "upgrade"), 10);
	ck_assert_int_eq(daemon_log_count(&d, "going on without"), 0);
	ck_assert_int_eq(lstat(ctl, &after), 0);
	ck_assert(before.st_dev == after.st_dev &&
	    before.st_ino == after.st_ino);
	assert_same_master();
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
	ck_assert_int_eq(lstat(ctl, &after), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/*
 * Six upgrades back and forth while a scraper asks the metrics endpoint
 * for /metrics every 3 ms: not one refused, cut off or answered other
 * than 200 (the socket crosses the exec, held as the agent's is: a
 * scrape that comes meanwhile waits in the backlog for the new image).
 * The endpoint is the one opened at start throughout.
 */
START_TEST(test_upgrade_keeps_metrics)
{
	struct poll_result	 r;
	struct poll_targets	 pt;
	char			 extra[128], want[128];
	int			 port = free_port(), stop, out;

	snprintf(extra, sizeof(extra), "metrics = { port = %d; };\n", port);
	up_start(extra, NULL);
	pt = (struct poll_targets){ NULL, 0, port };
	poll_start(&pt, &stop, &out);
	up_upgrades(6);
	sleep_ms(100);			/* a few more after the last */
	poll_stop(stop, out, &r);
	ck_assert_int_gt(r.pr_tries[POLL_METRICS], 0);
	ck_assert_msg(r.pr_misses[POLL_METRICS] == 0, "metrics: %ld of %ld "
	    "missed, the first: %s", r.pr_misses[POLL_METRICS],
	    r.pr_tries[POLL_METRICS], r.pr_first[POLL_METRICS]);
	snprintf(want, sizeof(want), "metrics kept across the upgrade "
	    "127.0.0.1:%d\n", port);
	ck_assert_int_eq(daemon_log_count(&d, want), 6);
	ck_assert_int_eq(daemon_log_count(&d, "metrics on "), 1);
	ck_assert_int_eq(daemon_log_count(&d, "going on without"), 0);
	assert_same_master();
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
}
END_TEST

/*
 * A metrics endpoint on any free port (port = 0): the new image's reload
 * finds the file asking for the same thing and leaves it where it is,
 * rather than move it to another free port.
 */
START_TEST(test_upgrade_keeps_any_port)
{
	char	 why[160], want[128];
	int	 metrics;

	up_start("metrics = { port = 0; };\n", NULL);
	metrics = up_logged_port("metrics on");
	up_upgrades(1);
	snprintf(want, sizeof(want), "metrics kept across the upgrade "
	    "127.0.0.1:%d\n", metrics);
	ck_assert_msg(daemon_log_count(&d, want) == 1 &&
	    daemon_log_count(&d, "metrics on ") == 1, "moved:\n%s",
	    daemon_log_tail(&d));
	ck_assert_msg(poll_metrics(metrics, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
}
END_TEST

/*
 * A control client in hand when the upgrade is ready to exec: the old
 * image takes no new client and waits for it (within its deadline,
 * CONTROL_DEADLINE: 2 s from the accept) rather than cut it off, so its
 * request, sent after the check has had time to pass, is answered, by
 * the old version.
 */
START_TEST(test_upgrade_answers_client_in_hand)
{
	char	 ctl[128], extra[256], before[128], buf[65536];
	size_t	 len;
	ssize_t	 n;
	int	 fd;

	daemon_write_config(&d, NULL);		/* the scratch directory */
	snprintf(ctl, sizeof(ctl), "%s/control", d.d_dir);
	snprintf(extra, sizeof(extra), "control = \"%s\";\n", ctl);
	up_start(extra, NULL);
	up_running_version(before, sizeof(before));
	up_install(prog("PREFORKD_NEXT", "./tests/preforkd-next"));
	ck_assert_int_ne(fd = ctl_connect(ctl), -1);
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	sleep_ms(400);
	ck_assert_msg(send(fd, "status\n", 7, MSG_NOSIGNAL) == 7, "send: %s "
	    "(cut off by the exec?)", strerror(errno));
	n = read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n] = '\0';
	len = strlen(before);
	ck_assert_msg(strncmp(buf, before, len) == 0 && buf[len] == ' ',
	    "answer \"%.*s\", not from %s", (int)strcspn(buf, "\n"), buf,
	    before);
	ck_assert_msg(daemon_log_wait(&d, ", same pid;", 30), "%s",
	    daemon_log_tail(&d));
	assert_same_master();
}
END_TEST

/*
 * The file now names another control socket, another agent port and
 * another metrics port: the new image takes the old ones over all the
 * same, then its reload moves them as any reload does, removing the
 * socket file the first image made (its device and inode crossed with
 * it).
 */
START_TEST(test_upgrade_moves_control_and_agent)
{
	char	 c1[128], c2[128], extra[512], why[160], want[256];
	int	 a1 = free_port(), a2, m1, m2, fd;

	while ((a2 = free_port()) == a1)
		;
	while ((m1 = free_port()) == a1 || m1 == a2)
		;
	while ((m2 = free_port()) == a1 || m2 == a2 || m2 == m1)
		;
	daemon_write_config(&d, NULL);		/* the scratch directory */
	snprintf(c1, sizeof(c1), "%s/control", d.d_dir);
	snprintf(c2, sizeof(c2), "%s/control.2", d.d_dir);
	snprintf(extra, sizeof(extra), "control = \"%s\";\n"
	    "agent = { address = \"127.0.0.1\"; port = %d; };\n"
	    "metrics = { port = %d; };\n", c1, a1, m1);
	up_start(extra, NULL);
	snprintf(extra, sizeof(extra), "workers = %d;\n"
	    "limits = { per_source = 0; };\ncontrol = \"%s\";\n"
	    "agent = { address = \"127.0.0.1\"; port = %d; };\n"
	    "metrics = { port = %d; };\n", UP_WORKERS, c2, a2, m2);
	daemon_write_config(&d, extra);
	up_install(prog("PREFORKD_NEXT", "./tests/preforkd-next"));
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2 workers", 30),
	    "%s", daemon_log_tail(&d));
	snprintf(want, sizeof(want), "control socket kept across the upgrade "
	    "%s\n", c1);
	ck_assert_int_eq(daemon_log_count(&d, want), 1);
	snprintf(want, sizeof(want), "agent check kept across the upgrade "
	    "127.0.0.1:%d\n", a1);
	ck_assert_int_eq(daemon_log_count(&d, want), 1);
	snprintf(want, sizeof(want), "metrics kept across the upgrade "
	    "127.0.0.1:%d\n", m1);
	ck_assert_int_eq(daemon_log_count(&d, want), 1);
	ck_assert_msg(poll_control(c2, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(poll_agent(a2, why, sizeof(why)) == 0, "%s", why);
	ck_assert_msg(poll_metrics(m2, why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(fd = tcp_connect("127.0.0.1", m1), -1);
	ck_assert_int_eq(access(c1, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(fd = tcp_connect("127.0.0.1", a1), -1);
	ck_assert_int_eq(daemon_log_count(&d, "left alone"), 0);
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
	ck_assert_int_eq(access(c2, F_OK), -1);
}
END_TEST

Suite *
upgrade_suite(void)
{
	Suite	*s = suite_create("upgrade");
	TCase	*tc = tcase_create("in place");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_upgrade_saturated);
	tcase_add_test(tc, test_upgrade_refused);
	tcase_add_test(tc, test_upgrade_rolled_back);
	tcase_add_test(tc, test_upgrade_check_in_background);
	tcase_add_test(tc, test_upgrade_keeps_control_and_agent);
	tcase_add_test(tc, test_upgrade_keeps_metrics);
	tcase_add_test(tc, test_upgrade_keeps_any_port);
	tcase_add_test(tc, test_upgrade_answers_client_in_hand);
	tcase_add_test(tc, test_upgrade_moves_control_and_agent);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
