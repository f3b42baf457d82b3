/* SPDX-License-Identifier: ISC */
/*
 * check_proxy.c - the PROXY protocol header parser: every valid form,
 * every prefix of one asking for more, and every malformed one refused
 * with its reason, as early as the bytes allow.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"
#include "unit.h"

#define V2_SIG	"\r\n\r\n\0\r\nQUIT\n"

static struct proxy_header	 ph;
static const char		*why;

/* Parse with a fresh reason; *ph must stay untouched unless a header is
 * returned. */
static ssize_t
parse(const void *buf, size_t len, enum proxy_mode mode)
{
	struct proxy_header	 before;
	ssize_t			 n;

	memset(&ph, 0xa5, sizeof(ph));
	before = ph;
	why = NULL;
	n = proxy_parse(buf, len, mode, &ph, &why);
	if (n <= 0)
		ck_assert_mem_eq(&ph, &before, sizeof(ph));
	if (n == -1)
		ck_assert_ptr_nonnull(why);
	return n;
}

/*
 * buf[0..len) is exactly one valid header in mode: each proper prefix
 * asks for more, the whole is taken, and so is the whole followed by
 * client data (of which nothing is taken).  Leaves ph as parsed.
 */
static void
accepts(const void *buf, size_t len, enum proxy_mode mode)
{
	static const char	 more[] = "GET / HTTP/1.1\r\n\r\n\0\r\n\xff";
	uint8_t			*both;

	for (size_t k = 0; k < len; k++)
		ck_assert_msg(parse(buf, k, mode) == 0,
		    "prefix of %zu bytes of %zu: %s", k, len,
		    why == NULL ? "not 0" : why);
	ck_assert_ptr_nonnull(both = malloc(len + sizeof(more)));
	memcpy(both, buf, len);
	memcpy(both + len, more, sizeof(more));
	ck_assert_int_eq(parse(both, len + sizeof(more), mode), (ssize_t)len);
	free(both);
	ck_assert_int_eq(parse(buf, len, mode), (ssize_t)len);
}

static void
accepts_str(const char *line, enum proxy_mode mode)
{
	accepts(line, strlen(line), mode);
}

/* Refused, with this reason. */
static void
refuses(const void *buf, size_t len, enum proxy_mode mode,
    const char *reason)
{
	ck_assert_msg(parse(buf, len, mode) == -1, "accepted: %.*s",
	    (int)len, (const char *)buf);
	ck_assert_str_eq(why, reason);
}

static void
refuses_str(const char *line, const char *reason)
{
	refuses(line, strlen(line), PROXY_V1, reason);
	refuses(line, strlen(line), PROXY_ANY, reason);
}

static void
assert_addr(const struct addr *a, int family, const char *host,
    uint16_t port)
{
	char	 text[ADDR_STRLEN];

	ck_assert_int_eq(a->a_family, family);
	addr_format_host(a, text, sizeof(text));
	ck_assert_str_eq(text, host);
	ck_assert_uint_eq(a->a_port, port);
}

/* ---- v1 ---------------------------------------------------------------- */

START_TEST(test_v1_tcp4)
{
	const char	*line =
	    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";

	accepts_str(line, PROXY_V1);
	accepts_str(line, PROXY_ANY);
	ck_assert_uint_eq(ph.ph_version, 1);
	ck_assert(!ph.ph_local);
	assert_addr(&ph.ph_src, AF_INET, "192.168.0.1", 56324);
	assert_addr(&ph.ph_dst, AF_INET, "192.168.0.11", 443);
	/* The spec's longest TCP4 line, and the smallest values. */
	accepts_str("PROXY TCP4 255.255.255.255 255.255.255.255 "
	    "65535 65535\r\n", PROXY_V1);
	ck_assert_uint_eq(ph.ph_src.a_port, 65535);
	accepts_str("PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", PROXY_ANY);
	assert_addr(&ph.ph_src, AF_INET, "0.0.0.0", 0);
}
END_TEST

