/* SPDX-License-Identifier: ISC */
/*
 * check_scoreboard.c - what the master believes of a slot: garbage in
 * every field comes out as "unknown", times within the worker's life,
 * bounded counters; a slot that moves while it is read is never read in
 * two halves; the process table, not a slot, says which slots are free;
 * and a hand-over that names a pid or a slot it should not is refused.
 */
#include "autoconf.h"

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "pool.h"
#include "scoreboard.h"
#include "unit.h"

static struct scoreboard	*sb;
static struct pool		 p;
static pid_t			 kids[4];
static size_t			 nkids;

static void
setup(void)
{
	ck_assert_ptr_nonnull(sb = scoreboard_create(NULL));
}

static void
teardown(void)
{
	scoreboard_destroy(sb);
}

static void
pool_setup(void)
{
	ck_assert_int_eq(pool_init(&p, -1), 0);
	sb = p.p_board;
	nkids = 0;
}

static void
pool_teardown(void)
{
	for (size_t i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	pool_fini(&p);
}

START_TEST(test_clamp_times)
{
	ck_assert_int_eq(scoreboard_clamp_ms(1500, 1000, 2000), 1500);
	ck_assert_int_eq(scoreboard_clamp_ms(1000, 1000, 2000), 1000);
	ck_assert_int_eq(scoreboard_clamp_ms(2000, 1000, 2000), 2000);
	/* Before the worker was born: the oldest it can be. */
	ck_assert_int_eq(scoreboard_clamp_ms(999, 1000, 2000), 1000);
	ck_assert_int_eq(scoreboard_clamp_ms(INT64_MIN, 1000, 2000), 1000);
	/* A moment ahead (the worker read the clock after us): now. */
	ck_assert_int_eq(scoreboard_clamp_ms(2500, 1000, 2000), 2000);
	/* Far ahead: not a time, and not a reason to look alive. */
	ck_assert_int_eq(scoreboard_clamp_ms(9000, 1000, 2000), 1000);
	ck_assert_int_eq(scoreboard_clamp_ms(INT64_MAX, 1000, 2000), 1000);
	ck_assert_int_eq(scoreboard_clamp_ms(INT64_MAX, INT64_MIN,
	    INT64_MIN + 5), INT64_MIN);
	ck_assert_int_eq(scoreboard_clamp_ms(-1, -10, INT64_MAX), -1);
	/* Born after now: now. */
	ck_assert_int_eq(scoreboard_clamp_ms(5, 3000, 2000), 2000);
}
END_TEST

START_TEST(test_count_max)
{
	ck_assert_uint_eq(scoreboard_count_max(1000, 1000), 1000000);
	ck_assert_uint_eq(scoreboard_count_max(5000, 1000), 1000000);
	ck_assert_uint_eq(scoreboard_count_max(0, 10000), 11000000);
	ck_assert_uint_eq(scoreboard_count_max(INT64_MIN, INT64_MAX),
	    UINT64_MAX);
	ck_assert_uint_eq(scoreboard_count_max(0, INT64_MAX), UINT64_MAX);
	/* A century of a worker's life is far from the bound. */
	ck_assert_uint_eq(scoreboard_count_max(0, 3155760000000LL),
	    3155760001000000ULL);
}
END_TEST

START_TEST(test_counter_cut)
{
	struct slot	*sl = scoreboard_claim(sb, 0);

	atomic_store(&sl->sl_served, UINT64_MAX);
	ck_assert_uint_eq(scoreboard_counter(&sl->sl_served, 77), 77);
	atomic_store(&sl->sl_served, 12);
	ck_assert_uint_eq(scoreboard_counter(&sl->sl_served, 77), 12);
}
END_TEST

START_TEST(test_names_of_garbage)
{
	ck_assert_str_eq(scoreboard_state_name(SLOT_BUSY), "busy");
	ck_assert_str_eq(scoreboard_state_name(SLOT_UNKNOWN), "unknown");
	ck_assert_str_eq(scoreboard_state_name(UINT32_MAX), "unknown");
	ck_assert_str_eq(scoreboard_wait_name(SLOT_READING), "reading");
	ck_assert_str_eq(scoreboard_wait_name(0x80808080u), "running");
}
END_TEST

START_TEST(test_claim_bounds)
{
	ck_assert_ptr_null(scoreboard_claim(sb, SCOREBOARD_SLOTS));
	ck_assert_ptr_null(scoreboard_claim(sb, UINT32_MAX));
	ck_assert_ptr_eq(scoreboard_claim(sb, 3), &sb->sb_slot[3]);
	ck_assert_uint_eq(scoreboard_index(sb, &sb->sb_slot[3]), 3);
	scoreboard_set_high(sb, UINT32_MAX);
	ck_assert_uint_eq(atomic_load(&sb->sb_high), SCOREBOARD_SLOTS);
}
END_TEST

/* A slot written as a worker writes it reads back as it was. */
START_TEST(test_read_good)
{
	struct slot_reading	 r;
	struct slot		*sl = scoreboard_claim(sb, 0);
	struct addr		 peer;
	int64_t			 born = scoreboard_ms(), now;
	char			 name[ADDR_STRLEN];

	ck_assert_int_eq(addr_parse(&peer, "192.0.2.9"), 1);
	peer.a_port = 4242;
	scoreboard_busy(sl, &peer, 17);
	scoreboard_set_wait(sl, SLOT_READING);
	now = scoreboard_ms();
	ck_assert(scoreboard_read(sl, born, now, &r));
	ck_assert_uint_eq(r.sr_state, SLOT_BUSY);
	ck_assert_uint_eq(r.sr_wait, SLOT_READING);
	ck_assert_uint_eq(r.sr_conn, 17);
	ck_assert_int_ge(r.sr_since, born);
	ck_assert_int_le(r.sr_wait_since, now);
	addr_format(&r.sr_peer, name, sizeof(name));
	ck_assert_str_eq(name, "192.0.2.9:4242");
	ck_assert_uint_eq(scoreboard_state(sl), SLOT_BUSY);
}
END_TEST

/* Every field one byte value, as a scribbling worker might leave it. */
START_TEST(test_read_garbage)
{
	static const unsigned char fill[] = { 0xff, 0x7f, 0x80, 0x00, 0x01,
	    0x02 };
	struct slot_reading	 r;
	struct slot		*sl = &sb->sb_slot[1];
	int64_t			 born = scoreboard_ms() - 5000;
	int64_t			 now = born + 5000;

	for (size_t i = 0; i < sizeof(fill); i++) {
		memset(sl, fill[i], sizeof(*sl));
		atomic_store(&sl->sl_seq, 0);	/* readable */
		ck_assert(scoreboard_read(sl, born, now, &r));
		ck_assert_msg(r.sr_state == SLOT_UNKNOWN, "fill %#x",
		    fill[i]);
		ck_assert_uint_eq(scoreboard_state(sl), SLOT_UNKNOWN);
		ck_assert_uint_eq(r.sr_wait, SLOT_RUNNING);
		ck_assert_int_eq(r.sr_peer.a_family, 0);
		ck_assert_int_ge(r.sr_since, born);
		ck_assert_int_le(r.sr_since, now);
		ck_assert_int_ge(r.sr_wait_since, born);
		ck_assert_int_le(r.sr_wait_since, now);
		ck_assert_int_ge(r.sr_beat, born);
		ck_assert_int_le(r.sr_beat, now);
	}
	/* A time in the future counts as the worker's birth: a stuck
	 * worker does not look alive for it. */
	scoreboard_claim(sb, 1);
	atomic_store(&sl->sl_beat, now + 3600 * 1000);
	ck_assert(scoreboard_read(sl, born, now, &r));
	ck_assert_int_eq(r.sr_beat, born);
}
END_TEST

/* A count left odd (a writer stopped in the middle, or on purpose):
 * unknown after a few tries, never a half-written pair. */
START_TEST(test_read_odd_sequence)
{
	struct slot_reading	 r;
	struct slot		*sl = scoreboard_claim(sb, 2);
	struct addr		 a;
	int64_t			 now = scoreboard_ms();

	scoreboard_set_state(sl, SLOT_IDLE);
	atomic_store(&sl->sl_seq, 7);
	ck_assert(!scoreboard_read(sl, now - 100, now, &r));
	ck_assert_uint_eq(r.sr_state, SLOT_UNKNOWN);
	ck_assert_int_eq(r.sr_since, now - 100);
	scoreboard_peer(sl, &a);
	ck_assert_int_eq(a.a_family, 0);
	/* The worker's next write makes it readable again. */
	scoreboard_set_state(sl, SLOT_IDLE);
	ck_assert(scoreboard_read(sl, now - 100, scoreboard_ms(), &r));
	ck_assert_uint_eq(r.sr_state, SLOT_IDLE);
}
END_TEST

/* The per-source count in a worker: garbage keys are nobody's source, a
 * garbage bound does not run off the board, and a garbage retiring flag
 * only leaves a slot out. */
START_TEST(test_count_source_garbage)
{
	struct addr	 peer;
	struct slot	*sl;
	uint64_t	 key;

	ck_assert_int_eq(addr_parse(&peer, "192.0.2.1"), 1);
	memset(sb, 0xff, sizeof(*sb));
	key = scoreboard_source_key(sb, &peer, 32);
	ck_assert_uint_ne(key, 0);
	ck_assert_uint_eq(scoreboard_count_source(sb, key), 0);
	sl = scoreboard_claim(sb, 9);
	scoreboard_set_source(sb, sl, key);
	ck_assert_uint_eq(scoreboard_count_source(sb, key), 1);
	atomic_store(&sl->sl_retiring, 0x80000000u);
	ck_assert_uint_eq(scoreboard_count_source(sb, key), 0);
	/* Nobody's source is counted for nobody. */
	ck_assert_uint_eq(scoreboard_count_source(sb, 0), 0);
}
END_TEST

/*
 * Keys: one per prefix (the first bits bits and the family), never 0 but
 * for an address of no family; no two IPv4 addresses, nor two IPv6 /64s,
 * share one; and another board (another seed) has other keys.
 */
START_TEST(test_source_keys)
{
	static uint64_t	 seen[4096];
	struct scoreboard *other;
	struct addr	 a, b, none;
	size_t		 same = 0;

	memset(&none, 0, sizeof(none));
	ck_assert_uint_eq(scoreboard_source_key(sb, &none, 32), 0);
	ck_assert_int_eq(addr_parse(&a, "192.0.2.1"), 1);
	ck_assert_int_eq(addr_parse(&b, "192.0.2.200"), 1);
	b.a_port = 999;		/* the port is not the source */
	ck_assert_uint_ne(scoreboard_source_key(sb, &a, 32),
	    scoreboard_source_key(sb, &b, 32));
	ck_assert_uint_eq(scoreboard_source_key(sb, &a, 24),
	    scoreboard_source_key(sb, &b, 24));
	ck_assert_uint_eq(scoreboard_source_key(sb, &a, 32),
	    scoreboard_source_key(sb, &a, 99));
	ck_assert_uint_ne(scoreboard_source_key(sb, &a, 24),
	    scoreboard_source_key(sb, &a, 32));
	ck_assert_int_eq(addr_parse(&a, "2001:db8:0:1::1"), 1);
	ck_assert_int_eq(addr_parse(&b, "2001:db8:0:1:ffff::2"), 1);
	ck_assert_uint_eq(scoreboard_source_key(sb, &a, 64),
	    scoreboard_source_key(sb, &b, 64));
	ck_assert_uint_ne(scoreboard_source_key(sb, &a, 128),
	    scoreboard_source_key(sb, &b, 128));
	ck_assert_int_eq(addr_parse(&b, "2001:db8:0:2::1"), 1);
	ck_assert_uint_ne(scoreboard_source_key(sb, &a, 64),
	    scoreboard_source_key(sb, &b, 64));
	/* The same bits of another family: another source. */
	ck_assert_int_eq(addr_parse(&a, "0.0.0.0"), 1);
	ck_assert_int_eq(addr_parse(&b, "::"), 1);
	ck_assert_uint_ne(scoreboard_source_key(sb, &a, 32),
	    scoreboard_source_key(sb, &b, 32));
	/* A run of neighbours: as many keys as addresses, none 0. */
	ck_assert_int_eq(addr_parse(&a, "10.0.0.0"), 1);
	for (size_t i = 0; i < 4096; i++) {
		a.a_bytes[2] = (uint8_t)(i >> 8);
		a.a_bytes[3] = (uint8_t)i;
		seen[i] = scoreboard_source_key(sb, &a, 32);
		ck_assert_uint_ne(seen[i], 0);
		/* Counted, then asserted once: each ck_assert is a write to
		 * Check's pipe, and 8 million of them take minutes. */
		for (size_t j = 0; j < i; j++)
			same += seen[i] == seen[j];
	}
	ck_assert_uint_eq(same, 0);
	ck_assert_ptr_nonnull(other = scoreboard_create(NULL));
	ck_assert_uint_ne(scoreboard_source_key(sb, &a, 32),
	    scoreboard_source_key(other, &a, 32));
	scoreboard_destroy(other);
}
END_TEST

/* The count: equal keys below the bound, retiring workers left out, a
 * slot given back no more. */
START_TEST(test_count_source_slots)
{
	struct addr	 a, b;
	struct slot	*sl[4];
	uint64_t	 ka, kb;

	ck_assert_int_eq(addr_parse(&a, "198.51.100.7"), 1);
	ck_assert_int_eq(addr_parse(&b, "198.51.100.8"), 1);
	ka = scoreboard_source_key(sb, &a, 32);
	kb = scoreboard_source_key(sb, &b, 32);
	for (uint32_t i = 0; i < 4; i++)
		sl[i] = scoreboard_claim(sb, i);
	scoreboard_set_high(sb, 4);
	scoreboard_set_source(sb, sl[0], ka);
	scoreboard_set_source(sb, sl[1], ka);
	scoreboard_set_source(sb, sl[2], kb);
	scoreboard_set_source(sb, sl[3], ka);
	ck_assert_uint_eq(scoreboard_count_source(sb, ka), 3);
	ck_assert_uint_eq(scoreboard_count_source(sb, kb), 1);
	atomic_store(&sl[3]->sl_retiring, 1);
	ck_assert_uint_eq(scoreboard_count_source(sb, ka), 2);
	/* A worker that died serving: its slot counts no more. */
	scoreboard_release(sb, sl[1]);
	ck_assert_uint_eq(scoreboard_count_source(sb, ka), 1);
	/* Over: the worker's source is none. */
	scoreboard_set_source(sb, sl[0], 0);
	ck_assert_uint_eq(scoreboard_count_source(sb, ka), 0);
	scoreboard_set_source(sb, sl[0], ka);
	/* A claimed slot starts with none. */
	scoreboard_claim(sb, 0);
	ck_assert_uint_eq(scoreboard_count_source(sb, ka), 0);
	/* Nothing at or above the bound is looked at. */
	scoreboard_set_source(sb, sl[0], kb);
	scoreboard_set_high(sb, 2);
	ck_assert_uint_eq(scoreboard_count_source(sb, kb), 1);
	scoreboard_set_high(sb, 0);
	ck_assert_uint_eq(scoreboard_count_source(sb, kb), 0);
}
END_TEST

/*
 * A writer process turns one slot from (peer A, connection 1, reading)
 * to (peer B, connection 2, writing) and back as fast as it can; every
 * reading the reader gets must be one or the other, never a mix.
 */
START_TEST(test_read_never_torn)
{
	struct slot		*sl = scoreboard_claim(sb, 5);
	struct slot_reading	 r;
	struct addr		 a, b;
	pid_t			 writer;
	int			 status;

	ck_assert_int_eq(addr_parse(&a, "192.0.2.1"), 1);
	ck_assert_int_eq(addr_parse(&b, "2001:db8::2"), 1);
	a.a_port = 1;
	b.a_port = 2;
	scoreboard_busy(sl, &a, 1);
	ck_assert_int_ne(writer = fork(), -1);
	if (writer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (long i = 0; i < 100000000L &&
		    !atomic_load(&sb->sb_stopping); i++) {
			scoreboard_busy(sl, (i & 1) ? &b : &a,
			    (i & 1) ? 2 : 1);
			scoreboard_set_wait(sl, (i & 1) ? SLOT_WRITING :
			    SLOT_READING);
		}
		_exit(0);
	}
	for (int i = 0; i < 200000; i++) {
		int64_t now = scoreboard_ms();

		if (!scoreboard_read(sl, now - 60000, now, &r))
			continue;
		ck_assert_uint_eq(r.sr_state, SLOT_BUSY);
		ck_assert_msg(r.sr_conn == r.sr_peer.a_port, "connection %llu "
		    "with the peer of %u", (unsigned long long)r.sr_conn,
		    r.sr_peer.a_port);
		ck_assert_int_eq(r.sr_peer.a_family, r.sr_conn == 1 ? AF_INET :
		    AF_INET6);
		ck_assert(r.sr_wait == SLOT_RUNNING || r.sr_wait ==
		    (r.sr_conn == 1 ? SLOT_READING : SLOT_WRITING));
	}
	atomic_store(&sb->sb_stopping, 1);
	ck_assert_int_eq(waitpid(writer, &status, 0), writer);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Once the writer is gone the slot holds still. */
	ck_assert(scoreboard_read(sl, scoreboard_ms() - 60000,
	    scoreboard_ms(), &r));
	ck_assert_uint_eq(r.sr_conn, r.sr_peer.a_port);
}
END_TEST

/* A child that waits to be killed: a worker to adopt. */
static pid_t
kid(void)
{
	pid_t	 pid;

	ck_assert_uint_lt(nkids, sizeof(kids) / sizeof(kids[0]));
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	return kids[nkids++] = pid;
}

static int
adopt(pid_t pid, uint32_t slot)
{
	struct pool_worker	 w;

	memset(&w, 0, sizeof(w));
	w.pw_pid = pid;
	w.pw_generation = 1;
	w.pw_started = clock_now();
	return pool_adopt(&p, &w, slot);
}

/* What an upgrade hands over is checked like anything else. */
START_TEST(test_adopt_checks)
{
	struct pool_worker	 w;
	pid_t			 one = kid(), two = kid();

	ck_assert_int_eq(adopt(0, 1), -1);
	ck_assert_int_eq(adopt(-1, 1), -1);
	ck_assert_int_eq(adopt(1, 1), -1);
	ck_assert_int_eq(adopt(getpid(), 1), -1);	/* not our child */
	ck_assert_int_eq(adopt(one, SCOREBOARD_SLOTS), -1);
	ck_assert_int_eq(adopt(one, 7), 0);
	ck_assert_uint_eq(atomic_load(&sb->sb_high), 8);
	ck_assert_int_eq(adopt(one, 8), -1);		/* twice */
	ck_assert_int_eq(adopt(two, 7), -1);		/* slot taken */
	memset(&w, 0, sizeof(w));
	w.pw_pid = two;
	w.pw_started = clock_after(clock_now(), 3600);
	ck_assert_int_eq(pool_adopt(&p, &w, 8), -1);	/* born later */
	ck_assert_int_eq(adopt(two, 2), 0);
	ck_assert_uint_eq(p.p_n, 2);
}
END_TEST

/*
 * A worker scribbles over the whole board, counters, states, the bound
 * and all, and is reaped: totals stay within what its age allows, and
 * the slot it held is free again by the table, whatever the board says.
 */
START_TEST(test_reap_scribbled)
{
	struct pool_worker	 out;
	struct pool_gone	 t;
	pid_t			 one = kid(), two = kid(), three = kid();
	int			 status;
	uint64_t		 max;

	ck_assert_int_eq(adopt(one, 3), 0);
	ck_assert_int_eq(adopt(two, 0), 0);
	memset(sb, 0xff, sizeof(*sb));
	max = scoreboard_count_max(pool_born_ms(&p.p_workers[0]),
	    scoreboard_ms() + 1000);
	t = pool_totals(&p);
	ck_assert_uint_le(t.pg_served, 2 * max);
	ck_assert_uint_le(t.pg_limited, 2 * max);
	ck_assert_uint_le(t.pg_empty, 2 * max);
	ck_assert_uint_le(pool_served(&p.p_workers[0], scoreboard_ms()), max);
	ck_assert_int_eq(kill(one, SIGKILL), 0);
	while (pool_reap(&p, one, &out, &status) == 0)
		usleep(1000);
	ck_assert_int_eq(out.pw_pid, one);
	ck_assert_uint_eq(out.pw_last_state, SLOT_UNKNOWN);
	ck_assert_uint_le(p.p_gone.pg_served, max);
	ck_assert_uint_le(p.p_gone.pg_proxy_failed, max);
	ck_assert_uint_le(p.p_gone.pg_empty, max);
	ck_assert_uint_eq(p.p_n, 1);
	/* The bound is the table's again: slot 0 only. */
	ck_assert_uint_eq(atomic_load(&sb->sb_high), 1);
	ck_assert_uint_eq(atomic_load(&sb->sb_slot[3].sl_state), SLOT_FREE);
	/* Slot 0 says free too, but a worker in the table holds it. */
	atomic_store(&sb->sb_slot[0].sl_state, SLOT_FREE);
	ck_assert_int_eq(adopt(three, 0), -1);
	ck_assert_int_eq(adopt(three, 3), 0);
	ck_assert_uint_eq(atomic_load(&sb->sb_high), 4);
}
END_TEST

Suite *
scoreboard_suite(void)
{
	Suite	*s = suite_create("scoreboard");
	TCase	*tc = tcase_create("checks");
	TCase	*pl = tcase_create("pool");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_clamp_times);
	tcase_add_test(tc, test_count_max);
	tcase_add_test(tc, test_counter_cut);
	tcase_add_test(tc, test_names_of_garbage);
	tcase_add_test(tc, test_claim_bounds);
	tcase_add_test(tc, test_read_good);
	tcase_add_test(tc, test_read_garbage);
	tcase_add_test(tc, test_read_odd_sequence);
	tcase_add_test(tc, test_count_source_garbage);
	tcase_add_test(tc, test_source_keys);
	tcase_add_test(tc, test_count_source_slots);
	tcase_add_test(tc, test_read_never_torn);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(pl, pool_setup, pool_teardown);
	tcase_add_test(pl, test_adopt_checks);
	tcase_add_test(pl, test_reap_scribbled);
	suite_add_tcase(s, pl);
	return s;
}
