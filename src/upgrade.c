/* SPDX-License-Identifier: ISC */
/*
 * upgrade.c - the in-place binary upgrade, the old image's side (see
 * upgrade.h): wait for a quiet pool, check the new binary in the
 * background, hand everything over (handover.c) and execve().
 *
 * The check is a child whose output the master's ppoll() reads and whose
 * exit its SIGCHLD reaps, so the master keeps serving its loop (signals,
 * respawns, the control socket, the agent, the metrics) while it runs; it
 * has its own process group, which is killed whole when it overruns or
 * ends.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "agent.h"
#include "control.h"
#include "generation.h"
#include "handover.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "scoreboard.h"
#include "status.h"
#include "upgrade.h"

extern char	**environ;

#define UPGRADE_CHECK_ENV	"PREFORKD_UPGRADE_FORMAT"
#define UPGRADE_CHECK_ACK	"preforkd: can take over from"
#define UPGRADE_ARGS_MAX	64

/* What the old image needs to exec itself again. */
static char	*upgrade_argv[UPGRADE_ARGS_MAX + 1];
static char	 upgrade_exe[PATH_MAX];

/*
 * The path it was started from, as given to execve() (AT_EXECFN), made
 * absolute: not /proc/self/exe, which resolves symlinks, so that moving a
 * symlink to a new build and asking for an upgrade runs that build.
 */
static void
upgrade_find_exe(void)
{
	const char	*fn = (const char *)getauxval(AT_EXECFN);
	char		 cwd[PATH_MAX];
	ssize_t		 n;
	int		 len = -1;

	if (fn != NULL && fn[0] == '/')
		len = snprintf(upgrade_exe, sizeof(upgrade_exe), "%s", fn);
	else if (fn != NULL && getcwd(cwd, sizeof(cwd)) != NULL)
		len = snprintf(upgrade_exe, sizeof(upgrade_exe), "%s/%s", cwd,
		    fn);
	if (len > 0 && (size_t)len < sizeof(upgrade_exe))
		return;
	n = readlink("/proc/self/exe", upgrade_exe, sizeof(upgrade_exe) - 1);
	upgrade_exe[n > 0 ? n : 0] = '\0';
}

int
upgrade_init(int argc, char *const argv[])
{
	if (argc > UPGRADE_ARGS_MAX)
		argc = 0;	/* no upgrade for such a command line */
	for (int i = 0; i < argc; i++)
		if ((upgrade_argv[i] = strdup(argv[i])) == NULL) {
			log_warn("strdup");
			return -1;
		}
	upgrade_find_exe();
	return 0;
}

void
upgrade_reset(struct upgrade *up)
{
	memset(up, 0, sizeof(*up));
	up->up_fd = -1;
}

int
upgrade_check_format(char *err, size_t size)
{
	const char	*want = getenv(UPGRADE_CHECK_ENV);

	if (want == NULL)
		return 0;
	if (strcmp(want, handover_format()) == 0) {
		/* What the running daemon looks for: a binary that exits 0
		 * without saying it can take over is not one to exec. */
		printf("%s %s\n", UPGRADE_CHECK_ACK, want);
		return 0;
	}
	snprintf(err, size, "cannot take over from the running daemon: its "
	    "state is \"%s\", this binary reads \"%s\"", want,
	    handover_format());
	return -1;
}

/* ---- the check ---------------------------------------------------------- */

/* The child: the new binary's -t on our file, its output to out. */
static void
upgrade_check_child(const char *file, int out)
{
	sigset_t	 none;
	char		*argv[] = { (char *)"preforkd", (char *)"-t",
	    (char *)"-c", (char *)file, NULL };

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(out, STDOUT_FILENO) == -1 || dup2(out, STDERR_FILENO) == -1)
		_exit(EX_OSERR);
	setenv(UPGRADE_CHECK_ENV, handover_format(), 1);
	execv(upgrade_exe, argv);
	fprintf(stderr, "execv(%s): %s\n", upgrade_exe, strerror(errno));
	_exit(EX_UNAVAILABLE);
}

static void
upgrade_check_start(struct upgrade *up, const char *file)
{
	int		 p[2];
	pid_t		 pid;

	/* Non-blocking on our end only: the check writes as it likes. */
	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("upgrade: pipe2");
		upgrade_reset(up);
		return;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1) {
		log_warn("upgrade: fcntl(O_NONBLOCK)");
		close(p[0]);
		close(p[1]);
		upgrade_reset(up);
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("upgrade: fork");
		close(p[0]);
		close(p[1]);
		upgrade_reset(up);
		return;
	}
	if (pid == 0)
		upgrade_check_child(file, p[1]);
	close(p[1]);
	setpgid(pid, pid);	/* the child does it too: whichever is first */
	log_notice("upgrade: checking %s -t -c %s", upgrade_exe, file);
	up->up_step = UPGRADE_CHECKING;
	up->up_pid = pid;
	up->up_fd = p[0];
	up->up_len = 0;
	up->up_out[0] = '\0';
	up->up_timed_out = false;
	up->up_until = clock_after(clock_now(), UPGRADE_CHECK_SECONDS);
}

