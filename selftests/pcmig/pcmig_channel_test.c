// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: the page channel. Every malformed frame of abi.rst's
 * table fails the session with its exact reason, an error event and SIGBUS
 * for blocked faults, without touching a present page; legitimate
 * duplicates are dropped; a truncated frame or end of file pauses the
 * session, and after RECOVER and a new socket the requests still missing
 * are sent again and the blocked faults complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_session.h"

#define PS	PCMIG_PS

static void __attribute__((constructor)) channel_test_init(void)
{
	pcmig_leak_guard_install();
}

/* Malformed frames */

#define MAL_PAGES	512
#define MAL_SEED	0x6ad
#define MAL_HELD	10	/* requested, answer held back, child waits */

enum payload {
	PL_NONE,
	PL_BAD,		/* pages of a wrong pattern */
	PL_GOOD,	/* pages of the right pattern */
	PL_REQ,		/* be64 offsets (zeros) */
};

FIXTURE(malformed) {
	struct pcmig_env env;
	pid_t kid;
};

FIXTURE_VARIANT(malformed) {
	struct pcmig_frame_desc frame;	/* sent on the urgent channel */
	enum payload payload;
	uint32_t plen;
	uint32_t reason;
	bool skip_present_count;
};

#define GOOD	.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION

FIXTURE_VARIANT_ADD(malformed, bad_magic) {
	.frame = { .magic = 0x50434d47, .version = PCMIG_FRAME_VERSION,
		   .type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS,
		   .offset = 20 * PS },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_MAGIC,
};

FIXTURE_VARIANT_ADD(malformed, bad_magic_byteswapped) {
	.frame = { .magic = 0x464d4350, .version = PCMIG_FRAME_VERSION,
		   .type = PCMIG_FRAME_ZERO, .npages = 1, .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_MAGIC,
};

FIXTURE_VARIANT_ADD(malformed, bad_version_0) {
	.frame = { .magic = PCMIG_FRAME_MAGIC, .version = 0,
		   .type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS,
		   .offset = 20 * PS },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_VERSION,
};

FIXTURE_VARIANT_ADD(malformed, bad_version_2) {
	.frame = { .magic = PCMIG_FRAME_MAGIC, .version = 2,
		   .type = PCMIG_FRAME_ZERO, .npages = 1, .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_VERSION,
};

FIXTURE_VARIANT_ADD(malformed, unknown_type_0) {
	.frame = { GOOD, .type = 0 },
	.reason = PCMIG_REASON_BAD_TYPE,
};

FIXTURE_VARIANT_ADD(malformed, unknown_type_7) {
	.frame = { GOOD, .type = 7 },
	.reason = PCMIG_REASON_BAD_TYPE,
};

FIXTURE_VARIANT_ADD(malformed, unknown_type_255) {
	.frame = { GOOD, .type = 255, .npages = 1, .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_TYPE,
};

FIXTURE_VARIANT_ADD(malformed, request_to_destination) {
	.frame = { GOOD, .type = PCMIG_FRAME_REQUEST, .npages = 1, .len = 8 },
	.payload = PL_REQ, .plen = 8, .reason = PCMIG_REASON_BAD_TYPE,
};

FIXTURE_VARIANT_ADD(malformed, unknown_flag_on_pages) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .flags = 0x2, .npages = 1,
		   .len = PS, .offset = 20 * PS },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_FLAGS,
};

FIXTURE_VARIANT_ADD(malformed, unknown_high_flag_on_pages) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .flags = 0x8000,
		   .npages = 1, .len = PS, .offset = 20 * PS },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_FLAGS,
};

FIXTURE_VARIANT_ADD(malformed, unknown_flag_on_zero) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .flags = 0x4, .npages = 1,
		   .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_FLAGS,
};

FIXTURE_VARIANT_ADD(malformed, requested_flag_on_zero) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO,
		   .flags = PCMIG_FRAME_F_REQUESTED, .npages = 1,
		   .offset = MAL_HELD * PS },
	.reason = PCMIG_REASON_BAD_FLAGS,
};

FIXTURE_VARIANT_ADD(malformed, unaligned_offset) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS,
		   .offset = 20 * PS + 512 },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, unaligned_offset_zero) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .npages = 1,
		   .offset = 20 * PS + 8 },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, offset_past_the_end) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS,
		   .offset = MAL_PAGES * PS },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, range_crosses_the_end) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 2, .len = 2 * PS,
		   .offset = (MAL_PAGES - 1) * PS },
	.payload = PL_BAD, .plen = 2 * PS, .reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, zero_range_crosses_the_end) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .npages = 13,
		   .offset = (MAL_PAGES - 12) * PS },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, huge_offset) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS,
		   .offset = 1ULL << 62 },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, zero_npages_overflow) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .npages = 0xffffffff,
		   .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, no_pages) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 0, .len = 0,
		   .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, no_zero_pages) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .npages = 0,
		   .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, too_many_pages) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES,
		   .npages = PCMIG_FRAME_MAX_PAGES + 1,
		   .len = (PCMIG_FRAME_MAX_PAGES + 1) * PS,
		   .offset = 100 * PS },
	.payload = PL_BAD, .plen = (PCMIG_FRAME_MAX_PAGES + 1) * PS,
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, len_short) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS - 1,
		   .offset = 20 * PS },
	.payload = PL_BAD, .plen = PS - 1, .reason = PCMIG_REASON_BAD_LENGTH,
};

FIXTURE_VARIANT_ADD(malformed, len_long) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 1, .len = 2 * PS,
		   .offset = 20 * PS },
	.payload = PL_BAD, .plen = 2 * PS, .reason = PCMIG_REASON_BAD_LENGTH,
};

FIXTURE_VARIANT_ADD(malformed, len_huge) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 1,
		   .len = 0xffffffff, .offset = 20 * PS },
	.reason = PCMIG_REASON_BAD_LENGTH,
};

FIXTURE_VARIANT_ADD(malformed, len_on_zero) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .npages = 1, .len = PS,
		   .offset = 20 * PS },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_BAD_LENGTH,
};

FIXTURE_VARIANT_ADD(malformed, len_on_end) {
	.frame = { GOOD, .type = PCMIG_FRAME_END, .len = 8 },
	.payload = PL_REQ, .plen = 8, .reason = PCMIG_REASON_BAD_LENGTH,
};

FIXTURE_VARIANT_ADD(malformed, requested_page_never_requested) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES,
		   .flags = PCMIG_FRAME_F_REQUESTED, .npages = 1, .len = PS,
		   .offset = 20 * PS },
	.payload = PL_GOOD, .plen = PS, .reason = PCMIG_REASON_NOT_REQUESTED,
};

FIXTURE_VARIANT_ADD(malformed, requested_pages_one_never_requested) {
	/* Page 9 never requested, page 10 requested: neither installed. */
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES,
		   .flags = PCMIG_FRAME_F_REQUESTED, .npages = 2, .len = 2 * PS,
		   .offset = (MAL_HELD - 1) * PS },
	.payload = PL_GOOD, .plen = 2 * PS,
	.reason = PCMIG_REASON_NOT_REQUESTED,
};

FIXTURE_VARIANT_ADD(malformed, requested_pages_last_never_requested) {
	/* Page 10 requested, page 11 not: validated before 10 is written. */
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES,
		   .flags = PCMIG_FRAME_F_REQUESTED, .npages = 2, .len = 2 * PS,
		   .offset = MAL_HELD * PS },
	.payload = PL_GOOD, .plen = 2 * PS,
	.reason = PCMIG_REASON_NOT_REQUESTED,
};

FIXTURE_VARIANT_ADD(malformed, duplicate_pushed_page) {
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS,
		   .offset = 5 * PS },
	.payload = PL_BAD, .plen = PS, .reason = PCMIG_REASON_DUPLICATE,
};

FIXTURE_VARIANT_ADD(malformed, duplicate_in_the_middle_of_a_frame) {
	/* Page 4 missing, page 5 present: page 5 must not be written. */
	.frame = { GOOD, .type = PCMIG_FRAME_PAGES, .npages = 2, .len = 2 * PS,
		   .offset = 4 * PS },
	.payload = PL_BAD, .plen = 2 * PS, .reason = PCMIG_REASON_DUPLICATE,
	.skip_present_count = true,
};

