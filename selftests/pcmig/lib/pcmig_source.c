// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: the test page source (see pcmig_source.h).
 *
 * Two threads per source: the reader parses the destination's REQUEST frames
 * and queues the answers, the writer sends them, so that reading never waits
 * for a write. Frames written by the test thread take the same per-socket
 * write lock as the writer's, so frames never interleave.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "pcmig_source.h"

/* How long one write may wait for room in the socket. */
#define SEND_TIMEOUT_MS		15000
/* Largest session a source serves: per-page arrays stay small. */
#define SOURCE_MAX_PAGES	(1ULL << 22)

/* Per-page state bits. */
#define PG_HELD		0x01	/* answers held back */
#define PG_PENDING	0x02	/* requested, not answered, held back */
#define PG_QUEUED	0x04	/* in the writer's queue */

static __thread char lib_error[256];

const char *pcmig_lib_error(void)
{
	return lib_error[0] ? lib_error : "(no error message)";
}

void pcmig_lib_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lib_error, sizeof(lib_error), fmt, ap);
	va_end(ap);
}

unsigned int pcmig_time_scale(void)
{
	const char *env = getenv("PCMIG_TIME_SCALE");
	unsigned long v;

	if (!env)
		return 1;
	v = strtoul(env, NULL, 10);
	return v >= 1 && v <= 100 ? (unsigned int)v : 1;
}

/* Pattern */

uint64_t pcmig_pattern_word(uint64_t seed, uint64_t page, uint64_t word)
{
	uint64_t z;

	z = seed * 0x9e3779b97f4a7c15ULL + page * 0xbf58476d1ce4e5b9ULL +
	    word * 0x94d049bb133111ebULL + 0x2545f4914f6cdd1dULL;
	z ^= z >> 33;
	z *= 0xff51afd7ed558ccdULL;
	z ^= z >> 33;
	z *= 0xc4ceb9fe1a85ec53ULL;
	z ^= z >> 33;
	return z;
}

void pcmig_pattern_fill(void *buf, size_t page_size, uint64_t seed,
			uint64_t page)
{
	unsigned char *p = buf;
	size_t w;

	for (w = 0; w < page_size / 8; w++) {
		uint64_t v = pcmig_pattern_word(seed, page, w);

		memcpy(p + w * 8, &v, 8);
	}
}

long pcmig_pattern_check(const void *buf, size_t page_size, uint64_t seed,
			 uint64_t page)
{
	const unsigned char *p = buf;
	size_t w, b;

	for (w = 0; w < page_size / 8; w++) {
		uint64_t v = pcmig_pattern_word(seed, page, w), got;

		memcpy(&got, p + w * 8, 8);
		if (got == v)
			continue;
		for (b = 0; b < 8; b++)
			if (p[w * 8 + b] != ((unsigned char *)&v)[b])
				return (long)(w * 8 + b);
	}
	return -1;
}

long pcmig_zero_check(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return (long)i;
	return -1;
}

/* Sockets */

static int tcp_pair(int fds[2])
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	int lfd, cfd = -1, afd = -1, one = 1, err;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len))
		goto fail;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		goto fail;
	if (connect(cfd, (struct sockaddr *)&sin, sizeof(sin)))
		goto fail;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		goto fail;
	close(lfd);
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fds[0] = cfd;
	fds[1] = afd;
	return 0;
fail:
	err = -errno;
	close(lfd);
	if (cfd >= 0)
		close(cfd);
	return err;
}

int pcmig_stream_pair(enum pcmig_transport transport, int fds[2])
{
	int ret;

	if (transport == PCMIG_TRANSPORT_TCP)
		ret = tcp_pair(fds);
	else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		ret = -errno;
	else
		ret = 0;
	if (ret)
		pcmig_lib_set_error("stream pair (%s): %s",
				    transport == PCMIG_TRANSPORT_TCP ?
				    "tcp" : "unix", strerror(-ret));
	return ret;
}

