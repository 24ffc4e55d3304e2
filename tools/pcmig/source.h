/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: the pure pieces of the source side (source_logic.c), kept
 * apart from the sockets and threads of source.c so that
 * tools/pcmig/tests/source_test.c can check them on the host.
 *
 * Pages are numbered from 0 across session memory: page i is at byte
 * offset i * page size, the RAM blocks laid end to end.
 */
#ifndef _PCMIG_SOURCE_H
#define _PCMIG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * Pages per background PAGES frame: large on a bulk connection of its own
 * (fewer, larger writes: make bench), small when replies share the
 * connection or a bandwidth limit paces the frames.
 */
#define SRC_BATCH_DEFAULT	256
#define SRC_BATCH_SHARED	32
#define SRC_ZERO_RUN_MAX	65536	/* pages per ZERO frame */
#define SRC_FRAME_LEN		24	/* sizeof(struct pcmig_frame) */

/*
 * Bitmaps of pages: bit i is bit (i % 64) of word i / 64. Tests and
 * updates are atomic, so that the threads of the source can share them.
 */
size_t src_bitmap_words(uint64_t nbits);
bool src_bit_test(const uint64_t *map, uint64_t bit);
bool src_bit_test_and_set(uint64_t *map, uint64_t bit);
bool src_bit_test_and_clear(uint64_t *map, uint64_t bit);
uint64_t src_bitmap_clear_range(uint64_t *map, uint64_t first, uint64_t n);
void src_bitmap_set_range(uint64_t *map, uint64_t first, uint64_t n);
uint64_t src_find_next_zero(const uint64_t *map, uint64_t nbits,
			    uint64_t from);

bool src_page_is_zero(const void *page, size_t len);

/**
 * typedef src_zero_fn - whether a page holds only zeros
 * @ctx: the caller's context
 * @page: page number
 */
typedef bool (*src_zero_fn)(void *ctx, uint64_t page);

/**
 * struct src_run - pages that go out in one frame
 * @first: first page
 * @npages: number of pages
 * @zero: all of them are zero (a ZERO frame), else a PAGES frame
 */
struct src_run {
	uint64_t first;
	uint32_t npages;
	bool zero;
};

bool src_next_run(const uint64_t *map, uint64_t npages, uint64_t pos,
		  uint32_t batch, src_zero_fn is_zero, void *ctx,
		  struct src_run *run);

/**
 * struct src_reply - a frame answering requests
 * @first: first page
 * @npages: pages it carries
 * @type: %PCMIG_FRAME_PAGES or %PCMIG_FRAME_ZERO
 * @flags: %PCMIG_FRAME_F_REQUESTED on PAGES, 0 on ZERO
 * @nreq: how many entries of the request list it answers
 */
struct src_reply {
	uint64_t first;
	uint32_t npages;
	uint8_t type;
	uint16_t flags;
	uint32_t nreq;
};

unsigned int src_plan_replies(const uint64_t *pages, unsigned int n,
			      src_zero_fn is_zero, void *ctx,
			      struct src_reply *out);

int src_request_check_hdr(const void *hdr, uint32_t *npages, char *err,
			  size_t errlen);
int src_request_parse(const void *payload, uint32_t npages, uint64_t size,
		      uint32_t page_size, uint64_t *pages, char *err,
		      size_t errlen);
int src_requests_take(const uint8_t *buf, size_t len, size_t *pos,
		      uint64_t size, uint32_t page_size, uint64_t *pages,
		      uint32_t room, uint32_t *npages, uint32_t *nframes,
		      char *err, size_t errlen);

/**
 * struct src_tb - token bucket of the background push
 * @rate: bytes per second; 0 for no limit
 * @burst: most tokens saved up while idle
 * @tokens: bytes that may go out now; negative after a large frame
 * @last_ns: time the bucket was last filled up to
 */
struct src_tb {
	uint64_t rate;
	int64_t burst;
	int64_t tokens;
	uint64_t last_ns;
};

void src_tb_init(struct src_tb *tb, uint64_t rate, uint64_t burst,
		 uint64_t now_ns);
uint64_t src_tb_wait_ns(struct src_tb *tb, uint64_t now_ns);
void src_tb_consume(struct src_tb *tb, uint64_t bytes);

int src_parse_range(const char *spec, uint64_t size, uint32_t page_size,
		    struct pcmig_wire_range *r, char *err, size_t errlen);

#endif /* _PCMIG_SOURCE_H */
