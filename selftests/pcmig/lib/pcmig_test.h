/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the pcmig selftests. Include after kselftest_harness.h.
 */
#ifndef _PCMIG_TEST_H
#define _PCMIG_TEST_H

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/pcmig.h>

#include "pcmig_session.h"

/*
 * PCMIG_HARNESS_MAIN - like TEST_HARNESS_MAIN, but honours $PCMIG_TEST: a
 * shell pattern matched against "fixture.test" (and "test" for tests outside
 * a fixture); only the tests that match are run. The 6.1 harness has no
 * filter of its own.
 */
#define PCMIG_HARNESS_MAIN						\
	static void __attribute__((constructor))			\
	__constructor_order_last(void)					\
	{								\
		if (!__constructor_order)				\
			__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD; \
	}								\
	int main(int argc, char **argv)					\
	{								\
		pcmig_filter_tests(__fixture_list, getenv("PCMIG_TEST")); \
		return test_harness_run(argc, argv);			\
	}

static inline int pcmig_test_matches(const char *pattern,
				     const struct __fixture_metadata *f,
				     const struct __test_metadata *t)
{
	char full[256];

	snprintf(full, sizeof(full), "%s.%s", f->name, t->name);
	return !fnmatch(pattern, full, 0) ||
	       (!strcmp(f->name, "global") && !fnmatch(pattern, t->name, 0));
}

static inline void pcmig_filter_tests(struct __fixture_metadata *list,
				      const char *pattern)
{
	struct __fixture_metadata *f;

	if (!pattern || !*pattern)
		return;
	for (f = list; f; f = f->next) {
		struct __test_metadata *t, *next, *head = NULL, *tail = NULL;

		for (t = f->tests; t; t = next) {
			next = t->next;
			if (!pcmig_test_matches(pattern, f, t))
				continue;
			t->next = NULL;
			if (tail)
				tail->next = t;
			else
				head = t;
			t->prev = tail;
			tail = t;
		}
		if (head)
			head->prev = tail;
		f->tests = head;
	}
}

/*
 * Zero @env and set it up from @o, or fail the test (ASSERT) with the
 * library's message: the FIXTURE_SETUP of a fixture around an environment.
 */
static inline void pcmig_env_start(struct __test_metadata *_metadata,
				   struct pcmig_env *env,
				   const struct pcmig_env_opts *o)
{
	pcmig_env_init(env);
	ASSERT_EQ(0, pcmig_env_setup(env, o)) TH_LOG("%s", pcmig_lib_error());
}

/*
 * Close @env's source the way a source process would and wait (ASSERT) for
 * the session to pause; @st then holds its status.
 */
static inline void pcmig_close_source_paused(struct __test_metadata *_metadata,
					     struct pcmig_env *env,
					     struct pcmig_status *st)
{
	pcmig_source_close(env->src);
	ASSERT_EQ(0, pcmig_wait_state(env->fd, PCMIG_STATE_PAUSED,
				      PCMIG_WAIT_MS, st))
		TH_LOG("%s", pcmig_lib_error());
}

/* Path of the pcmig.ko under test, or NULL if the tree is not known. */
static inline const char *pcmig_ko_path(void)
{
	static char path[4096];
	const char *tree = getenv("PCMIG_TREE");

	if (!tree)
		return NULL;
	snprintf(path, sizeof(path), "%s/kmod/pcmig.ko", tree);
	return path;
}

#endif /* _PCMIG_TEST_H */
