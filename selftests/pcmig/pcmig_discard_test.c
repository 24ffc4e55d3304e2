// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: DISCARD and the page stream before LISTEN.
 *
 * Once SET_STATE(LISTEN) has returned, no DISCARD changes a page any more:
 * the move waits for a DISCARD frame still being applied (late.*). Before
 * LISTEN, PAGES, ZERO and DISCARD frames must come on the channel that
 * serves PCMIG_CHANNEL_BULK, the only place where a DISCARD is ordered with
 * the pages it covers; on another channel such a frame fails the session
 * (BAD_TYPE) before any page of it is installed, also in RECOVER on the way
 * back to ADVISE or DISCARD. SYNC frames stay allowed on every channel
 * (order.*).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_session.h"

#define PS	PCMIG_PS

static void __attribute__((constructor)) discard_test_init(void)
{
	pcmig_leak_guard_install();
}

static int send_discard(struct pcmig_env *e, unsigned int channel,
			uint64_t first, uint32_t n)
{
	const struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_DISCARD, .npages = n, .offset = first * PS,
	};

	return pcmig_source_send_frame(e->src, channel, &d, NULL, 0);
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

/*
 * A DISCARD frame over a whole big session (every page present through one
 * ZERO frame), and LISTEN as soon as the DISCARD has started: the window in
 * which a DISCARD used to change pages after LISTEN had returned lasts as
 * long as its walk over LATE_PAGES pages.
 */
#define LATE_PAGES	(1u << 21)	/* 8 GiB */
#define LATE_SEED	0x1a7e
#define LATE_SEED2	0x1a7f		/* what the guest writes after LISTEN */
#define LATE_WRITTEN	4		/* the last pages of the session */
#define LATE_WAIT_MS	120000		/* the ZERO walk, under TCG */

FIXTURE(late) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(late) {
	enum pcmig_transport transport;
};

FIXTURE_VARIANT_ADD(late, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(late, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

FIXTURE_SETUP(late)
{
	struct pcmig_env_opts o = {
		.npages = LATE_PAGES, .transport = variant->transport,
		.split = true, .seed = LATE_SEED, .tag = "late",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	pcmig_env_start(_metadata, e, &o);
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 0,
					    LATE_PAGES));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, LATE_PAGES,
				      LATE_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(PCMIG_STATE_ADVISE, st.state);
}

FIXTURE_TEARDOWN(late)
{
	pcmig_env_cleanup(&self->env);
}

/*
 * A child that, once told through @go, writes the pattern of LATE_SEED2
 * into the last LATE_WRITTEN pages, as a guest would after LISTEN.
 */
static pid_t late_writer(struct pcmig_env *e, int go[2])
{
	uint64_t p;
	pid_t pid;
	char c;

	if (pipe(go))
		return -1;
	pid = fork();
	if (pid) {
		close(go[0]);
		return pid;
	}
	close(go[1]);
	if (read(go[0], &c, 1) != 1)
		_exit(2);
	for (p = e->npages - LATE_WRITTEN; p < e->npages; p++)
		pcmig_pattern_fill(e->map + p * PS, PS, LATE_SEED2, p);
	_exit(0);
}

TEST_F_TIMEOUT(late, discard_frame_never_lands_after_listen, 300)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st, st1, st2;
	uint64_t t0, p;
	int go[2], status;
	pid_t kid;

	kid = pcmig_env_kid(e, late_writer(e, go));
	ASSERT_LT(0, kid);

	ASSERT_EQ(0, send_discard(e, PCMIG_CHANNEL_BULK, 0, LATE_PAGES));
	/* LISTEN the moment the DISCARD frame has begun (state DISCARD). */
	t0 = pcmig_now_ms();
	do {
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	} while (st.state == PCMIG_STATE_ADVISE &&
		 pcmig_now_ms() - t0 < PCMIG_WAIT_MS);
	ASSERT_EQ(PCMIG_STATE_DISCARD, st.state);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st1));
	ASSERT_EQ(1, write(go[1], "g", 1));
	close(go[1]);

	/* The DISCARD was over when LISTEN returned. */
	EXPECT_EQ(LATE_PAGES, st1.pages_discarded);
	EXPECT_EQ(0, st1.pages_present);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st1.state);

	/*
	 * The writes fault, fetch their pages and complete. (A DISCARD still
	 * under way drops the replies to requests made meanwhile: the
	 * writer then waits for ever.)
	 */
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("writer: %s", pcmig_status_str(status));

	/* Anything still under way would change the counters now. */
	PCMIG_WAIT_FIELD(e->fd, pages_discarded, LATE_PAGES, PCMIG_WAIT_MS,
			 &st);
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st2));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st2.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st2.reason);
	EXPECT_EQ(LATE_PAGES, st2.pages_discarded);
	EXPECT_EQ(LATE_WRITTEN, st2.pages_present);

	/* What the guest wrote after LISTEN is still there, byte for byte. */
	for (p = LATE_PAGES - LATE_WRITTEN; p < LATE_PAGES; p++) {
		long off = -1;

		EXPECT_EQ(-1, pcmig_env_check(e, p, 1, LATE_SEED2, &off))
			TH_LOG("page %llu differs at byte %ld",
			       (unsigned long long)p, off);
		EXPECT_EQ(1, pcmig_source_requests(e->src, p));
	}
	EXPECT_EQ(LATE_WRITTEN, pcmig_source_total_requests(e->src));
}

