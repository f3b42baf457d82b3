/*
 * check_daemon.c - integration tests against the real preforkd: real
 * processes, real sockets on a free loopback port, real signals.  Each
 * test asserts what an operator or a client can observe: bytes on the
 * wire, processes in /proc, log lines, exit statuses.
 */
#include "autoconf.h"

#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

#define BANNER		"Welcome to Network Server!!"

static struct daemon	 d;

static void
teardown(void)
{
	daemon_cleanup(&d);
}

static void
sleep_ms(int ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* One whole greeting exchange; returns 0 when the banner was right. */
static int
greet(int port, const char *msg, size_t len)
{
	char	 buf[64];
	int	 fd;

	if ((fd = tcp_connect("127.0.0.1", port)) == -1)
		return -1;
	if (read_banner(fd, buf, sizeof(buf)) != sizeof(BANNER) ||
	    memcmp(buf, BANNER, sizeof(BANNER)) != 0 ||
	    send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	/* The server closes after the message: EOF, not more bytes. */
	if (recv(fd, buf, sizeof(buf), 0) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int
free_port(void)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	int			 fd, port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* ---- command line ---------------------------------------------------- */

START_TEST(test_cli_check_good)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-t",
	    "-c", NULL, NULL };
	char		 out[4096];
	int		 status;

	daemon_write_config(&d, "workers = 2;");
	argv[3] = d.d_conf;
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	    out);
	ck_assert_ptr_nonnull(strstr(out, "test is successful"));
}
END_TEST

START_TEST(test_cli_check_bad)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-t",
	    "-c", NULL, NULL };
	char		 out[4096], want[256];
	int		 status;

	daemon_write_config(&d, "workers = 2;\n\nlisten = { port = 99999; };");
	argv[3] = d.d_conf;
	status = run_capture(argv, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG);
	snprintf(want, sizeof(want), "%s:3: listen.port = 99999 is out of "
	    "range", d.d_conf);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);

	argv[3] = "/nonexistent.conf";
	status = run_capture(argv, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent.conf: cannot open"));
}
END_TEST

START_TEST(test_cli_usage)
{
	const char	*bin = prog("PREFORKD", "./preforkd");
	const char	*bad[] = { bin, "-x", NULL };
	const char	*extra[] = { bin, "-t", "stray", NULL };
	const char	*both[] = { bin, "-d", "-e", NULL };
	const char	*ctl[] = { bin, "-s", "explode", NULL };
	const char	*ver[] = { bin, "-V", NULL };
	const char	*help[] = { bin, "-h", NULL };
	char		 out[4096];
	int		 status;

	status = run_capture(bad, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_USAGE);
	ck_assert_ptr_nonnull(strstr(out, "usage: preforkd"));
	status = run_capture(extra, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_USAGE);
	status = run_capture(both, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_USAGE);
	status = run_capture(ctl, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_USAGE);
	status = run_capture(ver, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "preforkd " PACKAGE_VERSION "\n");
	status = run_capture(help, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(strstr(out, "-s cmd"));
}
END_TEST

/* ---- serving ----------------------------------------------------------- */

START_TEST(test_banner_bytes)
{
	char	 buf[128];
	int	 fd;

	daemon_start(&d, "workers = 2;");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	/* The banner, its NUL, and nothing more until we speak. */
	ck_assert_int_eq(recv(fd, buf, sizeof(BANNER), MSG_WAITALL),
	    sizeof(BANNER));
	ck_assert_int_eq(memcmp(buf, BANNER, sizeof(BANNER)), 0);
	ck_assert_int_eq(buf[sizeof(BANNER) - 1], '\0');
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	close(fd);
}
END_TEST

START_TEST(test_message_logged)
{
	daemon_start(&d, "workers = 2;");
	ck_assert_int_eq(greet(d.d_port, "hello\tworld\n", 12), 0);
	ck_assert_msg(daemon_log_wait(&d, "message peer=127.0.0.1:", 5),
	    "%s", daemon_log(&d));
	ck_assert_msg(daemon_log_wait(&d, "bytes=11 msg=\"hello\\tworld\"", 5),
	    "%s", daemon_log(&d));
}
END_TEST

START_TEST(test_custom_banner)
{
	char	 buf[64];
	int	 fd;

	daemon_start(&d, "greeting = { banner = \"hi there\"; };");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), 9);
	ck_assert_str_eq(buf, "hi there");
	close(fd);
}
END_TEST

