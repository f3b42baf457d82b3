/* SPDX-License-Identifier: ISC */
/*
 * check_poolpolicy.c - the pool's pure parts: the sizing rule (grow for held
 * clients, not for a busy CPU; shrink one a tick after a while), binary
 * addresses and their prefixes, the log line budgets.
 */
#include "autoconf.h"

#include <check.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "config.h"
#include "loglimit.h"
#include "poolview.h"
#include "unit.h"
#include "poolpolicy.h"

static struct config	 cfg;
static struct poolpolicy	 pp;

static void
setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.c_pool_dynamic = true;
	cfg.c_pool_min = 4;
	cfg.c_pool_max = 64;
	cfg.c_idle_min = 2;
	cfg.c_idle_max = 8;
	poolpolicy_init(&pp);
}

/* A view of active workers of which idle, busy (held of them) and
 * starting, queued connections, the ceiling pool.max. */
static struct poolview
view(unsigned active, unsigned idle, unsigned busy, unsigned held,
    unsigned starting, unsigned queued)
{
	struct poolview	 v;

	memset(&v, 0, sizeof(v));
	v.pv_serving.vt_workers = active;
	v.pv_serving.vt_kind[POOLVIEW_IDLE] = idle;
	v.pv_serving.vt_kind[POOLVIEW_BUSY] = busy;
	v.pv_serving.vt_kind[POOLVIEW_STARTING] = starting;
	v.pv_serving.vt_held = held;
	v.pv_queued = queued;
	v.pv_target = active;
	v.pv_ceiling = cfg.c_pool_max;
	return v;
}

static int
sizeq(unsigned active, unsigned idle, unsigned busy, unsigned held,
    unsigned queued)
{
	struct poolview	 v = view(active, idle, busy, held, 0, queued);

	return poolpolicy_size(&pp, &cfg, &v);
}

static int
size(unsigned active, unsigned idle, unsigned busy, unsigned held)
{
	return sizeq(active, idle, busy, held, 0);
}

/* Four workers all running (a CPU-bound load, none idle), sixty
 * connections queued behind them: no growth. */
START_TEST(test_busy_cpu_no_growth)
{
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(sizeq(4, 0, 4, 0, 60), 0);
	/* Nor with held workers while enough others run. */
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(sizeq(12, 0, 12, 10, 60), 0);
}
END_TEST

/* Held workers: the pool wants held + idle_min, at a doubling rate. */
START_TEST(test_held_growth_doubles)
{
	unsigned active = 4;
	int	 steps[8], n = 0, d;

	while ((d = size(active, 0, active, 60)) > 0 && n < 8) {
		steps[n++] = d;
		active += (unsigned)d;
	}
	ck_assert_int_eq(active, 62);
	ck_assert_int_eq(steps[0], POOLPOLICY_RATE_FIRST);
	ck_assert_int_eq(steps[1], 2 * POOLPOLICY_RATE_FIRST);
	ck_assert_int_eq(steps[2], 4 * POOLPOLICY_RATE_FIRST);
	ck_assert_int_eq(steps[3], 62 - 32);	/* what was left */
	/* Bounded by max: 100 held clients still mean 64 workers (the rate
	 * started over when the pool stopped growing). */
	ck_assert_int_eq(size(62, 0, 62, 100), 2);
	ck_assert_int_eq(size(64, 0, 64, 100), 0);
}
END_TEST

/* The start of an attack: every worker held, the queue full of clients
 * that will hold the next ones: it grows for the queue, not two by two. */
START_TEST(test_held_queue_growth)
{
	unsigned active = 4;
	int	 ticks = 0, d;

	while ((d = sizeq(active, 0, active, active, 58)) > 0 && ticks < 20) {
		active += (unsigned)d;
		ticks++;
	}
	ck_assert_int_eq(active, 64);		/* 4 + 2 + 58, capped */
	ck_assert_int_le(ticks, 5);
}
END_TEST

/* Workers just forked are not free yet, and a tick that only waits for
 * them to start does not start the rate over. */
START_TEST(test_growth_while_starting)
{
	struct poolview	 v = view(8, 0, 4, 4, 4, 50);
	int	 d;

	ck_assert_int_eq(sizeq(4, 0, 4, 4, 54), POOLPOLICY_RATE_FIRST);
	/* The four new ones start: still short of free workers, so the
	 * queue still counts, and the rate has doubled. */
	d = poolpolicy_size(&pp, &cfg, &v);
	ck_assert_int_eq(d, 2 * POOLPOLICY_RATE_FIRST);
	/* Nothing wanted while they start: the rate is kept. */
	v = view(16, 0, 16, 16, 8, 0);
	ck_assert_int_eq(poolpolicy_size(&pp, &cfg, &v), 2);
	ck_assert_int_eq(sizeq(18, 0, 18, 16, 0), 0);
}
END_TEST

/* Too many idle: nothing for POOLPOLICY_SHRINK_TICKS - 1 ticks, then one a
 * tick; a burst in between starts the count over. */
