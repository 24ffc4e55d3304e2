// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: ioctls on the /dev/pcmig control node.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pcmig-tool.h"

/**
 * pcmig_ctl_version() - read the module's ABI version through the control node
 * @ver: filled on success
 *
 * Return: 0, or a negative errno (-ENOENT when /dev/pcmig does not exist).
 */
int pcmig_ctl_version(struct pcmig_version *ver)
{
	int fd, ret = 0;

	fd = open(PCMIG_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(ver, 0, sizeof(*ver));
	if (ioctl(fd, PCMIG_IOC_VERSION, ver) < 0)
		ret = -errno;
	close(fd);
	return ret;
}
