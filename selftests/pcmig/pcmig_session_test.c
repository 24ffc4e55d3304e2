// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: sessions. Creation and its argument checks, the session
 * node and file (read/write/lseek/ftruncate/mmap rules), ioctls on the wrong
 * kind of file, the state machine (every illegal move and its errno), the
 * attach checks, the netlink session commands, and lifetime: destroy,
 * auto-destroy, module references and leaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_session.h"

#define PS	PCMIG_PS

static void __attribute__((constructor)) session_test_init(void)
{
	pcmig_leak_guard_install();
}

static int node_exists(uint32_t id)
{
	char path[64];
	struct stat st;

	pcmig_node_path(path, sizeof(path), id);
	return stat(path, &st) == 0;
}

/* Wait until the node of @id is gone (true) or the deadline passed. */
static bool node_gone(uint32_t id, int timeout_ms)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;

	while (node_exists(id)) {
		if (pcmig_now_ms() >= deadline)
			return false;
		pcmig_msleep(10);
	}
	return true;
}

/* GET_INFO's session count, or -1. */
static long sessions_alive(void)
{
	struct pcmig_nl_info info;

	if (pcmig_genl_get_info(&info) || !info.has_sessions)
		return -1;
	return info.sessions;
}

static bool wait_sessions(long want, int timeout_ms, long *seen)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;

	for (;;) {
		*seen = sessions_alive();
		if (*seen == want)
			return true;
		if (pcmig_now_ms() >= deadline)
			return false;
		pcmig_msleep(20);
	}
}

/* Creation */

FIXTURE(create) {
	int ctl;
	int fds[16];
	int nfds;
};

FIXTURE_SETUP(create)
{
	self->ctl = pcmig_ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("%s", pcmig_lib_error());
}

FIXTURE_TEARDOWN(create)
{
	int i;

	for (i = 0; i < self->nfds; i++) {
		pcmig_destroy(self->fds[i]);
		close(self->fds[i]);
	}
	close(self->ctl);
}

/* Keep a session fd (created by mistake or on purpose) for teardown. */
static void keep(FIXTURE_DATA(create) *self, int fd)
{
	if (fd >= 0 && self->nfds < 16)
		self->fds[self->nfds++] = fd;
	else if (fd >= 0)
		close(fd);
}

static void create_init(struct pcmig_create *c, uint64_t size)
{
	memset(c, 0, sizeof(*c));
	c->size = size;
	c->page_size = PS;
}

TEST_F(create, bad_size_einval)
{
	const uint64_t sizes[] = {
		0, 1, PS - 1, PS + 1, 3 * PS / 2, PCMIG_MAX_SIZE + PS,
		PCMIG_MAX_SIZE * 2, 1ULL << 63, ~0ULL, ~0ULL & ~(PS - 1ULL),
		PCMIG_MAX_SIZE - 1,
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		int fd = pcmig_create(self->ctl, sizes[i], 0, "", NULL);

		EXPECT_EQ(-EINVAL, fd) TH_LOG("size %#llx",
					      (unsigned long long)sizes[i]);
		keep(self, fd);
	}
}

TEST_F(create, bad_page_size_einval)
{
	const uint32_t psz[] = {
		0, 1, 512, 2048, PS - 1, PS + 1, 2 * PS, 65536, 2u << 20,
		1u << 30, ~0u,
	};
	struct pcmig_create c;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(psz); i++) {
		int fd;

		create_init(&c, 16 * PS);
		c.page_size = psz[i];
		fd = pcmig_create_raw(self->ctl, &c);
		EXPECT_EQ(-EINVAL, fd) TH_LOG("page_size %u", psz[i]);
		keep(self, fd);
	}
}

TEST_F(create, unknown_flags_einval)
{
	const uint32_t flags[] = {
		1u << 1, 1u << 2, 1u << 31, ~0u, (uint32_t)~PCMIG_CREATE_FLAGS,
		PCMIG_CREATE_F_AUTO_DESTROY | (1u << 7),
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(flags); i++) {
		int fd = pcmig_create(self->ctl, 16 * PS, flags[i], "", NULL);

		EXPECT_EQ(-EINVAL, fd) TH_LOG("flags %#x", flags[i]);
		keep(self, fd);
	}
}

TEST_F(create, nonzero_pad_or_reserved_einval)
{
	struct pcmig_create c;
	unsigned int i;
	int fd;

	create_init(&c, 16 * PS);
	c.pad = 1;
	fd = pcmig_create_raw(self->ctl, &c);
	EXPECT_EQ(-EINVAL, fd) TH_LOG("pad accepted");
	keep(self, fd);
	for (i = 0; i < ARRAY_SIZE(c.reserved); i++) {
		create_init(&c, 16 * PS);
		c.reserved[i] = 1ULL << (8 * i + 3);
		fd = pcmig_create_raw(self->ctl, &c);
		EXPECT_EQ(-EINVAL, fd) TH_LOG("reserved[%u] accepted", i);
		keep(self, fd);
	}
}

TEST_F(create, bad_names_einval)
{
	static const char * const names[] = {
		"a b", " ", "a/b", "/", "x/", "\x01", "ab\x7f", "\x80x",
		"caf\xc3\xa9", "tab\there", "nl\n", "\x1b[0m", "\xff",
	};
	struct pcmig_create c;
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		create_init(&c, 16 * PS);
		memcpy(c.name, names[i], strnlen(names[i], sizeof(c.name)));
		fd = pcmig_create_raw(self->ctl, &c);
		EXPECT_EQ(-EINVAL, fd) TH_LOG("name #%u accepted", i);
		keep(self, fd);
	}
	/* 32 printable bytes without a NUL. */
	create_init(&c, 16 * PS);
	memset(c.name, 'n', sizeof(c.name));
	fd = pcmig_create_raw(self->ctl, &c);
	EXPECT_EQ(-EINVAL, fd) TH_LOG("unterminated name accepted");
	keep(self, fd);
}

TEST_F(create, good_names)
{
	char longest[PCMIG_NAME_LEN], high[PCMIG_NAME_LEN];
	struct pcmig_nl_session ns;
	uint32_t id[4];
	int fd[4], i, c;

	/* 31 printable characters: every one but space and '/'. */
	for (i = 0, c = '!'; i < PCMIG_NAME_LEN - 1; c++)
		if (c != '/')
			longest[i++] = (char)c;
	longest[i] = '\0';
	for (i = 0, c = '~'; i < PCMIG_NAME_LEN - 1; c--)
		if (c != '/')
			high[i++] = (char)c;
	high[i] = '\0';

	fd[0] = pcmig_create(self->ctl, 16 * PS, 0, longest, &id[0]);
	ASSERT_LE(0, fd[0]) TH_LOG("%s: %s", longest, pcmig_lib_error());
	keep(self, fd[0]);
	fd[1] = pcmig_create(self->ctl, 16 * PS, 0, high, &id[1]);
	ASSERT_LE(0, fd[1]) TH_LOG("%s: %s", high, pcmig_lib_error());
	keep(self, fd[1]);
	/* Empty names need not be unique. */
	fd[2] = pcmig_create(self->ctl, 16 * PS, 0, "", &id[2]);
	ASSERT_LE(0, fd[2]) TH_LOG("%s", pcmig_lib_error());
	keep(self, fd[2]);
	fd[3] = pcmig_create(self->ctl, 16 * PS, 0, "", &id[3]);
	ASSERT_LE(0, fd[3]) TH_LOG("second empty name: %s",
				   pcmig_lib_error());
	keep(self, fd[3]);

	for (i = 0; i < 4; i++) {
		for (c = i + 1; c < 4; c++) {
			EXPECT_NE(id[i], id[c]);
		}
	}

	ASSERT_EQ(0, pcmig_genl_session_get(id[0], &ns))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_STREQ(longest, ns.name);
	ASSERT_EQ(0, pcmig_genl_session_get(id[1], &ns));
	EXPECT_STREQ(high, ns.name);
	ASSERT_EQ(0, pcmig_genl_session_get(id[2], &ns));
	EXPECT_STREQ("", ns.name);
}

TEST_F(create, duplicate_name_eexist)
{
	char name[PCMIG_NAME_LEN];
	int fd1, fd2, fd3;

	snprintf(name, sizeof(name), PCMIG_ST_PREFIX "dup-%d", getpid());
	fd1 = pcmig_create(self->ctl, 16 * PS, 0, name, NULL);
	ASSERT_LE(0, fd1) TH_LOG("%s", pcmig_lib_error());
	keep(self, fd1);
	fd2 = pcmig_create(self->ctl, 32 * PS, 0, name, NULL);
	EXPECT_EQ(-EEXIST, fd2);
	keep(self, fd2);
	/* Destroyed, even with its fd still open, frees the name. */
	ASSERT_EQ(0, pcmig_destroy(fd1)) TH_LOG("%s", pcmig_lib_error());
	fd3 = pcmig_create(self->ctl, 16 * PS, 0, name, NULL);
	EXPECT_LE(0, fd3) TH_LOG("name of a destroyed session: %s",
				 pcmig_lib_error());
	keep(self, fd3);
}

