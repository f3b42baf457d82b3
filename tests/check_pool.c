/* SPDX-License-Identifier: ISC */
/*
 * check_pool.c - the adaptive, defended pool against the real daemon:
 * growth for clients that hold workers, shrinking back, the per-source
 * limit, shedding when full (silent clients, clients that take nothing of
 * what they are sent, a pool made smaller by TTOU), TCP_DEFER_ACCEPT for a
 * client-first service, recycling after max_connections (served ones
 * only), hung workers replaced, the bound on lines a client can provoke.
 *
 * Every assertion is on what the daemon did (its log, its children in
 * /proc, what a client received), never on how fast it did it; the
 * deadlines only bound a test that would otherwise hang.  Where a
 * behaviour has a saturated counterpart, the accept queue is kept full
 * by the closed-loop load generator.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

#define POOL_SILENT_MAX	64
#define POOL_CLIENTS	64	/* closed-loop clients when saturated */

static struct daemon	 d;
static int		 silent[POOL_SILENT_MAX];
static int		 nsilent;
static pid_t		 load;
static char		 load_out[192];

static void
setup(void)
{
	nsilent = 0;
	load = 0;
}

static void
close_silent(void)
{
	for (int i = 0; i < nsilent; i++)
		close(silent[i]);
	nsilent = 0;
}

static void
teardown(void)
{
	if (load > 0)
		load_kill(load);
	load = 0;
	close_silent();
	daemon_cleanup(&d);
}

/* n silent clients, two per source address from 127.0.0.2 on. */
static void
open_silent(int n, int rcv_secs)
{
	char	 src[32];

	ck_assert_int_le(nsilent + n, POOL_SILENT_MAX);
	for (int i = 0; i < n; i++, nsilent++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + nsilent / 2);
		silent[nsilent] = tcp_connect_from(src, d.d_port, rcv_secs);
	}
}

static size_t
children(void)
{
	pid_t	 pids[256];

	return proc_children(d.d_pid, pids, 256);
}

/* Wait until the daemon has exactly n workers, or at least n (bounded). */
static bool
wait_workers(size_t n, bool at_least, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	size_t		 now;

	do {
		now = children();
		if (now == n || (at_least && now > n))
			return true;
		sleep_ms(50);
	} while (clock_ms_until(end) > 0);
	return false;
}

static bool
wait_children(size_t n, double secs)
{
	return wait_workers(n, false, secs);
}


/* A fresh client from 127.0.0.1 gets the whole banner. */
static void
assert_banner(int rcv_secs)
{
	char	 buf[64];
	int	 fd = tcp_connect_from("127.0.0.1", d.d_port, rcv_secs);

	ck_assert_msg(read_banner(fd, buf, sizeof(buf)) == 28 &&
	    strcmp(buf, "Welcome to Network Server!!") == 0,
	    "no banner for a fresh client; log:\n%s", daemon_log_tail(&d));
	close(fd);
}

/* The number in " key=N" of the daemon's "-s status" (its control
 * socket configured), or -1. */
static long
status_number(const char *key)
{
	static char	 out[16384];
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c",
	    d.d_conf, "-s", "status", NULL };
	char		 field[64];
	const char	*p;

	snprintf(field, sizeof(field), " %s=", key);
	ck_assert_int_eq(run_capture(argv, out, sizeof(out)), 0);
	if ((p = strstr(out, field)) == NULL)
		return -1;
	return strtol(p + strlen(field), NULL, 10);
}

/*
 * A client from src that sends and never reads: its buffers are made
 * small, then it sends until nothing more is taken for half a second
 * (bounded), so that the worker echoing to it is left waiting to write.
 */
static int
connect_stuffer(const char *src, int port)
{
	static char		 chunk[65536];
	struct sockaddr_in	 sin;
	struct timespec		 end;
	int			 fd, size = 4096, still = 0;
	ssize_t			 n;

	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    -1);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, src, &sin.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sin.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr), 1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	ck_assert_int_ne(fcntl(fd, F_SETFL, O_NONBLOCK), -1);
	memset(chunk, 'w', sizeof(chunk));
	end = clock_after(clock_now(), 15);
	while (still < 10 && clock_ms_until(end) > 0) {
		n = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
		if (n > 0) {
			still = 0;
			continue;
		}
		ck_assert_msg(n == -1 && errno == EAGAIN, "send: %s",
		    strerror(errno));
		still++;
		sleep_ms(50);
	}
	return fd;
}

