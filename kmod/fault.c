// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: session memory: mappings, the fault path, page requests and
 * DISCARD.
 *
 * Presence is a bitmap. A page is present once its contents arrived (or the
 * source said it is zero); only then may a fault map it. A page that is not
 * present may still sit in the backing file's page cache, but then it holds
 * zeros: a receive that fails half-way clears the page again.
 *
 * A fault on a missing page marks the page requested (the first fault on it
 * queues exactly one request for the send work item) and sleeps on one of
 * the session's hashed wait queues until the receiver makes the page
 * present or the session fails.
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

/* A page waiting to be requested. */
struct pcmig_req {
	struct llist_node node;
	unsigned long idx;
};

static struct kmem_cache *pcmig_req_cache;
static struct workqueue_struct *pcmig_wq;

/* &pcmig_session.tx_flags */
#define PCMIG_TX_RESEND	0	/* send every missing requested page */

/**
 * pcmig_page_present() - whether a page may be mapped
 * @s: session
 * @idx: page index, below @s->npages
 *
 * Return: true if the page's contents are in place.
 */
bool pcmig_page_present(struct pcmig_session *s, unsigned long idx)
{
	return test_bit(idx, s->present);
}

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

static bool pcmig_sending_state(enum pcmig_state state)
{
	return state == PCMIG_STATE_LISTEN || state == PCMIG_STATE_RUNNING;
}

static bool pcmig_failed(struct pcmig_session *s)
{
	return READ_ONCE(s->state) == PCMIG_STATE_FAILED;
}

/* Send @n queued offsets of s->tx_buf as one frame. Under tx_lock. */
static int pcmig_tx_send_frame(struct pcmig_session *s, unsigned int n)
{
	struct pcmig_frame *f = s->tx_buf;
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	struct kvec vec = {
		.iov_base = s->tx_buf,
		.iov_len = sizeof(*f) + n * sizeof(__be64),
	};
	int ret;

	f->magic = cpu_to_be32(PCMIG_FRAME_MAGIC);
	f->version = PCMIG_FRAME_VERSION;
	f->type = PCMIG_FRAME_REQUEST;
	f->flags = 0;
	f->npages = cpu_to_be32(n);
	f->len = cpu_to_be32(n * sizeof(__be64));
	f->offset = 0;

	ret = kernel_sendmsg(s->tx_sock, &msg, &vec, 1, vec.iov_len);
	if (ret == vec.iov_len) {
		this_cpu_inc(s->stats->requests_sent);
		return 0;
	}
	return ret < 0 ? ret : -EIO;
}

static __be64 *pcmig_tx_slots(struct pcmig_session *s)
{
	return (__be64 *)((struct pcmig_frame *)s->tx_buf + 1);
}

/* Send every queued request. Under tx_lock, with a socket. */
static int pcmig_tx_send_queue(struct pcmig_session *s)
{
	struct llist_node *list = llist_del_all(&s->tx_queue);
	__be64 *slot = pcmig_tx_slots(s);
	struct pcmig_req *req, *next;
	unsigned int n = 0;
	int ret = 0;

	list = llist_reverse_order(list);
	llist_for_each_entry_safe(req, next, list, node) {
		/* A page that arrived meanwhile needs no request. */
		if (!ret && !pcmig_page_present(s, req->idx)) {
			slot[n++] = cpu_to_be64((u64)req->idx << PAGE_SHIFT);
			if (n == PCMIG_FRAME_MAX_REQS) {
				ret = pcmig_tx_send_frame(s, n);
				n = 0;
			}
		}
		kmem_cache_free(pcmig_req_cache, req);
	}
	if (!ret && n)
		ret = pcmig_tx_send_frame(s, n);
	return ret;
}

/* Request every page that is requested and missing. Under tx_lock. */
static int pcmig_tx_send_all(struct pcmig_session *s)
{
	__be64 *slot = pcmig_tx_slots(s);
	unsigned long idx;
	unsigned int n = 0;
	int ret;

	pcmig_tx_drop_queue(s);
	for_each_andnot_bit(idx, s->requested, s->present, s->npages) {
		slot[n++] = cpu_to_be64((u64)idx << PAGE_SHIFT);
		if (n == PCMIG_FRAME_MAX_REQS) {
			ret = pcmig_tx_send_frame(s, n);
			if (ret)
				return ret;
			n = 0;
			cond_resched();
		}
	}
	return n ? pcmig_tx_send_frame(s, n) : 0;
}

/*
 * Requests are written by a work item: a worker has no signals, so a send
 * never stops half-way through a frame, and one run sends every request
 * queued meanwhile in one batch.
 */
