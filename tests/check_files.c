/* SPDX-License-Identifier: ISC */
/*
 * check_files.c - configuration files that are no files: a directory or
 * a FIFO, as the file itself or @included, and listeners that can never
 * be bound.  The master must survive each on reload and keep serving
 * the old configuration; -t must answer 78 with FILE:LINE, never hang.
 */
#include "autoconf.h"

#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon.h"

/* Bounds for a hang, never expected durations: a loaded machine takes
 * its time, a hung master takes for ever. */
#define FILES_WAIT	20.0
#define FILES_TIMEOUT	"20"

static struct daemon	 d;

static void
teardown(void)
{
	daemon_cleanup(&d);
}

/* name in the daemon's scratch directory (static storage). */
static const char *
files_path(const char *name)
{
	static char	 path[192];

	snprintf(path, sizeof(path), "%s/%s", d.d_dir, name);
	return path;
}

/* What a configuration file can be instead of a file. */
static const struct files_kind {
	const char	*fk_what;	/* as the error names it */
	bool		 fk_dir;	/* a directory, else a FIFO */
} files_kinds[] = {
	{ "a directory", true },
	{ "a FIFO", false },
};

static void
files_make(const char *path, const struct files_kind *fk)
{
	if (fk->fk_dir)
		ck_assert_int_eq(mkdir(path, 0755), 0);
	else
		ck_assert_int_eq(mkfifo(path, 0644), 0);
}

/*
 * HUP after the configuration changed: the master logs want, keeps
 * serving the old configuration, and still stops on TERM.
 */
static void
files_reload_refused(const char *want)
{
	int	 status;

	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, want, FILES_WAIT),
	    "no \"%s\" in the log:\n%s", want, daemon_log_tail(&d));
	ck_assert(proc_alive(d.d_pid));
	ck_assert_int_eq(greet(d.d_port, "still here", sizeof("still here")),
	    0);
	ck_assert(strstr(daemon_log(&d), "ready generation=2") == NULL);
	status = daemon_stop(&d, SIGTERM, FILES_WAIT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %d; log:\n%s", status, daemon_log_tail(&d));
}

/*
 * _i / 2 picks the kind; odd: it replaces the configuration file, even:
 * the file @includes it.  libconfig's scanner would exit(2) on a
 * directory, and open() of a FIFO that nobody writes would block the
 * master for ever.
 */
START_TEST(test_reload_not_a_file)
{
	const struct files_kind	*fk = &files_kinds[_i / 2];
	char			 want[512];

	daemon_start(&d, "workers = 2;");
	if (_i % 2 == 1) {
		ck_assert_int_eq(unlink(d.d_conf), 0);
		files_make(d.d_conf, fk);
		snprintf(want, sizeof(want), "%s: is %s, not a regular file",
		    d.d_conf, fk->fk_what);
	} else {
		files_make(files_path("x"), fk);
		daemon_write_config(&d, "workers = 2;\n\n@include \"x\"");
		snprintf(want, sizeof(want), "%s:3: @include \"x\": %s: is %s, "
		    "not a regular file", d.d_conf, files_path("x"),
		    fk->fk_what);
	}
	files_reload_refused(want);
}
END_TEST

/* Listeners that can never all be bound are refused before any bind. */
START_TEST(test_reload_overlap)
{
	char	 conf[256], want[512];

	daemon_start(&d, "workers = 2;");
	snprintf(conf, sizeof(conf), "workers = 2;\nlisten = (\n"
	    "  { address = \"127.0.0.1\"; port = %d; },\n"
	    "  { address = \"0.0.0.0\"; port = %d; } );", d.d_port, d.d_port);
	daemon_write_config(&d, conf);
	snprintf(want, sizeof(want), "%s:4: listen 0.0.0.0 port %d overlaps "
	    "127.0.0.1 port %d at %s:3", d.d_conf, d.d_port, d.d_port,
	    d.d_conf);
	files_reload_refused(want);
}
END_TEST

/*
 * preforkd -t under a watchdog: a hang fails the test instead of
 * blocking it.  Returns the wait status of preforkd, out its output.
 */
static int
files_check(const char *conf, char *out, size_t size)
{
	const char	*argv[] = { "/usr/bin/timeout", "-s", "KILL",
	    FILES_TIMEOUT, prog("PREFORKD", "./preforkd"), "-t", "-c", conf,
	    NULL };

	return run_capture(argv, out, size);
}

