/* SPDX-License-Identifier: ISC */
/*
 * handover.c - the state an upgrading master hands its new image (see
 * handover.h): written by the old image, taken by the new one.
 *
 * The state is one memfd: a header, then the listening sockets as the
 * configuration said them (in the order of their descriptors), the
 * workers, and the configuration text.  The header also says what the
 * control socket's and the agent's descriptors, when they come, are: the
 * file the one was bound to, the address of the other.  Its format name
 * carries the size of every structure in it and of the scoreboard, so
 * that a binary built with another layout refuses at -t, before the exec,
 * rather than after.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "generation.h"
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "scoreboard.h"
#include "status.h"

#define HANDOVER_TEXT_MAX	(4 * 1024 * 1024)

struct handover_state {
	char			 hs_format[96];
	uint32_t		 hs_nlisteners;
	uint32_t		 hs_nworkers;
	uint32_t		 hs_text_len;	/* after the workers */
	uint32_t		 hs_generation;	/* serving */
	uint32_t		 hs_last_id;
	uint32_t		 hs_target;
	struct pool_gone	 hs_gone;
	uint64_t		 hs_reloads_ok;		/* for the metrics */
	uint64_t		 hs_reloads_failed;
	char			 hs_version[64];	/* the old image's */
	char			 hs_file[PATH_MAX];	/* its configuration */
	char			 hs_pidfile[PATH_MAX];	/* "" : none */
	/* With "pfd-control": the socket file, as control.h keeps it. */
	char			 hs_control[CONFIG_MAX_CONTROL_PATH];
	uint64_t		 hs_control_dev;
	uint64_t		 hs_control_ino;
	/* With "pfd-agent": the address it is bound to (addr.h). */
	uint8_t			 hs_agent_family;	/* 0: none */
	uint16_t		 hs_agent_port;
	uint8_t			 hs_agent_bytes[16];
};

/* A listening socket as the file said it: a reload compares the file
 * with this (port 0 stays 0, not the port it got), as before the exec. */
struct handover_listener {
	char			 hl_address[64];
	int32_t			 hl_backlog;
	uint16_t		 hl_port;
};

/* CLOCK_MONOTONIC times are the same on both sides of the exec. */
struct handover_worker {
	int32_t			 hw_pid;
	uint32_t		 hw_generation;
	uint32_t		 hw_slot;
	uint8_t			 hw_retiring;
	uint8_t			 hw_killed;
	uint8_t			 hw_hung;
	struct timespec		 hw_started;
	struct timespec		 hw_kill_at;
};

/* What the new image was handed. */
static struct {
	bool				 in_active;
	int				 in_nfds;
	int				 in_pidfile, in_board, in_state;
	int				 in_control, in_agent;
	int				 in_listen[CONFIG_MAX_LISTEN];
	bool				 in_passed[CONFIG_MAX_LISTEN];
	size_t				 in_nlisten;
	const struct handover_state	*in_hs;		/* mapped */
	size_t				 in_size;
} handover_in = { .in_pidfile = -1, .in_board = -1, .in_state = -1,
    .in_control = -1, .in_agent = -1 };

const char *
handover_format(void)
{
	static char	 format[96];

	if (format[0] == '\0')
		snprintf(format, sizeof(format), "preforkd-state-3/%zu/%zu/"
		    "%zu/%zu/%zu", sizeof(struct handover_state),
		    sizeof(struct handover_listener),
		    sizeof(struct handover_worker), sizeof(struct scoreboard),
		    sizeof(struct slot));
	return format;
}

/* ---- the old image ------------------------------------------------------ */

