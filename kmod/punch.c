// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: fallocate(FALLOC_FL_PUNCH_HOLE) on a session file: the VMM gives a
 * range of guest memory up (virtio-balloon inflation, virtio-mem unplug,
 * QEMU's discard-data and ram_block_discard_range()).
 *
 * A punched page reads as zeros and is present for good: it is never
 * requested, and what the source sends for it later is dropped as a
 * legitimate duplicate. Its mappings are zapped and its memory (page or
 * swap) freed.
 *
 * Order, page by page: the truncation first, then the presence bit, then
 * the wake-up. A fault maps what the page cache holds once the bit is set;
 * after the truncation the cache holds nothing (tmpfs then brings in a zero
 * page) or a page a lookup allocated since, which holds zeros: a missing
 * page is written only by the receiver that claimed it, and no receiver
 * writes into the cache in the range any more.
 *
 * Receivers are not waited for: the punch uses DISCARD's stale mechanism
 * (pcmig_discard_begin()). A page being received in the range when the
 * punch starts is marked stale and dropped once its payload is in; its page
 * was looked up before and is truncated, so the rest of its payload goes
 * into a page that has left the cache. A receive that starts in the range
 * while the punch runs, or on a page the punch made present (it had
 * claimed the page before), is stale too and drops its payload into the
 * scratch page (pcmig_rx_busy()). After the punch, a receiver finds the
 * page present: a duplicate, legitimate because the punch marks the page
 * requested before it marks it present.
 *
 * Punches are serialised with DISCARDs by discard_lock: both use the one
 * stale range of the session. The fault path takes none of the locks.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
/* After linux/fs.h: linux/falloc.h does not include the types it uses. */
#include <linux/falloc.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "pcmig.h"

/*
 * Make pages @first..@last present (zero) after their truncation. Return:
 * how many were missing; *@last is lowered to the last page done if the
 * session failed meanwhile.
 */
static unsigned long pcmig_punch_present(struct pcmig_session *s,
					 unsigned long first,
					 unsigned long *last)
{
	unsigned long idx, n = 0;

	for (idx = first; idx <= *last; idx++) {
		/*
		 * Requested before present, and the test_and_set_bit() orders
		 * the two: whoever sees the page present sees it requested,
		 * so a later copy of it is a legitimate duplicate (rx.c). A
		 * scan for requested pages still missing may catch it in
		 * between, and request it: the reply is a duplicate too.
		 */
		set_bit(idx, s->requested);
		if (!test_and_set_bit(idx, s->present)) {
			atomic64_inc(&s->nr_present);
			n++;
			pcmig_wake_page(s, idx);
			pcmig_slot_drop(s, idx);
		}
		if (!((idx - first + 1) % PCMIG_RX_WALK_BATCH)) {
			/* Destroyed or failed: stop after this one. */
			if (READ_ONCE(s->state) == PCMIG_STATE_FAILED)
				*last = idx;
			cond_resched();
		}
	}
	return n;
}

/**
 * pcmig_punch() - give a range of session memory up: zeros, present for good
 * @s: session
 * @offset: byte offset, page aligned
 * @length: bytes, a non-zero multiple of the page size, within the session
 *
 * Every page of the range becomes present and reads as zeros; what it held
 * is freed (page cache and swap) and its mappings are zapped. A missing
 * page is never requested any more; faults waiting for it are woken and
 * find zeros. Allowed in every state but FAILED, PAUSED and RECOVER
 * included (the VM may run during an outage). Takes @s->discard_lock, so
 * that a DISCARD (before LISTEN) and a punch come one after the other: a
 * DISCARD after a punch makes the page missing again (the source's copy
 * is the newer one). Never waits for the network or for a receiver.
 *
 * Return: 0; -EINVAL for an unaligned or empty range or one reaching past
 * the end of the session; -EBUSY in FAILED, also when reached meanwhile
 * (the whole range is freed, but the pages past where it stopped stay
 * missing); -EINTR if a fatal signal came while a DISCARD or another
 * punch ran.
 */
int pcmig_punch(struct pcmig_session *s, u64 offset, u64 length)
{
	struct address_space *mapping = s->backing->f_mapping;
	unsigned long first, last, n;
	int ret = 0;

	if (!pcmig_range_valid(s, offset, length))
		return -EINVAL;

	if (mutex_lock_killable(&s->discard_lock))
		return -EINTR;
	if (READ_ONCE(s->state) == PCMIG_STATE_FAILED) {
		ret = -EBUSY;
		goto out;
	}

	first = offset >> PAGE_SHIFT;
	last = first + (length >> PAGE_SHIFT) - 1;

	/* Pages being received in the range are dropped when complete. */
	pcmig_discard_begin(s, first, last);
	/* Mappings first, then the pages and swap entries themselves. */
	unmap_mapping_range(mapping, offset, length, 1);
	shmem_truncate_range(file_inode(s->backing), offset,
			     offset + length - 1);
	n = pcmig_punch_present(s, first, &last);
	if (last != first + (length >> PAGE_SHIFT) - 1)
		ret = -EBUSY;
	pcmig_discard_end(s);

	spin_lock_bh(&s->lock);
	s->pages_punched += n;
	spin_unlock_bh(&s->lock);
out:
	mutex_unlock(&s->discard_lock);
	/* The punch may have brought the last missing pages. */
	if (!ret && atomic64_read(&s->nr_present) == s->npages)
		pcmig_check_complete(s);
	return ret;
}

/**
 * pcmig_fallocate() - fallocate(2) on a session file
 * @s: session
 * @mode: FALLOC_FL_* flags
 * @offset: byte offset
 * @len: bytes
 *
 * Only FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE is supported: session
 * memory has a fixed size and every page of it exists; see pcmig_punch().
 * The VFS calls this for regular files only, so for a session file that
 * PCMIG_IOC_CREATE returned or that was reopened from it, never for the
 * device node (a character device: -ENODEV from vfs_fallocate()).
 *
 * Return: pcmig_punch()'s result; -EOPNOTSUPP for any other mode.
 */
long pcmig_fallocate(struct pcmig_session *s, int mode, loff_t offset,
		     loff_t len)
{
	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	/* The VFS refused negative values and a wrap. */
	return pcmig_punch(s, offset, len);
}
