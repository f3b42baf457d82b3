/* SPDX-License-Identifier: ISC */
/*
 * preforkd.c - command line, then hand over to the master.
 */
#include "autoconf.h"

#include <errno.h>
#include <libconfig.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "confcheck.h"
#include "config.h"
#include "control.h"
#include "ctlclient.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pidfile.h"
#include "procfs.h"
#include "proctitle.h"
#include "sockstore.h"
#include "status.h"
#include "supervisor.h"
#include "takeover.h"
#include "upgrade.h"

/* How long -s status|metrics waits for the daemon's answer. */
#define ASK_TIMEOUT	5.0
/* The control socket under the packaged unit (RuntimeDirectory=). */
#define PREFORKD_CONTROL_DEFAULT	"/run/preforkd/control"
/* -s status: not running, as an init script's status action says. */
#define EXIT_NOT_RUNNING	3

/*
 * What -s does: send a signal, or ask the control socket.  "status"
 * asks the control socket when one is configured; without one it only
 * tells, from the pid file, whether the daemon runs.
 */
static const struct command {
	const char	*cmd_name;
	int		 cmd_signo;
	bool		 cmd_ask;
} commands[] = {
	{ "reload", SIGHUP, false },
	{ "stop", SIGTERM, false },
	{ "quit", SIGQUIT, false },
	{ "upgrade", SIGUSR2, false },
	{ "status", 0, true },
	{ "metrics", 0, true },
	{ NULL, 0, false }
};

struct options {
	const char				*o_file;
	bool					 o_daemon;
	bool					 o_stderr;
	bool					 o_test;
	const struct command		*o_command;
	const char			*o_socket;	/* -S */
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: preforkd [-f | -d] [-e] [-t] [-c file] "
	    "[-s reload|stop|quit|upgrade|status|metrics [-S socket]] [-h] "
	    "[-V]\n"
	    "  -c file  configuration file (default %s)\n"
	    "  -f       stay in the foreground (default)\n"
	    "  -d       daemonize and write the pid file\n"
	    "  -e       log to stderr instead of syslog\n"
	    "  -t       check the configuration file and exit\n"
	    "  -s cmd   signal the running daemon found by its pid file\n"
	    "           (reload, stop, quit, upgrade), or\n"
	    "           ask its control socket (status, metrics)\n"
	    "  -h       this help\n"
	    "  -V       print the version\n", PREFORKD_CONF);
}

