// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: sessions: creation, lookup, lifetime, device nodes and files.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/ktime.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <linux/percpu.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "pcmig.h"

/*
 * The session table: live (not destroyed) sessions by id; and the list of
 * session objects not yet freed, destroyed ones included.
 */
static DEFINE_MUTEX(pcmig_table_lock);
static DEFINE_IDR(pcmig_table);
static LIST_HEAD(pcmig_all);

static dev_t pcmig_devt;
static struct class *pcmig_class;
static struct cdev pcmig_cdev;
static const struct file_operations pcmig_session_fops;

/**
 * pcmig_session_get() - take a reference on a session
 * @s: session
 */
void pcmig_session_get(struct pcmig_session *s)
{
	kref_get(&s->kref);
}

static void pcmig_session_free_mem(struct pcmig_session *s)
{
	free_percpu(s->stats);
	kfree(s->tx_pend);
	kfree(s->tx_buf);
	kvfree(s->receiving);
	kvfree(s->requested);
	kvfree(s->present);
	kfree(s);
}

/* Undo pcmig_session_alloc() and the namespace reference. */
static void pcmig_session_unalloc(struct pcmig_session *s)
{
	if (s->net)
		put_net(s->net);
	pcmig_file_release(s);
	fput(s->backing);
	mem_cgroup_put(s->memcg);
	pcmig_session_free_mem(s);
}

static void pcmig_session_free(struct kref *kref)
{
	struct pcmig_session *s = container_of(kref, struct pcmig_session,
					       kref);

	WARN_ON_ONCE(!list_empty(&s->channels));
	cancel_work_sync(&s->complete_work);
	pcmig_pause_timeout_release(s);
	pcmig_tx_release(s);
	/* Nothing can change the session any more: the last events go out. */
	pcmig_events_release(s);
	pcmig_slots_release(s);
	mutex_lock(&pcmig_table_lock);
	list_del(&s->all_node);
	mutex_unlock(&pcmig_table_lock);
	pcmig_session_unalloc(s);
	/* Every caller runs with a reference on the module of its own. */
	module_put(THIS_MODULE);
}

/**
 * pcmig_session_put() - drop a reference on a session
 * @s: session; freed with the last reference (may sleep)
 */
void pcmig_session_put(struct pcmig_session *s)
{
	kref_put(&s->kref, pcmig_session_free);
}

/**
 * pcmig_session_count() - session objects of a network namespace
 * @net: the namespace
 *
 * Return: sessions created in @net and not yet freed, destroyed ones
 * included.
 */
unsigned int pcmig_session_count(const struct net *net)
{
	struct pcmig_session *s;
	unsigned int n = 0;

	mutex_lock(&pcmig_table_lock);
	list_for_each_entry(s, &pcmig_all, all_node)
		if (net_eq(s->net, net))
			n++;
	mutex_unlock(&pcmig_table_lock);
	return n;
}

static bool pcmig_name_valid(const char *name)
{
	size_t i, len = strnlen(name, PCMIG_NAME_LEN);

	if (len == PCMIG_NAME_LEN)
		return false;
	/* Printable ASCII, no space, no slash. */
	for (i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (c < 0x21 || c > 0x7e || c == '/')
			return false;
	}
	/* Nothing may follow the terminating NUL. */
	return !memchr_inv(name + len, 0, PCMIG_NAME_LEN - len);
}

/* Called with pcmig_table_lock held. */
static bool pcmig_name_taken(const char *name)
{
	struct pcmig_session *s;
	int id;

	if (!name[0])
		return false;
	idr_for_each_entry(&pcmig_table, s, id)
		if (!strcmp(s->name, name))
			return true;
	return false;
}

static void pcmig_complete_work(struct work_struct *work)
{
	pcmig_check_complete(container_of(work, struct pcmig_session,
					  complete_work));
}

static int pcmig_session_alloc(const struct pcmig_create *args,
			       struct pcmig_session **out)
{
	unsigned long longs;
	struct pcmig_session *s;
	unsigned int i;
	int ret;

	/* Not while tmpfs would give session memory huge pages. */
	ret = pcmig_backing_probe();
	if (ret)
		return ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;

