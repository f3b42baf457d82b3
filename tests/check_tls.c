/* SPDX-License-Identifier: ISC */
/*
 * check_tls.c - TLS listeners (listen.tls) against the real preforkd,
 * with an OpenSSL client of the test's own: the greeting over TLS 1.3
 * and 1.2, the configuration's errors at their lines, certificates
 * across reloads, sessions resumed across workers and refused across
 * generations, client certificates, hostile clients, PROXY before TLS,
 * and a reload under a saturated pool.
 *
 * The certificates are made for each test by the openssl tool in the
 * daemon's scratch directory (EC P-256).  What is asserted is what a
 * client sees on the wire and what the daemon logs and counts; every
 * wait has a deadline far above what an idle machine needs.
 */
#include "autoconf.h"

#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"

#ifdef HAVE_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#endif

static struct daemon	 d;
static int		 port;

static void
setup(void)
{
	port = free_port();
	/* A goodbye to a server that closed first is not a test's death. */
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	daemon_cleanup(&d);
}

/* preforkd -t on d_conf: its exit status, its output in out. */
static int
tls_check_config(char *out, size_t size)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-t",
	    "-c", d.d_conf, NULL };

	return run_capture(argv, out, size);
}

#ifdef HAVE_TLS

#define BANNER		"Welcome to Network Server!!"

/* Generous: the machine may be busy with anything. */
#define TLS_WAIT	30

/*
 * The certificates: a CA; server-one (serial 0x1001) and server-two
 * (0x1002) signed by it, each with its key; client-one, a client
 * certificate signed by it; a stranger's self-signed certificate and
 * key; an expired certificate for server-one's key; and a file that is
 * not PEM.
 */
static const char tls_gen_script[] =
    "set -e\n"
    "cd \"$1\"\n"
    "key() { openssl ecparam -name prime256v1 -genkey -noout -out \"$1\"; }\n"
    "sign() {\n"
    "  openssl req -new -key \"${5:-$1.key}\" -subj \"/CN=$2\" -out \"$1.csr\"\n"
    "  openssl x509 -req -in \"$1.csr\" -CA ca.pem -CAkey ca.key \\\n"
    "    -set_serial \"$3\" -days \"$4\" -out \"$1.pem\"\n"
    "  rm -f \"$1.csr\"\n"
    "}\n"
    "key ca.key\n"
    "openssl req -x509 -new -key ca.key -subj '/CN=preforkd test CA' \\\n"
    "  -days 30 -out ca.pem\n"
    "key srv.key; sign srv server-one 0x1001 30\n"
    "key srv2.key; sign srv2 server-two 0x1002 30\n"
    "key cli.key; sign cli client-one 0x2001 30\n"
    "key other.key\n"
    "openssl req -x509 -new -key other.key -subj /CN=stranger -days 30 \\\n"
    "  -out other.pem\n"
    "sign expired server-old 0x1003 -1 srv.key\n"
    "printf 'this is not PEM\\n' > notpem.pem\n";

static void
tls_certs(void)
{
	const char	*argv[] = { "/bin/sh", "-c", tls_gen_script, "sh",
	    NULL, NULL };
	char		 out[8192];
	int		 status;

	daemon_write_config(&d, NULL);		/* the scratch directory */
	argv[4] = d.d_dir;
	status = run_capture(argv, out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "openssl: %s", out);
}

/* s with each "@/" made the scratch directory's path (static). */
static const char *
at(const char *s)
{
	static char	 buf[4][8192];
	static int	 which;
	char		*o = buf[which = (which + 1) % 4];
	size_t		 n = 0;

	for (; *s != '\0' && n + sizeof(d.d_dir) + 2 < sizeof(buf[0]); s++) {
		if (s[0] == '@' && s[1] == '/')
			n += (size_t)snprintf(o + n, sizeof(buf[0]) - n, "%s",
			    d.d_dir);
		else
			o[n++] = *s;
	}
	o[n] = '\0';
	return o;
}

/* extra, then one TLS listener on port whose tls group has members
 * (with "@/"), and the control socket. */
static const char *
tls_config(const char *extra, const char *members)
{
	static char	 conf[8192];

	snprintf(conf, sizeof(conf), "%s\ncontrol = \"%s/control\";\n"
	    "listen = ( { address = \"127.0.0.1\"; port = %d;\n  tls = {\n%s\n"
	    "  }; } );", extra != NULL ? extra : "", d.d_dir, port,
	    at(members));
	return conf;
}

#define TLS_SERVER_ONE	"certificate = \"@/srv.pem\";\nkey = \"@/srv.key\";"

static void
tls_start(const char *extra, const char *members)
{
	daemon_start(&d, tls_config(extra, members));
	ck_assert_int_eq(d.d_port, port);
}

/* -s cmd (status, metrics) into out; it must succeed. */
static void
tls_ctl(const char *cmd, char *out, size_t size)
{
	const char	*argv[] = { prog("PREFORKD", "./preforkd"), "-c",
	    d.d_conf, "-s", cmd, NULL };
	int		 status = run_capture(argv, out, size);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "-s %s: %s\nlog:\n%s", cmd, out, daemon_log_tail(&d));
}

/* The status's "tls: ..." line must say want. */
static void
tls_status_is(const char *want)
{
	char	 out[16384];

	tls_ctl("status", out, sizeof(out));
	ck_assert_msg(strstr(out, want) != NULL, "want \"%s\" in:\n%s", want,
	    out);
}

/* The pid in "preforkd[PID]: " of the first log line with needle. */
static pid_t
log_pid(const char *needle)
{
	const char	*log, *p;
	long		 pid;

	ck_assert_msg(daemon_log_wait(&d, needle, TLS_WAIT), "no \"%s\":\n%s",
	    needle, daemon_log_tail(&d));
	log = daemon_log(&d);
	p = strstr(log, needle);
	while (p > log && p[-1] != '\n')
		p--;
	ck_assert_int_eq(sscanf(p, "preforkd[%ld]", &pid), 1);
	return (pid_t)pid;
}

/* ---- the test's TLS client ------------------------------------------- */

/* The last session a server's ticket gave the client (new_cb). */
static SSL_SESSION	*tc_session;

static int
tc_new_session(SSL *ssl, SSL_SESSION *s)
{
	(void)ssl;
	SSL_SESSION_free(tc_session);
	tc_session = s;
	return 1;		/* kept */
}

/* The session the last ticket gave, the caller's to free. */
static SSL_SESSION *
tc_take_session(void)
{
	SSL_SESSION	*s = tc_session;

	tc_session = NULL;
	return s;
}

/* A client context: at most version max (0: any), with a certificate
 * and key (names in the scratch directory) or none. */
static SSL_CTX *
tc_ctx(int max, const char *cert, const char *key)
{
	char	 path[256];
	SSL_CTX	*ctx;

	ck_assert_ptr_nonnull(ctx = SSL_CTX_new(TLS_client_method()));
	if (max != 0)
		ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, max), 1);
	/* The served certificate is looked at, not trusted. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tc_new_session);
	if (cert != NULL) {
		snprintf(path, sizeof(path), "%s/%s", d.d_dir, cert);
		ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, path,
		    SSL_FILETYPE_PEM), 1);
		snprintf(path, sizeof(path), "%s/%s", d.d_dir, key);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, path,
		    SSL_FILETYPE_PEM), 1);
	}
	return ctx;
}

/*
 * A copy of s, as a client that kept its ticket on disk reads it back:
 * OpenSSL's client changes the session object it resumed with, and a
 * ticket is the server's to honour however often it comes.
 */
