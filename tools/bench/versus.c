// SPDX-License-Identifier: GPL-2.0
/*
 * versus: the pcmig side and the floor of part versus of 'make bench'
 * (scripts/bench-versus); the userfaultfd destination is uffd_dest.c.
 *
 *   work [WORKLOAD OPTIONS]
 *	the workload (lib/vswork.c) on a pcmig session: the run hook of
 *	'pcmig-tool incoming' (--run-cmd), the node from $PCMIG_NODE (or
 *	--node). An access waited for the network when the session's
 *	faults_blocked moved; every page is present once the session is in
 *	END. The very code uffd_dest runs in-process.
 *   server --listen H:P --image FILE
 *	the floor's source: a thread per connection. The first byte a
 *	client sends says what the connection is: 'U' (urgent) gets REQUEST
 *	frames and answers every offset with a REQUESTED PAGES frame, all
 *	answers to a frame in one sendmsg() from a mapping of FILE (the way
 *	pcmig-tool migrate's urgent thread answers); 'B' (bulk) gets every
 *	page pushed in address order in 256-page PAGES frames.
 *   floor --connect H:P --size SIZE --seed SEED --threads N --pages P
 *         [--samples FILE] [--stream]
 *	the user-space request/response floor on the same TCP path: each
 *	thread a connection of its own, one REQUEST frame of one offset and
 *	its answer at a time, into a buffer (no fault, no page installed),
 *	N threads on P distinct pages each; every answer checked. Prints
 *	'stat case=floor ...' like the workload. --stream: the whole push
 *	read and checked, its bandwidth.
 *   make-image FILE SIZE SEED
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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
#include <sys/uio.h>
#include <unistd.h>

#include <linux/pcmig.h>

#include "bench.h"
#include "image.h"
#include "net.h"
#include "proto.h"
#include "ram.h"
#include "vswork.h"

#define PS		IMAGE_PAGE
#define HDR		24
#define MAX_THREADS	64
#define PUSH_BATCH	256

const char *prog = "versus";

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
		if (bench_sendv(fd, iov, 2 * npages))
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
		if (bench_sendv(fd, iov, 2))
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

/* ---- the floor's client ---- */

struct run {
	const char *connect;
	uint64_t size, npages, seed;
	unsigned int threads, pages;
	uint64_t *order;		/* threads * pages page numbers */
	uint64_t *lat;			/* ns, same layout */
	pthread_barrier_t start;
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
	uint8_t *buf;
	unsigned int i;
	int fd;

	fd = dial(r, 'U');
	buf = aligned_alloc(PS, PS);
	if (!buf)
		die("out of memory");
	pthread_barrier_wait(&r->start);
	for (i = 0; i < r->pages; i++) {
		lat[i] = floor_round_trip(fd, order[i], buf);
		if (!image_page_ok((uint64_t *)buf, r->seed, order[i], false))
			die("floor: page %" PRIu64 " is wrong", order[i]);
	}
	close(fd);
	free(buf);
	return NULL;
}

static void pick_pages(struct run *r)
{
	uint64_t total = (uint64_t)r->threads * r->pages, i, j, t;
	uint64_t state = r->seed ^ 0x5eedULL ^ bench_now_ns();

	if (total > r->npages)
		die("%" PRIu64 " pages asked, the memory has %" PRIu64, total,
		    r->npages);
	r->order = calloc(r->npages, sizeof(uint64_t));
	r->lat = calloc(total, sizeof(uint64_t));
	if (!r->order || !r->lat)
		die("out of memory");
	for (i = 0; i < r->npages; i++)
		r->order[i] = i;
	for (i = 0; i < total; i++) {
		j = i + image_rnd(&state) % (r->npages - i);
		t = r->order[i];
		r->order[i] = r->order[j];
		r->order[j] = t;
	}
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

static int cmd_floor(int argc, char **argv)
{
	struct worker w[MAX_THREADS];
	pthread_t wt[MAX_THREADS];
	const char *samples = NULL;
	uint64_t total, i, t0, wall;
	struct run r = { 0 };
	bool stream = false;
	FILE *f;
	int opt;

	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 't' },
		{ "pages", required_argument, NULL, 'p' },
		{ "samples", required_argument, NULL, 'o' },
		{ "stream", no_argument, NULL, 'T' },
		{ 0 }
	};

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': r.connect = optarg; break;
		case 's': r.size = parse_size(optarg, "--size"); break;
		case 'S': r.seed = parse_size(optarg, "--seed"); break;
		case 't': r.threads = parse_size(optarg, "--threads"); break;
		case 'p': r.pages = parse_size(optarg, "--pages"); break;
		case 'o': samples = optarg; break;
		case 'T': stream = true; break;
		default: die("floor: bad option");
		}
	}
	if (!r.connect || !r.size || !r.threads || !r.pages ||
	    r.threads > MAX_THREADS || r.size % PS)
		die("floor: --connect, --size, --threads (1-%d) and --pages are needed",
		    MAX_THREADS);
	r.npages = r.size / PS;
	if (stream) {
		floor_stream(&r);
		return 0;
	}
	pick_pages(&r);
	pthread_barrier_init(&r.start, NULL, r.threads + 1);
	for (i = 0; i < r.threads; i++) {
		w[i].r = &r;
		w[i].index = i;
		if (pthread_create(&wt[i], NULL, worker_main, &w[i]))
			die("pthread_create failed");
	}
	t0 = bench_now_ns();
	pthread_barrier_wait(&r.start);
	for (i = 0; i < r.threads; i++)
		pthread_join(wt[i], NULL);
	wall = bench_now_ns() - t0;
	total = (uint64_t)r.threads * r.pages;
	if (samples) {
		f = fopen(samples, "w");
		if (!f)
			die("%s: %s", samples, strerror(errno));
		for (i = 0; i < total; i++)
			fprintf(f, "%.1f\n", r.lat[i] / 1000.0);
		fclose(f);
	}
	printf("stat case=floor threads=%u pages=%" PRIu64 " remote=%" PRIu64,
	       r.threads, total, total);
	vs_print_lat(r.lat, total);
	printf(" pages_per_s=%.0f wall_s=%.3f\n", total / (wall / 1e9),
	       wall / 1e9);
	printf("status ok\n");
	return 0;
}

