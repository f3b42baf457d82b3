/* SPDX-License-Identifier: ISC */
/*
 * check_modules.c - a service module in the real daemon: it serves, its
 * configuration reloads, and a reload to a module that cannot be loaded
 * is refused while the running generation keeps serving.  The modules
 * are tests/modules/testmod.c (good.so, abi.so), copied into the
 * daemon's own directory, which is its module_dir.
 */
#include "autoconf.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"

static struct daemon	 d;

static void
teardown(void)
{
	daemon_cleanup(&d);
}

/* good.so and abi.so in d_dir: "module_dir = d_dir;" and extra. */
static const char *
modules_config(const char *extra)
{
	static char	 conf[1024];

	snprintf(conf, sizeof(conf), "module_dir = \"%s\";\nworkers = 2;\n%s",
	    d.d_dir, extra);
	return conf;
}

static void
modules_install(void)
{
	const char	*dir = prog("TEST_MODULES", "tests");
	char		 good[256], abi[256];

	snprintf(good, sizeof(good), "%s/good.so", dir);
	snprintf(abi, sizeof(abi), "%s/abi.so", dir);
	setenv("TEST_MODULE_GOOD", good, 1);
	setenv("TEST_MODULE_ABI", abi, 1);
	daemon_copy_program(&d, "TEST_MODULE_GOOD", good);
	daemon_copy_program(&d, "TEST_MODULE_ABI", abi);
}

/* One line to the module, its whole answer back. */
static void
modules_ask(int port, const char *line, char *out, size_t size)
{
	ssize_t	 n;
	int	 fd;

	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", port), -1);
	ck_assert_int_eq(send(fd, line, strlen(line), MSG_NOSIGNAL),
	    (ssize_t)strlen(line));
	n = read_all(fd, out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
}

START_TEST(test_module_serves)
{
	char	 got[256];

	modules_install();
	daemon_start(&d, modules_config("service = \"good\";\n"
	    "good = { word = \"yo\"; repeat = 2; };\n"));
	modules_ask(d.d_port, "ping\n", got, sizeof(got));
	ck_assert_str_eq(got, "yo: ping\nyo: ping\n");
	ck_assert_msg(daemon_log_wait(&d, "good served peer=127.0.0.1:", 5),
	    "%s", daemon_log_tail(&d));
	ck_assert(strstr(daemon_log(&d), "service=good") != NULL);
}
END_TEST

START_TEST(test_module_reload)
{
	char	 got[256], want[512];

	modules_install();
	daemon_start(&d, modules_config("service = \"good\";\n"));
	modules_ask(d.d_port, "one\n", got, sizeof(got));
	ck_assert_str_eq(got, "hi: one\n");

	/* A module of another ABI: refused, FILE:LINE, still serving. */
	daemon_write_config(&d, modules_config("service = \"abi\";\n"));
	kill(d.d_pid, SIGHUP);
	snprintf(want, sizeof(want), "reload failed: %s:3: service \"abi\": "
	    "%s/abi.so is built for service ABI 999", d.d_conf, d.d_dir);
	ck_assert_msg(daemon_log_wait(&d, want, 5), "%s",
	    daemon_log_tail(&d));
	modules_ask(d.d_port, "two\n", got, sizeof(got));
	ck_assert_str_eq(got, "hi: two\n");

	/* The module refusing its configuration: the same. */
	daemon_write_config(&d, modules_config("service = \"good\";\n"
	    "good = {\n  word = \"bad\";\n};\n"));
	kill(d.d_pid, SIGHUP);
	snprintf(want, sizeof(want), "reload failed: %s:5: good.word must not "
	    "be \"bad\"", d.d_conf);
	ck_assert_msg(daemon_log_wait(&d, want, 5), "%s",
	    daemon_log_tail(&d));
	modules_ask(d.d_port, "three\n", got, sizeof(got));
	ck_assert_str_eq(got, "hi: three\n");
	ck_assert(strstr(daemon_log(&d), "ready generation=2") == NULL);

	/* A good one: the new generation serves the new configuration. */
	daemon_write_config(&d, modules_config("service = \"good\";\n"
	    "good = { word = \"new\"; };\n"));
	kill(d.d_pid, SIGHUP);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=2", 5), "%s",
	    daemon_log_tail(&d));
	modules_ask(d.d_port, "four\n", got, sizeof(got));
	ck_assert_str_eq(got, "new: four\n");

	/* And back to a built-in service. */
	daemon_write_config(&d, modules_config(""));
	kill(d.d_pid, SIGHUP);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=3", 5), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(greet(d.d_port, "hello", 6), 0);
}
END_TEST

/*
 * A module's configure hook that crashes, exits or hangs runs in the
 * checker child, never in the master: the reload fails with the cause,
 * the running generation serves on, and the daemon still stops cleanly.
 */
