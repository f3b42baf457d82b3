/* SPDX-License-Identifier: ISC */
/*
 * conffile.c - read the configuration file and what it @includes
 * ourselves, and give libconfig one text in memory.
 *
 * Why libconfig does not read the files: libconfig 1.5 opens every file,
 * the main one and each @include, with stdio inside its flex scanner,
 * where nothing outside can check or bound it.  A directory makes the
 * scanner's read() fail and flex then calls exit(2), so a reload would
 * kill the master; a FIFO blocks open() for ever; a device such as
 * /dev/zero never ends; an include loop is only stopped ten levels down.
 *
 * So each file is opened here, must be a regular file, and is read into
 * memory within one size budget for all files.  @include lines are found
 * with the rule of libconfig 1.5's scanner (flex's ^[ \t]*@include[ \t]+\"
 * in its initial state: at the start of a line after optional blanks,
 * never inside a string or a comment), their path is taken relative to
 * the including file's directory, and the directive is replaced by the
 * file's text.  A map from each line of the merged text back to its file
 * and line lets every error name the file the operator must edit.
 * libconfig then only parses memory (config_read_string()): it never
 * touches the file system, and its time is bounded by the size and by
 * the number of settings (it checks each new name against its group's
 * names one by one: 10,000 names take a second).
 *
 * The same pass refuses integer literals that libconfig 1.5 would wrap
 * to 32 bits without a word (4294967297 becomes 1), in every file.
 */
#include "autoconf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conffile.h"

/* A run of merged lines that come, in order, from one file. */
struct conffile_seg {
	unsigned	 cs_textline;	/* its first line in the merged text */
	size_t		 cs_file;	/* index in cf_names */
	unsigned	 cs_line;	/* that line's number in the file */
};

struct conffile {
	char			*cf_text;	/* the merged text */
	size_t			 cf_len;
	size_t			 cf_cap;
	unsigned		 cf_textline;	/* the line being written */
	size_t			 cf_read;	/* bytes read from all files */
	unsigned		 cf_settings;
	char			*cf_names[CONFFILE_MAX_FILES];
	size_t			 cf_nnames;
	/* The main file's, then two for each include: its own, and the
	 * including file's again after it. */
	struct conffile_seg	 cf_segs[2 * CONFFILE_MAX_FILES];
	size_t			 cf_nsegs;
	char			*cf_err;
	size_t			 cf_errsize;
};

/* One file being expanded. */
struct conffile_src {
	const char			*fs_name;   /* as errors name it */
	size_t				 fs_index;  /* in cf_names */
	char				*fs_text;   /* NUL-terminated */
	size_t				 fs_len;
	dev_t				 fs_dev;
	ino_t				 fs_ino;
	int				 fs_depth;  /* 0: the main file */
	const struct conffile_src	*fs_up;	    /* its includer */
};

/* The scanner's place in one file. */
struct conffile_scan {
	const struct conffile_src	*sc_src;
	const char			*sc_p;
	const char			*sc_end;
	const char			*sc_copied; /* appended up to here */
	unsigned			 sc_line;
	bool				 sc_bol;    /* at a line's start */
};

static int	conffile_file(struct conffile *, size_t,
		    const struct conffile_scan *, const char *);

