// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of tools/pcmig/source_logic.c: page bitmaps, the order of the
 * background push, zero detection, replies to requests, REQUEST checks
 * (one frame, and every whole frame of what one read() returned),
 * the bandwidth token bucket and --discard ranges.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pcmig.h>

#include "proto.h"
#include "source.h"
#include "unit.h"

#define PS	4096

/* Fake memory: page i is zero iff zero[i]. */
struct fake {
	uint64_t npages;
	bool *zero;
	unsigned int calls;
};

static bool fake_zero(void *ctx, uint64_t page)
{
	struct fake *f = ctx;

	f->calls++;
	return f->zero[page];
}

static void test_bitmaps(void)
{
	uint64_t map[3] = { 0 };
	uint64_t i;

	CHECK_U64(src_bitmap_words(0), 0);
	CHECK_U64(src_bitmap_words(1), 1);
	CHECK_U64(src_bitmap_words(64), 1);
	CHECK_U64(src_bitmap_words(65), 2);

	CHECK(!src_bit_test_and_set(map, 5));
	CHECK(src_bit_test_and_set(map, 5));
	CHECK(src_bit_test(map, 5));
	CHECK(!src_bit_test(map, 4));
	CHECK(src_bit_test_and_clear(map, 5));
	CHECK(!src_bit_test_and_clear(map, 5));
	CHECK(!src_bit_test(map, 5));

	/* 150 bits: the first 130 set. */
	for (i = 0; i < 130; i++)
		src_bit_test_and_set(map, i);
	CHECK_U64(src_find_next_zero(map, 150, 0), 130);
	CHECK_U64(src_find_next_zero(map, 150, 140), 140);
	CHECK_U64(src_find_next_zero(map, 130, 0), 130);	/* none */
	CHECK_U64(src_find_next_zero(map, 150, 150), 150);
	CHECK_U64(src_find_next_zero(map, 150, 1000), 150);
	src_bit_test_and_clear(map, 63);
	CHECK_U64(src_find_next_zero(map, 150, 0), 63);
	CHECK_U64(src_find_next_zero(map, 150, 64), 130);
	/* Bits past nbits in the last word are never reported. */
	memset(map, 0, sizeof(map));
	for (i = 0; i < 70; i++)
		src_bit_test_and_set(map, i);
	CHECK_U64(src_find_next_zero(map, 70, 0), 70);
}

/* The rebuild after RESUME: runs cleared, the gaps between them set. */
static void test_bitmap_rebuild(void)
{
	uint64_t map[4], ref[4], i, n;
	uint64_t first, len;

	/* Against a bit-by-bit model, ranges inside, across and at words. */
	for (first = 0; first < 140; first += 7) {
		for (len = 0; len < 130 && first + len <= 200; len += 11) {
			memset(map, 0xff, sizeof(map));
			memset(ref, 0xff, sizeof(ref));
			src_bit_test_and_clear(map, 100);
			src_bit_test_and_clear(ref, 100);
			n = 0;
			for (i = first; i < first + len; i++)
				n += src_bit_test_and_clear(ref, i);
			CHECK_U64(src_bitmap_clear_range(map, first, len), n);
			CHECK(!memcmp(map, ref, sizeof(map)));
		}
	}
	/* Setting ranges, against the same model. */
	for (first = 0; first < 140; first += 13) {
		for (len = 0; len < 130 && first + len <= 200; len += 17) {
			memset(map, 0, sizeof(map));
			memset(ref, 0, sizeof(ref));
			for (i = first; i < first + len; i++)
				src_bit_test_and_set(ref, i);
			src_bitmap_set_range(map, first, len);
			CHECK(!memcmp(map, ref, sizeof(map)));
		}
	}
	/* A whole word, and the last bit. */
	memset(map, 0xff, sizeof(map));
	map[3] = (1ULL << 8) - 1;
	CHECK_U64(src_bitmap_clear_range(map, 64, 64), 64);
	CHECK_U64(map[1], 0);
	CHECK_U64(src_bitmap_clear_range(map, 199, 1), 1);
	CHECK_U64(map[3], (1ULL << 7) - 1);
	CHECK_U64(src_bitmap_clear_range(map, 199, 1), 0);
}

