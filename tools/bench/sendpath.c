// SPDX-License-Identifier: GPL-2.0
/*
 * sendpath - 'make bench' part "sendpath": the source's page push with each
 * of the cheap send syscalls, measured side by side.
 *
 * A memory image in /dev/shm (every page unique, none zero) goes over one
 * loopback TCP connection per run as PAGES frames (uapi/linux/pcmig.h), in
 * address order, B pages a frame, then END. The methods:
 *
 * sendmsg   one sendmsg() a frame, iovec [header, pages from the mapping]:
 *           what tools/pcmig/source_push.c does (blocking socket here)
 * dontwait  the same with MSG_DONTWAIT and poll() on EAGAIN, exactly as
 *           source_io.c's src_send_iov() (not in the default list)
 * writev    K frames a call (--frames, default 8): 2K iovecs per sendmsg()
 * sendfile  header with send(MSG_MORE), payload with sendfile() from the
 *           tmpfs file
 * splice    header with send(MSG_MORE), payload file -> pipe -> socket with
 *           splice(SPLICE_F_MOVE | SPLICE_F_MORE)
 * zerocopy  sendmsg(MSG_ZEROCOPY) of [header, pages] on an SO_ZEROCOPY
 *           socket; the completions are reaped from the error queue as
 *           they come (headers stay untouched until theirs is back)
 *
 * A receiver thread reads like the kernel's receiver (kmod/channel.c): the
 * 24-byte header with every field checked (magic, version, type, flags,
 * page count, length, offset in order), then the payload one page per
 * recv(MSG_WAITALL) (--rx frame: the whole payload in one recv()), and
 * compares every page byte for byte with the image, besides the page index
 * the page's first and last 8 bytes carry. Any mismatch fails the program.
 *
 * Per run: wall time from the first send until the receiver has checked
 * END, and the CPU time of the sending thread (CLOCK_THREAD_CPUTIME_ID)
 * until the last byte (and zerocopy completion) is out. On loopback the
 * sender's CPU time includes the TCP receive processing the kernel does in
 * the sender's context (softirq on transmit); the receiver's copy to user
 * space is the receiver's.
 *
 * Rounds are interleaved: each round runs every case once, the order
 * rotated per round, so that drift of the machine hits every case alike.
 * Figures are medians over the rounds, with the minimum and maximum.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/pcmig.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "bench.h"
#include "net.h"
#include "proto.h"
#include "ram.h"

#define BENCH_NAME	"sendpath"
#define FRAME_LEN	24		/* sizeof(struct pcmig_frame) */
#define MiB		(1024.0 * 1024.0)
#define GiB		(1024.0 * 1024.0 * 1024.0)
#define DEF_SIZE	(256ULL << 20)
#define QUICK_SIZE	(32ULL << 20)
#define DEF_ROUNDS	3
#define DEF_FRAMES	8		/* writev: frames per call */
#define MAX_FRAMES	64
#define MAX_BATCHES	16
#define ZC_RING		1024		/* zerocopy: headers in use */
#define ZC_REAP_EVERY	16		/* calls between reaps */
#define ZC_WAIT_MS	10000		/* longest completion wait */
/* A page's first word is PAGE_TAG ^ index, its last PAGE_TAG_END ^ index. */
#define PAGE_TAG	((uint64_t)0x70636d6967706730ULL)
#define PAGE_TAG_END	((uint64_t)0x656e647061676530ULL)

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

enum method {
	M_SENDMSG,
	M_DONTWAIT,
	M_WRITEV,
	M_SENDFILE,
	M_SPLICE,
	M_ZEROCOPY,
	M_COUNT
};

static const char *const method_names[M_COUNT] = {
	[M_SENDMSG] = "sendmsg",
	[M_DONTWAIT] = "dontwait",
	[M_WRITEV] = "writev",
	[M_SENDFILE] = "sendfile",
	[M_SPLICE] = "splice",
	[M_ZEROCOPY] = "zerocopy",
};

/**
 * struct image - the memory image: a tmpfs file and its read-only mapping
 * @path: the file, removed at exit
 * @fd: the file, open read-write
 * @mem: the whole file mapped read-only, shared
 * @size: bytes
 * @npages: pages
 */
struct image {
	char path[256];
	int fd;
	const uint8_t *mem;
	uint64_t size;
	uint64_t npages;
};

/**
 * struct opts - the command line
 * @size: image bytes
 * @rounds: rounds of every case
 * @methods: methods to run, in order
 * @nmethods: entries in @methods
 * @batches: pages per frame, in order
 * @nbatches: entries in @batches
 * @frames: frames per call of the writev method
 * @pin: pin the threads (@cpu_tx, @cpu_rx)
 * @cpu_tx: CPU of the sending thread
 * @cpu_rx: CPU of the receiving thread
 * @rx_whole: the receiver reads a frame's payload in one recv()
 * @lowat: TCP_NOTSENT_LOWAT of the sending socket, 0 for none
 */
struct opts {
	uint64_t size;
	unsigned int rounds;
	enum method methods[M_COUNT];
	unsigned int nmethods;
	uint32_t batches[MAX_BATCHES];
	unsigned int nbatches;
	unsigned int frames;
	bool pin;
	int cpu_tx, cpu_rx;
	bool rx_whole;
	int lowat;
};

/**
 * struct zc - MSG_ZEROCOPY bookkeeping of one connection
 * @sends: calls that sent data: each got the next completion id
 * @lo: every id below is completed
 * @done: per id, completed
 * @cap: room at @done
 * @completed: ids reported completed
 * @copied: of those, with SO_EE_CODE_ZEROCOPY_COPIED (the kernel copied)
 * @reaps: recvmsg(MSG_ERRQUEUE) calls
 * @nobufs: sendmsg() calls refused with ENOBUFS (optmem limit)
 * @last_reap: @sends at the last reap
 */
struct zc {
	uint64_t sends;
	uint64_t lo;
	uint8_t *done;
	size_t cap;
	uint64_t completed;
	uint64_t copied;
	uint64_t reaps;
	uint64_t nobufs;
	uint64_t last_reap;
};

