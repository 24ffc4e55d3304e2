// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the pure pieces of the source side: page bitmaps, the order
 * of the background push, zero detection, the frames answering requests,
 * REQUEST frame checks, the bandwidth token bucket and --discard ranges.
 *
 * Nothing here does I/O or takes a lock, so that the host unit test
 * (tools/pcmig/tests/source_test.c) can drive it with fake memory.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pcmig.h>

#include "ram.h"
#include "source.h"

#define NSEC_PER_SEC	1000000000ULL

/**
 * src_bitmap_words() - words of a bitmap of @nbits bits
 * @nbits: bits
 *
 * Return: the number of uint64_t words to allocate.
 */
size_t src_bitmap_words(uint64_t nbits)
{
	return (nbits + 63) / 64;
}

/**
 * src_bit_test() - read one bit
 * @map: bitmap
 * @bit: bit number
 *
 * Return: whether the bit is set.
 */
bool src_bit_test(const uint64_t *map, uint64_t bit)
{
	uint64_t w = __atomic_load_n(&map[bit / 64], __ATOMIC_RELAXED);

	return (w >> (bit % 64)) & 1;
}

/**
 * src_bit_test_and_set() - set one bit atomically
 * @map: bitmap
 * @bit: bit number
 *
 * Return: whether the bit was set before.
 */
bool src_bit_test_and_set(uint64_t *map, uint64_t bit)
{
	uint64_t mask = 1ULL << (bit % 64);

	return __atomic_fetch_or(&map[bit / 64], mask, __ATOMIC_ACQ_REL) &
	       mask;
}

/**
 * src_bit_test_and_clear() - clear one bit atomically
 * @map: bitmap
 * @bit: bit number
 *
 * Return: whether the bit was set before.
 */
bool src_bit_test_and_clear(uint64_t *map, uint64_t bit)
{
	uint64_t mask = 1ULL << (bit % 64);

	return __atomic_fetch_and(&map[bit / 64], ~mask, __ATOMIC_ACQ_REL) &
	       mask;
}

/**
 * src_bitmap_clear_range() - clear a range of bits (not atomically)
 * @map: bitmap
 * @first: first bit
 * @n: bits
 *
 * Return: how many of them were set.
 */
uint64_t src_bitmap_clear_range(uint64_t *map, uint64_t first, uint64_t n)
{
	uint64_t bit = first, end = first + n, cleared = 0, mask, w;
	unsigned int lo, hi;

	while (bit < end) {
		lo = bit % 64;
		hi = end - (bit - lo) >= 64 ? 64 : (unsigned int)(end - (bit - lo));
		mask = (hi == 64 ? ~0ULL : (1ULL << hi) - 1) & ~((1ULL << lo) - 1);
		w = map[bit / 64];
		cleared += (uint64_t)__builtin_popcountll(w & mask);
		map[bit / 64] = w & ~mask;
		bit += hi - lo;
	}
	return cleared;
}

/**
 * src_bitmap_set_range() - set a range of bits (not atomically)
 * @map: bitmap
 * @first: first bit
 * @n: bits
 */
void src_bitmap_set_range(uint64_t *map, uint64_t first, uint64_t n)
{
	uint64_t bit = first, end = first + n, mask;
	unsigned int lo, hi;

	while (bit < end) {
		lo = bit % 64;
		hi = end - (bit - lo) >= 64 ? 64 : (unsigned int)(end - (bit - lo));
		mask = (hi == 64 ? ~0ULL : (1ULL << hi) - 1) & ~((1ULL << lo) - 1);
		map[bit / 64] |= mask;
		bit += hi - lo;
	}
}

/**
 * src_find_next_zero() - first clear bit at or after @from
 * @map: bitmap
 * @nbits: bits in the bitmap
 * @from: where to start
 *
 * Whole words that are full are skipped at once.
 *
 * Return: the bit number, or @nbits if every bit of [@from, @nbits) is set.
 */
uint64_t src_find_next_zero(const uint64_t *map, uint64_t nbits,
			    uint64_t from)
{
	uint64_t i, w;

	if (from >= nbits)
		return nbits;
	i = from / 64;
	w = ~__atomic_load_n(&map[i], __ATOMIC_RELAXED);
	w &= ~0ULL << (from % 64);
	for (;;) {
		if (w) {
			uint64_t bit = i * 64 + __builtin_ctzll(w);

			return bit < nbits ? bit : nbits;
		}
		if (++i >= src_bitmap_words(nbits))
			return nbits;
		w = ~__atomic_load_n(&map[i], __ATOMIC_RELAXED);
	}
}

/**
 * src_page_is_zero() - whether memory holds only zero bytes
 * @page: memory
 * @len: bytes
 *
 * Stops at the first non-zero word, which for most pages holding data is
 * the first one.
 *
 * Return: true if every byte is zero.
 */
