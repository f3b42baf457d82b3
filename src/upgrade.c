/*
 * upgrade.c - the in-place binary upgrade (see upgrade.h): the old
 * image's side (check the new binary, write the state, execve) and the
 * new image's (take the descriptors, adopt the workers).
 *
 * The state is a memfd rather than a file: nothing on disk to be left
 * behind, raced or read by someone else.  Its layout is this file's
 * struct upgrade_state; a binary that cannot read the running one's
 * refuses in the -t run that comes first (upgrade_check_format()), so the
 * exec never happens.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "generation.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "scoreboard.h"
#include "status.h"
#include "upgrade.h"

extern char	**environ;

/* The layout of the state, and its name in the environment of -t. */
#define UPGRADE_FORMAT		"preforkd-state-1"
#define UPGRADE_CHECK_ENV	"PREFORKD_UPGRADE_FORMAT"
#define UPGRADE_ENV		"PREFORKD_UPGRADE"
#define UPGRADE_CHECK_ACK	"preforkd: can take over from"
/* Handed over: the listeners, the pid file, the board, the state. */
#define UPGRADE_MAX_FDS		(CONFIG_MAX_LISTEN + 3)
/* Far above anything the master opens: the shuffle's scratch numbers. */
#define UPGRADE_SCRATCH_FD	512
#define UPGRADE_ARGS_MAX	64

struct upgrade_state {
	char			 us_format[32];		/* UPGRADE_FORMAT */
	uint32_t		 us_size;		/* of this header */
	uint32_t		 us_listener_size;
	uint32_t		 us_nlisteners;
	uint32_t		 us_worker_size;
	uint32_t		 us_nworkers;
	uint32_t		 us_generation;		/* serving */
	uint32_t		 us_last_id;
	uint32_t		 us_target;
	struct pool_gone	 us_gone;
	char			 us_version[64];	/* of the old image */
};

/*
 * One listening socket as the configuration said it, in the order of the
 * handed-over descriptors: a reload compares what the file says with
 * this (port 0 stays 0, not the port it got), as it would have before.
 */
struct upgrade_listener {
	char			 ul_address[64];
	int32_t			 ul_backlog;
	uint16_t		 ul_port;
};

/* One worker; CLOCK_MONOTONIC times are the same across the exec. */
struct upgrade_worker {
	int32_t			 uw_pid;
	uint32_t		 uw_generation;
	uint32_t		 uw_slot;
	uint8_t			 uw_retiring;
	uint8_t			 uw_killed;
	uint8_t			 uw_hung;
	struct timespec		 uw_started;
	struct timespec		 uw_kill_at;
};

/* What the old image needs to exec itself again. */
static char	*upgrade_argv[UPGRADE_ARGS_MAX + 1];
static char	 upgrade_exe[PATH_MAX];

/* What the new image was handed. */
static struct {
	bool	 in_active;
	int	 in_nfds;
	int	 in_pidfile, in_board, in_state;
	int	 in_listen[CONFIG_MAX_LISTEN];
	bool	 in_passed[CONFIG_MAX_LISTEN];
	size_t	 in_nlisten;
	char	 in_version[64];
} upgrade_in = { .in_pidfile = -1, .in_board = -1, .in_state = -1 };

int
upgrade_init(int argc, char *const argv[])
{
	ssize_t	 n;

	if (argc > UPGRADE_ARGS_MAX)
		argc = 0;	/* no upgrade for such a command line */
	for (int i = 0; i < argc; i++)
		if ((upgrade_argv[i] = strdup(argv[i])) == NULL) {
			log_warn("strdup");
			return -1;
		}
	/* The path it was started from: the new binary is looked for
	 * there, even once the running one has been replaced. */
	n = readlink("/proc/self/exe", upgrade_exe, sizeof(upgrade_exe) - 1);
	if (n == -1) {
		log_warn("readlink(/proc/self/exe)");
		upgrade_exe[0] = '\0';
	} else
		upgrade_exe[n] = '\0';
	return 0;
}

/* ---- the new image --------------------------------------------------------- */