/**
 * struct tx - the sending side of one run
 * @fd: connected socket
 * @img: the image
 * @batch: pages per frame
 * @frames: frames per call (writev)
 * @calls: data-moving syscalls made
 * @pipe: splice: the pipe, read and write ends
 * @pipe_size: splice: the pipe's capacity
 * @zc: zerocopy: the completions
 */
struct tx {
	int fd;
	const struct image *img;
	uint32_t batch;
	unsigned int frames;
	uint64_t calls;
	int pipe[2];
	size_t pipe_size;
	struct zc zc;
};

/**
 * struct rx - the receiving thread of one run
 * @fd: the accepted socket
 * @img: the image, to compare with
 * @batch: pages per frame expected
 * @whole: read a frame's payload in one recv()
 * @pin: pin to @cpu
 * @cpu: the CPU
 * @ready: both threads are set up
 * @buf: a page, or a frame's payload
 * @bytes: bytes received
 * @pages: pages checked
 * @frames: frames received
 * @t_end: monotonic time END was checked
 * @cpu_ns: the thread's CPU time
 * @failed: something did not match; @err says what
 * @err: the failure
 */
struct rx {
	int fd;
	const struct image *img;
	uint32_t batch;
	bool whole;
	bool pin;
	int cpu;
	pthread_barrier_t *ready;
	uint8_t *buf;
	uint64_t bytes;
	uint64_t pages;
	uint64_t frames;
	uint64_t t_end;
	uint64_t cpu_ns;
	bool failed;
	char err[256];
};

/**
 * struct result - the runs of one case (method, batch)
 * @method: the method
 * @batch: pages per frame
 * @wall: wall time of each round
 * @cpu: sender CPU time of each round
 * @rx_cpu: receiver CPU time of each round
 * @total: sender plus receiver CPU time of each round
 * @calls: data syscalls, summed over the rounds
 * @zc: zerocopy counters, summed over the rounds
 */
struct result {
	enum method method;
	uint32_t batch;
	struct bench_samples wall;
	struct bench_samples cpu;
	struct bench_samples rx_cpu;
	struct bench_samples total;
	uint64_t calls;
	struct zc zc;
};

/* Figures of a case, from its rounds. */
struct figures {
	double mibs, mibs_min, mibs_max;	/* throughput */
	double cpu, cpu_min, cpu_max;		/* sender ms per GiB */
	double rx_cpu;				/* receiver ms per GiB */
	double total;				/* both, ms per GiB */
};

const char *prog = "sendpath";
static long page_size;
static char image_path[256];		/* for the signal handler */

/* ---- helpers ---- */

static __printf(1, 2) void die_unlink(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sendpath: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (image_path[0])
		unlink(image_path);
	exit(1);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * BENCH_NSEC_PER_SEC + ts.tv_nsec;
}

