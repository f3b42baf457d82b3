/* SPDX-License-Identifier: ISC */
/*
 * takeover.c - the new image of an in-place upgrade: it finds what the
 * old one handed over (handover.h) among its descriptors, maps the state
 * and takes the workers, the sockets, the control socket, the agent and
 * the metrics endpoint over as the serving generation.
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

#include "agent.h"
#include "control.h"
#include "generation.h"
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "scoreboard.h"
#include "sockstore.h"
#include "status.h"
#include "takeover.h"

/* What the new image was handed. */
static struct {
	int				 in_nfds;
	int				 in_pidfile, in_board, in_state;
	int				 in_control, in_agent, in_metrics;
	int				 in_listen[CONFIG_MAX_LISTEN];
	bool				 in_passed[CONFIG_MAX_LISTEN];
	size_t				 in_nlisten;
	const struct handover_state	*in_hs;		/* mapped */
	size_t				 in_size;
} takeover_in = { .in_pidfile = -1, .in_board = -1, .in_state = -1,
    .in_control = -1, .in_agent = -1, .in_metrics = -1 };

/* One handed-over descriptor, by its name. */
static int
takeover_fd(int fd, const char *name, size_t len)
{
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warn("fcntl(%d, FD_CLOEXEC)", fd);
		return -1;
	}
	if (len == 10 && (strncmp(name, "pfd-listen", len) == 0 ||
	    strncmp(name, "pfd-passed", len) == 0)) {
		if (takeover_in.in_nlisten == CONFIG_MAX_LISTEN)
			return -1;
		takeover_in.in_passed[takeover_in.in_nlisten] =
		    name[4] == 'p';
		takeover_in.in_listen[takeover_in.in_nlisten++] = fd;
	} else if (len == 11 && strncmp(name, "pfd-pidfile", len) == 0)
		takeover_in.in_pidfile = fd;
	else if (len == 11 && strncmp(name, "pfd-control", len) == 0)
		takeover_in.in_control = fd;
	else if (len == 9 && strncmp(name, "pfd-agent", len) == 0)
		takeover_in.in_agent = fd;
	else if (len == 11 && strncmp(name, "pfd-metrics", len) == 0)
		takeover_in.in_metrics = fd;
	else if (len == 9 && strncmp(name, "pfd-board", len) == 0)
		takeover_in.in_board = fd;
	else if (len == 9 && strncmp(name, "pfd-state", len) == 0)
		takeover_in.in_state = fd;
	else {
		log_warnx("upgrade: unexpected descriptor %d named %.*s", fd,
		    (int)len, name);
		return -1;
	}
	return 0;
}

/* A TCP side door's descriptor (fd) came as the state describes it. */
static bool
takeover_door_ok(int fd, const struct handover_door *hd)
{
	if (fd == -1)
		return hd->hd_family == 0;
	return hd->hd_family == AF_INET || hd->hd_family == AF_INET6;
}

/* The descriptors that came with the state are the ones it describes. */
static bool
takeover_local_ok(const struct handover_state *hs)
{
	bool	 control = takeover_in.in_control != -1;

	if (memchr(hs->hs_control, '\0', sizeof(hs->hs_control)) == NULL)
		return false;
	if (control != (hs->hs_control[0] != '\0'))
		return false;
	return takeover_door_ok(takeover_in.in_agent, &hs->hs_agent) &&
	    takeover_door_ok(takeover_in.in_metrics, &hs->hs_metrics);
}