START_TEST(test_v1_tcp6)
{
	char	 line[PROXY_V1_MAX + 1];

	accepts_str("PROXY TCP6 2001:db8::1 ::1 1024 22\r\n", PROXY_V1);
	ck_assert(!ph.ph_local);
	assert_addr(&ph.ph_src, AF_INET6, "2001:db8::1", 1024);
	assert_addr(&ph.ph_dst, AF_INET6, "::1", 22);
	accepts_str("PROXY TCP6 2001:DB8:0:0:0:0:0:A :: 1 2\r\n", PROXY_ANY);
	assert_addr(&ph.ph_src, AF_INET6, "2001:db8::a", 1);
	/* The spec's longest TCP6 line: 104 bytes. */
	snprintf(line, sizeof(line), "PROXY TCP6 %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert_uint_eq(strlen(line), 104);
	accepts_str(line, PROXY_V1);
}
END_TEST

/* A v4-mapped address is the IPv4 client it stands for, whichever way
 * the sender wrote it. */
START_TEST(test_v1_tcp6_mapped)
{
	accepts_str("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c000:202 5000 80\r\n",
	    PROXY_V1);
	assert_addr(&ph.ph_src, AF_INET, "192.0.2.1", 5000);
	assert_addr(&ph.ph_dst, AF_INET, "192.0.2.2", 80);
}
END_TEST

START_TEST(test_v1_unknown)
{
	char	 line[PROXY_V1_MAX + 1];

	/* 15 bytes: nothing follows, the caller never reads past it. */
	accepts_str("PROXY UNKNOWN\r\n", PROXY_V1);
	ck_assert_uint_eq(ph.ph_version, 1);
	ck_assert(ph.ph_local);
	accepts_str("PROXY UNKNOWN\r\n", PROXY_ANY);
	/* Whatever follows UNKNOWN is not read, even malformed. */
	accepts_str("PROXY UNKNOWN 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_V1);
	ck_assert(ph.ph_local);
	accepts_str("PROXY UNKNOWN  junk\t\x01\xff 99999\r\n", PROXY_V1);
	/* The spec's worst case is 107 bytes, CRLF included. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s %s 65535 65535\r\n",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert_uint_eq(strlen(line), PROXY_V1_MAX);
	accepts_str(line, PROXY_V1);
	ck_assert(ph.ph_local);
}
END_TEST

/* The header's length exactly: the rest belongs to the service. */
START_TEST(test_v1_then_data)
{
	const char	*in = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhello\r\n";

	ck_assert_int_eq(parse(in, strlen(in), PROXY_V1), 32);
	ck_assert_int_eq(parse("PROXY UNKNOWN\r\nPROXY UNKNOWN\r\n", 30,
	    PROXY_V1), 15);
	/* A v2 signature after a v1 line is data too. */
	ck_assert_int_eq(parse("PROXY UNKNOWN\r\n" V2_SIG, 27, PROXY_ANY), 15);
}
END_TEST

START_TEST(test_v1_malformed)
{
	static const struct {
		const char	*line;
		const char	*reason;
	} bad[] = {
		{ "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: double space" },
		{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "v1: double space" },
		{ "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "v1: double space" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", "v1: double space" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", "v1: double space" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
		    "v1: data after the destination port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		    "v1: data after the destination port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "v1: missing field" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8\r\n", "v1: missing field" },
		{ "PROXY TCP4 1.2.3.4\r\n", "v1: missing field" },
		{ "PROXY TCP4\r\n", "v1: missing field" },
		{ "PROXY TCP4 \r\n", "v1: missing field" },
		{ "PROXY\r\n", "v1: missing field" },
		{ "PROXY \r\n", "v1: missing field" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
		    "v1: bad source port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
		    "v1: bad destination port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 80a 2\r\n",
		    "v1: bad source port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 x\r\n",
		    "v1: bad destination port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		    "v1: bad source port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
		    "v1: bad source port" },
		/* Leading zeros: the spec forbids them. */
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
		    "v1: bad source port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n",
		    "v1: bad destination port" },
		{ "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
		    "v1: bad source address" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.08 1 2\r\n",
		    "v1: bad destination address" },
		{ "PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n",
		    "v1: bad source address" },
		{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
		    "v1: bad source address" },
		{ "PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n",
		    "v1: bad source address" },
		{ "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n",
		    "v1: bad source address" },
		{ "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "v1: bad source address" },
		{ "PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
		    "v1: bad destination address" },
		{ "PROXY TCP4 ::ffff:1.2.3.4 5.6.7.8 1 2\r\n",
		    "v1: bad source address" },
		{ "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "v1: bad source address" },
		{ "PROXY TCP6 ::1 1::2::3 1 2\r\n",
		    "v1: bad destination address" },
		{ "PROXY TCP6 ::g ::1 1 2\r\n", "v1: bad source address" },
		{ "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
		    "v1: bad source address" },
		{ "PROXY TCP6 [::1] ::1 1 2\r\n", "v1: bad source address" },
		{ "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad protocol" },
		{ "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad protocol" },
		{ "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad protocol" },
		{ "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad protocol" },
		{ "PROXY UNKNOWNX\r\n", "v1: bad protocol" },
		{ "PROXY UNKNOW\r\n", "v1: bad protocol" },
		{ "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY header" },
		{ "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY header" },
		{ "PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY header" },
		{ "PRI * HTTP/2.0\r\n", "not a PROXY header" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1: bare LF" },
		{ "PROXY UNKNOWN\n", "v1: bare LF" },
		{ "PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n", "v1: bare LF" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", "v1: CR without LF" },
		{ "PROXY UNKNOWN\r \r\n", "v1: CR without LF" },
		{ "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n", "v1: CR without LF" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i].line, strlen(bad[i].line),
		    PROXY_V1) == -1, "accepted: %s", bad[i].line);
		ck_assert_msg(strcmp(why, bad[i].reason) == 0,
		    "%s: \"%s\", not \"%s\"", bad[i].line, why, bad[i].reason);
		refuses_str(bad[i].line, bad[i].reason);
	}
}
END_TEST

/* No CRLF within 107 bytes: refused once 107 bytes are there, and only
 * then, whatever the line holds. */
START_TEST(test_v1_no_crlf)
{
	char	 line[PROXY_V1_MAX + 2];

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	ck_assert_int_eq(parse(line, PROXY_V1_MAX - 1, PROXY_V1), 0);
	refuses(line, PROXY_V1_MAX, PROXY_V1, "v1: no CRLF within 107 bytes");
	refuses(line, sizeof(line), PROXY_ANY, "v1: no CRLF within 107 bytes");
	/* A CRLF that would end at byte 108 comes too late. */
	line[PROXY_V1_MAX - 1] = '\r';
	line[PROXY_V1_MAX] = '\n';
	ck_assert_int_eq(parse(line, PROXY_V1_MAX - 1, PROXY_V1), 0);
	refuses(line, PROXY_V1_MAX, PROXY_V1, "v1: no CRLF within 107 bytes");
	refuses(line, PROXY_V1_MAX + 1, PROXY_V1,
	    "v1: no CRLF within 107 bytes");
	/* One byte sooner is the longest line there is. */
	line[PROXY_V1_MAX - 2] = '\r';
	line[PROXY_V1_MAX - 1] = '\n';
	accepts(line, PROXY_V1_MAX, PROXY_V1);
}
END_TEST

/* What cannot become a header is refused at the byte that shows it. */
START_TEST(test_v1_early)
{
	static const struct {
		const char	*start;
		const char	*reason;
	} bad[] = {
		{ "G", "not a PROXY header" },
		{ "\x16", "not a PROXY header" },
		{ "PX", "not a PROXY header" },
		{ "PROXY  ", "v1: double space" },
		{ "PROXY TCP7", "v1: bad protocol" },
		{ "PROXY UNKNOWNS", "v1: bad protocol" },
		{ "PROXY TCP4 1.2.3.4.", "v1: bad source address" },
		{ "PROXY TCP4 999", "v1: bad source address" },
		{ "PROXY TCP4 01", "v1: bad source address" },
		{ "PROXY TCP4 1.2.3.4 :", "v1: bad destination address" },
		{ "PROXY TCP6 1.2.3.4 ", "v1: bad source address" },
		{ "PROXY TCP6 1234567890123456789012345678901234567890123456",
		    "v1: bad source address" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536", "v1: bad source port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 01", "v1: bad source port" },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ",
		    "v1: data after the destination port" },
		{ "PROXY TCP4\n", "v1: bare LF" },
		{ "PROXY\rX", "v1: CR without LF" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t	 len = strlen(bad[i].start);

		refuses(bad[i].start, len, PROXY_V1, bad[i].reason);
		/* ... and not a byte sooner. */
		if (len > 1)
			ck_assert_msg(parse(bad[i].start, len - 1,
			    PROXY_V1) == 0, "%s: too early", bad[i].start);
	}
}
END_TEST

/* ---- v2 ---------------------------------------------------------------- */

/* A v2 header: signature, ver_cmd, fam, then body (addresses and TLVs)
 * of blen bytes; returns its length. */
static size_t
v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *body,
    size_t blen)
{
	memcpy(out, V2_SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

/* A CRC32c of our own, table-driven (the parser's is bitwise), checked
 * against the standard check value below. */
static uint32_t
crc32c(const uint8_t *p, size_t n)
{
	static uint32_t	 table[256];
	uint32_t	 crc = 0xffffffff;

	if (table[1] == 0)
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t	 c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
			table[i] = c;
		}
	while (n-- > 0)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* Seal a header whose CRC32C TLV's value (zeros) is at off. */
static void
v2_seal(uint8_t *buf, size_t len, size_t off)
{
	uint32_t	 crc = crc32c(buf, len);

	buf[off] = (uint8_t)(crc >> 24);
	buf[off + 1] = (uint8_t)(crc >> 16);
	buf[off + 2] = (uint8_t)(crc >> 8);
	buf[off + 3] = (uint8_t)crc;
}

static const uint8_t	 tcp4_block[12] = {
	192, 0, 2, 1,  198, 51, 100, 7,  0xdb, 0xc4,  0x01, 0xbb
};

START_TEST(test_v2_local)
{
	uint8_t		 buf[300];
	size_t		 n;

	n = v2(buf, 0x20, 0x00, NULL, 0);
	accepts(buf, n, PROXY_V2);
	accepts(buf, n, PROXY_ANY);
	ck_assert_uint_eq(ph.ph_version, 2);
	ck_assert(ph.ph_local);
	/* LOCAL with addresses: they are skipped, not read. */
	n = v2(buf, 0x20, 0x11, tcp4_block, sizeof(tcp4_block));
	accepts(buf, n, PROXY_V2);
	ck_assert(ph.ph_local);
}
END_TEST

START_TEST(test_v2_tcp4)
{
	uint8_t		 buf[64];
	size_t		 n;

	n = v2(buf, 0x21, 0x11, tcp4_block, sizeof(tcp4_block));
	ck_assert_uint_eq(n, 28);
	accepts(buf, n, PROXY_V2);
	accepts(buf, n, PROXY_ANY);
	ck_assert_uint_eq(ph.ph_version, 2);
	ck_assert(!ph.ph_local);
	assert_addr(&ph.ph_src, AF_INET, "192.0.2.1", 56260);
	assert_addr(&ph.ph_dst, AF_INET, "198.51.100.7", 443);
}
END_TEST

START_TEST(test_v2_tcp6)
{
	uint8_t		 block[36], buf[64];
	size_t		 n;

	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::5", block), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:203.0.113.9", block + 16),
	    1);
	memcpy(block + 32, "\xff\xff\x00\x00", 4);
	n = v2(buf, 0x21, 0x21, block, sizeof(block));
	accepts(buf, n, PROXY_V2);
	accepts(buf, n, PROXY_ANY);
	ck_assert(!ph.ph_local);
	assert_addr(&ph.ph_src, AF_INET6, "2001:db8::5", 65535);
	/* v4-mapped: the IPv4 client it stands for. */
	assert_addr(&ph.ph_dst, AF_INET, "203.0.113.9", 0);
}
END_TEST

/* Families we do not take, valid in the spec: the socket's peer stays. */
START_TEST(test_v2_other_families)
{
	static const struct {
		uint8_t		 fam;
		size_t		 alen;
	} fams[] = {
		{ 0x00, 0 }, { 0x01, 0 }, { 0x10, 0 }, { 0x20, 0 },
		{ 0x12, 12 }, { 0x22, 36 }, { 0x31, 216 }, { 0x32, 216 },
	};
	uint8_t		 block[216], buf[300];
	size_t		 n;

	memset(block, 0x41, sizeof(block));
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		n = v2(buf, 0x21, fams[i].fam, block, fams[i].alen);
		accepts(buf, n, PROXY_V2);
		ck_assert_msg(ph.ph_local, "family 0x%02x", fams[i].fam);
		ck_assert_uint_eq(ph.ph_version, 2);
	}
}
END_TEST

START_TEST(test_v2_tlvs)
{
	uint8_t		 body[128], buf[160];
	size_t		 n, off = 0;

	memcpy(body, tcp4_block, sizeof(tcp4_block));
	off = sizeof(tcp4_block);
	memcpy(body + off, "\x01\x00\x02h2", 5);		/* ALPN */
	off += 5;
	memcpy(body + off, "\x02\x00\x0b" "example.com", 14);	/* AUTHORITY */
	off += 14;
	memcpy(body + off, "\x04\x00\x00", 3);			/* NOOP */
	off += 3;
	memcpy(body + off, "\xe0\x00\x01\x7f", 4);		/* custom */
	off += 4;
	n = v2(buf, 0x21, 0x11, body, off);
	accepts(buf, n, PROXY_V2);
	assert_addr(&ph.ph_src, AF_INET, "192.0.2.1", 56260);
	/* TLVs after UNSPEC's empty address block, as in a health check. */
	n = v2(buf, 0x20, 0x00, body + 12, off - 12);
	accepts(buf, n, PROXY_ANY);
	ck_assert(ph.ph_local);
}
END_TEST

START_TEST(test_v2_crc32c)
{
	uint8_t		 body[64], buf[96];
	size_t		 n;

	/* The check value of CRC-32C: our reference is the right CRC. */
	ck_assert_uint_eq(crc32c((const uint8_t *)"123456789", 9),
	    0xe3069283);

	memcpy(body, tcp4_block, 12);
	memcpy(body + 12, "\x01\x00\x02h2\x03\x00\x04\0\0\0\0", 12);
	n = v2(buf, 0x21, 0x11, body, 24);
	v2_seal(buf, n, 16 + 12 + 5 + 3);
	accepts(buf, n, PROXY_V2);
	assert_addr(&ph.ph_dst, AF_INET, "198.51.100.7", 443);

	/*
	 * One bit changed anywhere past the signature, checksum included, is
	 * a mismatch; but for the bytes that reshape the header (family,
	 * lengths, the CRC32C TLV's type), which are refused, or taken
	 * without a checksum, otherwise.
	 */
	for (size_t i = 12; i < n; i++) {
		if (i == 13 || i == 14 || i == 15 || i == 29 || i == 30 ||
		    i == 33 || i == 34 || i == 35)
			continue;
		buf[i] ^= 0x01;
		refuses(buf, n, PROXY_V2, "v2: CRC32C mismatch");
		buf[i] ^= 0x01;
	}
	ck_assert_int_eq(parse(buf, n, PROXY_V2), (ssize_t)n);

	/* On a LOCAL health check too. */
	n = v2(buf, 0x20, 0x00, "\x03\x00\x04\0\0\0\0", 7);
	v2_seal(buf, n, 19);
	accepts(buf, n, PROXY_V2);
	buf[19] ^= 0x80;
	refuses(buf, n, PROXY_V2, "v2: CRC32C mismatch");
}
END_TEST

START_TEST(test_v2_crc32c_malformed)
{
	uint8_t		 buf[64];
	size_t		 n;

	n = v2(buf, 0x20, 0x00, "\x03\x00\x03\0\0\0", 6);
	refuses(buf, n, PROXY_V2, "v2: CRC32C TLV is not 4 bytes");
	n = v2(buf, 0x20, 0x00, "\x03\x00\x05\0\0\0\0\0", 8);
	refuses(buf, n, PROXY_V2, "v2: CRC32C TLV is not 4 bytes");
	n = v2(buf, 0x20, 0x00, "\x03\x00\x04\0\0\0\0\x03\x00\x04\0\0\0\0",
	    14);
	refuses(buf, n, PROXY_V2, "v2: more than one CRC32C TLV");
}
END_TEST

START_TEST(test_v2_then_data)
{
	uint8_t		 buf[64];
	size_t		 n;

	n = v2(buf, 0x21, 0x11, tcp4_block, sizeof(tcp4_block));
	memcpy(buf + n, "PROXY UNKNOWN\r\n", 15);
	ck_assert_int_eq(parse(buf, n + 15, PROXY_ANY), (ssize_t)n);
	memcpy(buf + n, V2_SIG, 12);
	ck_assert_int_eq(parse(buf, n + 12, PROXY_V2), (ssize_t)n);
}
END_TEST

START_TEST(test_v2_bad_signature)
{
	uint8_t		 buf[64];
	size_t		 n;

	n = v2(buf, 0x21, 0x11, tcp4_block, sizeof(tcp4_block));
	for (size_t i = 0; i < 12; i++) {
		buf[i] ^= 0x40;
		refuses(buf, n, PROXY_V2, "not a PROXY header");
		refuses(buf, n, PROXY_ANY, "not a PROXY header");
		/* At the byte that differs. */
		refuses(buf, i + 1, PROXY_V2, "not a PROXY header");
		buf[i] ^= 0x40;
	}
	ck_assert_int_eq(parse(buf, n, PROXY_V2), (ssize_t)n);
}
END_TEST

START_TEST(test_v2_malformed)
{
	uint8_t		 block[216], buf[300];
	size_t		 n;

	memset(block, 0, sizeof(block));
	for (unsigned v = 0; v < 16; v++) {
		if (v == 2)
			continue;
		n = v2(buf, (uint8_t)(v << 4 | 1), 0x11, block, 12);
		refuses(buf, n, PROXY_V2, "v2: unsupported version");
		refuses(buf, 13, PROXY_ANY, "v2: unsupported version");
	}
	for (unsigned c = 2; c < 16; c++) {
		n = v2(buf, (uint8_t)(0x20 | c), 0x11, block, 12);
		refuses(buf, n, PROXY_V2, "v2: unknown command");
		refuses(buf, 13, PROXY_V2, "v2: unknown command");
	}
	for (unsigned f = 4; f < 16; f++) {
		n = v2(buf, 0x21, (uint8_t)(f << 4 | 1), block, 12);
		refuses(buf, n, PROXY_V2, "v2: unknown address family");
		refuses(buf, 14, PROXY_V2, "v2: unknown address family");
		/* The family is checked for LOCAL too. */
		n = v2(buf, 0x20, (uint8_t)(f << 4), block, 0);
		refuses(buf, n, PROXY_V2, "v2: unknown address family");
	}
	for (unsigned t = 3; t < 16; t++) {
		n = v2(buf, 0x21, (uint8_t)(0x10 | t), block, 12);
		refuses(buf, n, PROXY_V2, "v2: unknown transport protocol");
		refuses(buf, 14, PROXY_V2, "v2: unknown transport protocol");
	}
}
END_TEST

/* The length must cover the family's address block, and that is known
 * from the first 16 bytes. */
START_TEST(test_v2_short_block)
{
	static const struct {
		uint8_t		 ver_cmd, fam;
		size_t		 alen;
	} fams[] = {
		{ 0x21, 0x11, 12 }, { 0x21, 0x12, 12 }, { 0x21, 0x21, 36 },
		{ 0x21, 0x22, 36 }, { 0x21, 0x31, 216 }, { 0x21, 0x32, 216 },
		{ 0x20, 0x11, 12 }, { 0x20, 0x21, 36 },
	};
	uint8_t		 block[216], buf[300];
	size_t		 n;

	memset(block, 0, sizeof(block));
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		n = v2(buf, fams[i].ver_cmd, fams[i].fam, block,
		    fams[i].alen - 1);
		refuses(buf, n, PROXY_V2,
		    "v2: address block shorter than its family needs");
		refuses(buf, 16, PROXY_V2,
		    "v2: address block shorter than its family needs");
		n = v2(buf, fams[i].ver_cmd, fams[i].fam, block, 0);
		refuses(buf, n, PROXY_ANY,
		    "v2: address block shorter than its family needs");
	}
}
END_TEST

START_TEST(test_v2_tlv_overrun)
{
	uint8_t		 body[64], buf[96];
	size_t		 n;

	memcpy(body, tcp4_block, 12);
	/* A TLV longer than what is left of the header. */
	memcpy(body + 12, "\x01\x00\x03h2", 5);
	n = v2(buf, 0x21, 0x11, body, 17);
	refuses(buf, n, PROXY_V2, "v2: TLV overruns the header");
	/* ... known from its 3-byte head, before the rest arrives. */
	refuses(buf, 16 + 12 + 3, PROXY_V2, "v2: TLV overruns the header");
	ck_assert_int_eq(parse(buf, 16 + 12 + 2, PROXY_V2), 0);
	/* One or two bytes left over: too few for a TLV's head. */
	memcpy(body + 12, "\x01\x00\x02h2\x04", 6);
	n = v2(buf, 0x21, 0x11, body, 18);
	refuses(buf, n, PROXY_V2, "v2: TLV overruns the header");
	memcpy(body + 12, "\x01\x00\x02h2\x04\x00", 7);
	n = v2(buf, 0x21, 0x11, body, 19);
	refuses(buf, n, PROXY_V2, "v2: TLV overruns the header");
	n = v2(buf, 0x21, 0x11, body, 13);
	refuses(buf, n, PROXY_V2, "v2: TLV overruns the header");
	refuses(buf, 16, PROXY_V2, "v2: TLV overruns the header");
	/* The TLV's length alone overruns. */
	memcpy(body + 12, "\x04\xff\xff", 3);
	n = v2(buf, 0x21, 0x11, body, 15);
	refuses(buf, n, PROXY_V2, "v2: TLV overruns the header");
}
END_TEST

/* The largest header there is: 0 up to its last byte, then taken. */
START_TEST(test_v2_largest)
{
	uint8_t		*buf;
	size_t		 tlv = 65535 - 12 - 3;

	ck_assert_ptr_nonnull(buf = calloc(1, PROXY_V2_MAX + 1));
	v2(buf, 0x21, 0x11, tcp4_block, 12);
	buf[14] = buf[15] = 0xff;
	buf[28] = 0x04;
	buf[29] = (uint8_t)(tlv >> 8);
	buf[30] = (uint8_t)tlv;
	ck_assert_int_eq(parse(buf, PROXY_V2_MAX - 1, PROXY_V2), 0);
	ck_assert_int_eq(parse(buf, PROXY_V2_MAX, PROXY_V2), PROXY_V2_MAX);
	ck_assert_int_eq(parse(buf, PROXY_V2_MAX + 1, PROXY_ANY),
	    PROXY_V2_MAX);
	free(buf);
}
END_TEST

/* ---- modes ------------------------------------------------------------- */

START_TEST(test_modes)
{
	const char	*line = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	uint8_t		 buf[64];
	size_t		 n;

	n = v2(buf, 0x21, 0x11, tcp4_block, sizeof(tcp4_block));
	refuses(line, strlen(line), PROXY_V2, "v1 header on a v2 listener");
	refuses(line, 1, PROXY_V2, "v1 header on a v2 listener");
	refuses("PRX", 3, PROXY_V2, "not a PROXY header");
	refuses(buf, n, PROXY_V1, "v2 header on a v1 listener");
	refuses(buf, 1, PROXY_V1, "v2 header on a v1 listener");
	refuses("\r\r", 2, PROXY_V1, "not a PROXY header");
	for (size_t k = 0; k <= n; k++)
		refuses(buf, k, PROXY_OFF, "PROXY protocol is off");
	refuses(line, strlen(line), PROXY_OFF, "PROXY protocol is off");
	refuses(line, strlen(line), (enum proxy_mode)7,
	    "PROXY protocol is off");
	/* Nothing yet: anything may come. */
	ck_assert_int_eq(parse("", 0, PROXY_V1), 0);
	ck_assert_int_eq(parse("", 0, PROXY_V2), 0);
	ck_assert_int_eq(parse("", 0, PROXY_ANY), 0);
	/* why is optional. */
	ck_assert_int_eq(proxy_parse((const uint8_t *)"x", 1, PROXY_ANY, &ph,
	    NULL), -1);
}
END_TEST

START_TEST(test_mode_names)
{
	static const char *const	 names[] = { "off", "v1", "v2", "any" };
	enum proxy_mode			 m;

	for (int i = 0; i < 4; i++) {
		m = (enum proxy_mode)99;
		ck_assert_int_eq(proxy_mode_parse(names[i], &m), 0);
		ck_assert_int_eq(m, i);
		ck_assert_str_eq(proxy_mode_name(m), names[i]);
	}
	ck_assert_int_eq(PROXY_OFF, 0);
	m = PROXY_V2;
	ck_assert_int_eq(proxy_mode_parse("V1", &m), -1);
	ck_assert_int_eq(proxy_mode_parse("", &m), -1);
	ck_assert_int_eq(proxy_mode_parse("both", &m), -1);
	ck_assert_int_eq(proxy_mode_parse("v1 ", &m), -1);
	ck_assert_int_eq(m, PROXY_V2);
	ck_assert_str_eq(proxy_mode_name((enum proxy_mode)4), "(unknown)");
}
END_TEST

Suite *
proxy_suite(void)
{
	Suite	*s = suite_create("proxy");
	TCase	*tc;

	tc = tcase_create("v1");
	tcase_add_test(tc, test_v1_tcp4);
	tcase_add_test(tc, test_v1_tcp6);
	tcase_add_test(tc, test_v1_tcp6_mapped);
	tcase_add_test(tc, test_v1_unknown);
	tcase_add_test(tc, test_v1_then_data);
	tcase_add_test(tc, test_v1_malformed);
	tcase_add_test(tc, test_v1_no_crlf);
	tcase_add_test(tc, test_v1_early);
	suite_add_tcase(s, tc);

	tc = tcase_create("v2");
	tcase_add_test(tc, test_v2_local);
	tcase_add_test(tc, test_v2_tcp4);
	tcase_add_test(tc, test_v2_tcp6);
	tcase_add_test(tc, test_v2_other_families);
	tcase_add_test(tc, test_v2_tlvs);
	tcase_add_test(tc, test_v2_crc32c);
	tcase_add_test(tc, test_v2_crc32c_malformed);
	tcase_add_test(tc, test_v2_then_data);
	tcase_add_test(tc, test_v2_bad_signature);
	tcase_add_test(tc, test_v2_malformed);
	tcase_add_test(tc, test_v2_short_block);
	tcase_add_test(tc, test_v2_tlv_overrun);
	tcase_add_test(tc, test_v2_largest);
	suite_add_tcase(s, tc);

	tc = tcase_create("modes");
	tcase_add_test(tc, test_modes);
	tcase_add_test(tc, test_mode_names);
	suite_add_tcase(s, tc);
	return s;
}
