/* SPDX-License-Identifier: ISC */
/*
 * check_logging.c - a log that nobody reads never stops the daemon.
 *
 * preforkd runs without -e, in a mount namespace where /dev/log is a
 * datagram socket of this test (daemon_launch_syslog()) with a small
 * receive buffer, left unread as a stalled journald or rsyslog leaves
 * /dev/log: its queue fills with the first lines of the load and stays
 * full.  Workers serve all the same, a killed worker is replaced, the
 * control socket answers and counts the lines lost, and TERM stops the
 * daemon, each within a deadline.  The master's line about the killed
 * worker is not lost: kept, it comes once the socket is read again (on
 * stderr, where nothing is kept, the next line says how many were
 * lost).  And a line a worker holds back
 * (to send several at once) is not held while it waits on a slow client.
 *
 * Levels: at notice the daemon's own events are logged and no client's;
 * a client that leaves without a byte is counted, and logged only with
 * log.empty.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

static struct daemon	 d;
static struct sockaddr_un devlog;
static int		 logfd;
static pid_t		 load;
static char		 line[16384];

static void
setup(void)
{
	logfd = -1;
	load = 0;
}

static void
teardown(void)
{
	if (load > 0)
		load_kill(load);
	load = 0;
	if (logfd != -1)
		close(logfd);
	logfd = -1;
	daemon_cleanup(&d);
}

/* The daemon's /dev/log: bound in the scratch directory, read only when
 * the test says so. */
static void
devlog_bind(void)
{
	int	 small = 1024;

	daemon_write_config(&d, NULL);
	memset(&devlog, 0, sizeof(devlog));
	devlog.sun_family = AF_UNIX;
	snprintf(devlog.sun_path, sizeof(devlog.sun_path), "%s/log", d.d_dir);
	ck_assert_int_ne(logfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC,
	    0), -1);
	ck_assert_int_eq(setsockopt(logfd, SOL_SOCKET, SO_RCVBUF, &small,
	    sizeof(small)), 0);
	ck_assert_int_eq(bind(logfd, (struct sockaddr *)&devlog,
	    sizeof(devlog)), 0);
}

/* The next line that holds needle, within secs; NULL if none came. */
static const char *
devlog_wait(const char *needle, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	struct pollfd	 pfd = { .fd = logfd, .events = POLLIN };
	ssize_t		 n;

	do {
		if (poll(&pfd, 1, clock_ms_until(end)) != 1 ||
		    (n = recv(logfd, line, sizeof(line) - 1, MSG_DONTWAIT)) <= 0)
			continue;
		line[n] = '\0';
		if (strstr(line, needle) != NULL)
			return line;
	} while (clock_ms_until(end) > 0);
	return NULL;
}

/* Read what is queued: room for the daemon's lines again. */
static unsigned
devlog_drain(void)
{
	unsigned	 n = 0;

	while (recv(logfd, line, sizeof(line), MSG_DONTWAIT) >= 0)
		n++;
	ck_assert_int_eq(errno, EAGAIN);
	return n;
}

/* Fill the queue from here, as the daemon's own lines did. */
static void
devlog_fill(void)
{
	int	 fd, i;

	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    -1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&devlog,
	    sizeof(devlog)), 0);
	for (i = 0; i < 100000; i++)
		if (send(fd, "<30>filler", 10, MSG_DONTWAIT) == -1)
			break;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_gt(i, 0);
	close(fd);
}

/* "<PRI>Mmm dd hh:mm:ss preforkd[PID]: ", as syslog(3) sends it. */
static void
assert_header(const char *l, int pri, pid_t pid)
{
	char	 want[64], month[4];
	int	 day, h, m, s, off = 0;

	snprintf(want, sizeof(want), "<%d>", pri);
	ck_assert_msg(strncmp(l, want, strlen(want)) == 0, "%s", l);
	l += strlen(want);
	ck_assert_msg(sscanf(l, "%3[A-Za-z] %2d %2d:%2d:%2d %n", month, &day, &h,
	    &m, &s, &off) == 5 && off == 16 && strstr("JanFebMarAprMayJun"
	    "JulAugSepOctNovDec", month) != NULL && day >= 1 && day <= 31,
	    "%s", l);
	ck_assert_msg(day >= 10 || l[4] == ' ', "%s", l);	/* "Dec  7" */
	snprintf(want, sizeof(want), "preforkd[%ld]: ", (long)pid);
	ck_assert_msg(strncmp(l + off, want, strlen(want)) == 0, "%s", l);
}

/* preforkd -c conf -s cmd; its exit status. */
static int
ctl(const char *cmd, char *out, size_t size)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c",
	    d.d_conf, "-s", cmd, NULL };

	return run_capture(argv, out, size);
}

