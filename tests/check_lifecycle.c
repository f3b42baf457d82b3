/* SPDX-License-Identifier: ISC */
/*
 * check_lifecycle.c - supervision, reload, shutdown, systemd
 * notification, privileges and classic mode, against the real daemon.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* ---- supervision --------------------------------------------------------- */

/* The command line of pid as ps shows it: NULs as spaces, trimmed. */
static void
proc_title(pid_t pid, char *buf, size_t size)
{
	char	 path[64];
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	ck_assert_int_ne(fd = open(path, O_RDONLY | O_CLOEXEC), -1);
	n = read(fd, buf, size - 1);
	close(fd);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		buf[--n] = '\0';
}

/* ps tells the master from its workers, and a worker's generation. */
START_TEST(test_process_titles)
{
	pid_t	 kids[8];
	char	 title[512], want[256];
	size_t	 n;

	daemon_start(&d, "workers = 2;");
	ck_assert(proc_wait_children(d.d_pid, 2, 10));
	proc_title(d.d_pid, title, sizeof(title));
	snprintf(want, sizeof(want), "preforkd: master gen=1 -c %s", d.d_conf);
	ck_assert_msg(strcmp(title, want) == 0, "master: \"%s\"", title);
	n = proc_children(d.d_pid, kids, 8);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		proc_title(kids[i], title, sizeof(title));
		ck_assert_msg(strcmp(title, "preforkd: worker gen=1") == 0,
		    "worker: \"%s\"", title);
	}
	kill(d.d_pid, SIGHUP);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=2", 20), "%s",
	    daemon_log_tail(&d));
	proc_title(d.d_pid, title, sizeof(title));
	ck_assert_msg(strstr(title, "preforkd: master gen=2 ") == title,
	    "master: \"%s\"", title);
}
END_TEST

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
	ck_assert_msg(daemon_log_wait(&d, line, 1), "%s", daemon_log_tail(&d));
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
	    "2 workers, greeting service on 127.0.0.1:", 10), "%s",
	    daemon_log_tail(&d));
	/* greet() returned once the server closed: both are counted. */
	ck_assert_msg(daemon_log_wait(&d, "2 connections served", 10), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "state=idle uptime="), 2);
}
END_TEST

/* No core files from the workers this test aborts. */
static void
no_cores(void)
{
	struct rlimit	 none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
}

/*
 * A worker that dies at start-up every time is respawned with growing
 * delays, not in a tight loop: each crash of a respawned worker doubles
 * the delay (the log says so), however slow the machine.  The crash is
 * SIGABRT, which dies at once in both builds: AddressSanitizer catches a
 * SIGSEGV and writes a symbolized report first, which on a loaded machine
 * took the worker past the second of life that makes a death young.
 */
START_TEST(test_crash_backoff)
{
	pid_t		 kids[4], last = 0;
	struct timespec	 t0 = clock_now();
	int		 crashes = 0;

	daemon_pre_exec = no_cores;
	daemon_start(&d, "workers = 1;");
	daemon_pre_exec = NULL;
	while (crashes < 4 && clock_diff(t0, clock_now()) < 30) {
		/* Crash each new worker once, as soon as it shows up. */
		if (proc_children(d.d_pid, kids, 4) == 1 &&
		    kids[0] != last && kill(kids[0], SIGABRT) == 0) {
			last = kids[0];
			crashes++;
		}
		sleep_ms(5);
	}
	ck_assert_msg(crashes == 4, "crashes=%d\n%s", crashes,
	    daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "died young, respawning in 0.1s",
	    10) && daemon_log_wait(&d, "died young, respawning in 0.2s", 10) &&
	    daemon_log_wait(&d, "died young, respawning in 0.4s", 10), "%s",
	    daemon_log_tail(&d));
	/* In that order: the delay doubled each time. */
	ck_assert(strstr(daemon_log(&d), "respawning in 0.1s") <
	    strstr(daemon_log(&d), "respawning in 0.2s"));
	ck_assert(daemon_log_wait(&d, "signal=6 (Aborted)", 1));
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
	    "%s", daemon_log_tail(&d));
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
	ck_assert_msg(daemon_log_wait(&d, want, 5), "%s", daemon_log_tail(&d));
	ck_assert_int_eq(greet(d.d_port, "still here", 11), 0);
	ck_assert(proc_wait_children(d.d_pid, 2, 5));
	ck_assert(strstr(daemon_log(&d), "ready generation=2") == NULL);
}
END_TEST