FIXTURE_VARIANT_ADD(malformed, duplicate_zero_page) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .npages = 1,
		   .offset = 7 * PS },
	.reason = PCMIG_REASON_DUPLICATE,
};

FIXTURE_VARIANT_ADD(malformed, zero_over_a_pushed_page) {
	.frame = { GOOD, .type = PCMIG_FRAME_ZERO, .npages = 1,
		   .offset = 6 * PS },
	.reason = PCMIG_REASON_DUPLICATE,
};

FIXTURE_VARIANT_ADD(malformed, discard_after_listen) {
	/* DISCARD frames belong before LISTEN: page 5 stays as it was. */
	.frame = { GOOD, .type = PCMIG_FRAME_DISCARD, .npages = 1,
		   .offset = 5 * PS },
	.reason = PCMIG_REASON_BAD_TYPE,
};

FIXTURE_VARIANT_ADD(malformed, discard_with_flags) {
	.frame = { GOOD, .type = PCMIG_FRAME_DISCARD,
		   .flags = PCMIG_FRAME_F_REQUESTED, .npages = 1,
		   .offset = 5 * PS },
	.reason = PCMIG_REASON_BAD_FLAGS,
};

FIXTURE_VARIANT_ADD(malformed, discard_with_payload) {
	.frame = { GOOD, .type = PCMIG_FRAME_DISCARD, .npages = 1, .len = 8,
		   .offset = 5 * PS },
	.payload = PL_REQ, .plen = 8, .reason = PCMIG_REASON_BAD_LENGTH,
};

FIXTURE_VARIANT_ADD(malformed, discard_past_the_end) {
	.frame = { GOOD, .type = PCMIG_FRAME_DISCARD, .npages = 2,
		   .offset = (MAL_PAGES - 1) * PS },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, sync_token_zero) {
	.frame = { GOOD, .type = PCMIG_FRAME_SYNC },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, sync_with_flags) {
	.frame = { GOOD, .type = PCMIG_FRAME_SYNC,
		   .flags = PCMIG_FRAME_F_REQUESTED, .offset = 1 },
	.reason = PCMIG_REASON_BAD_FLAGS,
};

FIXTURE_VARIANT_ADD(malformed, sync_with_pages) {
	.frame = { GOOD, .type = PCMIG_FRAME_SYNC, .npages = 1, .offset = 1 },
	.reason = PCMIG_REASON_BAD_RANGE,
};

FIXTURE_VARIANT_ADD(malformed, sync_with_payload) {
	.frame = { GOOD, .type = PCMIG_FRAME_SYNC, .len = 8, .offset = 1 },
	.payload = PL_REQ, .plen = 8, .reason = PCMIG_REASON_BAD_LENGTH,
};

FIXTURE_VARIANT_ADD(malformed, end_with_pages_missing) {
	.frame = { GOOD, .type = PCMIG_FRAME_END },
	.reason = PCMIG_REASON_INCOMPLETE,
};

/*
 * Before the bad frame: pages 0-3 fetched by faults (requested), 5-6
 * pushed, 7 announced zero (never requested), page 10 requested with its
 * answer held back and a child waiting for it.
 */
#define MAL_PRESENT	7

FIXTURE_SETUP(malformed)
{
	struct pcmig_env_opts o = {
		.npages = MAL_PAGES, .listen = true, .events = true,
		.seed = MAL_SEED, .tag = "bad",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t f0;

	pcmig_env_start(_metadata, e, &o);
	ASSERT_EQ(-1, pcmig_env_check(e, 0, 4, MAL_SEED, NULL));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 5, 2));
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 7, 1));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, MAL_PRESENT,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	pcmig_source_hold(e->src, MAL_HELD, 1);
	f0 = pcmig_faults(e->fd);
	self->kid = pcmig_env_kid(e, pcmig_fork_check(e->map, MAL_HELD, 1,
						      MAL_SEED, false));
	ASSERT_LT(0, self->kid);
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, MAL_HELD, 1,
						PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 1, &st))
		TH_LOG("%s", pcmig_lib_error());
}

FIXTURE_TEARDOWN(malformed)
{
	pcmig_env_cleanup(&self->env);
}

static void *mal_payload(const FIXTURE_VARIANT(malformed) *v)
{
	size_t pages = (v->plen + PS - 1) / PS, i;
	uint64_t first = v->frame.offset / PS;
	unsigned char *p;

	p = calloc(1, pages * PS + 8);
	if (!p || v->payload == PL_REQ || v->payload == PL_NONE)
		return p;
	for (i = 0; i < pages; i++)
		pcmig_pattern_fill(p + i * PS, PS,
				   v->payload == PL_GOOD ? MAL_SEED : 0xbad,
				   first + i);
	return p;
}

TEST_F_TIMEOUT(malformed, fails_session, 45)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	void *payload;
	int i, j, status;
	uint64_t p;

	payload = mal_payload(variant);
	ASSERT_NE(NULL, payload);
	/* The destination may drop the socket before the payload: no check. */
	pcmig_source_send_frame(e->src, PCMIG_CHANNEL_URGENT, &variant->frame,
				variant->payload == PL_NONE ? NULL : payload,
				variant->plen);
	free(payload);

	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_FAILED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(variant->reason, st.reason)
		TH_LOG("reason %s, expected %s", pcmig_reason_name(st.reason),
		       pcmig_reason_name(variant->reason));
	EXPECT_EQ(-EPROTO, st.error);
	if (!variant->skip_present_count) {
		EXPECT_EQ(MAL_PRESENT, st.pages_present);
	}

	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_ERROR, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(variant->reason, ev.s.reason)
		TH_LOG("event reason %s", pcmig_reason_name(ev.s.reason));
	EXPECT_EQ(-EPROTO, ev.s.error);
	j = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_FAILED, PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, j) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_LISTEN, ev.s.old_state);
	EXPECT_LT(i, j) TH_LOG("EVENT_STATE(FAILED) before EVENT_ERROR");

	status = pcmig_env_reap(e, self->kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("blocked child: %s", pcmig_status_str(status));

	/* No present page was written. */
	for (p = 0; p < 8; p++) {
		long off;

		if (p == 4)
			continue;
		off = p == 7 ? pcmig_zero_check(e->map + p * PS, PS) :
			       pcmig_pattern_check(e->map + p * PS, PS,
						   MAL_SEED, p);
		EXPECT_EQ(-1, off) TH_LOG("page %llu byte %ld",
					  (unsigned long long)p, off);
	}
}

/* Legitimate duplicates: a push and a reply for the same page cross. */

FIXTURE(dup) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(dup) {
	enum pcmig_transport transport;
	bool split;
};

FIXTURE_VARIANT_ADD(dup, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(dup, tcp_split) {
	.transport = PCMIG_TRANSPORT_TCP,
	.split = true,
};

FIXTURE_SETUP(dup)
{
	struct pcmig_env_opts o = {
		.npages = 16, .listen = true, .events = true, .seed = 0xd0d,
		.transport = variant->transport, .split = variant->split,
		.tag = "dup",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(dup)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(dup, push_then_reply_is_dropped)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	const char *msg;
	int status;
	pid_t kid;

	pcmig_source_hold(e->src, 6, 1);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 6, 1, 0xd0d, false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 6, 1, PCMIG_WAIT_MS));
	/* The background push arrives first and wakes the fault. */
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 6, 1,
					     0));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_pushed, 1, PCMIG_WAIT_MS,
				      &st));
	/* The reply follows, with other contents: dropped. */
	pcmig_source_set_seed(e->src, 6, 1, 0xbad);
	pcmig_source_release(e->src, 6, 1);
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_duplicate, 1,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(1, st.pages_duplicate);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(-1, pcmig_env_check(e, 6, 1, 0xd0d, NULL));
	/* Still healthy. */
	EXPECT_EQ(-1, pcmig_env_check(e, 7, 1, 0xd0d, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(2, st.pages_present);
	EXPECT_EQ(0, pcmig_source_errors(e->src, &msg)) TH_LOG("%s", msg);
}

TEST_F(dup, reply_then_push_is_dropped)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	EXPECT_EQ(-1, pcmig_env_check(e, 3, 1, 0xd0d, NULL));
	/* The push that crossed the reply, with other contents. */
	ASSERT_EQ(0, pcmig_source_send_pages_seed(e->src, PCMIG_CHANNEL_BULK,
						  3, 1, 0, 0xbad));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_duplicate, 1,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(-1, pcmig_env_check(e, 3, 1, 0xd0d, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 4, 1, 0xd0d, NULL));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 3));
}

