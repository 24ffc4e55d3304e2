// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) on
 * a session file, the way QEMU gives guest memory back (balloon, virtio-mem,
 * discard-data). A punched page reads as zeros and is present for good: no
 * request goes out for it, a fault waiting for it wakes, what it held is
 * gone (its memory freed), a page being received for it is dropped, and
 * whatever the source sends for it later is a legitimate duplicate. Only
 * that one mode is supported, on page-aligned ranges inside the session.
 *
 * fallocate(2) reaches a regular file only: PCMIG_IOC_CREATE's descriptor
 * is one (and so is its reopening through /proc/<pid>/fd/<n>); the device
 * node, a character device, gets -ENODEV from the VFS.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_session.h"

#define PS		PCMIG_PS
#define PAGES		64
#define SEED		0x9e11
#define PUNCH_MODE	(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define PROMPT_MS	1500	/* "at once", in an emulated guest */

static void __attribute__((constructor)) punch_test_init(void)
{
	pcmig_leak_guard_install();
}

/* Punch pages [first, first + n) of @fd: 0 or -errno. */
static int punch(int fd, uint64_t first, uint64_t n)
{
	return fallocate(fd, PUNCH_MODE, first * PS, n * PS) ? -errno : 0;
}

/* fallocate() with any arguments: 0 or -errno. */
static int falloc(int fd, int mode, off_t off, off_t len)
{
	return fallocate(fd, mode, off, len) ? -errno : 0;
}

/* -1 if pages [first, first + n) of @map are zero, else the first that is not. */
static int64_t nonzero_page(const uint8_t *map, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++)
		if (pcmig_zero_check(map + i * PS, PS) >= 0)
			return (int64_t)i;
	return -1;
}

/*
 * Read pages [first, first + n) in a child, expecting zeros (@seed 0) or
 * @seed's pattern: whether it finished within @ms and found them right.
 * A child still blocked is killed by the cleanup.
 */
static bool read_in_child(struct pcmig_env *e, uint64_t first, uint64_t n,
			  uint64_t seed, int ms, int *status)
{
	pid_t kid = pcmig_env_kid(e, pcmig_fork_check(e->map, first, n, seed,
						      !seed));

	*status = pcmig_env_reap(e, kid, ms);
	return pcmig_exited_ok(*status);
}

FIXTURE(punch) {
	struct pcmig_env env;
};

FIXTURE_VARIANT(punch) {
	enum pcmig_transport transport;
};

/* Replies copied from the socket's receive callback, and the work item. */
FIXTURE_VARIANT_ADD(punch, tcp) {
	.transport = PCMIG_TRANSPORT_TCP,
};

/* Read by a thread with recvmsg(). */
FIXTURE_VARIANT_ADD(punch, unix) {
	.transport = PCMIG_TRANSPORT_UNIX,
};

FIXTURE_SETUP(punch)
{
	pcmig_env_init(&self->env);
}

FIXTURE_TEARDOWN(punch)
{
	pcmig_env_cleanup(&self->env);
}

/* Split channels; LISTEN and RUNNING if @running, ADVISE otherwise. */
static void start(struct __test_metadata *_metadata, struct pcmig_env *e,
		  enum pcmig_transport transport, bool running)
{
	struct pcmig_env_opts o = {
		.npages = PAGES, .transport = transport, .split = true,
		.listen = running, .seed = SEED, .tag = "punch",
	};

	pcmig_env_start(_metadata, e, &o);
	if (running) {
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	}
}

/* The session is still fine: @state, no reason, no error. */
static void still_fine(struct __test_metadata *_metadata, struct pcmig_env *e,
		       uint32_t state, struct pcmig_status *st)
{
	ASSERT_EQ(0, pcmig_env_status(e, st));
	EXPECT_EQ(state, st->state) TH_LOG("state %s, reason %s",
					   pcmig_state_name(st->state),
					   pcmig_reason_name(st->reason));
	EXPECT_EQ(PCMIG_REASON_NONE, st->reason);
	EXPECT_EQ(0, st->error);
}

