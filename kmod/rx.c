// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the receive side of a page channel: a parser of the frame stream
 * that installs pages, and the slots that faulting tasks prepare for it.
 *
 * The parser is fed by one of two drivers (channel.c): the socket's
 * data_ready callback and a work item (TCP), or a thread reading with
 * recvmsg() (kTLS, UNIX). pcmig_rx_next() says where the next bytes go (the
 * frame header, a page of guest memory, or the scratch page for a dropped
 * duplicate) and pcmig_rx_consume() is told how many arrived. No lock is
 * held while bytes are awaited: a slow peer stalls its own channel only.
 *
 * One writer a page: a receiver claims a page (&pcmig_session.receiving)
 * before its payload goes in; a copy of the same page arriving meanwhile
 * on another channel is a duplicate and dropped. A page becomes present
 * only once its whole payload is in (commit), and only then may a fault
 * map it. A page that is not present may be in the page cache, but then
 * it holds zeros: a receive that stops half-way clears the page first.
 *
 * In atomic context (softirq) the parser fills only pages that faulting
 * tasks prepared (the slot of the page they requested) and commits pages;
 * whatever may sleep (finding or allocating a page, DISCARD, END, SYNC) it
 * leaves to process context: pcmig_rx_next() returns PCMIG_RX_DEFER. So
 * too for ZERO frames past the callback's budget (rx->budget): a 24-byte
 * frame may cover 2^30 pages, a walk that process context takes with
 * cond_resched() and gives up when the session closes the channel.
 *
 * DISCARD (discard.c) runs concurrently with the receivers: it marks the
 * pages being received in its range stale (they are dropped at commit, as
 * if the DISCARD had come right after them), and pages started while it
 * runs are stale too. Before LISTEN, PAGES, ZERO and DISCARD frames are
 * accepted on the bulk channel only, where they are ordered. A punch
 * (punch.c) does the same, and also makes pages present that a receiver
 * may have claimed: a page started stale writes its payload into the
 * scratch page, never into the page cache, where a fault may map it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include "compat.h"
#include "pcmig.h"
#include "trace.h"

static int pcmig_rx_violation(struct pcmig_rx *rx, enum pcmig_reason reason)
{
	rx->reason = reason;
	return PCMIG_RX_PROTO;
}

/*
 * A page of guest memory in the page cache, with a reference. A page of a
 * huge folio fails the session (see pcmig_fail_huge()): -EOPNOTSUPP.
 */
static struct page *pcmig_get_page(struct pcmig_session *s,
				   unsigned long idx)
{
	struct address_space *mapping = s->backing->f_mapping;
	struct mem_cgroup *old;
	struct page *page;

	/* Pages received are charged to the session's creator. */
	old = set_active_memcg(s->memcg);
	page = shmem_read_mapping_page_gfp(mapping, idx,
					   mapping_gfp_mask(mapping));
	set_active_memcg(old);
	if (!IS_ERR(page) && unlikely(pcmig_page_huge(page))) {
		put_page(page);
		pcmig_fail_huge(s);
		return ERR_PTR(-EOPNOTSUPP);
	}
	return page;
}

/**
 * pcmig_slot_prepare() - prepare the page a reply will be copied into
 * @s: session
 * @idx: page the calling task requested first, in a sending state
 *
 * Called by the faulting task before it sends its request, so that the
 * reply can be copied into place straight from the socket's receive
 * callback. Without memory there is no slot, and the receiver's work item
 * finds the page itself.
 */
void pcmig_slot_prepare(struct pcmig_session *s, unsigned long idx)
{
	struct page *page, *old;

	page = pcmig_get_page(s, idx);
	if (IS_ERR(page))
		return;
	if (xa_insert_bh(&s->slots, idx, page, GFP_KERNEL)) {
		put_page(page);
		return;
	}
	/* Installed meanwhile: its committer may have looked already. */
	if (pcmig_page_present(s, idx)) {
		old = xa_erase_bh(&s->slots, idx);
		if (old)
			put_page(old);
	}
}

/**
 * pcmig_slot_drop() - the page is present: its slot is not needed any more
 * @s: session
 * @idx: page that became present
 */
void pcmig_slot_drop(struct pcmig_session *s, unsigned long idx)
{
	struct page *page;

	if (xa_empty(&s->slots))
		return;
	page = xa_erase_bh(&s->slots, idx);
	if (page)
		put_page(page);
}

/**
 * pcmig_slots_release() - drop every slot of a session being freed
 * @s: session
 */
void pcmig_slots_release(struct pcmig_session *s)
{
	struct page *page;
	unsigned long idx;

	xa_for_each(&s->slots, idx, page)
		put_page(page);
	xa_destroy(&s->slots);
}

