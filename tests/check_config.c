/* SPDX-License-Identifier: ISC */
/*
 * check_config.c - every key of the configuration: defaults, valid
 * values, and each kind of error with its FILE:LINE; files that are no
 * regular files, and @include with its limits and its line map.
 */
#include "autoconf.h"

#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "conffile.h"
#include "config.h"
#include "greeting.h"
#include "service.h"
#include "unit.h"

/* The greeting service's configuration, which is its own. */
static const struct greeting_config *
greeting_of(const struct config *c)
{
	ck_assert_str_eq(c->c_sv->sv_desc->ps_name, "greeting");
	return c->c_sv->sv_config;
}

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
	/* Decimal for libconfig, whatever the leading zero says. */
	{ "workers = 04294967297;\n", 1,
	    "04294967297 does not fit in 32 bits" },
	{ "a-99999999999 = 1;\n", 1, "unknown key \"a-99999999999\"" },
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
	/* Listeners that can never all be bound. */
	{ "listen = ( { address = \"::1\"; port = 7; },\n"
	    "  { address = \"0::1\"; port = 7; } );\n", 2,
	    "listen ::1 port 7 appears twice (also at " },
	{ "listen = ( { address = \"0.0.0.0\"; port = 7; },\n"
	    "  { address = \"127.0.0.1\"; port = 7; } );\n", 2,
	    "listen 127.0.0.1 port 7 overlaps 0.0.0.0 port 7 at " },
	{ "listen = ( { address = \"::1\"; port = 7; },\n"
	    "  { address = \"::\"; port = 7; } );\n", 2,
	    "listen :: port 7 overlaps ::1 port 7 at " },
	{ "listen = {\n  address = \"::ffff:127.0.0.1\";\n};\n", 2,
	    "listen.address \"::ffff:127.0.0.1\" is an IPv4-mapped IPv6 "
	    "address, which an IPv6-only socket cannot bind: write "
	    "\"127.0.0.1\"" },
	{ "listen = ( { port = 7; },\n"
	    "  { address = \"::FFFF:10.0.0.1\"; } );\n", 2,
	    "listen.address \"::FFFF:10.0.0.1\" is an IPv4-mapped" },
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
	{ "log = { level = \"info\";\n  empty = 1; };\n", 2,
	    "log.empty must be true or false" },
	{ "log = { empty = \"yes\"; };\n", 1,
	    "log.empty must be true or false" },
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
	/* The main file's end hides nothing. */
	{ "workers = 2;\n/* the rest\nworkers = 3;\n", 2,
	    "a comment not closed at the end of the file" },
	{ "workers = 2;\nservice = \"echo;\n", 2,
	    "a string not closed at the end of the file" },
	/* bind() and listen() would succeed; nobody could connect. */
	{ "listen = { address = \"224.0.0.1\"; };\n", 1,
	    "listen.address \"224.0.0.1\" is a multicast or broadcast" },
	{ "listen = { address = \"255.255.255.255\"; };\n", 1,
	    "listen.address \"255.255.255.255\" is a multicast or broadcast" },
	{ "listen = { address = \"ff02::1\"; };\n", 1,
	    "listen.address \"ff02::1\" is a multicast or broadcast" },
	/* The pool: fixed or dynamic, never both; bounds in order. */
	{ "workers = 2;\npool = { max = 8; };\n", 2,
	    "pool and workers cannot both be set" },
	{ "pool = {\n min = 9;\n max = 8;\n};\n", 3,
	    "pool.max = 8 is below pool.min = 9" },
	{ "pool = { min = 65; };\n", 1,
	    "pool.max = 64 is below pool.min = 65" },
	{ "pool = { idle_min = 3;\n idle_max = 2; };\n", 2,
	    "pool.idle_max = 2 is below pool.idle_min = 3" },
	{ "pool = { max = 0; };\n", 1, "pool.max = 0 is out of range" },
	{ "pool = { spare = 1; };\n", 1, "unknown key \"pool.spare\"" },
	{ "pool = 4;\n", 1, "pool must be a group" },
	{ "limits = { per_source = -1; };\n", 1,
	    "limits.per_source = -1 is out of range (0..65535)" },
	{ "limits = { source_prefix6 = 129; };\n", 1,
	    "limits.source_prefix6 = 129 is out of range (1..128)" },
	{ "max_connections = -5;\n", 1, "max_connections = -5 is out of" },
	{ "timeouts = {\n connection = 90;\n};\n", 2,
	    "timeouts.hung = 60 must be at least timeouts.connection + 3 = 93" },
	{ "timeouts = { connection = 5;\n hung = 7.5; };\n", 2,
	    "timeouts.hung = 7.5 must be at least timeouts.connection + 3 = 8" },
	{ "control = \"run/ctl\";\n", 1,
	    "control must be an absolute path" },
	/* Behind a balancer. */
	{ "listen = { port = 1;\n proxy_protocol = \"v3\"; };\n", 2,
	    "listen.proxy_protocol must be \"off\", \"v1\", \"v2\" or "
	    "\"any\"" },
	{ "listen = { port = 1;\n proxy_protocol = \"v2\"; };\n", 2,
	    "listen.proxy_protocol = \"v2\" needs proxy_from" },
	{ "listen = { port = 1;\n proxy_from = [ \"10.0.0.1\" ]; };\n", 2,
	    "listen.proxy_from is set but proxy_protocol is off" },
	{ "listen = { port = 1; proxy_protocol = \"any\";\n"
	    " proxy_from = \"10.0.0.1\"; };\n", 2,
	    "listen.proxy_from must be a list of networks" },
	{ "listen = { port = 1; proxy_protocol = \"v1\";\n"
	    " proxy_from = [ ]; };\n", 2,
	    "listen.proxy_from must have 1..16 entries" },
	{ "listen = { port = 1; proxy_protocol = \"v1\"; proxy_from = [\n"
	    " \"10.0.0.1\",\n \"10.1.2.3/8\" ]; };\n", 3,
	    "listen.proxy_from \"10.1.2.3/8\": bits are set past the prefix "
	    "length" },
	{ "listen = { port = 1; proxy_protocol = \"v1\"; proxy_from = [\n"
	    " \"10.0.0.0/33\" ]; };\n", 2,
	    "listen.proxy_from \"10.0.0.0/33\": the prefix length must be "
	    "0..32" },
	{ "listen = { port = 1; proxy_protocol = \"v1\"; proxy_from = [\n"
	    " \"lb.example\" ]; };\n", 2,
	    "listen.proxy_from \"lb.example\": not a numeric IPv4 or IPv6 "
	    "address" },
	{ "access = \"deny all\";\n", 1, "access must be a list of rules" },
	{ "access = [ \"allow 10.0.0.0/8\",\n \"permit 10.0.0.1\" ];\n", 2,
	    "access rule \"permit 10.0.0.1\": a rule starts with \"allow\" "
	    "or \"deny\"" },
	{ "access = [\n \"deny\" ];\n", 2,
	    "access rule \"deny\": a rule needs an address" },
	{ "access = [\n \"deny 10.0.0.1 10.0.0.2\" ];\n", 2,
	    "access rule \"deny 10.0.0.1 10.0.0.2\": a rule is two words" },
	{ "access = [\n \"deny ::1/129\" ];\n", 2,
	    "access rule \"deny ::1/129\": the prefix length must be 0..128" },
	{ "access = [\n \"deny 10.0.0.0/08\" ];\n", 2,
	    "access rule \"deny 10.0.0.0/08\": the prefix length must be" },
	{ "access = [ 1 ];\n", 1, "access rules are strings" },
	{ "agent = {\n address = \"127.0.0.1\"; };\n", 1,
	    "agent needs a port" },
	{ "agent = { port = 9100;\n address = \"localhost\"; };\n", 2,
	    "agent.address \"localhost\" is not a numeric IPv4 or IPv6 "
	    "address" },
	{ "agent = {\n port = 0; };\n", 2,
	    "agent.port = 0 is out of range (1..65535)" },
	{ "agent = { port = 9001; host = 1; };\n", 1,
	    "unknown key \"agent.host\"" },
	{ "listen = { address = \"127.0.0.1\"; port = 9100; };\n"
	    "agent = { port = 9100; };\n", 2,
	    "agent 127.0.0.1 port 9100 clashes with listen 127.0.0.1 port "
	    "9100 at " },
	{ "listen = { address = \"0.0.0.0\"; port = 9100; };\n"
	    "agent = { port = 9100; };\n", 2,
	    "agent 127.0.0.1 port 9100 clashes with listen 0.0.0.0 port 9100" },
	{ "listen = { address = \"::1\"; port = 9100; };\n"
	    "agent = { address = \"::\"; port = 9100; };\n", 2,
	    "agent :: port 9100 clashes with listen ::1 port 9100" },
	{ "agent = { port = 9100;\n address = \"::ffff:127.0.0.1\"; };\n", 2,
	    "agent.address \"::ffff:127.0.0.1\" is an IPv4-mapped IPv6 "
	    "address" },
	{ "agent = { port = 9100;\n address = \"224.0.0.1\"; };\n", 2,
	    "agent.address \"224.0.0.1\" is a multicast or broadcast" },
	{ "metrics = {\n address = \"127.0.0.1\"; };\n", 1,
	    "metrics needs a port" },
	{ "metrics = {\n port = 65536; };\n", 2,
	    "metrics.port = 65536 is out of range (0..65535)" },
	{ "metrics = { port = 9102;\n path = \"/x\"; };\n", 2,
	    "unknown key \"metrics.path\"" },
	{ "metrics = { port = 9102;\n address = \"localhost\"; };\n", 2,
	    "metrics.address \"localhost\" is not a numeric IPv4 or IPv6 "
	    "address" },
	{ "listen = { address = \"127.0.0.1\"; port = 9102; };\n"
	    "metrics = { port = 9102; };\n", 2,
	    "metrics 127.0.0.1 port 9102 clashes with listen 127.0.0.1 port "
	    "9102 at " },
	{ "agent = { port = 9102; };\n"
	    "metrics = { address = \"0.0.0.0\"; port = 9102; };\n", 2,
	    "metrics 0.0.0.0 port 9102 clashes with agent 127.0.0.1 port "
	    "9102 at " },
	{ "metrics = { port = 9102;\n allow = \"127.0.0.1\"; };\n", 2,
	    "metrics.allow must be a list of networks" },
	{ "metrics = { port = 9102;\n allow = [ ]; };\n", 2,
	    "metrics.allow must have 1..64 entries" },
	{ "metrics = { port = 9102; allow = [\n 8 ]; };\n", 2,
	    "metrics.allow entries are strings" },
	{ "metrics = { port = 9102; allow = [ \"::1\",\n \"10.1.2.3/8\" ]; "
	    "};\n", 2, "metrics.allow \"10.1.2.3/8\": " },
	{ "timeouts = {\n drain = -1; };\n", 2,
	    "timeouts.drain = -1 is out of range (0..3600 seconds)" },
	{ "control = \"/run/preforkd/0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789012345678901234\";\n", 1,
	    "control is longer than 107 bytes" },
};

