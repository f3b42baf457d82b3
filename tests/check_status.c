/* SPDX-License-Identifier: ISC */
/*
 * check_status.c - the status answers and the control socket in one
 * process: a master with a full scoreboard of made-up workers (no
 * process behind them), formatted into the bounded buffers, and served to
 * clients of a real socket that read slowly, not at all, or come one too
 * many.  The loop that drives the socket is the test's; time is moved on
 * by passing control_expire() a later moment, never by waiting.
 */
#include "autoconf.h"

#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "config.h"
#include "control.h"
#include "generation.h"
#include "log.h"
#include "metrics.h"
#include "poolview.h"
#include "scoreboard.h"
#include "status.h"
#include "unit.h"

/* As many workers as the scoreboard has slots. */
#define FAKE_WORKERS	SCOREBOARD_SLOTS

/* The parts of a master that the answers read, under the master's names;
 * facts() gathers them as the master does, its view taken now. */
static struct {
	struct generation	 m_cur, m_next;
	struct pool		 m_pool;
	struct control		 m_control;
	struct agent		 m_agent;
	struct metrics		 m_metrics;
	bool			 m_no_growth;
	bool			 m_draining, m_stopping;
	struct poolview		 m_view;
	struct status_facts	 m_facts;
} m;

/* The master's side of "reload", for the control tests: counted. */
static unsigned long	 test_reloads;

static void
test_reload(void *arg)
{
	(void)arg;
	test_reloads++;
}

static const struct control_owner test_owner = { test_reload, NULL,
    &test_reloads };

static const struct status_facts *
facts(void)
{
	struct poolview_want	 want;

	generation_want(&m.m_cur, m.m_next.g_id, m.m_no_growth, &want);
	poolview_take(&m.m_pool, &want, &m.m_view);
	m.m_facts = (struct status_facts){ .sf_cur = &m.m_cur,
	    .sf_next = &m.m_next, .sf_pool = &m.m_pool, .sf_view = &m.m_view,
	    .sf_agent = m.m_agent.ag_door.sd_sock.sk_fd != -1 ?
	    m.m_agent.ag_door.sd_sock.sk_name : NULL,
	    .sf_draining = m.m_draining,
	    .sf_stopping = m.m_stopping };
	return &m.m_facts;
}
static struct config		 cfg;
static char			*buf;
static char			 sockdir[64], sockpath[128];

/*
 * Worker i: pid 100000 + i, generation 2, served i connections; by i % 4
 * idle, busy reading from 192.0.2.x, busy writing to 2001:db8::1, or
 * starting.  Worker 5 is retiring.  Each dropped one log line, and had
 * a connection of 2 ms and one of 2 minutes (bytes 10 in, 20 out, one
 * read timeout).
 */
static void
fake_worker(struct pool_worker *w, size_t i)
{
	struct addr	 peer;

	w->pw_pid = (pid_t)(100000 + i);
	w->pw_generation = 2;
	w->pw_started = clock_now();
	w->pw_retiring = i == 5;
	ck_assert_ptr_nonnull(w->pw_slot = scoreboard_claim(m.m_pool.p_board,
	    (uint32_t)i));
	atomic_store(&w->pw_slot->sl_served, i);
	atomic_store(&w->pw_slot->sl_log_dropped, 1);
	scoreboard_count_duration(w->pw_slot, 2000);
	scoreboard_count_duration(w->pw_slot, 120000000);
	scoreboard_count_io(w->pw_slot, 10, 20, SLOT_TIMEOUT_READ);
	memset(&peer, 0, sizeof(peer));
	switch (i % 4) {
	case 0:
		scoreboard_set_state(w->pw_slot, SLOT_IDLE);
		break;
	case 1:
		ck_assert_int_eq(addr_parse(&peer, "192.0.2.7"), 1);
		peer.a_port = (uint16_t)(1000 + i);
		scoreboard_busy(w->pw_slot, &peer, 1);
		scoreboard_set_wait(w->pw_slot, SLOT_READING);
		break;
	case 2:
		ck_assert_int_eq(addr_parse(&peer, "2001:db8::1"), 1);
		peer.a_port = 443;
		scoreboard_busy(w->pw_slot, &peer, 1);
		scoreboard_set_wait(w->pw_slot, SLOT_WRITING);
		break;
	}
}

