/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checks of the host unit tests. Every CHECK* counts a pass, or counts
 * a failure and prints it ("file:line: FAIL: ..." on stderr) and goes on;
 * unit_report() prints the totals and gives main() its exit status.
 */
#ifndef _PCMIG_UNIT_H
#define _PCMIG_UNIT_H

#include <stdio.h>
#include <string.h>

static int passed, failed;

/* Count @ok; when false, print the printf-style message after "FAIL: ". */
#define CHECK_MSG(ok, fmt, ...)						\
	do {								\
		if (ok) {						\
			passed++;					\
		} else {						\
			failed++;					\
			fprintf(stderr, "%s:%d: FAIL: " fmt "\n",	\
				__FILE__, __LINE__, __VA_ARGS__);	\
		}							\
	} while (0)

#define CHECK(cond)	CHECK_MSG(cond, "%s", #cond)

/* @got (may be NULL) is the string @want. */
#define CHECK_STR(got, want)						\
	do {								\
		const char *g_ = (got), *w_ = (want);			\
		CHECK_MSG(g_ && !strcmp(g_, w_),			\
			  "%s: got \"%s\", want \"%s\"", #got,		\
			  g_ ? g_ : "(null)", w_);			\
	} while (0)

#define CHECK_U64(got, want)						\
	do {								\
		unsigned long long g_ = (got), w_ = (want);		\
		CHECK_MSG(g_ == w_, "%s: got %llu, want %llu", #got,	\
			  g_, w_);					\
	} while (0)

/* @hay (may be NULL) contains @needle; prints both when not. */
#define CHECK_HAS(hay, needle)						\
	do {								\
		const char *h_ = (hay), *n_ = (needle);			\
		CHECK_MSG(h_ && strstr(h_, n_), "no \"%s\" in:\n%s",	\
			  n_, h_ ? h_ : "(null)");			\
	} while (0)

/* Print "@name: N passed, M failed"; main()'s exit status. */
static inline int unit_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, passed, failed);
	return failed ? 1 : 0;
}

#endif /* _PCMIG_UNIT_H */
