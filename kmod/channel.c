// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: channels: sockets handed over by user space, and their receivers.
 *
 * Each socket gets a receiver thread that reads frames with blocking
 * recvmsg() (which also works on kTLS sockets, unlike read_sock on 6.1)
 * and copies page payloads straight from the socket into the page of the
 * backing file. Every header field is checked before a page is touched.
 * End of file or a socket error pauses the session; a protocol violation
 * fails it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "compat.h"
#include "pcmig.h"

/* pcmig_recv() result: the peer closed the connection. */
#define PCMIG_RX_EOF	1
/* Receive result: a protocol violation, the reason is in *reason. */
#define PCMIG_RX_PROTO	2

struct pcmig_rx {
	struct pcmig_channel *ch;
	struct pcmig_session *s;
	enum pcmig_reason reason;
	bool src_done;
};

/* Read exactly @len bytes. Return: 0, PCMIG_RX_EOF or a negative errno. */
static int pcmig_recv(struct pcmig_rx *rx, void *buf, size_t len)
{
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	struct kvec vec;
	int ret;

	while (len) {
		vec.iov_base = buf;
		vec.iov_len = len;
		ret = kernel_recvmsg(rx->ch->sock, &msg, &vec, 1, len,
				     MSG_WAITALL | MSG_NOSIGNAL);
		if (ret == 0)
			return PCMIG_RX_EOF;
		if (ret == -EAGAIN || ret == -EINTR)
			continue;
		if (ret < 0)
			return ret;
		this_cpu_add(rx->s->stats->bytes_received, ret);
		buf += ret;
		len -= ret;
	}
	return 0;
}

static int pcmig_rx_violation(struct pcmig_rx *rx, enum pcmig_reason reason)
{
	rx->reason = reason;
	return PCMIG_RX_PROTO;
}

/*
 * A page arriving while present: legitimate only if it was requested (the
 * push crossed the reply). Its payload, if any, is read and dropped.
 */
static int pcmig_rx_duplicate(struct pcmig_rx *rx, unsigned long idx,
			      bool payload)
{
	void *buf;
	int ret;

	if (!test_bit(idx, rx->s->requested))
		return pcmig_rx_violation(rx, PCMIG_REASON_DUPLICATE);
	this_cpu_inc(rx->s->stats->pages_duplicate);
	if (!payload)
		return 0;
	buf = kmap_local_page(rx->ch->scratch);
	ret = pcmig_recv(rx, buf, PAGE_SIZE);
	kunmap_local(buf);
	return ret;
}

static void pcmig_rx_installed(struct pcmig_rx *rx, unsigned long idx)
{
	if (!test_and_set_bit(idx, rx->s->present)) {
		atomic64_inc(&rx->s->nr_present);
		/* Pairs with smp_rmb() in pcmig_session_status(). */
		smp_mb__after_atomic();
	}
	pcmig_wake_page(rx->s, idx);
}

/* Receive one page's contents straight into the backing file. */
static int pcmig_rx_page(struct pcmig_rx *rx, unsigned long idx,
			 bool requested)
{
	struct pcmig_session *s = rx->s;
	struct address_space *mapping = s->backing->f_mapping;
	struct page *page;
	void *kaddr;
	int ret;

	down_read(&s->install_sem);
	if (pcmig_page_present(s, idx))
		goto duplicate;

	page = shmem_read_mapping_page_gfp(mapping, idx,
					   mapping_gfp_mask(mapping));
	if (IS_ERR(page)) {
		up_read(&s->install_sem);
		return PTR_ERR(page);
	}
	lock_page(page);
	if (pcmig_page_present(s, idx)) {
		unlock_page(page);
		put_page(page);
		goto duplicate;
	}

	kaddr = kmap_local_page(page);
	ret = pcmig_recv(rx, kaddr, PAGE_SIZE);
	if (ret)
		/* A page that is not present holds zeros. */
		memset(kaddr, 0, PAGE_SIZE);
	kunmap_local(kaddr);
	flush_dcache_page(page);
	if (!ret) {
		/* tmpfs drops clean pages under reclaim: keep it dirty. */
		set_page_dirty(page);
		pcmig_rx_installed(rx, idx);
		this_cpu_inc(s->stats->pages_received);
		if (!requested)
			this_cpu_inc(s->stats->pages_pushed);
	}
	unlock_page(page);
	put_page(page);
	up_read(&s->install_sem);
	return ret;

duplicate:
	up_read(&s->install_sem);
	return pcmig_rx_duplicate(rx, idx, true);
}

