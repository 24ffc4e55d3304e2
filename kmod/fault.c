// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: session memory: mappings, the fault path and page requests.
 *
 * Presence is a bitmap. A page is present once its contents arrived (or the
 * source said it is zero); only then may a fault map it. A page that is not
 * present may still sit in the backing file's page cache, but then it holds
 * zeros: a receive that fails half-way clears the page again.
 *
 * A fault on a missing page marks the page requested. The first task to
 * fault on it prepares the page the reply will be copied into (a slot, see
 * rx.c), queues exactly one request and sends it itself (tx.c); every
 * faulting task then sleeps on one of the session's hashed wait queues,
 * without the mmap lock, until the receiver makes the page present or the
 * session fails. A remote fault thus wakes two tasks: the source's, and
 * the faulting one, from the socket's receive path. A fault that cannot
 * drop the mmap lock does not wait: it sends the request and fails.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "pcmig.h"
#include "trace.h"

struct workqueue_struct *pcmig_wq;
struct workqueue_struct *pcmig_bulk_wq;

static wait_queue_head_t *pcmig_waitq(struct pcmig_session *s,
				      unsigned long idx)
{
	return &s->waitq[hash_long(idx, PCMIG_WAITQ_BITS)];
}

/**
 * pcmig_wake_page() - wake the tasks waiting for a page
 * @s: session
 * @idx: page that became present
 */
void pcmig_wake_page(struct pcmig_session *s, unsigned long idx)
{
	wait_queue_head_t *wq = pcmig_waitq(s, idx);

	/* Pairs with the barrier in prepare_to_wait_event(). */
	if (wq_has_sleeper(wq))
		wake_up_all(wq);
}

/**
 * pcmig_wake_all() - wake every waiting task, to look at the state again
 * @s: session
 */
void pcmig_wake_all(struct pcmig_session *s)
{
	unsigned int i;

	for (i = 0; i < PCMIG_WAITQS; i++)
		wake_up_all(&s->waitq[i]);
}

static bool pcmig_failed(struct pcmig_session *s)
{
	return READ_ONCE(s->state) == PCMIG_STATE_FAILED;
}

/*
 * Mark a missing page requested. Return: true if the caller is the first
 * and the request is to go out now: it prepares the reply's page, queues
 * the request and sends it (pcmig_request_send()).
 */
static bool pcmig_request(struct pcmig_session *s, unsigned long idx)
{
	if (test_and_set_bit(idx, s->requested))
		return false;
	pcmig_stat_inc(&s->stats->pages_requested);

	/*
	 * test_and_set_bit() is a full barrier: either we see the sending
	 * state here and send, or the move to it (which sets the state and
	 * then scans the bitmap, see pcmig_tx_resend()) sees our bit. Both
	 * may happen; the source then answers twice, which is a legitimate
	 * duplicate.
	 */
	return pcmig_state_sends(READ_ONCE(s->state));
}

/*
 * The first faulting task's request, sent from its own context. The page
 * the reply goes into is prepared while the request is on its way: a
 * reply faster than that is placed by the receiver's work item instead.
 */
static void pcmig_request_send(struct pcmig_session *s, unsigned long idx)
{
	pcmig_tx_queue(s, idx);
	pcmig_tx_flush(s);
	pcmig_slot_prepare(s, idx);
}

static void pcmig_account_wait(struct pcmig_session *s, u64 ns)
{
	unsigned int bucket = ns ? ilog2(ns) : 0;

	if (bucket >= PCMIG_HIST_BUCKETS)
		bucket = PCMIG_HIST_BUCKETS - 1;
	pcmig_stat_inc(&s->stats->faults_blocked);
	pcmig_stat_add(&s->stats->blocked_ns, ns);
	pcmig_stat_inc(&s->stats->hist[bucket]);
}

/*
 * Wait until the page is present or the session failed. An interruptible
 * wait also ends on any signal: the fault is then retried after the
 * handler ran, as for userfaultfd, so that a VMM can kick its vCPU threads.
 * The wait is accounted from @start, when the fault found the page
 * missing: a reply may well be in before the task gets to sleep.
 * Return: 0 if present, -EINTR on a signal, -EIO if failed.
 */
static int pcmig_wait_page(struct pcmig_session *s, unsigned long idx,
			   bool interruptible, u64 start)
{
	wait_queue_head_t *wq = pcmig_waitq(s, idx);
	int ret = 0;

	if (interruptible)
		ret = wait_event_interruptible(*wq, pcmig_page_present(s, idx) ||
					       pcmig_failed(s));
	else
		ret = wait_event_killable(*wq, pcmig_page_present(s, idx) ||
					  pcmig_failed(s));
	trace_pcmig_fault(s, idx, start, ret);
	if (pcmig_page_present(s, idx)) {
		pcmig_account_wait(s, ktime_get_ns() - start);
		return 0;
	}
	return ret ? -EINTR : -EIO;
}