	kref_init(&s->kref);
	memcpy(s->name, args->name, PCMIG_NAME_LEN);
	s->flags = args->flags;
	s->size = args->size;
	s->npages = args->size >> PAGE_SHIFT;
	s->state = PCMIG_STATE_ADVISE;
	s->resume_state = PCMIG_STATE_ADVISE;
	mutex_init(&s->ctl_lock);
	spin_lock_init(&s->lock);
	INIT_LIST_HEAD(&s->channels);
	init_waitqueue_head(&s->chan_wq);
	mutex_init(&s->discard_lock);
	xa_init_flags(&s->slots, XA_FLAGS_LOCK_BH);
	INIT_WORK(&s->complete_work, pcmig_complete_work);
	pcmig_events_init(s);
	pcmig_pause_timeout_init(s);
	pcmig_tx_init(s);
	atomic64_set(&s->nr_present, 0);
	atomic64_set(&s->requests_resent, 0);
	for (i = 0; i < PCMIG_WAITQS; i++)
		init_waitqueue_head(&s->waitq[i]);

	longs = BITS_TO_LONGS(s->npages);
	s->present = kvcalloc(longs, sizeof(long), GFP_KERNEL_ACCOUNT);
	s->requested = kvcalloc(longs, sizeof(long), GFP_KERNEL_ACCOUNT);
	s->receiving = kvcalloc(longs, sizeof(long), GFP_KERNEL_ACCOUNT);
	s->tx_buf = kmalloc(PCMIG_TX_BUF_SIZE, GFP_KERNEL);
	s->tx_pend = kmalloc_array(PCMIG_FRAME_MAX_REQS, sizeof(__be64),
				   GFP_KERNEL);
	s->stats = alloc_percpu(struct pcmig_pcpu_stats);
	if (!s->present || !s->requested || !s->receiving || !s->tx_buf ||
	    !s->tx_pend || !s->stats)
		goto err_free;

	s->backing = shmem_file_setup_with_mnt(pcmig_backing_mnt(), "pcmig",
					       s->size, VM_NORESERVE);
	if (IS_ERR(s->backing))
		goto err_free;

	s->memcg = get_mem_cgroup_from_mm(current->mm);
	*out = s;
	return 0;

err_free:
	/* The backing file's own error, or an allocation's. */
	ret = IS_ERR(s->backing) ? PTR_ERR(s->backing) : -ENOMEM;
	pcmig_session_free_mem(s);
	return ret;
}

/**
 * pcmig_session_create() - create a session in state ADVISE
 * @args: validated by the caller for reserved fields only
 * @out: the session, with a reference for the caller besides the table's
 *
 * The session belongs to the caller's network namespace: generic netlink
 * shows it, and sends its events, there only.
 *
 * Return: 0, -EINVAL, -EEXIST, -ENOSPC, -ENOMEM, -EOPNOTSUPP while tmpfs
 * would give session memory huge pages (pcmig_backing_probe()), or the
 * error of the backing file's creation (-ENFILE when the system's file
 * table is full).
 */
int pcmig_session_create(const struct pcmig_create *args,
			 struct pcmig_session **out)
{
	struct pcmig_session *s;
	struct device *dev;
	int id, ret;

	if (!args->size || !PAGE_ALIGNED(args->size) ||
	    args->size > PCMIG_MAX_SIZE)
		return -EINVAL;
	if (args->page_size != PAGE_SIZE)
		return -EINVAL;
	if (args->flags & ~PCMIG_CREATE_FLAGS)
		return -EINVAL;
	if (!pcmig_name_valid(args->name))
		return -EINVAL;

	ret = pcmig_session_alloc(args, &s);
	if (ret)
		return ret;
	s->net = get_net(current->nsproxy->net_ns);

	mutex_lock(&pcmig_table_lock);
	if (pcmig_name_taken(s->name)) {
		ret = -EEXIST;
		goto err_unlock;
	}
	id = idr_alloc(&pcmig_table, s, 0, PCMIG_MAX_SESSIONS, GFP_KERNEL);
	if (id < 0) {
		ret = id;
		goto err_unlock;
	}
	s->id = id;

	dev = device_create(pcmig_class, NULL, MKDEV(MAJOR(pcmig_devt), id),
			    s, PCMIG_NAME "%u", id);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		goto err_idr;
	}
	s->dev = dev;

	__module_get(THIS_MODULE);
	list_add_tail(&s->all_node, &pcmig_all);
	/* The table's reference and the caller's. */
	kref_get(&s->kref);
	mutex_unlock(&pcmig_table_lock);

	*out = s;
	return 0;