static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void on_signal(int sig)
{
	if (image_path[0])
		unlink(image_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- the image ---- */

/* splitmix64's finalizer: page contents that no page shares. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * Page @idx: its first and last words tell the index, every other word is
 * a hash of (index, word): unique, and never a zero page.
 */
static void page_fill(uint64_t *w, uint64_t idx)
{
	size_t i, n = page_size / sizeof(*w);

	w[0] = PAGE_TAG ^ idx;
	for (i = 1; i < n - 1; i++)
		w[i] = mix64(idx * n + i);
	w[n - 1] = PAGE_TAG_END ^ idx;
}

static void image_create(struct image *img, uint64_t size)
{
	uint8_t *m;
	uint64_t i;

	snprintf(img->path, sizeof(img->path), "/dev/shm/pcmig-sendpath.%d",
		 (int)getpid());
	img->fd = open(img->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (img->fd < 0)
		die_unlink("%s: %s", img->path, strerror(errno));
	memcpy(image_path, img->path, sizeof(image_path));
	img->size = size;
	img->npages = size / page_size;
	if (ftruncate(img->fd, (off_t)size))
		die_unlink("%s: cannot size it: %s", img->path, strerror(errno));
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, img->fd, 0);
	if (m == MAP_FAILED)
		die_unlink("%s: mmap: %s", img->path, strerror(errno));
	for (i = 0; i < img->npages; i++)
		page_fill((uint64_t *)(m + i * page_size), i);
	munmap(m, size);
	/* Read-only and shared, as the source maps the VM's RAM. */
	img->mem = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE,
			img->fd, 0);
	if (img->mem == MAP_FAILED)
		die_unlink("%s: mmap: %s", img->path, strerror(errno));
}

static void image_remove(struct image *img)
{
	munmap((void *)img->mem, img->size);
	close(img->fd);
	unlink(img->path);
	image_path[0] = '\0';
}

/* Frame @f of the stream: its first page and page count. */
static uint32_t frame_pages(const struct image *img, uint32_t batch,
			    uint64_t f, uint64_t *first)
{
	*first = f * batch;
	return img->npages - *first < batch ? img->npages - *first : batch;
}

static uint64_t frame_count(const struct image *img, uint32_t batch)
{
	return (img->npages + batch - 1) / batch;
}

/* Header of frame @f into @hdr; returns its payload bytes. */
static uint32_t frame_hdr(const struct tx *t, uint8_t *hdr, uint64_t f,
			  uint64_t *first)
{
	uint32_t n = frame_pages(t->img, t->batch, f, first);
	uint32_t len = n * page_size;

	pcmig_frame_put(hdr, PCMIG_FRAME_PAGES, 0, n, len, *first * page_size);
	return len;
}

/* ---- the receiver ---- */

static __printf(2, 3) int rx_fail(struct rx *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->failed) {
		r->failed = true;
		va_start(ap, fmt);
		vsnprintf(r->err, sizeof(r->err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int rx_read(struct rx *r, void *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = recv(r->fd, buf, len, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rx_fail(r, "receive: %s", strerror(errno));
		if (!n)
			return rx_fail(r, "connection closed after %" PRIu64
				       " bytes", r->bytes);
		r->bytes += n;
		buf = (uint8_t *)buf + n;
		len -= n;
	}
	return 0;
}

/* Page @idx as received at @p: its index words, then every byte. */
static int rx_check_page(struct rx *r, const uint8_t *p, uint64_t idx)
{
	const uint8_t *want = r->img->mem + idx * page_size;
	size_t last = page_size - sizeof(uint64_t), i;
	uint64_t w0, wn;

	memcpy(&w0, p, sizeof(w0));
	memcpy(&wn, p + last, sizeof(wn));
	if (w0 != (PAGE_TAG ^ idx) || wn != (PAGE_TAG_END ^ idx))
		return rx_fail(r, "page %" PRIu64 ": carries index %" PRIu64
			       "/%" PRIu64 " in its first/last 8 bytes", idx,
			       w0 ^ PAGE_TAG, wn ^ PAGE_TAG_END);
	if (memcmp(p, want, page_size)) {
		for (i = 0; i < (size_t)page_size && p[i] == want[i]; i++)
			;
		return rx_fail(r, "page %" PRIu64 ": byte %zu differs", idx,
			       i);
	}
	r->pages++;
	return 0;
}

/* The whole stream: PAGES frames in address order, then END. */
static int rx_stream(struct rx *r)
{
	uint64_t next = 0, offset, i, want;
	uint32_t npages, len;
	uint8_t hdr[FRAME_LEN], type;
	uint16_t flags;

	for (;;) {
		if (rx_read(r, hdr, sizeof(hdr)))
			return -1;
		if (pcmig_frame_get(hdr, &type, &flags, &npages, &len,
				    &offset))
			return rx_fail(r, "frame %" PRIu64
				       ": bad magic or version", r->frames);
		if (flags)
			return rx_fail(r, "frame %" PRIu64 ": flags %#x",
				       r->frames, flags);
		if (type == PCMIG_FRAME_END) {
			if (npages || len || offset)
				return rx_fail(r, "END with npages %u len %u offset %" PRIu64,
					       npages, len, offset);
			if (next != r->img->npages)
				return rx_fail(r, "END after %" PRIu64
					       " of %" PRIu64 " pages", next,
					       r->img->npages);
			return 0;
		}
		if (type != PCMIG_FRAME_PAGES)
			return rx_fail(r, "frame %" PRIu64 ": type %u",
				       r->frames, type);
		want = r->img->npages - next;
		if (want > r->batch)
			want = r->batch;
		if (!want || npages != want ||
		    len != (uint64_t)npages * page_size ||
		    offset != next * page_size)
			return rx_fail(r, "frame %" PRIu64 ": %u pages, %u bytes at %#" PRIx64
				       ", want %" PRIu64 " pages at %#" PRIx64,
				       r->frames, npages, len, offset, want,
				       next * page_size);
		if (r->whole) {
			if (rx_read(r, r->buf, len))
				return -1;
			for (i = 0; i < npages; i++)
				if (rx_check_page(r, r->buf + i * page_size,
						  next + i))
					return -1;
		} else {
			for (i = 0; i < npages; i++)
				if (rx_read(r, r->buf, page_size) ||
				    rx_check_page(r, r->buf, next + i))
					return -1;
		}
		next += npages;
		r->frames++;
	}
}

static void *rx_main(void *arg)
{
	struct rx *r = arg;
	uint64_t c0;

	if (r->pin && pin_self(r->cpu))
		rx_fail(r, "cannot pin the receiver to CPU %d", r->cpu);
	pthread_barrier_wait(r->ready);
	c0 = thread_cpu_ns();
	if (!r->failed)
		rx_stream(r);
	r->t_end = bench_now_ns();
	r->cpu_ns = thread_cpu_ns() - c0;
	/* Unblocks a sender stuck on a full socket. */
	if (r->failed)
		shutdown(r->fd, SHUT_RDWR);
	return NULL;
}

/* ---- the senders ---- */

/*
 * Write the whole iovec (consumed) with blocking sendmsg() calls, or with
 * MSG_DONTWAIT and poll() as source_io.c does when @dontwait.
 */
static int tx_sendmsg_all(struct tx *t, struct iovec *iov, int cnt,
			  bool dontwait)
{
	struct pollfd p = { .fd = t->fd, .events = POLLOUT };
	int flags = MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0);
	struct msghdr mh = { 0 };
	ssize_t n;

	while (cnt) {
		mh.msg_iov = iov;
		mh.msg_iovlen = cnt;
		n = sendmsg(t->fd, &mh, flags);
		t->calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN || !dontwait)
				return -errno;
			if (poll(&p, 1, -1) < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		pcmig_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

/* A header alone, with MSG_MORE when the payload follows another way. */
static int tx_send_hdr(struct tx *t, const uint8_t *hdr, int more)
{
	size_t done = 0;
	ssize_t n;

	while (done < FRAME_LEN) {
		n = send(t->fd, hdr + done, FRAME_LEN - done,
			 MSG_NOSIGNAL | more);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += n;
	}
	return 0;
}

/* sendmsg, dontwait: [header, pages] per call. */
static int tx_frames(struct tx *t, bool dontwait)
{
	uint64_t f, nf = frame_count(t->img, t->batch), first;
	uint8_t hdr[FRAME_LEN];
	struct iovec iov[2];
	uint32_t len;
	int ret;

	for (f = 0; f < nf; f++) {
		len = frame_hdr(t, hdr, f, &first);
		iov[0].iov_base = hdr;
		iov[0].iov_len = FRAME_LEN;
		iov[1].iov_base = (void *)(t->img->mem + first * page_size);
		iov[1].iov_len = len;
		ret = tx_sendmsg_all(t, iov, 2, dontwait);
		if (ret)
			return ret;
	}
	return 0;
}

/* writev: @t->frames frames, 2 iovecs each, per call. */
static int tx_writev(struct tx *t)
{
	uint64_t f, nf = frame_count(t->img, t->batch), first;
	uint8_t hdrs[MAX_FRAMES][FRAME_LEN];
	struct iovec iov[2 * MAX_FRAMES];
	unsigned int j;
	uint32_t len;
	int ret;

	for (f = 0; f < nf; f += t->frames) {
		for (j = 0; j < t->frames && f + j < nf; j++) {
			len = frame_hdr(t, hdrs[j], f + j, &first);
			iov[2 * j].iov_base = hdrs[j];
			iov[2 * j].iov_len = FRAME_LEN;
			iov[2 * j + 1].iov_base =
				(void *)(t->img->mem + first * page_size);
			iov[2 * j + 1].iov_len = len;
		}
		ret = tx_sendmsg_all(t, iov, 2 * j, false);
		if (ret)
			return ret;
	}
	return 0;
}

/* sendfile: header (MSG_MORE), then the payload from the file. */
static int tx_sendfile(struct tx *t)
{
	uint64_t f, nf = frame_count(t->img, t->batch), first;
	uint8_t hdr[FRAME_LEN];
	size_t left;
	off_t off;
	ssize_t n;
	int ret;

	for (f = 0; f < nf; f++) {
		left = frame_hdr(t, hdr, f, &first);
		ret = tx_send_hdr(t, hdr, MSG_MORE);
		if (ret)
			return ret;
		t->calls++;
		off = (off_t)(first * page_size);
		while (left) {
			n = sendfile(t->fd, t->img->fd, &off, left);
			t->calls++;
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (!n)
				return -EIO;
			left -= n;
		}
	}
	return 0;
}

/* splice: header (MSG_MORE), then file -> pipe -> socket. */
static int tx_splice(struct tx *t)
{
	const unsigned int fl = SPLICE_F_MOVE | SPLICE_F_MORE;
	uint64_t f, nf = frame_count(t->img, t->batch), first;
	uint8_t hdr[FRAME_LEN];
	size_t left, chunk;
	ssize_t n, m;
	loff_t off;
	int ret;

	for (f = 0; f < nf; f++) {
		left = frame_hdr(t, hdr, f, &first);
		ret = tx_send_hdr(t, hdr, MSG_MORE);
		if (ret)
			return ret;
		t->calls++;
		off = (loff_t)(first * page_size);
		while (left) {
			chunk = left < t->pipe_size ? left : t->pipe_size;
			n = splice(t->img->fd, &off, t->pipe[1], NULL, chunk,
				   fl);
			t->calls++;
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (!n)
				return -EIO;
			left -= n;
			while (n) {
				m = splice(t->pipe[0], NULL, t->fd, NULL, n,
					   fl);
				t->calls++;
				if (m < 0 && errno == EINTR)
					continue;
				if (m < 0)
					return -errno;
				if (!m)
					return -EIO;
				n -= m;
			}
		}
	}
	return 0;
}

/* zerocopy: mark ids [@lo, @hi] completed. */
static void zc_complete(struct zc *z, uint32_t lo, uint32_t hi, bool copied)
{
	uint64_t id, n = (uint64_t)(hi - lo) + 1;

	for (id = lo; id <= hi && id < z->cap; id++)
		z->done[id] = 1;
	z->completed += n;
	if (copied)
		z->copied += n;
	while (z->lo < z->sends && z->done[z->lo])
		z->lo++;
}

/*
 * Read the completions waiting on the error queue; with @block, wait for
 * at least one first.
 */
static int zc_reap(struct tx *t, bool block)
{
	char ctrl[CMSG_SPACE(sizeof(struct sock_extended_err) +
			     sizeof(struct sockaddr_in6))];
	struct pollfd p = { .fd = t->fd, .events = 0 };
	struct sock_extended_err *ee;
	struct zc *z = &t->zc;
	struct msghdr mh;
	struct cmsghdr *cm;
	bool got = false;
	int ret;

	z->last_reap = z->sends;
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_control = ctrl;
		mh.msg_controllen = sizeof(ctrl);
		z->reaps++;
		if (recvmsg(t->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			if (got || !block)
				return 0;
			ret = poll(&p, 1, ZC_WAIT_MS);
			if (ret < 0 && errno != EINTR)
				return -errno;
			if (!ret)
				return -ETIMEDOUT;
			continue;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_IP ||
			    cm->cmsg_type != IP_RECVERR)
				continue;
			ee = (struct sock_extended_err *)CMSG_DATA(cm);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY ||
			    ee->ee_errno)
				return -(ee->ee_errno ? ee->ee_errno : EPROTO);
			zc_complete(z, ee->ee_info, ee->ee_data,
				    ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED);
			got = true;
		}
	}
}

static int zc_grow(struct zc *z)
{
	size_t cap = z->cap ? 2 * z->cap : 4096;
	uint8_t *d;

	d = realloc(z->done, cap);
	if (!d)
		return -ENOMEM;
	memset(d + z->cap, 0, cap - z->cap);
	z->done = d;
	z->cap = cap;
	return 0;
}

/* One frame with MSG_ZEROCOPY; ENOBUFS (optmem full) waits for reaping. */
static int zc_sendmsg(struct tx *t, struct iovec *iov, int cnt)
{
	struct msghdr mh = { 0 };
	struct zc *z = &t->zc;
	ssize_t n;
	int ret;

	while (cnt) {
		if (z->sends == z->cap && zc_grow(z))
			return -ENOMEM;
		mh.msg_iov = iov;
		mh.msg_iovlen = cnt;
		n = sendmsg(t->fd, &mh, MSG_ZEROCOPY | MSG_NOSIGNAL);
		t->calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ENOBUFS)
				return -errno;
			z->nobufs++;
			/* Not ours to wait for: the limit is someone else's. */
			if (z->lo == z->sends)
				return -ENOBUFS;
			ret = zc_reap(t, true);
			if (ret)
				return ret;
			continue;
		}
		z->sends++;
		pcmig_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

/*
 * zerocopy: the kernel reads a header when it transmits, maybe after
 * sendmsg() returned, so each header keeps its slot of a ring until the
 * completion of its call is back.
 */
static int tx_zerocopy(struct tx *t)
{
	uint64_t f, nf = frame_count(t->img, t->batch), first, slot;
	static uint8_t hdrs[ZC_RING][FRAME_LEN];
	static uint64_t hdr_id[ZC_RING];
	struct zc *z = &t->zc;
	struct iovec iov[2];
	uint32_t len;
	int ret;

	for (slot = 0; slot < ZC_RING; slot++)
		hdr_id[slot] = UINT64_MAX;
	for (f = 0; f < nf; f++) {
		slot = f % ZC_RING;
		while (hdr_id[slot] != UINT64_MAX && hdr_id[slot] >= z->lo) {
			ret = zc_reap(t, true);
			if (ret)
				return ret;
		}
		len = frame_hdr(t, hdrs[slot], f, &first);
		iov[0].iov_base = hdrs[slot];
		iov[0].iov_len = FRAME_LEN;
		iov[1].iov_base = (void *)(t->img->mem + first * page_size);
		iov[1].iov_len = len;
		ret = zc_sendmsg(t, iov, 2);
		if (ret)
			return ret;
		hdr_id[slot] = z->sends - 1;
		if (z->sends - z->last_reap >= ZC_REAP_EVERY) {
			ret = zc_reap(t, false);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* After END: zerocopy waits until the kernel is done with every page. */
static int zc_drain(struct tx *t)
{
	int ret;

	while (t->zc.lo < t->zc.sends) {
		ret = zc_reap(t, true);
		if (ret)
			return ret;
	}
	return 0;
}

static int tx_run(struct tx *t, enum method m)
{
	uint8_t end[FRAME_LEN];
	int ret;

	switch (m) {
	case M_SENDMSG:
		ret = tx_frames(t, false);
		break;
	case M_DONTWAIT:
		ret = tx_frames(t, true);
		break;
	case M_WRITEV:
		ret = tx_writev(t);
		break;
	case M_SENDFILE:
		ret = tx_sendfile(t);
		break;
	case M_SPLICE:
		ret = tx_splice(t);
		break;
	case M_ZEROCOPY:
		ret = tx_zerocopy(t);
		break;
	default:
		ret = -EINVAL;
	}
	if (ret)
		return ret;
	pcmig_frame_put(end, PCMIG_FRAME_END, 0, 0, 0, 0);
	ret = tx_send_hdr(t, end, 0);
	if (!ret && m == M_ZEROCOPY)
		ret = zc_drain(t);
	return ret;
}

/* ---- one run ---- */

static int listen_loopback(struct sockaddr_in *addr)
{
	socklen_t alen = sizeof(*addr);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die_unlink("socket: %s", strerror(errno));
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) ||
	    listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)addr, &alen))
		die_unlink("listen on 127.0.0.1: %s", strerror(errno));
	return fd;
}

/* A connection as the tool makes it: TCP_NODELAY, and SO_ZEROCOPY. */
static void connect_pair(int lfd, const struct sockaddr_in *addr,
			 const struct opts *o, enum method m, int *tfd,
			 int *rfd)
{
	int one = 1;

	*tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*tfd < 0)
		die_unlink("socket: %s", strerror(errno));
	setsockopt(*tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->lowat &&
	    setsockopt(*tfd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &o->lowat,
		       sizeof(o->lowat)))
		die_unlink("TCP_NOTSENT_LOWAT: %s", strerror(errno));
	if (m == M_ZEROCOPY &&
	    setsockopt(*tfd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		die_unlink("SO_ZEROCOPY: %s", strerror(errno));
	if (connect(*tfd, (const struct sockaddr *)addr, sizeof(*addr)))
		die_unlink("connect to 127.0.0.1:%u: %s", ntohs(addr->sin_port),
		    strerror(errno));
	*rfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*rfd < 0)
		die_unlink("accept: %s", strerror(errno));
}

/*
 * Stream the whole image once with @m, @batch pages a frame; add the
 * measurements to @res. Return: 0, or -1 when the stream failed or did not
 * match (the reason is printed).
 */
static int run_case(const struct opts *o, const struct image *img,
		    int lfd, const struct sockaddr_in *addr,
		    struct result *res, bool record)
{
	pthread_barrier_t ready;
	struct rx r = { 0 };
	struct tx t = { 0 };
	uint64_t t0, c0, cpu;
	pthread_t th;
	int ret;

	connect_pair(lfd, addr, o, res->method, &t.fd, &r.fd);
	t.img = img;
	t.batch = res->batch;
	t.frames = o->frames;
	t.pipe[0] = t.pipe[1] = -1;
	if (res->method == M_SPLICE) {
		if (pipe2(t.pipe, O_CLOEXEC))
			die_unlink("pipe: %s", strerror(errno));
		/* Room for a whole frame, if the system lets us. */
		ret = fcntl(t.pipe[1], F_SETPIPE_SZ,
			    (int)(res->batch * page_size));
		if (ret < 0)
			ret = fcntl(t.pipe[1], F_GETPIPE_SZ);
		t.pipe_size = ret > 0 ? (size_t)ret : 65536;
	}

	r.img = img;
	r.batch = res->batch;
	r.whole = o->rx_whole;
	r.pin = o->pin;
	r.cpu = o->cpu_rx;
	r.ready = &ready;
	r.buf = malloc((size_t)PCMIG_FRAME_MAX_PAGES * page_size);
	if (!r.buf)
		die_unlink("out of memory");
	pthread_barrier_init(&ready, NULL, 2);
	ret = pthread_create(&th, NULL, rx_main, &r);
	if (ret)
		die_unlink("cannot start the receiver: %s", strerror(ret));
	pthread_barrier_wait(&ready);

	t0 = bench_now_ns();
	c0 = thread_cpu_ns();
	ret = tx_run(&t, res->method);
	cpu = thread_cpu_ns() - c0;
	if (ret)
		/* The receiver then sees the end of the stream. */
		shutdown(t.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&ready);

	if (r.failed || ret) {
		fprintf(stderr, "sendpath: %s-b%u: FAILED: %s%s%s\n",
			method_names[res->method], res->batch,
			r.failed ? r.err : "",
			r.failed && ret ? "; sender: " : "",
			ret ? strerror(-ret) : "");
		ret = -1;
	} else if (r.pages != img->npages ||
		   r.bytes != img->size + FRAME_LEN * (r.frames + 1)) {
		fprintf(stderr, "sendpath: %s-b%u: FAILED: %" PRIu64
			" pages, %" PRIu64 " bytes received\n",
			method_names[res->method], res->batch, r.pages,
			r.bytes);
		ret = -1;
	} else if (record) {
		if (bench_samples_add(&res->wall, r.t_end - t0) ||
		    bench_samples_add(&res->cpu, cpu) ||
		    bench_samples_add(&res->rx_cpu, r.cpu_ns) ||
		    bench_samples_add(&res->total, cpu + r.cpu_ns))
			die_unlink("out of memory");
		res->calls += t.calls;
		res->zc.sends += t.zc.sends;
		res->zc.completed += t.zc.completed;
		res->zc.copied += t.zc.copied;
		res->zc.reaps += t.zc.reaps;
		res->zc.nobufs += t.zc.nobufs;
		printf("  run %-8s b%-3u %8.1f MiB/s, sender %6.1f ms/GiB, receiver %6.1f ms/GiB, %" PRIu64 " calls\n",
		       method_names[res->method], res->batch,
		       img->size / MiB * 1e9 / (double)(r.t_end - t0),
		       cpu / 1e6 / (img->size / GiB),
		       r.cpu_ns / 1e6 / (img->size / GiB), t.calls);
	}
	free(t.zc.done);
	free(r.buf);
	if (t.pipe[0] >= 0) {
		close(t.pipe[0]);
		close(t.pipe[1]);
	}
	close(t.fd);
	close(r.fd);
	return ret;
}

/* ---- figures ---- */

static double to_mibs(const struct image *img, uint64_t ns)
{
	return ns ? img->size / MiB * 1e9 / (double)ns : 0;
}

static double to_ms_gib(const struct image *img, uint64_t ns)
{
	return ns / 1e6 / (img->size / GiB);
}

static void figures(const struct image *img, struct result *res,
		    struct figures *fg)
{
	fg->mibs = to_mibs(img, bench_percentile(&res->wall, 50));
	fg->mibs_min = to_mibs(img, bench_percentile(&res->wall, 100));
	fg->mibs_max = to_mibs(img, bench_percentile(&res->wall, 0));
	fg->cpu = to_ms_gib(img, bench_percentile(&res->cpu, 50));
	fg->cpu_min = to_ms_gib(img, bench_percentile(&res->cpu, 0));
	fg->cpu_max = to_ms_gib(img, bench_percentile(&res->cpu, 100));
	fg->rx_cpu = to_ms_gib(img, bench_percentile(&res->rx_cpu, 50));
	fg->total = to_ms_gib(img, bench_percentile(&res->total, 50));
}

/*
 * A ratio, marked '*' when the two cases' ranges over the rounds do not
 * overlap (the difference is larger than the round-to-round noise), '~'
 * when they do, ' ' for the case itself or a single round.
 */
static void fmt_ratio(char *buf, size_t len, double v, double base,
		      double lo, double hi, double blo, double bhi,
		      bool self, unsigned int rounds)
{
	char mark = ' ';

	if (!self && rounds > 1)
		mark = hi < blo || lo > bhi ? '*' : '~';
	snprintf(buf, len, "%5.2f%c", base > 0 ? v / base : 0, mark);
}

static const char *case_name(const struct result *res, char *buf,
			     size_t len)
{
	snprintf(buf, len, "%s-b%u", method_names[res->method], res->batch);
	return buf;
}

static struct result *find_case(struct result *res, unsigned int n,
				enum method m, uint32_t batch)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (res[i].method == m && res[i].batch == batch)
			return &res[i];
	return NULL;
}

static void fastest_line(const char *what, struct result *res,
			 struct figures *fg, unsigned int n, uint32_t batch,
			 bool any_batch)
{
	int best_t = -1, best_c = -1;
	char a[32], b[32];
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!any_batch && res[i].batch != batch)
			continue;
		if (best_t < 0 || fg[i].mibs > fg[best_t].mibs)
			best_t = i;
		if (best_c < 0 || fg[i].cpu < fg[best_c].cpu)
			best_c = i;
	}
	if (best_t < 0)
		return;
	printf("%s: by throughput %s (%.1f MiB/s), by sender CPU %s (%.1f ms/GiB)\n",
	       what, case_name(&res[best_t], a, sizeof(a)), fg[best_t].mibs,
	       case_name(&res[best_c], b, sizeof(b)), fg[best_c].cpu);
}

