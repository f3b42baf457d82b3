/* SPDX-License-Identifier: ISC */
/*
 * proxy.c - the PROXY protocol header, versions 1 (one text line) and 2
 * (binary), as HAProxy's proxy-protocol.txt defines them.
 *
 * The parser keeps no state: the caller passes every byte received so
 * far, each time more arrive.  Every check looks only at bytes that are
 * there and is one that each valid header passes, so a prefix of a valid
 * header always asks for more, and a buffer refused stays refused however
 * it goes on: a connection that is not a header is dropped at the first
 * byte that proves it, not after a timeout.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"

#define PROXY_V2_HDR		16	/* signature, ver/cmd, family, length */
#define PROXY_V2_LOCAL		0x0
#define PROXY_V2_PROXY		0x1
#define PROXY_V2_TCP4		0x11
#define PROXY_V2_TCP6		0x21
#define PROXY_TLV_HDR		3	/* type, 16-bit length */
#define PROXY_TLV_CRC32C	0x03
#define PROXY_CRC32C_POLY	0x82f63b78	/* Castagnoli, reflected */

static const uint8_t	 proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char	 proxy_v1_sig[] = "PROXY ";

static const char *const proxy_modes[] = {
	[PROXY_OFF] = "off",
	[PROXY_V1] = "v1",
	[PROXY_V2] = "v2",
	[PROXY_ANY] = "any",
};
#define PROXY_NMODES	(sizeof(proxy_modes) / sizeof(proxy_modes[0]))

/* The v1 line's fields, in order, split at single spaces. */
enum proxy_v1_field {
	V1_PROXY, V1_PROTO, V1_SRC, V1_DST, V1_SPORT, V1_DPORT, V1_NFIELDS
};

/* What the v1 fields seen so far said. */
struct proxy_v1 {
	int		 pv_proto;	/* AF_INET, AF_INET6, AF_UNSPEC */
	uint8_t		 pv_src[16];
	uint8_t		 pv_dst[16];
	uint16_t	 pv_sport;
	uint16_t	 pv_dport;
};

/* -1 and the reason, for the caller's log line. */
static int
proxy_fail(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return -1;
}

/* Do the bytes of buf that are there agree with the first n of want? */
static bool
proxy_agrees(const uint8_t *buf, size_t len, const void *want, size_t n)
{
	return memcmp(buf, want, len < n ? len : n) == 0;
}

/*
 * Through the socket address, so that an IPv4-mapped IPv6 address in a
 * header becomes IPv4 by the very rule a dual-stack socket's peer does:
 * one client is one source for the per-source limits.
 */
static void
proxy_set_addr(struct addr *a, int family, const uint8_t *bytes,
    uint16_t port)
{
	struct addr		 raw;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;

	memset(&raw, 0, sizeof(raw));
	raw.a_family = (uint8_t)family;
	memcpy(raw.a_bytes, bytes, family == AF_INET ? 4 : 16);
	sslen = addr_to_sockaddr(&raw, port, &ss);
	addr_from_sockaddr(a, (const struct sockaddr *)&ss, sslen);
}

/* ---- version 1 --------------------------------------------------------- */

/* Is s[0..n) the word (whole), or may it still become it (not whole)? */
static bool
proxy_v1_word(const uint8_t *s, size_t n, bool whole, const char *word)
{
	size_t	 wlen = strlen(word);

	if (n > wlen || (whole && n != wlen))
		return false;
	return memcmp(s, word, n) == 0;
}

/*
 * Could s[0..n) start a dotted quad: four decimal numbers 0..255, no
 * leading zero (the spec forbids them, lest they read as octal)?  With
 * whole, must it be one?  Checked here rather than left to inet_pton(),
 * which may allow leading zeros on some systems, and so that a wrong
 * address is refused before its end arrives.
 */
static bool
proxy_v1_ipv4(const uint8_t *s, size_t n, bool whole)
{
	unsigned	 dots = 0, digits = 0, val = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (digits == 0 || ++dots > 3)
				return false;
			digits = val = 0;
		} else if (s[i] >= '0' && s[i] <= '9') {
			if (digits == 1 && val == 0)
				return false;
			val = val * 10 + (unsigned)(s[i] - '0');
			if (++digits > 3 || val > 255)
				return false;
		} else
			return false;
	}
	return !whole || (dots == 3 && digits > 0);
}

/* An IPv6 literal only has these; inet_pton() judges the whole field.
 * Dots are there for the ::ffff:a.b.c.d that inet_ntop() writes for an
 * IPv4-mapped address, as a proxy on a dual-stack socket sends. */