/*
 * Missing pages punched in RUNNING read as zeros through the mapping, with
 * no request and no fault on a missing page; their neighbours are still
 * fetched.
 */
TEST_F(punch, missing_pages_read_zeros_without_request)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_nl_session nl;
	struct pcmig_status st;
	int status;

	start(_metadata, e, variant->transport, true);
	ASSERT_EQ(0, punch(e->fd, 8, 16));
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(16, st.pages_punched);
	EXPECT_EQ(16, st.pages_present);

	EXPECT_TRUE(read_in_child(e, 8, 16, 0, PCMIG_WAIT_MS, &status))
		TH_LOG("reader of the punched pages: %s",
		       pcmig_status_str(status));
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(0, st.requests_sent);
	EXPECT_EQ(0, st.pages_requested);
	EXPECT_EQ(0, st.faults);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(16, st.pages_present);
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));

	/* The pages around the hole are still the source's. */
	EXPECT_TRUE(read_in_child(e, 7, 1, SEED, PCMIG_WAIT_MS, &status))
		TH_LOG("reader of page 7: %s", pcmig_status_str(status));
	EXPECT_TRUE(read_in_child(e, 24, 1, SEED, PCMIG_WAIT_MS, &status))
		TH_LOG("reader of page 24: %s", pcmig_status_str(status));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 7));
	EXPECT_EQ(1, pcmig_source_requests(e->src, 24));
	EXPECT_EQ(2, pcmig_source_total_requests(e->src));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(16, st.pages_punched);
	EXPECT_EQ(18, st.pages_present);

	/* The counter over generic netlink too. */
	ASSERT_EQ(0, pcmig_genl_session_get(e->id, &nl));
	EXPECT_TRUE(PCMIG_NL_HAS(&nl, PCMIG_ATTR_PAGES_PUNCHED));
	EXPECT_EQ(16, nl.pages_punched);
}

/*
 * A fault waiting for a page wakes when the page is punched and reads
 * zeros; the reply to its request, arriving later, is a duplicate.
 */
TEST_F(punch, blocked_fault_wakes_with_zeros)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int status;
	pid_t kid;

	start(_metadata, e, variant->transport, true);
	pcmig_source_hold_all(e->src, true);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 5, 1, 0, true));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 5, 1, PCMIG_WAIT_MS));
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(-1, pcmig_env_reap(e, kid, 0));

	ASSERT_EQ(0, punch(e->fd, 5, 1));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("fault on the punched page: %s",
		       pcmig_status_str(status));
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(1, st.pages_punched);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(1, st.pages_requested);
	EXPECT_EQ(0, st.in_flight);

	/* The held reply (REQUESTED) comes now: dropped, not an error. */
	pcmig_source_release_all(e->src);
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_duplicate, 1, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(1, st.pages_duplicate);
	EXPECT_EQ(0, st.pages_received);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(-1, nonzero_page(e->map, 5, 1));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
}

/*
 * Present pages punched lose their contents in every mapping and leave
 * the page cache (mincore); the pages around them keep theirs. Nothing
 * is requested: they are present.
 */