START_TEST(test_worker_count)
{
	pid_t	 kids[16];

	daemon_start(&d, "workers = 5;");
	ck_assert(proc_wait_children(d.d_pid, 5, 5));
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 16), 5);
}
END_TEST

START_TEST(test_ipv6)
{
	char	 buf[64];
	int	 fd;

	daemon_start(&d, "listen = { address = \"::1\"; port = 0; };");
	ck_assert_ptr_nonnull(strstr(daemon_log(&d), "listening on [::1]:"));
	fd = tcp_connect("::1", d.d_port);
	if (fd == -1 && errno == EADDRNOTAVAIL)
		return;		/* no IPv6 loopback in this namespace */
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	close(fd);
}
END_TEST

START_TEST(test_two_listeners)
{
	char	 conf[256], buf[64];
	int	 p1 = free_port(), p2 = free_port(), fd;

	snprintf(conf, sizeof(conf), "listen = ( { address = \"127.0.0.1\"; "
	    "port = %d; }, { address = \"127.0.0.2\"; port = %d; } );", p1,
	    p2);
	daemon_start(&d, conf);
	ck_assert_int_ne(fd = tcp_connect("127.0.0.2", p2), -1);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	close(fd);
	ck_assert_int_eq(greet(p1, "a", 2), 0);
}
END_TEST

START_TEST(test_echo)
{
	char	 out[100000], in[100000];
	int	 fd;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (char)(i * 7);
	daemon_start(&d, "service = \"echo\";");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_eq(send(fd, out, sizeof(out), 0), sizeof(out));
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(read_all(fd, in, sizeof(in)), sizeof(in));
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
	close(fd);
	ck_assert(daemon_log_wait(&d, "echo done", 5));
	ck_assert(daemon_log_wait(&d, "bytes=100000 end=eof", 5));
}
END_TEST

/* ---- the client tool and the study programs ---------------------------- */

START_TEST(test_client_tool)
{
	const char	*argv[] = { prog("PREFORKD_CLIENT", "./preforkd-client"),
	    "-p", NULL, "-m", "from the tool", NULL };
	char		 out[1024], port[16];
	int		 status;

	daemon_start(&d, NULL);
	snprintf(port, sizeof(port), "%d", d.d_port);
	argv[2] = port;
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	    out);
	ck_assert_str_eq(out, BANNER "\n");
	ck_assert(daemon_log_wait(&d, "msg=\"from the tool\"", 5));
}
END_TEST

