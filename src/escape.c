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

/*
 * Escape len bytes of src into dst, always NUL-terminating when dstsize
 * > 0.  An escape sequence is never cut in half: when dst is too small the
 * output stops at the last whole sequence.  Returns the length written.
 */
size_t
escape_bytes(char *dst, size_t dstsize, const void *src, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*s = src;
	char			 seq[4];
	size_t			 out = 0, i, n;

	if (dstsize == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		n = 2;
		seq[0] = '\\';
		switch (c) {
		case '\n': seq[1] = 'n'; break;
		case '\r': seq[1] = 'r'; break;
		case '\t': seq[1] = 't'; break;
		case '\\': seq[1] = '\\'; break;
		case '"':  seq[1] = '"'; break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				seq[0] = (char)c;
				n = 1;
			} else {
				seq[1] = 'x';
				seq[2] = hex[c >> 4];
				seq[3] = hex[c & 0xf];
				n = 4;
			}
		}
		if (out + n >= dstsize)
			break;
		for (size_t k = 0; k < n; k++)
			dst[out++] = seq[k];
	}
	dst[out] = '\0';
	return out;
}
