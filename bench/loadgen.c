/* SPDX-License-Identifier: ISC */
/*
 * loadgen.c - closed-loop load generator for preforkd and its peers.
 *
 *   loadgen -p PORT [-h ADDR] [-m greeting|banner|echo|stream] [-c CONNS]
 *           [-t THREADS] [-d SECONDS] [-w WARMUP] [-s SRC [-n NSRC]]
 *
 * Each thread runs an epoll loop over its share of CONNS connections; a
 * connection that finishes is replaced at once (closed loop).
 *   greeting: connect, read the banner to its NUL, send "bench\0", wait
 *             for the server to close.  Latency: connect to close.
 *   echo:     connect, send "ping\n", read it back, close.
 *   banner:   connect, read until the server closes (nginx "return").
 *   stream:   CONNS persistent connections echoing 64 KiB blocks: MB/s.
 * With -s, connection slot i connects from source address SRC + i % NSRC
 * (NSRC defaults to CONNS): many clients, as a per-source limit sees them.
 * Prints a human summary and one machine-readable "RESULT k=v ..." line.
 * Every run is bounded by -d; a connection stuck for 5 s is an error.
 * SIGTERM or SIGINT ends the run early: the figures are those up to then,
 * per second of the shorter window (a test that drives a daemon through
 * some actions stops its load when they are done).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STUCK_NS	(5LL * 1000000000LL)
#define STREAM_BLOCK	(64 * 1024)

enum mode { MODE_GREETING, MODE_BANNER, MODE_ECHO, MODE_STREAM };
enum state { ST_CONNECT, ST_BANNER, ST_CLOSE, ST_ECHO, ST_STREAM };

struct lconn {
	int		 fd;
	struct in_addr	 src;		/* bound before connect if g_nsrc */
	enum state	 st;
	long long	 start;
	size_t		 got;		/* bytes read in this exchange */
	size_t		 sent;
};

struct lthread {
	pthread_t	 tid;
	int		 nconns;
	int		 first;		/* index of its first connection */
	long long	*lat;		/* ns, successful exchanges */
	size_t		 nlat, caplat;
	long long	 errors;
	long long	 bytes;		/* stream mode */
};

static struct sockaddr_in	 g_addr;
static enum mode		 g_mode = MODE_GREETING;
static long long		 g_start_ns, g_end_ns;	/* measured window */
static volatile sig_atomic_t	 g_stop;		/* SIGTERM, SIGINT */
static long long		 g_stop_ns;
static char			 g_block[STREAM_BLOCK];
static struct in_addr		 g_src;			/* -s */
static int			 g_nsrc;		/* 0: no bind */

static long long
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Still in the run: before -d is over and not stopped by a signal. */
static bool
running(void)
{
	return !g_stop && now_ns() < g_end_ns;
}

static void
on_stop(int sig)
{
	(void)sig;
	if (!g_stop) {
		g_stop_ns = now_ns();
		g_stop = 1;
	}
}

static void
record(struct lthread *t, long long ns)
{
	if (now_ns() < g_start_ns)
		return;			/* warm-up */
	if (t->nlat == t->caplat) {
		t->caplat = t->caplat ? t->caplat * 2 : 65536;
		if ((t->lat = realloc(t->lat, t->caplat * sizeof(*t->lat)))
		    == NULL) {
			perror("realloc");
			exit(1);
		}
	}
	t->lat[t->nlat++] = ns;
}

static void
fail(struct lthread *t)
{
	if (now_ns() >= g_start_ns)
		t->errors++;
}

static int
lconn_open(int ep, struct lconn *c)
{
	struct epoll_event	 ev;
	int			 one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->fd == -1)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (g_nsrc > 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
		    .sin_addr = c->src };

		/* The port is picked at connect(), per destination. */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			close(c->fd);
			c->fd = -1;
			return -1;
		}
	}
	c->start = now_ns();
	c->got = c->sent = 0;
	c->st = ST_CONNECT;
	if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof(g_addr)) == -1
	    && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
lconn_done(int ep, struct lthread *t, struct lconn *c, bool ok)
{
	if (ok)
		record(t, now_ns() - c->start);
	else
		fail(t);
	close(c->fd);
	c->fd = -1;
	if (running())
		while (lconn_open(ep, c) == -1 && running())
			fail(t);
}

