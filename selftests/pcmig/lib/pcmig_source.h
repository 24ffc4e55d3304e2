/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A test page source for the pcmig selftests: the far end of a session's
 * page channel(s). It speaks the wire format of uapi/linux/pcmig.h, answers
 * REQUEST frames with PAGES frames flagged PCMIG_FRAME_F_REQUESTED whose
 * contents come from a deterministic, page-unique pattern, counts the
 * requests per page, can hold answers back, push pages, zero frames, END,
 * or arbitrary (malformed) bytes.
 *
 * Independent of kselftest_harness.h: no ASSERT here, functions return 0 or
 * a negative errno and leave a message in pcmig_lib_error().
 */
#ifndef _PCMIG_SOURCE_H
#define _PCMIG_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/pcmig.h>

#include "net.h"	/* pcmig_now_ms() */

/* Size of the wire header. */
#define PCMIG_FRAME_HDR_LEN	24

/* Last error message of the library, per thread. */
const char *pcmig_lib_error(void);
void pcmig_lib_set_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * $PCMIG_TIME_SCALE (1..100, default 1): a factor for the bounds of waits
 * that scale with the kernel's speed; make check-debug sets 4 (KASAN,
 * lockdep and friends under emulation).
 */
unsigned int pcmig_time_scale(void);

/*
 * The page pattern: every 8-byte word of page @page is
 * pcmig_pattern_word(@seed, @page, word index), so that every page of every
 * seed differs from every other.
 */
uint64_t pcmig_pattern_word(uint64_t seed, uint64_t page, uint64_t word);
void pcmig_pattern_fill(void *buf, size_t page_size, uint64_t seed,
			uint64_t page);
/*
 * Compare @buf (one page) with the pattern: -1 if equal, else the offset of
 * the first byte that differs.
 */
long pcmig_pattern_check(const void *buf, size_t page_size, uint64_t seed,
			 uint64_t page);
/* -1 if @len bytes at @buf are zero, else the offset of the first non-zero. */
long pcmig_zero_check(const void *buf, size_t len);

/* Transports of a page channel. */
enum pcmig_transport {
	PCMIG_TRANSPORT_UNIX,	/* socketpair(AF_UNIX, SOCK_STREAM) */
	PCMIG_TRANSPORT_TCP,	/* a loopback TCP connection */
};

/*
 * Make a connected stream socket pair over @transport: @fds[0] is the
 * destination's end (to attach), @fds[1] the source's end. Both blocking,
 * close-on-exec. Returns 0 or -errno.
 */
int pcmig_stream_pair(enum pcmig_transport transport, int fds[2]);

/*
 * Host-endian description of a frame header, for pcmig_source_send_frame():
 * any value goes, so that malformed frames can be built.
 */
struct pcmig_frame_desc {
	uint32_t magic;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t npages;
	uint32_t len;
	uint64_t offset;
};

void pcmig_frame_encode(void *hdr, const struct pcmig_frame_desc *d);

struct pcmig_source;

/*
 * pcmig_source_start() - start a source on already connected sockets
 * @urgent: the source's end of the urgent channel (requests in, replies out)
 * @bulk: the source's end of the bulk channel, or the same as @urgent, or -1
 *	(then pushes go over @urgent)
 * @size: bytes of session memory
 * @page_size: page size of the session
 * @seed: pattern seed of every page (see pcmig_source_set_seed())
 *
 * Takes over the descriptors (closed by pcmig_source_free()). Starts a
 * reader thread (parses REQUEST frames, validates them, counts requests) and
 * a writer thread (sends the answers). Returns NULL on failure.
 */
struct pcmig_source *pcmig_source_start(int urgent, int bulk, uint64_t size,
					uint32_t page_size, uint64_t seed);

/*
 * Stop the threads, close the descriptors and free everything. Safe on NULL
 * and after pcmig_source_close()/pcmig_source_reset().
 */
void pcmig_source_free(struct pcmig_source *src);

/*
 * Close the connection the way a source process would: shutdown(SHUT_RDWR)
 * on every channel (the destination reads end of file, also if a forked
 * child still holds a copy of the descriptor), then stop the threads.
 */
void pcmig_source_close(struct pcmig_source *src);

/*
 * shutdown(SHUT_RDWR) of one channel's socket only (@channel
 * PCMIG_CHANNEL_URGENT or PCMIG_CHANNEL_BULK); the threads keep running.
 */
void pcmig_source_shutdown_channel(struct pcmig_source *src,
				   unsigned int channel);

