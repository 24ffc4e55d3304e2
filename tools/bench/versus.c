// SPDX-License-Identifier: GPL-2.0
/*
 * versus: pcmig's destination side by side with a userfaultfd destination
 * built the way QEMU builds it and with the user-space request/response
 * floor, against one source and one wire (scripts/bench-versus).
 *
 *   server --listen H:P --image FILE
 *	the source: a thread per connection. The first byte a client sends
 *	says what the connection is: 'U' (urgent) gets REQUEST frames and
 *	answers every offset with a REQUESTED PAGES frame, all answers to a
 *	frame in one sendmsg() from a mapping of FILE (the way pcmig-tool
 *	migrate's urgent thread answers); 'B' (bulk) gets every page pushed
 *	in address order in 256-page PAGES frames, one sendmsg() each.
 *   run --connect H:P --case pcmig|uffd|floor --size SIZE --seed SEED
 *       --threads N --pages P [--push] [--fault-threads 1|2]
 *       [--source-pid PID] [--samples FILE] [--from-page N]
 *	one measurement: N threads each touch P distinct missing pages
 *	(random order, disjoint sets, at or above page N: with --push, the
 *	upper half is reached by the push last), the first read timed;
 *	then every touched page is compared whole with the image.
 *	pcmig: a session of /dev/pcmig with the connection(s) attached, in
 *	RUNNING, mapped. uffd: a MAP_SHARED memfd registered with
 *	UFFDIO_REGISTER_MODE_MISSING; fault thread(s) read the uffd events,
 *	drain them and send one REQUEST frame for all of them (QEMU's
 *	postcopy fault thread, batched like the kernel batches); a receive
 *	thread per connection reads the frames and places each page with
 *	UFFDIO_COPY, which wakes the faulting thread (QEMU's listen thread
 *	and preempt channel). floor: each thread a connection of its own,
 *	one REQUEST frame of one offset and its answer at a time, into a
 *	buffer. --push adds the bulk connection (pcmig, uffd).
 *	Prints one line 'stat key=value ...': latencies (p50, p90, p99,
 *	p99.9, mean, us), pages/s over the touching phase, the accesses that
 *	really waited for the network, and the destination's CPU per page
 *	(guest CPU time from /proc/stat minus the source process's, over the
 *	touching phase, so that kernel threads and softirq count).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/pcmig.h>

#include "bench.h"
#include "image.h"
#include "net.h"
#include "proto.h"
#include "ram.h"

#define PS		IMAGE_PAGE
#define HDR		24
#define MAX_THREADS	64
#define PUSH_BATCH	256

const char *prog = "versus";


static int send_all(int fd, struct iovec *iov, int cnt)
{
	struct msghdr mh = { 0 };
	ssize_t n;

	while (cnt) {
		mh.msg_iov = iov;
		mh.msg_iovlen = cnt;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		pcmig_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}

/* ---- the source ---- */

struct server {
	const uint8_t *image;
	uint64_t npages;
};

struct conn {
	struct server *srv;
	int fd;
};

static void serve_urgent(struct server *srv, int fd)
{
	static __thread uint8_t hdrs[PCMIG_FRAME_MAX_REQS][HDR];
	static __thread struct iovec iov[2 * PCMIG_FRAME_MAX_REQS];
	uint8_t hdr[HDR], payload[8 * PCMIG_FRAME_MAX_REQS];
	uint32_t npages, len, i;
	uint64_t off, page;
	uint16_t flags;
	uint8_t type;

	for (;;) {
		if (pcmig_read_full(fd, hdr, HDR, -1))
			return;
		if (pcmig_frame_get(hdr, &type, &flags, &npages, &len, &off) ||
		    type != PCMIG_FRAME_REQUEST || !npages ||
		    npages > PCMIG_FRAME_MAX_REQS || len != 8 * npages) {
			fprintf(stderr, "%s: server: a bad request frame\n",
				prog);
			return;
		}
		if (pcmig_read_full(fd, payload, len, -1))
			return;
		for (i = 0; i < npages; i++) {
			memcpy(&off, payload + 8 * i, 8);
			page = be64toh(off) / PS;
			if (page >= srv->npages) {
				fprintf(stderr, "%s: server: page %" PRIu64
					" out of range\n", prog, page);
				return;
			}
			pcmig_frame_put(hdrs[i], PCMIG_FRAME_PAGES,
					PCMIG_FRAME_F_REQUESTED, 1, PS,
					page * PS);
			iov[2 * i].iov_base = hdrs[i];
			iov[2 * i].iov_len = HDR;
			iov[2 * i + 1].iov_base = (void *)(srv->image +
							   page * PS);
			iov[2 * i + 1].iov_len = PS;
		}
		if (send_all(fd, iov, 2 * npages))
			return;
	}
}