/*
 * Under continuous load from two clients, 50 reloads in 5 seconds:
 * every connection is served, none refused or reset.
 */
START_TEST(test_reload_storm)
{
	pid_t		 load[2], kids[64];
	int		 status, failures = 0, served = 0, gen;

	daemon_start(&d, "workers = 4;");
	for (int i = 0; i < 2; i++) {
		ck_assert_int_ne(load[i] = fork(), -1);
		if (load[i] == 0) {
			struct timespec	 end = clock_after(clock_now(), 5.5);
			int		 ok = 0, bad = 0;

			while (clock_ms_until(end) > 0)
				greet(d.d_port, "during", 7) == 0 ? ok++ :
				    bad++;
			/* Report as the exit status: failures, then
			 * whether anything was served at all. */
			_exit(bad > 0 ? 1 : ok > 0 ? 0 : 2);
		}
	}
	for (int i = 0; i < 50; i++) {
		kill(d.d_pid, SIGHUP);
		sleep_ms(100);
	}
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(waitpid(load[i], &status, 0), load[i]);
		failures += WEXITSTATUS(status) == 1;
		served += WEXITSTATUS(status) == 0;
	}
	ck_assert_int_eq(failures, 0);
	ck_assert_int_eq(served, 2);
	/* HUPs that arrive together are one reload: assert on the reloads
	 * the daemon logged, never on how many signals were merged. */
	gen = daemon_settled_generation(&d, 30);
	ck_assert_msg(gen >= 2, "%s", daemon_log_tail(&d));
	ck_assert(strstr(daemon_log(&d), "reload failed") == NULL);
	ck_assert(daemon_log_wait(&d, "keeping 127.0.0.1:", 2));
	/* All old generations gone; the pool is its size. */
	ck_assert_msg(proc_wait_children(d.d_pid, 4, 10), "children=%zu",
	    proc_children(d.d_pid, kids, 64));
}
END_TEST

/* A reload cannot bind the new address: the old one keeps serving. */
START_TEST(test_reload_bind_failure)
{
	int	 busy, port;

	daemon_start(&d, "workers = 1;");
	busy = tcp_listener(&port);
	{
		char conf[128];

		snprintf(conf, sizeof(conf), "listen = { address = "
		    "\"127.0.0.1\"; port = %d; };", port);
		daemon_write_config(&d, conf);
	}
	kill(d.d_pid, SIGHUP);
	ck_assert_msg(daemon_log_wait(&d, "reload failed: cannot open the "
	    "listening sockets", 5), "%s", daemon_log_tail(&d));
	ck_assert_int_eq(greet(d.d_port, "old", 4), 0);
	close(busy);
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

static void
notify_expect_skipping_status(int fd, const char *want)
{
	char	 buf[512];
	ssize_t	 n;

	for (int i = 0; i < 20; i++) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		ck_assert_msg(n > 0, "no notification, wanted %s", want);
		buf[n] = '\0';
		if (strncmp(buf, "STATUS=", 7) != 0)
			break;
	}
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
	/* The socket goes to the store before READY=1 (the descriptor
	 * that comes with it is closed unread by recv()). */
	notify_expect(fd, "FDSTORE=1\nFDNAME=listen-127.0.0.1-");
	notify_expect(fd, "READY=1\nSTATUS=2 workers, greeting service on "
	    "127.0.0.1:");
	/* The pool's poolpolicy may say a new STATUS= at any time between. */
	kill(d.d_pid, SIGHUP);
	notify_expect_skipping_status(fd, "RELOADING=1\nMONOTONIC_USEC=");
	notify_expect_skipping_status(fd, "READY=1\nSTATUS=");
	kill(d.d_pid, SIGUSR1);
	notify_expect(fd, "STATUS=");
	daemon_stop(&d, SIGTERM, 5);
	notify_expect_skipping_status(fd, "STOPPING=1");
	close(fd);
	snprintf(env, sizeof(env), "%s/notify", dir);
	unlink(env);
	rmdir(dir);
}
END_TEST