err_idr:
	idr_remove(&pcmig_table, id);
err_unlock:
	mutex_unlock(&pcmig_table_lock);
	pcmig_session_unalloc(s);
	return ret;
}

/**
 * pcmig_session_find() - look a live session up by id
 * @id: session id
 *
 * Return: the session with a reference, or NULL.
 */
struct pcmig_session *pcmig_session_find(u32 id)
{
	struct pcmig_session *s;

	mutex_lock(&pcmig_table_lock);
	s = idr_find(&pcmig_table, id);
	if (s)
		pcmig_session_get(s);
	mutex_unlock(&pcmig_table_lock);
	return s;
}

/**
 * pcmig_session_find_inode() - look a live session up by its file inode
 * @inode: inode of a file being opened, not a device node
 *
 * Return: the live session whose PCMIG_IOC_CREATE file has @inode (see
 * file.c), with a reference, or NULL.
 */
struct pcmig_session *pcmig_session_find_inode(const struct inode *inode)
{
	struct pcmig_session *s;
	int id;

	mutex_lock(&pcmig_table_lock);
	idr_for_each_entry(&pcmig_table, s, id) {
		if (s->inode == inode) {
			pcmig_session_get(s);
			mutex_unlock(&pcmig_table_lock);
			return s;
		}
	}
	mutex_unlock(&pcmig_table_lock);
	return NULL;
}

/**
 * pcmig_session_next() - iterate over live sessions
 * @id: in: first id to look at; out: the id found
 * @out: the session found, with a reference
 *
 * Return: 0, or -ENOENT when there is no live session at or after @id.
 */
int pcmig_session_next(u32 *id, struct pcmig_session **out)
{
	struct pcmig_session *s;
	int next = *id;

	mutex_lock(&pcmig_table_lock);
	s = idr_get_next(&pcmig_table, &next);
	if (s)
		pcmig_session_get(s);
	mutex_unlock(&pcmig_table_lock);
	if (!s)
		return -ENOENT;
	*id = next;
	*out = s;
	return 0;
}

/**
 * pcmig_session_destroy() - remove a session's node and fail it
 * @s: session; the caller holds a reference
 *
 * The session leaves the table, its node goes away, its channels are shut
 * down and, unless every page is already present (END), it fails with
 * reason DESTROYED so that blocked faults get SIGBUS. The object lives on
 * until the last file, mapping and receiver let go of it.
 *
 * Never waits for &pcmig_session.ctl_lock: an ioctl holding it for long (a
 * DISCARD of TiBs, RECOVER waiting for the receivers) sees the failure and
 * gives up.
 *
 * Return: 0, or -ENODEV if it was destroyed already.
 */
int pcmig_session_destroy(struct pcmig_session *s)
{
	mutex_lock(&pcmig_table_lock);
	if (s->destroyed) {
		mutex_unlock(&pcmig_table_lock);
		return -ENODEV;
	}
	s->destroyed = true;
	idr_remove(&pcmig_table, s->id);
	device_destroy(pcmig_class, MKDEV(MAJOR(pcmig_devt), s->id));
	mutex_unlock(&pcmig_table_lock);

	pcmig_fail(s, PCMIG_REASON_DESTROYED, 0);
	pcmig_channels_shutdown(s);
	/* The table's reference. */
	pcmig_session_put(s);
	return 0;
}

/* Requested pages that are not present yet. */
static u64 pcmig_in_flight(struct pcmig_session *s)
{
	unsigned long i, longs = BITS_TO_LONGS(s->npages);
	u64 n = 0;

	/* Bits past npages are never set in either bitmap. */
	for (i = 0; i < longs; i++) {
		n += hweight_long(READ_ONCE(s->requested[i]) &
				  ~READ_ONCE(s->present[i]));
		if (!(i & 1023))
			cond_resched();
	}
	return n;
}

/**
 * pcmig_session_status() - snapshot of a session's state and counters
 * @s: session
 * @st: filled; every field is written
 */