bool src_page_is_zero(const void *page, size_t len)
{
	const uint64_t *w = page;
	const uint8_t *b;
	size_t i, n = len / 8;

	if (n && w[0])
		return false;
	for (i = 0; i + 8 <= n; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] |
		    w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	for (; i < n; i++)
		if (w[i])
			return false;
	for (b = (const uint8_t *)(w + n); b < (const uint8_t *)page + len;
	     b++)
		if (*b)
			return false;
	return true;
}

/**
 * src_next_run() - the next frame of the background push
 * @map: pages sent already (set bits are skipped)
 * @npages: pages of session memory
 * @pos: cursor: the first page to consider; the search wraps around to
 *	page 0 (a cursor at or past the end starts at page 0)
 * @batch: most pages in a PAGES frame (1 to %PCMIG_FRAME_MAX_PAGES)
 * @is_zero: tells zero pages, or NULL if ZERO frames may not be used
 * @ctx: passed to @is_zero
 * @run: the frame, on success
 *
 * The run starts at the first unsent page from @pos on and takes the
 * following pages as long as they are unsent and of the same kind (zero
 * or not), up to @batch pages for data and %SRC_ZERO_RUN_MAX for zeros. It
 * never wraps: it ends at the last page at the latest. The bitmap is only
 * read; the caller marks the pages.
 *
 * Return: false if every page is sent.
 */
bool src_next_run(const uint64_t *map, uint64_t npages, uint64_t pos,
		  uint32_t batch, src_zero_fn is_zero, void *ctx,
		  struct src_run *run)
{
	uint64_t first, limit;
	uint32_t n = 1;
	bool zero;

	if (!npages)
		return false;
	if (pos >= npages)
		pos = 0;
	first = src_find_next_zero(map, npages, pos);
	if (first >= npages) {
		first = src_find_next_zero(map, npages, 0);
		if (first >= pos)
			return false;
	}
	zero = is_zero && is_zero(ctx, first);
	limit = zero ? SRC_ZERO_RUN_MAX : (batch ? batch : 1);
	if (limit > npages - first)
		limit = npages - first;
	while (n < limit && !src_bit_test(map, first + n) &&
	       (is_zero && is_zero(ctx, first + n)) == zero)
		n++;
	run->first = first;
	run->npages = n;
	run->zero = zero;
	return true;
}

/**
 * src_plan_replies() - the frames that answer a list of requested pages
 * @pages: requested pages, in the order the requests arrived
 * @n: how many
 * @is_zero: tells zero pages, or NULL if ZERO frames may not be used
 * @ctx: passed to @is_zero
 * @out: room for @n frames
 *
 * Consecutive requests for consecutive pages of the same kind share a
 * frame (up to %PCMIG_FRAME_MAX_PAGES pages). Data goes in PAGES frames
 * flagged REQUESTED; zero pages in ZERO frames without flags, because the
 * destination's kernel refuses REQUESTED on ZERO frames and accepts an
 * unflagged ZERO frame for a requested page. The order of the requests is
 * kept: the first one asked is the first one answered.
 *
 * Return: the number of frames.
 */
unsigned int src_plan_replies(const uint64_t *pages, unsigned int n,
			      src_zero_fn is_zero, void *ctx,
			      struct src_reply *out)
{
	struct src_reply *cur = NULL;
	unsigned int i, nf = 0;

	for (i = 0; i < n; i++) {
		bool zero = is_zero && is_zero(ctx, pages[i]);
		uint8_t type = zero ? PCMIG_FRAME_ZERO : PCMIG_FRAME_PAGES;

		if (cur && cur->type == type &&
		    pages[i] == cur->first + cur->npages &&
		    cur->npages < PCMIG_FRAME_MAX_PAGES) {
			cur->npages++;
			cur->nreq++;
			continue;
		}
		cur = &out[nf++];
		cur->first = pages[i];
		cur->npages = 1;
		cur->type = type;
		cur->flags = zero ? 0 : PCMIG_FRAME_F_REQUESTED;
		cur->nreq = 1;
	}
	return nf;
}

/**
 * src_request_check_hdr() - check the header of a frame from the
 *	destination's kernel, which must be a REQUEST
 * @hdr: %SRC_FRAME_LEN bytes
 * @npages: number of offsets in the payload, on success
 * @err: what is wrong, on failure
 * @errlen: room at @err
 *
 * Return: 0, or -EPROTO.
 */