/*
 * This receiver starts writing page rx->idx, which it claimed. Return: the
 * page is stale already, to be dropped: a DISCARD or punch of it runs, or
 * a punch made it present after we claimed it (nobody else does).
 */
static bool pcmig_rx_busy(struct pcmig_rx *rx)
{
	struct pcmig_session *s = rx->s;
	bool stale;

	spin_lock_bh(&s->lock);
	rx->cur = rx->idx;
	rx->busy = true;
	stale = (s->discarding && rx->idx >= s->discard_first &&
		 rx->idx <= s->discard_last) ||
		pcmig_page_present(s, rx->idx);
	rx->stale = stale;
	spin_unlock_bh(&s->lock);
	return stale;
}

static void pcmig_rx_unclaim(struct pcmig_rx *rx)
{
	struct pcmig_session *s = rx->s;

	spin_lock_bh(&s->lock);
	rx->busy = false;
	spin_unlock_bh(&s->lock);
	/* Pairs with test_and_set_bit_lock() of the next claimer. */
	clear_bit_unlock(rx->idx, s->receiving);
	rx->claimed = false;
}

/*
 * The whole of page rx->idx is in @page (NULL for a zero page): make it
 * present, unless a DISCARD covered it meanwhile.
 */
static void pcmig_rx_commit(struct pcmig_rx *rx, struct page *page)
{
	struct pcmig_session *s = rx->s;
	unsigned long idx = rx->idx;
	bool stale, added = false;

	if (page) {
		flush_dcache_page(page);
		/* tmpfs drops clean pages under reclaim: keep it dirty. */
		set_page_dirty(page);
	}

	spin_lock_bh(&s->lock);
	stale = rx->stale;
	rx->busy = false;
	/* Fully ordered: the contents are visible before the bit. */
	if (!stale && !test_and_set_bit(idx, s->present)) {
		atomic64_inc(&s->nr_present);
		/*
		 * Under the lock, as state changes are traced: whoever saw
		 * the page present and then moved the state finds the
		 * events in that order.
		 */
		trace_pcmig_page_received(rx, page);
		added = true;
	}
	spin_unlock_bh(&s->lock);

	if (stale && page)
		/* Not present: holds zeros, should it still be cached. */
		clear_highpage(page);
	clear_bit_unlock(idx, s->receiving);
	rx->claimed = false;
	if (!added)
		return;

	if (!page) {
		pcmig_stat_inc(&s->stats->pages_zero);
	} else {
		pcmig_stat_inc(&s->stats->pages_received);
		if (!rx->requested)
			pcmig_stat_inc(&s->stats->pages_pushed);
	}
	pcmig_wake_page(s, idx);
	pcmig_slot_drop(s, idx);
	if (atomic64_read(&s->nr_present) == s->npages)
		queue_work(pcmig_wq, &s->complete_work);
}

/*
 * A step of a long walk in process context: reschedule if need be; stop
 * once the session shut the channel down (it waits for the receiver).
 */
static int pcmig_rx_yield(struct pcmig_rx *rx)
{
	cond_resched();
	return READ_ONCE(rx->ch->closing) ? PCMIG_RX_EOF : 0;
}

/*
 * Check the pages of a PAGES or ZERO frame before any is installed: a
 * reply must answer a request, a page present already must have been
 * requested. Without @can_sleep, the caller bounded @n.
 */
static int pcmig_rx_check_pages(struct pcmig_rx *rx, unsigned long first,
				unsigned int n, bool requested, bool can_sleep)
{
	struct pcmig_session *s = rx->s;
	unsigned long idx;
	int ret;

	for (idx = first; idx < first + n; idx++) {
		bool asked = test_bit(idx, s->requested);

		if (can_sleep && !((idx - first + 1) % PCMIG_RX_WALK_BATCH)) {
			ret = pcmig_rx_yield(rx);
			if (ret)
				return ret;
		}

		if (requested && !asked)
			return pcmig_rx_violation(rx,
						  PCMIG_REASON_NOT_REQUESTED);
		/* DISCARD clears present, then requested: read in turn. */
		smp_rmb();
		if (pcmig_page_present(s, idx) && !asked) {
			/* A punch sets requested, then present: look again. */
			smp_rmb();
			if (!test_bit(idx, s->requested))
				return pcmig_rx_violation(rx,
							  PCMIG_REASON_DUPLICATE);
		}
	}
	return 0;
}