/*
 * The ordering before LISTEN. Pages 0-15 of ORD_PAGES; page ORD_P is the
 * one pushed and discarded on different channels.
 */
#define ORD_PAGES	64
#define ORD_SEED	0x0d
#define ORD_SEED2	0x0e
#define ORD_P		9

FIXTURE(order) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(order) {
	enum pcmig_transport transport;
};

FIXTURE_VARIANT_ADD(order, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_VARIANT_ADD(order, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

/* Split channels (urgent and bulk), unless @one: one socket serves both. */
static void order_start(struct __test_metadata *_metadata,
			struct pcmig_env *e, enum pcmig_transport transport,
			bool one)
{
	struct pcmig_env_opts o = {
		.npages = ORD_PAGES, .transport = transport, .split = !one,
		.seed = ORD_SEED, .tag = "order",
	};

	pcmig_env_start(_metadata, e, &o);
}

FIXTURE_SETUP(order)
{
	pcmig_env_init(&self->env);
}

FIXTURE_TEARDOWN(order)
{
	pcmig_env_cleanup(&self->env);
}

/*
 * The session failed for a frame on the wrong channel: BAD_TYPE, -EPROTO,
 * with @present pages present; a read of page ORD_P gets SIGBUS unless
 * @p_present (then it holds ORD_SEED's pattern).
 */
static void order_failed(struct __test_metadata *_metadata,
			 struct pcmig_env *e, uint64_t present,
			 bool p_present)
{
	struct pcmig_status st;
	int status;
	pid_t kid;

	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_FAILED, PCMIG_WAIT_MS,
				      &st))
		TH_LOG("%s (state %s)", pcmig_lib_error(),
		       pcmig_state_name(st.state));
	EXPECT_EQ(PCMIG_REASON_BAD_TYPE, st.reason)
		TH_LOG("reason %s", pcmig_reason_name(st.reason));
	EXPECT_EQ(-EPROTO, st.error);
	EXPECT_EQ(present, st.pages_present);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, ORD_P, 1, ORD_SEED,
						false));
	ASSERT_LT(0, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	if (p_present) {
		EXPECT_TRUE(pcmig_exited_ok(status))
			TH_LOG("reader of page %d: %s", ORD_P,
			       pcmig_status_str(status));
	} else {
		EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
			TH_LOG("reader of page %d: %s", ORD_P,
			       pcmig_status_str(status));
	}
}

/*
 * The race itself: page ORD_P pushed on urgent, its DISCARD on bulk. In
 * either order of arrival the pushed copy could win and stay, stale, for
 * good; the push on urgent fails the session first.
 */
TEST_F(order, push_on_urgent_discard_on_bulk)
{
	struct pcmig_env *e = &self->env;

	order_start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT,
					     ORD_P, 1, 0));
	/* The session may have dropped the sockets already: no check. */
	send_discard(e, PCMIG_CHANNEL_BULK, ORD_P, 1);
	order_failed(_metadata, e, 0, false);
}

/* The other order: the DISCARD applied first, then the push. */
TEST_F(order, discard_on_bulk_then_push_on_urgent)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	order_start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, send_discard(e, PCMIG_CHANNEL_BULK, ORD_P, 1));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_DISCARD,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT,
					     ORD_P, 1, 0));
	order_failed(_metadata, e, 0, false);
}

/* A ZERO frame on urgent before LISTEN: the same. */
TEST_F(order, zero_on_urgent)
{
	struct pcmig_env *e = &self->env;

	order_start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_URGENT,
					    ORD_P, 1));
	order_failed(_metadata, e, 0, false);
}

/*
 * A DISCARD on urgent of a page pushed on bulk: refused before it touches
 * the page, which stays as the bulk channel brought it.
 */
TEST_F(order, push_on_bulk_discard_on_urgent)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	order_start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK,
					     ORD_P, 1, 0));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st));
	ASSERT_EQ(0, send_discard(e, PCMIG_CHANNEL_URGENT, ORD_P, 1));
	order_failed(_metadata, e, 1, true);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(0, st.pages_discarded);
}