static int
conffile_error(struct conffile *cf, const char *file, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
conffile_error(struct conffile *cf, const char *file, unsigned line,
    const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (line > 0)
		n = snprintf(cf->cf_err, cf->cf_errsize, "%s:%u: ", file, line);
	else
		n = snprintf(cf->cf_err, cf->cf_errsize, "%s: ", file);
	if (n >= 0 && (size_t)n < cf->cf_errsize) {
		va_start(ap, fmt);
		vsnprintf(cf->cf_err + n, cf->cf_errsize - n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* A file that cannot be included: say where the @include is. */
static int
conffile_blame(struct conffile *cf, const struct conffile_scan *site,
    const char *raw)
{
	char	 what[1024];

	snprintf(what, sizeof(what), "%s", cf->cf_err);
	return conffile_error(cf, site->sc_src->fs_name, site->sc_line,
	    "@include \"%s\": %s", raw, what);
}

static int
conffile_append(struct conffile *cf, const char *p, size_t n)
{
	const char	*end = p + n;
	size_t		 cap = cf->cf_cap == 0 ? 4096 : cf->cf_cap;
	char		*text;

	while (cap < cf->cf_len + n + 1)
		cap *= 2;
	if (cap != cf->cf_cap) {
		if ((text = realloc(cf->cf_text, cap)) == NULL)
			return conffile_error(cf, cf->cf_names[0], 0,
			    "out of memory");
		cf->cf_text = text;
		cf->cf_cap = cap;
	}
	memcpy(cf->cf_text + cf->cf_len, p, n);
	cf->cf_len += n;
	cf->cf_text[cf->cf_len] = '\0';
	for (; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		cf->cf_textline++;
	return 0;
}

/* From the line being written on, the text comes from file's line. */
static void
conffile_segment(struct conffile *cf, size_t file, unsigned line)
{
	struct conffile_seg	*s = &cf->cf_segs[cf->cf_nsegs];

	/* A file that has not written a line yet (it is empty, or starts
	 * with an @include) gives its place to what follows. */
	if (cf->cf_nsegs > 0 && s[-1].cs_textline == cf->cf_textline)
		s--;
	else
		cf->cf_nsegs++;
	s->cs_textline = cf->cf_textline;
	s->cs_file = file;
	s->cs_line = line;
}

static const char *
conffile_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "a special file";
}

static int
conffile_regular(struct conffile *cf, const char *name, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		return 0;
	return conffile_error(cf, name, 0, "is %s, not a regular file",
	    conffile_type(st->st_mode));
}

/*
 * stat() first, so that only a regular file is ever opened (unless it is
 * swapped in between by someone who can already rewrite the configuration
 * directory): opening a device can act (a watchdog starts, a tape
 * rewinds).  The file may be
 * replaced before open(): O_NONBLOCK keeps a FIFO from blocking it,
 * O_NOCTTY keeps a terminal from becoming ours, fstat() checks again.
 */
static int
conffile_open(struct conffile *cf, const char *name, struct stat *st)
{
	int	 fd;

	if (stat(name, st) == -1)
		return conffile_error(cf, name, 0, "cannot open: %s",
		    strerror(errno));
	if (conffile_regular(cf, name, st) == -1)
		return -1;
	if ((fd = open(name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC))
	    == -1)
		return conffile_error(cf, name, 0, "cannot open: %s",
		    strerror(errno));
	if (fstat(fd, st) == -1)
		conffile_error(cf, name, 0, "fstat: %s", strerror(errno));
	else if (conffile_regular(cf, name, st) == 0)
		return fd;
	close(fd);
	return -1;
}

/*
 * Read to the end but never past the budget, whatever st_size said: a
 * file that grows while it is read, or a /proc file without an end,
 * still stops.  A pseudo-file that would wait for data (/proc/kmsg)
 * fails with EAGAIN instead, thanks to O_NONBLOCK.
 */
static int
conffile_slurp(struct conffile *cf, int fd, off_t hint,
    struct conffile_src *src)
{
	size_t	 budget = CONFFILE_MAX_SIZE - cf->cf_read;
	size_t	 cap = (size_t)hint < budget ? (size_t)hint + 2 : budget + 2;
	size_t	 len = 0;
	char	*buf, *nbuf;
	ssize_t	 n;

	if ((buf = malloc(cap)) == NULL)
		return conffile_error(cf, src->fs_name, 0, "out of memory");
	for (;;) {
		if (len > budget) {
			conffile_error(cf, src->fs_name, 0, "the configuration "
			    "is larger than %d bytes (all files together)",
			    CONFFILE_MAX_SIZE);
			goto fail;
		}
		if (len == cap - 1) {
			cap = cap * 2 < budget + 2 ? cap * 2 : budget + 2;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				conffile_error(cf, src->fs_name, 0,
				    "out of memory");
				goto fail;
			}
			buf = nbuf;
		}
		if ((n = read(fd, buf + len, cap - 1 - len)) == 0)
			break;
		if (n == -1 && errno != EINTR) {
			conffile_error(cf, src->fs_name, 0, "cannot read: %s",
			    strerror(errno));
			goto fail;
		}
		if (n > 0)
			len += (size_t)n;
	}
	buf[len] = '\0';
	cf->cf_read += len;
	src->fs_text = buf;
	src->fs_len = len;
	return 0;
fail:
	free(buf);
	return -1;
}

/* libconfig would read a NUL from a file; from memory it stops there. */
static int
conffile_no_nul(struct conffile *cf, const struct conffile_src *src)
{
	const char	*nul = memchr(src->fs_text, '\0', src->fs_len);
	unsigned	 line = 1;

	if (nul == NULL)
		return 0;
	for (const char *p = src->fs_text; p < nul; p++)
		line += *p == '\n';
	return conffile_error(cf, src->fs_name, line, "a NUL byte: this is "
	    "not a text file");
}

static int
conffile_load(struct conffile *cf, struct conffile_src *src)
{
	struct stat	 st;
	int		 fd;

	if (src->fs_depth > CONFFILE_MAX_DEPTH)
		return conffile_error(cf, src->fs_name, 0, "included more "
		    "than %d levels deep", CONFFILE_MAX_DEPTH);
	if ((fd = conffile_open(cf, src->fs_name, &st)) == -1)
		return -1;
	for (const struct conffile_src *up = src->fs_up; up != NULL;
	    up = up->fs_up)
		if (up->fs_dev == st.st_dev && up->fs_ino == st.st_ino) {
			close(fd);
			return conffile_error(cf, src->fs_name, 0, "include "
			    "loop: the file is already being read");
		}
	src->fs_dev = st.st_dev;
	src->fs_ino = st.st_ino;
	if (conffile_slurp(cf, fd, st.st_size, src) == -1) {
		close(fd);
		return -1;
	}
	if (close(fd) == -1)
		return conffile_error(cf, src->fs_name, 0, "close: %s",
		    strerror(errno));
	return conffile_no_nul(cf, src);
}

/* Where an include points: relative to the includer's directory. */
static int
conffile_name(struct conffile *cf, const char *up, const char *raw,
    size_t *index)
{
	const char	*slash = up != NULL ? strrchr(up, '/') : NULL;
	char		*name;
	int		 n;

	if (cf->cf_nnames == CONFFILE_MAX_FILES)
		return conffile_error(cf, raw, 0, "more than %d files",
		    CONFFILE_MAX_FILES);
	if (raw[0] == '/' || slash == NULL)
		n = asprintf(&name, "%s", raw);
	else
		n = asprintf(&name, "%.*s%s", (int)(slash - up + 1), up, raw);
	if (n == -1)
		return conffile_error(cf, raw, 0, "out of memory");
	*index = cf->cf_nnames;
	cf->cf_names[cf->cf_nnames++] = name;
	return 0;
}

/*
 * A string or comment left open at the end of a file would run on into
 * the including file, as libconfig reads it, or (in the main file) hide
 * the rest of it without a word: always a mistake, refused.
 */
static int
conffile_unclosed(struct conffile *cf, struct conffile_scan *sc,
    unsigned line, const char *what)
{
	sc->sc_p = sc->sc_end;
	return conffile_error(cf, sc->sc_src->fs_name, line, "%s not closed "
	    "at the end of the file", what);
}

/*
 * In a string, only \\ and \" keep a quote from closing it.  No value
 * preforkd takes is longer than a path; a longer literal is refused here,
 * because libconfig 1.5 leaks the literal it was reading when it meets a
 * syntax error, and a reload that is refused again and again must not
 * make the master grow.
 */
static int
conffile_string(struct conffile *cf, struct conffile_scan *sc)
{
	const char	*p = sc->sc_p + 1;
	unsigned	 line = sc->sc_line;

	for (; p < sc->sc_end && *p != '"'; p++) {
		if (*p == '\\' && (p[1] == '\\' || p[1] == '"'))
			p++;
		else if (*p == '\n')
			sc->sc_line++;
	}
	if (p == sc->sc_end)
		return conffile_unclosed(cf, sc, line, "a string");
	if (p - sc->sc_p > CONFFILE_MAX_STRING)
		return conffile_error(cf, sc->sc_src->fs_name, line, "a string "
		    "longer than %d bytes", CONFFILE_MAX_STRING);
	sc->sc_p = p + 1;
	return 0;
}

static int
conffile_comment(struct conffile *cf, struct conffile_scan *sc)
{
	const char	*p = sc->sc_p + 2;
	unsigned	 line = sc->sc_line;

	for (; p < sc->sc_end && !(p[0] == '*' && p[1] == '/'); p++)
		if (*p == '\n')
			sc->sc_line++;
	if (p == sc->sc_end)
		return conffile_unclosed(cf, sc, line, "a comment");
	sc->sc_p = p + 2;
	return 0;
}

/*
 * libconfig 1.5 reads an integer literal that does not fit in 32 bits
 * by silently wrapping it (4294967297 becomes 1), in any setting: refuse
 * one unless it has libconfig's 64-bit "L" suffix.
 */
static int
conffile_number(struct conffile *cf, struct conffile_scan *sc)
{
	const char		*start = sc->sc_p, *p = start;
	bool			 hex = p[0] == '0' && (p[1] == 'x' ||
				    p[1] == 'X');
	bool			 real = false, negative;
	unsigned long long	 v;

	for (; isalnum((unsigned char)*p) || *p == '.'; p++) {
		if (*p == '.' || (!hex && (*p == 'e' || *p == 'E')))
			real = true;
		if (!hex && (*p == 'e' || *p == 'E') &&
		    (p[1] == '+' || p[1] == '-'))
			p++;
	}
	sc->sc_p = p;
	if (real || p[-1] == 'L')
		return 0;
	errno = 0;
	v = strtoull(start, NULL, hex ? 16 : 10);
	negative = start > sc->sc_src->fs_text && start[-1] == '-';
	if (errno != ERANGE && (v < 2147483648ULL ||
	    (v == 2147483648ULL && negative)))
		return 0;
	return conffile_error(cf, sc->sc_src->fs_name, sc->sc_line, "%.*s "
	    "does not fit in 32 bits (write %.*sL for a 64-bit value)",
	    (int)(p - start), start, (int)(p - start), start);
}

/* Each "name =" or "name :" is one setting for libconfig to file. */
static int
conffile_setting(struct conffile *cf, struct conffile_scan *sc)
{
	sc->sc_p++;
	if (++cf->cf_settings <= CONFFILE_MAX_SETTINGS)
		return 0;
	return conffile_error(cf, sc->sc_src->fs_name, sc->sc_line, "more "
	    "than %d settings (a complete configuration has fewer than 100)",
	    CONFFILE_MAX_SETTINGS);
}

/* libconfig 1.5's include_open, ^[ \t]*@include[ \t]+\": the path's
 * start, or NULL. */
static const char *
conffile_directive(const char *p)
{
	p += strspn(p, " \t");
	if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
		return NULL;
	p += 8 + strspn(p + 8, " \t");
	return *p == '"' ? p + 1 : NULL;
}

/*
 * The path as libconfig 1.5 reads it, with \\ and \" for a backslash and
 * a quote.  Another backslash (libconfig would print it on stdout and
 * drop it) or a path that runs past its line is refused.  Returns the
 * character after the closing quote, or NULL.
 */
static const char *
conffile_path(struct conffile *cf, const struct conffile_scan *sc,
    const char *p, char *raw, size_t size)
{
	const char	*file = sc->sc_src->fs_name;
	size_t		 n = 0;

	for (; *p != '"'; p++) {
		if (*p == '\0' || *p == '\n') {
			conffile_error(cf, file, sc->sc_line, "@include: the "
			    "path's closing quote is missing");
			return NULL;
		}
		if (*p == '\\' && p[1] != '\\' && p[1] != '"') {
			conffile_error(cf, file, sc->sc_line, "@include: only "
			    "\\\\ and \\\" may follow a backslash in the path");
			return NULL;
		}
		p += *p == '\\';
		if (n == size - 1) {
			conffile_error(cf, file, sc->sc_line, "@include: the "
			    "path is longer than %zu bytes", size - 1);
			return NULL;
		}
		raw[n++] = *p;
	}
	raw[n] = '\0';
	return p + 1;
}

/*
 * Replace the directive by the file's text.  What follows it on its line
 * goes on a line of its own in the merged text, where a second @include
 * would stand at a line's start; libconfig reads that one as garbage, so
 * it is refused here.
 */
static int
conffile_include(struct conffile *cf, struct conffile_scan *sc,
    const char *path)
{
	const struct conffile_src	*src = sc->sc_src;
	char				 raw[PATH_MAX];
	const char			*rest;
	size_t				 index, before;

	if ((rest = conffile_path(cf, sc, path, raw, sizeof(raw))) == NULL)
		return -1;
	if (rest[strspn(rest, " \t\r")] == '@')
		return conffile_error(cf, src->fs_name, sc->sc_line,
		    "@include must start its own line");
	if (conffile_append(cf, sc->sc_copied,
	    (size_t)(sc->sc_p - sc->sc_copied)) == -1)
		return -1;
	if (conffile_name(cf, src->fs_name, raw, &index) == -1)
		return conffile_blame(cf, sc, raw);
	before = cf->cf_len;
	if (conffile_file(cf, index, sc, raw) == -1)
		return -1;
	if (cf->cf_len > before && cf->cf_text[cf->cf_len - 1] != '\n' &&
	    conffile_append(cf, "\n", 1) == -1)
		return -1;
	conffile_segment(cf, src->fs_index, sc->sc_line);
	sc->sc_p = sc->sc_copied = rest;
	return 0;
}

static bool
conffile_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '*';
}

/* One token of libconfig's initial state, as far as it matters here. */
static int
conffile_step(struct conffile *cf, struct conffile_scan *sc)
{
	const char	*p = sc->sc_p, *path;
	bool		 bol = sc->sc_bol;

	sc->sc_bol = false;
	if (bol && (path = conffile_directive(p)) != NULL)
		return conffile_include(cf, sc, path);
	if (*p == '\n') {
		sc->sc_line++;
		sc->sc_bol = true;
	} else if (*p == '"')
		return conffile_string(cf, sc);
	else if (p[0] == '/' && p[1] == '*')
		return conffile_comment(cf, sc);
	else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
		sc->sc_p += strcspn(p, "\n");
		return 0;
	} else if (*p == '=' || *p == ':')
		return conffile_setting(cf, sc);
	else if (isdigit((unsigned char)*p) || *p == '.')
		return conffile_number(cf, sc);
	else if (isalpha((unsigned char)*p) || *p == '*') {
		while (conffile_name_char(*++p))
			;
		sc->sc_p = p;
		return 0;
	}
	sc->sc_p++;
	return 0;
}

static int
conffile_expand(struct conffile *cf, const struct conffile_src *src)
{
	struct conffile_scan	 sc;

	sc.sc_src = src;
	sc.sc_p = sc.sc_copied = src->fs_text;
	sc.sc_end = src->fs_text + src->fs_len;
	sc.sc_line = 1;
	sc.sc_bol = true;
	conffile_segment(cf, src->fs_index, 1);
	while (sc.sc_p < sc.sc_end)
		if (conffile_step(cf, &sc) == -1)
			return -1;
	return conffile_append(cf, sc.sc_copied,
	    (size_t)(sc.sc_end - sc.sc_copied));
}

/* Read cf_names[index] and expand it; site is its @include, if any. */
static int
conffile_file(struct conffile *cf, size_t index,
    const struct conffile_scan *site, const char *raw)
{
	struct conffile_src	 src;
	int			 rc;

	memset(&src, 0, sizeof(src));
	src.fs_name = cf->cf_names[index];
	src.fs_index = index;
	if (site != NULL) {
		src.fs_up = site->sc_src;
		src.fs_depth = site->sc_src->fs_depth + 1;
	}
	if (conffile_load(cf, &src) == -1)
		rc = site != NULL ? conffile_blame(cf, site, raw) : -1;
	else
		rc = conffile_expand(cf, &src);
	free(src.fs_text);
	return rc;
}

struct conffile *
conffile_read(const char *path, char *err, size_t errsize)
{
	struct conffile	*cf;
	size_t		 index;

	if ((cf = calloc(1, sizeof(*cf))) == NULL) {
		snprintf(err, errsize, "%s: out of memory", path);
		return NULL;
	}
	cf->cf_err = err;
	cf->cf_errsize = errsize;
	cf->cf_textline = 1;
	/* Like an included file's, the main file's last line ends. */
	if (conffile_name(cf, NULL, path, &index) == -1 ||
	    conffile_file(cf, index, NULL, NULL) == -1 ||
	    (cf->cf_len > 0 && cf->cf_text[cf->cf_len - 1] != '\n' &&
	    conffile_append(cf, "\n", 1) == -1) ||
	    conffile_append(cf, "", 0) == -1) {
		conffile_free(cf);
		return NULL;
	}
	cf->cf_err = NULL;
	return cf;
}

const char *
conffile_text(const struct conffile *cf)
{
	return cf->cf_text;
}

const char *
conffile_where(const struct conffile *cf, unsigned textline,
    unsigned *line)
{
	size_t	 i = 0;

	*line = 0;
	if (textline == 0)
		return cf->cf_names[0];
	while (i + 1 < cf->cf_nsegs && cf->cf_segs[i + 1].cs_textline <=
	    textline)
		i++;
	*line = cf->cf_segs[i].cs_line + (textline -
	    cf->cf_segs[i].cs_textline);
	return cf->cf_names[cf->cf_segs[i].cs_file];
}

void
conffile_free(struct conffile *cf)
{
	if (cf == NULL)
		return;
	for (size_t i = 0; i < cf->cf_nnames; i++)
		free(cf->cf_names[i]);
	free(cf->cf_text);
	free(cf);
}