static SSL_SESSION *
tc_session_copy(SSL_SESSION *s)
{
	unsigned char		 der[8192], *p = der;
	const unsigned char	*q = der;
	SSL_SESSION		*copy;
	int			 n;

	ck_assert_int_gt(n = i2d_SSL_SESSION(s, NULL), 0);
	ck_assert_int_le(n, (int)sizeof(der));
	ck_assert_int_eq(i2d_SSL_SESSION(s, &p), n);
	ck_assert_ptr_nonnull(copy = d2i_SSL_SESSION(NULL, &q, n));
	return copy;
}

/* The handshake on fd (after pre, sent in clear, if any), resuming (a
 * copy of) sess if not NULL.  NULL if it failed; fd stays the caller's. */
static SSL *
tc_handshake(SSL_CTX *ctx, int fd, SSL_SESSION *sess, const char *pre)
{
	SSL	*ssl;

	if (pre != NULL)
		ck_assert_int_eq(send(fd, pre, strlen(pre), MSG_NOSIGNAL),
		    (ssize_t)strlen(pre));
	ck_assert_ptr_nonnull(ssl = SSL_new(ctx));
	ck_assert_int_eq(SSL_set_fd(ssl, fd), 1);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (sess != NULL) {
		SSL_SESSION	*copy = tc_session_copy(sess);

		ck_assert_int_eq(SSL_set_session(ssl, copy), 1);
		SSL_SESSION_free(copy);		/* ssl holds it */
	}
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* Say goodbye before the end: a client SSL freed without it marks its
 * session not resumable, which is OpenSSL's rule, not the server's. */
static void
tc_close(SSL *ssl)
{
	(void)SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}

/*
 * The greeting over ssl: the banner to its NUL, then msg and its LF (the
 * end of a message), then all
 * until the server closes.  Everything received goes to out; returns its
 * length, or -1 if the server did not close cleanly (close_notify or an
 * EOF) after the message.
 */
static ssize_t
tc_exchange(SSL *ssl, const char *msg, char *out, size_t size)
{
	size_t	 len = 0, got;
	int	 rc;

	while (len < size && SSL_read_ex(ssl, out + len, 1, &got) == 1)
		if (out[len++] == '\0')
			break;
	if (len == 0 || out[len - 1] != '\0' ||
	    SSL_write(ssl, msg, (int)strlen(msg)) != (int)strlen(msg) ||
	    SSL_write(ssl, "\n", 1) != 1) {
		ERR_clear_error();
		return -1;
	}
	while (len < size && SSL_read_ex(ssl, out + len, size - len, &got) ==
	    1)
		len += got;
	rc = SSL_get_error(ssl, 0);
	ERR_clear_error();
	/* The server says goodbye (close_notify): a bare EOF could be a
	 * reply cut short. */
	return rc == SSL_ERROR_ZERO_RETURN ? (ssize_t)len : -1;
}

/* One whole TLS greeting from src: true when the banner came, msg went
 * and the server closed; *reused: whether sess was resumed. */
static bool
tc_greet(SSL_CTX *ctx, const char *src, SSL_SESSION *sess, const char *msg,
    bool *reused)
{
	char	 buf[256];
	SSL	*ssl;
	ssize_t	 n;
	int	 fd = tcp_connect_from(src, port, TLS_WAIT);

	if ((ssl = tc_handshake(ctx, fd, sess, NULL)) == NULL) {
		close(fd);
		return false;
	}
	if (reused != NULL)
		*reused = SSL_session_reused(ssl) == 1;
	n = tc_exchange(ssl, msg, buf, sizeof(buf));
	tc_close(ssl);
	close(fd);
	return n == (ssize_t)sizeof(BANNER) && memcmp(buf, BANNER,
	    sizeof(BANNER)) == 0;
}

/* The served certificate's common name and serial, of a greeting. */
static void
tc_served_cert(SSL_CTX *ctx, char *cn, size_t size, long *serial)
{
	char	 buf[256];
	X509	*x;
	SSL	*ssl;
	int	 fd = tcp_connect_from("127.0.0.1", port, TLS_WAIT);

	ck_assert_msg((ssl = tc_handshake(ctx, fd, NULL, NULL)) != NULL,
	    "no handshake; log:\n%s", daemon_log_tail(&d));
	ck_assert_ptr_nonnull(x = SSL_get1_peer_certificate(ssl));
	ck_assert_int_gt(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, (int)size), 0);
	*serial = ASN1_INTEGER_get(X509_get0_serialNumber(x));
	X509_free(x);
	ck_assert_int_eq(tc_exchange(ssl, "cert", buf, sizeof(buf)),
	    sizeof(BANNER));
	tc_close(ssl);
	close(fd);
}

/* A ClientHello as OpenSSL's client sends it first (max: its highest
 * version, 0 for any), into buf; returns its length. */
static size_t
tc_client_hello(int max, uint8_t *buf, size_t size)
{
	SSL_CTX	*ctx = tc_ctx(max, NULL, NULL);
	BIO	*rb, *wb;
	SSL	*ssl;
	int	 n;

	ck_assert_ptr_nonnull(ssl = SSL_new(ctx));
	ck_assert_ptr_nonnull(rb = BIO_new(BIO_s_mem()));
	ck_assert_ptr_nonnull(wb = BIO_new(BIO_s_mem()));
	SSL_set_bio(ssl, rb, wb);
	ck_assert_int_eq(SSL_connect(ssl), -1);
	ck_assert_int_eq(SSL_get_error(ssl, -1), SSL_ERROR_WANT_READ);
	ck_assert_int_gt(n = BIO_read(wb, buf, (int)size), 5);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return (size_t)n;
}

/* ---- 1. the greeting over TLS ------------------------------------------ */

/* The clear-text exchange: the banner, msg, all until EOF. */
static ssize_t
clear_exchange(int p, const char *msg, char *out, size_t size)
{
	ssize_t	 n, m;
	int	 fd;

	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", p), -1);
	n = read_banner(fd, out, size);
	ck_assert_int_eq(send(fd, msg, strlen(msg), MSG_NOSIGNAL),
	    (ssize_t)strlen(msg));
	ck_assert_int_eq(send(fd, "\n", 1, MSG_NOSIGNAL), 1);
	m = read_all(fd, out + n, size - (size_t)n);
	close(fd);
	return n + m;
}