/* ---- socket activation ------------------------------------------------ */

static int	 activation_fd;

/* What systemd does before it starts the service: the socket at fd 3,
 * and LISTEN_PID / LISTEN_FDS naming it. */
static void
pass_socket(void)
{
	char	 pid[16];

	if (dup2(activation_fd, 3) == -1)
		_exit(126);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
}

/* A socket passed by systemd is served; it was bound by someone else, so
 * binding it again would have failed. */
START_TEST(test_socket_activation)
{
	char		 conf[160], want[64];
	int		 port;

	activation_fd = tcp_listener(&port);
	snprintf(conf, sizeof(conf), "workers = 2; listen = ( { address = "
	    "\"127.0.0.1\"; port = %d; }, { address = \"127.0.0.1\"; "
	    "port = 0; } );", port);
	daemon_pre_exec = pass_socket;
	daemon_start(&d, conf);
	daemon_pre_exec = NULL;
	snprintf(want, sizeof(want), "socket from systemd 127.0.0.1:%d", port);
	ck_assert_msg(strstr(daemon_log(&d), want) != NULL, "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(greet(port, "activated", 10), 0);
	/* The second listener, not passed, was bound as usual. */
	ck_assert_int_eq(daemon_log_count(&d, "listening on 127.0.0.1:"), 1);
	/* A reload keeps the passed socket. */
	kill(d.d_pid, SIGHUP);
	ck_assert(daemon_log_wait(&d, "ready generation=2", 5));
	ck_assert_int_eq(greet(port, "still", 6), 0);
	close(activation_fd);
}
END_TEST

/* ---- systemd's file descriptor store ------------------------------------ */

/* The next notification that is not a STATUS= line, and the descriptor
 * that came with it (-1: none). */
static void
notify_next(int fd, char *buf, size_t size, int *passed)
{
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(4 * sizeof(int))];
	}		 ctl;
	struct iovec	 iov;
	struct msghdr	 mh;
	struct cmsghdr	*cm;
	ssize_t		 n;

	for (int i = 0; i < 20; i++) {
		iov = (struct iovec){ buf, size - 1 };
		mh = (struct msghdr){ .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		*passed = -1;
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		ck_assert_msg(n > 0, "no notification");
		buf[n] = '\0';
		ck_assert_int_eq(mh.msg_flags & MSG_CTRUNC, 0);
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm)) {
			ck_assert(cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS);
			ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN(sizeof(int)));
			ck_assert_int_eq(*passed, -1);
			memcpy(passed, CMSG_DATA(cm), sizeof(int));
		}
		if (strncmp(buf, "STATUS=", 7) != 0)
			return;
		if (*passed != -1)
			close(*passed);
	}
	ck_abort_msg("only STATUS= lines");
}

static char	 stored_name[64];

/* What systemd does when it starts the service again: the stored socket
 * at fd 3, named as it was stored. */
static void
pass_stored_socket(void)
{
	char	 pid[16];

	if (dup2(activation_fd, 3) == -1)
		_exit(126);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "1", 1);
	setenv("LISTEN_FDNAMES", stored_name, 1);
}

/*
 * The test plays systemd's file descriptor store: the daemon hands it
 * its listening socket before READY=1; a client that connects once the
 * daemon has stopped waits in that socket's queue, and is served by the
 * next daemon, which takes the socket back from $LISTEN_FDS without
 * storing it again.  A reload that drops the socket takes it out of the
 * store, and the port refuses.
 */