static int pcmig_rx_zero(struct pcmig_rx *rx, unsigned long idx)
{
	struct pcmig_session *s = rx->s;
	int ret = 0;

	down_read(&s->install_sem);
	if (pcmig_page_present(s, idx)) {
		ret = pcmig_rx_duplicate(rx, idx, false);
	} else {
		/* Nothing to write: a missing page already reads as zero. */
		pcmig_rx_installed(rx, idx);
		this_cpu_inc(s->stats->pages_zero);
	}
	up_read(&s->install_sem);
	return ret;
}

/*
 * Check the pages of a PAGES or ZERO frame before any is installed: a
 * reply must answer a request, a page present already must have been
 * requested.
 */
static int pcmig_rx_check_pages(struct pcmig_rx *rx, unsigned long first,
				unsigned int n, bool requested)
{
	struct pcmig_session *s = rx->s;
	unsigned long idx;

	for (idx = first; idx < first + n; idx++) {
		bool asked = test_bit(idx, s->requested);

		if (requested && !asked)
			return pcmig_rx_violation(rx,
						  PCMIG_REASON_NOT_REQUESTED);
		if (pcmig_page_present(s, idx) && !asked)
			return pcmig_rx_violation(rx, PCMIG_REASON_DUPLICATE);
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
	spin_lock_irq(&s->lock);
	s->end_mask |= rx->ch->mask;
	all = (s->end_mask & s->chan_mask) == s->chan_mask;
	if (all)
		s->src_done = true;
	spin_unlock_irq(&s->lock);

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

	spin_lock_irq(&s->lock);
	if (token <= rx->ch->sync) {
		spin_unlock_irq(&s->lock);
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_RANGE);
	}
	rx->ch->sync = token;
	spin_unlock_irq(&s->lock);
	wake_up_all(&s->chan_wq);
	return 0;
}

static int pcmig_rx_frame(struct pcmig_rx *rx, const struct pcmig_frame *f)
{
	struct pcmig_session *s = rx->s;
	u32 npages = be32_to_cpu(f->npages);
	u64 offset = be64_to_cpu(f->offset);
	u16 flags = be16_to_cpu(f->flags);
	u32 len = be32_to_cpu(f->len);
	unsigned long first, idx;
	bool requested;
	int ret;

	if (be32_to_cpu(f->magic) != PCMIG_FRAME_MAGIC)
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_MAGIC);
	if (f->version != PCMIG_FRAME_VERSION)
		return pcmig_rx_violation(rx, PCMIG_REASON_BAD_VERSION);

	switch (f->type) {
	case PCMIG_FRAME_PAGES:
	case PCMIG_FRAME_ZERO:
		break;
	case PCMIG_FRAME_END:
		if (flags)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_FLAGS);
		if (npages || offset)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_RANGE);
		if (len)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_LENGTH);
		return pcmig_rx_end(rx);
	case PCMIG_FRAME_SYNC:
		if (flags)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_FLAGS);
		if (npages || !offset)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_RANGE);
		if (len)
			return pcmig_rx_violation(rx, PCMIG_REASON_BAD_LENGTH);
		return pcmig_rx_sync(rx, offset);
	case PCMIG_FRAME_DISCARD:
		break;
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

	/* Only before LISTEN: a misdirected frame otherwise. */
	if (f->type == PCMIG_FRAME_DISCARD)
		return pcmig_discard(s, offset, (u64)npages << PAGE_SHIFT) ?
		       pcmig_rx_violation(rx, PCMIG_REASON_BAD_TYPE) : 0;

	first = offset >> PAGE_SHIFT;
	ret = pcmig_rx_check_pages(rx, first, npages, requested);
	if (ret)
		return ret;

	for (idx = first; idx < first + npages; idx++) {
		if (f->type == PCMIG_FRAME_PAGES)
			ret = pcmig_rx_page(rx, idx, requested);
		else
			ret = pcmig_rx_zero(rx, idx);
		if (ret)
			return ret;
		if (f->type == PCMIG_FRAME_ZERO && !(idx & 1023))
			cond_resched();
	}
	pcmig_check_complete(s);
	return 0;
}

static int pcmig_rx_loop(struct pcmig_rx *rx)
{
	struct pcmig_frame f;
	int ret;

	for (;;) {
		ret = pcmig_recv(rx, &f, sizeof(f));
		if (ret)
			return ret;
		ret = pcmig_rx_frame(rx, &f);
		if (ret)
			return ret;
	}
}