TEST_F(punch, present_pages_lose_contents_and_memory)
{
	struct pcmig_env *e = &self->env;
	unsigned char vec[16];
	struct pcmig_status st;
	char path[64];
	uint8_t *map2;
	int fd2, i;

	start(_metadata, e, variant->transport, true);
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 16));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 16, PCMIG_WAIT_MS,
				      &st));
	/* Mapped through the session file and through the node. */
	pcmig_node_path(path, sizeof(path), e->id);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2) TH_LOG("open %s: %s", path, strerror(errno));
	map2 = mmap(NULL, e->size, PROT_READ, MAP_SHARED, fd2, 0);
	close(fd2);
	ASSERT_NE(MAP_FAILED, map2);
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 16, SEED, NULL));
	for (i = 0; i < 16; i++)
		EXPECT_EQ(-1, pcmig_pattern_check(map2 + i * PS, PS, SEED, i));
	ASSERT_EQ(0, mincore(e->map, 16 * PS, vec));
	for (i = 0; i < 16; i++) {
		int resident = vec[i] & 1;

		EXPECT_EQ(1, resident) TH_LOG("page %d not resident", i);
	}

	ASSERT_EQ(0, punch(e->fd, 4, 8));
	/* Freed: out of the page cache until touched again. */
	ASSERT_EQ(0, mincore(e->map, 16 * PS, vec));
	for (i = 0; i < 16; i++) {
		int kept = i < 4 || i >= 12, resident = vec[i] & 1;

		EXPECT_EQ(kept, resident) TH_LOG("page %d", i);
	}

	EXPECT_EQ(-1, nonzero_page(e->map, 4, 8));
	EXPECT_EQ(-1, nonzero_page(map2, 4, 8));
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 4, SEED, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 12, 4, SEED, NULL));
	for (i = 12; i < 16; i++)
		EXPECT_EQ(-1, pcmig_pattern_check(map2 + i * PS, PS, SEED, i));
	munmap(map2, e->size);

	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(0, st.pages_punched);
	EXPECT_EQ(16, st.pages_present);
	EXPECT_EQ(16, st.pages_received);
	EXPECT_EQ(0, st.requests_sent);
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));
}

/*
 * A page whose payload trickles in on the bulk channel is punched half-way:
 * the punch returns at once, the page reads zeros from then on (never a
 * part of the payload), and once the payload is complete it is dropped.
 */
#define TRICKLED	20
#define TRICKLE_FIRST	100	/* payload bytes sent before the punch */

static int trickle(struct pcmig_env *e, const unsigned char *frame,
		   size_t from, size_t to)
{
	return pcmig_source_send_raw(e->src, PCMIG_CHANNEL_BULK, frame + from,
				     to - from);
}

TEST_F(punch, page_in_flight_is_dropped)
{
	struct pcmig_env *e = &self->env;
	const struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC, .version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_PAGES, .npages = 1, .len = PS,
		.offset = TRICKLED * PS,
	};
	unsigned char frame[PCMIG_FRAME_HDR_LEN + PS];
	const size_t first = PCMIG_FRAME_HDR_LEN + TRICKLE_FIRST;
	struct pcmig_status st;
	int status;
	uint64_t t0;
	pid_t kid;

	start(_metadata, e, variant->transport, true);
	pcmig_frame_encode(frame, &d);
	pcmig_pattern_fill(frame + PCMIG_FRAME_HDR_LEN, PS, SEED, TRICKLED);
	ASSERT_EQ(0, trickle(e, frame, 0, first));
	pcmig_msleep(PCMIG_SHORT_MS);

	/* In a child: a punch that waited for the page would hang here. */
	t0 = pcmig_now_ms();
	kid = fork();
	if (!kid)
		_exit(punch(e->fd, TRICKLED, 1) ? 1 : 0);
	pcmig_env_kid(e, kid);
	status = pcmig_env_reap(e, kid, PROMPT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("punch: %s", pcmig_status_str(status));
	EXPECT_GE(PROMPT_MS, pcmig_now_ms() - t0);

	/* Present already, as zeros, while the payload is still coming. */
	EXPECT_TRUE(read_in_child(e, TRICKLED, 1, 0, PCMIG_WAIT_MS, &status))
		TH_LOG("reader: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(0, st.pages_received);

	ASSERT_EQ(0, trickle(e, frame, first, first + PS / 2));
	pcmig_msleep(PCMIG_SHORT_MS);
	EXPECT_EQ(-1, nonzero_page(e->map, TRICKLED, 1));
	ASSERT_EQ(0, trickle(e, frame, first + PS / 2, sizeof(frame)));
	/* A frame after it: the trickled one has been handled by then. */
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 30, 1,
					     0));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 2, PCMIG_WAIT_MS,
				      &st));
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(2, st.pages_present);
	EXPECT_EQ(1, st.pages_received);
	EXPECT_EQ(1, st.pages_punched);
	EXPECT_EQ(0, st.pages_duplicate);
	EXPECT_EQ(-1, nonzero_page(e->map, TRICKLED, 1));
	EXPECT_EQ(-1, pcmig_env_check(e, 30, 1, SEED, NULL));
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));
}