static void
upgrade_check_close(struct upgrade *up)
{
	if (up->up_fd != -1)
		close(up->up_fd);
	up->up_fd = -1;
}

/* Take what the check wrote; the rest of a long output is dropped. */
static void
upgrade_check_read(struct upgrade *up)
{
	char	 scratch[512];
	ssize_t	 n;

	for (;;) {
		if (up->up_len < sizeof(up->up_out) - 1)
			n = read(up->up_fd, up->up_out + up->up_len,
			    sizeof(up->up_out) - 1 - up->up_len);
		else
			n = read(up->up_fd, scratch, sizeof(scratch));
		if (n > 0) {
			if (up->up_len < sizeof(up->up_out) - 1)
				up->up_len += (size_t)n;
			up->up_out[up->up_len] = '\0';
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			upgrade_check_close(up);
		return;
	}
}

/* Whether the output has the acknowledgement, for our format, as a line. */
static bool
upgrade_check_acked(const struct upgrade *up)
{
	char		 want[160];
	const char	*p = up->up_out;
	size_t		 len;

	len = (size_t)snprintf(want, sizeof(want), "%s %s\n",
	    UPGRADE_CHECK_ACK, handover_format());
	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p += p != NULL)
		if (strncmp(p, want, len) == 0)
			return true;
	return false;
}

/* The check is over: go on to the exec, or say why not. */
static void
upgrade_check_done(struct upgrade *up)
{
	char		 how[96], said[256];
	int		 st = up->up_status;

	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && upgrade_check_acked(up)) {
		up->up_step = UPGRADE_WAIT_EXEC;
		up->up_until = clock_after(clock_now(), UPGRADE_WAIT_SECONDS);
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		snprintf(how, sizeof(how), "exit 0 without \"%s %s\"",
		    UPGRADE_CHECK_ACK, handover_format());
	else if (WIFEXITED(st))
		snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(st));
	else if (up->up_timed_out)
		snprintf(how, sizeof(how), "no answer in %.0fs",
		    UPGRADE_CHECK_SECONDS);
	else
		snprintf(how, sizeof(how), "signal %d", WTERMSIG(st));
	/* One line of what it said: the first. */
	snprintf(said, sizeof(said), "%.*s", (int)strcspn(up->up_out, "\n"),
	    up->up_out);
	log_warnx("upgrade: %s -t failed (%s): %s; version=%s keeps running",
	    upgrade_exe, how, said[0] != '\0' ? said : "(nothing said)",
	    status_version);
	upgrade_reset(up);
}

void
upgrade_reaped(struct upgrade *up, pid_t pid, int status)
{

	if (pid != up->up_pid || up->up_pid == 0)
		return;
	/* Whatever it left behind went with it (master_reap()). */
	up->up_pid = 0;
	up->up_status = status;
	if (up->up_fd != -1)
		upgrade_check_read(up);
	upgrade_check_close(up);
	upgrade_check_done(up);
}

size_t
upgrade_pollfds(const struct upgrade *up, struct pollfd *pfd)
{
	if (up->up_fd == -1)
		return 0;
	pfd[0] = (struct pollfd){ .fd = up->up_fd, .events = POLLIN };
	return 1;
}

void
upgrade_handle(struct upgrade *up, const struct pollfd *pfd, size_t n)
{
	if (n > 0 && pfd[0].revents != 0 && pfd[0].fd == up->up_fd)
		upgrade_check_read(up);
}

bool
upgrade_next_deadline(const struct upgrade *up, struct timespec *t)
{
	if (up->up_step == UPGRADE_IDLE)
		return false;
	if (up->up_step == UPGRADE_CHECKING && up->up_timed_out)
		return false;		/* its reaping comes next */
	/* Waiting for a quiet pool: look again soon. */
	*t = up->up_step == UPGRADE_CHECKING ? up->up_until :
	    clock_after(clock_now(), 0.05);
	return true;
}

/* ---- the exec ----------------------------------------------------------- */