void pcmig_frame_encode(void *hdr, const struct pcmig_frame_desc *d)
{
	unsigned char *h = hdr;
	uint32_t v32;
	uint16_t v16;
	uint64_t v64;

	v32 = htobe32(d->magic);
	memcpy(h, &v32, 4);
	h[4] = d->version;
	h[5] = d->type;
	v16 = htobe16(d->flags);
	memcpy(h + 6, &v16, 2);
	v32 = htobe32(d->npages);
	memcpy(h + 8, &v32, 4);
	v32 = htobe32(d->len);
	memcpy(h + 12, &v32, 4);
	v64 = htobe64(d->offset);
	memcpy(h + 16, &v64, 8);
}

/* The source */

struct pcmig_source {
	int fd[2];			/* [0] urgent, [1] bulk (may equal [0]) */
	bool shared;			/* one socket for both channels */
	uint64_t size;
	uint32_t page_size;
	uint64_t npages;

	pthread_t reader, writer;
	bool threads;			/* reader and writer running */
	int stop_pipe[2];
	bool stop;

	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t cond;		/* any change */
	uint8_t *pg;			/* PG_* */
	uint32_t *req;			/* requests per page */
	uint64_t *seed;			/* pattern seed per page */
	uint64_t *queue;		/* ring of pages to answer */
	uint64_t qhead, qlen;
	bool hold_all;
	bool writing;
	uint64_t total_req, req_frames, npending;
	bool eof[2];
	uint64_t errors, write_errors;
	char first_error[200];

	pthread_mutex_t wlock[2];	/* serialise frames per socket */
};

static void src_error(struct pcmig_source *src, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void src_error(struct pcmig_source *src, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&src->lock);
	if (!src->errors++) {
		va_start(ap, fmt);
		vsnprintf(src->first_error, sizeof(src->first_error), fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&src->cond);
	pthread_mutex_unlock(&src->lock);
}

static void abstime_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Write the whole iovec; 0 or -errno. */
static int send_all(struct pcmig_source *src, int fd, struct iovec *iov,
		    int iovcnt)
{
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = iovcnt };
	ssize_t n;

	if (fd < 0)
		return -ENOTCONN;
	while (msg.msg_iovlen) {
		if (!msg.msg_iov->iov_len) {
			msg.msg_iov++;
			msg.msg_iovlen--;
			continue;
		}
		n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			struct pollfd pfd[2] = {
				{ .fd = fd, .events = POLLOUT },
				{ .fd = src->stop_pipe[0], .events = POLLIN },
			};
			int r;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			r = poll(pfd, 2, SEND_TIMEOUT_MS);
			if (r == 0)
				return -ETIMEDOUT;
			if (r < 0 && errno != EINTR)
				return -errno;
			if (pfd[1].revents)
				return -ECANCELED;
			continue;
		}
		while (n > 0) {
			size_t l = msg.msg_iov->iov_len;

			if ((size_t)n < l) {
				msg.msg_iov->iov_base =
					(char *)msg.msg_iov->iov_base + n;
				msg.msg_iov->iov_len -= n;
				n = 0;
			} else {
				n -= l;
				msg.msg_iov->iov_len = 0;
				msg.msg_iov++;
				msg.msg_iovlen--;
			}
		}
	}
	return 0;
}

static int chan_index(struct pcmig_source *src, unsigned int channel)
{
	return channel == PCMIG_CHANNEL_BULK && !src->shared ? 1 : 0;
}

static int send_locked(struct pcmig_source *src, unsigned int channel,
		       struct iovec *iov, int iovcnt)
{
	int i = chan_index(src, channel), ret;

	pthread_mutex_lock(&src->wlock[i]);
	ret = send_all(src, src->fd[i], iov, iovcnt);
	pthread_mutex_unlock(&src->wlock[i]);
	if (ret) {
		pthread_mutex_lock(&src->lock);
		src->write_errors++;
		pthread_mutex_unlock(&src->lock);
		pcmig_lib_set_error("source write: %s", strerror(-ret));
	}
	return ret;
}

