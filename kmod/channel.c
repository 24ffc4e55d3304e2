// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: channels: sockets handed over by user space, and their receivers.
 *
 * A TCP socket is read from its data_ready callback with tcp_read_sock(),
 * in the socket's receive path: a reply whose page the faulting task
 * prepared is copied from the skb into place and its waiter woken with no
 * thread in between. Whatever may sleep (finding a page for a pushed page,
 * DISCARD, END, SYNC, failing the session) is the channel's work item's,
 * which takes the parsing over until it is done (the read_sock driver).
 * Sockets without read_sock (kTLS on 6.1) and UNIX sockets get a thread
 * that reads with recvmsg() (the recvmsg driver). Both feed the parser of
 * rx.c and neither holds a lock while it waits for bytes. End of file or a
 * socket error pauses the session; a protocol violation fails it.
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

/*
 * Claim the socket for @ch: a socket serves one channel of one session.
 * In-kernel socket users mark theirs with sk_user_data the same way.
 */
static int pcmig_sock_claim(struct pcmig_channel *ch)
{
	struct sock *sk = ch->sock->sk;
	int ret = 0;

	write_lock_bh(&sk->sk_callback_lock);
	if (sk->sk_user_data)
		ret = -EBUSY;
	else
		sk->sk_user_data = ch;
	write_unlock_bh(&sk->sk_callback_lock);
	return ret;
}

/*
 * Let go of the socket. Once the callback lock was held here, no callback
 * that may have found @ch is still running.
 */
static void pcmig_sock_unclaim(struct pcmig_channel *ch)
{
	struct sock *sk = ch->sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	if (sk->sk_user_data == ch)
		sk->sk_user_data = NULL;
	write_unlock_bh(&sk->sk_callback_lock);
}

/*
 * The socket is the session's: no receive timeout user space may have set
 * makes the receiver thread's recvmsg() return -EAGAIN.
 */
static void pcmig_sock_no_rcvtimeo(struct sock *sk)
{
	lock_sock(sk);
	WRITE_ONCE(sk->sk_rcvtimeo, MAX_SCHEDULE_TIMEOUT);
	release_sock(sk);
}

/* Free a channel that left its session, and drop its session reference. */
static void pcmig_channel_free(struct pcmig_channel *ch)
{
	struct pcmig_session *s = ch->session;

	kernel_sock_shutdown(ch->sock, SHUT_RDWR);
	pcmig_sock_unclaim(ch);
	sockfd_put(ch->sock);
	__free_page(ch->scratch);
	kfree(ch);
	pcmig_session_put(s);
}

/* ---- the read_sock driver: TCP without a ULP ---- */

/*
 * tcp_read_sock() actor: feed the parser. Runs in the socket's receive
 * path (softirq, or the process releasing the socket lock) or in the work
 * item, always with the socket locked one way or the other, never sleeping.
 */
static int pcmig_rx_actor(read_descriptor_t *desc, struct sk_buff *skb,
			  unsigned int offset, size_t len)
{
	struct pcmig_channel *ch = desc->arg.data;
	size_t done = 0, want;
	void *buf;
	int ret;

	if (!desc->count)
		return 0;
	/* The last call takes the steps after the last byte (a header). */
	for (;;) {
		ret = pcmig_rx_next(&ch->rx, false, &buf, &want);
		if (ret)
			break;
		if (done == len)
			return done;
		want = min(want, len - done);
		if (skb_copy_bits(skb, offset + done, buf, want)) {
			ret = -EFAULT;
			break;
		}
		pcmig_rx_consume(&ch->rx, want);
		done += want;
	}
	ch->stop = ret;
	desc->count = 0;
	return done;
}

static void pcmig_data_ready(struct sock *sk)
{
	read_descriptor_t desc = { .count = 1 };
	struct pcmig_channel *ch;

	read_lock_bh(&sk->sk_callback_lock);
	ch = sk->sk_user_data;
	/* Our callbacks were given back meanwhile: the socket is not read. */
	if (!ch || ch->dead)
		goto out;
	if (!ch->rx.deferred) {
		ch->rx.budget = PCMIG_RX_ATOMIC_PAGES;
		desc.arg.data = ch;
		tcp_read_sock(sk, &desc, pcmig_rx_actor);
		if (!ch->stop)
			goto out;
		/* A step that may sleep, or the end: the work item's. */
		ch->rx.deferred = true;
	}
	queue_work(ch->wq, &ch->rx_work);
out:
	read_unlock_bh(&sk->sk_callback_lock);
}

