/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig: internal declarations shared by the files of pcmig.ko.
 */
#ifndef _PCMIG_H
#define _PCMIG_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pcmig.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <asm/local64.h>

#define PCMIG_MODULE_VERSION	"0.6.0"

/* Session ids, and so node minors, are below this. */
#define PCMIG_MAX_SESSIONS	4096

/* One request frame: header and offsets. */
#define PCMIG_TX_BUF_SIZE	(sizeof(struct pcmig_frame) + \
				 PCMIG_FRAME_MAX_REQS * sizeof(__be64))

/* Faulting tasks sleep on one of these queues, hashed by page index. */
#define PCMIG_WAITQ_BITS	8
#define PCMIG_WAITQS		BIT(PCMIG_WAITQ_BITS)

struct file;
struct mem_cgroup;
struct net;
struct page;
struct sock;
struct socket;
struct task_struct;
struct vm_area_struct;

/* pcmig_rx_next() results besides 0 and negative errnos. */
#define PCMIG_RX_EOF	1	/* the peer closed the connection */
#define PCMIG_RX_PROTO	2	/* a protocol violation: see rx->reason */
#define PCMIG_RX_DEFER	3	/* the next step needs process context */

/*
 * Pages of ZERO frames the parser may check and install in one socket
 * callback (atomic context): a 24-byte frame may cover the whole session.
 * A longer walk is the work item's, in process context.
 */
#define PCMIG_RX_ATOMIC_PAGES	1024

/* Pages a walk in process context takes between two looks at rescheduling. */
#define PCMIG_RX_WALK_BATCH	1024

/* Where the parser of a channel is in its stream. */
enum pcmig_rx_state {
	PCMIG_RX_HDR,		/* reading a frame header */
	PCMIG_RX_PAGE,		/* at the start of a page of a frame */
	PCMIG_RX_PAYLOAD,	/* reading a page's contents */
};

/**
 * struct pcmig_rx - the parser of a channel's frame stream
 * @s: session
 * @ch: channel
 * @state: where the parser is
 * @hdr: frame header being read, then the frame being handled
 * @hdr_got: bytes of @hdr read so far
 * @type: PCMIG_FRAME_* of the frame being handled
 * @requested: the frame carries PCMIG_FRAME_F_REQUESTED
 * @first: first page of the frame
 * @idx: page being handled
 * @end: one past the frame's last page
 * @page: where the current page's payload goes, with a reference: the
 *	claimed page of guest memory, or NULL for the scratch page
 * @claimed: this parser owns @idx (&pcmig_session.receiving)
 * @got: payload bytes of the current page read so far
 * @deferred: (read_sock driver) the parsing belongs to the work item;
 *	under the socket lock
 * @budget: (read_sock driver) pages of ZERO frames the parser may still
 *	walk in this callback without sleeping; under the socket lock
 * @reason: the violation when a step returned PCMIG_RX_PROTO
 * @src_done: END arrived on this channel
 * @busy: @cur is being received (under &pcmig_session.lock)
 * @stale: a DISCARD or punch covered @cur meanwhile: drop it (under the
 *	lock)
 * @cur: page being received, for DISCARD (under the lock)
 * @pages: pages of the current frame looked up ahead, in process context
 */
struct pcmig_rx {
	struct pcmig_session *s;
	struct pcmig_channel *ch;
	enum pcmig_rx_state state;
	struct pcmig_frame hdr;
	unsigned int hdr_got;
	u8 type;
	bool requested;
	unsigned long first;
	unsigned long idx;
	unsigned long end;
	struct page *page;
	bool claimed;
	unsigned int got;
	bool deferred;
	unsigned int budget;
	enum pcmig_reason reason;
	bool src_done;
	bool busy;
	bool stale;
	unsigned long cur;
	struct page *pages[PCMIG_FRAME_MAX_PAGES];
};

