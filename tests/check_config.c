/*
 * check_config.c - every key of the configuration: defaults, valid
 * values, and each kind of error with its FILE:LINE.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

struct bad_case {
	const char	*text;
	int		 line;		/* expected in "FILE:LINE: " */
	const char	*message;	/* expected after it */
};

static const struct bad_case bad_cases[] = {
	{ "workers = 0;\n", 1, "workers = 0 is out of range (1..1024)" },
	{ "workers = 1025;\n", 1, "workers = 1025 is out of range" },
	{ "workers = \"4\";\n", 1, "workers must be an integer" },
	{ "workers = 4.5;\n", 1, "workers must be an integer" },
	/* libconfig 1.5 wraps this to 1; we must not. */
	{ "workers = 4294967297;\n", 1,
	    "4294967297 does not fit in 32 bits (write 4294967297L" },
	{ "\n# 99999999999\nworkers = 2147483648;\n", 3,
	    "2147483648 does not fit in 32 bits" },
	{ "banner = \"9999999999\";\nworkers = 0x100000001;\n", 2,
	    "0x100000001 does not fit in 32 bits" },
	{ "workers = 5000000000L;\n", 1, "workers = 5000000000 is out of" },
	{ "listen = ( { port = 1; }, { address = \"::1\"; port = 4294967297; } );\n",
	    1, "4294967297 does not fit in 32 bits" },
	{ "listen = { port = 4294967297L; };\n", 1,
	    "listen.port = 4294967297 is out of range (0..65535)" },
	{ "listen = { port = 70000; };\n", 1,
	    "listen.port = 70000 is out of range (0..65535)" },
	{ "listen = {\n  port = -1;\n};\n", 2, "listen.port = -1 is out of" },
	{ "listen = { address = \"localhost\"; };\n", 1,
	    "listen.address \"localhost\" is not a numeric IPv4 or IPv6" },
	{ "listen = { address = 127; };\n", 1,
	    "listen.address must be a string" },
	{ "listen = { backlog = 0; };\n", 1,
	    "listen.backlog = 0 is out of range (1..65535)" },
	{ "listen = { bogus = 1; };\n", 1, "unknown key \"listen.bogus\"" },
	{ "listen = 5;\n", 1, "listen must be a group" },
	{ "listen = ( { port = 1; },\n { port = 1; } );\n", 2,
	    "listen 127.0.0.1 port 1 appears twice" },
	{ "listen = ( 1 );\n", 1, "listen entries must be groups" },
	{ "service = \"http\";\n", 1,
	    "service \"http\" is unknown (known: greeting, echo)" },
	{ "service = 1;\n", 1, "service must be a string" },
	{ "greeting = { max_message = 0; };\n", 1,
	    "greeting.max_message = 0 is out of range (1..65536)" },
	{ "greeting = { max_message = 65537; };\n", 1,
	    "greeting.max_message = 65537 is out of range" },
	{ "greeting = { banner = 5; };\n", 1,
	    "greeting.banner must be a string" },
	{ "greeting = { motd = \"x\"; };\n", 1,
	    "unknown key \"greeting.motd\"" },
	{ "greeting = \"hello\";\n", 1, "greeting must be a group" },
	{ "timeouts = { read = 0.0; };\n", 1,
	    "timeouts.read = 0 is out of range (0.001..3600 seconds)" },
	{ "timeouts = { write = \"5\"; };\n", 1,
	    "timeouts.write must be a number of seconds" },
	{ "timeouts = { shutdown = 4000; };\n", 1,
	    "timeouts.shutdown = 4000 is out of range" },
	{ "timeouts = { idle = 1; };\n", 1, "unknown key \"timeouts.idle\"" },
	{ "log = { facility = \"nope\"; };\n", 1,
	    "log.facility: unknown name \"nope\"" },
	{ "log = { level = \"verbose\"; };\n", 1,
	    "log.level: unknown name \"verbose\"" },
	{ "log = { level = 3; };\n", 1, "log.level must be a string" },
	{ "colour = \"blue\";\n", 1, "unknown key \"colour\"" },
	{ "workers = 2;\nservice = ;\n", 2, "syntax error" },
	{ "workers = 2;\nworkers = 3;\n", 2, "duplicate setting name" },
	{ "workers = 2;\n\n  listen = {\n", 4, "syntax error" },
	{ "user = \"no-such-user-preforkd\";\n", 1,
	    "user \"no-such-user-preforkd\" does not exist" },
	{ "user = \"root\";\ngroup = \"no-such-group-preforkd\";\n", 2,
	    "group \"no-such-group-preforkd\" does not exist" },
	{ "group = \"root\";\n", 1, "group needs user to be set too" },
	{ "pid_file = \"run/p.pid\";\n", 1, "pid_file must be an absolute" },
};

/* Each bad file fails with exactly "FILE:LINE: message...". */
START_TEST(test_config_bad)
{
	const struct bad_case	*bc = &bad_cases[_i];
	const char		*path = unit_write_file(bc->text);
	struct config		*c;
	char			 err[1024], prefix[256];

	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c == NULL, "accepted: %s", bc->text);
	snprintf(prefix, sizeof(prefix), "%s:%d: %s", path, bc->line,
	    bc->message);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "for \"%s\"\n  got:  %s\n  want: %s...", bc->text, err, prefix);
}
END_TEST

