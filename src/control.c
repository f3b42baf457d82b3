/* SPDX-License-Identifier: ISC */
/*
 * control.c - the control socket (see control.h for what it promises).
 *
 * The socket file: whatever is at the path is replaced only when it is a
 * socket nobody answers on (left by a daemon that was killed).  A socket
 * that answers belongs to a running daemon, which a second one must not
 * take over; anything else is not ours to remove.  When the master stops,
 * the file is removed only if it is still the one it made (an in-place
 * upgrade hands the socket over with the file's device and inode: the
 * new image "made" it too).
 *
 * The master never waits for a client: the descriptors are non-blocking,
 * ppoll() says when each may be read or written, and a client that does
 * not finish by its deadline is dropped.  The answer is formatted whole
 * once the request is in, so a slow reader costs its buffer, nothing
 * more.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "escape.h"
#include "log.h"
#include "status.h"

/* Connections taken from the backlog per wake-up: the rest wait for the
 * next turn of the loop. */
#define CONTROL_ACCEPT_BURST	16
/* After running out of descriptors, leave the backlog alone this long:
 * it would be readable, and wake the loop, at every turn. */
#define CONTROL_PAUSE		0.1

#define CONTROL_STR(x)		CONTROL_STR_(x)
#define CONTROL_STR_(x)		#x

static const char control_help[] =
    "commands:\n"
    "  status   the pool and every worker, as a table\n"
    "  metrics  the same in the Prometheus text exposition format\n"
    "  reload   read the file again; the answer is the outcome\n"
    "  stop     finish the connections in hand, then exit (TERM)\n"
    "  quit     the same (QUIT)\n"
    "  upgrade  run the binary installed now, same pid (USR2)\n"
    "  help     this list\n";

void
control_init(struct control *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
	ctl->ctl_fd = -1;
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		ctl->ctl_client[i].cc_fd = -1;
}

int
control_sockaddr(const char *path, struct sockaddr_un *sun)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

/*
 * Whether a process answers on the socket at path: 1, 0 when nobody
 * does (a stale file), -1 when it cannot be told (logged).  A backlog
 * that is full is someone's.
 */
static int
control_probe(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, rc;

	if (control_sockaddr(path, &sun) == -1) {
		log_warn("control socket %s", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("socket(AF_UNIX)");
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    errno == EAGAIN)
		rc = 1;
	else if (errno == ECONNREFUSED || errno == ENOENT)
		rc = 0;
	else {
		log_warn("connect(%s)", path);
		rc = -1;
	}
	close(fd);
	return rc;
}

/* Make room at path: 0, or an exit status (logged). */
static int
control_clear(const char *path)
{
	struct stat	 st;
	int		 live;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("lstat(%s)", path);
		return EX_CANTCREAT;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("control socket %s: something that is not a socket "
		    "is there; refusing to replace it", path);
		return EX_CANTCREAT;
	}
	if ((live = control_probe(path)) != 0) {
		if (live == 1)
			log_warnx("control socket %s: another process answers "
			    "on it (is preforkd already running?)", path);
		return live == 1 ? EX_UNAVAILABLE : EX_CANTCREAT;
	}
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("unlink(%s)", path);
		return EX_CANTCREAT;
	}
	log_info("control socket %s: removed a stale socket nobody answered "
	    "on", path);
	return 0;
}

/*
 * Bind fd at path, mode 0600: the socket's own mode and the umask both
 * say so, as Linux creates the file from the one less the other.
 */
static int
control_bind(int fd, const char *path)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 rc;

	if (control_sockaddr(path, &sun) == -1) {
		log_warn("control socket %s", path);
		return -1;
	}
	if (fchmod(fd, 0600) == -1) {
		log_warn("fchmod(control socket)");
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1) {
		log_warn("bind(%s)", path);
		if (errno == ENOENT)
			log_warnx("control socket %s: its directory does not "
			    "exist", path);
	}
	return rc;
}

