/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pcmig: postcopy live migration with in-kernel fault resolution.
 *
 * User-space ABI of /dev/pcmig and of the "pcmig" generic netlink family.
 */
#ifndef _UAPI_LINUX_PCMIG_H
#define _UAPI_LINUX_PCMIG_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Name of the control node (/dev/pcmig) and of the generic netlink family. */
#define PCMIG_NAME		"pcmig"

/*
 * ABI version. The major number changes when an existing ioctl, structure or
 * netlink attribute changes meaning; the minor number when something is
 * added. User space must refuse a major number it does not know.
 */
#define PCMIG_ABI_MAJOR		0
#define PCMIG_ABI_MINOR		1

/* Feature bits reported in &struct pcmig_version.features. None yet. */
#define PCMIG_FEATURES_ALL	0ULL

/**
 * struct pcmig_version - answer of %PCMIG_IOC_VERSION
 * @abi_major: %PCMIG_ABI_MAJOR of the running module (out)
 * @abi_minor: %PCMIG_ABI_MINOR of the running module (out)
 * @features: mask of PCMIG_FEATURE_* bits the module supports (out)
 * @page_size: page size of session memory, in bytes (out)
 * @flags: must be zero (in); zero on return
 * @reserved: must be zero (in); zero on return
 *
 * The caller zeroes the structure before the call. A non-zero @flags or
 * @reserved field gets -EINVAL, so that a later ABI can give them meaning.
 */
struct pcmig_version {
	__u32 abi_major;
	__u32 abi_minor;
	__u64 features;
	__u32 page_size;
	__u32 flags;
	__u64 reserved[4];
};

#define PCMIG_IOC_MAGIC		0xB8

/*
 * PCMIG_IOC_VERSION - read the ABI version and the supported features.
 *
 * Valid on the control node. Returns 0, -EFAULT for a bad pointer, or
 * -EINVAL for non-zero input fields.
 */
#define PCMIG_IOC_VERSION	_IOWR(PCMIG_IOC_MAGIC, 0x00, struct pcmig_version)

/* Generic netlink family "pcmig". */
#define PCMIG_GENL_VERSION	1

/**
 * enum pcmig_genl_cmd - commands of the "pcmig" generic netlink family
 * @PCMIG_CMD_UNSPEC: unused
 * @PCMIG_CMD_GET_INFO: module information; replies with %PCMIG_ATTR_ABI_MAJOR,
 *	%PCMIG_ATTR_ABI_MINOR, %PCMIG_ATTR_FEATURES, %PCMIG_ATTR_PAGE_SIZE and
 *	%PCMIG_ATTR_VERSION
 * @__PCMIG_CMD_MAX: number of commands
 * @PCMIG_CMD_MAX: highest command
 */
enum pcmig_genl_cmd {
	PCMIG_CMD_UNSPEC,
	PCMIG_CMD_GET_INFO,

	__PCMIG_CMD_MAX,
	PCMIG_CMD_MAX = __PCMIG_CMD_MAX - 1
};

/**
 * enum pcmig_genl_attr - attributes of the "pcmig" generic netlink family
 * @PCMIG_ATTR_UNSPEC: unused
 * @PCMIG_ATTR_PAD: padding for 64-bit attributes
 * @PCMIG_ATTR_ABI_MAJOR: u32, %PCMIG_ABI_MAJOR
 * @PCMIG_ATTR_ABI_MINOR: u32, %PCMIG_ABI_MINOR
 * @PCMIG_ATTR_FEATURES: u64, PCMIG_FEATURE_* mask
 * @PCMIG_ATTR_PAGE_SIZE: u32, page size of session memory in bytes
 * @PCMIG_ATTR_VERSION: string, module version
 * @__PCMIG_ATTR_MAX: number of attributes
 * @PCMIG_ATTR_MAX: highest attribute
 */
enum pcmig_genl_attr {
	PCMIG_ATTR_UNSPEC,
	PCMIG_ATTR_PAD,
	PCMIG_ATTR_ABI_MAJOR,
	PCMIG_ATTR_ABI_MINOR,
	PCMIG_ATTR_FEATURES,
	PCMIG_ATTR_PAGE_SIZE,
	PCMIG_ATTR_VERSION,

	__PCMIG_ATTR_MAX,
	PCMIG_ATTR_MAX = __PCMIG_ATTR_MAX - 1
};

#endif /* _UAPI_LINUX_PCMIG_H */
