/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config.c - libFuzzer target: arbitrary file text through the whole
 * configuration load (reading, @include, the 32-bit literal scan,
 * libconfig, validation), next to an include target of every kind.
 *
 * The first byte picks what "inc.conf", beside the main file, is (byte
 * modulo 8); the rest is the main file's text:
 *   0  no directory: the text is a memfd named /proc/self/fd/N
 *   1  a regular file holding the text after the first NUL byte (the
 *      main file then holds the text before it), or the whole text
 *   2  a directory    3  a FIFO    4  a symlink to /dev/null
 *   5  a file of mode 000 (root still reads it)    6  a socket
 *   7  a dangling symlink
 * It must never crash, hang, leak or read out of bounds; a rejected file
 * must come with an error of the form "FILE[:LINE]: message"; and
 * libconfig must never meet an @include, which it would try to open.
 */
#include "autoconf.h"

#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

#define FUZZ_KINDS	8

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	 fuzz_base[64];

static void
fuzz_path(char *buf, size_t size, int kind, const char *name)
{
	snprintf(buf, size, "%s/k%d/%s", fuzz_base, kind, name);
}

/* Remove what fuzz_setup() made (a FIFO or a directory is inc.conf). */
static void
fuzz_cleanup(void)
{
	char	 path[128];

	for (int kind = 1; kind < FUZZ_KINDS; kind++) {
		fuzz_path(path, sizeof(path), kind, "main.conf");
		unlink(path);
		fuzz_path(path, sizeof(path), kind, "inc.conf");
		if (unlink(path) == -1)
			rmdir(path);
		snprintf(path, sizeof(path), "%s/k%d", fuzz_base, kind);
		rmdir(path);
	}
	rmdir(fuzz_base);
}

static void
fuzz_socket(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		abort();
	close(fd);
}

/* One directory per kind, its inc.conf made once. */
static void
fuzz_setup(void)
{
	char	 path[128];
	int	 rc = 0;

	snprintf(fuzz_base, sizeof(fuzz_base), "/tmp/fuzz-config.XXXXXX");
	if (mkdtemp(fuzz_base) == NULL)
		abort();
	atexit(fuzz_cleanup);
	for (int kind = 1; kind < FUZZ_KINDS; kind++) {
		snprintf(path, sizeof(path), "%s/k%d", fuzz_base, kind);
		if (mkdir(path, 0755) == -1)
			abort();
	}
	fuzz_path(path, sizeof(path), 2, "inc.conf");
	rc |= mkdir(path, 0755);
	fuzz_path(path, sizeof(path), 3, "inc.conf");
	rc |= mkfifo(path, 0644);
	fuzz_path(path, sizeof(path), 4, "inc.conf");
	rc |= symlink("/dev/null", path);
	fuzz_path(path, sizeof(path), 5, "inc.conf");
	rc |= close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0));
	fuzz_path(path, sizeof(path), 6, "inc.conf");
	fuzz_socket(path);
	fuzz_path(path, sizeof(path), 7, "inc.conf");
	rc |= symlink("gone.conf", path);
	if (rc != 0)
		abort();
}

static void
fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1 || write(fd, data, size) != (ssize_t)size ||
	    close(fd) == -1)
		abort();
}

/* libconfig's own words when it meets an @include it cannot open; a
 * path may hold them too, but never at the end of the message. */
static int
fuzz_libconfig_included(const char *err)
{
	static const char	 words[] = ": cannot open include file";
	size_t			 len = strlen(err);

	return len >= sizeof(words) - 1 &&
	    strcmp(err + len - (sizeof(words) - 1), words) == 0;
}

static void
fuzz_load(const char *path)
{
	struct config	*c;
	char		 err[1024];

	err[0] = '\0';
	c = config_load(path, err, sizeof(err));
	if (c == NULL)
		assert(err[0] != '\0' && strstr(err, ": ") != NULL);
	assert(!fuzz_libconfig_included(err));
	config_free(c);
}

/* Kind 0: the text behind a name in /proc, as before there were kinds. */
static void
fuzz_memfd(const uint8_t *data, size_t size)
{
	char	 path[64];
	int	 fd;

	if ((fd = memfd_create("fuzz.conf", MFD_CLOEXEC)) == -1)
		return;
	if (write(fd, data, size) == (ssize_t)size) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		fuzz_load(path);
	}
	close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nul;
	char		 path[128];
	int		 kind;

	if (size == 0)
		return 0;
	if (fuzz_base[0] == '\0')
		fuzz_setup();
	kind = data[0] % FUZZ_KINDS;
	data++;
	size--;
	if (kind == 0) {
		fuzz_memfd(data, size);
		return 0;
	}
	if (kind == 1) {
		fuzz_path(path, sizeof(path), 1, "inc.conf");
		if ((nul = memchr(data, '\0', size)) == NULL)
			fuzz_write(path, data, size);
		else {
			fuzz_write(path, nul + 1, size - (size_t)(nul + 1 -
			    data));
			size = (size_t)(nul - data);
		}
	}
	fuzz_path(path, sizeof(path), kind, "main.conf");
	fuzz_write(path, data, size);
	fuzz_load(path);
	return 0;
}
