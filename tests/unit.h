/* SPDX-License-Identifier: ISC */
/*
 * unit.h - the suites of the unit test runner.
 */
#ifndef PREFORKD_TESTS_UNIT_H
#define PREFORKD_TESTS_UNIT_H

#include <check.h>

Suite	*config_suite(void);
Suite	*escape_suite(void);
Suite	*greeting_suite(void);
Suite	*poolpolicy_suite(void);
Suite	*status_suite(void);
Suite	*proxy_suite(void);
Suite	*access_suite(void);
Suite	*module_suite(void);
Suite	*scoreboard_suite(void);
Suite	*metrics_suite(void);
Suite	*notify_suite(void);

/* Write text to a fresh file in a private directory; returns its path
 * (static storage, valid until the next call). */
const char	*unit_write_file(const char *text);

#endif