int pcmig_source_send_frame(struct pcmig_source *src, unsigned int channel,
			    const struct pcmig_frame_desc *d,
			    const void *payload, size_t plen)
{
	unsigned char hdr[PCMIG_FRAME_HDR_LEN];
	struct iovec iov[2] = {
		{ .iov_base = hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = payload ? plen : 0 },
	};

	pcmig_frame_encode(hdr, d);
	return send_locked(src, channel, iov, 2);
}

int pcmig_source_send_raw(struct pcmig_source *src, unsigned int channel,
			  const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return send_locked(src, channel, &iov, 1);
}

/* Frame of @n pages from @first, seeds from @seeds[i] (or @seed if NULL). */
static int send_pages(struct pcmig_source *src, unsigned int channel,
		      uint64_t first, uint32_t n, uint16_t flags,
		      const uint64_t *seeds, uint64_t seed, void *buf)
{
	struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC,
		.version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_PAGES,
		.flags = flags,
		.npages = n,
		.len = n * src->page_size,
		.offset = first * src->page_size,
	};
	uint32_t i;

	for (i = 0; i < n; i++)
		pcmig_pattern_fill((char *)buf + (size_t)i * src->page_size,
				   src->page_size, seeds ? seeds[i] : seed,
				   first + i);
	return pcmig_source_send_frame(src, channel, &d, buf,
				       (size_t)n * src->page_size);
}

int pcmig_source_send_pages_seed(struct pcmig_source *src,
				 unsigned int channel, uint64_t first,
				 uint32_t n, uint16_t flags, uint64_t seed)
{
	void *buf;
	int ret;

	buf = malloc((size_t)n * src->page_size + 1);
	if (!buf)
		return -ENOMEM;
	ret = send_pages(src, channel, first, n, flags, NULL, seed, buf);
	free(buf);
	return ret;
}

int pcmig_source_send_pages(struct pcmig_source *src, unsigned int channel,
			    uint64_t first, uint32_t n, uint16_t flags)
{
	uint64_t *seeds;
	void *buf;
	uint32_t i;
	int ret;

	if (first + n > src->npages) {
		pcmig_lib_set_error("send_pages: %llu+%u outside the source",
				    (unsigned long long)first, n);
		return -EINVAL;
	}
	seeds = calloc(n + 1, sizeof(*seeds));
	buf = malloc((size_t)n * src->page_size + 1);
	if (!seeds || !buf) {
		free(seeds);
		free(buf);
		return -ENOMEM;
	}
	pthread_mutex_lock(&src->lock);
	for (i = 0; i < n; i++)
		seeds[i] = src->seed[first + i];
	pthread_mutex_unlock(&src->lock);
	ret = send_pages(src, channel, first, n, flags, seeds, 0, buf);
	free(seeds);
	free(buf);
	return ret;
}

int pcmig_source_push_range(struct pcmig_source *src, uint64_t first,
			    uint64_t n)
{
	int ret;

	while (n) {
		uint32_t k = n > PCMIG_FRAME_MAX_PAGES ?
			     PCMIG_FRAME_MAX_PAGES : (uint32_t)n;

		ret = pcmig_source_send_pages(src, PCMIG_CHANNEL_BULK, first,
					      k, 0);
		if (ret)
			return ret;
		first += k;
		n -= k;
	}
	return 0;
}

int pcmig_source_send_zero(struct pcmig_source *src, unsigned int channel,
			   uint64_t first, uint32_t n)
{
	struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC,
		.version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_ZERO,
		.npages = n,
		.offset = first * src->page_size,
	};

	return pcmig_source_send_frame(src, channel, &d, NULL, 0);
}

