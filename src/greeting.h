/* SPDX-License-Identifier: ISC */
/*
 * greeting.h - the greeting service's own: its configuration and its
 * message framing, for the service, its tests and its fuzz target.
 */
#ifndef PREFORKD_GREETING_H
#define PREFORKD_GREETING_H

#include <stdbool.h>
#include <stddef.h>

#define GREETING_MAX_MESSAGE	65536
#define GREETING_MAX_BANNER	1024

/* greeting = { banner; max_message; } */
struct greeting_config {
	char	*gc_banner;
	size_t	 gc_max_message;
};

/*
 * The message framing: feed received bytes in; the message ends at the
 * first NUL or LF (a CR just before the LF is dropped).  At most gm_max
 * bytes are kept, the rest are counted and discarded.
 */
struct greeting_msg {
	char	*gm_buf;	/* gm_max + 1 bytes */
	size_t	 gm_max;
	size_t	 gm_len;	/* bytes kept */
	size_t	 gm_total;	/* bytes of message received */
	bool	 gm_cr;		/* the last byte received was a CR */
	bool	 gm_done;	/* terminator seen */
};

void	greeting_msg_init(struct greeting_msg *, char *buf, size_t max);
/* Returns how many bytes were consumed (up to the terminator). */
size_t	greeting_msg_feed(struct greeting_msg *, const void *, size_t);
bool	greeting_msg_truncated(const struct greeting_msg *);

#endif
