// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: a slow peer. A source may send a page's payload slowly
 * (legal, or a lossy link); no lock that a fault, DISCARD, DESTROY or the
 * other channel waits for may be held meanwhile. Each test trickles one
 * page (its header and a few bytes, then the rest in small pieces with
 * pauses) and checks that what runs concurrently completes promptly while
 * the page is still incomplete, and that the page lands whole and right
 * once its last byte is in.
 *
 * The operation that must not block runs in a child process, so that a
 * kernel that does block fails the test instead of hanging it: the
 * trickle goes on, the operation then completes late, and the time bound
 * is what fails.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_session.h"

#define PS		PCMIG_PS
#define SEED		0x51c
#define SEED2		0x52d
#define PAGES		64
#define TRICKLED	5		/* the page that arrives slowly */
#define FIRST_BYTES	100		/* of its payload, sent at once */
#define CHUNKS		10		/* the rest, in this many pieces */
#define CHUNK_MS	400		/* apart: about 4 s for the page */
#define PROMPT_MS	1500		/* "promptly", in an emulated guest */

static void __attribute__((constructor)) slowpeer_test_init(void)
{
	pcmig_leak_guard_install();
}

/* A PAGES frame for one page, written a piece at a time. */
struct trickle {
	unsigned char frame[PCMIG_FRAME_HDR_LEN + PS];
	size_t sent;
	unsigned int channel;
};

static void trickle_init(struct trickle *t, unsigned int channel,
			 uint64_t page, uint64_t seed, bool requested)
{
	const struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_PAGES,
		.flags = requested ? PCMIG_FRAME_F_REQUESTED : 0,
		.npages = 1, .len = PS, .offset = page * PS,
	};

	pcmig_frame_encode(t->frame, &d);
	pcmig_pattern_fill(t->frame + PCMIG_FRAME_HDR_LEN, PS, seed, page);
	t->sent = 0;
	t->channel = channel;
}

static int trickle_send(struct pcmig_source *src, struct trickle *t,
			size_t len)
{
	int ret;

	if (len > sizeof(t->frame) - t->sent)
		len = sizeof(t->frame) - t->sent;
	ret = pcmig_source_send_raw(src, t->channel, t->frame + t->sent, len);
	if (!ret)
		t->sent += len;
	return ret;
}

/* The header and the first bytes; then give the receiver time to start. */
static int trickle_start(struct pcmig_source *src, struct trickle *t)
{
	int ret = trickle_send(src, t, PCMIG_FRAME_HDR_LEN + FIRST_BYTES);

	pcmig_msleep(PCMIG_SHORT_MS);
	return ret;
}

/* All but the last piece, slowly. */
static int trickle_most(struct pcmig_source *src, struct trickle *t)
{
	size_t piece = (PS - FIRST_BYTES + CHUNKS - 1) / CHUNKS;
	int i, ret;

	for (i = 0; i < CHUNKS - 1; i++) {
		ret = trickle_send(src, t, piece);
		if (ret)
			return ret;
		pcmig_msleep(CHUNK_MS);
	}
	return 0;
}

/* The last piece. */
static int trickle_finish(struct pcmig_source *src, struct trickle *t)
{
	return trickle_send(src, t, sizeof(t->frame) - t->sent);
}

enum op {
	OP_DISCARD,
	OP_DESTROY,
};

/*
 * Run @op on the session in a child: it exits 0 when the ioctl returned 0,
 * 1 otherwise.
 */
static pid_t op_child(struct pcmig_env *e, enum op op, uint64_t page)
{
	pid_t pid = fork();
	int ret;

	if (pid)
		return pid;
	if (op == OP_DISCARD)
		ret = pcmig_discard(e->fd, page * PS, PS);
	else
		ret = pcmig_destroy(e->fd);
	_exit(ret ? 1 : 0);
}

/*
 * Whether the child @kid finished within PROMPT_MS; if not, the trickle is
 * finished first (which releases a kernel that blocks) and the child then
 * reaped. *@status is its final wait status.
 */