START_TEST(test_client_failures)
{
	const char	*bin = prog("PREFORKD_CLIENT", "./preforkd-client");
	const char	*refused[] = { bin, "-p", NULL, NULL };
	const char	*silent[] = { bin, "-p", NULL, "-t", "0.3", NULL };
	const char	*badt[] = { bin, "-t", "soon", NULL };
	char		 out[1024], port[16];
	int		 status, lfd;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t	 len = sizeof(sin);

	snprintf(port, sizeof(port), "%d", free_port());
	refused[2] = port;
	status = run_capture(refused, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_UNAVAILABLE);
	ck_assert_msg(strstr(out, "Connection refused") != NULL, "%s", out);

	/* A server that accepts but never speaks. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	snprintf(port, sizeof(port), "%d", ntohs(sin.sin_port));
	silent[2] = port;
	status = run_capture(silent, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_TEMPFAIL);
	ck_assert_msg(strstr(out, "timed out") != NULL, "%s", out);
	close(lfd);

	status = run_capture(badt, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_USAGE);
}
END_TEST

START_TEST(test_seed_client)
{
	const char	*argv[] = { prog("SEED_CLIENT", "./tests/seed_client"),
	    NULL };
	char		 out[1024], env[64];
	int		 status;

	daemon_start(&d, NULL);
	snprintf(env, sizeof(env), "%d", d.d_port);
	setenv("SEED_PORT", env, 1);
	setenv("SEED_ADDR", "127.0.0.1", 1);
	status = run_capture(argv, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(out, "** From Server : " BANNER "\n");
	ck_assert_msg(daemon_log_wait(&d, "bytes=22 msg=\"I want a HTTP "
	    "Service.\"", 5), "%s", daemon_log(&d));
}
END_TEST

START_TEST(test_seed_server)
{
	const char	*client = prog("PREFORKD_CLIENT", "./preforkd-client");
	const char	*argv[] = { client, "-p", NULL, "-m", "hello seed",
	    NULL };
	char		 out[1024], port[16], path[128];
	int		 status, fd;
	pid_t		 pid;
	FILE		*fp;

	daemon_write_config(&d, NULL);		/* for the scratch dir */
	snprintf(path, sizeof(path), "%s/seed.out", d.d_dir);
	snprintf(port, sizeof(port), "%d", free_port());
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		fd = creat(path, 0644);
		dup2(fd, STDOUT_FILENO);
		setenv("SEED_PORT", port, 1);
		setenv("SEED_ADDR", "127.0.0.1", 1);
		/* Line-buffered, or its output dies with it. */
		execlp("stdbuf", "stdbuf", "-oL",
		    prog("SEED_SERVER", "./tests/seed_server"), (char *)NULL);
		_exit(127);
	}
	argv[2] = port;
	for (int i = 0; i < 200; i++) {
		status = run_capture(argv, out, sizeof(out));
		if (!(WIFEXITED(status) && WEXITSTATUS(status) ==
		    EX_UNAVAILABLE))
			break;
		sleep_ms(10);		/* not listening yet */
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	    out);
	ck_assert_str_eq(out, BANNER "\n");
	sleep_ms(200);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	ck_assert_uint_gt(fread(out, 1, sizeof(out) - 1, fp), 0);
	fclose(fp);
	ck_assert_msg(strstr(out, "** From Client : hello seed\n") != NULL,
	    "%s", out);
}
END_TEST

/* ---- supervision --------------------------------------------------------- */

START_TEST(test_killed_worker_replaced)
{
	pid_t		 before[8], after[8];
	char		 line[128];
	struct timespec	 t0;

	daemon_start(&d, "workers = 3;");
	ck_assert_uint_eq(proc_children(d.d_pid, before, 8), 3);
	t0 = clock_now();
	ck_assert_int_eq(kill(before[0], SIGKILL), 0);
	snprintf(line, sizeof(line), "worker exited pid=%ld signal=9 (Killed)",
	    (long)before[0]);
	ck_assert_msg(daemon_log_wait(&d, line, 1), "%s", daemon_log(&d));
	/* Replaced within a second, and the new one serves. */
	for (;;) {
		size_t n = proc_children(d.d_pid, after, 8);
		bool replaced = n == 3;

		for (size_t i = 0; i < n; i++)
			replaced = replaced && after[i] != before[0];
		if (replaced)
			break;
		ck_assert_msg(clock_diff(t0, clock_now()) < 1.0,
		    "not replaced within 1s");
		sleep_ms(5);
	}
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(greet(d.d_port, "x", 2), 0);
}
END_TEST

START_TEST(test_term_leaves_nothing)
{
	pid_t	 kids[8];
	size_t	 n;
	int	 status;

	daemon_start(&d, "workers = 4;");
	ck_assert(proc_wait_children(d.d_pid, 4, 5));
	n = proc_children(d.d_pid, kids, 8);
	status = daemon_stop(&d, SIGTERM, 5);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(!proc_alive(kids[i]), "worker %ld survived",
		    (long)kids[i]);
	ck_assert_int_eq(tcp_connect("127.0.0.1", d.d_port), -1);
}
END_TEST

START_TEST(test_int_fast)
{
	pid_t	 kids[8];
	size_t	 n;
	int	 status, fd;

	daemon_start(&d, "workers = 2; timeouts = { read = 30.0; };");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	n = proc_children(d.d_pid, kids, 8);
	/* A connection in flight does not hold up a fast stop. */
	status = daemon_stop(&d, SIGINT, 2);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (size_t i = 0; i < n; i++)
		ck_assert(!proc_alive(kids[i]));
	close(fd);
}
END_TEST