START_TEST(test_fdstore_restart)
{
	static char	 env[160];
	const char	*envp[] = { env, NULL };
	char		 dir[] = "/tmp/preforkd-notify.XXXXXX";
	char		 buf[512], want[128], conf[256];
	struct sockaddr_in sin;
	socklen_t	 len = sizeof(sin);
	int		 nfd, stored, passed, port, client;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	nfd = notify_socket(dir, env, sizeof(env));
	daemon_start_args(&d, "workers = 2;", envp);
	port = d.d_port;
	notify_next(nfd, buf, sizeof(buf), &stored);
	snprintf(stored_name, sizeof(stored_name), "listen-127.0.0.1-%d",
	    port);
	snprintf(want, sizeof(want), "FDSTORE=1\nFDNAME=%s", stored_name);
	ck_assert_str_eq(buf, want);
	ck_assert_int_ne(stored, -1);
	ck_assert_int_eq(getsockname(stored, (struct sockaddr *)&sin, &len),
	    0);
	ck_assert_int_eq(ntohs(sin.sin_port), port);
	notify_next(nfd, buf, sizeof(buf), &passed);
	ck_assert_msg(strncmp(buf, "READY=1", 7) == 0, "%s", buf);
	ck_assert_int_eq(passed, -1);

	/* Stopped: the stored socket still listens, nothing is refused. */
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 10), 0);
	notify_next(nfd, buf, sizeof(buf), &passed);
	ck_assert_str_eq(buf, "STOPPING=1");
	client = tcp_connect("127.0.0.1", port);
	ck_assert_int_ne(client, -1);
	daemon_cleanup(&d);

	activation_fd = stored;
	snprintf(conf, sizeof(conf), "workers = 2; listen = ( { address = "
	    "\"127.0.0.1\"; port = %d; }, { address = \"127.0.0.1\"; "
	    "port = 0; } );", port);
	daemon_pre_exec = pass_stored_socket;
	daemon_start_args(&d, conf, envp);
	daemon_pre_exec = NULL;
	snprintf(want, sizeof(want), "socket from systemd's store "
	    "127.0.0.1:%d", port);
	ck_assert_msg(strstr(daemon_log(&d), want) != NULL, "%s",
	    daemon_log_tail(&d));
	/* The client that came between the two is served. */
	ck_assert_int_eq(read_banner(client, buf, sizeof(buf)),
	    (ssize_t)sizeof(BANNER));
	ck_assert_str_eq(buf, BANNER);
	close(client);
	/* Only the socket it bound goes to the store. */
	notify_next(nfd, buf, sizeof(buf), &passed);
	snprintf(want, sizeof(want), "FDSTORE=1\nFDNAME=listen-127.0.0.1-%d",
	    d.d_port);
	ck_assert_str_eq(buf, want);
	ck_assert_int_ne(passed, -1);
	close(passed);
	notify_next(nfd, buf, sizeof(buf), &passed);
	ck_assert_msg(strncmp(buf, "READY=1", 7) == 0, "%s", buf);

	/* Dropped by a reload: out of the store, and refused. */
	snprintf(conf, sizeof(conf), "workers = 2; listen = { address = "
	    "\"127.0.0.1\"; port = 0; };");
	daemon_write_config(&d, conf);
	kill(d.d_pid, SIGHUP);
	notify_next(nfd, buf, sizeof(buf), &passed);
	ck_assert_msg(strncmp(buf, "RELOADING=1", 11) == 0, "%s", buf);
	notify_next(nfd, buf, sizeof(buf), &passed);
	snprintf(want, sizeof(want), "FDSTOREREMOVE=1\nFDNAME=%s",
	    stored_name);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(passed, -1);
	close(stored);
	ck_assert(daemon_log_wait(&d, "ready generation=2", 5));
	ck_assert_int_eq(tcp_connect("127.0.0.1", port), -1);
	ck_assert_int_eq(greet(d.d_port, "still", 6), 0);
	close(nfd);
	snprintf(buf, sizeof(buf), "%s/notify", dir);
	unlink(buf);
	rmdir(dir);
}
END_TEST

/*
 * A socket in the store that the configuration no longer lists (it was
 * edited between two starts) is taken out of the store and shut down
 * before anything is bound: the store never keeps a socket nobody
 * serves, and its port can be bound again.
 */
