/* SPDX-License-Identifier: ISC */
/*
 * escape.c - C-style escaping of bytes a client sent.
 *
 * Printable ASCII passes through; '\\' and '"' are backslashed so that a
 * quoted field cannot be closed early; \n \r \t get their usual names;
 * every other byte (0x00-0x1f, 0x7f-0xff) becomes \xNN.  The output is
 * therefore pure printable ASCII: no client can start a new log line,
 * forge a field or send a terminal escape sequence.
 */
#include "autoconf.h"

#include "escape.h"

/* The spelling of byte c; returns its length (1, 2 or 4). */
static size_t
escape_one(unsigned char c, char seq[4])
{
	static const char	 hex[] = "0123456789abcdef";

	seq[0] = '\\';
	switch (c) {
	case '\n': seq[1] = 'n'; return 2;
	case '\r': seq[1] = 'r'; return 2;
	case '\t': seq[1] = 't'; return 2;
	case '\\': seq[1] = '\\'; return 2;
	case '"':  seq[1] = '"'; return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		seq[0] = (char)c;
		return 1;
	}
	seq[1] = 'x';
	seq[2] = hex[c >> 4];
	seq[3] = hex[c & 0xf];
	return 4;
}

size_t
escape_fit(char *dst, size_t dstsize, const void *src, size_t len,
    size_t *used)
{
	const unsigned char	*s = src;
	char			 seq[4];
	size_t			 out = 0, i = 0, n;

	if (dstsize > 0) {
		for (; i < len; i++) {
			n = escape_one(s[i], seq);
			if (out + n >= dstsize)
				break;
			for (size_t k = 0; k < n; k++)
				dst[out++] = seq[k];
		}
		dst[out] = '\0';
	}
	if (used != NULL)
		*used = i;
	return out;
}

size_t
escape_bytes(char *dst, size_t dstsize, const void *src, size_t len)
{
	return escape_fit(dst, dstsize, src, len, NULL);
}
