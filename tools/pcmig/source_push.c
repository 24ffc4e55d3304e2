// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the background push of "pcmig-tool migrate": every page not
 * sent yet, in address order from just after the last request, on the
 * bulk connection or between the replies on the urgent one; zero pages
 * found without reading holes; then END on every page connection.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "source_int.h"

#define PUSH_NICE	10		/* nice of the bulk pusher thread */

/* ---- zero pages ---- */

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
		return src_mem_is_zero(s, page);

	b = block_of(s, page);
	off = (off_t)(page - b->first) * s->page_size;
	d = lseek(b->fd, off, SEEK_DATA);
	if (d < 0 && errno != ENXIO)
		return src_mem_is_zero(s, page);	/* no SEEK_DATA here */
	/* ENXIO: nothing but holes up to the end of the file. */
	at = d < 0 ? b->first + b->npages :
	     b->first + (uint64_t)d / s->page_size;
	if (at <= page)
		return src_mem_is_zero(s, page);	/* swapped out */
	w->hole_first = page;
	w->hole_end = at;
	return true;
}

/* ---- the background push ---- */

/**
 * src_push_send() - write frames on the pusher's connection
 * @w: the pusher
 * @iov: the frames; consumed
 * @niov: entries of @iov
 *
 * Under the urgent connection's write lock when the pusher shares it.
 *
 * Return: 0 or a negative errno, as src_send_iov().
 */
int src_push_send(struct src_pusher *w, struct iovec *iov, int niov)
{
	struct src *s = w->s;
	int ret;

	if (!w->shared)
		return src_send_iov(s, w->fd, iov, niov, true);
	pthread_mutex_lock(&s->wlock);
	ret = src_send_iov(s, w->fd, iov, niov, true);
	pthread_mutex_unlock(&s->wlock);
	return ret;
}

/**
 * src_push_frames() - frames of the background push per sendmsg()
 * @s: the migration
 *
 * Frames of the background push per sendmsg(). More bytes per call is
 * what pays (make bench, Documentation/benchmarks.rst): one 256-page
 * frame per call (the default batch) did best end to end; gathering 32-page
 * frames 8 at a time helped on loopback but not end to end, so it is
 * there for small --batch values only. Never on a connection shared with
 * replies, which would wait behind the whole write, nor under a bandwidth
 * limit, which paces frame by frame.
 *
 * Return: the number of frames, at least 1.
 */
unsigned int src_push_frames(const struct src *s)
{
	return s->bulk < 0 || s->bandwidth ? 1 : s->frames_per_call;
}

/*
 * One step of the background push: up to src_push_frames() frames in one
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
	unsigned int k, nf = 0, max = src_push_frames(s);
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
		src_frame_iov(s, w->hdr[nf++], w->iov, &niov,
			      run.zero ? PCMIG_FRAME_ZERO : PCMIG_FRAME_PAGES,
			      0, run.first, run.npages);
		*bytes += SRC_FRAME_LEN + (run.zero ? 0 :
					   (uint64_t)run.npages * s->page_size);
	}
	if (!found)
		return -ENODATA;
	return nf ? src_push_send(w, w->iov, niov) : 0;
}

/* The push of @phase is over: send END (postcopy), tell the main thread. */
static int push_done(struct src_pusher *w, int phase)
{
	struct src *s = w->s;
	struct iovec iov = { w->hdr[0], SRC_FRAME_LEN };
	int ret;

	if (phase == PH_POSTCOPY) {
		pcmig_frame_put(w->hdr[0], PCMIG_FRAME_END, 0, 0, 0, 0);
		ret = src_push_send(w, &iov, 1);
		if (ret)
			return ret;
		if (!w->shared) {
			/* After every reply that marked a page sent. */
			iov.iov_base = w->hdr[0];
			iov.iov_len = SRC_FRAME_LEN;
			pthread_mutex_lock(&s->wlock);
			ret = src_send_iov(s, s->urg, &iov, 1, true);
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
	src_wake_main(s);
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

/**
 * src_pusher_main() - the pusher thread: the background push, then END
 * @arg: the pusher (struct src_pusher)
 *
 * Return: NULL.
 */
void *src_pusher_main(void *arg)
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
				wait = src_tb_wait_ns(&s->tb, src_now_ns());
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
			if (!src_benign_failure(s))
				src_fail(s, PCMIG_ERR_ABORTED,
					 FAIL_TELL | FAIL_CHANNEL,
					 "%s connection: %s", w->name,
					 src_io_error(s, ret, buf,
						      sizeof(buf)));
			break;
		}
	}
	return NULL;
}
