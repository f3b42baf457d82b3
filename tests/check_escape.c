/* SPDX-License-Identifier: ISC */
/*
 * check_escape.c - no byte a client sends may reach a log line raw; and
 * the lines themselves come out as printf would make them.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"
#include "unit.h"

static const char *
escaped(const void *in, size_t len)
{
	static char	 out[ESCAPE_MAX(1024)];

	escape_bytes(out, sizeof(out), in, len);
	return out;
}

START_TEST(test_escape_named)
{
	ck_assert_str_eq(escaped("a\nb", 3), "a\\nb");
	ck_assert_str_eq(escaped("\r\t", 2), "\\r\\t");
	ck_assert_str_eq(escaped("say \"hi\"", 8), "say \\\"hi\\\"");
	ck_assert_str_eq(escaped("C:\\dir", 6), "C:\\\\dir");
	ck_assert_str_eq(escaped("", 0), "");
}
END_TEST

START_TEST(test_escape_hex)
{
	ck_assert_str_eq(escaped("\x00", 1), "\\x00");
	ck_assert_str_eq(escaped("\x1b[31m", 5), "\\x1b[31m");
	ck_assert_str_eq(escaped("\x7f\x80\xff", 3), "\\x7f\\x80\\xff");
	/* UTF-8 is bytes too: a terminal must not see it raw. */
	ck_assert_str_eq(escaped("\xed\x95\x9c", 3), "\\xed\\x95\\x9c");
}
END_TEST

/* All 256 byte values: the output is printable ASCII only, never a raw
 * quote, and each byte maps to its documented spelling. */
START_TEST(test_escape_all_bytes)
{
	unsigned char	 in[256];
	char		 out[ESCAPE_MAX(256)], want[8];
	size_t		 n, off = 0;

	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	n = escape_bytes(out, sizeof(out), in, sizeof(in));
	ck_assert_uint_eq(n, strlen(out));
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(out[i] >= 0x20 && out[i] < 0x7f,
		    "raw byte 0x%02x at %zu", (unsigned char)out[i], i);
		if (out[i] == '"')
			ck_assert_int_eq(out[i - 1], '\\');
	}
	for (int i = 0; i < 256; i++) {
		if (i == '\n')
			strcpy(want, "\\n");
		else if (i == '\r')
			strcpy(want, "\\r");
		else if (i == '\t')
			strcpy(want, "\\t");
		else if (i == '\\' || i == '"')
			snprintf(want, sizeof(want), "\\%c", i);
		else if (i >= 0x20 && i < 0x7f)
			snprintf(want, sizeof(want), "%c", i);
		else
			snprintf(want, sizeof(want), "\\x%02x", i);
		ck_assert_msg(strncmp(out + off, want, strlen(want)) == 0,
		    "byte 0x%02x: want %s", i, want);
		off += strlen(want);
	}
	ck_assert_uint_eq(off, n);
}
END_TEST

/* A short buffer never ends in half an escape sequence. */
START_TEST(test_escape_truncates_whole)
{
	char	 out[6];

	ck_assert_uint_eq(escape_bytes(out, sizeof(out), "ab\x01", 3), 2);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(escape_bytes(out, sizeof(out), "abcdefg", 7), 5);
	ck_assert_str_eq(out, "abcde");
	ck_assert_uint_eq(escape_bytes(out, 0, "abc", 3), 0);
}
END_TEST

/* Cut short, escape_fit() says how much of the input it holds, so that a
 * log line can say the message was cut; the last escape is whole. */
START_TEST(test_escape_fit_reports)
{
	unsigned char	 in[100];
	char		 out[23];
	size_t		 used;

	memset(in, 0x01, sizeof(in));
	ck_assert_uint_eq(escape_fit(out, sizeof(out), in, sizeof(in), &used),
	    20);
	ck_assert_uint_eq(used, 5);
	ck_assert_str_eq(out, "\\x01\\x01\\x01\\x01\\x01");
	ck_assert_uint_eq(escape_fit(out, sizeof(out), "a\"b", 3, &used), 4);
	ck_assert_uint_eq(used, 3);
	ck_assert_str_eq(out, "a\\\"b");
	ck_assert_uint_eq(escape_fit(out, 0, "abc", 3, &used), 0);
	ck_assert_uint_eq(used, 0);
}
END_TEST