/*
 * The page is missing. Returns 0 when it became present meanwhile, or the
 * fault result to return.
 */
static vm_fault_t pcmig_fault_missing(struct pcmig_session *s,
				      struct vm_fault *vmf)
{
	unsigned long idx = vmf->pgoff;
	u64 start = ktime_get_ns();
	bool first, interruptible;
	struct file *file;

	pcmig_stat_inc(&s->stats->faults);
	trace_pcmig_fault_missing(s, idx, vmf->flags);
	if (pcmig_failed(s))
		return VM_FAULT_SIGBUS;
	first = pcmig_request(s, idx);

	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT) {
		/* No waiting here at all: the work item sends. */
		if (first) {
			pcmig_tx_queue(s, idx);
			pcmig_tx_kick(s);
		}
		return VM_FAULT_RETRY;
	}

	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY)) {
		/*
		 * The caller cannot have the mmap lock dropped (GUP without
		 * "locked": /proc/pid/mem, ptrace, io_uring buffers, VFIO).
		 * Waiting for the network with it held would stall every
		 * writer of the lock, and behind a writer every fault of the
		 * process, for as long as the page takes (unbounded while
		 * PAUSED). Like handle_userfault(): SIGBUS at once (-EFAULT
		 * for GUP). The request still goes out, so that a later
		 * access finds the page on its way or present.
		 */
		if (first)
			pcmig_request_send(s, idx);
		return pcmig_page_present(s, idx) ? 0 : VM_FAULT_SIGBUS;
	}

	/*
	 * Send and wait without the mmap lock. The file keeps the session
	 * (and the module) alive should the mapping go away.
	 */
	file = get_file(vmf->vma->vm_file);
	interruptible = pcmig_fault_interruptible(vmf);
	pcmig_release_fault_lock(vmf);
	if (first)
		pcmig_request_send(s, idx);
	pcmig_wait_page(s, idx, interruptible, start);
	fput(file);
	return VM_FAULT_RETRY;
}

/**
 * pcmig_fail_huge() - session memory got a huge page: fail the session
 * @s: session
 *
 * Presence is tracked per page, and a huge folio holds neighbours that have
 * not arrived: mapped with one PMD they would read as zeros without a fault,
 * and the receiver would then write them under the guest's feet. The
 * module's tmpfs mount never asks for huge folios, but shmem_enabled=force
 * overrides every mount; pcmig_backing_probe() refuses new sessions then,
 * and a page found to be part of a huge folio (pcmig_page_huge()) when it is
 * looked up or allocated, because the setting changed since, is neither
 * mapped nor written: the session fails (%PCMIG_REASON_HUGE_PAGE,
 * -EOPNOTSUPP). Only in END, when every page is present for good and no
 * receiver is left, may a huge page be mapped. The caller holds no page
 * lock.
 */
void pcmig_fail_huge(struct pcmig_session *s)
{
	/* Once is enough: every later lookup of the page finds it again. */
	if (pcmig_failed(s))
		return;
	pr_warn_ratelimited("session %u: tmpfs gave its memory a huge page: set /sys/kernel/mm/transparent_hugepage/shmem_enabled to something other than force\n",
			    s->id);
	pcmig_fail(s, PCMIG_REASON_HUGE_PAGE, -EOPNOTSUPP);
}