TEST_F(create, bad_pointer_efault)
{
	EXPECT_EQ(-1, ioctl(self->ctl, PCMIG_IOC_CREATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->ctl, PCMIG_IOC_CREATE, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(create, fd_node_and_initial_status)
{
	struct pcmig_status st, st2;
	char path[64], name[PCMIG_NAME_LEN];
	struct stat sb;
	uint32_t id;
	int fd, fd2;

	snprintf(name, sizeof(name), PCMIG_ST_PREFIX "node-%d", getpid());
	fd = pcmig_create(self->ctl, 24 * PS, 0, name, &id);
	ASSERT_LE(0, fd) TH_LOG("%s", pcmig_lib_error());
	keep(self, fd);
	EXPECT_NE(0, fcntl(fd, F_GETFD) & FD_CLOEXEC);

	pcmig_node_path(path, sizeof(path), id);
	ASSERT_EQ(0, stat(path, &sb)) TH_LOG("%s: %s", path, strerror(errno));
	EXPECT_TRUE(S_ISCHR(sb.st_mode));
	EXPECT_EQ(0600, sb.st_mode & 07777);
	EXPECT_EQ(0, sb.st_uid);

	ASSERT_EQ(0, pcmig_get_status(fd, &st));
	EXPECT_EQ(id, st.id);
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
	EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
	EXPECT_EQ(0, st.error);
	EXPECT_EQ(24 * PS, st.size);
	EXPECT_EQ(24, st.pages_total);
	EXPECT_EQ(0, st.pages_present);
	EXPECT_EQ(0, st.pages_requested);
	EXPECT_EQ(0, st.in_flight);
	EXPECT_EQ(0, st.faults);
	EXPECT_EQ(0, st.pauses);
	EXPECT_EQ(0, st.bytes_received);

	/* The node opens to the same session. */
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd2) TH_LOG("open %s: %s", path, strerror(errno));
	ASSERT_EQ(0, pcmig_get_status(fd2, &st2));
	EXPECT_EQ(id, st2.id);
	EXPECT_EQ(24 * PS, st2.size);
	close(fd2);
}

/* A session without channels */

FIXTURE(sess) {
	struct pcmig_env env;
};

FIXTURE_SETUP(sess)
{
	struct pcmig_env_opts o = {
		.npages = 16, .no_source = true, .events = true, .tag = "sess",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(sess)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(sess, destroy_removes_node_then_enodev)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	char path[64];
	int i1, i2;

	ASSERT_TRUE(node_exists(e->id));
	ASSERT_EQ(0, pcmig_env_destroy(e)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_TRUE(node_gone(e->id, 2000));
	pcmig_node_path(path, sizeof(path), e->id);
	EXPECT_EQ(-1, open(path, O_RDWR));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
	EXPECT_EQ(PCMIG_REASON_DESTROYED, st.reason);

	EXPECT_EQ(-ENODEV, pcmig_destroy(e->fd));
	/* No new mappings; the existing one stays. */
	EXPECT_EQ(MAP_FAILED, mmap(NULL, PS, PROT_READ, MAP_SHARED, e->fd, 0));
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(0, msync(e->map, e->size, MS_ASYNC));

	i1 = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_ERROR, 0,
			       PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i1) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_DESTROYED, ev.s.reason);
	i2 = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_STATE,
			       PCMIG_STATE_FAILED, PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, i2) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_STATE_ADVISE, ev.s.old_state);
	EXPECT_LT(i1, i2) TH_LOG("state event before the error event");
}

/* The session's node, opened by path; -1 on failure. */
static int open_node(uint32_t id)
{
	char path[64];

	pcmig_node_path(path, sizeof(path), id);
	return open(path, O_RDWR | O_CLOEXEC);
}

TEST_F(sess, read_write_einval)
{
	char buf[64] = { 0 };
	int fds[2], i;

	fds[0] = self->env.fd;
	fds[1] = open_node(self->env.id);
	ASSERT_LE(0, fds[1]);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-1, read(fds[i], buf, sizeof(buf)));
		EXPECT_EQ(EINVAL, errno) TH_LOG("%s file",
						i ? "node" : "CREATE");
		EXPECT_EQ(-1, write(fds[i], buf, sizeof(buf)));
		EXPECT_EQ(EINVAL, errno) TH_LOG("%s file",
						i ? "node" : "CREATE");
	}
	close(fds[1]);
}

/* pread/pwrite are read/write too, and both kinds of file are the same. */
TEST_F(sess, pread_pwrite_einval)
{
	char buf[64] = { 0 };
	int fds[2], i;

	fds[0] = self->env.fd;
	fds[1] = open_node(self->env.id);
	ASSERT_LE(0, fds[1]);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(-1, pread(fds[i], buf, sizeof(buf), PS));
		EXPECT_EQ(EINVAL, errno) TH_LOG("pread, %s file: %s",
						i ? "node" : "CREATE",
						strerror(errno));
		EXPECT_EQ(-1, pwrite(fds[i], buf, sizeof(buf), PS));
		EXPECT_EQ(EINVAL, errno) TH_LOG("pwrite, %s file: %s",
						i ? "node" : "CREATE",
						strerror(errno));
	}
	close(fds[1]);
}

static void check_lseek(struct __test_metadata *_metadata, int fd,
			off_t size)
{
	EXPECT_EQ(size, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(PS, lseek(fd, PS, SEEK_SET));
	EXPECT_EQ(2 * PS, lseek(fd, PS, SEEK_CUR));
	EXPECT_EQ(size - PS, lseek(fd, -(off_t)PS, SEEK_END));
	EXPECT_EQ(-1, lseek(fd, size + PS, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, lseek(fd, PS, SEEK_END));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, lseek(fd, -1, SEEK_SET));
	EXPECT_EQ(EINVAL, errno);
	/* Still where the last good seek left it. */
	EXPECT_EQ(size - PS, lseek(fd, 0, SEEK_CUR));
}

TEST_F(sess, lseek_within_session)
{
	int fd;

	check_lseek(_metadata, self->env.fd, self->env.size);
	fd = open_node(self->env.id);
	ASSERT_LE(0, fd);
	check_lseek(_metadata, fd, self->env.size);
	close(fd);
}

TEST_F(sess, ftruncate_einval)
{
	int fd = self->env.fd;

	EXPECT_EQ(-1, ftruncate(fd, self->env.size));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ftruncate(fd, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ftruncate(fd, 2 * self->env.size));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ((off_t)self->env.size, lseek(fd, 0, SEEK_END));
}

TEST_F(sess, mmap_private_einval)
{
	void *p;

	p = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 self->env.fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, PS);
	p = mmap(NULL, PS, PROT_READ, MAP_PRIVATE, self->env.fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, PS);
}

TEST_F(sess, mmap_past_end_enxio)
{
	const struct { uint64_t off, len; } bad[] = {
		{ 0, 17 * PS },
		{ 16 * PS, PS },
		{ 15 * PS, 2 * PS },
		{ 32 * PS, PS },
		{ 1ULL << 40, PS },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		void *p = mmap(NULL, bad[i].len, PROT_READ | PROT_WRITE,
			       MAP_SHARED, self->env.fd, bad[i].off);

		EXPECT_EQ(MAP_FAILED, p) TH_LOG("offset %#llx length %#llx",
			(unsigned long long)bad[i].off,
			(unsigned long long)bad[i].len);
		EXPECT_EQ(ENXIO, errno);
		if (p != MAP_FAILED)
			munmap(p, bad[i].len);
	}
}

TEST_F(sess, mappings_are_dontdump_dontexpand)
{
	char flags[256], path[64];
	void *p;
	int fd;

	ASSERT_EQ(0, pcmig_smaps_vmflags(self->env.map, flags,
					 sizeof(flags)));
	EXPECT_TRUE(pcmig_vmflags_has(flags, "dd")) TH_LOG("VmFlags:%s",
							   flags);
	EXPECT_TRUE(pcmig_vmflags_has(flags, "de")) TH_LOG("VmFlags:%s",
							   flags);
	EXPECT_TRUE(pcmig_vmflags_has(flags, "sh")) TH_LOG("VmFlags:%s",
							   flags);

	/* A partial mapping through the node opened by path. */
	pcmig_node_path(path, sizeof(path), self->env.id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	p = mmap(NULL, 2 * PS, PROT_READ, MAP_SHARED, fd, 3 * PS);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	ASSERT_EQ(0, pcmig_smaps_vmflags(p, flags, sizeof(flags)));
	EXPECT_TRUE(pcmig_vmflags_has(flags, "dd")) TH_LOG("VmFlags:%s",
							   flags);
	EXPECT_TRUE(pcmig_vmflags_has(flags, "de")) TH_LOG("VmFlags:%s",
							   flags);
	/* VM_DONTEXPAND: the mapping cannot grow. */
	EXPECT_EQ(MAP_FAILED, mremap(p, 2 * PS, 3 * PS, 0));
	munmap(p, 2 * PS);
	close(fd);
}

TEST_F(sess, session_ioctls_on_control_enotty)
{
	struct pcmig_attach a = { .fd = 0, .channels = PCMIG_CHANNEL_URGENT };
	struct pcmig_set_state s = { .state = PCMIG_STATE_DISCARD };
	struct pcmig_range r = { .offset = 0, .length = PS };
	struct pcmig_status st;
	int ctl = self->env.ctl;
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	a.fd = sv[0];
	EXPECT_EQ(-1, ioctl(ctl, PCMIG_IOC_ATTACH, &a));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(ctl, PCMIG_IOC_SET_STATE, &s));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(ctl, PCMIG_IOC_DISCARD, &r));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(ctl, PCMIG_IOC_STATUS, &st));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(ctl, PCMIG_IOC_DESTROY));
	EXPECT_EQ(ENOTTY, errno);
	close(sv[0]);
	close(sv[1]);
	/* And the session is untouched. */
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
}

TEST_F(sess, control_ioctls_on_session)
{
	struct pcmig_version ver;
	struct pcmig_create c;

	create_init(&c, 16 * PS);
	EXPECT_EQ(-1, ioctl(self->env.fd, PCMIG_IOC_CREATE, &c));
	EXPECT_EQ(ENOTTY, errno);
	/* VERSION works on session files too. */
	memset(&ver, 0, sizeof(ver));
	ASSERT_EQ(0, ioctl(self->env.fd, PCMIG_IOC_VERSION, &ver));
	EXPECT_EQ(PCMIG_ABI_MAJOR, ver.abi_major);
	EXPECT_EQ(PCMIG_ABI_MINOR, ver.abi_minor);
	EXPECT_EQ(PS, ver.page_size);
	EXPECT_NE(0, ver.features & PCMIG_FEATURE_SESSIONS);
}