/*
 * libconfig 1.5 leaks the string literal it was reading when it meets a
 * syntax error: a literal longer than any value preforkd takes is refused
 * before libconfig sees it, so a refused reload cannot grow the master.
 * And a last line without its newline (a comment, here) is a line.
 */
START_TEST(test_config_string_bound)
{
	static char	 text[8192];
	struct config	*c;
	const char	*path;
	char		 err[1024], want[256];

	snprintf(text, sizeof(text), "workers = 2;\nx = \"%*s\" ;;\n", 5000,
	    "");
	path = unit_write_file(text);
	ck_assert_ptr_null(c = config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: a string longer than 4096 bytes",
	    path);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	path = unit_write_file("workers = 3; # no newline after this");
	ck_assert_msg((c = config_load(path, err, sizeof(err))) != NULL, "%s",
	    err);
	ck_assert_uint_eq(c->c_workers, 3);
	config_free(c);
}
END_TEST

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
	/* The defended default: a dynamic pool, a per-source limit, a
	 * bound on every connection, hung workers replaced. */
	ck_assert(c->c_pool_dynamic);
	ck_assert_uint_eq(c->c_pool_min, 4);
	ck_assert_uint_eq(c->c_pool_max, 64);
	ck_assert_uint_eq(c->c_idle_min, 2);
	ck_assert_uint_eq(c->c_idle_max, 8);
	ck_assert_uint_eq(c->c_per_source, 8);
	ck_assert_uint_eq(c->c_source_bits4, 32);
	ck_assert_uint_eq(c->c_source_bits6, 64);
	ck_assert_uint_eq(c->c_max_connections, 0);
	ck_assert_double_eq(c->c_timeout_connection, 30.0);
	ck_assert_double_eq(c->c_timeout_hung, 60.0);
	ck_assert_ptr_null(c->c_control);
	ck_assert_ptr_null(c->c_metrics_address);
	ck_assert_str_eq(c->c_service, "greeting");
	ck_assert_str_eq(greeting_of(c)->gc_banner,
	    "Welcome to Network Server!!");
	ck_assert_uint_eq(greeting_of(c)->gc_max_message, 256);
	ck_assert(!c->c_client_first);
	ck_assert_double_eq(c->c_timeout_read, 5.0);
	ck_assert_double_eq(c->c_timeout_write, 5.0);
	ck_assert_double_eq(c->c_timeout_shutdown, 10.0);
	ck_assert_int_eq(c->c_log_facility, LOG_DAEMON);
	ck_assert_int_eq(c->c_log_level, LOG_INFO);
	ck_assert(!c->c_log_empty);
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
	    "listen = ( { address = \"0:0::1\"; port = 0; backlog = 7;\n"
	    "  proxy_protocol = \"v2\"; proxy_from = [ \"::1\",\n"
	    "  \"192.0.2.0/24\" ]; },\n"
	    "  { address = \"10.1.2.3\"; port = 65535; } );\n"
	    "workers = 1024;\n"
	    "service = \"echo\";\n"
	    "greeting = { banner = \"hi\"; max_message = 65536; };\n"
	    "timeouts = { read = 2; write = 0.25; shutdown = 0;\n"
	    "  connection = 7; hung = 0; drain = 2.5; };\n"
	    "log = { facility = \"LOCAL3\"; level = \"debug\"; empty = true;"
	    " };\n"
	    "user = \"root\"; group = \"root\";\n"
	    "pid_file = \"/run/x.pid\";\n"
	    "limits = { per_source = 0; source_prefix4 = 24;\n"
	    "  source_prefix6 = 48; };\n"
	    "max_connections = 1000;\n"
	    "control = \"/run/preforkd/control\";\n"
	    "access = [ \"deny 10.1.0.0/16\", \"allow ::ffff:10.0.0.0/104\",\n"
	    "  \"deny all\" ];\n"
	    "agent = { address = \"::1\"; port = 9100; };\n"
	    "metrics = { address = \"::\"; port = 9102;\n"
	    "  allow = [ \"192.0.2.0/24\", \"2001:db8::/32\" ]; };\n"), err,
	    sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->c_nlisten, 2);
	ck_assert_str_eq(c->c_listen[0].cl_address, "::1");
	ck_assert_uint_eq(c->c_listen[0].cl_port, 0);
	ck_assert_int_eq(c->c_listen[0].cl_backlog, 7);
	ck_assert_str_eq(c->c_listen[1].cl_address, "10.1.2.3");
	ck_assert_uint_eq(c->c_listen[1].cl_port, 65535);
	ck_assert_int_eq(c->c_listen[1].cl_backlog, 128);
	ck_assert_int_eq(c->c_listen[0].cl_proxy, PROXY_V2);
	ck_assert_uint_eq(c->c_listen[0].cl_nproxy_from, 2);
	ck_assert_uint_eq(c->c_listen[0].cl_proxy_from[0].an_bits, 128);
	ck_assert_uint_eq(c->c_listen[0].cl_proxy_from[1].an_bits, 24);
	ck_assert_int_eq(c->c_listen[1].cl_proxy, PROXY_OFF);
	ck_assert_uint_eq(c->c_listen[1].cl_nproxy_from, 0);
	ck_assert_uint_eq(c->c_workers, 1024);
	ck_assert(!c->c_pool_dynamic);
	ck_assert_uint_eq(c->c_pool_min, 1024);
	ck_assert_uint_eq(c->c_pool_max, 1024);
	ck_assert_uint_eq(c->c_per_source, 0);
	ck_assert_uint_eq(c->c_source_bits4, 24);
	ck_assert_uint_eq(c->c_source_bits6, 48);
	ck_assert_uint_eq(c->c_max_connections, 1000);
	ck_assert_double_eq(c->c_timeout_connection, 7.0);
	ck_assert_double_eq(c->c_timeout_hung, 0.0);
	ck_assert_double_eq(c->c_timeout_drain, 2.5);
	ck_assert_str_eq(c->c_control, "/run/preforkd/control");
	ck_assert_uint_eq(c->c_naccess, 3);
	ck_assert(!c->c_access[0].ar_allow);
	ck_assert_uint_eq(c->c_access[0].ar_net.an_bits, 16);
	/* An IPv4-mapped network is the IPv4 one. */
	ck_assert(c->c_access[1].ar_allow);
	ck_assert_uint_eq(c->c_access[1].ar_net.an_addr.a_family, AF_INET);
	ck_assert_uint_eq(c->c_access[1].ar_net.an_bits, 8);
	ck_assert(c->c_access[2].ar_all && !c->c_access[2].ar_allow);
	ck_assert_str_eq(c->c_agent_address, "::1");
	ck_assert_uint_eq(c->c_agent_port, 9100);
	ck_assert_str_eq(c->c_metrics_address, "::");
	ck_assert_uint_eq(c->c_metrics_port, 9102);
	ck_assert_uint_eq(c->c_nmetrics_allow, 2);
	ck_assert_uint_eq(c->c_metrics_allow[0].an_bits, 24);
	ck_assert_uint_eq(c->c_metrics_allow[1].an_addr.a_family, AF_INET6);
	ck_assert_uint_eq(c->c_metrics_allow[1].an_bits, 32);
	ck_assert_str_eq(c->c_service, "echo");
	ck_assert(c->c_client_first);
	ck_assert_double_eq(c->c_timeout_read, 2.0);
	ck_assert_double_eq(c->c_timeout_write, 0.25);
	ck_assert_double_eq(c->c_timeout_shutdown, 0.0);
	ck_assert_int_eq(c->c_log_facility, LOG_LOCAL3);
	ck_assert_int_eq(c->c_log_level, LOG_DEBUG);
	ck_assert(c->c_log_empty);
	ck_assert_str_eq(c->c_user, "root");
	ck_assert_uint_eq(c->c_uid, 0);
	ck_assert_uint_eq(c->c_gid, 0);
	ck_assert_str_eq(c->c_pid_file, "/run/x.pid");
	config_free(c);

	/* The greeting group was checked above, but only the chosen
	 * service keeps its configuration: choose it to see it. */
	c = config_load(unit_write_file("greeting = { banner = \"hi\"; "
	    "max_message = 65536; };\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(greeting_of(c)->gc_banner, "hi");
	ck_assert_uint_eq(greeting_of(c)->gc_max_message, 65536);
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
	ck_assert_int_eq(chdir("/"), 0);
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
	/* It states the defaults, the defended ones included. */
	ck_assert(c->c_pool_dynamic);
	ck_assert_uint_eq(c->c_pool_max, 64);
	ck_assert_uint_eq(c->c_per_source, 8);
	ck_assert_double_eq(c->c_timeout_hung, 60.0);
	/* The endpoint is shipped commented out: off by default. */
	ck_assert_ptr_null(c->c_metrics_address);
	config_free(c);
}
END_TEST

/* metrics = { port = N; }: loopback, and loopback clients only. */
START_TEST(test_config_metrics_defaults)
{
	struct config	*c;
	char		 err[1024];

	c = config_load(unit_write_file("metrics = { port = 0; };\n"), err,
	    sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->c_metrics_address, "127.0.0.1");
	ck_assert_uint_eq(c->c_metrics_port, 0);
	ck_assert_ptr_nonnull(strstr(c->c_metrics_where, "test.conf:1"));
	ck_assert_uint_eq(c->c_nmetrics_allow, 2);
	ck_assert_uint_eq(c->c_metrics_allow[0].an_addr.a_family, AF_INET);
	ck_assert_uint_eq(c->c_metrics_allow[0].an_addr.a_bytes[0], 127);
	ck_assert_uint_eq(c->c_metrics_allow[0].an_bits, 8);
	ck_assert_uint_eq(c->c_metrics_allow[1].an_addr.a_family, AF_INET6);
	ck_assert_uint_eq(c->c_metrics_allow[1].an_bits, 128);
	config_free(c);
}
END_TEST

/* ---- files and @include ------------------------------------------------ */

static char	 inc_base[64];	/* removed with all it holds at the end */
static char	 inc_dir[96];	/* a fresh one for each test */

static void
inc_setup(void)
{
	snprintf(inc_base, sizeof(inc_base), "/tmp/preforkd-inc.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(inc_base));
	/* The unreadable-file test looks as nobody. */
	ck_assert_int_eq(chmod(inc_base, 0755), 0);
}

static void
inc_test_setup(void)
{
	snprintf(inc_dir, sizeof(inc_dir), "%s/t.XXXXXX", inc_base);
	ck_assert_ptr_nonnull(mkdtemp(inc_dir));
	ck_assert_int_eq(chmod(inc_dir, 0755), 0);
}

static int
inc_remove(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void
inc_teardown(void)
{
	nftw(inc_base, inc_remove, 16, FTW_DEPTH | FTW_PHYS);
}

/* name in the scratch directory (static storage, four at a time). */
static const char *
inc_path(const char *name)
{
	static char	 paths[4][256];
	static int	 next;
	char		*p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", inc_dir, name);
	return p;
}

static const char *
inc_write(const char *name, const char *text)
{
	const char	*path = inc_path(name);
	FILE		*fp;

	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* want with each "{}" replaced by the scratch directory. */
static const char *
inc_expand(const char *want)
{
	static char	 buf[1024];
	const char	*brace;
	size_t		 n = 0;

	while ((brace = strstr(want, "{}")) != NULL) {
		n += snprintf(buf + n, sizeof(buf) - n, "%.*s%s",
		    (int)(brace - want), want, inc_dir);
		want = brace + 2;
	}
	snprintf(buf + n, sizeof(buf) - n, "%s", want);
	return buf;
}

/* Loading path fails with exactly want ({} for the directory). */
static void
inc_fail(const char *path, const char *want)
{
	struct config	*c;
	char		 err[1024];

	err[0] = '\0';
	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c == NULL, "%s was accepted", path);
	ck_assert_str_eq(err, inc_expand(want));
}

/* The 32-bit guard reads included files too, at their own lines. */
START_TEST(test_include_wide_literal)
{
	inc_write("lit.conf", "\n# 99999999999 in a comment\n"
	    "greeting = { max_message = 4294967297; };\n");
	inc_fail(inc_write("main.conf", "workers = 2;\n"
	    "@include \"lit.conf\"\n"), "{}/lit.conf:3: 4294967297 does not "
	    "fit in 32 bits (write 4294967297L for a 64-bit value)");
}
END_TEST

/*
 * Files that are no regular files, @included and as the file itself:
 * libconfig's scanner would exit(2) on a directory, open() of a FIFO
 * that nobody writes would block for ever, /dev/zero never ends.
 */
static const struct inc_kind {
	const char	*ik_name;	/* in the scratch directory or a path */
	const char	*ik_what;
} inc_kinds[] = {
	{ "d", "a directory" },
	{ "", "a directory" },		/* the including file's own */
	{ "fifo", "a FIFO" },
	{ "sock", "a socket" },
	{ "/dev/null", "a character device" },
	{ "/dev/zero", "a character device" },
};

static void
inc_make(const char *path, const char *name)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	if (strcmp(name, "d") == 0)
		ck_assert_int_eq(mkdir(path, 0755), 0);
	else if (strcmp(name, "fifo") == 0)
		ck_assert_int_eq(mkfifo(path, 0644), 0);
	else if (strcmp(name, "sock") == 0) {
		ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
		memcpy(sun.sun_path, path, strlen(path) + 1);
		ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun,
		    sizeof(sun)), 0);
		close(fd);
	}
}