/* Truncated frames: end of file in the middle of a frame. */

FIXTURE(truncated) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(truncated) {
	size_t bytes;		/* of the 24 + 4096 the frame has */
	enum pcmig_transport transport;
};

FIXTURE_VARIANT_ADD(truncated, partial_header) {
	.bytes = 10,
};

FIXTURE_VARIANT_ADD(truncated, header_only) {
	.bytes = PCMIG_FRAME_HDR_LEN,
};

FIXTURE_VARIANT_ADD(truncated, half_a_page) {
	.bytes = PCMIG_FRAME_HDR_LEN + PS / 2,
};

FIXTURE_VARIANT_ADD(truncated, one_byte_short_tcp) {
	.bytes = PCMIG_FRAME_HDR_LEN + PS - 1,
	.transport = PCMIG_TRANSPORT_TCP,
};

FIXTURE_SETUP(truncated)
{
	struct pcmig_env_opts o = {
		.npages = 16, .listen = true, .events = true, .seed = 0x7a,
		.transport = variant->transport, .tag = "trunc",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(truncated)
{
	pcmig_env_cleanup(&self->env);
}

/*
 * The first @bytes of a REQUESTED PAGES frame for page 5 (seed 0x7a), on
 * the urgent channel; 0 or -errno.
 */
static int send_truncated(struct pcmig_env *e, size_t bytes)
{
	const struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_PAGES, .flags = PCMIG_FRAME_F_REQUESTED,
		.npages = 1, .len = PS, .offset = 5 * PS,
	};
	unsigned char frame[PCMIG_FRAME_HDR_LEN + PS];

	pcmig_frame_encode(frame, &d);
	pcmig_pattern_fill(frame + PCMIG_FRAME_HDR_LEN, PS, 0x7a, 5);
	return pcmig_source_send_raw(e->src, PCMIG_CHANNEL_URGENT, frame,
				     bytes);
}

/* After a pause: RECOVER, a new source on a fresh socket, LISTEN again. */
static void recover_listen(struct __test_metadata *_metadata,
			   struct pcmig_env *e, enum pcmig_transport transport,
			   uint64_t seed)
{
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	ASSERT_EQ(0, pcmig_env_new_source(e, transport, false, seed))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
}

TEST_F(truncated, pauses_then_page_arrives_after_recover)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int i, j, status;
	pid_t kid;

	ASSERT_EQ(-1, pcmig_env_check(e, 0, 2, 0x7a, NULL));
	pcmig_source_hold(e->src, 5, 1);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 5, 1, 0x7a, false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS));

	ASSERT_EQ(0, send_truncated(e, variant->bytes));
	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(0, st.error);
	EXPECT_EQ(1, st.pauses);
	EXPECT_EQ(2, st.pages_present);
	EXPECT_EQ(1, st.in_flight);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_PAUSED, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, ev.s.reason);
	j = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_PAUSED, PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, j) TH_LOG("%s", pcmig_lib_error());
	EXPECT_LT(i, j);
	/* The partial page was not installed: the fault still waits. */
	pcmig_msleep(PCMIG_SHORT_MS);
	status = pcmig_env_reap(e, kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s", pcmig_status_str(status));

	recover_listen(_metadata, e, variant->transport, 0x7a);
	EXPECT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, 0x7a, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(3, st.pages_present);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(1, pcmig_source_requests(e->src, 5));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
}

/* Whether the page at @addr is mapped in this process (pagemap bit 63). */
static int page_mapped(const void *addr)
{
	uint64_t entry;
	int fd, ret;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return -1;
	ret = pread(fd, &entry, sizeof(entry),
		    (uintptr_t)addr / PS * sizeof(entry));
	close(fd);
	if (ret != sizeof(entry))
		return -1;
	return !!(entry >> 63);
}

/*
 * A partly received page stays in the page cache (cleared) but is not
 * present: fault-around on a present neighbour must not map it, and it is
 * requested again after recovery.
 */
TEST_F(truncated, partial_page_not_mapped_by_fault_around)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	volatile unsigned char c;
	int status;
	pid_t kid;

	/* Page 5 requested by a child and held; 3, 4 and 6 pushed. */
	pcmig_source_hold(e->src, 5, 1);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 5, 1, 0x7a, false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 3, 2,
					     0));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 6, 1,
					     0));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 3, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());

	ASSERT_EQ(0, send_truncated(e, variant->bytes));
	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(3, st.pages_present);

	/*
	 * Read page 4: fault-around may map its present neighbour 3 with
	 * it (it only trylocks, so it may also skip it), but never 5, and so
	 * nothing past 5 either.
	 */
	c = e->map[4 * PS];
	(void)c;
	EXPECT_EQ(1, page_mapped(e->map + 4 * PS));
	if (page_mapped(e->map + 3 * PS) != 1)
		TH_LOG("note: fault-around did not map page 3 this time");
	EXPECT_EQ(0, page_mapped(e->map + 5 * PS));
	EXPECT_EQ(0, page_mapped(e->map + 6 * PS));
	EXPECT_EQ(-1, pcmig_env_check(e, 3, 2, 0x7a, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 6, 1, 0x7a, NULL));

	recover_listen(_metadata, e, variant->transport, 0x7a);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, 0x7a, NULL));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 5));
}

/* DISCARD frames, ordered with the pages before them on their channel. */

FIXTURE(inband) {
	struct pcmig_env env;
};

FIXTURE_SETUP(inband)
{
	struct pcmig_env_opts o = {
		.npages = 64, .split = true, .events = true, .seed = 0x51,
		.tag = "inband",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(inband)
{
	pcmig_env_cleanup(&self->env);
}

static int send_discard(struct pcmig_env *e, uint64_t first, uint32_t n)
{
	const struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_DISCARD, .npages = n, .offset = first * PS,
	};

	return pcmig_source_send_frame(e->src, PCMIG_CHANNEL_BULK, &d, NULL,
				       0);
}

TEST_F(inband, discard_frame_after_precopy_pages)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	/*
	 * Precopy: pages 0-15 pushed, then pages 4-7 discarded in the same
	 * stream (the source saw them change), then pushed again with their
	 * new contents. No wait in between: the stream orders it all.
	 */
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 16));
	ASSERT_EQ(0, send_discard(e, 4, 4));
	pcmig_source_set_seed(e->src, 4, 4, 0x52);
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 4, 4));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_received, 20,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);
	EXPECT_EQ(4, st.pages_discarded);
	EXPECT_EQ(16, st.pages_present);
	EXPECT_EQ(0, st.pages_duplicate);

	/* Still in DISCARD: more discards and a mapping that gets zapped. */
	EXPECT_EQ(-1, pcmig_env_check(e, 4, 4, 0x52, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 4, 0x51, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 8, 8, 0x51, NULL));
	ASSERT_EQ(0, send_discard(e, 10, 1));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_discarded, 5, PCMIG_WAIT_MS,
				      &st));
	EXPECT_EQ(15, st.pages_present);

	/* After LISTEN, page 10 is requested and comes with its seed. */
	pcmig_source_set_seed(e->src, 10, 1, 0x53);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	EXPECT_EQ(-1, pcmig_env_check(e, 10, 1, 0x53, NULL));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 10));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
}

