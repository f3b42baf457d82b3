/*
 * conn.h - one accepted connection and I/O bounded by deadlines.
 */
#ifndef PREFORKD_CONN_H
#define PREFORKD_CONN_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#define CONN_PEER_MAX	64	/* "[ipv6]:port" */

struct conn {
	int		 cn_fd;		/* non-blocking */
	char		 cn_peer[CONN_PEER_MAX];
};

void	conn_init(struct conn *, int fd, const struct sockaddr *, socklen_t);
void	conn_format_addr(const struct sockaddr *, char *, size_t);

/*
 * Read once: > 0 bytes, 0 at EOF, -1 on error with errno set
 * (ETIMEDOUT when deadline passes first).
 */
ssize_t	conn_read(struct conn *, void *, size_t,
	    const struct timespec *deadline);

/* Write everything or fail: 0, or -1 with errno (ETIMEDOUT, EPIPE...). */
int	conn_write(struct conn *, const void *, size_t,
	    const struct timespec *deadline);

#endif
