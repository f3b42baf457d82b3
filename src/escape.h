/* SPDX-License-Identifier: ISC */
/*
 * escape.h - make untrusted bytes safe for one log line.
 */
#ifndef PREFORKD_ESCAPE_H
#define PREFORKD_ESCAPE_H

#include <stddef.h>

/* Worst case: every input byte becomes "\xNN". */
#define ESCAPE_MAX(n)	((n) * 4 + 1)

/*
 * Escape len bytes of src into dst, always NUL-terminating when dstsize
 * > 0.  An escape sequence is never cut in half: when dst is too small the
 * output stops at the last whole sequence.  Returns the length written;
 * escape_fit() also tells, in *used, how many bytes of src it holds, so
 * that a caller can say the text was cut.
 */
size_t	escape_bytes(char *dst, size_t dstsize, const void *src, size_t len);
size_t	escape_fit(char *dst, size_t dstsize, const void *src, size_t len,
	    size_t *used);

#endif
