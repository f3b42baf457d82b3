/* SPDX-License-Identifier: ISC */
/*
 * testmod.c - service modules for the tests, built from this one file
 * with <preforkd/service.h> alone:
 *
 *   good.so	a line service: "good = { word; repeat; }", answers each
 *		line with "WORD: LINE" repeat times; "evil = KIND" makes its
 *		configure hook misbehave: "segv", "exit0", "exit78", "hang",
 *		or "daemon" (leaves a process behind and succeeds): what the
 *		daemon must survive
 *   abi.so	the same built for another ABI (-DTESTMOD_ABI=999)
 *   nosym.so	no preforkd_service symbol (-DTESTMOD_NOSYMBOL)
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <preforkd/service.h>

#ifndef TESTMOD_NAME
#define TESTMOD_NAME	"good"
#endif
#ifndef TESTMOD_ABI
#define TESTMOD_ABI	PREFORKD_SERVICE_ABI
#endif

struct testmod_config {
	char		*tc_word;
	long long	 tc_repeat;
	char		*tc_evil;
};

static const char *const testmod_keys[] = { "word", "repeat", "evil", NULL };

/* A hook gone wrong, in the ways a real one can. */
static void
testmod_misbehave(const char *kind)
{
	if (strcmp(kind, "segv") == 0)
		raise(SIGSEGV);
	else if (strcmp(kind, "exit0") == 0)
		exit(0);
	else if (strcmp(kind, "exit78") == 0)
		exit(78);
	else if (strcmp(kind, "hang") == 0)
		for (;;)
			pause();
	else if (strcmp(kind, "daemon") == 0 && fork() == 0) {
		/* Left behind, in a session of its own, holding whatever
		 * the hook's process holds, for a while. */
		setsid();
		sleep(30);
		_exit(0);
	}
}

static void
testmod_unconfigure(void *config)
{
	struct testmod_config	*tc = config;

	free(tc->tc_word);
	free(tc->tc_evil);
	free(tc);
}

static int
testmod_configure(const struct preforkd_api *api, struct preforkd_conf *conf,
    void **config)
{
	struct testmod_config	*tc;

	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->tc_word = strdup("hi")) == NULL) {
		free(tc);
		return api->conf_error(conf, NULL, "%s: %s",
		    api->conf_name(conf), strerror(errno));
	}
	tc->tc_repeat = 1;
	*config = tc;
	if (api->conf_keys(conf, testmod_keys) == -1 ||
	    api->conf_string(conf, "word", 64, &tc->tc_word) == -1 ||
	    api->conf_int(conf, "repeat", 1, 5, &tc->tc_repeat) == -1 ||
	    api->conf_string(conf, "evil", 16, &tc->tc_evil) == -1)
		return -1;
	if (tc->tc_evil != NULL)
		testmod_misbehave(tc->tc_evil);
	if (strcmp(tc->tc_word, "bad") == 0)
		return api->conf_error(conf, "word", "%s.word must not be "
		    "\"bad\"", api->conf_name(conf));
	return 0;
}

static void
testmod_serve(const struct preforkd_api *api, struct preforkd_conn *c,
    void *config, void *worker)
{
	const struct testmod_config	*tc = config;
	struct timespec			 deadline;
	char				 line[256], out[400], esc[1100];
	size_t				 len = 0, used;
	ssize_t				 n;

	deadline = api->deadline(c, PREFORKD_TIMEOUT_READ);
	while (len < sizeof(line) - 1 && memchr(line, '\n', len) == NULL) {
		if ((n = api->read(c, line + len, sizeof(line) - 1 - len,
		    &deadline)) <= 0)
			return;
		len += (size_t)n;
	}
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	len = strlen(tc->tc_word) + 2 + strlen(line) + 1;
	memcpy(out, tc->tc_word, strlen(tc->tc_word));
	memcpy(out + strlen(tc->tc_word), ": ", 2);
	memcpy(out + strlen(tc->tc_word) + 2, line, strlen(line));
	out[len - 1] = '\n';
	deadline = api->deadline(c, PREFORKD_TIMEOUT_WRITE);
	for (long long i = 0; i < tc->tc_repeat; i++)
		if (api->write(c, out, len, &deadline) == -1)
			return;
	api->escape(esc, sizeof(esc), line, strlen(line), &used);
	api->log(LOG_INFO, "%s served peer=%s line=\"%s\"", TESTMOD_NAME,
	    api->peer(c), esc);
}

#ifdef TESTMOD_NOSYMBOL
PREFORKD_EXPORT const struct preforkd_service preforkd_servic = {
#else
PREFORKD_EXPORT const struct preforkd_service preforkd_service = {
#endif
	.ps_abi = TESTMOD_ABI,
	.ps_name = TESTMOD_NAME,
	.ps_flags = PREFORKD_CLIENT_FIRST,
	.ps_configure = testmod_configure,
	.ps_unconfigure = testmod_unconfigure,
	.ps_serve = testmod_serve,
};
