/* SPDX-License-Identifier: ISC */
/*
 * check_reliability.c - the failures pre-fork servers are known for, on
 * purpose: workers killed under load, reload storms, fork() refused,
 * connection floods past the backlog, and the real syslog path.
 */
#include "autoconf.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

static struct daemon	 d;

static void
teardown(void)
{
	daemon_cleanup(&d);
}

static size_t
proc_count_fds(pid_t pid)
{
	char		 path[64];
	DIR		*dir;
	size_t		 n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	ck_assert_ptr_nonnull(dir = opendir(path));
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n - 2;
}

/* Zombie children of pid: reaped late or never. */
static int
proc_zombies(pid_t pid)
{
	DIR		*dir = opendir("/proc");
	struct dirent	*e;
	int		 n = 0;

	while ((e = readdir(dir)) != NULL) {
		char	 path[300], buf[512], *p, state;
		int	 ppid;
		FILE	*fp;

		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), fp) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%c %d", &state, &ppid) == 2 &&
		    ppid == pid && state == 'Z')
			n++;
		fclose(fp);
	}
	closedir(dir);
	return n;
}

/*
 * 32 clients; a random worker SIGKILLed every 50 ms for 5 s.  Only the
 * connections in flight may fail; the pool returns to its size.  Then 50
 * HUPs in 5 s: nothing fails.  After both, the master holds the same
 * descriptors and memory, and no zombie.
 */
START_TEST(test_chaos_under_load)
{
	char		 out[256];
	pid_t		 kids[64], load;
	long		 ok, errors, rss0, rss1;
	size_t		 fds0, fds1, n;
	int		 kills = 0;
	struct timespec	 end;

	daemon_start(&d, "workers = 4;");
	ck_assert(proc_wait_children(d.d_pid, 4, 5));
	fds0 = proc_count_fds(d.d_pid);
	rss0 = proc_status_long(d.d_pid, "VmRSS:");
	snprintf(out, sizeof(out), "%s/load.out", d.d_dir);

	load = load_start(d.d_port, 32, 5.5, out);
	srandom(42);
	end = clock_after(clock_now(), 5.0);
	while (clock_ms_until(end) > 0) {
		if ((n = proc_children(d.d_pid, kids, 64)) > 0 &&
		    kill(kids[random() % (long)(n < 64 ? n : 64)], SIGKILL) == 0)
			kills++;
		sleep_ms(50);
	}
	load_wait(load, out, &ok, &errors);
	ck_assert_msg(errors <= kills, "%ld failed connections, %d kills",
	    errors, kills);
	ck_assert_int_gt(ok, 1000);
	ck_assert(proc_wait_children(d.d_pid, 4, 5));

	load = load_start(d.d_port, 32, 5.5, out);
	for (int i = 0; i < 50; i++) {
		kill(d.d_pid, SIGHUP);
		sleep_ms(100);
	}
	load_wait(load, out, &ok, &errors);
	ck_assert_msg(errors == 0, "%ld connections failed during reloads",
	    errors);
	ck_assert_int_gt(ok, 1000);
	ck_assert(proc_wait_children(d.d_pid, 4, 10));

	/* The last HUPs' reload may still be under way (its check's pipe,
	 * its gate): the count must come back once it is done. */
	end = clock_after(clock_now(), 20.0);
	while ((fds1 = proc_count_fds(d.d_pid)) != fds0 &&
	    clock_ms_until(end) > 0)
		sleep_ms(50);
	rss1 = proc_status_long(d.d_pid, "VmRSS:");
	ck_assert_msg(fds1 == fds0, "master fds %zu -> %zu", fds0, fds1);
#ifndef __SANITIZE_ADDRESS__
	/* (AddressSanitizer's quarantine and shadow make RSS meaningless.) */
	ck_assert_msg(rss1 - rss0 < 256, "master RSS %ld -> %ld KiB", rss0,
	    rss1);
#else
	(void)rss0;
	(void)rss1;
#endif
	ck_assert_int_eq(proc_zombies(d.d_pid), 0);
}
END_TEST

/*
 * fork() refused: the daemon runs as a spare uid with RLIMIT_NPROC = 4, and
 * a placeholder process of that user (a "sleep" it inherits as a child)
 * takes one of the four, so the third worker cannot be forked.  That is
 * logged and retried with growing delays, without spinning; once the
 * placeholder ends, the pool fills up.
 */
static void
as_spare_uid_with_nproc_4(void)
{
	struct rlimit	 rl = { 4, 4 };
	uid_t		 uid = 60999;

	/* A uid of its own, not "nobody": the limit counts every process
	 * of the uid on the machine, and other tests (or other suites run
	 * meanwhile) may have some as nobody. */
	while (getpwuid(uid) != NULL && uid > 60000)
		uid--;
	if (setgroups(0, NULL) == -1 || setgid((gid_t)uid) == -1 ||
	    setuid(uid) == -1 || setrlimit(RLIMIT_NPROC, &rl) == -1)
		_exit(126);
	if (fork() == 0) {
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(127);
	}
}

