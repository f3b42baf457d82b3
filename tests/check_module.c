/* SPDX-License-Identifier: ISC */
/*
 * check_module.c - loading service modules: what is loaded, and what is
 * refused with its FILE:LINE (wrong ABI, missing symbol, unsafe file or
 * directory, bad name, a configuration the module refuses, a file
 * rewritten in place while loaded).  The modules are tests/modules/
 * testmod.c, built as good.so, abi.so and nosym.so.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "service.h"
#include "unit.h"

static char	 mod_dir[64];

static int
mod_remove(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void
mod_setup(void)
{
	snprintf(mod_dir, sizeof(mod_dir), "/tmp/preforkd-mod.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(mod_dir));
	ck_assert_int_eq(chmod(mod_dir, 0755), 0);
}

static void
mod_teardown(void)
{
	nftw(mod_dir, mod_remove, 8, FTW_DEPTH | FTW_PHYS);
}

/* dir/name, in one of four static buffers: a call may take two. */
static const char *
mod_path(const char *name)
{
	static char	 path[4][192];
	static unsigned	 next;
	char		*p = path[next++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", mod_dir, name);
	return p;
}

/* Copy the built module from (good.so, ...) into the directory as to. */
static void
mod_install(const char *from, const char *to, mode_t mode)
{
	const char	*dir = getenv("TEST_MODULES");
	char		 src[256], buf[65536];
	ssize_t		 n;
	int		 in, out;

	snprintf(src, sizeof(src), "%s/%s", dir != NULL ? dir : "tests",
	    from);
	ck_assert_msg((in = open(src, O_RDONLY | O_CLOEXEC)) != -1, "%s: %s",
	    src, strerror(errno));
	ck_assert_int_ne(out = open(mod_path(to), O_WRONLY | O_CREAT |
	    O_TRUNC | O_CLOEXEC, 0600), -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(fchmod(out, mode), 0);
	ck_assert_int_eq(close(out), 0);
}

/* The configuration "module_dir = DIR;\nservice = NAME;\n" + rest. */
static const char *
mod_conf(const char *service, const char *rest)
{
	static char	 text[1024];

	snprintf(text, sizeof(text), "module_dir = \"%s\";\n"
	    "service = \"%s\";\n%s", mod_dir, service, rest);
	return unit_write_file(text);
}

/* Refused with exactly "FILE:LINE: want...". */
static void
mod_fails(const char *service, const char *rest, int line, const char *want)
{
	const char	*path = mod_conf(service, rest);
	struct config	*c;
	char		 err[1024], prefix[1024];

	c = config_load(path, err, sizeof(err));
	ck_assert_msg(c == NULL, "accepted service %s", service);
	snprintf(prefix, sizeof(prefix), "%s:%d: %s", path, line, want);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "\n  got:  %s\n  want: %s...", err, prefix);
}

START_TEST(test_module_loads)
{
	struct config	*c;
	char		 err[1024];

	mod_install("good.so", "good.so", 0644);
	c = config_load(mod_conf("good", "good = {\n  word = \"yo\";\n"
	    "  repeat = 3;\n};\n"), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->c_service, "good");
	ck_assert_str_eq(c->c_sv->sv_desc->ps_name, "good");
	ck_assert_ptr_nonnull(c->c_sv->sv_dl);
	ck_assert(c->c_client_first);
	ck_assert_str_eq(c->c_module_dir, mod_dir);
	config_free(c);
	/* Without its group: the module's defaults. */
	c = config_load(mod_conf("good", ""), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	config_free(c);
}
END_TEST

START_TEST(test_module_wrong_abi)
{
	char	 want[512];

	mod_install("abi.so", "abi.so", 0644);
	snprintf(want, sizeof(want), "service \"abi\": %s is built for "
	    "service ABI 999, this preforkd has ABI %d", mod_path("abi.so"),
	    PREFORKD_SERVICE_ABI);
	mod_fails("abi", "", 2, want);
}
END_TEST

START_TEST(test_module_missing_symbol)
{
	char	 want[512];

	mod_install("nosym.so", "nosym.so", 0644);
	snprintf(want, sizeof(want), "service \"nosym\": %s has no symbol "
	    "preforkd_service: not a preforkd service module",
	    mod_path("nosym.so"));
	mod_fails("nosym", "", 2, want);
}
END_TEST

/* A file that is no shared object, and one that names another service. */
START_TEST(test_module_not_ours)
{
	char	 want[512];
	FILE	*fp;

	ck_assert_ptr_nonnull(fp = fopen(mod_path("text.so"), "w"));
	fputs("not ELF\n", fp);
	ck_assert_int_eq(fclose(fp), 0);
	snprintf(want, sizeof(want), "service \"text\": %s: ",
	    mod_path("text.so"));
	mod_fails("text", "", 2, want);

	mod_install("good.so", "other.so", 0644);
	snprintf(want, sizeof(want), "service \"other\": %s names its "
	    "service \"good\", not \"other\"", mod_path("other.so"));
	mod_fails("other", "", 2, want);
}
END_TEST

START_TEST(test_module_unknown)
{
	char	 want[512];

	snprintf(want, sizeof(want), "service \"nope\" is unknown (known: "
	    "greeting, echo): no module %s", mod_path("nope.so"));
	mod_fails("nope", "", 2, want);
}
END_TEST

START_TEST(test_module_unsafe)
{
	char	 want[512];

	mod_install("good.so", "good.so", 0664);
	snprintf(want, sizeof(want), "service \"good\": %s is writable by "
	    "group or others (mode 0664)", mod_path("good.so"));
	mod_fails("good", "", 2, want);
	ck_assert_int_eq(chmod(mod_path("good.so"), 0646), 0);
	mod_fails("good", "", 2, "service \"good\": ");

	/* A symbolic link, even to a good file. */
	ck_assert_int_eq(chmod(mod_path("good.so"), 0644), 0);
	ck_assert_int_eq(mkdir(mod_path("sub"), 0755), 0);
	ck_assert_int_eq(rename(mod_path("good.so"), mod_path("sub/good.so")),
	    0);
	ck_assert_int_eq(symlink("sub/good.so", mod_path("good.so")), 0);
	snprintf(want, sizeof(want), "service \"good\": %s is a symbolic link",
	    mod_path("good.so"));
	mod_fails("good", "", 2, want);

	/* A directory, a FIFO: not opened for what they are not. */
	ck_assert_int_eq(mkdir(mod_path("dir.so"), 0755), 0);
	snprintf(want, sizeof(want), "service \"dir\": %s is not a regular "
	    "file", mod_path("dir.so"));
	mod_fails("dir", "", 2, want);
	ck_assert_int_eq(mkfifo(mod_path("fifo.so"), 0644), 0);
	snprintf(want, sizeof(want), "service \"fifo\": %s is not a regular "
	    "file", mod_path("fifo.so"));
	mod_fails("fifo", "", 2, want);

	/* Someone else's file, if we can make one. */
	if (geteuid() == 0) {
		mod_install("good.so", "theirs.so", 0644);
		ck_assert_int_eq(chown(mod_path("theirs.so"), 65534, 65534),
		    0);
		mod_fails("theirs", "", 2, "service \"theirs\": ");
		snprintf(want, sizeof(want), "service \"theirs\": %s is owned "
		    "by uid 65534, not root or 0", mod_path("theirs.so"));
		mod_fails("theirs", "", 2, want);
	}

	/* A directory others can write: any file in it could be swapped. */
	mod_install("good.so", "good2.so", 0644);
	ck_assert_int_eq(chmod(mod_dir, 0775), 0);
	mod_fails("good", "", 2, "service \"good\": module_dir is writable by "
	    "group or others (mode 0775)");
	ck_assert_int_eq(chmod(mod_dir, 0755), 0);
}
END_TEST

START_TEST(test_module_bad_name)
{
	static const char *const names[] = { "../good", "sub/good", "good.x",
	    ".", "..", "a b" };
	char	 want[512];

	mod_install("good.so", "good.so", 0644);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(want, sizeof(want), "service \"%s\": a service name has "
		    "only letters, digits, '_' and '-'", names[i]);
		mod_fails(names[i], "", 2, want);
	}
	/* A core key cannot be a service: its group would be the key. */
	mod_fails("pool", "", 2, "service \"pool\" would share its group");
	{
		struct config	*c;
		char		 err[512];

		c = config_load(unit_write_file("module_dir = \"lib\";\n"), err,
		    sizeof(err));
		ck_assert_ptr_null(c);
		ck_assert_msg(strstr(err, ":1: module_dir must be an absolute "
		    "path") != NULL, "%s", err);
	}
}
END_TEST

/* The module's own errors, FILE:LINE through the core's machinery. */
START_TEST(test_module_configure_errors)
{
	mod_install("good.so", "good.so", 0644);
	mod_fails("good", "good = {\n  repeat = 9;\n};\n", 4,
	    "good.repeat = 9 is out of range (1..5)");
	mod_fails("good", "good = {\n  word = 7;\n};\n", 4,
	    "good.word must be a string");
	mod_fails("good", "good = {\n  word = \"bad\";\n};\n", 4,
	    "good.word must not be \"bad\"");
	mod_fails("good", "\ngood = { nope = 1; };\n", 4,
	    "unknown key \"good.nope\"");
	mod_fails("good", "good = 3;\n", 3, "good must be a group { ... }");
	/* A group of a module that is not chosen is nobody's. */
	mod_fails("echo", "good = { word = \"x\"; };\n", 3,
	    "unknown key \"good\"");
}
END_TEST

/*
 * dlopen() would hand back the copy in memory for a file rewritten in
 * place: refused while the old one is loaded.  A file replaced by a new
 * one is loaded afresh beside the old.
 */
START_TEST(test_module_rewritten)
{
	struct config	*old, *c;
	char		 err[1024];
	FILE		*fp;

	mod_install("good.so", "good.so", 0644);
	old = config_load(mod_conf("good", ""), err, sizeof(err));
	ck_assert_msg(old != NULL, "%s", err);
	ck_assert_ptr_nonnull(fp = fopen(mod_path("good.so"), "a"));
	fputs("appended", fp);
	ck_assert_int_eq(fclose(fp), 0);
	c = config_load(mod_conf("good", ""), err, sizeof(err));
	ck_assert_ptr_null(c);
	ck_assert_msg(strstr(err, "was rewritten in place since it was "
	    "loaded") != NULL, "%s", err);

	mod_install("good.so", "new.tmp", 0644);
	ck_assert_int_eq(rename(mod_path("new.tmp"), mod_path("good.so")), 0);
	c = config_load(mod_conf("good", "good = { word = \"new\"; };\n"), err,
	    sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_ptr_ne(c->c_sv->sv_dl, old->c_sv->sv_dl);
	config_free(old);
	config_free(c);
}
END_TEST

Suite *
module_suite(void)
{
	Suite	*s = suite_create("module");
	TCase	*tc = tcase_create("load");

	tcase_add_checked_fixture(tc, mod_setup, mod_teardown);
	tcase_add_test(tc, test_module_loads);
	tcase_add_test(tc, test_module_wrong_abi);
	tcase_add_test(tc, test_module_missing_symbol);
	tcase_add_test(tc, test_module_not_ours);
	tcase_add_test(tc, test_module_unknown);
	tcase_add_test(tc, test_module_unsafe);
	tcase_add_test(tc, test_module_bad_name);
	tcase_add_test(tc, test_module_configure_errors);
	tcase_add_test(tc, test_module_rewritten);
	suite_add_tcase(s, tc);
	return s;
}