static void test_zero_detection(void)
{
	uint8_t *page = calloc(1, PS);
	size_t i;
	bool all = true;

	CHECK(src_page_is_zero(page, PS));
	/* A non-zero byte anywhere, including the last, is found. */
	for (i = 0; i < PS; i += 509) {
		page[i] = 1;
		all &= !src_page_is_zero(page, PS);
		page[i] = 0;
	}
	CHECK(all);
	page[PS - 1] = 0x80;
	CHECK(!src_page_is_zero(page, PS));
	page[PS - 1] = 0;
	page[0] = 1;
	CHECK(!src_page_is_zero(page, PS));
	/* Odd lengths: the tail bytes count. */
	page[0] = 0;
	page[12] = 7;
	CHECK(!src_page_is_zero(page, 13));
	CHECK(src_page_is_zero(page, 12));
	CHECK(src_page_is_zero(page, 0));
	free(page);
}

static void test_next_run(void)
{
	uint64_t map[2] = { 0 };
	bool zero[100] = { false };
	struct fake f = { .npages = 100, .zero = zero };
	struct src_run r;

	/* Plain order from the cursor, batch 32. */
	CHECK(src_next_run(map, 100, 0, 32, fake_zero, &f, &r));
	CHECK_U64(r.first, 0);
	CHECK_U64(r.npages, 32);
	CHECK(!r.zero);

	/* Stops at the end of memory, never wraps inside a run. */
	CHECK(src_next_run(map, 100, 90, 32, fake_zero, &f, &r));
	CHECK_U64(r.first, 90);
	CHECK_U64(r.npages, 10);

	/* A cursor at or past the end starts at page 0. */
	CHECK(src_next_run(map, 100, 100, 32, fake_zero, &f, &r));
	CHECK_U64(r.first, 0);

	/* Sent pages are skipped, and a run stops at one. */
	src_bit_test_and_set(map, 10);
	src_bit_test_and_set(map, 11);
	src_bit_test_and_set(map, 20);
	CHECK(src_next_run(map, 100, 10, 32, fake_zero, &f, &r));
	CHECK_U64(r.first, 12);
	CHECK_U64(r.npages, 8);

	/* Zero pages: a run of them is one ZERO run, data stops before. */
	zero[40] = zero[41] = zero[42] = true;
	CHECK(src_next_run(map, 100, 30, 32, fake_zero, &f, &r));
	CHECK_U64(r.first, 30);
	CHECK_U64(r.npages, 10);
	CHECK(!r.zero);
	CHECK(src_next_run(map, 100, 40, 32, fake_zero, &f, &r));
	CHECK_U64(r.first, 40);
	CHECK_U64(r.npages, 3);
	CHECK(r.zero);

	/* Without ZERO frames, zero pages are data. */
	CHECK(src_next_run(map, 100, 40, 32, NULL, NULL, &r));
	CHECK_U64(r.npages, 32);
	CHECK(!r.zero);

	/* Batch 1, and a batch of 0 is taken as 1. */
	CHECK(src_next_run(map, 100, 50, 1, fake_zero, &f, &r));
	CHECK_U64(r.npages, 1);
	CHECK(src_next_run(map, 100, 50, 0, fake_zero, &f, &r));
	CHECK_U64(r.npages, 1);

	/* Wrap-around: nothing left after the cursor, search from 0. */
	memset(map, 0xff, sizeof(map));
	src_bit_test_and_clear(map, 3);
	CHECK(src_next_run(map, 100, 50, 32, fake_zero, &f, &r));
	CHECK_U64(r.first, 3);
	CHECK_U64(r.npages, 1);
	/* All sent. */
	src_bit_test_and_set(map, 3);
	CHECK(!src_next_run(map, 100, 50, 32, fake_zero, &f, &r));
	CHECK(!src_next_run(map, 100, 0, 32, fake_zero, &f, &r));
	CHECK(!src_next_run(map, 0, 0, 32, fake_zero, &f, &r));
}