/*
 * What the source sends for punched pages later is dropped as a
 * duplicate, whatever the frame (pushed PAGES on either channel, ZERO,
 * even a REQUESTED reply: a punch marks its pages requested), and the
 * session goes on.
 */
TEST_F(punch, later_frames_are_duplicates)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	start(_metadata, e, variant->transport, true);
	ASSERT_EQ(0, punch(e->fd, 10, 4));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 10, 1,
					     0));
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 11, 1));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT, 12,
					     1, PCMIG_FRAME_F_REQUESTED));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT, 13,
					     1, 0));
	/* Two frames covering punched pages and others. */
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 8, 4,
					     0));
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 12, 4));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_duplicate, 8, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s (state %s, reason %s)",
						   pcmig_lib_error(),
						   pcmig_state_name(st.state),
						   pcmig_reason_name(st.reason));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 8, PCMIG_WAIT_MS,
				      &st));
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(8, st.pages_duplicate);
	EXPECT_EQ(8, st.pages_present);
	EXPECT_EQ(4, st.pages_punched);
	EXPECT_EQ(2, st.pages_received);
	EXPECT_EQ(2, st.pages_zero);
	EXPECT_EQ(-1, nonzero_page(e->map, 10, 4));
	EXPECT_EQ(-1, pcmig_env_check(e, 8, 2, SEED, NULL));
	EXPECT_EQ(-1, nonzero_page(e->map, 14, 2));
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));
}

/* Punched pages count as present: the session ends without them. */
TEST_F(punch, session_ends_with_punched_pages)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int status;

	start(_metadata, e, variant->transport, true);
	ASSERT_EQ(0, punch(e->fd, 0, 16));
	EXPECT_TRUE(read_in_child(e, 16, 16, SEED, PCMIG_WAIT_MS, &status))
		TH_LOG("reader: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 32, 32));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_END, PCMIG_WAIT_MS,
				      &st))
		TH_LOG("%s (%llu pages present)", pcmig_lib_error(),
		       (unsigned long long)st.pages_present);
	EXPECT_EQ(PAGES, st.pages_present);
	EXPECT_EQ(16, st.pages_punched);
	EXPECT_EQ(48, st.pages_received);
	EXPECT_EQ(16, pcmig_source_total_requests(e->src));
	EXPECT_EQ(-1, nonzero_page(e->map, 0, 16));
	EXPECT_EQ(-1, pcmig_env_check(e, 16, 48, SEED, NULL));
	EXPECT_EQ(0, pcmig_source_wait_eof(e->src, PCMIG_WAIT_MS));

	/* In END a punch still zeroes a page. */
	ASSERT_EQ(0, punch(e->fd, 40, 1));
	EXPECT_EQ(-1, nonzero_page(e->map, 40, 1));
	EXPECT_EQ(-1, pcmig_env_check(e, 39, 1, SEED, NULL));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_END, st.state);
	EXPECT_EQ(16, st.pages_punched);
}

/* Punching the last missing pages ends the session there and then. */
TEST_F(punch, punching_the_last_missing_pages_ends)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;

	start(_metadata, e, variant->transport, true);
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, PAGES - 4));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, PAGES - 4,
				      PCMIG_WAIT_MS, &st));
	EXPECT_EQ(PCMIG_STATE_RUNNING, st.state);
	ASSERT_EQ(0, punch(e->fd, PAGES - 4, 4));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_END, st.state);
	EXPECT_EQ(PAGES, st.pages_present);
	EXPECT_EQ(4, st.pages_punched);
	EXPECT_EQ(-1, nonzero_page(e->map, PAGES - 4, 4));
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));
}

/*
 * Only PUNCH_HOLE | KEEP_SIZE, on page-aligned ranges inside the session.
 * Nothing changes on a refused call.
 */