/*
 * Lines logged to stderr (a pipe) by a child: each must be what
 * snprintf() makes of the same format, behind the "ident[pid]: " prefix,
 * cut where the longest line is cut.  The conversions log.c writes
 * itself and those it leaves to vsnprintf(), alone and mixed.
 */
#define LOG_CASES(X)							\
	X("plain words")						\
	X("%s=%d %i %u%%", "k", INT_MIN, INT_MAX, UINT_MAX)		\
	X("%ld %lu %lld %llu %zu", LONG_MIN, ULONG_MAX, LLONG_MIN,	\
	    ULLONG_MAX, SIZE_MAX)					\
	X("%d %u %ld %zu|", 0, 0u, -1L, (size_t)7)			\
	X("%s and %s", "", nothing)					\
	X("%5d|%-3s|%.1f|%x|%c|%.*s", 42, "a", 2.25, 255u, 'z', 2,	\
	    "abc")							\
	X("peer=%s bytes=%zu msg=\"%s\" %05u", "192.0.2.1:80",		\
	    (size_t)5, "bench", 7u)					\
	X("%s", long_text)						\
	X("%s%c", long_text, '!')

START_TEST(test_log_formats)
{
	static char	 long_text[LOG_LINE_MAX * 2], got[LOG_LINE_MAX * 16];
	static char	 want[LOG_LINE_MAX * 16];
	const char	*volatile nothing = NULL;
	char		 prefix[64], line[LOG_LINE_MAX * 2];
	size_t		 len = 0, wlen = 0, cut;
	ssize_t		 n;
	pid_t		 pid;
	int		 lp[2], status;

	memset(long_text, 'x', sizeof(long_text) - 1);
	ck_assert_int_eq(pipe(lp), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(lp[0]);
		dup2(lp[1], STDERR_FILENO);
		log_init("fmt", LOG_TO_STDERR, LOG_DAEMON, LOG_DEBUG);
#define LOG_IT(...)	log_info(__VA_ARGS__);
		LOG_CASES(LOG_IT)
		_exit(0);
	}
	close(lp[1]);
	while (len < sizeof(got) - 1 &&
	    (n = read(lp[0], got + len, sizeof(got) - 1 - len)) > 0)
		len += (size_t)n;
	got[len] = '\0';
	close(lp[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(prefix, sizeof(prefix), "fmt[%ld]: ", (long)pid);
	/* The prefix and the newline count in LOG_LINE_MAX. */
	cut = LOG_LINE_MAX - strlen(prefix) - 2;
#define WANT_IT(...)							\
	snprintf(line, sizeof(line), __VA_ARGS__);			\
	if (strlen(line) > cut)						\
		line[cut] = '\0';					\
	wlen += (size_t)snprintf(want + wlen, sizeof(want) - wlen,	\
	    "%s%s\n", prefix, line);
	_Pragma("GCC diagnostic push")
	_Pragma("GCC diagnostic ignored \"-Wformat\"")
	_Pragma("GCC diagnostic ignored \"-Wformat-overflow\"")
	_Pragma("GCC diagnostic ignored \"-Wformat-truncation\"")
	LOG_CASES(WANT_IT)
	_Pragma("GCC diagnostic pop")
	ck_assert_uint_eq(len, wlen);
	ck_assert_msg(strcmp(got, want) == 0, "got:\n%.2000s\nwant:\n%.2000s",
	    got, want);
}
END_TEST

Suite *
escape_suite(void)
{
	Suite	*s = suite_create("escape");
	TCase	*tc = tcase_create("bytes");
	TCase	*lines;

	tcase_add_test(tc, test_escape_named);
	tcase_add_test(tc, test_escape_hex);
	tcase_add_test(tc, test_escape_all_bytes);
	tcase_add_test(tc, test_escape_truncates_whole);
	tcase_add_test(tc, test_escape_fit_reports);
	suite_add_tcase(s, tc);
	lines = tcase_create("lines");
	tcase_add_test(lines, test_log_formats);
	suite_add_tcase(s, lines);
	return s;
}
