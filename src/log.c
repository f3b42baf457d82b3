/* SPDX-License-Identifier: ISC */
/*
 * log.c - the logging API: levels, the line made from its format, and the
 * set-up; logsink.c writes the lines (syslog or stderr, never waiting).
 *
 * Callers pass only trusted format strings; anything a client sent is
 * escaped (escape.c) and passed as a "%s" argument.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "log.h"
#include "logsink.h"

static int		 log_level = LOG_INFO;

/* ---- set-up ------------------------------------------------------------ */

void
log_init(const char *ident, enum log_target target, int facility, int level)
{
	log_level = level;
	logsink_open(ident, target, facility);
}

void
log_reconfigure(int facility, int level)
{
	logsink_set_facility(facility);
	log_level = level;
}

bool
log_enabled(int level)
{
	return level <= log_level;
}

void
log_after_fork(void)
{
	logsink_after_fork();
}

int
log_descriptor(void)
{
	return logsink_descriptor();
}

void
log_set_drop_hook(void (*fn)(void *), void *arg)
{
	logsink_set_drop_hook(fn, arg);
}

unsigned long long
log_dropped(void)
{
	return logsink_dropped();
}

/* ---- held lines (logsink.c says why) ----------------------------------- */

void
log_hold(bool on)
{
	logsink_hold(on);
}

void
log_flush(void)
{
	logsink_flush();
}

int
log_held_ms(void)
{
	return logsink_held_ms();
}

void
log_retry(void)
{
	logsink_retry();
}

/* ---- the API ----------------------------------------------------------- */

/* Add to line[*off]: cut at the end of the buffer, never overflowing. */
static void
log_append(char *, size_t, size_t *, const char *, va_list)
    __attribute__((format(printf, 4, 0)));
static void
log_appendf(char *, size_t, size_t *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/* n bytes of s at line[*off], cut to what room is left (one byte is
 * kept for the NUL). */
static void
log_put(char *line, size_t size, size_t *off, const char *s, size_t n)
{
	size_t	 room = size - 1 - *off;

	if (n > room)
		n = room;
	memcpy(line + *off, s, n);
	*off += n;
}

/* v in decimal, negative when neg; the digits are written backwards. */
static void
log_put_number(char *line, size_t size, size_t *off, unsigned long long v,
    bool neg)
{
	char	 digits[24];
	size_t	 n = sizeof(digits);

	do
		digits[--n] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (neg)
		digits[--n] = '-';
	log_put(line, size, off, digits + n, sizeof(digits) - n);
}

/*
 * The conversions nearly every line is made of - %s, %d, %i, %u with no
 * size, l, ll or z, and %% - done here: a worker writes a line per
 * connection, and vsnprintf() takes several times as long as everything
 * else that goes into it.  Anything else (a flag, a width, a precision,
 * another conversion): false, with nothing consumed that the caller
 * needs, and vsnprintf() makes the whole line.
 */
static bool
log_format(char *line, size_t size, size_t *off, const char *fmt, va_list ap)
{
	const char		*p, *s;
	unsigned long long	 u;
	long long		 d;
	int			 len;	/* 0, 'l' (long), 'L' (long long), 'z' */

	for (p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			s = p;
			while (p[1] != '\0' && p[1] != '%')
				p++;
			log_put(line, size, off, s, (size_t)(p - s + 1));
			continue;
		}
		if (p[1] == 'l' && p[2] == 'l')
			len = 'L';
		else
			len = p[1] == 'l' || p[1] == 'z' ? p[1] : 0;
		p += len == 'L' ? 2 : len != 0 ? 1 : 0;
		switch (*++p) {
		case '%':
			if (len != 0)
				return false;
			log_put(line, size, off, "%", 1);
			break;
		case 's':
			if (len != 0)
				return false;
			if ((s = va_arg(ap, const char *)) == NULL)
				s = "(null)";
			log_put(line, size, off, s, strlen(s));
			break;
		case 'd':
		case 'i':
			if (len == 'z')
				return false;
			d = len == 'L' ? va_arg(ap, long long) : len == 'l' ?
			    va_arg(ap, long) : va_arg(ap, int);
			/* -(d + 1) + 1: no overflow for the smallest. */
			log_put_number(line, size, off, d < 0 ?
			    (unsigned long long)-(d + 1) + 1 :
			    (unsigned long long)d, d < 0);
			break;
		case 'u':
			u = len == 'L' ? va_arg(ap, unsigned long long) :
			    len == 'l' ? va_arg(ap, unsigned long) :
			    len == 'z' ? va_arg(ap, size_t) :
			    va_arg(ap, unsigned int);
			log_put_number(line, size, off, u, false);
			break;
		default:
			return false;
		}
	}
	return true;
}

static void
log_append(char *line, size_t size, size_t *off, const char *fmt, va_list ap)
{
	size_t	 room = size - *off, start = *off;
	va_list	 copy;
	int	 n;
	bool	 done;

	if (room <= 1)
		return;
	va_copy(copy, ap);
	done = log_format(line, size, off, fmt, copy);
	va_end(copy);
	if (done) {
		line[*off] = '\0';
		return;
	}
	*off = start;
	if ((n = vsnprintf(line + *off, room, fmt, ap)) < 0)
		return;
	*off += (size_t)n < room ? (size_t)n : room - 1;
}

static void
log_appendf(char *line, size_t size, size_t *off, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_append(line, size, off, fmt, ap);
	va_end(ap);
}

static void
log_vwrite(int priority, const char *fmt, va_list ap, int saved_errno)
{
	char	 line[LOG_LINE_MAX];
	/* The prefix and the newline count in LOG_LINE_MAX. */
	size_t	 size = sizeof(line) - logsink_prefix_len() - 1, off = 0;

	if (!log_enabled(priority))
		return;
	log_append(line, size, &off, fmt, ap);
	if (saved_errno != 0)
		log_appendf(line, size, &off, ": %s", strerror(saved_errno));
	logsink_write(priority, line, off);
}

#define LOG_FUNCTION(name, priority, with_errno)			\
void									\
name(const char *fmt, ...)						\
{									\
	int	 saved_errno = errno;					\
	va_list	 ap;							\
									\
	va_start(ap, fmt);						\
	log_vwrite(priority, fmt, ap, with_errno ? saved_errno : 0);	\
	va_end(ap);							\
	errno = saved_errno;						\
}

void
log_vlog(int priority, bool with_errno, const char *fmt, va_list ap)
{
	int	 saved_errno = errno;

	log_vwrite(priority & LOG_PRIMASK, fmt, ap, with_errno ? saved_errno :
	    0);
	errno = saved_errno;
}

LOG_FUNCTION(log_warn, LOG_ERR, 1)
LOG_FUNCTION(log_warnx, LOG_WARNING, 0)
LOG_FUNCTION(log_notice, LOG_NOTICE, 0)
LOG_FUNCTION(log_info, LOG_INFO, 0)
LOG_FUNCTION(log_debug, LOG_DEBUG, 0)

void
fatal(int status, const char *fmt, ...)
{
	int	 saved_errno = errno;
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, saved_errno);
	va_end(ap);
	exit(status);
}

void
fatalx(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(status);
}
