// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: the fault path. A fault on a missing page sends exactly
 * one request, however many tasks wait for it, and completes with the page
 * the source sent, byte for byte; faults from kernel context work the same;
 * blocked faults can be killed, end in SIGBUS when the session goes away and
 * keep waiting while it is paused; DISCARD, ZERO frames and END; a QEMU-style
 * mapping of the session node.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_session.h"

#define PS	PCMIG_PS

static void __attribute__((constructor)) fault_test_init(void)
{
	pcmig_leak_guard_install();
}

/*
 * Fault path over every kind of channel: a socketpair or loopback TCP, one
 * socket for both channels or one each.
 */
FIXTURE(fault) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(fault) {
	enum pcmig_transport transport;
	bool split;
};

FIXTURE_VARIANT_ADD(fault, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
	.split = false,
};

FIXTURE_VARIANT_ADD(fault, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
	.split = false,
};

FIXTURE_VARIANT_ADD(fault, unix_split) {
	.transport = PCMIG_TRANSPORT_UNIX,
	.split = true,
};

FIXTURE_VARIANT_ADD(fault, tcp_split) {
	.transport = PCMIG_TRANSPORT_TCP,
	.split = true,
};

FIXTURE_SETUP(fault)
{
	pcmig_env_init(&self->env);
}

FIXTURE_TEARDOWN(fault)
{
	pcmig_env_cleanup(&self->env);
}

static int fault_start(FIXTURE_DATA(fault) *self,
		       const FIXTURE_VARIANT(fault) *variant,
		       uint64_t npages, bool listen, uint64_t seed)
{
	struct pcmig_env_opts o = {
		.npages = npages,
		.transport = variant->transport,
		.split = variant->split,
		.listen = listen,
		.events = true,
		.seed = seed,
		.tag = "fault",
	};

	return pcmig_env_setup(&self->env, &o);
}

/* No protocol error seen by the source; a message for TH_LOG. */
static uint64_t src_errors(struct pcmig_env *e, const char **msg)
{
	return e->src ? pcmig_source_errors(e->src, msg) : 0;
}

TEST_F(fault, one_page)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	const char *msg;
	uint64_t hsum = 0;
	long off = -1;
	unsigned int i;

	ASSERT_EQ(0, fault_start(self, variant, 16, true, 0x1001))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, 0x1001, &off))
		TH_LOG("page 5 differs at byte %ld", off);

	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
	EXPECT_EQ(0, st.error);
	EXPECT_EQ(16, st.pages_total);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(1, st.pages_received);
	EXPECT_EQ(1, st.pages_requested);
	EXPECT_EQ(0, st.pages_pushed);
	EXPECT_EQ(0, st.pages_zero);
	EXPECT_EQ(0, st.pages_duplicate);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_LE(1, st.requests_sent);
	EXPECT_LE(1, st.faults);
	EXPECT_EQ(PCMIG_FRAME_HDR_LEN + PS, st.bytes_received);
	for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
		hsum += st.hist[i];
	EXPECT_LE(1, st.faults_blocked);
	EXPECT_EQ(st.faults_blocked, hsum);
	EXPECT_LT(0, st.blocked_ns);

	EXPECT_EQ(1, pcmig_source_requests(e->src, 5));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
	EXPECT_EQ(0, src_errors(e, &msg)) TH_LOG("source: %s", msg);

	/* Present now: no new request, no new missing-page fault. */
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, 0x1001, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(1, st.pages_requested);
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
}

/* floor(log2(@ns)): the histogram bucket of a wait of @ns (0 for 0). */
static unsigned int hist_bucket(uint64_t ns)
{
	return ns ? 63 - __builtin_clzll(ns) : 0;
}

/*
 * One fault whose reply the source holds back for HIST_HOLD_MS: the
 * fault-wait histogram has exactly that one wait, in the bucket
 * [2^i, 2^(i+1)) ns of the time it waited, and PCMIG_IOC_STATUS and the
 * genl PCMIG_ATTR_HIST nest agree bucket for bucket. The wait is bounded
 * from both sides by the test's own clock (CLOCK_MONOTONIC, the kernel's
 * ktime_get_ns()): at least from the moment the request was seen to the
 * release, at most from before the read to after it.
 */
#define HIST_HOLD_MS	200
TEST_F(fault, hist_bucket_of_a_known_wait)
{
	struct pcmig_env *e = &self->env;
	uint64_t t_seen, t_rel, lo, hi, hsum = 0;
	struct pcmig_nl_session nl;
	struct pcmig_status st;
	volatile uint64_t *t;	/* shared with the child: before, after */
	unsigned int i, b;
	int status;
	pid_t kid;

	ASSERT_EQ(0, fault_start(self, variant, 16, true, 0x7117))
		TH_LOG("%s", pcmig_lib_error());
	t = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, (void *)t);
	pcmig_source_hold(e->src, 5, 1);

	kid = fork();
	ASSERT_LE(0, kid);
	if (!kid) {
		long off;

		t[0] = pcmig_monotonic_ns();
		off = pcmig_pattern_check(e->map + 5 * PS, PS, 0x7117, 5);
		t[1] = pcmig_monotonic_ns();
		_exit(off == -1 ? 0 : 1);
	}
	pcmig_env_kid(e, kid);
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	t_seen = pcmig_monotonic_ns();
	pcmig_msleep(HIST_HOLD_MS);
	t_rel = pcmig_monotonic_ns();
	pcmig_source_release(e->src, 5, 1);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	ASSERT_TRUE(pcmig_exited_ok(status))
		TH_LOG("reader: %s", pcmig_status_str(status));

	lo = t_rel - t_seen;
	hi = t[1] - t[0];
	munmap((void *)t, PS);
	ASSERT_LE((uint64_t)HIST_HOLD_MS * 1000000, lo);
	ASSERT_LE(lo, hi);

	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(1, st.pages_requested);
	ASSERT_EQ(1, st.faults_blocked);
	/* The one wait the kernel measured lies within our bounds ... */
	EXPECT_LE(lo, st.blocked_ns);
	EXPECT_GE(hi, st.blocked_ns);
	/* ... and is counted in its bucket, and nowhere else. */
	b = hist_bucket(st.blocked_ns);
	TH_LOG("wait %llu ns (seen %llu..%llu ns): bucket %u",
	       (unsigned long long)st.blocked_ns, (unsigned long long)lo,
	       (unsigned long long)hi, b);
	/* Our bounds themselves span the bucket or its neighbour. */
	EXPECT_LE(hist_bucket(lo), b);
	EXPECT_GE(hist_bucket(hi), b);
	EXPECT_GE(hist_bucket(lo) + 1, hist_bucket(hi))
		TH_LOG("bounds %llu..%llu ns too loose",
		       (unsigned long long)lo, (unsigned long long)hi);
	for (i = 0; i < PCMIG_HIST_BUCKETS; i++) {
		uint64_t a = st.hist[i];

		hsum += a;
		EXPECT_EQ(i == b ? 1 : 0, a)
			TH_LOG("ioctl hist[%u] = %llu", i,
			       (unsigned long long)a);
	}
	EXPECT_EQ(1, hsum);

	/* The genl nest: the same, bucket for bucket. */
	memset(&nl, 0, sizeof(nl));
	ASSERT_EQ(0, pcmig_genl_session_get(e->id, &nl));
	ASSERT_EQ(PCMIG_HIST_BUCKETS, nl.hist_entries);
	EXPECT_EQ(1, nl.faults_blocked);
	EXPECT_EQ(st.blocked_ns, nl.blocked_ns);
	for (i = 0; i < PCMIG_HIST_BUCKETS; i++) {
		uint64_t a = st.hist[i], g = nl.hist[i];

		EXPECT_EQ(a, g) TH_LOG("hist[%u]: ioctl %llu, genl %llu", i,
				       (unsigned long long)a,
				       (unsigned long long)g);
	}
}