static void pcmig_tx_work(struct work_struct *work)
{
	struct pcmig_session *s = container_of(work, struct pcmig_session,
					       tx_work);
	int ret = 0;

	mutex_lock(&s->tx_lock);
	/* Without a socket, the queue waits for pcmig_tx_resend(). */
	if (s->tx_sock && pcmig_sending_state(READ_ONCE(s->state))) {
		if (test_and_clear_bit(PCMIG_TX_RESEND, &s->tx_flags))
			ret = pcmig_tx_send_all(s);
		else
			ret = pcmig_tx_send_queue(s);
	}
	mutex_unlock(&s->tx_lock);

	if (ret) {
		pr_warn_ratelimited("session %u: sending requests failed: %d\n",
				    s->id, ret);
		pcmig_pause(s, PCMIG_REASON_CHANNEL_ERROR, ret);
	}
}

/**
 * pcmig_tx_drop_queue() - forget the queued requests
 * @s: session
 *
 * The bitmaps keep what is requested; pcmig_tx_resend() rebuilds requests
 * from them.
 */
void pcmig_tx_drop_queue(struct pcmig_session *s)
{
	struct llist_node *list = llist_del_all(&s->tx_queue);
	struct pcmig_req *req, *next;

	llist_for_each_entry_safe(req, next, list, node)
		kmem_cache_free(pcmig_req_cache, req);
}

/**
 * pcmig_tx_resend() - request every page that is requested and missing
 * @s: session, just moved to LISTEN or back from RECOVER
 */
void pcmig_tx_resend(struct pcmig_session *s)
{
	set_bit(PCMIG_TX_RESEND, &s->tx_flags);
	/* Pairs with the barrier in pcmig_request(): see its comment. */
	smp_mb__after_atomic();
	queue_work(pcmig_wq, &s->tx_work);
}

/**
 * pcmig_tx_set_sock() - set or clear the socket requests go out on
 * @s: session
 * @sock: the urgent channel's socket, or NULL
 *
 * Clearing waits for a send in progress; shut the socket down first so
 * that such a send cannot block.
 */
void pcmig_tx_set_sock(struct pcmig_session *s, struct socket *sock)
{
	mutex_lock(&s->tx_lock);
	s->tx_sock = sock;
	mutex_unlock(&s->tx_lock);
}

/**
 * pcmig_tx_init() - prepare a new session's request sending
 * @s: session
 */
void pcmig_tx_init(struct pcmig_session *s)
{
	mutex_init(&s->tx_lock);
	init_llist_head(&s->tx_queue);
	INIT_WORK(&s->tx_work, pcmig_tx_work);
}

/**
 * pcmig_tx_release() - stop request sending of a session being freed
 * @s: session
 */
void pcmig_tx_release(struct pcmig_session *s)
{
	cancel_work_sync(&s->tx_work);
	pcmig_tx_drop_queue(s);
}

/* Mark a missing page requested; the first to do so queues the request. */
static void pcmig_request(struct pcmig_session *s, unsigned long idx)
{
	struct pcmig_req *req;

	if (test_and_set_bit(idx, s->requested))
		return;
	this_cpu_inc(s->stats->pages_requested);

	/*
	 * test_and_set_bit() is a full barrier: either we see the sending
	 * state here and queue, or the move to it (which sets the state and
	 * then scans the bitmap, see pcmig_tx_resend()) sees our bit. Both
	 * may happen; the source then answers twice, which is a legitimate
	 * duplicate.
	 */
	if (!pcmig_sending_state(READ_ONCE(s->state)))
		return;

	req = kmem_cache_alloc(pcmig_req_cache, GFP_KERNEL);
	if (!req) {
		/* The bitmap scan needs no memory and finds our bit. */
		pcmig_tx_resend(s);
		return;
	}
	req->idx = idx;
	llist_add(&req->node, &s->tx_queue);
	queue_work(pcmig_wq, &s->tx_work);
}

static void pcmig_account_wait(struct pcmig_session *s, u64 ns)
{
	unsigned int bucket = ns ? ilog2(ns) : 0;

	if (bucket >= PCMIG_HIST_BUCKETS)
		bucket = PCMIG_HIST_BUCKETS - 1;
	this_cpu_inc(s->stats->faults_blocked);
	this_cpu_add(s->stats->blocked_ns, ns);
	this_cpu_inc(s->stats->hist[bucket]);
}

/*
 * Wait until the page is present or the session failed. An interruptible
 * wait also ends on any signal: the fault is then retried after the
 * handler ran, as for userfaultfd, so that a VMM can kick its vCPU threads.
 * Return: 0 if present, -EINTR on a signal, -EIO if failed.
 */
