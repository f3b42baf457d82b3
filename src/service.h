/*
 * service.h - the protocol handler interface.
 *
 * A service is a table of three functions run inside a worker.  Adding a
 * protocol means one new service_NAME.c and one line in service.c.
 */
#ifndef PREFORKD_SERVICE_H
#define PREFORKD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct conn;

struct service {
	const char	*sv_name;
	/* The client speaks first (echo): the kernel holds a connection
	 * until its first bytes arrive (TCP_DEFER_ACCEPT), so that a silent
	 * client never occupies a worker.  The greeting server speaks
	 * first and cannot wait. */
	bool		 sv_client_first;
	/* Once per worker, after privileges are dropped: 0 or -1. */
	int		(*sv_init)(const struct config *);
	/* One connection; the caller closes the socket afterwards. */
	void		(*sv_serve)(struct conn *, const struct config *);
	/* Once per worker, before it exits. */
	void		(*sv_fini)(void);
};

extern const struct service service_greeting;
extern const struct service service_echo;

const struct service	*service_find(const char *name);
/* "greeting, echo": for error messages. */
const char		*service_names(void);

/*
 * The greeting protocol's message framing, exposed for the tests: feed
 * received bytes in; the message ends at the first NUL or LF (a CR just
 * before the LF is dropped).  At most gm_max bytes are kept, the rest are
 * counted and discarded.
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