/* Remember which file we made, to remove only that one later. */
static int
control_note_file(struct control *ctl, const char *path)
{
	struct stat	 st;

	if (lstat(path, &st) == -1) {
		log_warn("lstat(%s)", path);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode) || (st.st_mode & 0177) != 0) {
		log_warnx("control socket %s: mode %04o after bind; refusing "
		    "it", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	ctl->ctl_dev = st.st_dev;
	ctl->ctl_ino = st.st_ino;
	return 0;
}

/* Remove the socket file, unless someone has put another there since. */
static void
control_unlink(const struct control *ctl)
{
	struct stat	 st;

	if (ctl->ctl_path[0] == '\0')
		return;
	if (lstat(ctl->ctl_path, &st) == -1) {
		if (errno != ENOENT)
			log_warn("lstat(%s)", ctl->ctl_path);
	} else if (st.st_dev != ctl->ctl_dev || st.st_ino != ctl->ctl_ino)
		log_warnx("%s is no longer our control socket: left alone",
		    ctl->ctl_path);
	else if (unlink(ctl->ctl_path) == -1)
		log_warn("unlink(%s)", ctl->ctl_path);
}

/* Bind and listen at path, made free for it: 0 or -1 (logged). */
static int
control_bind_listen(struct control *ctl, int fd, const char *path)
{
	if (control_bind(fd, path) == -1)
		return -1;
	snprintf(ctl->ctl_path, sizeof(ctl->ctl_path), "%s", path);
	if (control_note_file(ctl, path) == -1) {
		ctl->ctl_path[0] = '\0';	/* not known to be ours */
		return -1;
	}
	if (listen(fd, CONTROL_CLIENTS) == -1) {
		log_warn("listen(%s)", path);
		control_unlink(ctl);
		ctl->ctl_path[0] = '\0';
		return -1;
	}
	return 0;
}

/* A listening socket at path, into ctl's listening fields: 0 or an exit
 * status.  Clients are left as they are. */
static int
control_listen(struct control *ctl, const char *path)
{
	int	 fd, status;

	if ((status = control_clear(path)) != 0)
		return status;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("socket(AF_UNIX)");
		return EX_OSERR;
	}
	if (control_bind_listen(ctl, fd, path) == -1) {
		close(fd);
		return EX_CANTCREAT;
	}
	ctl->ctl_fd = fd;
	return 0;
}

int
control_open(struct control *ctl, const char *path)
{
	int	 status;

	if (path == NULL)
		return 0;
	if ((status = control_listen(ctl, path)) != 0) {
		log_warnx("cannot serve the control socket %s", path);
		return status;
	}
	log_info("control socket %s", path);
	return 0;
}

/* Stop listening and remove the file; clients may finish. */
static void
control_unlisten(struct control *ctl)
{
	if (ctl->ctl_fd == -1)
		return;
	if (close(ctl->ctl_fd) == -1)
		log_warn("close(control socket)");
	ctl->ctl_fd = -1;
	control_unlink(ctl);
	ctl->ctl_path[0] = '\0';
}

void
control_reconfigure(struct control *ctl, const char *path)
{
	struct control	 fresh;
	const char	*old = ctl->ctl_fd != -1 ? ctl->ctl_path : NULL;

	if ((path == NULL && old == NULL) ||
	    (path != NULL && old != NULL && strcmp(path, old) == 0))
		return;
	if (path == NULL) {
		log_info("control socket %s closed: no longer configured",
		    old);
		control_unlisten(ctl);
		return;
	}
	control_init(&fresh);
	if (control_listen(&fresh, path) != 0) {
		log_warnx("control socket %s cannot be opened; %s%s", path,
		    old != NULL ? "keeping " : "no control socket",
		    old != NULL ? old : "");
		return;
	}
	control_unlisten(ctl);
	ctl->ctl_fd = fresh.ctl_fd;
	memcpy(ctl->ctl_path, fresh.ctl_path, sizeof(ctl->ctl_path));
	ctl->ctl_dev = fresh.ctl_dev;
	ctl->ctl_ino = fresh.ctl_ino;
	log_info("control socket %s", path);
}

static void
control_drop(struct control_client *c)
{
	if (c->cc_fd != -1 && close(c->cc_fd) == -1)
		log_warn("close(control client)");
	free(c->cc_out);
	memset(c, 0, sizeof(*c));
	c->cc_fd = -1;
}

void
control_close(struct control *ctl)
{
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		control_drop(&ctl->ctl_client[i]);
	control_unlisten(ctl);
	free(ctl->ctl_scratch);
	ctl->ctl_scratch = NULL;
}

/* ---- an in-place upgrade ------------------------------------------------ */

bool
control_hold(struct control *ctl)
{
	ctl->ctl_held = true;
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (ctl->ctl_client[i].cc_fd != -1)
			return false;
	return true;
}

