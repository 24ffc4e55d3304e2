// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the source side of a migration, "pcmig-tool migrate".
 *
 * The RAM files are mapped read-only, end to end, in one reserved range of
 * address space, so that page i of session memory is at mem + i * page
 * size and a frame's payload goes out with sendmsg() straight from the
 * mapping. Threads:
 *
 * main     handshakes, ADVISE, precopy steps, PACKAGED; then it waits on
 *          the control connection (PACKAGED_OK, DONE, ERROR), a signalfd
 *          (SIGINT, SIGTERM) and an eventfd the workers kick, prints the
 *          progress every second and tears everything down
 * urgent   reads REQUEST frames from the urgent connection, checks them
 *          and answers each at once on the same connection: no hand-off to
 *          another thread stands between a request and its reply
 * pusher   the background push: on the bulk connection, or, without one,
 *          on the urgent connection between the replies (while a reply
 *          waits, the pusher starts no frame there); then END
 *
 * A bitmap tells the pages sent, on any connection; the push skips them.
 * When every page is sent, END goes on every page connection: the
 * destination's kernel is done when each has carried END, and since each
 * connection is ordered, every page has then arrived. Writes on the urgent
 * connection hold a lock, and a reply marks its pages sent under it: END
 * never overtakes a reply whose page counted as sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "format.h"
#include "net.h"
#include "pcmig-tool.h"
#include "ram.h"
#include "source.h"

#define NSEC_PER_SEC	1000000000ULL
#define NSEC_PER_MSEC	1000000ULL
#define REPLY_BATCH	64		/* requests answered per sendmsg() */
#define SRC_SYNC_TOKEN	1		/* the one barrier before PACKAGED */
#define PUSH_FRAMES	8		/* push frames per sendmsg() */
#define NO_JUMP		UINT64_MAX
#define GRACE_MS	2000		/* wait for the peer's ERROR */
#define MINCORE_MAX	4096		/* pages per mincore() */
#define PUSH_NICE	10		/* nice of the bulk pusher thread */
#define NOTSENT_LOWAT	(128 << 10)	/* unsent bytes behind the push */

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

const char migrate_usage[] =
	"usage: pcmig-tool migrate --connect HOST:PORT --key-file FILE --ram NAME=FILE... --device-state SRC [OPTIONS]\n"
	"\n"
	"Migrate a VM to a destination running 'pcmig-tool incoming': the source\n"
	"side. The VM's RAM blocks are files the source VMM shares (tmpfs,\n"
	"/dev/shm, a memfd's /proc path); they are read live, never copied.\n"
	"After the handshakes and ADVISE, the device state goes out in one\n"
	"package (LISTEN, DEVICE_STATE, RUN); then pages the destination faults\n"
	"on are answered at once on the urgent connection while every other page\n"
	"is pushed in the background, in address order from the last request.\n"
	"\n"
	"  -c, --connect HOST:PORT  the destination\n"
	"  -k, --key-file FILE      pre-shared key (mode 0600, at least 16 bytes)\n"
	"  -r, --ram NAME=FILE      a RAM block; its size is the file's (a\n"
	"                           non-zero multiple of the page size); blocks\n"
	"                           are laid end to end in the order given\n"
	"  -d, --device-state SRC   the VMM's device state: a file, '-' for\n"
	"                           standard input, or cmd:COMMAND (run with\n"
	"                           /bin/sh -c, its output is the state); read\n"
	"                           whole when the package is sent\n"
	"      --no-bulk            no separate bulk connection: background pages\n"
	"                           share the urgent connection\n"
	"  -b, --bandwidth RATE     limit the background push to RATE bytes per\n"
	"                           second (K, M, G suffixes); replies to\n"
	"                           requests are never limited\n"
	"      --batch PAGES        pages per background frame (1-256; default\n"
	"                           256, or 32 with --bandwidth or --no-bulk)\n"
	"      --frames-per-call N  background frames per sendmsg() (1-8,\n"
	"                           default 1; 1 with --bandwidth or --no-bulk)\n"
	"      --precopy            push every page before the package\n"
	"      --precopy-hook CMD   after the precopy push, run CMD (/bin/sh -c);\n"
	"                           it must exit 0\n"
	"      --discard OFF:LEN    after the precopy push (and hook), make a\n"
	"                           page-aligned range missing at the destination\n"
	"                           and send it again in postcopy (repeatable;\n"
	"                           decimal with K/M/G/T or 0x hexadecimal)\n"
	"  -t, --timeout SECONDS    limit of each handshake and control exchange,\n"
	"                           of a stalled connection, and of the silence\n"
	"                           after END (default 30)\n"
	"  -j, --json               one JSON object per line on standard output:\n"
	"                           start, progress every second, done or error\n"
	"  -q, --quiet              no progress or summary, errors only\n"
	"  -h, --help               this text\n"
	"\n"
	"Exit status: 0 when the destination confirmed every page (DONE), 1 on\n"
	"any failure (the destination is told with an ERROR), 2 for a bad\n"
	"command line.\n";

enum src_phase {
	PH_IDLE,		/* no background push */
	PH_PRECOPY,		/* push every page, no END */
	PH_POSTCOPY,		/* push the rest, then END */
};

/* How a failure is handled at the end. */
#define FAIL_TELL	(1U << 0)	/* send ERROR on the control connection */
/* A page connection broke: the peer's ERROR, if one comes, says why. */
#define FAIL_CHANNEL	(1U << 1)

struct src_block {
	struct pcmig_ram ram;
	int fd;
	uint64_t first;			/* first page */
	uint64_t npages;
};

struct src_stats {
	uint64_t pages_pushed;		/* background pages, first copy */
	uint64_t pages_zero;		/* pages sent as ZERO, first copies */
	uint64_t requests;		/* requested pages answered */
	uint64_t request_frames;	/* REQUEST frames read */
	uint64_t service_ns;		/* sum of request-to-reply times */
	uint64_t bytes;			/* bytes written on page connections */
};

struct src;

struct src_pusher {
	struct src *s;
	const char *name;		/* "urgent" or "bulk" */
	int fd;
	bool shared;			/* on the urgent connection */
	pthread_cond_t cond;
	bool cond_ready;
	pthread_t thread;
	bool started;

	/* Background push. */
	uint64_t pos;			/* cursor */
	bool vec_valid;			/* residency from mincore() */
	uint64_t vec_first, vec_n;
	uint64_t hole_first, hole_end;	/* pages known to be holes */
	unsigned char vec[MINCORE_MAX];

	uint8_t hdr[PUSH_FRAMES][SRC_FRAME_LEN];
	struct iovec iov[2 * PUSH_FRAMES];
};

/* Scratch of the urgent thread, for one sendmsg() of replies. */
/*
 * Requests are read in as many bytes as the socket holds: with several
 * faulting vCPUs, each sends a frame of its own, and one read() and one
 * reply sendmsg() for all of them cost the source (and the destination's
 * receive softirq, which runs once for the whole reply) much less than a
 * round of system calls per frame.
 */
#define URG_RBUF	(4 * (SRC_FRAME_LEN + 8 * PCMIG_FRAME_MAX_REQS))

struct urg_reader {
	uint8_t buf[URG_RBUF];
	size_t len;			/* bytes in buf */
	size_t pos;			/* first byte not parsed */
};

struct src_replier {
	struct urg_reader rd;		/* requests read, not answered */
	bool first_copy[REPLY_BATCH];	/* the reply is its first copy */
	struct src_reply plan[REPLY_BATCH];
	uint8_t hdrs[REPLY_BATCH][SRC_FRAME_LEN];
	struct iovec iov[2 * REPLY_BATCH];
};

struct src {
	/* Options. */
	const char *connect;
	const char *key_file;
	const char *device_state;
	const char *precopy_hook;
	const char **discard_specs;
	unsigned int ndiscards;
	bool no_bulk, precopy, json, quiet;
	uint64_t bandwidth;
	uint32_t batch;
	uint32_t frames_per_call;
	int timeout_ms;