TEST_F(sess, unknown_ioctls_enotty)
{
	const unsigned long cmds[] = {
		_IO(PCMIG_IOC_MAGIC, 0x7f),
		_IOR(PCMIG_IOC_MAGIC, 0x13, __u32),
		_IOW(PCMIG_IOC_MAGIC, 0x13, struct pcmig_status),
		_IOW(PCMIG_IOC_MAGIC, 0x10, __u64),
		_IOR(PCMIG_IOC_MAGIC, 0x14, __u32),
		_IOWR('x', 0x13, struct pcmig_status),
	};
	char buf[sizeof(struct pcmig_status)];
	struct pcmig_status st;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		memset(buf, 0, sizeof(buf));
		EXPECT_EQ(-1, ioctl(self->env.fd, cmds[i], buf))
			TH_LOG("ioctl %#lx accepted", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("ioctl %#lx", cmds[i]);
	}
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
}

TEST_F(sess, bad_pointers_efault)
{
	int fd = self->env.fd;

	EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_STATUS, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_ATTACH, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_SET_STATE, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_DISCARD, (void *)8));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(sess, nonzero_flags_and_reserved_einval)
{
	struct pcmig_set_state s;
	struct pcmig_attach a;
	struct pcmig_range r;
	struct pcmig_status st;
	int fd = self->env.fd, sv[2];
	unsigned int i;

	for (i = 0; i < 3; i++) {
		memset(&s, 0, sizeof(s));
		s.state = PCMIG_STATE_DISCARD;
		if (i == 0)
			s.flags = 1;
		else
			s.reserved[i - 1] = 1;
		EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_SET_STATE, &s))
			TH_LOG("set_state case %u accepted", i);
		EXPECT_EQ(EINVAL, errno);
	}
	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		r.length = PS;
		if (i == 0)
			r.flags = 1;
		else
			r.pad = 1;
		EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_DISCARD, &r))
			TH_LOG("discard case %u accepted", i);
		EXPECT_EQ(EINVAL, errno);
	}
	ASSERT_EQ(0, pcmig_get_status(fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	for (i = 0; i < 4; i++) {
		memset(&a, 0, sizeof(a));
		a.fd = sv[0];
		a.channels = PCMIG_CHANNELS_ALL;
		if (i == 0)
			a.flags = 1;
		else if (i == 1)
			a.pad = 1;
		else
			a.reserved[i - 2] = 1;
		EXPECT_EQ(-1, ioctl(fd, PCMIG_IOC_ATTACH, &a))
			TH_LOG("attach case %u accepted", i);
		EXPECT_EQ(EINVAL, errno);
	}
	/* None of them took the socket. */
	EXPECT_EQ(0, pcmig_attach(fd, sv[0], PCMIG_CHANNELS_ALL))
		TH_LOG("%s", pcmig_lib_error());
	close(sv[0]);
	close(sv[1]);
}

TEST_F(sess, discard_bad_ranges_einval)
{
	const struct { uint64_t off, len; } bad[] = {
		{ 1, PS }, { PS / 2, PS }, { 0, 0 }, { 0, PS - 1 },
		{ 0, PS + 1 }, { 0, 17 * PS }, { 15 * PS, 2 * PS },
		{ 16 * PS, PS }, { ~0ULL & ~(PS - 1ULL), 2 * PS },
		{ PS, ~0ULL & ~(PS - 1ULL) },
	};
	struct pcmig_status st;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, pcmig_discard(self->env.fd, bad[i].off,
						 bad[i].len))
			TH_LOG("offset %#llx length %#llx",
			       (unsigned long long)bad[i].off,
			       (unsigned long long)bad[i].len);
	}
	/* A failed discard does not move ADVISE to DISCARD. */
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
	EXPECT_EQ(0, st.pages_discarded);
	/* A good one does. */
	EXPECT_EQ(0, pcmig_discard(self->env.fd, 15 * PS, PS));
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);
}

/* The state machine */

/* States to start from; RECOVER_R is RECOVER after a pause in RUNNING. */
enum { S_ADVISE, S_DISCARD, S_LISTEN, S_RUNNING, S_END, S_PAUSED,
	S_RECOVER_L, S_RECOVER_R, S_FAILED, S_COUNT };

static const uint32_t s_state[S_COUNT] = {
	PCMIG_STATE_ADVISE, PCMIG_STATE_DISCARD, PCMIG_STATE_LISTEN,
	PCMIG_STATE_RUNNING, PCMIG_STATE_END, PCMIG_STATE_PAUSED,
	PCMIG_STATE_RECOVER, PCMIG_STATE_RECOVER, PCMIG_STATE_FAILED,
};

static bool legal_move(int from, uint32_t to)
{
	/* ABI 0.4: user space may pause; PAUSED to PAUSED is a no-op. */
	if (to == PCMIG_STATE_FAILED || to == PCMIG_STATE_PAUSED)
		return from != S_END && from != S_FAILED;
	switch (from) {
	case S_ADVISE:
		return to == PCMIG_STATE_DISCARD || to == PCMIG_STATE_LISTEN;
	case S_DISCARD:
		return to == PCMIG_STATE_LISTEN;
	case S_LISTEN:
		return to == PCMIG_STATE_RUNNING;
	case S_PAUSED:
		return to == PCMIG_STATE_RECOVER;
	case S_RECOVER_L:
		return to == PCMIG_STATE_LISTEN;
	case S_RECOVER_R:
		return to == PCMIG_STATE_RUNNING;
	}
	return false;
}

/*
 * Bring a fresh 4-page session with a source to @s. In RECOVER a new urgent
 * channel is attached, so that only the move itself can be wrong.
 */
static int drive_to(struct pcmig_env *e, int s)
{
	struct pcmig_env_opts o = { .npages = 4, .tag = "state" };
	struct pcmig_status st;
	int ret;

	ret = pcmig_env_setup(e, &o);
	if (ret)
		return ret;
	switch (s) {
	case S_ADVISE:
		return 0;
	case S_DISCARD:
		return pcmig_set_state(e->fd, PCMIG_STATE_DISCARD);
	case S_FAILED:
		return pcmig_set_state(e->fd, PCMIG_STATE_FAILED);
	}
	ret = pcmig_set_state(e->fd, PCMIG_STATE_LISTEN);
	if (ret || s == S_LISTEN)
		return ret;
	if (s == S_END) {
		ret = pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 0, 4);
		if (!ret)
			ret = PCMIG_WAIT_FIELD(e->fd, pages_present, 4,
					       PCMIG_WAIT_MS, &st);
		if (!ret)
			ret = pcmig_set_state(e->fd, PCMIG_STATE_RUNNING);
		if (!ret)
			ret = pcmig_wait_state(e->fd, PCMIG_STATE_END,
					       PCMIG_WAIT_MS, &st);
		return ret;
	}
	if (s == S_RUNNING || s == S_RECOVER_R) {
		ret = pcmig_set_state(e->fd, PCMIG_STATE_RUNNING);
		if (ret || s == S_RUNNING)
			return ret;
	}
	pcmig_source_close(e->src);
	ret = pcmig_wait_state(e->fd, PCMIG_STATE_PAUSED, PCMIG_WAIT_MS, &st);
	if (ret || s == S_PAUSED)
		return ret;
	ret = pcmig_set_state(e->fd, PCMIG_STATE_RECOVER);
	if (ret)
		return ret;
	return pcmig_env_new_source(e, PCMIG_TRANSPORT_UNIX, false, 0);
}

FIXTURE(state) {
	struct pcmig_env env;
};

FIXTURE_SETUP(state)
{
	pcmig_env_init(&self->env);
}

FIXTURE_TEARDOWN(state)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F_TIMEOUT(state, every_illegal_move_and_its_errno, 90)
{
	const uint32_t targets[] = {
		PCMIG_STATE_NONE, PCMIG_STATE_ADVISE, PCMIG_STATE_DISCARD,
		PCMIG_STATE_LISTEN, PCMIG_STATE_RUNNING, PCMIG_STATE_END,
		PCMIG_STATE_PAUSED, PCMIG_STATE_RECOVER, PCMIG_STATE_FAILED,
		__PCMIG_STATE_MAX, 100, ~0u,
	};
	struct pcmig_status st;
	unsigned int t;
	int s;

	for (s = 0; s < S_COUNT; s++) {
		bool final = s == S_END || s == S_FAILED;

		pcmig_env_cleanup(&self->env);
		pcmig_env_init(&self->env);
		ASSERT_EQ(0, drive_to(&self->env, s))
			TH_LOG("to %s (#%d): %s", pcmig_state_name(s_state[s]),
			       s, pcmig_lib_error());
		for (t = 0; t < ARRAY_SIZE(targets); t++) {
			bool state = targets[t] > PCMIG_STATE_NONE &&
				     targets[t] < __PCMIG_STATE_MAX;
			int want = final ? -EBUSY : -EINVAL, ret;

			if (legal_move(s, targets[t]))
				continue;
			ret = pcmig_set_state(self->env.fd, targets[t]);
			/*
			 * From a final state a target that is no state at
			 * all may be refused as an invalid argument first.
			 */
			if (final && !state && ret == -EINVAL)
				ret = -EBUSY;
			EXPECT_EQ(want, ret)
				TH_LOG("%s (#%d) -> %u (%s)",
				       pcmig_state_name(s_state[s]), s,
				       targets[t],
				       pcmig_state_name(targets[t]));
			ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
			EXPECT_EQ(s_state[s], st.state)
				TH_LOG("state changed by %s (#%d) -> %u",
				       pcmig_state_name(s_state[s]), s,
				       targets[t]);
		}
	}
}

