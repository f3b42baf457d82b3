/* SPDX-License-Identifier: ISC */
/*
 * check_local.c - what other local users and the starting environment
 * can do to the daemon: pid files in shared directories and -s, closed
 * or inherited descriptors, a configuration behind a symlink, log lines
 * longer than a log line.  Against the real daemon.
 */
#include "autoconf.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

static struct daemon	 d;
static char		 conftext[512];	/* what daemon_launch() writes */
static char		 pidpath[128];
static int		 port;
static pid_t		 helpers[4];	/* sleepers and lockers */
static size_t		 nhelpers;
static pid_t		 daemonized;	/* a -d daemon, not our child */

static void
local_teardown(void)
{
	for (size_t i = 0; i < nhelpers; i++) {
		kill(helpers[i], SIGKILL);
		waitpid(helpers[i], NULL, 0);
	}
	nhelpers = 0;
	if (daemonized > 0)
		kill(daemonized, SIGKILL);
	daemonized = 0;
	daemon_pre_exec = NULL;
	daemon_cleanup(&d);
}

/* The scratch directory, and a configuration with a pid file in it. */
static void
local_config(void)
{
	daemon_write_config(&d, NULL);
	snprintf(pidpath, sizeof(pidpath), "%s/preforkd.pid", d.d_dir);
	port = free_port();
	snprintf(conftext, sizeof(conftext), "workers = 1;\n"
	    "pid_file = \"%s\";\n"
	    "listen = { address = \"127.0.0.1\"; port = %d; };", pidpath,
	    port);
	daemon_write_config(&d, conftext);
}

/* preforkd -c conf arg1 [arg2]; its stdout and stderr go to out. */
static int
local_run(const char *a1, const char *a2, char *out, size_t size)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c",
	    d.d_conf, a1, a2, NULL };

	return run_capture(argv, out, size);
}

static bool
exited_with(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* A pid file as someone else could leave it: mode, owner and text. */
static void
plant_pidfile(mode_t mode, uid_t uid, const char *text)
{
	int	 fd;

	ck_assert_int_ne(fd = open(pidpath, O_WRONLY | O_CREAT | O_EXCL,
	    0600), -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(fchown(fd, uid, (gid_t)-1), 0);
	close(fd);
}

static void
read_file(const char *path, char *buf, size_t size)
{
	ssize_t	 n;
	int	 fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_ge(n = read(fd, buf, size - 1), 0);
	buf[n] = '\0';
	close(fd);
}

/* The daemon, in the foreground, must refuse the planted pid file and
 * leave it as it was. */
static void
assert_start_refused(const char *why)
{
	char	 before[64], after[64];
	int	 status;

	read_file(pidpath, before, sizeof(before));
	daemon_launch(&d, conftext, NULL, NULL);
	status = daemon_wait(&d, 10);
	ck_assert_msg(exited_with(status, EX_NOPERM), "status %#x; log:\n%s",
	    status, daemon_log_tail(&d));
	ck_assert_msg(strstr(daemon_log(&d), why) != NULL, "%s",
	    daemon_log_tail(&d));
	read_file(pidpath, after, sizeof(after));
	ck_assert_str_eq(after, before);
}

/* ---- pid file ------------------------------------------------------------ */

/* Another user may create the name first in a shared directory; the
 * daemon must not adopt (and later unlink) a file it does not own. */
START_TEST(test_pidfile_other_owner)
{
	struct passwd	*pw = getpwnam("nobody");

	if (geteuid() != 0)
		return;			/* chown needs root */
	ck_assert_ptr_nonnull(pw);
	local_config();
	ck_assert_int_eq(chmod(d.d_dir, 01777), 0);
	plant_pidfile(0644, pw->pw_uid, "1\n");
	assert_start_refused("refusing pid file");
	ck_assert_ptr_nonnull(strstr(daemon_log(&d), "owned by uid"));
}
END_TEST

START_TEST(test_pidfile_world_writable)
{
	local_config();
	plant_pidfile(0666, geteuid(), "1\n");
	assert_start_refused("writable by group or others");
}
END_TEST

/* Guard: the daemon's own stale file (a crash) is still taken over. */
START_TEST(test_pidfile_stale_taken_over)
{
	char	 text[64], want[64];

	local_config();
	plant_pidfile(0644, geteuid(), "1\n");
	daemon_start(&d, conftext);
	read_file(pidpath, text, sizeof(text));
	snprintf(want, sizeof(want), "%ld\n", (long)d.d_pid);
	ck_assert_str_eq(text, want);
}
END_TEST

static pid_t
remember(pid_t pid)
{
	ck_assert_int_ne(pid, -1);
	ck_assert_uint_lt(nhelpers, sizeof(helpers) / sizeof(helpers[0]));
	return helpers[nhelpers++] = pid;
}

/*
 * What -s sends stays pending in a victim that blocks it, where the test
 * sees it at once: no waiting for a death that might come later.  The
 * mask survives exec.
 */
static void
victim_block(void)
{
	sigset_t	 set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGQUIT);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Signals sent to pid and not delivered (ShdPnd in /proc/PID/status). */
static unsigned long long
signals_pending(pid_t pid)
{
	char			 path[64], line[256];
	unsigned long long	 mask = 0;
	FILE			*fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "ShdPnd:", 7) == 0)
			mask = strtoull(line + 7, NULL, 16);
	fclose(fp);
	return mask;
}