/* The state, mapped read-only and checked against the descriptors. */
static int
takeover_map(void)
{
	const struct handover_state	*hs;
	struct stat			 st;
	size_t				 want;
	void				*p;

	if (fstat(takeover_in.in_state, &st) == -1) {
		log_warn("fstat(handover)");
		return -1;
	}
	if ((size_t)st.st_size < sizeof(*hs) || st.st_size > HANDOVER_TEXT_MAX
	    + HANDOVER_MATERIAL_MAX + (off_t)sizeof(*hs) + (off_t)(SCOREBOARD_SLOTS *
	    sizeof(struct handover_worker)) + (off_t)(CONFIG_MAX_LISTEN *
	    sizeof(struct handover_listener))) {
		log_warnx("upgrade: a state of %lld bytes",
		    (long long)st.st_size);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
	    takeover_in.in_state, 0);
	if (p == MAP_FAILED) {
		log_warn("mmap(handover)");
		return -1;
	}
	hs = p;
	want = sizeof(*hs) + hs->hs_nlisteners *
	    sizeof(struct handover_listener) + (size_t)hs->hs_nworkers *
	    sizeof(struct handover_worker) + hs->hs_text_len +
	    hs->hs_material_len;
	if (strncmp(hs->hs_format, handover_format(), sizeof(hs->hs_format))
	    || hs->hs_nlisteners != takeover_in.in_nlisten ||
	    hs->hs_nworkers > SCOREBOARD_SLOTS ||
	    hs->hs_text_len > HANDOVER_TEXT_MAX ||
	    hs->hs_material_len > HANDOVER_MATERIAL_MAX ||
	    want != (size_t)st.st_size
	    || memchr(hs->hs_file, '\0', sizeof(hs->hs_file)) == NULL ||
	    memchr(hs->hs_pidfile, '\0', sizeof(hs->hs_pidfile)) == NULL ||
	    !takeover_local_ok(hs)) {
		log_warnx("upgrade: the state is not in format %s",
		    handover_format());
		munmap(p, (size_t)st.st_size);
		return -1;
	}
	takeover_in.in_hs = hs;
	takeover_in.in_size = (size_t)st.st_size;
	return 0;
}

/* The descriptors LISTEN_FDS and LISTEN_FDNAMES name. */
static int
takeover_fds(void)
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
		if (takeover_fd(fd, p, len) == -1)
			return -1;
		p += len + (p[len] == ':');
	}
	takeover_in.in_nfds = (int)n;
	return 0;
}

int
takeover_begin(void)
{
	if (getenv("PREFORKD_UPGRADE") == NULL)
		return 0;
	unsetenv("PREFORKD_UPGRADE");
	if (takeover_fds() == -1)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (takeover_in.in_board == -1 || takeover_in.in_state == -1) {
		log_warnx("upgrade: no scoreboard or no state handed over");
		return -1;
	}
	if (takeover_map() == -1)
		return -1;
	return 1;
}

int
takeover_fd_count(void)
{
	return takeover_in.in_nfds;
}

const char *
takeover_config_file(void)
{
	return takeover_in.in_hs->hs_file;
}

int
takeover_pidfile_fd(void)
{
	return takeover_in.in_pidfile;
}

const char *
takeover_pidfile_path(void)
{
	return takeover_in.in_pidfile != -1 &&
	    takeover_in.in_hs->hs_pidfile[0] != '\0' ?
	    takeover_in.in_hs->hs_pidfile : NULL;
}

int
takeover_board_fd(void)
{
	return takeover_in.in_board;
}

const char *
takeover_from_version(void)
{
	return takeover_in.in_hs != NULL ? takeover_in.in_hs->hs_version : "";
}

/* The serving generation's sockets, in the order its workers know. */
static int
takeover_listeners(const struct handover_parts *hp)
{
	const struct handover_listener	*hl = (const void *)
	    (takeover_in.in_hs + 1);
	struct config_listen		 cl;

	for (size_t i = 0; i < takeover_in.in_nlisten; i++, hl++) {
		memset(&cl, 0, sizeof(cl));
		cl.cl_address = (char *)hl->hl_address;
		cl.cl_port = hl->hl_port;
		cl.cl_backlog = hl->hl_backlog;
		if (memchr(hl->hl_address, '\0', sizeof(hl->hl_address)) ==
		    NULL || sockstore_adopt(&hp->hp_cur->g_ls,
		    takeover_in.in_listen[i], takeover_in.in_passed[i],
		    &cl) == -1)
			return -1;
		takeover_in.in_listen[i] = -1;
	}
	return 0;
}

static int
takeover_workers(const struct handover_parts *hp)
{
	const struct handover_state	*hs = takeover_in.in_hs;
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
		if (pool_adopt(hp->hp_pool, &w, hw->hw_slot) == -1)
			return -1;
	}
	return 0;
}