	/* Memory. */
	struct src_block blocks[PCMIG_MAX_BLOCKS];
	struct pcmig_block layout[PCMIG_MAX_BLOCKS];
	uint32_t nblocks;
	uint8_t *mem;
	uint64_t size, npages;
	uint32_t page_size;
	struct pcmig_wire_range *discards;
	uint8_t key[PCMIG_MAX_KEY_LEN];
	size_t keylen;

	/* Connections. */
	int ctl, urg, bulk;
	uint64_t caps;
	bool zero_frames;
	uint32_t dest_session;
	int sigfd, evfd;

	/* Shared with the workers. */
	uint64_t *sent;			/* pages sent, see the top comment */
	uint64_t nsent;			/* bits set in sent (atomic) */
	uint64_t jump;			/* cursor after a request (atomic) */
	uint64_t last_activity;		/* ns of the last byte moved (atomic) */
	int phase;			/* enum src_phase (atomic reads) */
	struct src_stats st;		/* atomic counters */

	pthread_mutex_t wlock;		/* writes on the urgent connection */

	pthread_mutex_t lock;		/* everything below */
	unsigned int replying;		/* replies waiting for wlock */
	bool stop;
	bool precopy_done, end_sent, push_finished;
	struct src_tb tb;		/* the pusher's only */
	bool failed;
	unsigned int fail_flags;
	uint32_t fail_code;
	char fail_msg[PCMIG_MAX_ERROR_TEXT];

	struct src_pusher pusher;
	struct src_replier replier;
	pthread_t reader;
	bool reader_started;

	/* Progress. */
	uint64_t t_start, t_last;
	uint64_t bytes_last;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define SUB(p, v)	__atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)