START_TEST(test_shrink_hysteresis)
{
	for (int i = 0; i < POOLPOLICY_SHRINK_TICKS - 1; i++)
		ck_assert_int_eq(size(20, 20, 0, 0), 0);
	ck_assert_int_eq(size(20, 20, 0, 0), -1);
	ck_assert_int_eq(size(19, 19, 0, 0), -1);
	ck_assert_int_eq(size(18, 2, 16, 0), 0);	/* busy again */
	ck_assert_int_eq(size(18, 18, 0, 0), 0);
	/* Never below min, nor while idle <= idle_max. */
	for (int i = 0; i < 2 * POOLPOLICY_SHRINK_TICKS; i++) {
		ck_assert_int_eq(size(4, 4, 0, 0), 0);
		ck_assert_int_eq(size(9, 8, 1, 0), 0);
	}
}
END_TEST

/* A pool that cannot grow (a worker exited 78) has its ceiling where it
 * is, even below pool.min: held clients add nothing, and it may still
 * shrink to pool.min, never below. */
START_TEST(test_ceiling_holds)
{
	struct poolview	 v = view(2, 0, 2, 2, 0, 30);

	v.pv_ceiling = 2;
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(poolpolicy_size(&pp, &cfg, &v), 0);
	v = view(6, 0, 6, 6, 0, 30);
	v.pv_ceiling = 8;
	ck_assert_int_eq(poolpolicy_size(&pp, &cfg, &v), 2);
}
END_TEST

START_TEST(test_fixed_pool_never_sized)
{
	cfg.c_pool_dynamic = false;
	ck_assert_int_eq(size(4, 0, 4, 4), 0);
	for (int i = 0; i < 2 * POOLPOLICY_SHRINK_TICKS; i++)
		ck_assert_int_eq(size(4, 4, 0, 0), 0);
}
END_TEST

static struct addr
sa4(const char *s, unsigned port)
{
	struct sockaddr_in	 sin;
	struct addr		 a;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, s, &sin.sin_addr), 1);
	ck_assert(addr_from_sockaddr(&a, (struct sockaddr *)&sin,
	    sizeof(sin)));
	return a;
}

START_TEST(test_addr_format_and_prefix)
{
	struct sockaddr_in6	 sin6;
	struct addr		 a, b, m;
	char			 buf[ADDR_STRLEN];

	a = sa4("192.0.2.1", 80);
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.1:80");
	b = sa4("192.0.2.200", 81);
	ck_assert(!addr_same_prefix(&a, &b, 32));
	ck_assert(addr_same_prefix(&a, &b, 24));

	/* A v4-mapped peer of a dual-stack socket is that IPv4 client. */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(9);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr);
	ck_assert(addr_from_sockaddr(&m, (struct sockaddr *)&sin6,
	    sizeof(sin6)));
	ck_assert_int_eq(m.a_family, AF_INET);
	ck_assert(addr_same_prefix(&a, &m, 32));

	inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &sin6.sin6_addr);
	addr_from_sockaddr(&a, (struct sockaddr *)&sin6, sizeof(sin6));
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::1", &sin6.sin6_addr);
	addr_from_sockaddr(&b, (struct sockaddr *)&sin6, sizeof(sin6));
	ck_assert(addr_same_prefix(&a, &b, 64));
	ck_assert(!addr_same_prefix(&a, &b, 65));
	ck_assert(!addr_same_prefix(&a, &m, 0));	/* families differ */
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "[2001:db8:1:2:3:4:5:6]:9");
	ck_assert(!addr_from_sockaddr(&a, NULL, 0));
	addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "(unknown)");
}
END_TEST

/* One source's budget does not spend another's; the kind's bounds all. */
START_TEST(test_loglimit_source)
{
	static struct log_sources t;
	struct addr	 a = sa4("192.0.2.1", 1), b = sa4("192.0.2.2", 1);
	unsigned long	 held;
	int		 let_a = 0, let_b = 0;

	for (int i = 0; i < 100; i++)
		let_a += log_limit_source(&t, 10, 3, &a, &held);
	for (int i = 0; i < 100; i++)
		let_b += log_limit_source(&t, 10, 3, &b, &held);
	/* Within one second (or across one boundary: at most twice). */
	ck_assert_int_ge(let_a, 3);
	ck_assert_int_le(let_a, 6);
	ck_assert_int_ge(let_b, 3);
	ck_assert_int_le(let_b, 6);
}
END_TEST

Suite *
poolpolicy_suite(void)
{
	Suite	*s = suite_create("poolpolicy");
	TCase	*tc = tcase_create("sizing");
	TCase	*ad = tcase_create("addr");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_busy_cpu_no_growth);
	tcase_add_test(tc, test_held_growth_doubles);
	tcase_add_test(tc, test_held_queue_growth);
	tcase_add_test(tc, test_growth_while_starting);
	tcase_add_test(tc, test_shrink_hysteresis);
	tcase_add_test(tc, test_ceiling_holds);
	tcase_add_test(tc, test_fixed_pool_never_sized);
	suite_add_tcase(s, tc);
	tcase_add_test(ad, test_addr_format_and_prefix);
	tcase_add_test(ad, test_loglimit_source);
	suite_add_tcase(s, ad);
	return s;
}