static void
start_load(int conns, double secs)
{
	snprintf(load_out, sizeof(load_out), "%s/load.out", d.d_dir);
	load = load_start(d.d_port, conns, secs, load_out);
	sleep_ms(1000);		/* the queue is full from here on */
}

static void
wait_load(long *ok, long *errors)
{
	load_wait(load, load_out, ok, errors);
	load = 0;
}

#define POOL_DYNAMIC	"pool = { min = 2; max = 16; idle_min = 2; " \
	"idle_max = 3; };\nlimits = { per_source = 0; };\n" \
	"timeouts = { read = 30.0; connection = 40.0; hung = 50.0; };\n"

/*
 * Six silent clients hold six workers: the pool grows to hold them and
 * keep idle_min for everyone else (8), a fresh client is served at once,
 * and once they leave the pool shrinks back to idle_max idle workers.
 */
START_TEST(test_grows_and_shrinks)
{
	daemon_start(&d, POOL_DYNAMIC);
	ck_assert(wait_children(2, 20));
	open_silent(6, 60);
	ck_assert_msg(wait_children(8, 20), "%zu workers; log:\n%s",
	    children(), daemon_log_tail(&d));
	ck_assert(daemon_log_count(&d, "pool growing") >= 1);
	assert_banner(20);
	close_silent();
	ck_assert_msg(daemon_log_wait_count(&d, "pool shrinking", 1, 30), "%s",
	    daemon_log_tail(&d));
	ck_assert_msg(wait_children(3, 30), "%zu workers; log:\n%s",
	    children(), daemon_log_tail(&d));
	/* It stops at idle_max, never below min. */
	sleep_ms(2000);
	ck_assert_int_eq(children(), 3);
}
END_TEST

/* The same with the accept queue full of fast clients: they never
 * wait for the held workers, and none of their connections fails. */
START_TEST(test_grows_saturated)
{
	long	 ok, errors;

	daemon_start(&d, POOL_DYNAMIC);
	ck_assert(wait_children(2, 20));
	start_load(POOL_CLIENTS, 6);
	open_silent(6, 60);
	ck_assert_msg(wait_workers(8, true, 30), "%zu workers; log:\n%s",
	    children(), daemon_log_tail(&d));
	ck_assert(daemon_log_count(&d, "pool growing") >= 1);
	assert_banner(20);
	wait_load(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_msg(errors == 0, "%ld errors", errors);
	close_silent();
	ck_assert_msg(daemon_log_wait_count(&d, "pool shrinking", 1, 30), "%s",
	    daemon_log_tail(&d));
}
END_TEST

/*
 * Ten silent connections from 127.0.0.2 with per_source = 2: at most two
 * of them get a worker (a banner), the others are closed at once, and a
 * client from 127.0.0.1 is served.
 */
START_TEST(test_per_source_limit)
{
	char	 buf[64];
	int	 fds[10], served = 0, refused = 0;

	daemon_start(&d, "workers = 4;\nlimits = { per_source = 2; };\n"
	    "timeouts = { read = 30.0; connection = 40.0; };\n");
	for (int i = 0; i < 10; i++)
		fds[i] = tcp_connect_from("127.0.0.2", d.d_port, 20);
	for (int i = 0; i < 10; i++) {
		if (read_banner(fds[i], buf, sizeof(buf)) == 28)
			served++;
		else
			refused++;
	}
	ck_assert_msg(served >= 1 && served <= 2 && refused >= 8,
	    "served=%d refused=%d; log:\n%s", served, refused,
	    daemon_log_tail(&d));
	assert_banner(20);
	ck_assert(daemon_log_wait(&d, "per-source limit: refused "
	    "peer=127.0.0.2:", 10));
	for (int i = 0; i < 10; i++)
		close(fds[i]);
}
END_TEST

/* One client from src served to the end: a banner, a message, the
 * server's close. */
static bool
served_from(const char *src)
{
	char	 buf[64];
	int	 fd = tcp_connect_from(src, d.d_port, 20);
	bool	 ok;

	ok = read_banner(fd, buf, sizeof(buf)) == 28 &&
	    write(fd, "hi\n", 3) == 3 && read(fd, buf, sizeof(buf)) == 0;
	close(fd);
	return ok;
}

/*
 * A worker's source counts while it serves, not after: with per_source =
 * 1, a client from 127.0.0.2 served to the end by one worker does not
 * stop the other from serving the next.  The first idle worker takes
 * each connection, so it is held (from 127.0.0.3) while the second
 * serves 127.0.0.2, then let go to take the next ones itself.
 */
START_TEST(test_per_source_forgets)
{
	char	 buf[64];
	int	 hold;

	/* log.empty: the held client leaves without a word, and its line
	 * says the first worker is done with it. */
	daemon_start(&d, "workers = 2;\nlimits = { per_source = 1; };\n"
	    "timeouts = { read = 30.0; connection = 40.0; };\n"
	    "log = { empty = true; };\n");
	hold = tcp_connect_from("127.0.0.3", d.d_port, 20);
	ck_assert_int_eq(read_banner(hold, buf, sizeof(buf)), 28);
	ck_assert_msg(served_from("127.0.0.2"), "log:\n%s",
	    daemon_log_tail(&d));
	close(hold);
	ck_assert(daemon_log_wait(&d, "no message peer=127.0.0.3:", 10));
	/* Back in its wait, the first idle worker again. */
	usleep(300000);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(served_from("127.0.0.2"), "connection %d; "
		    "log:\n%s", i, daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "per-source limit"), 0);
}
END_TEST