static void wake_main(struct src *s)
{
	uint64_t one = 1;
	ssize_t n;

	do {
		n = write(s->evfd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

static __printf(4, 5)
void src_fail(struct src *s, uint32_t code, unsigned int flags,
	      const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->lock);
	if (!s->failed) {
		s->failed = true;
		s->fail_code = code;
		s->fail_flags = flags;
		va_start(ap, fmt);
		vsnprintf(s->fail_msg, sizeof(s->fail_msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->lock);
	wake_main(s);
}

/*
 * The destination's ERROR on control. It explains a page connection that
 * broke a moment earlier (the destination closes those as it fails), so
 * it replaces such a failure; any other failure stands.
 */
static void src_fail_peer(struct src *s, const struct pcmig_error_msg *perr)
{
	pthread_mutex_lock(&s->lock);
	if (!s->failed || (s->fail_flags & FAIL_CHANNEL)) {
		s->failed = true;
		s->fail_code = perr->code;
		s->fail_flags = 0;
		snprintf(s->fail_msg, sizeof(s->fail_msg),
			 "destination failed: %.900s (%s)", perr->text,
			 pcmig_err_name(perr->code));
	}
	pthread_mutex_unlock(&s->lock);
	wake_main(s);
}

static bool src_failed(struct src *s)
{
	bool ret;

	pthread_mutex_lock(&s->lock);
	ret = s->failed;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static __printf(2, 3) void msg(struct src *s, const char *fmt, ...);

/* An informational line on stderr, unless --quiet. */
static void msg(struct src *s, const char *fmt, ...)
{
	va_list ap;

	if (s->quiet)
		return;
	fprintf(stderr, "pcmig-tool: migrate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* After a page connection broke with every page sent: the peer is done. */
static bool all_sent(struct src *s)
{
	return LOAD(&s->phase) == PH_POSTCOPY && LOAD(&s->nsent) == s->npages;
}

/*
 * Write a whole iovec (which is consumed) without blocking longer than
 * the time limit without progress.
 */
static int send_iov(struct src *s, int fd, struct iovec *iov, int cnt,
		    bool count)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	struct msghdr mh = { 0 };
	ssize_t n;
	int ret;

	while (cnt && !iov->iov_len) {
		iov++;
		cnt--;
	}
	while (cnt) {
		mh.msg_iov = iov;
		mh.msg_iovlen = cnt;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			ret = poll(&p, 1, s->timeout_ms);
			if (ret < 0 && errno != EINTR)
				return -errno;
			if (!ret)
				return -ETIMEDOUT;
			continue;
		}
		if (count)
			ADD(&s->st.bytes, (uint64_t)n);
		STORE(&s->last_activity, now_ns());
		pcmig_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

static const char *io_error(struct src *s, int ret, char *buf, size_t len)
{
	if (ret == -ETIMEDOUT)
		snprintf(buf, len,
			 "no progress for %g s (the destination stopped reading)",
			 s->timeout_ms / 1000.0);
	else if (ret == -ECONNRESET || ret == -EPIPE)
		snprintf(buf, len, "closed by the destination");
	else
		snprintf(buf, len, "%s", strerror(-ret));
	return buf;
}

/* ---- zero pages ---- */

static bool mem_is_zero(void *ctx, uint64_t page)
{
	struct src *s = ctx;

	return src_page_is_zero(s->mem + page * s->page_size, s->page_size);
}

static const struct src_block *block_of(const struct src *s, uint64_t page)
{
	uint32_t i;

	for (i = 1; i < s->nblocks; i++)
		if (page < s->blocks[i].first)
			break;
	return &s->blocks[i - 1];
}

/* Residency of the pages from @page on, for one push step. */
static void probe_resident(struct src_pusher *w, uint64_t page)
{
	struct src *s = w->s;
	uint64_t n = w->vec_valid ? MINCORE_MAX : s->batch + 1;

	if (n > MINCORE_MAX)
		n = MINCORE_MAX;
	if (n > s->npages - page)
		n = s->npages - page;
	w->vec_valid = true;
	w->vec_first = page;
	w->vec_n = n;
	/* Unknown residency counts as resident: the contents are read. */
	if (mincore(s->mem + page * s->page_size, n * s->page_size, w->vec))
		memset(w->vec, 1, n);
}

/*
 * Zero detection of the push. A hole in a tmpfs file is zero, and reading
 * it through the mapping would allocate memory on the source: a VM that
 * never touched most of its RAM would fill the source host's memory. So a
 * page not in the page cache (mincore(), batched) is looked up with
 * SEEK_DATA, which tells a hole from a page swapped out; only pages that
 * hold something are read. What is learnt is trusted for one push step.
 */
static bool push_is_zero(void *ctx, uint64_t page)
{
	struct src_pusher *w = ctx;
	struct src *s = w->s;
	const struct src_block *b;
	uint64_t at;
	off_t off, d;

	if (page >= w->hole_first && page < w->hole_end)
		return true;
	if (!w->vec_valid || page < w->vec_first ||
	    page >= w->vec_first + w->vec_n)
		probe_resident(w, page);
	if (w->vec[page - w->vec_first] & 1)
		return mem_is_zero(s, page);

	b = block_of(s, page);
	off = (off_t)(page - b->first) * s->page_size;
	d = lseek(b->fd, off, SEEK_DATA);
	if (d < 0 && errno != ENXIO)
		return mem_is_zero(s, page);	/* no SEEK_DATA here */
	/* ENXIO: nothing but holes up to the end of the file. */
	at = d < 0 ? b->first + b->npages :
	     b->first + (uint64_t)d / s->page_size;
	if (at <= page)
		return mem_is_zero(s, page);	/* swapped out */
	w->hole_first = page;
	w->hole_end = at;
	return true;
}

/* ---- writing frames ---- */

/* Header (and payload iovec, for PAGES) of a frame. */
static void frame_iov(struct src *s, uint8_t *hdr, struct iovec *iov,
		      int *niov, uint8_t type, uint16_t flags, uint64_t first,
		      uint32_t npages)
{
	uint32_t len = type == PCMIG_FRAME_PAGES ? npages * s->page_size : 0;

	pcmig_frame_put(hdr, type, flags, npages, len, first * s->page_size);
	iov[*niov].iov_base = hdr;
	iov[*niov].iov_len = SRC_FRAME_LEN;
	(*niov)++;
	if (len) {
		iov[*niov].iov_base = s->mem + first * s->page_size;
		iov[*niov].iov_len = len;
		(*niov)++;
	}
}

/* Is a connection failure harmless? Only once every page went out. */
static bool benign_failure(struct src *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	if (stop)
		return true;
	if (!all_sent(s))
		return false;
	/*
	 * The destination's kernel has every page and released its
	 * channels. DONE comes on control.
	 */
	pthread_mutex_lock(&s->lock);
	s->push_finished = true;
	pthread_mutex_unlock(&s->lock);
	wake_main(s);
	return true;
}

/* ---- the urgent connection: requests and their replies ---- */

/*
 * Answer @n requested pages (at most %REPLY_BATCH), read at @t_ns, with
 * one sendmsg(). Always answered, even a page sent already: the
 * destination asked because it does not have it yet.
 */
static int reply(struct src *s, const uint64_t *pages, unsigned int n,
		 uint64_t t_ns)
{
	struct src_replier *r = &s->replier;
	bool shared = s->bulk < 0;
	unsigned int i, j, k, nf, zero = 0;
	uint64_t newly = 0;
	int niov = 0, ret;

	if (shared) {
		/* Announce the reply: the pusher starts no new frame. */
		pthread_mutex_lock(&s->lock);
		s->replying++;
		pthread_mutex_unlock(&s->lock);
	}
	/* Marked sent and written as one, as far as END is concerned. */
	pthread_mutex_lock(&s->wlock);
	for (i = 0; i < n; i++) {
		r->first_copy[i] = !src_bit_test_and_set(s->sent, pages[i]);
		newly += r->first_copy[i];
	}
	if (newly)
		ADD(&s->nsent, newly);
	/* The push goes on from just after the last page asked for. */
	STORE(&s->jump, pages[n - 1] + 1);

	nf = src_plan_replies(pages, n, s->zero_frames ? mem_is_zero : NULL,
			      s, r->plan);
	for (i = 0, k = 0; i < nf; k += r->plan[i].nreq, i++) {
		frame_iov(s, r->hdrs[i], r->iov, &niov, r->plan[i].type,
			  r->plan[i].flags, r->plan[i].first,
			  r->plan[i].npages);
		/* Zero pages counted once: copies of pages sent are not. */
		if (r->plan[i].type == PCMIG_FRAME_ZERO)
			for (j = 0; j < r->plan[i].nreq; j++)
				zero += r->first_copy[k + j];
	}
	ret = send_iov(s, s->urg, r->iov, niov, true);
	pthread_mutex_unlock(&s->wlock);
	if (shared) {
		pthread_mutex_lock(&s->lock);
		if (!--s->replying)
			pthread_cond_signal(&s->pusher.cond);
		pthread_mutex_unlock(&s->lock);
	}
	if (ret)
		return ret;
	ADD(&s->st.service_ns, (now_ns() - t_ns) * n);
	ADD(&s->st.requests, (uint64_t)n);
	ADD(&s->st.pages_zero, (uint64_t)zero);
	return 0;
}

/*
 * The pages of the whole REQUEST frames buffered in @rd, at most @room;
 * reads first if not even one whole frame is buffered.
 */
static int urgent_read(struct src *s, struct urg_reader *rd, uint64_t *pages,
		       uint32_t room, uint32_t *npages, char *err,
		       size_t errlen)
{
	uint32_t frames;
	ssize_t r;
	int ret;

	for (;;) {
		ret = src_requests_take(rd->buf, rd->len, &rd->pos, s->size,
					s->page_size, pages, room, npages,
					&frames, err, errlen);
		if (ret || *npages)
			break;
		/* Not one whole frame: keep the part, read the rest. */
		memmove(rd->buf, rd->buf + rd->pos, rd->len - rd->pos);
		rd->len -= rd->pos;
		rd->pos = 0;
		r = read(s->urg, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			return -ECONNRESET;
		rd->len += (size_t)r;
	}
	ADD(&s->st.request_frames, (uint64_t)frames);
	return ret;
}

static void *urgent_main(void *arg)
{
	struct src *s = arg;
	uint64_t pages[2 * PCMIG_FRAME_MAX_REQS];
	char err[256], buf[128];
	uint32_t i, n = 0, chunk;
	const char *what = "";
	uint64_t t;
	int ret;

	for (;;) {
		ret = urgent_read(s, &s->replier.rd, pages, ARRAY_SIZE(pages), &n, err,
				  sizeof(err));
		if (ret == -EPROTO)
			goto violation;
		if (ret)
			break;
		t = now_ns();
		STORE(&s->last_activity, t);
		for (i = 0; i < n && !ret; i += chunk) {
			chunk = n - i < REPLY_BATCH ? n - i : REPLY_BATCH;
			ret = reply(s, pages + i, chunk, t);
		}
		if (ret) {
			what = "sending a reply: ";
			break;
		}
	}
	if (!benign_failure(s))
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL | FAIL_CHANNEL,
			 "urgent connection: %s%s", what,
			 io_error(s, ret, buf, sizeof(buf)));
	return NULL;

violation:
	src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
		 "protocol violation on the urgent connection: %s", err);
	return NULL;
}

/* ---- the background push ---- */

static int push_send(struct src_pusher *w, struct iovec *iov, int niov)
{
	struct src *s = w->s;
	int ret;

	if (!w->shared)
		return send_iov(s, w->fd, iov, niov, true);
	pthread_mutex_lock(&s->wlock);
	ret = send_iov(s, w->fd, iov, niov, true);
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

/*
 * Frames of the background push per sendmsg(). More bytes per call is
 * what pays (make bench, Documentation/benchmarks.rst): one 256-page
 * frame per call (the default batch) did best end to end; gathering 32-page
 * frames 8 at a time helped on loopback but not end to end, so it is
 * there for small --batch values only. Never on a connection shared with
 * replies, which would wait behind the whole write, nor under a bandwidth
 * limit, which paces frame by frame.
 */
static unsigned int push_frames(const struct src *s)
{
	return s->bulk < 0 || s->bandwidth ? 1 : s->frames_per_call;
}

/*
 * One step of the background push: up to push_frames() frames in one
 * sendmsg(); a request that comes meanwhile ends the gathering, so that
 * the push jumps after it at once. Return: 0 (*@bytes is 0 if replies
 * took every page first), -ENODATA when every page is sent, or an I/O
 * error.
 */
static int push_step(struct src_pusher *w, uint64_t *bytes)
{
	struct src *s = w->s;
	src_zero_fn zf = s->zero_frames ? push_is_zero : NULL;
	uint64_t jump = __atomic_exchange_n(&s->jump, NO_JUMP,
					    __ATOMIC_ACQ_REL);
	unsigned int k, nf = 0, max = push_frames(s);
	struct src_run run;
	bool found = false;
	int niov = 0;
	uint32_t n;

	*bytes = 0;
	if (jump != NO_JUMP)
		w->pos = jump;
	w->vec_valid = false;
	w->hole_first = w->hole_end = 0;
	for (k = 0; k < max; k++) {
		if (k && LOAD(&s->jump) != NO_JUMP)
			break;
		if (!src_next_run(s->sent, s->npages, w->pos, s->batch, zf, w,
				  &run))
			break;
		found = true;
		/* Take the pages; stop at one a reply took meanwhile. */
		for (n = 0; n < run.npages; n++)
			if (src_bit_test_and_set(s->sent, run.first + n))
				break;
		w->pos = run.first + (n ? n : 1);
		if (!n)
			continue;
		run.npages = n;
		ADD(&s->nsent, (uint64_t)n);
		ADD(&s->st.pages_pushed, (uint64_t)n);
		if (run.zero)
			ADD(&s->st.pages_zero, (uint64_t)n);
		frame_iov(s, w->hdr[nf++], w->iov, &niov,
			  run.zero ? PCMIG_FRAME_ZERO : PCMIG_FRAME_PAGES, 0,
			  run.first, run.npages);
		*bytes += SRC_FRAME_LEN + (run.zero ? 0 :
					   (uint64_t)run.npages * s->page_size);
	}
	if (!found)
		return -ENODATA;
	return nf ? push_send(w, w->iov, niov) : 0;
}

/* The push of @phase is over: send END (postcopy), tell the main thread. */
static int push_done(struct src_pusher *w, int phase)
{
	struct src *s = w->s;
	struct iovec iov = { w->hdr[0], SRC_FRAME_LEN };
	int ret;

	if (phase == PH_POSTCOPY) {
		pcmig_frame_put(w->hdr[0], PCMIG_FRAME_END, 0, 0, 0, 0);
		ret = push_send(w, &iov, 1);
		if (ret)
			return ret;
		if (!w->shared) {
			/* After every reply that marked a page sent. */
			iov.iov_base = w->hdr[0];
			iov.iov_len = SRC_FRAME_LEN;
			pthread_mutex_lock(&s->wlock);
			ret = send_iov(s, s->urg, &iov, 1, true);
			pthread_mutex_unlock(&s->wlock);
			if (ret)
				return ret;
		}
	}
	pthread_mutex_lock(&s->lock);
	if (phase == PH_POSTCOPY)
		s->end_sent = s->push_finished = true;
	else
		s->precopy_done = true;
	pthread_mutex_unlock(&s->lock);
	wake_main(s);
	return 0;
}

static bool push_wanted(struct src *s)
{
	return (s->phase == PH_PRECOPY && !s->precopy_done) ||
	       (s->phase == PH_POSTCOPY && !s->push_finished);
}

static void cond_wait_ns(pthread_cond_t *c, pthread_mutex_t *m, uint64_t ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns += ts.tv_nsec;
	ts.tv_sec += ns / NSEC_PER_SEC;
	ts.tv_nsec = ns % NSEC_PER_SEC;
	pthread_cond_timedwait(c, m, &ts);
}

static void *pusher_main(void *arg)
{
	struct src_pusher *w = arg;
	struct src *s = w->s;
	uint64_t bytes, wait;
	char buf[128];
	int phase, ret;

	/*
	 * The push is background work: when CPUs are short, a reply must not
	 * wait for the pusher's time slice.
	 */
	setpriority(PRIO_PROCESS, gettid(), PUSH_NICE);
	for (;;) {
		pthread_mutex_lock(&s->lock);
		for (;;) {
			if (s->stop)
				break;
			/* A reply waits for the urgent connection: let it. */
			if (w->shared && s->replying) {
				pthread_cond_wait(&w->cond, &s->lock);
				continue;
			}
			if (push_wanted(s)) {
				wait = src_tb_wait_ns(&s->tb, now_ns());
				if (!wait)
					break;
				cond_wait_ns(&w->cond, &s->lock, wait);
				continue;
			}
			pthread_cond_wait(&w->cond, &s->lock);
		}
		phase = s->phase;
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		pthread_mutex_unlock(&s->lock);

		ret = push_step(w, &bytes);
		if (ret == -ENODATA)
			ret = push_done(w, phase);
		else if (!ret)
			src_tb_consume(&s->tb, bytes);
		if (ret) {
			if (!benign_failure(s))
				src_fail(s, PCMIG_ERR_ABORTED,
					 FAIL_TELL | FAIL_CHANNEL,
					 "%s connection: %s", w->name,
					 io_error(s, ret, buf, sizeof(buf)));
			break;
		}
	}
	return NULL;
}

/* ---- threads ---- */

static int start_threads(struct src *s)
{
	struct src_pusher *w = &s->pusher;
	int lowat = NOTSENT_LOWAT, ret;
	pthread_condattr_t ca;

	w->s = s;
	w->shared = s->bulk < 0;
	w->fd = w->shared ? s->urg : s->bulk;
	w->name = w->shared ? "urgent" : "bulk";
	/*
	 * Keep little unsent data queued behind the push: a reply on the
	 * same socket waits behind it, and after a request the push should
	 * soon carry the pages around the requested one.
	 */
	setsockopt(w->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
		   sizeof(lowat));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->cond_ready = true;

	ret = -pthread_create(&s->reader, NULL, urgent_main, s);
	s->reader_started = !ret;
	if (!ret) {
		ret = -pthread_create(&w->thread, NULL, pusher_main, w);
		w->started = !ret;
	}
	if (ret)
		src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL,
			 "cannot start threads: %s", strerror(-ret));
	return ret;
}

static void set_phase(struct src *s, int phase)
{
	pthread_mutex_lock(&s->lock);
	STORE(&s->phase, phase);
	STORE(&s->jump, 0);		/* each phase starts at page 0 */
	if (s->pusher.cond_ready)
		pthread_cond_broadcast(&s->pusher.cond);
	pthread_mutex_unlock(&s->lock);
}

static void stop_threads(struct src *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	if (s->pusher.cond_ready)
		pthread_cond_broadcast(&s->pusher.cond);
	pthread_mutex_unlock(&s->lock);
	/* Wakes a blocked read() or poll() of the workers. */
	if (s->urg >= 0)
		shutdown(s->urg, SHUT_RDWR);
	if (s->bulk >= 0)
		shutdown(s->bulk, SHUT_RDWR);
	if (s->reader_started)
		pthread_join(s->reader, NULL);
	if (s->pusher.started)
		pthread_join(s->pusher.thread, NULL);
	s->reader_started = s->pusher.started = false;
}

/* ---- progress ---- */

static const char *phase_name(struct src *s)
{
	bool end;

	pthread_mutex_lock(&s->lock);
	end = s->end_sent;
	pthread_mutex_unlock(&s->lock);
	if (end)
		return "end";
	switch (LOAD(&s->phase)) {
	case PH_PRECOPY:
		return "precopy";
	case PH_POSTCOPY:
		return "postcopy";
	default:
		return "setup";
	}
}

static void progress(struct src *s)
{
	uint64_t t = now_ns(), bytes = LOAD(&s->st.bytes);
	uint64_t sent = LOAD(&s->nsent), reqs = LOAD(&s->st.requests);
	uint64_t dt = t - s->t_last, rate;
	char rbuf[PCMIG_FMT_LEN];

	rate = dt ? (uint64_t)((unsigned __int128)(bytes - s->bytes_last) *
			       NSEC_PER_SEC / dt) : 0;
	s->t_last = t;
	s->bytes_last = bytes;
	if (s->json) {
		printf("{\"event\":\"progress\",\"seconds\":%.3f,\"phase\":\"%s\","
		       "\"pages_sent\":%" PRIu64 ",\"pages_total\":%" PRIu64 ","
		       "\"requests_answered\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
		       "\"rate\":%" PRIu64 "}\n",
		       (double)(t - s->t_start) / NSEC_PER_SEC, phase_name(s),
		       sent, s->npages, reqs, bytes, rate);
		fflush(stdout);
	}
	if (!s->quiet)
		fprintf(stderr,
			"pcmig-tool: migrate: %s: %" PRIu64 "/%" PRIu64 " pages sent (%u%%), %" PRIu64 " requests answered, %s/s\n",
			phase_name(s), sent, s->npages,
			(unsigned int)(sent * 100 / s->npages), reqs,
			pcmig_fmt_size(rate, rbuf, sizeof(rbuf)));
}

/* ---- the control connection ---- */

enum wait_for {
	UNTIL_PRECOPY,		/* the precopy push is over */
	UNTIL_DONE,		/* DONE arrived */
};

/* One message on control. Return: 1 for DONE, 0 to go on, -1 failed. */
static int control_message(struct src *s, enum wait_for until,
			   bool *packaged_ok, struct pcmig_done *done)
{
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	void *p = NULL;
	int ret;

	ret = pcmig_msg_recv(s->ctl, &h, &p, PCMIG_DONE_LEN, s->timeout_ms,
			     &perr);
	if (ret == -ECONNABORTED) {
		src_fail_peer(s, &perr);
		return -1;
	}
	if (ret == -EPROTO) {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "malformed message on the control connection");
		return -1;
	}
	if (ret) {
		char buf[128];

		src_fail(s, PCMIG_ERR_ABORTED, 0, "control connection: %s",
			 io_error(s, ret, buf, sizeof(buf)));
		return -1;
	}
	STORE(&s->last_activity, now_ns());
	ret = -1;
	if (until == UNTIL_DONE && h.type == PCMIG_MSG_PACKAGED_OK &&
	    !*packaged_ok) {
		*packaged_ok = true;
		msg(s, "destination: device state loaded, VM running");
		if (s->json) {
			printf("{\"event\":\"running\",\"seconds\":%.3f}\n",
			       (double)(now_ns() - s->t_start) / NSEC_PER_SEC);
			fflush(stdout);
		}
		ret = 0;
	} else if (until == UNTIL_DONE && h.type == PCMIG_MSG_DONE &&
		   *packaged_ok) {
		if (pcmig_done_decode(p, h.len, done))
			src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
				 "malformed DONE");
		else
			ret = 1;
	} else {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "unexpected %s on the control connection%s",
			 pcmig_msg_name(h.type),
			 until != UNTIL_DONE ? " before PACKAGED" :
			 !*packaged_ok ? " before PACKAGED_OK" : "");
	}
	free(p);
	return ret;
}

/*
 * The main thread's wait: control messages, signals, the workers' news,
 * progress every second. Return: 0 when @until is reached, -1 on failure
 * (recorded with src_fail()).
 */
static int main_loop(struct src *s, enum wait_for until,
		     struct pcmig_done *done)
{
	struct pollfd pfd[3] = {
		{ .fd = s->ctl, .events = POLLIN },
		{ .fd = s->sigfd, .events = POLLIN },
		{ .fd = s->evfd, .events = POLLIN },
	};
	uint64_t next_tick = s->t_last + NSEC_PER_SEC, t;
	bool packaged_ok = false, finished;
	int ret, wait_ms;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		if (s->failed) {
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
		finished = s->push_finished;
		if (until == UNTIL_PRECOPY && s->precopy_done) {
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		pthread_mutex_unlock(&s->lock);

		t = now_ns();
		if (t >= next_tick) {
			progress(s);
			next_tick += NSEC_PER_SEC;
			if (next_tick <= t)
				next_tick = t + NSEC_PER_SEC;
		}
		if (finished && t - LOAD(&s->last_activity) >=
		    (uint64_t)s->timeout_ms * NSEC_PER_MSEC) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
				 "no DONE from the destination: every connection silent for %g s after the last page",
				 s->timeout_ms / 1000.0);
			return -1;
		}
		wait_ms = (int)((next_tick - t + NSEC_PER_MSEC - 1) /
				NSEC_PER_MSEC);
		if (finished && wait_ms > 100)
			wait_ms = 100;
		ret = poll(pfd, 3, wait_ms);
		if (ret < 0 && errno != EINTR) {
			src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL, "poll: %s",
				 strerror(errno));
			return -1;
		}
		if (ret <= 0)
			continue;
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(s->sigfd, &si, sizeof(si)) == sizeof(si)) {
				src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
					 "%s: migration aborted by the source%s",
					 si.ssi_signo == SIGINT ? "SIGINT" :
					 "SIGTERM",
					 LOAD(&s->phase) == PH_POSTCOPY ?
					 " (the VM runs at the destination: it cannot get its missing pages now)" :
					 "");
				return -1;
			}
		}
		if (pfd[2].revents) {
			uint64_t v;

			/* Only a wake-up: the flags above say what happened. */
			if (read(s->evfd, &v, sizeof(v)) < 0)
				v = 0;
		}
		if (pfd[0].revents) {
			ret = control_message(s, until, &packaged_ok, done);
			if (ret < 0)
				return -1;
			if (ret > 0)
				return 0;
		}
	}
}