/* Check the next EVENT_STATE of @e (after index @from): @state from @old. */
#define EXPECT_STATE_EVENT(e, from, st_, old_) ({			\
	struct pcmig_event __ev;					\
	int __i = pcmig_events_find((e)->ev, from, (e)->id,		\
				    PCMIG_CMD_EVENT_STATE, st_,		\
				    PCMIG_WAIT_MS, &__ev);		\
	EXPECT_LE(0, __i) TH_LOG("%s", pcmig_lib_error());		\
	if (__i >= 0) {							\
		EXPECT_EQ(old_, __ev.s.old_state)			\
			TH_LOG("EVENT_STATE %s: old state %s",		\
			       pcmig_state_name(st_),			\
			       pcmig_state_name(__ev.s.old_state));	\
	}								\
	__i; })

TEST_F(state, legal_moves_and_their_events)
{
	struct pcmig_env_opts o = {
		.npages = 8, .events = true, .tag = "legal",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	struct pcmig_event ev;
	int i, j;

	ASSERT_EQ(0, pcmig_env_setup(e, &o)) TH_LOG("%s", pcmig_lib_error());

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_DISCARD));
	i = EXPECT_STATE_EVENT(e, 0, PCMIG_STATE_DISCARD, PCMIG_STATE_ADVISE);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	i = EXPECT_STATE_EVENT(e, i, PCMIG_STATE_LISTEN, PCMIG_STATE_DISCARD);
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	i = EXPECT_STATE_EVENT(e, i, PCMIG_STATE_RUNNING, PCMIG_STATE_LISTEN);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_RUNNING, st.state);

	/* Pause (the source goes away), recover, resume. */
	pcmig_close_source_paused(_metadata, e, &st);
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
	EXPECT_EQ(1, st.pauses);
	j = pcmig_events_find(e->ev, i, e->id, PCMIG_CMD_EVENT_PAUSED, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, j) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, ev.s.reason);
	i = EXPECT_STATE_EVENT(e, i, PCMIG_STATE_PAUSED, PCMIG_STATE_RUNNING);
	EXPECT_LT(j, i) TH_LOG("EVENT_STATE(PAUSED) before EVENT_PAUSED");

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	i = EXPECT_STATE_EVENT(e, i, PCMIG_STATE_RECOVER, PCMIG_STATE_PAUSED);
	ASSERT_EQ(0, pcmig_env_new_source(e, PCMIG_TRANSPORT_UNIX, false, 0))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	i = EXPECT_STATE_EVENT(e, i, PCMIG_STATE_RUNNING, PCMIG_STATE_RECOVER);

	/* Abort. */
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_FAILED));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
	EXPECT_EQ(PCMIG_REASON_ABORTED, st.reason);
	j = pcmig_events_find(e->ev, i, e->id, PCMIG_CMD_EVENT_ERROR, 0,
			      PCMIG_WAIT_MS, &ev);
	ASSERT_LE(0, j) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_REASON_ABORTED, ev.s.reason);
	i = EXPECT_STATE_EVENT(e, i, PCMIG_STATE_FAILED, PCMIG_STATE_RUNNING);
	EXPECT_LT(j, i) TH_LOG("EVENT_STATE(FAILED) before EVENT_ERROR");
}

/*
 * The end of listen_needs_an_urgent_channel and its RECOVER twin: with the
 * bulk channel (pair @b) attached, attach an urgent one and LISTEN works;
 * then close both pairs.
 */
static void listen_once_urgent(struct __test_metadata *_metadata,
			       struct pcmig_env *e, int b[2])
{
	struct pcmig_status st;
	int u[2];

	ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, u));
	ASSERT_EQ(0, pcmig_attach(e->fd, u[0], PCMIG_CHANNEL_URGENT));
	EXPECT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_LISTEN, st.state);
	close(b[0]);
	close(b[1]);
	close(u[0]);
	close(u[1]);
}

TEST_F(state, listen_needs_an_urgent_channel)
{
	struct pcmig_env_opts o = {
		.npages = 8, .no_source = true, .tag = "nourg",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int b[2];

	ASSERT_EQ(0, pcmig_env_setup(e, &o)) TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(-ENOTCONN, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));

	ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, b));
	ASSERT_EQ(0, pcmig_attach(e->fd, b[0], PCMIG_CHANNEL_BULK));
	EXPECT_EQ(-ENOTCONN, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_DISCARD));
	EXPECT_EQ(-ENOTCONN, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_DISCARD, st.state);

	listen_once_urgent(_metadata, e, b);
}

TEST_F(state, recover_needs_an_urgent_channel)
{
	struct pcmig_env_opts o = { .npages = 8, .listen = true,
				    .tag = "recurg" };
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int b[2];

	ASSERT_EQ(0, pcmig_env_setup(e, &o)) TH_LOG("%s", pcmig_lib_error());
	pcmig_close_source_paused(_metadata, e, &st);
	/* Attaching in PAUSED is refused; RECOVER first. */
	ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, b));
	EXPECT_EQ(-EPERM, pcmig_attach(e->fd, b[0], PCMIG_CHANNEL_BULK));
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	EXPECT_EQ(-ENOTCONN, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_attach(e->fd, b[0], PCMIG_CHANNEL_BULK));
	EXPECT_EQ(-ENOTCONN, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_RECOVER, st.state);
	/* Keep the bulk peer open: its end of file would pause again. */
	listen_once_urgent(_metadata, e, b);
}

TEST_F(state, recover_returns_to_advise_or_discard)
{
	struct pcmig_env_opts o = { .npages = 8, .tag = "recadv" };
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int round;

	for (round = 0; round < 2; round++) {
		uint32_t from = round ? PCMIG_STATE_DISCARD :
					PCMIG_STATE_ADVISE;

		pcmig_env_cleanup(e);
		pcmig_env_start(_metadata, e, &o);
		if (round) {
			ASSERT_EQ(0, pcmig_set_state(e->fd, from));
		}
		pcmig_close_source_paused(_metadata, e, &st);
		EXPECT_EQ(PCMIG_REASON_CHANNEL_EOF, st.reason);
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
		/* Not where it paused from. */
		EXPECT_EQ(-EINVAL, pcmig_set_state(e->fd,
			round ? PCMIG_STATE_ADVISE : PCMIG_STATE_DISCARD));
		EXPECT_EQ(-EINVAL, pcmig_set_state(e->fd,
						   PCMIG_STATE_RUNNING));
		/* Back without any channel: none is needed there. */
		EXPECT_EQ(0, pcmig_set_state(e->fd, from))
			TH_LOG("RECOVER -> %s", pcmig_state_name(from));
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
		EXPECT_EQ(from, st.state);
	}
}

/* ABI 0.4: pausing from user space, and the outage fields of the status. */

/* Resume state of a session driven to @s by drive_to(). */
static const uint32_t s_resume[S_COUNT] = {
	[S_ADVISE] = PCMIG_STATE_ADVISE, [S_DISCARD] = PCMIG_STATE_DISCARD,
	[S_LISTEN] = PCMIG_STATE_LISTEN, [S_RUNNING] = PCMIG_STATE_RUNNING,
	[S_RECOVER_L] = PCMIG_STATE_LISTEN,
	[S_RECOVER_R] = PCMIG_STATE_RUNNING,
};

