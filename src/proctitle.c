/* SPDX-License-Identifier: ISC */
/*
 * proctitle.c - process titles (see proctitle.h).
 *
 * Linux shows a process's command line from the memory its argv strings
 * were in when it started; the environment's strings follow them.  That
 * room is taken over: every string is copied to the heap first (argv[i]
 * and environ then point at the copies, so nothing that reads them later
 * notices), and a title is written there, padded with NULs.  A dozen
 * lines, which no library on Debian offers (libbsd's setproctitle() needs
 * its own initialisation from main() all the same).
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctitle.h"

extern char	**environ;

static char	*proctitle_room;	/* NULL: no room, titles do nothing */
/* The copies: setenv() may move environ to an array of its own, and
 * unsetenv() drops strings; ours stay the process's all the same
 * (volatile: written only, and kept for leak checkers to see). */
static char	**volatile proctitle_env;
static char	*volatile proctitle_copy;
static size_t	 proctitle_size;

/* The end of the contiguous strings starting at argv[0], or NULL. */
static char *
proctitle_end(int argc, char *argv[])
{
	char	*end = argv[0] + strlen(argv[0]) + 1;

	for (int i = 1; i < argc; i++) {
		if (argv[i] != end)
			return end;
		end = argv[i] + strlen(argv[i]) + 1;
	}
	for (int i = 0; environ[i] != NULL; i++) {
		if (environ[i] != end)
			return end;
		end = environ[i] + strlen(environ[i]) + 1;
	}
	return end;
}

void
proctitle_init(int argc, char *argv[])
{
	char	**env, *start, *end, *copy;
	size_t	 n = 0;

	if (argc < 1 || argv[0] == NULL)
		return;
	start = argv[0];
	end = proctitle_end(argc, argv);
	while (environ[n] != NULL)
		n++;
	/* One block for every string, so that unsetenv() and setenv(),
	 * which drop pointers to them, lose none of them. */
	if ((env = calloc(n + 1, sizeof(*env))) == NULL ||
	    (copy = malloc((size_t)(end - start))) == NULL) {
		free(env);
		return;
	}
	memcpy(copy, start, (size_t)(end - start));
	for (int i = 0; i < argc; i++)
		if (argv[i] >= start && argv[i] < end)
			argv[i] = copy + (argv[i] - start);
	for (size_t i = 0; i < n; i++)
		env[i] = environ[i] >= start && environ[i] < end ?
		    copy + (environ[i] - start) : environ[i];
	proctitle_copy = copy;
	environ = proctitle_env = env;
	proctitle_room = start;
	proctitle_size = (size_t)(end - start);
}

void
proctitle_set(const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (proctitle_room == NULL || proctitle_size < 2)
		return;
	memset(proctitle_room, '\0', proctitle_size);
	n = snprintf(proctitle_room, proctitle_size, "preforkd: ");
	if (n < 0 || (size_t)n >= proctitle_size - 1)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(proctitle_room + n, proctitle_size - 1 - (size_t)n,
	    fmt, ap);
	va_end(ap);
}
