// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: session memory never gets huge pages. Presence is tracked
 * per 4 KiB page; a 2 MiB folio mapped with one PMD would show 511 pages that
 * have not arrived as zeros, without a fault. The module's tmpfs mount asks
 * for no huge pages, but shmem_enabled=force overrides every mount: sessions
 * are refused while it is set (-EOPNOTSUPP), and a session that meets a huge
 * page because it was set later fails (reason HUGE_PAGE) instead of mapping
 * or writing it, whether the fault path or the receiver finds it.
 *
 * The tests switch /sys/kernel/mm/transparent_hugepage/shmem_enabled and put
 * the old setting back when they end (and when the program exits).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"

#define PS		PCMIG_PS
#define THP_KNOB	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define THP_SIZE	(2u << 20)
#define THP_KB		(THP_SIZE >> 10)
#define THP_NPAGES	1024		/* two huge pages' worth */

/* The setting before the tests ("" if there is none); never "force". */
static char thp_saved[32];

/* The selected word of THP_KNOB ("always within_size [never] ..."). */
static int thp_get(char *buf, size_t len)
{
	char line[256], *lb, *rb;
	ssize_t n;
	int fd;

	fd = open(THP_KNOB, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	line[n] = '\0';
	lb = strchr(line, '[');
	rb = lb ? strchr(lb, ']') : NULL;
	if (!rb || (size_t)(rb - lb) > len)
		return -EINVAL;
	*rb = '\0';
	snprintf(buf, len, "%s", lb + 1);
	return 0;
}

static int thp_set(const char *val)
{
	ssize_t n;
	int fd;

	fd = open(THP_KNOB, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -EIO;
}

static int thp_restore(void)
{
	return thp_saved[0] ? thp_set(thp_saved) : 0;
}

static void __attribute__((constructor)) thp_test_init(void)
{
	pcmig_leak_guard_install();
	if (thp_get(thp_saved, sizeof(thp_saved)))
		thp_saved[0] = '\0';
	/* A guest left in "force" by a killed run: start from "never". */
	if (!strcmp(thp_saved, "force"))
		snprintf(thp_saved, sizeof(thp_saved), "never");
}

static void __attribute__((destructor)) thp_test_exit(void)
{
	thp_restore();
}

/*
 * Map all of @fd's @size bytes shared at an address aligned to 2 MiB, as a
 * VMM aligns guest RAM, so that a huge page could be mapped with one PMD.
 */
static uint8_t *map_aligned(int fd, size_t size)
{
	size_t span = size + THP_SIZE;
	uint8_t *base, *at, *end;

	base = mmap(NULL, span, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	at = (uint8_t *)(((uintptr_t)base + THP_SIZE - 1) &
			 ~(uintptr_t)(THP_SIZE - 1));
	if (mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 0) == MAP_FAILED) {
		munmap(base, span);
		return NULL;
	}
	end = at + size;
	if (at > base)
		munmap(base, at - base);
	if (end < base + span)
		munmap(end, base + span - end);
	return at;
}

/*
 * Fork a child that reads page @a of @map, then page @b, and compares them
 * with the pattern of @seed (@a with zeros if @a_zero). It exits 0 if both
 * match, 1 if page @a differs, 2 if page @b reads as zeros (a page that
 * has not arrived, mapped along with @a), 3 if page @b differs otherwise.
 * A fault that fails kills it with SIGBUS.
 */
static pid_t fork_read_two(const uint8_t *map, uint64_t a, bool a_zero,
			   uint64_t b, uint64_t seed)
{
	const uint8_t *pa = map + a * PS, *pb = map + b * PS;
	pid_t pid;

	pid = fork();
	if (pid)
		return pid;
	if ((a_zero ? pcmig_zero_check(pa, PS) :
		      pcmig_pattern_check(pa, PS, seed, a)) >= 0)
		_exit(1);
	if (pcmig_zero_check(pb, PS) < 0)
		_exit(2);
	_exit(pcmig_pattern_check(pb, PS, seed, b) < 0 ? 0 : 3);
}

FIXTURE(thp) {
	struct pcmig_env env;
	uint8_t *amap;		/* the session, mapped at 2 MiB */
	int ctl;
};

FIXTURE_SETUP(thp)
{
	pcmig_env_init(&self->env);
	self->ctl = -1;
}

FIXTURE_TEARDOWN(thp)
{
	thp_restore();
	if (self->amap)
		munmap(self->amap, self->env.size);
	pcmig_env_cleanup(&self->env);
	if (self->ctl >= 0)
		close(self->ctl);
}

/* True if this kernel has the knob and the tests may turn it. */
static bool thp_usable(void)
{
	return thp_saved[0] && !access(THP_KNOB, W_OK);
}

/* A session of THP_NPAGES pages in LISTEN, mapped at 2 MiB too. */
static void thp_session(struct __test_metadata *_metadata,
			FIXTURE_DATA(thp) *self, uint64_t seed)
{
	struct pcmig_env_opts o = { .npages = THP_NPAGES, .listen = true,
				    .seed = seed, .tag = "thp" };

	pcmig_env_start(_metadata, &self->env, &o);
	self->amap = map_aligned(self->env.fd, self->env.size);
	ASSERT_NE(NULL, self->amap) TH_LOG("mmap: %s", strerror(errno));
}

/* ShmemHugePages in kB, the huge pages tmpfs holds. */
static long shmem_huge_kb(void)
{
	return pcmig_meminfo_kb("ShmemHugePages");
}

TEST_F(thp, create_refused_under_force)
{
	static const char * const fine[] = {
		"always", "within_size", "advise", "never", "deny",
	};
	const char *name = PCMIG_ST_PREFIX "thp-create";
	unsigned int i;
	int fd;

	if (!thp_usable())
		SKIP(return, "no writable %s", THP_KNOB);
	self->ctl = pcmig_ctl_open();
	ASSERT_LE(0, self->ctl);

	ASSERT_EQ(0, thp_set("force"));
	fd = pcmig_create(self->ctl, 16 * PS, 0, name, NULL);
	EXPECT_EQ(-EOPNOTSUPP, fd)
		TH_LOG("create under force: %s", fd < 0 ? strerror(-fd) : "a session");
	if (fd >= 0) {
		pcmig_destroy(fd);
		close(fd);
	}

	/* The other settings do not reach the module's mount. */
	for (i = 0; i < ARRAY_SIZE(fine); i++) {
		ASSERT_EQ(0, thp_set(fine[i]));
		fd = pcmig_create(self->ctl, 16 * PS, 0, name, NULL);
		EXPECT_LE(0, fd) TH_LOG("create under %s: %s", fine[i],
					strerror(-fd));
		if (fd >= 0) {
			EXPECT_EQ(0, pcmig_destroy(fd));
			close(fd);
		}
	}
}

/*
 * The session met a huge page: FAILED with reason HUGE_PAGE, @present pages
 * present (none written since), and page @never never requested.
 */
static void expect_failed_huge(struct __test_metadata *_metadata,
			       struct pcmig_env *e, uint64_t present,
			       uint64_t never)
{
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state)
		TH_LOG("state %s", pcmig_state_name(st.state));
	EXPECT_EQ(PCMIG_REASON_HUGE_PAGE, st.reason)
		TH_LOG("reason %s", pcmig_reason_name(st.reason));
	EXPECT_EQ(-EOPNOTSUPP, st.error);
	EXPECT_EQ(present, st.pages_present);
	EXPECT_EQ(0, pcmig_source_requests(e->src, never));
}

/*
 * shmem_enabled becomes force after the session was created; a fault on
 * page 0 would get a huge page. Reading page 1 right after page 0 must not
 * see zeros: page 1 never arrived.
 */
TEST_F(thp, force_later_fault_fails_session)
{
	struct pcmig_env *e = &self->env;
	long hp0, hp1;
	int status;
	pid_t kid;

	if (!thp_usable())
		SKIP(return, "no writable %s", THP_KNOB);
	thp_session(_metadata, self, 0x7e1);

	hp0 = shmem_huge_kb();
	ASSERT_EQ(0, thp_set("force"));
	kid = pcmig_env_kid(e, fork_read_two(self->amap, 0, false, 1,
					     0x7e1));
	ASSERT_LT(0, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	hp1 = shmem_huge_kb();
	ASSERT_EQ(0, thp_restore());
	if (hp1 - hp0 < THP_KB)
		SKIP(return, "tmpfs found no huge page (ShmemHugePages %ld -> %ld kB)",
		     hp0, hp1);

	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("reader: %s (2: page 1 read as zeros, never requested)",
		       pcmig_status_str(status));
	expect_failed_huge(_metadata, e, 0, 1);
}

/*
 * Pages 1..255 are present as zero pages (nothing in the page cache); then
 * shmem_enabled becomes force and the source pushes page 0, for which the
 * receiver gets a huge page. A read of page 1 (present) in a fresh mapping
 * goes through fault-around, which must not map that huge page: page 300
 * never arrived.
 */
TEST_F(thp, force_later_receiver_fails_session)
{
	struct pcmig_env *e = &self->env;
	uint64_t deadline;
	struct pcmig_status st;
	long hp0, hp1;
	int status;
	pid_t kid;

	if (!thp_usable())
		SKIP(return, "no writable %s", THP_KNOB);
	thp_session(_metadata, self, 0x7e2);
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_URGENT, 1,
					    255));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 255,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());

	hp0 = shmem_huge_kb();
	ASSERT_EQ(0, thp_set("force"));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_URGENT, 0,
					     1, 0));
	/* Page 0 present (no check) or the session failed (the fix). */
	deadline = pcmig_now_ms() + PCMIG_WAIT_MS;
	do {
		ASSERT_EQ(0, pcmig_env_status(e, &st));
		if (st.state == PCMIG_STATE_FAILED || st.pages_present == 256)
			break;
		pcmig_msleep(10);
	} while (pcmig_now_ms() < deadline);
	hp1 = shmem_huge_kb();
	ASSERT_EQ(0, thp_restore());
	if (hp1 - hp0 < THP_KB)
		SKIP(return, "tmpfs found no huge page (ShmemHugePages %ld -> %ld kB)",
		     hp0, hp1);

	kid = pcmig_env_kid(e, fork_read_two(self->amap, 1, true, 300,
					     0x7e2));
	ASSERT_LT(0, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("reader: %s (2: page 300 read as zeros, never requested)",
		       pcmig_status_str(status));
	expect_failed_huge(_metadata, e, 255, 300);
}