/* Report why the receiver stopped, unless the session stopped it. */
static void pcmig_rx_report(struct pcmig_rx *rx, int ret, bool closing)
{
	struct pcmig_session *s = rx->s;

	if (closing)
		return;
	if (ret == PCMIG_RX_PROTO) {
		pr_warn_ratelimited("session %u: channel %u: %s\n", s->id,
				    rx->ch->index,
				    pcmig_reason_name(rx->reason));
		pcmig_fail(s, rx->reason, -EPROTO);
	} else if (ret == PCMIG_RX_EOF) {
		/* After END the source may hang up. */
		if (!rx->src_done)
			pcmig_pause(s, PCMIG_REASON_CHANNEL_EOF, 0);
	} else {
		pcmig_pause(s, PCMIG_REASON_CHANNEL_ERROR, ret);
	}
}

static void pcmig_channel_free(struct pcmig_channel *ch)
{
	kernel_sock_shutdown(ch->sock, SHUT_RDWR);
	sockfd_put(ch->sock);
	__free_page(ch->scratch);
	kfree(ch);
}

static int pcmig_rx_thread(void *data)
{
	struct pcmig_channel *ch = data;
	struct pcmig_session *s = ch->session;
	struct pcmig_rx rx = { .ch = ch, .s = s };
	struct mem_cgroup *old;
	bool closing;
	int ret;

	/* Pages received are charged to the session's creator. */
	old = pcmig_set_active_memcg(s->memcg);
	ret = pcmig_rx_loop(&rx);
	pcmig_set_active_memcg(old);

	/* Stop sending on our socket before anyone may free it. */
	if (ch->mask & PCMIG_CHANNEL_URGENT) {
		kernel_sock_shutdown(ch->sock, SHUT_RDWR);
		mutex_lock(&s->tx_lock);
		if (s->tx_sock == ch->sock)
			s->tx_sock = NULL;
		mutex_unlock(&s->tx_lock);
	}

	spin_lock_irq(&s->lock);
	closing = ch->closing;
	list_del(&ch->node);
	s->chan_mask &= ~ch->mask;
	s->end_mask &= ~ch->mask;
	spin_unlock_irq(&s->lock);
	wake_up_all(&s->chan_wq);

	pcmig_rx_report(&rx, ret, closing);
	pcmig_channel_free(ch);
	pcmig_session_put(s);
	module_put_and_kthread_exit(0);
}

/**
 * pcmig_channels_shutdown() - shut every channel's socket down
 * @s: session
 *
 * The receivers wake up, see that the session stopped them and exit
 * without reporting anything.
 */
void pcmig_channels_shutdown(struct pcmig_session *s)
{
	struct file *files[2 * PCMIG_CHANNELS_ALL];
	struct pcmig_channel *ch;
	unsigned int i, n = 0;

	spin_lock_irq(&s->lock);
	list_for_each_entry(ch, &s->channels, node) {
		ch->closing = true;
		if (n < ARRAY_SIZE(files))
			files[n++] = get_file(ch->sock->file);
	}
	spin_unlock_irq(&s->lock);

	for (i = 0; i < n; i++) {
		kernel_sock_shutdown(sock_from_file(files[i]), SHUT_RDWR);
		fput(files[i]);
	}
}

static bool pcmig_no_channels(struct pcmig_session *s)
{
	bool empty;

	spin_lock_irq(&s->lock);
	empty = list_empty(&s->channels);
	spin_unlock_irq(&s->lock);
	return empty;
}

/**
 * pcmig_channels_wait_gone() - wait until every receiver has left
 * @s: session whose channels were shut down
 *
 * Return: 0, or -EINTR on a fatal signal.
 */
int pcmig_channels_wait_gone(struct pcmig_session *s)
{
	return wait_event_killable(s->chan_wq, pcmig_no_channels(s)) ?
	       -EINTR : 0;
}

/*
 * Whether PCMIG_IOC_SYNC is over: *@ret is its result then. A session
 * that paused lost its channels; END and FAILED are final.
 */
static bool pcmig_sync_done(struct pcmig_session *s, u64 token, int *ret)
{
	struct pcmig_channel *ch;
	bool done = true;

	spin_lock_irq(&s->lock);
	if (s->state == PCMIG_STATE_END || s->state == PCMIG_STATE_FAILED) {
		*ret = -EBUSY;
	} else if (s->state == PCMIG_STATE_PAUSED ||
		   list_empty(&s->channels)) {
		*ret = -ENOTCONN;
	} else {
		*ret = 0;
		list_for_each_entry(ch, &s->channels, node)
			if (ch->sync < token)
				done = false;
	}
	spin_unlock_irq(&s->lock);
	return done;
}