void
control_release(struct control *ctl)
{
	ctl->ctl_held = false;
}

void
control_adopt(struct control *ctl, int fd, const char *path, dev_t dev,
    ino_t ino)
{
	ctl->ctl_fd = fd;
	snprintf(ctl->ctl_path, sizeof(ctl->ctl_path), "%s", path);
	ctl->ctl_dev = dev;
	ctl->ctl_ino = ino;
	log_info("control socket kept across the upgrade %s", path);
}

/* ---- the master's loop ------------------------------------------------- */

size_t
control_pollfds(const struct control *ctl, struct pollfd *pfd)
{
	size_t	 n = 0;

	if (ctl->ctl_fd != -1 && !ctl->ctl_held &&
	    clock_diff(ctl->ctl_paused_until, clock_now()) >= 0)
		pfd[n++] = (struct pollfd){ .fd = ctl->ctl_fd, .events = POLLIN };
	for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
		const struct control_client *c = &ctl->ctl_client[i];

		/* One that waits for a reload has nothing to say meanwhile:
		 * only its hanging up (POLLHUP, always reported) matters. */
		if (c->cc_fd != -1)
			pfd[n++] = (struct pollfd){ .fd = c->cc_fd,
			    .events = c->cc_reload != 0 ? 0 :
			    c->cc_out == NULL ? POLLIN : POLLOUT };
	}
	return n;
}

bool
control_next_deadline(const struct control *ctl, struct timespec *t)
{
	bool	 any = false;

	if (ctl->ctl_fd != -1 &&
	    clock_diff(clock_now(), ctl->ctl_paused_until) > 0) {
		*t = ctl->ctl_paused_until;
		any = true;
	}
	for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
		const struct control_client *c = &ctl->ctl_client[i];

		if (c->cc_fd == -1)
			continue;
		if (!any || clock_diff(c->cc_deadline, *t) > 0)
			*t = c->cc_deadline;
		any = true;
	}
	return any;
}

void
control_expire(struct control *ctl, struct timespec now)
{
	unsigned long	 held;

	for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
		struct control_client *c = &ctl->ctl_client[i];

		if (c->cc_fd == -1 || clock_diff(c->cc_deadline, now) < 0)
			continue;
		if (log_limit_allow(&ctl->ctl_error_log, &held))
			log_notice("control client dropped: %s within %.0fs "
			    "(%lu more suppressed)", c->cc_reload != 0 ?
			    "the reload it asked for did not settle" :
			    c->cc_out == NULL ? "no request" :
			    "did not take its answer", c->cc_reload != 0 ?
			    CONTROL_RELOAD_DEADLINE : CONTROL_DEADLINE, held);
		control_drop(c);
	}
}

/* A one-line answer to a client that gets no place: the socket is new,
 * its buffer empty, so the line goes at once or the client is gone. */
static void
control_refuse(int fd, const char *line)
{
	if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) == -1)
		log_debug("send(control client): %s", strerror(errno));
	if (close(fd) == -1)
		log_warn("close(control client)");
}

/* Root and the daemon's own user: 0; anyone else is told so. */
static int
control_check_peer(struct control *ctl, int fd)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	unsigned long	 held;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("getsockopt(SO_PEERCRED)");
		control_refuse(fd, "denied\n");
		return -1;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return 0;
	if (log_limit_allow(&ctl->ctl_denied_log, &held))
		log_notice("control client pid=%ld uid=%lu denied: only root "
		    "and uid %lu may ask (%lu more suppressed)",
		    (long)cred.pid, (unsigned long)cred.uid,
		    (unsigned long)geteuid(), held);
	control_refuse(fd, "denied\n");
	return -1;
}

static struct control_client *
control_free_place(struct control *ctl)
{
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (ctl->ctl_client[i].cc_fd == -1)
			return &ctl->ctl_client[i];
	return NULL;
}

/* accept4() failed: whether to try again now. */
static bool
control_accept_failed(struct control *ctl)
{
	unsigned long	 held;

	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return false;
	if (errno == EINTR || errno == ECONNABORTED)
		return true;
	if (log_limit_allow(&ctl->ctl_error_log, &held))
		log_warn("accept4(control socket) (%lu more suppressed)",
		    held);
	ctl->ctl_paused_until = clock_after(clock_now(), CONTROL_PAUSE);
	return false;
}

