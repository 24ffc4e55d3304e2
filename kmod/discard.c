// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: DISCARD, which makes pages that arrived before LISTEN missing
 * again (the source saw them change after it had sent them).
 *
 * A DISCARD comes from the ioctl (under the session's ctl_lock) or from a
 * DISCARD frame (a receiver, without it). Either holds discard_lock from
 * the look at the state to the last page, and the move to LISTEN takes
 * discard_lock too: once SET_STATE(LISTEN) has returned, no DISCARD runs
 * and none can start (the state forbids it), so no page the guest writes
 * from then on can be taken away from it.
 *
 * Receivers are not waited for: a page being received in the range is
 * marked stale (pcmig_discard_begin()) and dropped once its payload is in,
 * as if the DISCARD had come right after it; a page started while the
 * DISCARD runs is stale too. Which of a page and its DISCARD came first is
 * only defined within one channel: before LISTEN every page frame and
 * every DISCARD frame comes on the bulk channel (rx.c checks it).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/spinlock.h>

#include "compat.h"
#include "pcmig.h"

/**
 * pcmig_discard_begin() - pages being received in a range are to be dropped
 * @s: session; the caller holds @s->discard_lock
 * @first: first page of the range
 * @last: last page of the range
 *
 * A DISCARD or a punch of pages @first..@last starts: pages being received
 * in the range, or started before pcmig_discard_end(), are dropped when
 * their payload is in instead of becoming present.
 */
void pcmig_discard_begin(struct pcmig_session *s, unsigned long first,
			 unsigned long last)
{
	struct pcmig_channel *ch;

	spin_lock_bh(&s->lock);
	s->discard_first = first;
	s->discard_last = last;
	s->discarding = true;
	list_for_each_entry(ch, &s->channels, node)
		if (ch->rx.busy && ch->rx.cur >= first && ch->rx.cur <= last)
			ch->rx.stale = true;
	spin_unlock_bh(&s->lock);
}

/**
 * pcmig_discard_end() - the range of pcmig_discard_begin() is done
 * @s: session; the caller holds @s->discard_lock
 */
void pcmig_discard_end(struct pcmig_session *s)
{
	spin_lock_bh(&s->lock);
	s->discarding = false;
	spin_unlock_bh(&s->lock);
}

/**
 * pcmig_discard() - make a range of pages missing again
 * @s: session
 * @offset: byte offset, page aligned
 * @length: bytes, a non-zero multiple of the page size
 *
 * From the DISCARD ioctl or a DISCARD frame, in ADVISE (which moves to
 * DISCARD) and DISCARD. The state is checked, and changed, under
 * @s->discard_lock, which the move to LISTEN takes as well: a DISCARD is
 * either over before LISTEN or refused. The walk does not sleep on
 * anything but the page locks of the truncation; it reschedules.
 *
 * Return: 0; -EINVAL for a bad range or a state other than ADVISE and
 * DISCARD; -EBUSY in a final state, also one reached while it ran (the
 * pages up to where it stopped are discarded); -EINTR if a fatal signal
 * came while another DISCARD ran.
 */
int pcmig_discard(struct pcmig_session *s, u64 offset, u64 length)
{
	unsigned long first, last, idx, n = 0;
	int ret;

	if (!pcmig_range_valid(s, offset, length))
		return -EINVAL;

	if (mutex_lock_killable(&s->discard_lock))
		return -EINTR;
	ret = pcmig_enter_discard(s);
	if (ret)
		goto out;

	first = offset >> PAGE_SHIFT;
	last = first + (length >> PAGE_SHIFT) - 1;

	/* Pages being received in the range are dropped when complete. */
	pcmig_discard_begin(s, first, last);
	for (idx = first; idx <= last; idx++) {
		if (test_and_clear_bit(idx, s->present)) {
			clear_bit(idx, s->requested);
			atomic64_dec(&s->nr_present);
			n++;
		}
		if (!(idx & 1023)) {
			/* Destroyed or failed meanwhile: stop after this one. */
			if (READ_ONCE(s->state) == PCMIG_STATE_FAILED) {
				last = idx;
				ret = -EBUSY;
			}
			cond_resched();
		}
	}
	/* Present pages' mappings go first, then the pages themselves. */
	length = (u64)(last - first + 1) << PAGE_SHIFT;
	unmap_mapping_range(s->backing->f_mapping, offset, length, 1);
	shmem_truncate_range(file_inode(s->backing), offset,
			     offset + length - 1);
	pcmig_discard_end(s);

	/* Counted before LISTEN can be seen. */
	spin_lock_bh(&s->lock);
	s->pages_discarded += n;
	spin_unlock_bh(&s->lock);
out:
	mutex_unlock(&s->discard_lock);
	return ret;
}
