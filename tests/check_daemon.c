/* SPDX-License-Identifier: ISC */
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
	    "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_wait(&d, "bytes=11 msg=\"hello\\tworld\"", 5),
	    "%s", daemon_log_tail(&d));
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
	int		 status, lfd, silent_port;

	snprintf(port, sizeof(port), "%d", free_port());
	refused[2] = port;
	status = run_capture(refused, out, sizeof(out));
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == EX_UNAVAILABLE);
	ck_assert_msg(strstr(out, "Connection refused") != NULL, "%s", out);

	/* A server that accepts but never speaks. */
	lfd = tcp_listener(&silent_port);
	snprintf(port, sizeof(port), "%d", silent_port);
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
	    "Service.\"", 5), "%s", daemon_log_tail(&d));
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

Suite *
serving_suite(void)
{
	Suite	*s = suite_create("serving");
	TCase	*cli = tcase_create("command line");
	TCase	*serve = tcase_create("serving");
	TCase	*peers = tcase_create("peers");

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

	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(serving_suite());
	int	 failed;

	srunner_add_suite(sr, lifecycle_suite());
	srunner_add_suite(sr, hostile_suite());
	srunner_add_suite(sr, reliability_suite());
	srunner_add_suite(sr, saturation_suite());
	srunner_add_suite(sr, local_suite());
	srunner_add_suite(sr, files_suite());
	srunner_add_suite(sr, pool_suite());
	srunner_add_suite(sr, control_suite());
	srunner_add_suite(sr, balancer_suite());
	srunner_add_suite(sr, upgrade_suite());
	srunner_add_suite(sr, modules_suite());
	srunner_add_suite(sr, logging_suite());
	srunner_add_suite(sr, board_suite());
	srunner_add_suite(sr, scrape_suite());
	srunner_add_suite(sr, tls_suite());
	daemon_watch_init();
	srunner_run_all(sr, CK_NORMAL);
	daemon_watch_report();
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
