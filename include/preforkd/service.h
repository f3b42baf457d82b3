/* SPDX-License-Identifier: ISC */
/*
 * <preforkd/service.h> - the service module interface of preforkd.
 *
 * A service is the protocol a worker speaks on each connection.  A module
 * is a shared object, NAME.so in the module directory, that defines one
 * symbol, preforkd_service: a struct preforkd_service whose first field
 * is the ABI version it was built for.  It needs nothing but this header:
 * everything the daemon offers (the connection, the configuration, the
 * log) comes through the table of functions handed to its hooks, so a
 * module links against no library of preforkd's and is loaded with
 * RTLD_NOW | RTLD_LOCAL.  See preforkd-service(3).
 *
 * Compatibility: PREFORKD_SERVICE_ABI changes whenever either structure
 * changes in a way an older module or daemon would misread; the daemon
 * loads only modules of its own ABI.
 */
#ifndef PREFORKD_SERVICE_API_H
#define PREFORKD_SERVICE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PREFORKD_SERVICE_ABI	1
/* The one symbol a module defines (dlsym). */
#define PREFORKD_SERVICE_SYMBOL	"preforkd_service"
/* A service's name: letters, digits, '_' and '-', at most this long. */
#define PREFORKD_NAME_MAX	32

/* The longest log line; client text goes in escaped, at most
 * PREFORKD_ESCAPE_MAX(n) bytes for n bytes of text. */
#define PREFORKD_LOG_LINE_MAX	8192
#define PREFORKD_ESCAPE_MAX(n)	((n) * 4 + 1)

/* ps_flags */
/* The client speaks first: the kernel holds each connection until its
 * first bytes arrive (TCP_DEFER_ACCEPT), so a silent client never takes
 * a worker.  A service that speaks first must not set it. */
#define PREFORKD_CLIENT_FIRST	0x1u

#if defined(__GNUC__)
#define PREFORKD_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define PREFORKD_EXPORT		__attribute__((visibility("default")))
#else
#define PREFORKD_PRINTF(f, a)
#define PREFORKD_EXPORT
#endif

/* Opaque: one accepted connection; the service's configuration group
 * while it is read; a budget of log lines. */
struct preforkd_conn;
struct preforkd_conf;
struct preforkd_budget;

/* preforkd_api.deadline(): now plus the configured timeout. */
enum preforkd_timeout {
	PREFORKD_TIMEOUT_READ,		/* timeouts.read */
	PREFORKD_TIMEOUT_WRITE,		/* timeouts.write */
};

/* preforkd_api.tls(): what a TLS connection is. */
enum preforkd_tls_fact {
	PREFORKD_TLS_VERSION,		/* "TLSv1.3" */
	PREFORKD_TLS_CIPHER,		/* "TLS_AES_256_GCM_SHA384" */
	PREFORKD_TLS_SNI,		/* the name the client asked for */
	PREFORKD_TLS_SUBJECT,		/* the verified client certificate's
					 * subject, RFC 2253 */
};

/* Whether api has member: the table grows at its end within an ABI, so
 * a module built with a newer header asks before it calls a newer one. */
#define PREFORKD_API_HAS(api, member)					\
	((api)->pa_size >= offsetof(struct preforkd_api, member) +	\
	    sizeof((api)->member) && (api)->member != NULL)

/*
 * What the daemon offers.  Every function returning int gives 0, or -1
 * on failure.  A configuration function that fails has recorded the
 * error, "FILE:LINE: NAME.key ...", for the daemon to report: the hook
 * returns -1 at once.  Configuration functions work only inside
 * ps_configure, connection functions only inside ps_serve.
 */
struct preforkd_api {
	unsigned	 pa_abi;	/* PREFORKD_SERVICE_ABI */
	size_t		 pa_size;	/* sizeof(struct preforkd_api) */

	/* -- configuration: the group NAME = { ... }, which may be absent
	 * (then every getter leaves *out as it is: the default). */
	const char	*(*conf_name)(const struct preforkd_conf *);
	/* Whether the file has the group at all. */
	bool		 (*conf_present)(const struct preforkd_conf *);
	/* keys: NULL-terminated; any other key is an error. */
	int		 (*conf_keys)(struct preforkd_conf *,
			    const char *const *keys);
	/* An integer, min..max. */
	int		 (*conf_int)(struct preforkd_conf *, const char *key,
			    long long min, long long max, long long *out);
	/* A number of seconds (integer or float), min..max. */
	int		 (*conf_seconds)(struct preforkd_conf *,
			    const char *key, double min, double max,
			    double *out);
	/* A string of at most maxlen bytes, copied with malloc(3); a
	 * previous *out is freed.  The caller frees the result. */
	int		 (*conf_string)(struct preforkd_conf *,
			    const char *key, size_t maxlen, char **out);
	int		 (*conf_bool)(struct preforkd_conf *, const char *key,
			    bool *out);
	/* Record an error of the service's own at key's line (key NULL:
	 * the group's, or the service line's when there is no group). */
	int		 (*conf_error)(struct preforkd_conf *,
			    const char *key, const char *fmt, ...)
			    PREFORKD_PRINTF(3, 4);