static void
fake_master(size_t n)
{
	memset(&m, 0, sizeof(m));
	memset(&cfg, 0, sizeof(cfg));
	cfg.c_service = (char *)"greeting";
	cfg.c_pool_dynamic = true;
	cfg.c_pool_min = 4;
	cfg.c_pool_max = CONFIG_MAX_WORKERS;
	cfg.c_idle_min = 2;
	cfg.c_idle_max = 8;
	generation_init(&m.m_cur);
	generation_init(&m.m_next);
	m.m_cur.g_id = 2;
	m.m_cur.g_cfg = &cfg;
	m.m_cur.g_target = (unsigned)n;
	ck_assert_ptr_nonnull(m.m_pool.p_board = scoreboard_create(NULL));
	ck_assert_ptr_nonnull(m.m_pool.p_workers = calloc(n + 1,
	    sizeof(struct pool_worker)));
	m.m_pool.p_n = m.m_pool.p_cap = n;
	for (size_t i = 0; i < n; i++)
		fake_worker(&m.m_pool.p_workers[i], i);
	control_init(&m.m_control);
	agent_init(&m.m_agent);
}

static void
setup(void)
{
	/* The notices of refused and dropped clients are expected. */
	log_init("check_unit", LOG_TO_STDERR, LOG_DAEMON, LOG_WARNING);
	fake_master(FAKE_WORKERS);
	ck_assert_ptr_nonnull(buf = malloc(CONTROL_ANSWER_MAX));
}

static void
teardown(void)
{
	control_close(&m.m_control);
	if (sockdir[0] != '\0')
		rmdir(sockdir);
	sockdir[0] = '\0';
	free(buf);
}

static size_t
count(const char *text, const char *needle)
{
	size_t	 n = 0;

	for (; (text = strstr(text, needle)) != NULL; text += strlen(needle))
		n++;
	return n;
}

/* ---- formatting ----------------------------------------------------------- */

/* The row that starts with head: what it waits on, for how long (a
 * duration, or "-" with the wait) and for whom. */
static void
assert_row(const char *table, const char *head, const char *wait,
    const char *peer)
{
	const char	*p = strstr(table, head);
	char		 w[16], waited[16], pr[64];

	ck_assert_msg(p != NULL, "no row %s", head);
	ck_assert_int_eq(sscanf(p, "%*d %*u %*s %*s %15s %15s %63s", w,
	    waited, pr), 3);
	ck_assert_str_eq(w, wait);
	ck_assert_str_eq(pr, peer);
	if (strcmp(wait, "-") == 0)
		ck_assert_str_eq(waited, "-");
	else
		ck_assert_msg(waited[strlen(waited) - 1] == 's', "%s", waited);
}

/* The largest pool the scoreboard holds fits the answer, row by row. */
START_TEST(test_table_every_worker)
{
	size_t	 len = status_table(facts(), buf, CONTROL_ANSWER_MAX);
	char	 want[160];

	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_ptr_null(strstr(buf, "cut:"));
	ck_assert_ptr_nonnull(strstr(buf, "\ngeneration: 2\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npool: dynamic min=4 max=1024 "
	    "idle_min=2 idle_max=8 target=4096 ceiling=1024\n"));
	/* 1024 of each kind, less worker 5 (busy) that retires. */
	ck_assert_ptr_nonnull(strstr(buf, "\nworkers: 4096 starting=1024 "
	    "idle=1024 busy=2047 recycled=0 retiring=1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nbusy: running=0 reading=1023 "
	    "writing=1024 held="));
	ck_assert_ptr_nonnull(strstr(buf, "\nconnections: served=8386560 "
	    "limited=0 shed=0 denied=0 proxy_failed=0 empty=0\n"));
	ck_assert_msg(sscanf(strstr(buf, "\nlog: dropped master="),
	    "\nlog: dropped master=%*u %159s", want) == 1 &&
	    strcmp(want, "workers=4096") == 0, "%s", want);
	ck_assert_uint_eq(count(buf, "\n1"), FAKE_WORKERS);
	ck_assert_msg(sscanf(strstr(buf, "\n100001 "), "\n100001 %*u %159s",
	    want) == 1 && strcmp(want, "busy") == 0, "%s", want);
	assert_row(buf, "\n100001 ", "reading", "192.0.2.7:1001");
	assert_row(buf, "\n100002 ", "writing", "[2001:db8::1]:443");
	assert_row(buf, "\n100004 ", "-", "-");
	ck_assert_ptr_nonnull(strstr(buf, "\n100005       2 busy,retiring "));
	ck_assert_ptr_nonnull(strstr(buf, "\n100004       2 idle "));
	ck_assert_ptr_nonnull(strstr(buf, "\n100003       2 starting "));
	ck_assert(buf[len - 1] == '\n');
}
END_TEST

