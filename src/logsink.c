/* SPDX-License-Identifier: ISC */
/*
 * logsink.c - where log lines go: syslog's /dev/log or stderr, without
 * ever waiting, what is dropped counted, and a worker's lines held back
 * and sent several at a time (see logsink.h).
 *
 * syslog(3) is not used.  It sends on a blocking socket and has no
 * non-blocking mode: when journald or rsyslog stops reading /dev/log,
 * the next syslog() waits for it, and a master waiting there reaps and
 * respawns nothing and answers nobody, while each worker stops in the
 * middle of its connection.  The protocol is small (one datagram per
 * line, in the format glibc's syslog() sends, which journald and rsyslog
 * parse), so it is spoken here, on a socket that never waits.  The same
 * holds for stderr (-e).  A line that cannot be written at once is
 * dropped and counted (logsink_dropped()), unless it is one of the few an
 * operator reads the journal for (notice and above), which is kept a
 * while and sent late; the next line that goes through is preceded by
 * one that says how many were lost.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "logsink.h"

#define LOGSINK_DEVLOG		"/dev/log"
/* A /dev/log that refused us is tried again no sooner: not a socket()
 * and a connect() on every line while the system has no syslog. */
#define LOGSINK_RETRY_SECONDS	1

/* "<PRI>Mmm dd hh:mm:ss " and the prefix (64 bytes at most). */
#define LOGSINK_HEAD_MAX	96
/* Late lines (logsink_late_keep()): how many at most. */
#define LOGSINK_LATE_LINES	32
/* Held lines (logsink_keep()): how many at most, for how long at most. */
#define LOGSINK_HOLD_LINES	8
#define LOGSINK_HOLD_MS		100

/* How lines reach stderr without waiting (logsink_stderr_open()). */
enum logsink_stderr_how {
	LOGSINK_STDERR_SEND,	/* a socket: send(MSG_DONTWAIT) */
	LOGSINK_STDERR_OWN,	/* our own non-blocking open of it */
	LOGSINK_STDERR_POLL,	/* written only when poll() says it may be */
	LOGSINK_STDERR_FILE,	/* a file: it never waits for a reader */
};

static const char	*logsink_ident = PACKAGE;
static char		 logsink_prefix[64];	/* "ident[pid]: " */
static size_t		 logsink_prefix_used;
static enum log_target	 logsink_target = LOG_TO_STDERR;
static int		 logsink_facility = LOG_DAEMON;

/* The syslog socket (-1: none yet), or the descriptor stderr lines go
 * to: descriptor 2 itself until logsink_open() says otherwise. */
static int		 logsink_fd = STDERR_FILENO;
static bool		 logsink_fd_ours;	/* to close on a new target */
static enum logsink_stderr_how logsink_stderr_how = LOGSINK_STDERR_FILE;
static time_t		 logsink_retry_at;	/* CLOCK_MONOTONIC seconds */
/* The last stderr line was written only in part: the next one starts
 * on a line of its own. */
static bool		 logsink_cut;

static unsigned long long logsink_dropped_total;
static unsigned long long logsink_dropped_pending;	/* not yet reported */
static void		(*logsink_drop_fn)(void *);
static void		*logsink_drop_arg;

/* Lines held back (logsink_keep()): whole datagrams, in order, since the
 * coarse monotonic millisecond of the first. */
static bool		 logsink_holding;
static char		 logsink_held[4 * LOG_LINE_MAX];
static size_t		 logsink_held_used;
static struct iovec	 logsink_held_line[LOGSINK_HOLD_LINES];
static unsigned		 logsink_nheld;
static int64_t		 logsink_held_since;
/* Late lines: see logsink_late_keep(). */
static char		 logsink_late[16 * 1024];
static size_t		 logsink_late_used;
static struct iovec	 logsink_late_line[LOGSINK_LATE_LINES];
static unsigned		 logsink_nlate;

