// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: page requests, from the destination to the source.
 *
 * A task that faults on a missing page queues the page's offset and then
 * tries to send the request itself, with a non-blocking sendmsg() on the
 * urgent channel, so that a remote fault costs no extra wake-up. Requests
 * of concurrent faulters batch: whoever holds the send lock sends every
 * offset queued so far in one frame, and looks again after it lets go of
 * the lock, so that a queued offset never waits for the next fault.
 *
 * What a faulting task cannot finish without blocking (a frame sent in
 * part because the socket buffer is full, a bitmap scan after LISTEN or
 * RECOVER) is left to a work item: a worker has no signals, so a frame
 * never stops half-way, and it may block on the socket while the faulting
 * tasks only ever trylock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

#include "pcmig.h"
#include "trace.h"

/* &pcmig_session.tx_flags */
#define PCMIG_TX_RESEND	0	/* request every missing requested page */
#define PCMIG_TX_RECOVERED 1	/* that resend follows RECOVER: count it */
#define PCMIG_TX_ORPHANED 2	/* the urgent channel left after END */

static bool pcmig_tx_state(struct pcmig_session *s)
{
	return pcmig_state_sends(READ_ONCE(s->state));
}

static __be64 *pcmig_tx_slots(struct pcmig_session *s)
{
	return (__be64 *)((struct pcmig_frame *)s->tx_buf + 1);
}

/* Make s->tx_buf a REQUEST frame of @n offsets, to be sent. */
static void pcmig_tx_frame(struct pcmig_session *s, unsigned int n)
{
	struct pcmig_frame *f = s->tx_buf;

	f->magic = cpu_to_be32(PCMIG_FRAME_MAGIC);
	f->version = PCMIG_FRAME_VERSION;
	f->type = PCMIG_FRAME_REQUEST;
	f->flags = 0;
	f->npages = cpu_to_be32(n);
	f->len = cpu_to_be32(n * sizeof(__be64));
	f->offset = 0;
	s->tx_off = 0;
	s->tx_len = sizeof(*f) + n * sizeof(__be64);
}

/*
 * Write what is left of the frame in s->tx_buf. Without @block, a full
 * socket buffer leaves the rest for later (s->tx_len stays non-zero).
 * Under tx_lock, with a socket. Return: 0 or a negative errno.
 */
static int pcmig_tx_write(struct pcmig_session *s, bool block)
{
	struct msghdr msg = {
		.msg_flags = MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT),
	};
	struct kvec vec;
	int ret;

	while (s->tx_len) {
		vec.iov_base = s->tx_buf + s->tx_off;
		vec.iov_len = s->tx_len;
		ret = kernel_sendmsg(s->tx_sock, &msg, &vec, 1, vec.iov_len);
		if (ret == -EAGAIN && !block)
			return 0;
		if (ret < 0)
			return ret;
		if (!ret)
			return -EPIPE;
		s->tx_off += ret;
		s->tx_len -= ret;
	}
	pcmig_stat_inc(&s->stats->requests_sent);
	trace_pcmig_request_sent(s);
	return 0;
}

/* Take the queued offsets into a frame. Return: how many. */
static unsigned int pcmig_tx_take(struct pcmig_session *s)
{
	__be64 *slot = pcmig_tx_slots(s);
	unsigned int i, n = 0;

	spin_lock(&s->tx_pend_lock);
	for (i = 0; i < s->tx_npend; i++) {
		unsigned long idx = be64_to_cpu(s->tx_pend[i]) >> PAGE_SHIFT;

		/* A page that arrived meanwhile needs no request. */
		if (!pcmig_page_present(s, idx))
			slot[n++] = s->tx_pend[i];
	}
	s->tx_npend = 0;
	spin_unlock(&s->tx_pend_lock);
	return n;
}

/* Send a frame of @n offsets, counted as resent if @recovered. */
static int pcmig_tx_send_resent(struct pcmig_session *s, unsigned int n,
				bool recovered)
{
	int ret;

	pcmig_tx_frame(s, n);
	ret = pcmig_tx_write(s, true);
	if (!ret && recovered)
		atomic64_add(n, &s->requests_resent);
	return ret;
}