/**
 * struct pcmig_pcpu_stats - per-CPU counters of a session
 * @faults: faults that found their page missing
 * @faults_blocked: faults that waited for their page
 * @blocked_ns: total wait time
 * @pages_received: pages whose contents arrived
 * @pages_pushed: pages that arrived without a request
 * @pages_zero: pages announced zero
 * @pages_duplicate: legitimate duplicates dropped
 * @pages_requested: pages requested
 * @bytes_received: bytes read from the channels
 * @requests_sent: request frames sent
 * @hist: log2 histogram of wait times in ns
 *
 * Updated by tasks and by the sockets' softirq receive path on the CPU
 * they run on (pcmig_stat_add()), and summed from any CPU by the status:
 * local64_t is a single interrupt-safe instruction on 64-bit and an
 * atomic64_t on 32-bit, so a reader never sees a torn value.
 */
struct pcmig_pcpu_stats {
	local64_t faults;
	local64_t faults_blocked;
	local64_t blocked_ns;
	local64_t pages_received;
	local64_t pages_pushed;
	local64_t pages_zero;
	local64_t pages_duplicate;
	local64_t pages_requested;
	local64_t bytes_received;
	local64_t requests_sent;
	local64_t hist[PCMIG_HIST_BUCKETS];
};

/*
 * Add @n to this CPU's instance of the per-CPU counter @ctr. Preemption is
 * off across it so that the (non-atomic, interrupt-safe) add hits the
 * counter of the CPU it runs on.
 */
static inline void pcmig_stat_add(local64_t __percpu *ctr, u64 n)
{
	local64_add(n, get_cpu_ptr(ctr));
	put_cpu_ptr(ctr);
}

static inline void pcmig_stat_inc(local64_t __percpu *ctr)
{
	pcmig_stat_add(ctr, 1);
}

/**
 * struct pcmig_channel - a socket handed to a session, and its receiver
 * @node: entry in &pcmig_session.channels
 * @session: owner; the channel holds a reference
 * @sock: the socket; its file reference is ours
 * @task: receiver thread (recvmsg driver), or NULL
 * @rx_work: the receiver's work item (read_sock driver)
 * @wq: where @rx_work runs: high priority for a channel carrying replies
 * @free_work: frees the channel once @rx_work is over
 * @saved_data_ready: the socket's callbacks before ours
 * @saved_state_change: see @saved_data_ready
 * @mask: PCMIG_CHANNEL_* served by this socket
 * @index: number of the channel within the session, for names and logs
 * @epoch: the session's outage generation when the channel was attached
 *	(&pcmig_session.epoch): a receiver reporting a failure later than a
 *	newer pause must not pause the session again
 * @closing: the session shut the socket down; the receiver reports nothing
 * @dead: the receiver stopped; @rx_work returns at once
 * @stop: why the parser stopped in the socket callback (under the socket
 *	lock): %PCMIG_RX_DEFER, %PCMIG_RX_PROTO or a negative errno
 * @sync: highest SYNC token received (under &pcmig_session.lock)
 * @scratch: page that swallows the payload of dropped duplicates
 * @rx: the stream's parser
 */
struct pcmig_channel {
	struct list_head node;
	struct pcmig_session *session;
	struct socket *sock;
	struct task_struct *task;
	struct work_struct rx_work;
	struct workqueue_struct *wq;
	struct work_struct free_work;
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_state_change)(struct sock *sk);
	unsigned int mask;
	unsigned int index;
	u32 epoch;
	bool closing;
	bool dead;
	int stop;
	u64 sync;
	struct page *scratch;
	struct pcmig_rx rx;
};

