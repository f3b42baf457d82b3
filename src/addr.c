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

void
addr_format(const struct addr *a, char *buf, size_t size)
{
	char	 host[INET6_ADDRSTRLEN + 16];

	addr_format_host(a, host, sizeof(host));
	if (a->a_family == AF_INET)
		snprintf(buf, size, "%s:%u", host, a->a_port);
	else if (a->a_family == AF_INET6)
		snprintf(buf, size, "[%s]:%u", host, a->a_port);
	else
		snprintf(buf, size, "%s", host);
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