START_TEST(test_master_killed)
{
	pid_t		 kids[8];
	size_t		 n;
	struct timespec	 t0;
	bool		 any;

	daemon_start(&d, "workers = 3;");
	ck_assert(proc_wait_children(d.d_pid, 3, 5));
	n = proc_children(d.d_pid, kids, 8);
	daemon_stop(&d, SIGKILL, 2);
	t0 = clock_now();
	do {
		any = false;
		for (size_t i = 0; i < n; i++)
			any = any || proc_alive(kids[i]);
		if (!any)
			break;
		sleep_ms(10);
	} while (clock_diff(t0, clock_now()) < 1.0);
	ck_assert_msg(!any, "a worker outlived the master by 1s");
}
END_TEST

/* Graceful: the connection in hand completes and is logged. */
START_TEST(test_quit_graceful)
{
	char	 buf[64];
	int	 fd, status;

	daemon_start(&d, "workers = 1;");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	ck_assert_int_eq(kill(d.d_pid, SIGQUIT), 0);
	ck_assert(daemon_log_wait(&d, "shutting down", 2));
	sleep_ms(200);
	ck_assert_int_eq(send(fd, "last words", 11, 0), 11);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	status = daemon_stop(&d, SIGQUIT, 5);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(strstr(daemon_log(&d), "msg=\"last words\""));
}
END_TEST

/* A stuck connection is cut off at timeouts.shutdown. */
START_TEST(test_shutdown_timeout)
{
	struct timespec	 t0;
	char		 buf[64];
	int		 fd, status;

	daemon_start(&d, "workers = 1; timeouts = { read = 60.0; "
	    "shutdown = 0.5; };");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	t0 = clock_now();
	status = daemon_stop(&d, SIGTERM, 5);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(clock_diff(t0, clock_now()) >= 0.4);
	ck_assert_ptr_nonnull(strstr(daemon_log(&d),
	    "shutdown timeout passed; killing workers=1"));
	close(fd);
}
END_TEST

/*
 * A stop request that lands just before a worker goes back to sleep is
 * never lost: TERM each fresh idle worker, many times in a row, and
 * every one must exit at once.
 */
START_TEST(test_stop_race)
{
	pid_t		 kids[4];
	struct timespec	 t0;

	daemon_start(&d, "workers = 1;");
	for (int i = 0; i < 60; i++) {
		ck_assert(proc_wait_children(d.d_pid, 1, 5));
		ck_assert_uint_eq(proc_children(d.d_pid, kids, 4), 1);
		/* Sometimes right after a connection, sometimes cold. */
		if (i % 2 == 0)
			ck_assert_int_eq(greet(d.d_port, "r", 2), 0);
		kill(kids[0], SIGTERM);
		t0 = clock_now();
		while (proc_alive(kids[0])) {
			ck_assert_msg(clock_diff(t0, clock_now()) < 1.0,
			    "round %d: worker ignored TERM", i);
			sleep_ms(1);
		}
	}
}
END_TEST

START_TEST(test_ttin_ttou)
{
	daemon_start(&d, "workers = 2;");
	ck_assert(proc_wait_children(d.d_pid, 2, 5));
	kill(d.d_pid, SIGTTIN);
	ck_assert(proc_wait_children(d.d_pid, 3, 5));
	ck_assert(daemon_log_wait(&d, "workers=3 (one more on TTIN)", 2));
	kill(d.d_pid, SIGTTOU);
	ck_assert(proc_wait_children(d.d_pid, 2, 5));
	kill(d.d_pid, SIGTTOU);
	ck_assert(proc_wait_children(d.d_pid, 1, 5));
	kill(d.d_pid, SIGTTOU);		/* never below one */
	sleep_ms(200);
	ck_assert(proc_wait_children(d.d_pid, 1, 1));
	ck_assert_int_eq(greet(d.d_port, "x", 2), 0);
}
END_TEST

START_TEST(test_usr1_status)
{
	daemon_start(&d, "workers = 2;");
	ck_assert_int_eq(greet(d.d_port, "one", 4), 0);
	ck_assert_int_eq(greet(d.d_port, "two", 4), 0);
	ck_assert(daemon_log_wait(&d, "msg=\"two\"", 5));
	kill(d.d_pid, SIGUSR1);
	ck_assert_msg(daemon_log_wait(&d, "status generation=1 target=2 "
	    "2 workers, greeting service on 127.0.0.1:", 2), "%s",
	    daemon_log(&d));
	ck_assert(daemon_log_wait(&d, "2 connections served", 2));
	ck_assert_int_eq(daemon_log_count(&d, "state=idle uptime="), 2);
}
END_TEST