TEST_F_TIMEOUT(state, user_pause_from_every_active_state, 120)
{
	const int from[] = { S_ADVISE, S_DISCARD, S_LISTEN, S_RUNNING,
			     S_RECOVER_L, S_RECOVER_R };
	struct pcmig_env *e = &self->env;
	struct pcmig_status st, st2;
	struct pcmig_nl_session nl;
	struct pcmig_event ev;
	uint64_t t0, t1, pauses;
	unsigned int k;
	int i, s, pair[2];

	for (k = 0; k < ARRAY_SIZE(from); k++) {
		uint32_t resume;

		s = from[k];
		resume = s_resume[s];
		pcmig_env_cleanup(e);
		pcmig_env_init(e);
		e->ev = pcmig_events_open();
		ASSERT_NE(NULL, e->ev) TH_LOG("%s", pcmig_lib_error());
		ASSERT_EQ(0, drive_to(e, s))
			TH_LOG("to #%d: %s", s, pcmig_lib_error());
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
		ASSERT_EQ(s_state[s], st.state);
		pauses = st.pauses;
		/* Not in an outage: no resume state, nothing counted yet. */
		if (st.state != PCMIG_STATE_RECOVER) {
			EXPECT_EQ(PCMIG_STATE_NONE, st.resume_state);
			EXPECT_EQ(0, st.paused_at_ns);
			EXPECT_EQ(0, st.paused_total_ns);
		} else {
			EXPECT_EQ(resume, st.resume_state);
		}
		EXPECT_EQ(0, st.recoveries);

		t0 = pcmig_monotonic_ns();
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_PAUSED))
			TH_LOG("from #%d", s);
		t1 = pcmig_monotonic_ns();
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
		EXPECT_EQ(PCMIG_STATE_PAUSED, st.state);
		EXPECT_EQ(PCMIG_REASON_USER, st.reason)
			TH_LOG("#%d: reason %s", s,
			       pcmig_reason_name(st.reason));
		EXPECT_EQ(0, st.error);
		EXPECT_EQ(pauses + 1, st.pauses);
		EXPECT_EQ(resume, st.resume_state)
			TH_LOG("#%d: resume state %s", s,
			       pcmig_state_name(st.resume_state));
		if (s != S_RECOVER_L && s != S_RECOVER_R) {
			/* A new outage starts now. */
			EXPECT_LE(t0, st.paused_at_ns);
			EXPECT_GE(t1, st.paused_at_ns);
		} else {
			/* The outage that led to RECOVER goes on. */
			EXPECT_GT(t0, st.paused_at_ns);
		}
		i = pcmig_events_find(e->ev, 0, e->id, PCMIG_CMD_EVENT_PAUSED,
				      0, PCMIG_WAIT_MS, &ev);
		ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
		/* A drive_to() pause came first: find the USER one. */
		if (ev.s.reason != PCMIG_REASON_USER)
			i = pcmig_events_find(e->ev, i + 1, e->id,
					      PCMIG_CMD_EVENT_PAUSED, 0,
					      PCMIG_WAIT_MS, &ev);
		ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
		EXPECT_EQ(PCMIG_REASON_USER, ev.s.reason);
		EXPECT_EQ(0, ev.s.error);
		i = pcmig_events_find(e->ev, i, e->id, PCMIG_CMD_EVENT_STATE,
				      PCMIG_STATE_PAUSED, PCMIG_WAIT_MS, &ev);
		ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
		EXPECT_EQ(s_state[s], ev.s.old_state);
		/* Every channel was dropped. */
		EXPECT_EQ(0, pcmig_source_wait_eof(e->src, PCMIG_WAIT_MS))
			TH_LOG("#%d: %s", s, pcmig_lib_error());

		/* PAUSED to PAUSED: nothing happens. */
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_PAUSED));
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st2));
		EXPECT_EQ(PCMIG_STATE_PAUSED, st2.state);
		EXPECT_EQ(st.pauses, st2.pauses);
		EXPECT_EQ(st.paused_at_ns, st2.paused_at_ns);
		EXPECT_EQ(resume, st2.resume_state);
		/* The outage grows while it lasts. */
		EXPECT_LT(st.paused_total_ns, st2.paused_total_ns);
		ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, pair));
		EXPECT_EQ(-EPERM, pcmig_attach(e->fd, pair[0],
					       PCMIG_CHANNEL_URGENT));
		close(pair[0]);
		close(pair[1]);

		/* Netlink says the same. */
		ASSERT_EQ(0, pcmig_genl_session_get(e->id, &nl))
			TH_LOG("%s", pcmig_lib_error());
		EXPECT_EQ(PCMIG_ATTR_UNSPEC, pcmig_nl_session_missing(&nl));
		EXPECT_EQ(resume, nl.resume_state);
		EXPECT_EQ(st.paused_at_ns, nl.paused_at_ns);
		EXPECT_LE(st2.paused_total_ns, nl.paused_total_ns);
		EXPECT_EQ(0, nl.recoveries);

		/* Back where it paused from, through RECOVER. */
		ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st2));
		EXPECT_EQ(resume, st2.resume_state);
		if (resume == PCMIG_STATE_LISTEN ||
		    resume == PCMIG_STATE_RUNNING) {
			EXPECT_EQ(-ENOTCONN, pcmig_set_state(e->fd, resume));
			ASSERT_EQ(0, pcmig_env_new_source(e,
					PCMIG_TRANSPORT_UNIX, false, 0))
				TH_LOG("%s", pcmig_lib_error());
		}
		ASSERT_EQ(0, pcmig_set_state(e->fd, resume))
			TH_LOG("#%d: RECOVER -> %s", s,
			       pcmig_state_name(resume));
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
		EXPECT_EQ(resume, st.state);
		EXPECT_EQ(PCMIG_REASON_NONE, st.reason);
		EXPECT_EQ(PCMIG_STATE_NONE, st.resume_state);
		EXPECT_EQ(1, st.recoveries);
		EXPECT_EQ(st2.paused_at_ns, st.paused_at_ns);
		EXPECT_LT(st2.paused_total_ns, st.paused_total_ns);
		/* Over: the total stays. */
		pcmig_msleep(20);
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st2));
		EXPECT_EQ(st.paused_total_ns, st2.paused_total_ns);
		EXPECT_EQ(st.paused_at_ns, st2.paused_at_ns);
	}
}

/* MISSING: runs of missing pages. */

#define MISS_PAGES	64

FIXTURE(missing) {
	struct pcmig_env env;
};

FIXTURE_SETUP(missing)
{
	struct pcmig_env_opts o = {
		.npages = MISS_PAGES, .seed = 0x315, .tag = "missing",
	};

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(missing)
{
	pcmig_env_cleanup(&self->env);
}

/* Make pages @first.. @first + @n present (zero frames) and wait. */
static int make_present(struct pcmig_env *e, uint64_t first, uint32_t n,
			uint64_t total)
{
	struct pcmig_status st;
	int ret;

	ret = pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, first, n);
	if (ret)
		return ret;
	return PCMIG_WAIT_FIELD(e->fd, pages_present, total, PCMIG_WAIT_MS,
				&st);
}

#define EXPECT_RUN(x, first, n) do {					\
	EXPECT_EQ((uint64_t)(first) * PS, (x).offset);			\
	EXPECT_EQ((uint64_t)(n) * PS, (x).length);			\
} while (0)

TEST_F(missing, runs_in_order_and_resumable)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_extent x[8];
	uint64_t off;
	uint32_t n;

	/* Nothing present: one run of everything. */
	off = 0;
	n = 8;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	EXPECT_EQ(1, n);
	EXPECT_RUN(x[0], 0, MISS_PAGES);
	EXPECT_EQ(MISS_PAGES * PS, off);

	/* Present: 0-3, 8, 10-11, 63. Missing: 4-7, 9, 12-62. */
	ASSERT_EQ(0, make_present(e, 0, 4, 4));
	ASSERT_EQ(0, make_present(e, 8, 1, 5));
	ASSERT_EQ(0, make_present(e, 10, 2, 7));
	ASSERT_EQ(0, make_present(e, 63, 1, 8));

	memset(x, 0xa5, sizeof(x));
	off = 0;
	n = 8;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(3, n);
	EXPECT_RUN(x[0], 4, 4);
	EXPECT_RUN(x[1], 9, 1);
	EXPECT_RUN(x[2], 12, 51);
	EXPECT_EQ(MISS_PAGES * PS, off);
	/* Room past the runs is not written. */
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ull, x[3].offset);
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ull, x[7].length);

	/* One at a time: each call resumes past the last run. */
	off = 0;
	n = 1;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(1, n);
	EXPECT_RUN(x[0], 4, 4);
	EXPECT_EQ(8 * PS, off);
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(1, n);
	EXPECT_RUN(x[0], 9, 1);
	EXPECT_EQ(10 * PS, off);
	/* The last run: nothing missing after it, so the session size. */
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(1, n);
	EXPECT_RUN(x[0], 12, 51);
	EXPECT_EQ(MISS_PAGES * PS, off);
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	EXPECT_EQ(0, n);
	EXPECT_EQ(MISS_PAGES * PS, off);

	/* Two runs asked, more follow: the offset is past the second. */
	off = 0;
	n = 2;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(2, n);
	EXPECT_EQ(10 * PS, off);

	/* From inside a run: the run from there. */
	off = 5 * PS;
	n = 8;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(3, n);
	EXPECT_RUN(x[0], 5, 3);
	/* From a present page. */
	off = 10 * PS;
	n = 8;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(1, n);
	EXPECT_RUN(x[0], 12, 51);
	EXPECT_EQ(MISS_PAGES * PS, off);
	/* From the last page (present) and from the end. */
	off = 63 * PS;
	n = 8;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	EXPECT_EQ(0, n);
	EXPECT_EQ(MISS_PAGES * PS, off);
	off = MISS_PAGES * PS;
	n = 8;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	EXPECT_EQ(0, n);
	EXPECT_EQ(MISS_PAGES * PS, off);

	/* Every page present: nothing. */
	ASSERT_EQ(0, make_present(e, 4, 4, 12));
	ASSERT_EQ(0, make_present(e, 9, 1, 13));
	ASSERT_EQ(0, make_present(e, 12, 51, MISS_PAGES));
	off = 0;
	n = 8;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	EXPECT_EQ(0, n);
	EXPECT_EQ(MISS_PAGES * PS, off);
}

TEST_F(missing, bad_arguments)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_extent x[4];
	struct pcmig_missing m, base;
	void *unmapped;

	memset(&base, 0, sizeof(base));
	base.extents = (uintptr_t)x;
	base.count = 4;

#define MISSING_ERR(err, field, value) do {				\
	m = base;							\
	m.field = value;						\
	EXPECT_EQ(err, pcmig_missing(e->fd, &m)) TH_LOG(#field);	\
} while (0)
	MISSING_ERR(-EINVAL, offset, 1);
	MISSING_ERR(-EINVAL, offset, PS / 2);
	MISSING_ERR(-EINVAL, offset, (MISS_PAGES + 1) * PS);
	MISSING_ERR(-EINVAL, offset, ~0ull & ~(uint64_t)(PS - 1));
	MISSING_ERR(-EINVAL, count, 0);
	MISSING_ERR(-EINVAL, count, PCMIG_MISSING_MAX + 1);
	MISSING_ERR(-EINVAL, count, ~0u);
	MISSING_ERR(-EINVAL, flags, 1);
	MISSING_ERR(-EINVAL, flags, 0x80000000u);
	MISSING_ERR(-EINVAL, reserved[0], 1);
	MISSING_ERR(-EINVAL, reserved[1], 1);
	/* An array the kernel cannot write. */
	unmapped = mmap(NULL, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(MAP_FAILED, unmapped);
	MISSING_ERR(-EFAULT, extents, (uintptr_t)unmapped);
	munmap(unmapped, PS);
	MISSING_ERR(-EFAULT, extents, (uintptr_t)unmapped);
	MISSING_ERR(-EFAULT, extents, ~0ull - 8);
#undef MISSING_ERR
	EXPECT_EQ(-EFAULT, pcmig_missing(e->fd, NULL));
	/* The largest count is fine (only one run is written). */
	m = base;
	m.count = PCMIG_MISSING_MAX;
	EXPECT_EQ(0, pcmig_missing(e->fd, &m));
	EXPECT_EQ(1, m.count);
	EXPECT_EQ(MISS_PAGES * PS, m.offset);
}