void pcmig_session_status(struct pcmig_session *s, struct pcmig_status *st)
{
	unsigned int i;
	int cpu;

	memset(st, 0, sizeof(*st));
	st->id = s->id;
	st->size = s->size;
	st->pages_total = s->npages;

	spin_lock_bh(&s->lock);
	st->state = s->state;
	st->reason = s->reason;
	st->error = s->error;
	st->pauses = s->pauses;
	st->pages_discarded = s->pages_discarded;
	st->pages_punched = s->pages_punched;
	st->pause_timeout_ms = s->pause_timeout_ms;
	st->recoveries = s->recoveries;
	st->paused_at_ns = s->paused_at_ns;
	st->paused_total_ns = s->paused_total_ns;
	if (pcmig_state_outage(s->state)) {
		st->resume_state = s->resume_state;
		st->paused_total_ns += ktime_get_ns() - s->paused_at_ns;
	} else {
		st->resume_state = PCMIG_STATE_NONE;
	}
	spin_unlock_bh(&s->lock);
	st->requests_resent = atomic64_read(&s->requests_resent);

	for_each_possible_cpu(cpu) {
		const struct pcmig_pcpu_stats *c = per_cpu_ptr(s->stats, cpu);

		st->faults += local64_read(&c->faults);
		st->faults_blocked += local64_read(&c->faults_blocked);
		st->blocked_ns += local64_read(&c->blocked_ns);
		st->pages_received += local64_read(&c->pages_received);
		st->pages_pushed += local64_read(&c->pages_pushed);
		st->pages_zero += local64_read(&c->pages_zero);
		st->pages_duplicate += local64_read(&c->pages_duplicate);
		st->pages_requested += local64_read(&c->pages_requested);
		st->bytes_received += local64_read(&c->bytes_received);
		st->requests_sent += local64_read(&c->requests_sent);
		for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
			st->hist[i] += local64_read(&c->hist[i]);
	}
	/*
	 * A page is counted present before its received/zero counter moves:
	 * read the counters first, so that pages_present is never behind.
	 */
	smp_rmb();
	st->pages_present = atomic64_read(&s->nr_present);
	st->in_flight = pcmig_in_flight(s);
}

static struct file *pcmig_session_file(struct pcmig_session *s,
				       struct file *file)
{
	/*
	 * Every file of a session shares the backing file's address space:
	 * mappings made through any of them land in one i_mmap tree, which
	 * is what DISCARD zaps and what reclaim walks.
	 */
	file->f_mapping = s->backing->f_mapping;
	file->private_data = s;
	atomic_inc(&s->nr_files);
	return file;
}

/**
 * pcmig_session_open_file() - a new session file descriptor
 * @s: session; the file takes a reference of its own
 *
 * Return: the descriptor (close-on-exec), or a negative errno.
 */
int pcmig_session_open_file(struct pcmig_session *s)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;

	pcmig_session_get(s);
	/* A regular file, so that fallocate(2) reaches it (file.c). */
	file = pcmig_file_create(s, &pcmig_session_fops);
	if (IS_ERR(file)) {
		pcmig_session_put(s);
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	/* Like an opened node: seekable, pread/pwrite give -EINVAL. */
	file->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	pcmig_session_file(s, file);
	fd_install(fd, file);
	return fd;
}

/*
 * An open of /dev/pcmig<id>, or of the file PCMIG_IOC_CREATE returned
 * through /proc/<pid>/fd/<n> (a regular file, see file.c).
 */
static int pcmig_node_open(struct inode *inode, struct file *file)
{
	struct pcmig_session *s;

	if (!(file->f_mode & FMODE_WRITE) || !(file->f_mode & FMODE_READ))
		return -EACCES;

	if (S_ISCHR(inode->i_mode))
		s = pcmig_session_find(iminor(inode));
	else
		s = pcmig_session_find_inode(inode);
	if (!s)
		return -ENODEV;
	pcmig_session_file(s, file);
	return 0;
}

static int pcmig_session_release(struct inode *inode, struct file *file)
{
	struct pcmig_session *s = file->private_data;

	if (atomic_dec_and_test(&s->nr_files) &&
	    (s->flags & PCMIG_CREATE_F_AUTO_DESTROY))
		pcmig_session_destroy(s);
	pcmig_session_put(s);
	return 0;
}

static loff_t pcmig_session_llseek(struct file *file, loff_t offset,
				   int whence)
{
	struct pcmig_session *s = file->private_data;

	return fixed_size_llseek(file, offset, whence, s->size);
}