/* END on each channel: the session completes after the last of them. */
TEST_F(inband, end_counts_on_every_channel)
{
	const struct pcmig_frame_desc end = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	pid_t kid;
	int status;

	/* In LISTEN, so that all pages present does not end it by itself. */
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	/* Page 63 requested and its reply held back; the rest pushed. */
	pcmig_source_hold(e->src, 63, 1);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 63, 1, 0x51, false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 63, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 63));
	ASSERT_EQ(0, pcmig_source_send_frame(e->src, PCMIG_CHANNEL_BULK, &end,
					     NULL, 0));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 63, PCMIG_WAIT_MS,
				      &st));

	/* END on bulk with a reply still to come on urgent: no failure. */
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);

	pcmig_source_release(e->src, 63, 1);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_source_send_frame(e->src, PCMIG_CHANNEL_URGENT,
					     &end, NULL, 0));
	/*
	 * Both channels ended with every page there: no failure, and a
	 * late duplicate reply is still fine.
	 */
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT, 63,
					     1, PCMIG_FRAME_F_REQUESTED));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_duplicate, 1,
				      PCMIG_WAIT_MS, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(64, st.pages_present);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_END, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
}

/* END on every channel with a page still missing: INCOMPLETE. */
TEST_F(inband, end_on_every_channel_with_a_page_missing)
{
	const struct pcmig_frame_desc end = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 63));
	ASSERT_EQ(0, pcmig_source_send_frame(e->src, PCMIG_CHANNEL_BULK, &end,
					     NULL, 0));
	ASSERT_EQ(0, pcmig_source_send_frame(e->src, PCMIG_CHANNEL_URGENT,
					     &end, NULL, 0));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_FAILED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_INCOMPLETE, st.reason);
	EXPECT_EQ(63, st.pages_present);
}

/*
 * SYNC frames and PCMIG_IOC_SYNC: the barrier the destination puts before
 * LISTEN, so that DISCARD frames still queued in a socket cannot reach the
 * kernel after it.
 */

#define SYNC_PAGES	2048	/* 8 MiB: more than the sockets buffer */
#define SYNC_SEED	0x5c

FIXTURE(sync) {
	struct pcmig_env env;
};

FIXTURE_SETUP(sync)
{
	struct pcmig_env_opts o = {
		.npages = SYNC_PAGES, .transport = PCMIG_TRANSPORT_TCP, .split = true,
		.events = true, .seed = SYNC_SEED, .tag = "sync",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(sync)
{
	pcmig_env_cleanup(&self->env);
}

static int send_sync(struct pcmig_env *e, unsigned int channel,
		     uint64_t token)
{
	const struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_SYNC, .offset = token,
	};

	return pcmig_source_send_frame(e->src, channel, &d, NULL, 0);
}

TEST_F(sync, bad_arguments)
{
	struct pcmig_sync a;

	memset(&a, 0, sizeof(a));
	EXPECT_EQ(-1, ioctl(self->env.fd, PCMIG_IOC_SYNC, &a));
	EXPECT_EQ(EINVAL, errno);
	a.token = 1;
	a.flags = 1;
	EXPECT_EQ(-1, ioctl(self->env.fd, PCMIG_IOC_SYNC, &a));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->env.fd, PCMIG_IOC_SYNC, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(sync, waits_for_every_channel)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t t0, dt;

	EXPECT_EQ(-ETIMEDOUT, pcmig_sync(e->fd, 1, 0));
	t0 = pcmig_now_ms();
	EXPECT_EQ(-ETIMEDOUT, pcmig_sync(e->fd, 1, PCMIG_SHORT_MS));
	dt = pcmig_now_ms() - t0;
	EXPECT_LE(PCMIG_SHORT_MS, dt);

	/* One channel of two is not enough. */
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_BULK, 1));
	EXPECT_EQ(-ETIMEDOUT, pcmig_sync(e->fd, 1, PCMIG_SHORT_MS));
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_URGENT, 1));
	EXPECT_EQ(0, pcmig_sync(e->fd, 1, PCMIG_WAIT_MS));
	EXPECT_EQ(0, pcmig_sync(e->fd, 1, 0));
	EXPECT_EQ(-ETIMEDOUT, pcmig_sync(e->fd, 2, 0));

	/* A higher token on both; a lower one is then reached too. */
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_URGENT, 5));
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_BULK, 7));
	EXPECT_EQ(0, pcmig_sync(e->fd, 5, PCMIG_WAIT_MS));
	EXPECT_EQ(0, pcmig_sync(e->fd, 2, 0));
	EXPECT_EQ(-ETIMEDOUT, pcmig_sync(e->fd, 6, 0));

	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
}

/*
 * The race it closes: precopy pages and DISCARD frames fill the bulk
 * socket; once PCMIG_IOC_SYNC returns, every discard has been applied
 * (checked at once, without polling) and LISTEN is safe.
 */
TEST_F_TIMEOUT(sync, discards_applied_before_listen, 60)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t p;

	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, SYNC_PAGES));
	for (p = 0; p < SYNC_PAGES; p += 64)
		ASSERT_EQ(0, send_discard(e, p + 3, 2));
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_BULK, 1));
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_URGENT, 1));
	ASSERT_EQ(0, pcmig_sync(e->fd, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);
	EXPECT_EQ(SYNC_PAGES / 64 * 2, st.pages_discarded);
	EXPECT_EQ(SYNC_PAGES - SYNC_PAGES / 64 * 2, st.pages_present);

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	/* A discarded page is fetched again, with what it holds now. */
	pcmig_source_set_seed(e->src, 67, 1, SYNC_SEED + 1);
	EXPECT_EQ(-1, pcmig_env_check(e, 67, 1, SYNC_SEED + 1, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 3, SYNC_SEED, NULL));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
}

TEST_F(sync, token_must_grow)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_URGENT, 3));
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_BULK, 3));
	ASSERT_EQ(0, pcmig_sync(e->fd, 3, PCMIG_WAIT_MS));
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_BULK, 3));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_FAILED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_BAD_RANGE, st.reason);
	EXPECT_EQ(-EPROTO, st.error);
	EXPECT_EQ(-EBUSY, pcmig_sync(e->fd, 1, 0));
}

/* A child blocked in PCMIG_IOC_SYNC: its errno is its exit code. */
static pid_t sync_child(struct pcmig_env *e)
{
	pid_t pid = fork();

	if (!pid)
		_exit(-pcmig_sync(e->fd, 1, 4 * PCMIG_WAIT_MS));
	return pcmig_env_kid(e, pid);
}

static void sync_child_ends(struct __test_metadata *_metadata,
			    struct pcmig_env *e, pid_t kid, int err)
{
	int status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);

	ASSERT_NE(-1, status) TH_LOG("PCMIG_IOC_SYNC still waits");
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("%s", pcmig_status_str(status));
	EXPECT_EQ(err, WEXITSTATUS(status))
		TH_LOG("%s, expected %s", strerror(WEXITSTATUS(status)),
		       strerror(err));
}

TEST_F(sync, wait_ends_on_destroy)
{
	struct pcmig_env *e = &self->env;
	pid_t kid = sync_child(e);

	ASSERT_LT(0, kid);
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_destroy(e));
	sync_child_ends(_metadata, e, kid, EBUSY);
}

TEST_F(sync, wait_ends_on_pause)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	pid_t kid = sync_child(e);

	ASSERT_LT(0, kid);
	pcmig_msleep(PCMIG_SHORT_MS);
	pcmig_close_source_paused(_metadata, e, &st);
	sync_child_ends(_metadata, e, kid, ENOTCONN);
	EXPECT_EQ(-ENOTCONN, pcmig_sync(e->fd, 1, 0));
}

static void sync_sigusr1(int sig)
{
}

TEST_F(sync, wait_ends_on_a_signal)
{
	struct pcmig_env *e = &self->env;
	struct sigaction sa = { .sa_handler = sync_sigusr1 };
	pid_t kid;

	/* With SA_RESTART too: a restart would begin a new timeout. */
	sa.sa_flags = SA_RESTART;
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	kid = sync_child(e);
	ASSERT_LT(0, kid);
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, kill(kid, SIGUSR1));
	sync_child_ends(_metadata, e, kid, EINTR);
}

TEST(sync_without_channels)
{
	struct pcmig_env_opts o = {
		.npages = 16, .no_source = true, .tag = "sync0",
	};
	struct pcmig_env e;

	pcmig_env_start(_metadata, &e, &o);
	EXPECT_EQ(-ENOTCONN, pcmig_sync(e.fd, 1, PCMIG_SHORT_MS));
	pcmig_env_cleanup(&e);
}