static void
handover_head(const struct master *m, struct handover_state *hs)
{
	const struct sidedoor_socket	*agent = &m->m_agent.ag_door.sd_sock;
	const char			*text = m->m_cur.g_cfg->c_text;

	memset(hs, 0, sizeof(*hs));
	snprintf(hs->hs_format, sizeof(hs->hs_format), "%s",
	    handover_format());
	hs->hs_nlisteners = (uint32_t)m->m_cur.g_ls.ls_n;
	hs->hs_nworkers = (uint32_t)m->m_pool.p_n;
	hs->hs_text_len = text != NULL ? (uint32_t)strlen(text) : 0;
	hs->hs_generation = m->m_cur.g_id;
	hs->hs_last_id = m->m_last_id;
	hs->hs_target = m->m_cur.g_target;
	hs->hs_gone = m->m_pool.p_gone;
	hs->hs_reloads_ok = m->m_reloads_ok;
	hs->hs_reloads_failed = m->m_reloads_failed;
	snprintf(hs->hs_version, sizeof(hs->hs_version), "%s",
	    status_version);
	snprintf(hs->hs_file, sizeof(hs->hs_file), "%s", m->m_file);
	if (m->m_pidfile_fd != -1 && m->m_pidfile_path != NULL)
		snprintf(hs->hs_pidfile, sizeof(hs->hs_pidfile), "%s",
		    m->m_pidfile_path);
	if (m->m_control.ctl_door.sd_sock.sk_fd != -1) {
		memcpy(hs->hs_control, m->m_control.ctl_path,
		    sizeof(hs->hs_control));
		hs->hs_control_dev = m->m_control.ctl_dev;
		hs->hs_control_ino = m->m_control.ctl_ino;
	}
	if (agent->sk_fd != -1) {
		hs->hs_agent_family = agent->sk_addr.a_family;
		hs->hs_agent_port = agent->sk_addr.a_port;
		memcpy(hs->hs_agent_bytes, agent->sk_addr.a_bytes,
		    sizeof(hs->hs_agent_bytes));
	}
}

static int
handover_write_listeners(int fd, const struct listeners *ls)
{
	struct handover_listener	 hl;

	for (size_t i = 0; i < ls->ls_n; i++) {
		memset(&hl, 0, sizeof(hl));
		snprintf(hl.hl_address, sizeof(hl.hl_address), "%s",
		    ls->ls[i].l_conf.cl_address);
		hl.hl_port = ls->ls[i].l_conf.cl_port;
		hl.hl_backlog = ls->ls[i].l_conf.cl_backlog;
		if (write(fd, &hl, sizeof(hl)) != (ssize_t)sizeof(hl))
			return -1;
	}
	return 0;
}

static int
handover_write_workers(int fd, const struct pool *p)
{
	struct handover_worker	 hw;

	for (size_t i = 0; i < p->p_n; i++) {
		const struct pool_worker *w = &p->p_workers[i];

		memset(&hw, 0, sizeof(hw));
		hw.hw_pid = w->pw_pid;
		hw.hw_generation = w->pw_generation;
		hw.hw_slot = (uint32_t)(w->pw_slot - p->p_board->sb_slot);
		hw.hw_retiring = w->pw_retiring;
		hw.hw_killed = w->pw_killed;
		hw.hw_hung = w->pw_hung;
		hw.hw_started = w->pw_started;
		hw.hw_kill_at = w->pw_kill_at;
		if (write(fd, &hw, sizeof(hw)) != (ssize_t)sizeof(hw))
			return -1;
	}
	return 0;
}