struct upgrade_fds {
	int		 uf_fd[HANDOVER_MAX_FDS];	/* to hand over */
	const char	*uf_name[HANDOVER_MAX_FDS];
	size_t		 uf_n;
	int		 uf_copy[HANDOVER_MAX_FDS];
	int		 uf_saved[HANDOVER_MAX_FDS];	/* what was at 3 + i */
	int		 uf_flags[HANDOVER_MAX_FDS];	/* -1: nothing was */
	size_t		 uf_done;			/* saved so far */
	bool		 uf_placed;			/* at 3 .. 3 + n */
};

/* Copies above the range 3 .. 3 + n, where nothing is moved to. */
static int
upgrade_dup_high(const struct upgrade_fds *uf, int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 3 + (int)uf->uf_n);
}

/* Copy everything out of the way, and what is at 3 + i now. */
static int
upgrade_save(struct upgrade_fds *uf)
{
	for (size_t i = 0; i < uf->uf_n; i++)
		uf->uf_copy[i] = uf->uf_saved[i] = -1;
	for (size_t i = 0; i < uf->uf_n; i++) {
		uf->uf_done = i + 1;
		if ((uf->uf_copy[i] = upgrade_dup_high(uf, uf->uf_fd[i])) == -1)
			return -1;
		uf->uf_flags[i] = fcntl(3 + (int)i, F_GETFD);
		if (uf->uf_flags[i] != -1 && (uf->uf_saved[i] =
		    upgrade_dup_high(uf, 3 + (int)i)) == -1)
			return -1;
	}
	return 0;
}

/* Put the descriptors at 3, 4, ... as LISTEN_FDS wants them. */
static int
upgrade_place(struct upgrade_fds *uf)
{
	uf->uf_placed = true;
	for (size_t i = 0; i < uf->uf_n; i++)
		/* dup2() leaves the new number inheritable. */
		if (dup2(uf->uf_copy[i], 3 + (int)i) == -1)
			return -1;
	return 0;
}

/* The exec failed (or never came): everything back where it was. */
static void
upgrade_restore(struct upgrade_fds *uf)
{
	for (size_t i = 0; i < uf->uf_done; i++) {
		int fd = 3 + (int)i;

		/* Placed: every save had succeeded, so the saved copy is
		 * what was there (or nothing was). */
		if (uf->uf_placed && uf->uf_flags[i] == -1)
			close(fd);
		else if (uf->uf_placed && (dup2(uf->uf_saved[i], fd) == -1 ||
		    fcntl(fd, F_SETFD, uf->uf_flags[i]) == -1))
			log_warn("upgrade: restoring descriptor %d", fd);
		if (uf->uf_saved[i] != -1)
			close(uf->uf_saved[i]);
		if (uf->uf_copy[i] != -1)
			close(uf->uf_copy[i]);
	}
}

static int
upgrade_environment(const struct upgrade_fds *uf)
{
	char	 names[HANDOVER_MAX_FDS * 16] = "", num[32];

	for (size_t i = 0; i < uf->uf_n; i++) {
		if (i > 0)
			strcat(names, ":");
		strcat(names, uf->uf_name[i]);
	}
	snprintf(num, sizeof(num), "%zu", uf->uf_n);
	if (setenv("LISTEN_FDS", num, 1) == -1 ||
	    setenv("LISTEN_FDNAMES", names, 1) == -1 ||
	    setenv("PREFORKD_UPGRADE", "1", 1) == -1)
		return -1;
	snprintf(num, sizeof(num), "%ld", (long)getpid());
	return setenv("LISTEN_PID", num, 1);
}

static void
upgrade_clear_environment(void)
{
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	unsetenv("LISTEN_PID");
	unsetenv("PREFORKD_UPGRADE");
}

/*
 * The control socket, the agent and the metrics cross as the listeners
 * do, held (see upgrade_hold()): a client that comes meanwhile waits in
 * the backlog and is answered by the new image, never refused.
 */
static void
upgrade_exec(const struct handover_parts *hp, int state)
{
	struct upgrade_fds	 uf;
	const char		*what;
	int			 error;

	memset(&uf, 0, sizeof(uf));
	uf.uf_n = handover_fds(hp, state, uf.uf_fd, uf.uf_name);
	log_notice("upgrading in place: executing %s (version=%s now, "
	    "generation=%u, workers=%zu)", upgrade_exe, status_version,
	    hp->hp_cur->g_id, hp->hp_pool->p_n);
	notify_reloading();
	if (upgrade_save(&uf) == -1)
		what = "fcntl(F_DUPFD_CLOEXEC)";
	else if (upgrade_place(&uf) == -1)
		what = "dup2";
	else if (upgrade_environment(&uf) == -1)
		what = "setenv";
	else {
		execve(upgrade_exe, upgrade_argv, environ);
		what = "execve";
	}
	/* The descriptors back before a line is logged: the log's socket
	 * may be among those moved, and a line now would reconnect it. */
	error = errno;
	upgrade_clear_environment();
	upgrade_restore(&uf);
	errno = error;
	log_warn("upgrade: %s (%s)", what, upgrade_exe);
	log_warnx("upgrade: version=%s keeps running", status_version);
	control_release(hp->hp_control);
	agent_release(hp->hp_agent);
	metrics_release(hp->hp_metrics);
	notify_ready("upgrade failed: the new binary could not be executed");
}

