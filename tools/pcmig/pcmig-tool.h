/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: declarations shared by the tool's source files.
 */
#ifndef _PCMIG_TOOL_H
#define _PCMIG_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/pcmig.h>

#define PCMIG_CTL_PATH	"/dev/" PCMIG_NAME

/**
 * struct pcmig_info - what the module says about itself over netlink
 * @abi_major: ABI major number
 * @abi_minor: ABI minor number
 * @features: feature mask
 * @page_size: session page size in bytes
 * @version: module version string
 */
struct pcmig_info {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t features;
	uint32_t page_size;
	char version[32];
};

/**
 * struct pcmig_genl - a connected generic netlink socket for the family
 * @sock: libnl socket
 * @family: resolved family id
 */
struct pcmig_genl {
	struct nl_sock *sock;
	int family;
};

int pcmig_genl_open(struct pcmig_genl *g);
void pcmig_genl_close(struct pcmig_genl *g);
int pcmig_genl_get_info(struct pcmig_genl *g, struct pcmig_info *info);

int pcmig_ctl_version(struct pcmig_version *ver);

#endif /* _PCMIG_TOOL_H */