TEST_F(fault, advise_holds_requests_until_listen)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int status;
	pid_t kid;

	ASSERT_EQ(0, fault_start(self, variant, 16, false, 0x2002))
		TH_LOG("%s", pcmig_lib_error());
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 3, 1, 0x2002, false));
	ASSERT_LT(0, kid);
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, 0, 1, &st))
		TH_LOG("%s", pcmig_lib_error());
	pcmig_msleep(PCMIG_SHORT_MS);
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(0, st.requests_sent);
	EXPECT_EQ(0, st.pages_present);
	EXPECT_EQ(-1, pcmig_env_reap(e, kid, 0))
		TH_LOG("the fault did not wait");

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 3));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st));
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(-1, pcmig_env_check(e, 3, 1, 0x2002, NULL));
}

TEST_F(fault, same_page_16_threads_one_request)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_readers r;
	struct pcmig_status st;
	unsigned int t;
	int ret;

	ASSERT_EQ(0, fault_start(self, variant, 16, true, 0x3003))
		TH_LOG("%s", pcmig_lib_error());
	pcmig_source_hold(e->src, 7, 1);
	ASSERT_EQ(0, pcmig_readers_start(&r, e->map, 7, 1, 0x3003, 16, false,
					 0));
	pcmig_env_kid(e, r.pid);
	ret = PCMIG_WAIT_FAULTS(e->fd, 0, 16, &st);
	EXPECT_EQ(0, ret) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(0, pcmig_source_wait_requests(e->src, 7, 1, PCMIG_WAIT_MS));
	pcmig_msleep(PCMIG_SHORT_MS);
	EXPECT_EQ(1, pcmig_source_requests(e->src, 7));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(1, st.in_flight);
	EXPECT_EQ(0, st.pages_present);

	pcmig_source_release(e->src, 7, 1);
	ret = pcmig_env_readers_wait(e, &r, PCMIG_WAIT_MS);
	EXPECT_EQ(0, ret) TH_LOG("%s", pcmig_lib_error());
	EXPECT_TRUE(pcmig_exited_ok(r.status))
		TH_LOG("readers: %s", pcmig_status_str(r.status));
	for (t = 0; t < 16; t++) {
		EXPECT_EQ(1, r.res[t].checked) TH_LOG("thread %u", t);
		EXPECT_EQ(0, r.res[t].bad) TH_LOG("thread %u: byte %lld", t,
						  (long long)r.res[t].first_bad_offset);
	}
	pcmig_readers_cleanup(&r);
	EXPECT_EQ(1, pcmig_source_requests(e->src, 7));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_LE(16, st.faults_blocked);
	EXPECT_EQ(1, st.pages_requested);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(0, st.in_flight);
}

TEST_F(fault, zero_frames_need_no_request)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	const char *msg;
	uint64_t i;
	int status;
	pid_t kid;

	ASSERT_EQ(0, fault_start(self, variant, 512, true, 0x4004))
		TH_LOG("%s", pcmig_lib_error());
	/* More pages than a PAGES frame may carry: ZERO has no such limit. */
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 0,
					    300));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_zero, 300, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(300, st.pages_zero);
	EXPECT_EQ(300, st.pages_present);
	for (i = 0; i < 300; i++) {
		long off = pcmig_zero_check(e->map + i * PS, PS);

		EXPECT_EQ(-1, off) TH_LOG("page %llu byte %ld",
					  (unsigned long long)i, off);
		if (off >= 0)
			break;
	}
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(0, st.requests_sent);
	EXPECT_EQ(0, st.pages_requested);
	EXPECT_EQ(0, st.pages_received);
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));

	/* A ZERO frame also answers a blocked fault. */
	pcmig_source_hold(e->src, 400, 2);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 400, 1, 0, true));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 400, 1,
						PCMIG_WAIT_MS));
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 400,
					    2));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_zero, 302, PCMIG_WAIT_MS,
				      &st));
	EXPECT_EQ(302, st.pages_present);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(-1, pcmig_zero_check(e->map + 401 * PS, PS));
	EXPECT_EQ(0, pcmig_source_requests(e->src, 401));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
	EXPECT_EQ(0, src_errors(e, &msg)) TH_LOG("source: %s", msg);
	/* A page next to them is still fetched normally. */
	EXPECT_EQ(-1, pcmig_env_check(e, 300, 1, 0x4004, NULL));
}

/*
 * Child of the discard test: reads every page (seed A), waits for the
 * parent, then reads page 8 again, which must now hold seed B.
 */
static void discard_child(const uint8_t *map, int rfd, int wfd, uint64_t a,
			  uint64_t b)
{
	char c = 'r';
	uint64_t i;

	for (i = 0; i < 32; i++)
		if (pcmig_pattern_check(map + i * PS, PS, a, i) >= 0)
			_exit(1);
	if (write(wfd, &c, 1) != 1 || read(rfd, &c, 1) != 1)
		_exit(2);
	if (pcmig_pattern_check(map + 8 * PS, PS, b, 8) >= 0)
		_exit(3);
	_exit(0);
}