static int ctl_send(struct src *s, const void *buf, size_t len,
		    const char *what)
{
	int ret = pcmig_write_full(s->ctl, buf, len, s->timeout_ms);
	char ebuf[128];

	if (ret)
		src_fail(s, PCMIG_ERR_ABORTED, 0, "sending %s: %s", what,
			 io_error(s, ret, ebuf, sizeof(ebuf)));
	return ret;
}

static int do_advise(struct src *s)
{
	struct pcmig_advise a = { .size = s->size, .page_size = s->page_size };
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_ADVISE_LEN];
	struct pcmig_error_msg perr;
	struct pcmig_advise_ok ok;
	struct pcmig_msg_hdr h;
	void *p = NULL;
	char ebuf[128];
	int n, ret;

	n = pcmig_advise_encode(buf, sizeof(buf), &a);
	if (n < 0 || ctl_send(s, buf, n, "ADVISE"))
		return -1;
	ret = pcmig_msg_recv(s->ctl, &h, &p, PCMIG_ADVISE_OK_LEN,
			     s->timeout_ms, &perr);
	if (ret == -ECONNABORTED) {
		src_fail(s, perr.code, 0, "destination refused ADVISE: %s (%s)",
			 perr.text, pcmig_err_name(perr.code));
		return -1;
	}
	if (ret == -EPROTO) {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "malformed answer to ADVISE");
		return -1;
	}
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, 0, "no answer to ADVISE: %s",
			 ret == -ETIMEDOUT ? "timed out" :
			 io_error(s, ret, ebuf, sizeof(ebuf)));
		return -1;
	}
	ret = h.type == PCMIG_MSG_ADVISE_OK ?
	      pcmig_advise_ok_decode(p, h.len, &ok) : -EPROTO;
	free(p);
	if (ret) {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "expected ADVISE_OK, got %s", pcmig_msg_name(h.type));
		return -1;
	}
	s->dest_session = ok.session;
	return 0;
}