TEST_F(punch, modes_and_ranges)
{
	static const int modes[] = {
		0,
		FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE,
		FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_COLLAPSE_RANGE,
		FALLOC_FL_INSERT_RANGE,
		FALLOC_FL_UNSHARE_RANGE,
		PUNCH_MODE | FALLOC_FL_ZERO_RANGE,
	};
	static const struct {
		off_t off, len;
		int err;
	} ranges[] = {
		{ PS / 2, PS, -EINVAL },
		{ 0, PS / 2, -EINVAL },
		{ PS, PS + 1, -EINVAL },
		{ PAGES * PS, PS, -EINVAL },
		{ (PAGES - 1) * PS, 2 * PS, -EINVAL },
		{ 0, (PAGES + 1) * PS, -EINVAL },
		{ 0, 0, -EINVAL },
		{ -PS, PS, -EINVAL },
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	unsigned int i;

	start(_metadata, e, variant->transport, true);
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 1));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1, PCMIG_WAIT_MS,
				      &st));
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		EXPECT_EQ(-EOPNOTSUPP, falloc(e->fd, modes[i], 0, 2 * PS))
			TH_LOG("mode %#x", modes[i]);
	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		EXPECT_EQ(ranges[i].err, falloc(e->fd, PUNCH_MODE, ranges[i].off,
						ranges[i].len))
			TH_LOG("offset %lld length %lld",
			       (long long)ranges[i].off,
			       (long long)ranges[i].len);

	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(0, st.pages_punched);
	EXPECT_EQ(1, st.pages_present);
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 1, SEED, NULL));

	/* The whole session at once is fine. */
	ASSERT_EQ(0, falloc(e->fd, PUNCH_MODE, 0, PAGES * PS));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_END, st.state);
	EXPECT_EQ(PAGES - 1, st.pages_punched);
	EXPECT_EQ(-1, nonzero_page(e->map, 0, PAGES));
}

/*
 * The descriptor PCMIG_IOC_CREATE returns is a regular file of the
 * session's size; the node is a character device, on which the VFS
 * refuses fallocate() (-ENODEV) before pcmig sees it. A process that only
 * has the session file it opened through /proc/<pid>/fd/<n> (QEMU given
 * that path as mem-path) maps and punches through it.
 */
TEST_F(punch, reopened_session_file_in_another_process)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	char path[64], proc[64];
	struct stat sb;
	int fd, status;
	pid_t kid;

	start(_metadata, e, variant->transport, true);
	ASSERT_EQ(0, fstat(e->fd, &sb));
	EXPECT_TRUE(S_ISREG(sb.st_mode)) TH_LOG("mode %o", sb.st_mode);
	EXPECT_EQ((off_t)e->size, sb.st_size);

	pcmig_node_path(path, sizeof(path), e->id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	EXPECT_EQ(-ENODEV, punch(fd, 3, 1));
	close(fd);

	snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", (int)getpid(), e->fd);
	fd = open(proc, O_RDONLY | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(EACCES, errno);

	kid = fork();
	if (!kid) {
		uint8_t *map;
		int f;

		f = open(proc, O_RDWR | O_CLOEXEC);
		if (f < 0)
			_exit(2);
		munmap(e->map, e->size);
		close(e->fd);
		map = mmap(NULL, e->size, PROT_READ, MAP_SHARED, f, 0);
		if (map == MAP_FAILED)
			_exit(3);
		if (punch(f, 3, 2))
			_exit(4);
		if (nonzero_page(map, 3, 2) != -1)
			_exit(5);
		if (pcmig_get_status(f, &st) || st.pages_punched != 2)
			_exit(6);
		_exit(0);
	}
	pcmig_env_kid(e, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(2, st.pages_punched);
	EXPECT_EQ(2, st.pages_present);
	EXPECT_EQ(-1, nonzero_page(e->map, 3, 2));
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));

	/* A destroyed session cannot be opened again that way either. */
	ASSERT_EQ(0, pcmig_env_destroy(e));
	fd = open(proc, O_RDWR | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-EBUSY, punch(e->fd, 6, 1));
}

/*
 * The mm takes a session file for a tmpfs file (its mapping is tmpfs's)
 * and reads, or with F_ADD_SEALS writes, the memfd seals of its inode: a
 * tmpfs inode's, F_SEAL_SEAL, on the file PCMIG_IOC_CREATE returns and on
 * the node (devtmpfs is tmpfs), so that no seal can be added.
 */