static bool
proxy_v1_ipv6(const uint8_t *s, size_t n)
{
	if (n >= INET6_ADDRSTRLEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' ||
		    strchr("0123456789abcdefABCDEF:.", s[i]) == NULL)
			return false;
	return true;
}

/* An address of the line's family, parsed into out once whole (the
 * checks above keep it shorter than text). */
static bool
proxy_v1_addr(const struct proxy_v1 *pv, const uint8_t *s, size_t n,
    bool whole, uint8_t out[16])
{
	char	 text[INET6_ADDRSTRLEN];

	if (pv->pv_proto == AF_INET ? !proxy_v1_ipv4(s, n, whole) :
	    !proxy_v1_ipv6(s, n))
		return false;
	if (!whole)
		return true;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(pv->pv_proto, text, out) == 1;
}

/*
 * A port: decimal, 0..65535.  The spec forbids leading zeros ("0" itself
 * is a port, "080" is not), and so do we, to hold senders to the one
 * spelling.  A value can only grow with more digits, so one already
 * over 65535 is refused at once.
 */
static bool
proxy_v1_port(const uint8_t *s, size_t n, bool whole, uint16_t *port)
{
	unsigned long	 val = 0;

	if ((whole && n == 0) || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		val = val * 10 + (unsigned long)(s[i] - '0');
	}
	if (val > 65535)
		return false;
	*port = (uint16_t)val;
	return true;
}

/* The protocol word; "UNKNOWN" leaves the rest of the line unread. */
static bool
proxy_v1_proto(struct proxy_v1 *pv, const uint8_t *s, size_t n, bool whole)
{
	if (proxy_v1_word(s, n, whole, "TCP4"))
		pv->pv_proto = AF_INET;
	else if (proxy_v1_word(s, n, whole, "TCP6"))
		pv->pv_proto = AF_INET6;
	else if (proxy_v1_word(s, n, whole, "UNKNOWN"))
		pv->pv_proto = AF_UNSPEC;
	else
		return false;
	return true;
}

/* Field f, s[0..n): NULL when it is (whole) or may become (not whole) a
 * proper one, else why not. */
static const char *
proxy_v1_field(struct proxy_v1 *pv, int f, const uint8_t *s, size_t n,
    bool whole)
{
	switch (f) {
	case V1_PROXY:
		return proxy_v1_word(s, n, whole, "PROXY") ? NULL :
		    "not a PROXY header";
	case V1_PROTO:
		return proxy_v1_proto(pv, s, n, whole) ? NULL :
		    "v1: bad protocol";
	case V1_SRC:
		return proxy_v1_addr(pv, s, n, whole, pv->pv_src) ? NULL :
		    "v1: bad source address";
	case V1_DST:
		return proxy_v1_addr(pv, s, n, whole, pv->pv_dst) ? NULL :
		    "v1: bad destination address";
	case V1_SPORT:
		return proxy_v1_port(s, n, whole, &pv->pv_sport) ? NULL :
		    "v1: bad source port";
	case V1_DPORT:
		return proxy_v1_port(s, n, whole, &pv->pv_dport) ? NULL :
		    "v1: bad destination port";
	}
	return "v1: bad field";
}

/*
 * The line without its CRLF, line[0..n); complete when the CRLF was
 * seen.  Fields are split at single spaces; the last one seen is still
 * growing unless the line is complete.  0 when all is well so far.
 */
static int
proxy_v1_fields(const uint8_t *line, size_t n, bool complete,
    struct proxy_v1 *pv, const char **why)
{
	const char	*bad;
	size_t		 start = 0, end;
	bool		 space;
	int		 f;

	for (f = 0;; f++) {
		for (end = start; end < n && line[end] != ' '; end++)
			continue;
		space = end < n;
		if (f == V1_NFIELDS)
			return proxy_fail(why,
			    "v1: data after the destination port");
		if (end == start && (space || complete))
			return proxy_fail(why, space ?
			    "v1: double space" : "v1: missing field");
		bad = proxy_v1_field(pv, f, line + start, end - start,
		    space || complete);
		if (bad != NULL)
			return proxy_fail(why, bad);
		if (f == V1_PROTO && (space || complete) &&
		    pv->pv_proto == AF_UNSPEC)
			return 0;
		if (!space)
			break;
		start = end + 1;
	}
	if (complete && f < V1_DPORT)
		return proxy_fail(why, "v1: missing field");
	return 0;
}

/*
 * The line ends at the first CR, which must be followed by LF; a bare LF
 * is refused, as the spec asks, and so is a CR followed by anything else.
 * The fields are judged before the line's end is, so that a wrong field
 * is named even in a line too long.
 */