/* ---- commands the source runs ---- */

/* Start "/bin/sh -c CMD", stdin from /dev/null, stdout to @out_fd. */
static int spawn_sh(const char *cmd, int out_fd, pid_t *pid)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	int ret;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	ret = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -ret;
}

/* Wait for a child; 0 if it exited 0, else a description in @buf. */
static int reap(pid_t pid, char *buf, size_t len)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(buf, len, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else
		snprintf(buf, len, "killed by %s",
			 strsignal(WTERMSIG(status)));
	return -1;
}

static int run_hook(struct src *s)
{
	char why[128];
	pid_t pid;
	int ret;

	msg(s, "running the precopy hook: %s", s->precopy_hook);
	fflush(stdout);
	/* Its output goes to stderr: stdout may carry JSON. */
	ret = spawn_sh(s->precopy_hook, 2, &pid);
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "cannot run the precopy hook: %s", strerror(-ret));
		return -1;
	}
	if (reap(pid, why, sizeof(why))) {
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "the precopy hook %s", why);
		return -1;
	}
	return 0;
}

/* Read @fd to its end into a malloc()ed buffer of at most @max bytes. */
static int read_all(int fd, uint8_t **out, size_t *outlen, size_t max)
{
	size_t cap = 0, len = 0;
	uint8_t *buf = NULL, *nb;
	ssize_t n;

	for (;;) {
		if (len == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 1)
				cap = max + 1;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			free(buf);
			return n;
		}
		if (!n)
			break;
		len += n;
		if (len > max) {
			free(buf);
			return -EFBIG;
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int read_device_state(struct src *s, uint8_t **state, size_t *len)
{
	size_t max = PCMIG_MAX_PACKAGE - pcmig_package_len(0);
	const char *src = s->device_state;
	char why[128];
	int fds[2], ret;
	pid_t pid;

	if (!strncmp(src, "cmd:", 4)) {
		if (pipe2(fds, O_CLOEXEC)) {
			ret = -errno;
			goto fail;
		}
		ret = spawn_sh(src + 4, fds[1], &pid);
		close(fds[1]);
		if (ret) {
			close(fds[0]);
			goto fail;
		}
		ret = read_all(fds[0], state, len, max);
		close(fds[0]);
		if (ret)
			kill(pid, SIGTERM);
		if (reap(pid, why, sizeof(why)) && !ret) {
			free(*state);
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
				 "device-state command %s", why);
			return -1;
		}
	} else if (!strcmp(src, "-")) {
		ret = read_all(0, state, len, max);
	} else {
		int fd = open(src, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			ret = -errno;
			goto fail;
		}
		ret = read_all(fd, state, len, max);
		close(fd);
	}
	if (!ret)
		return 0;
fail:
	if (ret == -EFBIG)
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "device state %s: larger than %zu bytes", src, max);
	else
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "device state %s: %s", src, strerror(-ret));
	return -1;
}

