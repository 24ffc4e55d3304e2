// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: session memory is ordinary memory charged to the memory
 * cgroup of the session's creator, and it is given back when the session
 * goes away.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"

#define CG_ROOT		"/sys/fs/cgroup"
#define PUSH_PAGES	2048		/* 8 MiB */

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static long long read_ll(const char *path)
{
	char buf[64] = "";
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoll(buf);
}

static int move_self(const char *cgroup)
{
	char path[256], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_str(path, pid);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static void fill_page(uint8_t *page, uint64_t idx)
{
	uint64_t *w = (uint64_t *)page;
	unsigned int i;

	for (i = 0; i < 4096 / sizeof(*w); i++)
		w[i] = (idx << 20) ^ (i * 0x9e3779b97f4a7c15ULL);
}

/* Push @n pages from page 0 as background PAGES frames. */
static int push_pages(int sock, unsigned int n)
{
	static uint8_t page[4096];
	struct pcmig_frame f;
	unsigned int i;

	for (i = 0; i < n; i++) {
		memset(&f, 0, sizeof(f));
		f.magic = htobe32(PCMIG_FRAME_MAGIC);
		f.version = PCMIG_FRAME_VERSION;
		f.type = PCMIG_FRAME_PAGES;
		f.npages = htobe32(1);
		f.len = htobe32(sizeof(page));
		f.offset = htobe64((uint64_t)i * sizeof(page));
		fill_page(page, i);
		if (write_all(sock, &f, sizeof(f)) ||
		    write_all(sock, page, sizeof(page)))
			return -1;
	}
	return 0;
}

static int wait_present(int fd, uint64_t want, int seconds)
{
	struct pcmig_status st;
	time_t end = time(NULL) + seconds;

	do {
		if (ioctl(fd, PCMIG_IOC_STATUS, &st))
			return -1;
		if (st.pages_present == want)
			return 0;
		usleep(20000);
	} while (time(NULL) < end);
	return -1;
}

FIXTURE(memcg) {
	char cgroup[128];
	bool made;
};

FIXTURE_SETUP(memcg)
{
	snprintf(self->cgroup, sizeof(self->cgroup), CG_ROOT "/pcmig-test-%d",
		 getpid());
	self->made = false;
	if (access(CG_ROOT "/cgroup.subtree_control", W_OK))
		SKIP(return, "no writable cgroup2 hierarchy at " CG_ROOT);
	if (write_str(CG_ROOT "/cgroup.subtree_control", "+memory"))
		SKIP(return, "cannot enable the memory controller");
	ASSERT_EQ(0, mkdir(self->cgroup, 0755));
	self->made = true;
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->made) {
		move_self(CG_ROOT);
		rmdir(self->cgroup);
	}
}

TEST_F_TIMEOUT(memcg, received_pages_charged_to_creator, 120)
{
	struct pcmig_create c = { .size = 16 << 20, .page_size = 4096 };
	struct pcmig_attach at = { .channels = PCMIG_CHANNELS_ALL };
	long long before, charged, after;
	char current[192];
	uint8_t expect[4096];
	int ctl, fd, sv[2];
	uint8_t *mem;
	unsigned int i;

	snprintf(current, sizeof(current), "%s/memory.current", self->cgroup);
	ctl = open(PCMIG_CTL_PATH, O_RDWR);
	ASSERT_LE(0, ctl);

	/* Create the session from inside the cgroup, then leave it. */
	ASSERT_EQ(0, move_self(self->cgroup));
	fd = ioctl(ctl, PCMIG_IOC_CREATE, &c);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, move_self(CG_ROOT));
	close(ctl);

	before = read_ll(current);
	ASSERT_LE(0, before);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	at.fd = sv[0];
	ASSERT_EQ(0, ioctl(fd, PCMIG_IOC_ATTACH, &at));
	close(sv[0]);
	ASSERT_EQ(0, push_pages(sv[1], PUSH_PAGES));
	ASSERT_EQ(0, wait_present(fd, PUSH_PAGES, 60));

	/* Received by a kernel thread, charged to the creator's cgroup. */
	charged = read_ll(current) - before;
	EXPECT_LE((long long)PUSH_PAGES * 4096 * 95 / 100, charged)
		TH_LOG("cgroup charged %lld bytes for %d pages", charged,
		       PUSH_PAGES);

	/* The pages are the ones pushed. */
	mem = mmap(NULL, c.size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, mem);
	for (i = 0; i < PUSH_PAGES; i++) {
		fill_page(expect, i);
		ASSERT_EQ(0, memcmp(mem + (size_t)i * 4096, expect, 4096))
			TH_LOG("page %u differs", i);
	}
	munmap(mem, c.size);

	/* Destroyed and closed: the memory goes back. */
	ASSERT_EQ(0, ioctl(fd, PCMIG_IOC_DESTROY));
	close(fd);
	close(sv[1]);
	for (i = 0; i < 100; i++) {
		after = read_ll(current);
		if (after - before < (long long)PUSH_PAGES * 4096 / 10)
			break;
		usleep(50000);
	}
	EXPECT_GT((long long)PUSH_PAGES * 4096 / 10, after - before)
		TH_LOG("cgroup still charged %lld bytes after destroy",
		       after - before);
}

PCMIG_HARNESS_MAIN