/* Request every page that is requested and missing. Under tx_lock. */
static int pcmig_tx_send_all(struct pcmig_session *s)
{
	bool recovered = test_and_clear_bit(PCMIG_TX_RECOVERED, &s->tx_flags);
	__be64 *slot = pcmig_tx_slots(s);
	unsigned long idx;
	unsigned int n = 0;
	int ret;

	pcmig_tx_drop_queue(s);
	for_each_andnot_bit(idx, s->requested, s->present, s->npages) {
		slot[n++] = cpu_to_be64((u64)idx << PAGE_SHIFT);
		if (n == PCMIG_FRAME_MAX_REQS) {
			ret = pcmig_tx_send_resent(s, n, recovered);
			if (ret)
				return ret;
			n = 0;
			cond_resched();
		}
	}
	if (!n)
		return 0;
	return pcmig_tx_send_resent(s, n, recovered);
}

/*
 * Send what there is to send: the rest of a frame sent in part, then the
 * queued offsets. Under tx_lock, with a socket, in a sending state.
 * Return: 0 when nothing is left, -EAGAIN when the rest needs @block,
 * or a negative errno of the socket.
 */
static int pcmig_tx_send(struct pcmig_session *s, bool block)
{
	unsigned int n;
	int ret;

	if (s->tx_len) {
		ret = pcmig_tx_write(s, block);
		if (ret)
			return ret;
		if (s->tx_len)
			return -EAGAIN;
	}
	if (test_bit(PCMIG_TX_RESEND, &s->tx_flags)) {
		if (!block)
			return -EAGAIN;
		clear_bit(PCMIG_TX_RESEND, &s->tx_flags);
		ret = pcmig_tx_send_all(s);
		if (ret)
			return ret;
	}
	while ((n = pcmig_tx_take(s))) {
		pcmig_tx_frame(s, n);
		ret = pcmig_tx_write(s, block);
		if (ret)
			return ret;
		if (s->tx_len)
			return -EAGAIN;
	}
	return 0;
}

/* Whether anything waits to be sent. */
static bool pcmig_tx_pending(struct pcmig_session *s)
{
	bool pending;

	/* The lock orders this after the adder's queueing: see tx_flush. */
	spin_lock(&s->tx_pend_lock);
	pending = s->tx_npend || test_bit(PCMIG_TX_RESEND, &s->tx_flags);
	spin_unlock(&s->tx_pend_lock);
	return pending;
}

static void pcmig_tx_work(struct work_struct *work)
{
	struct pcmig_session *s = container_of(work, struct pcmig_session,
					       tx_work);
	bool orphaned = false;
	int ret = 0;
	u32 epoch;

	mutex_lock(&s->tx_lock);
	/*
	 * Without a socket, the queue waits for pcmig_tx_resend(), unless
	 * the urgent channel left for good: see pcmig_tx_urgent_gone().
	 */
	if (s->tx_sock && pcmig_tx_state(s))
		ret = pcmig_tx_send(s, true);
	else if (!s->tx_sock && pcmig_tx_state(s) &&
		 test_bit(PCMIG_TX_ORPHANED, &s->tx_flags))
		orphaned = pcmig_tx_pending(s);
	epoch = s->tx_epoch;
	mutex_unlock(&s->tx_lock);

	if (orphaned) {
		pcmig_pause_channel(s, epoch, PCMIG_REASON_CHANNEL_EOF, 0);
		return;
	}
	if (ret) {
		pr_warn_ratelimited("session %u: sending requests failed: %d\n",
				    s->id, ret);
		/* Only if no pause and recovery replaced that socket since. */
		pcmig_pause_channel(s, epoch, PCMIG_REASON_CHANNEL_ERROR, ret);
		return;
	}
	/* Queued by a faulting task that found the lock taken. */
	if (READ_ONCE(s->tx_sock) && pcmig_tx_state(s) && pcmig_tx_pending(s))
		pcmig_tx_kick(s);
}

/**
 * pcmig_tx_queue() - queue the request of a page
 * @s: session
 * @idx: page, just marked requested by its first faulting task
 *
 * pcmig_tx_flush() or pcmig_tx_kick() sends it. When the queue is full,
 * the work item scans the bitmaps instead, which needs no memory.
 */