/* One handed-over descriptor, by its name. */
static int
upgrade_take(int fd, const char *name, size_t len)
{
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("fcntl(%d, FD_CLOEXEC)", fd);
		return -1;
	}
	if ((len == 10 && strncmp(name, "pfd-listen", len) == 0) ||
	    (len == 10 && strncmp(name, "pfd-passed", len) == 0)) {
		if (upgrade_in.in_nlisten == CONFIG_MAX_LISTEN)
			return -1;
		upgrade_in.in_passed[upgrade_in.in_nlisten] = name[4] == 'p';
		upgrade_in.in_listen[upgrade_in.in_nlisten++] = fd;
	} else if (len == 11 && strncmp(name, "pfd-pidfile", len) == 0)
		upgrade_in.in_pidfile = fd;
	else if (len == 9 && strncmp(name, "pfd-board", len) == 0)
		upgrade_in.in_board = fd;
	else if (len == 9 && strncmp(name, "pfd-state", len) == 0)
		upgrade_in.in_state = fd;
	else {
		log_warnx("upgrade: unexpected descriptor %d named %.*s", fd,
		    (int)len, name);
		return -1;
	}
	return 0;
}

int
upgrade_inherit(void)
{
	const char	*names = getenv("LISTEN_FDNAMES"), *p;
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char		*end;
	long		 n;
	size_t		 len;

	if (getenv(UPGRADE_ENV) == NULL)
		return 0;
	unsetenv(UPGRADE_ENV);
	if (pid == NULL || fds == NULL || names == NULL ||
	    strtol(pid, &end, 10) != getpid() || *end != '\0' ||
	    (n = strtol(fds, &end, 10)) < 3 || n > UPGRADE_MAX_FDS ||
	    *end != '\0') {
		log_warnx("upgrade: LISTEN_PID, LISTEN_FDS or LISTEN_FDNAMES "
		    "missing or wrong");
		return -1;
	}
	p = names;
	for (int fd = 3; fd < 3 + n; fd++) {
		len = strcspn(p, ":");
		if (upgrade_take(fd, p, len) == -1)
			return -1;
		p += len + (p[len] == ':');
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (upgrade_in.in_board == -1 || upgrade_in.in_state == -1) {
		log_warnx("upgrade: no scoreboard or no state handed over");
		return -1;
	}
	upgrade_in.in_active = true;
	upgrade_in.in_nfds = (int)n;
	return 1;
}

bool
upgrade_inherited(void)
{
	return upgrade_in.in_active;
}

int
upgrade_fd_count(void)
{
	return upgrade_in.in_nfds;
}

int
upgrade_pidfile_fd(void)
{
	return upgrade_in.in_pidfile;
}

int
upgrade_board_fd(void)
{
	return upgrade_in.in_board;
}

const char *
upgrade_from_version(void)
{
	return upgrade_in.in_version;
}

int
upgrade_check_format(char *err, size_t size)
{
	const char	*want = getenv(UPGRADE_CHECK_ENV);

	if (want == NULL)
		return 0;
	if (strcmp(want, UPGRADE_FORMAT) == 0) {
		/* What the running daemon looks for: a binary that exits 0
		 * without saying it can take over is not one to exec. */
		printf("%s %s\n", UPGRADE_CHECK_ACK, UPGRADE_FORMAT);
		return 0;
	}
	snprintf(err, size, "cannot take over from the running daemon: its "
	    "state is \"%s\", this binary reads \"%s\"", want,
	    UPGRADE_FORMAT);
	return -1;
}

/* The state, mapped read-only; its worker records follow the header. */
static const struct upgrade_state *
upgrade_map_state(size_t *size)
{
	const struct upgrade_state	*us;
	struct stat			 st;
	void				*p;

	if (fstat(upgrade_in.in_state, &st) == -1) {
		log_warn("fstat(upgrade state)");
		return NULL;
	}
	if ((size_t)st.st_size < sizeof(*us)) {
		log_warnx("upgrade: state of %lld bytes", (long long)st.st_size);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
	    upgrade_in.in_state, 0);
	if (p == MAP_FAILED) {
		log_warn("mmap(upgrade state)");
		return NULL;
	}
	us = p;
	*size = (size_t)st.st_size;
	if (strncmp(us->us_format, UPGRADE_FORMAT, sizeof(us->us_format)) ||
	    us->us_size != sizeof(*us) ||
	    us->us_listener_size != sizeof(struct upgrade_listener) ||
	    us->us_worker_size != sizeof(struct upgrade_worker) ||
	    us->us_nlisteners != upgrade_in.in_nlisten ||
	    us->us_nworkers > SCOREBOARD_SLOTS ||
	    *size < sizeof(*us) + us->us_nlisteners *
	    sizeof(struct upgrade_listener) + us->us_nworkers *
	    sizeof(struct upgrade_worker)) {
		log_warnx("upgrade: the state is not in format %s",
		    UPGRADE_FORMAT);
		munmap(p, *size);
		return NULL;
	}
	return us;
}

/* The serving generation's sockets, in the order its workers know. */
static int
upgrade_adopt_listeners(struct master *m, const struct upgrade_state *us)
{
	const struct upgrade_listener	*ul = (const void *)(us + 1);
	struct listeners		*ls = &m->m_cur.g_ls;
	struct config_listen		 cl;

	for (size_t i = 0; i < upgrade_in.in_nlisten; i++, ul++) {
		memset(&cl, 0, sizeof(cl));
		cl.cl_address = (char *)ul->ul_address;
		cl.cl_port = ul->ul_port;
		cl.cl_backlog = ul->ul_backlog;
		if (memchr(ul->ul_address, '\0', sizeof(ul->ul_address)) ==
		    NULL || listeners_adopt(ls, upgrade_in.in_listen[i],
		    upgrade_in.in_passed[i], &cl) == -1)
			return -1;
		upgrade_in.in_listen[i] = -1;
	}
	return 0;
}

static int
upgrade_adopt_workers(struct master *m, const struct upgrade_state *us)
{
	const struct upgrade_worker	*uw = (const void *)((const char *)
	    (us + 1) + us->us_nlisteners * sizeof(struct upgrade_listener));
	struct pool_worker		 w;

	for (uint32_t i = 0; i < us->us_nworkers; i++, uw++) {
		memset(&w, 0, sizeof(w));
		w.pw_pid = uw->uw_pid;
		w.pw_generation = uw->uw_generation;
		w.pw_retiring = uw->uw_retiring;
		w.pw_killed = uw->uw_killed;
		w.pw_hung = uw->uw_hung;
		w.pw_started = uw->uw_started;
		w.pw_kill_at = uw->uw_kill_at;
		if (pool_adopt(&m->m_pool, &w, uw->uw_slot) == -1)
			return -1;
	}
	return 0;
}

int
upgrade_adopt(struct master *m)
{
	const struct upgrade_state	*us;
	size_t				 size;
	int				 rc;

	if ((us = upgrade_map_state(&size)) == NULL)
		return EX_SOFTWARE;
	rc = upgrade_adopt_listeners(m, us) == -1 ||
	    upgrade_adopt_workers(m, us) == -1;
	if (rc == 0) {
		m->m_cur.g_id = us->us_generation;
		m->m_last_id = us->us_last_id;
		m->m_cur.g_target = us->us_target;
		m->m_cur.g_announced = true;
		m->m_cur.g_adopted = true;
		m->m_pool.p_gone = us->us_gone;
		snprintf(upgrade_in.in_version, sizeof(upgrade_in.in_version),
		    "%.*s", (int)sizeof(us->us_version), us->us_version);
	}
	munmap((void *)us, size);
	close(upgrade_in.in_state);
	upgrade_in.in_state = -1;
	return rc == 0 ? 0 : EX_SOFTWARE;
}

/* ---- the old image ---------------------------------------------------------- */

/* The child of upgrade_check(): the new binary's -t, its output to fd. */
static void
upgrade_check_child(const char *file, int out)
{
	sigset_t	 none;
	char		*argv[] = { (char *)"preforkd", (char *)"-t",
	    (char *)"-c", (char *)file, NULL };

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	if (dup2(out, STDOUT_FILENO) == -1 || dup2(out, STDERR_FILENO) == -1)
		_exit(EX_OSERR);
	setenv(UPGRADE_CHECK_ENV, UPGRADE_FORMAT, 1);
	execv(upgrade_exe, argv);
	fprintf(stderr, "execv(%s): %s\n", upgrade_exe, strerror(errno));
	_exit(EX_UNAVAILABLE);
}

/* What the check wrote, up to size - 1 bytes, until EOF or the end. */
static void
upgrade_check_read(int fd, char *buf, size_t size, struct timespec end)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	size_t		 len = 0;
	ssize_t		 n;

	buf[0] = '\0';
	while (len < size - 1 && poll(&pfd, 1, clock_ms_until(end)) > 0) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
}

