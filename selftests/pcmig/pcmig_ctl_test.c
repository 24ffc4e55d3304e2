// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: the /dev/pcmig control node and the generic netlink
 * family: version and feature reporting, argument checking and errnos.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"

FIXTURE(ctl) {
	int fd;
};

FIXTURE_SETUP(ctl)
{
	self->fd = open(PCMIG_CTL_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", PCMIG_CTL_PATH,
				      strerror(errno));
}

FIXTURE_TEARDOWN(ctl)
{
	close(self->fd);
}

TEST_F(ctl, node_is_root_only_char_device)
{
	unsigned int maj, min;
	struct stat st;
	char buf[64];
	ssize_t n;
	int fd;

	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);

	/* The node is the misc device the module registered. */
	fd = open("/sys/class/misc/" PCMIG_NAME "/dev", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	ASSERT_EQ(2, sscanf(buf, "%u:%u", &maj, &min));
	EXPECT_EQ(major(st.st_rdev), maj);
	EXPECT_EQ(minor(st.st_rdev), min);
}

TEST_F(ctl, version_reports_abi)
{
	struct pcmig_version ver;

	memset(&ver, 0, sizeof(ver));
	ASSERT_EQ(0, ioctl(self->fd, PCMIG_IOC_VERSION, &ver));
	EXPECT_EQ(PCMIG_ABI_MAJOR, ver.abi_major);
	EXPECT_EQ(PCMIG_ABI_MINOR, ver.abi_minor);
	EXPECT_EQ(0, ver.features & ~PCMIG_FEATURES_ALL);
	EXPECT_EQ((unsigned int)sysconf(_SC_PAGESIZE), ver.page_size);
	EXPECT_EQ(0, ver.flags);
	EXPECT_EQ(0, ver.reserved[0] | ver.reserved[1] | ver.reserved[2] |
		     ver.reserved[3]);
}

TEST_F(ctl, version_overwrites_stale_output)
{
	struct pcmig_version ver;

	memset(&ver, 0, sizeof(ver));
	ver.abi_major = 0xdeadbeef;
	ver.abi_minor = 0xdeadbeef;
	ver.features = ~0ULL;
	ver.page_size = 1;
	ASSERT_EQ(0, ioctl(self->fd, PCMIG_IOC_VERSION, &ver));
	EXPECT_EQ(PCMIG_ABI_MAJOR, ver.abi_major);
	EXPECT_EQ(PCMIG_ABI_MINOR, ver.abi_minor);
	EXPECT_EQ(0, ver.features & ~PCMIG_FEATURES_ALL);
	EXPECT_EQ((unsigned int)sysconf(_SC_PAGESIZE), ver.page_size);
}

TEST_F(ctl, version_nonzero_flags_einval)
{
	struct pcmig_version ver;

	memset(&ver, 0, sizeof(ver));
	ver.flags = 1;
	EXPECT_EQ(-1, ioctl(self->fd, PCMIG_IOC_VERSION, &ver));
	EXPECT_EQ(EINVAL, errno);
	/* Nothing is written back on failure. */
	EXPECT_EQ(0, ver.abi_major);
	EXPECT_EQ(0, ver.page_size);
}

