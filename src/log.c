/* SPDX-License-Identifier: ISC */
/*
 * log.c - syslog or stderr, one line per event, never waiting.
 *
 * Callers pass only trusted format strings; anything a client sent is
 * escaped (escape.c) and passed as a "%s" argument.
 *
 * syslog(3) is not used.  It sends on a blocking socket and has no
 * non-blocking mode: when journald or rsyslog stops reading /dev/log,
 * the next syslog() waits for it, and a master waiting there reaps and
 * respawns nothing and answers nobody, while each worker stops in the
 * middle of its connection.  The protocol is small (one datagram per
 * line, in the format glibc's syslog() sends, which journald and rsyslog
 * parse), so it is spoken here, on a socket that never waits.  The same
 * holds for stderr (-e).  A line that cannot be written at once is
 * dropped and counted (log_dropped()); the next line that goes through
 * is preceded by one that says how many were lost.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_DEVLOG		"/dev/log"
/* A /dev/log that refused us is tried again no sooner: not a socket()
 * and a connect() on every line while the system has no syslog. */
#define LOG_RETRY_SECONDS	1

/* "<PRI>Mmm dd hh:mm:ss " and the prefix (64 bytes at most). */
#define LOG_HEAD_MAX		96
/* Held lines (log_keep()): how many at most, for how long at most. */
#define LOG_HOLD_LINES		8
#define LOG_HOLD_MS		100

/* How lines reach stderr without waiting (log_stderr_open()). */
enum log_stderr_how {
	LOG_STDERR_SEND,	/* a socket: send(MSG_DONTWAIT) */
	LOG_STDERR_OWN,		/* our own non-blocking open of it */
	LOG_STDERR_POLL,	/* written only when poll() says it may be */
	LOG_STDERR_FILE,	/* a file: it never waits for a reader */
};

static const char	*log_ident = PACKAGE;
static char		 log_prefix[64];	/* "ident[pid]: " */
static size_t		 log_prefix_len;
static enum log_target	 log_target = LOG_TO_STDERR;
static int		 log_facility = LOG_DAEMON;
static int		 log_level = LOG_INFO;

/* The syslog socket (-1: none yet), or the descriptor stderr lines go
 * to: descriptor 2 itself until log_init() says otherwise. */
static int		 log_fd = STDERR_FILENO;
static bool		 log_fd_ours;		/* to close on a new target */
static enum log_stderr_how log_stderr_how = LOG_STDERR_FILE;
static time_t		 log_retry_at;		/* CLOCK_MONOTONIC seconds */
/* The last stderr line was written only in part: the next one starts
 * on a line of its own. */
static bool		 log_cut;

static unsigned long long log_dropped_total;
static unsigned long long log_dropped_pending;	/* not yet reported */
static void		(*log_drop_fn)(void *);
static void		*log_drop_arg;

/* Lines held back (log_keep()): whole datagrams, in order, since the
 * coarse monotonic millisecond of the first. */
static bool		 log_holding;
static char		 log_held[4 * LOG_LINE_MAX];
static size_t		 log_held_used;
static struct iovec	 log_held_line[LOG_HOLD_LINES];
static unsigned		 log_nheld;
static int64_t		 log_held_since;

static const char *const log_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

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

static time_t
log_monotonic(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
log_close(void)
{
	if (log_fd != -1 && log_fd_ours)
		close(log_fd);
	log_fd = -1;
	log_fd_ours = false;
}

/* ---- syslog ------------------------------------------------------------ */

/*
 * A datagram socket connected to /dev/log.  Connecting a datagram socket
 * never waits, and with SOCK_NONBLOCK neither does a send: a full queue
 * at the reader is EAGAIN.  No fallback to a stream socket: every syslog
 * daemon Debian ships reads datagrams there.  What fails here cannot be
 * logged (this is the log): the lines it costs are counted as dropped.
 */
static int
log_syslog_connect(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	if (log_fd != -1)
		return 0;
	if (log_monotonic() < log_retry_at)
		return -1;
	memcpy(sun.sun_path, LOG_DEVLOG, sizeof(LOG_DEVLOG));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		goto fail;
	}
	log_fd = fd;
	log_fd_ours = true;
	return 0;
fail:
	log_retry_at = log_monotonic() + LOG_RETRY_SECONDS;
	return -1;
}