/*
 * Run the new binary's -t on our file, within UPGRADE_CHECK_SECONDS:
 * 0 when it passed, -1 (logged, with what it said) when not.  The master
 * waits for it: a check takes milliseconds, and the workers serve on
 * meanwhile.
 */
static int
upgrade_check(const struct master *m)
{
	struct timespec	 end = clock_after(clock_now(), UPGRADE_CHECK_SECONDS);
	char		 said[1024], how[96];
	int		 p[2], status = 0;
	pid_t		 pid, got = 0;
	bool		 ack;

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe2");
		return -1;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0)
		upgrade_check_child(m->m_file, p[1]);
	close(p[1]);
	upgrade_check_read(p[0], said, sizeof(said), end);
	close(p[0]);
	ack = strstr(said, UPGRADE_CHECK_ACK) != NULL;
	/* One line in the log: the first. */
	said[strcspn(said, "\n")] = '\0';
	while ((got = waitpid(pid, &status, WNOHANG)) == 0 &&
	    clock_ms_until(end) > 0)
		(void)poll(NULL, 0, 10);
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		snprintf(how, sizeof(how), "no answer in %.0fs",
		    UPGRADE_CHECK_SECONDS);
	} else if (WIFEXITED(status))
		snprintf(how, sizeof(how), "exit %d", WEXITSTATUS(status));
	else
		snprintf(how, sizeof(how), "signal %d", WTERMSIG(status));
	if (got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	    ack)
		return 0;
	if (got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		snprintf(how, sizeof(how), "exit 0 without \"%s\"",
		    UPGRADE_CHECK_ACK);
	log_warnx("upgrade: %s -t failed (%s): %s; version=%s keeps running",
	    upgrade_exe, how, said[0] != '\0' ? said : "(nothing said)",
	    status_version);
	return -1;
}