/* A TLS exchange from 127.0.0.1 on port p at most version max. */
static ssize_t
tls_exchange_on(int p, int max, const char *msg, char *out, size_t size,
    char *version, size_t vsize)
{
	SSL_CTX	*ctx = tc_ctx(max, NULL, NULL);
	SSL	*ssl;
	ssize_t	 n;
	int	 fd;

	ck_assert_int_ne(fd = tcp_connect("127.0.0.1", p), -1);
	ck_assert_msg((ssl = tc_handshake(ctx, fd, NULL, NULL)) != NULL,
	    "no handshake; log:\n%s", daemon_log_tail(&d));
	snprintf(version, vsize, "%s", SSL_get_version(ssl));
	n = tc_exchange(ssl, msg, out, size);
	tc_close(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return n;
}

/*
 * One listener in clear, one with TLS: the same message gets the same
 * bytes back on both, over TLS 1.3 and over 1.2 (min_version = "1.2");
 * the status counts both handshakes, and each connection's line names
 * its version.
 */
START_TEST(test_tls_greeting)
{
	char	 clear[256], over[256], version[32], conf[2048];
	int	 cport = free_port();
	ssize_t	 nc, nt;

	tls_certs();
	snprintf(conf, sizeof(conf), "workers = 2;\ncontrol = \"%s/control\";\n"
	    "listen = ( { address = \"127.0.0.1\"; port = %d; },\n"
	    "  { address = \"127.0.0.1\"; port = %d;\n"
	    "    tls = { %s min_version = \"1.2\"; }; } );", d.d_dir, cport,
	    port, at(TLS_SERVER_ONE));
	daemon_start(&d, conf);
	nc = clear_exchange(cport, "in the clear", clear, sizeof(clear));
	ck_assert_int_eq(nc, sizeof(BANNER));
	ck_assert_int_eq(memcmp(clear, BANNER, sizeof(BANNER)), 0);
	ck_assert(daemon_log_wait(&d, "msg=\"in the clear\"\n", TLS_WAIT));

	nt = tls_exchange_on(port, 0, "over tls13", over, sizeof(over),
	    version, sizeof(version));
	ck_assert_str_eq(version, "TLSv1.3");
	ck_assert_int_eq(nt, nc);
	ck_assert_int_eq(memcmp(over, clear, (size_t)nc), 0);
	ck_assert_msg(daemon_log_wait(&d, "bytes=10 msg=\"over tls13\" "
	    "tls=TLSv1.3\n", TLS_WAIT), "%s", daemon_log_tail(&d));

	nt = tls_exchange_on(port, TLS1_2_VERSION, "over tls12", over,
	    sizeof(over), version, sizeof(version));
	ck_assert_str_eq(version, "TLSv1.2");
	ck_assert_int_eq(nt, nc);
	ck_assert_int_eq(memcmp(over, clear, (size_t)nc), 0);
	ck_assert_msg(daemon_log_wait(&d, "bytes=10 msg=\"over tls12\" "
	    "tls=TLSv1.2\n", TLS_WAIT), "%s", daemon_log_tail(&d));

	tls_status_is("tls: handshakes=2 resumed=0 failed not_tls=0 "
	    "version=0 certificate=0 timeout=0 closed=0 protocol=0\n");
	ck_assert_int_eq(daemon_log_count(&d, "TLS handshake with"), 0);
}
END_TEST

/* min_version = "1.3": a client that speaks at most 1.2 is refused,
 * counted and logged as a version failure; a 1.3 client is served. */
START_TEST(test_tls_min_version)
{
	SSL_CTX	*old, *cur;

	tls_certs();
	tls_start("workers = 1;", TLS_SERVER_ONE "\nmin_version = \"1.3\";");
	old = tc_ctx(TLS1_2_VERSION, NULL, NULL);
	cur = tc_ctx(0, NULL, NULL);
	ck_assert(!tc_greet(old, "127.0.0.2", NULL, "old", NULL));
	ck_assert_msg(daemon_log_wait(&d, "TLS handshake with peer=127.0.0.2:",
	    TLS_WAIT), "%s", daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, " failed: version (", TLS_WAIT));
	ck_assert(tc_greet(cur, "127.0.0.1", NULL, "new", NULL));
	ck_assert(daemon_log_wait(&d, "msg=\"new\" tls=TLSv1.3", TLS_WAIT));
	tls_status_is("tls: handshakes=1 resumed=0 failed not_tls=0 "
	    "version=1 ");
	SSL_CTX_free(old);
	SSL_CTX_free(cur);
}
END_TEST

/* ---- 2. configuration errors ------------------------------------------- */

/*
 * The tls group's members, one a line from line 4: -t and a start both
 * fail with want (after "FILE:"), the line of the member at fault.
 */
static int	tls_bad_cases;

static void
tls_bad_config(const char *members, const char *want)
{
	char	 conf[4096], out[8192], line[512];
	int	 status;

	snprintf(conf, sizeof(conf), "workers = 1;\nlisten = ( { address = "
	    "\"127.0.0.1\"; port = %d;\n  tls = {\n%s\n  }; } );", port,
	    at(members));
	daemon_write_config(&d, conf);
	snprintf(line, sizeof(line), "%s:%s", d.d_conf, want);
	status = tls_check_config(out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG,
	    "-t: %#x %s", status, out);
	ck_assert_msg(strstr(out, line) != NULL, "-t: want \"%s\" in:\n%s",
	    line, out);

	daemon_launch(&d, conf, NULL, NULL);
	status = daemon_wait(&d, TLS_WAIT);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG,
	    "start: %#x\n%s", status, daemon_log_tail(&d));
	ck_assert_msg(strstr(daemon_log(&d), line) != NULL, "start: want "
	    "\"%s\" in:\n%s", line, daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "ready generation="), 0);
	/* The next case has a log of its own. */
	snprintf(d.d_log, sizeof(d.d_log), "%s/stderr-%d.log", d.d_dir,
	    ++tls_bad_cases);
}

START_TEST(test_tls_config_errors)
{
	tls_certs();
	tls_bad_config("certificate = \"@/srv.pem\";\nkey = \"@/other.key\";",
	    "5: listen.tls.key");
	tls_bad_config("certificate = \"@/missing.pem\";\nkey = \"@/srv.key\";",
	    "4: listen.tls.certificate \"");
	tls_bad_config("certificate = \"@/srv.pem\";\nkey = \"@/gone.key\";",
	    "5: listen.tls.key \"");
	/* A directory: there, but no file to read. */
	tls_bad_config("certificate = \"@/\";\nkey = \"@/srv.key\";",
	    "4: listen.tls.certificate \"");
	tls_bad_config("certificate = \"@/notpem.pem\";\nkey = \"@/srv.key\";",
	    "4: listen.tls.certificate: no PEM certificate");
	tls_bad_config("certificate = \"@/srv.pem\";\nkey = \"@/notpem.pem\";",
	    "5: listen.tls.key: no unencrypted PEM private key");
	tls_bad_config(TLS_SERVER_ONE "\nclient_ca = \"@/notpem.pem\";",
	    "6: listen.tls.client_ca: no PEM certificate");
	tls_bad_config(TLS_SERVER_ONE "\nverify = \"require\";",
	    "6: listen.tls.verify = \"require\" needs client_ca");
	tls_bad_config(TLS_SERVER_ONE "\nverify = \"optional\";",
	    "6: listen.tls.verify = \"optional\" needs client_ca");
	tls_bad_config(TLS_SERVER_ONE "\nclient_ca = \"@/ca.pem\";\n"
	    "verify = \"none\";", "7: listen.tls.client_ca is set but "
	    "verify = \"none\"");
	tls_bad_config(TLS_SERVER_ONE "\nkeyfile = \"@/srv.key\";",
	    "6: unknown key \"listen.tls.keyfile\"");
	tls_bad_config(TLS_SERVER_ONE "\nciphers = \"NO-SUCH-CIPHER\";",
	    "6: listen.tls.ciphers: none of them is known");
	tls_bad_config(TLS_SERVER_ONE "\nciphersuites = \"TLS_NO_SUCH\";",
	    "6: listen.tls.ciphersuites: not a valid list");
	tls_bad_config(TLS_SERVER_ONE "\nmin_version = \"1.1\";",
	    "6: listen.tls.min_version");
	tls_bad_config("key = \"@/srv.key\";", "3: listen.tls needs a "
	    "certificate");
}
END_TEST

/* The line of text that has want says it expired and is served. */
static void
tls_expired_line(const char *text, const char *want)
{
	const char	*p = strstr(text, want), *end;
	char		 line[1024];

	ck_assert_msg(p != NULL, "want \"%s\" in:\n%s", want, text);
	end = strchr(p, '\n') != NULL ? strchr(p, '\n') : p + strlen(p);
	snprintf(line, sizeof(line), "%.*s", (int)(end - p), p);
	ck_assert_msg(strstr(line, "expired") != NULL &&
	    strstr(line, "served all the same") != NULL, "%s", line);
}

/* An expired certificate: a warning at -t and at start, at the group's
 * line, and served all the same. */