static int pcmig_wait_page(struct pcmig_session *s, unsigned long idx,
			   bool interruptible)
{
	wait_queue_head_t *wq = pcmig_waitq(s, idx);
	u64 start;
	int ret;

	if (pcmig_page_present(s, idx))
		return 0;
	if (pcmig_failed(s))
		return -EIO;

	start = ktime_get_ns();
	if (interruptible)
		ret = wait_event_interruptible(*wq, pcmig_page_present(s, idx) ||
					       pcmig_failed(s));
	else
		ret = wait_event_killable(*wq, pcmig_page_present(s, idx) ||
					  pcmig_failed(s));
	if (pcmig_page_present(s, idx)) {
		pcmig_account_wait(s, ktime_get_ns() - start);
		return 0;
	}
	return ret ? -EINTR : -EIO;
}

/*
 * The page is missing. Returns 0 when it became present while we waited
 * with the mmap lock held, or the fault result to return.
 */
static vm_fault_t pcmig_fault_missing(struct pcmig_session *s,
				      struct vm_fault *vmf)
{
	unsigned long idx = vmf->pgoff;
	struct file *file;
	int ret;

	this_cpu_inc(s->stats->faults);
	if (pcmig_failed(s))
		return VM_FAULT_SIGBUS;
	pcmig_request(s, idx);

	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT)
		return VM_FAULT_RETRY;

	if (vmf->flags & FAULT_FLAG_ALLOW_RETRY) {
		/*
		 * Wait without the mmap lock. The file keeps the session
		 * (and the module) alive should the mapping go away.
		 */
		file = get_file(vmf->vma->vm_file);
		pcmig_release_fault_lock(vmf);
		/*
		 * Only a user-mode access can take a signal and retry: a
		 * kernel access with a signal pending would retry at once.
		 */
		pcmig_wait_page(s, idx, (vmf->flags & FAULT_FLAG_USER) &&
				(vmf->flags & FAULT_FLAG_INTERRUPTIBLE));
		fput(file);
		return VM_FAULT_RETRY;
	}

	ret = pcmig_wait_page(s, idx, false);
	return ret ? VM_FAULT_SIGBUS : 0;
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
 * pcmig_discard() - make a range of pages missing again
 * @s: session
 * @offset: byte offset, page aligned
 * @length: bytes, a non-zero multiple of the page size
 *
 * From the DISCARD ioctl or a DISCARD frame. Page installs are held off
 * meanwhile; the state change is atomic, so a concurrent move to LISTEN
 * only means that a fault may request a discarded page at once.
 *
 * Return: 0, -EINVAL for a bad range or a state other than ADVISE and
 * DISCARD, -EBUSY in a final state.
 */
int pcmig_discard(struct pcmig_session *s, u64 offset, u64 length)
{
	unsigned long first, last, idx, n = 0;
	int ret;

	if (!length || !PAGE_ALIGNED(offset) || !PAGE_ALIGNED(length) ||
	    offset >= s->size || length > s->size - offset)
		return -EINVAL;

	ret = pcmig_enter_discard(s);
	if (ret)
		return ret;

	first = offset >> PAGE_SHIFT;
	last = first + (length >> PAGE_SHIFT) - 1;

	down_write(&s->install_sem);
	for (idx = first; idx <= last; idx++) {
		if (test_and_clear_bit(idx, s->present)) {
			clear_bit(idx, s->requested);
			atomic64_dec(&s->nr_present);
			n++;
		}
		if (!(idx & 1023))
			cond_resched();
	}
	/* Present pages' mappings go first, then the pages themselves. */
	unmap_mapping_range(s->backing->f_mapping, offset, length, 1);
	shmem_truncate_range(file_inode(s->backing), offset,
			     offset + length - 1);
	up_write(&s->install_sem);

	spin_lock_irq(&s->lock);
	s->pages_discarded += n;
	spin_unlock_irq(&s->lock);
	return 0;
}

/**
 * pcmig_fault_init() - create the request cache
 *
 * Return: 0 or -ENOMEM.
 */
int pcmig_fault_init(void)
{
	pcmig_req_cache = KMEM_CACHE(pcmig_req, 0);
	if (!pcmig_req_cache)
		return -ENOMEM;
	/* Requests are on the fault path: high priority, never starved. */
	pcmig_wq = alloc_workqueue("pcmig", WQ_HIGHPRI | WQ_MEM_RECLAIM, 0);
	if (!pcmig_wq) {
		kmem_cache_destroy(pcmig_req_cache);
		return -ENOMEM;
	}
	return 0;
}

/**
 * pcmig_fault_exit() - destroy the request cache
 */
void pcmig_fault_exit(void)
{
	destroy_workqueue(pcmig_wq);
	kmem_cache_destroy(pcmig_req_cache);
}