/* End of file, RECOVER, a new socket: the requests go out again. */

FIXTURE(recover) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(recover) {
	uint32_t from;		/* LISTEN or RUNNING */
	enum pcmig_transport transport;
	bool split;
};

FIXTURE_VARIANT_ADD(recover, listen_unix) {
	.from = PCMIG_STATE_LISTEN, .transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(recover, listen_tcp_split) {
	.from = PCMIG_STATE_LISTEN, .transport = PCMIG_TRANSPORT_TCP,
	.split = true,
};

FIXTURE_VARIANT_ADD(recover, running_unix_split) {
	.from = PCMIG_STATE_RUNNING, .transport = PCMIG_TRANSPORT_UNIX,
	.split = true,
};

FIXTURE_VARIANT_ADD(recover, running_tcp) {
	.from = PCMIG_STATE_RUNNING, .transport = PCMIG_TRANSPORT_TCP,
};

FIXTURE_SETUP(recover)
{
	struct pcmig_env_opts o = {
		.npages = 16, .listen = true, .events = true, .seed = 0x4ec,
		.transport = variant->transport, .split = variant->split,
		.tag = "recover",
	};

	pcmig_env_start(_metadata, &self->env, &o);
	if (variant->from == PCMIG_STATE_RUNNING) {
		ASSERT_EQ(0, pcmig_set_state(self->env.fd,
					     PCMIG_STATE_RUNNING));
	}
}

FIXTURE_TEARDOWN(recover)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(recover, eof_then_inflight_requests_resent)
{
	uint32_t other = variant->from == PCMIG_STATE_LISTEN ?
			 PCMIG_STATE_RUNNING : PCMIG_STATE_LISTEN;
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int i, j, s1, s2;
	pid_t k1, k2;
	uint64_t f0;

	ASSERT_EQ(-1, pcmig_env_check(e, 0, 1, 0x4ec, NULL));
	pcmig_source_hold(e->src, 9, 1);
	f0 = pcmig_faults(e->fd);
	k1 = pcmig_env_kid(e, pcmig_fork_check(e->map, 9, 1, 0x4ec, false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 9, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 1, &st));

	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(0, st.error);
	EXPECT_EQ(1, st.pauses);
	EXPECT_EQ(1, st.in_flight);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_PAUSED, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, ev.s.reason);
	EXPECT_EQ(0, ev.s.error);
	j = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_PAUSED, PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, j) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(variant->from, ev.s.old_state);
	EXPECT_LT(i, j) TH_LOG("EVENT_STATE(PAUSED) before EVENT_PAUSED");

	EXPECT_EQ(-EINVAL, pcmig_set_state(e->fd, variant->from));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	i = pcmig_events_find(e->ev, j, e->id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_RECOVER, PCMIG_WAIT_MS, &ev);
	EXPECT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_PAUSED, ev.s.old_state);

	/* A fault in RECOVER waits too, and is requested on resume. */
	k2 = pcmig_env_kid(e, pcmig_fork_check(e->map, 12, 1, 0x4ec, false));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 2, &st))
		TH_LOG("%s", pcmig_lib_error());

	ASSERT_EQ(0, pcmig_env_new_source(e, variant->transport,
					  variant->split, 0x4ec))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(-EINVAL, pcmig_set_state(e->fd, other));
	ASSERT_EQ(0, pcmig_set_state(e->fd, variant->from));
	i = pcmig_events_find(e->ev, i, e->id, PCMIG_CMD_EVENT_STATE,
			      variant->from, PCMIG_WAIT_MS, &ev);
	EXPECT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_RECOVER, ev.s.old_state);

	EXPECT_EQ(0, pcmig_source_wait_requests(e->src, 9, 1, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(0, pcmig_source_wait_requests(e->src, 12, 1, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	s1 = pcmig_env_reap(e, k1, PCMIG_WAIT_MS);
	s2 = pcmig_env_reap(e, k2, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(s1))
		TH_LOG("child 1: %s", pcmig_status_str(s1));
	EXPECT_TRUE(pcmig_exited_ok(s2))
		TH_LOG("child 2: %s", pcmig_status_str(s2));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 9));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 12));
	EXPECT_EQ(2, pcmig_source_total_requests(e->src));
	EXPECT_EQ(-1, pcmig_env_check(e, 9, 1, 0x4ec, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 13, 1, 0x4ec, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(variant->from, st.state);
	EXPECT_EQ(4, st.pages_present);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(1, st.pauses);
}

/* Separate sockets: end of file on one pauses and drops both. */

FIXTURE(split) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(split) {
	enum pcmig_transport transport;
};

FIXTURE_VARIANT_ADD(split, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(split, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

FIXTURE_SETUP(split)
{
	struct pcmig_env_opts o = {
		.npages = 16, .listen = true, .events = true, .seed = 0x5b1,
		.transport = variant->transport, .split = true,
		.tag = "split",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(split)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(split, bulk_eof_pauses_and_drops_every_socket)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	ASSERT_EQ(-1, pcmig_env_check(e, 0, 1, 0x5b1, NULL));
	pcmig_source_shutdown_channel(e->src, PCMIG_CHANNEL_BULK);
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_PAUSED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(1, st.pauses);
	/* The urgent socket, still fine on our side, was dropped too. */
	EXPECT_EQ(0, pcmig_source_wait_eof(e->src, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
}

TEST_F(split, urgent_eof_pauses_and_drops_every_socket)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	pcmig_source_shutdown_channel(e->src, PCMIG_CHANNEL_URGENT);
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_PAUSED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(0, pcmig_source_wait_eof(e->src, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	/* Pages pushed on the bulk socket now go nowhere. */
	pcmig_source_push_range(e->src, 3, 1);
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(0, st.pages_present);
}

/* A reset connection: CHANNEL_ERROR with the socket's errno. */

FIXTURE(reset) {
	struct pcmig_env env;
};

FIXTURE_SETUP(reset)
{
	struct pcmig_env_opts o = {
		.npages = 16, .listen = true, .events = true, .seed = 0x4e5,
		.transport = PCMIG_TRANSPORT_TCP, .tag = "reset",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(reset)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(reset, tcp_reset_pauses_with_channel_error)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int i;

	ASSERT_EQ(-1, pcmig_env_check(e, 0, 1, 0x4e5, NULL));
	pcmig_source_reset(e->src);
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_PAUSED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_ERROR, st.reason)
		TH_LOG("reason %s", pcmig_reason_name(st.reason));
	EXPECT_EQ(-ECONNRESET, st.error);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_PAUSED, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_ERROR, ev.s.reason);
	EXPECT_EQ(-ECONNRESET, ev.s.error);

	recover_listen(_metadata, e, PCMIG_TRANSPORT_TCP, 0x4e5);
	EXPECT_EQ(-1, pcmig_env_check(e, 1, 1, 0x4e5, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(2, st.pages_present);
}

/*
 * The urgent channel going away after END (ABI 0.4 fixes): requests then
 * have no socket, so a requested page still missing, or a later request,
 * pauses the session; pages missing but not requested may still come on
 * bulk, and with every page present nothing is missing at all.
 */

#define UE_SEED		0x0e9d

FIXTURE(urgent_end) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(urgent_end) {
	enum pcmig_transport transport;
};

FIXTURE_VARIANT_ADD(urgent_end, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(urgent_end, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

FIXTURE_SETUP(urgent_end)
{
	struct pcmig_env_opts o = {
		.npages = 16, .split = true, .events = true, .seed = UE_SEED,
		.transport = variant->transport, .tag = "urgend",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(urgent_end)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(urgent_end, eof_with_pages_missing_pauses)
{
	const struct pcmig_frame_desc end = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int status, i;
	uint64_t f0;
	pid_t kid;

	/* A fault in ADVISE, its request held back and sent at LISTEN. */
	pcmig_source_hold(e->src, 5, 1);
	f0 = pcmig_faults(e->fd);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 5, 1, UE_SEED,
						false));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 1, &st));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(-1, pcmig_env_check(e, 0, 1, UE_SEED, NULL));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	/* The first LISTEN's requests are no resend. */
	EXPECT_EQ(0, st.requests_resent);

	/* END on urgent only (bulk goes on), then urgent hangs up. */
	ASSERT_EQ(0, pcmig_source_send_frame(e->src, PCMIG_CHANNEL_URGENT,
					     &end, NULL, 0));
	pcmig_source_shutdown_channel(e->src, PCMIG_CHANNEL_URGENT);
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_PAUSED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(0, st.error);
	EXPECT_EQ(1, st.pauses);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.resume_state);
	EXPECT_EQ(1, st.in_flight);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_PAUSED, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, ev.s.reason);
	/* The bulk socket was dropped too. */
	EXPECT_EQ(0, pcmig_source_wait_eof(e->src, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	status = pcmig_env_reap(e, kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s", pcmig_status_str(status));

	/* Recovery brings the page. */
	recover_listen(_metadata, e, variant->transport, UE_SEED);
	EXPECT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, UE_SEED, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(1, st.recoveries);
	EXPECT_EQ(1, st.requests_resent);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(2, st.pages_present);
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
}

/*
 * The urgent channel hangs up after END with pages missing but none
 * requested: they may still come on bulk, so the session goes on; the
 * first request that has nowhere to go pauses it, and recovery brings
 * the page to the blocked fault.
 */
TEST_F(urgent_end, request_after_urgent_left_pauses)
{
	const struct pcmig_frame_desc end = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int status, i;
	uint64_t f0;
	pid_t kid;

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 8));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 8, PCMIG_WAIT_MS,
				      &st));
	ASSERT_EQ(0, pcmig_source_send_frame(e->src, PCMIG_CHANNEL_URGENT,
					     &end, NULL, 0));
	pcmig_source_shutdown_channel(e->src, PCMIG_CHANNEL_URGENT);
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(0, st.pauses);

	f0 = pcmig_faults(e->fd);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 12, 1, UE_SEED,
						false));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 1, &st));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_PAUSED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(0, st.error);
	EXPECT_EQ(1, st.pauses);
	EXPECT_EQ(1, st.in_flight);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_PAUSED, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, ev.s.reason);
	status = pcmig_env_reap(e, kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s", pcmig_status_str(status));

	recover_listen(_metadata, e, variant->transport, UE_SEED);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 12, 1, UE_SEED, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(1, st.requests_resent);
	EXPECT_EQ(9, st.pages_present);
	EXPECT_EQ(1, pcmig_source_requests(e->src, 12));
}

/*
 * A source may hang up right after END on every channel, while the
 * destination still reads pages queued on bulk: the urgent channel's end
 * of file, seen first, must not pause the session.
 */
TEST_F_TIMEOUT(urgent_end, end_on_both_then_hang_up_goes_on, 90)
{
	const struct pcmig_frame_desc end = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};
	struct pcmig_env_opts o = {
		.npages = 2048, .split = true, .listen = true, .seed = UE_SEED,
		.transport = variant->transport, .tag = "urgbig",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int round;

	for (round = 0; round < 3; round++) {
		pcmig_env_cleanup(e);
		pcmig_env_start(_metadata, e, &o);
		/* LISTEN: every page present does not end the session. */
		ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 2048));
		ASSERT_EQ(0, pcmig_source_send_frame(e->src,
						     PCMIG_CHANNEL_BULK, &end,
						     NULL, 0));
		ASSERT_EQ(0, pcmig_source_send_frame(e->src,
						     PCMIG_CHANNEL_URGENT,
						     &end, NULL, 0));
		pcmig_source_close(e->src);
		ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 2048,
					      PCMIG_WAIT_MS, &st))
			TH_LOG("round %d: %s", round, pcmig_lib_error());
		pcmig_msleep(PCMIG_SHORT_MS);
		ASSERT_EQ(0, pcmig_env_status(e, &st));
		EXPECT_EQ(PCMIG_STATE_LISTEN, st.state)
			TH_LOG("round %d: %s (%s)", round,
			       pcmig_state_name(st.state),
			       pcmig_reason_name(st.reason));
		EXPECT_EQ(0, st.pauses);
		EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
		EXPECT_EQ(2048, st.pages_present);
		ASSERT_EQ(-1, pcmig_env_check(e, 0, 2048, UE_SEED, NULL));
	}
}

