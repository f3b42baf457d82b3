/* SPDX-License-Identifier: ISC */
/*
 * check_notify.c - the datagrams for systemd's file descriptor store:
 * what the message says, the descriptor it carries, and that a busy
 * manager never blocks the sender.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"
#include "unit.h"

START_TEST(test_notify_fdname)
{
	char	 name[NOTIFY_FDNAME_MAX + 2];

	ck_assert(notify_fdname_valid("listen-127.0.0.1-9001"));
	ck_assert(notify_fdname_valid("listen-[--1]-9001"));
	ck_assert(notify_fdname_valid("a name with spaces"));
	ck_assert(notify_fdname_valid(""));
	/* ':' separates the names in $LISTEN_FDNAMES. */
	ck_assert(!notify_fdname_valid("listen-127.0.0.1:9001"));
	ck_assert(!notify_fdname_valid("two\nlines"));
	ck_assert(!notify_fdname_valid("del\x7f"));
	ck_assert(!notify_fdname_valid("\xc3\xa9"));
	memset(name, 'x', NOTIFY_FDNAME_MAX);
	name[NOTIFY_FDNAME_MAX] = '\0';
	ck_assert(notify_fdname_valid(name));
	name[NOTIFY_FDNAME_MAX] = 'x';
	name[NOTIFY_FDNAME_MAX + 1] = '\0';
	ck_assert(!notify_fdname_valid(name));
}
END_TEST

START_TEST(test_notify_fdstore_message)
{
	struct notify_fdmsg	 nf;
	struct cmsghdr		*cm;
	int			 fd;

	ck_assert_int_eq(notify_fdstore_message(&nf, 7, "listen-x"), 0);
	ck_assert_uint_eq(nf.nf_hdr.msg_iovlen, 1);
	ck_assert_uint_eq(nf.nf_hdr.msg_iov[0].iov_len,
	    strlen("FDSTORE=1\nFDNAME=listen-x"));
	ck_assert(memcmp(nf.nf_hdr.msg_iov[0].iov_base,
	    "FDSTORE=1\nFDNAME=listen-x", nf.nf_hdr.msg_iov[0].iov_len) == 0);
	ck_assert_ptr_nonnull(cm = CMSG_FIRSTHDR(&nf.nf_hdr));
	ck_assert_int_eq(cm->cmsg_level, SOL_SOCKET);
	ck_assert_int_eq(cm->cmsg_type, SCM_RIGHTS);
	ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN(sizeof(int)));
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	ck_assert_int_eq(fd, 7);
	/* One descriptor, nothing after it. */
	ck_assert_ptr_null(CMSG_NXTHDR(&nf.nf_hdr, cm));

	/* Taken out: no descriptor at all. */
	ck_assert_int_eq(notify_fdstore_message(&nf, -1, "listen-x"), 0);
	ck_assert(memcmp(nf.nf_hdr.msg_iov[0].iov_base,
	    "FDSTOREREMOVE=1\nFDNAME=listen-x",
	    nf.nf_hdr.msg_iov[0].iov_len) == 0);
	ck_assert_uint_eq(nf.nf_hdr.msg_iov[0].iov_len,
	    strlen("FDSTOREREMOVE=1\nFDNAME=listen-x"));
	ck_assert_ptr_null(nf.nf_hdr.msg_control);
	ck_assert_uint_eq(nf.nf_hdr.msg_controllen, 0);

	errno = 0;
	ck_assert_int_eq(notify_fdstore_message(&nf, 7, "a:b"), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* A manager's socket in a private directory, named by $NOTIFY_SOCKET. */
static int
notify_manager(char *dir, char *path, size_t size)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir);
	snprintf(path, size, "%s", sun.sun_path);
	ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    -1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	return fd;
}

static void
notify_manager_gone(int fd, char *dir, const char *path)
{
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* What the manager receives: the text and the very descriptor. */
START_TEST(test_notify_fdstore_sent)
{
	char		 dir[] = "/tmp/preforkd-notify.XXXXXX", path[128];
	char		 text[512];
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}		 ctl;
	struct iovec	 iov = { text, sizeof(text) - 1 };
	struct msghdr	 mh = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = ctl.buf,
			    .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr	*cm;
	struct stat	 a, b;
	ssize_t		 n;
	int		 mgr, p[2], got;

	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	/* No manager: nothing to do, and not an error. */
	ck_assert_int_eq(notify_fdstore(p[0], "listen-x"), 0);

	mgr = notify_manager(dir, path, sizeof(path));
	ck_assert_int_eq(notify_fdstore(p[0], "listen-x"), 1);
	ck_assert_int_gt(n = recvmsg(mgr, &mh, MSG_DONTWAIT |
	    MSG_CMSG_CLOEXEC), 0);
	text[n] = '\0';
	ck_assert_str_eq(text, "FDSTORE=1\nFDNAME=listen-x");
	ck_assert_ptr_nonnull(cm = CMSG_FIRSTHDR(&mh));
	ck_assert_int_eq(cm->cmsg_type, SCM_RIGHTS);
	memcpy(&got, CMSG_DATA(cm), sizeof(got));
	ck_assert_int_eq(fstat(p[0], &a), 0);
	ck_assert_int_eq(fstat(got, &b), 0);
	ck_assert(a.st_dev == b.st_dev && a.st_ino == b.st_ino);
	close(got);

	ck_assert_int_eq(notify_fdstore_remove("listen-x"), 1);
	mh.msg_controllen = sizeof(ctl.buf);
	ck_assert_int_gt(n = recvmsg(mgr, &mh, MSG_DONTWAIT), 0);
	text[n] = '\0';
	ck_assert_str_eq(text, "FDSTOREREMOVE=1\nFDNAME=listen-x");
	ck_assert_uint_eq(mh.msg_controllen, 0);

	close(p[0]);
	close(p[1]);
	notify_manager_gone(mgr, dir, path);
}
END_TEST

/* A manager that reads nothing: its queue fills, and the store's
 * message fails at once instead of waiting for room. */
START_TEST(test_notify_fdstore_never_blocks)
{
	char			 dir[] = "/tmp/preforkd-notify.XXXXXX";
	char			 path[128];
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 mgr, fill, rc;

	mgr = notify_manager(dir, path, sizeof(path));
	ck_assert_uint_lt(strlen(path), sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	ck_assert_int_ne(fill = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    -1);
	for (int i = 0; i < 100000; i++)
		if (sendto(fill, "STATUS=x", 8, MSG_DONTWAIT,
		    (struct sockaddr *)&sun, sizeof(sun)) == -1)
			break;
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	/* Under check's timeout: a blocking send would hang here. */
	rc = notify_fdstore(STDIN_FILENO, "listen-x");
	ck_assert_int_eq(rc, -1);
	close(fill);
	notify_manager_gone(mgr, dir, path);
}
END_TEST

Suite *
notify_suite(void)
{
	Suite	*s = suite_create("notify");
	TCase	*tc = tcase_create("fdstore");

	tcase_add_test(tc, test_notify_fdname);
	tcase_add_test(tc, test_notify_fdstore_message);
	tcase_add_test(tc, test_notify_fdstore_sent);
	tcase_add_test(tc, test_notify_fdstore_never_blocks);
	tcase_set_timeout(tc, 10);
	suite_add_tcase(s, tc);
	return s;
}