TEST_F(fault, discard_then_refault)
{
	const uint64_t A = 0x5005, B = 0xb00b;
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pollfd pfd;
	const char *msg;
	int p[2], q[2], status;
	uint64_t i, f0;
	pid_t kid;
	char c;

	ASSERT_EQ(0, fault_start(self, variant, 32, false, A))
		TH_LOG("%s", pcmig_lib_error());
	/* Precopy: every page arrives in ADVISE. */
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 32));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 32, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(32, st.pages_pushed);
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 32, A, NULL));

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, pipe(q));
	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0) {
		close(p[1]);
		close(q[0]);
		discard_child(e->map, p[0], q[1], A, B);
	}
	pcmig_env_kid(e, kid);
	close(p[0]);
	close(q[1]);
	/* The child has mapped every page before the discard. */
	pfd = (struct pollfd){ .fd = q[0], .events = POLLIN };
	ASSERT_EQ(1, poll(&pfd, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(1, read(q[0], &c, 1));
	close(q[0]);

	ASSERT_EQ(0, pcmig_discard(e->fd, 8 * PS, 8 * PS))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);
	EXPECT_EQ(8, st.pages_discarded);
	EXPECT_EQ(24, st.pages_present);
	/* Allowed in DISCARD too. */
	ASSERT_EQ(0, pcmig_discard(e->fd, 20 * PS, 2 * PS));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);
	EXPECT_EQ(10, st.pages_discarded);
	EXPECT_EQ(22, st.pages_present);

	pcmig_source_set_seed(e->src, 8, 8, B);
	pcmig_source_set_seed(e->src, 20, 2, B);

	/* The child's mapping was zapped: its re-read waits for LISTEN. */
	f0 = pcmig_faults(e->fd);
	ASSERT_EQ(1, write(p[1], "g", 1));
	close(p[1]);
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 1, &st))
		TH_LOG("%s", pcmig_lib_error());
	pcmig_msleep(PCMIG_SHORT_MS);
	status = pcmig_env_reap(e, kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s (1: first read, 3: stale page 8)",
				     pcmig_status_str(status));
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));

	for (i = 0; i < 32; i++) {
		bool gone = (i >= 8 && i < 16) || i == 20 || i == 21;
		long off = pcmig_pattern_check(e->map + i * PS, PS,
					       gone ? B : A, i);

		EXPECT_EQ(-1, off) TH_LOG("page %llu (%s) byte %ld",
					  (unsigned long long)i,
					  gone ? "discarded" : "kept", off);
		EXPECT_EQ(gone ? 1 : 0, pcmig_source_requests(e->src, i))
			TH_LOG("page %llu", (unsigned long long)i);
	}
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(32, st.pages_present);
	EXPECT_EQ(10, st.pages_requested);
	EXPECT_EQ(0, src_errors(e, &msg)) TH_LOG("source: %s", msg);

	/* Not in LISTEN: refused, nothing touched. */
	EXPECT_EQ(-EINVAL, pcmig_discard(e->fd, 0, 4 * PS));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(10, st.pages_discarded);
	EXPECT_EQ(32, st.pages_present);
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 4, A, NULL));
	EXPECT_EQ(10, pcmig_source_total_requests(e->src));
}

TEST_F(fault, sigkill_of_a_blocked_fault)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t t0;
	int status;
	pid_t kid;

	ASSERT_EQ(0, fault_start(self, variant, 16, true, 0x6006))
		TH_LOG("%s", pcmig_lib_error());
	pcmig_source_hold(e->src, 4, 1);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 4, 1, 0x6006, false));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, 0, 1, &st))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 4, 1, PCMIG_WAIT_MS));

	t0 = pcmig_now_ms();
	ASSERT_EQ(0, kill(kid, SIGKILL));
	status = pcmig_env_reap(e, kid, 5000);
	EXPECT_TRUE(pcmig_died_of(status, SIGKILL))
		TH_LOG("child: %s", pcmig_status_str(status));
	TH_LOG("SIGKILL reaped after %llu ms",
	       (unsigned long long)(pcmig_now_ms() - t0));

	/* The page still arrives and the session is fine. */
	pcmig_source_release(e->src, 4, 1);
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(-1, pcmig_env_check(e, 4, 1, 0x6006, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, 0x6006, NULL));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 4));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 5));
}

TEST_F(fault, destroy_and_close_while_blocked_sigbus)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_nl_info info;
	struct pcmig_status st;
	long base;
	uint64_t deadline;
	int status;
	pid_t kid;

	ASSERT_EQ(0, pcmig_genl_get_info(&info));
	base = info.sessions;
	ASSERT_EQ(0, fault_start(self, variant, 16, true, 0x7007))
		TH_LOG("%s", pcmig_lib_error());
	pcmig_source_hold(e->src, 2, 1);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 2, 1, 0x7007, false));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, 0, 1, &st))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 2, 1, PCMIG_WAIT_MS));

	/* Everything of the parent's goes: session, fd, mapping, source. */
	ASSERT_EQ(0, pcmig_env_destroy(e));
	close(e->fd);
	e->fd = -1;
	munmap(e->map, e->size);
	e->map = NULL;
	pcmig_source_close(e->src);
	pcmig_source_free(e->src);
	e->src = NULL;

	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("child: %s", pcmig_status_str(status));
	/* The child's mapping was the last reference. */
	deadline = pcmig_now_ms() + PCMIG_WAIT_MS;
	do {
		ASSERT_EQ(0, pcmig_genl_get_info(&info));
		if (info.sessions == base)
			break;
		pcmig_msleep(20);
	} while (pcmig_now_ms() < deadline);
	EXPECT_EQ(base, info.sessions);
}

TEST_F(fault, source_eof_pauses_fault_waits_until_destroy)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int status, i;
	uint64_t f0;
	pid_t kid;

	ASSERT_EQ(0, fault_start(self, variant, 16, true, 0x8008))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 1, 0x8008, NULL));
	pcmig_source_hold(e->src, 2, 1);
	f0 = pcmig_faults(e->fd);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 2, 1, 0x8008, false));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 1, &st))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 2, 1, PCMIG_WAIT_MS));

	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(0, st.error);
	EXPECT_EQ(1, st.pauses);
	EXPECT_EQ(1, st.in_flight);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_PAUSED, 0,
			      PCMIG_WAIT_MS, &ev);
	EXPECT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, ev.s.reason);

	/* Paused: the fault keeps waiting; present pages stay readable. */
	pcmig_msleep(500);
	status = pcmig_env_reap(e, kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 1, 0x8008, NULL));

	ASSERT_EQ(0, pcmig_env_destroy(e));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("child: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
	EXPECT_EQ(PCMIG_REASON_DESTROYED, st.reason);
}