static int pcmig_session_mmap(struct file *file, struct vm_area_struct *vma)
{
	return pcmig_mmap(file->private_data, vma);
}

static long pcmig_session_fallocate(struct file *file, int mode,
				    loff_t offset, loff_t len)
{
	return pcmig_fallocate(file->private_data, mode, offset, len);
}

static long pcmig_ioctl_attach(struct pcmig_session *s, void __user *argp)
{
	struct pcmig_attach args;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.pad ||
	    memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	if (!args.channels || (args.channels & ~PCMIG_CHANNELS_ALL))
		return -EINVAL;
	return pcmig_channel_attach(s, args.fd, args.channels);
}

static long pcmig_ioctl_set_state(struct pcmig_session *s, void __user *argp)
{
	struct pcmig_set_state args;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	if (args.state <= PCMIG_STATE_NONE || args.state >= __PCMIG_STATE_MAX)
		return -EINVAL;
	return pcmig_set_state(s, args.state);
}

static long pcmig_ioctl_discard(struct pcmig_session *s, void __user *argp)
{
	struct pcmig_range args;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || args.pad)
		return -EINVAL;
	return pcmig_discard(s, args.offset, args.length);
}

static long pcmig_ioctl_sync(struct pcmig_session *s, void __user *argp)
{
	struct pcmig_sync args;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (!args.token || args.flags)
		return -EINVAL;
	return pcmig_channels_sync(s, args.token, args.timeout_ms);
}

/* Runs of missing pages are found into a buffer of this many, then copied. */
#define PCMIG_MISSING_CHUNK	(PAGE_SIZE / sizeof(struct pcmig_extent))

/*
 * Find up to @max runs of missing pages from page *@idx into @buf; *@idx
 * becomes the page after the last run found, or npages when no missing
 * page is left. The bitmap is read without a lock: it is stable only
 * while no channel is attached, as abi.rst says.
 */
static unsigned int pcmig_missing_runs(struct pcmig_session *s,
				       unsigned long *idx,
				       struct pcmig_extent *buf,
				       unsigned int max)
{
	unsigned long first, end = *idx;
	unsigned int n = 0;

	while (n < max) {
		first = find_next_zero_bit(s->present, s->npages, end);
		if (first >= s->npages) {
			end = s->npages;
			break;
		}
		end = find_next_bit(s->present, s->npages, first);
		buf[n].offset = (u64)first << PAGE_SHIFT;
		buf[n].length = (u64)(end - first) << PAGE_SHIFT;
		n++;
	}
	*idx = end;
	return n;
}