/* An unrelated process the test owns: "sleep", until the test ends. */
static pid_t
spawn_victim(void)
{
	pid_t	 pid = remember(fork());

	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		victim_block();
		execlp("sleep", "sleep", "1000", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void
locker_become(uid_t uid)
{
	struct passwd	*pw = getpwuid(uid);

	if (uid == geteuid())
		return;
	if (pw == NULL || setgroups(0, NULL) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(uid) == -1)
		_exit(126);
}

/*
 * A child that, as uid, creates the pid file with pid in it (0: its own),
 * takes its flock() and keeps it: in "sleep" itself when exec is true
 * (the lock goes with the descriptor), else by waiting.  Returns once
 * the lock is held (and "sleep" runs).
 */
static pid_t
spawn_locker(uid_t uid, pid_t pid, bool exec)
{
	char	 byte;
	int	 p[2], fd;
	pid_t	 child;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	if ((child = remember(fork())) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		locker_become(uid);
		if ((fd = open(pidpath, O_RDWR | O_CREAT, 0644)) == -1 ||
		    dprintf(fd, "%ld\n", (long)(pid != 0 ? pid : getpid())) < 0
		    || flock(fd, LOCK_EX) == -1 || write(p[1], "L", 1) != 1)
			_exit(126);
		if (exec) {
			victim_block();
			execlp("sleep", "sleep", "1000", (char *)NULL);
		}
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &byte, 1), 1);
	/* EOF: the write end closed, by exec or by hand. */
	ck_assert_int_eq(read(p[0], &byte, 1), 0);
	close(p[0]);
	return child;
}

/* "-s stop" and "-s status" must refuse, and victim must live. */
static void
assert_control_refused(pid_t victim, const char *why)
{
	char	 out[1024];
	int	 status;

	status = local_run("-s", "stop", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_NOPERM), "status %#x: %s",
	    status, out);
	ck_assert_msg(strstr(out, why) != NULL, "%s", out);
	status = local_run("-s", "status", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_NOPERM), "status %#x: %s",
	    status, out);
	ck_assert_msg(strstr(out, "preforkd is running") == NULL, "%s", out);
	ck_assert_msg(signals_pending(victim) == 0, "-s signalled pid %ld",
	    (long)victim);
	ck_assert(proc_alive(victim));
}

/* A user who can write the directory names a root process in a pid file
 * and holds its lock: root's -s must not signal that process. */
START_TEST(test_stop_file_of_other_user)
{
	struct passwd	*pw = getpwnam("nobody");
	pid_t		 victim;

	if (geteuid() != 0)
		return;			/* another user needs root */
	ck_assert_ptr_nonnull(pw);
	local_config();
	ck_assert_int_eq(chmod(d.d_dir, 01777), 0);
	victim = spawn_victim();
	spawn_locker(pw->pw_uid, victim, false);
	assert_control_refused(victim, "owned by uid");
}
END_TEST

