/* SPDX-License-Identifier: ISC */
/*
 * check_greeting.c - the greeting protocol's framing, and the service
 * itself over a socketpair with deadlines.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "greeting.h"
#include "log.h"
#include "service.h"
#include "unit.h"

static struct greeting_msg	 msg;
static char			 msgbuf[17];

static void
feed(const char *bytes, size_t len)
{
	greeting_msg_feed(&msg, bytes, len);
}

START_TEST(test_frame_nul)
{
	greeting_msg_init(&msg, msgbuf, 16);
	/* The seed's client: a NUL-terminated string in a larger buffer. */
	ck_assert_uint_eq(greeting_msg_feed(&msg, "hello\0garbage", 13), 6);
	ck_assert(msg.gm_done);
	ck_assert_str_eq(msg.gm_buf, "hello");
	ck_assert_uint_eq(msg.gm_total, 5);
	ck_assert(!greeting_msg_truncated(&msg));
}
END_TEST

START_TEST(test_frame_lf_crlf)
{
	greeting_msg_init(&msg, msgbuf, 16);
	feed("line\n", 5);
	ck_assert(msg.gm_done);
	ck_assert_str_eq(msg.gm_buf, "line");

	greeting_msg_init(&msg, msgbuf, 16);
	feed("line\r", 5);		/* CR and LF in different reads */
	ck_assert(!msg.gm_done);
	feed("\n", 1);
	ck_assert_str_eq(msg.gm_buf, "line");
	ck_assert_uint_eq(msg.gm_total, 4);

	greeting_msg_init(&msg, msgbuf, 16);
	feed("a\rb\0", 4);		/* a lone CR is data */
	ck_assert_str_eq(msg.gm_buf, "a\rb");
}
END_TEST

START_TEST(test_frame_split_reads)
{
	greeting_msg_init(&msg, msgbuf, 16);
	feed("I want ", 7);
	ck_assert(!msg.gm_done);
	feed("a HTTP", 6);
	feed(" Service.", 9);
	ck_assert(!msg.gm_done);
	feed("", 1);
	ck_assert(msg.gm_done);
	ck_assert_str_eq(msg.gm_buf, "I want a HTTP Se");
	ck_assert_uint_eq(msg.gm_total, 22);
	ck_assert(greeting_msg_truncated(&msg));
}
END_TEST

START_TEST(test_frame_truncation)
{
	char	 big[1000];

	memset(big, 'x', sizeof(big));
	greeting_msg_init(&msg, msgbuf, 16);
	feed(big, sizeof(big));
	feed("\r\n", 2);
	ck_assert_uint_eq(msg.gm_len, 16);
	ck_assert_uint_eq(msg.gm_total, 1000);	/* CR dropped, not kept */
	ck_assert(greeting_msg_truncated(&msg));

	greeting_msg_init(&msg, msgbuf, 16);
	feed(big, 16);			/* exactly max: not truncated */
	feed("\n", 1);
	ck_assert(!greeting_msg_truncated(&msg));
}
END_TEST

START_TEST(test_frame_empty)
{
	greeting_msg_init(&msg, msgbuf, 16);
	feed("\0", 1);
	ck_assert(msg.gm_done);
	ck_assert_str_eq(msg.gm_buf, "");
	ck_assert_uint_eq(msg.gm_total, 0);
}
END_TEST

/* Run the real service on one end of a socketpair, with its log on a
 * pipe, and play the client on the other end. */
struct served {
	pid_t	 pid;
	int	 client;
	int	 logfd;
};