int
handover_write(const struct master *m)
{
	struct handover_state	 hs;
	int			 fd;

	if ((fd = memfd_create("preforkd-handover", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create(handover)");
		return -1;
	}
	handover_head(m, &hs);
	if (write(fd, &hs, sizeof(hs)) != (ssize_t)sizeof(hs) ||
	    handover_write_listeners(fd, &m->m_cur.g_ls) == -1 ||
	    handover_write_workers(fd, &m->m_pool) == -1 ||
	    (hs.hs_text_len > 0 && write(fd, m->m_cur.g_cfg->c_text,
	    hs.hs_text_len) != (ssize_t)hs.hs_text_len)) {
		log_warn("write(handover)");
		close(fd);
		return -1;
	}
	return fd;
}

size_t
handover_fds(const struct master *m, int state, int *fds, const char **names)
{
	const struct listeners	*ls = &m->m_cur.g_ls;
	size_t			 n = 0;

	for (size_t i = 0; i < ls->ls_n; i++) {
		fds[n] = ls->ls[i].l_fd;
		names[n++] = ls->ls[i].l_passed ? "pfd-passed" : "pfd-listen";
	}
	if (m->m_pidfile_fd != -1) {
		fds[n] = m->m_pidfile_fd;
		names[n++] = "pfd-pidfile";
	}
	if (m->m_control.ctl_door.sd_sock.sk_fd != -1) {
		fds[n] = m->m_control.ctl_door.sd_sock.sk_fd;
		names[n++] = "pfd-control";
	}
	if (m->m_agent.ag_door.sd_sock.sk_fd != -1) {
		fds[n] = m->m_agent.ag_door.sd_sock.sk_fd;
		names[n++] = "pfd-agent";
	}
	fds[n] = m->m_pool.p_board_fd;
	names[n++] = "pfd-board";
	fds[n] = state;
	names[n++] = "pfd-state";
	return n;
}

/* ---- the new image -------------------------------------------------------- */

/* One handed-over descriptor, by its name. */
static int
handover_take_fd(int fd, const char *name, size_t len)
{
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("fcntl(%d, FD_CLOEXEC)", fd);
		return -1;
	}
	if (len == 10 && (strncmp(name, "pfd-listen", len) == 0 ||
	    strncmp(name, "pfd-passed", len) == 0)) {
		if (handover_in.in_nlisten == CONFIG_MAX_LISTEN)
			return -1;
		handover_in.in_passed[handover_in.in_nlisten] =
		    name[4] == 'p';
		handover_in.in_listen[handover_in.in_nlisten++] = fd;
	} else if (len == 11 && strncmp(name, "pfd-pidfile", len) == 0)
		handover_in.in_pidfile = fd;
	else if (len == 11 && strncmp(name, "pfd-control", len) == 0)
		handover_in.in_control = fd;
	else if (len == 9 && strncmp(name, "pfd-agent", len) == 0)
		handover_in.in_agent = fd;
	else if (len == 9 && strncmp(name, "pfd-board", len) == 0)
		handover_in.in_board = fd;
	else if (len == 9 && strncmp(name, "pfd-state", len) == 0)
		handover_in.in_state = fd;
	else {
		log_warnx("upgrade: unexpected descriptor %d named %.*s", fd,
		    (int)len, name);
		return -1;
	}
	return 0;
}

/* The descriptors that came with the state are the ones it describes. */
static bool
handover_local_ok(const struct handover_state *hs)
{
	bool	 control = handover_in.in_control != -1;
	bool	 agent = handover_in.in_agent != -1;

	if (memchr(hs->hs_control, '\0', sizeof(hs->hs_control)) == NULL)
		return false;
	if (control != (hs->hs_control[0] != '\0'))
		return false;
	if (!agent)
		return hs->hs_agent_family == 0;
	return hs->hs_agent_family == AF_INET ||
	    hs->hs_agent_family == AF_INET6;
}

/* The state, mapped read-only and checked against the descriptors. */
static int
handover_map(void)
{
	const struct handover_state	*hs;
	struct stat			 st;
	size_t				 want;
	void				*p;

	if (fstat(handover_in.in_state, &st) == -1) {
		log_warn("fstat(handover)");
		return -1;
	}
	if ((size_t)st.st_size < sizeof(*hs) || st.st_size > HANDOVER_TEXT_MAX
	    + (off_t)sizeof(*hs) + (off_t)(SCOREBOARD_SLOTS *
	    sizeof(struct handover_worker)) + (off_t)(CONFIG_MAX_LISTEN *
	    sizeof(struct handover_listener))) {
		log_warnx("upgrade: a state of %lld bytes",
		    (long long)st.st_size);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
	    handover_in.in_state, 0);
	if (p == MAP_FAILED) {
		log_warn("mmap(handover)");
		return -1;
	}
	hs = p;
	want = sizeof(*hs) + hs->hs_nlisteners *
	    sizeof(struct handover_listener) + (size_t)hs->hs_nworkers *
	    sizeof(struct handover_worker) + hs->hs_text_len;
	if (strncmp(hs->hs_format, handover_format(), sizeof(hs->hs_format))
	    || hs->hs_nlisteners != handover_in.in_nlisten ||
	    hs->hs_nworkers > SCOREBOARD_SLOTS ||
	    hs->hs_text_len > HANDOVER_TEXT_MAX || want != (size_t)st.st_size
	    || memchr(hs->hs_file, '\0', sizeof(hs->hs_file)) == NULL ||
	    memchr(hs->hs_pidfile, '\0', sizeof(hs->hs_pidfile)) == NULL ||
	    !handover_local_ok(hs)) {
		log_warnx("upgrade: the state is not in format %s",
		    handover_format());
		munmap(p, (size_t)st.st_size);
		return -1;
	}
	handover_in.in_hs = hs;
	handover_in.in_size = (size_t)st.st_size;
	return 0;
}

/* The descriptors LISTEN_FDS and LISTEN_FDNAMES name. */
static int
handover_take_fds(void)
{
	const char	*names = getenv("LISTEN_FDNAMES"), *p;
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	char		*end;
	long		 n;
	size_t		 len;

	if (pid == NULL || fds == NULL || names == NULL ||
	    strtol(pid, &end, 10) != getpid() || *end != '\0' ||
	    (n = strtol(fds, &end, 10)) < 2 || n > HANDOVER_MAX_FDS ||
	    *end != '\0') {
		log_warnx("upgrade: LISTEN_PID, LISTEN_FDS or LISTEN_FDNAMES "
		    "missing or wrong");
		return -1;
	}
	p = names;
	for (int fd = 3; fd < 3 + n; fd++) {
		len = strcspn(p, ":");
		if (handover_take_fd(fd, p, len) == -1)
			return -1;
		p += len + (p[len] == ':');
	}
	handover_in.in_nfds = (int)n;
	return 0;
}

int
handover_take(void)
{
	if (getenv("PREFORKD_UPGRADE") == NULL)
		return 0;
	unsetenv("PREFORKD_UPGRADE");
	if (handover_take_fds() == -1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (handover_in.in_board == -1 || handover_in.in_state == -1) {
		log_warnx("upgrade: no scoreboard or no state handed over");
		return -1;
	}
	if (handover_map() == -1)
		return -1;
	handover_in.in_active = true;
	return 1;
}

bool
handover_active(void)
{
	return handover_in.in_active;
}

int
handover_fd_count(void)
{
	return handover_in.in_nfds;
}

const char *
handover_config_file(void)
{
	return handover_in.in_hs->hs_file;
}

int
handover_pidfile_fd(void)
{
	return handover_in.in_pidfile;
}

const char *
handover_pidfile_path(void)
{
	return handover_in.in_pidfile != -1 &&
	    handover_in.in_hs->hs_pidfile[0] != '\0' ?
	    handover_in.in_hs->hs_pidfile : NULL;
}

int
handover_board_fd(void)
{
	return handover_in.in_board;
}

const char *
handover_from_version(void)
{
	return handover_in.in_hs != NULL ? handover_in.in_hs->hs_version : "";
}

/* The serving generation's sockets, in the order its workers know. */
static int
handover_adopt_listeners(struct master *m)
{
	const struct handover_listener	*hl = (const void *)
	    (handover_in.in_hs + 1);
	struct config_listen		 cl;

	for (size_t i = 0; i < handover_in.in_nlisten; i++, hl++) {
		memset(&cl, 0, sizeof(cl));
		cl.cl_address = (char *)hl->hl_address;
		cl.cl_port = hl->hl_port;
		cl.cl_backlog = hl->hl_backlog;
		if (memchr(hl->hl_address, '\0', sizeof(hl->hl_address)) ==
		    NULL || listeners_adopt(&m->m_cur.g_ls,
		    handover_in.in_listen[i], handover_in.in_passed[i],
		    &cl) == -1)
			return -1;
		handover_in.in_listen[i] = -1;
	}
	return 0;
}

static int
handover_adopt_workers(struct master *m)
{
	const struct handover_state	*hs = handover_in.in_hs;
	const struct handover_worker	*hw = (const void *)((const char *)
	    (hs + 1) + hs->hs_nlisteners * sizeof(struct handover_listener));
	struct pool_worker		 w;

	for (uint32_t i = 0; i < hs->hs_nworkers; i++, hw++) {
		memset(&w, 0, sizeof(w));
		w.pw_pid = hw->hw_pid;
		w.pw_generation = hw->hw_generation;
		w.pw_retiring = hw->hw_retiring;
		w.pw_killed = hw->hw_killed;
		w.pw_hung = hw->hw_hung;
		w.pw_started = hw->hw_started;
		w.pw_kill_at = hw->hw_kill_at;
		if (pool_adopt(&m->m_pool, &w, hw->hw_slot) == -1)
			return -1;
	}
	return 0;
}

/* The configuration text the workers were started with, parsed. */
static struct config *
handover_old_config(char *err, size_t errsize)
{
	const struct handover_state	*hs = handover_in.in_hs;
	const char			*text = (const char *)(hs + 1) +
	    hs->hs_nlisteners * sizeof(struct handover_listener) +
	    (size_t)hs->hs_nworkers * sizeof(struct handover_worker);
	struct config			*c;
	char				*copy;

	if ((copy = strndup(text, hs->hs_text_len)) == NULL) {
		snprintf(err, errsize, "strndup: %s", strerror(errno));
		return NULL;
	}
	/* No module here; the accounts are looked up again (the new image
	 * is starting, as the upgrade's check did): a worker respawned for
	 * this generation must drop to the same user. */
	c = config_load_text(hs->hs_file, copy, CONFIG_NO_MODULES, NULL, err,
	    errsize);
	free(copy);
	return c;
}

struct config *
handover_config_fallback(const char *why)
{
	struct config	*c;
	char		 err[1024];

	if ((c = handover_old_config(err, sizeof(err))) == NULL)
		log_warnx("upgrade: %s; and the configuration the workers "
		    "were started with does not load either: %s", why, err);
	else
		log_warnx("upgrade: %s; going on with the configuration the "
		    "workers were started with", why);
	return c;
}

/*
 * The workers taken over run the configuration they were started with:
 * the serving generation gets it too (parsed by this binary), so that it
 * is sized, shed, refilled and reported as before.  If this binary cannot
 * read that text any more, it keeps the file as it reads it now, and adds
 * no worker to that generation (it cannot know their configuration).
 */
static void
handover_adopt_config(struct master *m)
{
	const struct handover_state	*hs = handover_in.in_hs;
	struct config			*old;
	char				 err[1024];

	if ((old = handover_old_config(err, sizeof(err))) == NULL) {
		log_warnx("upgrade: the configuration the workers were "
		    "started with does not load here (%s): generation=%u "
		    "keeps its workers and gets no new ones", err,
		    hs->hs_generation);
		m->m_cur.g_adopted = true;
		return;
	}
	config_free(m->m_cur.g_cfg);
	m->m_cur.g_cfg = old;
}

/* The control socket and the agent, still listening: connections that
 * came during the exec are in their backlogs. */
static void
handover_adopt_local(struct master *m)
{
	const struct handover_state	*hs = handover_in.in_hs;
	struct addr			 a;

	if (handover_in.in_control != -1)
		control_adopt(&m->m_control, handover_in.in_control,
		    hs->hs_control, (dev_t)hs->hs_control_dev,
		    (ino_t)hs->hs_control_ino);
	if (handover_in.in_agent != -1) {
		memset(&a, 0, sizeof(a));
		a.a_family = hs->hs_agent_family;
		a.a_port = hs->hs_agent_port;
		memcpy(a.a_bytes, hs->hs_agent_bytes, sizeof(a.a_bytes));
		agent_adopt(&m->m_agent, handover_in.in_agent, &a);
	}
	handover_in.in_control = handover_in.in_agent = -1;
}

int
handover_adopt(struct master *m)
{
	const struct handover_state	*hs = handover_in.in_hs;
	int				 rc;

	rc = handover_adopt_listeners(m) == -1 ||
	    handover_adopt_workers(m) == -1 ? EX_SOFTWARE : 0;
	if (rc == 0) {
		m->m_cur.g_id = hs->hs_generation;
		m->m_last_id = hs->hs_last_id;
		m->m_cur.g_target = hs->hs_target;
		m->m_cur.g_announced = true;
		m->m_pool.p_gone = hs->hs_gone;
		m->m_reloads_ok = hs->hs_reloads_ok;
		m->m_reloads_failed = hs->hs_reloads_failed;
		handover_adopt_config(m);
		handover_adopt_local(m);
	}
	close(handover_in.in_state);
	handover_in.in_state = -1;
	return rc;
}