START_TEST(test_tls_expired)
{
	char	 out[8192], want[512], cn[64];
	SSL_CTX	*ctx;
	long	 serial;
	int	 status;

	tls_certs();
	daemon_write_config(&d, tls_config("workers = 1;",
	    "certificate = \"@/expired.pem\";\nkey = \"@/srv.key\";"));
	status = tls_check_config(out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s",
	    out);
	/* extra, control, listen: the group opens on line 4. */
	snprintf(want, sizeof(want), "%s:4: listen.tls.certificate \"%s/"
	    "expired.pem\" ", d.d_conf, d.d_dir);
	tls_expired_line(out, want);
	tls_start("workers = 1;", "certificate = \"@/expired.pem\";\n"
	    "key = \"@/srv.key\";");
	tls_expired_line(daemon_log(&d), want);
	ctx = tc_ctx(0, NULL, NULL);
	tc_served_cert(ctx, cn, sizeof(cn), &serial);
	ck_assert_str_eq(cn, "server-old");
	ck_assert_int_eq(serial, 0x1003);
	SSL_CTX_free(ctx);
}
END_TEST

/* "credential:NAME" is NAME in $CREDENTIALS_DIRECTORY. */
START_TEST(test_tls_credential)
{
	char		 env[160], cn[64];
	const char	*envp[] = { env, NULL };
	SSL_CTX		*ctx;
	long		 serial;

	tls_certs();
	snprintf(env, sizeof(env), "CREDENTIALS_DIRECTORY=%s", d.d_dir);
	daemon_start_args(&d, tls_config("workers = 1;", "certificate = "
	    "\"credential:srv2.pem\";\nkey = \"credential:srv2.key\";"), envp);
	ctx = tc_ctx(0, NULL, NULL);
	tc_served_cert(ctx, cn, sizeof(cn), &serial);
	ck_assert_str_eq(cn, "server-two");
	SSL_CTX_free(ctx);
}
END_TEST

/* ---- 3. reload --------------------------------------------------------- */

static void
copy_file(const char *from, const char *to)
{
	char	 buf[65536], src[256], dst[256], tmp[300];
	ssize_t	 n;
	int	 in, out;

	snprintf(src, sizeof(src), "%s/%s", d.d_dir, from);
	snprintf(dst, sizeof(dst), "%s/%s", d.d_dir, to);
	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	ck_assert_int_ne(in = open(src, O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_ne(out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600), -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(out, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(close(out), 0);
	ck_assert_int_eq(rename(tmp, dst), 0);
}

/* cn and serial of n greetings in a row must all be want's. */
static void
served_n(SSL_CTX *ctx, int n, const char *want, long want_serial)
{
	char	 cn[64];
	long	 serial;

	for (int i = 0; i < n; i++) {
		tc_served_cert(ctx, cn, sizeof(cn), &serial);
		ck_assert_msg(strcmp(cn, want) == 0 && serial == want_serial,
		    "connection %d: served %s %#lx, want %s %#lx", i, cn,
		    serial, want, want_serial);
	}
}

/*
 * live.pem/live.key start as server-one.  Rewritten as server-two on
 * disk, nothing changes, not even for workers forked since (each serves
 * one connection): the checked bytes are served.  After a HUP, server-two
 * is.  Then a broken certificate file: the reload is refused at its line
 * and server-two serves on, also from workers forked after it.
 */
START_TEST(test_tls_reload)
{
	char	 want[512];
	SSL_CTX	*ctx;
	FILE	*fp;

	tls_certs();
	copy_file("srv.pem", "live.pem");
	copy_file("srv.key", "live.key");
	tls_start("workers = 2;\nmax_connections = 1;",
	    "certificate = \"@/live.pem\";\nkey = \"@/live.key\";");
	ctx = tc_ctx(0, NULL, NULL);
	served_n(ctx, 2, "server-one", 0x1001);

	copy_file("srv2.pem", "live.pem");
	copy_file("srv2.key", "live.key");
	served_n(ctx, 4, "server-one", 0x1001);
	ck_assert(daemon_log_wait(&d, "worker recycled pid=", TLS_WAIT));

	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2 ", TLS_WAIT),
	    "%s", daemon_log_tail(&d));
	served_n(ctx, 4, "server-two", 0x1002);

	ck_assert_ptr_nonnull(fp = fopen(at("@/live.pem"), "w"));
	fputs("-----BEGIN CERTIFICATE-----\nbroken\n"
	    "-----END CERTIFICATE-----\n", fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	/* workers, max_connections, control, listen, tls: line 6. */
	snprintf(want, sizeof(want), "reload failed: %s:6: "
	    "listen.tls.certificate", d.d_conf);
	ck_assert_msg(daemon_log_wait(&d, want, TLS_WAIT), "want \"%s\":\n%s",
	    want, daemon_log_tail(&d));
	served_n(ctx, 4, "server-two", 0x1002);
	ck_assert_int_eq(daemon_log_count(&d, "ready generation=3"), 0);
	SSL_CTX_free(ctx);
}
END_TEST

/* ---- 4. sessions across workers ---------------------------------------- */

/*
 * Each worker serves one connection (max_connections = 1): the ticket
 * the first connection got from its worker resumes on every later one,
 * each served by another worker (at the version ctx allows).  Returns
 * the session, the caller's to free.
 */
static SSL_SESSION *
resume_across(SSL_CTX *ctx, const char *tag, int n)
{
	char		 msg[64], needle[96];
	SSL_SESSION	*sess;
	pid_t		 issuer, pid[16];
	bool		 reused;
	int		 others = 0;

	snprintf(msg, sizeof(msg), "%s issue", tag);
	ck_assert(tc_greet(ctx, "127.0.0.1", NULL, msg, &reused));
	ck_assert(!reused);
	ck_assert_msg((sess = tc_take_session()) != NULL, "no ticket");
	snprintf(needle, sizeof(needle), "msg=\"%s\"", msg);
	issuer = log_pid(needle);
	for (int i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "%s resume %d", tag, i);
		ck_assert_msg(tc_greet(ctx, "127.0.0.1", sess, msg, &reused),
		    "%s: no greeting; log:\n%s", msg, daemon_log_tail(&d));
		ck_assert_msg(reused, "%s: not resumed; log:\n%s", msg,
		    daemon_log_tail(&d));
		snprintf(needle, sizeof(needle), "msg=\"%s\"", msg);
		pid[i] = log_pid(needle);
		if (pid[i] != issuer)
			others++;
		for (int j = 0; j < i; j++)
			ck_assert_int_ne(pid[j], pid[i]);
	}
	ck_assert_int_ge(others, 2);
	SSL_SESSION_free(tc_take_session());
	return sess;
}

START_TEST(test_tls_resume_workers)
{
	SSL_SESSION	*s13, *s12;
	SSL_CTX		*c13, *c12;
	bool		 reused;

	tls_certs();
	tls_start("workers = 3;\nmax_connections = 1;", TLS_SERVER_ONE);
	c13 = tc_ctx(0, NULL, NULL);
	c12 = tc_ctx(TLS1_2_VERSION, NULL, NULL);
	s13 = resume_across(c13, "tls13", 4);
	s12 = resume_across(c12, "tls12", 3);
	tls_status_is("tls: handshakes=9 resumed=7 failed not_tls=0 "
	    "version=0 certificate=0 timeout=0 closed=0 protocol=0\n");

	/* A new generation cannot read the old one's tickets. */
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "reloaded generation=2 ", TLS_WAIT),
	    "%s", daemon_log_tail(&d));
	ck_assert(tc_greet(c13, "127.0.0.1", s13, "old 13", &reused));
	ck_assert_msg(!reused, "a TLS 1.3 ticket of generation 1 resumed");
	ck_assert(tc_greet(c12, "127.0.0.1", s12, "old 12", &reused));
	ck_assert_msg(!reused, "a TLS 1.2 ticket of generation 1 resumed");
	ck_assert(daemon_log_wait(&d, "msg=\"old 12\"", TLS_WAIT));
	tls_status_is("tls: handshakes=11 resumed=7 ");
	SSL_SESSION_free(s13);
	SSL_SESSION_free(s12);
	/* ... and reads its own. */
	SSL_SESSION_free(resume_across(c13, "gen2", 2));
	SSL_CTX_free(c13);
	SSL_CTX_free(c12);
}
END_TEST

