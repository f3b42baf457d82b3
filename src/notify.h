/*
 * notify.h - readiness and status for the service manager (sd_notify).
 * Without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef PREFORKD_NOTIFY_H
#define PREFORKD_NOTIFY_H

void	notify_ready(const char *status);
void	notify_reloading(void);
void	notify_stopping(void);
/* Never blocks: -1 when the line was dropped (send it again later). */
int	notify_status(const char *status);
/* How often the service manager wants WATCHDOG=1 from this process, in
 * seconds (half its WatchdogSec=); 0: it does not. */
double	notify_watchdog_every(void);
/* WATCHDOG=1; never blocks. */
void	notify_watchdog(void);

#endif