START_TEST(test_include_not_a_file)
{
	const struct inc_kind	*ik = &inc_kinds[_i];
	char			 path[256], text[128], want[768];

	snprintf(path, sizeof(path), "%s", ik->ik_name[0] == '/' ?
	    ik->ik_name : inc_path(ik->ik_name));
	inc_make(path, ik->ik_name);
	snprintf(text, sizeof(text), "workers = 2;\n\n  @include \"%s\"\n",
	    ik->ik_name);
	snprintf(want, sizeof(want), "{}/main.conf:3: @include \"%s\": %s: "
	    "is %s, not a regular file", ik->ik_name, path, ik->ik_what);
	inc_fail(inc_write("main.conf", text), want);
	snprintf(want, sizeof(want), "%s: is %s, not a regular file", path,
	    ik->ik_what);
	inc_fail(path, want);
}
END_TEST

/*
 * Root reads a file whatever its mode, so the load runs in a child that
 * is nobody when the test runs as root.
 */
START_TEST(test_include_unreadable)
{
	const char	*main_conf, *secret;
	char		 want[2][512], err[1024];
	struct passwd	*pw;
	pid_t		 pid;
	int		 status;

	secret = inc_write("secret.conf", "workers = 3;\n");
	ck_assert_int_eq(chmod(secret, 0), 0);
	main_conf = inc_write("main.conf", "\n@include \"secret.conf\"\n");
	snprintf(want[0], sizeof(want[0]), "%s", inc_expand("{}/main.conf:2: "
	    "@include \"secret.conf\": {}/secret.conf: cannot open: "
	    "Permission denied"));
	snprintf(want[1], sizeof(want[1]), "%s", inc_expand("{}/secret.conf: "
	    "cannot open: Permission denied"));
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		if (geteuid() == 0 && ((pw = getpwnam("nobody")) == NULL ||
		    setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
		    setuid(pw->pw_uid) == -1))
			_exit(2);
		for (int i = 0; i < 2; i++)
			if (config_load(i == 0 ? main_conf : secret, err,
			    sizeof(err)) != NULL || strcmp(err, want[i]) != 0) {
				fprintf(stderr, "got:  %s\nwant: %s\n", err,
				    want[i]);
				_exit(1);
			}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "wait status %d: exit 1 is a wrong error (on stderr), 2 could "
	    "not become nobody", status);
}
END_TEST