/* The configuration text the workers were started with, parsed. */
static struct config *
takeover_old_config(char *err, size_t errsize)
{
	const struct handover_state	*hs = takeover_in.in_hs;
	const char			*text = (const char *)(hs + 1) +
	    hs->hs_nlisteners * sizeof(struct handover_listener) +
	    (size_t)hs->hs_nworkers * sizeof(struct handover_worker);
	const struct config_material	 cm = { text + hs->hs_text_len,
	    hs->hs_material_len };
	struct config			*c;
	char				*copy;

	if ((copy = strndup(text, hs->hs_text_len)) == NULL) {
		snprintf(err, errsize, "strndup: %s", strerror(errno));
		return NULL;
	}
	/* No module here; the accounts are looked up again (the new image
	 * is starting, as the upgrade's check did): a worker respawned for
	 * this generation must drop to the same user.  The certificates
	 * are those the old image served, not the files as they are now. */
	c = config_load_text(hs->hs_file, copy, CONFIG_NO_MODULES |
	    CONFIG_NO_FILES, NULL, &cm, err, errsize);
	free(copy);
	/* The generation's secret, not a new one: its workers are one pool
	 * for the sessions, whichever image started them. */
	if (c != NULL) {
		memcpy(c->c_tls_secret, hs->hs_tls_secret,
		    sizeof(c->c_tls_secret));
		c->c_tls_secret_ok = hs->hs_tls_secret_ok != 0;
	}
	return c;
}

struct config *
takeover_config_fallback(const char *why)
{
	struct config	*c;
	char		 err[1024];

	if ((c = takeover_old_config(err, sizeof(err))) == NULL)
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
takeover_config(const struct handover_parts *hp)
{
	const struct handover_state	*hs = takeover_in.in_hs;
	struct config			*old;
	char				 err[1024];

	if ((old = takeover_old_config(err, sizeof(err))) == NULL) {
		log_warnx("upgrade: the configuration the workers were "
		    "started with does not load here (%s): generation=%u "
		    "keeps its workers and gets no new ones", err,
		    hs->hs_generation);
		hp->hp_cur->g_adopted = true;
		return;
	}
	config_free(hp->hp_cur->g_cfg);
	hp->hp_cur->g_cfg = old;
}

/* The address a TCP side door is bound to. */
static void
takeover_door_addr(const struct handover_door *hd, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	a->a_family = hd->hd_family;
	a->a_port = hd->hd_port;
	memcpy(a->a_bytes, hd->hd_bytes, sizeof(a->a_bytes));
}

/* The control socket, the agent and the metrics, still listening:
 * connections that came during the exec are in their backlogs. */
static void
takeover_local(const struct handover_parts *hp)
{
	const struct handover_state	*hs = takeover_in.in_hs;
	struct addr			 a;

	if (takeover_in.in_control != -1)
		control_adopt(hp->hp_control, takeover_in.in_control,
		    hs->hs_control, (dev_t)hs->hs_control_dev,
		    (ino_t)hs->hs_control_ino);
	if (takeover_in.in_agent != -1) {
		takeover_door_addr(&hs->hs_agent, &a);
		agent_adopt(hp->hp_agent, takeover_in.in_agent, &a);
	}
	if (takeover_in.in_metrics != -1) {
		takeover_door_addr(&hs->hs_metrics, &a);
		metrics_adopt(hp->hp_metrics, takeover_in.in_metrics, &a,
		    hs->hs_metrics.hd_asked);
	}
	takeover_in.in_control = takeover_in.in_agent = -1;
	takeover_in.in_metrics = -1;
}

int
takeover_adopt(const struct handover_parts *hp)
{
	const struct handover_state	*hs = takeover_in.in_hs;
	int				 rc;

	rc = takeover_listeners(hp) == -1 ||
	    takeover_workers(hp) == -1 ? EX_SOFTWARE : 0;
	if (rc == 0) {
		hp->hp_cur->g_id = hs->hs_generation;
		*hp->hp_last_id = hs->hs_last_id;
		generation_set_target(hp->hp_cur, hs->hs_target, "as the old "
		    "image had it");
		hp->hp_cur->g_announced = true;
		hp->hp_pool->p_gone = hs->hs_gone;
		*hp->hp_reloads_ok = hs->hs_reloads_ok;
		*hp->hp_reloads_failed = hs->hs_reloads_failed;
		takeover_config(hp);
		takeover_local(hp);
	}
	close(takeover_in.in_state);
	takeover_in.in_state = -1;
	return rc;
}