/* The largest pool the scoreboard holds: the metrics do not grow with
 * it (no series per worker), and say the same as the table. */
START_TEST(test_metrics_every_worker)
{
	size_t	 len = status_metrics(facts(), buf, CONTROL_ANSWER_MAX);

	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_uint_lt(len, 16384);
	ck_assert_ptr_null(strstr(buf, "cut:"));
	ck_assert_ptr_null(strstr(buf, "pid="));
	ck_assert_ptr_null(strstr(buf, "preforkd_worker_served_total"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_workers{state=\"busy\"} "
	    "2047\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_workers{state="
	    "\"retiring\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_workers_busy{wait="
	    "\"writing\"} 1024\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_pool_ceiling 1024\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_connections_served_total "
	    "8386560\n"));
	ck_assert_ptr_nonnull(strstr(buf, "# TYPE preforkd_log_dropped_total "
	    "counter\npreforkd_log_dropped_total{process=\"master\"} "));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_log_dropped_total{process="
	    "\"workers\"} 4096\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_timeouts_total{kind="
	    "\"read\"} 4096\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_timeouts_total{kind="
	    "\"write\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_received_bytes_total "
	    "40960\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_sent_bytes_total "
	    "81920\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_reloads_total{result="
	    "\"ok\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_worker_exits_total{cause="
	    "\"crashed\"} 0\n"));
	/* Cumulative: the 2 ms ones from le="0.0025" on, the others in
	 * +Inf only; made-up workers born now may not have lasted 2
	 * minutes, so the sum is cut to their age. */
	ck_assert_ptr_nonnull(strstr(buf, "# TYPE preforkd_connection_duration"
	    "_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_connection_duration_"
	    "seconds_bucket{service=\"greeting\",le=\"0.001\"} 0\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_connection_duration_"
	    "seconds_bucket{service=\"greeting\",le=\"0.0025\"} 4096\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_connection_duration_"
	    "seconds_bucket{service=\"greeting\",le=\"60\"} 4096\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_connection_duration_"
	    "seconds_bucket{service=\"greeting\",le=\"+Inf\"} 8192\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_connection_duration_"
	    "seconds_count{service=\"greeting\"} 8192\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_connection_duration_"
	    "seconds_sum{service=\"greeting\"} "));
	ck_assert(buf[len - 1] == '\n');
}
END_TEST

/* OpenMetrics: counter families without "_total", and "# EOF" last. */
START_TEST(test_openmetrics)
{
	size_t	 len = status_openmetrics(facts(), buf, CONTROL_ANSWER_MAX);

	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_ptr_nonnull(strstr(buf, "# TYPE preforkd_connections_served "
	    "counter\npreforkd_connections_served_total 8386560\n"));
	ck_assert_ptr_nonnull(strstr(buf, "# HELP preforkd_reloads "));
	ck_assert_ptr_null(strstr(buf, "# TYPE preforkd_reloads_total"));
	ck_assert_ptr_nonnull(strstr(buf, "# TYPE preforkd_generation "
	    "gauge\n"));
	ck_assert_str_eq(buf + len - 6, "# EOF\n");
	ck_assert_ptr_null(strstr(buf, "cut:"));
	/* Cut, it still ends so, and has no other comment. */
	len = status_openmetrics(facts(), buf, 4096);
	ck_assert_str_eq(buf + len - 6, "# EOF\n");
	ck_assert_ptr_null(strstr(buf, "cut:"));
}
END_TEST