/* A whole push, with requests in the middle: every page exactly once. */
static void test_push_order(void)
{
	enum { N = 1000 };
	uint64_t map[src_bitmap_words(N)];
	unsigned int sent_count[N] = { 0 };
	bool zero[N];
	struct fake f = { .npages = N, .zero = zero };
	uint64_t pos = 0, i, frames = 0, zero_frames = 0;
	uint64_t order[N];
	unsigned int norder = 0;
	bool ok = true;
	struct src_run r;

	memset(map, 0, sizeof(map));
	for (i = 0; i < N; i++)
		zero[i] = (i >= 100 && i < 300) || i % 97 == 5;
	while (src_next_run(map, N, pos, 32, fake_zero, &f, &r)) {
		frames++;
		if (r.zero)
			zero_frames++;
		else
			ok &= r.npages <= 32;
		for (i = r.first; i < r.first + r.npages; i++) {
			ok &= !src_bit_test_and_set(map, i);
			ok &= zero[i] == r.zero;
			sent_count[i]++;
			order[norder++] = i;
		}
		pos = r.first + r.npages;
		/* A request for page 700 after the tenth frame. */
		if (frames == 10) {
			src_bit_test_and_set(map, 700);
			sent_count[700]++;
			pos = 701;	/* the cursor jumps after it */
		}
		if (frames > 2 * N)
			break;
	}
	CHECK(ok);
	for (i = 0; i < N; i++)
		ok &= sent_count[i] == 1;
	CHECK(ok);
	/* Pages 100..299 are one ZERO run. */
	CHECK(zero_frames >= 1);
	/* After the jump the push went on at 701, then wrapped around. */
	for (i = 0; i < norder && order[i] != 701; i++)
		;
	CHECK(i < norder && i > 0);
	CHECK(i < norder && order[i - 1] < 700);
	CHECK(norder == N - 1);
}

static void test_replies(void)
{
	bool zero[600] = { false };
	struct fake f = { .npages = 600, .zero = zero };
	struct src_reply out[600];
	uint64_t pages[600];
	unsigned int n, i;

	zero[7] = zero[8] = true;
	/* 5, 6 | 7, 8 zero | 9 | 3 (not consecutive) | 4 */
	pages[0] = 5;
	pages[1] = 6;
	pages[2] = 7;
	pages[3] = 8;
	pages[4] = 9;
	pages[5] = 3;
	pages[6] = 4;
	n = src_plan_replies(pages, 7, fake_zero, &f, out);
	CHECK_U64(n, 4);
	CHECK(out[0].first == 5 && out[0].npages == 2 && out[0].nreq == 2);
	CHECK(out[0].type == PCMIG_FRAME_PAGES &&
	      out[0].flags == PCMIG_FRAME_F_REQUESTED);
	/* A zero page requested: ZERO frame without the REQUESTED flag. */
	CHECK(out[1].first == 7 && out[1].npages == 2 &&
	      out[1].type == PCMIG_FRAME_ZERO && out[1].flags == 0);
	CHECK(out[2].first == 9 && out[2].npages == 1);
	CHECK(out[3].first == 3 && out[3].npages == 2 && out[3].nreq == 2);

	/* Without ZERO frames. */
	n = src_plan_replies(pages, 5, NULL, NULL, out);
	CHECK_U64(n, 1);
	CHECK(out[0].npages == 5 && out[0].flags == PCMIG_FRAME_F_REQUESTED);

	/* A PAGES frame carries at most 256 pages. */
	for (i = 0; i < 600; i++)
		pages[i] = i;
	memset(zero, 0, sizeof(zero));
	n = src_plan_replies(pages, 600, fake_zero, &f, out);
	CHECK_U64(n, 3);
	CHECK(out[0].npages == 256 && out[1].npages == 256 &&
	      out[2].npages == 88 && out[2].first == 512);

	/* The same page twice (a request sent again): two answers. */
	pages[0] = 9;
	pages[1] = 9;
	n = src_plan_replies(pages, 2, fake_zero, &f, out);
	CHECK_U64(n, 2);
}