static void serve_bulk(struct server *srv, int fd)
{
	uint8_t hdr[HDR];
	struct iovec iov[2];
	uint64_t page, n;

	for (page = 0; page < srv->npages; page += n) {
		n = srv->npages - page < PUSH_BATCH ? srv->npages - page :
						      PUSH_BATCH;
		pcmig_frame_put(hdr, PCMIG_FRAME_PAGES, 0, n, n * PS,
				page * PS);
		iov[0].iov_base = hdr;
		iov[0].iov_len = HDR;
		iov[1].iov_base = (void *)(srv->image + page * PS);
		iov[1].iov_len = n * PS;
		if (send_all(fd, iov, 2))
			return;
	}
	/* Everything pushed: wait for the client to hang up. */
	while (read(fd, hdr, sizeof(hdr)) > 0)
		;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	uint8_t role;

	if (!pcmig_read_full(c->fd, &role, 1, 10000)) {
		if (role == 'U')
			serve_urgent(c->srv, c->fd);
		else if (role == 'B')
			serve_bulk(c->srv, c->fd);
	}
	close(c->fd);
	free(c);
	return NULL;
}

static int cmd_server(int argc, char **argv)
{
	const char *listen_at = NULL, *image = NULL;
	struct server srv;
	struct stat stbuf;
	char err[256];
	pthread_t t;
	int opt, fd, lfd;

	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "image", required_argument, NULL, 'i' },
		{ 0 }
	};

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'l')
			listen_at = optarg;
		else if (opt == 'i')
			image = optarg;
		else
			die("server: bad option");
	}
	if (!listen_at || !image)
		die("server: --listen and --image are needed");
	fd = open(image, O_RDONLY);
	if (fd < 0 || fstat(fd, &stbuf))
		die("server: %s: %s", image, strerror(errno));
	srv.npages = (uint64_t)stbuf.st_size / PS;
	srv.image = mmap(NULL, stbuf.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (srv.image == MAP_FAILED)
		die("server: mmap: %s", strerror(errno));
	lfd = pcmig_tcp_listen(listen_at, err, sizeof(err));
	if (lfd < 0)
		die("server: %s", err);
	printf("status listening\n");
	fflush(stdout);
	for (;;) {
		struct conn *c;

		fd = pcmig_tcp_accept(lfd, -1);
		if (fd < 0)
			continue;
		c = malloc(sizeof(*c));
		if (!c)
			die("server: out of memory");
		c->srv = &srv;
		c->fd = fd;
		if (pthread_create(&t, NULL, conn_main, c))
			die("server: pthread_create failed");
		pthread_detach(t);
	}
}

/* ---- the destinations ---- */

enum dcase { CASE_PCMIG, CASE_UFFD, CASE_FLOOR };

struct run {
	enum dcase dcase;
	const char *connect;
	uint64_t size, npages, seed, from;
	unsigned int threads, pages, fault_threads;
	bool push;
	int source_pid;
	uint8_t *mem;
	uint64_t *order;		/* threads * pages page numbers */
	uint64_t *lat;			/* ns, same layout */
	pthread_barrier_t start;
	uint64_t t_start, t_end;
	/* uffd */
	int uffd, urg, bulk;
	pthread_mutex_t urg_lock;
	uint64_t uffd_events, uffd_eexist;
	volatile bool stop;
};

static int dial(struct run *r, char role)
{
	char err[256];
	int fd = pcmig_tcp_connect(r->connect, 10000, err, sizeof(err));

	if (fd < 0)
		die("connect %s: %s", r->connect, err);
	if (pcmig_write_full(fd, &role, 1, 10000))
		die("connect %s: cannot write", r->connect);
	return fd;
}