/* A fixed pool has no idle bounds to show. */
START_TEST(test_fixed_pool)
{
	cfg.c_pool_dynamic = false;
	cfg.c_pool_min = cfg.c_pool_max = 3;
	status_table(facts(), buf, CONTROL_ANSWER_MAX);
	ck_assert_ptr_nonnull(strstr(buf, "\npool: fixed min=3 max=3 "
	    "idle_min=- idle_max=- target=4096 ceiling=4096\n"));
	status_metrics(facts(), buf, CONTROL_ANSWER_MAX);
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_pool_dynamic 0\n"));
	ck_assert_ptr_null(strstr(buf, "idle_min"));
}
END_TEST

/* Cut after the last whole line, with the note in the room kept. */
static void
assert_cut(size_t (*format)(const struct status_facts *, char *, size_t),
    const char *note)
{
	size_t	 len, size = 4096;

	len = format(facts(), buf, size);
	ck_assert_uint_eq(len, strlen(buf));
	ck_assert_uint_lt(len, size);
	ck_assert_uint_gt(len, strlen(note));
	ck_assert_str_eq(buf + len - strlen(note), note);
	ck_assert(buf[len - strlen(note) - 1] == '\n');
	len = format(facts(), buf, STATUS_OUT_MIN);
	ck_assert_uint_lt(len, STATUS_OUT_MIN);
}

START_TEST(test_cut)
{
	assert_cut(status_table, "cut: the answer is longer than 4096 "
	    "bytes\n");
	assert_cut(status_metrics, "# cut: the answer is longer than 4096 "
	    "bytes\n");
}
END_TEST

START_TEST(test_no_workers)
{
	m.m_pool.p_n = 0;
	status_table(facts(), buf, CONTROL_ANSWER_MAX);
	ck_assert_ptr_nonnull(strstr(buf, "\nworkers: 0 starting=0 idle=0 "));
	ck_assert(strstr(buf, "SERVED\n") == buf + strlen(buf) - 7);
}
END_TEST

/* ---- the socket, driven by the test ---------------------------------------- */

static void
open_socket(void)
{
	snprintf(sockdir, sizeof(sockdir), "/tmp/preforkd-ctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(sockpath, sizeof(sockpath), "%s/control", sockdir);
	ck_assert_int_eq(control_open(&m.m_control, sockpath), 0);
}

static int
client(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0), -1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)),
	    0);
	return fd;
}

/* One turn of the master's loop, for the control socket alone. */
static void
turn(void)
{
	struct pollfd	 pfd[CONTROL_FDS];
	size_t		 n = control_pollfds(&m.m_control, pfd);

	ck_assert_int_ge(poll(pfd, n, 100), 0);
	control_handle(&m.m_control, facts(), &test_owner, pfd, n);
}

static size_t
places_taken(void)
{
	size_t	 n = 0;

	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		n += m.m_control.ctl_door.sd_client[i].sc_fd != -1;
	return n;
}

static const struct sidedoor_client *
answering(void)
{
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (m.m_control.ctl_door.sd_client[i].sc_out != NULL)
			return &m.m_control.ctl_door.sd_client[i];
	return NULL;
}

/*
 * A client that the master has accepted, its end's send buffer made
 * small, so that an answer never fits in it whatever the system's
 * defaults.
 */
static int
small_client(void)
{
	int	 fd = client(), size = 4096, turns = 0;

	while (places_taken() == 0 && turns++ < 100)
		turn();
	ck_assert_uint_eq(places_taken(), 1);
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (m.m_control.ctl_door.sd_client[i].sc_fd != -1)
			ck_assert_int_eq(setsockopt(
			    m.m_control.ctl_door.sd_client[i].sc_fd, SOL_SOCKET,
			    SO_SNDBUF, &size, sizeof(size)), 0);
	return fd;
}