/* Gone between the edit and the reload: a dangling symlink. */
START_TEST(test_include_vanished)
{
	ck_assert_int_eq(symlink("renamed-away.conf", inc_path("gone")), 0);
	inc_fail(inc_write("main.conf", "workers = 2;\n\n@include \"gone\"\n"),
	    "{}/main.conf:3: @include \"gone\": {}/gone: cannot open: No such "
	    "file or directory");
}
END_TEST

START_TEST(test_include_loop)
{
	inc_write("a.conf", "workers = 2;\n@include \"b.conf\"\n");
	inc_write("b.conf", "# b\n\n@include \"a.conf\"\n");
	inc_fail(inc_write("main.conf", "@include \"a.conf\"\n"),
	    "{}/b.conf:3: @include \"a.conf\": {}/a.conf: include loop: the "
	    "file is already being read");
	inc_fail(inc_write("main.conf", "@include \"main.conf\"\n"),
	    "{}/main.conf:1: @include \"main.conf\": {}/main.conf: include "
	    "loop: the file is already being read");
}
END_TEST

/* Ten levels below the main file load, as in libconfig; eleven do not. */
START_TEST(test_include_deep)
{
	struct config	*c;
	char		 name[32], text[64], err[1024];

	inc_write("main.conf", "@include \"n1.conf\"\n");
	for (int i = 1; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d.conf", i);
		snprintf(text, sizeof(text), "@include \"n%d.conf\"\n", i + 1);
		inc_write(name, text);
	}
	inc_write("n10.conf", "workers = 5;\n");
	c = config_load(inc_path("main.conf"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->c_workers, 5);
	config_free(c);
	inc_write("n10.conf", "@include \"n11.conf\"\n");
	inc_write("n11.conf", "workers = 5;\n");
	inc_fail(inc_path("main.conf"), "{}/n10.conf:1: @include \"n11.conf\": "
	    "{}/n11.conf: included more than 10 levels deep");
}
END_TEST

/* A path is relative to the directory of the file that includes it. */
START_TEST(test_include_relative)
{
	ck_assert_int_eq(mkdir(inc_path("sub"), 0755), 0);
	inc_write("sub/a.conf", "# a\n@include \"b.conf\"\n");
	inc_write("sub/b.conf", "\ngreeting = { max_message = 0; };\n");
	inc_fail(inc_write("main.conf", "@include \"sub/a.conf\"\n"
	    "workers = 2;\n"), "{}/sub/b.conf:2: greeting.max_message = 0 is "
	    "out of range (1..65536)");
}
END_TEST

/* Only libconfig's rule makes a directive: not in strings or comments,
 * not after other text on the line. */
START_TEST(test_include_not_a_directive)
{
	struct config	*c;
	char		 err[1024];

	ck_assert_int_eq(mkdir(inc_path("d"), 0755), 0);
	c = config_load(inc_write("main.conf",
	    "greeting = { banner = \"x\n@include \\\"d\\\"\n\"; };\n"
	    "/*\n@include \"d\"\n*/\n"
	    "# @include \"d\"\n"
	    "// @include \"d\"\n"
	    "workers = 3;\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(greeting_of(c)->gc_banner, "x\n@include \"d\"\n");
	ck_assert_uint_eq(c->c_workers, 3);
	config_free(c);
	inc_fail(inc_write("main.conf", "workers = 3; @include \"d\"\n"),
	    "{}/main.conf:1: syntax error");
	inc_write("a.conf", "workers = 3;\n");
	inc_fail(inc_write("main.conf", "\n@include \"a.conf\" @include "
	    "\"a.conf\"\n"), "{}/main.conf:2: @include must start its own "
	    "line");
}
END_TEST

/* What libconfig 1.5 would take in silence or mangle is refused. */
START_TEST(test_include_malformed)
{
	inc_fail(inc_write("main.conf", "workers = 2;\n@include \"a.conf"),
	    "{}/main.conf:2: @include: the path's closing quote is missing");
	inc_fail(inc_write("main.conf", "@include \"a\\.conf\"\n"),
	    "{}/main.conf:1: @include: only \\\\ and \\\" may follow a "
	    "backslash in the path");
	inc_write("open.conf", "workers = 2;\n/* never closed\n");
	inc_fail(inc_write("main.conf", "@include \"open.conf\"\n"
	    "service = \"echo\";\n"), "{}/open.conf:2: a comment not closed "
	    "at the end of the file");
	inc_write("open.conf", "greeting = { banner = \"never closed\n");
	inc_fail(inc_path("main.conf"), "{}/open.conf:1: a string not closed "
	    "at the end of the file");
}
END_TEST

/* A NUL would end the text libconfig parses: what follows would vanish
 * unchecked. */
START_TEST(test_include_nul)
{
	static const char	 text[] = "# a NUL \0 here\n"
	    "workers = 4294967297;\n";
	FILE			*fp;

	ck_assert_ptr_nonnull(fp = fopen(inc_path("nul.conf"), "w"));
	ck_assert_uint_eq(fwrite(text, 1, sizeof(text) - 1, fp),
	    sizeof(text) - 1);
	ck_assert_int_eq(fclose(fp), 0);
	inc_fail(inc_path("nul.conf"), "{}/nul.conf:1: a NUL byte: this is "
	    "not a text file");
}
END_TEST

/* Size, files and settings are bounded, so is libconfig's time. */
START_TEST(test_include_limits)
{
	char	*big;
	FILE	*fp;

	ck_assert_ptr_nonnull(big = malloc(CONFFILE_MAX_SIZE + 2));
	memset(big, '#', CONFFILE_MAX_SIZE + 1);
	big[CONFFILE_MAX_SIZE + 1] = '\0';
	inc_fail(inc_write("big.conf", big), "{}/big.conf: the configuration "
	    "is larger than 1048576 bytes (all files together)");
	big[CONFFILE_MAX_SIZE / 2] = '\0';
	inc_write("half.conf", big);
	/* The main file's bytes count too. */
	inc_fail(inc_write("main.conf", "@include \"half.conf\"\n"
	    "@include \"half.conf\"\n"),
	    "{}/main.conf:2: @include \"half.conf\": {}/half.conf: the "
	    "configuration is larger than 1048576 bytes (all files together)");
	free(big);

	inc_write("empty.conf", "");
	ck_assert_ptr_nonnull(fp = fopen(inc_path("main.conf"), "w"));
	for (int i = 0; i < CONFFILE_MAX_FILES; i++)
		fputs("@include \"empty.conf\"\n", fp);
	ck_assert_int_eq(fclose(fp), 0);
	inc_fail(inc_path("main.conf"), "{}/main.conf:64: @include "
	    "\"empty.conf\": empty.conf: more than 64 files");

	ck_assert_ptr_nonnull(fp = fopen(inc_path("main.conf"), "w"));
	for (int i = 0; i <= CONFFILE_MAX_SETTINGS; i++)
		fprintf(fp, "k%d = 1;\n", i);
	ck_assert_int_eq(fclose(fp), 0);
	inc_fail(inc_path("main.conf"), "{}/main.conf:1025: more than 1024 "
	    "settings (a complete configuration has fewer than 100)");
}
END_TEST

/* Every line of the merged text maps back to its file and line. */
START_TEST(test_include_line_map)
{
	static const struct {
		const char	*file;
		unsigned	 line;
		const char	*text;
	} want[] = {
		{ "main.conf", 1, "# main" },
		{ "one.conf", 1, "a = 1;" },
		{ "one.conf", 2, "b = 2;" },
		{ "one.conf", 3, "c = 3;" },	/* no newline of its own */
		{ "main.conf", 2, "   # after the directive" },
		{ "main.conf", 3, "workers = 2;" },
		{ "main.conf", 4, "" },		/* empty.conf adds nothing */
		{ "two.conf", 1, "x = 1;" },
		{ "three.conf", 1, "t = 1;" },
		{ "two.conf", 2, "" },
		{ "two.conf", 3, "y = 2;" },
		{ "main.conf", 5, "" },
		{ "main.conf", 6, "service = \"echo\";" },
	};
	struct conffile	*cf;
	const char	*text, *file;
	char		 err[1024], path[300];
	unsigned	 line;
	size_t		 i, n;

	inc_write("one.conf", "a = 1;\nb = 2;\nc = 3;");
	inc_write("empty.conf", "");
	inc_write("two.conf", "x = 1;\n@include \"three.conf\"\ny = 2;\n");
	inc_write("three.conf", "t = 1;\n");
	inc_write("main.conf", "# main\n@include \"one.conf\"   "
	    "# after the directive\nworkers = 2;\n  @include \"empty.conf\"\n"
	    "@include \"two.conf\"\nservice = \"echo\";\n");
	cf = conffile_read(inc_path("main.conf"), err, sizeof(err));
	ck_assert_msg(cf != NULL, "%s", err);
	text = conffile_text(cf);
	ck_assert_ptr_null(strstr(text, "@include"));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		n = strcspn(text, "\n");
		ck_assert_msg(strlen(want[i].text) == n &&
		    strncmp(text, want[i].text, n) == 0,
		    "line %zu is \"%.*s\"", i + 1, (int)n, text);
		file = conffile_where(cf, (unsigned)i + 1, &line);
		snprintf(path, sizeof(path), "%s", inc_path(want[i].file));
		ck_assert_str_eq(file, path);
		ck_assert_uint_eq(line, want[i].line);
		text += n + (text[n] == '\n');
	}
	ck_assert_str_eq(text, "");
	file = conffile_where(cf, 0, &line);
	ck_assert_str_eq(file, inc_path("main.conf"));
	ck_assert_uint_eq(line, 0);
	conffile_free(cf);
}
END_TEST

/* The same port on different families, or port 0, is no clash. */
START_TEST(test_config_listen_compatible)
{
	struct config	*c;
	char		 err[1024];

	c = config_load(unit_write_file("listen = (\n"
	    "  { address = \"::\"; port = 7; },\n"
	    "  { address = \"127.0.0.1\"; port = 7; },\n"
	    "  { address = \"0.0.0.0\"; port = 0; },\n"
	    "  { address = \"127.0.0.1\"; port = 0; },\n"
	    "  { address = \"127.0.0.1\"; port = 8; } );\n"), err,
	    sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->c_nlisten, 5);
	config_free(c);
}
END_TEST

Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("load");
	TCase	*inc = tcase_create("files");

	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_every_key);
	tcase_add_test(tc, test_config_missing_file);
	tcase_add_test(tc, test_config_include);
	tcase_add_test(tc, test_config_shipped);
	tcase_add_test(tc, test_config_metrics_defaults);
	tcase_add_loop_test(tc, test_config_bad, 0,
	    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_config_listen_compatible);
	tcase_add_test(tc, test_config_string_bound);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(inc, inc_setup, inc_teardown);
	tcase_add_checked_fixture(inc, inc_test_setup, NULL);
	tcase_add_test(inc, test_include_wide_literal);
	tcase_add_loop_test(inc, test_include_not_a_file, 0,
	    sizeof(inc_kinds) / sizeof(inc_kinds[0]));
	tcase_add_test(inc, test_include_unreadable);
	tcase_add_test(inc, test_include_vanished);
	tcase_add_test(inc, test_include_loop);
	tcase_add_test(inc, test_include_deep);
	tcase_add_test(inc, test_include_relative);
	tcase_add_test(inc, test_include_not_a_directive);
	tcase_add_test(inc, test_include_malformed);
	tcase_add_test(inc, test_include_nul);
	tcase_add_test(inc, test_include_limits);
	tcase_add_test(inc, test_include_line_map);
	tcase_set_timeout(inc, 10);
	suite_add_tcase(s, inc);
	return s;
}
