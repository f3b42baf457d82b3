/* SPDX-License-Identifier: ISC */
/*
 * check_saturation.c - every lifecycle action with the pool saturated:
 * more closed-loop clients than workers, so that the accept queue is
 * never empty and a worker is always either serving or woken at once.
 * An idle pool hides exactly the bugs that show when operators act:
 * under load.
 *
 * Assertions are on what the daemon did (its log, its generation, its
 * children in /proc, its exit status) and on what the clients saw (the
 * load generator's errors, the banner of a probe).  Every wait has a
 * deadline far above what an idle machine needs; none is a measurement.
 */
#include "autoconf.h"

#include <check.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

/* Each worker's end ("worker retired pid=... status=0") is a debug line:
 * the tests that count how the workers ended ask for it. */
#define SAT_DEBUG	"log = { level = \"debug\"; };\n"

/* Clients and workers: thirty-two clients for each worker. */
#define SAT_CLIENTS	64
#define SAT_WORKERS	2

static struct daemon	 d;
static pid_t		 load;
static char		 load_out[192];
static int		 port;

static void
setup(void)
{
	port = free_port();
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

/* The configuration, always on the same port so a reload keeps it. */
static const char *
sat_config(const char *extra, int workers)
{
	static char	 conf[1024];

	snprintf(conf, sizeof(conf), "%s\nworkers = %d;\nlisten = { address "
	    "= \"127.0.0.1\"; port = %d; };", extra, workers, port);
	return conf;
}

/* Start the daemon, then the load; return once the pool is saturated:
 * the load generator has been running for a second. */
static void
sat_start(const char *extra, int workers, double secs)
{
	daemon_start(&d, sat_config(extra, workers));
	snprintf(load_out, sizeof(load_out), "%s/load.out", d.d_dir);
	load = load_start(port, SAT_CLIENTS, secs, load_out);
	sleep_ms(1000);
}

static void
sat_load_errors(long *ok, long *errors)
{
	load_wait(load, load_out, ok, errors);
	load = 0;
}

/* The banner a new connection gets now (it queues behind the load). */
static void
probe_banner(char *buf, size_t size)
{
	int	 fd;

	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", port), -1);
	ck_assert_int_gt(read_banner(fd, buf, size), 0);
	close(fd);
}


/*
 * HUP with a new banner: once the daemon logs that generation 2 took
 * over, every new connection carries the new banner, no client saw an
 * error, and both workers of generation 1 are gone.
 */
START_TEST(test_sat_hup_new_banner)
{
	char		 buf[128];
	long		 ok, errors;
	struct timespec	 t0;

	sat_start(SAT_DEBUG "greeting = { banner = \"old banner\"; };",
	    SAT_WORKERS, 8);
	daemon_write_config(&d, sat_config(SAT_DEBUG "greeting = { banner = "
	    "\"new banner\"; };", SAT_WORKERS));
	t0 = clock_now();
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2 workers=2; "
	    "generation=1 retiring", 20), "no reload in 20s:\n%s",
	    daemon_log_tail(&d));
	for (int i = 0; i < 20; i++) {
		probe_banner(buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, "new banner") == 0, "probe %d, "
		    "%.1fs after HUP: \"%s\"", i, clock_diff(t0, clock_now()),
		    buf);
	}
	ck_assert_msg(daemon_log_wait_count(&d, "generation=1 status=0 ",
	    SAT_WORKERS, 20), "generation 1 still there:\n%s", daemon_log_tail(&d));
	ck_assert(proc_wait_children(d.d_pid, SAT_WORKERS, 20));
	sat_load_errors(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
}
END_TEST

/*
 * A reload says itself once, not once per worker: at the default level
 * (info) the old generation's workers leave without a line each; at
 * debug each one's end is there.  The reload's own lines come once.
 */
static const char *const retire_levels[] = { "", SAT_DEBUG };