static void report(const struct opts *o, const struct image *img,
		   struct result *res, unsigned int n)
{
	struct figures *fg = calloc(n, sizeof(*fg)), *bf, *df;
	char name[32], r1[16], r2[16], r3[16], r4[16];
	struct result *base, *def;
	unsigned int i;
	uint32_t b;
	double pct;

	if (!fg)
		die_unlink("out of memory");
	for (i = 0; i < n; i++) {
		figures(img, &res[i], &fg[i]);
		case_name(&res[i], name, sizeof(name));
		bench_result(BENCH_NAME, name, "throughput", fg[i].mibs,
			     "MiB/s");
		bench_result(BENCH_NAME, name, "cpu_per_gib", fg[i].cpu,
			     "ms/GiB");
		bench_result(BENCH_NAME, name, "rx_cpu_per_gib", fg[i].rx_cpu,
			     "ms/GiB");
		bench_result(BENCH_NAME, name, "total_cpu_per_gib",
			     fg[i].total, "ms/GiB");
		if (res[i].method == M_ZEROCOPY && res[i].zc.completed)
			bench_result(BENCH_NAME, name, "zc_copied",
				     100.0 * res[i].zc.copied /
				     res[i].zc.completed, "%");
	}

	printf("\nsendpath: %.0f MiB image, %u round%s, median [min..max] over the rounds\n"
	       "  sender = the sending thread's CPU time, rcv = the receiver thread's, total = both\n"
	       "  (on loopback the kernel's TCP receive work lands on either thread: compare total too)\n"
	       "  ratios of throughput (thr) and sender CPU (cpu): against sendmsg at the same batch, and\n"
	       "  against sendmsg-b32 (the tool today); '*' = the ranges over the rounds do not overlap\n"
	       "  (outside the round-to-round noise), '~' = they overlap\n",
	       img->size / MiB, o->rounds, o->rounds == 1 ? "" : "s");
	printf("%-14s %-24s %-21s %6s %6s  %-13s %-13s\n", "",
	       "throughput", "sender CPU", "rcv", "total", "x same batch",
	       "x sendmsg-b32");
	printf("%-14s %-24s %-21s %6s %6s  %-6s %-6s %-6s %-6s\n", "case",
	       "MiB/s [min..max]", "ms/GiB [min..max]", "ms/GiB", "ms/GiB",
	       "thr", "cpu", "thr", "cpu");
	for (i = 0; i < n; i++) {
		base = find_case(res, n, M_SENDMSG, res[i].batch);
		def = find_case(res, n, M_SENDMSG, 32);
		bf = base ? &fg[base - res] : NULL;
		df = def ? &fg[def - res] : NULL;
		r1[0] = r2[0] = r3[0] = r4[0] = '\0';
		if (bf) {
			fmt_ratio(r1, sizeof(r1), fg[i].mibs, bf->mibs,
				  fg[i].mibs_min, fg[i].mibs_max,
				  bf->mibs_min, bf->mibs_max,
				  base == &res[i], o->rounds);
			fmt_ratio(r2, sizeof(r2), fg[i].cpu, bf->cpu,
				  fg[i].cpu_min, fg[i].cpu_max,
				  bf->cpu_min, bf->cpu_max,
				  base == &res[i], o->rounds);
		}
		if (df) {
			fmt_ratio(r3, sizeof(r3), fg[i].mibs, df->mibs,
				  fg[i].mibs_min, fg[i].mibs_max,
				  df->mibs_min, df->mibs_max,
				  def == &res[i], o->rounds);
			fmt_ratio(r4, sizeof(r4), fg[i].cpu, df->cpu,
				  fg[i].cpu_min, fg[i].cpu_max,
				  df->cpu_min, df->cpu_max,
				  def == &res[i], o->rounds);
		}
		printf("%-14s %7.1f [%6.1f..%6.1f] %6.1f [%5.1f..%5.1f] %6.1f %6.1f  %-6s %-6s %-6s %-6s\n",
		       case_name(&res[i], name, sizeof(name)), fg[i].mibs,
		       fg[i].mibs_min, fg[i].mibs_max, fg[i].cpu,
		       fg[i].cpu_min, fg[i].cpu_max, fg[i].rx_cpu, fg[i].total,
		       r1, r2, r3, r4);
		if (i + 1 < n && res[i + 1].batch != res[i].batch)
			putchar('\n');
	}

