/* SPDX-License-Identifier: ISC */
/*
 * confcheck.c - the checker child that reads the configuration for the
 * master (see confcheck.h).
 *
 * The answer is one letter, then either the error line ('E') or ('O')
 * the facts, where each listener, the agent and the metrics endpoint
 * are written (FILE:LINE,
 * for -t's probes: the text alone has lost its includes' lines), each
 * ending in a NUL, the merged text and its NUL, and the TLS material
 * (config.h): the files' bytes the check read.  The master reads it without blocking
 * from its loop, and takes the result only once the child is reaped too:
 * a child that answered and then crashed in a destructor is still a
 * failed check.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "confcheck.h"
#include "config.h"
#include "conffile.h"
#include "conftls.h"
#include "log.h"
#include "procfs.h"
#include "proctitle.h"

/* The merged text is at most CONFFILE_MAX_SIZE, the TLS material three
 * files a listener; the rest is framing. */
#define CONFCHECK_MAX_ANSWER	(CONFFILE_MAX_SIZE + 4096 + \
	CONFIG_MAX_LISTEN * 3 * (CONFTLS_FILE_MAX + 1))
/* Where things are written: each listener's place, the agent's, the
 * metrics endpoint's. */
#define CONFCHECK_PLACES	(CONFIG_MAX_LISTEN + 2)

void
confcheck_init(struct confcheck *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->cc_fd = -1;
}