static void put_req(uint8_t *hdr, uint32_t magic, uint8_t version,
		    uint8_t type, uint16_t flags, uint32_t npages, uint32_t len,
		    uint64_t offset)
{
	pcmig_frame_put(hdr, type, flags, npages, len, offset);
	hdr[0] = magic >> 24;
	hdr[1] = magic >> 16;
	hdr[2] = magic >> 8;
	hdr[3] = magic;
	hdr[4] = version;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = v;
}

static void test_requests(void)
{
	uint8_t hdr[SRC_FRAME_LEN], payload[8 * 4];
	uint64_t pages[4];
	uint32_t n = 0;
	char err[256];

	CHECK(sizeof(struct pcmig_frame) == SRC_FRAME_LEN);
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 0, 3, 24, 0);
	CHECK(!src_request_check_hdr(hdr, &n, err, sizeof(err)));
	CHECK_U64(n, 3);
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 0, 512,
		4096, 0);
	CHECK(!src_request_check_hdr(hdr, &n, err, sizeof(err)));

	put_req(hdr, 0x12345678, 1, PCMIG_FRAME_REQUEST, 0, 3, 24, 0);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "magic 0x12345678"));
	put_req(hdr, PCMIG_FRAME_MAGIC, 2, PCMIG_FRAME_REQUEST, 0, 3, 24, 0);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "version 2"));
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_PAGES, 0, 3, 24, 0);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "type 1"));
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 1, 3, 24, 0);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "flags"));
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 0, 0, 0, 0);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO);
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 0, 513,
		4104, 0);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "513 pages"));
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 0, 3, 16, 0);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "16-byte"));
	put_req(hdr, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 0, 3, 24,
		4096);
	CHECK(src_request_check_hdr(hdr, &n, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "offset field"));

	/* Payload: offsets aligned and inside 16 pages of memory. */
	put_be64(payload, 0);
	put_be64(payload + 8, 15 * PS);
	put_be64(payload + 16, 3 * PS);
	CHECK(!src_request_parse(payload, 3, 16 * PS, PS, pages, err,
				 sizeof(err)));
	CHECK(pages[0] == 0 && pages[1] == 15 && pages[2] == 3);
	put_be64(payload + 8, 16 * PS);
	CHECK(src_request_parse(payload, 3, 16 * PS, PS, pages, err,
				sizeof(err)) == -EPROTO &&
	      strstr(err, "outside"));
	put_be64(payload + 8, PS + 8);
	CHECK(src_request_parse(payload, 3, 16 * PS, PS, pages, err,
				sizeof(err)) == -EPROTO &&
	      strstr(err, "aligned"));
	put_be64(payload + 8, UINT64_MAX - 4095);
	CHECK(src_request_parse(payload, 3, 16 * PS, PS, pages, err,
				sizeof(err)) == -EPROTO);
}

/* Append a REQUEST frame for @n pages starting at @first, every @step. */
static size_t add_req(uint8_t *buf, size_t at, uint32_t n, uint64_t first,
		      uint64_t step)
{
	uint32_t i;

	put_req(buf + at, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_REQUEST, 0, n,
		8 * n, 0);
	for (i = 0; i < n; i++)
		put_be64(buf + at + SRC_FRAME_LEN + 8 * i,
			 (first + i * step) * PS);
	return at + SRC_FRAME_LEN + 8 * n;
}