static void
control_accept(struct control *ctl)
{
	struct control_client	*c;
	unsigned long		 held;
	int			 fd;

	for (int i = 0; i < CONTROL_ACCEPT_BURST; i++) {
		fd = accept4(ctl->ctl_fd, NULL, NULL,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (control_accept_failed(ctl))
				continue;
			return;
		}
		if (control_check_peer(ctl, fd) == -1)
			continue;
		if ((c = control_free_place(ctl)) == NULL) {
			if (log_limit_allow(&ctl->ctl_full_log, &held))
				log_notice("control client refused: %d are "
				    "being served (%lu more suppressed)",
				    CONTROL_CLIENTS, held);
			control_refuse(fd, "error: busy\n");
			continue;
		}
		c->cc_fd = fd;
		c->cc_deadline = clock_after(clock_now(), CONTROL_DEADLINE);
	}
}

/* Write what the socket takes; the client is done once all of it went. */
static void
control_send(struct control_client *c)
{
	ssize_t	 n;

	while (c->cc_sent < c->cc_outlen) {
		n = send(c->cc_fd, c->cc_out + c->cc_sent,
		    c->cc_outlen - c->cc_sent, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			log_debug("send(control client): %s", strerror(errno));
			break;
		}
		c->cc_sent += (size_t)n;
	}
	control_drop(c);
}

/* The request's length up to its line end, less trailing CR and blanks. */
static size_t
control_line(const struct control_client *c)
{
	const char	*nl = memchr(c->cc_req, '\n', c->cc_reqlen);
	size_t		 n = nl != NULL ? (size_t)(nl - c->cc_req) : c->cc_reqlen;

	while (n > 0 && (c->cc_req[n - 1] == '\r' || c->cc_req[n - 1] == ' ' ||
	    c->cc_req[n - 1] == '\t'))
		n--;
	return n;
}

static bool
control_is(const char *line, size_t len, const char *command)
{
	return len == strlen(command) && memcmp(line, command, len) == 0;
}

/* Keep the answer and start sending it. */
static void
control_keep(struct control_client *c, const char *text, size_t len)
{
	if (len == 0 || (c->cc_out = malloc(len)) == NULL) {
		if (len != 0)
			log_warn("malloc(control answer)");
		control_drop(c);
		return;
	}
	memcpy(c->cc_out, text, len);
	c->cc_outlen = len;
	control_send(c);
}

/* "status" and "metrics": formatted in the scratch buffer, kept whole. */
static void
control_report(struct control *ctl, const struct status_facts *f,
    struct control_client *c,
    size_t (*format)(const struct status_facts *, char *, size_t))
{

	if (ctl->ctl_scratch == NULL &&
	    (ctl->ctl_scratch = malloc(CONTROL_ANSWER_MAX)) == NULL) {
		log_warn("malloc(control answer)");
		control_drop(c);
		return;
	}
	control_keep(c, ctl->ctl_scratch,
	    format(f, ctl->ctl_scratch, CONTROL_ANSWER_MAX));
}

/* Anything else: said back, escaped and short, in an error line. */
static void
control_unknown(struct control_client *c, size_t len)
{
	char	 shown[ESCAPE_MAX(64)], line[ESCAPE_MAX(64) + 64];
	size_t	 used;
	int	 n;

	escape_fit(shown, sizeof(shown), c->cc_req, len < 64 ? len : 64,
	    &used);
	n = snprintf(line, sizeof(line), "error: unknown command \"%s%s\"; "
	    "try help\n", shown, used < len ? "..." : "");
	control_keep(c, line, n > 0 ? (size_t)n : 0);
}

/*
 * "reload": the client waits, up to CONTROL_RELOAD_DEADLINE, for the
 * outcome of the next reload to start (one may be under way: a reload
 * asked for meanwhile follows it, and reads the file as it is now).
 */
static void
control_reload(struct control *ctl, const struct status_facts *f,
    struct control_client *c)
{
	static const char ignored[] = "error: the daemon is stopping\n";

	if (f->sf_stopping || f->sf_draining) {
		control_keep(c, ignored, strlen(ignored));
		return;
	}
	c->cc_reload = f->sf_reload_seq + 1;
	c->cc_deadline = clock_after(clock_now(), CONTROL_RELOAD_DEADLINE);
	ctl->ctl_reload_asked = true;
}