static void
upgrade_state_head(const struct master *m, struct upgrade_state *us)
{
	memset(us, 0, sizeof(*us));
	snprintf(us->us_format, sizeof(us->us_format), "%s", UPGRADE_FORMAT);
	us->us_size = sizeof(*us);
	us->us_listener_size = sizeof(struct upgrade_listener);
	us->us_nlisteners = (uint32_t)m->m_cur.g_ls.ls_n;
	us->us_worker_size = sizeof(struct upgrade_worker);
	us->us_nworkers = (uint32_t)m->m_pool.p_n;
	us->us_generation = m->m_cur.g_id;
	us->us_last_id = m->m_last_id;
	us->us_target = m->m_cur.g_target;
	us->us_gone = m->m_pool.p_gone;
	snprintf(us->us_version, sizeof(us->us_version), "%s",
	    status_version);
}

static int
upgrade_write_listeners(int fd, const struct listeners *ls)
{
	struct upgrade_listener	 ul;

	for (size_t i = 0; i < ls->ls_n; i++) {
		memset(&ul, 0, sizeof(ul));
		snprintf(ul.ul_address, sizeof(ul.ul_address), "%s",
		    ls->ls[i].l_conf.cl_address);
		ul.ul_port = ls->ls[i].l_conf.cl_port;
		ul.ul_backlog = ls->ls[i].l_conf.cl_backlog;
		if (write(fd, &ul, sizeof(ul)) != (ssize_t)sizeof(ul))
			return -1;
	}
	return 0;
}