static bool prompt(struct pcmig_env *e, pid_t kid, struct trickle *t,
		   int *status)
{
	uint64_t t0 = pcmig_now_ms();

	*status = pcmig_env_reap(e, kid, PROMPT_MS);
	if (*status != -1)
		return pcmig_now_ms() - t0 <= PROMPT_MS;
	trickle_most(e->src, t);
	trickle_finish(e->src, t);
	*status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	return false;
}

FIXTURE(slow) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(slow) {
	enum pcmig_transport transport;
};

/* Read from the socket's receive callback and the work item. */
FIXTURE_VARIANT_ADD(slow, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

/* Read by a thread with recvmsg(), like a kTLS socket. */
FIXTURE_VARIANT_ADD(slow, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_SETUP(slow)
{
	pcmig_env_init(&self->env);
}

FIXTURE_TEARDOWN(slow)
{
	pcmig_env_cleanup(&self->env);
}

static void start(struct __test_metadata *_metadata, struct pcmig_env *e,
		  enum pcmig_transport transport, bool listen)
{
	struct pcmig_env_opts o = {
		.npages = PAGES, .transport = transport, .split = true,
		.listen = listen, .seed = SEED, .tag = "slow",
	};

	ASSERT_EQ(0, pcmig_env_setup(e, &o)) TH_LOG("%s", pcmig_lib_error());
}

/*
 * LISTEN: a task faults on page TRICKLED (*@kid), and the reply to its
 * request starts to trickle on the urgent channel. Every other answer is
 * held back: nothing else may write on urgent meanwhile.
 */
static void fault_and_trickle(struct __test_metadata *_metadata,
			      struct pcmig_env *e, struct trickle *t,
			      pid_t *kid)
{
	pcmig_source_hold_all(e->src, true);
	*kid = pcmig_env_kid(e, pcmig_fork_check(e->map, TRICKLED, 1, SEED,
						 false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, TRICKLED, 1,
						PCMIG_WAIT_MS));
	trickle_init(t, PCMIG_CHANNEL_URGENT, TRICKLED, SEED, true);
	ASSERT_EQ(0, trickle_start(e->src, t));
}

/*
 * ADVISE: a pushed page trickles on the bulk channel. A DISCARD of another
 * page returns at once, and so does DESTROY after it.
 */
TEST_F(slow, discard_and_destroy_while_a_push_trickles)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct trickle t;
	int status;
	bool quick;

	start(_metadata, e, variant->transport, false);
	trickle_init(&t, PCMIG_CHANNEL_BULK, TRICKLED, SEED, false);
	ASSERT_EQ(0, trickle_start(e->src, &t));

	quick = prompt(e, pcmig_env_kid(e, op_child(e, OP_DISCARD, 20)), &t,
		       &status);
	EXPECT_TRUE(quick) TH_LOG("DISCARD waited for the trickled page");
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("DISCARD: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);

	quick = prompt(e, pcmig_env_kid(e, op_child(e, OP_DESTROY, 0)), &t,
		       &status);
	EXPECT_TRUE(quick) TH_LOG("DESTROY waited for the trickled page");
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("DESTROY: %s", pcmig_status_str(status));
	e->destroyed = true;
}

/*
 * ADVISE: DISCARD of the very page being trickled returns at once; the
 * page, once its last byte is in, is missing (the DISCARD came after it
 * started), and a later copy of it is installed.
 */
TEST_F(slow, discard_of_the_trickled_page_wins)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct trickle t;
	int status;
	bool quick;

	start(_metadata, e, variant->transport, false);
	trickle_init(&t, PCMIG_CHANNEL_BULK, TRICKLED, SEED, false);
	ASSERT_EQ(0, trickle_start(e->src, &t));

	quick = prompt(e, pcmig_env_kid(e, op_child(e, OP_DISCARD, TRICKLED)),
		       &t, &status);
	EXPECT_TRUE(quick) TH_LOG("DISCARD waited for the trickled page");
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("DISCARD: %s", pcmig_status_str(status));

	if (t.sent < sizeof(t.frame)) {
		ASSERT_EQ(0, trickle_most(e->src, &t));
		ASSERT_EQ(0, trickle_finish(e->src, &t));
	}
	/* A frame after it shows that the trickled one was handled. */
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 30, 1,
					     0));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st));
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);

	/* Sent again after the DISCARD, with other contents: installed. */
	ASSERT_EQ(0, pcmig_source_send_pages_seed(e->src, PCMIG_CHANNEL_BULK,
						  TRICKLED, 1, 0, SEED2));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 2, PCMIG_WAIT_MS,
				      &st));
	EXPECT_EQ(-1, pcmig_env_check(e, TRICKLED, 1, SEED2, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 30, 1, SEED, NULL));
}

