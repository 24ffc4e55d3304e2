// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the urgent connection of "pcmig-tool migrate": its thread
 * reads the REQUEST frames of the pages the destination faults on, checks
 * them and answers them at once on the same connection.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "format.h"
#include "source_int.h"

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

	nf = src_plan_replies(pages, n, s->zero_frames ? src_mem_is_zero : NULL,
			      s, r->plan);
	for (i = 0, k = 0; i < nf; k += r->plan[i].nreq, i++) {
		src_frame_iov(s, r->hdrs[i], r->iov, &niov, r->plan[i].type,
			      r->plan[i].flags, r->plan[i].first,
			      r->plan[i].npages);
		/* Zero pages counted once: copies of pages sent are not. */
		if (r->plan[i].type == PCMIG_FRAME_ZERO)
			for (j = 0; j < r->plan[i].nreq; j++)
				zero += r->first_copy[k + j];
	}
	ret = src_send_iov(s, s->urg, r->iov, niov, true);
	pthread_mutex_unlock(&s->wlock);
	if (shared) {
		pthread_mutex_lock(&s->lock);
		if (!--s->replying)
			pthread_cond_signal(&s->pusher.cond);
		pthread_mutex_unlock(&s->lock);
	}
	if (ret)
		return ret;
	ADD(&s->st.service_ns, (src_now_ns() - t_ns) * n);
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

/**
 * src_urgent_main() - the urgent thread: read requests, answer them at once
 * @arg: the migration (struct src)
 *
 * Return: NULL.
 */
void *src_urgent_main(void *arg)
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
		t = src_now_ns();
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
	if (!src_benign_failure(s))
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL | FAIL_CHANNEL,
			 "urgent connection: %s%s", what,
			 src_io_error(s, ret, buf, sizeof(buf)));
	return NULL;

violation:
	src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
		 "protocol violation on the urgent connection: %s", err);
	return NULL;
}
