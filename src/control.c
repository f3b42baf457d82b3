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
 * The clients are a side door's (sidedoor.c): what is here is what the
 * commands answer.  The answer is formatted whole once the request is in,
 * so a slow reader costs its buffer, nothing more.
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
#include "listener.h"
#include "log.h"
#include "status.h"

/* Connections taken from the backlog per wake-up: the rest wait for the
 * next turn of the loop. */
#define CONTROL_ACCEPT_BURST	16

_Static_assert(CONFIG_MAX_CONTROL_PATH <= SIDEDOOR_NAME_MAX,
    "a control socket's path fits a side door's name");

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

static int	control_admit(void *, struct sidedoor *, int,
		    const struct addr *);
static void	control_busy(struct sidedoor *, int);
static void	control_request(void *, struct sidedoor *,
		    struct sidedoor_client *, bool);
static void	control_expired(struct sidedoor *, struct sidedoor_client *);

static const struct sidedoor_ops control_door = {
	.so_what = "control",
	.so_deadline = CONTROL_DEADLINE,
	.so_request_max = CONTROL_REQUEST_MAX,
	.so_burst = CONTROL_ACCEPT_BURST,
	.so_admit = control_admit,
	.so_busy = control_busy,
	.so_request = control_request,
	.so_expired = control_expired,
};

void
control_init(struct control *ctl)
{
	memset(ctl, 0, sizeof(*ctl));
	sidedoor_init(&ctl->ctl_door, &control_door);
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
	log_notice("control socket %s: removed a stale socket nobody answered "
	    "on", path);
	return 0;
}

/* Which file we made, to remove only that one later: 0, or -1 when it is
 * not what bind() should have made (logged). */