/* -t answers 78 and says want. */
static void
files_check_refuses(const char *conf, const char *want)
{
	char	 out[4096];
	int	 status;

	status = files_check(conf, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG,
	    "wait status %d (a signal: hung, killed after " FILES_TIMEOUT
	    " s); output:\n%s", status, out);
	ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want,
	    out);
}

START_TEST(test_check_not_a_file)
{
	char	 want[512];

	daemon_write_config(&d, NULL);		/* the scratch directory */
	for (size_t i = 0; i < 2; i++) {
		const struct files_kind	*fk = &files_kinds[i];
		char			 name[8], conf[64];

		snprintf(name, sizeof(name), "x%zu", i);
		files_make(files_path(name), fk);
		snprintf(want, sizeof(want), "preforkd: %s: is %s, not a "
		    "regular file", files_path(name), fk->fk_what);
		files_check_refuses(files_path(name), want);
		snprintf(conf, sizeof(conf), "# included\n@include \"%s\"",
		    name);
		daemon_write_config(&d, conf);
		snprintf(want, sizeof(want), "preforkd: %s:2: @include \"%s\": "
		    "%s: is %s, not a regular file", d.d_conf, name,
		    files_path(name), fk->fk_what);
		files_check_refuses(d.d_conf, want);
	}
}
END_TEST

START_TEST(test_check_listen)
{
	char	 want[512];

	daemon_write_config(&d, "workers = 2;\nlisten = {\n"
	    "  address = \"::ffff:127.0.0.1\"; port = 0; };");
	snprintf(want, sizeof(want), "preforkd: %s:3: listen.address "
	    "\"::ffff:127.0.0.1\" is an IPv4-mapped IPv6 address", d.d_conf);
	files_check_refuses(d.d_conf, want);

	daemon_write_config(&d, "listen = (\n"
	    "  { address = \"0.0.0.0\"; port = 9001; },\n"
	    "  { address = \"127.0.0.1\"; port = 9001; } );");
	snprintf(want, sizeof(want), "preforkd: %s:3: listen 127.0.0.1 port "
	    "9001 overlaps 0.0.0.0 port 9001 at %s:2", d.d_conf, d.d_conf);
	files_check_refuses(d.d_conf, want);

	/* TEST-NET-1 (RFC 5737): on no host. */
	daemon_write_config(&d, "listen = (\n"
	    "  { address = \"127.0.0.1\"; port = 0; },\n"
	    "  {\n    address = \"192.0.2.1\"; port = 9001; } );");
	snprintf(want, sizeof(want), "preforkd: %s:4: listen address "
	    "192.0.2.1 cannot be bound on this host: ", d.d_conf);
	files_check_refuses(d.d_conf, want);
}
END_TEST

/* -t leaves the port alone: the running daemon holds it. */
START_TEST(test_check_port_taken)
{
	char	 conf[128], out[4096];
	int	 port, fd, status;

	fd = tcp_listener(&port);
	snprintf(conf, sizeof(conf), "listen = { address = \"127.0.0.1\"; "
	    "port = %d; };", port);
	daemon_write_config(&d, conf);
	status = files_check(d.d_conf, out, sizeof(out));
	close(fd);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	    out);
	ck_assert_ptr_nonnull(strstr(out, "test is successful"));
}
END_TEST

Suite *
files_suite(void)
{
	Suite	*s = suite_create("files");
	TCase	*reload = tcase_create("reload");
	TCase	*check = tcase_create("check");

	tcase_add_checked_fixture(reload, NULL, teardown);
	tcase_add_loop_test(reload, test_reload_not_a_file, 0,
	    2 * (int)(sizeof(files_kinds) / sizeof(files_kinds[0])));
	tcase_add_test(reload, test_reload_overlap);
	tcase_set_timeout(reload, 90);
	suite_add_tcase(s, reload);

	tcase_add_checked_fixture(check, NULL, teardown);
	tcase_add_test(check, test_check_not_a_file);
	tcase_add_test(check, test_check_listen);
	tcase_add_test(check, test_check_port_taken);
	tcase_set_timeout(check, 90);
	suite_add_tcase(s, check);
	return s;
}