static const char *const logsink_months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/*
 * "ident[pid]: ", made once per process: getpid() and stdio on every
 * line would cost system calls on every connection.
 */
static void
logsink_make_prefix(void)
{
	int	 n;

	n = snprintf(logsink_prefix, sizeof(logsink_prefix), "%s[%ld]: ",
	    logsink_ident, (long)getpid());
	logsink_prefix_used = n > 0 && (size_t)n < sizeof(logsink_prefix) ?
	    (size_t)n : 0;
}

static time_t
logsink_monotonic(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
logsink_close(void)
{
	if (logsink_fd != -1 && logsink_fd_ours)
		close(logsink_fd);
	logsink_fd = -1;
	logsink_fd_ours = false;
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
logsink_syslog_connect(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	if (logsink_fd != -1)
		return 0;
	if (logsink_monotonic() < logsink_retry_at)
		return -1;
	memcpy(sun.sun_path, LOGSINK_DEVLOG, sizeof(LOGSINK_DEVLOG));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		goto fail;
	}
	logsink_fd = fd;
	logsink_fd_ours = true;
	return 0;
fail:
	logsink_retry_at = logsink_monotonic() + LOGSINK_RETRY_SECONDS;
	return -1;
}

/* "Mmm dd hh:mm:ss" in local time, as syslog(3) stamps its lines; made
 * once a second. */
static const char *
logsink_stamp(void)
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
	    logsink_months[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0],
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	made = now;
	return stamp;
}

