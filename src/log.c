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
static enum log_target	 log_target = LOG_TO_STDERR;
static int		 log_level = LOG_INFO;

void
log_init(const char *ident, enum log_target target, int facility, int level)
{
	if (log_target == LOG_TO_SYSLOG)
		closelog();
	log_ident = ident;
	log_target = target;
	log_level = level;
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

bool
log_limit_allow(struct log_limit *ll, unsigned long *suppressed)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec != ll->ll_second) {
		ll->ll_second = now.tv_sec;
		ll->ll_count = 0;
	}
	if (ll->ll_count >= LOG_LIMIT_BURST) {
		ll->ll_suppressed++;
		return false;
	}
	ll->ll_count++;
	*suppressed = ll->ll_suppressed;
	ll->ll_suppressed = 0;
	return true;
}

static void
log_vwrite(int priority, const char *fmt, va_list ap, int saved_errno)
{
	char	 line[8192];
	int	 n;

	if (!log_enabled(priority))
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (saved_errno != 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, ": %s",
		    strerror(saved_errno));

	if (log_target == LOG_TO_SYSLOG)
		syslog(priority, "%s", line);
	else
		/* One write per line keeps lines from several processes
		 * sharing stderr whole. */
		dprintf(STDERR_FILENO, "%s[%ld]: %s\n", log_ident,
		    (long)getpid(), line);
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
