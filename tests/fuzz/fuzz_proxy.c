/* SPDX-License-Identifier: ISC */
/*
 * fuzz_proxy.c - libFuzzer target: arbitrary client bytes through the
 * PROXY protocol parser.  The first byte picks the listener's mode (byte
 * modulo 4: off, v1, v2, any); the rest is what the client sent.
 *
 * Invariants: the result is -1 (with a reason), 0 or a length within
 * the buffer.  A header found is found alone too, with the same fields,
 * and every proper prefix of it asks for more: a header split across
 * reads is never refused.  Its version is one the mode takes, its
 * addresses IPv4 or IPv6 unless it keeps the socket's peer.  Asking for
 * more only happens below the longest header, and every prefix of such
 * a buffer asks for more too.  Once refused, a buffer stays refused
 * however long it grows.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
fuzz_mode_takes(enum proxy_mode mode, unsigned version)
{
	return mode == PROXY_ANY || (mode == PROXY_V1 && version == 1) ||
	    (mode == PROXY_V2 && version == 2);
}

static void
fuzz_header(const uint8_t *buf, size_t n, enum proxy_mode mode,
    const struct proxy_header *ph)
{
	struct proxy_header	 alone;
	const char		*why = NULL;

	assert(ph->ph_version == 1 || ph->ph_version == 2);
	assert(fuzz_mode_takes(mode, ph->ph_version));
	assert(n <= (ph->ph_version == 1 ? PROXY_V1_MAX : PROXY_V2_MAX));
	assert(ph->ph_version == 1 || n >= 16);
	if (!ph->ph_local) {
		assert(ph->ph_src.a_family == AF_INET ||
		    ph->ph_src.a_family == AF_INET6);
		assert(ph->ph_dst.a_family == AF_INET ||
		    ph->ph_dst.a_family == AF_INET6);
	}
	assert(proxy_parse(buf, n, mode, &alone, &why) == (ssize_t)n);
	assert(memcmp(&alone, ph, sizeof(alone)) == 0);
	for (size_t k = 0; k < n; k++)
		assert(proxy_parse(buf, k, mode, &alone, &why) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_header	 ph;
	const char		*why = NULL;
	const uint8_t		*buf = data + 1;
	enum proxy_mode		 mode;
	size_t			 len, k;
	ssize_t			 n;

	if (size < 1)
		return 0;
	mode = (enum proxy_mode)(data[0] % 4);
	len = size - 1;
	memset(&ph, 0, sizeof(ph));
	n = proxy_parse(buf, len, mode, &ph, &why);
	assert(n == -1 || n == 0 || (n >= 1 && (size_t)n <= len));
	if (mode == PROXY_OFF)
		assert(n == -1);
	if (n > 0)
		fuzz_header(buf, (size_t)n, mode, &ph);
	else if (n == 0) {
		assert(len < PROXY_V2_MAX);
		assert(len == 0 || buf[0] != 'P' || len < PROXY_V1_MAX);
		for (k = 0; k < len; k++)
			assert(proxy_parse(buf, k, mode, &ph, &why) == 0);
	} else {
		assert(why != NULL && why[0] != '\0');
		for (k = 0; (n = proxy_parse(buf, k, mode, &ph, &why)) != -1;
		    k++)
			assert(n == 0 && k < len);
		for (; k <= len; k++)
			assert(proxy_parse(buf, k, mode, &ph, &why) == -1);
	}
	return 0;
}