/*
 * After a pause on the way back to DISCARD the rule holds for the new
 * channels: a push on the new urgent channel in RECOVER fails the session.
 */
TEST_F(order, push_on_urgent_in_recover_to_discard)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	order_start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, send_discard(e, PCMIG_CHANNEL_BULK, 0, 1));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_DISCARD,
				      PCMIG_WAIT_MS, &st));
	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.resume_state);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	ASSERT_EQ(0, pcmig_env_new_source(e, variant->transport, true,
					  ORD_SEED))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT,
					     ORD_P, 1, 0));
	order_failed(_metadata, e, 0, false);
}

/*
 * No DISCARD in PAUSED or RECOVER, even on the way back to DISCARD: the
 * ioctl gets -EINVAL, a frame on the new bulk channel fails the session.
 * A present page stays as it was.
 */
TEST_F(order, discard_in_recover_to_discard)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	order_start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK,
					     ORD_P, 1, 0));
	ASSERT_EQ(0, send_discard(e, PCMIG_CHANNEL_BULK, 0, 1));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_DISCARD,
				      PCMIG_WAIT_MS, &st));
	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(-EINVAL, pcmig_discard(e->fd, ORD_P * PS, PS));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	EXPECT_EQ(-EINVAL, pcmig_discard(e->fd, ORD_P * PS, PS));
	ASSERT_EQ(0, pcmig_env_new_source(e, variant->transport, true,
					  ORD_SEED))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, send_discard(e, PCMIG_CHANNEL_BULK, ORD_P, 1));
	order_failed(_metadata, e, 1, true);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(0, st.pages_discarded);
}

/*
 * After LISTEN (and in RECOVER on the way back to it) a page pushed on
 * the urgent channel is fine: no DISCARD can follow it any more.
 */
TEST_F(order, push_on_urgent_after_listen)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	order_start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT,
					     ORD_P, 1, 0));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st));

	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.resume_state);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	ASSERT_EQ(0, pcmig_env_new_source(e, variant->transport, true,
					  ORD_SEED))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT,
					     ORD_P + 1, 1, 0));
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_URGENT,
					    ORD_P + 2, 1));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 3, PCMIG_WAIT_MS,
				      &st));
	EXPECT_EQ(PCMIG_STATE_RECOVER, st.state);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	EXPECT_EQ(-1, pcmig_env_check(e, ORD_P, 2, ORD_SEED, NULL));
	EXPECT_EQ(-1, pcmig_zero_check(e->map + (ORD_P + 2) * PS, PS));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
	EXPECT_EQ(3, st.pages_present);
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));
}

/*
 * The allowed layouts: precopy pages, a DISCARD, the new copies and the
 * SYNC barrier, all on the bulk channel (@one: the one socket serving
 * both), SYNC also on a separate urgent channel; then LISTEN, and every
 * page is right.
 */
static void order_allowed(struct __test_metadata *_metadata,
			  struct pcmig_env *e, bool one)
{
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 16));
	ASSERT_EQ(0, send_discard(e, PCMIG_CHANNEL_BULK, 4, 8));
	pcmig_source_set_seed(e->src, 4, 8, ORD_SEED2);
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 4, 4));
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 16,
					    4));
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_BULK, 1));
	if (!one) {
		ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_URGENT, 1));
	}
	ASSERT_EQ(0, pcmig_sync(e->fd, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
	EXPECT_EQ(8, st.pages_discarded);
	EXPECT_EQ(16, st.pages_present);

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	/* Pages 8-11, discarded and not sent again, are fetched. */
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 4, ORD_SEED, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 4, 8, ORD_SEED2, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 12, 4, ORD_SEED, NULL));
	EXPECT_EQ(-1, pcmig_zero_check(e->map + 16 * PS, 4 * PS));
	EXPECT_EQ(4, pcmig_source_total_requests(e->src));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 8));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 11));

	/* SYNC after LISTEN, still on every channel. */
	ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_URGENT, 2));
	if (!one) {
		ASSERT_EQ(0, send_sync(e, PCMIG_CHANNEL_BULK, 2));
	}
	ASSERT_EQ(0, pcmig_sync(e->fd, 2, PCMIG_WAIT_MS));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
	EXPECT_EQ(20, st.pages_present);
}

TEST_F(order, everything_on_bulk_sync_on_both)
{
	order_start(_metadata, &self->env, variant->transport, false);
	order_allowed(_metadata, &self->env, false);
}

TEST_F(order, everything_on_one_socket)
{
	order_start(_metadata, &self->env, variant->transport, true);
	order_allowed(_metadata, &self->env, true);
}

PCMIG_HARNESS_MAIN