int pcmig_source_send_end(struct pcmig_source *src, unsigned int channel)
{
	struct pcmig_frame_desc d = {
		.magic = PCMIG_FRAME_MAGIC,
		.version = PCMIG_FRAME_VERSION,
		.type = PCMIG_FRAME_END,
	};

	return pcmig_source_send_frame(src, channel, &d, NULL, 0);
}

/* Queue @page for an answer; lock held. */
static void enqueue(struct pcmig_source *src, uint64_t page)
{
	if (src->pg[page] & PG_QUEUED)
		return;
	src->pg[page] |= PG_QUEUED;
	src->queue[(src->qhead + src->qlen) % src->npages] = page;
	src->qlen++;
	pthread_cond_broadcast(&src->cond);
}

/* Forget that @page has a pending request; lock held. */
static void unpend(struct pcmig_source *src, uint64_t page)
{
	src->pg[page] &= ~PG_PENDING;
	src->npending--;
}

static void *writer_main(void *arg)
{
	struct pcmig_source *src = arg;
	uint64_t seeds[PCMIG_FRAME_MAX_PAGES];
	void *buf;

	buf = malloc((size_t)PCMIG_FRAME_MAX_PAGES * src->page_size);
	if (!buf) {
		src_error(src, "writer: out of memory");
		return NULL;
	}
	pthread_mutex_lock(&src->lock);
	for (;;) {
		uint64_t first;
		uint32_t n = 0;

		while (!src->stop && !src->qlen)
			pthread_cond_wait(&src->cond, &src->lock);
		if (src->stop)
			break;
		/* A run of consecutive pages, at most one frame's worth. */
		first = src->queue[src->qhead];
		while (src->qlen && n < PCMIG_FRAME_MAX_PAGES &&
		       src->queue[src->qhead] == first + n) {
			src->pg[first + n] &= ~PG_QUEUED;
			seeds[n] = src->seed[first + n];
			src->qhead = (src->qhead + 1) % src->npages;
			src->qlen--;
			n++;
		}
		src->writing = true;
		pthread_mutex_unlock(&src->lock);
		send_pages(src, PCMIG_CHANNEL_URGENT, first, n,
			   PCMIG_FRAME_F_REQUESTED, seeds, 0, buf);
		pthread_mutex_lock(&src->lock);
		src->writing = false;
		pthread_cond_broadcast(&src->cond);
	}
	pthread_mutex_unlock(&src->lock);
	free(buf);
	return NULL;
}

/*
 * Read exactly @len bytes from @fd, waiting with the stop pipe in view.
 * Returns 0, 1 at end of file (or a reset), -1 when stopping or on error.
 */