/*
 * In END every page is present and nothing arrives any more: a huge page
 * that tmpfs gives the session then (force set after the migration) is
 * harmless, and faults go on working.
 */
TEST_F(thp, force_after_end_faults_work)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	long hp0, hp1;
	int status;
	pid_t kid;

	if (!thp_usable())
		SKIP(return, "no writable %s", THP_KNOB);
	thp_session(_metadata, self, 0x7e3);
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_URGENT, 0,
					    THP_NPAGES));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, THP_NPAGES,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_END, PCMIG_WAIT_MS,
				      &st))
		TH_LOG("%s", pcmig_lib_error());

	hp0 = shmem_huge_kb();
	ASSERT_EQ(0, thp_set("force"));
	kid = pcmig_env_kid(e, pcmig_fork_check(self->amap, 0, 512, 0, true));
	ASSERT_LT(0, kid);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	hp1 = shmem_huge_kb();
	ASSERT_EQ(0, thp_restore());
	if (hp1 - hp0 < THP_KB)
		SKIP(return, "tmpfs found no huge page (ShmemHugePages %ld -> %ld kB)",
		     hp0, hp1);

	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("reader: %s (1: a page not zero)",
		       pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_env_status(e, &st));
	EXPECT_EQ(PCMIG_STATE_END, st.state)
		TH_LOG("state %s", pcmig_state_name(st.state));
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
}

PCMIG_HARNESS_MAIN