/*
 * With every page present the urgent channel may leave after END; a new
 * urgent socket can then be attached in LISTEN (it is kicked with the
 * requests still missing a reply: none here).
 */
TEST_F(urgent_end, eof_with_every_page_present_goes_on)
{
	const struct pcmig_frame_desc end = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int u[2];

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 16));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 16, PCMIG_WAIT_MS,
				      &st));
	ASSERT_EQ(0, pcmig_source_send_frame(e->src, PCMIG_CHANNEL_URGENT,
					     &end, NULL, 0));
	pcmig_source_shutdown_channel(e->src, PCMIG_CHANNEL_URGENT);
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
	EXPECT_EQ(0, st.pauses);

	ASSERT_EQ(0, pcmig_stream_pair(variant->transport, u));
	EXPECT_EQ(0, pcmig_attach(e->fd, u[0], PCMIG_CHANNEL_URGENT));
	close(u[0]);
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 16, UE_SEED, NULL));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_END, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(0, st.pauses);
	close(u[1]);
}

/*
 * Outage generations: what the channels of an earlier generation do after
 * RECOVER never pauses the session again. The usual gaps a stale pause
 * needs (a receiver between leaving the channel list and pausing, the
 * sender between its failed send and its pause) last microseconds and have
 * no trigger from user space: these run the sequences around them many
 * times. stale.urgent_report_after_recover_ignored below has a window wide
 * enough to hit every time.
 */

FIXTURE(epoch) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(epoch) {
	enum pcmig_transport transport;
};