static long pcmig_ioctl_missing(struct pcmig_session *s, void __user *argp)
{
	struct pcmig_extent __user *uext;
	struct pcmig_extent *buf;
	struct pcmig_missing args;
	unsigned int n, done = 0;
	unsigned long idx;
	long ret = 0;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	if (!args.count || args.count > PCMIG_MISSING_MAX)
		return -EINVAL;
	if (!PAGE_ALIGNED(args.offset) || args.offset > s->size)
		return -EINVAL;
	uext = u64_to_user_ptr(args.extents);
	if (!access_ok(uext, (size_t)args.count * sizeof(*uext)))
		return -EFAULT;

	buf = kmalloc_array(PCMIG_MISSING_CHUNK, sizeof(*buf), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	idx = args.offset >> PAGE_SHIFT;
	while (done < args.count && idx < s->npages) {
		n = pcmig_missing_runs(s, &idx, buf,
				       min_t(unsigned int, PCMIG_MISSING_CHUNK,
					     args.count - done));
		if (!n)
			break;
		if (copy_to_user(uext + done, buf, n * sizeof(*buf))) {
			ret = -EFAULT;
			goto out;
		}
		done += n;
		cond_resched();
	}
	/*
	 * Runs end at a present page or at the end, so that the next call
	 * starting at idx cannot return a run adjacent to the last one.
	 * Nothing missing after it: the session size.
	 */
	if (idx < s->npages &&
	    find_next_zero_bit(s->present, s->npages, idx) >= s->npages)
		idx = s->npages;
	args.offset = (u64)idx << PAGE_SHIFT;
	args.count = done;
	if (copy_to_user(argp, &args, sizeof(args)))
		ret = -EFAULT;
out:
	kfree(buf);
	return ret;
}

static long pcmig_ioctl_set_params(struct pcmig_session *s, void __user *argp)
{
	struct pcmig_params args;

	if (copy_from_user(&args, argp, sizeof(args)))
		return -EFAULT;
	if (args.flags || memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;
	if (args.pause_timeout_ms > PCMIG_PAUSE_TIMEOUT_MAX_MS)
		return -EINVAL;
	return pcmig_set_pause_timeout(s, args.pause_timeout_ms);
}

static long pcmig_ioctl_status(struct pcmig_session *s, void __user *argp)
{
	struct pcmig_status *st;
	long ret = 0;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	pcmig_session_status(s, st);
	if (copy_to_user(argp, st, sizeof(*st)))
		ret = -EFAULT;
	kfree(st);
	return ret;
}

static long pcmig_session_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	struct pcmig_session *s = file->private_data;
	void __user *argp = (void __user *)arg;
	long ret;

	switch (cmd) {
	case PCMIG_IOC_STATUS:
		return pcmig_ioctl_status(s, argp);
	case PCMIG_IOC_SYNC:
		/* Waits: not under ctl_lock, so that DESTROY can end it. */
		return pcmig_ioctl_sync(s, argp);
	case PCMIG_IOC_MISSING:
		return pcmig_ioctl_missing(s, argp);
	case PCMIG_IOC_DESTROY:
		/*
		 * Not under ctl_lock either: the ioctl holding it may take
		 * long (a DISCARD of TiBs, RECOVER waiting for receivers);
		 * the failure ends it early.
		 */
		return pcmig_session_destroy(s);
	case PCMIG_IOC_ATTACH:
	case PCMIG_IOC_SET_STATE:
	case PCMIG_IOC_DISCARD:
	case PCMIG_IOC_SET_PARAMS:
		break;
	default:
		return pcmig_ioctl_common(cmd, arg);
	}

	mutex_lock(&s->ctl_lock);
	switch (cmd) {
	case PCMIG_IOC_ATTACH:
		ret = pcmig_ioctl_attach(s, argp);
		break;
	case PCMIG_IOC_SET_STATE:
		ret = pcmig_ioctl_set_state(s, argp);
		break;
	case PCMIG_IOC_DISCARD:
		ret = pcmig_ioctl_discard(s, argp);
		break;
	default:
		ret = pcmig_ioctl_set_params(s, argp);
		break;
	}
	mutex_unlock(&s->ctl_lock);
	return ret;
}

static const struct file_operations pcmig_session_fops = {
	.owner		= THIS_MODULE,
	.open		= pcmig_node_open,
	.release	= pcmig_session_release,
	.llseek		= pcmig_session_llseek,
	.mmap		= pcmig_session_mmap,
	.fallocate	= pcmig_session_fallocate,
	.unlocked_ioctl	= pcmig_session_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

/**
 * pcmig_sessions_init() - register the session nodes' class and minors
 *
 * Return: 0 or a negative errno.
 */
int pcmig_sessions_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&pcmig_devt, 0, PCMIG_MAX_SESSIONS,
				  PCMIG_NAME);
	if (ret)
		return ret;

	cdev_init(&pcmig_cdev, &pcmig_session_fops);
	pcmig_cdev.owner = THIS_MODULE;
	ret = cdev_add(&pcmig_cdev, pcmig_devt, PCMIG_MAX_SESSIONS);
	if (ret)
		goto err_region;

	pcmig_class = pcmig_class_create(PCMIG_NAME);
	if (IS_ERR(pcmig_class)) {
		ret = PTR_ERR(pcmig_class);
		goto err_cdev;
	}
	return 0;

err_cdev:
	cdev_del(&pcmig_cdev);
err_region:
	unregister_chrdev_region(pcmig_devt, PCMIG_MAX_SESSIONS);
	return ret;
}

/**
 * pcmig_sessions_exit() - undo pcmig_sessions_init()
 *
 * Every session is gone by then: each held a reference on the module.
 */
void pcmig_sessions_exit(void)
{
	WARN_ON(!idr_is_empty(&pcmig_table));
	class_destroy(pcmig_class);
	cdev_del(&pcmig_cdev);
	unregister_chrdev_region(pcmig_devt, PCMIG_MAX_SESSIONS);
	idr_destroy(&pcmig_table);
}