	putchar('\n');
	for (i = 0; i < n; i++) {
		if (res[i].method != M_ZEROCOPY)
			continue;
		pct = 0;
		if (res[i].zc.completed)
			pct = 100.0 * res[i].zc.copied / res[i].zc.completed;
		printf("%s: %" PRIu64 " zerocopy sends, %" PRIu64 " completions, %" PRIu64
		       " (%.1f%%) with SO_EE_CODE_ZEROCOPY_COPIED, %" PRIu64
		       " error-queue reads, %" PRIu64 " ENOBUFS\n",
		       case_name(&res[i], name, sizeof(name)), res[i].zc.sends,
		       res[i].zc.completed, res[i].zc.copied, pct,
		       res[i].zc.reaps, res[i].zc.nobufs);
		if (res[i].zc.copied)
			printf("%s: the kernel copied %.1f%% of the sends anyway: data looped to a local socket always gets a deferred copy, so on loopback MSG_ZEROCOPY saves no copy, it only adds page pinning and completions\n",
			       name, pct);
	}
	for (i = 0; i < o->nbatches; i++) {
		b = o->batches[i];
		snprintf(name, sizeof(name), "fastest at b%u", b);
		fastest_line(name, res, fg, n, b, false);
	}
	fastest_line("fastest", res, fg, n, 0, true);
	free(fg);
}