/* Several frames read at once: all whole ones taken, a partial one left. */
static void test_request_batches(void)
{
	static uint8_t buf[4 * (SRC_FRAME_LEN + 8 * PCMIG_FRAME_MAX_REQS)];
	uint64_t pages[2 * PCMIG_FRAME_MAX_REQS];
	uint32_t n = 99, frames = 99;
	size_t len, pos = 0, third;
	char err[256];

	/* Nothing, then less than a header: nothing taken, pos kept. */
	CHECK(!src_requests_take(buf, 0, &pos, 4096 * PS, PS, pages, 1024,
				 &n, &frames, err, sizeof(err)));
	CHECK_U64(n, 0);
	CHECK_U64(frames, 0);
	len = add_req(buf, 0, 1, 7, 1);
	len = add_req(buf, len, 3, 100, 2);
	third = len;
	len = add_req(buf, len, 2, 4000, 1);
	CHECK(!src_requests_take(buf, SRC_FRAME_LEN - 1, &pos, 4096 * PS, PS,
				 pages, 1024, &n, &frames, err, sizeof(err)));
	CHECK_U64(n, 0);
	CHECK_U64(pos, 0);

	/* Two whole frames and the third cut in its payload. */
	CHECK(!src_requests_take(buf, len - 1, &pos, 4096 * PS, PS, pages,
				 1024, &n, &frames, err, sizeof(err)));
	CHECK_U64(n, 4);
	CHECK_U64(frames, 2);
	CHECK_U64(pos, third);
	CHECK(pages[0] == 7 && pages[1] == 100 && pages[2] == 102 &&
	      pages[3] == 104);
	/* The rest of it arrives. */
	CHECK(!src_requests_take(buf, len, &pos, 4096 * PS, PS, pages, 1024,
				 &n, &frames, err, sizeof(err)));
	CHECK_U64(n, 2);
	CHECK_U64(frames, 1);
	CHECK_U64(pos, len);
	CHECK(pages[0] == 4000 && pages[1] == 4001);

	/* Room for one whole frame of 512, not two: the second waits. */
	pos = 0;
	len = add_req(buf, 0, PCMIG_FRAME_MAX_REQS, 0, 1);
	len = add_req(buf, len, PCMIG_FRAME_MAX_REQS, 512, 1);
	CHECK(!src_requests_take(buf, len, &pos, 4096 * PS, PS, pages,
				 PCMIG_FRAME_MAX_REQS + 1, &n, &frames, err,
				 sizeof(err)));
	CHECK_U64(n, PCMIG_FRAME_MAX_REQS);
	CHECK_U64(frames, 1);
	CHECK(pages[511] == 511);
	CHECK(!src_requests_take(buf, len, &pos, 4096 * PS, PS, pages,
				 PCMIG_FRAME_MAX_REQS + 1, &n, &frames, err,
				 sizeof(err)));
	CHECK_U64(n, PCMIG_FRAME_MAX_REQS);
	CHECK(pages[0] == 512 && pages[511] == 1023);
	CHECK_U64(pos, len);

	/* A bad header after a good frame is refused before its payload. */
	pos = 0;
	len = add_req(buf, 0, 1, 5, 1);
	put_req(buf + len, PCMIG_FRAME_MAGIC, 1, PCMIG_FRAME_PAGES, 0, 1,
		PS, 0);
	CHECK(src_requests_take(buf, len + SRC_FRAME_LEN, &pos, 4096 * PS, PS,
				pages, 1024, &n, &frames, err,
				sizeof(err)) == -EPROTO &&
	      strstr(err, "type 1"));
	/* An offset outside the memory, in the second frame. */
	pos = 0;
	len = add_req(buf, 0, 1, 5, 1);
	len = add_req(buf, len, 2, 4095, 1);
	CHECK(src_requests_take(buf, len, &pos, 4096 * PS, PS, pages, 1024,
				&n, &frames, err, sizeof(err)) == -EPROTO &&
	      strstr(err, "outside"));
}

