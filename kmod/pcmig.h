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
#include <linux/llist.h>
#include <linux/mutex.h>
#include <linux/pcmig.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#define PCMIG_MODULE_VERSION	"0.2.0"

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
struct page;
struct socket;
struct task_struct;
struct vm_area_struct;

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
 */
struct pcmig_pcpu_stats {
	u64 faults;
	u64 faults_blocked;
	u64 blocked_ns;
	u64 pages_received;
	u64 pages_pushed;
	u64 pages_zero;
	u64 pages_duplicate;
	u64 pages_requested;
	u64 bytes_received;
	u64 requests_sent;
	u64 hist[PCMIG_HIST_BUCKETS];
};

/**
 * struct pcmig_channel - a socket handed to a session, and its receiver
 * @node: entry in &pcmig_session.channels
 * @session: owner; the receiver thread holds a reference
 * @sock: the socket; its file reference is ours
 * @task: receiver thread
 * @mask: PCMIG_CHANNEL_* served by this socket
 * @index: number of the channel within the session, for the thread name
 * @closing: the session shut the socket down; the receiver reports nothing
 * @sync: highest SYNC token received (under &pcmig_session.lock)
 * @scratch: page that swallows the payload of dropped duplicates
 */
struct pcmig_channel {
	struct list_head node;
	struct pcmig_session *session;
	struct socket *sock;
	struct task_struct *task;
	unsigned int mask;
	unsigned int index;
	bool closing;
	u64 sync;
	struct page *scratch;
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
 * @dev: the session's device node
 * @nr_files: open session files (mappings hold one)
 * @destroyed: destroy has run (under the session table lock)
 * @ctl_lock: serialises the ioctls that change the session
 * @lock: protects the state fields and the channel list
 * @state: &enum pcmig_state; read locklessly by the fault path
 * @resume_state: state to go back to after PAUSED/RECOVER
 * @reason: &enum pcmig_reason of the last pause or failure
 * @error: negative errno of the last channel error
 * @pauses: times the session paused
 * @pages_discarded: pages made missing again by DISCARD
 * @src_done: the source sent END on every channel
 * @end_mask: channels (PCMIG_CHANNEL_*) that carried END
 * @channels: attached channels
 * @chan_mask: union of the attached channels' masks
 * @next_chan: index for the next channel
 * @chan_wq: woken when a receiver has left @channels or got a SYNC frame
 * @install_sem: page installs (read) against DISCARD (write)
 * @present: bitmap of present pages
 * @requested: bitmap of pages requested since they last went missing
 * @nr_present: bits set in @present
 * @tx_lock: serialises request sending; protects @tx_sock and @tx_buf
 * @tx_sock: socket of the urgent channel, or NULL
 * @tx_queue: pages waiting to be requested (&struct pcmig_req)
 * @tx_buf: one request frame
 * @tx_flags: PCMIG_TX_* bits
 * @tx_work: sends the queued requests
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
	struct device *dev;
	atomic_t nr_files;
	bool destroyed;

	struct mutex ctl_lock;	/* ioctls that change the session */
	spinlock_t lock;	/* state fields, channel list */
	enum pcmig_state state;
	enum pcmig_state resume_state;
	enum pcmig_reason reason;
	int error;
	u64 pauses;
	u64 pages_discarded;
	bool src_done;
	unsigned int end_mask;
	struct list_head channels;
	unsigned int chan_mask;
	unsigned int next_chan;
	wait_queue_head_t chan_wq;

	struct rw_semaphore install_sem;
	unsigned long *present;
	unsigned long *requested;
	atomic64_t nr_present;

	struct mutex tx_lock;	/* request sending, tx_sock, tx_buf */
	struct socket *tx_sock;
	struct llist_head tx_queue;
	void *tx_buf;
	unsigned long tx_flags;
	struct work_struct tx_work;

	struct pcmig_pcpu_stats __percpu *stats;
	wait_queue_head_t waitq[PCMIG_WAITQS];
};

/* main.c */
void pcmig_fill_version(struct pcmig_version *ver);
long pcmig_ioctl_common(unsigned int cmd, unsigned long arg);
struct vfsmount *pcmig_backing_mnt(void);

/* session.c */
int pcmig_session_create(const struct pcmig_create *args,
			 struct pcmig_session **out);
int pcmig_session_open_file(struct pcmig_session *s);
void pcmig_session_get(struct pcmig_session *s);
void pcmig_session_put(struct pcmig_session *s);
struct pcmig_session *pcmig_session_find(u32 id);
int pcmig_session_destroy(struct pcmig_session *s);
int pcmig_session_next(u32 *id, struct pcmig_session **out);
void pcmig_session_status(struct pcmig_session *s, struct pcmig_status *st);
unsigned int pcmig_session_count(void);
int pcmig_sessions_init(void);
void pcmig_sessions_exit(void);

/* fault.c */
int pcmig_mmap(struct pcmig_session *s, struct vm_area_struct *vma);
bool pcmig_page_present(struct pcmig_session *s, unsigned long idx);
void pcmig_wake_page(struct pcmig_session *s, unsigned long idx);
void pcmig_wake_all(struct pcmig_session *s);
int pcmig_discard(struct pcmig_session *s, u64 offset, u64 length);
void pcmig_tx_init(struct pcmig_session *s);
void pcmig_tx_release(struct pcmig_session *s);
void pcmig_tx_resend(struct pcmig_session *s);
void pcmig_tx_set_sock(struct pcmig_session *s, struct socket *sock);
void pcmig_tx_drop_queue(struct pcmig_session *s);
int pcmig_fault_init(void);
void pcmig_fault_exit(void);

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
int pcmig_set_state(struct pcmig_session *s, enum pcmig_state to);
int pcmig_enter_discard(struct pcmig_session *s);
void pcmig_pause(struct pcmig_session *s, enum pcmig_reason reason,
		 int error);
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

#endif /* _PCMIG_H */