/*
 * Two workers, both held by silent clients for 30 s: a third client
 * waits in the accept queue, so the master sheds the most silent one and
 * the third is served long before any read timeout.  The shed client
 * sees its connection closed.
 */
START_TEST(test_shedding)
{
	char	 buf[64];
	int	 fresh, shed = 0;

	daemon_start(&d, "workers = 2;\nlimits = { per_source = 0; };\n"
	    "timeouts = { read = 30.0; connection = 40.0; hung = 50.0; };\n");
	open_silent(2, 25);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(read_banner(silent[i], buf, sizeof(buf)), 28);
	sleep_ms(1200);		/* silent for longer than the shed floor */
	fresh = tcp_connect_from("127.0.0.1", d.d_port, 25);
	ck_assert_msg(read_banner(fresh, buf, sizeof(buf)) == 28,
	    "log:\n%s", daemon_log_tail(&d));
	close(fresh);
	ck_assert(daemon_log_wait(&d, "shedding peer=127.0.0.2:", 10));
	for (int i = 0; i < 2; i++)
		if (read_all(silent[i], buf, sizeof(buf)) == 0)
			shed++;
	ck_assert_int_ge(shed, 1);
	ck_assert_int_eq(daemon_log_count(&d, "shedding peer=127.0.0.1:"), 0);
}
END_TEST

/*
 * workers = 4, then two TTOUs: the pool is full at two, not at the four
 * of the file.  Two silent clients hold both workers, and a third client
 * is served because the master sheds one of them, as for workers = 2.
 */