static uint64_t floor_round_trip(int fd, uint64_t page, uint8_t *buf)
{
	uint8_t req[HDR + 8], hdr[HDR];
	uint64_t off = htobe64(page * PS), t0, t1, got;
	uint32_t npages, len;
	uint16_t flags;
	uint8_t type;

	pcmig_frame_put(req, PCMIG_FRAME_REQUEST, 0, 1, 8, 0);
	memcpy(req + HDR, &off, 8);
	t0 = bench_now_ns();
	if (pcmig_write_full(fd, req, sizeof(req), 10000) ||
	    pcmig_read_full(fd, hdr, HDR, 10000) ||
	    pcmig_read_full(fd, buf, PS, 10000))
		die("floor: the round trip failed");
	t1 = bench_now_ns();
	if (pcmig_frame_get(hdr, &type, &flags, &npages, &len, &got) ||
	    type != PCMIG_FRAME_PAGES || npages != 1 || got != page * PS)
		die("floor: a wrong answer for page %" PRIu64, page);
	return t1 - t0;
}

struct worker {
	struct run *r;
	unsigned int index;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	uint64_t *order = r->order + (uint64_t)w->index * r->pages;
	uint64_t *lat = r->lat + (uint64_t)w->index * r->pages;
	uint8_t *buf = NULL;
	unsigned int i;
	uint64_t t0;
	int fd = -1;

	if (r->dcase == CASE_FLOOR) {
		fd = dial(r, 'U');
		buf = aligned_alloc(PS, PS);
		if (!buf)
			die("out of memory");
	}
	pthread_barrier_wait(&r->start);
	for (i = 0; i < r->pages; i++) {
		if (r->dcase == CASE_FLOOR) {
			lat[i] = floor_round_trip(fd, order[i], buf);
			if (!image_page_ok((uint64_t *)buf, r->seed, order[i],
					   false))
				die("floor: page %" PRIu64 " is wrong",
				    order[i]);
			continue;
		}
		t0 = bench_now_ns();
		(void)*(volatile uint64_t *)(r->mem + order[i] * PS);
		lat[i] = bench_now_ns() - t0;
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* uffd: QEMU's fault thread. */
static void *uffd_fault_main(void *arg)
{
	struct run *r = arg;
	struct uffd_msg msg[64];
	uint8_t frame[HDR + 8 * 64];
	struct pollfd p = { .fd = r->uffd, .events = POLLIN };
	ssize_t n;
	int i, cnt;

	while (!r->stop) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(r->uffd, msg, sizeof(msg));
		if (n <= 0)
			continue;
		cnt = 0;
		for (i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
			uint64_t off;

			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				continue;
			off = (msg[i].arg.pagefault.address -
			       (uintptr_t)r->mem) & ~(PS - 1);
			off = htobe64(off);
			memcpy(frame + HDR + 8 * cnt++, &off, 8);
		}
		if (!cnt)
			continue;
		__atomic_add_fetch(&r->uffd_events, cnt, __ATOMIC_RELAXED);
		pcmig_frame_put(frame, PCMIG_FRAME_REQUEST, 0, cnt, 8 * cnt, 0);
		pthread_mutex_lock(&r->urg_lock);
		if (pcmig_write_full(r->urg, frame, HDR + 8 * cnt, 10000))
			die("uffd: sending a request failed");
		pthread_mutex_unlock(&r->urg_lock);
	}
	return NULL;
}

struct receiver {
	struct run *r;
	int fd;
};

/* uffd: QEMU's listen thread / preempt channel: place the pages. */
static void *uffd_recv_main(void *arg)
{
	struct receiver *rc = arg;
	struct run *r = rc->r;
	uint8_t hdr[HDR], *buf;
	uint32_t npages, len, i;
	uint64_t off;
	uint16_t flags;
	uint8_t type;

	buf = aligned_alloc(PS, PUSH_BATCH * PS);
	if (!buf)
		die("out of memory");
	for (;;) {
		if (pcmig_read_full(rc->fd, hdr, HDR, -1))
			break;
		if (pcmig_frame_get(hdr, &type, &flags, &npages, &len, &off) ||
		    type != PCMIG_FRAME_PAGES || npages > PUSH_BATCH ||
		    len != npages * PS || off / PS + npages > r->npages)
			die("uffd: a bad frame");
		if (pcmig_read_full(rc->fd, buf, len, -1))
			break;
		for (i = 0; i < npages; i++) {
			struct uffdio_copy c = {
				.dst = (uintptr_t)r->mem + off + i * PS,
				.src = (uintptr_t)buf + i * PS,
				.len = PS,
			};

			if (ioctl(r->uffd, UFFDIO_COPY, &c) == 0)
				continue;
			if (errno == EEXIST)
				__atomic_add_fetch(&r->uffd_eexist, 1,
						   __ATOMIC_RELAXED);
			else if (!r->stop)
				die("UFFDIO_COPY: %s", strerror(errno));
		}
	}
	free(buf);
	return NULL;
}

static int pcmig_session(struct run *r)
{
	struct pcmig_create c = {
		.size = r->size, .page_size = PS,
		.flags = PCMIG_CREATE_F_AUTO_DESTROY,
	};
	struct pcmig_attach a = { 0 };
	struct pcmig_set_state st = { 0 };
	int ctl, fd;

	snprintf(c.name, sizeof(c.name), "versus-%d", getpid());
	ctl = open("/dev/pcmig", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		die("/dev/pcmig: %s", strerror(errno));
	fd = ioctl(ctl, PCMIG_IOC_CREATE, &c);
	if (fd < 0)
		die("PCMIG_IOC_CREATE: %s", strerror(errno));
	close(ctl);
	a.fd = dial(r, 'U');
	a.channels = PCMIG_CHANNEL_URGENT;
	if (ioctl(fd, PCMIG_IOC_ATTACH, &a))
		die("PCMIG_IOC_ATTACH: %s", strerror(errno));
	close(a.fd);
	if (r->push) {
		a.fd = dial(r, 'B');
		a.channels = PCMIG_CHANNEL_BULK;
		if (ioctl(fd, PCMIG_IOC_ATTACH, &a))
			die("PCMIG_IOC_ATTACH: %s", strerror(errno));
		close(a.fd);
	}
	st.state = PCMIG_STATE_LISTEN;
	if (ioctl(fd, PCMIG_IOC_SET_STATE, &st))
		die("LISTEN: %s", strerror(errno));
	st.state = PCMIG_STATE_RUNNING;
	if (ioctl(fd, PCMIG_IOC_SET_STATE, &st))
		die("RUNNING: %s", strerror(errno));
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		      0);
	if (r->mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	return fd;
}

static void uffd_setup(struct run *r, pthread_t *threads, int *nthreads)
{
	static struct receiver rc[2];
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	unsigned int i;
	int mfd;

	mfd = memfd_create("versus", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, r->size))
		die("memfd: %s", strerror(errno));
	r->mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		      0);
	if (r->mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	close(mfd);
	r->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r->uffd < 0)
		die("userfaultfd: %s", strerror(errno));
	if (ioctl(r->uffd, UFFDIO_API, &api))
		die("UFFDIO_API: %s", strerror(errno));
	reg.range.start = (uintptr_t)r->mem;
	reg.range.len = r->size;
	if (ioctl(r->uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER: %s", strerror(errno));
	pthread_mutex_init(&r->urg_lock, NULL);
	r->urg = dial(r, 'U');
	rc[0].r = r;
	rc[0].fd = r->urg;
	if (pthread_create(&threads[(*nthreads)++], NULL, uffd_recv_main,
			   &rc[0]))
		die("pthread_create failed");
	if (r->push) {
		r->bulk = dial(r, 'B');
		rc[1].r = r;
		rc[1].fd = r->bulk;
		if (pthread_create(&threads[(*nthreads)++], NULL,
				   uffd_recv_main, &rc[1]))
			die("pthread_create failed");
	}
	for (i = 0; i < r->fault_threads; i++)
		if (pthread_create(&threads[(*nthreads)++], NULL,
				   uffd_fault_main, r))
			die("pthread_create failed");
}

/* Busy CPU time of the guest, in clock ticks (/proc/stat). */
static uint64_t guest_busy_ticks(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			 &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			 &v[7]) != 8)
		die("/proc/stat: cannot read");
	fclose(f);
	/* user nice system (idle) (iowait) irq softirq steal */
	return v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
}

