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

#include <linux/device.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#error "pcmig needs Linux 6.1 or newer"
#endif

/*
 * Drop the lock a fault handler was called with before it returns
 * VM_FAULT_RETRY. Before 6.4 that is always the mmap lock; later kernels
 * may call with only the VMA locked.
 */
static inline void pcmig_release_fault_lock(struct vm_fault *vmf)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	mmap_read_unlock(vmf->vma->vm_mm);
#else
	release_fault_lock(vmf);
#endif
}

/* vm_flags became read-only outside the vm_flags_*() helpers in 6.3. */
static inline void pcmig_vm_flags_set(struct vm_area_struct *vma,
				      unsigned long flags)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	vma->vm_flags |= flags;
#else
	vm_flags_set(vma, flags);
#endif
}

static inline void pcmig_vm_flags_clear(struct vm_area_struct *vma,
					unsigned long flags)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
	vma->vm_flags &= ~flags;
#else
	vm_flags_clear(vma, flags);
#endif
}

/* class_create() lost its owner argument in 6.4. */
static inline struct class *pcmig_class_create(const char *name)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	return class_create(THIS_MODULE, name);
#else
	return class_create(name);
#endif
}

#endif /* _PCMIG_COMPAT_H */