/* Abort the connection(s) with a TCP reset (SO_LINGER 0 and close). */
void pcmig_source_reset(struct pcmig_source *src);

/* Serve pages [first, first + n) with @seed from now on. */
void pcmig_source_set_seed(struct pcmig_source *src, uint64_t first,
			   uint64_t n, uint64_t seed);
uint64_t pcmig_source_seed(struct pcmig_source *src, uint64_t page);

/*
 * Hold back the answers for pages [first, first + n): their requests are
 * counted but not answered until pcmig_source_release().
 */
void pcmig_source_hold(struct pcmig_source *src, uint64_t first, uint64_t n);
/* Hold back every answer (true) or go back to per-page holds (false). */
void pcmig_source_hold_all(struct pcmig_source *src, bool hold);
/*
 * Stop holding pages [first, first + n) and answer their pending requests
 * (one REQUESTED PAGES frame per page that has any).
 */
void pcmig_source_release(struct pcmig_source *src, uint64_t first,
			  uint64_t n);
/* Stop holding anything and answer every pending request. */
void pcmig_source_release_all(struct pcmig_source *src);
/*
 * Forget the pending requests of [first, first + n) without answering them
 * (they stay counted). The holds stay.
 */
void pcmig_source_drop_pending(struct pcmig_source *src, uint64_t first,
			       uint64_t n);

/* Requests received for @page, in total, and the largest per-page count. */
uint32_t pcmig_source_requests(struct pcmig_source *src, uint64_t page);
uint64_t pcmig_source_total_requests(struct pcmig_source *src);
uint32_t pcmig_source_max_requests(struct pcmig_source *src,
				   uint64_t *page_out);
/* REQUEST frames received. */
uint64_t pcmig_source_request_frames(struct pcmig_source *src);
/* Pages not yet answered (held back or queued). */
uint64_t pcmig_source_pending(struct pcmig_source *src);

/*
 * Wait until @page has been requested at least @count times; 0 or
 * -ETIMEDOUT.
 */
int pcmig_source_wait_requests(struct pcmig_source *src, uint64_t page,
			       uint32_t count, int timeout_ms);
/* Wait until every queued answer has been written (0 or -ETIMEDOUT). */
int pcmig_source_wait_idle(struct pcmig_source *src, int timeout_ms);
/*
 * Wait until the destination closed every channel (the reader saw end of
 * file or a reset on each); 0 or -ETIMEDOUT.
 */
int pcmig_source_wait_eof(struct pcmig_source *src, int timeout_ms);
bool pcmig_source_eof(struct pcmig_source *src);

/*
 * Protocol violations seen from the destination (bad REQUEST frames, data on
 * the bulk channel, offsets outside the session) and the first one's text.
 */
uint64_t pcmig_source_errors(struct pcmig_source *src, const char **first);
/* Writes that failed (the destination dropped the socket). */
uint64_t pcmig_source_write_errors(struct pcmig_source *src);

/*
 * Frames written by the test itself, serialised with the answers. @channel
 * is PCMIG_CHANNEL_URGENT or PCMIG_CHANNEL_BULK (the bulk socket if there is
 * a separate one). Return 0 or -errno (a dropped socket gives -EPIPE or
 * -ECONNRESET).
 */
/* @n pages from @first with their current seeds, flags PCMIG_FRAME_F_*. */
int pcmig_source_send_pages(struct pcmig_source *src, unsigned int channel,
			    uint64_t first, uint32_t n, uint16_t flags);
/* Same, with an explicit seed for the contents. */
int pcmig_source_send_pages_seed(struct pcmig_source *src,
				 unsigned int channel, uint64_t first,
				 uint32_t n, uint16_t flags, uint64_t seed);
/* Every page of [first, first + n) in frames of at most 256 pages. */
int pcmig_source_push_range(struct pcmig_source *src, uint64_t first,
			    uint64_t n);
int pcmig_source_send_zero(struct pcmig_source *src, unsigned int channel,
			   uint64_t first, uint32_t n);
int pcmig_source_send_end(struct pcmig_source *src, unsigned int channel);
/* A header from @d followed by @plen bytes of @payload. */
int pcmig_source_send_frame(struct pcmig_source *src, unsigned int channel,
			    const struct pcmig_frame_desc *d,
			    const void *payload, size_t plen);
int pcmig_source_send_raw(struct pcmig_source *src, unsigned int channel,
			  const void *buf, size_t len);

#endif /* _PCMIG_SOURCE_H */
