/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig: the one place for code that differs between kernel versions.
 *
 * pcmig targets Linux 6.1 LTS (Debian 12). Anything that needs a different
 * spelling on another kernel gets a wrapper here, selected on
 * LINUX_VERSION_CODE, so that the rest of the module has no version checks.
 */
#ifndef _PCMIG_COMPAT_H
#define _PCMIG_COMPAT_H

#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "pcmig needs Linux 6.1 or newer"
#endif

#endif /* _PCMIG_COMPAT_H */
