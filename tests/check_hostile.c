/* SPDX-License-Identifier: ISC */
/*
 * check_hostile.c - clients that are slow, silent, huge, rude or binary
 * must cost a worker no more than the configured limits, and never the
 * pool.  Against the real daemon.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* Seconds until the server closes on us (EOF or reset). */
static double
seconds_until_closed(int fd, const struct timespec *t0, bool dribble)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	char		 buf[64];

	for (;;) {
		if (poll(&pfd, 1, dribble ? 300 : 10000) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);

			if (n <= 0)
				return clock_diff(*t0, clock_now());
			continue;
		}
		/* One byte every 0.3 s: each read well inside the
		 * timeout, the message never complete. */
		if (dribble && send(fd, "z", 1, MSG_NOSIGNAL) != 1)
			return clock_diff(*t0, clock_now());
		if (clock_diff(*t0, clock_now()) > 10)
			return 99;
	}
}

START_TEST(test_slow_clients_cut_at_deadline)
{
	struct timespec	 t0;
	char		 buf[64];
	int		 silent, dribbler;
	double		 ts, td;

	daemon_start(&d, "workers = 3; timeouts = { read = 1.0; };");
	ck_assert_int_ne(silent = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_ne(dribbler = tcp_connect("127.0.0.1", d.d_port), -1);
	t0 = clock_now();
	ck_assert_int_eq(read_banner(silent, buf, sizeof(buf)),
	    sizeof(BANNER));
	ck_assert_int_eq(read_banner(dribbler, buf, sizeof(buf)),
	    sizeof(BANNER));
	/* Both hold a worker; the third still serves everyone else. */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(greet(d.d_port, "meanwhile", 10), 0);
	td = seconds_until_closed(dribbler, &t0, true);
	ts = seconds_until_closed(silent, &t0, false);
	ck_assert_msg(td > 0.8 && td < 2.0, "dribbler held %.2fs", td);
	ck_assert_msg(ts > 0.8 && ts < 2.0, "silent client held %.2fs", ts);
	ck_assert(daemon_log_wait(&d, "end=timeout msg=\"zz", 2));
	/* Not a word: a client fault, on its small log budget. */
	ck_assert(daemon_log_wait(&d, "no message peer=127.0.0.1:", 2));
	ck_assert(daemon_log_wait(&d, "bytes=0: deadline passed", 2));
	close(silent);
	close(dribbler);
}
END_TEST

/* A 100 MiB message: kept to max_message, the worker's memory flat. */
START_TEST(test_huge_message)
{
	static char	 chunk[1 << 20];
	pid_t		 kids[4];
	long		 before, after;
	char		 buf[64];
	int		 fd;

	daemon_start(&d, "workers = 1; timeouts = { read = 20.0; };");
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 4), 1);
	before = proc_status_long(kids[0], "VmRSS:");
	memset(chunk, 'A', sizeof(chunk));
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(send(fd, chunk, sizeof(chunk), 0),
		    sizeof(chunk));
	ck_assert_int_eq(send(fd, "", 1, 0), 1);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	ck_assert(daemon_log_wait(&d, "bytes=104857600 truncated=yes msg=\""
	    "AAAA", 5));
	after = proc_status_long(kids[0], "VmRSS:");
	ck_assert_msg(after - before < 1024, "RSS grew from %ld to %ld KiB",
	    before, after);
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 4), 1);
	ck_assert_int_eq(greet(d.d_port, "after", 6), 0);
}
END_TEST

/* Every byte value a message can hold reaches the log escaped: the log
 * file holds printable ASCII and line ends only. */
