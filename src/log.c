/*
 * log.c - syslog or stderr, one line per event.
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
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char	*log_ident = PACKAGE;
static char		 log_prefix[64];	/* "ident[pid]: " */
static size_t		 log_prefix_len;
static enum log_target	 log_target = LOG_TO_STDERR;
static int		 log_level = LOG_INFO;

/*
 * "ident[pid]: ", made once per process: getpid() and stdio on every
 * line would cost system calls on every connection.
 */
static void
log_make_prefix(void)
{
	int	 n;

	n = snprintf(log_prefix, sizeof(log_prefix), "%s[%ld]: ", log_ident,
	    (long)getpid());
	log_prefix_len = n > 0 && (size_t)n < sizeof(log_prefix) ? (size_t)n :
	    0;
}

void
log_init(const char *ident, enum log_target target, int facility, int level)
{
	if (log_target == LOG_TO_SYSLOG)
		closelog();
	log_ident = ident;
	log_target = target;
	log_level = level;
	log_make_prefix();
	if (target == LOG_TO_SYSLOG) {
		/* LOG_NDELAY opens the socket now, before any chroot or
		 * privilege drop could make /dev/log unreachable. */
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
		setlogmask(LOG_UPTO(level));
	}
}

void
log_reconfigure(int facility, int level)
{
	log_init(log_ident, log_target, facility, level);
}

bool
log_enabled(int level)
{
	return level <= log_level;
}

void
log_after_fork(void)
{
	log_make_prefix();
}

/* Add to line[*off]: cut at the end of the buffer, never overflowing,
 * one byte always left for the newline. */
static void
log_append(char *, size_t, size_t *, const char *, va_list)
    __attribute__((format(printf, 4, 0)));
static void
log_appendf(char *, size_t, size_t *, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
log_append(char *line, size_t size, size_t *off, const char *fmt, va_list ap)
{
	size_t	 room = size - 1 - *off;
	int	 n;

	if (room <= 1 || (n = vsnprintf(line + *off, room, fmt, ap)) < 0)
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
	size_t	 off = 0;

	if (!log_enabled(priority))
		return;
	if (log_target == LOG_TO_STDERR) {
		memcpy(line, log_prefix, log_prefix_len);
		off = log_prefix_len;
	}
	log_append(line, sizeof(line), &off, fmt, ap);
	if (saved_errno != 0)
		log_appendf(line, sizeof(line), &off, ": %s",
		    strerror(saved_errno));

	if (log_target == LOG_TO_SYSLOG) {
		line[off] = '\0';
		syslog(priority, "%s", line);
		return;
	}
	/* One write(2) per line: lines of several processes sharing
	 * stderr stay whole, and no stdio fstat/lseek per call. */
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
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