static ssize_t
proxy_v1(const uint8_t *buf, size_t len, struct proxy_header *ph,
    const char **why)
{
	struct proxy_v1	 pv;
	size_t		 n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX, end;
	bool		 complete;

	for (end = 0; end < n && buf[end] != '\r' && buf[end] != '\n'; end++)
		continue;
	if (end < n && buf[end] == '\n')
		return proxy_fail(why, "v1: bare LF");
	if (end + 1 < n && buf[end + 1] != '\n')
		return proxy_fail(why, "v1: CR without LF");
	complete = end + 1 < n;

	memset(&pv, 0, sizeof(pv));
	pv.pv_proto = -1;
	if (proxy_v1_fields(buf, end, complete, &pv, why) == -1)
		return -1;
	if (!complete) {
		if (len >= PROXY_V1_MAX)
			return proxy_fail(why, "v1: no CRLF within 107 bytes");
		return 0;
	}

	memset(ph, 0, sizeof(*ph));
	ph->ph_version = 1;
	if (pv.pv_proto == AF_UNSPEC)
		ph->ph_local = true;
	else {
		proxy_set_addr(&ph->ph_src, pv.pv_proto, pv.pv_src,
		    pv.pv_sport);
		proxy_set_addr(&ph->ph_dst, pv.pv_proto, pv.pv_dst,
		    pv.pv_dport);
	}
	return (ssize_t)(end + 2);
}

/* ---- version 2 --------------------------------------------------------- */

/*
 * CRC32c (RFC 4960, appendix B), a bit at a time: no table to keep, and
 * it runs at most once per connection, over a header from a trusted
 * proxy.
 */
static uint32_t
proxy_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n-- > 0) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^
			    (PROXY_CRC32C_POLY & (0U - (crc & 1)));
	}
	return crc;
}

/*
 * The checksum of the whole header with the value of the CRC32C TLV, at
 * off, read as zeros; it is sent in network order, as every other
 * number of the header is.
 */
static bool
proxy_v2_crc_ok(const uint8_t *buf, size_t total, size_t off)
{
	static const uint8_t	 zero[4];
	uint32_t		 crc = 0xffffffff, sent;

	crc = proxy_crc32c(crc, buf, off);
	crc = proxy_crc32c(crc, zero, sizeof(zero));
	crc = proxy_crc32c(crc, buf + off + 4, total - off - 4);
	sent = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 |
	    (uint32_t)buf[off + 2] << 8 | buf[off + 3];
	return ~crc == sent;
}

/*
 * The address block's size for a family and transport byte.  A zero in
 * either half is UNSPEC: no addresses.  UNIX sockets' paths are 108
 * bytes each.  -1 for values the spec leaves unassigned, which it says
 * to refuse.
 */
static int
proxy_v2_block(uint8_t famtp, const char **why)
{
	unsigned	 fam = famtp >> 4, tp = famtp & 0xf;

	if (fam > 3)
		return proxy_fail(why, "v2: unknown address family");
	if (tp > 2)
		return proxy_fail(why, "v2: unknown transport protocol");
	if (fam == 0 || tp == 0)
		return 0;
	return fam == 1 ? 12 : fam == 2 ? 36 : 216;
}

/*
 * After the address block, up to total, come TLVs (type, 16-bit length,
 * value) which must fill it exactly: a header that does not add up was
 * not written by a proxy we trust.  Each TLV is judged as soon as its
 * first 3 bytes have arrived (avail of the header are there).  *crc gets
 * the offset of the CRC32C TLV's value, if there is one.
 */
static int
proxy_v2_tlvs(const uint8_t *buf, size_t off, size_t avail, size_t total,
    size_t *crc, const char **why)
{
	size_t	 vlen;

	while (off < total) {
		if (total - off < PROXY_TLV_HDR)
			return proxy_fail(why, "v2: TLV overruns the header");
		if (avail < off + PROXY_TLV_HDR)
			break;
		vlen = (size_t)buf[off + 1] << 8 | buf[off + 2];
		if (vlen > total - off - PROXY_TLV_HDR)
			return proxy_fail(why, "v2: TLV overruns the header");
		if (buf[off] == PROXY_TLV_CRC32C) {
			/* Which one would be the checksum of the others? */
			if (*crc != 0)
				return proxy_fail(why,
				    "v2: more than one CRC32C TLV");
			if (vlen != 4)
				return proxy_fail(why,
				    "v2: CRC32C TLV is not 4 bytes");
			*crc = off + PROXY_TLV_HDR;
		}
		off += PROXY_TLV_HDR + vlen;
	}
	return 0;
}

/* Only TCP over IPv4 or IPv6 names a peer we can take; any other valid
 * family falls back to the socket's own, as the spec allows. */