static int
control_note_file(const char *path, struct stat *st)
{
	if (lstat(path, st) == -1) {
		log_warn("lstat(%s)", path);
		return -1;
	}
	if (!S_ISSOCK(st->st_mode) || (st->st_mode & 0177) != 0) {
		log_warnx("control socket %s: mode %04o after bind; refusing "
		    "it", path, (unsigned)(st->st_mode & 07777));
		return -1;
	}
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

/*
 * A listening socket at path, made free for it: 0 with *fd and the file
 * made in *st, or an exit status.  (If listen() fails, the file bind()
 * made stays: a socket nobody answers on, which the next start removes.)
 */
static int
control_listen(const char *path, int *fd, struct stat *st)
{
	struct sockaddr_un	 sun;
	char			 name[CONFIG_MAX_CONTROL_PATH + 32];
	int			 status;

	if ((status = control_clear(path)) != 0)
		return status;
	if (control_sockaddr(path, &sun) == -1) {
		log_warn("control socket %s", path);
		return EX_CANTCREAT;
	}
	snprintf(name, sizeof(name), "control socket %s", path);
	if ((status = listener_unix(&sun, CONTROL_CLIENTS, name, fd)) != 0)
		return status;
	if (control_note_file(path, st) == -1) {
		/* Not known to be ours: the file stays. */
		if (close(*fd) == -1)
			log_warn("close(%s)", name);
		return EX_CANTCREAT;
	}
	return 0;
}

/* Serve the socket at path, whose file is ours. */
static void
control_take(struct control *ctl, int fd, const char *path, dev_t dev,
    ino_t ino)
{
	sidedoor_adopt(&ctl->ctl_door, fd, NULL, path);
	snprintf(ctl->ctl_path, sizeof(ctl->ctl_path), "%s", path);
	ctl->ctl_dev = dev;
	ctl->ctl_ino = ino;
}

int
control_open(struct control *ctl, const char *path)
{
	struct stat	 st;
	int		 status, fd;

	if (path == NULL)
		return 0;
	if ((status = control_listen(path, &fd, &st)) != 0) {
		log_warnx("cannot serve the control socket %s", path);
		return status;
	}
	control_take(ctl, fd, path, st.st_dev, st.st_ino);
	log_notice("control socket %s", path);
	return 0;
}

/* Stop listening and remove the file; clients may finish. */
static void
control_unlisten(struct control *ctl)
{
	if (ctl->ctl_door.sd_sock.sk_fd == -1)
		return;
	sidedoor_unlisten(&ctl->ctl_door);
	control_unlink(ctl);
	ctl->ctl_path[0] = '\0';
}

void
control_reconfigure(struct control *ctl, const char *path)
{
	const char	*old = ctl->ctl_door.sd_sock.sk_fd != -1 ?
	    ctl->ctl_path : NULL;
	struct stat	 st;
	int		 fd;

	if ((path == NULL && old == NULL) ||
	    (path != NULL && old != NULL && strcmp(path, old) == 0))
		return;
	if (path == NULL) {
		log_notice("control socket %s closed: no longer configured",
		    old);
		control_unlisten(ctl);
		return;
	}
	if (control_listen(path, &fd, &st) != 0) {
		log_warnx("control socket %s cannot be opened; %s%s", path,
		    old != NULL ? "keeping " : "no control socket",
		    old != NULL ? old : "");
		return;
	}
	control_unlisten(ctl);
	control_take(ctl, fd, path, st.st_dev, st.st_ino);
	log_notice("control socket %s", path);
}

void
control_close(struct control *ctl)
{
	control_unlisten(ctl);
	sidedoor_close(&ctl->ctl_door);
	free(ctl->ctl_scratch);
	ctl->ctl_scratch = NULL;
}


/* What a pass over the clients works with: the door, the facts its
 * answers read (status.h), and the master's side of a reload. */
struct control_call {
	struct control			*cl_ctl;
	const struct status_facts	*cl_facts;
	const struct control_owner	*cl_owner;
};
/* ---- an in-place upgrade ------------------------------------------------ */

bool
control_hold(struct control *ctl)
{
	return sidedoor_hold(&ctl->ctl_door);
}

void
control_release(struct control *ctl)
{
	sidedoor_release(&ctl->ctl_door);
}

void
control_adopt(struct control *ctl, int fd, const char *path, dev_t dev,
    ino_t ino)
{
	control_take(ctl, fd, path, dev, ino);
	log_notice("control socket kept across the upgrade %s", path);
}


/* ---- the master's loop ------------------------------------------------- */

size_t
control_pollfds(const struct control *ctl, struct pollfd *pfd)
{
	return sidedoor_pollfds(&ctl->ctl_door, pfd);
}

void
control_handle(struct control *ctl, const struct status_facts *f,
    const struct control_owner *owner, const struct pollfd *pfd, size_t n)
{
	struct control_call	 cl = { ctl, f, owner };

	sidedoor_handle(&ctl->ctl_door, &cl, pfd, n);
}

void
control_expire(struct control *ctl, struct timespec now)
{
	sidedoor_expire(&ctl->ctl_door, now);
}

static void
control_expired(struct sidedoor *sd, struct sidedoor_client *c)
{
	unsigned long	 held;

	if (log_limit_allow(&sd->sd_late_log, &held))
		log_notice("control client dropped: %s within %.0fs "
		    "(%lu more suppressed)", c->sc_state == SIDEDOOR_WAITING ?
		    "the reload it asked for did not settle" :
		    c->sc_state == SIDEDOOR_READING ? "no request" :
		    "did not take its answer", c->sc_state == SIDEDOOR_WAITING ?
		    CONTROL_RELOAD_DEADLINE : CONTROL_DEADLINE, held);
}

/* ---- who may ask ------------------------------------------------------- */

/* Root and the daemon's own user: 0; anyone else is told so. */
static int
control_admit(void *arg, struct sidedoor *sd, int fd,
    const struct addr *peer)
{
	struct control	*ctl = ((struct control_call *)arg)->cl_ctl;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);
	unsigned long	 held;

	(void)peer;	/* a unix socket's: none */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("getsockopt(SO_PEERCRED)");
		sidedoor_refuse(sd, fd, "denied\n", 7);
		return -1;
	}
	if (cred.uid == 0 || cred.uid == geteuid())
		return 0;
	if (log_limit_allow(&ctl->ctl_denied_log, &held))
		log_notice("control client pid=%ld uid=%lu denied: only root "
		    "and uid %lu may ask (%lu more suppressed)",
		    (long)cred.pid, (unsigned long)cred.uid,
		    (unsigned long)geteuid(), held);
	sidedoor_refuse(sd, fd, "denied\n", 7);
	return -1;
}

static void
control_busy(struct sidedoor *sd, int fd)
{
	static const char busy[] = "error: busy\n";

	sidedoor_refuse(sd, fd, busy, sizeof(busy) - 1);
}

/* ---- the commands ------------------------------------------------------ */

/* The request's length up to its line end, less trailing CR and blanks. */
static size_t
control_line(const struct sidedoor_client *c)
{
	const char	*nl = memchr(c->sc_in, '\n', c->sc_inlen);
	size_t		 n = nl != NULL ? (size_t)(nl - c->sc_in) : c->sc_inlen;

	while (n > 0 && (c->sc_in[n - 1] == '\r' || c->sc_in[n - 1] == ' ' ||
	    c->sc_in[n - 1] == '\t'))
		n--;
	return n;
}

static bool
control_is(const char *line, size_t len, const char *command)
{
	return len == strlen(command) && memcmp(line, command, len) == 0;
}