/* ---- work: the workload on a pcmig session ---- */

struct pcmig_side {
	int fd;
};

static void session_status(int fd, struct pcmig_status *st)
{
	memset(st, 0, sizeof(*st));
	if (ioctl(fd, PCMIG_IOC_STATUS, st))
		die("PCMIG_IOC_STATUS: %s", strerror(errno));
	if (st->state == PCMIG_STATE_FAILED || st->state == PCMIG_STATE_PAUSED)
		die("the session is in state %u (reason %u, error %d)",
		    st->state, st->reason, st->error);
}

static uint64_t pcmig_remote(struct vs_dest *d)
{
	struct pcmig_side *ps = d->priv;
	struct pcmig_status st;

	session_status(ps->fd, &st);
	return st.faults_blocked;
}

static bool pcmig_complete(struct vs_dest *d)
{
	struct pcmig_side *ps = d->priv;
	struct pcmig_status st;

	session_status(ps->fd, &st);
	return st.state == PCMIG_STATE_END;
}

static int work_opt(int opt, const char *arg, void *ctx)
{
	if (opt != 'n')
		return -1;
	*(const char **)ctx = arg;
	return 0;
}

static int cmd_work(int argc, char **argv)
{
	const char *node = getenv("PCMIG_NODE");
	struct pcmig_side ps;
	struct vs_dest d = { .name = "pcmig", .remote = pcmig_remote,
			     .complete = pcmig_complete, .priv = &ps };
	struct pcmig_status st;
	struct vs_opts o;
	off_t len;

	vs_parse(&o, argc, argv, work_opt, &node);
	if (!node)
		die("work: no session node ($PCMIG_NODE or --node)");
	ps.fd = open(node, O_RDWR | O_CLOEXEC);
	if (ps.fd < 0)
		die("%s: %s", node, strerror(errno));
	len = lseek(ps.fd, 0, SEEK_END);
	if (len <= 0 || len % PS)
		die("%s: size %lld", node, (long long)len);
	d.size = len;
	d.mem = mmap(NULL, d.size, PROT_READ | PROT_WRITE, MAP_SHARED, ps.fd,
		     0);
	if (d.mem == MAP_FAILED)
		die("%s: mmap: %s", node, strerror(errno));
	session_status(ps.fd, &st);
	if (st.state != PCMIG_STATE_RUNNING)
		die("%s: the session is in state %u, not RUNNING", node,
		    st.state);
	vs_run(&o, &d);
	session_status(ps.fd, &st);
	fprintf(stderr, "%s: session: %llu faults, %llu blocked, %llu pages requested, %llu pushed, %llu duplicate\n",
		prog, st.faults, st.faults_blocked, st.pages_requested,
		st.pages_pushed, st.pages_duplicate);
	printf("status ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "make-image")) {
		if (image_write(argv[2], parse_size(argv[3], "SIZE"),
				parse_size(argv[4], "SEED"), false, NULL))
			die("make-image: %s", strerror(errno));
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return cmd_server(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "floor"))
		return cmd_floor(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "work"))
		return cmd_work(argc - 1, argv + 1);
	fprintf(stderr,
		"usage: versus make-image FILE SIZE SEED\n"
		"       versus server --listen H:P --image FILE\n"
		"       versus floor --connect H:P --size SIZE --seed SEED --threads N --pages P\n"
		"                    [--samples FILE] [--stream]\n"
		"       versus work [--node NODE] WORKLOAD OPTIONS:\n%s", vs_usage);
	return 2;
}