/* Read what is there now, non-blocking: bytes, 0 at EOF, -1 if none. */
static ssize_t
take(int fd, char *to, size_t size)
{
	ssize_t	 n = recv(fd, to, size, 0);

	if (n == -1)
		ck_assert_int_eq(errno, EAGAIN);
	return n;
}

/* A reader that takes a little at a time gets all of a big answer. */
START_TEST(test_slow_reader)
{
	const struct sidedoor_client *c;
	size_t		 got = 0;
	ssize_t		 n;
	int		 fd, turns = 0;

	open_socket();
	fd = small_client();
	ck_assert_int_eq(send(fd, "status\n", 7, 0), 7);
	while ((c = answering()) == NULL && turns++ < 100)
		turn();
	ck_assert_ptr_nonnull(c);
	/* More than the socket takes at once: the rest waits in the master. */
	ck_assert_uint_lt(c->sc_sent, c->sc_outlen);
	for (turns = 0; turns < 100000; turns++) {
		n = take(fd, buf + got, 4096 < CONTROL_ANSWER_MAX - got ? 4096 :
		    CONTROL_ANSWER_MAX - got);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		turn();
	}
	ck_assert_int_eq(n, 0);
	buf[got] = '\0';
	ck_assert_uint_eq(count(buf, "\n1"), FAKE_WORKERS);
	ck_assert_ptr_null(strstr(buf, "cut:"));
	ck_assert_uint_eq(places_taken(), 0);
	close(fd);
}
END_TEST

/* One that never reads holds its place until its deadline, then loses
 * it; the others are answered meanwhile. */
START_TEST(test_stuck_reader_expires)
{
	struct pollfd	 pfd;
	char		 small[256];
	int		 stuck, other, turns = 0;
	ssize_t		 n;

	open_socket();
	stuck = small_client();
	ck_assert_int_eq(send(stuck, "status\n", 7, 0), 7);
	while (answering() == NULL && turns++ < 100)
		turn();
	ck_assert_ptr_nonnull(answering());
	other = client();
	ck_assert_int_eq(send(other, "help\n", 5, 0), 5);
	for (turns = 0; (n = take(other, small, sizeof(small) - 1)) == -1 &&
	    turns < 100; turns++)
		turn();
	ck_assert_int_gt(n, 0);
	small[n] = '\0';
	ck_assert_ptr_nonnull(strstr(small, "metrics"));
	close(other);

	control_expire(&m.m_control, clock_now());
	ck_assert_ptr_nonnull(answering());		/* not yet */
	control_expire(&m.m_control, clock_after(clock_now(),
	    CONTROL_DEADLINE + 1));
	ck_assert_uint_eq(places_taken(), 0);
	pfd = (struct pollfd){ .fd = stuck, .events = POLLRDHUP };
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert(pfd.revents & (POLLHUP | POLLRDHUP));
	close(stuck);
}
END_TEST

/* Every place taken by a silent client: the next one is told at once. */
START_TEST(test_one_too_many)
{
	int	 fds[CONTROL_CLIENTS], extra, turns = 0;
	char	 small[64];
	ssize_t	 n;

	open_socket();
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		fds[i] = client();
	while (places_taken() < CONTROL_CLIENTS && turns++ < 100)
		turn();
	ck_assert_uint_eq(places_taken(), CONTROL_CLIENTS);
	extra = client();
	for (turns = 0; (n = take(extra, small, sizeof(small) - 1)) == -1 &&
	    turns < 100; turns++)
		turn();
	ck_assert_int_gt(n, 0);
	small[n] = '\0';
	ck_assert_str_eq(small, "error: busy\n");
	ck_assert_uint_eq(places_taken(), CONTROL_CLIENTS);
	close(extra);
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		close(fds[i]);
}
END_TEST