/* Write all of buf, or give up (the master went away). */
static int
confcheck_write(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The master's signal handlers and mask mean nothing here: a stop of
 * the daemon, or the master's kill, ends the child. */
static void
confcheck_child_signals(void)
{
	sigset_t	 none;

	for (int signo = 1; signo < NSIG; signo++)
		if (signo != SIGKILL && signo != SIGSTOP)
			signal(signo, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The checked configuration, in the child: see confcheck_child()
 * (volatile: written only, and kept for leak checkers to see). */
static struct config	*volatile confcheck_kept;

/*
 * The child holds nothing of the master's (its sockets, the control
 * socket and its clients, the board, the pid file's lock): a hook, or
 * what it leaves running, must not keep a port or a client open.  And it
 * dies with whoever started it, so that a master killed meanwhile leaves
 * no check behind.
 */
static void
confcheck_child_alone(int out, pid_t parent)
{
	int	 keep[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, out,
	    log_descriptor() };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(EX_OSERR);
	if (procfs_close_except(keep, sizeof(keep) / sizeof(keep[0])) == -1)
		_exit(EX_OSERR);
}

static void
confcheck_child(const char *file, int out, pid_t parent)
{
	struct config_facts	 facts;
	struct config		*c;
	const char		*where;
	uint32_t		 nwhere = CONFCHECK_PLACES;
	char			 err[2048], *material = NULL;
	size_t			 mlen = 0;
	int			 rc;

	setpgid(0, 0);
	confcheck_child_signals();
	proctitle_set("config check %s", file);
	log_after_fork();
	confcheck_child_alone(out, parent);
	if ((c = config_load(file, err, sizeof(err))) != NULL &&
	    config_get_material(c, &material, &mlen) == -1) {
		snprintf(err, sizeof(err), "%s: out of memory", file);
		config_free(c);
		c = NULL;
	}
	if (c == NULL)
		rc = confcheck_write(out, "E", 1) |
		    confcheck_write(out, err, strlen(err));
	else {
		config_get_facts(c, &facts);
		rc = confcheck_write(out, "O", 1) |
		    confcheck_write(out, &facts, sizeof(facts)) |
		    confcheck_write(out, &nwhere, sizeof(nwhere));
		for (size_t i = 0; i < CONFIG_MAX_LISTEN; i++) {
			where = i < c->c_nlisten ? c->c_listen_where[i] : "";
			rc |= confcheck_write(out, where, strlen(where) + 1);
		}
		where = c->c_agent_where != NULL ? c->c_agent_where : "";
		rc |= confcheck_write(out, where, strlen(where) + 1);
		where = c->c_metrics_where != NULL ? c->c_metrics_where : "";
		rc |= confcheck_write(out, where, strlen(where) + 1) |
		    confcheck_write(out, c->c_text, strlen(c->c_text) + 1) |
		    (mlen > 0 ? confcheck_write(out, material, mlen) : 0);
	}
	/* No destructor, no atexit handler, no ps_unconfigure of a
	 * module's: it said its word in ps_configure.  The configuration
	 * stays where it is (reachable, for leak checkers) until _exit(). */
	confcheck_kept = c;
	_exit(rc == 0 ? 0 : 1);
}

int
confcheck_start(struct confcheck *cc, const char *file)
{
	pid_t	 parent = getpid(), pid;
	int	 p[2];

	confcheck_init(cc);
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe2(check)");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork(check)");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		confcheck_child(file, p[1], parent);
	}
	close(p[1]);
	/* Non-blocking on our end only: the child may block on its own. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		log_warn("fcntl(check, O_NONBLOCK)");
	setpgid(pid, pid);	/* the child does it too: whichever is first */
	cc->cc_pid = pid;
	cc->cc_fd = p[0];
	cc->cc_deadline = clock_after(clock_now(), CONFCHECK_SECONDS);
	return 0;
}

bool
confcheck_running(const struct confcheck *cc)
{
	return cc->cc_pid != 0;
}

size_t
confcheck_pollfds(const struct confcheck *cc, struct pollfd *pfd)
{
	if (cc->cc_fd == -1)
		return 0;
	pfd->fd = cc->cc_fd;
	pfd->events = POLLIN;
	pfd->revents = 0;
	return 1;
}

/* The answer's buffer, which holds the TLS keys, zeroed and freed. */
static void
confcheck_forget(struct confcheck *cc)
{
	if (cc->cc_buf != NULL)
		explicit_bzero(cc->cc_buf, cc->cc_cap + 1);
	free(cc->cc_buf);
	cc->cc_buf = NULL;
}

/* The next size of the answer's buffer: doubled, within the bound. */
static size_t
confcheck_grown(const struct confcheck *cc)
{
	size_t	 n = cc->cc_cap ? cc->cc_cap * 2 : 4096;

	return n < CONFCHECK_MAX_ANSWER ? n : CONFCHECK_MAX_ANSWER;
}

static void
confcheck_close(struct confcheck *cc)
{
	if (cc->cc_fd != -1 && close(cc->cc_fd) == -1)
		log_warn("close(check)");
	cc->cc_fd = -1;
	cc->cc_eof = true;
}

/* Read what is there now; EOF or too much ends the reading. */
static void
confcheck_read(struct confcheck *cc)
{
	char	*n;
	ssize_t	 got;

	for (;;) {
		if (cc->cc_len == cc->cc_cap) {
			if (cc->cc_cap >= CONFCHECK_MAX_ANSWER) {
				confcheck_close(cc);
				return;
			}
			/* Grown by hand, not realloc(): the old copy, which
			 * may hold a key, is zeroed before it is freed. */
			if ((n = malloc(confcheck_grown(cc) + 1)) == NULL) {
				log_warn("malloc(check)");
				confcheck_close(cc);
				return;
			}
			if (cc->cc_len > 0)
				memcpy(n, cc->cc_buf, cc->cc_len);
			confcheck_forget(cc);
			cc->cc_buf = n;
			cc->cc_cap = confcheck_grown(cc);
		}
		got = read(cc->cc_fd, cc->cc_buf + cc->cc_len,
		    cc->cc_cap - cc->cc_len);
		if (got > 0) {
			cc->cc_len += (size_t)got;
			continue;
		}
		if (got == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (got == -1)
			log_warn("read(check)");
		confcheck_close(cc);
		return;
	}
}

void
confcheck_handle(struct confcheck *cc, const struct pollfd *pfd, size_t n)
{
	if (n == 0 || cc->cc_fd == -1 || pfd->fd != cc->cc_fd ||
	    pfd->revents == 0)
		return;
	confcheck_read(cc);
}

bool
confcheck_reaped(struct confcheck *cc, pid_t pid, int status)
{
	if (cc->cc_pid == 0 || pid != cc->cc_pid || cc->cc_reaped)
		return false;
	cc->cc_reaped = true;
	cc->cc_status = status;
	/* Whatever it wrote is in the pipe now (it could not exit before
	 * its last write went in): take it, and stop there.  Something it
	 * left running may hold the write end for ever. */
	if (cc->cc_fd != -1) {
		confcheck_read(cc);
		confcheck_close(cc);
	}
	return true;
}

bool
confcheck_next_deadline(const struct confcheck *cc, struct timespec *when)
{
	if (cc->cc_pid == 0 || cc->cc_overdue)
		return false;
	*when = cc->cc_deadline;
	return true;
}

/* Its whole process group: what a hook started goes with it. */
static void
confcheck_kill(struct confcheck *cc)
{
	if (!cc->cc_reaped && kill(-cc->cc_pid, SIGKILL) == -1 &&
	    errno != ESRCH)
		log_warn("kill(-%ld, SIGKILL)", (long)cc->cc_pid);
}

/* Past the deadline and not done, reaped or not: a child that exited
 * while something it started holds the pipe open is as overdue as one
 * that hangs. */
void
confcheck_expire(struct confcheck *cc, struct timespec now)
{
	if (cc->cc_pid == 0 || cc->cc_overdue || confcheck_done(cc) ||
	    clock_diff(now, cc->cc_deadline) > 0)
		return;
	cc->cc_overdue = true;
	confcheck_kill(cc);
	confcheck_close(cc);
}

bool
confcheck_done(const struct confcheck *cc)
{
	return cc->cc_pid != 0 && (cc->cc_overdue ||
	    (cc->cc_reaped && cc->cc_eof));
}

/* Why a check that gave no configuration failed, when it did not say. */
static void
confcheck_cause(const struct confcheck *cc, char *err, size_t errsize)
{
	int	 st = cc->cc_status;

	if (cc->cc_overdue)
		snprintf(err, errsize, "the configuration check gave no "
		    "answer in %.0fs (a module's hook that does not return, "
		    "a lookup or a file that hangs?); it was killed",
		    CONFCHECK_SECONDS);
	else if (WIFSIGNALED(st))
		snprintf(err, errsize, "the configuration check was killed "
		    "by signal %d (%s)%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
		    WCOREDUMP(st) ? ", core dumped" : "");
	else if (WIFEXITED(st) && cc->cc_len == 0)
		snprintf(err, errsize, "the configuration check exited with "
		    "status %d before it answered (a module's hook that calls "
		    "exit()?)", WEXITSTATUS(st));
	else
		snprintf(err, errsize, "the configuration check ended with "
		    "status %d and an answer that cannot be read",
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* The next NUL-terminated string of the answer, or NULL. */
static const char *
confcheck_string(const struct confcheck *cc, size_t *off)
{
	const char	*s = cc->cc_buf + *off, *nul;

	if (*off >= cc->cc_len ||
	    (nul = memchr(s, '\0', cc->cc_len - *off)) == NULL)
		return NULL;
	*off += (size_t)(nul - s) + 1;
	return s;
}

/* Where the child said each listener, the agent and the metrics are
 * written: a place for each of CONFIG_MAX_LISTEN listeners, then the
 * agent's, then the metrics endpoint's. */
static int
confcheck_where(struct config *c, const struct confcheck *cc, size_t *off)
{
	const char	*w;
	char		**to;

	for (size_t i = 0; i < CONFCHECK_PLACES; i++) {
		if ((w = confcheck_string(cc, off)) == NULL)
			return -1;
		to = i < CONFIG_MAX_LISTEN ? &c->c_listen_where[i] :
		    i == CONFIG_MAX_LISTEN ? &c->c_agent_where :
		    &c->c_metrics_where;
		if (w[0] == '\0' || (i < CONFIG_MAX_LISTEN &&
		    i >= c->c_nlisten) || (i >= CONFIG_MAX_LISTEN &&
		    *to == NULL))
			continue;
		free(*to);
		if ((*to = strdup(w)) == NULL)
			return -1;
	}
	return 0;
}

/* The answer of a check that exited 0: the facts, the number of
 * places, the places, the text. */
static struct config *
confcheck_parse(struct confcheck *cc, const char *file, char *err,
    size_t errsize)
{
	struct config_facts	 facts;
	struct config_material	 cm;
	struct config		*c;
	const char		*text;
	uint32_t		 nwhere;
	size_t			 off = 1 + sizeof(facts) + sizeof(nwhere);
	char			 why[1024];

	cc->cc_buf[cc->cc_len] = '\0';
	if (cc->cc_buf[0] == 'E' && strlen(cc->cc_buf) == cc->cc_len) {
		snprintf(err, errsize, "%s", cc->cc_buf + 1);
		return NULL;
	}
	if (cc->cc_buf[0] != 'O' || cc->cc_len < off)
		goto unreadable;
	memcpy(&facts, cc->cc_buf + 1, sizeof(facts));
	memcpy(&nwhere, cc->cc_buf + 1 + sizeof(facts), sizeof(nwhere));
	if (nwhere != CONFCHECK_PLACES)
		goto unreadable;
	for (uint32_t i = 0; i < nwhere; i++)
		if (confcheck_string(cc, &off) == NULL)
			goto unreadable;
	if ((text = confcheck_string(cc, &off)) == NULL)
		goto unreadable;
	cm = (struct config_material){ cc->cc_buf + off, cc->cc_len - off };
	c = config_load_text(file, text, CONFIG_NO_MODULES | CONFIG_NO_NSS |
	    CONFIG_NO_FILES, &facts, &cm, why, sizeof(why));
	if (c == NULL) {
		snprintf(err, errsize, "the checked configuration does not "
		    "parse again: %s", why);
		return NULL;
	}
	off = 1 + sizeof(facts) + sizeof(nwhere);
	if (confcheck_where(c, cc, &off) == -1) {
		config_free(c);
		goto unreadable;
	}
	return c;
unreadable:
	confcheck_cause(cc, err, errsize);
	return NULL;
}

static void
confcheck_clear(struct confcheck *cc)
{
	if (cc->cc_fd != -1)
		close(cc->cc_fd);
	confcheck_forget(cc);
	confcheck_init(cc);
}

struct config *
confcheck_result(struct confcheck *cc, const char *file, char *err,
    size_t errsize)
{
	struct config	*c = NULL;

	if (!cc->cc_overdue && WIFEXITED(cc->cc_status) &&
	    WEXITSTATUS(cc->cc_status) == 0 && cc->cc_len > 0)
		c = confcheck_parse(cc, file, err, errsize);
	else
		confcheck_cause(cc, err, errsize);
	/* An overdue child is reaped later: its pid is nobody's then. */
	confcheck_clear(cc);
	return c;
}

void
confcheck_abort(struct confcheck *cc)
{
	if (cc->cc_pid == 0)
		return;
	confcheck_kill(cc);
	confcheck_clear(cc);
}

/* Whether pid exited; if so, what it started is killed with it, while
 * the group's id is still its own (it is not reaped yet). */
static bool
confcheck_exited(pid_t pid)
{
	siginfo_t	 si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
	    si.si_pid != pid)
		return false;
	(void)kill(-pid, SIGKILL);
	return true;
}

/* Wait for the child, its answer and its exit, within the deadline. */
static void
confcheck_wait(struct confcheck *cc)
{
	struct pollfd	 pfd;
	pid_t		 pid;
	int		 status, ms;

	while (!confcheck_done(cc)) {
		if (!cc->cc_reaped && confcheck_exited(cc->cc_pid) &&
		    (pid = waitpid(cc->cc_pid, &status, 0)) == cc->cc_pid)
			confcheck_reaped(cc, pid, status);
		if (confcheck_done(cc))
			break;
		confcheck_expire(cc, clock_now());
		if (cc->cc_overdue)
			break;
		ms = cc->cc_fd != -1 ? clock_ms_until(cc->cc_deadline) : 10;
		if (ms > 10 && cc->cc_eof)
			ms = 10;
		if (confcheck_pollfds(cc, &pfd) == 1) {
			if (poll(&pfd, 1, ms > 0 ? ms : 0) > 0)
				confcheck_read(cc);
		} else
			poll(NULL, 0, ms > 0 ? ms : 0);
	}
	if (cc->cc_overdue)
		while (waitpid(cc->cc_pid, &status, 0) == -1 && errno == EINTR)
			continue;
}

struct config *
confcheck_run(const char *file, char *err, size_t errsize)
{
	struct confcheck	 cc;

	if (confcheck_start(&cc, file) == -1) {
		snprintf(err, errsize, "cannot start the configuration check: "
		    "%s", strerror(errno));
		return NULL;
	}
	confcheck_wait(&cc);
	return confcheck_result(&cc, file, err, errsize);
}