/* ---- the steps of a migration ---- */

/*
 * DISCARD frames, on the connection that carried the precopy pages, after
 * them: the destination's kernel makes those pages missing again in stream
 * order, so no precopy page still in flight can land after its discard.
 */
static int send_discards(struct src *s)
{
	struct src_pusher *w = &s->pusher;
	uint8_t hdrs[REPLY_BATCH][SRC_FRAME_LEN];
	struct iovec iov[REPLY_BATCH];
	uint64_t p, last, cleared = 0;
	unsigned int i, n = 0;
	char ebuf[128];
	int niov, ret;

	for (i = 0; i < s->ndiscards; i += n) {
		niov = 0;
		for (n = 0; n < REPLY_BATCH && i + n < s->ndiscards; n++)
			frame_iov(s, hdrs[n], iov, &niov, PCMIG_FRAME_DISCARD,
				  0, s->discards[i + n].offset / s->page_size,
				  s->discards[i + n].length / s->page_size);
		ret = push_send(w, iov, niov);
		if (ret) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL | FAIL_CHANNEL,
				 "%s connection: sending DISCARD: %s", w->name,
				 io_error(s, ret, ebuf, sizeof(ebuf)));
			return -1;
		}
	}
	/* Those pages go again, with what they hold now. */
	for (i = 0; i < s->ndiscards; i++) {
		p = s->discards[i].offset / s->page_size;
		last = p + s->discards[i].length / s->page_size;
		for (; p < last; p++)
			if (src_bit_test_and_clear(s->sent, p))
				cleared++;
	}
	SUB(&s->nsent, cleared);
	msg(s, "discarded %u range%s, %" PRIu64 " pages to send again",
	    s->ndiscards, s->ndiscards == 1 ? "" : "s", cleared);
	return 0;
}

/*
 * A DISCARD frame that reaches the destination's kernel after LISTEN
 * fails the session, and LISTEN follows PACKAGED, which travels on another
 * connection. So a SYNC frame goes on every page connection after the
 * discards, and a SYNC message on control before PACKAGED: the
 * destination waits until its kernel has seen the frames (PCMIG_IOC_SYNC)
 * before LISTEN.
 */
static int send_sync(struct src *s)
{
	uint8_t hdr[SRC_FRAME_LEN], m[PCMIG_MSG_HDR_LEN + PCMIG_SYNC_LEN];
	struct iovec iov = { hdr, sizeof(hdr) };
	char ebuf[128];
	int ret, n;

	pcmig_frame_put(hdr, PCMIG_FRAME_SYNC, 0, 0, 0, SRC_SYNC_TOKEN);
	ret = push_send(&s->pusher, &iov, 1);
	if (!ret && !s->pusher.shared) {
		iov.iov_base = hdr;
		iov.iov_len = sizeof(hdr);
		pthread_mutex_lock(&s->wlock);
		ret = send_iov(s, s->urg, &iov, 1, true);
		pthread_mutex_unlock(&s->wlock);
	}
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL | FAIL_CHANNEL,
			 "sending SYNC frames: %s",
			 io_error(s, ret, ebuf, sizeof(ebuf)));
		return -1;
	}
	n = pcmig_sync_encode(m, sizeof(m), SRC_SYNC_TOKEN);
	return n < 0 || ctl_send(s, m, n, "SYNC") ? -1 : 0;
}

static int send_package(struct src *s)
{
	uint8_t head[PCMIG_PACKAGE_HEAD_LEN], tail[PCMIG_PACKAGE_TAIL_LEN];
	uint8_t *state = NULL;
	struct iovec iov[3];
	char ebuf[128];
	size_t len;
	int ret;

	if (read_device_state(s, &state, &len))
		return -1;
	if (pcmig_package_frame(head, tail, len)) {
		free(state);
		src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL,
			 "device state too large for a package: %zu bytes",
			 len);
		return -1;
	}
	/* The state goes from where it was read: no second copy. */
	iov[0].iov_base = head;
	iov[0].iov_len = sizeof(head);
	iov[1].iov_base = state;
	iov[1].iov_len = len;
	iov[2].iov_base = tail;
	iov[2].iov_len = sizeof(tail);
	ret = send_iov(s, s->ctl, iov, 3, false);
	free(state);
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, 0, "sending PACKAGED: %s",
			 io_error(s, ret, ebuf, sizeof(ebuf)));
		return -1;
	}
	msg(s, "device state sent (%zu bytes), postcopy", len);
	return 0;
}

static int connect_one(struct src *s, uint8_t role, const uint8_t *sid,
		       uint64_t caps, uint64_t required, uint64_t *negotiated)
{
	struct pcmig_hs hs;
	char err[256];
	int fd;

	fd = pcmig_tcp_connect(s->connect, s->timeout_ms, err, sizeof(err));
	if (fd < 0) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", err);
		return -1;
	}
	memset(&hs, 0, sizeof(hs));
	hs.key = s->key;
	hs.keylen = s->keylen;
	hs.role = role;
	hs.caps_supported = caps;
	hs.caps_required = required;
	memcpy(hs.session_id, sid, PCMIG_SESSION_ID_LEN);
	hs.page_size = s->page_size;
	hs.nblocks = s->nblocks;
	hs.blocks = s->layout;
	hs.timeout_ms = s->timeout_ms;
	if (pcmig_hs_client(fd, &hs)) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", hs.err);
		close(fd);
		return -1;
	}
	*negotiated = hs.caps;
	return fd;
}

static int connect_all(struct src *s)
{
	uint64_t caps = PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_DISCARD, got, req = 0;
	uint8_t sid[PCMIG_SESSION_ID_LEN];

	if (!s->no_bulk)
		caps |= PCMIG_CAP_BULK_CHANNEL;
	if (s->ndiscards)
		req |= PCMIG_CAP_DISCARD;
	if (pcmig_random(sid, sizeof(sid))) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "no random numbers");
		return -1;
	}
	s->ctl = connect_one(s, PCMIG_ROLE_CONTROL, sid, caps, req, &s->caps);
	if (s->ctl < 0)
		return -1;
	s->zero_frames = s->caps & PCMIG_CAP_ZERO_PAGES;
	s->urg = connect_one(s, PCMIG_ROLE_URGENT, sid, caps, req, &got);
	if (s->urg < 0)
		return -1;
	if (s->caps & PCMIG_CAP_BULK_CHANNEL) {
		s->bulk = connect_one(s, PCMIG_ROLE_BULK, sid, caps, req, &got);
		if (s->bulk < 0)
			return -1;
	}
	return 0;
}

/* ---- set-up before connecting ---- */