static struct config *
greeting_config(double read_timeout)
{
	struct config	*c;
	char		 err[512], text[256];

	snprintf(text, sizeof(text), "timeouts = { read = %g; write = 1; };\n"
	    "greeting = { max_message = 32; };\n", read_timeout);
	c = config_load(unit_write_file(text), err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

static struct served
serve_in_child(const struct config *cfg)
{
	struct served	 s;
	struct conn	 c;
	int		 sv[2], lp[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(lp), 0);
	ck_assert_int_ne(s.pid = fork(), -1);
	if (s.pid == 0) {
		close(sv[0]);
		close(lp[0]);
		dup2(lp[1], STDERR_FILENO);
		log_init("test", LOG_TO_STDERR, 0, 6);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		conn_init(&c, sv[1], NULL, 0);
		if (service_init(cfg->c_sv) == -1)
			_exit(2);
		service_serve(cfg->c_sv, &c, cfg->c_timeout_read,
		    cfg->c_timeout_write, cfg->c_log_empty);
		service_fini(cfg->c_sv);
		_exit(0);
	}
	close(sv[1]);
	close(lp[1]);
	s.client = sv[0];
	s.logfd = lp[0];
	return s;
}

static void
finish(struct served *s, char *log, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;
	int	 status;

	close(s->client);
	while (len < size - 1 &&
	    (n = read(s->logfd, log + len, size - 1 - len)) > 0)
		len += (size_t)n;
	log[len] = '\0';
	close(s->logfd);
	ck_assert_int_eq(waitpid(s->pid, &status, 0), s->pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(test_service_exchange)
{
	struct config	*cfg = greeting_config(2);
	struct served	 s = serve_in_child(cfg);
	char		 banner[64], log[1024];
	const char	 want[] = "Welcome to Network Server!!";

	/* Exactly the banner and its NUL. */
	ck_assert_int_eq(recv(s.client, banner, sizeof(want), MSG_WAITALL),
	    sizeof(want));
	ck_assert_int_eq(memcmp(banner, want, sizeof(want)), 0);
	ck_assert_int_eq(send(s.client, "hi \x1b[2J\n", 8, 0), 8);
	finish(&s, log, sizeof(log));
	ck_assert_msg(strstr(log, "message peer=(unknown) bytes=7 "
	    "msg=\"hi \\x1b[2J\"\n") != NULL, "log: %s", log);
	config_free(cfg);
}
END_TEST

START_TEST(test_service_deadline)
{
	struct config	*cfg = greeting_config(0.3);
	struct served	 s = serve_in_child(cfg);
	struct timespec	 t0 = clock_now();
	char		 banner[64], log[1024];

	ck_assert_int_gt(recv(s.client, banner, sizeof(banner), 0), 0);
	/* Dribble: each byte well inside the timeout, the sum not. */
	for (int i = 0; i < 8; i++) {
		if (send(s.client, "z", 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(100 * 1000);
	}
	finish(&s, log, sizeof(log));
	ck_assert_msg(strstr(log, "end=timeout") != NULL, "log: %s", log);
	ck_assert(clock_diff(t0, clock_now()) < 2.0);
	config_free(cfg);
}
END_TEST

START_TEST(test_service_eof_and_truncation)
{
	struct config	*cfg = greeting_config(2);
	struct served	 s = serve_in_child(cfg);
	char		 banner[64], log[1024], big[100];

	memset(big, 'q', sizeof(big));
	ck_assert_int_gt(recv(s.client, banner, sizeof(banner), 0), 0);
	ck_assert_int_eq(send(s.client, big, sizeof(big), 0), sizeof(big));
	shutdown(s.client, SHUT_WR);
	finish(&s, log, sizeof(log));
	ck_assert_msg(strstr(log, "bytes=100 truncated=yes end=eof msg=\""
	    "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\"") != NULL, "log: %s", log);
	config_free(cfg);
}
END_TEST

/* A message sent before the banner is read: the service's first read
 * waits for an answer, which is already there. */
START_TEST(test_service_pipelined)
{
	struct config	*cfg = greeting_config(2);
	struct served	 s = serve_in_child(cfg);
	char		 banner[64], log[1024];

	ck_assert_int_eq(send(s.client, "early\0", 6, 0), 6);
	ck_assert_int_gt(recv(s.client, banner, sizeof(banner), 0), 0);
	finish(&s, log, sizeof(log));
	ck_assert_msg(strstr(log, "message peer=(unknown) bytes=5 "
	    "msg=\"early\"\n") != NULL, "log: %s", log);
	config_free(cfg);
}
END_TEST

/*
 * A client that reads the banner and leaves without a word: counted by
 * the daemon, and its line written only with log.empty.
 */
START_TEST(test_service_empty)
{
	struct config	*cfg = greeting_config(2);
	struct served	 s;
	char		 banner[64], log[1024];

	cfg->c_log_empty = _i == 1;
	s = serve_in_child(cfg);
	ck_assert_int_gt(recv(s.client, banner, sizeof(banner), 0), 0);
	ck_assert_int_eq(shutdown(s.client, SHUT_RDWR), 0);
	finish(&s, log, sizeof(log));
	if (_i == 1)
		ck_assert_msg(strstr(log, "no message peer=(unknown) bytes=0: "
		    "closed\n") != NULL, "log: %s", log);
	else
		ck_assert_msg(log[0] == '\0', "log: %s", log);
	config_free(cfg);
}
END_TEST

/* Empty: the client left (EOF, or a failed send) and sent nothing; not
 * a deadline, not a client that said something first. */
START_TEST(test_conn_empty)
{
	struct timespec	 past = clock_after(clock_now(), -1);
	struct timespec	 soon = clock_after(clock_now(), 5);
	struct conn	 c;
	char		 buf[16];
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	conn_init(&c, sv[1], NULL, 0);
	ck_assert(!conn_empty(&c));
	ck_assert_int_eq(conn_read(&c, buf, sizeof(buf), &past), -1);
	ck_assert(!conn_empty(&c));		/* a timeout is ours */
	close(sv[0]);
	ck_assert_int_eq(conn_write(&c, "x", 1, &soon), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert(conn_empty(&c));
	close(sv[1]);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	conn_init(&c, sv[1], NULL, 0);
	ck_assert_int_eq(send(sv[0], "a", 1, 0), 1);
	shutdown(sv[0], SHUT_WR);
	ck_assert_int_eq(conn_read(&c, buf, sizeof(buf), &soon), 1);
	ck_assert_int_eq(conn_read(&c, buf, sizeof(buf), &soon), 0);
	ck_assert(!conn_empty(&c));		/* it said something */
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* conn_read_reply() answers as conn_read() does, whatever is there, even
 * past its deadline; conn_peer() formats once and leaves errno alone. */
START_TEST(test_conn_read_reply)
{
	struct timespec	 past = clock_after(clock_now(), -1);
	struct timespec	 soon = clock_after(clock_now(), 5);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct conn	 c;
	char		 buf[16];
	int		 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	sin.sin_port = htons(4242);
	sin.sin_addr.s_addr = htonl(0x7f000001);
	conn_init(&c, sv[1], (struct sockaddr *)&sin, sizeof(sin));
	errno = EPIPE;
	ck_assert_str_eq(conn_peer(&c), "127.0.0.1:4242");
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_str_eq(conn_peer(&c), "127.0.0.1:4242");

	/* Nothing there and the deadline past: a timeout. */
	errno = 0;
	ck_assert_int_eq(conn_read_reply(&c, buf, sizeof(buf), &past), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	/* There already: read, deadline past or not. */
	ck_assert_int_eq(send(sv[0], "ab", 2, 0), 2);
	ck_assert_int_eq(conn_read_reply(&c, buf, sizeof(buf), &past), 2);
	ck_assert_int_eq(send(sv[0], "cd", 2, 0), 2);
	ck_assert_int_eq(conn_read_reply(&c, buf, sizeof(buf), &soon), 2);
	ck_assert_int_eq(memcmp(buf, "cd", 2), 0);
	/* The end of the stream. */
	shutdown(sv[0], SHUT_WR);
	ck_assert_int_eq(conn_read_reply(&c, buf, sizeof(buf), &soon), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

Suite *
greeting_suite(void)
{
	Suite	*s = suite_create("greeting");
	TCase	*frame = tcase_create("framing");
	TCase	*svc = tcase_create("service");

	tcase_add_test(frame, test_frame_nul);
	tcase_add_test(frame, test_frame_lf_crlf);
	tcase_add_test(frame, test_frame_split_reads);
	tcase_add_test(frame, test_frame_truncation);
	tcase_add_test(frame, test_frame_empty);
	suite_add_tcase(s, frame);
	tcase_add_test(svc, test_service_exchange);
	tcase_add_test(svc, test_service_deadline);
	tcase_add_test(svc, test_service_eof_and_truncation);
	tcase_add_test(svc, test_service_pipelined);
	tcase_add_test(svc, test_conn_read_reply);
	tcase_add_loop_test(svc, test_service_empty, 0, 2);
	tcase_add_test(svc, test_conn_empty);
	tcase_set_timeout(svc, 10);
	suite_add_tcase(s, svc);
	return s;
}