START_TEST(test_fork_failure_backoff)
{
	pid_t	 kids[8];
	long	 ticks;
	size_t	 n;
	char	 path[64], comm[32];

	if (geteuid() != 0)
		return;		/* needs to become another user */
	/* The build may sit where that uid cannot enter: run a copy. */
	setenv("PREFORKD", daemon_copy_program(&d, "PREFORKD", "./preforkd"),
	    1);
	daemon_pre_exec = as_spare_uid_with_nproc_4;
	daemon_launch(&d, "workers = 3;", NULL, NULL);
	daemon_pre_exec = NULL;
	ck_assert_msg(daemon_log_wait(&d, "fork: Resource temporarily "
	    "unavailable", 10), "%s", daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, "cannot start a worker; retrying in "
	    "0.2s", 5));
	/* Not spinning: the master sleeps between attempts. */
	ticks = proc_cpu_ticks(d.d_pid);
	sleep_ms(1000);
	ticks = proc_cpu_ticks(d.d_pid) - ticks;
	ck_assert_msg(ticks < 10, "master used %ld ticks in 1s", ticks);
	ck_assert(strstr(daemon_log(&d), "ready generation=1") == NULL);
	/* End the placeholder: fork() works again and the pool fills. */
	n = proc_children(d.d_pid, kids, 8);
	for (size_t i = 0; i < n; i++) {
		FILE *fp;

		snprintf(path, sizeof(path), "/proc/%ld/comm", (long)kids[i]);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), fp) != NULL &&
		    strcmp(comm, "sleep\n") == 0)
			kill(kids[i], SIGKILL);
		fclose(fp);
	}
	ck_assert_msg(daemon_log_wait(&d, "ready generation=1 workers=3", 15),
	    "%s", daemon_log_tail(&d));
}
END_TEST

/* 5000 connections at once, far past a backlog of 16: nothing crashes,
 * and the server serves again once the flood is gone. */
START_TEST(test_connection_flood)
{
	struct rlimit	 rl;
	pid_t		 before[4], after[4];
	static int	 fds[5000];
	struct sockaddr_in sin = { .sin_family = AF_INET };

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 5100)
		return;
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	daemon_start(&d, "workers = 2;\n"
	    "listen = { address = \"127.0.0.1\"; port = 0; backlog = 16; };");
	ck_assert_uint_eq(proc_children(d.d_pid, before, 4), 2);
	sin.sin_port = htons((uint16_t)d.d_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 5000; i++) {
		ck_assert_int_ne(fds[i] = socket(AF_INET, SOCK_STREAM |
		    SOCK_NONBLOCK, 0), -1);
		(void)connect(fds[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	sleep_ms(500);
	for (int i = 0; i < 5000; i++)
		close(fds[i]);
	ck_assert_uint_eq(proc_children(d.d_pid, after, 4), 2);
	ck_assert(before[0] == after[0] && before[1] == after[1]);
	for (int i = 0; greet(d.d_port, "after the flood", 16) != 0; i++) {
		ck_assert_msg(i < 100, "not serving after the flood");
		sleep_ms(50);
	}
	ck_assert(strstr(daemon_log(&d), "worker exited") == NULL);
}
END_TEST

/*
 * The real syslog path: preforkd without -e, in a mount namespace where
 * /dev/log is a datagram socket of this test (daemon_launch_syslog()).
 * Each line arrives with the configured facility and priority, the
 * ident, the pid of the process that logged it, and client bytes
 * escaped.
 */
static int
syslog_recv(int fd, char *buf, size_t size, const char *needle)
{
	struct timespec	 end = clock_after(clock_now(), 10);
	ssize_t		 n;

	while (clock_ms_until(end) > 0) {
		if ((n = recv(fd, buf, size - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			ck_assert_msg(buf[i] >= 0x20 && buf[i] < 0x7f,
			    "raw byte 0x%02x in a syslog line",
			    (unsigned char)buf[i]);
		if (strstr(buf, needle) != NULL)
			return 0;
	}
	return -1;
}

START_TEST(test_syslog_delivery)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval	 tv = { 1, 0 };
	char		 buf[2048], want[128], *p;
	pid_t		 kids[4];
	int		 fd, port;

	if (geteuid() != 0)
		return;		/* mount namespaces need root */
	daemon_write_config(&d, NULL);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/log", d.d_dir);
	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_DGRAM, 0), -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	daemon_launch_syslog(&d, "workers = 1;\n"
	    "log = { facility = \"local3\"; level = \"info\"; };");
	/* local3 (19) * 8 + notice (5) = 157; the master says where. */
	snprintf(want, sizeof(want), " preforkd[%ld]: listening on 127.0.0.1:",
	    (long)d.d_pid);
	ck_assert_msg(syslog_recv(fd, buf, sizeof(buf), want) == 0,
	    "no \"%s\"; stderr:\n%s", want, daemon_log_tail(&d));
	ck_assert_msg(strncmp(buf, "<157>", 5) == 0, "%s", buf);
	port = atoi(strrchr(buf, ':') + 1);
	ck_assert(syslog_recv(fd, buf, sizeof(buf), "ready generation=1") ==
	    0);
	ck_assert_int_eq(greet(port, "evil\x1b[31m\r\nX", 13), 0);
	ck_assert_uint_eq(proc_children(d.d_pid, kids, 4), 1);
	snprintf(want, sizeof(want), " preforkd[%ld]: message peer=127.0.0.1:",
	    (long)kids[0]);
	ck_assert(syslog_recv(fd, buf, sizeof(buf), want) == 0);
	/* A connection's line: info (6), 158. */
	ck_assert_msg(strncmp(buf, "<158>", 5) == 0, "%s", buf);
	ck_assert_ptr_nonnull(p = strstr(buf, "msg=\""));
	ck_assert_str_eq(p, "msg=\"evil\\x1b[31m\"");
	/* Nothing went to stderr: syslog only, never both. */
	ck_assert_str_eq(daemon_log(&d), "");
	daemon_stop(&d, SIGTERM, 5);
	close(fd);
}
END_TEST

Suite *
reliability_suite(void)
{
	Suite	*s = suite_create("reliability");
	TCase	*tc = tcase_create("faults");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_chaos_under_load);
	tcase_add_test(tc, test_fork_failure_backoff);
	tcase_add_test(tc, test_connection_flood);
	tcase_add_test(tc, test_syslog_delivery);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
