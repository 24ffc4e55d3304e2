// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: a fault that cannot drop the mmap lock (GUP without
 * "locked", here a read of /proc/self/mem) never waits for the network
 * with the lock held. It fails at once (EIO for the read) after sending
 * the request; a writer of the mmap lock and a fault on a present page in
 * other threads go on meanwhile; the page then arrives and reads byte for
 * byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"

#define PS		PCMIG_PS
#define SEED		0x3e3
#define MISSING		5	/* the page whose reply the source holds */
#define PRESENT		2	/* present, but not mapped in this process */
#define STALL_MS	3000	/* "promptly": well within this */

static void __attribute__((constructor)) mmlock_test_init(void)
{
	pcmig_leak_guard_install();
}

/*
 * Shared between the test and a child process whose threads do the work: a
 * process whose mmap lock may stay taken cannot be the one that runs the
 * page source and the test's own allocations.
 */
struct mm_threads {
	const uint8_t *map;
	int mem;			/* /proc/self/mem */
	atomic_int ready;		/* the threads exist */
	atomic_int go[3];		/* each thread's start */
	atomic_int done[3];		/* and end */
	uint64_t ms[3];			/* and how long it took */
	ssize_t got;			/* pread()'s result */
	int err;			/* and its errno */
	long bad;			/* thread 3's pattern check */
};

static void wait_go(struct mm_threads *t, int i)
{
	while (!atomic_load(&t->go[i]))
		usleep(1000);
}

/* Thread 1: read the missing page through /proc/self/mem. */
static void *read_mem(void *arg)
{
	struct mm_threads *t = arg;
	char buf[PS];
	uint64_t t0;

	wait_go(t, 0);
	t0 = pcmig_now_ms();
	t->got = pread(t->mem, buf, PS,
		       (off_t)(uintptr_t)(t->map + MISSING * PS));
	t->err = errno;
	t->ms[0] = pcmig_now_ms() - t0;
	atomic_store(&t->done[0], 1);
	return NULL;
}

/* Thread 2: a writer of the mmap lock. */
static void *map_unmap(void *arg)
{
	struct mm_threads *t = arg;
	unsigned int i;
	uint64_t t0;
	void *p;

	wait_go(t, 1);
	t0 = pcmig_now_ms();
	for (i = 0; i < 8; i++) {
		p = mmap(NULL, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		if (p != MAP_FAILED)
			munmap(p, PS);
	}
	t->ms[1] = pcmig_now_ms() - t0;
	atomic_store(&t->done[1], 1);
	return NULL;
}

/*
 * Thread 3: a fault on a present page, which this process has not mapped
 * (fork() copies no page table entries of shared file mappings): it takes
 * the mmap lock to map it.
 */
static void *touch_present(void *arg)
{
	struct mm_threads *t = arg;
	uint64_t t0;

	wait_go(t, 2);
	t0 = pcmig_now_ms();
	t->bad = pcmig_pattern_check(t->map + PRESENT * PS, PS, SEED, PRESENT);
	t->ms[2] = pcmig_now_ms() - t0;
	atomic_store(&t->done[2], 1);
	return NULL;
}

/* The child: three threads, created before any of them starts. */
static void __attribute__((noreturn)) mm_child(struct mm_threads *t)
{
	void *(*fn[3])(void *) = { read_mem, map_unmap, touch_present };
	pthread_t th[3];
	int i;

	t->mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (t->mem < 0)
		_exit(2);
	for (i = 0; i < 3; i++)
		if (pthread_create(&th[i], NULL, fn[i], t))
			_exit(3);
	atomic_store(&t->ready, 1);
	for (i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	_exit(0);
}

/* Wait up to @ms for flags [from, to] of @f to be set; true if they are. */
static bool flags_set(atomic_int *f, int from, int to, int ms)
{
	uint64_t deadline = pcmig_now_ms() + ms;
	int i;

	for (;;) {
		for (i = from; i <= to && atomic_load(&f[i]); i++)
			;
		if (i > to)
			return true;
		if (pcmig_now_ms() >= deadline)
			return false;
		pcmig_msleep(5);
	}
}

FIXTURE(mmlock) {
	struct pcmig_env env;
};

FIXTURE_SETUP(mmlock)
{
	struct pcmig_env_opts o = { .npages = 16, .listen = true,
				    .seed = SEED, .tag = "mmlock" };

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(mmlock)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(mmlock, no_retry_fault_fails_fast_lock_stays_free)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct mm_threads *t;
	int status;
	pid_t kid;
	bool all;

	ASSERT_EQ(-1, pcmig_env_check(e, PRESENT, 1, SEED, NULL));
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, (void *)t);
	t->map = e->map;
	pcmig_source_hold(e->src, MISSING, 1);

	kid = fork();
	ASSERT_LE(0, kid);
	if (!kid)
		mm_child(t);
	pcmig_env_kid(e, kid);
	ASSERT_TRUE(flags_set(&t->ready, 0, 0, PCMIG_WAIT_MS));

	atomic_store(&t->go[0], 1);
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, MISSING, 1,
						PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	/* Give a read that would wait (holding the lock) time to sleep. */
	pcmig_msleep(100);
	atomic_store(&t->go[1], 1);
	pcmig_msleep(100);
	atomic_store(&t->go[2], 1);

	all = flags_set(t->done, 0, 2, STALL_MS);
	EXPECT_TRUE(all)
		TH_LOG("after %d ms: read %s, mmap/munmap %s, present page %s",
		       STALL_MS, t->done[0] ? "returned" : "blocked",
		       t->done[1] ? "done" : "blocked",
		       t->done[2] ? "done" : "blocked");

	/* Unblock whatever still waits, then let the page come. */
	pcmig_source_release(e->src, MISSING, 1);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("child: %s", pcmig_status_str(status));

	EXPECT_EQ(-1, t->got) TH_LOG("pread returned %zd after %llu ms",
				     t->got, (unsigned long long)t->ms[0]);
	EXPECT_EQ(EIO, t->err) TH_LOG("errno %s", strerror(t->err));
	EXPECT_EQ(-1, t->bad)
		TH_LOG("present page differs at byte %ld", t->bad);
	TH_LOG("read %llu ms, mmap/munmap %llu ms, present page %llu ms",
	       (unsigned long long)t->ms[0], (unsigned long long)t->ms[1],
	       (unsigned long long)t->ms[2]);
	munmap(t, sizeof(*t));

	/* The request went out: the page arrives and reads as sent. */
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 2, PCMIG_WAIT_MS,
				      &st))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	EXPECT_EQ(-1, pcmig_env_check(e, MISSING, 1, SEED, NULL));
	EXPECT_EQ(1, pcmig_source_requests(e->src, MISSING));
	EXPECT_EQ(2, pcmig_source_total_requests(e->src));
}

PCMIG_HARNESS_MAIN