/* The file goes with control_close(), and only it. */
START_TEST(test_close_removes)
{
	struct stat	 st;

	open_socket();
	ck_assert_int_eq(lstat(sockpath, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	control_close(&m.m_control);
	ck_assert_int_eq(lstat(sockpath, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

/* ---- the agent check ------------------------------------------------------ */

/* Busy workers of the serving generation that are not retiring: i % 4 is
 * 1 or 2, and i is not 5 (fake_worker()). */
static unsigned
fake_busy(size_t n)
{
	unsigned	 busy = 0;

	for (size_t i = 0; i < n; i++)
		busy += (i % 4 == 1 || i % 4 == 2) && i != 5;
	return busy;
}

/* The weight is the share of pool.max neither busy nor queued. */
START_TEST(test_agent_lines)
{
	unsigned	 busy = fake_busy(FAKE_WORKERS);
	char		 line[AGENT_LINE_MAX], want[AGENT_LINE_MAX];

	cfg.c_pool_max = FAKE_WORKERS;
	snprintf(want, sizeof(want), "ready %u%%\n",
	    (FAKE_WORKERS - busy) * 100 / FAKE_WORKERS);
	ck_assert_uint_eq(status_agent(facts(), line, sizeof(line)), strlen(want));
	ck_assert_str_eq(line, want);
	/* Every place taken: still 1%, never 0 (that would be drain). */
	cfg.c_pool_max = busy;
	status_agent(facts(), line, sizeof(line));
	ck_assert_str_eq(line, "ready 1%\n");
	cfg.c_pool_max = 4 * busy;
	status_agent(facts(), line, sizeof(line));
	ck_assert_str_eq(line, "ready 75%\n");
	m.m_draining = true;
	status_agent(facts(), line, sizeof(line));
	ck_assert_str_eq(line, "drain\n");
	m.m_stopping = true;
	status_agent(facts(), line, sizeof(line));
	ck_assert_str_eq(line, "maint\n");
	/* And the status and metrics say the same. */
	m.m_stopping = false;
	m.m_draining = false;
	m.m_agent.ag_door.sd_sock.sk_fd = 99;	/* only looked at, never used */
	strcpy(m.m_agent.ag_door.sd_sock.sk_name, "192.0.2.1:9100");
	status_table(facts(), buf, CONTROL_ANSWER_MAX);
	ck_assert_ptr_nonnull(strstr(buf, "agent: ready 75% on 192.0.2.1:9100\n"));
	status_metrics(facts(), buf, CONTROL_ANSWER_MAX);
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_agent_weight 75\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\npreforkd_draining 0\n"));
	m.m_agent.ag_door.sd_sock.sk_fd = -1;
}
END_TEST

/* An agent on a free port of 127.0.0.1; its port. */
static unsigned
agent_start(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	agent_init(&m.m_agent);
	cfg.c_agent_address = (char *)"127.0.0.1";
	cfg.c_agent_port = 0;
	ck_assert_int_eq(agent_open(&m.m_agent, &cfg), 0);
	ck_assert_int_eq(getsockname(m.m_agent.ag_door.sd_sock.sk_fd,
	    (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static int
agent_client(unsigned port)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	int			 fd;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* One turn of a master's loop, for the agent only. */
static void
agent_turn(void)
{
	struct pollfd	 pfd[AGENT_FDS];
	size_t		 n = agent_pollfds(&m.m_agent, pfd);

	ck_assert_int_ge(poll(pfd, n, 100), 0);
	agent_handle(&m.m_agent, facts(), pfd, n);
}

static size_t
agent_taken(void)
{
	size_t	 n = 0;

	for (size_t i = 0; i < AGENT_CLIENTS; i++)
		n += m.m_agent.ag_door.sd_client[i].sc_fd != -1;
	return n;
}

/* A checker reads one line and EOF, whether it sends something first
 * (HAProxy's agent-send) or not; the master lets it go when it closes. */
START_TEST(test_agent_socket)
{
	unsigned	 port = agent_start();
	char		 got[64];
	ssize_t		 n;
	int		 fd, turns = 0;

	cfg.c_pool_max = 4 * fake_busy(FAKE_WORKERS);
	for (int k = 0; k < 2; k++) {
		fd = agent_client(port);
		if (k == 1)
			ck_assert_int_eq(send(fd, "hello\n", 6, 0), 6);
		while (agent_taken() == 0 && turns++ < 100)
			agent_turn();
		n = recv(fd, got, sizeof(got) - 1, MSG_WAITALL);
		ck_assert_int_eq(n, (ssize_t)strlen("ready 75%\n"));
		got[n] = '\0';
		ck_assert_str_eq(got, "ready 75%\n");
		ck_assert_int_eq(close(fd), 0);
		while (agent_taken() != 0 && turns++ < 100)
			agent_turn();
		ck_assert_uint_eq(agent_taken(), 0);
	}
	agent_close(&m.m_agent);
}
END_TEST

/* Checkers that never close cannot keep others waiting: each new one
 * takes the oldest's place, every one gets its line at once, and those
 * left go at their deadline. */
START_TEST(test_agent_full)
{
	unsigned	 port = agent_start();
	int		 fd[2 * AGENT_CLIENTS], turns = 0;
	char		 got[16];

	cfg.c_pool_max = 4 * fake_busy(FAKE_WORKERS);
	for (size_t i = 0; i < 2 * AGENT_CLIENTS; i++)
		fd[i] = agent_client(port);
	for (size_t i = 0; i < 2 * AGENT_CLIENTS; i++) {
		while (recv(fd[i], got, sizeof(got), MSG_DONTWAIT) == -1 &&
		    errno == EAGAIN && turns++ < 1000)
			agent_turn();
		ck_assert_uint_le(agent_taken(), AGENT_CLIENTS);
	}
	ck_assert_uint_eq(agent_taken(), AGENT_CLIENTS);
	agent_expire(&m.m_agent, clock_after(clock_now(), AGENT_LINGER + 1));
	ck_assert_uint_eq(agent_taken(), 0);
	for (size_t i = 0; i < 2 * AGENT_CLIENTS; i++)
		close(fd[i]);
	agent_close(&m.m_agent);
}
END_TEST

/*
 * One view for everything, its ceiling the pool's real one: a fixed pool
 * moved by TTIN or TTOU has its target, a dynamic one pool.max, one that
 * cannot grow what it has.  Eight workers: 0 and 4 idle, 1, 2 and 6 busy
 * (reading, writing, writing), 3 and 7 starting, 5 retiring.
 */
START_TEST(test_pool_view)
{
	struct poolview	 v;
	char		 line[AGENT_LINE_MAX], status[256];

	free(m.m_pool.p_workers);	/* setup's, replaced */
	scoreboard_destroy(m.m_pool.p_board);
	fake_master(8);
	v = *(facts()->sf_view);
	ck_assert_uint_eq(v.pv_ceiling, CONFIG_MAX_WORKERS);
	ck_assert_uint_eq(v.pv_target, 8);
	ck_assert_uint_eq(poolview_active(&v.pv_serving), 7);
	ck_assert_uint_eq(poolview_ready(&v.pv_serving), 5);
	ck_assert_uint_eq(v.pv_serving.vt_kind[POOLVIEW_BUSY], 3);
	ck_assert_uint_eq(v.pv_serving.vt_kind[POOLVIEW_STARTING], 2);
	ck_assert_uint_eq(v.pv_serving.vt_wait[SLOT_READING], 1);
	ck_assert_uint_eq(v.pv_serving.vt_wait[SLOT_WRITING], 2);
	ck_assert_uint_eq(v.pv_all.vt_kind[POOLVIEW_RETIRING], 1);
	ck_assert_uint_eq(poolview_gen_active(&m.m_pool, 2), 7);
	ck_assert_uint_eq(poolview_gen_ready(&m.m_pool, 2), 5);
	ck_assert_uint_eq(poolview_gen_active(&m.m_pool, 3), 0);

	/* workers = 4, then four TTINs: 3 of 8 busy. */
	cfg.c_pool_dynamic = false;
	cfg.c_workers = cfg.c_pool_min = cfg.c_pool_max = 4;
	v = *(facts()->sf_view);
	ck_assert_uint_eq(v.pv_ceiling, 8);
	status_agent(facts(), line, sizeof(line));
	ck_assert_str_eq(line, "ready 62%\n");
	status_line(facts(), status, sizeof(status));
	ck_assert_str_eq(status, "7 workers, greeting service on -, 28 "
	    "connections served; 3 busy, 2 idle, max 8");
	/* Then TTOUs down to 2: full with 3 busy. */
	m.m_cur.g_target = 2;
	status_agent(facts(), line, sizeof(line));
	ck_assert_str_eq(line, "ready 1%\n");

	/* A dynamic pool that cannot grow is full at its target. */
	cfg.c_pool_dynamic = true;
	cfg.c_pool_max = 64;
	m.m_cur.g_target = 6;
	v = *(facts()->sf_view);
	ck_assert_uint_eq(v.pv_ceiling, 64);
	m.m_no_growth = true;
	v = *(facts()->sf_view);
	ck_assert_uint_eq(v.pv_ceiling, 6);
	status_agent(facts(), line, sizeof(line));
	ck_assert_str_eq(line, "ready 50%\n");
	/* One taken over at an upgrade: what it has. */
	m.m_no_growth = false;
	m.m_cur.g_adopted = true;
	v = *(facts()->sf_view);
	ck_assert_uint_eq(v.pv_ceiling, 7);
}
END_TEST

/* A checker that keeps sending is read a buffer at a time, and let go
 * past AGENT_INPUT_MAX: it cannot hold the loop. */
START_TEST(test_agent_talker)
{
	unsigned	 port = agent_start();
	char		 junk[AGENT_INPUT_MAX + 1024], got[16];
	int		 fd, turns = 0;

	memset(junk, 'x', sizeof(junk));
	fd = agent_client(port);
	while (agent_taken() == 0 && turns++ < 100)
		agent_turn();
	ck_assert_int_eq(send(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
	while (agent_taken() != 0 && turns++ < 100)
		agent_turn();
	ck_assert_uint_eq(agent_taken(), 0);
	ck_assert_int_gt(recv(fd, got, sizeof(got), 0), 0);
	close(fd);
	agent_close(&m.m_agent);
}
END_TEST

Suite *
status_suite(void)
{
	Suite	*s = suite_create("status");
	TCase	*fmt = tcase_create("formatting");
	TCase	*sock = tcase_create("socket");
	TCase	*agent = tcase_create("agent");

	tcase_add_checked_fixture(fmt, setup, teardown);
	tcase_add_test(fmt, test_table_every_worker);
	tcase_add_test(fmt, test_metrics_every_worker);
	tcase_add_test(fmt, test_openmetrics);
	tcase_add_test(fmt, test_fixed_pool);
	tcase_add_test(fmt, test_cut);
	tcase_add_test(fmt, test_no_workers);
	/* 4096 made-up workers, under the sanitizers on a loaded machine:
	 * Check's 4 s default is not a bound for that. */
	tcase_set_timeout(fmt, 60);
	suite_add_tcase(s, fmt);

	tcase_add_checked_fixture(sock, setup, teardown);
	tcase_add_test(sock, test_slow_reader);
	tcase_add_test(sock, test_stuck_reader_expires);
	tcase_add_test(sock, test_one_too_many);
	tcase_add_test(sock, test_close_removes);
	tcase_set_timeout(sock, 60);
	suite_add_tcase(s, sock);

	tcase_add_checked_fixture(agent, setup, teardown);
	tcase_add_test(agent, test_agent_lines);
	tcase_add_test(agent, test_pool_view);
	tcase_add_test(agent, test_agent_socket);
	tcase_add_test(agent, test_agent_full);
	tcase_add_test(agent, test_agent_talker);
	tcase_set_timeout(agent, 60);
	suite_add_tcase(s, agent);

	return s;
}