static bool
ctl_ok(const char *cmd, char *out, size_t size)
{
	int	 status = ctl(cmd, out, size);

	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Wait for the control socket's status to hold want. */
static bool
status_holds(const char *want, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	char		 out[8192];

	do {
		if (ctl_ok("status", out, sizeof(out)) &&
		    strstr(out, want) != NULL)
			return true;
		sleep_ms(50);
	} while (clock_ms_until(end) > 0);
	return false;
}

/* Ready: the control socket answers, with every worker idle. */
static bool
ready(unsigned workers, double secs)
{
	char	 want[64];

	snprintf(want, sizeof(want), "\nworkers: %u starting=0 idle=%u ",
	    workers, workers);
	return status_holds(want, secs);
}

/* n workers again, none of them gone. */
static bool
replaced(pid_t gone, size_t n, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	pid_t		 kids[16];
	size_t		 k;

	do {
		k = proc_children(d.d_pid, kids, 16);
		for (size_t i = 0; i < k; i++)
			if (kids[i] == gone)
				k = 0;
		if (k == n)
			return true;
		sleep_ms(20);
	} while (clock_ms_until(end) > 0);
	return false;
}

/*
 * With the log full: 64 clients for 3 s all served, a killed worker
 * replaced, and the control socket's count of lines lost (the workers';
 * the master's line about the killed worker is kept to be sent late).
 * Returns the master's count; *killed, the worker killed.
 */
static unsigned long long
serve_stalled(int port, pid_t *killed)
{
	char		 out[65536], load_out[192];
	unsigned long long master, workers;
	const char	*p;
	pid_t		 kids[16];
	long		 ok, errors;

	snprintf(load_out, sizeof(load_out), "%s/load.out", d.d_dir);
	load = load_start(port, 64, 3.0, load_out);
	load_wait(load, load_out, &ok, &errors);
	load = 0;
	ck_assert_int_eq(errors, 0);
	ck_assert_int_ge(ok, 500);

	ck_assert_uint_eq(proc_children(d.d_pid, kids, 16), 2);
	*killed = kids[0];
	ck_assert_int_eq(kill(kids[0], SIGKILL), 0);
	ck_assert_msg(replaced(kids[0], 2, 10), "worker %ld not replaced",
	    (long)kids[0]);

	ck_assert_msg(ctl_ok("status", out, sizeof(out)), "%s", out);
	ck_assert_ptr_nonnull(p = strstr(out, "\nlog: dropped "));
	ck_assert_msg(sscanf(p, "\nlog: dropped master=%llu workers=%llu",
	    &master, &workers) == 2 && workers > 0, "%s", out);
	ck_assert_msg(ctl_ok("metrics", out, sizeof(out)), "%s", out);
	ck_assert_ptr_nonnull(p = strstr(out, "\npreforkd_log_dropped_total{"
	    "process=\"master\"} "));
	ck_assert_msg(strtoull(strchr(p, '}') + 2, NULL, 10) >= master, "%s",
	    p);
	ck_assert_ptr_nonnull(p = strstr(out, "\npreforkd_log_dropped_total{"
	    "process=\"workers\"} "));
	ck_assert_msg(strtoull(strchr(p, '}') + 2, NULL, 10) >= workers, "%s",
	    p);
	return master;
}

static const char *
config(int port)
{
	static char	 conf[512];

	snprintf(conf, sizeof(conf), "workers = 2;\ncontrol = \"%s/control\";\n"
	    "log = { level = \"info\"; };\n"
	    "listen = { address = \"127.0.0.1\"; port = %d; };", d.d_dir,
	    port);
	return conf;
}

START_TEST(test_syslog_stalled)
{
	char			 want[96];
	unsigned long long	 master;
	const char		*p;
	pid_t			 killed;
	int			 port = free_port(), status;

	if (geteuid() != 0)
		return;		/* mount namespaces need root */
	devlog_bind();
	daemon_launch_syslog(&d, config(port));
	/* The first line, read: daemon (3) * 8 + notice (5). */
	ck_assert_msg((p = devlog_wait("listening on 127.0.0.1:", 10)) != NULL,
	    "no syslog line; stderr:\n%s", daemon_log_tail(&d));
	assert_header(p, 29, d.d_pid);
	ck_assert_msg(ready(2, 15), "not ready");

	/* From here nobody reads: each connection logs a line, and the
	 * queue is full after ten. */
	master = serve_stalled(port, &killed);
	/* The master's line about the killed worker was kept, not lost. */
	ck_assert_msg(master == 0, "the master lost %llu lines", master);

	/* Read again: the master's kept line comes, late, as the loop
	 * turns; then a status report on USR1.  (Had the master lost any,
	 * a note saying how many would come before the report.) */
	ck_assert_uint_gt(devlog_drain(), 0);
	snprintf(want, sizeof(want), "preforkd[%ld]: worker exited pid=%ld ",
	    (long)d.d_pid, (long)killed);
	ck_assert_msg((p = devlog_wait(want, 10)) != NULL, "the master's line "
	    "about worker %ld never came", (long)killed);
	assert_header(p, 28, d.d_pid);
	ck_assert_int_eq(kill(d.d_pid, SIGUSR1), 0);
	snprintf(want, sizeof(want), "preforkd[%ld]: status generation=1 ",
	    (long)d.d_pid);
	ck_assert(devlog_wait(want, 10) != NULL);

	/* Full again: TERM stops the daemon all the same. */
	devlog_fill();
	status = daemon_stop(&d, SIGTERM, 30);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	/* syslog only, never both. */
	ck_assert_str_eq(daemon_log(&d), "");
}
END_TEST

/* A page of pipe, full: what a reader that stopped leaves. */
static void
fifo_fill(const char *path)
{
	char	 junk[512];
	int	 fd;

	memset(junk, 'x', sizeof(junk));
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC),
	    -1);
	ck_assert_int_ne(fcntl(fd, F_SETPIPE_SZ, 4096), -1);
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
	close(fd);
}