static int map_ram(struct src *s)
{
	uint64_t total = 0;
	struct stat st;
	uint32_t i, j;
	void *p;

	for (i = 0; i < s->nblocks; i++) {
		struct src_block *b = &s->blocks[i];

		for (j = 0; j < i; j++)
			if (!strcmp(b->ram.block.name,
				    s->blocks[j].ram.block.name)) {
				src_fail(s, PCMIG_ERR_INTERNAL, 0,
					 "RAM block name '%s' given twice",
					 b->ram.block.name);
				return -1;
			}
		b->fd = open(b->ram.path, O_RDONLY | O_CLOEXEC);
		if (b->fd < 0 || fstat(b->fd, &st)) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0, "RAM file %s: %s",
				 b->ram.path, strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0,
				 "RAM file %s: not a regular file",
				 b->ram.path);
			return -1;
		}
		if (!st.st_size || st.st_size % s->page_size) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0,
				 "RAM file %s: size %lld is not a non-zero multiple of the page size (%u)",
				 b->ram.path, (long long)st.st_size,
				 s->page_size);
			return -1;
		}
		b->ram.block.size = st.st_size;
		b->first = total / s->page_size;
		b->npages = st.st_size / s->page_size;
		total += st.st_size;
		s->layout[i] = b->ram.block;
	}
	if (pcmig_layout_check(s->layout, s->nblocks, s->page_size, &total)) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0,
			 "RAM layout refused: at most %d blocks and %llu GiB in all",
			 PCMIG_MAX_BLOCKS,
			 (unsigned long long)(PCMIG_MAX_SIZE >> 30));
		return -1;
	}
	s->size = total;
	s->npages = total / s->page_size;

	/* One range of address space, each file mapped at its offset. */
	p = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0,
			 "cannot reserve %" PRIu64 " bytes of address space: %s",
			 total, strerror(errno));
		return -1;
	}
	s->mem = p;
	for (i = 0; i < s->nblocks; i++) {
		struct src_block *b = &s->blocks[i];

		p = mmap(s->mem + b->first * s->page_size, b->ram.block.size,
			 PROT_READ, MAP_SHARED | MAP_FIXED, b->fd, 0);
		if (p == MAP_FAILED) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0, "cannot map %s: %s",
				 b->ram.path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int setup(struct src *s)
{
	char err[512];
	unsigned int i;

	if (pcmig_key_load(s->key_file, s->key, &s->keylen, err,
			   sizeof(err))) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", err);
		return -1;
	}
	if (map_ram(s))
		return -1;
	if (s->ndiscards) {
		s->discards = calloc(s->ndiscards, sizeof(*s->discards));
		if (!s->discards)
			goto nomem;
	}
	for (i = 0; i < s->ndiscards; i++) {
		if (src_parse_range(s->discard_specs[i], s->size, s->page_size,
				    &s->discards[i], err, sizeof(err))) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", err);
			return -1;
		}
	}
	if (strcmp(s->device_state, "-") &&
	    strncmp(s->device_state, "cmd:", 4) &&
	    access(s->device_state, R_OK)) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "device state %s: %s",
			 s->device_state, strerror(errno));
		return -1;
	}
	s->sent = calloc(src_bitmap_words(s->npages), sizeof(uint64_t));
	if (!s->sent)
		goto nomem;
	return 0;
nomem:
	src_fail(s, PCMIG_ERR_INTERNAL, 0, "out of memory");
	return -1;
}

static int src_init(struct src *s)
{
	s->ctl = s->urg = s->bulk = s->sigfd = s->evfd = -1;
	s->frames_per_call = 1;
	s->timeout_ms = PCMIG_NET_TIMEOUT_MS;
	s->jump = NO_JUMP;
	s->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	return 0;
}

static void src_cleanup(struct src *s)
{
	uint32_t i;

	stop_threads(s);
	if (s->pusher.cond_ready)
		pthread_cond_destroy(&s->pusher.cond);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->lock);
	if (s->ctl >= 0)
		close(s->ctl);
	if (s->urg >= 0)
		close(s->urg);
	if (s->bulk >= 0)
		close(s->bulk);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->mem)
		munmap(s->mem, s->size);
	for (i = 0; i < s->nblocks; i++)
		if (s->blocks[i].fd >= 0)
			close(s->blocks[i].fd);
	free(s->sent);
	free(s->discards);
	free(s->discard_specs);
	memset(s->key, 0, sizeof(s->key));
}

/* ---- the end ---- */

static void report_failure(struct src *s)
{
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	struct pollfd p;
	void *payload = NULL;
	char peer[PCMIG_MAX_ERROR_TEXT + 64] = "";

	/*
	 * A page connection broke: the destination most likely says why on
	 * control. Give it a moment before talking over it.
	 */
	if ((s->fail_flags & FAIL_CHANNEL) && s->ctl >= 0) {
		p.fd = s->ctl;
		p.events = POLLIN;
		if (poll(&p, 1, GRACE_MS) > 0) {
			int ret = pcmig_msg_recv(s->ctl, &h, &payload,
						 PCMIG_DONE_LEN, GRACE_MS,
						 &perr);

			if (ret == -ECONNABORTED) {
				snprintf(peer, sizeof(peer), "%s (%s)",
					 perr.text, pcmig_err_name(perr.code));
				s->fail_flags &= ~FAIL_TELL;
			} else if (ret == -ECONNRESET) {
				s->fail_flags &= ~FAIL_TELL;
			}
			free(payload);
		}
	}
	if ((s->fail_flags & FAIL_TELL) && s->ctl >= 0)
		pcmig_msg_send_error(s->ctl, s->fail_code, s->fail_msg);

	fprintf(stderr, "pcmig-tool: migrate: %s\n", s->fail_msg);
	if (peer[0])
		fprintf(stderr, "pcmig-tool: migrate: destination failed: %s\n",
			peer);
	if (s->json) {
		printf("{\"event\":\"error\",\"seconds\":%.3f,\"message\":",
		       s->t_start ? (double)(now_ns() - s->t_start) /
		       NSEC_PER_SEC : 0.0);
		pcmig_json_fputs(stdout, s->fail_msg);
		if (peer[0]) {
			printf(",\"destination\":");
			pcmig_json_fputs(stdout, peer);
		}
		printf("}\n");
		fflush(stdout);
	}
}

static void report_done(struct src *s, const struct pcmig_done *d)
{
	uint64_t t = now_ns() - s->t_start;
	uint64_t reqs = LOAD(&s->st.requests), bytes = LOAD(&s->st.bytes);
	uint64_t mean = reqs ? LOAD(&s->st.service_ns) / reqs : 0;
	char b1[PCMIG_FMT_LEN], b2[PCMIG_FMT_LEN], b3[PCMIG_FMT_LEN];

	if (s->json) {
		printf("{\"event\":\"done\",\"seconds\":%.3f,"
		       "\"pages_total\":%" PRIu64 ",\"pages_pushed\":%" PRIu64 ","
		       "\"zero_pages\":%" PRIu64 ","
		       "\"requests_answered\":%" PRIu64 ","
		       "\"request_frames\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
		       "\"mean_request_service_ns\":%" PRIu64 ","
		       "\"destination\":{\"pages_total\":%" PRIu64 ","
		       "\"pages_received\":%" PRIu64 ",\"pages_requested\":%" PRIu64 ","
		       "\"pages_zero\":%" PRIu64 ",\"faults\":%" PRIu64 "}}\n",
		       (double)t / NSEC_PER_SEC, s->npages,
		       LOAD(&s->st.pages_pushed),
		       LOAD(&s->st.pages_zero), reqs,
		       LOAD(&s->st.request_frames), bytes, mean,
		       d->pages_total, d->pages_received, d->pages_requested,
		       d->pages_zero, d->faults);
		fflush(stdout);
	}
	msg(s, "destination: %" PRIu64 " pages, %" PRIu64 " received, %" PRIu64 " requested, %" PRIu64 " zero, %" PRIu64 " faults",
	    d->pages_total, d->pages_received, d->pages_requested,
	    d->pages_zero, d->faults);
	msg(s, "done in %s: %" PRIu64 " pages pushed, %" PRIu64 " zero, %" PRIu64 " requests answered (mean %s), %s sent",
	    pcmig_fmt_ns(t, b1, sizeof(b1)), LOAD(&s->st.pages_pushed),
	    LOAD(&s->st.pages_zero), reqs,
	    pcmig_fmt_ns(mean, b2, sizeof(b2)),
	    pcmig_fmt_size(bytes, b3, sizeof(b3)));
}