START_TEST(test_fdstore_unlisted)
{
	static char	 env[160];
	const char	*envp[] = { env, NULL };
	char		 dir[] = "/tmp/preforkd-notify.XXXXXX";
	char		 buf[512], want[256];
	int		 nfd, passed, port;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	nfd = notify_socket(dir, env, sizeof(env));
	activation_fd = tcp_listener(&port);
	snprintf(stored_name, sizeof(stored_name), "listen-127.0.0.1-%d",
	    port);
	daemon_pre_exec = pass_stored_socket;
	daemon_start_args(&d, "workers = 1;", envp);
	daemon_pre_exec = NULL;
	notify_next(nfd, buf, sizeof(buf), &passed);
	snprintf(want, sizeof(want), "FDSTOREREMOVE=1\nFDNAME=%s",
	    stored_name);
	ck_assert_str_eq(buf, want);
	snprintf(want, sizeof(want), "socket from systemd 127.0.0.1:%d is "
	    "not in %s; not serving it, nor keeping it", port, d.d_conf);
	ck_assert_msg(strstr(daemon_log(&d), want) != NULL, "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(tcp_connect("127.0.0.1", port), -1);
	/* Then its own socket, as always. */
	notify_next(nfd, buf, sizeof(buf), &passed);
	ck_assert_msg(strncmp(buf, "FDSTORE=1\n", 10) == 0, "%s", buf);
	ck_assert_int_ne(passed, -1);
	close(passed);
	close(activation_fd);
	close(nfd);
	snprintf(buf, sizeof(buf), "%s/notify", dir);
	unlink(buf);
	rmdir(dir);
}
END_TEST

/* ---- privileges ---------------------------------------------------------- */

/* A line of /proc/PID/status, e.g. "Uid:", without the key. */
static void
proc_status_field(pid_t pid, const char *key, char *out, size_t size)
{
	char	 path[64], line[256];
	FILE	*fp;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, strlen(key)) == 0) {
			snprintf(out, size, "%s", line + strlen(key) +
			    strspn(line + strlen(key), " \t"));
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	fclose(fp);
}

/* Started as root with a user: workers are that user and group, with no
 * supplementary groups and no capabilities; the master stays root. */
START_TEST(test_privilege_drop)
{
	struct passwd	*pw = getpwnam("nobody");
	pid_t		 kids[8];
	char		 want[64], got[128];
	size_t		 n;

	ck_assert_ptr_nonnull(pw);
	if (geteuid() != 0) {
		daemon_start(&d, "workers = 1; user = \"nobody\";");
		ck_assert(daemon_log_wait(&d, "not started as root: user "
		    "\"nobody\" is ignored", 2));
		return;
	}
	daemon_start(&d, "workers = 2; user = \"nobody\";");
	ck_assert(proc_wait_children(d.d_pid, 2, 5));
	n = proc_children(d.d_pid, kids, 8);
	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%lu\t%lu\t%lu\t%lu",
		    (unsigned long)pw->pw_uid, (unsigned long)pw->pw_uid,
		    (unsigned long)pw->pw_uid, (unsigned long)pw->pw_uid);
		proc_status_field(kids[i], "Uid:", got, sizeof(got));
		ck_assert_str_eq(got, want);
		snprintf(want, sizeof(want), "%lu\t%lu\t%lu\t%lu",
		    (unsigned long)pw->pw_gid, (unsigned long)pw->pw_gid,
		    (unsigned long)pw->pw_gid, (unsigned long)pw->pw_gid);
		proc_status_field(kids[i], "Gid:", got, sizeof(got));
		ck_assert_str_eq(got, want);
		proc_status_field(kids[i], "Groups:", got, sizeof(got));
		ck_assert_str_eq(got, "");
		proc_status_field(kids[i], "CapEff:", got, sizeof(got));
		ck_assert_str_eq(got, "0000000000000000");
		proc_status_field(kids[i], "CapPrm:", got, sizeof(got));
		ck_assert_str_eq(got, "0000000000000000");
	}
	proc_status_field(d.d_pid, "Uid:", got, sizeof(got));
	ck_assert_str_eq(got, "0\t0\t0\t0");
	ck_assert_int_eq(greet(d.d_port, "as nobody", 10), 0);
}
END_TEST

