/* SPDX-License-Identifier: ISC */
/*
 * sockstore.h - the listening sockets that outlive a process.  systemd
 * passes sockets at start ($LISTEN_FDS, named by $LISTEN_FDNAMES): a
 * socket unit's, or the daemon's own that it kept in systemd's file
 * descriptor store, which is how a "systemctl restart" or a crash loses no
 * connection.  An in-place upgrade hands its sockets over the same way.
 */
#ifndef PREFORKD_SOCKSTORE_H
#define PREFORKD_SOCKSTORE_H

#include <stdbool.h>

#include "listener.h"

/*
 * The sockets systemd passed (socket activation: $LISTEN_PID is ours,
 * $LISTEN_FDS counts descriptors from 3), as a set that listeners_open()
 * can take sockets from; those that $LISTEN_FDNAMES names as ours come
 * from the store (l_stored), the others from a socket unit (l_passed).
 * Returns how many, or -1 if one is unusable.
 */
int	sockstore_inherit(struct listeners *);
/* How many sockets $LISTEN_FDS passes to this process ($LISTEN_PID is
 * ours), 0 if none; -1 when the count is malformed. */
int	sockstore_passed_count(void);
/* A listening socket the master had before an upgrade, appended to set
 * as conf said it then; passed: a socket unit's originally.  (One of the
 * daemon's own is handed to the store again: the store keeps one copy.) */
int	sockstore_adopt(struct listeners *, int fd, bool passed,
	    const struct config_listen *conf);

/*
 * Hand each socket of the set that is the daemon's own (not a socket
 * unit's) to systemd's file descriptor store, once: it then outlives the
 * master, through "systemctl restart" and a crash, and the next start
 * takes it back from $LISTEN_FDS (sockstore_inherit()).  One that could
 * not be sent is tried again at the next call; without a service manager
 * this does nothing.  sockstore_close_unlisted() takes a socket that a
 * reload drops out of the store again.
 */
void	sockstore_store(struct listeners *);

/*
 * Close the set for good: a socket that keep does not list is shut down
 * first, so that it stops accepting at once although busy workers still
 * hold it, and its port can be bound again; one in the store is taken out
 * of it.  Sockets a socket unit passed are only closed: its own copy must
 * keep listening.  keep NULL: the daemon stops, and the sockets in the
 * store stay there, listening, for the next start.
 */
void	sockstore_close_unlisted(struct listeners *,
	    const struct listeners *keep);
/*
 * Close the passed sockets that cfg does not list, before the listed ones
 * are bound (one may hold a port a listed address needs: 127.0.0.1:9001
 * passed, 0.0.0.0:9001 listed), logged: connections to them would wait
 * for nobody.  One from the store is taken out of it and shut down; a
 * socket unit's stays with the socket unit.
 */
void	sockstore_drop_unlisted(struct listeners *, const struct config *);

#endif
