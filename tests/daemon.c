/* SPDX-License-Identifier: ISC */
/*
 * daemon.c - the integration tests' helpers (see daemon.h).
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

#define BANNER		"Welcome to Network Server!!"

static void	watch_launched(const struct daemon *);
static void	watch_look(const struct daemon *);
static void	watch_reaped(const struct daemon *, int status);
static void	watch_drop(const struct daemon *);

const char *
prog(const char *env, const char *fallback)
{
	const char	*p = getenv(env);

	return p != NULL ? p : fallback;
}

void
daemon_write_config(struct daemon *d, const char *extra)
{
	FILE	*fp;

	if (d->d_dir[0] == '\0') {
		snprintf(d->d_dir, sizeof(d->d_dir), "/tmp/preforkd-it.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(d->d_dir));
		chmod(d->d_dir, 0755);
		snprintf(d->d_conf, sizeof(d->d_conf), "%s/preforkd.conf",
		    d->d_dir);
		snprintf(d->d_log, sizeof(d->d_log), "%s/stderr.log",
		    d->d_dir);
	}
	ck_assert_ptr_nonnull(fp = fopen(d->d_conf, "w"));
	fprintf(fp, "%s\n", extra != NULL ? extra : "");
	if (extra == NULL || strstr(extra, "listen") == NULL)
		fprintf(fp, "listen = { address = \"127.0.0.1\"; port = 0; };\n");
	ck_assert_int_eq(fclose(fp), 0);
}

void
daemon_start(struct daemon *d, const char *extra)
{
	daemon_start_args(d, extra, NULL);
}

void	(*daemon_pre_exec)(void);

/* $PREFORKD_WRAPPER (e.g. "valgrind -q ...") goes before everything. */
static size_t
daemon_wrapper(const char **argv, size_t max)
{
	static char	 words[1024];
	const char	*w = getenv("PREFORKD_WRAPPER");
	size_t		 n = 0;
	char		*tok, *save;

	if (w == NULL || *w == '\0')
		return 0;
	snprintf(words, sizeof(words), "%s", w);
	for (tok = strtok_r(words, " ", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, " ", &save))
		argv[n++] = tok;
	return n;
}