START_TEST(test_all_bytes_logged_escaped)
{
	unsigned char	 msg[256];
	char		 want[1024];
	const char	*log;
	size_t		 n = 0, w = 0;

	daemon_start(&d, "workers = 1; greeting = { max_message = 512; };");
	for (int c = 1; c < 256; c++)
		if (c != '\n')		/* NUL and LF end the message */
			msg[n++] = (unsigned char)c;
	msg[n++] = '\0';
	ck_assert_int_eq(greet(d.d_port, (const char *)msg, n), 0);
	ck_assert(daemon_log_wait(&d, "bytes=254 msg=\"", 5));
	for (size_t i = 0; i + 1 < n; i++) {
		unsigned char c = msg[i];

		if (c == '\r')
			w += (size_t)snprintf(want + w, sizeof(want) - w, "\\r");
		else if (c == '\t')
			w += (size_t)snprintf(want + w, sizeof(want) - w, "\\t");
		else if (c == '\\' || c == '"')
			w += (size_t)snprintf(want + w, sizeof(want) - w,
			    "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			want[w++] = (char)c;
		else
			w += (size_t)snprintf(want + w, sizeof(want) - w,
			    "\\x%02x", c);
		want[w] = '\0';
	}
	log = daemon_log(&d);
	ck_assert_msg(strstr(log, want) != NULL, "want %s in\n%s", want, log);
	for (const char *p = log; *p != '\0'; p++)
		ck_assert_msg(*p == '\n' || (*p >= 0x20 && *p < 0x7f),
		    "raw byte 0x%02x in the log", (unsigned char)*p);
}
END_TEST

/* A forged line: the client's LF ends its message, its CR and the rest
 * are escaped, and no line of the log starts with the forgery. */
START_TEST(test_log_forgery)
{
	const char	 evil[] = "hi\r preforkd[1]: worker exited\x1b[2K\0";
	const char	*log;

	daemon_start(&d, "workers = 1;");
	ck_assert_int_eq(greet(d.d_port, evil, sizeof(evil) - 1), 0);
	ck_assert(daemon_log_wait(&d, "msg=\"hi\\r preforkd[1]: worker "
	    "exited\\x1b[2K\"", 5));
	log = daemon_log(&d);
	ck_assert(strstr(log, "\npreforkd[1]") == NULL);
}
END_TEST

/* Resets before and during the banner cost nothing: same workers, no
 * crash, the next client is served. */
START_TEST(test_resets)
{
	struct linger	 lg = { 1, 0 };
	pid_t		 before[4], after[4];
	char		 buf[8];
	int		 fd;

	daemon_start(&d, "workers = 2;");
	ck_assert(proc_wait_children(d.d_pid, 2, 5));
	ck_assert_uint_eq(proc_children(d.d_pid, before, 4), 2);
	for (int i = 0; i < 300; i++) {
		ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (i % 3 == 1)		/* part of the banner first */
			(void)recv(fd, buf, sizeof(buf), 0);
		if (i % 3 == 2)		/* half a message, then RST */
			(void)send(fd, "par", 3, MSG_NOSIGNAL);
		close(fd);		/* RST */
	}
	ck_assert_int_eq(greet(d.d_port, "after resets", 13), 0);
	ck_assert_uint_eq(proc_children(d.d_pid, after, 4), 2);
	ck_assert((before[0] == after[0] && before[1] == after[1]) ||
	    (before[0] == after[1] && before[1] == after[0]));
	ck_assert(strstr(daemon_log(&d), "worker exited") == NULL);
	/* 300 resets in well under a second: the lines are rate-limited. */
	ck_assert_int_lt(daemon_log_count(&d, "Connection reset by peer") +
	    daemon_log_count(&d, "Broken pipe"), 100);
}
END_TEST

/* The lowest descriptor number pid has free: as its soft RLIMIT_NOFILE,
 * the next descriptor it asks for is refused. */
static rlim_t
lowest_free_fd(pid_t pid)
{
	char		 path[64];
	struct stat	 st;
	rlim_t		 fd;

	for (fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/%ld/fd/%lu", (long)pid,
		    (unsigned long)fd);
		if (lstat(path, &st) == -1)
			break;
	}
	return fd;
}

/* Out of descriptors, a worker pauses accepting instead of spinning, and
 * serves again when descriptors are back. */