/* CPU time of a process and its threads, in clock ticks. */
static uint64_t proc_ticks(int pid)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		die("%s: cannot read", path);
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		die("%s: cannot parse", path);
	return ut + st;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, uint64_t n, double p)
{
	uint64_t i = (uint64_t)(p / 100.0 * (double)(n - 1) + 0.5);

	return v[i < n ? i : n - 1] / 1000.0;
}

static void pick_pages(struct run *r)
{
	uint64_t total = (uint64_t)r->threads * r->pages, i, j, t;
	uint64_t state = r->seed ^ 0x5eedULL ^ (uint64_t)getpid();

	if (r->from >= r->npages || total > r->npages - r->from)
		die("%" PRIu64 " pages asked from page %" PRIu64
		    ", the memory has %" PRIu64, total, r->from, r->npages);
	r->order = calloc(r->npages, sizeof(uint64_t));
	r->lat = calloc(total, sizeof(uint64_t));
	if (!r->order || !r->lat)
		die("out of memory");
	for (i = 0; i < r->npages; i++)
		r->order[i] = i;
	/* The first @total of a random permutation: distinct pages. */
	for (i = 0; i < total; i++) {
		j = r->from + i + image_rnd(&state) % (r->npages - r->from - i);
		t = r->order[r->from + i];
		r->order[r->from + i] = r->order[j];
		r->order[j] = t;
	}
	memmove(r->order, r->order + r->from, total * sizeof(uint64_t));
}