/* Check that @e reached END and the completion event came. */
static void check_end(struct __test_metadata *_metadata, struct pcmig_env *e,
		      uint64_t npages)
{
	struct pcmig_status st;
	struct pcmig_event ev;
	int i, j;

	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_END, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(npages, st.pages_present);
	EXPECT_EQ(0, st.in_flight);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_END, PCMIG_WAIT_MS, &ev);
	EXPECT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_RUNNING, ev.s.old_state);
	j = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_COMPLETE, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, j) TH_LOG("%s", pcmig_lib_error());
	EXPECT_LT(j, i) TH_LOG("EVENT_STATE(END) before EVENT_COMPLETE");
	/* Every SESSION_GET attribute. */
	EXPECT_EQ(PCMIG_ATTR_UNSPEC, pcmig_nl_session_missing(&ev.s))
		TH_LOG("attribute %d missing", pcmig_nl_session_missing(&ev.s));
	EXPECT_STREQ(e->name, ev.s.name);
	EXPECT_EQ(npages, ev.s.pages_present);
	EXPECT_EQ(npages, ev.s.pages_total);
	EXPECT_EQ(npages * PS, ev.s.size);
	EXPECT_EQ(0, ev.s.in_flight);
	EXPECT_EQ(PCMIG_HIST_BUCKETS, ev.s.hist_entries);
	/* In END the channels are released. */
	EXPECT_EQ(0, pcmig_source_wait_eof(e->src, PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
}

TEST_F(fault, end_after_every_page_is_present)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st, st2;
	const char *msg;
	uint8_t *map2;
	int i;

	ASSERT_EQ(0, fault_start(self, variant, 64, true, 0x9009))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 32, 0x9009, NULL));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 32, 32));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 64, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	/* Not before RUNNING. */
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_FALSE(pcmig_source_eof(e->src));

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	check_end(_metadata, e, 64);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_RUNNING, 0, NULL);
	EXPECT_LE(0, i) TH_LOG("no EVENT_STATE(RUNNING)");

	/* A fresh mapping: faults never leave the kernel. */
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	map2 = mmap(NULL, e->size, PROT_READ, MAP_SHARED, e->fd, 0);
	ASSERT_NE(MAP_FAILED, map2);
	for (i = 0; i < 64; i++) {
		long off = pcmig_pattern_check(map2 + i * PS, PS, 0x9009, i);

		EXPECT_EQ(-1, off) TH_LOG("page %d byte %ld", i, off);
	}
	munmap(map2, e->size);
	ASSERT_EQ(0, pcmig_env_status(e, &st2));
	EXPECT_EQ(st.requests_sent, st2.requests_sent);
	EXPECT_EQ(st.faults, st2.faults);
	EXPECT_EQ(32, pcmig_source_total_requests(e->src));
	EXPECT_EQ(0, src_errors(e, &msg)) TH_LOG("source: %s", msg);
	EXPECT_EQ(-EBUSY, pcmig_set_state(e->fd, PCMIG_STATE_FAILED));

	/* Destroying an ended session leaves it ended, readable, silent. */
	i = pcmig_events_count(e->ev, PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_destroy(e));
	EXPECT_EQ(0, pcmig_events_count_for(e->ev, i, e->id, PCMIG_SHORT_MS));
	ASSERT_EQ(0, pcmig_env_status(e, &st2));
	EXPECT_EQ(PCMIG_STATE_END, st2.state);
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 64, 0x9009, NULL));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PS, PROT_READ, MAP_SHARED, e->fd, 0));
	EXPECT_EQ(ENODEV, errno);
}

TEST_F(fault, end_by_itself_in_running)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_readers r;
	struct pcmig_status st;
	uint64_t page;
	unsigned int t;
	int ret;

	ASSERT_EQ(0, fault_start(self, variant, 64, true, 0xa00a))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_RUNNING, st.state);
	ASSERT_EQ(0, pcmig_readers_start(&r, e->map, 0, 64, 0xa00a, 4, true,
					 1));
	pcmig_env_kid(e, r.pid);
	ret = pcmig_env_readers_wait(e, &r, 30000);
	EXPECT_EQ(0, ret) TH_LOG("%s", pcmig_lib_error());
	EXPECT_TRUE(pcmig_exited_ok(r.status))
		TH_LOG("readers: %s", pcmig_status_str(r.status));
	for (t = 0; t < 4; t++) {
		EXPECT_EQ(64, r.res[t].checked);
		EXPECT_EQ(0, r.res[t].bad) TH_LOG("thread %u: page %lld",
						  t, (long long)r.res[t].first_bad_page);
	}
	pcmig_readers_cleanup(&r);
	check_end(_metadata, e, 64);
	EXPECT_EQ(1, pcmig_source_max_requests(e->src, &page))
		TH_LOG("page %llu", (unsigned long long)page);
	EXPECT_EQ(64, pcmig_source_total_requests(e->src));
}

/* The big one: 64 MiB read by 4 threads, each in its own random order. */

FIXTURE(big) {
	struct pcmig_env env;
};

FIXTURE_SETUP(big)
{
	pcmig_env_init(&self->env);
}