FIXTURE_VARIANT_ADD(epoch, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(epoch, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

FIXTURE_SETUP(epoch)
{
	struct pcmig_env_opts o = {
		.npages = 64, .split = true, .listen = true, .seed = 0xe9,
		.transport = variant->transport, .tag = "epoch",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(epoch)
{
	pcmig_env_cleanup(&self->env);
}

/*
 * Round after round: faults under way, the source goes away (both of its
 * sockets at once) or user space pauses, and the session is recovered as
 * fast as user space can; it must stay in LISTEN with one pause a round,
 * and every page read must be right.
 */
TEST_F_TIMEOUT(epoch, old_channels_never_pause_the_new_ones, 120)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t round;
	int status;
	pid_t kid;

	for (round = 0; round < 24; round++) {
		uint64_t page = 2 * round;

		pcmig_source_hold(e->src, page, 1);
		kid = pcmig_env_kid(e, pcmig_fork_check(e->map, page, 1, 0xe9,
							false));
		ASSERT_EQ(0, pcmig_source_wait_requests(e->src, page, 1,
							PCMIG_WAIT_MS));
		if (round & 1) {
			pcmig_source_close(e->src);
			ASSERT_EQ(0, pcmig_wait_state(e->fd,
						      PCMIG_STATE_PAUSED,
						      PCMIG_WAIT_MS, &st))
				TH_LOG("%s", pcmig_lib_error());
		} else {
			ASSERT_EQ(0, pcmig_set_state(e->fd,
						     PCMIG_STATE_PAUSED));
		}
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
		ASSERT_EQ(0, pcmig_env_new_source(e, variant->transport, true,
						  0xe9))
			TH_LOG("%s", pcmig_lib_error());
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
		status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
		ASSERT_TRUE(pcmig_exited_ok(status))
			TH_LOG("round %llu: child: %s",
			       (unsigned long long)round,
			       pcmig_status_str(status));
		/* Also the next page, through the new channels. */
		ASSERT_EQ(-1, pcmig_env_check(e, page + 1, 1, 0xe9, NULL));
		ASSERT_EQ(0, pcmig_env_status(e, &st));
		ASSERT_EQ(PCMIG_STATE_LISTEN, st.state)
			TH_LOG("round %llu: %s (%s)", (unsigned long long)round,
			       pcmig_state_name(st.state),
			       pcmig_reason_name(st.reason));
		ASSERT_EQ(round + 1, st.pauses);
		ASSERT_EQ(round + 1, st.recoveries);
	}
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(24, st.pauses);
	EXPECT_EQ(48, st.pages_present);
}

/*
 * A wide window for the stale report: the urgent channel hangs up after
 * END with the last page of a 512 GiB session requested, so its receiver,
 * already off the channel list, scans 16 MiB of bitmaps before it pauses.
 * Meanwhile user space pauses, recovers with new sockets and resumes; the
 * late pause on behalf of the old socket must be ignored. Each round waits
 * a little longer before pausing, to land in the window at least once.
 */
#define STALE_PAGES	(1ull << 27)
#define STALE_ROUNDS	16

static int stale_attach_pair(int fd, int u[2], int b[2])
{
	int ret;

	ret = pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, u);
	if (!ret)
		ret = pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, b);
	if (!ret)
		ret = pcmig_attach(fd, u[0], PCMIG_CHANNEL_URGENT);
	if (!ret)
		ret = pcmig_attach(fd, b[0], PCMIG_CHANNEL_BULK);
	return ret;
}

FIXTURE(stale) {
	int unused;
};

FIXTURE_SETUP(stale)
{
}

FIXTURE_TEARDOWN(stale)
{
}

TEST_F_TIMEOUT(stale, urgent_report_after_recover_ignored, 300)
{
	const struct pcmig_frame_desc end = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};
	unsigned char hdr[PCMIG_FRAME_HDR_LEN], req[PCMIG_FRAME_HDR_LEN + 8];
	int ctl, fd, round, u[2], b[2], u2[2], b2[2], status;
	struct pcmig_status st;
	volatile uint8_t *last;
	char name[32];
	ssize_t got;
	pid_t kid;

	ctl = pcmig_ctl_open();
	ASSERT_LE(0, ctl);
	pcmig_frame_encode(hdr, &end);
	for (round = 0; round < STALE_ROUNDS; round++) {
		snprintf(name, sizeof(name), PCMIG_ST_PREFIX "stale%d", round);
		fd = pcmig_create(ctl, STALE_PAGES * PS, 0, name, NULL);
		ASSERT_LE(0, fd) TH_LOG("%s", pcmig_lib_error());
		last = mmap(NULL, PS, PROT_READ, MAP_SHARED, fd,
			    (STALE_PAGES - 1) * PS);
		ASSERT_NE(MAP_FAILED, (void *)last);
		ASSERT_EQ(0, stale_attach_pair(fd, u, b));
		ASSERT_EQ(0, pcmig_set_state(fd, PCMIG_STATE_LISTEN));

		kid = fork();
		ASSERT_LE(0, kid);
		if (!kid)
			_exit(last[0]);
		/* Its request, then END and the hang-up on urgent. */
		ASSERT_EQ(sizeof(req), recv(u[1], req, sizeof(req),
					    MSG_WAITALL));
		ASSERT_EQ(sizeof(hdr), write(u[1], hdr, sizeof(hdr)));
		shutdown(u[1], SHUT_RDWR);
		if (round)
			pcmig_msleep(round - 1);

		ASSERT_EQ(0, pcmig_set_state(fd, PCMIG_STATE_PAUSED));
		ASSERT_EQ(0, pcmig_set_state(fd, PCMIG_STATE_RECOVER));
		ASSERT_EQ(0, stale_attach_pair(fd, u2, b2));
		ASSERT_EQ(0, pcmig_set_state(fd, PCMIG_STATE_LISTEN));
		/*
		 * The request goes out again on the new socket, which only
		 * a stale pause would close.
		 */
		got = recv(u2[1], req, sizeof(req), MSG_WAITALL);
		pcmig_msleep(200);
		ASSERT_EQ(0, pcmig_get_status(fd, &st));
		EXPECT_EQ(sizeof(req), got)
			TH_LOG("round %d: new urgent socket closed: %s, reason %s",
			       round, pcmig_state_name(st.state),
			       pcmig_reason_name(st.reason));
		EXPECT_EQ(PCMIG_STATE_LISTEN, st.state)
			TH_LOG("round %d: %s, reason %s, %llu pauses", round,
			       pcmig_state_name(st.state),
			       pcmig_reason_name(st.reason),
			       (unsigned long long)st.pauses);
		EXPECT_EQ(1, st.pauses);
		EXPECT_EQ(1, st.recoveries);

		ASSERT_EQ(0, pcmig_destroy(fd));
		ASSERT_EQ(0, pcmig_wait_child(kid, PCMIG_WAIT_MS, &status));
		EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
			TH_LOG("child: %s", pcmig_status_str(status));
		munmap((void *)last, PS);
		close(fd);
		close(u[0]);
		close(u[1]);
		close(b[0]);
		close(b[1]);
		close(u2[0]);
		close(u2[1]);
		close(b2[0]);
		close(b2[1]);
		if (st.state != PCMIG_STATE_LISTEN)
			break;
	}
	close(ctl);
}

/*
 * A socket serves one channel of one session: attaching it (or a copy of
 * its descriptor) anywhere else while it is attached is -EBUSY, and the
 * session that has it goes on undisturbed.
 */
#define CLAIM_PAGES	16
#define CLAIM_SEED	0xc1a

FIXTURE(claim) {
	struct pcmig_env env;
	int other;
	int fds[2];
};

FIXTURE_VARIANT(claim) {
	enum pcmig_transport transport;
};

FIXTURE_VARIANT_ADD(claim, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(claim, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

FIXTURE_SETUP(claim)
{
	struct pcmig_env_opts o = {
		.npages = CLAIM_PAGES, .no_source = true, .seed = CLAIM_SEED,
		.tag = "claim",
	};
	char name[32];

	self->other = -1;
	self->fds[0] = self->fds[1] = -1;
	pcmig_env_start(_metadata, &self->env, &o);
	snprintf(name, sizeof(name), PCMIG_ST_PREFIX "claim2-%d",
		 (int)getpid());
	self->other = pcmig_create(self->env.ctl, CLAIM_PAGES * PS, 0, name,
				   NULL);
	ASSERT_LE(0, self->other) TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_stream_pair(variant->transport, self->fds))
		TH_LOG("%s", pcmig_lib_error());
}

FIXTURE_TEARDOWN(claim)
{
	pcmig_env_cleanup(&self->env);
	if (self->other >= 0) {
		pcmig_destroy(self->other);
		close(self->other);
	}
	if (self->fds[0] >= 0)
		close(self->fds[0]);
	if (self->fds[1] >= 0)
		close(self->fds[1]);
}

TEST_F(claim, socket_attached_once)
{
	struct pcmig_env *e = &self->env;
	int copy, status, ret, i;
	pid_t kid;

	ASSERT_EQ(0, pcmig_attach(e->fd, self->fds[0], PCMIG_CHANNEL_URGENT));
	/* Another session, the other channel of the same one, a dup(). */
	EXPECT_EQ(-EBUSY, pcmig_attach(self->other, self->fds[0],
				       PCMIG_CHANNEL_URGENT |
				       PCMIG_CHANNEL_BULK));
	EXPECT_EQ(-EBUSY, pcmig_attach(e->fd, self->fds[0],
				       PCMIG_CHANNEL_BULK));
	copy = dup(self->fds[0]);
	ASSERT_LE(0, copy);
	EXPECT_EQ(-EBUSY, pcmig_attach(self->other, copy,
				       PCMIG_CHANNEL_URGENT));
	close(copy);

	/* The first session still works: a page, byte for byte. */
	e->src = pcmig_source_start(self->fds[1], -1, e->size, PS, CLAIM_SEED);
	ASSERT_NE(NULL, e->src) TH_LOG("%s", pcmig_lib_error());
	self->fds[1] = -1;
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 5, 1, CLAIM_SEED,
						false));
	ASSERT_LT(0, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, CLAIM_SEED, NULL));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 5));

	/*
	 * Released once the channel is gone. (A TCP socket that the session
	 * shut down is not established any more: -EINVAL.)
	 */
	ASSERT_EQ(0, pcmig_env_destroy(e));
	for (i = 0; i < 100; i++) {
		ret = pcmig_attach(self->other, self->fds[0],
				   PCMIG_CHANNEL_URGENT | PCMIG_CHANNEL_BULK);
		if (ret != -EBUSY)
			break;
		pcmig_msleep(20);
	}
	EXPECT_EQ(variant->transport == PCMIG_TRANSPORT_TCP ? -EINVAL : 0, ret);
}