static void report(struct run *r, uint64_t remote, uint64_t cpu_ticks,
		   const char *samples)
{
	uint64_t total = (uint64_t)r->threads * r->pages, i, sum = 0;
	double wall = (r->t_end - r->t_start) / 1e9;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f;

	if (samples) {
		f = fopen(samples, "w");
		if (!f)
			die("%s: %s", samples, strerror(errno));
		for (i = 0; i < total; i++)
			fprintf(f, "%.1f\n", r->lat[i] / 1000.0);
		fclose(f);
	}
	for (i = 0; i < total; i++)
		sum += r->lat[i];
	qsort(r->lat, total, sizeof(uint64_t), cmp_u64);
	printf("stat case=%s threads=%u pages=%" PRIu64
	       " p50=%.1f p90=%.1f p99=%.1f p999=%.1f mean=%.1f"
	       " pages_per_s=%.0f remote=%" PRIu64
	       " cpu_us_per_page=%.1f wall_s=%.3f\n",
	       r->dcase == CASE_PCMIG ? "pcmig" :
	       r->dcase == CASE_UFFD ? "uffd" : "floor", r->threads, total,
	       pct(r->lat, total, 50), pct(r->lat, total, 90),
	       pct(r->lat, total, 99), pct(r->lat, total, 99.9),
	       sum / 1000.0 / total, total / wall, remote,
	       (double)cpu_ticks * 1e6 / hz / total, wall);
}

/* The floor's streaming bandwidth: the whole push, every page checked. */
static void floor_stream(struct run *r)
{
	uint8_t hdr[HDR], *buf = aligned_alloc(PS, PUSH_BATCH * PS);
	uint64_t done = 0, off, t0, i;
	uint32_t npages, len;
	uint16_t flags;
	uint8_t type;
	int fd = dial(r, 'B');

	if (!buf)
		die("out of memory");
	t0 = bench_now_ns();
	while (done < r->npages) {
		if (pcmig_read_full(fd, hdr, HDR, 30000) ||
		    pcmig_frame_get(hdr, &type, &flags, &npages, &len, &off) ||
		    type != PCMIG_FRAME_PAGES || npages > PUSH_BATCH ||
		    len != npages * PS || off != done * PS ||
		    pcmig_read_full(fd, buf, len, 30000))
			die("stream: a bad frame after %" PRIu64 " pages", done);
		for (i = 0; i < npages; i++)
			if (!image_page_ok((uint64_t *)(buf + i * PS), r->seed,
					   done + i, false))
				die("stream: page %" PRIu64 " is wrong",
				    done + i);
		done += npages;
	}
	printf("stat case=stream threads=1 pages=%" PRIu64 " mbps=%.1f\n",
	       done, done * PS * 8 / ((bench_now_ns() - t0) / 1e3));
	printf("status ok\n");
	close(fd);
	free(buf);
}