void pcmig_tx_queue(struct pcmig_session *s, unsigned long idx)
{
	spin_lock(&s->tx_pend_lock);
	if (s->tx_npend < PCMIG_FRAME_MAX_REQS)
		s->tx_pend[s->tx_npend++] = cpu_to_be64((u64)idx << PAGE_SHIFT);
	else
		set_bit(PCMIG_TX_RESEND, &s->tx_flags);
	spin_unlock(&s->tx_pend_lock);
}

/**
 * pcmig_tx_kick() - have the work item send what is queued
 * @s: session
 */
void pcmig_tx_kick(struct pcmig_session *s)
{
	queue_work(pcmig_wq, &s->tx_work);
}

/**
 * pcmig_tx_flush() - send the queued requests from the faulting task
 * @s: session
 *
 * Never blocks: if another task holds the send lock, that task sends our
 * request with its own (it looks at the queue again after unlocking);
 * what cannot be sent without blocking goes to the work item.
 */
void pcmig_tx_flush(struct pcmig_session *s)
{
	int ret;

	do {
		if (!mutex_trylock(&s->tx_lock))
			return;
		ret = -EAGAIN;
		if (s->tx_sock && pcmig_tx_state(s))
			ret = pcmig_tx_send(s, false);
		mutex_unlock(&s->tx_lock);
		if (ret) {
			/*
			 * A full socket, no socket (PAUSED: the queue is
			 * dropped and resent) or an error: the work item
			 * reports errors.
			 */
			pcmig_tx_kick(s);
			return;
		}
	} while (pcmig_tx_pending(s));
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
	spin_lock(&s->tx_pend_lock);
	s->tx_npend = 0;
	spin_unlock(&s->tx_pend_lock);
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
	pcmig_tx_kick(s);
}

/**
 * pcmig_tx_recovered() - pcmig_tx_resend() after RECOVER
 * @s: session, just back from RECOVER to LISTEN or RUNNING
 *
 * The pages requested by that resend are counted in requests_resent.
 */
void pcmig_tx_recovered(struct pcmig_session *s)
{
	set_bit(PCMIG_TX_RECOVERED, &s->tx_flags);
	pcmig_tx_resend(s);
}

/**
 * pcmig_tx_urgent_gone() - the urgent channel hung up after its END
 * @s: session
 * @epoch: &pcmig_session.epoch the channel was attached in
 *
 * The source may hang up after END, and the pages still missing come on
 * the channels that have not carried END yet, but requests have nowhere
 * to go: a requested page that is still missing (its request or reply
 * was lost) pauses the session now, with %PCMIG_REASON_CHANNEL_EOF, and so
 * does any later request until a new urgent channel is attached.
 */
void pcmig_tx_urgent_gone(struct pcmig_session *s, u32 epoch)
{
	set_bit(PCMIG_TX_ORPHANED, &s->tx_flags);
	/*
	 * Pairs with test_and_set_bit() in pcmig_request(): either we see
	 * the page requested, or its request finds the flag set.
	 */
	smp_mb__after_atomic();
	if (find_next_andnot_bit(s->requested, s->present, s->npages, 0) <
	    s->npages)
		pcmig_pause_channel(s, epoch, PCMIG_REASON_CHANNEL_EOF, 0);
	else
		pcmig_tx_kick(s);
}

/**
 * pcmig_tx_set_sock() - set or clear the socket requests go out on
 * @s: session
 * @sock: the urgent channel's socket, or NULL
 * @epoch: &pcmig_session.epoch the socket was attached in
 *
 * A frame sent in part on the old socket is dropped: a new socket starts
 * at a frame boundary, and RECOVER requests every missing page anyway.
 * Clearing waits for a send in progress; shut the socket down first so
 * that such a send cannot block.
 */
void pcmig_tx_set_sock(struct pcmig_session *s, struct socket *sock,
		       u32 epoch)
{
	mutex_lock(&s->tx_lock);
	s->tx_sock = sock;
	s->tx_epoch = epoch;
	if (sock)
		clear_bit(PCMIG_TX_ORPHANED, &s->tx_flags);
	s->tx_len = 0;
	mutex_unlock(&s->tx_lock);
}

/**
 * pcmig_tx_init() - prepare a new session's request sending
 * @s: session
 */
void pcmig_tx_init(struct pcmig_session *s)
{
	mutex_init(&s->tx_lock);
	spin_lock_init(&s->tx_pend_lock);
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
