/* SPDX-License-Identifier: ISC */
/*
 * addr.h - an IPv4 or IPv6 address and port in binary form: parsed once,
 * compared by prefix (per-source limits), formatted only when a line is
 * written.  IPv4-mapped IPv6 peers (a dual-stack socket) are kept as the
 * IPv4 address they are, so that one client is one source.
 */
#ifndef PREFORKD_ADDR_H
#define PREFORKD_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[ffff:...:ffff]:65535" and a NUL */
#define ADDR_STRLEN	64

struct addr {
	uint8_t		 a_family;	/* AF_INET, AF_INET6; 0: unknown */
	uint16_t	 a_port;	/* host order */
	uint8_t		 a_bytes[16];	/* network order; 4 used for IPv4 */
};

/* From a socket address; false (and a_family 0) for other families. */
bool	addr_from_sockaddr(struct addr *, const struct sockaddr *, socklen_t);
/* A numeric literal, no port: 1 on success, 0 when not an address. */
int	addr_parse(struct addr *, const char *);
/* Into a socket address for bind(); returns its length. */
socklen_t addr_to_sockaddr(const struct addr *, uint16_t port,
	    struct sockaddr_storage *);
/* "1.2.3.4:80", "[::1]:80"; "(unknown)" for family 0. */
void	addr_format(const struct addr *, char *, size_t);
/* The address alone, no port. */
void	addr_format_host(const struct addr *, char *, size_t);
/* Only the first bits bits of a; the rest cleared. */
void	addr_mask(struct addr *, unsigned bits);
/* Same family and the same first bits bits (capped at the length). */
bool	addr_same_prefix(const struct addr *, const struct addr *,
	    unsigned bits);

/* A network: the addresses whose first an_bits bits are an_addr's. */
struct addr_net {
	struct addr	 an_addr;	/* a_port unused */
	unsigned	 an_bits;
};

/*
 * "10.0.0.0/8", "2001:db8::/32", or an address alone (all its bits).  An
 * IPv4-mapped IPv6 network (::ffff:10.0.0.0/104) is the IPv4 network it
 * is, as peers are (see above).  Bits set past the prefix are an error,
 * not silently dropped: "10.1.2.3/8" is a typo more often than a wish.
 * 0 on success; -1 with *why set to a static reason.
 */
int	addr_net_parse(struct addr_net *, const char *, const char **why);
bool	addr_in_net(const struct addr *, const struct addr_net *);
/* "10.0.0.0/8" */
void	addr_net_format(const struct addr_net *, char *, size_t);

#endif