/**
 * struct pcmig_session - a migration session: guest memory and its channels
 * @kref: held by each session file, by each receiver thread and, until
 *	destroyed, by the session table
 * @id: session id, minor of /dev/pcmig<id>
 * @name: label given at creation
 * @flags: PCMIG_CREATE_F_*
 * @size: bytes of memory
 * @npages: pages of memory
 * @backing: tmpfs file holding the pages
 * @memcg: memory cgroup that receives are charged to (creator's)
 * @inode: inode of the file PCMIG_IOC_CREATE returned, with a reference
 *	(file.c)
 * @net: network namespace of the creator, with a reference: generic netlink
 *	shows the session and sends its events there only
 * @all_node: entry in the list of session objects not yet freed
 * @dev: the session's device node
 * @nr_files: open session files (mappings hold one)
 * @destroyed: destroy has run (under the session table lock)
 * @ctl_lock: serialises the ioctls that change the session
 * @lock: protects the state fields, the channel list and @events
 * @state: &enum pcmig_state; read locklessly by the fault path
 * @resume_state: state to go back to after PAUSED/RECOVER
 * @reason: &enum pcmig_reason of the last pause or failure
 * @error: negative errno of the last channel error
 * @pauses: times the session paused
 * @epoch: outage generation, bumped on every move to PAUSED: channels and
 *	the request socket pause the session on their own behalf only while
 *	it is still the generation they were attached in
 * @recoveries: moves from RECOVER back to @resume_state
 * @paused_at_ns: ktime_get_ns() when the current or last outage (PAUSED
 *	and RECOVER, however many times it went round) began; 0 if none
 * @paused_total_ns: length of the outages that are over
 * @pause_timeout_ms: PAUSED or RECOVER longer than this fails the session;
 *	0 waits for ever
 * @pause_work: fails the session when the pause timeout expires
 * @pages_discarded: pages made missing again by DISCARD
 * @pages_punched: missing pages a punch made present (zero)
 * @end_mask: channels (PCMIG_CHANNEL_*) that carried END
 * @channels: attached channels
 * @chan_mask: union of the attached channels' masks
 * @next_chan: index for the next channel
 * @chan_wq: woken when a receiver has left @channels or got a SYNC frame
 * @discard_lock: serialises DISCARDs and punches, from their look at the
 *	state to their last page, with each other and with the move to LISTEN
 * @discarding: a DISCARD or punch of @discard_first..@discard_last runs:
 *	pages received in the range are dropped (under @lock)
 * @discard_first: see @discarding
 * @discard_last: see @discarding
 * @present: bitmap of present pages
 * @requested: bitmap of pages requested since they last went missing
 * @receiving: bitmap of pages a receiver is writing (one writer a page)
 * @nr_present: bits set in @present
 * @slots: pages that faulting tasks prepared for the replies to their
 *	requests, by index; each entry holds a page reference
 * @complete_work: moves the session to END once every page is present
 * @events: events queued under @lock in the order of the changes they
 *	report, for @event_work to send
 * @event_work: sends the queued events, one at a time
 * @tx_lock: serialises request sending; protects @tx_sock, @tx_buf,
 *	@tx_off and @tx_len
 * @tx_sock: socket of the urgent channel, or NULL
 * @tx_epoch: &pcmig_session.epoch in which @tx_sock was attached
 * @tx_buf: the request frame being sent
 * @tx_off: bytes of @tx_buf sent
 * @tx_len: bytes of @tx_buf still to send (a frame sent in part)
 * @tx_pend_lock: protects @tx_pend and @tx_npend
 * @tx_npend: offsets in @tx_pend
 * @tx_pend: offsets of pages waiting to be requested
 * @tx_flags: PCMIG_TX_* bits
 * @tx_work: sends what the faulting tasks could not send themselves
 * @requests_resent: pages requested again after RECOVER
 * @stats: per-CPU counters
 * @waitq: hashed wait queues of faulting tasks
 */
struct pcmig_session {
	struct kref kref;
	u32 id;
	char name[PCMIG_NAME_LEN];
	u32 flags;
	u64 size;
	unsigned long npages;
	struct file *backing;
	struct mem_cgroup *memcg;
	struct inode *inode;
	struct net *net;
	struct list_head all_node;
	struct device *dev;
	atomic_t nr_files;
	bool destroyed;