/* ---- the command line ---- */

static const char usage_text[] =
	"usage: sendpath [OPTIONS]\n"
	"\n"
	"Stream a memory image over loopback TCP as pcmig PAGES frames with\n"
	"each send method; compare the throughput and the sender's CPU time.\n"
	"\n"
	"  --size SIZE        image size, K/M/G suffix (default 256M)\n"
	"  --rounds N         rounds of every case, interleaved (default 3)\n"
	"  --quick            32M image, 1 round (explicit options win)\n"
	"  --methods LIST     comma-separated, of sendmsg, writev, sendfile,\n"
	"                     splice, zerocopy, dontwait (default: all but\n"
	"                     dontwait)\n"
	"  --batches LIST     pages per frame, 1-256 (default 1,32,256)\n"
	"  --frames K         frames per writev call (default 8, at most 64)\n"
	"  --pin TX,RX        pin the sending and receiving threads to CPUs\n"
	"  --rx page|frame    the receiver reads one page per recv() like the\n"
	"                     kernel's receiver (default), or a whole payload\n"
	"  --lowat BYTES      TCP_NOTSENT_LOWAT of the sending socket (the\n"
	"                     tool sets 128K on its push; default unset)\n"
	"  -h, --help         this text\n"
	"\n"
	"Exit status: 0, 1 when a run failed or a page did not match, 2 for a\n"
	"bad command line.\n";