TEST_F(ctl, version_nonzero_reserved_einval)
{
	struct pcmig_version ver;
	unsigned int i;

	for (i = 0; i < sizeof(ver.reserved) / sizeof(ver.reserved[0]); i++) {
		memset(&ver, 0, sizeof(ver));
		ver.reserved[i] = 1ULL << (i * 16);
		EXPECT_EQ(-1, ioctl(self->fd, PCMIG_IOC_VERSION, &ver))
			TH_LOG("reserved[%u] accepted", i);
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST_F(ctl, version_bad_pointer_efault)
{
	EXPECT_EQ(-1, ioctl(self->fd, PCMIG_IOC_VERSION, NULL));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, ioctl(self->fd, PCMIG_IOC_VERSION, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(ctl, unknown_ioctls_enotty)
{
	const unsigned long cmds[] = {
		_IO(PCMIG_IOC_MAGIC, 0x7f),
		_IOWR(PCMIG_IOC_MAGIC, 0xff, struct pcmig_version),
		/* Right number, wrong size or direction: not our ioctl. */
		_IOWR(PCMIG_IOC_MAGIC, 0x00, __u32),
		_IOR(PCMIG_IOC_MAGIC, 0x00, struct pcmig_version),
		_IOW(PCMIG_IOC_MAGIC, 0x00, struct pcmig_version),
		_IO(PCMIG_IOC_MAGIC, 0x00),
		/* Someone else's ioctls. */
		TCGETS,
		_IOWR('x', 0x00, struct pcmig_version),
	};
	struct pcmig_version ver;
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(&ver, 0, sizeof(ver));
		EXPECT_EQ(-1, ioctl(self->fd, cmds[i], &ver))
			TH_LOG("ioctl 0x%lx accepted", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("ioctl 0x%lx", cmds[i]);
	}
}

TEST_F(ctl, not_seekable_readable_or_writable)
{
	char buf[8] = { 0 };

	EXPECT_EQ(-1, lseek(self->fd, 0, SEEK_END));
	EXPECT_EQ(ESPIPE, errno);
	EXPECT_EQ(-1, read(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(self->fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
}

TEST(unprivileged_open_refused)
{
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Drop to nobody: the control node is root's alone. */
		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (open(PCMIG_CTL_PATH, O_RDWR) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* Generic netlink */

struct genl_reply {
	int err;
	bool got;
	struct nlattr *tb[PCMIG_ATTR_MAX + 1];
	uint32_t abi_major, abi_minor, page_size;
	uint64_t features;
	char version[32];
};

static int reply_cb(struct nl_msg *msg, void *arg)
{
	struct genl_reply *r = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, r->tb, PCMIG_ATTR_MAX, NULL))
		return NL_STOP;
	r->got = true;
	if (r->tb[PCMIG_ATTR_ABI_MAJOR])
		r->abi_major = nla_get_u32(r->tb[PCMIG_ATTR_ABI_MAJOR]);
	if (r->tb[PCMIG_ATTR_ABI_MINOR])
		r->abi_minor = nla_get_u32(r->tb[PCMIG_ATTR_ABI_MINOR]);
	if (r->tb[PCMIG_ATTR_PAGE_SIZE])
		r->page_size = nla_get_u32(r->tb[PCMIG_ATTR_PAGE_SIZE]);
	if (r->tb[PCMIG_ATTR_FEATURES])
		r->features = nla_get_u64(r->tb[PCMIG_ATTR_FEATURES]);
	if (r->tb[PCMIG_ATTR_VERSION])
		nla_strlcpy(r->version, r->tb[PCMIG_ATTR_VERSION],
			    sizeof(r->version));
	return NL_OK;
}

static int error_cb(struct sockaddr_nl *nla, struct nlmsgerr *err, void *arg)
{
	struct genl_reply *r = arg;

	r->err = err->error;
	return NL_STOP;
}

/*
 * Send one request of @cmd (with an optional u32 attribute @attr, if
 * non-zero) and collect the reply or the error in @r.
 */
static int genl_request(uint8_t cmd, int attr, struct genl_reply *r)
{
	struct nl_sock *sk;
	struct nl_msg *msg;
	struct nl_cb *cb;
	int family, ret = -1;

	memset(r, 0, sizeof(*r));
	sk = nl_socket_alloc();
	if (!sk)
		return -1;
	if (genl_connect(sk))
		goto out_sock;
	family = genl_ctrl_resolve(sk, PCMIG_NAME);
	if (family < 0)
		goto out_sock;
	msg = nlmsg_alloc();
	if (!msg)
		goto out_sock;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, cmd,
			 PCMIG_GENL_VERSION))
		goto out_msg;
	if (attr && nla_put_u32(msg, attr, 1))
		goto out_msg;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		goto out_msg;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, reply_cb, r);
	nl_cb_err(cb, NL_CB_CUSTOM, error_cb, r);
	if (nl_send_auto(sk, msg) >= 0) {
		/* One reply or one error; the ACK of a reply is not asked for. */
		nl_recvmsgs(sk, cb);
		ret = 0;
	}
	nl_cb_put(cb);
out_msg:
	nlmsg_free(msg);
out_sock:
	nl_socket_free(sk);
	return ret;
}

TEST(genl_info_matches_ioctl)
{
	struct pcmig_version ver;
	struct genl_reply r;
	int fd;

	ASSERT_EQ(0, genl_request(PCMIG_CMD_GET_INFO, 0, &r));
	ASSERT_EQ(0, r.err);
	ASSERT_TRUE(r.got);
	ASSERT_NE(NULL, r.tb[PCMIG_ATTR_VERSION]);
	ASSERT_NE(NULL, r.tb[PCMIG_ATTR_FEATURES]);

	fd = open(PCMIG_CTL_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	memset(&ver, 0, sizeof(ver));
	ASSERT_EQ(0, ioctl(fd, PCMIG_IOC_VERSION, &ver));
	close(fd);

	EXPECT_EQ(ver.abi_major, r.abi_major);
	EXPECT_EQ(ver.abi_minor, r.abi_minor);
	EXPECT_EQ(ver.features, r.features);
	EXPECT_EQ(ver.page_size, r.page_size);
	EXPECT_NE(0, strlen(r.version));
}

TEST(genl_info_version_matches_module)
{
	struct genl_reply r;
	char buf[64] = "";
	ssize_t n;
	int fd;

	ASSERT_EQ(0, genl_request(PCMIG_CMD_GET_INFO, 0, &r));
	ASSERT_EQ(0, r.err);
	fd = open("/sys/module/pcmig/version", O_RDONLY);
	ASSERT_LE(0, fd);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	EXPECT_STREQ(buf, r.version);
}

TEST(genl_unknown_command_rejected)
{
	struct genl_reply r;

	ASSERT_EQ(0, genl_request(PCMIG_CMD_MAX + 1, 0, &r));
	EXPECT_EQ(-EOPNOTSUPP, r.err);
	EXPECT_FALSE(r.got);
	ASSERT_EQ(0, genl_request(PCMIG_CMD_UNSPEC, 0, &r));
	EXPECT_EQ(-EOPNOTSUPP, r.err);
}

TEST(genl_unknown_attribute_rejected)
{
	struct genl_reply r;

	/* Strict validation: an attribute past the policy is an error. */
	ASSERT_EQ(0, genl_request(PCMIG_CMD_GET_INFO, PCMIG_ATTR_MAX + 1, &r));
	EXPECT_EQ(-EINVAL, r.err);
	EXPECT_FALSE(r.got);
}

PCMIG_HARNESS_MAIN