	struct mutex ctl_lock;	/* ioctls that change the session */
	spinlock_t lock;	/* state fields, channel list, events */
	enum pcmig_state state;
	enum pcmig_state resume_state;
	enum pcmig_reason reason;
	int error;
	u64 pauses;
	u32 epoch;
	u64 recoveries;
	u64 paused_at_ns;
	u64 paused_total_ns;
	u32 pause_timeout_ms;
	struct delayed_work pause_work;
	u64 pages_discarded;
	u64 pages_punched;
	unsigned int end_mask;
	struct list_head channels;
	unsigned int chan_mask;
	unsigned int next_chan;
	wait_queue_head_t chan_wq;

	struct mutex discard_lock;	/* DISCARDs, punches, the move to LISTEN */
	bool discarding;
	unsigned long discard_first;
	unsigned long discard_last;
	unsigned long *present;
	unsigned long *requested;
	unsigned long *receiving;
	atomic64_t nr_present;
	struct xarray slots;
	struct work_struct complete_work;
	struct list_head events;
	struct work_struct event_work;

	struct mutex tx_lock;	/* request sending, tx_sock, tx_buf */
	struct socket *tx_sock;
	u32 tx_epoch;
	void *tx_buf;
	unsigned int tx_off;
	unsigned int tx_len;
	spinlock_t tx_pend_lock;	/* tx_pend, tx_npend */
	unsigned int tx_npend;
	__be64 *tx_pend;
	unsigned long tx_flags;
	struct work_struct tx_work;
	atomic64_t requests_resent;

	struct pcmig_pcpu_stats __percpu *stats;
	wait_queue_head_t waitq[PCMIG_WAITQS];
};

/* main.c */
void pcmig_fill_version(struct pcmig_version *ver);
long pcmig_ioctl_common(unsigned int cmd, unsigned long arg);
struct vfsmount *pcmig_backing_mnt(void);
int pcmig_backing_probe(void);

/* session.c */
int pcmig_session_create(const struct pcmig_create *args,
			 struct pcmig_session **out);
int pcmig_session_open_file(struct pcmig_session *s);
void pcmig_session_get(struct pcmig_session *s);
void pcmig_session_put(struct pcmig_session *s);
struct pcmig_session *pcmig_session_find(u32 id);
struct pcmig_session *pcmig_session_find_inode(const struct inode *inode);
int pcmig_session_destroy(struct pcmig_session *s);
int pcmig_session_next(u32 *id, struct pcmig_session **out);
void pcmig_session_status(struct pcmig_session *s, struct pcmig_status *st);
unsigned int pcmig_session_count(const struct net *net);
int pcmig_sessions_init(void);
void pcmig_sessions_exit(void);

/**
 * pcmig_page_present() - whether a page may be mapped
 * @s: session
 * @idx: page index, below @s->npages
 *
 * Return: true if the page's contents are in place.
 */
static inline bool pcmig_page_present(struct pcmig_session *s,
				      unsigned long idx)
{
	return test_bit(idx, s->present);
}

/**
 * pcmig_page_huge() - whether a page of session memory is part of a huge folio
 * @page: a page of the backing file
 *
 * Such a page is never mapped or written: see pcmig_fail_huge().
 *
 * Return: true for a page of a large folio.
 */
static inline bool pcmig_page_huge(struct page *page)
{
	return folio_test_large(page_folio(page));
}

/**
 * pcmig_range_valid() - whether a byte range is whole pages of a session
 * @s: session
 * @offset: byte offset
 * @length: bytes
 *
 * Return: true for a non-empty, page-aligned range within the session.
 */
static inline bool pcmig_range_valid(const struct pcmig_session *s,
				     u64 offset, u64 length)
{
	return length && PAGE_ALIGNED(offset) && PAGE_ALIGNED(length) &&
	       offset < s->size && length <= s->size - offset;
}

/* file.c */
struct file *pcmig_file_create(struct pcmig_session *s,
			       const struct file_operations *fops);
void pcmig_file_release(struct pcmig_session *s);

/* fault.c */
int pcmig_mmap(struct pcmig_session *s, struct vm_area_struct *vma);
void pcmig_fail_huge(struct pcmig_session *s);
void pcmig_wake_page(struct pcmig_session *s, unsigned long idx);
void pcmig_wake_all(struct pcmig_session *s);
int pcmig_fault_init(void);
void pcmig_fault_exit(void);
extern struct workqueue_struct *pcmig_wq;
extern struct workqueue_struct *pcmig_bulk_wq;