/* In every state, PAUSED and FAILED included. */
TEST_F(missing, allowed_in_every_state)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_extent x[2];
	struct pcmig_status st;
	uint64_t off;
	uint32_t n;
	int step;

	ASSERT_EQ(0, make_present(e, 1, 62, 62));
	for (step = 0; step < 6; step++) {
		switch (step) {
		case 1:
			ASSERT_EQ(0, pcmig_set_state(e->fd,
						     PCMIG_STATE_LISTEN));
			break;
		case 2:
			ASSERT_EQ(0, pcmig_set_state(e->fd,
						     PCMIG_STATE_RUNNING));
			break;
		case 3:
			ASSERT_EQ(0, pcmig_set_state(e->fd,
						     PCMIG_STATE_PAUSED));
			break;
		case 4:
			ASSERT_EQ(0, pcmig_set_state(e->fd,
						     PCMIG_STATE_RECOVER));
			break;
		case 5:
			ASSERT_EQ(0, pcmig_set_state(e->fd,
						     PCMIG_STATE_FAILED));
			break;
		}
		ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
		off = 0;
		n = 2;
		ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n))
			TH_LOG("in %s", pcmig_state_name(st.state));
		ASSERT_EQ(2, n);
		EXPECT_RUN(x[0], 0, 1);
		EXPECT_RUN(x[1], 63, 1);
		EXPECT_EQ(MISS_PAGES * PS, off);
	}
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
}

/*
 * More runs than the kernel's buffer holds (a page of extents), returned
 * in pieces: every odd page of 2048 is missing.
 */
TEST_F_TIMEOUT(missing, many_runs_in_chunks, 90)
{
	struct pcmig_env_opts o = {
		.npages = 2048, .seed = 0x316, .tag = "missbig",
	};
	struct pcmig_env *e = &self->env;
	struct pcmig_extent *x;
	struct pcmig_status st;
	uint64_t off, k;
	uint32_t n;

	pcmig_env_cleanup(e);
	pcmig_env_start(_metadata, e, &o);
	for (k = 0; k < 2048; k += 2)
		ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK,
						    k, 1));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 1024,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());

	x = calloc(1100, sizeof(*x));
	ASSERT_NE(NULL, x);
	memset(x, 0x5a, 1100 * sizeof(*x));
	off = 0;
	n = 1000;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(1000, n);
	for (k = 0; k < 1000; k++) {
		EXPECT_EQ((2 * k + 1) * PS, x[k].offset) TH_LOG("run %llu",
			(unsigned long long)k);
		EXPECT_EQ(PS, x[k].length);
		if (x[k].offset != (2 * k + 1) * PS)
			break;
	}
	EXPECT_EQ(0x5a5a5a5a5a5a5a5aull, x[1000].offset);
	EXPECT_EQ(2000 * PS, off);

	n = 1100;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	ASSERT_EQ(24, n);
	for (k = 0; k < 24; k++) {
		EXPECT_EQ((2001 + 2 * k) * PS, x[k].offset);
		EXPECT_EQ(PS, x[k].length);
	}
	EXPECT_EQ(2048 * PS, off);

	/* All of them at once. */
	off = 0;
	n = 1100;
	ASSERT_EQ(0, pcmig_missing_runs(e->fd, &off, x, &n));
	EXPECT_EQ(1024, n);
	EXPECT_EQ((2 * 1023 + 1) * PS, x[1023].offset);
	EXPECT_EQ(2048 * PS, off);
	free(x);
}

/* SET_PARAMS */

TEST_F(missing, set_params_arguments_and_states)
{
	struct pcmig_env *e = &self->env;
	struct pcmig_nl_session nl;
	struct pcmig_params p;
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(0, st.pause_timeout_ms);

	memset(&p, 0, sizeof(p));
	p.flags = 1;
	EXPECT_EQ(-EINVAL, pcmig_set_params(e->fd, &p));
	p.flags = 0;
	p.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, pcmig_set_params(e->fd, &p));
	p.reserved[0] = 0;
	p.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, pcmig_set_params(e->fd, &p));
	p.reserved[2] = 0;
	p.pause_timeout_ms = PCMIG_PAUSE_TIMEOUT_MAX_MS + 1;
	EXPECT_EQ(-EINVAL, pcmig_set_params(e->fd, &p));
	p.pause_timeout_ms = ~0u;
	EXPECT_EQ(-EINVAL, pcmig_set_params(e->fd, &p));
	EXPECT_EQ(-EFAULT, pcmig_set_params(e->fd, NULL));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(0, st.pause_timeout_ms);

	EXPECT_EQ(0, pcmig_set_pause_timeout(e->fd,
					     PCMIG_PAUSE_TIMEOUT_MAX_MS));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_PAUSE_TIMEOUT_MAX_MS, st.pause_timeout_ms);
	EXPECT_EQ(0, pcmig_set_pause_timeout(e->fd, 1234));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(1234, st.pause_timeout_ms);
	ASSERT_EQ(0, pcmig_genl_session_get(e->id, &nl))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(1234, nl.pause_timeout_ms);
	ASSERT_EQ(PCMIG_STATE_ADVISE, st.state);

	/* Not in an outage: nothing fails. */
	EXPECT_EQ(0, pcmig_set_pause_timeout(e->fd, 1));
	pcmig_msleep(50);
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
	EXPECT_EQ(0, pcmig_set_pause_timeout(e->fd, 0));

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_FAILED));
	EXPECT_EQ(-EBUSY, pcmig_set_pause_timeout(e->fd, 100));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(0, st.pause_timeout_ms);
}

TEST_F(state, failed_gets_sigbus_keeps_present_pages)
{
	struct pcmig_env_opts o = { .npages = 8, .seed = 77, .events = true,
				    .tag = "abort" };
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	int status, n;
	pid_t kid;

	ASSERT_EQ(0, pcmig_env_setup(e, &o)) TH_LOG("%s", pcmig_lib_error());
	/* Precopy: two pages arrive in ADVISE. */
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 2));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 2, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	/* A fault in ADVISE waits. */
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 5, 1, 77, false));
	ASSERT_LT(0, kid);
	ASSERT_EQ(0, PCMIG_WAIT_FAULTS(e->fd, 0, 1, &st))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_FAILED));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	ASSERT_LE(0, status)
		TH_LOG("the blocked fault did not end after FAILED");
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("child: %s", pcmig_status_str(status));
	/* Present pages stay readable, missing ones SIGBUS at once. */
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 2, 77, NULL));
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, 6, 1, 77, false));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	ASSERT_LE(0, status);
	EXPECT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("child: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_REASON_ABORTED, st.reason);
	EXPECT_EQ(2, st.pages_present);
	EXPECT_EQ(0, pcmig_source_total_requests(e->src));

	/* Destroying a failed session: no new event, reason kept. */
	n = pcmig_events_count(e->ev, PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_env_destroy(e));
	EXPECT_EQ(0, pcmig_events_count_for(e->ev, n, e->id, PCMIG_SHORT_MS));
	ASSERT_EQ(0, pcmig_get_status(e->fd, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
}

/* Attach */

FIXTURE(attach) {
	struct pcmig_env env;
	int fds[16];
	int nfds;
};

FIXTURE_SETUP(attach)
{
	struct pcmig_env_opts o = { .npages = 8, .no_source = true,
				    .tag = "attach" };

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(attach)
{
	int i;

	pcmig_env_cleanup(&self->env);
	for (i = 0; i < self->nfds; i++)
		close(self->fds[i]);
}

static int afd(FIXTURE_DATA(attach) *self, int fd)
{
	if (fd >= 0 && self->nfds < 16)
		self->fds[self->nfds++] = fd;
	return fd;
}

TEST_F(attach, not_a_socket_enotsock)
{
	int fd = self->env.fd, p[2];

	EXPECT_EQ(-ENOTSOCK, pcmig_attach(fd, afd(self, open("/dev/null",
			O_RDWR | O_CLOEXEC)), PCMIG_CHANNELS_ALL));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	afd(self, p[0]);
	afd(self, p[1]);
	EXPECT_EQ(-ENOTSOCK, pcmig_attach(fd, p[0], PCMIG_CHANNEL_URGENT));
	EXPECT_EQ(-ENOTSOCK, pcmig_attach(fd, afd(self, eventfd(0, EFD_CLOEXEC)),
					  PCMIG_CHANNEL_BULK));
	EXPECT_EQ(-ENOTSOCK, pcmig_attach(fd, fd, PCMIG_CHANNELS_ALL));
	EXPECT_EQ(-ENOTSOCK, pcmig_attach(fd, self->env.ctl,
					  PCMIG_CHANNELS_ALL));
}

TEST_F(attach, bad_fd_ebadf)
{
	int fd = self->env.fd;

	EXPECT_EQ(-EBADF, pcmig_attach(fd, -1, PCMIG_CHANNELS_ALL));
	EXPECT_EQ(-EBADF, pcmig_attach(fd, 100000, PCMIG_CHANNELS_ALL));
	EXPECT_EQ(-EBADF, pcmig_attach(fd, INT32_MIN, PCMIG_CHANNEL_URGENT));
}

TEST_F(attach, not_a_stream_socket_einval)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				   .sin_port = htons(9) };
	int fd = self->env.fd, sv[2], u;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	afd(self, sv[0]);
	afd(self, sv[1]);
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, sv[0], PCMIG_CHANNELS_ALL));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				sv));
	afd(self, sv[0]);
	afd(self, sv[1]);
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, sv[0], PCMIG_CHANNELS_ALL));
	/* A connected UDP socket. */
	u = afd(self, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	ASSERT_LE(0, u);
	ASSERT_EQ(0, connect(u, (struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, u, PCMIG_CHANNEL_URGENT));
	/* A netlink socket. */
	u = afd(self, socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0));
	ASSERT_LE(0, u);
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, u, PCMIG_CHANNEL_URGENT));
}