void
daemon_launch(struct daemon *d, const char *extra, const char *const *env,
    const char *const *prefix)
{
	const char	*argv[48];
	size_t		 n = 0;
	int		 fd;

	/* A scratch directory made before (daemon_write_config) stays. */
	d->d_pid = 0;
	d->d_port = 0;
	daemon_write_config(d, extra);
	for (; prefix != NULL && *prefix != NULL && n < 16; prefix++)
		argv[n++] = *prefix;
	n += daemon_wrapper(argv + n, 24);
	argv[n++] = d->d_exe[0] != '\0' ? d->d_exe :
	    prog("PREFORKD", "./preforkd");
	argv[n++] = "-f";
	if (!d->d_syslog)
		argv[n++] = "-e";
	argv[n++] = "-c";
	argv[n++] = d->d_conf;
	argv[n] = NULL;
	ck_assert_int_ne(d->d_pid = fork(), -1);
	if (d->d_pid == 0) {
		/* If the test dies, the daemon goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(d->d_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, STDERR_FILENO);
		fd = open("/dev/null", O_RDWR);
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		for (; env != NULL && *env != NULL; env++)
			putenv((char *)*env);
		if (daemon_pre_exec != NULL)
			daemon_pre_exec();
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	watch_launched(d);
}

/*
 * A tmpfs on /dev, with the few devices the daemon opens: /dev/log may
 * not exist to bind over, and creating it would create it on the host.
 */
static const char devlog_script[] =
    "set -e\n"
    "D=$0\n"
    "mount --make-rprivate /\n"
    "mkdir -p \"$D/olddev\"\n"
    "mount --rbind /dev \"$D/olddev\"\n"
    "mount -t tmpfs tmpfs /dev\n"
    "for n in null zero random urandom; do\n"
    "  touch /dev/$n; mount --bind \"$D/olddev/$n\" /dev/$n\n"
    "done\n"
    "touch /dev/log; mount --bind \"$D/log\" /dev/log\n"
    "umount -l \"$D/olddev\"\n"
    "exec \"$@\"\n";

void
daemon_launch_syslog(struct daemon *d, const char *extra)
{
	const char	*prefix[] = { "unshare", "--mount", "sh", "-c",
	    devlog_script, NULL, NULL };

	daemon_write_config(d, NULL);		/* the scratch directory */
	prefix[5] = d->d_dir;
	d->d_syslog = true;
	daemon_launch(d, extra, NULL, prefix);
}

void
daemon_start_args(struct daemon *d, const char *extra,
    const char *const *env)
{
	daemon_launch(d, extra, env, NULL);
	daemon_wait_ready(d, 10);
}

void
daemon_wait_ready(struct daemon *d, double secs)
{
	const char	*p, *q;

	ck_assert_msg(daemon_log_wait(d, "ready generation=1", secs),
	    "not ready; log:\n%s", daemon_log_tail(d));
	p = strstr(daemon_log(d), "listening on ");
	ck_assert_ptr_nonnull(p);
	p += strlen("listening on ");
	/* "127.0.0.1:PORT" or "[::1]:PORT": the port follows the last
	 * colon before the space. */
	ck_assert_ptr_nonnull(q = strchr(p, ' '));
	ck_assert_ptr_nonnull(q = memrchr(p, ':', (size_t)(q - p)));
	d->d_port = atoi(q + 1);
	ck_assert_int_gt(d->d_port, 0);
}

/*
 * The log so far.  A saturated daemon logs thousands of lines a second
 * and the tests poll the log every few milliseconds: read only what was
 * appended since the last call (the buffer is kept per log file).
 */
const char *
daemon_log(struct daemon *d)
{
	static char	*buf;
	static size_t	 cap, len;
	static char	 path[sizeof(d->d_log)];
	static ino_t	 ino;
	struct stat	 st;
	size_t		 n;
	FILE		*fp;

	watch_look(d);
	if (buf == NULL)
		ck_assert_ptr_nonnull(buf = calloc(1, cap = 65536));
	if ((fp = fopen(d->d_log, "r")) == NULL || fstat(fileno(fp), &st)
	    == -1 || strcmp(path, d->d_log) != 0 || st.st_ino != ino ||
	    (size_t)st.st_size < len) {
		snprintf(path, sizeof(path), "%s", d->d_log);
		ino = fp != NULL ? st.st_ino : 0;
		len = 0;
	}
	if (fp != NULL && (size_t)st.st_size + 1 > cap) {
		cap = (size_t)st.st_size + 65536;
		ck_assert_ptr_nonnull(buf = realloc(buf, cap));
	}
	if (fp != NULL) {
		if (fseeko(fp, (off_t)len, SEEK_SET) == 0) {
			n = fread(buf + len, 1, cap - 1 - len, fp);
			len += n;
		}
		fclose(fp);
	}
	buf[len] = '\0';
	return buf;
}

const char *
daemon_log_tail(struct daemon *d)
{
	const char	*log = daemon_log(d);
	size_t		 len = strlen(log);

	/* Check's messages have a size limit: the end is what matters. */
	return len > 3000 ? log + len - 3000 : log;
}

bool
daemon_log_wait(struct daemon *d, const char *needle, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	size_t		 from = 0, len;
	const char	*log;

	/* Search only what is new, less a needle's length of overlap. */
	do {
		log = daemon_log(d);
		len = strlen(log);
		if (from > len)
			from = 0;
		if (strstr(log + from, needle) != NULL)
			return true;
		from = len > strlen(needle) ? len - strlen(needle) : 0;
		sleep_ms(10);
	} while (clock_ms_until(end) > 0);
	return false;
}

int
daemon_settled_generation(struct daemon *d, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	char		 want[64];
	int		 reloads;

	/* HUPs that arrive together are one reload, and one that arrives
	 * while a generation starts is done after it: count the reloads
	 * the daemon began, wait for the generation that matches, and
	 * again if another reload began meanwhile. */
	do {
		reloads = daemon_log_count(d, "reloading ");
		snprintf(want, sizeof(want), "ready generation=%d ",
		    reloads + 1);
		if (daemon_log_wait(d, want, 1) &&
		    daemon_log_count(d, "reloading ") == reloads)
			return reloads + 1;
	} while (clock_ms_until(end) > 0);
	return -1;
}

void
daemon_become_nobody(void)
{
	struct passwd	*pw = getpwnam("nobody");

	if (pw == NULL || setgroups(0, NULL) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
		_exit(126);
}

const char *
daemon_copy_program(struct daemon *d, const char *env, const char *fallback)
{
	static char	 path[256];
	const char	*from = prog(env, fallback);
	char		 buf[65536];
	ssize_t		 n;
	int		 in, out;

	daemon_write_config(d, NULL);		/* the scratch directory */
	snprintf(path, sizeof(path), "%s/%s", d->d_dir, strrchr(from, '/') ?
	    strrchr(from, '/') + 1 : from);
	ck_assert_int_ne(in = open(from, O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_ne(out = open(path, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0755), -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
	return path;
}

pid_t
load_start(int port, int conns, double secs, const char *out)
{
	char	 p[16], c[16], s[16];
	pid_t	 pid;
	int	 fd;

	snprintf(p, sizeof(p), "%d", port);
	snprintf(c, sizeof(c), "%d", conns);
	snprintf(s, sizeof(s), "%.1f", secs);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		/* Bounded by -d, and by the test's own life. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, STDOUT_FILENO);
		execl(prog("LOADGEN", "./tests/loadgen"), "loadgen", "-p", p,
		    "-c", c, "-d", s, "-w", "0", (char *)NULL);
		_exit(127);
	}
	return pid;
}

void
load_wait(pid_t pid, const char *out, long *ok, long *errors)
{
	char	 line[512];
	FILE	*fp;
	int	 status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_ptr_nonnull(fp = fopen(out, "r"));
	*ok = *errors = -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "RESULT ", 7) == 0) {
			ck_assert_int_eq(sscanf(strstr(line, "conns="),
			    "conns=%ld", ok), 1);
			ck_assert_int_eq(sscanf(strstr(line, "errors="),
			    "errors=%ld", errors), 1);
		}
	fclose(fp);
	ck_assert_int_ge(*ok, 0);
}

void
load_kill(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int
daemon_log_count(struct daemon *d, const char *needle)
{
	const char	*p = daemon_log(d);
	int		 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	return n;
}

bool
daemon_log_wait_count(struct daemon *d, const char *needle, int n,
    double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);

	do {
		if (daemon_log_count(d, needle) >= n)
			return true;
		sleep_ms(20);
	} while (clock_ms_until(end) > 0);
	return false;
}

int
daemon_stop(struct daemon *d, int signo, double secs)
{
	ck_assert_int_eq(kill(d->d_pid, signo), 0);
	return daemon_wait(d, secs);
}

int
daemon_wait(struct daemon *d, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	int		 status;
	pid_t		 r;

	do {
		if ((r = waitpid(d->d_pid, &status, WNOHANG)) == d->d_pid) {
			watch_reaped(d, status);
			d->d_pid = 0;
			return status;
		}
		sleep_ms(5);
	} while (clock_ms_until(end) > 0);
	ck_abort_msg("preforkd did not exit within %.1fs; log:\n%s", secs,
	    daemon_log_tail(d));
	return -1;
}

void
daemon_cleanup(struct daemon *d)
{
	char	 path[512];

	watch_drop(d);
	if (d->d_pid > 0) {
		kill(d->d_pid, SIGKILL);
		waitpid(d->d_pid, NULL, 0);
	}
	if (d->d_dir[0] != '\0') {
		DIR		*dir = opendir(d->d_dir);
		struct dirent	*e;

		while (dir != NULL && (e = readdir(dir)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", d->d_dir,
			    e->d_name);
			if (unlink(path) == -1 && errno == EISDIR)
				rmdir(path);
		}
		if (dir != NULL)
			closedir(dir);
		rmdir(d->d_dir);
	}
	memset(d, 0, sizeof(*d));
}

/* The ppid is the 4th field of /proc/PID/stat, after "(comm)". */
static pid_t
proc_ppid(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*fp;
	int	 ppid = -1;
	char	 state;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), fp) != NULL &&
	    (p = strrchr(buf, ')')) != NULL &&
	    sscanf(p + 1, " %c %d", &state, &ppid) == 2 && state == 'Z')
		ppid = -1;		/* a zombie serves nobody */
	fclose(fp);
	return ppid;
}

size_t
proc_children(pid_t pid, pid_t *out, size_t max)
{
	DIR		*dir = opendir("/proc");
	struct dirent	*e;
	size_t		 n = 0;

	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL) {
		pid_t	 child = (pid_t)atoi(e->d_name);

		if (child > 0 && proc_ppid(child) == pid) {
			if (n < max)
				out[n] = child;
			n++;
		}
	}
	closedir(dir);
	return n;
}

bool
proc_alive(pid_t pid)
{
	char		 path[64];
	struct stat	 st;

	snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
	if (stat(path, &st) == -1)
		return false;
	return proc_ppid(pid) != -1;
}

bool
proc_wait_children(pid_t pid, size_t n, double secs)
{
	struct timespec	 end = clock_after(clock_now(), secs);
	pid_t		 kids[1024];

	do {
		if (proc_children(pid, kids, 1024) == n)
			return true;
		sleep_ms(10);
	} while (clock_ms_until(end) > 0);
	return false;
}

int
tcp_connect_from(const char *src, int port, int rcv_secs)
{
	struct sockaddr_in	 sin;
	struct timeval		 tv = { rcv_secs, 0 };
	int			 fd;

	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0),
	    -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, src, &sin.sin_addr), 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sin.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr), 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	return fd;
}

