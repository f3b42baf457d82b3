/* SPDX-License-Identifier: ISC */
/*
 * handover.c - the state an upgrading master hands its new image (see
 * handover.h), as the old image writes it; the new one takes it in
 * takeover.c.
 *
 * The state is one memfd: a header, then the listening sockets as the
 * configuration said them (in the order of their descriptors), the
 * workers, the configuration text and the TLS material it was checked
 * with (config.h): an upgraded image serves the certificates the old one
 * served, without opening a file.  The header also says what the
 * control socket's, the agent's and the metrics' descriptors, when they
 * come, are: the file the first was bound to, the addresses of the
 * others.  Its format name
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

#include "agent.h"
#include "control.h"
#include "generation.h"
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "scoreboard.h"
#include "status.h"

const char *
handover_format(void)
{
	static char	 format[96];

	if (format[0] == '\0')
		snprintf(format, sizeof(format), "preforkd-state-5/%zu/%zu/"
		    "%zu/%zu/%zu", sizeof(struct handover_state),
		    sizeof(struct handover_listener),
		    sizeof(struct handover_worker), sizeof(struct scoreboard),
		    sizeof(struct slot));
	return format;
}

/* A TCP side door's socket, if it listens. */
static void
handover_door(const struct sidedoor_socket *sk, struct handover_door *hd)
{
	if (sk->sk_fd == -1)
		return;
	hd->hd_family = sk->sk_addr.a_family;
	hd->hd_port = sk->sk_addr.a_port;
	hd->hd_asked = sk->sk_port;
	memcpy(hd->hd_bytes, sk->sk_addr.a_bytes, sizeof(hd->hd_bytes));
}

static void
handover_head(const struct handover_parts *hp, struct handover_state *hs)
{
	const char	*text = hp->hp_cur->g_cfg->c_text;

	memset(hs, 0, sizeof(*hs));
	snprintf(hs->hs_format, sizeof(hs->hs_format), "%s",
	    handover_format());
	hs->hs_nlisteners = (uint32_t)hp->hp_cur->g_ls.ls_n;
	hs->hs_nworkers = (uint32_t)hp->hp_pool->p_n;
	hs->hs_text_len = text != NULL ? (uint32_t)strlen(text) : 0;
	hs->hs_generation = hp->hp_cur->g_id;
	hs->hs_last_id = *hp->hp_last_id;
	hs->hs_target = hp->hp_cur->g_target;
	hs->hs_gone = hp->hp_pool->p_gone;
	hs->hs_reloads_ok = *hp->hp_reloads_ok;
	hs->hs_reloads_failed = *hp->hp_reloads_failed;
	snprintf(hs->hs_version, sizeof(hs->hs_version), "%s",
	    status_version);
	snprintf(hs->hs_file, sizeof(hs->hs_file), "%s", hp->hp_file);
	if (hp->hp_pidfile_fd != -1 && hp->hp_pidfile_path != NULL)
		snprintf(hs->hs_pidfile, sizeof(hs->hs_pidfile), "%s",
		    hp->hp_pidfile_path);
	if (hp->hp_control->ctl_door.sd_sock.sk_fd != -1) {
		memcpy(hs->hs_control, hp->hp_control->ctl_path,
		    sizeof(hs->hs_control));
		hs->hs_control_dev = hp->hp_control->ctl_dev;
		hs->hs_control_ino = hp->hp_control->ctl_ino;
	}
	handover_door(&hp->hp_agent->ag_door.sd_sock, &hs->hs_agent);
	handover_door(&hp->hp_metrics->me_door.sd_sock, &hs->hs_metrics);
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

/* The material holds keys: zeroed before it is freed. */
static void
handover_forget(char *material, size_t len)
{
	if (material != NULL)
		explicit_bzero(material, len);
	free(material);
}

int
handover_write(const struct handover_parts *hp)
{
	struct handover_state	 hs;
	char			*material;
	size_t			 mlen;
	int			 fd;

	if (config_get_material(hp->hp_cur->g_cfg, &material, &mlen) == -1 ||
	    mlen > HANDOVER_MATERIAL_MAX) {
		log_warnx("handover: the TLS material cannot be handed over");
		handover_forget(material, mlen);
		return -1;
	}

	if ((fd = memfd_create("preforkd-handover", MFD_CLOEXEC)) == -1) {
		log_warn("memfd_create(handover)");
		handover_forget(material, mlen);
		return -1;
	}
	handover_head(hp, &hs);
	hs.hs_material_len = (uint32_t)mlen;
	memcpy(hs.hs_tls_secret, hp->hp_cur->g_cfg->c_tls_secret,
	    sizeof(hs.hs_tls_secret));
	hs.hs_tls_secret_ok = hp->hp_cur->g_cfg->c_tls_secret_ok;
	if (write(fd, &hs, sizeof(hs)) != (ssize_t)sizeof(hs) ||
	    handover_write_listeners(fd, &hp->hp_cur->g_ls) == -1 ||
	    handover_write_workers(fd, hp->hp_pool) == -1 ||
	    (hs.hs_text_len > 0 && write(fd, hp->hp_cur->g_cfg->c_text,
	    hs.hs_text_len) != (ssize_t)hs.hs_text_len) ||
	    (mlen > 0 && write(fd, material, mlen) != (ssize_t)mlen)) {
		log_warn("write(handover)");
		handover_forget(material, mlen);
		close(fd);
		return -1;
	}
	handover_forget(material, mlen);
	return fd;
}

size_t
handover_fds(const struct handover_parts *hp, int state, int *fds,
    const char **names)
{
	const struct listeners	*ls = &hp->hp_cur->g_ls;
	size_t			 n = 0;

	for (size_t i = 0; i < ls->ls_n; i++) {
		fds[n] = ls->ls[i].l_fd;
		names[n++] = ls->ls[i].l_passed ? "pfd-passed" : "pfd-listen";
	}
	if (hp->hp_pidfile_fd != -1) {
		fds[n] = hp->hp_pidfile_fd;
		names[n++] = "pfd-pidfile";
	}
	if (hp->hp_control->ctl_door.sd_sock.sk_fd != -1) {
		fds[n] = hp->hp_control->ctl_door.sd_sock.sk_fd;
		names[n++] = "pfd-control";
	}
	if (hp->hp_agent->ag_door.sd_sock.sk_fd != -1) {
		fds[n] = hp->hp_agent->ag_door.sd_sock.sk_fd;
		names[n++] = "pfd-agent";
	}
	if (hp->hp_metrics->me_door.sd_sock.sk_fd != -1) {
		fds[n] = hp->hp_metrics->me_door.sd_sock.sk_fd;
		names[n++] = "pfd-metrics";
	}
	fds[n] = hp->hp_pool->p_board_fd;
	names[n++] = "pfd-board";
	fds[n] = state;
	names[n++] = "pfd-state";
	return n;
}