static void pcmig_state_change(struct sock *sk)
{
	struct pcmig_channel *ch;

	read_lock_bh(&sk->sk_callback_lock);
	ch = sk->sk_user_data;
	if (ch && !ch->dead) {
		queue_work(ch->wq, &ch->rx_work);
		ch->saved_state_change(sk);
	}
	read_unlock_bh(&sk->sk_callback_lock);
}

/* Under the socket lock: an error, or the end of the stream. */
static int pcmig_sock_status(struct sock *sk)
{
	int err = sock_error(sk);

	if (err)
		return err;
	if ((sk->sk_shutdown & RCV_SHUTDOWN) &&
	    skb_queue_empty(&sk->sk_receive_queue))
		return PCMIG_RX_EOF;
	return 0;
}

static void pcmig_channel_stop(struct pcmig_channel *ch, int ret);

/*
 * The parser's process-context half: takes the parsing over from the
 * callback, takes the steps that may sleep with no lock held, reads what
 * has arrived and hands the parsing back to the callback.
 */
static void pcmig_rx_work(struct work_struct *work)
{
	struct pcmig_channel *ch = container_of(work, struct pcmig_channel,
						rx_work);
	struct sock *sk = ch->sock->sk;
	read_descriptor_t desc;
	size_t len;
	void *buf;
	int ret, stop;

	if (READ_ONCE(ch->dead))
		return;
	lock_sock(sk);
	ch->rx.deferred = true;
	release_sock(sk);

	for (;;) {
		ret = 0;
		if (READ_ONCE(ch->closing)) {
			ret = PCMIG_RX_EOF;
			break;
		}
		/* The callback cannot run the parser while it is deferred. */
		if (ch->stop != PCMIG_RX_DEFER)
			ret = ch->stop;
		ch->stop = 0;
		if (!ret)
			ret = pcmig_rx_next(&ch->rx, true, &buf, &len);
		if (ret)
			break;

		lock_sock(sk);
		ch->rx.budget = PCMIG_RX_ATOMIC_PAGES;
		desc.arg.data = ch;
		desc.count = 1;
		tcp_read_sock(sk, &desc, pcmig_rx_actor);
		stop = ch->stop;
		if (!stop) {
			ret = pcmig_sock_status(sk);
			if (!ret)
				ch->rx.deferred = false;
		}
		release_sock(sk);
		if (ret || !stop)
			break;
	}
	if (ret)
		pcmig_channel_stop(ch, ret);
}

static void pcmig_channel_free_work(struct work_struct *work)
{
	struct pcmig_channel *ch = container_of(work, struct pcmig_channel,
						free_work);

	/* Queued before the callbacks went away: returns at once. */
	cancel_work_sync(&ch->rx_work);
	pcmig_channel_free(ch);
	module_put(THIS_MODULE);
}

static void pcmig_sock_take(struct pcmig_channel *ch)
{
	struct sock *sk = ch->sock->sk;

	write_lock_bh(&sk->sk_callback_lock);
	ch->rx.deferred = true;
	ch->saved_data_ready = sk->sk_data_ready;
	ch->saved_state_change = sk->sk_state_change;
	sk->sk_data_ready = pcmig_data_ready;
	sk->sk_state_change = pcmig_state_change;
	write_unlock_bh(&sk->sk_callback_lock);
	/* What arrived before. */
	queue_work(ch->wq, &ch->rx_work);
}

static void pcmig_sock_give_back(struct pcmig_channel *ch)
{
	struct sock *sk = ch->sock->sk;

	/* sk_user_data stays ours until the channel is freed. */
	write_lock_bh(&sk->sk_callback_lock);
	sk->sk_data_ready = ch->saved_data_ready;
	sk->sk_state_change = ch->saved_state_change;
	WRITE_ONCE(ch->dead, true);
	write_unlock_bh(&sk->sk_callback_lock);
}

/* ---- the recvmsg driver: kTLS (no read_sock on 6.1) and UNIX ---- */

static int pcmig_rx_thread(void *data)
{
	struct pcmig_channel *ch = data;
	struct msghdr msg = { .msg_flags = MSG_NOSIGNAL };
	struct kvec vec;
	size_t len;
	void *buf;
	int ret;

	for (;;) {
		ret = pcmig_rx_next(&ch->rx, true, &buf, &len);
		if (ret)
			break;
		vec.iov_base = buf;
		vec.iov_len = len;
		/* Straight into the claimed page: no lock is held here. */
		ret = kernel_recvmsg(ch->sock, &msg, &vec, 1, len,
				     MSG_NOSIGNAL);
		if (ret == -EINTR)
			continue;
		if (ret == -EAGAIN) {
			/* SO_RCVTIMEO set after the attach: waits again. */
			pcmig_sock_no_rcvtimeo(ch->sock->sk);
			continue;
		}
		if (ret <= 0) {
			ret = ret ?: PCMIG_RX_EOF;
			break;
		}
		pcmig_rx_consume(&ch->rx, ret);
	}
	pcmig_channel_stop(ch, ret);
	module_put_and_kthread_exit(0);
}