/* Our own file (as a crash or a mistake could leave it) naming a live
 * process that holds the lock itself, but is not preforkd. */
START_TEST(test_stop_pid_not_preforkd)
{
	local_config();
	assert_control_refused(spawn_locker(geteuid(), 0, true),
	    "sleep, not this program");
}
END_TEST

/* Our own file, locked, naming a live process that does not hold it. */
START_TEST(test_stop_pid_not_holder)
{
	pid_t	 victim;

	local_config();
	victim = spawn_victim();
	spawn_locker(geteuid(), victim, false);
	assert_control_refused(victim, "does not hold its lock");
}
END_TEST

/* Guard: an unlocked file naming a live process is stale: no signal. */
START_TEST(test_stop_stale_left_alone)
{
	char	 text[32], out[1024];
	pid_t	 victim;
	int	 status;

	local_config();
	victim = spawn_victim();
	snprintf(text, sizeof(text), "%ld\n", (long)victim);
	plant_pidfile(0644, geteuid(), text);
	status = local_run("-s", "stop", out, sizeof(out));
	ck_assert_msg(exited_with(status, EX_UNAVAILABLE), "%s", out);
	status = local_run("-s", "status", out, sizeof(out));
	ck_assert_msg(exited_with(status, 3), "%s", out);
	ck_assert_int_eq(signals_pending(victim), 0);
}
END_TEST

/* ---- descriptors --------------------------------------------------------- */

/* Run preforkd with the standard descriptors in closed (a bit mask)
 * closed, the others on /dev/null. */
static pid_t
spawn_closed(const char *const *argv, int closed)
{
	pid_t	 pid;
	int	 null;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		null = open("/dev/null", O_RDWR);
		for (int fd = 0; fd < 3; fd++)
			if (closed & (1 << fd))
				close(fd);
			else
				dup2(null, fd);
		close(null);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static pid_t
read_pidfile(void)
{
	char	 text[64];

	if (access(pidpath, F_OK) == -1)
		return 0;
	read_file(pidpath, text, sizeof(text));
	return (pid_t)atol(text);
}

static void
wait_serving(void)
{
	struct timespec	 end = clock_after(clock_now(), 10);

	while (greet(port, "up?", 4) != 0) {
		ck_assert_msg(clock_ms_until(end) > 0, "not serving");
		sleep_ms(20);
	}
}

/* With 0, 1 and 2 closed, the pid file would be opened as one of them and
 * -d's redirection to /dev/null would replace it. */
START_TEST(test_daemon_std_closed)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-d", "-c",
	    NULL, NULL };
	char		 text[64], want[64], out[1024];
	struct timespec	 end;
	int		 status;

	local_config();
	argv[3] = d.d_conf;
	d.d_pid = spawn_closed(argv, 07);
	status = daemon_wait(&d, 10);
	ck_assert_msg(exited_with(status, 0), "status %#x", status);
	ck_assert_int_gt(daemonized = read_pidfile(), 0);
	wait_serving();
	read_file(pidpath, text, sizeof(text));
	snprintf(want, sizeof(want), "%ld\n", (long)daemonized);
	ck_assert_str_eq(text, want);
	status = local_run("-s", "status", out, sizeof(out));
	ck_assert_msg(exited_with(status, 0), "%s", out);
	snprintf(want, sizeof(want), "preforkd is running pid=%ld\n",
	    (long)daemonized);
	ck_assert_str_eq(out, want);
	status = local_run("-s", "stop", out, sizeof(out));
	ck_assert_msg(exited_with(status, 0), "%s", out);
	end = clock_after(clock_now(), 10);
	while (proc_alive(daemonized) || access(pidpath, F_OK) == 0) {
		ck_assert_msg(clock_ms_until(end) > 0, "still running");
		sleep_ms(10);
	}
	daemonized = 0;
}
END_TEST