FIXTURE_TEARDOWN(big)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F_TIMEOUT(big, all_pages_64m_4_threads_random_order, 150)
{
	const uint64_t n = (64ULL << 20) / PS;
	struct pcmig_env_opts o = {
		.npages = n, .transport = PCMIG_TRANSPORT_UNIX,
		.listen = true, .seed = 0xb16, .tag = "big",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_readers r;
	struct pcmig_status st;
	uint64_t t0, page;
	const char *msg;
	unsigned int t;
	int ret;

	ASSERT_EQ(0, pcmig_env_setup(e, &o)) TH_LOG("%s", pcmig_lib_error());
	t0 = pcmig_now_ms();
	ASSERT_EQ(0, pcmig_readers_start(&r, e->map, 0, n, 0xb16, 4, true,
					 0x5eed));
	pcmig_env_kid(e, r.pid);
	ret = pcmig_env_readers_wait(e, &r, 120000 * pcmig_time_scale());
	pcmig_env_status(e, &st);
	ASSERT_EQ(0, ret) TH_LOG("%s; %llu of %llu pages present",
				 pcmig_lib_error(),
				 (unsigned long long)st.pages_present,
				 (unsigned long long)n);
	TH_LOG("64 MiB faulted in by 4 threads in %llu ms",
	       (unsigned long long)(pcmig_now_ms() - t0));
	EXPECT_TRUE(pcmig_exited_ok(r.status))
		TH_LOG("readers: %s", pcmig_status_str(r.status));
	for (t = 0; t < 4; t++) {
		EXPECT_EQ(n, r.res[t].checked) TH_LOG("thread %u", t);
		EXPECT_EQ(0, r.res[t].bad)
			TH_LOG("thread %u: %llu bad pages, first %lld byte %lld",
			       t, (unsigned long long)r.res[t].bad,
			       (long long)r.res[t].first_bad_page,
			       (long long)r.res[t].first_bad_offset);
	}
	pcmig_readers_cleanup(&r);

	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(n, st.pages_total);
	EXPECT_EQ(st.pages_total, st.pages_present);
	EXPECT_EQ(n, st.pages_requested);
	EXPECT_EQ(n, st.pages_received);
	EXPECT_EQ(0, st.pages_duplicate);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	/* Exactly one request per page. */
	EXPECT_EQ(1, pcmig_source_max_requests(e->src, &page))
		TH_LOG("page %llu requested %u times",
		       (unsigned long long)page,
		       pcmig_source_requests(e->src, page));
	EXPECT_EQ(n, pcmig_source_total_requests(e->src));
	EXPECT_EQ(0, src_errors(e, &msg)) TH_LOG("source: %s", msg);
}

/* Faults from kernel context */

FIXTURE(kctx) {
	struct pcmig_env env;
	char path[64];
	int file;
};

FIXTURE_SETUP(kctx)
{
	struct pcmig_env_opts o = { .npages = 64, .listen = true,
				    .seed = 0xcc, .tag = "kctx" };

	self->file = -1;
	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(kctx)
{
	pcmig_env_cleanup(&self->env);
	if (self->file >= 0)
		close(self->file);
	if (self->path[0])
		unlink(self->path);
}

/* A file in @dir (O_DIRECT if asked) holding @pages pages of pattern @seed. */
static int make_file(FIXTURE_DATA(kctx) *self, const char *dir, int flags,
		     unsigned int pages, uint64_t seed)
{
	char buf[PS];
	unsigned int i;
	int fd;

	snprintf(self->path, sizeof(self->path), "%s/kst-XXXXXX", dir);
	fd = mkostemp(self->path, O_CLOEXEC);
	if (fd < 0) {
		self->path[0] = '\0';
		return -errno;
	}
	for (i = 0; i < pages; i++) {
		pcmig_pattern_fill(buf, PS, seed, 1000 + i);
		if (pwrite(fd, buf, PS, (off_t)i * PS) != PS) {
			close(fd);
			return -EIO;
		}
	}
	if (flags) {
		int dfd;

		close(fd);
		dfd = open(self->path, O_RDWR | O_CLOEXEC | flags);
		if (dfd < 0)
			return -errno;
		fd = dfd;
	}
	self->file = fd;
	return fd;
}

TEST_F(kctx, read_into_missing_pages)
{
	struct pcmig_env *e = &self->env;
	unsigned char want[3 * PS], pg[2 * PS];
	const uint8_t *m = e->map;
	unsigned int i;

	ASSERT_LE(0, make_file(self, "/tmp", 0, 3, 0xf11e));
	for (i = 0; i < 3; i++)
		pcmig_pattern_fill(want + i * PS, PS, 0xf11e, 1000 + i);

	/* Part of one page: fetched first, then overwritten. */
	ASSERT_EQ(1000, pread(self->file, e->map + 5 * PS + 100, 1000, 0));
	pcmig_pattern_fill(pg, PS, 0xcc, 5);
	memcpy(pg + 100, want, 1000);
	EXPECT_EQ(0, memcmp(pg, m + 5 * PS, PS));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 5));

	/* Across two missing pages. */
	ASSERT_EQ(6000, pread(self->file, e->map + 10 * PS + 2000, 6000, 0));
	pcmig_pattern_fill(pg, PS, 0xcc, 10);
	pcmig_pattern_fill(pg + PS, PS, 0xcc, 11);
	memcpy(pg + 2000, want, 6000);
	EXPECT_EQ(0, memcmp(pg, m + 10 * PS, 2 * PS));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 10));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 11));

	/* A whole page: still fetched (the kernel cannot know), then copied. */
	ASSERT_EQ(PS, pread(self->file, e->map + 12 * PS, PS, PS));
	EXPECT_EQ(0, memcmp(m + 12 * PS, want + PS, PS));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 12));
	EXPECT_EQ(4, pcmig_source_total_requests(e->src));
}

TEST_F(kctx, write_from_missing_pages)
{
	struct pcmig_env *e = &self->env;
	unsigned char got[2 * PS];
	int p[2];

	ASSERT_LE(0, make_file(self, "/tmp", 0, 0, 0));
	ASSERT_EQ(2 * PS, pwrite(self->file, e->map + 20 * PS, 2 * PS, 0));
	ASSERT_EQ(2 * PS, pread(self->file, got, 2 * PS, 0));
	EXPECT_EQ(-1, pcmig_pattern_check(got, PS, 0xcc, 20));
	EXPECT_EQ(-1, pcmig_pattern_check(got + PS, PS, 0xcc, 21));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 20));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 21));
	/* Via a pipe too (copy_from_user of a missing page). */
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(PS, write(p[1], e->map + 22 * PS, PS));
	ASSERT_EQ(PS, read(p[0], got, PS));
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(-1, pcmig_pattern_check(got, PS, 0xcc, 22));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 22));
}

TEST_F(kctx, process_vm_readv_from_a_child)
{
	struct pcmig_env *e = &self->env;
	int status;
	pid_t kid;

	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0) {
		static unsigned char buf[2 * PS];
		struct iovec l = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct iovec r = { .iov_base = e->map + 30 * PS,
				   .iov_len = 2 * PS };

		if (process_vm_readv(getppid(), &l, 1, &r, 1, 0) != 2 * PS)
			_exit(2);
		if (pcmig_pattern_check(buf, PS, 0xcc, 30) >= 0 ||
		    pcmig_pattern_check(buf + PS, PS, 0xcc, 31) >= 0)
			_exit(1);
		_exit(0);
	}
	pcmig_env_kid(e, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s (2: short read)", pcmig_status_str(status));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 30));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 31));
	EXPECT_EQ(-1, pcmig_env_check(e, 30, 2, 0xcc, NULL));
}

TEST_F(kctx, process_vm_writev_from_a_child)
{
	static const char msg[] = "kst-remote-write";
	struct pcmig_env *e = &self->env;
	unsigned char pg[PS];
	int status;
	pid_t kid;

	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0) {
		struct iovec l = { .iov_base = (void *)msg,
				   .iov_len = sizeof(msg) };
		struct iovec r = { .iov_base = e->map + 33 * PS + 64,
				   .iov_len = sizeof(msg) };

		_exit(process_vm_writev(getppid(), &l, 1, &r, 1, 0) ==
		      sizeof(msg) ? 0 : 2);
	}
	pcmig_env_kid(e, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	pcmig_pattern_fill(pg, PS, 0xcc, 33);
	memcpy(pg + 64, msg, sizeof(msg));
	EXPECT_EQ(0, memcmp(pg, e->map + 33 * PS, PS));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 33));
}