static void
fifo_drain(void)
{
	while (read(logfd, line, sizeof(line)) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
}

/* What the FIFO says until it holds needle and the end of its line,
 * within secs: the needle, or NULL. */
static const char *
fifo_wait(const char *needle, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	struct pollfd	 pfd = { .fd = logfd, .events = POLLIN };
	size_t		 len = 0;
	const char	*p;
	ssize_t		 n;

	do {
		if (poll(&pfd, 1, clock_ms_until(end)) != 1 ||
		    (n = read(logfd, line + len, sizeof(line) - 1 - len)) <= 0)
			continue;
		line[len += (size_t)n] = '\0';
		if ((p = strstr(line, needle)) != NULL && strchr(p, '\n'))
			return p;
		if (len > sizeof(line) / 2) {	/* keep the tail */
			memmove(line, line + len - 256, 256);
			len = 256;
		}
	} while (clock_ms_until(end) > 0);
	return NULL;
}

/* The same with -e, stderr a FIFO of this test that it stops reading. */
START_TEST(test_stderr_stalled)
{
	const char	*prefix[] = { "sh", "-c", "exec \"$@\" 2>\"$0\"", NULL,
	    NULL };
	char		 fifo[160], want[96], *end;
	const char	*p;
	pid_t		 killed;
	int		 port = free_port(), status;

	daemon_write_config(&d, NULL);
	snprintf(fifo, sizeof(fifo), "%s/stderr", d.d_dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_ne(logfd = open(fifo, O_RDONLY | O_NONBLOCK |
	    O_CLOEXEC), -1);
	prefix[3] = fifo;
	daemon_launch(&d, config(port), NULL, prefix);
	ck_assert_msg(ready(2, 15), "not ready");

	fifo_fill(fifo);
	/* On stderr nothing is kept late: the master's lines are lost. */
	ck_assert_uint_gt(serve_stalled(port, &killed), 0);

	fifo_drain();
	ck_assert_int_eq(kill(d.d_pid, SIGUSR1), 0);
	snprintf(want, sizeof(want), "preforkd[%ld]: log: ", (long)d.d_pid);
	ck_assert_msg((p = fifo_wait(want, 10)) != NULL, "no note");
	ck_assert_uint_gt(strtoull(p + strlen(want), &end, 10), 0);
	ck_assert_msg(strncmp(end, " lines dropped (stderr not writable)\n",
	    37) == 0, "%s", p);

	fifo_fill(fifo);
	status = daemon_stop(&d, SIGTERM, 30);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
}
END_TEST

/*
 * One worker.  Client A says its message and is closed; client B, queued
 * behind it, then holds the worker silent for up to 30 s.  A's line was
 * held back to go with others (log.h): it must come all the same, long
 * before B's time runs out.
 */
START_TEST(test_syslog_held_line)
{
	char	 conf[256], buf[64];
	int	 port = free_port(), a, b;

	if (geteuid() != 0)
		return;		/* mount namespaces need root */
	devlog_bind();
	snprintf(conf, sizeof(conf), "workers = 1;\nlog = { level = \"info\"; "
	    "};\ntimeouts = { read = 30; connection = 40; };\n"
	    "listen = { address = \"127.0.0.1\"; port = %d; };", port);
	daemon_launch_syslog(&d, conf);
	ck_assert_msg(devlog_wait("ready generation=1", 10) != NULL,
	    "not ready; stderr:\n%s", daemon_log_tail(&d));
	a = tcp_connect("127.0.0.1", port);
	ck_assert_int_eq(read_banner(a, buf, sizeof(buf)), 28);
	b = tcp_connect("127.0.0.1", port);
	ck_assert_int_eq(write(a, "held\n", 5), 5);
	ck_assert_int_eq(read(a, buf, sizeof(buf)), 0);
	/* The worker is B's now, waiting for it. */
	ck_assert_int_eq(read_banner(b, buf, sizeof(buf)), 28);
	ck_assert_msg(devlog_wait("msg=\"held\"", 5) != NULL,
	    "A's line held while B is served");
	close(a);
	close(b);
}
END_TEST

/* ---- levels ------------------------------------------------------------ */

/*
 * log.level = "notice": what the daemon does is there (started, ready,
 * the reload, the stop), what each client did is not, though clients
 * are served throughout, and so are the sockets it opens.
 */
START_TEST(test_notice_lifecycle)
{
	static const char *const lifecycle[] = { "listening on 127.0.0.1:",
	    "]: started version=", "ready generation=1 ", "reloading ", "starting generation=2 ",
	    "ready generation=2 ", "reloaded generation=2 ",
	    "shutting down workers=", "exiting status=0 " };
	static const char *const per_connection[] = { "msg=\"", "no message",
	    "message lost", "banner not delivered", "worker retired" };
	char		 conf[256], load_out[192];
	int		 port = free_port(), status;

	snprintf(conf, sizeof(conf), "workers = 2;\nlog = { level = "
	    "\"notice\"; };\nlisten = { address = \"127.0.0.1\"; "
	    "port = %d; };", port);
	daemon_launch(&d, conf, NULL, NULL);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=1 ", 15),
	    "not ready:\n%s", daemon_log_tail(&d));
	snprintf(load_out, sizeof(load_out), "%s/load.out", d.d_dir);
	load = load_start(port, 8, 60, load_out);
	sleep_ms(1000);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2 ", 20), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(greet(port, "served", 7), 0);
	status = daemon_stop(&d, SIGTERM, 30);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x:\n%s", status, daemon_log_tail(&d));
	for (size_t i = 0; i < sizeof(lifecycle) / sizeof(*lifecycle); i++)
		ck_assert_msg(daemon_log_count(&d, lifecycle[i]) == 1,
		    "\"%s\":\n%s", lifecycle[i], daemon_log_tail(&d));
	for (size_t i = 0; i < sizeof(per_connection) /
	    sizeof(*per_connection); i++)
		ck_assert_msg(daemon_log_count(&d, per_connection[i]) == 0,
		    "\"%s\":\n%s", per_connection[i], daemon_log_tail(&d));
}
END_TEST

/*
 * Clients that leave without a byte: one closes at once, one after the
 * banner, one resets after it.  Each is counted (status, metrics); each
 * is logged only with log.empty = true.  A client with a message is
 * logged either way.
 */
START_TEST(test_empty_connections)
{
	struct linger	 reset = { .l_onoff = 1, .l_linger = 0 };
	char		 conf[256], buf[64], out[65536];
	int		 fd;

	daemon_write_config(&d, NULL);
	snprintf(conf, sizeof(conf), "workers = 2;\ncontrol = \"%s/control\";"
	    "\nlog = { empty = %s; };\n", d.d_dir, _i ? "true" : "false");
	daemon_start(&d, conf);

	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	close(fd);
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_gt(read_banner(fd, buf, sizeof(buf)), 0);
	close(fd);
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_gt(read_banner(fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset,
	    sizeof(reset)), 0);
	close(fd);
	ck_assert_int_eq(greet(d.d_port, "hello", 6), 0);

	/* Counted once the worker is done with each: its lines are
	 * written by then. */
	ck_assert_msg(status_holds("\nconnections: served=4 limited=0 "
	    "shed=0 denied=0 proxy_failed=0 empty=3\n", 10), "%s",
	    daemon_log_tail(&d));
	ck_assert(ctl_ok("metrics", out, sizeof(out)));
	ck_assert_msg(strstr(out, "\npreforkd_connections_empty_total 3\n") !=
	    NULL, "%s", out);
	ck_assert(daemon_log_wait(&d, "msg=\"hello\"", 10));
	if (_i == 0)
		ck_assert_msg(daemon_log_count(&d, "bytes=0") == 0, "%s",
		    daemon_log_tail(&d));
	else
		/* Two a second per source and worker: at least two. */
		ck_assert_msg(daemon_log_wait_count(&d, "bytes=0", 2, 10),
		    "%s", daemon_log_tail(&d));
}
END_TEST

Suite *
logging_suite(void)
{
	Suite	*s = suite_create("logging");
	TCase	*tc = tcase_create("stalled");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_syslog_stalled);
	tcase_add_test(tc, test_stderr_stalled);
	tcase_add_test(tc, test_syslog_held_line);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("levels");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_notice_lifecycle);
	tcase_add_loop_test(tc, test_empty_connections, 0, 2);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