START_TEST(test_config_defaults)
{
	struct config	*c;
	char		 err[1024];

	c = config_load(unit_write_file("# nothing\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->c_nlisten, 1);
	ck_assert_str_eq(c->c_listen[0].cl_address, "127.0.0.1");
	ck_assert_uint_eq(c->c_listen[0].cl_port, 9001);
	ck_assert_int_eq(c->c_listen[0].cl_backlog, 128);
	ck_assert_uint_eq(c->c_workers, 4);
	ck_assert_str_eq(c->c_service, "greeting");
	ck_assert_str_eq(c->c_banner, "Welcome to Network Server!!");
	ck_assert_uint_eq(c->c_max_message, 256);
	ck_assert_double_eq(c->c_timeout_read, 5.0);
	ck_assert_double_eq(c->c_timeout_write, 5.0);
	ck_assert_double_eq(c->c_timeout_shutdown, 10.0);
	ck_assert_int_eq(c->c_log_facility, LOG_DAEMON);
	ck_assert_int_eq(c->c_log_level, LOG_INFO);
	ck_assert_ptr_null(c->c_user);
	ck_assert_ptr_null(c->c_pid_file);
	config_free(c);
}
END_TEST

START_TEST(test_config_every_key)
{
	struct config	*c;
	char		 err[1024];

	c = config_load(unit_write_file(
	    "listen = ( { address = \"0:0::1\"; port = 0; backlog = 7; },\n"
	    "  { address = \"10.1.2.3\"; port = 65535; } );\n"
	    "workers = 1024;\n"
	    "service = \"echo\";\n"
	    "greeting = { banner = \"hi\"; max_message = 65536; };\n"
	    "timeouts = { read = 2; write = 0.25; shutdown = 0; };\n"
	    "log = { facility = \"LOCAL3\"; level = \"debug\"; };\n"
	    "user = \"root\"; group = \"root\";\n"
	    "pid_file = \"/run/x.pid\";\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->c_nlisten, 2);
	ck_assert_str_eq(c->c_listen[0].cl_address, "::1");
	ck_assert_uint_eq(c->c_listen[0].cl_port, 0);
	ck_assert_int_eq(c->c_listen[0].cl_backlog, 7);
	ck_assert_str_eq(c->c_listen[1].cl_address, "10.1.2.3");
	ck_assert_uint_eq(c->c_listen[1].cl_port, 65535);
	ck_assert_int_eq(c->c_listen[1].cl_backlog, 128);
	ck_assert_uint_eq(c->c_workers, 1024);
	ck_assert_str_eq(c->c_service, "echo");
	ck_assert_str_eq(c->c_banner, "hi");
	ck_assert_uint_eq(c->c_max_message, 65536);
	ck_assert_double_eq(c->c_timeout_read, 2.0);
	ck_assert_double_eq(c->c_timeout_write, 0.25);
	ck_assert_double_eq(c->c_timeout_shutdown, 0.0);
	ck_assert_int_eq(c->c_log_facility, LOG_LOCAL3);
	ck_assert_int_eq(c->c_log_level, LOG_DEBUG);
	ck_assert_str_eq(c->c_user, "root");
	ck_assert_uint_eq(c->c_uid, 0);
	ck_assert_uint_eq(c->c_gid, 0);
	ck_assert_str_eq(c->c_pid_file, "/run/x.pid");
	config_free(c);
}
END_TEST

/* @include is relative to the including file, and errors in the
 * included file name it. */
START_TEST(test_config_include)
{
	const char	*path = unit_write_file("@include \"inc.conf\"\n");
	char		 inc[256], err[1024], want[300];
	struct config	*c;
	FILE		*fp;

	snprintf(inc, sizeof(inc), "%s", path);
	strcpy(strrchr(inc, '/') + 1, "inc.conf");
	ck_assert_ptr_nonnull(fp = fopen(inc, "w"));
	fputs("workers = 7;\n", fp);
	fclose(fp);
	chdir("/");
	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->c_workers, 7);
	config_free(c);

	ck_assert_ptr_nonnull(fp = fopen(inc, "w"));
	fputs("\nworkers = 0;\n", fp);
	fclose(fp);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: workers = 0 is out of range", inc);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	unlink(inc);
}
END_TEST

START_TEST(test_config_missing_file)
{
	char	 err[1024];

	ck_assert_ptr_null(config_load("/nonexistent/preforkd.conf", err,
	    sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/preforkd.conf: cannot open: "
	    "No such file or directory");
}
END_TEST

/* The file we ship must load, and say what the defaults say. */
START_TEST(test_config_shipped)
{
	const char	*srcdir = getenv("srcdir");
	char		 path[512], err[1024];
	struct config	*c;

	snprintf(path, sizeof(path), "%s/etc/preforkd.conf",
	    srcdir ? srcdir : ".");
	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->c_listen[0].cl_port, 9001);
	ck_assert_uint_eq(c->c_workers, 4);
	config_free(c);
}
END_TEST

Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("load");

	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_every_key);
	tcase_add_test(tc, test_config_missing_file);
	tcase_add_test(tc, test_config_include);
	tcase_add_test(tc, test_config_shipped);
	tcase_add_loop_test(tc, test_config_bad, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