static void test_token_bucket(void)
{
	const uint64_t s = 1000000000ULL;
	struct src_tb tb;
	uint64_t t = 5 * s, w;

	/* No limit. */
	src_tb_init(&tb, 0, 0, t);
	src_tb_consume(&tb, 1 << 30);
	CHECK_U64(src_tb_wait_ns(&tb, t), 0);

	/* 1000 bytes/s, burst 500. The first frame goes at once. */
	src_tb_init(&tb, 1000, 500, t);
	CHECK_U64(src_tb_wait_ns(&tb, t), 0);
	src_tb_consume(&tb, 2000);
	/* 2000 bytes of debt: 2 s. */
	w = src_tb_wait_ns(&tb, t);
	CHECK(w >= 2 * s - 1000 && w <= 2 * s + 1000);
	/* Half a second later, 1.5 s left. */
	w = src_tb_wait_ns(&tb, t + s / 2);
	CHECK(w >= 3 * s / 2 - 1000000 && w <= 3 * s / 2 + 1000000);
	/* When the debt is paid, go. */
	CHECK_U64(src_tb_wait_ns(&tb, t + 2 * s), 0);

	/* Idle time saves up at most the burst. */
	src_tb_init(&tb, 1000, 500, t);
	CHECK_U64(src_tb_wait_ns(&tb, t + 100 * s), 0);
	CHECK(tb.tokens == 500);
	src_tb_consume(&tb, 1500);
	w = src_tb_wait_ns(&tb, t + 100 * s);
	CHECK(w >= s - 1000 && w <= s + 1000);

	/* Fractions of a byte are not lost: 1 byte/s, polled every 0.3 s. */
	src_tb_init(&tb, 1, 1, t);
	src_tb_consume(&tb, 3);
	w = 0;
	while (src_tb_wait_ns(&tb, t + w) && w < 10 * s)
		w += 3 * s / 10;
	CHECK(w >= 3 * s && w <= 33 * s / 10);

	/* A long run at a fixed rate: the average matches. */
	{
		uint64_t now = t, sent = 0;
		unsigned int i;

		src_tb_init(&tb, 100 << 20, 10 << 20, now);
		for (i = 0; i < 10000; i++) {
			now += src_tb_wait_ns(&tb, now);
			src_tb_consume(&tb, 131096);
			sent += 131096;
		}
		/* sent / elapsed within 1% of the rate. */
		CHECK((double)sent / ((double)(now - t) / s) <
		      1.01 * (100 << 20));
		CHECK((double)sent / ((double)(now - t) / s) >
		      0.99 * (100 << 20));
	}
	/* Huge rates do not overflow. */
	src_tb_init(&tb, UINT64_MAX / 2, UINT64_MAX, t);
	CHECK_U64(src_tb_wait_ns(&tb, t + 1000 * s), 0);
}

static void test_ranges(void)
{
	struct pcmig_wire_range r;
	uint64_t size = 64 << 20;
	char err[256];

	CHECK(!src_parse_range("4096:8192", size, PS, &r, err, sizeof(err)));
	CHECK(r.offset == 4096 && r.length == 8192);
	CHECK(!src_parse_range("1M:4K", size, PS, &r, err, sizeof(err)));
	CHECK(r.offset == 1 << 20 && r.length == 4096);
	CHECK(!src_parse_range("0x1000:0x2000", size, PS, &r, err,
			       sizeof(err)));
	CHECK(r.offset == 0x1000 && r.length == 0x2000);
	CHECK(!src_parse_range("0:64M", size, PS, &r, err, sizeof(err)));

	CHECK(src_parse_range("4096", size, PS, &r, err, sizeof(err)) &&
	      strstr(err, "OFFSET:LENGTH"));
	CHECK(src_parse_range("x:4096", size, PS, &r, err, sizeof(err)));
	CHECK(src_parse_range("0x:4096", size, PS, &r, err, sizeof(err)));
	CHECK(src_parse_range("4096:", size, PS, &r, err, sizeof(err)));
	CHECK(src_parse_range("4096:0", size, PS, &r, err, sizeof(err)) &&
	      strstr(err, "empty"));
	CHECK(src_parse_range("100:4096", size, PS, &r, err, sizeof(err)) &&
	      strstr(err, "aligned"));
	CHECK(src_parse_range("4096:100", size, PS, &r, err, sizeof(err)) &&
	      strstr(err, "aligned"));
	CHECK(src_parse_range("64M:4K", size, PS, &r, err, sizeof(err)) &&
	      strstr(err, "outside"));
	CHECK(src_parse_range("60M:8M", size, PS, &r, err, sizeof(err)) &&
	      strstr(err, "outside"));
	CHECK(src_parse_range("0xfffffffffffff000:0x2000", size, PS, &r, err,
			      sizeof(err)));
	CHECK(src_parse_range("4096:99999999999999999999", size, PS, &r, err,
			      sizeof(err)));
}

int main(void)
{
	test_bitmaps();
	test_bitmap_rebuild();
	test_zero_detection();
	test_next_run();
	test_push_order();
	test_replies();
	test_requests();
	test_request_batches();
	test_token_bucket();
	test_ranges();
	return unit_report("source_test");
}