static int read_full(struct pcmig_source *src, int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET || errno == EPIPE)
			return 1;
		if (errno == EAGAIN) {
			struct pollfd pfd[2] = {
				{ .fd = fd, .events = POLLIN },
				{ .fd = src->stop_pipe[0], .events = POLLIN },
			};

			if (poll(pfd, 2, -1) < 0 && errno != EINTR)
				return -1;
			if (pfd[1].revents)
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

/* Handle one REQUEST frame's offsets. */
static void handle_request(struct pcmig_source *src, const unsigned char *p,
			   uint32_t npages)
{
	uint32_t i;

	pthread_mutex_lock(&src->lock);
	src->req_frames++;
	for (i = 0; i < npages; i++) {
		uint64_t off, page;

		memcpy(&off, p + (size_t)i * 8, 8);
		off = be64toh(off);
		if (off % src->page_size || off >= src->size) {
			pthread_mutex_unlock(&src->lock);
			src_error(src, "request for offset 0x%llx (size 0x%llx)",
				  (unsigned long long)off,
				  (unsigned long long)src->size);
			pthread_mutex_lock(&src->lock);
			continue;
		}
		page = off / src->page_size;
		src->req[page]++;
		src->total_req++;
		if (src->hold_all || (src->pg[page] & PG_HELD)) {
			if (!(src->pg[page] & PG_PENDING)) {
				src->pg[page] |= PG_PENDING;
				src->npending++;
			}
		} else {
			enqueue(src, page);
		}
	}
	pthread_cond_broadcast(&src->cond);
	pthread_mutex_unlock(&src->lock);
}

/* Parse one frame from the urgent channel: 0 ok, 1 eof, -1 stop/broken. */
static int read_urgent_frame(struct pcmig_source *src, unsigned char *pay)
{
	unsigned char hdr[PCMIG_FRAME_HDR_LEN];
	uint32_t magic, npages, len;
	uint64_t offset;
	uint16_t flags;
	int ret;

	ret = read_full(src, src->fd[0], hdr, sizeof(hdr));
	if (ret)
		return ret;
	memcpy(&magic, hdr, 4);
	memcpy(&flags, hdr + 6, 2);
	memcpy(&npages, hdr + 8, 4);
	memcpy(&len, hdr + 12, 4);
	memcpy(&offset, hdr + 16, 8);
	magic = be32toh(magic);
	flags = be16toh(flags);
	npages = be32toh(npages);
	len = be32toh(len);
	offset = be64toh(offset);
	if (magic != PCMIG_FRAME_MAGIC || hdr[4] != PCMIG_FRAME_VERSION ||
	    hdr[5] != PCMIG_FRAME_REQUEST || flags || offset || !npages ||
	    npages > PCMIG_FRAME_MAX_REQS || len != npages * 8) {
		src_error(src,
			  "bad frame from the destination: magic 0x%x version %u type %u flags 0x%x npages %u len %u offset 0x%llx",
			  magic, hdr[4], hdr[5], flags, npages, len,
			  (unsigned long long)offset);
		if (len > PCMIG_FRAME_MAX_REQS * 8)
			return -1;	/* cannot resynchronise */
		ret = read_full(src, src->fd[0], pay, len);
		return ret;
	}
	ret = read_full(src, src->fd[0], pay, len);
	if (ret)
		return ret;
	handle_request(src, pay, npages);
	return 0;
}

static void set_eof(struct pcmig_source *src, int i)
{
	pthread_mutex_lock(&src->lock);
	src->eof[i] = true;
	if (src->shared)
		src->eof[1] = true;
	pthread_cond_broadcast(&src->cond);
	pthread_mutex_unlock(&src->lock);
}

static void *reader_main(void *arg)
{
	struct pcmig_source *src = arg;
	unsigned char pay[PCMIG_FRAME_MAX_REQS * 8];
	bool open_u = true, open_b = !src->shared && src->fd[1] >= 0;

	while (open_u || open_b) {
		struct pollfd pfd[3] = {
			{ .fd = src->stop_pipe[0], .events = POLLIN },
			{ .fd = open_u ? src->fd[0] : -1, .events = POLLIN },
			{ .fd = open_b ? src->fd[1] : -1, .events = POLLIN },
		};
		int ret;

		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents)
			break;
		if (pfd[1].revents) {
			ret = read_urgent_frame(src, pay);
			if (ret == 1) {
				set_eof(src, 0);
				open_u = false;
			} else if (ret < 0) {
				break;
			}
		}
		if (pfd[2].revents) {
			ssize_t n = recv(src->fd[1], pay, sizeof(pay),
					 MSG_DONTWAIT);

			if (n > 0) {
				src_error(src, "%zd bytes on the bulk channel",
					  n);
			} else if (n == 0 || (errno != EAGAIN &&
					      errno != EINTR)) {
				set_eof(src, 1);
				open_b = false;
			}
		}
	}
	return NULL;
}

/* Free @src and its per-page arrays. */
static void free_source(struct pcmig_source *src)
{
	free(src->pg);
	free(src->req);
	free(src->seed);
	free(src->queue);
	free(src);
}