int
tcp_connect(const char *addr, int port)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval		 tv = { 5, 0 };
	socklen_t		 len;
	int			 fd;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		len = sizeof(*sin);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr),
		    1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		len = sizeof(*sin6);
	}
	ck_assert_int_ne(fd = socket(ss.ss_family, SOCK_STREAM, 0), -1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

ssize_t
read_banner(int fd, char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < size) {
		if ((n = recv(fd, buf + len, 1, 0)) <= 0)
			break;
		if (buf[len++] == '\0')
			break;
	}
	return (ssize_t)len;
}

ssize_t
read_all(int fd, char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < size && (n = recv(fd, buf + len, size - len, 0)) > 0)
		len += (size_t)n;
	return (ssize_t)len;
}

int
run_capture(const char *const *argv, char *out, size_t size)
{
	int	 p[2], status;
	size_t	 len = 0;
	ssize_t	 n;
	pid_t	 pid;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], STDOUT_FILENO);
		dup2(p[1], STDERR_FILENO);
		close(p[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	while (len < size - 1 && (n = read(p[0], out + len,
	    size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

void
sleep_ms(int ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int
greet(int port, const char *msg, size_t len)
{
	char	 buf[64];
	int	 fd;

	if ((fd = tcp_connect("127.0.0.1", port)) == -1)
		return -1;
	if (read_banner(fd, buf, sizeof(buf)) != sizeof(BANNER) ||
	    memcmp(buf, BANNER, sizeof(BANNER)) != 0 ||
	    send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	/* The server closes after the message: EOF, not more bytes. */
	if (recv(fd, buf, sizeof(buf), 0) != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
tcp_listener(int *port)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	socklen_t		 len = sizeof(sin);
	int			 fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ne(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

int
free_port(void)
{
	int	 port;

	close(tcp_listener(&port));
	return port;
}

long
proc_status_long(pid_t pid, const char *key)
{
	char	 path[64], line[256];
	long	 v = -1;
	FILE	*fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, strlen(key)) == 0) {
			v = atol(line + strlen(key));
			break;
		}
	fclose(fp);
	return v;
}

long
proc_cpu_ticks(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut = 0, st = 0;
	FILE		*fp;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	ck_assert_ptr_nonnull(fp = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	ck_assert_ptr_nonnull(p = strrchr(buf, ')'));
	/* utime and stime: fields 14 and 15, counted from the state (3). */
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %lu %lu", &ut, &st), 2);
	return (long)(ut + st);
}

/*
 * Failure reports.  A failed assertion names what the test saw; the
 * daemon's log says why.  So after Check's list of failures the runner
 * prints, for each daemon that a failed test launched and did not clean
 * up, its pid, whether it was still running, its files, and the last
 * lines of its log.
 *
 * Check runs each test in a process of its own (CK_FORK, the default)
 * and leaves that process no last word: a failed assertion ends it with
 * _exit(), a timeout with SIGKILL to its process group; neither runs an
 * atexit() handler or the teardown.  So the test process only keeps
 * records, in memory it shares with the runner (mapped by the runner
 * before it forks, in daemon_watch_init()): one per daemon it launches,
 * updated each time it reads that daemon's log (running, or exited and
 * how: waitid() with WNOWAIT, which leaves the child to be reaped) or
 * reaps it, dropped by daemon_cleanup().  A test process that ends well
 * (exit status 0, which on_exit() sees) drops what is left of its
 * records; any other end leaves them for daemon_watch_report(), which
 * the runner calls once the tests have run.  A failed test's scratch
 * directory stays (no teardown ran), so the whole log can be read too.
 *
 * Without a process per test (CK_FORK=no) a failed test still runs its
 * teardown, which drops the records: only daemons that no teardown
 * cleaned up are reported then.
 */
#define WATCH_RECORDS	64
#define WATCH_LINES	40		/* of each log */
#define WATCH_BYTES	16384		/* read at most, from its end */

enum watch_state {
	WATCH_RUNNING,			/* when the test last looked */
	WATCH_EXITED,			/* by then, not reaped */
	WATCH_REAPED			/* by the test: daemon_wait() */
};

struct watch_rec {
	unsigned		 wr_test;	/* the test process; 0: free */
	const struct daemon	*wr_key;	/* its struct, in that process */
	char			 wr_name[64];	/* the test's */
	struct daemon		 wr_d;		/* as launched */
	enum watch_state	 wr_state;
	int			 wr_status;	/* as waitpid() gives it */
};

struct watch {
	unsigned		 w_tests;	/* test processes that recorded */
	unsigned		 w_lost;	/* records that found no room */
	struct watch_rec	 w_rec[WATCH_RECORDS];
};

static struct watch	*watch;		/* shared with the runner */
static unsigned		 watch_test;	/* this test process's number */
static pid_t		 watch_pid;	/* and its pid, for on_exit() */

void
daemon_watch_init(void)
{
	void	*p;

	p = mmap(NULL, sizeof(*watch), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "daemon_watch_init: mmap: %s; failed tests "
		    "will not show their daemons' logs\n", strerror(errno));
		return;
	}
	watch = p;
}

/* At a test process's exit(), from Check after the teardown or from the
 * test itself: a status of 0 is a pass, and nothing is left to show. */
static void
watch_exit(int status, void *arg)
{
	(void)arg;
	if (status != 0 || getpid() != watch_pid)
		return;
	for (size_t i = 0; i < WATCH_RECORDS; i++)
		if (watch->w_rec[i].wr_test == watch_test)
			watch->w_rec[i].wr_test = 0;
}

static struct watch_rec *
watch_find(const struct daemon *d, bool add)
{
	struct watch_rec	*r, *room = NULL;

	if (watch == NULL)
		return NULL;
	if (watch_pid != getpid()) {
		if (!add)
			return NULL;	/* nothing recorded by this process */
		/* Its first record: number the test process (tests run one
		 * after the other), and have its exit status looked at. */
		if (on_exit(watch_exit, NULL) != 0) {
			fprintf(stderr, "watch_find: on_exit failed\n");
			return NULL;
		}
		watch_pid = getpid();
		watch_test = ++watch->w_tests;
	}
	for (size_t i = 0; i < WATCH_RECORDS; i++) {
		r = &watch->w_rec[i];
		if (r->wr_test == watch_test && r->wr_key == d)
			return r;
		if (r->wr_test == 0 && room == NULL)
			room = r;
	}
	if (!add)
		return NULL;
	if (room == NULL) {
		watch->w_lost++;
		return NULL;
	}
	room->wr_test = watch_test;
	room->wr_key = d;
	return room;
}

static void
watch_launched(const struct daemon *d)
{
	struct watch_rec	*r;
	const char		*name;

	if ((r = watch_find(d, true)) == NULL)
		return;
	name = tcase_name();
	snprintf(r->wr_name, sizeof(r->wr_name), "%s", name != NULL ? name :
	    "?");
	r->wr_d = *d;
	r->wr_state = WATCH_RUNNING;
	r->wr_status = 0;
}

static void
watch_look(const struct daemon *d)
{
	struct watch_rec	*r;
	siginfo_t		 si;

	if (d->d_pid <= 0 || (r = watch_find(d, false)) == NULL)
		return;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)d->d_pid, &si, WEXITED | WNOHANG | WNOWAIT)
	    == -1)
		return;			/* not this process's child */
	if (si.si_pid == 0) {
		r->wr_state = WATCH_RUNNING;
		return;
	}
	r->wr_state = WATCH_EXITED;
	if (si.si_code == CLD_EXITED)
		r->wr_status = W_EXITCODE(si.si_status, 0);
	else
		r->wr_status = W_EXITCODE(0, si.si_status) |
		    (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
}

static void
watch_reaped(const struct daemon *d, int status)
{
	struct watch_rec	*r;

	if ((r = watch_find(d, false)) == NULL)
		return;
	r->wr_state = WATCH_REAPED;
	r->wr_status = status;
}

static void
watch_drop(const struct daemon *d)
{
	struct watch_rec	*r;

	if ((r = watch_find(d, false)) != NULL)
		r->wr_test = 0;
}

static void
watch_print_state(const struct watch_rec *r)
{
	int	 st = r->wr_status;

	fprintf(stderr, "%s: preforkd pid %ld ", r->wr_name,
	    (long)r->wr_d.d_pid);
	if (r->wr_state == WATCH_RUNNING) {
		fprintf(stderr, "was running when the test last looked\n");
		return;
	}
	if (WIFEXITED(st))
		fprintf(stderr, "exited with status %d", WEXITSTATUS(st));
	else
		fprintf(stderr, "was killed by signal %d (%s%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)), WCOREDUMP(st) ? ", core dumped" :
		    "");
	fprintf(stderr, r->wr_state == WATCH_REAPED ? ", reaped by the "
	    "test\n" : " before the test last looked\n");
}

/* The last WATCH_LINES lines of path, indented, so that no line of a
 * log reads as one of Check's. */
static void
watch_print_tail(const char *path)
{
	char	 buf[WATCH_BYTES + 1], *p, *nl;
	off_t	 end, from;
	ssize_t	 n;
	int	 fd, lines = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "    (open %s: %s)\n", path, strerror(errno));
		return;
	}
	if ((end = lseek(fd, 0, SEEK_END)) == -1) {
		fprintf(stderr, "    (lseek %s: %s)\n", path, strerror(errno));
		close(fd);
		return;
	}
	from = end > WATCH_BYTES ? end - WATCH_BYTES : 0;
	if ((n = pread(fd, buf, WATCH_BYTES, from)) == -1) {
		fprintf(stderr, "    (pread %s: %s)\n", path, strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	buf[n] = '\0';
	if (n == 0)
		fprintf(stderr, "    (empty)\n");
	/* Back from the end to the start of the last WATCH_LINES lines. */
	p = buf + n;
	if (p > buf && p[-1] == '\n')
		p--;			/* the end of the last line */
	while (p > buf && lines < WATCH_LINES)
		if (*--p == '\n')
			lines++;
	if (*p == '\n')
		p++;
	else if (from > 0)		/* the first line, cut by the read */
		fprintf(stderr, "    | [...]\n");
	for (; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL) {
			fprintf(stderr, "    | %s\n", p);
			break;
		}
		fprintf(stderr, "    | %.*s\n", (int)(nl - p), p);
	}
}

void
daemon_watch_report(void)
{
	const struct watch_rec	*r;
	int			 shown = 0;

	if (watch == NULL)
		return;
	fflush(stdout);			/* Check's list of failures first */
	for (size_t i = 0; i < WATCH_RECORDS; i++) {
		r = &watch->w_rec[i];
		if (r->wr_test == 0)
			continue;
		if (shown++ == 0)
			fprintf(stderr, "\nThe daemons of the failed tests, "
			    "with the last %d lines of their logs:\n",
			    WATCH_LINES);
		fprintf(stderr, "\n");
		watch_print_state(r);
		fprintf(stderr, "    dir %s, conf %s%s%s\n", r->wr_d.d_dir,
		    r->wr_d.d_conf, r->wr_d.d_exe[0] != '\0' ? ", binary " :
		    "", r->wr_d.d_exe);
		fprintf(stderr, "    log %s:\n", r->wr_d.d_log);
		watch_print_tail(r->wr_d.d_log);
	}
	if (watch->w_lost > 0)
		fprintf(stderr, "\n(%u more daemons found no room for a "
		    "record)\n", watch->w_lost);
	fflush(stderr);
}