static int cmd_run(int argc, char **argv)
{
	struct pcmig_status st0 = { 0 }, st1 = { 0 };
	struct worker w[MAX_THREADS];
	pthread_t wt[MAX_THREADS], aux[4];
	const char *samples = NULL, *dcase = NULL;
	uint64_t busy0, busy1, src0, src1, total, i, remote;
	struct run r = { .fault_threads = 1, .uffd = -1 };
	int opt, sfd = -1, naux = 0;
	bool stream = false;

	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "case", required_argument, NULL, 'C' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 't' },
		{ "pages", required_argument, NULL, 'p' },
		{ "push", no_argument, NULL, 'P' },
		{ "fault-threads", required_argument, NULL, 'f' },
		{ "source-pid", required_argument, NULL, 'x' },
		{ "samples", required_argument, NULL, 'o' },
		{ "from-page", required_argument, NULL, 'F' },
		{ "stream", no_argument, NULL, 'T' },
		{ 0 }
	};

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': r.connect = optarg; break;
		case 'C': dcase = optarg; break;
		case 's': r.size = parse_size(optarg, "--size"); break;
		case 'S': r.seed = parse_size(optarg, "--seed"); break;
		case 't': r.threads = parse_size(optarg, "--threads"); break;
		case 'p': r.pages = parse_size(optarg, "--pages"); break;
		case 'P': r.push = true; break;
		case 'f': r.fault_threads = parse_size(optarg, "--fault-threads"); break;
		case 'x': r.source_pid = parse_size(optarg, "--source-pid"); break;
		case 'o': samples = optarg; break;
		case 'F': r.from = parse_size(optarg, "--from-page"); break;
		case 'T': stream = true; break;
		default: die("run: bad option");
		}
	}
	if (!r.connect || !dcase || !r.size || !r.threads || !r.pages ||
	    r.threads > MAX_THREADS || r.size % PS || !r.fault_threads ||
	    r.fault_threads > 2)
		die("run: --connect, --case, --size, --threads (1-%d) and --pages are needed",
		    MAX_THREADS);
	if (!strcmp(dcase, "pcmig"))
		r.dcase = CASE_PCMIG;
	else if (!strcmp(dcase, "uffd"))
		r.dcase = CASE_UFFD;
	else if (!strcmp(dcase, "floor"))
		r.dcase = CASE_FLOOR;
	else
		die("run: unknown case '%s'", dcase);
	r.npages = r.size / PS;
	if (stream) {
		floor_stream(&r);
		return 0;
	}
	pick_pages(&r);

	if (r.dcase == CASE_PCMIG)
		sfd = pcmig_session(&r);
	else if (r.dcase == CASE_UFFD)
		uffd_setup(&r, aux, &naux);

	pthread_barrier_init(&r.start, NULL, r.threads + 1);
	for (i = 0; i < r.threads; i++) {
		w[i].r = &r;
		w[i].index = i;
		if (pthread_create(&wt[i], NULL, worker_main, &w[i]))
			die("pthread_create failed");
	}
	if (sfd >= 0 && ioctl(sfd, PCMIG_IOC_STATUS, &st0))
		die("PCMIG_IOC_STATUS: %s", strerror(errno));
	busy0 = guest_busy_ticks();
	src0 = proc_ticks(r.source_pid);
	r.t_start = bench_now_ns();
	pthread_barrier_wait(&r.start);
	for (i = 0; i < r.threads; i++)
		pthread_join(wt[i], NULL);
	r.t_end = bench_now_ns();
	busy1 = guest_busy_ticks();
	src1 = proc_ticks(r.source_pid);
	total = (uint64_t)r.threads * r.pages;
	remote = total;
	if (sfd >= 0) {
		if (ioctl(sfd, PCMIG_IOC_STATUS, &st1))
			die("PCMIG_IOC_STATUS: %s", strerror(errno));
		if (st1.state != PCMIG_STATE_RUNNING &&
		    st1.state != PCMIG_STATE_END)
			die("the session is in state %u (reason %u)",
			    st1.state, st1.reason);
		remote = st1.faults_blocked - st0.faults_blocked;
	} else if (r.dcase == CASE_UFFD) {
		remote = __atomic_load_n(&r.uffd_events, __ATOMIC_RELAXED);
	}

	/* Every touched page, whole. */
	if (r.dcase != CASE_FLOOR)
		for (i = 0; i < total; i++)
			if (!image_page_ok((uint64_t *)(r.mem + r.order[i] * PS),
					   r.seed, r.order[i], false))
				die("page %" PRIu64 " is wrong", r.order[i]);
	report(&r, remote, busy1 - busy0 - (src1 - src0), samples);
	r.stop = true;
	if (r.dcase == CASE_UFFD) {
		shutdown(r.urg, SHUT_RDWR);
		if (r.push)
			shutdown(r.bulk, SHUT_RDWR);
		for (i = 0; i < (uint64_t)naux; i++)
			pthread_join(aux[i], NULL);
	}
	printf("status ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "make-image")) {
		if (image_write(argv[2], parse_size(argv[3], "SIZE"),
				parse_size(argv[4], "SEED"), false, NULL))
			die("make-image: %s", strerror(errno));
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return cmd_server(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr,
		"usage: versus make-image FILE SIZE SEED\n"
		"       versus server --listen H:P --image FILE\n"
		"       versus run --connect H:P --case pcmig|uffd|floor --size SIZE --seed SEED\n"
		"                  --threads N --pages P [--push] [--fault-threads 1|2]\n"
		"                  [--source-pid PID] [--samples FILE] [--from-page N]\n");
	return 2;
}
