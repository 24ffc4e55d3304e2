/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The skewed guest workload of 'make demo' (tools/demo/vmm.c) and of the
 * benchmarks (tools/bench/lib/vswork.c): HOT_PERCENT of the accesses go
 * to a hot region of HOT_FRACTION percent of memory, placed from the seed,
 * the rest anywhere. One definition, so that both run the same accesses.
 */
#ifndef _PCMIG_WORKLOAD_H
#define _PCMIG_WORKLOAD_H

#include <stdint.h>

#include "image.h"

#define WORKLOAD_HOT_PERCENT	80	/* accesses that go to the hot region */
#define WORKLOAD_HOT_FRACTION	10	/* its size, percent of memory */

/**
 * struct workload_skew - where the hot region of a memory lies
 * @pages: pages of memory
 * @hot_start: first page of the hot region
 * @hot_pages: its length (it wraps around the end of memory)
 */
struct workload_skew {
	uint64_t pages;
	uint64_t hot_start;
	uint64_t hot_pages;
};

static inline void workload_skew_init(struct workload_skew *w, uint64_t pages,
				      uint64_t seed)
{
	w->pages = pages;
	w->hot_pages = pages * WORKLOAD_HOT_FRACTION / 100;
	if (!w->hot_pages)
		w->hot_pages = 1;
	w->hot_start = image_mix64(seed ^ 0x407) % pages;
}

/* The seed of thread @id's accesses. */
static inline uint64_t workload_thread_seed(uint64_t seed, unsigned int id)
{
	return seed ^ ((uint64_t)id << 32) ^ 0xabcdef;
}

/* The next page thread's random state *@s accesses. */
static inline uint64_t workload_next_page(const struct workload_skew *w,
					  uint64_t *s)
{
	uint64_t r = image_rnd(s);

	if (r % 100 < WORKLOAD_HOT_PERCENT)
		return (w->hot_start + (r >> 8) % w->hot_pages) % w->pages;
	return (r >> 8) % w->pages;
}

#endif /* _PCMIG_WORKLOAD_H */