/*
 * END on this channel. The source is done once every attached channel has
 * carried END: each channel is ordered, so by then every page it sent has
 * arrived, whichever channel it took. Frames after END are handled as
 * usual (a late reply to a request is a duplicate).
 */
static int pcmig_rx_end(struct pcmig_rx *rx)
{
	struct pcmig_session *s = rx->s;
	bool all;

	rx->src_done = true;
	spin_lock_bh(&s->lock);
	s->end_mask |= rx->ch->mask;
	all = (s->end_mask & s->chan_mask) == s->chan_mask;
	spin_unlock_bh(&s->lock);

	if (!all)
		return 0;
	if (atomic64_read(&s->nr_present) != s->npages)
		return pcmig_rx_violation(rx, PCMIG_REASON_INCOMPLETE);
	pcmig_check_complete(s);
	return 0;
}

/* A barrier: every frame before it on this channel has been handled. */
static int pcmig_rx_sync(struct pcmig_rx *rx, u64 token)
{
	struct pcmig_session *s = rx->s;

	spin_lock_bh(&s->lock);
	if (token <= rx->ch->sync) {
		spin_unlock_bh(&s->lock);
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_RANGE);
	}
	rx->ch->sync = token;
	spin_unlock_bh(&s->lock);
	wake_up_all(&s->chan_wq);
	return 0;
}

/* Drop the pages looked up ahead for the frame. */
static void pcmig_rx_put_pages(struct pcmig_rx *rx)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(rx->pages); i++) {
		if (rx->pages[i]) {
			put_page(rx->pages[i]);
			rx->pages[i] = NULL;
		}
	}
}

/*
 * Look the missing pages of a PAGES frame up in process context, so that
 * their payload can then be copied in without sleeping. A page that cannot
 * be had now is looked up again when its turn comes.
 */
static void pcmig_rx_get_pages(struct pcmig_rx *rx, unsigned long from)
{
	struct pcmig_session *s = rx->s;
	unsigned long idx;
	struct page *page;

	for (idx = from; idx < rx->end; idx++) {
		if (rx->pages[idx - rx->first] || pcmig_page_present(s, idx))
			continue;
		page = pcmig_get_page(s, idx);
		if (!IS_ERR(page))
			rx->pages[idx - rx->first] = page;
	}
}

/* A complete header is in rx->hdr: check it and handle or start it. */
static int pcmig_rx_frame(struct pcmig_rx *rx, bool can_sleep)
{
	const struct pcmig_frame *f = &rx->hdr;
	struct pcmig_session *s = rx->s;
	u32 npages = be32_to_cpu(f->npages);
	u64 offset = be64_to_cpu(f->offset);
	u16 flags = be16_to_cpu(f->flags);
	u32 len = be32_to_cpu(f->len);
	bool requested;
	int ret;

	if (be32_to_cpu(f->magic) != PCMIG_FRAME_MAGIC)
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_MAGIC);
	if (f->version != PCMIG_FRAME_VERSION)
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_VERSION);

	switch (f->type) {
	case PCMIG_FRAME_PAGES:
	case PCMIG_FRAME_ZERO:
	case PCMIG_FRAME_DISCARD:
		break;
	case PCMIG_FRAME_END:
		if (flags)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_FLAGS);
		if (npages || offset)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_RANGE);
		if (len)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_LENGTH);
		if (!can_sleep)
			return PCMIG_RX_DEFER;
		rx->hdr_got = 0;
		return pcmig_rx_end(rx);
	case PCMIG_FRAME_SYNC:
		if (flags)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_FLAGS);
		if (npages || !offset)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_RANGE);
		if (len)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_LENGTH);
		if (!can_sleep)
			return PCMIG_RX_DEFER;
		rx->hdr_got = 0;
		return pcmig_rx_sync(rx, offset);
	default:
		/* REQUEST frames go the other way. */
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_TYPE);
	}

	requested = flags & PCMIG_FRAME_F_REQUESTED;
	if (flags & ~PCMIG_FRAME_F_REQUESTED ||
	    (requested && f->type != PCMIG_FRAME_PAGES))
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_FLAGS);
	if (!npages || !PAGE_ALIGNED(offset) || offset >= s->size ||
	    npages > s->npages - (offset >> PAGE_SHIFT) ||
	    (f->type == PCMIG_FRAME_PAGES && npages > PCMIG_FRAME_MAX_PAGES))
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_RANGE);
	if (len != (f->type == PCMIG_FRAME_PAGES ? npages * PAGE_SIZE : 0))
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_LENGTH);

	/*
	 * A DISCARD is ordered with the pages it covers only within its
	 * channel: before LISTEN, while one may still come, every page frame
	 * and DISCARD must come on the bulk channel. (Then no page frame can
	 * be checked before LISTEN and installed after a DISCARD of it from
	 * another channel: a DISCARD is over before LISTEN, see
	 * pcmig_set_state().)
	 */
	if (!(rx->ch->mask & PCMIG_CHANNEL_BULK) && pcmig_before_listen(s))
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_TYPE);

	/* Only before LISTEN: a misdirected frame otherwise. */
	if (f->type == PCMIG_FRAME_DISCARD) {
		if (!can_sleep)
			return PCMIG_RX_DEFER;
		rx->hdr_got = 0;
		ret = pcmig_discard(s, offset, (u64)npages << PAGE_SHIFT);
		/* The range is valid: the state forbids it. */
		if (ret == -EINVAL || ret == -EBUSY)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_TYPE);
		return ret;
	}

	/*
	 * A ZERO frame is a step per page with no byte behind it: without
	 * sleeping, only while the callback's budget lasts. (The pages of a
	 * PAGES frame come with their payload.)
	 */
	if (!can_sleep && f->type == PCMIG_FRAME_ZERO) {
		if (npages > rx->budget)
			return PCMIG_RX_DEFER;
		rx->budget -= npages;
	}

	ret = pcmig_rx_check_pages(rx, offset >> PAGE_SHIFT, npages,
				   requested, can_sleep);
	if (ret)
		return ret;

	rx->hdr_got = 0;
	rx->type = f->type;
	rx->requested = requested;
	rx->first = offset >> PAGE_SHIFT;
	rx->idx = rx->first;
	rx->end = rx->first + npages;
	rx->state = PCMIG_RX_PAGE;
	if (can_sleep && rx->type == PCMIG_FRAME_PAGES)
		pcmig_rx_get_pages(rx, rx->first);
	return 0;
}