/* ---- the steps ------------------------------------------------------------ */

void
upgrade_request(struct upgrade *up, bool stopping)
{
	if (stopping) {
		log_notice("upgrade requested while stopping: ignored");
		return;
	}
	if (upgrade_exe[0] == '\0' || upgrade_argv[0] == NULL) {
		log_warnx("upgrade requested, but the binary's path or "
		    "command line is unknown");
		return;
	}
	if (up->up_step != UPGRADE_IDLE) {
		log_notice("upgrade requested while one is under way");
		return;
	}
	up->up_step = UPGRADE_WAIT_CHECK;
	up->up_until = clock_after(clock_now(), UPGRADE_WAIT_SECONDS);
	log_notice("upgrade requested");
}

/* Workers still starting would be left without their ready pipe, and a
 * reload under way without its gate: wait for them. */
static bool
upgrade_quiet(const struct pool *p, bool reloading)
{
	if (reloading)
		return false;
	for (size_t i = 0; i < p->p_n; i++)
		if (scoreboard_state(p->p_workers[i].pw_slot) ==
		    SLOT_STARTING && !p->p_workers[i].pw_retiring)
			return false;
	return true;
}

/*
 * Just before the exec: the control socket, the agent and the metrics
 * take no new client (those wait in the backlogs, which cross the exec),
 * and those in hand are served to their end here, within their
 * deadlines, so that none is cut off.  Whether none is left; released
 * when the pool is not quiet, so that they do not wait for it.
 */
static bool
upgrade_hold(const struct handover_parts *hp, bool hold)
{
	bool	 control_idle, agent_idle, metrics_idle;

	if (!hold) {
		control_release(hp->hp_control);
		agent_release(hp->hp_agent);
		metrics_release(hp->hp_metrics);
		return false;
	}
	control_idle = control_hold(hp->hp_control);
	agent_idle = agent_hold(hp->hp_agent);
	metrics_idle = metrics_hold(hp->hp_metrics);
	return control_idle && agent_idle && metrics_idle;
}

/* Stop waiting: a stop came, or the pool never settled. */
static void
upgrade_give_up(struct upgrade *up, const struct handover_parts *hp,
    const char *why)
{
	upgrade_hold(hp, false);
	log_warnx("upgrade: %s; not upgrading", why);
	if (up->up_pid != 0)
		kill(-up->up_pid, SIGKILL);	/* reaped as any child */
	upgrade_check_close(up);
	up->up_step = UPGRADE_IDLE;
	up->up_pid = 0;
}

void
upgrade_run(struct upgrade *up, const struct handover_parts *hp,
    bool stopping, bool reloading, struct timespec now)
{
	int	 state;

	if (up->up_step == UPGRADE_IDLE)
		return;
	if (stopping) {
		upgrade_give_up(up, hp, "the daemon is stopping");
		return;
	}
	if (up->up_step == UPGRADE_CHECKING) {
		if (!up->up_timed_out && clock_diff(now, up->up_until) <= 0) {
			kill(-up->up_pid, SIGKILL);	/* reaped, then done */
			up->up_timed_out = true;
		}
		return;
	}
	if (!upgrade_quiet(hp->hp_pool, reloading)) {
		upgrade_hold(hp, false);
		if (clock_diff(now, up->up_until) <= 0)
			upgrade_give_up(up, hp, "the pool did not settle "
			    "(workers starting or a reload under way)");
		return;
	}
	if (up->up_step == UPGRADE_WAIT_CHECK) {
		upgrade_check_start(up, hp->hp_file);
		return;
	}
	if (!upgrade_hold(hp, true)) {
		if (clock_diff(now, up->up_until) <= 0)
			upgrade_give_up(up, hp, "control, agent or metrics "
			    "clients still in hand");
		return;
	}
	upgrade_reset(up);
	if ((state = handover_write(hp)) == -1) {
		upgrade_hold(hp, false);
		return;
	}
	upgrade_exec(hp, state);
	close(state);
}