static bool
logsink_send_once(const struct msghdr *msg, size_t len)
{
	return sendmsg(logsink_fd, msg, MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    (ssize_t)len;
}

/* "<PRI>Mmm dd hh:mm:ss ident[pid]: " into head (LOGSINK_HEAD_MAX bytes);
 * its length.  Pieces copied, not a snprintf() on every line. */
static size_t
logsink_syslog_head(char *head, int priority)
{
	const char	*stamp = logsink_stamp();
	char		 digits[4];
	unsigned	 v = (unsigned)(logsink_facility | priority) &
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
	memcpy(head + len, logsink_prefix, logsink_prefix_used);
	return len + logsink_prefix_used;
}

/* The reader went away (ECONNREFUSED, ENOTCONN...: journald or rsyslog
 * restarted), not just behind: worth a new socket. */
static bool
logsink_syslog_gone(int error)
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
logsink_syslog(int priority, const char *text, size_t len)
{
	char		 head[LOGSINK_HEAD_MAX];
	struct iovec	 iov[2];
	struct msghdr	 msg = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t		 n;

	if (logsink_syslog_connect() == -1)
		return false;
	n = logsink_syslog_head(head, priority);
	iov[0] = (struct iovec){ head, n };
	iov[1] = (struct iovec){ (void *)text, len };
	if (logsink_send_once(&msg, n + len))
		return true;
	if (!logsink_syslog_gone(errno))
		return false;
	/* Once more on a new socket. */
	logsink_close();
	logsink_retry_at = 0;
	return logsink_syslog_connect() == 0 &&
	    logsink_send_once(&msg, n + len);
}

/* n datagrams at once: how many went (the first ones). */
static unsigned
logsink_syslog_many(struct mmsghdr *mm, unsigned n)
{
	int	 sent;

	if (logsink_syslog_connect() == -1)
		return 0;
	sent = sendmmsg(logsink_fd, mm, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (sent == -1 && logsink_syslog_gone(errno)) {
		logsink_close();
		logsink_retry_at = 0;
		if (logsink_syslog_connect() == 0)
			sent = sendmmsg(logsink_fd, mm, n, MSG_DONTWAIT |
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
 * Taken as stderr is when logsink_open() is called.
 */
static void
logsink_stderr_open(void)
{
	struct stat	 st;
	int		 fd;

	logsink_fd = STDERR_FILENO;
	logsink_fd_ours = false;
	logsink_stderr_how = LOGSINK_STDERR_FILE;
	if (fstat(STDERR_FILENO, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		logsink_stderr_how = LOGSINK_STDERR_SEND;
		return;
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return;
	logsink_stderr_how = LOGSINK_STDERR_POLL;
	if ((fd = open("/proc/self/fd/2", O_WRONLY | O_APPEND | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC)) == -1)
		return;
	logsink_fd = fd;
	logsink_fd_ours = true;
	logsink_stderr_how = LOGSINK_STDERR_OWN;
}

/* Whether the line went out whole.  One that went out in part is cut:
 * the next line that goes out starts with the newline it lacks. */
static bool
logsink_stderr(const char *text, size_t len)
{
	struct iovec	 iov[4];
	struct msghdr	 msg = { .msg_iov = iov, .msg_iovlen = 4 };
	struct pollfd	 pfd = { .fd = logsink_fd, .events = POLLOUT };
	size_t		 total;
	ssize_t		 n;

	/* One call per line: lines of several processes sharing stderr
	 * stay whole, and no stdio fstat/lseek per call. */
	iov[0] = (struct iovec){ "\n", logsink_cut ? 1 : 0 };
	iov[1] = (struct iovec){ logsink_prefix, logsink_prefix_used };
	iov[2] = (struct iovec){ (void *)text, len };
	iov[3] = (struct iovec){ "\n", 1 };
	total = iov[0].iov_len + logsink_prefix_used + len + 1;
	if (logsink_stderr_how == LOGSINK_STDERR_POLL &&
	    (poll(&pfd, 1, 0) != 1 || (pfd.revents & POLLOUT) == 0))
		return false;
	if (logsink_stderr_how == LOGSINK_STDERR_SEND)
		n = sendmsg(logsink_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = writev(logsink_fd, iov, 4);
	if (n > 0)
		logsink_cut = (size_t)n < total;
	return n == (ssize_t)total;
}

/* ---- lines ------------------------------------------------------------- */

static bool
logsink_send(int priority, const char *text, size_t len)
{
	if (logsink_target == LOG_TO_SYSLOG)
		return logsink_syslog(priority, text, len);
	return logsink_stderr(text, len);
}

static void
logsink_drop(void)
{
	logsink_dropped_total++;
	logsink_dropped_pending++;
	if (logsink_drop_fn != NULL)
		logsink_drop_fn(logsink_drop_arg);
}

/* "log: N lines dropped (...)": its length, or 0. */
static size_t
logsink_drop_note(char *note, size_t size)
{
	int	 n;

	n = snprintf(note, size, "log: %llu lines dropped (%s)",
	    logsink_dropped_pending, logsink_target == LOG_TO_SYSLOG ?
	    "syslog not reading" : "stderr not writable");
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

/* What was lost, said before the first line that gets through. */
static bool
logsink_send_dropped(void)
{
	char	 note[128];
	size_t	 n = logsink_drop_note(note, sizeof(note));

	if (n == 0 || !logsink_send(LOG_WARNING, note, n))
		return false;
	logsink_dropped_pending = 0;
	return true;
}

/* ---- late lines -------------------------------------------------------- */

/*
 * A line at notice or above (started, reloading, reloaded, an upgrade's
 * steps, a worker's crash) is what an operator reads the journal for,
 * and a process seldom writes many.  When syslog cannot take one at once
 * (journald behind, its queue full of the workers' lines), it is kept,
 * stamped as it was logged, up to LOGSINK_LATE_LINES, and sent before
 * anything else once syslog reads again: by the next line, or by
 * logsink_retry() from the master's loop, which turns at least every
 * tick.  Lines below notice are dropped meanwhile (and counted), so that
 * the late ones keep their order; a line with no room is dropped too.
 */
static bool
logsink_late_keep(int priority, const char *text, size_t len)
{
	char	*p;
	size_t	 head;

	if (logsink_target != LOG_TO_SYSLOG ||
	    (priority & LOG_PRIMASK) > LOG_NOTICE ||
	    logsink_nlate == LOGSINK_LATE_LINES ||
	    LOGSINK_HEAD_MAX + len > sizeof(logsink_late) - logsink_late_used)
		return false;
	p = logsink_late + logsink_late_used;
	head = logsink_syslog_head(p, priority);
	memcpy(p + head, text, len);
	logsink_late_line[logsink_nlate++] = (struct iovec){ p, head + len };
	logsink_late_used += head + len;
	return true;
}

/* The first n late lines went: the rest moved to the front. */
static void
logsink_late_shift(unsigned n)
{
	size_t	 off;

	if (n == 0)
		return;
	if (n == logsink_nlate) {
		logsink_nlate = 0;
		logsink_late_used = 0;
		return;
	}
	off = (size_t)((char *)logsink_late_line[n].iov_base - logsink_late);
	memmove(logsink_late, logsink_late + off, logsink_late_used - off);
	logsink_late_used -= off;
	for (unsigned i = n; i < logsink_nlate; i++) {
		logsink_late_line[i - n] = logsink_late_line[i];
		logsink_late_line[i - n].iov_base =
		    (char *)logsink_late_line[i - n].iov_base - off;
	}
	logsink_nlate -= n;
}

/* Send the late lines, oldest first, as far as syslog takes them;
 * whether none is left. */
static bool
logsink_late_send(void)
{
	struct msghdr	 msg;
	unsigned	 sent = 0;

	if (logsink_nlate == 0)
		return true;
	if (logsink_syslog_connect() == -1)
		return false;
	while (sent < logsink_nlate) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &logsink_late_line[sent];
		msg.msg_iovlen = 1;
		if (!logsink_send_once(&msg, logsink_late_line[sent].iov_len))
			break;
		sent++;
	}
	logsink_late_shift(sent);
	return logsink_nlate == 0;
}

void
logsink_retry(void)
{
	if (logsink_target == LOG_TO_SYSLOG)
		(void)logsink_late_send();
}

/* ---- held lines -------------------------------------------------------- */

/*
 * A worker writes a line per connection.  A datagram to a syslog reader
 * that sleeps wakes it up, and waking a process on another CPU costs the
 * sender more than the rest of the connection does on some machines
 * (virtual ones above all).  So a worker holds its info and debug lines
 * to syslog back (log_hold()), LOGSINK_HOLD_LINES and LOGSINK_HOLD_MS at
 * most, and sends them together: one sendmmsg(), one wake-up.  A line at
 * notice or above sends what is held first, then itself.  The worker
 * sends what it holds before it sleeps waiting for connections, and no
 * wait for a client outlasts log_held_ms().  Held lines are stamped when
 * logged; dropped ones are counted as any line; a worker killed outright
 * loses what it held.
 */
static int64_t
logsink_coarse_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
logsink_flush(void)
{
	struct mmsghdr	 mm[LOGSINK_HOLD_LINES + 1];
	struct iovec	 noted;
	char		 note[LOGSINK_HEAD_MAX + 128];
	unsigned	 n = 0, first, sent;
	size_t		 len;

	if (logsink_nheld == 0)
		return;
	memset(mm, 0, sizeof(mm));
	if (logsink_dropped_pending > 0) {
		len = logsink_syslog_head(note, LOG_WARNING);
		noted = (struct iovec){ note, len +
		    logsink_drop_note(note + len, sizeof(note) - len) };
		mm[n].msg_hdr.msg_iov = &noted;
		mm[n++].msg_hdr.msg_iovlen = 1;
	}
	first = n;
	for (unsigned i = 0; i < logsink_nheld; i++) {
		mm[n].msg_hdr.msg_iov = &logsink_held_line[i];
		mm[n++].msg_hdr.msg_iovlen = 1;
	}
	sent = logsink_syslog_many(mm, n);
	if (first > 0 && sent > 0)
		logsink_dropped_pending = 0;
	for (unsigned i = sent > first ? sent - first : 0; i < logsink_nheld;
	    i++)
		logsink_drop();
	logsink_nheld = 0;
	logsink_held_used = 0;
}

static void
logsink_keep(int priority, const char *text, size_t len)
{
	int64_t	 now = logsink_coarse_ms();
	char	*p;
	size_t	 head;

	if (logsink_nheld == LOGSINK_HOLD_LINES || LOGSINK_HEAD_MAX + len >
	    sizeof(logsink_held) - logsink_held_used)
		logsink_flush();
	if (logsink_nheld == 0)
		logsink_held_since = now;
	p = logsink_held + logsink_held_used;
	head = logsink_syslog_head(p, priority);
	memcpy(p + head, text, len);
	logsink_held_line[logsink_nheld++] = (struct iovec){ p, head + len };
	logsink_held_used += head + len;
	if (logsink_nheld == LOGSINK_HOLD_LINES ||
	    now - logsink_held_since >= LOGSINK_HOLD_MS)
		logsink_flush();
}

void
logsink_hold(bool on)
{
	if (!on)
		logsink_flush();
	logsink_holding = on;
}

int
logsink_held_ms(void)
{
	int64_t	 left;

	if (logsink_nheld == 0)
		return -1;
	left = logsink_held_since + LOGSINK_HOLD_MS - logsink_coarse_ms();
	return left > 0 ? (int)left : 0;
}

void
logsink_write(int priority, const char *text, size_t len)
{
	bool	 behind = logsink_target == LOG_TO_SYSLOG &&
		    !logsink_late_send();

	if (logsink_holding && logsink_target == LOG_TO_SYSLOG && !behind) {
		if (priority >= LOG_INFO) {
			logsink_keep(priority, text, len);
			return;
		}
		logsink_flush();
	}
	/* Late lines first, then what was lost, then this one. */
	if (behind || (logsink_dropped_pending > 0 &&
	    !logsink_send_dropped()) || !logsink_send(priority, text, len)) {
		if (!logsink_late_keep(priority, text, len))
			logsink_drop();
	}
}
/* ---- set-up ------------------------------------------------------------ */

void
logsink_open(const char *ident, enum log_target target, int facility)
{
	logsink_close();
	logsink_ident = ident;
	logsink_target = target;
	logsink_facility = facility;
	logsink_cut = false;
	logsink_make_prefix();
	/* Opened now, before any privilege drop could make /dev/log
	 * unreachable (what syslog(3)'s LOG_NDELAY is for). */
	if (target == LOG_TO_SYSLOG) {
		logsink_retry_at = 0;
		(void)logsink_syslog_connect();
	} else
		logsink_stderr_open();
}

void
logsink_set_facility(int facility)
{
	logsink_facility = facility;
}

void
logsink_after_fork(void)
{
	logsink_make_prefix();
	/* The parent's drops are the parent's to report, its held lines
	 * its own to send. */
	logsink_holding = false;
	logsink_nheld = 0;
	logsink_held_used = 0;
	logsink_nlate = 0;
	logsink_late_used = 0;
	logsink_dropped_total = 0;
	logsink_dropped_pending = 0;
	logsink_drop_fn = NULL;
	logsink_drop_arg = NULL;
	/* A socket of its own: the parent's reconnecting closes its own
	 * descriptor, never this one.  stderr's description is shared, as
	 * stderr itself is. */
	if (logsink_target == LOG_TO_SYSLOG) {
		logsink_close();
		logsink_retry_at = 0;
		(void)logsink_syslog_connect();
	}
}

int
logsink_descriptor(void)
{
	return logsink_fd;
}

size_t
logsink_prefix_len(void)
{
	return logsink_prefix_used;
}

void
logsink_set_drop_hook(void (*fn)(void *), void *arg)
{
	logsink_drop_fn = fn;
	logsink_drop_arg = arg;
}

unsigned long long
logsink_dropped(void)
{
	return logsink_dropped_total;
}