/* With stderr closed, the pid file would become stderr: log lines. */
START_TEST(test_foreground_stderr_closed)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-f", "-e",
	    "-c", NULL, NULL };
	char		 text[4096], want[64];
	int		 status;

	local_config();
	argv[4] = d.d_conf;
	d.d_pid = spawn_closed(argv, 04);
	wait_serving();			/* logged: listening, the message */
	ck_assert_int_eq(greet(port, "logged", 7), 0);
	read_file(pidpath, text, sizeof(text));
	snprintf(want, sizeof(want), "%ld\n", (long)d.d_pid);
	ck_assert_str_eq(text, want);
	status = daemon_stop(&d, SIGTERM, 10);
	ck_assert_msg(exited_with(status, 0), "status %#x", status);
}
END_TEST

static char	 secret[160];

/* In the daemon's process before exec: a file left open for it, twice. */
static void
leave_secret_open(void)
{
	int	 fd;

	if ((fd = open(secret, O_RDONLY)) == -1 || dup2(fd, 9) == -1)
		_exit(126);
}

/* Whether pid has path open. */
static bool
proc_has_open(pid_t pid, const char *path)
{
	char		 dir[64], link[320], target[512];
	struct dirent	*e;
	DIR		*dp;
	bool		 found = false;
	ssize_t		 n;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	ck_assert_ptr_nonnull(dp = opendir(dir));
	while (!found && (e = readdir(dp)) != NULL) {
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		if ((n = readlink(link, target, sizeof(target) - 1)) <= 0)
			continue;
		target[n] = '\0';
		found = strcmp(target, path) == 0;
	}
	closedir(dp);
	return found;
}

/* A descriptor inherited from the parent must reach neither the master
 * nor the workers, which serve clients (as another user, in production). */
START_TEST(test_inherited_fd_closed)
{
	pid_t	 kids[4];
	size_t	 n;
	int	 fd;

	daemon_write_config(&d, NULL);
	snprintf(secret, sizeof(secret), "%s/secret", d.d_dir);
	ck_assert_int_ne(fd = open(secret, O_WRONLY | O_CREAT, 0600), -1);
	close(fd);
	daemon_pre_exec = leave_secret_open;
	daemon_start(&d, "workers = 2;");
	ck_assert(proc_wait_children(d.d_pid, 2, 10));
	ck_assert_msg(!proc_has_open(d.d_pid, secret), "the master has it");
	n = proc_children(d.d_pid, kids, 4);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(!proc_has_open(kids[i], secret),
		    "worker %ld has it", (long)kids[i]);
	ck_assert_int_eq(greet(d.d_port, "clean", 6), 0);
}
END_TEST

/* ---- configuration behind a symlink -------------------------------------- */

static void
banner_config(const char *banner)
{
	snprintf(conftext, sizeof(conftext), "workers = 1;\n"
	    "greeting = { banner = \"%s\"; };\n"
	    "listen = { address = \"127.0.0.1\"; port = %d; };", banner, port);
}

/* Reload generation gen, wait until the old worker is gone, and expect
 * banner from the next connection. */
static void
reload_expect_banner(int gen, const char *banner)
{
	char	 want[64], buf[64];
	int	 fd;

	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "ready generation=%d", gen);
	ck_assert_msg(daemon_log_wait(&d, want, 10), "%s",
	    daemon_log_tail(&d));
	ck_assert(proc_wait_children(d.d_pid, 1, 10));
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", port), -1);
	read_banner(fd, buf, sizeof(buf));
	close(fd);
	ck_assert_msg(strcmp(buf, banner) == 0, "banner \"%s\", want \"%s\"",
	    buf, banner);
}

/* The operator points the symlink at a new file and reloads: the new file
 * is read, also once the old one is gone. */
START_TEST(test_config_symlink_swapped)
{
	char	 first[160], second[160], next[160];
	FILE	*fp;

	daemon_write_config(&d, NULL);
	port = free_port();
	snprintf(first, sizeof(first), "%s/first.conf", d.d_dir);
	snprintf(second, sizeof(second), "%s/second.conf", d.d_dir);
	snprintf(next, sizeof(next), "%s/next.conf", d.d_dir);
	banner_config("second");
	ck_assert_ptr_nonnull(fp = fopen(second, "w"));
	fprintf(fp, "%s\n", conftext);
	ck_assert_int_eq(fclose(fp), 0);
	/* daemon_start() writes the configuration through the link. */
	ck_assert_int_eq(unlink(d.d_conf), 0);
	ck_assert_int_eq(symlink("first.conf", d.d_conf), 0);
	banner_config("first");
	daemon_start(&d, conftext);

	ck_assert_int_eq(symlink("second.conf", next), 0);
	ck_assert_int_eq(rename(next, d.d_conf), 0);
	reload_expect_banner(2, "second");
	ck_assert_int_eq(unlink(first), 0);
	reload_expect_banner(3, "second");
	ck_assert_ptr_null(strstr(daemon_log(&d), "reload failed"));
}
END_TEST