/* "Mmm dd hh:mm:ss" in local time, as syslog(3) stamps its lines; made
 * once a second. */
static const char *
log_stamp(void)
{
	static time_t	 made = -1;
	static char	 stamp[32];
	time_t		 now = time(NULL);
	struct tm	 tm;

	if (now == made)
		return stamp;
	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(stamp, sizeof(stamp), "%s %2d %02d:%02d:%02d",
	    log_months[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0],
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	made = now;
	return stamp;
}

static bool
log_send_once(const struct msghdr *msg, size_t len)
{
	return sendmsg(log_fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)len;
}

/* "<PRI>Mmm dd hh:mm:ss ident[pid]: " into head (LOG_HEAD_MAX bytes);
 * its length.  Pieces copied, not a snprintf() on every line. */
static size_t
log_syslog_head(char *head, int priority)
{
	const char	*stamp = log_stamp();
	char		 digits[4];
	unsigned	 v = (unsigned)(log_facility | priority) &
			    (LOG_FACMASK | LOG_PRIMASK);
	size_t		 n = 0, len = 0, stamplen = strlen(stamp);

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	head[len++] = '<';
	while (n > 0)
		head[len++] = digits[--n];
	head[len++] = '>';
	memcpy(head + len, stamp, stamplen);
	len += stamplen;
	head[len++] = ' ';
	memcpy(head + len, log_prefix, log_prefix_len);
	return len + log_prefix_len;
}

/* The reader went away (ECONNREFUSED, ENOTCONN...: journald or rsyslog
 * restarted), not just behind: worth a new socket. */
static bool
log_syslog_gone(int error)
{
	return error != EAGAIN && error != EWOULDBLOCK && error != ENOBUFS &&
	    error != EINTR && error != EMSGSIZE;
}

/*
 * "<PRI>Mmm dd hh:mm:ss ident[pid]: text", the RFC 3164 line of glibc's
 * syslog() with LOG_PID, without a trailing newline.  Whether it was
 * sent; a full queue is not waited for.
 */
static bool
log_syslog(int priority, const char *text, size_t len)
{
	char		 head[LOG_HEAD_MAX];
	struct iovec	 iov[2];
	struct msghdr	 msg = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t		 n;

	if (log_syslog_connect() == -1)
		return false;
	n = log_syslog_head(head, priority);
	iov[0] = (struct iovec){ head, n };
	iov[1] = (struct iovec){ (void *)text, len };
	if (log_send_once(&msg, n + len))
		return true;
	if (!log_syslog_gone(errno))
		return false;
	/* Once more on a new socket. */
	log_close();
	log_retry_at = 0;
	return log_syslog_connect() == 0 && log_send_once(&msg, n + len);
}

/* n datagrams at once: how many went (the first ones). */
static unsigned
log_syslog_many(struct mmsghdr *mm, unsigned n)
{
	int	 sent;

	if (log_syslog_connect() == -1)
		return 0;
	sent = sendmmsg(log_fd, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent == -1 && log_syslog_gone(errno)) {
		log_close();
		log_retry_at = 0;
		if (log_syslog_connect() == 0)
			sent = sendmmsg(log_fd, mm, n, MSG_DONTWAIT |
			    MSG_NOSIGNAL);
	}
	return sent > 0 ? (unsigned)sent : 0;
}

/* ---- stderr ------------------------------------------------------------ */

/*
 * stderr may be shared: with the terminal, a pipe's other writers, the
 * shell.  O_NONBLOCK on descriptor 2 would change its open file
 * description for all of them (and a poll() before a blocking write is
 * no guarantee: our own workers write to the same pipe between the two
 * calls).  So, by what stderr is:
 *  - a socket (the journal's stream, under systemd): send(MSG_DONTWAIT),
 *    non-blocking for this call only;
 *  - a pipe, FIFO or terminal: a description of our own, opened again
 *    through /proc with O_NONBLOCK, shared only by this process and the
 *    workers it forks; if that cannot be opened, a poll() of 0 before
 *    each write, the best that is left;
 *  - a file: as before, a plain write (no reader to wait for).
 * Taken as stderr is when log_init() is called.
 */
static void
log_stderr_open(void)
{
	struct stat	 st;
	int		 fd;

	log_fd = STDERR_FILENO;
	log_fd_ours = false;
	log_stderr_how = LOG_STDERR_FILE;
	if (fstat(STDERR_FILENO, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		log_stderr_how = LOG_STDERR_SEND;
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return;
	log_stderr_how = LOG_STDERR_POLL;
	if ((fd = open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) == -1)
		return;
	log_fd = fd;
	log_fd_ours = true;
	log_stderr_how = LOG_STDERR_OWN;
}

/* Whether the line went out whole.  One that went out in part is cut:
 * the next line that goes out starts with the newline it lacks. */
static bool
log_stderr(const char *text, size_t len)
{
	struct iovec	 iov[4];
	struct msghdr	 msg = { .msg_iov = iov, .msg_iovlen = 4 };
	struct pollfd	 pfd = { .fd = log_fd, .events = POLLOUT };
	size_t		 total;
	ssize_t		 n;

	/* One call per line: lines of several processes sharing stderr
	 * stay whole, and no stdio fstat/lseek per call. */
	iov[0] = (struct iovec){ "\n", log_cut ? 1 : 0 };
	iov[1] = (struct iovec){ log_prefix, log_prefix_len };
	iov[2] = (struct iovec){ (void *)text, len };
	iov[3] = (struct iovec){ "\n", 1 };
	total = iov[0].iov_len + log_prefix_len + len + 1;
	if (log_stderr_how == LOG_STDERR_POLL && (poll(&pfd, 1, 0) != 1 ||
	    (pfd.revents & POLLOUT) == 0))
		return false;
	if (log_stderr_how == LOG_STDERR_SEND)
		n = sendmsg(log_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = writev(log_fd, iov, 4);
	if (n > 0)
		log_cut = (size_t)n < total;
	return n == (ssize_t)total;
}

/* ---- lines ------------------------------------------------------------- */

static bool
log_send(int priority, const char *text, size_t len)
{
	if (log_target == LOG_TO_SYSLOG)
		return log_syslog(priority, text, len);
	return log_stderr(text, len);
}

static void
log_drop(void)
{
	log_dropped_total++;
	log_dropped_pending++;
	if (log_drop_fn != NULL)
		log_drop_fn(log_drop_arg);
}

/* "log: N lines dropped (...)": its length, or 0. */
static size_t
log_drop_note(char *note, size_t size)
{
	int	 n;

	n = snprintf(note, size, "log: %llu lines dropped (%s)",
	    log_dropped_pending, log_target == LOG_TO_SYSLOG ?
	    "syslog not reading" : "stderr not writable");
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* What was lost, said before the first line that gets through. */
static bool
log_send_dropped(void)
{
	char	 note[128];
	size_t	 n = log_drop_note(note, sizeof(note));

	if (n == 0 || !log_send(LOG_WARNING, note, n))
		return false;
	log_dropped_pending = 0;
	return true;
}

/* ---- held lines -------------------------------------------------------- */

/*
 * A worker writes a line per connection.  A datagram to a syslog reader
 * that sleeps wakes it up, and waking a process on another CPU costs the
 * sender more than the rest of the connection does on some machines
 * (virtual ones above all).  So a worker holds its info and debug lines
 * to syslog back (log_hold()), LOG_HOLD_LINES and LOG_HOLD_MS at most,
 * and sends them together: one sendmmsg(), one wake-up.  A line at
 * notice or above sends what is held first, then itself.  The worker
 * sends what it holds before it sleeps waiting for connections, and no
 * wait for a client outlasts log_held_ms().  Held lines are stamped when
 * logged; dropped ones are counted as any line; a worker killed outright
 * loses what it held.
 */
static int64_t
log_coarse_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
log_flush(void)
{
	struct mmsghdr	 mm[LOG_HOLD_LINES + 1];
	struct iovec	 noted;
	char		 note[LOG_HEAD_MAX + 128];
	unsigned	 n = 0, first, sent;
	size_t		 len;

	if (log_nheld == 0)
		return;
	memset(mm, 0, sizeof(mm));
	if (log_dropped_pending > 0) {
		len = log_syslog_head(note, LOG_WARNING);
		noted = (struct iovec){ note, len + log_drop_note(note + len,
		    sizeof(note) - len) };
		mm[n].msg_hdr.msg_iov = &noted;
		mm[n++].msg_hdr.msg_iovlen = 1;
	}
	first = n;
	for (unsigned i = 0; i < log_nheld; i++) {
		mm[n].msg_hdr.msg_iov = &log_held_line[i];
		mm[n++].msg_hdr.msg_iovlen = 1;
	}
	sent = log_syslog_many(mm, n);
	if (first > 0 && sent > 0)
		log_dropped_pending = 0;
	for (unsigned i = sent > first ? sent - first : 0; i < log_nheld; i++)
		log_drop();
	log_nheld = 0;
	log_held_used = 0;
}

static void
log_keep(int priority, const char *text, size_t len)
{
	int64_t	 now = log_coarse_ms();
	char	*p;
	size_t	 head;

	if (log_nheld == LOG_HOLD_LINES || LOG_HEAD_MAX + len >
	    sizeof(log_held) - log_held_used)
		log_flush();
	if (log_nheld == 0)
		log_held_since = now;
	p = log_held + log_held_used;
	head = log_syslog_head(p, priority);
	memcpy(p + head, text, len);
	log_held_line[log_nheld++] = (struct iovec){ p, head + len };
	log_held_used += head + len;
	if (log_nheld == LOG_HOLD_LINES || now - log_held_since >= LOG_HOLD_MS)
		log_flush();
}

void
log_hold(bool on)
{
	if (!on)
		log_flush();
	log_holding = on;
}

int
log_held_ms(void)
{
	int64_t	 left;

	if (log_nheld == 0)
		return -1;
	left = log_held_since + LOG_HOLD_MS - log_coarse_ms();
	return left > 0 ? (int)left : 0;
}

static void
log_emit(int priority, const char *text, size_t len)
{
	if (log_holding && log_target == LOG_TO_SYSLOG) {
		if (priority >= LOG_INFO) {
			log_keep(priority, text, len);
			return;
		}
		log_flush();
	}
	if (log_dropped_pending > 0 && !log_send_dropped()) {
		log_drop();
		return;
	}
	if (!log_send(priority, text, len))
		log_drop();
}

/* ---- set-up ------------------------------------------------------------ */

void
log_init(const char *ident, enum log_target target, int facility, int level)
{
	log_close();
	log_ident = ident;
	log_target = target;
	log_facility = facility;
	log_level = level;
	log_cut = false;
	log_make_prefix();
	/* Opened now, before any privilege drop could make /dev/log
	 * unreachable (what syslog(3)'s LOG_NDELAY is for). */
	if (target == LOG_TO_SYSLOG) {
		log_retry_at = 0;
		(void)log_syslog_connect();
	} else
		log_stderr_open();
}

void
log_reconfigure(int facility, int level)
{
	log_facility = facility;
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
	log_make_prefix();
	/* The parent's drops are the parent's to report, its held lines
	 * its own to send. */
	log_holding = false;
	log_nheld = 0;
	log_held_used = 0;
	log_dropped_total = 0;
	log_dropped_pending = 0;
	log_drop_fn = NULL;
	log_drop_arg = NULL;
	/* A socket of its own: the parent's reconnecting closes its own
	 * descriptor, never this one.  stderr's description is shared, as
	 * stderr itself is. */
	if (log_target == LOG_TO_SYSLOG) {
		log_close();
		log_retry_at = 0;
		(void)log_syslog_connect();
	}
}

int
log_descriptor(void)
{
	return log_fd;
}

void
log_set_drop_hook(void (*fn)(void *), void *arg)
{
	log_drop_fn = fn;
	log_drop_arg = arg;
}

unsigned long long
log_dropped(void)
{
	return log_dropped_total;
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
	size_t	 size = sizeof(line) - log_prefix_len - 1, off = 0;

	if (!log_enabled(priority))
		return;
	log_append(line, size, &off, fmt, ap);
	if (saved_errno != 0)
		log_appendf(line, size, &off, ": %s", strerror(saved_errno));
	log_emit(priority, line, off);
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
