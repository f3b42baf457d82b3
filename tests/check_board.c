/* SPDX-License-Identifier: ISC */
/*
 * check_board.c - the scoreboard is every worker's to write: a module's
 * bug or a compromised worker may leave anything in it.  The master must
 * live on and serve whatever the board holds.  Against the real daemon:
 * the test writes garbage over the whole board (the memfd the master maps,
 * which every worker maps too) while the daemon serves, kills workers so
 * that the master reaps and gives back their slots, asks for status
 * reports that read every slot, and stops the daemon at the end.
 */
#include "autoconf.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

#define BOARD_ROUNDS	50
#define BOARD_NAME	"/memfd:preforkd-scoreboard"

static struct daemon	 d;
static unsigned char	*board = MAP_FAILED;
static size_t		 board_size;
static uint64_t		 seed, rng;

static void
teardown(void)
{
	if (board != MAP_FAILED)
		munmap(board, board_size);
	board = MAP_FAILED;
	daemon_cleanup(&d);
}

/* xorshift64*: the same rounds again from the seed a failure prints. */
static uint64_t
board_random(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* The board's memfd, as the master holds it: mapped here, shared. */
static void
board_map(pid_t pid)
{
	char		 dir[64], path[384], link[256];
	struct dirent	*e;
	struct stat	 st;
	ssize_t		 n;
	DIR		*dp;
	int		 fd = -1;

	snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long)pid);
	ck_assert_ptr_nonnull(dp = opendir(dir));
	while (fd == -1 && (e = readdir(dp)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, BOARD_NAME, strlen(BOARD_NAME)) == 0)
			fd = open(path, O_RDWR | O_CLOEXEC);
	}
	closedir(dp);
	ck_assert_msg(fd != -1, "no scoreboard among %s", dir);
	ck_assert_int_eq(fstat(fd, &st), 0);
	board_size = (size_t)st.st_size;
	board = mmap(NULL, board_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0);
	ck_assert(board != MAP_FAILED);
	close(fd);
}

/*
 * Round r: random bytes, or every byte one value (all ones: every state
 * unknown, every time -1 and every bound the largest; 0x7f.. and 0x80..:
 * times far in the future and far in the past; zero: every slot free).
 */
static void
board_scribble(int r)
{
	static const unsigned char fill[] = { 0xff, 0x7f, 0x80, 0x00, 0x01 };
	uint64_t	 v;

	if (r % 3 == 2) {
		memset(board, fill[(r / 3) % sizeof(fill)], board_size);
		return;
	}
	for (size_t i = 0; i < board_size; i += sizeof(v)) {
		v = board_random();
		memcpy(board + i, &v, board_size - i < sizeof(v) ?
		    board_size - i : sizeof(v));
	}
}

/* Whether the master is still running (it is our child). */
static bool
master_alive(int *status)
{
	pid_t	 pid = waitpid(d.d_pid, status, WNOHANG);

	if (pid != d.d_pid)
		return true;
	d.d_pid = 0;		/* reaped: nothing to clean up */
	return false;
}

/* Kill -9 one of the master's workers, at random. */
static void
board_kill_worker(void)
{
	pid_t	 kids[64];
	size_t	 n = proc_children(d.d_pid, kids, 64);

	if (n > 64)
		n = 64;
	if (n > 0)
		kill(kids[board_random() % n], SIGKILL);
}

/* A whole greeting within a generous deadline (a worker killed, the pool
 * refilling after a crash back-off): 0, or -1. */
static int
board_greet(void)
{
	struct timespec	 end = clock_after(clock_now(), 30);

	do {
		if (greet(d.d_port, "scribbled", 10) == 0)
			return 0;
		sleep_ms(50);
	} while (clock_ms_until(end) > 0);
	return -1;
}

static void
assert_no_crash_logged(void)
{
	static const char *const crash[] = { "runtime error", "Sanitizer",
	    "Segmentation", "core dumped", NULL };

	for (int i = 0; crash[i] != NULL; i++)
		ck_assert_msg(strstr(daemon_log(&d), crash[i]) == NULL,
		    "seed %llu: \"%s\" in the log:\n%s",
		    (unsigned long long)seed, crash[i], daemon_log_tail(&d));
}

START_TEST(test_board_garbage)
{
	int	 status = 0;

	seed = rng = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid() ^ 1;
	daemon_start(&d, "pool = { min = 2; max = 6; idle_min = 1; "
	    "idle_max = 3; };\n");
	board_map(d.d_pid);
	for (int r = 0; r < BOARD_ROUNDS; r++) {
		board_scribble(r);
		/* A tick or two over the garbage: sizing, shedding and the
		 * hung check read every slot. */
		sleep_ms(150);
		if (r % 2 == 0)
			board_kill_worker();
		if (r % 5 == 0)
			kill(d.d_pid, SIGUSR1);	/* a report of every slot */
		ck_assert_msg(master_alive(&status), "seed %llu round %d: "
		    "the master died, status %#x; log:\n%s",
		    (unsigned long long)seed, r, status, daemon_log_tail(&d));
		ck_assert_msg(board_greet() == 0, "seed %llu round %d: no "
		    "greeting within 30 s; log:\n%s",
		    (unsigned long long)seed, r, daemon_log_tail(&d));
	}
	assert_no_crash_logged();
	/* And it still stops cleanly, with its board full of garbage. */
	board_scribble(0);
	ck_assert_msg(master_alive(&status), "seed %llu: the master died, "
	    "status %#x; log:\n%s", (unsigned long long)seed, status,
	    daemon_log_tail(&d));
	status = daemon_stop(&d, SIGTERM, 60);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "seed %llu: stop status %#x; log:\n%s", (unsigned long long)seed,
	    status, daemon_log_tail(&d));
	assert_no_crash_logged();
}
END_TEST

Suite *
board_suite(void)
{
	Suite	*s = suite_create("board");
	TCase	*tc = tcase_create("garbage");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_board_garbage);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return s;
}