START_TEST(test_sat_reload_retire_lines)
{
	char	 conf[256];
	long	 ok, errors;

	snprintf(conf, sizeof(conf), "%sgreeting = { banner = \"old\"; };",
	    retire_levels[_i]);
	sat_start(conf, SAT_WORKERS, 8);
	snprintf(conf, sizeof(conf), "%sgreeting = { banner = \"new\"; };",
	    retire_levels[_i]);
	daemon_write_config(&d, sat_config(conf, SAT_WORKERS));
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2 workers=2; "
	    "generation=1 retiring", 20), "%s", daemon_log_tail(&d));
	/* Generation 1 reaped: the master would have logged each by now. */
	ck_assert_msg(proc_wait_children(d.d_pid, SAT_WORKERS, 20), "%s",
	    daemon_log_tail(&d));
	if (_i == 0)
		ck_assert_msg(daemon_log_count(&d, "worker retired") == 0,
		    "%s", daemon_log_tail(&d));
	else
		ck_assert_msg(daemon_log_wait_count(&d, "worker retired pid=",
		    SAT_WORKERS, 10), "%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "reloading "), 1);
	ck_assert_int_eq(daemon_log_count(&d, "starting generation=2 "), 1);
	ck_assert_int_eq(daemon_log_count(&d, "ready generation=2 "), 1);
	ck_assert_int_eq(daemon_log_count(&d, "reloaded generation=2 "), 1);
	sat_load_errors(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
}
END_TEST

/*
 * What "ready generation=N" promises: every connection from then on is
 * served by generation N, never by a retired worker.  Reload after
 * reload, with the pool saturated or idle (an idle old worker woken by
 * its TERM is the one that could take a connection), a probe right
 * after the line gets generation N's banner.
 */
static void
ready_promise(bool loaded, bool unprivileged)
{
	char	 extra[128], want[64], buf[128];
	int	 workers = loaded ? SAT_WORKERS : 6;

	if (unprivileged) {
		/* The master itself unprivileged, as the package runs it. */
		if (geteuid() != 0)
			return;		/* needs to become another user */
		snprintf(d.d_exe, sizeof(d.d_exe), "%s",
		    daemon_copy_program(&d, "PREFORKD", "./preforkd"));
		daemon_pre_exec = daemon_become_nobody;
	}
	snprintf(extra, sizeof(extra), "greeting = { banner = \"gen 1\"; };");
	if (loaded)
		sat_start(extra, workers, 30);
	else
		daemon_start(&d, sat_config(extra, workers));
	daemon_pre_exec = NULL;
	for (int g = 2; g <= 9; g++) {
		snprintf(extra, sizeof(extra), "greeting = { banner = "
		    "\"gen %d\"; };", g);
		daemon_write_config(&d, sat_config(extra, workers));
		ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
		snprintf(want, sizeof(want), "ready generation=%d ", g);
		ck_assert_msg(daemon_log_wait(&d, want, 30), "no \"%s\":\n%s",
		    want, daemon_log_tail(&d));
		snprintf(want, sizeof(want), "gen %d", g);
		for (int i = 0; i < 3; i++) {
			probe_banner(buf, sizeof(buf));
			ck_assert_msg(strcmp(buf, want) == 0, "after \"ready "
			    "generation=%d\", probe %d got \"%s\":\n%s", g, i,
			    buf, daemon_log_tail(&d));
		}
	}
	if (loaded) {
		load_kill(load);
		load = 0;
	}
}

START_TEST(test_sat_ready_promise)
{
	ready_promise(true, false);
}
END_TEST

START_TEST(test_idle_ready_promise)
{
	ready_promise(false, false);
}
END_TEST

/* The same reloads with the daemon unprivileged, master included. */
START_TEST(test_sat_ready_promise_unprivileged)
{
	ready_promise(true, true);
}
END_TEST

/*
 * TERM and QUIT: the daemon exits once the connections in hand are done,
 * long before the load ends or timeouts.shutdown passes, and kills
 * nobody: every worker exits 0.
 */
static const int stop_signals[] = { SIGTERM, SIGQUIT };

START_TEST(test_sat_graceful_stop)
{
	int	 status;

	sat_start(SAT_DEBUG "timeouts = { shutdown = 120.0; };", SAT_WORKERS,
	    60);
	status = daemon_stop(&d, stop_signals[_i], 30);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	ck_assert_msg(strstr(daemon_log(&d), "killing") == NULL, "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "worker retired pid="),
	    SAT_WORKERS);
	ck_assert_int_eq(daemon_log_count(&d, "generation=1 status=0 "),
	    SAT_WORKERS);
	ck_assert_int_eq(tcp_connect("127.0.0.1", port), -1);
}
END_TEST

/*
 * The same with the daemon unprivileged from the start, master included
 * (no capability: the kernel refuses it a socket filter on a TCP socket).
 * Every client in hand or already queued is served, none is reset: the
 * load sees no error.  A test client holds one worker, so that the port
 * stays open until the load is stopped: the clients that tried after the
 * stop began wait unanswered until then (refused later, they would count
 * as errors).  The other worker serves the queue and leaves.
 */
START_TEST(test_sat_stop_unprivileged)
{
	char	 buf[128];
	long	 ok, errors;
	int	 fd, status;

	if (geteuid() != 0)
		return;		/* needs to become another user */
	snprintf(d.d_exe, sizeof(d.d_exe), "%s",
	    daemon_copy_program(&d, "PREFORKD", "./preforkd"));
	daemon_pre_exec = daemon_become_nobody;
	sat_start(SAT_DEBUG "timeouts = { read = 60.0; shutdown = 120.0; };",
	    SAT_WORKERS, 60);
	daemon_pre_exec = NULL;
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", port), -1);
	ck_assert_int_gt(read_banner(fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(kill(d.d_pid, stop_signals[_i]), 0);
	ck_assert_msg(daemon_log_wait(&d, "worker retired pid=", 30), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(kill(load, SIGTERM), 0);
	sat_load_errors(&ok, &errors);
	ck_assert_int_eq(send(fd, "held", 5, MSG_NOSIGNAL), 5);
	ck_assert_int_eq(recv(fd, buf, sizeof(buf), 0), 0);
	close(fd);
	status = daemon_wait(&d, 30);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x:\n%s", status, daemon_log_tail(&d));
	ck_assert_int_gt(ok, 0);
	ck_assert_msg(errors == 0, "%ld errors, %ld served:\n%s", errors, ok,
	    daemon_log_tail(&d));
	ck_assert(strstr(daemon_log(&d), "shutting it down") == NULL);
	ck_assert(strstr(daemon_log(&d), "killing") == NULL);
	ck_assert_int_eq(daemon_log_count(&d, "generation=1 status=0 "),
	    SAT_WORKERS);
}
END_TEST

/* INT: now, connections in hand or not. */
START_TEST(test_sat_fast_stop)
{
	pid_t	 kids[8];
	size_t	 n;
	int	 status;

	sat_start("timeouts = { shutdown = 120.0; };", SAT_WORKERS, 60);
	n = proc_children(d.d_pid, kids, 8);
	status = daemon_stop(&d, SIGINT, 30);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (size_t i = 0; i < n; i++)
		ck_assert(!proc_alive(kids[i]));
}
END_TEST

/* TTOU twice: two busy workers leave after their connection in hand. */
START_TEST(test_sat_ttou)
{
	long	 ok, errors;

	sat_start(SAT_DEBUG "timeouts = { shutdown = 120.0; };", 3, 8);
	ck_assert_int_eq(kill(d.d_pid, SIGTTOU), 0);
	ck_assert(daemon_log_wait(&d, "workers=2 (one less on TTOU)", 10));
	ck_assert_int_eq(kill(d.d_pid, SIGTTOU), 0);
	ck_assert(daemon_log_wait(&d, "workers=1 (one less on TTOU)", 10));
	ck_assert_msg(daemon_log_wait_count(&d, "worker retired pid=", 2, 5),
	    "%s", daemon_log_tail(&d));
	ck_assert(proc_wait_children(d.d_pid, 1, 20));
	sat_load_errors(&ok, &errors);
	ck_assert_int_eq(errors, 0);
	ck_assert(strstr(daemon_log(&d), "killing") == NULL);
}
END_TEST

/*
 * A valid reload whose workers cannot start (they cannot drop privileges
 * in a user namespace, and exit 78) is rolled back: the daemon keeps
 * running the old generation, every client is served, the old banner
 * stays, and a later TERM still stops it cleanly.
 */
START_TEST(test_sat_reload_rollback)
{
	const char *const prefix[] = { "unshare", "--user", "--map-root-user",
	    NULL };
	char		 buf[128], want[64];
	long		 ok, errors;
	int		 status;

	daemon_launch(&d, sat_config("greeting = { banner = \"old\"; };",
	    SAT_WORKERS), NULL, prefix);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=1", 20), "%s",
	    daemon_log_tail(&d));
	snprintf(load_out, sizeof(load_out), "%s/load.out", d.d_dir);
	load = load_start(port, SAT_CLIENTS, 8, load_out);
	sleep_ms(1000);
	daemon_write_config(&d, sat_config("greeting = { banner = \"new\"; };"
	    "\nuser = \"nobody\";", SAT_WORKERS));
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reload failed: generation=2 "
	    "cannot run with the new configuration", 20), "%s",
	    daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, "generation=1 keeps serving", 5));
	probe_banner(buf, sizeof(buf));
	ck_assert_str_eq(buf, "old");
	/* A second reload that cannot start either: still running. */
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert(daemon_log_wait(&d, "reload failed: generation=3 ", 20));
	sat_load_errors(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
	ck_assert(proc_alive(d.d_pid));
	snprintf(want, sizeof(want), "exiting status=%d", EX_CONFIG);
	ck_assert(strstr(daemon_log(&d), want) == NULL);
	status = daemon_stop(&d, SIGTERM, 30);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x:\n%s", status, daemon_log_tail(&d));
}
END_TEST

/* Room for exactly nobody_room processes: the daemon runs as a uid of
 * its own (no other process has it, so none of theirs counts against
 * RLIMIT_NPROC), in nobody's group, with that limit. */
static int	nobody_room;

static void
as_nobody_with_room(void)
{
	struct passwd	*pw = getpwnam("nobody");
	struct rlimit	 rl;
	uid_t		 uid = (uid_t)(2000000000u + (unsigned)getpid() % 100000);

	if (pw == NULL)
		_exit(126);
	rl.rlim_cur = rl.rlim_max = (rlim_t)nobody_room;
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(uid) == -1 || setrlimit(RLIMIT_NPROC, &rl) == -1)
		_exit(126);
}

