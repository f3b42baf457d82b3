/* SPDX-License-Identifier: ISC */
/*
 * check_escape.c - no byte a client sends may reach a log line raw.
 */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "escape.h"
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

Suite *
escape_suite(void)
{
	Suite	*s = suite_create("escape");
	TCase	*tc = tcase_create("bytes");

	tcase_add_test(tc, test_escape_named);
	tcase_add_test(tc, test_escape_hex);
	tcase_add_test(tc, test_escape_all_bytes);
	tcase_add_test(tc, test_escape_truncates_whole);
	tcase_add_test(tc, test_escape_fit_reports);
	suite_add_tcase(s, tc);
	return s;
}