int src_request_check_hdr(const void *hdr, uint32_t *npages, char *err,
			  size_t errlen)
{
	const uint8_t *p = hdr;
	uint32_t n, len;
	uint64_t offset;
	uint16_t flags;
	uint8_t type;

	if (pcmig_frame_get(hdr, &type, &flags, &n, &len, &offset)) {
		uint32_t magic = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
				 (uint32_t)p[2] << 8 | p[3];

		if (magic != PCMIG_FRAME_MAGIC)
			snprintf(err, errlen,
				 "frame with magic 0x%08x instead of 0x%08x",
				 magic, PCMIG_FRAME_MAGIC);
		else
			snprintf(err, errlen,
				 "frame of version %u instead of %u", p[4],
				 PCMIG_FRAME_VERSION);
		return -EPROTO;
	}
	if (type != PCMIG_FRAME_REQUEST) {
		snprintf(err, errlen, "frame of type %u instead of REQUEST (%u)",
			 type, PCMIG_FRAME_REQUEST);
		return -EPROTO;
	}
	if (flags) {
		snprintf(err, errlen, "REQUEST with flags 0x%x", flags);
		return -EPROTO;
	}
	if (!n || n > PCMIG_FRAME_MAX_REQS) {
		snprintf(err, errlen, "REQUEST for %u pages (1 to %u allowed)",
			 n, PCMIG_FRAME_MAX_REQS);
		return -EPROTO;
	}
	if (len != 8 * n) {
		snprintf(err, errlen,
			 "REQUEST for %u pages with a %u-byte payload (want %u)",
			 n, len, 8 * n);
		return -EPROTO;
	}
	if (offset) {
		snprintf(err, errlen, "REQUEST with offset field 0x%" PRIx64,
			 offset);
		return -EPROTO;
	}
	*npages = n;
	return 0;
}

/**
 * src_request_parse() - the pages of a REQUEST frame's payload
 * @payload: @npages big-endian u64 byte offsets
 * @npages: from src_request_check_hdr()
 * @size: bytes of session memory
 * @page_size: page size
 * @pages: room for @npages page numbers, filled on success
 * @err: what is wrong, on failure
 * @errlen: room at @err
 *
 * Return: 0, or -EPROTO for an offset that is unaligned or outside the
 * memory.
 */
int src_request_parse(const void *payload, uint32_t npages, uint64_t size,
		      uint32_t page_size, uint64_t *pages, char *err,
		      size_t errlen)
{
	const uint8_t *p = payload;
	uint32_t i, j;

	for (i = 0; i < npages; i++, p += 8) {
		uint64_t off = 0;

		for (j = 0; j < 8; j++)
			off = off << 8 | p[j];
		if (off % page_size || off >= size) {
			snprintf(err, errlen,
				 "REQUEST for offset 0x%" PRIx64 " (%s; memory is 0x%" PRIx64 " bytes)",
				 off, off % page_size ? "not page aligned" :
				 "outside the memory", size);
			return -EPROTO;
		}
		pages[i] = off / page_size;
	}
	return 0;
}

/**
 * src_requests_take() - the pages of the whole REQUEST frames in a buffer
 * @buf: bytes read from the urgent connection
 * @len: bytes in @buf
 * @pos: first byte not taken yet; moved past every frame taken
 * @size: bytes of session memory
 * @page_size: page size
 * @pages: room for @room page numbers, in the order of the requests
 * @room: at least %PCMIG_FRAME_MAX_REQS; a frame that does not fit whole
 *	is left for the next call
 * @npages: pages taken, on success
 * @nframes: frames taken, on success
 * @err: what is wrong, on failure
 * @errlen: room at @err
 *
 * A frame whose payload has not arrived whole is left in @buf from its
 * header on. A bad header is refused as soon as it is whole, before its
 * payload is waited for; frames before it are taken.
 *
 * Return: 0, or -EPROTO.
 */
int src_requests_take(const uint8_t *buf, size_t len, size_t *pos,
		      uint64_t size, uint32_t page_size, uint64_t *pages,
		      uint32_t room, uint32_t *npages, uint32_t *nframes,
		      char *err, size_t errlen)
{
	uint32_t n, got = 0, frames = 0;
	size_t at = *pos;
	int ret = 0;

	while (len - at >= SRC_FRAME_LEN) {
		ret = src_request_check_hdr(buf + at, &n, err, errlen);
		if (ret)
			break;
		if (len - at < SRC_FRAME_LEN + 8 * (size_t)n || got + n > room)
			break;
		ret = src_request_parse(buf + at + SRC_FRAME_LEN, n, size,
					page_size, pages + got, err, errlen);
		if (ret)
			break;
		got += n;
		frames++;
		at += SRC_FRAME_LEN + 8 * (size_t)n;
	}
	*pos = at;
	*npages = got;
	*nframes = frames;
	return ret;
}

/**
 * src_tb_init() - set up the token bucket
 * @tb: the bucket
 * @rate: bytes per second, 0 for no limit
 * @burst: most bytes saved up while idle (at least 1)
 * @now_ns: the current time (CLOCK_MONOTONIC)
 *
 * The bucket starts empty: the first frame may go at once, the next ones
 * wait until the rate has paid for it.
 */