/* Tell the threads to stop (the writer waits on the condition). */
static void set_stop(struct pcmig_source *src)
{
	pthread_mutex_lock(&src->lock);
	src->stop = true;
	pthread_cond_broadcast(&src->cond);
	pthread_mutex_unlock(&src->lock);
}

struct pcmig_source *pcmig_source_start(int urgent, int bulk, uint64_t size,
					uint32_t page_size, uint64_t seed)
{
	struct pcmig_source *src;
	pthread_condattr_t ca;
	uint64_t i;

	if (!page_size || size % page_size || !size ||
	    size / page_size > SOURCE_MAX_PAGES) {
		pcmig_lib_set_error("source: bad size %llu",
				    (unsigned long long)size);
		return NULL;
	}
	src = calloc(1, sizeof(*src));
	if (!src)
		return NULL;
	src->size = size;
	src->page_size = page_size;
	src->npages = size / page_size;
	src->fd[0] = urgent;
	src->fd[1] = bulk < 0 ? urgent : bulk;
	src->shared = src->fd[1] == src->fd[0];
	src->pg = calloc(src->npages, 1);
	src->req = calloc(src->npages, sizeof(*src->req));
	src->seed = calloc(src->npages, sizeof(*src->seed));
	src->queue = calloc(src->npages, sizeof(*src->queue));
	if (!src->pg || !src->req || !src->seed || !src->queue ||
	    pipe2(src->stop_pipe, O_CLOEXEC)) {
		pcmig_lib_set_error("source: out of memory or pipe");
		free_source(src);
		return NULL;
	}
	for (i = 0; i < src->npages; i++)
		src->seed[i] = seed;
	pthread_mutex_init(&src->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&src->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&src->wlock[0], NULL);
	pthread_mutex_init(&src->wlock[1], NULL);
	fcntl(src->fd[0], F_SETFL, fcntl(src->fd[0], F_GETFL) | O_NONBLOCK);
	if (!src->shared)
		fcntl(src->fd[1], F_SETFL,
		      fcntl(src->fd[1], F_GETFL) | O_NONBLOCK);

	if (pthread_create(&src->writer, NULL, writer_main, src)) {
		pcmig_lib_set_error("source: cannot start the writer");
		goto fail;
	}
	if (pthread_create(&src->reader, NULL, reader_main, src)) {
		pcmig_lib_set_error("source: cannot start the reader");
		set_stop(src);
		pthread_join(src->writer, NULL);
		goto fail;
	}
	src->threads = true;
	return src;
fail:
	close(src->stop_pipe[0]);
	close(src->stop_pipe[1]);
	free_source(src);
	return NULL;
}

static void stop_threads(struct pcmig_source *src)
{
	if (!src->threads)
		return;
	set_stop(src);
	if (write(src->stop_pipe[1], "x", 1) != 1)
		src_error(src, "cannot write the stop pipe");
	pthread_join(src->reader, NULL);
	pthread_join(src->writer, NULL);
	src->threads = false;
}

static void close_fds(struct pcmig_source *src)
{
	if (src->fd[1] >= 0 && !src->shared)
		close(src->fd[1]);
	if (src->fd[0] >= 0)
		close(src->fd[0]);
	src->fd[0] = src->fd[1] = -1;
}

void pcmig_source_close(struct pcmig_source *src)
{
	if (!src)
		return;
	if (src->fd[0] >= 0)
		shutdown(src->fd[0], SHUT_RDWR);
	if (src->fd[1] >= 0 && !src->shared)
		shutdown(src->fd[1], SHUT_RDWR);
	stop_threads(src);
}