/* Workers that cannot drop privileges (here: setgroups() is denied in a
 * user namespace) exit with the fatal status, and the master stops with
 * 78 instead of respawning them in a loop. */
START_TEST(test_fatal_worker_stops_master)
{
	const char *const prefix[] = { "unshare", "--user", "--map-root-user",
	    NULL };
	int		 status;

	daemon_launch(&d, "workers = 2; user = \"nobody\";", NULL, prefix);
	status = daemon_wait(&d, 10);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG,
	    "status %#x; log:\n%s", status, daemon_log(&d));
	ck_assert_ptr_nonnull(strstr(daemon_log(&d), "setgroups"));
	ck_assert_ptr_nonnull(strstr(daemon_log(&d), "status=78: it cannot "
	    "run with this configuration; stopping"));
	ck_assert_int_le(daemon_log_count(&d, "worker exited pid="), 2);
	/* A reaped worker is never signalled: its pid may be another's. */
	ck_assert_msg(strstr(daemon_log(&d), "No such process") == NULL, "%s",
	    daemon_log(&d));
	ck_assert(daemon_log_wait(&d, "shutting down workers=", 5));
}
END_TEST

/* ---- classic mode: -d, pid file, -s ------------------------------------ */

static pid_t	 classic_pid;

static void
classic_teardown(void)
{
	if (classic_pid > 0)
		kill(classic_pid, SIGKILL);
	classic_pid = 0;
	daemon_cleanup(&d);
}

static int
run_preforkd(const char *conf, const char *a1, const char *a2, char *out,
    size_t size)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c", conf,
	    a1, a2, NULL };

	return run_capture(argv, out, size);
}

/* A configuration with a pid file in the scratch directory; its path
 * goes to pidpath. */
static void
classic_config(const char *extra, int port, char *pidpath, size_t size)
{
	char	 conf[512];

	daemon_write_config(&d, NULL);		/* the scratch directory */
	snprintf(pidpath, size, "%s/preforkd.pid", d.d_dir);
	snprintf(conf, sizeof(conf), "%s\npid_file = \"%s\";\n"
	    "listen = { address = \"127.0.0.1\"; port = %d; };", extra,
	    pidpath, port);
	daemon_write_config(&d, conf);
}

static pid_t
read_pid(const char *path)
{
	FILE	*fp = fopen(path, "r");
	long	 pid = 0;

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	return (pid_t)pid;
}