void src_tb_init(struct src_tb *tb, uint64_t rate, uint64_t burst,
		 uint64_t now_ns)
{
	tb->rate = rate;
	tb->burst = burst > INT64_MAX / 2 ? INT64_MAX / 2 :
		    burst ? (int64_t)burst : 1;
	tb->tokens = 0;
	tb->last_ns = now_ns;
}

/**
 * src_tb_wait_ns() - how long until the next frame may go
 * @tb: the bucket
 * @now_ns: the current time
 *
 * Fills the bucket for the time elapsed (fractions of a byte are kept for
 * later), up to its burst.
 *
 * Return: 0 if a frame may go now, else the nanoseconds to wait.
 */
uint64_t src_tb_wait_ns(struct src_tb *tb, uint64_t now_ns)
{
	unsigned __int128 add, need;
	uint64_t elapsed, ns;

	if (!tb->rate)
		return 0;
	elapsed = now_ns > tb->last_ns ? now_ns - tb->last_ns : 0;
	if (elapsed > 100 * NSEC_PER_SEC)
		elapsed = 100 * NSEC_PER_SEC;
	add = (unsigned __int128)elapsed * tb->rate / NSEC_PER_SEC;
	if (add >= (unsigned __int128)(tb->burst - tb->tokens)) {
		tb->tokens = tb->burst;
		tb->last_ns = now_ns;
	} else if (add) {
		tb->tokens += (int64_t)add;
		/* Only the time paid out in whole bytes is used up. */
		tb->last_ns += (uint64_t)(add * NSEC_PER_SEC / tb->rate);
	}
	if (tb->tokens >= 0)
		return 0;
	need = (unsigned __int128)(-tb->tokens) * NSEC_PER_SEC;
	ns = (uint64_t)((need + tb->rate - 1) / tb->rate);
	elapsed = now_ns > tb->last_ns ? now_ns - tb->last_ns : 0;
	return ns > elapsed ? ns - elapsed : 1;
}

/**
 * src_tb_consume() - account for a frame sent
 * @tb: the bucket
 * @bytes: bytes of the frame, header included
 *
 * The bucket may go negative: a frame is never split to fit, the next one
 * waits longer instead.
 */
void src_tb_consume(struct src_tb *tb, uint64_t bytes)
{
	if (!tb->rate)
		return;
	if (bytes > INT64_MAX / 4)
		bytes = INT64_MAX / 4;
	if (tb->tokens < INT64_MIN / 2 + (int64_t)bytes)
		tb->tokens = INT64_MIN / 2;
	else
		tb->tokens -= (int64_t)bytes;
}

/* A number: 0x hexadecimal, or decimal with an optional K/M/G/T suffix. */
static int parse_number(const char *s, size_t n, uint64_t *out)
{
	char buf[64];
	char *end;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
		if (!buf[2] || buf[2] == '-' || buf[2] == '+')
			return -EINVAL;
		errno = 0;
		*out = strtoull(buf + 2, &end, 16);
		return errno || *end ? -EINVAL : 0;
	}
	return pcmig_parse_size(buf, out);
}

/**
 * src_parse_range() - parse a --discard OFFSET:LENGTH
 * @spec: the option's value; numbers are decimal with an optional K, M, G
 *	or T suffix (powers of 1024), or hexadecimal with 0x
 * @size: bytes of session memory
 * @page_size: page size
 * @r: the range, on success
 * @err: a message on failure
 * @errlen: room at @err
 *
 * The range must be page aligned, non-empty and inside the memory.
 *
 * Return: 0, or -EINVAL.
 */
int src_parse_range(const char *spec, uint64_t size, uint32_t page_size,
		    struct pcmig_wire_range *r, char *err, size_t errlen)
{
	const char *colon = strchr(spec, ':');
	uint64_t off, len;

	if (!colon || parse_number(spec, colon - spec, &off) ||
	    parse_number(colon + 1, strlen(colon + 1), &len)) {
		snprintf(err, errlen, "--discard %s: want OFFSET:LENGTH", spec);
		return -EINVAL;
	}
	if (!len) {
		snprintf(err, errlen, "--discard %s: empty range", spec);
		return -EINVAL;
	}
	if (off % page_size || len % page_size) {
		snprintf(err, errlen,
			 "--discard %s: not aligned to the page size (%u bytes)",
			 spec, page_size);
		return -EINVAL;
	}
	if (off >= size || len > size - off) {
		snprintf(err, errlen,
			 "--discard %s: outside the memory (%" PRIu64 " bytes)",
			 spec, size);
		return -EINVAL;
	}
	r->offset = off;
	r->length = len;
	return 0;
}