static const struct {
	const char	*kind;
	const char	*cause;
} evil_hooks[] = {
	{ "segv", "the configuration check was killed by signal 11" },
	{ "exit0", "the configuration check exited with status 0 before it "
	    "answered" },
	{ "exit78", "the configuration check exited with status 78 before it "
	    "answered" },
	{ "hang", "the configuration check gave no answer in 10s" },
};

START_TEST(test_module_hook_misbehaves)
{
	char	 conf[512], got[256], want[256];

	modules_install();
	daemon_start(&d, modules_config("service = \"good\";\n"));
	snprintf(conf, sizeof(conf), "service = \"good\";\ngood = { evil = "
	    "\"%s\"; };\n", evil_hooks[_i].kind);
	daemon_write_config(&d, modules_config(conf));
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	snprintf(want, sizeof(want), "reload failed: %s", evil_hooks[_i].cause);
	ck_assert_msg(daemon_log_wait(&d, want, 25), "no \"%s\":\n%s", want,
	    daemon_log_tail(&d));
	ck_assert(proc_alive(d.d_pid));
	modules_ask(d.d_port, "still\n", got, sizeof(got));
	ck_assert_msg(strcmp(got, "hi: still\n") == 0, "got \"%s\":\n%s", got,
	    daemon_log_tail(&d));
	/* And it still reloads, and stops. */
	daemon_write_config(&d, modules_config("service = \"good\";\n"
	    "good = { word = \"after\"; };\n"));
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=2", 20), "%s",
	    daemon_log_tail(&d));
	modules_ask(d.d_port, "x\n", got, sizeof(got));
	ck_assert_str_eq(got, "after: x\n");
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
}
END_TEST

/*
 * A hook that leaves a process of its own behind (in its own session,
 * out of the check's process group, holding the check's descriptors):
 * the check is over when the check child is, the reload goes through at
 * once, and that process holds nothing of the master's.
 */
START_TEST(test_module_hook_leaves_a_process)
{
	char	 got[256];

	modules_install();
	daemon_start(&d, modules_config("service = \"good\";\n"));
	daemon_write_config(&d, modules_config("service = \"good\";\n"
	    "good = { word = \"kept\"; evil = \"daemon\"; };\n"));
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	/* Well before the process left behind ends (30 s), or the check's
	 * deadline (10 s) would have been what ended it. */
	ck_assert_msg(daemon_log_wait(&d, "ready generation=2", 8), "%s",
	    daemon_log_tail(&d));
	modules_ask(d.d_port, "x\n", got, sizeof(got));
	ck_assert_str_eq(got, "kept: x\n");
	/* The master stops at once: nothing it waits for is held. */
	ck_assert_int_eq(daemon_stop(&d, SIGTERM, 20), 0);
	ck_assert_int_eq(tcp_connect("127.0.0.1", d.d_port), -1);
}
END_TEST

/* -t: a hook that exits or crashes fails the check with the cause. */
START_TEST(test_module_hook_check_only)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-t", "-c",
	    NULL, NULL };
	char		 conf[512], out[2048];
	int		 status;

	if (strcmp(evil_hooks[_i].kind, "hang") == 0)
		return;		/* ten seconds for the same code path */
	modules_install();
	snprintf(conf, sizeof(conf), "service = \"good\";\ngood = { evil = "
	    "\"%s\"; };\n", evil_hooks[_i].kind);
	daemon_write_config(&d, modules_config(conf));
	argv[3] = d.d_conf;
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 78,
	    "status %#x: %s", status, out);
	ck_assert_msg(strstr(out, evil_hooks[_i].cause) != NULL, "%s", out);
	ck_assert(strstr(out, "test is successful") == NULL);
}
END_TEST

/* -t reports a module's error as any other: FILE:LINE, exit 78. */
START_TEST(test_module_check_only)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-t", "-c",
	    NULL, NULL };
	char		 out[2048], want[512];
	int		 status;

	modules_install();
	daemon_write_config(&d, modules_config("service = \"good\";\n"
	    "good = {\n  repeat = 6;\n};\n"));
	argv[3] = d.d_conf;
	status = run_capture(argv, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 78);
	snprintf(want, sizeof(want), "%s:5: good.repeat = 6 is out of range "
	    "(1..5)", d.d_conf);
	ck_assert_msg(strstr(out, want) != NULL, "%s", out);
}
END_TEST

Suite *
modules_suite(void)
{
	Suite	*s = suite_create("modules");
	TCase	*tc = tcase_create("modules");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_module_serves);
	tcase_add_test(tc, test_module_reload);
	tcase_add_test(tc, test_module_check_only);
	tcase_add_loop_test(tc, test_module_hook_misbehaves, 0,
	    (int)(sizeof(evil_hooks) / sizeof(evil_hooks[0])));
	tcase_add_test(tc, test_module_hook_leaves_a_process);
	tcase_add_loop_test(tc, test_module_hook_check_only, 0,
	    (int)(sizeof(evil_hooks) / sizeof(evil_hooks[0])));
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