/* The state, in a fresh memfd; -1 logged. */
static int
upgrade_write_state(const struct master *m)
{
	const struct pool	*p = &m->m_pool;
	struct upgrade_state	 us;
	struct upgrade_worker	 uw;
	int			 fd;

	if ((fd = memfd_create("preforkd-upgrade", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create(upgrade state)");
		return -1;
	}
	upgrade_state_head(m, &us);
	if (write(fd, &us, sizeof(us)) != (ssize_t)sizeof(us) ||
	    upgrade_write_listeners(fd, &m->m_cur.g_ls) == -1)
		goto fail;

	for (size_t i = 0; i < p->p_n; i++) {
		const struct pool_worker *w = &p->p_workers[i];

		memset(&uw, 0, sizeof(uw));
		uw.uw_pid = w->pw_pid;
		uw.uw_generation = w->pw_generation;
		uw.uw_slot = (uint32_t)(w->pw_slot - p->p_board->sb_slot);
		uw.uw_retiring = w->pw_retiring;
		uw.uw_killed = w->pw_killed;
		uw.uw_hung = w->pw_hung;
		uw.uw_started = w->pw_started;
		uw.uw_kill_at = w->pw_kill_at;
		if (write(fd, &uw, sizeof(uw)) != (ssize_t)sizeof(uw))
			goto fail;
	}
	return fd;
fail:
	log_warn("write(upgrade state)");
	close(fd);
	return -1;
}

struct upgrade_fds {
	int		 uf_fd[UPGRADE_MAX_FDS];	/* ours, to hand over */
	const char	*uf_name[UPGRADE_MAX_FDS];
	size_t		 uf_n;
	int		 uf_saved[UPGRADE_MAX_FDS];	/* what was at 3 + i */
	int		 uf_saved_flags[UPGRADE_MAX_FDS];
};

static void
upgrade_add(struct upgrade_fds *uf, int fd, const char *name)
{
	uf->uf_fd[uf->uf_n] = fd;
	uf->uf_name[uf->uf_n++] = name;
}

/*
 * Put the descriptors at 3, 4, ... as LISTEN_FDS wants them, keeping
 * whatever was there (and its flags) to put back if the exec fails.
 */
static int
upgrade_shuffle(struct upgrade_fds *uf)
{
	int	 copy[UPGRADE_MAX_FDS];
	size_t	 i;

	for (i = 0; i < uf->uf_n; i++) {
		copy[i] = fcntl(uf->uf_fd[i], F_DUPFD_CLOEXEC,
		    UPGRADE_SCRATCH_FD);
		uf->uf_saved_flags[i] = fcntl(3 + (int)i, F_GETFD);
		uf->uf_saved[i] = uf->uf_saved_flags[i] == -1 ? -1 :
		    fcntl(3 + (int)i, F_DUPFD_CLOEXEC, UPGRADE_SCRATCH_FD);
		if (copy[i] == -1 || (uf->uf_saved_flags[i] != -1 &&
		    uf->uf_saved[i] == -1)) {
			log_warn("fcntl(F_DUPFD_CLOEXEC)");
			uf->uf_n = i + 1;
			return -1;
		}
	}
	for (i = 0; i < uf->uf_n; i++) {
		/* dup2() leaves the new number inheritable. */
		if (dup2(copy[i], 3 + (int)i) == -1)
			log_warn("dup2(%d)", 3 + (int)i);
		close(copy[i]);
	}
	return 0;
}

/* The exec failed: everything back where it was. */
static void
upgrade_unshuffle(struct upgrade_fds *uf)
{
	for (size_t i = 0; i < uf->uf_n; i++) {
		int fd = 3 + (int)i;

		if (uf->uf_saved[i] == -1) {
			close(fd);
			continue;
		}
		if (dup2(uf->uf_saved[i], fd) == -1 ||
		    fcntl(fd, F_SETFD, uf->uf_saved_flags[i]) == -1)
			log_warn("restoring descriptor %d", fd);
		close(uf->uf_saved[i]);
	}
}

static int
upgrade_environment(const struct upgrade_fds *uf)
{
	char	 names[UPGRADE_MAX_FDS * 16] = "", num[32];

	for (size_t i = 0; i < uf->uf_n; i++) {
		if (i > 0)
			strcat(names, ":");
		strcat(names, uf->uf_name[i]);
	}
	snprintf(num, sizeof(num), "%zu", uf->uf_n);
	if (setenv("LISTEN_FDS", num, 1) == -1 ||
	    setenv("LISTEN_FDNAMES", names, 1) == -1 ||
	    setenv(UPGRADE_ENV, "1", 1) == -1)
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
	unsetenv(UPGRADE_ENV);
}

/*
 * The control socket and the agent are not handed over: the new image
 * opens them again (the file would answer, and a second open refuse).
 * The moment between costs a control client or a checker a refusal.
 */
static void
upgrade_exec(struct master *m, int state)
{
	const struct listeners	*ls = &m->m_cur.g_ls;
	struct upgrade_fds	 uf;

	memset(&uf, 0, sizeof(uf));
	for (size_t i = 0; i < ls->ls_n; i++)
		upgrade_add(&uf, ls->ls[i].l_fd, ls->ls[i].l_passed ?
		    "pfd-passed" : "pfd-listen");
	if (m->m_pidfile_fd != -1)
		upgrade_add(&uf, m->m_pidfile_fd, "pfd-pidfile");
	upgrade_add(&uf, m->m_pool.p_board_fd, "pfd-board");
	upgrade_add(&uf, state, "pfd-state");
	log_info("upgrading in place: executing %s (version=%s now, "
	    "generation=%u, workers=%zu)", upgrade_exe, status_version,
	    m->m_cur.g_id, m->m_pool.p_n);
	notify_reloading();
	control_close(&m->m_control);
	agent_close(&m->m_agent);
	if (upgrade_shuffle(&uf) == 0 && upgrade_environment(&uf) == 0)
		execve(upgrade_exe, upgrade_argv, environ);
	log_warn("upgrade: execve(%s); version=%s keeps running",
	    upgrade_exe, status_version);
	upgrade_clear_environment();
	upgrade_unshuffle(&uf);
	(void)control_open(&m->m_control, m->m_cur.g_cfg->c_control);
	(void)agent_open(&m->m_agent, m->m_cur.g_cfg);
	notify_ready("upgrade failed: the new binary could not be executed");
}

void
upgrade_request(struct master *m)
{
	if (m->m_stopping || m->m_draining) {
		log_notice("upgrade requested while stopping: ignored");
		return;
	}
	if (upgrade_exe[0] == '\0' || upgrade_argv[0] == NULL) {
		log_warnx("upgrade requested, but the binary's path or "
		    "command line is unknown");
		return;
	}
	if (m->m_upgrade_pending)
		return;
	m->m_upgrade_pending = true;
	m->m_upgrade_until = clock_after(clock_now(), UPGRADE_WAIT_SECONDS);
	log_info("upgrade requested: checking %s", upgrade_exe);
}

/* Workers still starting would be left without their ready pipe, and a
 * reload under way without its gate: wait for them. */
static bool
upgrade_quiet(const struct master *m)
{
	const struct pool	*p = &m->m_pool;

	if (m->m_next.g_id != 0)
		return false;
	for (size_t i = 0; i < p->p_n; i++)
		if (scoreboard_state(p->p_workers[i].pw_slot) ==
		    SLOT_STARTING && !p->p_workers[i].pw_retiring)
			return false;
	return true;
}

void
upgrade_run(struct master *m, struct timespec now)
{
	int	 state;

	if (!m->m_upgrade_pending)
		return;
	if (!upgrade_quiet(m)) {
		if (clock_diff(now, m->m_upgrade_until) > 0)
			return;
		log_warnx("upgrade: the pool did not settle in %.0fs "
		    "(workers starting or a reload under way); not upgrading",
		    UPGRADE_WAIT_SECONDS);
		m->m_upgrade_pending = false;
		return;
	}
	m->m_upgrade_pending = false;
	if (upgrade_check(m) == -1 || (state = upgrade_write_state(m)) == -1)
		return;
	upgrade_exec(m, state);
	close(state);
}