/* A worker that dies at start-up every time is respawned with growing
 * delays, not in a tight loop. */
START_TEST(test_crash_backoff)
{
	pid_t		 kids[4], last = 0;
	struct timespec	 t0 = clock_now();
	int		 crashes = 0;

	daemon_start(&d, "workers = 1;");
	while (clock_diff(t0, clock_now()) < 2.5) {
		/* Crash each new worker once, as soon as it shows up. */
		if (proc_children(d.d_pid, kids, 4) == 1 &&
		    kids[0] != last && kill(kids[0], SIGSEGV) == 0) {
			last = kids[0];
			crashes++;
		}
		sleep_ms(5);
	}
	/* Delays 0.1, 0.2, 0.4, 0.8: about five crashes in 2.5s. */
	ck_assert_msg(crashes >= 3 && crashes <= 7, "crashes=%d", crashes);
	ck_assert(daemon_log_wait(&d, "died young, respawning in 0.1s", 1));
	ck_assert(daemon_log_wait(&d, "died young, respawning in 0.2s", 1));
	ck_assert(daemon_log_wait(&d, "died young, respawning in 0.4s", 1));
	/* Under AddressSanitizer its handler turns the SEGV into exit 1. */
	ck_assert(daemon_log_wait(&d, "signal=11 (Segmentation fault)", 1) ||
	    daemon_log_wait(&d, "status=1 uptime=", 1));
}
END_TEST

/* ---- reload ------------------------------------------------------------ */

START_TEST(test_reload_new_port)
{
	char	 conf[128];
	int	 old = 0, port = free_port();

	daemon_start(&d, "workers = 2;");
	old = d.d_port;
	snprintf(conf, sizeof(conf), "workers = 3; listen = { address = "
	    "\"127.0.0.1\"; port = %d; };", port);
	daemon_write_config(&d, conf);
	kill(d.d_pid, SIGHUP);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=2 workers=3", 5),
	    "%s", daemon_log(&d));
	ck_assert_int_eq(greet(port, "new", 4), 0);
	ck_assert(proc_wait_children(d.d_pid, 3, 5));
	ck_assert_int_eq(tcp_connect("127.0.0.1", old), -1);
}
END_TEST

START_TEST(test_reload_invalid_keeps_serving)
{
	char	 want[256];

	daemon_start(&d, "workers = 2;");
	daemon_write_config(&d, "workers = 2;\nservice = ;\n");
	kill(d.d_pid, SIGHUP);
	snprintf(want, sizeof(want), "reload failed: %s:2: syntax error; "
	    "keeping the running configuration", d.d_conf);
	ck_assert_msg(daemon_log_wait(&d, want, 5), "%s", daemon_log(&d));
	ck_assert_int_eq(greet(d.d_port, "still here", 11), 0);
	ck_assert(proc_wait_children(d.d_pid, 2, 5));
	ck_assert(strstr(daemon_log(&d), "ready generation=2") == NULL);
}
END_TEST

/* Reloads keep the socket: connections made during a burst of HUPs are
 * all served, none refused or reset. */
START_TEST(test_reload_storm)
{
	pid_t	 kids[64];
	int	 failures = 0;

	daemon_start(&d, "workers = 2;");
	for (int i = 0; i < 20; i++) {
		kill(d.d_pid, SIGHUP);
		for (int j = 0; j < 5; j++)
			failures += greet(d.d_port, "during", 7) != 0;
		sleep_ms(20);
	}
	ck_assert_int_eq(failures, 0);
	ck_assert(daemon_log_wait(&d, "keeping 127.0.0.1:", 2));
	/* All old generations gone; the pool is its size. */
	ck_assert_msg(proc_wait_children(d.d_pid, 2, 5), "children=%zu",
	    proc_children(d.d_pid, kids, 64));
}
END_TEST

/* ---- systemd notification ---------------------------------------------- */

