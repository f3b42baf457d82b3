/*
 * check_upgrade.c - the in-place binary upgrade (SIGUSR2): the daemon
 * runs from a copy in its scratch directory, which the test replaces as a
 * package manager would (a new file renamed over the old one), with the
 * second build of the suite (another version) or with something that is
 * not a daemon at all.  With the pool saturated throughout: no failed
 * connection, the same master PID, the new version running.
 */
#include "autoconf.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"

#define UP_WORKERS	2
#define UP_CLIENTS	8	/* closed-loop: four per worker */

static struct daemon	 d;
static char		 exe[256], loadout[256];
static pid_t		 load;

static void
setup(void)
{
	memset(&d, 0, sizeof(d));
	load = 0;
}

static void
teardown(void)
{
	if (load > 0)
		load_kill(load);
	load = 0;
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

	up_start(NULL, NULL);
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
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