/*
 * A reload whose generation never gets ready (here fork() is refused for
 * the second new worker: the daemon runs as a uid of its own with room
 * for only one more process) is rolled back after its deadline, and in the
 * meantime the new worker that did start has served nobody: every probe
 * gets the old banner, before and after the rollback.
 */
START_TEST(test_sat_rollback_never_served)
{
	char		 buf[128];
	long		 ok, errors;
	int		 probes = 0;

	if (geteuid() != 0)
		return;		/* needs to become another user */
	setenv("PREFORKD", daemon_copy_program(&d, "PREFORKD", "./preforkd"),
	    1);
	nobody_room = 1 + SAT_WORKERS + 1;	/* master, pool, one more */
	daemon_pre_exec = as_nobody_with_room;
	sat_start("greeting = { banner = \"old\"; };", SAT_WORKERS, 20);
	daemon_pre_exec = NULL;
	daemon_write_config(&d, sat_config("greeting = { banner = \"new\"; };",
	    SAT_WORKERS));
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "starting generation=2", 20), "%s",
	    daemon_log_tail(&d));
	while (strstr(daemon_log(&d), "reload failed: generation=2 ") ==
	    NULL && probes < 400) {
		probe_banner(buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, "old") == 0, "probe %d got \"%s\":\n%s",
		    probes, buf, daemon_log_tail(&d));
		probes++;
		sleep_ms(50);
	}
	ck_assert_msg(daemon_log_wait(&d, "reload failed: generation=2 was "
	    "not ready within", 30), "%s", daemon_log_tail(&d));
	ck_assert(strstr(daemon_log(&d), "fork: Resource temporarily "
	    "unavailable") != NULL);
	probe_banner(buf, sizeof(buf));
	ck_assert_str_eq(buf, "old");
	sat_load_errors(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
}
END_TEST