/* discard.c */
int pcmig_discard(struct pcmig_session *s, u64 offset, u64 length);
void pcmig_discard_begin(struct pcmig_session *s, unsigned long first,
			 unsigned long last);
void pcmig_discard_end(struct pcmig_session *s);

/* punch.c */
int pcmig_punch(struct pcmig_session *s, u64 offset, u64 length);
long pcmig_fallocate(struct pcmig_session *s, int mode, loff_t offset,
		     loff_t len);

/* tx.c */
void pcmig_tx_init(struct pcmig_session *s);
void pcmig_tx_release(struct pcmig_session *s);
void pcmig_tx_queue(struct pcmig_session *s, unsigned long idx);
void pcmig_tx_flush(struct pcmig_session *s);
void pcmig_tx_kick(struct pcmig_session *s);
void pcmig_tx_resend(struct pcmig_session *s);
void pcmig_tx_recovered(struct pcmig_session *s);
void pcmig_tx_set_sock(struct pcmig_session *s, struct socket *sock,
		       u32 epoch);
void pcmig_tx_drop_queue(struct pcmig_session *s);
void pcmig_tx_urgent_gone(struct pcmig_session *s, u32 epoch);

/* rx.c */
void pcmig_rx_init(struct pcmig_rx *rx, struct pcmig_channel *ch);
int pcmig_rx_next(struct pcmig_rx *rx, bool can_sleep, void **buf,
		  size_t *len);
void pcmig_rx_consume(struct pcmig_rx *rx, size_t n);
void pcmig_rx_release(struct pcmig_rx *rx);
void pcmig_slot_prepare(struct pcmig_session *s, unsigned long idx);
void pcmig_slot_drop(struct pcmig_session *s, unsigned long idx);
void pcmig_slots_release(struct pcmig_session *s);

/* channel.c */
int pcmig_channel_attach(struct pcmig_session *s, int fd,
			 unsigned int mask);
void pcmig_channels_shutdown(struct pcmig_session *s);
int pcmig_channels_wait_gone(struct pcmig_session *s);
int pcmig_channels_sync(struct pcmig_session *s, u64 token,
			unsigned int timeout_ms);

/* state.c */
const char *pcmig_state_name(enum pcmig_state state);
const char *pcmig_reason_name(enum pcmig_reason reason);
bool pcmig_state_active(enum pcmig_state state);
bool pcmig_state_sends(enum pcmig_state state);
bool pcmig_before_listen(struct pcmig_session *s);
int pcmig_set_state(struct pcmig_session *s, enum pcmig_state to);
int pcmig_enter_discard(struct pcmig_session *s);
void pcmig_pause(struct pcmig_session *s, enum pcmig_reason reason,
		 int error);
void pcmig_pause_channel(struct pcmig_session *s, u32 epoch,
			 enum pcmig_reason reason, int error);
bool pcmig_state_outage(enum pcmig_state state);
void pcmig_pause_timeout_init(struct pcmig_session *s);
void pcmig_pause_timeout_release(struct pcmig_session *s);
int pcmig_set_pause_timeout(struct pcmig_session *s, u32 timeout_ms);
void pcmig_fail(struct pcmig_session *s, enum pcmig_reason reason,
		int error);
void pcmig_check_complete(struct pcmig_session *s);

/* netlink.c */
int pcmig_genl_register(void);
void pcmig_genl_unregister(void);
void pcmig_event_state(struct pcmig_session *s, enum pcmig_state old,
		       enum pcmig_state state);
void pcmig_event_reason(struct pcmig_session *s, u8 cmd,
			enum pcmig_reason reason, int error);
void pcmig_event_complete(struct pcmig_session *s);
void pcmig_events_init(struct pcmig_session *s);
void pcmig_events_release(struct pcmig_session *s);

#endif /* _PCMIG_H */
