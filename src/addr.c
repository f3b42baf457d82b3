/* SPDX-License-Identifier: ISC */
/*
 * addr.c - binary addresses: the one place that parses and formats them.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

static const uint8_t addr_v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

bool
addr_from_sockaddr(struct addr *a, const struct sockaddr *sa, socklen_t len)
{
	memset(a, 0, sizeof(*a));
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const void *)sa;

		a->a_family = AF_INET;
		a->a_port = ntohs(sin->sin_port);
		memcpy(a->a_bytes, &sin->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		a->a_port = ntohs(sin6->sin6_port);
		if (memcmp(&sin6->sin6_addr, addr_v4mapped, 12) == 0) {
			a->a_family = AF_INET;
			memcpy(a->a_bytes, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			a->a_family = AF_INET6;
			memcpy(a->a_bytes, &sin6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

int
addr_parse(struct addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->a_bytes) == 1) {
		a->a_family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, s, a->a_bytes) == 1) {
		a->a_family = AF_INET6;
		return 1;
	}
	memset(a, 0, sizeof(*a));
	return 0;
}

socklen_t
addr_to_sockaddr(const struct addr *a, uint16_t port,
    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->a_family == AF_INET) {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a->a_bytes, 4);
		return sizeof(*sin);
	}
	if (a->a_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (void *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a->a_bytes, 16);
		return sizeof(*sin6);
	}
	return 0;
}

void
addr_format_host(const struct addr *a, char *buf, size_t size)
{
	char	 host[INET6_ADDRSTRLEN];

	if ((a->a_family != AF_INET && a->a_family != AF_INET6) ||
	    inet_ntop(a->a_family, a->a_bytes, host, sizeof(host)) == NULL)
		snprintf(buf, size, "(unknown)");
	else
		snprintf(buf, size, "%s", host);
}

/* v in decimal at p, as %u writes it; the end. */
static char *
addr_put_decimal(char *p, unsigned v)
{
	char	 digits[10];
	size_t	 n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

/*
 * By hand for IPv4, not through inet_ntop() and snprintf(): a worker
 * formats its peer for the line it logs about a connection, and three
 * trips through printf cost more than the rest of that line.
 */
void
addr_format(const struct addr *a, char *buf, size_t size)
{
	char	 text[ADDR_STRLEN], *p = text;
	size_t	 n;

	if (a->a_family == AF_INET)
		for (int i = 0; i < 4; i++) {
			p = addr_put_decimal(p, a->a_bytes[i]);
			*p++ = i < 3 ? '.' : ':';
		}
	else if (a->a_family == AF_INET6 && inet_ntop(AF_INET6, a->a_bytes,
	    text + 1, INET6_ADDRSTRLEN) != NULL) {
		text[0] = '[';
		p = text + strlen(text);
		*p++ = ']';
		*p++ = ':';
	} else {
		snprintf(buf, size, "(unknown)");
		return;
	}
	p = addr_put_decimal(p, a->a_port);
	/* Cut to size, as snprintf() would. */
	if (size == 0)
		return;
	n = (size_t)(p - text) < size ? (size_t)(p - text) : size - 1;
	memcpy(buf, text, n);
	buf[n] = '\0';
}

bool
addr_same_prefix(const struct addr *a, const struct addr *b, unsigned bits)
{
	unsigned	 max = a->a_family == AF_INET ? 32 : 128;
	unsigned	 whole, rest;

	if (a->a_family != b->a_family || a->a_family == 0)
		return false;
	if (bits > max)
		bits = max;
	whole = bits / 8;
	rest = bits % 8;
	if (memcmp(a->a_bytes, b->a_bytes, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->a_bytes[whole] ^ b->a_bytes[whole]) &
	    (uint8_t)(0xff << (8 - rest))) == 0;
}

void
addr_mask(struct addr *a, unsigned bits)
{
	unsigned	 len = a->a_family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < len; i++) {
		if (bits >= 8)
			bits -= 8;
		else {
			a->a_bytes[i] &= (uint8_t)(0xff << (8 - bits));
			bits = 0;
		}
	}
}

/* "/N": N in 0..max, digits only, no leading zero. */
static int
addr_net_bits(const char *s, unsigned max, unsigned *bits)
{
	unsigned	 n = 0;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (unsigned)(*s - '0');
		if (n > max)
			return -1;
	}
	*bits = n;
	return 0;
}

int
addr_net_parse(struct addr_net *net, const char *s, const char **why)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*slash = strchr(s, '/');
	size_t		 len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	struct addr	 masked;
	unsigned	 max;

	memset(net, 0, sizeof(*net));
	*why = "not a numeric IPv4 or IPv6 address";
	if (len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	if (addr_parse(&net->an_addr, host) == 0)
		return -1;
	max = net->an_addr.a_family == AF_INET ? 32 : 128;
	net->an_bits = max;
	if (slash != NULL && addr_net_bits(slash + 1, max, &net->an_bits)) {
		*why = net->an_addr.a_family == AF_INET ?
		    "the prefix length must be 0..32" :
		    "the prefix length must be 0..128";
		return -1;
	}
	masked = net->an_addr;
	addr_mask(&masked, net->an_bits);
	if (memcmp(&masked, &net->an_addr, sizeof(masked)) != 0) {
		*why = "bits are set past the prefix length";
		return -1;
	}
	if (net->an_addr.a_family == AF_INET6 && net->an_bits >= 96 &&
	    memcmp(net->an_addr.a_bytes, addr_v4mapped, 12) == 0) {
		net->an_addr.a_family = AF_INET;
		memmove(net->an_addr.a_bytes, net->an_addr.a_bytes + 12, 4);
		memset(net->an_addr.a_bytes + 4, 0, 12);
		net->an_bits -= 96;
	}
	return 0;
}

bool
addr_in_net(const struct addr *a, const struct addr_net *net)
{
	/* /0 is the whole family. */
	return addr_same_prefix(a, &net->an_addr, net->an_bits);
}

void
addr_net_format(const struct addr_net *net, char *buf, size_t size)
{
	char	 host[INET6_ADDRSTRLEN + 16];

	addr_format_host(&net->an_addr, host, sizeof(host));
	snprintf(buf, size, "%s/%u", host, net->an_bits);
}