/*
 * 50 HUPs in 5 s under saturation: nobody sees an error, generations
 * never pile up, and the daemon settles on the generation that matches
 * the reloads it logged (HUPs that arrive together are one reload).
 */
START_TEST(test_sat_reload_storm)
{
	long	 ok, errors;
	int	 gen;

	sat_start("", SAT_WORKERS, 7);
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
		sleep_ms(100);
	}
	sat_load_errors(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_int_eq(errors, 0);
	gen = daemon_settled_generation(&d, 30);
	ck_assert_msg(gen >= 2, "%s", daemon_log_tail(&d));
	ck_assert(strstr(daemon_log(&d), "reload failed") == NULL);
	ck_assert(strstr(daemon_log(&d), "scoreboard slots") == NULL);
	ck_assert_msg(proc_wait_children(d.d_pid, SAT_WORKERS, 20),
	    "generations pile up:\n%s", daemon_log_tail(&d));
}
END_TEST

/*
 * A retired worker still busy timeouts.shutdown after its retirement is
 * killed, and the log says so.  Here it holds a client that says nothing
 * (timeouts.read is far longer).
 */
START_TEST(test_sat_retire_deadline)
{
	char	 buf[128];
	int	 fd;

	daemon_start(&d, sat_config(SAT_DEBUG "timeouts = { read = 120.0; "
	    "shutdown = 1.0; };", 1));
	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", port), -1);
	ck_assert_int_gt(read_banner(fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert(daemon_log_wait(&d, "reloaded generation=2", 20));
	ck_assert_msg(daemon_log_wait(&d, "generation=1 still busy after its "
	    "retirement deadline; killing it", 20), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_le(read_all(fd, buf, sizeof(buf)), 0);
	close(fd);
	ck_assert(daemon_log_wait(&d, "generation=1 signal=9 (Killed)", 10));
	probe_banner(buf, sizeof(buf));
}
END_TEST

static void
kill_children(int signo)
{
	pid_t	 kids[16];
	size_t	 n = proc_children(d.d_pid, kids, 16);

	for (size_t i = 0; i < n; i++)
		kill(kids[i], signo);
}

/* The first new child of the daemon that is not in old[]. */
static pid_t
wait_new_child(const pid_t *old, size_t nold, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	pid_t		 kids[16];
	size_t		 n, i, j;

	do {
		n = proc_children(d.d_pid, kids, 16);
		for (i = 0; i < n; i++) {
			for (j = 0; j < nold && old[j] != kids[i]; j++)
				;
			if (j == nold)
				return kids[i];
		}
		sleep_ms(1);
	} while (clock_ms_until(end) > 0);
	return -1;
}

/*
 * Back-off per crash event: four workers that crash together (young) are
 * one event, one delay, and the pool refills at once after it.  After a
 * quiet period, a new crash starts from the first delay again.  (The
 * crash loop that keeps backing off is the lifecycle suite's.)
 */
START_TEST(test_sat_crash_burst_one_event)
{
	pid_t	 kids[16], fresh;
	size_t	 n;

	daemon_launch(&d, sat_config("", 4), NULL, NULL);
	ck_assert(proc_wait_children(d.d_pid, 4, 20));
	kill_children(SIGSEGV);
	ck_assert(daemon_log_wait(&d, "ready generation=1", 20));
	ck_assert_msg(daemon_log_wait_count(&d,
	    "died young, respawning in 0.1s", 1, 20) ||
	    daemon_log_wait_count(&d, "; respawning", 4, 1), "%s",
	    daemon_log_tail(&d));
	ck_assert(daemon_log_wait_count(&d, "worker exited pid=", 4, 20));
	ck_assert(proc_wait_children(d.d_pid, 4, 20));
	ck_assert_msg(strstr(daemon_log(&d), "respawning in 0.2s") == NULL,
	    "one burst, growing delays:\n%s", daemon_log_tail(&d));
	/* Quiet for longer than the decay period, then one young crash. */
	sleep_ms(6000);
	n = proc_children(d.d_pid, kids, 16);
	kill(kids[0], SIGKILL);
	ck_assert_int_gt(fresh = wait_new_child(kids, n, 20), 0);
	kill(fresh, SIGSEGV);
	ck_assert(daemon_log_wait_count(&d, "worker exited pid=", 6, 20));
	ck_assert(proc_wait_children(d.d_pid, 4, 20));
	ck_assert_msg(strstr(daemon_log(&d), "respawning in 0.2s") == NULL,
	    "no decay:\n%s", daemon_log_tail(&d));
}
END_TEST

/*
 * kill -9 of a master whose workers run as another user, under load: the
 * workers die with it (the parent-death signal survives the privilege
 * drop) and the port is free again.
 */
START_TEST(test_sat_master_killed_user)
{
	struct sockaddr_in	 sin;
	struct timespec		 end;
	pid_t			 kids[8];
	size_t			 n;
	bool			 any, bound = false;
	int			 fd;

	if (geteuid() != 0)
		return;		/* needs to become another user */
	sat_start("user = \"nobody\";", SAT_WORKERS, 8);
	n = proc_children(d.d_pid, kids, 8);
	ck_assert_uint_eq(n, SAT_WORKERS);
	daemon_stop(&d, SIGKILL, 10);
	end = clock_after(clock_now(), 10);
	do {
		any = false;
		for (size_t i = 0; i < n; i++)
			any = any || proc_alive(kids[i]);
		sleep_ms(10);
	} while (any && clock_ms_until(end) > 0);
	for (size_t i = 0; i < n; i++)
		kill(kids[i], SIGKILL);		/* whatever the outcome */
	ck_assert_msg(!any, "a worker outlived its master");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* As a new preforkd would: SO_REUSEADDR, since the connections the
	 * old one closed linger in TIME_WAIT; only a listener is in the way. */
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 },
	    sizeof(int)), 0);
	end = clock_after(clock_now(), 10);
	do {
		bound = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		if (!bound)
			sleep_ms(10);
	} while (!bound && clock_ms_until(end) > 0);
	ck_assert_msg(bound, "port still taken: %s", strerror(errno));
	ck_assert_int_eq(listen(fd, 1), 0);
	close(fd);
}
END_TEST

