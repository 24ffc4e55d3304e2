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
#include <linux/sched/signal.h>
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

/*
 * Whether a fault on a missing page may wait interruptibly: any signal then
 * ends the wait and the fault returns VM_FAULT_RETRY, after which its
 * caller must either handle the signal or give up (GUP's -EINTR), never
 * simply fault again, or it would spin until the page arrives.
 *
 * 6.1: only a user-mode fault can do that. x86 gives kernel-mode faults
 * (copy_to_user() and the like) FAULT_FLAG_INTERRUPTIBLE too, but then
 * retries them at once unless the signal is fatal; GUP never sets the flag.
 *
 * 6.2 and later: GUP with FOLL_INTERRUPTIBLE (KVM, to kick a vCPU stuck on
 * a postcopy page) sets FAULT_FLAG_INTERRUPTIBLE without FAULT_FLAG_USER
 * and stops with -EINTR on a signal, so the flag is honoured as
 * userfaultfd_get_blocking_state() does. A retried fault
 * (FAULT_FLAG_TRIED) that finds a signal already pending comes from a
 * caller that went round again instead (a kernel-mode access): it waits
 * killably, as upstream userfaultfd learned to, rather than spin.
 */
static inline bool pcmig_fault_interruptible(const struct vm_fault *vmf)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 2, 0)
	return (vmf->flags & FAULT_FLAG_USER) &&
	       (vmf->flags & FAULT_FLAG_INTERRUPTIBLE);
#else
	if (!(vmf->flags & FAULT_FLAG_INTERRUPTIBLE))
		return false;
	if (vmf->flags & FAULT_FLAG_USER)
		return true;
	return !((vmf->flags & FAULT_FLAG_TRIED) && signal_pending(current));
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

/*
 * The first argument of inode_operations.setattr: the mount's user
 * namespace before 6.3, its idmapping from 6.3 on.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#define PCMIG_IDMAP	struct user_namespace
#else
#define PCMIG_IDMAP	struct mnt_idmap
#endif

#endif /* _PCMIG_COMPAT_H */