static void
proxy_v2_fill(const uint8_t *buf, struct proxy_header *ph)
{
	const uint8_t	*a = buf + PROXY_V2_HDR;
	int		 family = buf[13] == PROXY_V2_TCP4 ? AF_INET : AF_INET6;
	size_t		 alen = family == AF_INET ? 4 : 16;

	memset(ph, 0, sizeof(*ph));
	ph->ph_version = 2;
	if ((buf[12] & 0xf) == PROXY_V2_LOCAL ||
	    (buf[13] != PROXY_V2_TCP4 && buf[13] != PROXY_V2_TCP6)) {
		ph->ph_local = true;
		return;
	}
	proxy_set_addr(&ph->ph_src, family, a,
	    (uint16_t)(a[2 * alen] << 8 | a[2 * alen + 1]));
	proxy_set_addr(&ph->ph_dst, family, a + alen,
	    (uint16_t)(a[2 * alen + 2] << 8 | a[2 * alen + 3]));
}

/*
 * The family byte is checked for LOCAL too: its addresses are ignored,
 * but its block is still skipped to find the TLVs, and an unassigned
 * value is refused whatever the command.
 */
static ssize_t
proxy_v2(const uint8_t *buf, size_t len, struct proxy_header *ph,
    const char **why)
{
	size_t	 total, avail, crc = 0;
	int	 block = 0;

	if (!proxy_agrees(buf, len, proxy_v2_sig, sizeof(proxy_v2_sig)))
		return proxy_fail(why, "not a PROXY header");
	if (len > 12 && buf[12] >> 4 != 2)
		return proxy_fail(why, "v2: unsupported version");
	if (len > 12 && (buf[12] & 0xf) != PROXY_V2_LOCAL &&
	    (buf[12] & 0xf) != PROXY_V2_PROXY)
		return proxy_fail(why, "v2: unknown command");
	if (len > 13 && (block = proxy_v2_block(buf[13], why)) == -1)
		return -1;
	if (len < PROXY_V2_HDR)
		return 0;

	total = PROXY_V2_HDR + ((size_t)buf[14] << 8 | buf[15]);
	if (total < PROXY_V2_HDR + (size_t)block)
		return proxy_fail(why,
		    "v2: address block shorter than its family needs");
	avail = len < total ? len : total;
	if (proxy_v2_tlvs(buf, PROXY_V2_HDR + (size_t)block, avail, total,
	    &crc, why) == -1)
		return -1;
	if (len < total)
		return 0;
	if (crc != 0 && !proxy_v2_crc_ok(buf, total, crc))
		return proxy_fail(why, "v2: CRC32C mismatch");
	proxy_v2_fill(buf, ph);
	return (ssize_t)total;
}

/* ---- both -------------------------------------------------------------- */

/*
 * The first byte tells the versions apart ('P' or CR).  A header of a
 * version the listener does not take is refused, never read: the spec
 * forbids guessing, lest a client name its own source.
 */
ssize_t
proxy_parse(const uint8_t *buf, size_t len, enum proxy_mode mode,
    struct proxy_header *ph, const char **why)
{
	bool	 v1 = mode == PROXY_V1 || mode == PROXY_ANY;
	bool	 v2 = mode == PROXY_V2 || mode == PROXY_ANY;

	if (!v1 && !v2)
		return proxy_fail(why, "PROXY protocol is off");
	if (len == 0)
		return 0;
	if (buf[0] == proxy_v1_sig[0]) {
		if (v1)
			return proxy_v1(buf, len, ph, why);
		return proxy_fail(why, proxy_agrees(buf, len, proxy_v1_sig,
		    strlen(proxy_v1_sig)) ? "v1 header on a v2 listener" :
		    "not a PROXY header");
	}
	if (buf[0] == proxy_v2_sig[0]) {
		if (v2)
			return proxy_v2(buf, len, ph, why);
		return proxy_fail(why, proxy_agrees(buf, len, proxy_v2_sig,
		    sizeof(proxy_v2_sig)) ? "v2 header on a v1 listener" :
		    "not a PROXY header");
	}
	return proxy_fail(why, "not a PROXY header");
}

int
proxy_mode_parse(const char *s, enum proxy_mode *mode)
{
	for (size_t i = 0; i < PROXY_NMODES; i++)
		if (strcmp(s, proxy_modes[i]) == 0) {
			*mode = (enum proxy_mode)i;
			return 0;
		}
	return -1;
}

const char *
proxy_mode_name(enum proxy_mode mode)
{
	if ((size_t)mode < PROXY_NMODES)
		return proxy_modes[mode];
	return "(unknown)";
}