	/* -- the connection.  Reads and writes wait at most until deadline
	 * (a CLOCK_MONOTONIC time), and never past the connection's own
	 * end (timeouts.connection); the daemon may cut a silent client's
	 * wait short when the pool is full.  Both end as a timeout:
	 * errno ETIMEDOUT. */
	/* "1.2.3.4:80" or "[::1]:80" (the client a PROXY header names);
	 * errno is left alone. */
	const char	*(*peer)(struct preforkd_conn *);
	struct timespec	 (*deadline)(struct preforkd_conn *,
			    enum preforkd_timeout);
	/* > 0 bytes, 0 at EOF, -1 with errno. */
	ssize_t		 (*read)(struct preforkd_conn *, void *, size_t,
			    const struct timespec *deadline);
	/* The same, for the answer to what was just written: it waits
	 * before it tries, one system call fewer per exchange. */
	ssize_t		 (*read_reply)(struct preforkd_conn *, void *, size_t,
			    const struct timespec *deadline);
	/* All of it, or -1 with errno (ETIMEDOUT, EPIPE...). */
	int		 (*write)(struct preforkd_conn *, const void *, size_t,
			    const struct timespec *deadline);

	/* -- the log (syslog levels, LOG_ERR .. LOG_DEBUG).  While the
	 * client of the connection in hand has left without sending a
	 * byte, lines at LOG_INFO and LOG_DEBUG are not written (the daemon
	 * counts the connection instead) unless log.empty is set, and
	 * log_enabled() says so. */
	bool		 (*log_enabled)(int level);
	void		 (*log)(int level, const char *fmt, ...)
			    PREFORKD_PRINTF(2, 3);
	/* LOG_ERR, with ": strerror(errno)" appended. */
	void		 (*log_errno)(const char *fmt, ...)
			    PREFORKD_PRINTF(1, 2);
	/*
	 * Lines a client can provoke must be budgeted: at most all a
	 * second in all, per_source a second per client address (an IPv4
	 * /32, an IPv6 /64), per worker.  budget_allow() says whether to
	 * write the line now; *suppressed is how many were held back since
	 * the last one let through, for "(N more suppressed)".
	 */
	struct preforkd_budget *(*budget_new)(unsigned all,
			    unsigned per_source);
	void		 (*budget_free)(struct preforkd_budget *);
	bool		 (*budget_allow)(struct preforkd_budget *,
			    struct preforkd_conn *, unsigned long *suppressed);
	/* Escape len bytes of client text for a log line into dst, never
	 * cutting an escape; *used: how many bytes of src it holds. */
	size_t		 (*escape)(char *dst, size_t dstsize, const void *src,
			    size_t len, size_t *used);

	/* -- added within ABI 1: ask PREFORKD_API_HAS(api, tls) first. */
	/* The connection's TLS (listen.tls): NULL for a clear-text one, or
	 * when there is no such fact (no SNI sent, no verified client
	 * certificate).  The daemon did the handshake before ps_serve;
	 * read and write carry the plain text. */
	const char	*(*tls)(struct preforkd_conn *,
			    enum preforkd_tls_fact);
};

/*
 * The module's descriptor, exported as preforkd_service:
 *
 *	PREFORKD_EXPORT const struct preforkd_service preforkd_service = {
 *		.ps_abi = PREFORKD_SERVICE_ABI,
 *		.ps_name = "daytime",
 *		.ps_serve = daytime_serve,
 *	};
 *
 * Only ps_abi, ps_name and ps_serve are required.
 */
struct preforkd_service {
	unsigned	 ps_abi;	/* PREFORKD_SERVICE_ABI: always first */
	const char	*ps_name;	/* NAME: the file is NAME.so */
	unsigned	 ps_flags;	/* PREFORKD_CLIENT_FIRST */
	/*
	 * In a checker child as the file is read (at -t, start and
	 * reload), then in each worker as it starts, never in the master:
	 * validate the group NAME = { ... } and build the service's
	 * configuration into *config.  -1: the file is refused, with the
	 * error recorded through the api.  A reload builds a new
	 * configuration beside the running one: keep it in *config, not in
	 * globals.
	 */
	int		(*ps_configure)(const struct preforkd_api *,
			    struct preforkd_conf *, void **config);
	/* Free what ps_configure built. */
	void		(*ps_unconfigure)(void *config);
	/* Once per worker, after privileges are dropped: what it needs for
	 * every connection, in *worker.  -1: the worker cannot serve. */
	int		(*ps_init)(const struct preforkd_api *, void *config,
			    void **worker);
	/*
	 * One connection; the daemon closes it afterwards.  It runs with
	 * the worker's signal state, which a program it starts inherits:
	 * SIGUSR2 blocked (the master's request to cut a client short),
	 * SIGPIPE, SIGHUP, SIGUSR1, SIGTTIN and SIGTTOU ignored, SIGTERM
	 * and SIGQUIT caught (a flag: the worker leaves after this
	 * connection).  A module that forks and execs must, in the child,
	 * empty the signal mask and set those signals back to SIG_DFL.
	 */
	void		(*ps_serve)(const struct preforkd_api *,
			    struct preforkd_conn *, void *config,
			    void *worker);
	/* Once per worker, before it exits: free what ps_init made. */
	void		(*ps_fini)(const struct preforkd_api *, void *config,
			    void *worker);
};

#ifdef __cplusplus
}
#endif

#endif
