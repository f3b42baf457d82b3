/*
 * escape.h - make untrusted bytes safe for one log line.
 */
#ifndef PREFORKD_ESCAPE_H
#define PREFORKD_ESCAPE_H

#include <stddef.h>

/* Worst case: every input byte becomes "\xNN". */
#define ESCAPE_MAX(n)	((n) * 4 + 1)

size_t	escape_bytes(char *dst, size_t dstsize, const void *src, size_t len);

#endif