START_TEST(test_emfile_no_spin)
{
	struct rlimit	 low, old;
	pid_t		 kids[4];
	long		 ticks;
	char		 buf[64];
	int		 fd;

	daemon_start(&d, "workers = 1;");
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 4), 1);
	/* No free descriptor number left under the limit. */
	ck_assert_int_eq(prlimit(kids[0], RLIMIT_NOFILE, NULL, &old), 0);
	low.rlim_cur = lowest_free_fd(kids[0]);
	low.rlim_max = old.rlim_max;	/* only the soft limit: raising it
					 * back needs no privilege */
	ck_assert_int_eq(prlimit(kids[0], RLIMIT_NOFILE, &low, NULL), 0);
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_msg(daemon_log_wait(&d, "accept (0 more suppressed); "
	    "pausing 100 ms: Too many open files", 5), "%s", daemon_log_tail(&d));
	ticks = proc_cpu_ticks(kids[0]);
	sleep_ms(1000);
	ticks = proc_cpu_ticks(kids[0]) - ticks;
	ck_assert_msg(ticks < 20, "worker used %ld ticks in 1s", ticks);
	ck_assert_msg(prlimit(kids[0], RLIMIT_NOFILE, &old, NULL) == 0,
	    "prlimit: %s; log:\n%s", strerror(errno), daemon_log(&d));
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), sizeof(BANNER));
	close(fd);
}
END_TEST

/* Echo: a 1 GiB stream comes back byte-exact through one 64 KiB buffer;
 * the worker's memory does not grow. */
START_TEST(test_echo_gigabyte)
{
	static unsigned char	 block[1 << 16], in[1 << 16];
	const long long		 total = 1LL << 30;
	long long		 got = 0;
	pid_t			 kids[4], writer;
	long			 before, after;
	int			 fd, status;

	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (unsigned char)(i * 131 + (i >> 8));
	daemon_start(&d, "workers = 1; service = \"echo\";");
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 4), 1);
	before = proc_status_long(kids[0], "VmRSS:");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_ne(writer = fork(), -1);
	if (writer == 0) {
		for (long long sent = 0; sent < total; sent += sizeof(block))
			if (send(fd, block, sizeof(block), 0) !=
			    sizeof(block))
				_exit(1);
		shutdown(fd, SHUT_WR);
		_exit(0);
	}
	while (got < total) {
		ssize_t n = recv(fd, in, sizeof(in), 0);
		size_t off = (size_t)(got % (long long)sizeof(block));

		ck_assert_int_gt(n, 0);
		/* Compare against the pattern at this offset. */
		for (ssize_t i = 0; i < n; i++)
			if (in[i] != block[(off + (size_t)i) % sizeof(block)])
				ck_abort_msg("byte %lld differs", got + i);
		got += n;
	}
	ck_assert_int_eq(recv(fd, in, sizeof(in), 0), 0);
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	after = proc_status_long(kids[0], "VmRSS:");
	ck_assert_msg(after - before < 1024, "RSS grew from %ld to %ld KiB",
	    before, after);
	close(fd);
	ck_assert(daemon_log_wait(&d, "bytes=1073741824 end=eof", 5));
}
END_TEST

/* Echo's idle timeout ends a silent connection. */
START_TEST(test_echo_idle)
{
	struct timespec	 t0;
	char		 buf[8];
	int		 fd;

	daemon_start(&d, "service = \"echo\"; timeouts = { read = 0.5; };");
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", d.d_port), -1);
	ck_assert_int_eq(send(fd, "ping", 4, 0), 4);
	ck_assert_int_eq(recv(fd, buf, 4, MSG_WAITALL), 4);
	t0 = clock_now();
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	ck_assert(clock_diff(t0, clock_now()) > 0.4);
	close(fd);
	ck_assert(daemon_log_wait(&d, "bytes=4 end=timeout", 2));
}
END_TEST

Suite *
hostile_suite(void)
{
	Suite	*s = suite_create("hostile");
	TCase	*tc = tcase_create("clients");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_slow_clients_cut_at_deadline);
	tcase_add_test(tc, test_huge_message);
	tcase_add_test(tc, test_all_bytes_logged_escaped);
	tcase_add_test(tc, test_log_forgery);
	tcase_add_test(tc, test_resets);
	tcase_add_test(tc, test_emfile_no_spin);
	tcase_add_test(tc, test_echo_gigabyte);
	tcase_add_test(tc, test_echo_idle);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