TEST_F(kctx, o_direct_read_and_write)
{
	const char *dirs[] = { getenv("PCMIG_ODIRECT_DIR"),
			       getenv("PCMIG_RESULTS"), "/tmp", "/var/tmp",
			       "/dev/shm" };
	struct pcmig_env *e = &self->env;
	unsigned char want[2 * PS], got[2 * PS];
	const char *dir = NULL;
	unsigned int i;
	int fd = -1;

	for (i = 0; i < ARRAY_SIZE(dirs) && fd < 0; i++) {
		if (!dirs[i])
			continue;
		fd = make_file(self, dirs[i], O_DIRECT, 2, 0xd10);
		if (fd < 0 && self->path[0]) {
			unlink(self->path);
			self->path[0] = '\0';
		}
		if (fd >= 0)
			dir = dirs[i];
	}
	if (fd < 0)
		SKIP(return, "no writable filesystem here supports O_DIRECT (tmpfs does not on 6.1)");
	TH_LOG("O_DIRECT file in %s", dir);
	for (i = 0; i < 2; i++)
		pcmig_pattern_fill(want + i * PS, PS, 0xd10, 1000 + i);

	/* Read from the file into two missing pages. */
	ASSERT_EQ(2 * PS, pread(fd, e->map + 44 * PS, 2 * PS, 0))
		TH_LOG("O_DIRECT read: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(want, e->map + 44 * PS, 2 * PS));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 44));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 45));

	/* Write two missing pages to the file. */
	ASSERT_EQ(2 * PS, pwrite(fd, e->map + 40 * PS, 2 * PS, 2 * PS))
		TH_LOG("O_DIRECT write: %s", strerror(errno));
	close(fd);
	self->file = -1;
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(2 * PS, pread(fd, got, 2 * PS, 2 * PS));
	close(fd);
	EXPECT_EQ(-1, pcmig_pattern_check(got, PS, 0xcc, 40));
	EXPECT_EQ(-1, pcmig_pattern_check(got + PS, PS, 0xcc, 41));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 40));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 41));
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ	22
#define MADV_POPULATE_WRITE	23
#endif

/* get_user_pages from madvise: populate missing pages, read and write. */
TEST_F(kctx, madvise_populate_read_and_write)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t i;

	ASSERT_EQ(0, madvise(e->map + 24 * PS, 4 * PS, MADV_POPULATE_READ))
		TH_LOG("MADV_POPULATE_READ: %s", strerror(errno));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(4, st.pages_present);
	ASSERT_EQ(0, madvise(e->map + 28 * PS, 2 * PS, MADV_POPULATE_WRITE))
		TH_LOG("MADV_POPULATE_WRITE: %s", strerror(errno));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(6, st.pages_present);
	for (i = 24; i < 30; i++) {
		EXPECT_EQ(1, pcmig_source_requests(e->src, i))
			TH_LOG("page %llu", (unsigned long long)i);
	}
	EXPECT_EQ(-1, pcmig_env_check(e, 24, 6, 0xcc, NULL));
	EXPECT_EQ(6, pcmig_source_total_requests(e->src));
}

/* Signals while a fault waits */

static int sig_pipe = -1;

static void on_usr1(int sig)
{
	char c = 's';

	if (write(sig_pipe, &c, 1) != 1)
		_exit(9);
}

static void catch_usr1(int wfd)
{
	struct sigaction sa = { .sa_handler = on_usr1 };

	sig_pipe = wfd;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		_exit(8);
}

/* True if @fd becomes readable within @ms (and consume a byte). */
static bool got_byte(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&pfd, 1, ms) == 1 && read(fd, &c, 1) == 1;
}

TEST_F(kctx, user_fault_wait_runs_signal_handlers)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int p[2], status;
	pid_t kid;

	pcmig_source_hold(e->src, 50, 1);
	ASSERT_EQ(0, pipe(p));
	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0) {
		catch_usr1(p[1]);
		_exit(pcmig_pattern_check(e->map + 50 * PS, PS, 0xcc, 50) < 0 ?
		      0 : 1);
	}
	pcmig_env_kid(e, kid);
	close(p[1]);
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 50, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, 0, 1, &st));
	pcmig_msleep(100);

	/* Like a VMM kicking a vCPU thread: the handler runs, the access waits on. */
	ASSERT_EQ(0, kill(kid, SIGUSR1));
	EXPECT_TRUE(got_byte(p[0], 5000)) TH_LOG("the handler did not run");
	ASSERT_EQ(0, kill(kid, SIGUSR1));
	EXPECT_TRUE(got_byte(p[0], 5000)) TH_LOG("the handler did not run again");
	pcmig_msleep(100);
	status = pcmig_env_reap(e, kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s", pcmig_status_str(status));

	pcmig_source_release(e->src, 50, 1);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	close(p[0]);
	EXPECT_EQ(1, pcmig_source_requests(e->src, 50));
}

TEST_F(kctx, kernel_fault_wait_not_interrupted_by_signals)
{
	struct pcmig_env *e = &self->env;
	unsigned char want[PS];
	int p[2], status;
	pid_t kid;

	ASSERT_LE(0, make_file(self, "/tmp", 0, 1, 0xf00));
	pcmig_pattern_fill(want, PS, 0xf00, 1000);
	pcmig_source_hold(e->src, 51, 1);
	ASSERT_EQ(0, pipe(p));
	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0) {
		ssize_t n;

		catch_usr1(p[1]);
		n = pread(self->file, e->map + 51 * PS, PS, 0);
		if (n != PS)
			_exit(2);
		_exit(memcmp(want, e->map + 51 * PS, PS) ? 3 : 0);
	}
	pcmig_env_kid(e, kid);
	close(p[1]);
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 51, 1, PCMIG_WAIT_MS));
	pcmig_msleep(100);

	/* Killable, not interruptible: the signal waits for the syscall. */
	ASSERT_EQ(0, kill(kid, SIGUSR1));
	EXPECT_FALSE(got_byte(p[0], 500))
		TH_LOG("the handler ran while read() waited for the page");
	status = pcmig_env_reap(e, kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s (2: short read, 3: bad data)",
				     pcmig_status_str(status));

	pcmig_source_release(e->src, 51, 1);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s (2: short read, 3: bad data)",
		       pcmig_status_str(status));
	close(p[0]);
	EXPECT_EQ(1, pcmig_source_requests(e->src, 51));
}

TEST_F(kctx, kernel_fault_wait_is_killable)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int status;
	pid_t kid;

	ASSERT_LE(0, make_file(self, "/tmp", 0, 1, 0xf01));
	pcmig_source_hold(e->src, 52, 1);
	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0)
		_exit(pread(self->file, e->map + 52 * PS, PS, 0) == PS ? 0 : 2);
	pcmig_env_kid(e, kid);
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 52, 1, PCMIG_WAIT_MS));
	pcmig_msleep(100);
	ASSERT_EQ(0, kill(kid, SIGKILL));
	status = pcmig_env_reap(e, kid, 5000);
	EXPECT_TRUE(pcmig_died_of(status, SIGKILL))
		TH_LOG("child: %s", pcmig_status_str(status));
	/* The page still comes, the session is fine. */
	pcmig_source_release(e->src, 52, 1);
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st));
	EXPECT_EQ(-1, pcmig_env_check(e, 52, 1, 0xcc, NULL));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
}

/* Two sessions at once */

FIXTURE(two) {
	struct pcmig_env a, b;
};