/* tickets = false: nothing to resume with, in 1.3 or 1.2. */
START_TEST(test_tls_no_tickets)
{
	SSL_SESSION	*sess;
	SSL_CTX		*ctx;
	bool		 reused;
	int		 maxes[] = { 0, TLS1_2_VERSION };

	tls_certs();
	tls_start("workers = 2;", TLS_SERVER_ONE "\ntickets = false;");
	for (int v = 0; v < 2; v++) {
		ctx = tc_ctx(maxes[v], NULL, NULL);
		ck_assert(tc_greet(ctx, "127.0.0.1", NULL, "first", &reused));
		if ((sess = tc_take_session()) != NULL)
			ck_assert_msg(!SSL_SESSION_is_resumable(sess) ||
			    SSL_SESSION_get_protocol_version(sess) ==
			    TLS1_2_VERSION, "a TLS 1.3 ticket was issued");
		for (int i = 0; i < 3 && sess != NULL; i++) {
			ck_assert(tc_greet(ctx, "127.0.0.1", sess, "again",
			    &reused));
			ck_assert_msg(!reused, "resumed without tickets");
		}
		SSL_SESSION_free(sess);
		SSL_SESSION_free(tc_take_session());
		SSL_CTX_free(ctx);
	}
	tls_status_is(" resumed=0 failed");
}
END_TEST

/* ---- 5. client certificates ---------------------------------------------- */

/*
 * verify = "require": no certificate, or the stranger's, is refused,
 * counted as certificate and logged; client-one is served and its
 * subject is in the connection's line.
 */
