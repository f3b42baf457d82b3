/* SPDX-License-Identifier: ISC */
/*
 * proctitle.h - what ps(1) and "systemctl status" show for each process:
 * "preforkd: master ...", "preforkd: worker gen=N ...", as nginx and
 * gunicorn do, so that an operator tells them apart at a glance.
 */
#ifndef PREFORKD_PROCTITLE_H
#define PREFORKD_PROCTITLE_H

/* Once, first thing in main(): argv and the environment move to the
 * heap (argv[i] then points there), and their old room takes titles. */
void	proctitle_init(int argc, char *argv[]);
/* "preforkd: " and the rest, cut to the room there is. */
void	proctitle_set(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