/* On to the next page of the frame, or the next frame. */
static void pcmig_rx_next_page(struct pcmig_rx *rx)
{
	if (rx->page) {
		put_page(rx->page);
		rx->page = NULL;
	}
	if (++rx->idx < rx->end) {
		rx->state = PCMIG_RX_PAGE;
		return;
	}
	rx->state = PCMIG_RX_HDR;
	pcmig_rx_put_pages(rx);
}

/* The page of guest memory to write rx->idx into, with a reference. */
static struct page *pcmig_rx_find_page(struct pcmig_rx *rx, bool can_sleep)
{
	struct address_space *mapping = rx->s->backing->f_mapping;
	struct page **ahead = &rx->pages[rx->idx - rx->first];
	struct page *page = *ahead;

	if (page) {
		*ahead = NULL;
		/* Not truncated by a DISCARD since it was looked up. */
		if (READ_ONCE(page->mapping) == mapping)
			return page;
		put_page(page);
	}
	/*
	 * A faulting task prepared it: we own the page, the slot is ours.
	 * Under the lock: a punch may drop the slot meanwhile.
	 */
	xa_lock_bh(&rx->s->slots);
	page = xa_load(&rx->s->slots, rx->idx);
	if (page)
		get_page(page);
	xa_unlock_bh(&rx->s->slots);
	if (page)
		return page;
	if (!can_sleep)
		return ERR_PTR(-EAGAIN);
	/* A pushed page: look the rest of the frame up too. */
	pcmig_rx_get_pages(rx, rx->idx + 1);
	return pcmig_get_page(rx->s, rx->idx);
}

/* At the start of page rx->idx of a PAGES or ZERO frame. */
static int pcmig_rx_page(struct pcmig_rx *rx, bool can_sleep)
{
	struct pcmig_session *s = rx->s;
	unsigned long idx = rx->idx;
	struct page *page;

	/* Claim, then look: a committer lets go once the page is present. */
	if (test_and_set_bit_lock(idx, s->receiving))
		goto duplicate;
	rx->claimed = true;
	if (pcmig_page_present(s, idx)) {
		pcmig_rx_unclaim(rx);
		goto duplicate;
	}

	if (rx->type == PCMIG_FRAME_ZERO) {
		/* Nothing to write: a missing page already reads as zero. */
		pcmig_rx_busy(rx);
		pcmig_rx_commit(rx, NULL);
		pcmig_rx_next_page(rx);
		return 0;
	}

	page = pcmig_rx_find_page(rx, can_sleep);
	if (IS_ERR(page)) {
		pcmig_rx_unclaim(rx);
		return PTR_ERR(page) == -EAGAIN ? PCMIG_RX_DEFER : PTR_ERR(page);
	}
	if (pcmig_rx_busy(rx)) {
		/* Punched maybe, and mapped: the payload goes nowhere. */
		put_page(page);
		page = NULL;
	}
	rx->page = page;
	rx->got = 0;
	rx->state = PCMIG_RX_PAYLOAD;
	return 0;

duplicate:
	/*
	 * Present, or arriving on another channel: legitimate only if it was
	 * requested (the push crossed the reply) or punched (which marks it
	 * requested before present). Its payload is dropped.
	 */
	smp_rmb();
	if (!test_bit(idx, s->requested))
		return pcmig_rx_violation(rx, PCMIG_REASON_DUPLICATE);
	pcmig_stat_inc(&s->stats->pages_duplicate);
	if (rx->type == PCMIG_FRAME_ZERO) {
		pcmig_rx_next_page(rx);
		return 0;
	}
	rx->page = NULL;
	rx->got = 0;
	rx->state = PCMIG_RX_PAYLOAD;
	return 0;
}

