/* SPDX-License-Identifier: ISC */
/*
 * proxy.h - the PROXY protocol header (version 1 text, version 2 binary)
 * that a load balancer sends first, to say whom it relays: a pure
 * parser, no I/O.
 */
#ifndef PREFORKD_PROXY_H
#define PREFORKD_PROXY_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* What a listener accepts.  Never a guess: a listener takes headers of
 * the versions configured, and only from proxies it trusts. */
enum proxy_mode { PROXY_OFF, PROXY_V1, PROXY_V2, PROXY_ANY };

#define PROXY_V1_MAX	107		/* the longest v1 line, CRLF included */
#define PROXY_V2_MAX	(16 + 65535)

struct proxy_header {
	unsigned	ph_version;	/* 1 or 2 */
	/* v2 LOCAL, v1 UNKNOWN, or an address family we do not take
	 * (AF_UNSPEC, AF_UNIX, DGRAM...): keep the socket's own peer. */
	bool		ph_local;
	struct addr	ph_src;		/* the client; valid unless ph_local */
	struct addr	ph_dst;
};

/*
 * buf holds the first len bytes the client sent.  Returns the header's
 * length (> 0) when buf starts with a complete, valid header of a version
 * mode accepts, and fills *ph; 0 when all of buf is a proper prefix of a
 * header that may still turn out valid (the caller keeps it and reads
 * more; 0 only comes for len below the header's maximum length); -1 when
 * it cannot be a valid header, with *why a short static English reason.
 * *ph is written only when a header is returned; why may be NULL.
 */
ssize_t	proxy_parse(const uint8_t *buf, size_t len, enum proxy_mode mode,
	    struct proxy_header *ph, const char **why);

/* "off", "v1", "v2", "any" -> mode: 0, or -1 when unknown. */
int	proxy_mode_parse(const char *, enum proxy_mode *);
/* The mode's name as proxy_mode_parse() takes it. */
const char *proxy_mode_name(enum proxy_mode);

#endif