/* ---- both drivers ---- */

/*
 * Report why the receiver stopped, unless the session stopped it. The
 * channel has left the session already: a pause and a recovery may have
 * come in between, which the channel's epoch tells.
 */
static void pcmig_rx_report(struct pcmig_channel *ch, int ret, bool closing)
{
	struct pcmig_session *s = ch->session;

	if (closing)
		return;
	if (ret == PCMIG_RX_PROTO) {
		pr_warn_ratelimited("session %u: channel %u: %s\n", s->id,
				    ch->index, pcmig_reason_name(ch->rx.reason));
		pcmig_fail(s, ch->rx.reason, -EPROTO);
	} else if (ret == PCMIG_RX_EOF) {
		/*
		 * After END the source may hang up; but without the urgent
		 * channel, requests have nowhere to go.
		 */
		if (!ch->rx.src_done)
			pcmig_pause_channel(s, ch->epoch,
					    PCMIG_REASON_CHANNEL_EOF, 0);
		else if (ch->mask & PCMIG_CHANNEL_URGENT)
			pcmig_tx_urgent_gone(s, ch->epoch);
	} else {
		pcmig_pause_channel(s, ch->epoch, PCMIG_REASON_CHANNEL_ERROR,
				    ret);
	}
}

/*
 * The receiver is over: the channel leaves the session. Frees it (the
 * thread) or has it freed once the work item is over.
 */
static void pcmig_channel_stop(struct pcmig_channel *ch, int ret)
{
	struct pcmig_session *s = ch->session;
	bool closing;

	if (!ch->task)
		pcmig_sock_give_back(ch);

	/* Stop sending on our socket before anyone may free it. */
	if (ch->mask & PCMIG_CHANNEL_URGENT) {
		kernel_sock_shutdown(ch->sock, SHUT_RDWR);
		mutex_lock(&s->tx_lock);
		if (s->tx_sock == ch->sock) {
			s->tx_sock = NULL;
			s->tx_len = 0;
		}
		mutex_unlock(&s->tx_lock);
	}
	pcmig_rx_release(&ch->rx);

	spin_lock_bh(&s->lock);
	closing = ch->closing;
	list_del(&ch->node);
	s->chan_mask &= ~ch->mask;
	s->end_mask &= ~ch->mask;
	spin_unlock_bh(&s->lock);
	wake_up_all(&s->chan_wq);

	pcmig_rx_report(ch, ret, closing);
	if (ch->task)
		pcmig_channel_free(ch);
	else
		queue_work(pcmig_wq, &ch->free_work);
}

/*
 * The socket file of a channel not yet being closed, with a reference, the
 * channel marked closing; NULL if there is none.
 */
static struct file *pcmig_channel_to_close(struct pcmig_session *s)
{
	struct pcmig_channel *ch;
	struct file *file = NULL;

	spin_lock_bh(&s->lock);
	list_for_each_entry(ch, &s->channels, node) {
		if (!ch->closing) {
			ch->closing = true;
			file = get_file(ch->sock->file);
			break;
		}
	}
	spin_unlock_bh(&s->lock);
	return file;
}

/**
 * pcmig_channels_shutdown() - shut every channel's socket down
 * @s: session
 *
 * The receivers wake up, see that the session stopped them and exit
 * without reporting anything. However many channels there are, each is
 * closed once: by the first caller that finds it.
 */
void pcmig_channels_shutdown(struct pcmig_session *s)
{
	struct file *file;

	while ((file = pcmig_channel_to_close(s))) {
		kernel_sock_shutdown(sock_from_file(file), SHUT_RDWR);
		fput(file);
	}
}

static bool pcmig_no_channels(struct pcmig_session *s)
{
	bool empty;

	spin_lock_bh(&s->lock);
	empty = list_empty(&s->channels);
	spin_unlock_bh(&s->lock);
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

	spin_lock_bh(&s->lock);
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
	spin_unlock_bh(&s->lock);
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

	if (sock->type != SOCK_STREAM || !sk)
		return -EINVAL;
	switch (sk->sk_family) {
	case AF_UNIX:
		return sock->state == SS_CONNECTED ? 0 : -EINVAL;
	case AF_INET:
	case AF_INET6:
		/*
		 * The TCP state, not the socket's: a non-blocking connect()
		 * that completed leaves the socket SS_CONNECTING until user
		 * space calls connect() again.
		 */
		return sk->sk_protocol == IPPROTO_TCP &&
		       READ_ONCE(sk->sk_state) == TCP_ESTABLISHED ? 0 : -EINVAL;
	default:
		return -EINVAL;
	}
}

