/* SPDX-License-Identifier: ISC */
/*
 * daemon.h - start the real preforkd on a free loopback port, read its
 * log, find its workers in /proc, stop it.  Every wait has a deadline.
 */
#ifndef PREFORKD_TESTS_DAEMON_H
#define PREFORKD_TESTS_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct daemon {
	pid_t	 d_pid;
	int	 d_port;		/* of the first listener */
	char	 d_dir[64];		/* private scratch directory */
	char	 d_conf[128];
	char	 d_log[128];		/* its stderr (-e) */
	char	 d_exe[256];		/* the binary; "": $PREFORKD */
	bool	 d_syslog;		/* without -e: log to syslog */
};

/* Path of a built program: $NAME from the environment, or fallback. */
const char	*prog(const char *env, const char *fallback);

/* Write d_conf: a loopback listener on port 0, then extra. */
void	daemon_write_config(struct daemon *, const char *extra);
/* Start with d_conf and wait for "ready"; asserts on failure. */
void	daemon_start(struct daemon *, const char *extra);
void	daemon_start_args(struct daemon *, const char *extra,
	    const char *const *env);
/* Run in the daemon's process just before exec (limits, identity). */
extern void	(*daemon_pre_exec)(void);
/* Start under prefix (e.g. unshare ...) without waiting for it. */
void	daemon_launch(struct daemon *, const char *extra,
	    const char *const *env, const char *const *prefix);
/*
 * Without -e, in a mount namespace (root only) where /dev/log is the
 * socket d_dir/log, which the caller has bound: the daemon's syslog
 * lines come to the test.  Nothing goes to d_log.
 */
void	daemon_launch_syslog(struct daemon *, const char *extra);
/* After daemon_launch(): wait for "ready", then read d_port. */
void	daemon_wait_ready(struct daemon *, double secs);
/* Wait for the daemon to exit; returns the wait status. */
int	daemon_wait(struct daemon *, double secs);
/* The log so far (static buffer). */
const char *daemon_log(struct daemon *);
/* Its last few KiB, for failure messages. */
const char *daemon_log_tail(struct daemon *);
bool	daemon_log_wait(struct daemon *, const char *needle, double secs);
int	daemon_log_count(struct daemon *, const char *needle);
/* Wait until needle is in the log at least n times. */
bool	daemon_log_wait_count(struct daemon *, const char *needle, int n,
	    double secs);
/* The generation the daemon settled on after its reloads (each one it
 * logged as begun), or -1 if it did not settle within secs. */
int	daemon_settled_generation(struct daemon *, double secs);
/* A copy of a built program in d_dir, which every user can reach (the
 * build may sit in a directory only its owner can enter). */
const char *daemon_copy_program(struct daemon *, const char *env,
	    const char *fallback);
/* For daemon_pre_exec (the test runs as root): the daemon, master
 * included, as "nobody" from the start, without supplementary groups or
 * capabilities, as a service manager's dynamic user runs it.  Run a copy
 * of the program (daemon_copy_program()). */
void	daemon_become_nobody(void);
/* Send signo and wait for the exit; returns the wait status. */
int	daemon_stop(struct daemon *, int signo, double secs);
void	daemon_cleanup(struct daemon *);

/*
 * A failed test shows the logs of the daemons it launched: the runner
 * calls daemon_watch_init() before srunner_run_all(), and after it
 * daemon_watch_report(), which prints each one's pid and state, files
 * and the last lines of its log (see daemon.c).
 */
void	daemon_watch_init(void);
void	daemon_watch_report(void);

/* Children of pid, from /proc; returns how many. */
size_t	proc_children(pid_t pid, pid_t *out, size_t max);
bool	proc_alive(pid_t pid);
/* Wait until pid has n children (all ready to be counted). */
bool	proc_wait_children(pid_t pid, size_t n, double secs);

/* A number from /proc/PID/status ("VmRSS:" in KiB, ...). */
long	proc_status_long(pid_t pid, const char *key);
/* CPU time of pid so far, in clock ticks (user + system). */
long	proc_cpu_ticks(pid_t pid);

int	tcp_connect(const char *addr, int port);
/* From source address src (any 127/8 address is ours) to 127.0.0.1:port,
 * reads and writes bounded by rcv_secs. */
int	tcp_connect_from(const char *src, int port, int rcv_secs);
/* Read to the first NUL (included) or EOF; returns bytes read. */
ssize_t	read_banner(int fd, char *buf, size_t size);
/* Read until EOF or the peer resets; returns bytes read. */
ssize_t	read_all(int fd, char *buf, size_t size);

void	sleep_ms(int ms);
/* A loopback port that was free a moment ago. */
int	free_port(void);
/* A listening socket on a free loopback port, held until closed (a port
 * that is taken, a server that never speaks, a socket to pass on). */
int	tcp_listener(int *port);
/* One whole greeting exchange: 0 when the banner was right and the
 * server closed after the message. */
int	greet(int port, const char *msg, size_t len);

/* Run a program, capture stdout+stderr; returns the wait status. */
int	run_capture(const char *const *argv, char *out, size_t size);

/* The closed-loop load generator: CONNS clients for SECS, its RESULT
 * line to out; wait for it (successes, errors), or kill it. */
pid_t	load_start(int port, int conns, double secs, const char *out);
void	load_wait(pid_t, const char *out, long *ok, long *errors);
void	load_kill(pid_t);

struct Suite;
struct Suite	*serving_suite(void);
struct Suite	*lifecycle_suite(void);
struct Suite	*hostile_suite(void);
struct Suite	*reliability_suite(void);
struct Suite	*local_suite(void);
struct Suite	*saturation_suite(void);
struct Suite	*files_suite(void);
struct Suite	*pool_suite(void);
struct Suite	*control_suite(void);
struct Suite	*balancer_suite(void);
struct Suite	*upgrade_suite(void);
struct Suite	*modules_suite(void);
struct Suite	*logging_suite(void);
struct Suite	*board_suite(void);
struct Suite	*scrape_suite(void);
struct Suite	*tls_suite(void);

#endif