TEST_F(attach, unconnected_stream_socket_einval)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = self->env.fd, s;

	s = afd(self, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	ASSERT_LE(0, s);
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, s, PCMIG_CHANNELS_ALL));
	/* A listening one. */
	s = afd(self, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	ASSERT_LE(0, s);
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(s, 1));
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, s, PCMIG_CHANNELS_ALL));
	s = afd(self, socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	ASSERT_LE(0, s);
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, s, PCMIG_CHANNEL_URGENT));
	s = afd(self, socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	ASSERT_LE(0, s);
	/* Abstract address: nothing to clean up. */
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "kst-%d",
		 getpid());
	ASSERT_EQ(0, bind(s, (struct sockaddr *)&sun, sizeof(sun)));
	ASSERT_EQ(0, listen(s, 1));
	EXPECT_EQ(-EINVAL, pcmig_attach(fd, s, PCMIG_CHANNEL_URGENT));
}

TEST_F(attach, channel_taken_ebusy)
{
	int fd = self->env.fd, p[4][2], i;
	struct pcmig_env e2;
	struct pcmig_env_opts o = { .npages = 8, .no_source = true,
				    .tag = "attach2" };

	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pcmig_stream_pair(i & 1 ? PCMIG_TRANSPORT_TCP :
					       PCMIG_TRANSPORT_UNIX, p[i]));
		afd(self, p[i][0]);
		afd(self, p[i][1]);
	}
	ASSERT_EQ(0, pcmig_attach(fd, p[0][0], PCMIG_CHANNEL_URGENT));
	EXPECT_EQ(-EBUSY, pcmig_attach(fd, p[1][0], PCMIG_CHANNEL_URGENT));
	EXPECT_EQ(-EBUSY, pcmig_attach(fd, p[1][0], PCMIG_CHANNELS_ALL));
	/* The same socket again, for the same channel. */
	EXPECT_EQ(-EBUSY, pcmig_attach(fd, p[0][0], PCMIG_CHANNEL_URGENT));
	EXPECT_EQ(0, pcmig_attach(fd, p[1][0], PCMIG_CHANNEL_BULK));
	EXPECT_EQ(-EBUSY, pcmig_attach(fd, p[2][0], PCMIG_CHANNEL_BULK));
	EXPECT_EQ(-EBUSY, pcmig_attach(fd, p[2][0], PCMIG_CHANNELS_ALL));

	/* One socket serving both channels. */
	pcmig_env_start(_metadata, &e2, &o);
	EXPECT_EQ(0, pcmig_attach(e2.fd, p[3][0], PCMIG_CHANNELS_ALL));
	EXPECT_EQ(-EBUSY, pcmig_attach(e2.fd, p[2][0], PCMIG_CHANNEL_URGENT));
	EXPECT_EQ(-EBUSY, pcmig_attach(e2.fd, p[2][0], PCMIG_CHANNEL_BULK));
	pcmig_env_cleanup(&e2);
}

TEST_F(attach, bad_channel_mask_einval)
{
	const uint32_t masks[] = {
		0, 1u << 2, 1u << 31, PCMIG_CHANNELS_ALL | (1u << 2), ~0u,
	};
	int sv[2];
	unsigned int i;

	ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, sv));
	afd(self, sv[0]);
	afd(self, sv[1]);
	for (i = 0; i < ARRAY_SIZE(masks); i++) {
		EXPECT_EQ(-EINVAL, pcmig_attach(self->env.fd, sv[0], masks[i]))
			TH_LOG("mask %#x", masks[i]);
	}
	EXPECT_EQ(0, pcmig_attach(self->env.fd, sv[0], PCMIG_CHANNELS_ALL));
}

TEST_F(attach, caller_may_close_its_descriptor)
{
	struct pcmig_status st;
	int sv[2];

	ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, sv));
	afd(self, sv[1]);
	ASSERT_EQ(0, pcmig_attach(self->env.fd, sv[0], PCMIG_CHANNELS_ALL));
	close(sv[0]);
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
	EXPECT_EQ(0, st.pauses);
	EXPECT_EQ(0, pcmig_set_state(self->env.fd, PCMIG_STATE_LISTEN));
}

TEST_F(attach, allowed_states_only)
{
	struct pcmig_env_opts o = { .npages = 4, .tag = "attst" };
	struct pcmig_env e2;
	struct pcmig_status st;
	int sv[2], i;

	for (i = 0; i < 3; i++) {
		pcmig_env_start(_metadata, &e2, &o);
		ASSERT_EQ(0, pcmig_set_state(e2.fd, PCMIG_STATE_LISTEN));
		if (i == 0) {
			pcmig_source_close(e2.src);
			ASSERT_EQ(0, pcmig_wait_state(e2.fd,
				PCMIG_STATE_PAUSED, PCMIG_WAIT_MS, &st))
				TH_LOG("%s", pcmig_lib_error());
		} else if (i == 1) {
			ASSERT_EQ(0, pcmig_set_state(e2.fd,
						     PCMIG_STATE_FAILED));
		} else {
			ASSERT_EQ(0, pcmig_source_send_zero(e2.src,
					PCMIG_CHANNEL_BULK, 0, 4));
			ASSERT_EQ(0, PCMIG_WAIT_FIELD(e2.fd, pages_present, 4,
						      PCMIG_WAIT_MS, &st));
			ASSERT_EQ(0, pcmig_set_state(e2.fd,
						     PCMIG_STATE_RUNNING));
			ASSERT_EQ(0, pcmig_wait_state(e2.fd, PCMIG_STATE_END,
						      PCMIG_WAIT_MS, &st))
				TH_LOG("%s", pcmig_lib_error());
		}
		ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, sv));
		afd(self, sv[0]);
		afd(self, sv[1]);
		/* PAUSED: RECOVER first; END and FAILED: final. */
		EXPECT_EQ(i == 0 ? -EPERM : -EBUSY,
			  pcmig_attach(e2.fd, sv[0], PCMIG_CHANNEL_URGENT))
			TH_LOG("attach in %s", i == 0 ? "PAUSED" :
			       i == 1 ? "FAILED" : "END");
		pcmig_env_cleanup(&e2);
	}

	/* DISCARD, LISTEN and RUNNING take a late bulk channel. */
	o.no_source = true;
	for (i = 0; i < 3; i++) {
		pcmig_env_start(_metadata, &e2, &o);
		ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, sv));
		afd(self, sv[0]);
		afd(self, sv[1]);
		ASSERT_EQ(0, pcmig_attach(e2.fd, sv[0], PCMIG_CHANNEL_URGENT));
		if (i == 0) {
			ASSERT_EQ(0, pcmig_set_state(e2.fd,
						     PCMIG_STATE_DISCARD));
		} else {
			ASSERT_EQ(0, pcmig_set_state(e2.fd,
						     PCMIG_STATE_LISTEN));
			if (i == 2) {
				ASSERT_EQ(0, pcmig_set_state(e2.fd,
						PCMIG_STATE_RUNNING));
			}
		}
		ASSERT_EQ(0, pcmig_stream_pair(PCMIG_TRANSPORT_UNIX, sv));
		afd(self, sv[0]);
		afd(self, sv[1]);
		EXPECT_EQ(0, pcmig_attach(e2.fd, sv[0], PCMIG_CHANNEL_BULK))
			TH_LOG("late bulk attach, case %d: %s", i,
			       pcmig_lib_error());
		pcmig_env_cleanup(&e2);
	}
}

/* Netlink session commands */

FIXTURE(genl) {
	struct pcmig_env env;
};

FIXTURE_SETUP(genl)
{
	struct pcmig_env_opts o = { .npages = 12, .no_source = true,
				    .tag = "genl" };

	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(genl)
{
	pcmig_env_cleanup(&self->env);
}

TEST_F(genl, session_get_matches_status)
{
	struct pcmig_nl_session s;
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_set_state(self->env.fd, PCMIG_STATE_DISCARD));
	ASSERT_EQ(0, pcmig_genl_session_get(self->env.id, &s))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(PCMIG_ATTR_UNSPEC, pcmig_nl_session_missing(&s))
		TH_LOG("attribute %d missing", pcmig_nl_session_missing(&s));
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(self->env.id, s.id);
	EXPECT_STREQ(self->env.name, s.name);
	EXPECT_EQ(PCMIG_STATE_DISCARD, s.state);
	EXPECT_EQ(st.reason, s.reason);
	EXPECT_EQ(0, s.error);
	EXPECT_EQ(12 * PS, s.size);
	EXPECT_EQ(12, s.pages_total);
	EXPECT_EQ(st.pages_present, s.pages_present);
	EXPECT_EQ(st.pauses, s.pauses);
	EXPECT_EQ(PCMIG_HIST_BUCKETS, s.hist_entries);
}

TEST_F(genl, session_get_unknown_enoent)
{
	struct pcmig_nl_session s;

	EXPECT_EQ(-ENOENT, pcmig_genl_session_get(0xfffffff0u, &s));
	EXPECT_EQ(-ENOENT, pcmig_genl_session_get(self->env.id + 1000, &s));
}

static bool dump_has(struct pcmig_nl_session *s, unsigned int n, uint32_t id,
		     const char *name)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (s[i].id == id)
			return !strcmp(s[i].name, name);
	return false;
}

TEST_F(genl, dump_lists_live_sessions)
{
	struct pcmig_env_opts o = { .npages = 4, .no_source = true,
				    .tag = "genl2" };
	struct pcmig_nl_session s[64];
	struct pcmig_env e2;
	unsigned int n;

	pcmig_env_start(_metadata, &e2, &o);
	ASSERT_EQ(0, pcmig_genl_session_dump(s, 64, &n))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_TRUE(dump_has(s, n, self->env.id, self->env.name));
	EXPECT_TRUE(dump_has(s, n, e2.id, e2.name));

	/* Destroyed (fd still open): not live, not listed. */
	ASSERT_EQ(0, pcmig_env_destroy(&e2));
	ASSERT_EQ(0, pcmig_genl_session_dump(s, 64, &n));
	EXPECT_TRUE(dump_has(s, n, self->env.id, self->env.name));
	EXPECT_FALSE(dump_has(s, n, e2.id, e2.name));
	pcmig_env_cleanup(&e2);
}