/* ---- log lines ----------------------------------------------------------- */

/* The whole "message" line once it is written. */
static const char *
message_line(char *line, size_t size)
{
	struct timespec	 end = clock_after(clock_now(), 10);
	const char	*p, *nl;

	for (;;) {
		if ((p = strstr(daemon_log(&d), "message peer=")) != NULL &&
		    (nl = strchr(p, '\n')) != NULL)
			break;
		ck_assert_msg(clock_ms_until(end) > 0, "no message line");
		sleep_ms(10);
	}
	ck_assert_uint_lt((size_t)(nl - p), size);
	memcpy(line, p, (size_t)(nl - p));
	line[nl - p] = '\0';
	return line;
}

/* 20000 bytes that escape to 4 characters each are longer than a log
 * line: the message is cut at a whole escape, said so, quote closed. */
START_TEST(test_long_message_whole_escapes)
{
	static char	 msg[20001], line[65536];
	const char	*q;
	size_t		 len;

	memset(msg, 0x01, sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	daemon_start(&d, "workers = 1; greeting = { max_message = 65536; };");
	ck_assert_int_eq(greet(d.d_port, msg, sizeof(msg)), 0);
	message_line(line, sizeof(line));
	ck_assert_msg(strstr(line, " bytes=20000 truncated=yes msg=\"") !=
	    NULL, "%.200s", line);
	q = strstr(line, "msg=\"") + 5;
	len = strlen(q);
	ck_assert_msg(len >= 1 && q[len - 1] == '"', "not closed: ...%s",
	    line + strlen(line) - 40);
	len--;
	ck_assert_uint_gt(len, 0);
	ck_assert_uint_eq(len % 4, 0);
	for (size_t i = 0; i < len; i += 4)
		ck_assert_msg(strncmp(q + i, "\\x01", 4) == 0,
		    "cut escape at %zu", i);
}
END_TEST

Suite *
local_suite(void)
{
	Suite	*s = suite_create("local");
	TCase	*pid = tcase_create("pid file");
	TCase	*fds = tcase_create("descriptors");
	TCase	*conf = tcase_create("configuration");
	TCase	*log = tcase_create("log lines");

	tcase_add_checked_fixture(pid, NULL, local_teardown);
	tcase_add_test(pid, test_pidfile_other_owner);
	tcase_add_test(pid, test_pidfile_world_writable);
	tcase_add_test(pid, test_pidfile_stale_taken_over);
	tcase_add_test(pid, test_stop_file_of_other_user);
	tcase_add_test(pid, test_stop_pid_not_preforkd);
	tcase_add_test(pid, test_stop_pid_not_holder);
	tcase_add_test(pid, test_stop_stale_left_alone);
	tcase_set_timeout(pid, 30);
	suite_add_tcase(s, pid);

	tcase_add_checked_fixture(fds, NULL, local_teardown);
	tcase_add_test(fds, test_daemon_std_closed);
	tcase_add_test(fds, test_foreground_stderr_closed);
	tcase_add_test(fds, test_inherited_fd_closed);
	tcase_set_timeout(fds, 30);
	suite_add_tcase(s, fds);

	tcase_add_checked_fixture(conf, NULL, local_teardown);
	tcase_add_test(conf, test_config_symlink_swapped);
	tcase_set_timeout(conf, 30);
	suite_add_tcase(s, conf);

	tcase_add_checked_fixture(log, NULL, local_teardown);
	tcase_add_test(log, test_long_message_whole_escapes);
	tcase_set_timeout(log, 30);
	suite_add_tcase(s, log);
	return s;
}