START_TEST(test_shedding_after_ttou)
{
	char	 buf[64], want[64];
	int	 fresh;

	daemon_start(&d, "workers = 4;\nlimits = { per_source = 0; };\n"
	    "timeouts = { read = 60.0; connection = 70.0; hung = 80.0; };\n");
	ck_assert(wait_children(4, 20));
	for (int n = 3; n >= 2; n--) {
		ck_assert_int_eq(kill(d.d_pid, SIGTTOU), 0);
		snprintf(want, sizeof(want), "workers=%d (one less on TTOU)",
		    n);
		ck_assert_msg(daemon_log_wait(&d, want, 10), "%s",
		    daemon_log_tail(&d));
	}
	ck_assert(wait_children(2, 20));
	open_silent(2, 50);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(read_banner(silent[i], buf, sizeof(buf)), 28);
	sleep_ms(1200);		/* silent for longer than the shed floor */
	/* Well short of the silent ones' read timeout. */
	fresh = tcp_connect_from("127.0.0.1", d.d_port, 40);
	ck_assert_msg(read_banner(fresh, buf, sizeof(buf)) == 28,
	    "log:\n%s", daemon_log_tail(&d));
	close(fresh);
	ck_assert_msg(daemon_log_wait(&d, "shedding peer=127.0.0.2:", 10),
	    "%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "shedding peer=127.0.0.1:"), 0);
}
END_TEST

/*
 * echo with pool.max = 3: clients that send a lot and never read hold
 * every worker writing back to them.  Taking no data is no progress:
 * they are shed like silent clients, and a client from another address
 * is echoed long before the write timeout; the status counts the shed.
 */
START_TEST(test_shedding_writers)
{
	char	 extra[512], src[32], buf[16];
	int	 fresh;

	daemon_write_config(&d, NULL);
	snprintf(extra, sizeof(extra), "service = \"echo\";\n"
	    "pool = { min = 2; max = 3; idle_min = 1; idle_max = 2; };\n"
	    "limits = { per_source = 0; };\ncontrol = \"%s/control\";\n"
	    "timeouts = { read = 60.0; write = 60.0; connection = 70.0; "
	    "hung = 80.0; };\n", d.d_dir);
	daemon_start(&d, extra);
	for (int i = 0; i < 5; i++, nsilent++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + i);
		silent[nsilent] = connect_stuffer(src, d.d_port);
	}
	fresh = tcp_connect_from("127.0.0.1", d.d_port, 40);
	ck_assert_int_eq(send(fresh, "ping", 4, MSG_NOSIGNAL), 4);
	ck_assert_msg(recv(fresh, buf, sizeof(buf), 0) == 4 &&
	    memcmp(buf, "ping", 4) == 0, "no echo; log:\n%s",
	    daemon_log_tail(&d));
	close(fresh);
	ck_assert_msg(daemon_log_wait(&d, "wait=writing silent=", 10), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "shedding peer=127.0.0.1:"), 0);
	ck_assert_msg(status_number("shed") > 0, "%s", daemon_log_tail(&d));
}
END_TEST

/* Saturated: the load's fast clients are never shed, the silent ones
 * are, and the load loses no connection to it. */