void pcmig_source_shutdown_channel(struct pcmig_source *src,
				   unsigned int channel)
{
	int fd = src->fd[chan_index(src, channel)];

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

void pcmig_source_reset(struct pcmig_source *src)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (!src)
		return;
	stop_threads(src);
	if (src->fd[0] >= 0)
		setsockopt(src->fd[0], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (src->fd[1] >= 0 && !src->shared)
		setsockopt(src->fd[1], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close_fds(src);
}

void pcmig_source_free(struct pcmig_source *src)
{
	if (!src)
		return;
	stop_threads(src);
	close_fds(src);
	close(src->stop_pipe[0]);
	close(src->stop_pipe[1]);
	pthread_mutex_destroy(&src->lock);
	pthread_cond_destroy(&src->cond);
	pthread_mutex_destroy(&src->wlock[0]);
	pthread_mutex_destroy(&src->wlock[1]);
	free_source(src);
}

static void clamp_range(struct pcmig_source *src, uint64_t *first,
			uint64_t *n)
{
	if (*first > src->npages)
		*first = src->npages;
	if (*n > src->npages - *first)
		*n = src->npages - *first;
}

void pcmig_source_set_seed(struct pcmig_source *src, uint64_t first,
			   uint64_t n, uint64_t seed)
{
	uint64_t i;

	clamp_range(src, &first, &n);
	pthread_mutex_lock(&src->lock);
	for (i = first; i < first + n; i++)
		src->seed[i] = seed;
	pthread_mutex_unlock(&src->lock);
}

/* *@v, a counter or the like of @src's, read under its lock. */
static uint64_t read_locked(struct pcmig_source *src, const uint64_t *v)
{
	uint64_t n;

	pthread_mutex_lock(&src->lock);
	n = *v;
	pthread_mutex_unlock(&src->lock);
	return n;
}

uint64_t pcmig_source_seed(struct pcmig_source *src, uint64_t page)
{
	return page < src->npages ? read_locked(src, &src->seed[page]) : 0;
}

void pcmig_source_hold(struct pcmig_source *src, uint64_t first, uint64_t n)
{
	uint64_t i;

	clamp_range(src, &first, &n);
	pthread_mutex_lock(&src->lock);
	for (i = first; i < first + n; i++)
		src->pg[i] |= PG_HELD;
	pthread_mutex_unlock(&src->lock);
}

void pcmig_source_hold_all(struct pcmig_source *src, bool hold)
{
	uint64_t i;

	pthread_mutex_lock(&src->lock);
	src->hold_all = hold;
	if (!hold) {
		for (i = 0; i < src->npages; i++) {
			if ((src->pg[i] & (PG_PENDING | PG_HELD)) ==
			    PG_PENDING) {
				unpend(src, i);
				enqueue(src, i);
			}
		}
	}
	pthread_mutex_unlock(&src->lock);
}

/* Stop holding [first, first + n) and queue its pending answers; lock held. */
static void release_locked(struct pcmig_source *src, uint64_t first,
			   uint64_t n)
{
	uint64_t i;

	for (i = first; i < first + n; i++) {
		src->pg[i] &= ~PG_HELD;
		if ((src->pg[i] & PG_PENDING) && !src->hold_all) {
			unpend(src, i);
			enqueue(src, i);
		}
	}
}

void pcmig_source_release(struct pcmig_source *src, uint64_t first,
			  uint64_t n)
{
	clamp_range(src, &first, &n);
	pthread_mutex_lock(&src->lock);
	release_locked(src, first, n);
	pthread_mutex_unlock(&src->lock);
}

void pcmig_source_release_all(struct pcmig_source *src)
{
	pthread_mutex_lock(&src->lock);
	src->hold_all = false;
	release_locked(src, 0, src->npages);
	pthread_mutex_unlock(&src->lock);
}

void pcmig_source_drop_pending(struct pcmig_source *src, uint64_t first,
			       uint64_t n)
{
	uint64_t i;

	clamp_range(src, &first, &n);
	pthread_mutex_lock(&src->lock);
	for (i = first; i < first + n; i++)
		if (src->pg[i] & PG_PENDING)
			unpend(src, i);
	pthread_mutex_unlock(&src->lock);
}

uint32_t pcmig_source_requests(struct pcmig_source *src, uint64_t page)
{
	uint32_t n;

	if (page >= src->npages)
		return 0;
	pthread_mutex_lock(&src->lock);
	n = src->req[page];
	pthread_mutex_unlock(&src->lock);
	return n;
}

uint64_t pcmig_source_total_requests(struct pcmig_source *src)
{
	return read_locked(src, &src->total_req);
}

uint32_t pcmig_source_max_requests(struct pcmig_source *src,
				   uint64_t *page_out)
{
	uint32_t max = 0;
	uint64_t i, at = 0;

	pthread_mutex_lock(&src->lock);
	for (i = 0; i < src->npages; i++) {
		if (src->req[i] > max) {
			max = src->req[i];
			at = i;
		}
	}
	pthread_mutex_unlock(&src->lock);
	if (page_out)
		*page_out = at;
	return max;
}

uint64_t pcmig_source_request_frames(struct pcmig_source *src)
{
	return read_locked(src, &src->req_frames);
}

uint64_t pcmig_source_pending(struct pcmig_source *src)
{
	uint64_t n;

	pthread_mutex_lock(&src->lock);
	n = src->npending + src->qlen + (src->writing ? 1 : 0);
	pthread_mutex_unlock(&src->lock);
	return n;
}

/* Wait, lock held, until @done(src, arg) or the deadline. */
static int wait_cond(struct pcmig_source *src,
		     bool (*done)(struct pcmig_source *, const void *),
		     const void *arg, int timeout_ms)
{
	struct timespec ts;
	int ret = 0;

	abstime_after(&ts, timeout_ms);
	pthread_mutex_lock(&src->lock);
	while (!done(src, arg)) {
		if (pthread_cond_timedwait(&src->cond, &src->lock, &ts) ==
		    ETIMEDOUT) {
			ret = done(src, arg) ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&src->lock);
	return ret;
}

struct req_wait {
	uint64_t page;
	uint32_t count;
};

static bool req_done(struct pcmig_source *src, const void *arg)
{
	const struct req_wait *w = arg;

	return src->req[w->page] >= w->count;
}

int pcmig_source_wait_requests(struct pcmig_source *src, uint64_t page,
			       uint32_t count, int timeout_ms)
{
	struct req_wait w = { .page = page, .count = count };
	int ret;

	if (page >= src->npages)
		return -EINVAL;
	ret = wait_cond(src, req_done, &w, timeout_ms);
	if (ret)
		pcmig_lib_set_error("page %llu: %u requests after %d ms, waited for %u",
				    (unsigned long long)page,
				    pcmig_source_requests(src, page),
				    timeout_ms, count);
	return ret;
}

static bool idle_done(struct pcmig_source *src, const void *arg)
{
	return !src->qlen && !src->writing;
}

int pcmig_source_wait_idle(struct pcmig_source *src, int timeout_ms)
{
	return wait_cond(src, idle_done, NULL, timeout_ms);
}

static bool eof_done(struct pcmig_source *src, const void *arg)
{
	return src->eof[0] && src->eof[1];
}

int pcmig_source_wait_eof(struct pcmig_source *src, int timeout_ms)
{
	int ret = wait_cond(src, eof_done, NULL, timeout_ms);

	if (ret)
		pcmig_lib_set_error("the destination did not close its channel(s) within %d ms",
				    timeout_ms);
	return ret;
}

bool pcmig_source_eof(struct pcmig_source *src)
{
	bool r;

	pthread_mutex_lock(&src->lock);
	r = eof_done(src, NULL);
	pthread_mutex_unlock(&src->lock);
	return r;
}

uint64_t pcmig_source_errors(struct pcmig_source *src, const char **first)
{
	uint64_t n = read_locked(src, &src->errors);

	if (first)
		*first = n ? src->first_error : "";
	return n;
}

uint64_t pcmig_source_write_errors(struct pcmig_source *src)
{
	return read_locked(src, &src->write_errors);
}