/* Advance one connection's state machine on an epoll event. */
static void
lconn_step(int ep, struct lthread *t, struct lconn *c, uint32_t events)
{
	char		 buf[STREAM_BLOCK];
	ssize_t		 n;
	struct epoll_event ev;

	if (c->st == ST_CONNECT) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			lconn_done(ep, t, c, false);
			return;
		}
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = c;
		if (g_mode == MODE_STREAM)
			ev.events |= EPOLLOUT;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		if (g_mode == MODE_GREETING)
			c->st = ST_BANNER;
		else if (g_mode == MODE_BANNER)
			c->st = ST_CLOSE;
		else if (g_mode == MODE_ECHO) {
			if (send(c->fd, "ping\n", 5, MSG_NOSIGNAL) != 5) {
				lconn_done(ep, t, c, false);
				return;
			}
			c->st = ST_ECHO;
		} else
			c->st = ST_STREAM;
		if (!(events & EPOLLIN) && c->st != ST_STREAM)
			return;
	}
	switch (c->st) {
	case ST_BANNER:
		while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
			c->got += (size_t)n;
			if (memchr(buf, '\0', (size_t)n) != NULL) {
				if (send(c->fd, "bench", 6, MSG_NOSIGNAL) != 6) {
					lconn_done(ep, t, c, false);
					return;
				}
				c->st = ST_CLOSE;
				c->sent = c->got = 0;
				break;
			}
		}
		if (n == 0 || (n == -1 && errno != EAGAIN))
			lconn_done(ep, t, c, false);
		break;
	case ST_CLOSE:
		while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
			c->got += (size_t)n;
		/* greeting: nothing may follow the banner; banner: the
		 * whole answer ends at the close. */
		if (n == 0)
			lconn_done(ep, t, c, g_mode == MODE_BANNER ?
			    c->got > 0 : c->got == c->sent);
		else if (errno != EAGAIN)
			lconn_done(ep, t, c, false);
		break;
	case ST_ECHO:
		while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
			c->got += (size_t)n;
		if (c->got >= 5)
			lconn_done(ep, t, c, true);
		else if (n == 0 || (n == -1 && errno != EAGAIN))
			lconn_done(ep, t, c, false);
		break;
	case ST_STREAM:
		if (events & EPOLLOUT) {
			n = send(c->fd, g_block, sizeof(g_block), MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN) {
				lconn_done(ep, t, c, false);
				return;
			}
		}
		while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0)
			if (now_ns() >= g_start_ns)
				t->bytes += n;
		if (n == 0 || (n == -1 && errno != EAGAIN))
			lconn_done(ep, t, c, false);
		break;
	default:
		break;
	}
}