START_TEST(test_tls_client_require)
{
	char	 out[16384];
	SSL_CTX	*none, *good, *bad;

	tls_certs();
	tls_start("workers = 1;", TLS_SERVER_ONE "\nclient_ca = \"@/ca.pem\";\n"
	    "verify = \"require\";");
	none = tc_ctx(0, NULL, NULL);
	good = tc_ctx(0, "cli.pem", "cli.key");
	bad = tc_ctx(0, "other.pem", "other.key");
	ck_assert(!tc_greet(none, "127.0.0.2", NULL, "anonymous", NULL));
	ck_assert_msg(daemon_log_wait(&d, "TLS handshake with peer=127.0.0.2:",
	    TLS_WAIT), "%s", daemon_log_tail(&d));
	ck_assert(!tc_greet(bad, "127.0.0.3", NULL, "stranger", NULL));
	ck_assert_msg(daemon_log_wait(&d, "TLS handshake with peer=127.0.0.3:",
	    TLS_WAIT), "%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, " failed: certificate ("), 2);
	ck_assert(tc_greet(good, "127.0.0.1", NULL, "with a certificate",
	    NULL));
	ck_assert_msg(daemon_log_wait(&d, "msg=\"with a certificate\" "
	    "tls=TLSv1.3 subject=\"CN=client-one\"\n", TLS_WAIT), "%s",
	    daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "msg=\"anonymous\""), 0);
	ck_assert_int_eq(daemon_log_count(&d, "msg=\"stranger\""), 0);
	tls_status_is("tls: handshakes=1 resumed=0 failed not_tls=0 "
	    "version=0 certificate=2 timeout=0 closed=0 protocol=0\n");
	tls_ctl("metrics", out, sizeof(out));
	ck_assert_msg(strstr(out, "preforkd_tls_handshake_failures_total"
	    "{reason=\"certificate\"} 2\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "preforkd_tls_handshakes_total 1\n") !=
	    NULL, "%s", out);
	SSL_CTX_free(none);
	SSL_CTX_free(good);
	SSL_CTX_free(bad);
}
END_TEST

/* verify = "optional": no certificate is served without a subject; a
 * certificate that does not verify is still refused. */
START_TEST(test_tls_client_optional)
{
	SSL_CTX	*none, *good, *bad;

	tls_certs();
	tls_start("workers = 1;", TLS_SERVER_ONE "\nclient_ca = \"@/ca.pem\";\n"
	    "verify = \"optional\";");
	none = tc_ctx(0, NULL, NULL);
	good = tc_ctx(0, "cli.pem", "cli.key");
	bad = tc_ctx(0, "other.pem", "other.key");
	ck_assert(tc_greet(none, "127.0.0.1", NULL, "anonymous", NULL));
	ck_assert_msg(daemon_log_wait(&d, "msg=\"anonymous\" tls=TLSv1.3\n",
	    TLS_WAIT), "%s", daemon_log_tail(&d));
	ck_assert(tc_greet(good, "127.0.0.1", NULL, "known", NULL));
	ck_assert(daemon_log_wait(&d, "msg=\"known\" tls=TLSv1.3 subject="
	    "\"CN=client-one\"\n", TLS_WAIT));
	ck_assert(!tc_greet(bad, "127.0.0.3", NULL, "stranger", NULL));
	ck_assert_msg(daemon_log_wait(&d, " failed: certificate (", TLS_WAIT),
	    "%s", daemon_log_tail(&d));
	tls_status_is("tls: handshakes=2 resumed=0 failed not_tls=0 "
	    "version=0 certificate=1 ");
	SSL_CTX_free(none);
	SSL_CTX_free(good);
	SSL_CTX_free(bad);
}
END_TEST

/* ---- 6. hostile clients -------------------------------------------------- */

/* From src, send the bytes, then read until the server closes: it must
 * close without a banner.  shut: half-close after sending. */
static void
hostile_bytes(const char *src, const void *buf, size_t len, bool shut)
{
	char	 in[4096];
	ssize_t	 n;
	int	 fd = tcp_connect_from(src, port, TLS_WAIT);

	ck_assert_int_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
	if (shut)
		shutdown(fd, SHUT_WR);
	n = read_all(fd, in, sizeof(in) - 1);
	ck_assert_int_ge(n, 0);
	in[n] = '\0';
	ck_assert_msg(memmem(in, (size_t)n, "Welcome", 7) == NULL,
	    "a banner in clear");
	close(fd);
}

/* The next client is served, by worker if it is not 0. */
static void
served_by(pid_t worker, const char *msg)
{
	char	 needle[96];
	SSL_CTX	*ctx = tc_ctx(0, NULL, NULL);

	ck_assert_msg(tc_greet(ctx, "127.0.0.1", NULL, msg, NULL),
	    "not served; log:\n%s", daemon_log_tail(&d));
	snprintf(needle, sizeof(needle), "msg=\"%s\" tls=TLSv1.3", msg);
	if (worker > 0)
		ck_assert_int_eq(log_pid(needle), worker);
	else
		(void)log_pid(needle);
	SSL_CTX_free(ctx);
}

/*
 * Plain text and HTTP on a TLS port: closed without a banner, logged as
 * not_tls with the client's address, counted; the one worker serves the
 * next TLS client.
 */
START_TEST(test_tls_plain_text)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	pid_t	 worker;

	tls_certs();
	tls_start("workers = 1;", TLS_SERVER_ONE);
	hostile_bytes("127.0.0.2", "hello\r\n", 7, false);
	worker = log_pid("TLS handshake with peer=127.0.0.2:");
	ck_assert_msg(daemon_log_wait(&d, "failed: not_tls (", TLS_WAIT),
	    "%s", daemon_log_tail(&d));
	hostile_bytes("127.0.0.3", http, sizeof(http) - 1, false);
	ck_assert_int_eq(log_pid("TLS handshake with peer=127.0.0.3:"), worker);
	ck_assert(daemon_log_wait_count(&d, "failed: not_tls (", 2, TLS_WAIT));
	served_by(worker, "after plain text");
	tls_status_is("tls: handshakes=1 resumed=0 failed not_tls=2 "
	    "version=0 certificate=0 timeout=0 closed=0 protocol=0\n");
	ck_assert_int_eq(daemon_log_count(&d, "msg=\"hello"), 0);
}
END_TEST

/*
 * A handshake record of garbage, and a real ClientHello cut in half
 * and then the client's close: each is logged and counted by what it
 * was, and the worker serves the next client.
 */
START_TEST(test_tls_bad_hello)
{
	uint8_t	 hello[4096], junk[5 + 64];
	size_t	 n;
	pid_t	 worker;

	tls_certs();
	tls_start("workers = 1;", TLS_SERVER_ONE);
	memcpy(junk, "\x16\x03\x01\x00\x40", 5);
	memset(junk + 5, 0xab, 64);
	hostile_bytes("127.0.0.2", junk, sizeof(junk), false);
	worker = log_pid("TLS handshake with peer=127.0.0.2:");
	ck_assert_msg(daemon_log_wait(&d, "failed: protocol (", TLS_WAIT),
	    "%s", daemon_log_tail(&d));

	n = tc_client_hello(0, hello, sizeof(hello));
	hostile_bytes("127.0.0.3", hello, n / 2, true);
	ck_assert_int_eq(log_pid("TLS handshake with peer=127.0.0.3:"), worker);
	ck_assert_msg(daemon_log_wait(&d, "failed: closed (the client closed "
	    "the connection)", TLS_WAIT), "%s", daemon_log_tail(&d));
	served_by(worker, "after garbage");
	tls_status_is("tls: handshakes=1 resumed=0 failed not_tls=0 "
	    "version=0 certificate=0 timeout=0 closed=1 protocol=1\n");
}
END_TEST

/*
 * timeouts.read bounds the handshake: a client silent from the start,
 * and one that stops in the middle of its ClientHello, are both closed
 * at it, logged and counted as timeouts; the worker serves on.
 */
START_TEST(test_tls_stalled)
{
	uint8_t	 hello[4096];
	char	 buf[64];
	size_t	 n;
	int	 quiet, half;

	tls_certs();
	/* A worker for each: with one, the master would shed the first. */
	tls_start("workers = 2;\ntimeouts = { read = 2.0; };\n"
	    "limits = { per_source = 0; };", TLS_SERVER_ONE);
	quiet = tcp_connect_from("127.0.0.2", port, TLS_WAIT);
	half = tcp_connect_from("127.0.0.3", port, TLS_WAIT);
	n = tc_client_hello(0, hello, sizeof(hello));
	ck_assert_int_eq(send(half, hello, n - 10, MSG_NOSIGNAL),
	    (ssize_t)(n - 10));
	/* The server closes each at timeouts.read, long before our own
	 * receive timeout (-1). */
	ck_assert_int_eq(recv(quiet, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(recv(half, buf, sizeof(buf), 0), 0);
	close(quiet);
	close(half);
	ck_assert(daemon_log_wait(&d, "TLS handshake with peer=127.0.0.2:",
	    TLS_WAIT));
	ck_assert(daemon_log_wait(&d, "TLS handshake with peer=127.0.0.3:",
	    TLS_WAIT));
	ck_assert_int_eq(daemon_log_count(&d, "failed: timeout (none before "
	    "timeouts.read)"), 2);
	tls_status_is("tls: handshakes=0 resumed=0 failed not_tls=0 "
	    "version=0 certificate=0 timeout=2 closed=0 protocol=0\n");
	served_by(0, "after the stall");
}
END_TEST

/*
 * The pool is full: its one worker is held by a client that never
 * starts its handshake.  The next client is served once the master sheds
 * the silent one, which is counted as shed, not as a TLS failure.
 */
START_TEST(test_tls_shed)
{
	char	 buf[64];
	SSL_CTX	*ctx;
	int	 quiet;

	tls_certs();
	tls_start("workers = 1;\nlimits = { per_source = 0; };\n"
	    "timeouts = { read = 60.0; connection = 70.0; hung = 80.0; };",
	    TLS_SERVER_ONE);
	quiet = tcp_connect_from("127.0.0.2", port, 60);
	sleep_ms(1200);		/* silent for longer than the shed floor */
	ctx = tc_ctx(0, NULL, NULL);
	ck_assert_msg(tc_greet(ctx, "127.0.0.1", NULL, "while full", NULL),
	    "not served; log:\n%s", daemon_log_tail(&d));
	ck_assert(daemon_log_wait(&d, "shedding peer=127.0.0.2:", TLS_WAIT));
	ck_assert_int_eq(recv(quiet, buf, sizeof(buf), 0), 0);
	close(quiet);
	tls_status_is("tls: handshakes=1 resumed=0 failed not_tls=0 "
	    "version=0 certificate=0 timeout=0 closed=0 protocol=0\n");
	tls_status_is(" shed=1 ");
	ck_assert_int_eq(daemon_log_count(&d, "TLS handshake with"), 0);
	SSL_CTX_free(ctx);
}
END_TEST

/* Clients that connect and close at once (a port scan, a health check):
 * counted empty, not logged, not TLS failures. */
START_TEST(test_tls_empty)
{
	SSL_CTX	*ctx;

	tls_certs();
	tls_start("workers = 1;", TLS_SERVER_ONE);
	for (int i = 0; i < 3; i++)
		close(tcp_connect_from("127.0.0.2", port, TLS_WAIT));
	ctx = tc_ctx(0, NULL, NULL);
	ck_assert(tc_greet(ctx, "127.0.0.1", NULL, "after the scan", NULL));
	ck_assert(daemon_log_wait(&d, "msg=\"after the scan\"", TLS_WAIT));
	tls_status_is("tls: handshakes=1 resumed=0 failed not_tls=0 "
	    "version=0 certificate=0 timeout=0 closed=0 protocol=0\n");
	tls_status_is(" empty=3\n");
	ck_assert_int_eq(daemon_log_count(&d, "TLS handshake with"), 0);
	ck_assert_int_eq(daemon_log_count(&d, "peer=127.0.0.2:"), 0);
	SSL_CTX_free(ctx);
}
END_TEST

/*
 * TLS 1.2: the client asks to renegotiate after the banner.  The server
 * says no; the worker lives and serves the next client.
 */
START_TEST(test_tls_renegotiation)
{
	char	 buf[64];
	SSL_CTX	*ctx;
	SSL	*ssl;
	size_t	 got, len = 0;
	pid_t	 worker;
	int	 fd;

	tls_certs();
	tls_start("workers = 1;", TLS_SERVER_ONE);
	ctx = tc_ctx(TLS1_2_VERSION, NULL, NULL);
	fd = tcp_connect_from("127.0.0.2", port, TLS_WAIT);
	ck_assert_ptr_nonnull(ssl = tc_handshake(ctx, fd, NULL, NULL));
	while (len < sizeof(buf) && SSL_read_ex(ssl, buf + len, 1, &got) == 1)
		if (buf[len++] == '\0')
			break;
	ck_assert_int_eq(len, sizeof(BANNER));
	ck_assert_int_eq(SSL_renegotiate(ssl), 1);
	ck_assert_msg(SSL_do_handshake(ssl) != 1, "renegotiated");
	ERR_clear_error();
	tc_close(ssl);
	close(fd);
	ck_assert_uint_eq(proc_children(d.d_pid, &worker, 1), 1);
	served_by(worker, "after renegotiation");
	ck_assert(proc_alive(worker));
	SSL_CTX_free(ctx);
}
END_TEST

/* ---- 7. PROXY before TLS ----------------------------------------------- */

/* The PROXY header in clear, then the handshake: the peer the log
 * names is the one the header gave, for a service line and a failure. */
START_TEST(test_tls_proxy)
{
	char	 buf[256], conf[2048];
	SSL_CTX	*ctx;
	SSL	*ssl;
	int	 fd;

	tls_certs();
	snprintf(conf, sizeof(conf), "workers = 1;\nlisten = ( { address = "
	    "\"127.0.0.1\"; port = %d;\n  proxy_protocol = \"v1\"; "
	    "proxy_from = [ \"127.0.0.1\" ];\n  tls = { %s }; } );", port,
	    at(TLS_SERVER_ONE));
	daemon_start(&d, conf);
	ctx = tc_ctx(0, NULL, NULL);
	fd = tcp_connect_from("127.0.0.1", port, TLS_WAIT);
	ck_assert_ptr_nonnull(ssl = tc_handshake(ctx, fd, NULL,
	    "PROXY TCP4 192.0.2.7 127.0.0.1 40000 443\r\n"));
	ck_assert_int_eq(tc_exchange(ssl, "behind a balancer", buf,
	    sizeof(buf)), sizeof(BANNER));
	tc_close(ssl);
	close(fd);
	ck_assert_msg(daemon_log_wait(&d, "message peer=192.0.2.7:40000 "
	    "bytes=17 msg=\"behind a balancer\" tls=TLSv1.3",
	    TLS_WAIT), "%s", daemon_log_tail(&d));

	hostile_bytes("127.0.0.1", "PROXY TCP4 192.0.2.8 127.0.0.1 40001 443"
	    "\r\nhello\r\n", 49, false);
	ck_assert_msg(daemon_log_wait(&d, "TLS handshake with peer="
	    "192.0.2.8:40001 failed: not_tls (", TLS_WAIT), "%s",
	    daemon_log_tail(&d));
	SSL_CTX_free(ctx);
}
END_TEST

/* ---- 8. a reload under a saturated pool ---------------------------------- */

#define SAT_CLIENTS	6
#define SAT_WORKERS	2

/* What a closed-loop client saw. */
struct sat_result {
	long	 sr_ok;		/* greeted */
	long	 sr_bad;	/* a handshake, then no proper greeting */
	long	 sr_failed;	/* no handshake */
};

/* tcp_connect_from() without asserting: -1 on failure. */
static int
sat_connect(void)
{
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct timeval		 tv = { TLS_WAIT, 0 };
	int			 fd;

	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One closed-loop client for secs, its counts to fd. */
static void
sat_client(int fd, double secs)
{
	struct timespec		 end = clock_after(clock_now(), secs);
	struct sat_result	 r = { 0, 0, 0 };
	SSL_CTX			*ctx = tc_ctx(0, NULL, NULL);
	char			 buf[256];
	SSL			*ssl;
	int			 s;

	while (clock_ms_until(end) > 0) {
		if ((s = sat_connect()) == -1 ||
		    (ssl = tc_handshake(ctx, s, NULL, NULL)) == NULL)
			r.sr_failed++;
		else {
			if (tc_exchange(ssl, "saturated", buf, sizeof(buf)) ==
			    (ssize_t)sizeof(BANNER) &&
			    memcmp(buf, BANNER, sizeof(BANNER)) == 0)
				r.sr_ok++;
			else
				r.sr_bad++;
			tc_close(ssl);
		}
		if (s != -1)
			close(s);
	}
	(void)write(fd, &r, sizeof(r));
	_exit(0);
}

/*
 * More closed-loop TLS clients than workers, and a reload to another
 * certificate in the middle: generation 2 gets ready, it serves the new
 * certificate, and every connection whose handshake completed got its
 * greeting.
 */
START_TEST(test_tls_saturated_reload)
{
	struct sat_result	 r, sum = { 0, 0, 0 };
	char			 cn[64];
	SSL_CTX			*ctx;
	pid_t			 kids[SAT_CLIENTS];
	long			 serial;
	int			 p[2];

	tls_certs();
	tls_start("workers = 2;\nlimits = { per_source = 0; };",
	    TLS_SERVER_ONE);
	ck_assert_int_eq(pipe(p), 0);
	for (int i = 0; i < SAT_CLIENTS; i++) {
		ck_assert_int_ne(kids[i] = fork(), -1);
		if (kids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(p[0]);
			sat_client(p[1], 8);
		}
	}
	close(p[1]);
	sleep_ms(1500);
	daemon_write_config(&d, tls_config("workers = 2;\nlimits = { "
	    "per_source = 0; };", "certificate = \"@/srv2.pem\";\n"
	    "key = \"@/srv2.key\";"));
	ck_assert_int_eq(kill(d.d_pid, SIGHUP), 0);
	ck_assert_msg(daemon_log_wait(&d, "ready generation=2 ", 60),
	    "%s", daemon_log_tail(&d));
	for (int i = 0; i < SAT_CLIENTS; i++) {
		ck_assert_int_eq(read(p[0], &r, sizeof(r)), sizeof(r));
		sum.sr_ok += r.sr_ok;
		sum.sr_bad += r.sr_bad;
		sum.sr_failed += r.sr_failed;
	}
	close(p[0]);
	for (int i = 0; i < SAT_CLIENTS; i++)
		waitpid(kids[i], NULL, 0);
	ck_assert_msg(sum.sr_ok > 0 && sum.sr_bad == 0, "ok=%ld bad=%ld "
	    "failed=%ld\n%s", sum.sr_ok, sum.sr_bad, sum.sr_failed,
	    daemon_log_tail(&d));
	ctx = tc_ctx(0, NULL, NULL);
	tc_served_cert(ctx, cn, sizeof(cn), &serial);
	ck_assert_str_eq(cn, "server-two");
	SSL_CTX_free(ctx);
	ck_assert_int_eq(daemon_log_count(&d, "reload failed"), 0);
}
END_TEST
/*
 * Two TLS listeners of one generation: a session of the one that asks no
 * certificate never resumes on the one that requires one (a resumed
 * handshake asks for none), and a ticket of either is the other's
 * stranger.
 */
START_TEST(test_tls_two_listeners)
{
	char		 conf[8192];
	SSL_CTX		*ctx;
	SSL_SESSION	*open_ticket;
	bool		 reused = true;
	int		 other = free_port(), fd;
	SSL		*ssl;

	tls_certs();
	snprintf(conf, sizeof(conf), "workers = 2;\ncontrol = \"%s/control\";"
	    "\nlisten = ( { address = \"127.0.0.1\"; port = %d;\n"
	    "  tls = { %s }; },\n"
	    "  { address = \"127.0.0.1\"; port = %d;\n"
	    "  tls = { %s client_ca = \"%s/ca.pem\"; verify = \"require\"; };"
	    " } );\n", d.d_dir, port, at(TLS_SERVER_ONE), other,
	    at(TLS_SERVER_ONE), d.d_dir);
	daemon_start(&d, conf);
	ctx = tc_ctx(0, NULL, NULL);
	ck_assert(tc_greet(ctx, "127.0.0.1", NULL, "open door", NULL));
	ck_assert_ptr_nonnull(open_ticket = tc_take_session());
	/* The ticket resumes where it came from... */
	ck_assert(tc_greet(ctx, "127.0.0.1", open_ticket, "again", &reused));
	ck_assert_msg(reused, "the ticket did not resume on its listener");
	/* ...and not on the listener that requires a certificate. */
	fd = tcp_connect_from("127.0.0.1", other, TLS_WAIT);
	ssl = tc_handshake(ctx, fd, open_ticket, NULL);
	ck_assert_msg(ssl == NULL || SSL_session_reused(ssl) != 1,
	    "a session of the open listener resumed on the one that "
	    "requires a client certificate");
	if (ssl != NULL) {
		char	 buf[256];

		ck_assert_int_lt(tc_exchange(ssl, "sneaked in", buf,
		    sizeof(buf)), 0);
		tc_close(ssl);
	}
	close(fd);
	ck_assert_msg(daemon_log_wait(&d, " failed: certificate (",
	    TLS_WAIT), "%s", daemon_log_tail(&d));
	ck_assert_int_eq(daemon_log_count(&d, "msg=\"sneaked in\""), 0);
	SSL_SESSION_free(open_ticket);
	SSL_CTX_free(ctx);
}
END_TEST

/* One echo over TLS from src: send msg, then (half) our close_notify
 * when half, or a bare TCP close when cut; what came back into out. */
static ssize_t
tls_echo(SSL_CTX *ctx, const char *msg, bool cut, char *out, size_t size,
    int *how)
{
	size_t	 len = 0, got;
	SSL	*ssl;
	int	 fd = tcp_connect_from("127.0.0.1", port, TLS_WAIT);

	ck_assert_ptr_nonnull(ssl = tc_handshake(ctx, fd, NULL, NULL));
	ck_assert_int_eq(SSL_write(ssl, msg, (int)strlen(msg)),
	    (int)strlen(msg));
	if (cut) {
		/* The rest is not waited for: the client is gone. */
		while (len < strlen(msg) && SSL_read_ex(ssl, out + len,
		    size - len, &got) == 1)
			len += got;
		SSL_free(ssl);
		close(fd);
		*how = 0;
		return (ssize_t)len;
	}
	ck_assert_int_ge(SSL_shutdown(ssl), 0);	/* ours: no more from us */
	while (len < size && SSL_read_ex(ssl, out + len, size - len, &got) ==
	    1)
		len += got;
	*how = SSL_get_error(ssl, 0);
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	return (ssize_t)len;
}

/*
 * A client that half-closes (its close_notify after its request, as
 * SSL_shutdown(), Go's CloseWrite or Python's unwrap do) gets the whole
 * echo and then the server's close_notify: it can tell a whole reply from
 * one cut short.  A client that drops the TCP connection without one is
 * not taken for one that said goodbye: the service sees the connection
 * reset, not an end of input.
 */
START_TEST(test_tls_close_notify)
{
	char	 buf[256];
	SSL_CTX	*ctx;
	ssize_t	 n;
	int	 how;

	tls_certs();
	tls_start("workers = 1;\nservice = \"echo\";", TLS_SERVER_ONE);
	ctx = tc_ctx(0, NULL, NULL);
	n = tls_echo(ctx, "whole", false, buf, sizeof(buf), &how);
	ck_assert_int_eq(n, 5);
	ck_assert(memcmp(buf, "whole", 5) == 0);
	ck_assert_msg(how == SSL_ERROR_ZERO_RETURN, "after a half-close, "
	    "the server closed without close_notify (SSL error %d)", how);
	ck_assert_msg(daemon_log_wait(&d, "echo done peer=127.0.0.1:", TLS_WAIT)
	    && daemon_log_count(&d, "bytes=5 end=eof tls=TLSv1.3") == 1, "%s",
	    daemon_log_tail(&d));
	n = tls_echo(ctx, "cut", true, buf, sizeof(buf), &how);
	ck_assert_int_eq(n, 3);
	ck_assert_msg(daemon_log_wait(&d, "bytes=3 end=Connection reset by "
	    "peer tls=TLSv1.3", TLS_WAIT), "a TCP close without "
	    "close_notify read as an end of input:\n%s", daemon_log_tail(&d));
	SSL_CTX_free(ctx);
}
END_TEST


Suite *
tls_suite(void)
{
	Suite	*s = suite_create("tls");
	TCase	*serve = tcase_create("tls serving");
	TCase	*conf = tcase_create("tls configuration");
	TCase	*sess = tcase_create("tls reload and sessions");
	TCase	*cli = tcase_create("tls client certificates");
	TCase	*host = tcase_create("tls hostile");

	tcase_add_checked_fixture(serve, setup, teardown);
	tcase_add_test(serve, test_tls_greeting);
	tcase_add_test(serve, test_tls_min_version);
	tcase_add_test(serve, test_tls_proxy);
	tcase_add_test(serve, test_tls_close_notify);
	tcase_set_timeout(serve, 120);
	suite_add_tcase(s, serve);

	tcase_add_checked_fixture(conf, setup, teardown);
	tcase_add_test(conf, test_tls_config_errors);
	tcase_add_test(conf, test_tls_expired);
	tcase_add_test(conf, test_tls_credential);
	tcase_set_timeout(conf, 240);
	suite_add_tcase(s, conf);

	tcase_add_checked_fixture(sess, setup, teardown);
	tcase_add_test(sess, test_tls_reload);
	tcase_add_test(sess, test_tls_resume_workers);
	tcase_add_test(sess, test_tls_no_tickets);
	tcase_add_test(sess, test_tls_two_listeners);
	tcase_add_test(sess, test_tls_saturated_reload);
	tcase_set_timeout(sess, 240);
	suite_add_tcase(s, sess);

	tcase_add_checked_fixture(cli, setup, teardown);
	tcase_add_test(cli, test_tls_client_require);
	tcase_add_test(cli, test_tls_client_optional);
	tcase_set_timeout(cli, 120);
	suite_add_tcase(s, cli);

	tcase_add_checked_fixture(host, setup, teardown);
	tcase_add_test(host, test_tls_plain_text);
	tcase_add_test(host, test_tls_bad_hello);
	tcase_add_test(host, test_tls_stalled);
	tcase_add_test(host, test_tls_shed);
	tcase_add_test(host, test_tls_empty);
	tcase_add_test(host, test_tls_renegotiation);
	tcase_set_timeout(host, 120);
	suite_add_tcase(s, host);

	return s;
}

#else /* !HAVE_TLS */

/* Built without TLS: listen.tls is an error at its line. */
START_TEST(test_tls_refused)
{
	char	 conf[512], out[4096], want[256];
	int	 status;

	snprintf(conf, sizeof(conf), "workers = 1;\nlisten = ( { address = "
	    "\"127.0.0.1\"; port = %d;\n  tls = { certificate = \"c.pem\"; "
	    "key = \"k.pem\"; }; } );", port);
	daemon_write_config(&d, conf);
	status = tls_check_config(out, sizeof(out));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG,
	    "%#x %s", status, out);
	snprintf(want, sizeof(want), "%s:3: listen.tls: this preforkd was "
	    "built without TLS", d.d_conf);
	ck_assert_msg(strstr(out, want) != NULL, "want \"%s\" in:\n%s", want,
	    out);
}
END_TEST

Suite *
tls_suite(void)
{
	Suite	*s = suite_create("tls");
	TCase	*tc = tcase_create("tls refused");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tls_refused);
	suite_add_tcase(s, tc);
	return s;
}

#endif /* HAVE_TLS */