FIXTURE_SETUP(two)
{
	pcmig_env_init(&self->a);
	pcmig_env_init(&self->b);
}

FIXTURE_TEARDOWN(two)
{
	pcmig_env_cleanup(&self->a);
	pcmig_env_cleanup(&self->b);
}

TEST_F_TIMEOUT(two, sessions_faulted_concurrently, 60)
{
	struct pcmig_env_opts oa = { .npages = 256, .listen = true,
				     .seed = 0xaaaa, .tag = "two-a" };
	struct pcmig_env_opts ob = { .npages = 256, .listen = true,
				     .seed = 0xbbbb, .split = true,
				     .transport = PCMIG_TRANSPORT_TCP,
				     .tag = "two-b" };
	struct pcmig_readers ra, rb;
	struct pcmig_status st;
	unsigned int t;
	int reta, retb;

	ASSERT_EQ(0, pcmig_env_setup(&self->a, &oa))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_env_setup(&self->b, &ob))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_NE(self->a.id, self->b.id);
	ASSERT_EQ(0, pcmig_readers_start(&ra, self->a.map, 0, 256, 0xaaaa, 2,
					 true, 11));
	pcmig_env_kid(&self->a, ra.pid);
	ASSERT_EQ(0, pcmig_readers_start(&rb, self->b.map, 0, 256, 0xbbbb, 2,
					 true, 22));
	pcmig_env_kid(&self->b, rb.pid);
	reta = pcmig_env_readers_wait(&self->a, &ra, 40000);
	retb = pcmig_env_readers_wait(&self->b, &rb, 40000);
	EXPECT_EQ(0, reta);
	EXPECT_EQ(0, retb);
	EXPECT_TRUE(pcmig_exited_ok(ra.status))
		TH_LOG("a: %s", pcmig_status_str(ra.status));
	EXPECT_TRUE(pcmig_exited_ok(rb.status))
		TH_LOG("b: %s", pcmig_status_str(rb.status));
	for (t = 0; t < 2; t++) {
		EXPECT_EQ(256, ra.res[t].checked);
		EXPECT_EQ(0, ra.res[t].bad);
		EXPECT_EQ(256, rb.res[t].checked);
		EXPECT_EQ(0, rb.res[t].bad);
	}
	pcmig_readers_cleanup(&ra);
	pcmig_readers_cleanup(&rb);
	ASSERT_EQ(0, pcmig_env_status(&self->a, &st));
	EXPECT_EQ(256, st.pages_present);
	ASSERT_EQ(0, pcmig_env_status(&self->b, &st));
	EXPECT_EQ(256, st.pages_present);
	EXPECT_EQ(1, pcmig_source_max_requests(self->a.src, NULL));
	EXPECT_EQ(1, pcmig_source_max_requests(self->b.src, NULL));
	EXPECT_EQ(256, pcmig_source_total_requests(self->a.src));
	EXPECT_EQ(256, pcmig_source_total_requests(self->b.src));
	/* And each has its own pages. */
	EXPECT_EQ(-1, pcmig_env_check(&self->a, 0, 256, 0xaaaa, NULL));
	EXPECT_EQ(-1, pcmig_env_check(&self->b, 0, 256, 0xbbbb, NULL));
}

/* The way QEMU maps a memory-backend-file */

FIXTURE(qemu) {
	struct pcmig_env env;
	void *region;
	size_t region_len;
	int fd;
};

FIXTURE_SETUP(qemu)
{
	struct pcmig_env_opts o = { .npages = 256, .listen = true,
				    .seed = 0x9e40, .tag = "qemu" };

	self->fd = -1;
	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(qemu)
{
	if (self->region)
		munmap(self->region, self->region_len);
	if (self->fd >= 0)
		close(self->fd);
	pcmig_env_cleanup(&self->env);
}

/* The child: opens the node, sees the parent's write, writes its own. */
static void qemu_child(uint32_t id, uint64_t size, uint64_t marker)
{
	char path[64];
	uint8_t *m;
	uint64_t v;
	int fd;

	pcmig_node_path(path, sizeof(path), id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		_exit(2);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		_exit(3);
	memcpy(&v, m + 3 * PS + 8, 8);
	if (v != marker)
		_exit(4);
	if (pcmig_pattern_check(m + 50 * PS, PS, 0x9e40, 50) >= 0)
		_exit(5);
	/* Write into a missing page: fetched first, then changed. */
	v = ~marker;
	memcpy(m + 100 * PS + 8, &v, 8);
	munmap(m, size);
	close(fd);
	_exit(0);
}

TEST_F(qemu, node_mapped_like_a_memory_backend_file)
{
	const uint64_t marker = 0x0123456789abcdefULL;
	struct pcmig_env *e = &self->env;
	unsigned char pg[PS];
	char path[64], flags[256];
	uintptr_t base;
	uint8_t *ram;
	uint64_t v;
	int ret, status;
	pid_t kid;

	pcmig_node_path(path, sizeof(path), e->id);
	self->fd = open(path, O_RDWR);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ((off_t)e->size, lseek(self->fd, 0, SEEK_END));
	/* QEMU tries to size the file and carries on if it cannot. */
	ret = ftruncate(self->fd, e->size);
	(void)ret;

	/* Reserve, then map over the reservation, 2 MiB aligned. */
	self->region_len = e->size + (2 << 20);
	self->region = mmap(NULL, self->region_len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, self->region);
	base = ((uintptr_t)self->region + (2 << 20) - 1) &
	       ~(uintptr_t)((2 << 20) - 1);
	ram = mmap((void *)base, e->size, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, self->fd, 0);
	ASSERT_EQ((void *)base, ram) TH_LOG("mmap: %s", strerror(errno));

	EXPECT_EQ(0, madvise(ram, e->size, MADV_HUGEPAGE))
		TH_LOG("MADV_HUGEPAGE: %s", strerror(errno));
	EXPECT_EQ(0, madvise(ram, e->size, MADV_DONTFORK))
		TH_LOG("MADV_DONTFORK: %s", strerror(errno));
	ret = madvise(ram, e->size, MADV_MERGEABLE);
	EXPECT_TRUE(ret == 0 || errno == EINVAL)
		TH_LOG("MADV_MERGEABLE: %s", strerror(errno));
	EXPECT_EQ(0, madvise(ram, e->size, MADV_DONTDUMP))
		TH_LOG("MADV_DONTDUMP: %s", strerror(errno));
	ASSERT_EQ(0, pcmig_smaps_vmflags(ram, flags, sizeof(flags)));
	EXPECT_TRUE(pcmig_vmflags_has(flags, "dd")) TH_LOG("VmFlags:%s",
							   flags);

	for (v = 0; v < 16; v++) {
		long off = pcmig_pattern_check(ram + v * PS, PS, 0x9e40, v);

		EXPECT_EQ(-1, off) TH_LOG("page %llu byte %ld",
					  (unsigned long long)v, off);
	}
	/* Every mapping sees the same pages. */
	memcpy(ram + 3 * PS + 8, &marker, 8);
	memcpy(&v, e->map + 3 * PS + 8, 8);
	EXPECT_EQ(marker, v);

	kid = fork();
	ASSERT_LE(0, kid);
	if (kid == 0)
		qemu_child(e->id, e->size, marker);
	pcmig_env_kid(e, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s (2 open, 3 mmap, 4 no marker, 5 page 50)",
		       pcmig_status_str(status));
	pcmig_pattern_fill(pg, PS, 0x9e40, 100);
	v = ~marker;
	memcpy(pg + 8, &v, 8);
	EXPECT_EQ(0, memcmp(pg, ram + 100 * PS, PS));
	EXPECT_EQ(0, memcmp(pg, e->map + 100 * PS, PS));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 100));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 3));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 50));
}

