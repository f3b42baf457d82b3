/* SPDX-License-Identifier: ISC */
/*
 * fuzz_greeting.c - libFuzzer target: arbitrary client bytes, cut into
 * reads of arbitrary sizes, through the greeting framing and the log
 * escaping.  Invariants: no more than max bytes kept, the count of
 * received bytes exact, and the escaped text printable ASCII only.
 */
#include "autoconf.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "escape.h"
#include "greeting.h"

#define FUZZ_MAX	64

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct greeting_msg	 m;
	char			 buf[FUZZ_MAX + 1], out[ESCAPE_MAX(FUZZ_MAX)];
	size_t			 chunk, off = 1, used = 0, n;

	if (size < 1)
		return 0;
	chunk = (size_t)data[0] % 17 + 1;	/* how the reads fall */
	greeting_msg_init(&m, buf, FUZZ_MAX);
	while (off < size && !m.gm_done) {
		n = size - off < chunk ? size - off : chunk;
		used = greeting_msg_feed(&m, data + off, n);
		assert(used <= n);
		off += used;
	}
	assert(m.gm_len <= FUZZ_MAX && m.gm_len <= m.gm_total);
	assert(m.gm_total <= size - 1);
	assert(buf[m.gm_len] == '\0');
	n = escape_bytes(out, sizeof(out), buf, m.gm_len);
	assert(n == strlen(out));
	for (size_t i = 0; i < n; i++)
		assert(out[i] >= 0x20 && out[i] < 0x7f);
	return 0;
}