/**
 * pcmig_channels_sync() - wait for a SYNC token on every channel
 * @s: session
 * @token: token to wait for, non-zero
 * @timeout_ms: longest wait; zero to look without waiting
 *
 * Return: 0 once every attached channel has received a SYNC frame with a
 * token of at least @token; -ENOTCONN without channels or when the session
 * paused; -EBUSY in END or FAILED; -ETIMEDOUT; -EINTR on a signal.
 */
int pcmig_channels_sync(struct pcmig_session *s, u64 token,
			unsigned int timeout_ms)
{
	long left;
	int ret;

	if (pcmig_sync_done(s, token, &ret))
		return ret;
	if (!timeout_ms)
		return -ETIMEDOUT;
	left = wait_event_interruptible_timeout(s->chan_wq,
						pcmig_sync_done(s, token, &ret),
						msecs_to_jiffies(timeout_ms));
	if (left < 0)
		return -EINTR;
	return left ? ret : -ETIMEDOUT;
}

static int pcmig_sock_check(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (sock->type != SOCK_STREAM || sock->state != SS_CONNECTED || !sk)
		return -EINVAL;
	switch (sk->sk_family) {
	case AF_UNIX:
		return 0;
	case AF_INET:
	case AF_INET6:
		return sk->sk_protocol == IPPROTO_TCP ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/**
 * pcmig_channel_attach() - hand a connected stream socket to a session
 * @s: session; the caller holds @s->ctl_lock
 * @fd: the socket's descriptor
 * @mask: PCMIG_CHANNEL_* the socket serves, checked by the caller
 *
 * Return: 0; -EBADF, -ENOTSOCK, -EINVAL for a socket that is not a
 * connected TCP or UNIX stream; -EBUSY if a channel in @mask is taken or
 * the session is final; -EPERM in PAUSED; -ENOMEM.
 */
int pcmig_channel_attach(struct pcmig_session *s, int fd, unsigned int mask)
{
	struct pcmig_channel *ch;
	struct task_struct *task;
	struct socket *sock;
	int ret;

	sock = sockfd_lookup(fd, &ret);
	if (!sock)
		return ret;
	ret = pcmig_sock_check(sock);
	if (ret)
		goto err_sock;

	ret = -ENOMEM;
	ch = kzalloc(sizeof(*ch), GFP_KERNEL);
	if (!ch)
		goto err_sock;
	ch->scratch = alloc_page(GFP_KERNEL);
	if (!ch->scratch)
		goto err_ch;
	ch->session = s;
	ch->sock = sock;
	ch->mask = mask;

	if ((mask & PCMIG_CHANNEL_URGENT) && sock->sk->sk_family != AF_UNIX)
		tcp_sock_set_nodelay(sock->sk);

	spin_lock_irq(&s->lock);
	if (!pcmig_state_active(s->state)) {
		ret = s->state == PCMIG_STATE_PAUSED ? -EPERM : -EBUSY;
		goto err_unlock;
	}
	if (s->chan_mask & mask) {
		ret = -EBUSY;
		goto err_unlock;
	}
	ch->index = s->next_chan++;
	spin_unlock_irq(&s->lock);

	task = kthread_create(pcmig_rx_thread, ch, "pcmig%u-rx%u", s->id,
			      ch->index);
	if (IS_ERR(task)) {
		ret = PTR_ERR(task);
		goto err_page;
	}
	ch->task = task;

	spin_lock_irq(&s->lock);
	if (!pcmig_state_active(s->state) || (s->chan_mask & mask)) {
		/* Paused or attached by a racing caller meanwhile. */
		ret = s->state == PCMIG_STATE_PAUSED ? -EPERM : -EBUSY;
		spin_unlock_irq(&s->lock);
		kthread_stop(task);
		goto err_page;
	}
	list_add_tail(&ch->node, &s->channels);
	s->chan_mask |= mask;
	spin_unlock_irq(&s->lock);

	if (mask & PCMIG_CHANNEL_URGENT)
		pcmig_tx_set_sock(s, sock);

	/* The receiver's references: dropped when it exits. */
	pcmig_session_get(s);
	__module_get(THIS_MODULE);
	wake_up_process(task);
	return 0;

err_unlock:
	spin_unlock_irq(&s->lock);
err_page:
	__free_page(ch->scratch);
err_ch:
	kfree(ch);
err_sock:
	sockfd_put(sock);
	return ret;
}