static vm_fault_t pcmig_fault(struct vm_fault *vmf)
{
	struct pcmig_session *s = vmf->vma->vm_private_data;
	struct address_space *mapping = s->backing->f_mapping;
	unsigned long idx = vmf->pgoff;
	struct page *page;
	vm_fault_t ret;

	if (unlikely(idx >= s->npages))
		return VM_FAULT_SIGBUS;

again:
	if (!pcmig_page_present(s, idx)) {
		ret = pcmig_fault_missing(s, vmf);
		if (ret)
			return ret;
	}

	page = find_lock_page(mapping, idx);
	if (!page || !PageUptodate(page)) {
		if (page) {
			unlock_page(page);
			put_page(page);
		}
		/* Announced zero, or swapped out: tmpfs brings it in. */
		page = shmem_read_mapping_page_gfp(mapping, idx,
						   mapping_gfp_mask(mapping));
		if (IS_ERR(page))
			return vmf_error(PTR_ERR(page));
		lock_page(page);
		if (unlikely(page->mapping != mapping)) {
			unlock_page(page);
			put_page(page);
			goto again;
		}
	}

	/* In END every page is present for good: a huge page is harmless. */
	if (unlikely(pcmig_page_huge(page)) &&
	    READ_ONCE(s->state) != PCMIG_STATE_END) {
		unlock_page(page);
		put_page(page);
		pcmig_fail_huge(s);
		return VM_FAULT_SIGBUS;
	}

	/* DISCARD clears the bit before it truncates the page. */
	if (unlikely(!pcmig_page_present(s, idx))) {
		unlock_page(page);
		put_page(page);
		goto again;
	}

	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/*
 * Fault-around: map the present neighbours of a present page along with
 * it, without any sleeping lock (filemap_map_pages() only trylocks). The
 * window is cut down to the run of present pages around the fault: a page
 * that is not present may be in the page cache (holding zeros) and must
 * never be mapped. A page that DISCARD makes missing meanwhile is unmapped
 * again by the truncation that follows.
 */
static vm_fault_t pcmig_map_pages(struct vm_fault *vmf, pgoff_t start,
				  pgoff_t end)
{
	struct pcmig_session *s = vmf->vma->vm_private_data;
	pgoff_t idx = vmf->pgoff, lo, hi;

	if (idx >= s->npages || !pcmig_page_present(s, idx))
		return 0;
	/*
	 * Without a page table yet, filemap_map_pages() maps a huge folio
	 * whole with one PMD, missing pages and all (see pcmig_fail_huge()).
	 * The fault itself then installs the table and maps its page only;
	 * fault-around works from the second fault in each PMD's range on.
	 */
	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) && pmd_none(*vmf->pmd))
		return 0;
	end = min_t(pgoff_t, end, s->npages - 1);
	for (lo = idx; lo > start && pcmig_page_present(s, lo - 1); lo--)
		;
	for (hi = idx; hi < end && pcmig_page_present(s, hi + 1); hi++)
		;
	return filemap_map_pages(vmf, lo, hi);
}

static const struct vm_operations_struct pcmig_vm_ops = {
	.fault		= pcmig_fault,
	.map_pages	= pcmig_map_pages,
};

/**
 * pcmig_mmap() - map session memory
 * @s: session
 * @vma: the new mapping
 *
 * Return: 0, -EINVAL for a private mapping, -ENXIO past the end, -ENODEV
 * for a destroyed session.
 */
int pcmig_mmap(struct pcmig_session *s, struct vm_area_struct *vma)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= s->npages ||
	    vma_pages(vma) > s->npages - vma->vm_pgoff)
		return -ENXIO;
	if (READ_ONCE(s->destroyed))
		return -ENODEV;

	/*
	 * No core dumps through the network; no growing by mremap(); no
	 * huge pages (presence is tracked per 4 KiB page).
	 */
	pcmig_vm_flags_set(vma, VM_DONTDUMP | VM_DONTEXPAND | VM_NOHUGEPAGE);
	pcmig_vm_flags_clear(vma, VM_HUGEPAGE);
	vma->vm_ops = &pcmig_vm_ops;
	vma->vm_private_data = s;
	return 0;
}

/**
 * pcmig_fault_init() - create the module's workqueues
 *
 * Return: 0 or -ENOMEM.
 */
int pcmig_fault_init(void)
{
	/*
	 * No WQ_MEM_RECLAIM: reclaim never waits for these works. Session
	 * pages go to swap through tmpfs, never through pcmig, and nothing
	 * that frees memory waits for a page to arrive. A rescuer thread
	 * (progress without a new worker under memory pressure) would buy
	 * nothing for works that allocate with GFP_KERNEL and wait on
	 * sockets themselves, and it would cost a thread per queue.
	 *
	 * WQ_CPU_INTENSIVE: a receiver may run for long without sleeping
	 * (copying a stream of pages, walking a ZERO or DISCARD frame over a
	 * whole session); it reschedules, but a work item of a bound pool
	 * that does not sleep keeps every other work item of that CPU's pool
	 * (vmstat, neighbour tables, other sessions' receivers) from starting
	 * (the workqueue watchdog saw 32 s with an 8 GiB DISCARD frame on the
	 * debug kernel). Intensive work items leave the pool's concurrency
	 * management, so the others get a worker of their own.
	 *
	 * Requests and replies are on the fault path: never starved.
	 */
	pcmig_wq = alloc_workqueue("pcmig", WQ_HIGHPRI | WQ_CPU_INTENSIVE, 0);
	if (!pcmig_wq)
		return -ENOMEM;
	/* The background push must not take the CPU from faulting tasks. */
	pcmig_bulk_wq = alloc_workqueue("pcmig_bulk", WQ_CPU_INTENSIVE, 0);
	if (!pcmig_bulk_wq) {
		destroy_workqueue(pcmig_wq);
		return -ENOMEM;
	}
	return 0;
}

/**
 * pcmig_fault_exit() - destroy the module's workqueues, once idle
 */
void pcmig_fault_exit(void)
{
	destroy_workqueue(pcmig_bulk_wq);
	destroy_workqueue(pcmig_wq);
}