static void
control_say(struct control_call *cl, struct sidedoor_client *c,
    const char *text)
{
	sidedoor_answer(&cl->cl_ctl->ctl_door, c, text, strlen(text));
}

/* "status" and "metrics": formatted in the scratch buffer, kept whole. */
static void
control_report(struct control_call *cl, struct sidedoor_client *c,
    size_t (*format)(const struct status_facts *, char *, size_t))
{
	struct control	*ctl = cl->cl_ctl;

	if (ctl->ctl_scratch == NULL &&
	    (ctl->ctl_scratch = malloc(CONTROL_ANSWER_MAX)) == NULL) {
		log_warn("malloc(control answer)");
		sidedoor_drop(&ctl->ctl_door, c);
		return;
	}
	sidedoor_answer(&ctl->ctl_door, c, ctl->ctl_scratch,
	    format(cl->cl_facts, ctl->ctl_scratch, CONTROL_ANSWER_MAX));
}

/* Anything else: said back, escaped and short, in an error line. */
static void
control_unknown(struct control_call *cl, struct sidedoor_client *c, size_t len)
{
	char	 shown[ESCAPE_MAX(64)], line[ESCAPE_MAX(64) + 64];
	size_t	 used;
	int	 n;

	escape_fit(shown, sizeof(shown), c->sc_in, len < 64 ? len : 64,
	    &used);
	n = snprintf(line, sizeof(line), "error: unknown command \"%s%s\"; "
	    "try help\n", shown, used < len ? "..." : "");
	sidedoor_answer(&cl->cl_ctl->ctl_door, c, line, n > 0 ? (size_t)n :
	    0);
}

/*
 * "reload": the client waits, up to CONTROL_RELOAD_DEADLINE, for the
 * outcome of the next reload to start (one may be under way: a reload
 * asked for meanwhile follows it, and reads the file as it is now).
 */
static void
control_reload(struct control_call *cl, struct sidedoor_client *c)
{
	if (cl->cl_facts->sf_stopping || cl->cl_facts->sf_draining) {
		control_say(cl, c, "error: the daemon is stopping\n");
		return;
	}
	/* Its number first: a reload that fails at once answers it. */
	c->sc_token = *cl->cl_owner->co_seq + 1;
	sidedoor_wait(c, CONTROL_RELOAD_DEADLINE);
	cl->cl_owner->co_reload(cl->cl_owner->co_arg);
}

/* "stop", "quit", "upgrade": the signal's own path, to ourselves. */
static void
control_signal(struct control_call *cl, struct sidedoor_client *c, int signo,
    const char *said)
{
	if (kill(getpid(), signo) == -1) {
		log_warn("kill(self, %s)", sigabbrev_np(signo));
		control_say(cl, c, "error: cannot signal\n");
		return;
	}
	control_say(cl, c, said);
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
		struct sidedoor_client *c = &ctl->ctl_door.sd_client[i];

		if (c->sc_fd == -1 || c->sc_token == 0 || c->sc_token > seq)
			continue;
		c->sc_token = 0;
		c->sc_deadline = clock_after(clock_now(), CONTROL_DEADLINE);
		sidedoor_answer(&ctl->ctl_door, c, line, (size_t)n);
	}
}

static void
control_respond(struct control_call *cl, struct sidedoor_client *c)
{
	size_t	 len = control_line(c);

	if (control_is(c->sc_in, len, "reload"))
		control_reload(cl, c);
	else if (control_is(c->sc_in, len, "stop"))
		control_signal(cl, c, SIGTERM, "stopping\n");
	else if (control_is(c->sc_in, len, "quit"))
		control_signal(cl, c, SIGQUIT, "stopping\n");
	else if (control_is(c->sc_in, len, "upgrade"))
		control_signal(cl, c, SIGUSR2, "upgrade requested\n");
	else if (control_is(c->sc_in, len, "status"))
		control_report(cl, c, status_table);
	else if (control_is(c->sc_in, len, "metrics"))
		control_report(cl, c, status_metrics);
	else if (control_is(c->sc_in, len, "help"))
		control_say(cl, c, control_help);
	else if (len == 0)
		control_say(cl, c, "error: empty request\n");
	else
		control_unknown(cl, c, len);
}

/* Answered once a line (or EOF) is in. */
static void
control_request(void *arg, struct sidedoor *sd, struct sidedoor_client *c,
    bool eof)
{
	static const char too_long[] = "error: request longer than "
	    CONTROL_STR(CONTROL_REQUEST_MAX) " bytes\n";

	if (eof || memchr(c->sc_in, '\n', c->sc_inlen) != NULL)
		control_respond(arg, c);
	else if (c->sc_inlen == CONTROL_REQUEST_MAX)
		sidedoor_answer(sd, c, too_long, sizeof(too_long) - 1);
}