static __printf(1, 2) void usage_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sendpath: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(2);
}

static long parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		usage_err("%s %s: want %ld to %ld", opt, s, min, max);
	return v;
}

static void parse_methods(struct opts *o, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	unsigned int m, i;

	if (!copy)
		die_unlink("out of memory");
	o->nmethods = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (m = 0; m < M_COUNT; m++)
			if (!strcmp(tok, method_names[m]))
				break;
		if (m == M_COUNT)
			usage_err("--methods: unknown method '%s'", tok);
		for (i = 0; i < o->nmethods; i++)
			if (o->methods[i] == m)
				usage_err("--methods: '%s' twice", tok);
		o->methods[o->nmethods++] = m;
	}
	free(copy);
	if (!o->nmethods)
		usage_err("--methods: empty list");
}

static void parse_batches(struct opts *o, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	unsigned int i;
	long b;

	if (!copy)
		die_unlink("out of memory");
	o->nbatches = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		b = parse_long("--batches", tok, 1, PCMIG_FRAME_MAX_PAGES);
		if (o->nbatches == MAX_BATCHES)
			usage_err("--batches: at most %d", MAX_BATCHES);
		for (i = 0; i < o->nbatches; i++)
			if (o->batches[i] == b)
				usage_err("--batches: %ld twice", b);
		o->batches[o->nbatches++] = b;
	}
	free(copy);
	if (!o->nbatches)
		usage_err("--batches: empty list");
}

enum {
	OPT_SIZE = 256,
	OPT_ROUNDS,
	OPT_QUICK,
	OPT_METHODS,
	OPT_BATCHES,
	OPT_FRAMES,
	OPT_PIN,
	OPT_RX,
	OPT_LOWAT,
};

