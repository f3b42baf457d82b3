/* SPDX-License-Identifier: ISC */
/*
 * conffile.h - the configuration text as libconfig gets it: read by us,
 * with every @include expanded, and a map from each line of the result
 * back to the file and line it came from.
 */
#ifndef PREFORKD_CONFFILE_H
#define PREFORKD_CONFFILE_H

#include <stddef.h>

#define CONFFILE_MAX_SIZE	(1024 * 1024)	/* all files together */
#define CONFFILE_MAX_DEPTH	10		/* includes within includes */
#define CONFFILE_MAX_FILES	64
#define CONFFILE_MAX_SETTINGS	1024		/* "name =" in all files */
#define CONFFILE_MAX_STRING	4096		/* a path is the longest value */

struct conffile;

/*
 * Read path and what it includes.  On failure return NULL and put one
 * line, "FILE:LINE: message" or "FILE: message", in err.
 */
struct conffile	*conffile_read(const char *path, char *err, size_t errsize);
/* The merged text, NUL-terminated, with no @include left in it. */
const char	*conffile_text(const struct conffile *);
/*
 * The file that line textline of the merged text came from, and in
 * *line its line there (0 if textline is 0, as libconfig says when it
 * knows no line).
 */
const char	*conffile_where(const struct conffile *, unsigned textline,
		    unsigned *line);
void		 conffile_free(struct conffile *);

#endif