/*
 * LISTEN: the reply to a fault trickles on the urgent channel while the
 * push sends the same page whole on bulk, then others. The bulk channel is
 * not held up: the faults on the others complete at once. The fault on
 * the trickled page completes when its page is whole (from either copy),
 * with the right contents; the crossing copy is a legitimate duplicate.
 */
TEST_F(slow, bulk_goes_on_while_a_reply_trickles)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	pid_t kid_a, kid_b;
	struct trickle t;
	int status;
	bool quick;

	start(_metadata, e, variant->transport, true);
	fault_and_trickle(_metadata, e, &t, &kid_a);

	kid_b = pcmig_env_kid(e, pcmig_fork_check(e->map, 40, 4, SEED, false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 40, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK,
					     TRICKLED, 1, 0));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 40, 4,
					     0));
	quick = prompt(e, kid_b, &t, &status);
	EXPECT_TRUE(quick) TH_LOG("the bulk channel waited for the trickle");
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("faults on the pushed pages: %s",
		       pcmig_status_str(status));

	if (t.sent < sizeof(t.frame)) {
		ASSERT_EQ(0, trickle_most(e->src, &t));
		ASSERT_EQ(0, trickle_finish(e->src, &t));
	}
	status = pcmig_env_reap(e, kid_a, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("fault on the trickled page: %s",
		       pcmig_status_str(status));
	pcmig_source_drop_pending(e->src, 0, PAGES);

	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_duplicate, 1,
				      PCMIG_WAIT_MS, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(5, st.pages_present);
	EXPECT_EQ(1, st.pages_duplicate);
	EXPECT_EQ(-1, pcmig_env_check(e, TRICKLED, 1, SEED, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 40, 4, SEED, NULL));
}

/*
 * LISTEN: the fault on a page whose reply trickles (nothing else sends
 * it) waits until the last byte is in, not a moment before, and then
 * sees the whole page.
 */
TEST_F(slow, waiter_wakes_when_the_page_is_whole)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct trickle t;
	int status;
	pid_t kid;

	start(_metadata, e, variant->transport, true);
	fault_and_trickle(_metadata, e, &t, &kid);
	ASSERT_EQ(0, trickle_most(e->src, &t));

	/* One piece short: not present, the fault still waits. */
	pcmig_msleep(PCMIG_SHORT_MS);
	EXPECT_EQ(-1, pcmig_env_reap(e, kid, 0));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(0, st.pages_present);

	ASSERT_EQ(0, trickle_finish(e->src, &t));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("fault on the trickled page: %s",
		       pcmig_status_str(status));
	pcmig_source_drop_pending(e->src, 0, PAGES);
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(-1, pcmig_env_check(e, TRICKLED, 1, SEED, NULL));
}

/*
 * LISTEN: DESTROY while a reply trickles returns at once; the fault
 * waiting for the page gets SIGBUS.
 */
TEST_F(slow, destroy_while_a_reply_trickles)
{
	struct pcmig_env *e = &self->env;
	struct trickle t;
	int status;
	bool quick;
	pid_t kid;

	start(_metadata, e, variant->transport, true);
	fault_and_trickle(_metadata, e, &t, &kid);

	quick = prompt(e, pcmig_env_kid(e, op_child(e, OP_DESTROY, 0)), &t,
		       &status);
	EXPECT_TRUE(quick) TH_LOG("DESTROY waited for the trickled page");
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("DESTROY: %s", pcmig_status_str(status));
	e->destroyed = true;
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("fault on the trickled page: %s",
		       pcmig_status_str(status));
}

PCMIG_HARNESS_MAIN