static int
parse_options(int argc, char *argv[], struct options *o)
{
	const struct command	*cc;
	int				 ch;

	memset(o, 0, sizeof(*o));
	o->o_file = PREFORKD_CONF;
	while ((ch = getopt(argc, argv, "c:defhS:s:tV")) != -1) {
		switch (ch) {
		case 'c':
			o->o_file = optarg;
			break;
		case 'S':
			o->o_socket = optarg;
			break;
		case 'd':
			o->o_daemon = true;
			break;
		case 'e':
			o->o_stderr = true;
			break;
		case 'f':
			o->o_daemon = false;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 's':
			for (cc = commands; cc->cmd_name != NULL; cc++)
				if (strcmp(cc->cmd_name, optarg) == 0)
					break;
			if (cc->cmd_name == NULL) {
				fprintf(stderr, "preforkd: -s: unknown command "
				    "\"%s\"\n", optarg);
				return -1;
			}
			o->o_command = cc;
			break;
		case 't':
			o->o_test = true;
			break;
		case 'V':
			printf("preforkd %s\n", status_version);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "preforkd: unexpected argument \"%s\"\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}

/*
 * The classic double fork: no controlling terminal can come back.  The
 * original process waits on a pipe until the daemon has bound its sockets
 * and started (master_run() reports 0) or has failed (run() reports the
 * status after cleaning up; EOF if it died first), and exits with that
 * status: "preforkd -d" fails visibly, as scripts expect.
 */
static int
daemonize(int *report_fd)
{
	unsigned char	 status;
	int		 fd, p[2];
	ssize_t		 n;

	if (pipe2(p, O_CLOEXEC) == -1) {
		log_warn("pipe2");
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		switch (fork()) {
		case -1:
			log_warn("fork");
			return -1;
		case 0:
			break;
		default:
			if (i == 1)
				_exit(0);
			close(p[1]);
			while ((n = read(p[0], &status, 1)) == -1 &&
			    errno == EINTR)
				;
			if (n != 1)
				status = EX_OSERR;
			if (status != 0)
				fprintf(stderr, "preforkd: failed to start "
				    "(status %d); the system log says why\n",
				    status);
			_exit(status);
		}
		if (i == 0 && setsid() == -1) {
			log_warn("setsid");
			return -1;
		}
	}
	close(p[0]);
	*report_fd = p[1];
	umask(022);
	if (chdir("/") == -1) {
		log_warn("chdir(/)");
		return -1;
	}
	if ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("open(/dev/null)");
		return -1;
	}
	for (int std = 0; std < 3; std++)
		if (dup2(fd, std) == -1) {
			log_warn("dup2");
			return -1;
		}
	if (fd > 2)
		close(fd);
	return 0;
}

/*
 * -s: the signal goes through a pidfd opened before the pid was checked,
 * so it reaches the process that was checked or nobody.
 */
static int
command_signal(const struct config *cfg, const struct command *cc)
{
	pid_t	 pid;
	int	 pidfd, status = 0;

	if (cfg->c_pid_file == NULL) {
		log_warnx("%s sets no pid_file: cannot find the running "
		    "daemon", cfg->c_file);
		return EX_CONFIG;
	}
	switch (pidfile_running(cfg->c_pid_file, &pid, &pidfd)) {
	case PIDFILE_RUNNING:
		break;
	case PIDFILE_STALE:
		return cc->cmd_signo == 0 ? EXIT_NOT_RUNNING : EX_UNAVAILABLE;
	case PIDFILE_REFUSED:
		return EX_NOPERM;
	default:
		return EX_OSERR;
	}
	if (cc->cmd_signo == 0)
		printf("preforkd is running pid=%ld\n", (long)pid);
	else if (pidfd_send_signal(pidfd, cc->cmd_signo, NULL, 0) == -1) {
		log_warn("pidfd_send_signal(%ld, %s)", (long)pid, cc->cmd_name);
		status = EX_OSERR;
	}
	close(pidfd);
	return status;
}

/*
 * systemd names the daemon in ExecReload='s environment ($MAINPID): a
 * file with neither control nor pid_file can still be reloaded by the
 * unit, by the signal (without waiting for the outcome).
 */
static int
command_mainpid(const struct command *cc)
{
	const char	*v = getenv("MAINPID");
	char		*end;
	long		 pid;
	int		 pidfd, status = 0;

	errno = 0;
	pid = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || pid <= 1 ||
	    pid > INT_MAX) {
		log_warnx("MAINPID=%s is not a process", v);
		return EX_USAGE;
	}
	if ((pidfd = pidfd_open((pid_t)pid, 0)) == -1) {
		log_warn("pidfd_open(%ld)", pid);
		return EX_UNAVAILABLE;
	}
	if (pidfd_send_signal(pidfd, cc->cmd_signo, NULL, 0) == -1) {
		log_warn("pidfd_send_signal(%ld, %s)", pid, cc->cmd_name);
		status = EX_OSERR;
	}
	close(pidfd);
	return status;
}

/*
 * -s through the control socket: every command, when the daemon has one.
 * "reload" waits for the outcome (the new generation serves, or why not),
 * so that "systemctl reload" can report it.  Not running is
 * EXIT_NOT_RUNNING for status, as without a control socket, and
 * EX_UNAVAILABLE otherwise, as for the signals; a refused reload is
 * EX_CONFIG, as at -t.
 */
static int
command_query(const char *path, const struct command *cc)
{
	bool	 reload = strcmp(cc->cmd_name, "reload") == 0;

	switch (ctlclient_ask(path, cc->cmd_name, STDOUT_FILENO, reload ?
	    CONTROL_RELOAD_DEADLINE + ASK_TIMEOUT : ASK_TIMEOUT)) {
	case CTLCLIENT_OK:
		return 0;
	case CTLCLIENT_NOT_RUNNING:
		return strcmp(cc->cmd_name, "status") == 0 ? EXIT_NOT_RUNNING :
		    EX_UNAVAILABLE;
	case CTLCLIENT_DENIED:
		return EX_NOPERM;
	case CTLCLIENT_BUSY:
	case CTLCLIENT_TIMEOUT:
		return EX_TEMPFAIL;
	case CTLCLIENT_REFUSED:
		return reload ? EX_CONFIG : EX_PROTOCOL;
	default:
		return EX_OSERR;
	}
}

static int
command(const struct config *cfg, const struct command *cc)
{
	bool	 status = strcmp(cc->cmd_name, "status") == 0;
	int	 rc;

	if (cfg->c_control != NULL) {
		rc = command_query(cfg->c_control, cc);
		/* Nobody on the socket the file names now: the file may
		 * have moved it (systemctl reload of that very change). */
		if (rc != EX_UNAVAILABLE || cc->cmd_signo == 0)
			return rc;
		if (getenv("MAINPID") != NULL)
			return command_mainpid(cc);
		if (cfg->c_pid_file == NULL)
			return rc;
		return command_signal(cfg, cc);
	}
	if (cc->cmd_ask && !status) {
		log_warnx("%s sets no control socket: cannot ask the running "
		    "daemon for %s", cfg->c_file, cc->cmd_name);
		return EX_CONFIG;
	}
	if (cfg->c_pid_file == NULL && !status && getenv("MAINPID") != NULL)
		return command_mainpid(cc);
	if (cfg->c_pid_file == NULL) {
		log_warnx("%s sets neither control nor pid_file: cannot find "
		    "the running daemon", cfg->c_file);
		return EX_CONFIG;
	}
	return command_signal(cfg, cc);
}

/*
 * Where -s asks when the file cannot be read whole (a broken edit is
 * when status matters most): its control setting if libconfig can still
 * parse the file, else the packaged default, if a socket is there.
 */
static const char *
command_fallback_socket(const char *file, char *buf, size_t size)
{
	struct stat	 st;
	const char	*path = NULL;
	config_t	 cf;

	config_init(&cf);
	config_set_include_dir(&cf, "/dev/null");
	if (config_read_file(&cf, file) == CONFIG_TRUE &&
	    config_lookup_string(&cf, "control", &path) == CONFIG_TRUE &&
	    path[0] == '/')
		snprintf(buf, size, "%s", path);
	else
		path = NULL;
	config_destroy(&cf);
	if (path != NULL)
		return buf;
	if (stat(PREFORKD_CONTROL_DEFAULT, &st) == 0 && S_ISSOCK(st.st_mode))
		return PREFORKD_CONTROL_DEFAULT;
	return NULL;
}

/* -s: the daemon is found by -S, by the file, or as well as can be. */
static int
command_run(const struct options *o)
{
	struct config	*cfg;
	const char	*path = o->o_socket;
	char		 err[1024], buf[CONFIG_MAX_CONTROL_PATH];
	int		 status;

	/* No module, no account, no certificate: -s serves nothing. */
	if (path == NULL && (cfg = config_load_flags(o->o_file,
	    CONFIG_NO_MODULES | CONFIG_NO_NSS | CONFIG_NO_FILES, err,
	    sizeof(err))) != NULL) {
		status = command(cfg, o->o_command);
		config_free(cfg);
		return status;
	}
	if (path == NULL &&
	    (path = command_fallback_socket(o->o_file, buf, sizeof(buf))) ==
	    NULL) {
		fprintf(stderr, "preforkd: %s\n", err);
		return EX_CONFIG;
	}
	if (o->o_socket == NULL)
		log_warnx("%s; asking the daemon on %s", err, path);
	return command_query(path, o->o_command);
}

/*
 * The file to read again on SIGHUP, after chdir("/"): made absolute but
 * not resolved through symlinks, so that pointing a symlink at another
 * file and reloading loads that file.
 */
static int
absolute_path(const char *file, char *path, size_t size)
{
	char	 cwd[PATH_MAX];
	int	 n;

	if (file[0] == '/')
		n = snprintf(path, size, "%s", file);
	else if (getcwd(cwd, sizeof(cwd)) == NULL) {
		log_warn("getcwd");
		return -1;
	} else
		n = snprintf(path, size, "%s/%s", cwd, file);
	if (n < 0 || (size_t)n >= size) {
		log_warnx("%s: path too long", file);
		return -1;
	}
	return 0;
}

/*
 * Sockets systemd passed are meant for the process it started
 * ($LISTEN_PID).  Daemonizing changes the pid: hand them on to the daemon,
 * or the master would not take them, and they would stay open in it and in
 * every worker with nobody serving them.
 */
static int
daemonize_passing_sockets(int *report_fd)
{
	bool		 ours = sockstore_passed_count() != 0;
	char		 pid[32];

	if (daemonize(report_fd) == -1)
		return -1;
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (ours && setenv("LISTEN_PID", pid, 1) == -1) {
		log_warn("setenv(LISTEN_PID)");
		return -1;
	}
	return 0;
}

static int
run(struct config *cfg, const struct options *o, enum master_start start)
{
	char	 path[PATH_MAX], pidpath[PATH_MAX] = "";
	int	 pidfd = -1, report_fd = -1, status;

	if (absolute_path(o->o_file, path, sizeof(path)) == -1) {
		config_free(cfg);
		return EX_OSERR;
	}
	/* The master may replace cfg on reload; the pid file stays.  Lock
	 * it before daemonizing so that a second instance fails visibly.
	 * After an upgrade it is locked already: the descriptor came with
	 * its lock, and the daemon is a daemon already. */
	if (start == MASTER_START_UPGRADE) {
		pidfd = takeover_pidfile_fd();
		if (takeover_pidfile_path() != NULL)
			snprintf(pidpath, sizeof(pidpath), "%s",
			    takeover_pidfile_path());
	} else if (cfg->c_pid_file != NULL) {
		snprintf(pidpath, sizeof(pidpath), "%s", cfg->c_pid_file);
		if ((status = pidfile_lock(pidpath, &pidfd)) != 0) {
			config_free(cfg);
			return status;
		}
	}
	if (o->o_daemon && start != MASTER_START_UPGRADE &&
	    daemonize_passing_sockets(&report_fd) == -1)
		return EX_OSERR;
	log_init("preforkd", o->o_stderr ? LOG_TO_STDERR : LOG_TO_SYSLOG,
	    cfg->c_log_facility, cfg->c_log_level);
	if (pidfd != -1 && pidfile_write(pidfd, pidpath) == -1) {
		pidfile_remove(pidpath, pidfd);
		config_free(cfg);
		notify_started(&report_fd, EX_OSERR);
		return EX_OSERR;
	}
	status = master_run(cfg, path, start, pidfd, pidpath[0] != '\0' ?
	    pidpath : NULL, &report_fd);
	pidfile_remove(pidpath, pidfd);
	notify_started(&report_fd, status);	/* set-up failed */
	return status;
}

/*
 * Started with 0, 1 or 2 closed, the next file opened takes that number:
 * the pid file would become stderr and collect log lines, and -d's
 * redirection to /dev/null would close it and drop its lock.
 */
static int
std_fds_open(void)
{
	int	 fd;

	for (int std = 0; std < 3; std++) {
		if (fcntl(std, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* The lowest free number: this one, as those below are open.
		 * No O_CLOEXEC: it is a standard descriptor. */
		if ((fd = open("/dev/null", O_RDWR)) == -1) {
			log_warn("open(/dev/null)");
			return -1;
		}
		if (fd != std) {
			log_warnx("/dev/null opened as %d, not %d", fd, std);
			return -1;
		}
	}
	return 0;
}

/*
 * A descriptor inherited from whoever started us (a file opened by a
 * privileged parent, say) would reach every worker, which serve clients
 * under another uid.  Keep stdio and systemd's sockets; close the rest.
 */
static int
inherited_fds_close(enum master_start start)
{
	int	 n = start == MASTER_START_UPGRADE ? takeover_fd_count() :
	    sockstore_passed_count();

	/* A malformed count is reported when the master looks for them. */
	return procfs_close_from(3 + (n > 0 ? n : 0));
}

int
main(int argc, char *argv[])
{
	struct options		 o;
	struct config		*cfg;
	enum master_start	 start;
	char			 err[1024];
	int			 taken;

#ifdef PREFORKD_VERSION_SUFFIX
	/* A second build for the upgrade tests, told apart by -V. */
	status_version = PACKAGE_VERSION PREFORKD_VERSION_SUFFIX;
#endif
	/* First of all: nothing may be opened before this (the upgrade's
	 * hand-over opens nothing, and says what to keep). */
	if (std_fds_open() == -1)
		return EX_OSERR;
	/* argv moves to the heap: what follows reads the copies. */
	proctitle_init(argc, argv);
	if (upgrade_init(argc, argv) == -1 || (taken = takeover_begin()) == -1)
		return EX_SOFTWARE;
	/* How this start came about, decided here once and passed down. */
	start = taken == 1 ? MASTER_START_UPGRADE : MASTER_START_FRESH;
	if (inherited_fds_close(start) == -1)
		return EX_OSERR;
	if (parse_options(argc, argv, &o) == -1) {
		usage(stderr);
		return EX_USAGE;
	}
	if (o.o_test)
		start = MASTER_START_CHECK;
	if (o.o_daemon && o.o_stderr) {
		fprintf(stderr, "preforkd: -d and -e exclude each other\n");
		return EX_USAGE;
	}
	/* After an upgrade: the file the daemon read, as an absolute path
	 * (a daemon's working directory is "/", whatever -c said). */
	if (start == MASTER_START_UPGRADE)
		o.o_file = takeover_config_file();
	log_init("preforkd", LOG_TO_STDERR, LOG_DAEMON, LOG_INFO);
	/* After an upgrade the workers serve already: a file that broke
	 * since the check must not end them (the reload that follows fails
	 * the same way, and they serve on). */
	/* -s needs only where the daemon is, from as little of the file
	 * as it can; the rest runs no module and looks nothing up here:
	 * a checker child does (confcheck.h). */
	if (o.o_command != NULL && !o.o_test)
		return command_run(&o);
	cfg = confcheck_run(o.o_file, err, sizeof(err));
	if (cfg == NULL && start == MASTER_START_UPGRADE)
		cfg = takeover_config_fallback(err);
	if (cfg == NULL) {
		fprintf(stderr, "preforkd: %s\n", err);
		return EX_CONFIG;
	}
	if (start == MASTER_START_CHECK) {
		/* The ports may be held by the running daemon: only check
		 * that each address can be bound on this host.  Before an
		 * upgrade, also that this binary can take over. */
		if (listeners_probe(cfg, err, sizeof(err)) == -1 ||
		    metrics_probe(cfg, err, sizeof(err)) == -1 ||
		    upgrade_check_format(err, sizeof(err)) == -1) {
			fprintf(stderr, "preforkd: %s\n", err);
			config_free(cfg);
			return EX_CONFIG;
		}
		printf("preforkd: configuration file %s test is successful\n",
		    o.o_file);
		config_free(cfg);
		return 0;
	}
	return run(cfg, &o, start);
}
