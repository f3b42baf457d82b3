/* SPDX-License-Identifier: ISC */
/*
 * ctlclient.h - "preforkd -s": ask the running daemon through its
 * control socket (the server is control.h).
 */
#ifndef PREFORKD_CTLCLIENT_H
#define PREFORKD_CTLCLIENT_H

enum ctlclient_result {
	CTLCLIENT_OK,		/* the answer went to out_fd */
	CTLCLIENT_NOT_RUNNING,	/* no socket, or nobody answers on it */
	CTLCLIENT_DENIED,	/* by the file's mode or by the daemon */
	CTLCLIENT_BUSY,		/* the daemon has too many clients */
	CTLCLIENT_TIMEOUT,
	CTLCLIENT_REFUSED,	/* the daemon answered with an error */
	CTLCLIENT_FAILED,	/* a system call failed */
};

/*
 * Connect to path, send command, copy the answer to out_fd; an error the
 * daemon answers goes to stderr.  Everything within timeout seconds.
 */
enum ctlclient_result ctlclient_ask(const char *path, const char *command,
	    int out_fd, double timeout);

#endif
