/* SPDX-License-Identifier: ISC */
/*
 * check_unit.c - runs the unit suites: pure functions and in-process I/O,
 * no daemon.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static char	 unit_dir[64];

const char *
unit_write_file(const char *text)
{
	static char	 path[128];
	FILE		*fp;

	snprintf(path, sizeof(path), "%s/test.conf", unit_dir);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

int
main(void)
{
	SRunner	*sr;
	char	 path[128];
	int	 failed;

	snprintf(unit_dir, sizeof(unit_dir), "/tmp/preforkd-unit.XXXXXX");
	if (mkdtemp(unit_dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(config_suite());
	srunner_add_suite(sr, escape_suite());
	srunner_add_suite(sr, greeting_suite());
	srunner_add_suite(sr, poolpolicy_suite());
	srunner_add_suite(sr, status_suite());
	srunner_add_suite(sr, proxy_suite());
	srunner_add_suite(sr, access_suite());
	srunner_add_suite(sr, module_suite());
	srunner_add_suite(sr, scoreboard_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, notify_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	snprintf(path, sizeof(path), "%s/test.conf", unit_dir);
	unlink(path);
	rmdir(unit_dir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
