/*
 * fuzz_config.c - libFuzzer target: arbitrary file text through the whole
 * configuration load (libconfig, the 32-bit literal scan, validation).
 * It must never crash, leak or read out of bounds, and a rejected file
 * must come with an error of the form "FILE[:LINE]: message" (FILE may
 * be an @include'd one).
 */
#include "autoconf.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*c;
	char		 path[64], err[1024];
	int		 fd;

	if ((fd = memfd_create("fuzz.conf", MFD_CLOEXEC)) == -1)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err[0] = '\0';
	c = config_load(path, err, sizeof(err));
	if (c == NULL)
		assert(err[0] != '\0' && strstr(err, ": ") != NULL);
	config_free(c);
	close(fd);
	return 0;
}