/*
 * The pause timeout (ABI 0.4): an outage longer than it fails the session
 * and blocked faults get SIGBUS instead of waiting for ever.
 */

#define PT_SEED		0x9a05
#define PT_MS		300
#define MS_NS		1000000ull

FIXTURE(ptimeout) {
	struct pcmig_env env;
	pid_t kid;
};

FIXTURE_SETUP(ptimeout)
{
	struct pcmig_env_opts o = {
		.npages = 16, .listen = true, .events = true, .seed = PT_SEED,
		.tag = "ptimeout",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t f0;

	pcmig_env_start(_metadata, e, &o);
	/* Page 0 present; page 5 requested, its reply held back. */
	ASSERT_EQ(-1, pcmig_env_check(e, 0, 1, PT_SEED, NULL));
	pcmig_source_hold(e->src, 5, 1);
	f0 = pcmig_faults(e->fd);
	self->kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 5, 1, PT_SEED,
						      false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS));
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, f0, 1, &st));
}

FIXTURE_TEARDOWN(ptimeout)
{
	pcmig_env_cleanup(&self->env);
}

/*
 * The session failed by the pause timeout from @old: the blocked fault got
 * SIGBUS, status and events say PAUSE_TIMEOUT, the outage lasted at least
 * @ms, present pages stay readable.
 */
static void check_timed_out(struct __test_metadata *_metadata,
			    FIXTURE_DATA(ptimeout) *self, uint32_t old,
			    uint32_t ms)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int status, i, j;

	status = pcmig_env_reap(e, self->kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("child: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_FAILED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_PAUSE_TIMEOUT, st.reason)
		TH_LOG("reason %s", pcmig_reason_name(st.reason));
	EXPECT_EQ(-ETIMEDOUT, st.error);
	EXPECT_EQ(PCMIG_STATE_NONE, st.resume_state);
	EXPECT_LE((uint64_t)ms * MS_NS, st.paused_total_ns)
		TH_LOG("failed after %llu ns",
		       (unsigned long long)st.paused_total_ns);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(1, st.in_flight);
	i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_ERROR, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_PAUSE_TIMEOUT, ev.s.reason);
	EXPECT_EQ(-ETIMEDOUT, ev.s.error);
	j = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_FAILED, PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, j) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(old, ev.s.old_state);
	EXPECT_LT(i, j) TH_LOG("EVENT_STATE(FAILED) before EVENT_ERROR");
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 1, PT_SEED, NULL));
	/* Final: the timeout can no longer be changed. */
	EXPECT_EQ(-EBUSY, pcmig_set_pause_timeout(e->fd, 0));
}

TEST_F(ptimeout, blocked_fault_gets_sigbus)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_set_pause_timeout(e->fd, PT_MS));
	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(PT_MS, st.pause_timeout_ms);
	check_timed_out(_metadata, self, PCMIG_STATE_PAUSED, PT_MS);
}

/* RECOVER is part of the outage: the timeout runs on there. */
TEST_F(ptimeout, runs_on_in_recover)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_set_pause_timeout(e->fd, PT_MS));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_PAUSED));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	ASSERT_EQ(PCMIG_STATE_RECOVER, st.state);
	check_timed_out(_metadata, self, PCMIG_STATE_RECOVER, PT_MS);
}

/* A timeout set when the outage already lasted longer fails at once. */
TEST_F(ptimeout, already_past_fails_at_once)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_PAUSED));
	pcmig_msleep(2 * PT_MS);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	ASSERT_EQ(PCMIG_STATE_PAUSED, st.state);
	EXPECT_EQ(PCMIG_REASON_USER, st.reason);
	ASSERT_EQ(0, pcmig_set_pause_timeout(e->fd, PT_MS));
	/* Before the ioctl returned. */
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
	check_timed_out(_metadata, self, PCMIG_STATE_PAUSED, 2 * PT_MS);
}

/*
 * 0 disarms a running timeout; a recovery ends the outage and its
 * timeout; the next outage is timed from its own start.
 */
TEST_F_TIMEOUT(ptimeout, zero_disarms_recovery_ends_it, 60)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	uint64_t total;
	int status;

	ASSERT_EQ(0, pcmig_set_pause_timeout(e->fd, PT_MS));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_PAUSED));
	ASSERT_EQ(0, pcmig_set_pause_timeout(e->fd, 0));
	pcmig_msleep(3 * PT_MS);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_PAUSED, st.state);
	EXPECT_EQ(PCMIG_REASON_USER, st.reason);
	EXPECT_EQ(0, st.pause_timeout_ms);
	status = pcmig_env_reap(e, self->kid, 0);
	EXPECT_EQ(-1, status) TH_LOG("child: %s", pcmig_status_str(status));

	/* Recovered well within a new, longer timeout. */
	ASSERT_EQ(0, pcmig_set_pause_timeout(e->fd, 20 * PT_MS));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	ASSERT_EQ(0, pcmig_env_new_source(e, PCMIG_TRANSPORT_UNIX, false,
					  PT_SEED))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	status = pcmig_env_reap(e, self->kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 5, 1, PT_SEED, NULL));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(1, st.recoveries);
	EXPECT_EQ(1, st.requests_resent);
	total = st.paused_total_ns;
	EXPECT_LE(3 * PT_MS * MS_NS, total);

	/* Out of the outage, the old deadline passes: nothing happens. */
	ASSERT_EQ(0, pcmig_set_pause_timeout(e->fd, PT_MS));
	pcmig_msleep(3 * PT_MS);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(total, st.paused_total_ns);

	/* A new outage is timed from its own start. */
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_PAUSED));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_FAILED, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_PAUSE_TIMEOUT, st.reason);
	EXPECT_EQ(-ETIMEDOUT, st.error);
	EXPECT_LE(total + PT_MS * MS_NS, st.paused_total_ns);
	EXPECT_EQ(2, st.pauses);
}

PCMIG_HARNESS_MAIN