static void *
lthread_run(void *arg)
{
	struct lthread		*t = arg;
	struct lconn		*conns = calloc((size_t)t->nconns,
				    sizeof(*conns));
	struct epoll_event	 evs[256];
	int			 ep = epoll_create1(EPOLL_CLOEXEC), n;
	long long		 last_sweep = now_ns();

	for (int i = 0; i < t->nconns; i++) {
		conns[i].src.s_addr = htonl(ntohl(g_src.s_addr) +
		    (uint32_t)((t->first + i) % (g_nsrc > 0 ? g_nsrc : 1)));
		conns[i].fd = -1;
	}
	for (int i = 0; i < t->nconns; i++)
		if (lconn_open(ep, &conns[i]) == -1)
			fail(t);
	while (running()) {
		n = epoll_wait(ep, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct lconn *c = evs[i].data.ptr;

			if (c->fd != -1)
				lconn_step(ep, t, c, evs[i].events);
		}
		/* Stuck connections count as errors and are replaced. */
		if (now_ns() - last_sweep > 100000000LL) {
			last_sweep = now_ns();
			for (int i = 0; i < t->nconns; i++)
				if (conns[i].fd != -1 && g_mode != MODE_STREAM
				    && last_sweep - conns[i].start > STUCK_NS)
					lconn_done(ep, t, &conns[i], false);
				else if (conns[i].fd == -1 &&
				    lconn_open(ep, &conns[i]) == -1)
					fail(t);
		}
	}
	for (int i = 0; i < t->nconns; i++)
		if (conns[i].fd != -1)
			close(conns[i].fd);
	free(conns);
	close(ep);
	return NULL;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static long long
pct(const long long *v, size_t n, double p)
{
	size_t	 i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

int
main(int argc, char *argv[])
{
	const char	*host = "127.0.0.1", *mname = "greeting", *src = NULL;
	int		 port = 0, conns = 64, threads = 1, nsrc = 0, ch;
	double		 secs = 5, warm = 1;
	struct lthread	*t;
	long long	*all, errors = 0, bytes = 0;
	struct sigaction sa;
	size_t		 n = 0;

	while ((ch = getopt(argc, argv, "h:p:m:c:t:d:w:s:n:")) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'm': mname = optarg; break;
		case 'c': conns = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 's': src = optarg; break;
		case 'n': nsrc = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: loadgen -p PORT [-h ADDR] "
			    "[-m greeting|banner|echo|stream] [-c CONNS] "
			    "[-t THREADS] [-d SECONDS] [-w WARMUP] "
			    "[-s SRC [-n NSRC]]\n");
			return 64;
		}
	}
	if (strcmp(mname, "echo") == 0)
		g_mode = MODE_ECHO;
	else if (strcmp(mname, "banner") == 0)
		g_mode = MODE_BANNER;
	else if (strcmp(mname, "stream") == 0)
		g_mode = MODE_STREAM;
	else if (strcmp(mname, "greeting") != 0)
		return 64;
	if (port <= 0 || conns < 1 || threads < 1 || secs <= 0 ||
	    secs > 600 || threads > conns)
		return 64;
	g_addr.sin_family = AF_INET;
	g_addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1)
		return 64;
	if (src != NULL) {
		if (inet_pton(AF_INET, src, &g_src) != 1 || nsrc < 0 ||
		    nsrc > 65536)
			return 64;
		g_nsrc = nsrc > 0 ? nsrc : conns;
	} else if (nsrc != 0)
		return 64;
	memset(g_block, 'x', sizeof(g_block));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	g_start_ns = now_ns() + (long long)(warm * 1e9);
	g_end_ns = g_start_ns + (long long)(secs * 1e9);
	t = calloc((size_t)threads, sizeof(*t));
	for (int i = 0, first = 0; i < threads; i++) {
		t[i].nconns = conns / threads + (i < conns % threads);
		t[i].first = first;
		first += t[i].nconns;
		pthread_create(&t[i].tid, NULL, lthread_run, &t[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i].tid, NULL);
		n += t[i].nlat;
		errors += t[i].errors;
		bytes += t[i].bytes;
	}
	if (g_stop && g_stop_ns < g_end_ns)
		secs = g_stop_ns > g_start_ns ?
		    (double)(g_stop_ns - g_start_ns) / 1e9 : 0.001;
	all = malloc((n ? n : 1) * sizeof(*all));
	n = 0;
	for (int i = 0; i < threads; i++) {
		memcpy(all + n, t[i].lat, t[i].nlat * sizeof(*all));
		n += t[i].nlat;
		free(t[i].lat);
	}
	qsort(all, n, sizeof(*all), cmp_ll);
	printf("%s c=%d: %.0f conns/s, p50 %.0f us, p99 %.0f us, "
	    "p99.9 %.0f us, max %.0f us, %lld errors%s", mname, conns,
	    (double)n / secs, pct(all, n, 0.5) / 1e3, pct(all, n, 0.99) / 1e3,
	    pct(all, n, 0.999) / 1e3, n ? all[n - 1] / 1e3 : 0.0, errors,
	    g_mode == MODE_STREAM ? "" : "\n");
	if (g_mode == MODE_STREAM)
		printf(", %.1f MB/s\n", (double)bytes / secs / 1e6);
	printf("RESULT mode=%s conc=%d conns=%zu secs=%.1f cps=%.0f "
	    "p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f errors=%lld "
	    "mbps=%.1f\n", mname, conns, n, secs, (double)n / secs,
	    pct(all, n, 0.5) / 1e3, pct(all, n, 0.99) / 1e3,
	    pct(all, n, 0.999) / 1e3, n ? all[n - 1] / 1e3 : 0.0, errors,
	    (double)bytes / secs / 1e6);
	free(all);
	free(t);
	return 0;
}