START_TEST(test_classic_mode)
{
	char		 conf[512], pidpath[128], out[1024];
	pid_t		 before[8], after[8];
	int		 status, port = free_port();
	struct timespec	 t0;

	classic_config("workers = 2;", port, pidpath, sizeof(pidpath));

	status = run_preforkd(d.d_conf, "-d", NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	    out);
	t0 = clock_now();
	while ((classic_pid = read_pid(pidpath)) == 0 ||
	    !proc_wait_children(classic_pid, 2, 0.01))
		ck_assert(clock_diff(t0, clock_now()) < 5);
	for (int i = 0; greet(port, "classic", 8) != 0; i++) {
		ck_assert_int_lt(i, 100);
		sleep_ms(20);
	}

	/* A second instance with the same pid file refuses to start. */
	status = run_preforkd(d.d_conf, "-d", NULL, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_UNAVAILABLE);
	ck_assert_msg(strstr(out, "already running") != NULL, "%s", out);

	status = run_preforkd(d.d_conf, "-s", "status", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(conf, sizeof(conf), "preforkd is running pid=%ld\n",
	    (long)classic_pid);
	ck_assert_str_eq(out, conf);

	/* reload: a new generation of workers replaces the old. */
	ck_assert_uint_eq(proc_children(classic_pid, before, 8), 2);
	status = run_preforkd(d.d_conf, "-s", "reload", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t0 = clock_now();
	for (;;) {
		size_t n = proc_children(classic_pid, after, 8);

		if (n == 2 && after[0] != before[0] && after[0] != before[1] &&
		    after[1] != before[0] && after[1] != before[1])
			break;
		ck_assert(clock_diff(t0, clock_now()) < 5);
		sleep_ms(10);
	}

	status = run_preforkd(d.d_conf, "-s", "stop", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	t0 = clock_now();
	while (proc_alive(classic_pid) || access(pidpath, F_OK) == 0)
		ck_assert_msg(clock_diff(t0, clock_now()) < 5,
		    "still running or pid file left");
	classic_pid = 0;
	status = run_preforkd(d.d_conf, "-s", "status", out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
}
END_TEST

/* -d reports a start-up failure (here: the port is taken) in its exit
 * status, although the failure happens after the fork. */
/*
 * Sockets passed the systemd way to "preforkd -d": they are meant for
 * the process started ($LISTEN_PID), and the daemon that the double fork
 * makes must take them over, not bind the port again (it is taken: the
 * socket is already bound) nor leave them open unserved in every worker.
 */
START_TEST(test_classic_passed_socket)
{
	char	 pidpath[128], pid[16];
	pid_t	 p;
	int	 lfd, status, port;

	ck_assert_int_ne(lfd = tcp_listener(&port), -1);
	classic_config("workers = 1;", port, pidpath, sizeof(pidpath));
	ck_assert_int_ne(p = fork(), -1);
	if (p == 0) {
		if (dup2(lfd, 3) == -1)
			_exit(126);
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		setenv("LISTEN_PID", pid, 1);
		setenv("LISTEN_FDS", "1", 1);
		execl(prog("PREFORKD", "./preforkd"), "preforkd", "-d", "-c",
		    d.d_conf, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(p, &status, 0), p);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	classic_pid = read_pid(pidpath);
	ck_assert_int_gt(classic_pid, 0);
	close(lfd);			/* only the daemon holds it now */
	ck_assert_int_eq(greet(port, "passed", 7), 0);
}
END_TEST

START_TEST(test_classic_start_failure)
{
	char		 pidpath[128], out[1024];
	int		 status, busy, port;

	busy = tcp_listener(&port);
	classic_config("", port, pidpath, sizeof(pidpath));
	status = run_preforkd(d.d_conf, "-d", NULL, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 71,
	    "status %#x: %s", status, out);
	ck_assert_msg(strstr(out, "failed to start (status 71)") != NULL,
	    "%s", out);
	/* Reported after the clean-up: no pid file left behind. */
	ck_assert_int_ne(access(pidpath, F_OK), 0);
	close(busy);
}
END_TEST

Suite *
lifecycle_suite(void)
{
	Suite	*s = suite_create("lifecycle");
	TCase	*sup = tcase_create("supervision");
	TCase	*rel = tcase_create("reload");
	TCase	*priv = tcase_create("privileges");
	TCase	*classic = tcase_create("classic");

	tcase_add_checked_fixture(sup, NULL, teardown);
	tcase_add_test(sup, test_killed_worker_replaced);
	tcase_add_test(sup, test_process_titles);
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
	tcase_add_test(rel, test_reload_bind_failure);
	tcase_add_test(rel, test_sd_notify);
	tcase_add_test(rel, test_socket_activation);
	tcase_add_test(rel, test_fdstore_restart);
	tcase_add_test(rel, test_fdstore_unlisted);
	tcase_set_timeout(rel, 60);
	suite_add_tcase(s, rel);

	tcase_add_checked_fixture(priv, NULL, teardown);
	tcase_add_test(priv, test_privilege_drop);
	tcase_add_test(priv, test_fatal_worker_stops_master);
	tcase_set_timeout(priv, 30);
	suite_add_tcase(s, priv);

	tcase_add_checked_fixture(classic, NULL, classic_teardown);
	tcase_add_test(classic, test_classic_mode);
	tcase_add_test(classic, test_classic_start_failure);
	tcase_add_test(classic, test_classic_passed_socket);
	tcase_set_timeout(classic, 30);
	suite_add_tcase(s, classic);
	return s;
}