static void parse_options(struct opts *o, int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "rounds", required_argument, NULL, OPT_ROUNDS },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "methods", required_argument, NULL, OPT_METHODS },
		{ "batches", required_argument, NULL, OPT_BATCHES },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		{ "pin", required_argument, NULL, OPT_PIN },
		{ "rx", required_argument, NULL, OPT_RX },
		{ "lowat", required_argument, NULL, OPT_LOWAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool quick = false, have_size = false, have_rounds = false;
	uint64_t v;
	char junk;
	int c;

	o->size = DEF_SIZE;
	o->rounds = DEF_ROUNDS;
	o->frames = DEF_FRAMES;
	o->methods[0] = M_SENDMSG;
	o->methods[1] = M_WRITEV;
	o->methods[2] = M_SENDFILE;
	o->methods[3] = M_SPLICE;
	o->methods[4] = M_ZEROCOPY;
	o->nmethods = 5;
	o->batches[0] = 1;
	o->batches[1] = 32;
	o->batches[2] = 256;
	o->nbatches = 3;

	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case OPT_SIZE:
			if (pcmig_parse_size(optarg, &v) || !v ||
			    v % page_size || v > (1ULL << 40))
				usage_err("--size %s: want a multiple of %ld bytes, at most 1T",
					  optarg, page_size);
			o->size = v;
			have_size = true;
			break;
		case OPT_ROUNDS:
			o->rounds = parse_long("--rounds", optarg, 1, 1000);
			have_rounds = true;
			break;
		case OPT_QUICK:
			quick = true;
			break;
		case OPT_METHODS:
			parse_methods(o, optarg);
			break;
		case OPT_BATCHES:
			parse_batches(o, optarg);
			break;
		case OPT_FRAMES:
			o->frames = parse_long("--frames", optarg, 1,
					       MAX_FRAMES);
			break;
		case OPT_PIN:
			if (sscanf(optarg, "%d,%d%c", &o->cpu_tx, &o->cpu_rx,
				   &junk) != 2 || o->cpu_tx < 0 ||
			    o->cpu_rx < 0 || o->cpu_tx >= CPU_SETSIZE ||
			    o->cpu_rx >= CPU_SETSIZE)
				usage_err("--pin %s: want TX,RX (CPU numbers)",
					  optarg);
			o->pin = true;
			break;
		case OPT_RX:
			if (!strcmp(optarg, "page"))
				o->rx_whole = false;
			else if (!strcmp(optarg, "frame"))
				o->rx_whole = true;
			else
				usage_err("--rx %s: want page or frame",
					  optarg);
			break;
		case OPT_LOWAT:
			if (pcmig_parse_size(optarg, &v) || v > INT32_MAX)
				usage_err("--lowat %s: bad size", optarg);
			o->lowat = (int)v;
			break;
		case 'h':
			printf("%s", usage_text);
			exit(0);
		default:
			usage_err("bad option");
		}
	}
	if (optind < argc)
		usage_err("unexpected argument '%s'", argv[optind]);
	if (quick && !have_size)
		o->size = QUICK_SIZE;
	if (quick && !have_rounds)
		o->rounds = 1;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	struct result *res, *r;
	struct sockaddr_in addr;
	unsigned int n, i, j, round, first;
	struct opts o = { 0 };
	struct image img;
	char sz[32];
	uint64_t t0;
	int lfd;

	page_size = sysconf(_SC_PAGESIZE);
	parse_options(&o, argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	if (o.pin && pin_self(o.cpu_tx))
		die_unlink("cannot pin the sender to CPU %d", o.cpu_tx);

	n = o.nmethods * o.nbatches;
	res = calloc(n, sizeof(*res));
	if (!res)
		die_unlink("out of memory");
	for (i = 0; i < o.nbatches; i++)
		for (j = 0; j < o.nmethods; j++) {
			r = &res[i * o.nmethods + j];
			r->method = o.methods[j];
			r->batch = o.batches[i];
		}

	t0 = bench_now_ns();
	image_create(&img, o.size);
	lfd = listen_loopback(&addr);
	snprintf(sz, sizeof(sz), "%.0f MiB", o.size / MiB);
	printf("sendpath: %s image %s (%" PRIu64 " pages, page-unique, no zero page), loopback TCP 127.0.0.1:%u, TCP_NODELAY%s\n",
	       sz, img.path, img.npages, ntohs(addr.sin_port),
	       o.lowat ? ", TCP_NOTSENT_LOWAT set" : "");
	printf("sendpath: %u round%s of %u cases, order rotated per round; writev: %u frames per call\n",
	       o.rounds, o.rounds == 1 ? "" : "s", n, o.frames);
	printf("sendpath: receiver: %s per recv(MSG_WAITALL), every page compared byte for byte with the image\n",
	       o.rx_whole ? "a whole frame's payload" :
	       "one page (as kmod/channel.c)");
	if (o.pin)
		printf("sendpath: sender pinned to CPU %d, receiver to CPU %d\n",
		       o.cpu_tx, o.cpu_rx);
	else
		printf("sendpath: threads not pinned\n");
	printf("sendpath: image written in %.2f s\n",
	       (bench_now_ns() - t0) / 1e9);

	/* Warm-up, not counted: every method once at the first batch. */
	for (j = 0; j < o.nmethods; j++)
		if (run_case(&o, &img, lfd, &addr, &res[j], false))
			goto fail;

	for (round = 0; round < o.rounds; round++) {
		printf("round %u/%u\n", round + 1, o.rounds);
		first = round * n / o.rounds;
		for (i = 0; i < n; i++)
			if (run_case(&o, &img, lfd, &addr,
				     &res[(first + i) % n], true))
				goto fail;
	}
	close(lfd);
	report(&o, &img, res, n);
	image_remove(&img);
	for (i = 0; i < n; i++) {
		bench_samples_free(&res[i].wall);
		bench_samples_free(&res[i].cpu);
		bench_samples_free(&res[i].rx_cpu);
		bench_samples_free(&res[i].total);
	}
	free(res);
	return 0;

fail:
	fprintf(stderr, "sendpath: FAILED\n");
	image_remove(&img);
	return 1;
}