TEST_F(genl, destroy_command)
{
	struct pcmig_status st;

	ASSERT_EQ(0, pcmig_genl_session_destroy(self->env.id))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_TRUE(node_gone(self->env.id, 2000));
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
	EXPECT_EQ(PCMIG_REASON_DESTROYED, st.reason);
	EXPECT_EQ(-ENODEV, pcmig_destroy(self->env.fd));
	self->env.destroyed = true;
}

TEST_F(genl, destroy_needs_cap_net_admin)
{
	struct pcmig_status st;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int r;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		r = pcmig_genl_session_destroy(self->env.id);
		_exit(r == -EPERM ? 0 : r == 0 ? 11 : 12);
	}
	ASSERT_EQ(0, pcmig_wait_child(pid, PCMIG_WAIT_MS, &status));
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("unprivileged destroy: %s (11: it worked, 12: other error)",
		       pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
	EXPECT_TRUE(node_exists(self->env.id));
}

/*
 * Network namespaces (a session's events and netlink view stay in the
 * namespace that created it): pcmig_netlink_test.
 */

/* Lifetime */

FIXTURE(lifetime) {
	struct pcmig_env env;
	struct pcmig_env e[4];
	int ctl;
};

FIXTURE_SETUP(lifetime)
{
	int i;

	pcmig_env_init(&self->env);
	for (i = 0; i < 4; i++)
		pcmig_env_init(&self->e[i]);
	self->ctl = -1;
}

FIXTURE_TEARDOWN(lifetime)
{
	int i;

	pcmig_env_cleanup(&self->env);
	for (i = 0; i < 4; i++)
		pcmig_env_cleanup(&self->e[i]);
	if (self->ctl >= 0)
		close(self->ctl);
}

TEST_F(lifetime, auto_destroy_after_last_file_and_mapping)
{
	long base, seen;
	uint32_t id;
	void *p;
	int fd;

	base = sessions_alive();
	ASSERT_LE(0, base);
	self->ctl = pcmig_ctl_open();
	ASSERT_LE(0, self->ctl);
	fd = pcmig_create(self->ctl, 8 * PS, PCMIG_CREATE_F_AUTO_DESTROY,
			  PCMIG_ST_PREFIX "auto", &id);
	ASSERT_LE(0, fd) TH_LOG("%s", pcmig_lib_error());
	p = mmap(NULL, 8 * PS, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	/* The mapping keeps it. */
	pcmig_msleep(PCMIG_SHORT_MS);
	EXPECT_TRUE(node_exists(id));
	EXPECT_EQ(base + 1, sessions_alive());
	munmap(p, 8 * PS);
	EXPECT_TRUE(node_gone(id, PCMIG_WAIT_MS));
	EXPECT_TRUE(wait_sessions(base, PCMIG_WAIT_MS, &seen))
		TH_LOG("sessions: %ld, baseline %ld", seen, base);

	/* Without a mapping, the close is the end. */
	fd = pcmig_create(self->ctl, 8 * PS, PCMIG_CREATE_F_AUTO_DESTROY,
			  PCMIG_ST_PREFIX "auto", &id);
	ASSERT_LE(0, fd) TH_LOG("%s", pcmig_lib_error());
	close(fd);
	EXPECT_TRUE(node_gone(id, PCMIG_WAIT_MS));
	EXPECT_TRUE(wait_sessions(base, PCMIG_WAIT_MS, &seen))
		TH_LOG("sessions: %ld, baseline %ld", seen, base);
}

TEST_F(lifetime, destroyed_session_counted_until_closed)
{
	struct pcmig_env_opts o = { .npages = 4, .no_source = true,
				    .tag = "count" };
	struct pcmig_env *e = self->e;
	long base, seen;
	int i;

	base = sessions_alive();
	ASSERT_LE(0, base) TH_LOG("GET_INFO without PCMIG_ATTR_SESSIONS?");
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, pcmig_env_setup(&e[i], &o))
			TH_LOG("%s", pcmig_lib_error());
	}
	EXPECT_EQ(base + 3, sessions_alive());
	/* Destroyed but still open and mapped: still an object. */
	ASSERT_EQ(0, pcmig_env_destroy(&e[0]));
	EXPECT_EQ(base + 3, sessions_alive());
	pcmig_env_cleanup(&e[0]);
	EXPECT_TRUE(wait_sessions(base + 2, PCMIG_WAIT_MS, &seen))
		TH_LOG("sessions: %ld, want %ld", seen, base + 2);
	pcmig_env_cleanup(&e[1]);
	pcmig_env_cleanup(&e[2]);
	EXPECT_TRUE(wait_sessions(base, PCMIG_WAIT_MS, &seen))
		TH_LOG("sessions: %ld, baseline %ld", seen, base);
}

TEST_F_TIMEOUT(lifetime, sessions_with_traffic_leave_nothing, 60)
{
	struct pcmig_env *e = self->e;
	long base, seen;
	int i;

	base = sessions_alive();
	ASSERT_LE(0, base);
	for (i = 0; i < 4; i++) {
		struct pcmig_env_opts o = {
			.npages = 32, .listen = true, .seed = 100 + i,
			.transport = i & 1 ? PCMIG_TRANSPORT_TCP :
					     PCMIG_TRANSPORT_UNIX,
			.split = i & 2, .tag = "leak",
		};

		ASSERT_EQ(0, pcmig_env_setup(&e[i], &o))
			TH_LOG("%s", pcmig_lib_error());
		EXPECT_EQ(-1, pcmig_env_check(&e[i], 0, 8, 100 + i, NULL));
		ASSERT_EQ(0, pcmig_source_push_range(e[i].src, 16, 8));
	}
	/* One paused, one failed, one destroyed with pages in flight. */
	pcmig_source_close(e[1].src);
	ASSERT_EQ(0, pcmig_set_state(e[2].fd, PCMIG_STATE_FAILED));
	pcmig_source_hold_all(e[3].src, true);
	pcmig_env_kid(&e[3], pcmig_fork_check(e[3].map, 30, 1, 103, false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e[3].src, 30, 1,
						PCMIG_WAIT_MS));
	for (i = 0; i < 4; i++)
		pcmig_env_cleanup(&e[i]);
	EXPECT_TRUE(wait_sessions(base, PCMIG_WAIT_MS, &seen))
		TH_LOG("sessions: %ld, baseline %ld", seen, base);
}

TEST_F_TIMEOUT(lifetime, shmem_returns_to_baseline, 120)
{
	struct pcmig_env_opts o = { .npages = 8192, .seed = 5,
				    .tag = "shmem" };
	struct pcmig_env *e = &self->env;
	struct pcmig_status st;
	long base, full, now = -1;
	uint64_t deadline;

	base = pcmig_meminfo_kb("Shmem");
	ASSERT_LE(0, base);
	ASSERT_EQ(0, pcmig_env_setup(e, &o)) TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_source_push_range(e->src, 0, 8192))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 8192, 60000, &st))
		TH_LOG("%s", pcmig_lib_error());
	EXPECT_EQ(8192, st.pages_pushed);
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 16, 5, NULL));
	EXPECT_EQ(-1, pcmig_env_check(e, 8100, 92, 5, NULL));
	full = pcmig_meminfo_kb("Shmem");
	/* The pages are in a tmpfs file: Shmem grew by about 32 MiB. */
	EXPECT_LE(base + 28 * 1024, full)
		TH_LOG("Shmem %ld kB before, %ld kB with 32 MiB present",
		       base, full);
	pcmig_env_cleanup(e);
	deadline = pcmig_now_ms() + PCMIG_WAIT_MS;
	while (pcmig_now_ms() < deadline) {
		now = pcmig_meminfo_kb("Shmem");
		if (now <= base + 2048)
			break;
		pcmig_msleep(50);
	}
	EXPECT_LE(now, base + 2048)
		TH_LOG("Shmem %ld kB at the start, %ld kB full, %ld kB after destroy and close",
		       base, full, now);
}

TEST_F(lifetime, rmmod_refused_while_a_session_lives)
{
	long base, held, now = -1;
	char path[64];
	uint64_t deadline;
	uint32_t id;
	int fd;

	base = pcmig_module_refcnt();
	ASSERT_LE(0, base);
	self->ctl = pcmig_ctl_open();
	ASSERT_LE(0, self->ctl);
	fd = pcmig_create(self->ctl, 8 * PS, 0, PCMIG_ST_PREFIX "rmmod", &id);
	ASSERT_LE(0, fd) TH_LOG("%s", pcmig_lib_error());
	close(fd);
	close(self->ctl);
	self->ctl = -1;

	/* Not a file open anywhere, yet the session pins the module. */
	held = pcmig_module_refcnt();
	ASSERT_LT(base, held)
		TH_LOG("refcnt %ld with a live session, %ld without: not trying delete_module",
		       held, base);
	EXPECT_EQ(-1, pcmig_delete_module("pcmig", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	ASSERT_EQ(0, access("/sys/module/pcmig", F_OK));
	EXPECT_TRUE(node_exists(id));

	pcmig_node_path(path, sizeof(path), id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	EXPECT_EQ(0, pcmig_destroy(fd));
	close(fd);
	deadline = pcmig_now_ms() + PCMIG_WAIT_MS;
	while (pcmig_now_ms() < deadline) {
		now = pcmig_module_refcnt();
		if (now == base)
			break;
		pcmig_msleep(20);
	}
	EXPECT_EQ(base, now) TH_LOG("module refcnt did not return to %ld",
				    base);
}

PCMIG_HARNESS_MAIN