/* Whether the socket can be read from its receive callback. */
static bool pcmig_sock_read_sock(struct socket *sock)
{
	struct sock *sk = sock->sk;

	/* A kTLS receive socket has no read_sock on 6.1: a ULP says so. */
	return sk->sk_family != AF_UNIX && !inet_csk(sk)->icsk_ulp_ops;
}

/**
 * pcmig_channel_attach() - hand a connected stream socket to a session
 * @s: session; the caller holds @s->ctl_lock
 * @fd: the socket's descriptor
 * @mask: PCMIG_CHANNEL_* the socket serves, checked by the caller
 *
 * A TCP socket is then read from its receive callback (replies land in
 * their pages in softirq) and a work item; a kTLS or UNIX socket by a
 * thread of its own with recvmsg(). An urgent channel attached in LISTEN
 * or RUNNING sends every request still missing a reply at once.
 *
 * The socket is claimed (sk_user_data) until the channel is freed: it can
 * serve one channel of one session. Its receive timeout is cleared
 * (SO_RCVTIMEO): the session's receiver waits for bytes as long as it takes.
 *
 * Return: 0; -EBADF, -ENOTSOCK, -EINVAL for a socket that is not a
 * connected TCP or UNIX stream; -EBUSY if a channel in @mask is taken, the
 * session is final, the socket is attached already (to this session or
 * another) or has another kernel user; -EPERM in PAUSED; -ENOMEM.
 */
int pcmig_channel_attach(struct pcmig_session *s, int fd, unsigned int mask)
{
	struct pcmig_channel *ch;
	struct task_struct *task = NULL;
	struct socket *sock;
	bool sends;
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
	ret = pcmig_sock_claim(ch);
	if (ret)
		goto err_page;
	ch->mask = mask;
	INIT_WORK(&ch->rx_work, pcmig_rx_work);
	ch->wq = mask & PCMIG_CHANNEL_URGENT ? pcmig_wq : pcmig_bulk_wq;
	INIT_WORK(&ch->free_work, pcmig_channel_free_work);
	pcmig_rx_init(&ch->rx, ch);

	if ((mask & PCMIG_CHANNEL_URGENT) && sock->sk->sk_family != AF_UNIX)
		tcp_sock_set_nodelay(sock->sk);

	spin_lock_bh(&s->lock);
	if (!pcmig_state_active(s->state)) {
		ret = s->state == PCMIG_STATE_PAUSED ? -EPERM : -EBUSY;
		goto err_unlock;
	}
	if (s->chan_mask & mask) {
		ret = -EBUSY;
		goto err_unlock;
	}
	ch->index = s->next_chan++;
	spin_unlock_bh(&s->lock);

	if (!pcmig_sock_read_sock(sock)) {
		task = kthread_create(pcmig_rx_thread, ch, "pcmig%u-rx%u",
				      s->id, ch->index);
		if (IS_ERR(task)) {
			ret = PTR_ERR(task);
			goto err_claim;
		}
		ch->task = task;
	}

	spin_lock_bh(&s->lock);
	if (!pcmig_state_active(s->state) || (s->chan_mask & mask)) {
		/* Paused or attached by a racing caller meanwhile. */
		ret = s->state == PCMIG_STATE_PAUSED ? -EPERM : -EBUSY;
		spin_unlock_bh(&s->lock);
		if (task)
			kthread_stop(task);
		goto err_claim;
	}
	list_add_tail(&ch->node, &s->channels);
	s->chan_mask |= mask;
	ch->epoch = s->epoch;
	sends = pcmig_state_sends(s->state);
	spin_unlock_bh(&s->lock);

	if (mask & PCMIG_CHANNEL_URGENT) {
		pcmig_tx_set_sock(s, sock, ch->epoch);
		/* Requests that found no socket go out on this one. */
		if (sends)
			pcmig_tx_resend(s);
	}

	pcmig_sock_no_rcvtimeo(sock->sk);
	/* The receiver's references: dropped when the channel is freed. */
	pcmig_session_get(s);
	__module_get(THIS_MODULE);
	if (task)
		wake_up_process(task);
	else
		pcmig_sock_take(ch);
	return 0;

err_unlock:
	spin_unlock_bh(&s->lock);
err_claim:
	pcmig_sock_unclaim(ch);
err_page:
	__free_page(ch->scratch);
err_ch:
	kfree(ch);
err_sock:
	sockfd_put(sock);
	return ret;
}