TEST_F(punch, no_seals_on_session_files)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	char path[64];
	int fd, status;

	start(_metadata, e, variant->transport, true);
	pcmig_node_path(path, sizeof(path), e->id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	EXPECT_EQ(F_SEAL_SEAL, fcntl(e->fd, F_GET_SEALS));
	EXPECT_EQ(-1, fcntl(e->fd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(F_SEAL_SEAL, fcntl(fd, F_GET_SEALS));
	EXPECT_EQ(-1, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(EPERM, errno);
	close(fd);
	EXPECT_EQ(F_SEAL_SEAL, fcntl(e->fd, F_GET_SEALS));
	/* Still mapped and written: nothing sealed. */
	EXPECT_TRUE(read_in_child(e, 1, 1, SEED, PCMIG_WAIT_MS, &status))
		TH_LOG("reader: %s", pcmig_status_str(status));
	e->map[PS] ^= 0xff;
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
}

/*
 * Before LISTEN a punched page is present too, and the source's copy of it
 * is a duplicate; a DISCARD afterwards makes a punched page missing again
 * (the source's copy is newer), and it is then fetched.
 */
TEST_F(punch, before_listen_and_discard_after)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int status;

	start(_metadata, e, variant->transport, false);
	ASSERT_EQ(0, punch(e->fd, 2, 2));
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 4));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_duplicate, 2, PCMIG_WAIT_MS,
				      &st));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 4, PCMIG_WAIT_MS,
				      &st));
	still_fine(_metadata, e, PCMIG_STATE_ADVISE, &st);
	EXPECT_EQ(2, st.pages_punched);
	EXPECT_EQ(2, st.pages_received);
	ASSERT_EQ(0, pcmig_discard(e->fd, 3 * PS, PS));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	EXPECT_EQ(-1, nonzero_page(e->map, 2, 1));
	EXPECT_TRUE(read_in_child(e, 3, 1, SEED, PCMIG_WAIT_MS, &status))
		TH_LOG("reader of page 3: %s", pcmig_status_str(status));
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 2, SEED, NULL));
	still_fine(_metadata, e, PCMIG_STATE_LISTEN, &st);
	EXPECT_EQ(1, st.pages_discarded);
	EXPECT_EQ(1, pcmig_source_requests(e->src, 3));
	EXPECT_EQ(1, pcmig_source_total_requests(e->src));
}

/*
 * The guest runs during an outage: a punch in PAUSED wakes a fault that
 * waits there, one in RECOVER works too, and the pages are not requested
 * again when the session resumes. In FAILED a punch is refused.
 */
TEST_F(punch, paused_recover_and_failed)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int status;
	pid_t kid;

	start(_metadata, e, variant->transport, true);
	pcmig_source_hold_all(e->src, true);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 9, 1, 0, true));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, 9, 1, PCMIG_WAIT_MS));
	pcmig_close_source_paused(_metadata, e, &st);
	ASSERT_EQ(-1, pcmig_env_reap(e, kid, 0));

	ASSERT_EQ(0, punch(e->fd, 9, 1));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("fault on the punched page: %s",
		       pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_PAUSED, st.state);
	EXPECT_EQ(1, st.pages_punched);

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	ASSERT_EQ(0, punch(e->fd, 11, 1));
	ASSERT_EQ(0, pcmig_env_new_source(e, variant->transport, true, SEED))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	EXPECT_EQ(-1, nonzero_page(e->map, 9, 1));
	EXPECT_EQ(-1, nonzero_page(e->map, 11, 1));
	pcmig_msleep(PCMIG_SHORT_MS);
	still_fine(_metadata, e, PCMIG_STATE_RUNNING, &st);
	EXPECT_EQ(2, st.pages_punched);
	EXPECT_EQ(0, st.requests_resent);
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_FAILED));
	EXPECT_EQ(-EBUSY, punch(e->fd, 20, 1));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(2, st.pages_punched);
}

PCMIG_HARNESS_MAIN
