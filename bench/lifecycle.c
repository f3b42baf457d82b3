/* SPDX-License-Identifier: ISC */
/*
 * lifecycle.c - times the supervisor, from outside, on a running preforkd.
 *
 *   lifecycle respawn MASTERPID PORT N
 *       N times: SIGKILL one worker of a one-worker pool, connect at once
 *       (the kernel queues it) and time until the banner arrives, i.e.
 *       until the replacement is accepting.
 *   lifecycle reload MASTERPID LOGFILE N
 *       N times: SIGHUP, and time until the log (preforkd -e) says the
 *       new generation is ready: every new worker forked and waiting.
 * Prints one "RESULT what=... median_ms=... max_ms=..." line.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static pid_t
first_child(pid_t parent)
{
	DIR		*dir = opendir("/proc");
	struct dirent	*e;
	pid_t		 found = 0;

	while (dir != NULL && (e = readdir(dir)) != NULL && found == 0) {
		char	 path[300], buf[512], *p;
		int	 ppid;
		FILE	*fp;

		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), fp) != NULL &&
		    (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == parent)
			found = atoi(e->d_name);
		fclose(fp);
	}
	if (dir != NULL)
		closedir(dir);
	return found;
}

static int
banner(int port)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	char			 buf[64];
	int			 fd;
	ssize_t			 n;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return -1;
	n = recv(fd, buf, sizeof(buf), 0);
	send(fd, "", 1, MSG_NOSIGNAL);
	close(fd);
	return n > 0 ? 0 : -1;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("RESULT what=%s n=%d median_ms=%.2f max_ms=%.2f\n", what, n,
	    v[n / 2], v[n - 1]);
}

static bool
log_has(const char *path, const char *needle)
{
	static char	 buf[1 << 22];
	FILE		*fp = fopen(path, "r");
	size_t		 n;

	if (fp == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

int
main(int argc, char *argv[])
{
	double	 v[200], t0;
	pid_t	 master, child;
	int	 n;

	if (argc != 5 || (n = atoi(argv[4])) < 1 || n > 200)
		return 64;
	master = (pid_t)atoi(argv[2]);
	if (strcmp(argv[1], "respawn") == 0) {
		int port = atoi(argv[3]);

		for (int i = 0; i < n; i++) {
			while ((child = first_child(master)) == 0)
				usleep(1000);
			/* Let it age past the crash-loop window. */
			usleep(1100 * 1000);
			kill(child, SIGKILL);
			t0 = now_ms();
			if (banner(port) == -1)
				return 1;
			v[i] = now_ms() - t0;
		}
		report("respawn", v, n);
		return 0;
	}
	if (strcmp(argv[1], "reload") == 0) {
		for (int i = 0; i < n; i++) {
			char	 want[64];

			snprintf(want, sizeof(want), "ready generation=%d ",
			    i + 2);
			t0 = now_ms();
			kill(master, SIGHUP);
			while (!log_has(argv[3], want)) {
				if (now_ms() - t0 > 10000)
					return 1;
				usleep(200);
			}
			v[i] = now_ms() - t0;
			usleep(200 * 1000);
		}
		report("reload", v, n);
		return 0;
	}
	return 64;
}