/*
 * The receiver thread of a UNIX (or kTLS) socket sleeps while nothing
 * arrives, whatever receive timeout user space set on the socket.
 */
#define IDLE_PAGES	16
#define IDLE_SEED	0x1d1e

FIXTURE(idle) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(idle) {
	bool after_attach;	/* SO_RCVTIMEO set after the attach */
};

FIXTURE_VARIANT_ADD(idle, rcvtimeo_before_attach) {
	.after_attach = false,
};

FIXTURE_VARIANT_ADD(idle, rcvtimeo_after_attach) {
	.after_attach = true,
};

FIXTURE_SETUP(idle)
{
	struct pcmig_env_opts o = {
		.npages = IDLE_PAGES, .no_source = true, .seed = IDLE_SEED,
		.tag = "idle",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(idle)
{
	pcmig_env_cleanup(&self->env);
}

/* The pid of the thread whose comm starts with @prefix, or -1. */
static pid_t find_thread(const char *prefix)
{
	char path[300], comm[64];
	struct dirent *d;
	pid_t pid = -1;
	DIR *dir;
	FILE *f;

	dir = opendir("/proc");
	if (!dir)
		return -1;
	while (pid < 0 && (d = readdir(dir))) {
		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) &&
		    !strncmp(comm, prefix, strlen(prefix)))
			pid = atoi(d->d_name);
		fclose(f);
	}
	closedir(dir);
	return pid;
}

/* Context switches and CPU time (clock ticks) of @pid; 0 or -1. */
static int thread_usage(pid_t pid, unsigned long *switches,
			unsigned long *ticks)
{
	unsigned long utime, stime, n;
	char path[64], line[256], *p;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (!p)
		return -1;
	/* After "(comm) ": state, then fields 4-13; utime, stime. */
	p = strrchr(line, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &utime, &stime) != 2)
		return -1;
	*ticks = utime + stime;

	*switches = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "voluntary_ctxt_switches: %lu", &n) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %lu", &n) == 1) {
			*switches += n;
			found++;
		}
	}
	fclose(f);
	return found == 2 ? 0 : -1;
}

TEST_F(idle, receiver_sleeps_with_rcvtimeo)
{
	const struct timeval tv = { .tv_usec = 1000 };
	unsigned long sw0, sw1, t0, t1;
	struct pcmig_env *e = &self->env;
	int fds[2], status;
	char prefix[32];
	pid_t pid, kid;

	ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, fds));
	if (!variant->after_attach)
		ASSERT_EQ(0, setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
					sizeof(tv)));
	ASSERT_EQ(0, pcmig_attach(e->fd, fds[0],
				  PCMIG_CHANNEL_URGENT | PCMIG_CHANNEL_BULK));
	if (variant->after_attach)
		ASSERT_EQ(0, setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
					sizeof(tv)));

	snprintf(prefix, sizeof(prefix), "pcmig%u-rx", e->id);
	pid = find_thread(prefix);
	ASSERT_LT(0, pid) TH_LOG("no thread %s*", prefix);
	pcmig_msleep(100);
	ASSERT_EQ(0, thread_usage(pid, &sw0, &t0));
	pcmig_msleep(1000);
	ASSERT_EQ(0, thread_usage(pid, &sw1, &t1));
	/* Asleep: no wake-up a millisecond (or a tick). */
	EXPECT_GE(10, sw1 - sw0)
		TH_LOG("%lu context switches in 1 s", sw1 - sw0);
	EXPECT_GE(5, t1 - t0)
		TH_LOG("%lu ticks of CPU time in 1 s", t1 - t0);

	/* And still receives: a page, byte for byte. */
	e->src = pcmig_source_start(fds[1], -1, e->size, PS, IDLE_SEED);
	ASSERT_NE(NULL, e->src) TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 7, 1, IDLE_SEED,
						false));
	ASSERT_LT(0, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 7, 1, IDLE_SEED, NULL));
	close(fds[0]);
}

/*
 * A ZERO frame may cover the whole session (2^30 pages at most): 24 bytes
 * that mean a walk over every page. The walk is done in process context,
 * a piece at a time: the sender is not held up by it (the receive path of
 * loopback TCP runs in the sender's softirq), and DESTROY stops it.
 */
#define ZWALK_SMALL	4096		/* pages: completes */
#define ZWALK_HUGE	(1ull << 26)	/* pages (256 GiB): never waited for */

FIXTURE(zwalk) {
	struct pcmig_env env;
	int fds[2];
};

FIXTURE_VARIANT(zwalk) {
	enum pcmig_transport transport;
	uint64_t npages;
};

FIXTURE_VARIANT_ADD(zwalk, small_unix) {
	.transport = PCMIG_TRANSPORT_UNIX, .npages = ZWALK_SMALL,
};

FIXTURE_VARIANT_ADD(zwalk, small_tcp) {
	.transport = PCMIG_TRANSPORT_TCP, .npages = ZWALK_SMALL,
};

FIXTURE_VARIANT_ADD(zwalk, huge_unix) {
	.transport = PCMIG_TRANSPORT_UNIX, .npages = ZWALK_HUGE,
};

FIXTURE_VARIANT_ADD(zwalk, huge_tcp) {
	.transport = PCMIG_TRANSPORT_TCP, .npages = ZWALK_HUGE,
};

FIXTURE_SETUP(zwalk)
{
	struct pcmig_env_opts o = {
		.npages = variant->npages, .no_source = true, .tag = "zwalk",
	};

	self->fds[0] = self->fds[1] = -1;
	pcmig_env_start(_metadata, &self->env, &o);
	ASSERT_EQ(0, pcmig_stream_pair(variant->transport, self->fds))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_attach(self->env.fd, self->fds[0],
				  PCMIG_CHANNEL_URGENT | PCMIG_CHANNEL_BULK));
}

FIXTURE_TEARDOWN(zwalk)
{
	pcmig_env_cleanup(&self->env);
	if (self->fds[0] >= 0)
		close(self->fds[0]);
	if (self->fds[1] >= 0)
		close(self->fds[1]);
}

TEST_F_TIMEOUT(zwalk, whole_session_zero_frame, 120)
{
	const struct pcmig_frame_desc zero = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_ZERO, .npages = variant->npages,
	};
	unsigned char hdr[PCMIG_FRAME_HDR_LEN];
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t t0, took;
	char prefix[32];
	int status;
	pid_t kid;

	pcmig_frame_encode(hdr, &zero);
	t0 = pcmig_now_ms();
	ASSERT_EQ(sizeof(hdr), write(self->fds[1], hdr, sizeof(hdr)));
	took = pcmig_now_ms() - t0;
	EXPECT_GT(1000, took) TH_LOG("write() took %llu ms",
				     (unsigned long long)took);

	if (variant->npages == ZWALK_SMALL) {
		ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present,
					      variant->npages, PCMIG_WAIT_MS,
					      &st))
			TH_LOG("%s", pcmig_lib_error());
		EXPECT_EQ(variant->npages, st.pages_zero);
		EXPECT_EQ(0, st.pages_received);
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
		kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 0,
							variant->npages, 0,
							true));
		ASSERT_LT(0, kid);
		status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
		EXPECT_TRUE(pcmig_exited_ok(status))
			TH_LOG("child: %s", pcmig_status_str(status));
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
		EXPECT_EQ(0, st.faults);
		return;
	}

	/*
	 * The walk is under way: DESTROY stops it. The receiver thread of a
	 * UNIX socket leaves at once (it walked for minutes, without a
	 * scheduling point, before).
	 */
	pcmig_msleep(500);
	snprintf(prefix, sizeof(prefix), "pcmig%u-rx", e->id);
	t0 = pcmig_now_ms();
	ASSERT_EQ(0, pcmig_env_destroy(e));
	while (find_thread(prefix) > 0 && pcmig_now_ms() - t0 < 10000)
		pcmig_msleep(50);
	took = pcmig_now_ms() - t0;
	EXPECT_GT(5000, took) TH_LOG("the receiver left after %llu ms",
				     (unsigned long long)took);
}

PCMIG_HARNESS_MAIN
