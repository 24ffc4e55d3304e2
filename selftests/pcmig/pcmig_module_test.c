// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: module lifetime. A held reference keeps pcmig.ko loaded;
 * with none, it unloads cleanly (node and netlink family gone) and loads
 * again. Runs last: it unloads and reloads the module under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"

static int load_module(const char *path)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = syscall(__NR_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

static bool module_loaded(void)
{
	return access("/sys/module/pcmig", F_OK) == 0;
}

TEST(open_fd_pins_module)
{
	struct pcmig_version ver = { 0 };
	int fd;

	ASSERT_TRUE(module_loaded());
	fd = open(PCMIG_CTL_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, pcmig_delete_module("pcmig", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_TRUE(module_loaded());
	/* The fd still works after the refused unload. */
	EXPECT_EQ(0, ioctl(fd, PCMIG_IOC_VERSION, &ver));
	EXPECT_EQ(PCMIG_ABI_MAJOR, ver.abi_major);
	close(fd);
}

TEST(unload_and_reload)
{
	const char *ko = pcmig_ko_path();
	struct stat st;
	int fd;

	if (!ko)
		SKIP(return, "PCMIG_TREE not set: cannot reload the module");
	ASSERT_EQ(0, access(ko, R_OK));

	ASSERT_EQ(0, pcmig_delete_module("pcmig", O_NONBLOCK))
		TH_LOG("delete_module: %s", strerror(errno));
	EXPECT_FALSE(module_loaded());
	EXPECT_EQ(-1, stat(PCMIG_CTL_PATH, &st));
	EXPECT_EQ(ENOENT, errno);

	/* A second unload finds nothing. */
	EXPECT_EQ(-1, pcmig_delete_module("pcmig", O_NONBLOCK));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, load_module(ko))
		TH_LOG("finit_module %s: %s", ko, strerror(errno));
	EXPECT_TRUE(module_loaded());
	fd = open(PCMIG_CTL_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	close(fd);

	/* Loading it twice is refused. */
	EXPECT_EQ(-1, load_module(ko));
	EXPECT_EQ(EEXIST, errno);
}

PCMIG_HARNESS_MAIN