/**
 * pcmig_rx_next() - where the next bytes of the stream go
 * @rx: parser
 * @can_sleep: process context: every step may be taken
 * @buf: set to the destination
 * @len: set to the number of bytes wanted there, at least one
 *
 * Takes every step that needs no byte of the stream: checking and
 * handling a complete header, claiming and finding the next page. With
 * @can_sleep, the pages of a ZERO frame are walked with cond_resched(),
 * and the walk stops (%PCMIG_RX_EOF) once the channel is being closed.
 *
 * Return: 0 with @buf and @len set; %PCMIG_RX_DEFER if the next step
 * needs process context (only without @can_sleep); %PCMIG_RX_PROTO for a
 * protocol violation (rx->reason says which); a negative errno.
 */
int pcmig_rx_next(struct pcmig_rx *rx, bool can_sleep, void **buf,
		  size_t *len)
{
	int ret;

	for (;;) {
		switch (rx->state) {
		case PCMIG_RX_HDR:
			if (rx->hdr_got < sizeof(rx->hdr)) {
				*buf = (u8 *)&rx->hdr + rx->hdr_got;
				*len = sizeof(rx->hdr) - rx->hdr_got;
				return 0;
			}
			ret = pcmig_rx_frame(rx, can_sleep);
			break;
		case PCMIG_RX_PAGE:
			if (can_sleep && !((rx->idx - rx->first + 1) %
					   PCMIG_RX_WALK_BATCH)) {
				ret = pcmig_rx_yield(rx);
				if (ret)
					return ret;
			}
			ret = pcmig_rx_page(rx, can_sleep);
			break;
		case PCMIG_RX_PAYLOAD:
			*buf = page_address(rx->page ?: rx->ch->scratch) +
			       rx->got;
			*len = PAGE_SIZE - rx->got;
			return 0;
		default:
			return -EINVAL;
		}
		if (ret)
			return ret;
	}
}

/**
 * pcmig_rx_consume() - @n bytes arrived where pcmig_rx_next() said
 * @rx: parser
 * @n: bytes, at most what pcmig_rx_next() asked for
 *
 * A page whose payload is complete is committed (and its waiters woken);
 * never sleeps.
 */
void pcmig_rx_consume(struct pcmig_rx *rx, size_t n)
{
	pcmig_stat_add(&rx->s->stats->bytes_received, n);
	if (rx->state == PCMIG_RX_HDR) {
		rx->hdr_got += n;
		return;
	}
	rx->got += n;
	if (rx->got < PAGE_SIZE)
		return;
	if (rx->claimed)
		pcmig_rx_commit(rx, rx->page);
	pcmig_rx_next_page(rx);
}

/**
 * pcmig_rx_init() - a new channel's parser
 * @rx: parser, zeroed
 * @ch: its channel
 */
void pcmig_rx_init(struct pcmig_rx *rx, struct pcmig_channel *ch)
{
	rx->ch = ch;
	rx->s = ch->session;
	rx->state = PCMIG_RX_HDR;
}

/**
 * pcmig_rx_release() - the channel stopped: let go of what the parser holds
 * @rx: parser
 *
 * A page received in part is cleared (a missing page holds zeros) and
 * unclaimed, so that a later copy of it can be installed.
 */
void pcmig_rx_release(struct pcmig_rx *rx)
{
	if (rx->state == PCMIG_RX_PAYLOAD && rx->claimed) {
		/* No page: a stale one, whose payload went to scratch. */
		if (rx->page)
			clear_highpage(rx->page);
		pcmig_rx_unclaim(rx);
	}
	if (rx->page) {
		put_page(rx->page);
		rx->page = NULL;
	}
	pcmig_rx_put_pages(rx);
	rx->state = PCMIG_RX_HDR;
}