static void report_start(struct src *s)
{
	char b[PCMIG_FMT_LEN];

	msg(s, "destination session %u", s->dest_session);
	msg(s, "%s in %" PRIu64 " pages, %u block%s, %s connection%s%s",
	    pcmig_fmt_size(s->size, b, sizeof(b)), s->npages, s->nblocks,
	    s->nblocks == 1 ? "" : "s", s->bulk >= 0 ? "bulk" : "no bulk",
	    s->zero_frames ? ", zero pages as ZERO frames" : "",
	    s->precopy ? ", precopy" : "");
	if (!s->json)
		return;
	printf("{\"event\":\"start\",\"destination\":");
	pcmig_json_fputs(stdout, s->connect);
	printf(",\"session\":%u,\"size\":%" PRIu64 ",\"page_size\":%u,"
	       "\"pages\":%" PRIu64 ",\"blocks\":%u,\"bulk\":%s,"
	       "\"zero_frames\":%s,\"precopy\":%s,\"bandwidth\":%" PRIu64 ","
	       "\"batch\":%u,\"frames_per_call\":%u}\n",
	       s->dest_session, s->size, s->page_size, s->npages, s->nblocks,
	       s->bulk >= 0 ? "true" : "false",
	       s->zero_frames ? "true" : "false",
	       s->precopy ? "true" : "false", s->bandwidth, s->batch,
	       push_frames(s));
	fflush(stdout);
}

/* Everything after the handshakes. Return: 0 after DONE, -1 failed. */
static int migrate(struct src *s)
{
	struct pcmig_done done;
	uint64_t burst;
	uint8_t ack[PCMIG_MSG_HDR_LEN];
	int n;

	if (do_advise(s))
		return -1;
	if (!s->batch)
		s->batch = s->bulk < 0 || s->bandwidth ? SRC_BATCH_SHARED :
			   SRC_BATCH_DEFAULT;
	s->t_start = s->t_last = now_ns();
	STORE(&s->last_activity, s->t_start);
	report_start(s);

	burst = s->bandwidth / 10;
	if (burst < SRC_FRAME_LEN + (uint64_t)s->batch * s->page_size)
		burst = SRC_FRAME_LEN + (uint64_t)s->batch * s->page_size;
	src_tb_init(&s->tb, s->bandwidth, burst, now_ns());
	if (start_threads(s))
		return -1;

	if (s->precopy) {
		set_phase(s, PH_PRECOPY);
		if (main_loop(s, UNTIL_PRECOPY, NULL))
			return -1;
		msg(s, "precopy: every page sent");
		if (s->precopy_hook && run_hook(s))
			return -1;
		if (src_failed(s))
			return -1;
		if (s->ndiscards && (send_discards(s) || send_sync(s)))
			return -1;
	}
	if (send_package(s))
		return -1;
	set_phase(s, PH_POSTCOPY);
	if (main_loop(s, UNTIL_DONE, &done))
		return -1;

	n = pcmig_empty_encode(ack, sizeof(ack), PCMIG_MSG_DONE_ACK);
	if (ctl_send(s, ack, n, "DONE_ACK"))
		return -1;
	stop_threads(s);
	report_done(s, &done);
	return 0;
}

/* Signals arrive on a descriptor from the handshakes on. */
static int block_signals(struct src *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return s->sigfd < 0 || s->evfd < 0 ? -1 : 0;
}

static __printf(1, 2) int usage_err(const char *fmt, ...);

static int usage_err(const char *fmt, ...)
{
	const char *nl = strchr(migrate_usage, '\n');
	va_list ap;

	fprintf(stderr, "pcmig-tool migrate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%.*s\nTry 'pcmig-tool migrate --help' for more.\n",
		(int)(nl - migrate_usage), migrate_usage);
	return 2;
}

enum {
	OPT_NO_BULK = 256,
	OPT_BATCH,
	OPT_FRAMES,
	OPT_PRECOPY,
	OPT_HOOK,
	OPT_DISCARD,
};

static int parse_options(struct src *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "ram", required_argument, NULL, 'r' },
		{ "device-state", required_argument, NULL, 'd' },
		{ "no-bulk", no_argument, NULL, OPT_NO_BULK },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "frames-per-call", required_argument, NULL, OPT_FRAMES },
		{ "precopy", no_argument, NULL, OPT_PRECOPY },
		{ "precopy-hook", required_argument, NULL, OPT_HOOK },
		{ "discard", required_argument, NULL, OPT_DISCARD },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char **nd;
	char err[512], *end;
	uint64_t v;
	double d;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:k:r:d:b:t:jqh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			s->connect = optarg;
			break;
		case 'k':
			s->key_file = optarg;
			break;
		case 'r':
			if (s->nblocks == PCMIG_MAX_BLOCKS)
				return usage_err("at most %d --ram blocks",
						 PCMIG_MAX_BLOCKS);
			if (pcmig_parse_ram_file(optarg,
						 &s->blocks[s->nblocks].ram,
						 err, sizeof(err)))
				return usage_err("%s", err);
			s->blocks[s->nblocks++].fd = -1;
			break;
		case 'd':
			s->device_state = optarg;
			break;
		case OPT_NO_BULK:
			s->no_bulk = true;
			break;
		case 'b':
			if (pcmig_parse_size(optarg, &v) || !v)
				return usage_err("--bandwidth %s: want a rate in bytes per second, e.g. 100M",
						 optarg);
			s->bandwidth = v;
			break;
		case OPT_BATCH:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || !v ||
			    v > PCMIG_FRAME_MAX_PAGES)
				return usage_err("--batch %s: want 1 to %d pages",
						 optarg, PCMIG_FRAME_MAX_PAGES);
			s->batch = v;
			break;
		case OPT_FRAMES:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || !v ||
			    v > PUSH_FRAMES)
				return usage_err("--frames-per-call %s: want 1 to %d",
						 optarg, PUSH_FRAMES);
			s->frames_per_call = v;
			break;
		case OPT_PRECOPY:
			s->precopy = true;
			break;
		case OPT_HOOK:
			s->precopy_hook = optarg;
			break;
		case OPT_DISCARD:
			nd = realloc(s->discard_specs,
				     (s->ndiscards + 1) * sizeof(*nd));
			if (!nd)
				return usage_err("out of memory");
			s->discard_specs = nd;
			s->discard_specs[s->ndiscards++] = optarg;
			break;
		case 't':
			errno = 0;
			d = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(d >= 0.001) ||
			    d > 86400)
				return usage_err("--timeout %s: want seconds, more than 0 and at most 86400",
						 optarg);
			s->timeout_ms = (int)(d * 1000);
			break;
		case 'j':
			s->json = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'h':
			printf("%s", migrate_usage);
			return 0;
		default:
			return usage_err("bad option");
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	if (!s->connect)
		return usage_err("missing --connect HOST:PORT");
	if (!s->key_file)
		return usage_err("missing --key-file FILE");
	if (!s->nblocks)
		return usage_err("missing --ram NAME=FILE");
	if (!s->device_state)
		return usage_err("missing --device-state SRC");
	if (!strcmp(s->device_state, "cmd:"))
		return usage_err("--device-state cmd: needs a command");
	if ((s->precopy_hook || s->ndiscards) && !s->precopy)
		return usage_err("--precopy-hook and --discard need --precopy");
	return -1;
}

/**
 * cmd_migrate() - "pcmig-tool migrate": the source side of a migration
 * @argc: argument count, argv[0] being "migrate"
 * @argv: arguments
 *
 * Return: 0 when the destination confirmed every page, 1 on failure, 2
 * for a bad command line.
 */
int cmd_migrate(int argc, char **argv)
{
	struct src *s = calloc(1, sizeof(*s));
	int ret;

	if (!s) {
		fprintf(stderr, "pcmig-tool: migrate: out of memory\n");
		return 1;
	}
	src_init(s);
	ret = parse_options(s, argc, argv);
	if (ret >= 0)
		goto out;
	ret = 1;
	if (setup(s) || connect_all(s))
		goto fail;
	if (block_signals(s)) {
		src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL,
			 "cannot set up signals: %s", strerror(errno));
		goto fail;
	}
	if (migrate(s))
		goto fail;
	ret = 0;
	goto out;
fail:
	/* Tell the destination first, then close the page connections. */
	report_failure(s);
out:
	src_cleanup(s);
	free(s);
	return ret;
}