static int
notify_socket(const char *dir, char *env, size_t size)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct timeval		 tv = { 5, 0 };
	int			 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir);
	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_DGRAM, 0), -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	snprintf(env, size, "NOTIFY_SOCKET=%s", sun.sun_path);
	return fd;
}

static void
notify_expect(int fd, const char *want)
{
	char	 buf[512];
	ssize_t	 n;

	n = recv(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_msg(n > 0, "no notification, wanted %s", want);
	buf[n] = '\0';
	ck_assert_msg(strncmp(buf, want, strlen(want)) == 0,
	    "got \"%s\", wanted \"%s...\"", buf, want);
}

START_TEST(test_sd_notify)
{
	static char	 env[160];
	const char	*envp[] = { env, NULL };
	char		 dir[] = "/tmp/preforkd-notify.XXXXXX";
	int		 fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	fd = notify_socket(dir, env, sizeof(env));
	daemon_start_args(&d, "workers = 2;", envp);
	notify_expect(fd, "READY=1\nSTATUS=2 workers, greeting service on "
	    "127.0.0.1:");
	kill(d.d_pid, SIGHUP);
	notify_expect(fd, "RELOADING=1\nMONOTONIC_USEC=");
	notify_expect(fd, "READY=1\nSTATUS=");
	kill(d.d_pid, SIGUSR1);
	notify_expect(fd, "STATUS=");
	daemon_stop(&d, SIGTERM, 5);
	notify_expect(fd, "STOPPING=1");
	close(fd);
	snprintf(env, sizeof(env), "%s/notify", dir);
	unlink(env);
	rmdir(dir);
}
END_TEST

Suite *daemon_suite(void);

Suite *
daemon_suite(void)
{
	Suite	*s = suite_create("daemon");
	TCase	*cli = tcase_create("command line");
	TCase	*serve = tcase_create("serving");
	TCase	*peers = tcase_create("peers");
	TCase	*sup = tcase_create("supervision");
	TCase	*rel = tcase_create("reload");

	tcase_add_checked_fixture(cli, NULL, teardown);
	tcase_add_test(cli, test_cli_check_good);
	tcase_add_test(cli, test_cli_check_bad);
	tcase_add_test(cli, test_cli_usage);
	suite_add_tcase(s, cli);

	tcase_add_checked_fixture(serve, NULL, teardown);
	tcase_add_test(serve, test_banner_bytes);
	tcase_add_test(serve, test_message_logged);
	tcase_add_test(serve, test_custom_banner);
	tcase_add_test(serve, test_worker_count);
	tcase_add_test(serve, test_ipv6);
	tcase_add_test(serve, test_two_listeners);
	tcase_add_test(serve, test_echo);
	tcase_set_timeout(serve, 30);
	suite_add_tcase(s, serve);

	tcase_add_checked_fixture(peers, NULL, teardown);
	tcase_add_test(peers, test_client_tool);
	tcase_add_test(peers, test_client_failures);
	tcase_add_test(peers, test_seed_client);
	tcase_add_test(peers, test_seed_server);
	tcase_set_timeout(peers, 30);
	suite_add_tcase(s, peers);

	tcase_add_checked_fixture(sup, NULL, teardown);
	tcase_add_test(sup, test_killed_worker_replaced);
	tcase_add_test(sup, test_term_leaves_nothing);
	tcase_add_test(sup, test_int_fast);
	tcase_add_test(sup, test_master_killed);
	tcase_add_test(sup, test_quit_graceful);
	tcase_add_test(sup, test_shutdown_timeout);
	tcase_add_test(sup, test_stop_race);
	tcase_add_test(sup, test_ttin_ttou);
	tcase_add_test(sup, test_usr1_status);
	tcase_add_test(sup, test_crash_backoff);
	tcase_set_timeout(sup, 60);
	suite_add_tcase(s, sup);

	tcase_add_checked_fixture(rel, NULL, teardown);
	tcase_add_test(rel, test_reload_new_port);
	tcase_add_test(rel, test_reload_invalid_keeps_serving);
	tcase_add_test(rel, test_reload_storm);
	tcase_add_test(rel, test_sd_notify);
	tcase_set_timeout(rel, 60);
	suite_add_tcase(s, rel);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(daemon_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