/* "stop", "quit", "upgrade": the signal's own path, to ourselves. */
static void
control_signal(struct control_client *c, int signo, const char *said)
{
	if (kill(getpid(), signo) == -1) {
		log_warn("kill(self, %s)", sigabbrev_np(signo));
		control_keep(c, "error: cannot signal\n", 21);
		return;
	}
	control_keep(c, said, strlen(said));
}

void
control_reload_settled(struct control *ctl, unsigned long seq, bool ok,
    const char *what)
{
	char	 line[2048];
	int	 n;

	n = snprintf(line, sizeof(line), "%s%s\n", ok ? "" :
	    "error: reload failed: ", what);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	for (size_t i = 0; i < CONTROL_CLIENTS; i++) {
		struct control_client *c = &ctl->ctl_client[i];

		if (c->cc_fd == -1 || c->cc_reload == 0 || c->cc_reload > seq)
			continue;
		c->cc_reload = 0;
		c->cc_deadline = clock_after(clock_now(), CONTROL_DEADLINE);
		control_keep(c, line, (size_t)n);
	}
}

static void
control_respond(struct control *ctl, const struct status_facts *f,
    struct control_client *c)
{
	size_t		 len = control_line(c);
	static const char empty[] = "error: empty request\n";

	if (control_is(c->cc_req, len, "reload"))
		control_reload(ctl, f, c);
	else if (control_is(c->cc_req, len, "stop"))
		control_signal(c, SIGTERM, "stopping\n");
	else if (control_is(c->cc_req, len, "quit"))
		control_signal(c, SIGQUIT, "stopping\n");
	else if (control_is(c->cc_req, len, "upgrade"))
		control_signal(c, SIGUSR2, "upgrade requested\n");
	else if (control_is(c->cc_req, len, "status"))
		control_report(ctl, f, c, status_table);
	else if (control_is(c->cc_req, len, "metrics"))
		control_report(ctl, f, c, status_metrics);
	else if (control_is(c->cc_req, len, "help"))
		control_keep(c, control_help, strlen(control_help));
	else if (len == 0)
		control_keep(c, empty, strlen(empty));
	else
		control_unknown(c, len);
}

/* Read what the client sent; answer once a line (or EOF) is in. */
static void
control_read(struct control *ctl, const struct status_facts *f,
    struct control_client *c)
{
	static const char too_long[] = "error: request longer than "
	    CONTROL_STR(CONTROL_REQUEST_MAX) " bytes\n";
	ssize_t		 n;

	n = recv(c->cc_fd, c->cc_req + c->cc_reqlen,
	    CONTROL_REQUEST_MAX - c->cc_reqlen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1 || (n == 0 && c->cc_reqlen == 0)) {
		if (n == -1)
			log_debug("recv(control client): %s",
			    strerror(errno));
		control_drop(c);
		return;
	}
	c->cc_reqlen += (size_t)n;
	if (n == 0 || memchr(c->cc_req, '\n', c->cc_reqlen) != NULL)
		control_respond(ctl, f, c);
	else if (c->cc_reqlen == CONTROL_REQUEST_MAX)
		control_keep(c, too_long, strlen(too_long));
}

static struct control_client *
control_client_of(struct control *ctl, int fd)
{
	for (size_t i = 0; i < CONTROL_CLIENTS; i++)
		if (ctl->ctl_client[i].cc_fd == fd)
			return &ctl->ctl_client[i];
	return NULL;
}

bool
control_handle(struct control *ctl, const struct status_facts *f,
    const struct pollfd *pfd, size_t n)
{
	struct control_client	*c;
	bool			 acceptable = false, asked;

	/* Clients first: a descriptor accepted now may reuse the number of
	 * one dropped in this pass. */
	for (size_t i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (pfd[i].fd == ctl->ctl_fd) {
			acceptable = true;
			continue;
		}
		if ((c = control_client_of(ctl, pfd[i].fd)) == NULL)
			continue;
		if (c->cc_reload != 0) {
			if (pfd[i].revents & (POLLHUP | POLLERR))
				control_drop(c);	/* gone: its place */
			continue;
		}
		if (c->cc_out == NULL)
			control_read(ctl, f, c);
		else
			control_send(c);
	}
	if (acceptable)
		control_accept(ctl);
	asked = ctl->ctl_reload_asked;
	ctl->ctl_reload_asked = false;
	return asked;
}
