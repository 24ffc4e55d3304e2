// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the helpers that every role of "pcmig-tool migrate" shares
 * (source_int.h lists the roles): the clock, failures and the main
 * thread's wake-up, messages, writes of whole iovecs and their errors,
 * reads into a growing buffer, zero pages and frame headers.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net.h"
#include "source_int.h"

/**
 * src_now_ns() - the monotonic clock
 *
 * Return: nanoseconds of CLOCK_MONOTONIC.
 */
uint64_t src_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/**
 * src_wake_main() - kick the main thread's eventfd
 * @s: the migration
 */
void src_wake_main(struct src *s)
{
	uint64_t one = 1;
	ssize_t n;

	do {
		n = write(s->evfd, &one, sizeof(one));
	} while (n < 0 && errno == EINTR);
}

/**
 * src_close_conns() - close the control, urgent and bulk connections
 * @s: the migration, its workers stopped
 */
void src_close_conns(struct src *s)
{
	if (s->ctl >= 0)
		close(s->ctl);
	if (s->urg >= 0)
		close(s->urg);
	if (s->bulk >= 0)
		close(s->bulk);
	s->ctl = s->urg = s->bulk = -1;
}

/**
 * src_fail() - record a failure (the first one stands), wake the main thread
 * @s: the migration
 * @code: PCMIG_ERR_* for the destination
 * @flags: %FAIL_TELL, %FAIL_CHANNEL
 * @fmt: printf format of the message
 */
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
	src_wake_main(s);
}

/**
 * src_fail_peer() - record the destination's ERROR on control
 * @s: the migration
 * @perr: the ERROR
 *
 * The destination's ERROR on control. It explains a page connection that
 * broke a moment earlier (the destination closes those as it fails), so
 * it replaces such a failure; any other failure stands.
 */
void src_fail_peer(struct src *s, const struct pcmig_error_msg *perr)
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
	src_wake_main(s);
}

/**
 * src_failed() - whether a failure was recorded
 * @s: the migration
 *
 * Return: true after src_fail() or src_fail_peer().
 */
bool src_failed(struct src *s)
{
	bool ret;

	pthread_mutex_lock(&s->lock);
	ret = s->failed;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/**
 * src_msg() - an informational line on stderr, unless --quiet
 * @s: the migration
 * @fmt: printf format
 */
void src_msg(struct src *s, const char *fmt, ...)
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

/**
 * src_send_iov() - write a whole iovec
 * @s: the migration
 * @fd: the connection
 * @iov: what to write; it is consumed
 * @cnt: entries of @iov
 * @count: count the bytes in the statistics (page connections)
 *
 * Write a whole iovec (which is consumed) without blocking longer than
 * the time limit without progress.
 *
 * Return: 0, -ETIMEDOUT or another negative errno.
 */
int src_send_iov(struct src *s, int fd, struct iovec *iov, int cnt,
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
		STORE(&s->last_activity, src_now_ns());
		pcmig_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

/**
 * src_io_error() - describe an I/O error of a connection
 * @s: the migration
 * @ret: the negative errno
 * @buf: where to write the description
 * @len: size of @buf
 *
 * Return: @buf.
 */
const char *src_io_error(struct src *s, int ret, char *buf, size_t len)
{
	if (ret == -ETIMEDOUT)
		snprintf(buf, len,
			 "timed out: the link is dead, or the destination read nothing for %g s",
			 s->timeout_ms / 1000.0);
	else if (ret == -ECONNRESET || ret == -EPIPE)
		snprintf(buf, len, "closed by the destination");
	else
		snprintf(buf, len, "%s", strerror(-ret));
	return buf;
}

/* ---- zero pages ---- */

/**
 * src_mem_is_zero() - whether a page of session memory holds only zeros
 * @ctx: the migration (struct src)
 * @page: page number
 *
 * Return: true for a page of zeros.
 */
bool src_mem_is_zero(void *ctx, uint64_t page)
{
	struct src *s = ctx;

	return src_page_is_zero(s->mem + page * s->page_size, s->page_size);
}

/* ---- writing frames ---- */

/**
 * src_frame_iov() - header (and payload iovec, for PAGES) of a frame
 * @s: the migration
 * @hdr: room for the header, %SRC_FRAME_LEN bytes
 * @iov: the iovec to append to
 * @niov: entries of @iov used; one or two are added
 * @type: PCMIG_FRAME_*
 * @flags: frame flags
 * @first: first page
 * @npages: number of pages
 */
void src_frame_iov(struct src *s, uint8_t *hdr, struct iovec *iov,
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

/**
 * src_signal() - take the signal waiting on the migration's signalfd
 * @s: the migration
 *
 * Return: "SIGINT" or "SIGTERM" (now read: the operator aborts), or NULL
 * when none is waiting.
 */
const char *src_signal(struct src *s)
{
	struct signalfd_siginfo si;

	if (s->sigfd < 0 || read(s->sigfd, &si, sizeof(si)) != sizeof(si))
		return NULL;
	return si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM";
}

/**
 * src_read_more() - append what a descriptor holds to a growing buffer
 * @fd: a pipe or file; blocking, or not
 * @buf: the buffer (malloc()ed, or NULL), grown as needed
 * @len: bytes in @buf
 * @cap: bytes allocated at @buf
 * @max: more than this many bytes in all is an error
 *
 * Reads until the end of @fd, or until a non-blocking @fd has nothing now.
 * On an error @buf stays allocated: the caller frees it.
 *
 * Return: 1 at the end of @fd, 0 when there is nothing more to read now,
 * -EFBIG past @max, or another negative errno.
 */
int src_read_more(int fd, uint8_t **buf, size_t *len, size_t *cap, size_t max)
{
	uint8_t *nb;
	size_t ncap;
	ssize_t n;

	for (;;) {
		if (*len == *cap) {
			if (*cap > max)
				return -EFBIG;
			ncap = *cap ? *cap * 2 : 1 << 20;
			if (ncap > max + 1)
				ncap = max + 1;
			nb = realloc(*buf, ncap);
			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap = ncap;
		}
		n = read(fd, *buf + *len, *cap - *len);
		if (n > 0) {
			*len += n;
			if (*len > max)
				return -EFBIG;
			continue;
		}
		if (!n)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? 0 : -errno;
	}
}

/**
 * src_benign_failure() - is a connection failure harmless?
 * @s: the migration
 *
 * Only once every page went out (or when the threads are told to stop).
 *
 * Return: true if the failure is harmless.
 */
bool src_benign_failure(struct src *s)
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
	src_wake_main(s);
	return true;
}