START_TEST(test_shedding_saturated)
{
	long	 ok, errors;
	char	 buf[64];

	daemon_start(&d, "workers = 2;\nlimits = { per_source = 0; };\n"
	    "timeouts = { read = 30.0; connection = 40.0; hung = 50.0; };\n");
	open_silent(2, 25);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(read_banner(silent[i], buf, sizeof(buf)), 28);
	start_load(POOL_CLIENTS, 4);
	ck_assert_msg(daemon_log_wait_count(&d, "shedding peer=127.0.0.2:",
	    2, 20), "%s", daemon_log_tail(&d));
	wait_load(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_msg(errors == 0, "%ld errors", errors);
	ck_assert_int_eq(daemon_log_count(&d, "shedding peer=127.0.0.1:"), 0);
}
END_TEST

/*
 * echo speaks only when spoken to: with TCP_DEFER_ACCEPT a silent client
 * never reaches the only worker, so a second client is echoed at once
 * while the first is still connected and waiting.
 */
START_TEST(test_defer_accept)
{
	char	 buf[16];
	int	 quiet, talker;

	daemon_start(&d, "workers = 1;\nservice = \"echo\";\n"
	    "timeouts = { read = 30.0; connection = 40.0; hung = 50.0; };\n");
	quiet = tcp_connect_from("127.0.0.2", d.d_port, 1);
	sleep_ms(300);
	talker = tcp_connect_from("127.0.0.1", d.d_port, 20);
	ck_assert_int_eq(send(talker, "ping", 4, MSG_NOSIGNAL), 4);
	ck_assert_msg(recv(talker, buf, sizeof(buf), 0) == 4 &&
	    memcmp(buf, "ping", 4) == 0, "no echo; log:\n%s",
	    daemon_log_tail(&d));
	close(talker);
	/* The quiet one is still open: nobody accepted it to time it out. */
	errno = 0;
	ck_assert_int_eq(recv(quiet, buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	ck_assert_int_eq(daemon_log_count(&d, "peer=127.0.0.2:"), 0);
	/* Once it speaks, it is served like anyone. */
	ck_assert_int_eq(send(quiet, "hi", 2, MSG_NOSIGNAL), 2);
	ck_assert_int_eq(recv(quiet, buf, sizeof(buf), 0), 2);
	close(quiet);
}
END_TEST

/* max_connections: each worker retires after its share and is replaced;
 * under a saturating load not one connection fails. */
START_TEST(test_recycling_saturated)
{
	long	 ok, errors;

	daemon_start(&d, "workers = 2;\nmax_connections = 200;\n");
	start_load(POOL_CLIENTS, 4);
	ck_assert_msg(daemon_log_wait_count(&d, "worker recycled pid=",
	    4, 30), "%s", daemon_log_tail(&d));
	wait_load(&ok, &errors);
	ck_assert_int_gt(ok, 0);
	ck_assert_msg(errors == 0, "%ld errors", errors);
	ck_assert_msg(daemon_log_count(&d, "exited") == 0, "%s",
	    daemon_log_tail(&d));
}
END_TEST

/*
 * max_connections counts connections served: a dozen refused by the
 * access rules neither recycle the worker nor count as served; its fifth
 * served connection recycles it.
 */
START_TEST(test_recycling_counts_served)
{
	pid_t	 first[4], now[4];
	char	 buf[64], want[96];
	int	 fd;

	daemon_start(&d, "workers = 1;\nmax_connections = 5;\n"
	    "access = [ \"deny 127.0.0.2\", \"allow all\" ];\n");
	ck_assert_int_eq(proc_children(d.d_pid, first, 4), 1);
	for (int i = 0; i < 12; i++) {
		fd = tcp_connect_from("127.0.0.2", d.d_port, 10);
		ck_assert_int_le(read_all(fd, buf, sizeof(buf)), 0);
		close(fd);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(greet(d.d_port, "x", 2), 0);
	ck_assert_int_eq(proc_children(d.d_pid, now, 4), 1);
	ck_assert_msg(now[0] == first[0], "replaced; log:\n%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "worker recycled"), 0);
	ck_assert_int_eq(greet(d.d_port, "x", 2), 0);
	snprintf(want, sizeof(want), "worker recycled pid=%ld served=5 ",
	    (long)first[0]);
	ck_assert_msg(daemon_log_wait(&d, want, 10), "%s",
	    daemon_log_tail(&d));
}
END_TEST

/* Recycling is logged as such, not as a worker that died. */
START_TEST(test_recycling_logged)
{
	daemon_start(&d, "workers = 1;\nmax_connections = 5;\n");
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(greet(d.d_port, "x", 2), 0);
	ck_assert_msg(daemon_log_wait_count(&d, "worker recycled pid=",
	    2, 10), "%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "exited"), 0);
	ck_assert(wait_children(1, 10));
}
END_TEST

/* A worker stopped while idle shows no sign of life: killed, logged as
 * hung, replaced.  A worker killed from outside is not called hung. */
START_TEST(test_hung_idle)
{
	pid_t	 pids[4];

	char	 want[64];

	daemon_start(&d, "workers = 2;\ntimeouts = { read = 0.5; write = 0.5; "
	    "connection = 1.0; hung = 4.0; };\n");
	ck_assert_int_eq(proc_children(d.d_pid, pids, 4), 2);
	ck_assert_int_eq(kill(pids[0], SIGSTOP), 0);
	ck_assert_msg(daemon_log_wait(&d, "killed hung worker pid=", 20),
	    "%s", daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, "killed as hung", 10));
	ck_assert(wait_children(2, 10));
	ck_assert(!proc_alive(pids[0]));
	ck_assert_int_eq(kill(pids[1], SIGKILL), 0);
	snprintf(want, sizeof(want), "worker exited pid=%ld signal=9",
	    (long)pids[1]);
	ck_assert_msg(daemon_log_wait(&d, want, 10), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "killed hung worker"), 1);
	assert_banner(20);
}
END_TEST

/* Stopped in the middle of a connection, under a full queue: killed,
 * logged with its peer, replaced; the pool keeps serving. */
START_TEST(test_hung_busy_saturated)
{
	pid_t	 pids[4];
	char	 buf[64];
	int	 fd;

	daemon_start(&d, "workers = 2;\nlimits = { per_source = 0; };\n"
	    "timeouts = { read = 5.0; connection = 6.0; hung = 9.0; };\n");
	fd = tcp_connect_from("127.0.0.2", d.d_port, 20);
	ck_assert_int_eq(read_banner(fd, buf, sizeof(buf)), 28);
	ck_assert_int_eq(proc_children(d.d_pid, pids, 4), 2);
	/* Stop both while one is busy with 127.0.0.2 and the other idle;
	 * then fill the queue: both are hung, nobody can be shed. */
	ck_assert_int_eq(kill(pids[0], SIGSTOP), 0);
	ck_assert_int_eq(kill(pids[1], SIGSTOP), 0);
	start_load(POOL_CLIENTS, 3);
	ck_assert_msg(daemon_log_wait_count(&d, "killed hung worker pid=",
	    2, 30), "%s", daemon_log_tail(&d));
	ck_assert_msg(daemon_log_count(&d, "busy=") >= 1 &&
	    daemon_log_count(&d, "peer=127.0.0.2:") >= 1, "%s",
	    daemon_log_tail(&d));
	ck_assert(wait_children(2, 10));
	/* Its clients met stopped workers: whatever it counted, it only
	 * kept the queue full. */
	load_kill(load);
	load = 0;
	close(fd);
	assert_banner(20);
}
END_TEST

/* USR2 asks a worker to shed its client; sent to the master it means
 * nothing, and must not stop the daemon. */
START_TEST(test_usr2_to_master)
{
	daemon_start(&d, "workers = 1;\n");
	ck_assert_int_eq(kill(d.d_pid, SIGUSR2), 0);
	ck_assert_int_eq(greet(d.d_port, "still", 6), 0);
	ck_assert(proc_alive(d.d_pid));
	ck_assert(wait_children(1, 10));
}
END_TEST

/*
 * A client that connects and closes without a word, thousands of times:
 * the lines about it (logged at all with log.empty) stay within the
 * per-source budget (2 a second per worker), and what was held back is
 * counted.
 */
START_TEST(test_log_flood_bounded)
{
	struct timespec	 start = clock_now();
	double		 secs;
	int		 lines, fd;

	daemon_start(&d, "workers = 2;\nlimits = { per_source = 0; };\n"
	    "log = { empty = true; };\n");
	for (int i = 0; i < 3000 && clock_diff(start, clock_now()) < 3; i++) {
		fd = tcp_connect_from("127.0.0.3", d.d_port, 5);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	sleep_ms(500);
	secs = clock_diff(start, clock_now());
	assert_banner(20);
	lines = daemon_log_count(&d, "peer=127.0.0.3:");
	ck_assert_msg(lines >= 1 && lines <= 2 * 2 * ((int)secs + 2),
	    "%d lines in %.1fs", lines, secs);
	/* The counts come with the next line let through. */
	for (int i = 0; i < 4; i++) {
		sleep_ms(1100);
		fd = tcp_connect_from("127.0.0.3", d.d_port, 5);
		close(fd);
	}
	ck_assert_msg(daemon_log_wait_count(&d, "more suppressed", 1, 10), "%s",
	    daemon_log_tail(&d));
}
END_TEST

Suite *
pool_suite(void)
{
	Suite	*s = suite_create("pool");
	TCase	*size = tcase_create("size");
	TCase	*defend = tcase_create("defend");
	TCase	*life = tcase_create("life");

	tcase_add_checked_fixture(size, setup, teardown);
	tcase_set_timeout(size, 120);
	tcase_add_test(size, test_grows_and_shrinks);
	tcase_add_test(size, test_grows_saturated);
	suite_add_tcase(s, size);

	tcase_add_checked_fixture(defend, setup, teardown);
	tcase_set_timeout(defend, 90);
	tcase_add_test(defend, test_per_source_limit);
	tcase_add_test(defend, test_per_source_forgets);
	tcase_add_test(defend, test_shedding);
	tcase_add_test(defend, test_shedding_saturated);
	tcase_add_test(defend, test_shedding_after_ttou);
	tcase_add_test(defend, test_shedding_writers);
	tcase_add_test(defend, test_defer_accept);
	tcase_add_test(defend, test_log_flood_bounded);
	suite_add_tcase(s, defend);

	tcase_add_checked_fixture(life, setup, teardown);
	tcase_set_timeout(life, 90);
	tcase_add_test(life, test_recycling_saturated);
	tcase_add_test(life, test_recycling_logged);
	tcase_add_test(life, test_recycling_counts_served);
	tcase_add_test(life, test_hung_idle);
	tcase_add_test(life, test_hung_busy_saturated);
	tcase_add_test(life, test_usr2_to_master);
	suite_add_tcase(s, life);
	return s;
}