Suite *
saturation_suite(void)
{
	Suite	*s = suite_create("saturation");
	TCase	*tc = tcase_create("saturated");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sat_hup_new_banner);
	tcase_add_loop_test(tc, test_sat_reload_retire_lines, 0,
	    sizeof(retire_levels) / sizeof(retire_levels[0]));
	tcase_add_test(tc, test_sat_ready_promise);
	tcase_add_test(tc, test_idle_ready_promise);
	tcase_add_test(tc, test_sat_ready_promise_unprivileged);
	tcase_add_loop_test(tc, test_sat_graceful_stop, 0,
	    (int)(sizeof(stop_signals) / sizeof(stop_signals[0])));
	tcase_add_loop_test(tc, test_sat_stop_unprivileged, 0,
	    (int)(sizeof(stop_signals) / sizeof(stop_signals[0])));
	tcase_add_test(tc, test_sat_fast_stop);
	tcase_add_test(tc, test_sat_ttou);
	tcase_add_test(tc, test_sat_reload_rollback);
	tcase_add_test(tc, test_sat_rollback_never_served);
	tcase_add_test(tc, test_sat_reload_storm);
	tcase_add_test(tc, test_sat_retire_deadline);
	tcase_add_test(tc, test_sat_crash_burst_one_event);
	tcase_add_test(tc, test_sat_master_killed_user);
	tcase_set_timeout(tc, 180);
	suite_add_tcase(s, tc);
	return s;
}
