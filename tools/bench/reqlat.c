// SPDX-License-Identifier: GPL-2.0
/*
 * reqlat: latency of a requested page while the background push competes
 * for the link (scripts/bench-reqlat, part "reqlat" of 'make bench').
 *
 *   make-image FILE SIZE SEED
 *	guest memory with a known pattern: every 8-byte word a function of
 *	(seed, page, word), no zero page (every reply carries 4 KiB)
 *   floor-server --listen H:P --image FILE
 *	the floor's source: per 8-byte request (a big-endian byte offset)
 *	one 24-byte header and the page, from a mapping of FILE, the way the
 *	source's urgent thread answers (poll + read, one sendmsg)
 *   floor --connect H:P --size SIZE --seed SEED --samples FILE
 *	the floor's client: round trips on one TCP_NODELAY connection, one
 *	at a time, each page checked against the pattern
 *   probe --case NAME --size SIZE --seed SEED --samples FILE [--daemonize]
 *	the destination's prober, started by 'pcmig-tool incoming
 *	--run-cmd' (the session node comes from $PCMIG_NODE): touches
 *	random pages of the session one at a time, single-threaded, timing
 *	the first read of each, and checks each page whole
 *   summarize --case NAME FILE...
 *	the result lines of one case from the sample files of its rounds
 *   verify --size SIZE --seed SEED [--daemonize] [--pid-file FILE]
 *	the destination's check of a whole migration (scripts/bench-push),
 *	started by 'pcmig-tool incoming --run-cmd' like probe: maps the
 *	session, touches nothing until SIGUSR1 (sent once the migration is
 *	over, so that the check does not compete with it), then requires
 *	the session at END with every page present and compares every page
 *	to the pattern
 *
 * floor and probe write every timed probe to their sample file, with the
 * counters of the run, once the probing is over (nothing but memory is
 * touched while timing), and 'status ok' on standard output. summarize
 * turns the files into result lines (tools/bench/lib/bench.h). A wrong
 * page, a SIGBUS, a session that fails or pauses, or the time limit is a
 * failure ('status failed', exit status non-zero), never a figure.
 *
 * How a probe is classified: PCMIG_IOC_STATUS is read right before and
 * right after each timed read, outside the timed window. The prober is
 * the only task touching the session, so the counters move for this probe
 * only: 'faults' goes up when the fault found its page missing (a remote
 * fault: a request went out, or the page was already on its way),
 * 'faults_blocked' when the task then waited for the page, and
 * 'blocked_ns' by exactly that wait. A probe that moves none of them
 * found its page present already (pushed before): a minor fault, not a
 * remote one, counted apart. The headline figures are those of the
 * probes that blocked; those of all probes are given too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <linux/pcmig.h>

#include "bench.h"
#include "format.h"
#include "image.h"
#include "net.h"
#include "ram.h"

#define BENCH		"reqlat"
#define PAGE		IMAGE_PAGE
#define WORDS		IMAGE_WORDS
#define HDR_LEN		24		/* struct pcmig_frame on the wire */
#define REQ_LEN		8		/* the floor's request: an offset */
#define NS_PER_US	1000.0
#define MAX_ROUNDS	64

const char *prog = "reqlat";

/* ---- helpers ---- */

static uint64_t parse_u64(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		die("%s '%s': not a number", what, s);
	return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Pages 0..@pages-1 in a random order from @seed (Fisher-Yates). */
static uint64_t *random_order(uint64_t pages, uint64_t seed)
{
	uint64_t *v = malloc(pages * sizeof(*v)), i, j, t;
	uint64_t s = seed ^ 0x5eed5eed5eedULL;

	if (!v)
		die("out of memory");
	for (i = 0; i < pages; i++)
		v[i] = i;
	for (i = pages - 1; i > 0; i--) {
		j = image_rnd(&s) % (i + 1);
		t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	return v;
}

/* Jiffies of all CPUs from /proc/stat: busy (not idle nor iowait), all. */
struct cpu_times {
	unsigned long long busy;
	unsigned long long softirq;
	unsigned long long total;
};

static void cpu_times(struct cpu_times *c)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	unsigned int i;

	memset(c, 0, sizeof(*c));
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (i = 0; i < 8; i++)
			c->total += v[i];
		c->busy = c->total - v[3] - v[4];
		c->softirq = v[6];
	}
	fclose(f);
}

/* ---- sample files ---- */

/*
 * One timed probe. Class: 'r' remote fault that blocked, 'u' missing
 * page that arrived before the wait, 'p' page present already, 'f' a
 * floor round trip.
 */
struct probe {
	uint64_t page;
	uint64_t ns;
	uint64_t kwait_ns;	/* the kernel's wait ('r' only) */
	char class;
};

/* What a run measured besides its probes. */
struct run_meta {
	uint64_t duration_ns;	/* of the timed probes */
	uint64_t verified;	/* pages checked, warm-up included */
	uint64_t push_ns;	/* the push's time within the probe */
	uint64_t push_pages;	/* pages pushed meanwhile */
	uint64_t pages_total;
	uint64_t present_start;
	uint64_t present_end;
	uint64_t ended;		/* the session reached END meanwhile */
	struct cpu_times c0, c1;
	uint64_t hist[PCMIG_HIST_BUCKETS];	/* fault waits meanwhile */
};

/*
 * The file: "# KEY VALUE..." lines, then one line per probe: "INDEX PAGE
 * NS CLASS KWAIT_NS".
 */
static void write_samples(const char *path, const char *name,
			  const struct probe *p, uint64_t n,
			  const struct run_meta *m)
{
	FILE *f = fopen(path, "w");
	unsigned int k;
	uint64_t i;

	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "# case %s\n", name);
	fprintf(f, "# duration_ns %" PRIu64 "\n", m->duration_ns);
	fprintf(f, "# verified %" PRIu64 "\n", m->verified);
	fprintf(f, "# push_ns %" PRIu64 "\n", m->push_ns);
	fprintf(f, "# push_pages %" PRIu64 "\n", m->push_pages);
	fprintf(f, "# pages_total %" PRIu64 "\n", m->pages_total);
	fprintf(f, "# present_start %" PRIu64 "\n", m->present_start);
	fprintf(f, "# present_end %" PRIu64 "\n", m->present_end);
	fprintf(f, "# ended %" PRIu64 "\n", m->ended);
	fprintf(f, "# cpu_total %llu\n", m->c1.total - m->c0.total);
	fprintf(f, "# cpu_busy %llu\n", m->c1.busy - m->c0.busy);
	fprintf(f, "# cpu_softirq %llu\n", m->c1.softirq - m->c0.softirq);
	fprintf(f, "# hist");
	for (k = 0; k < PCMIG_HIST_BUCKETS; k++)
		fprintf(f, " %" PRIu64, m->hist[k]);
	fprintf(f, "\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRIu64 " %c %" PRIu64 "\n",
			i, p[i].page, p[i].ns, p[i].class, p[i].kwait_ns);
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* ---- make-image ---- */

static int cmd_make_image(int argc, char **argv)
{
	uint64_t size, seed;
	const char *path;
	int ret;

	if (argc != 4)
		die("usage: make-image FILE SIZE SEED");
	path = argv[1];
	size = parse_size(argv[2], "SIZE");
	seed = parse_u64(argv[3], "SEED");
	if (!size || size % PAGE)
		die("SIZE must be a non-zero multiple of %lu", PAGE);
	/* No zero page: every page crosses the link. */
	ret = image_write(path, size, seed, false, NULL);
	if (ret)
		die("%s: %s", path, strerror(-ret));
	fprintf(stderr, "%s: %" PRIu64 " pages, seed %" PRIu64 "\n", path,
		size / PAGE, seed);
	return 0;
}

/* ---- the floor: a user-space request/response on the same path ---- */

static const char floor_server_usage[] =
	"usage: reqlat floor-server --listen HOST:PORT --image FILE [--timeout S]\n";

static int cmd_floor_server(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "image", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	const char *listen_on = NULL, *image = NULL;
	uint8_t req[REQ_LEN], hdr[HDR_LEN];
	uint64_t size, off, served = 0;
	unsigned int timeout_s = 60;
	struct iovec iov[2];
	char err[256];
	uint8_t *mem;
	struct stat sb;
	int c, fd, lfd, cfd, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_on = optarg;
			break;
		case 'i':
			image = optarg;
			break;
		case 't':
			timeout_s = (unsigned int)parse_u64(optarg, "--timeout");
			break;
		default:
			fputs(floor_server_usage, stderr);
			return 2;
		}
	}
	if (!listen_on || !image || optind < argc) {
		fputs(floor_server_usage, stderr);
		return 2;
	}
	fd = open(image, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb))
		die("%s: %s", image, strerror(errno));
	size = (uint64_t)sb.st_size;
	if (!size || size % PAGE)
		die("%s: size %" PRIu64 " is not a multiple of %lu", image,
		    size, PAGE);
	mem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		die("%s: mmap: %s", image, strerror(errno));

	lfd = pcmig_tcp_listen(listen_on, err, sizeof(err));
	if (lfd < 0)
		die("%s", err);
	fprintf(stderr, "listening on %s\n", listen_on);
	cfd = pcmig_tcp_accept(lfd, (int)timeout_s * 1000);
	if (cfd < 0)
		die("accept: %s", strerror(-cfd));
	close(lfd);

	for (;;) {
		/* Read as the source's urgent thread does: poll + read. */
		ret = pcmig_read_full(cfd, req, sizeof(req), -1);
		if (ret == -ECONNRESET)
			break;
		if (ret)
			die("reading a request: %s", strerror(-ret));
		off = get_be64(req);
		if (off % PAGE || off >= size)
			die("bad request: offset %" PRIu64, off);
		/* The reply the source would send: one requested page. */
		pcmig_frame_put(hdr, PCMIG_FRAME_PAGES, PCMIG_FRAME_F_REQUESTED,
				1, PAGE, off);
		iov[0].iov_base = hdr;
		iov[0].iov_len = sizeof(hdr);
		iov[1].iov_base = mem + off;
		iov[1].iov_len = PAGE;
		ret = bench_sendv(cfd, iov, 2);
		if (ret)
			die("sendmsg: %s", strerror(-ret));
		served++;
	}
	close(cfd);
	munmap(mem, size);
	close(fd);
	fprintf(stderr, "served %" PRIu64 " requests\n", served);
	return 0;
}

static void recv_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = recv(fd, p, len, MSG_WAITALL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("recv: %s", strerror(errno));
		if (!n)
			die("the floor server closed the connection");
		p += n;
		len -= n;
	}
}

struct run_opts {
	const char *name;
	const char *node;
	const char *peer;
	const char *pid_file;
	const char *samples;
	uint64_t size;
	uint64_t seed;
	uint64_t round;
	uint64_t probes;
	uint64_t warmup;
	unsigned int timeout_s;
	bool daemonize;
};

static const char run_usage[] =
	"usage: reqlat floor --connect HOST:PORT --size SIZE --seed SEED --samples FILE\n"
	"                    [--case NAME] [--round N] [--probes N] [--warmup N]\n"
	"       reqlat probe --case NAME --size SIZE --seed SEED --samples FILE\n"
	"                    [--node NODE] [--round N] [--probes N] [--warmup N]\n"
	"                    [--timeout S] [--daemonize] [--pid-file FILE]\n"
	"The node defaults to $PCMIG_NODE (set for pcmig-tool incoming's hooks);\n"
	"--round N probes other pages in each round.\n";

static int parse_run(struct run_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "node", required_argument, NULL, 'm' },
		{ "connect", required_argument, NULL, 'C' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "round", required_argument, NULL, 'r' },
		{ "probes", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "daemonize", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "samples", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	o->node = getenv("PCMIG_NODE");
	o->probes = 1000;
	o->warmup = 50;
	o->timeout_s = 300;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->name = optarg;
			break;
		case 'm':
			o->node = optarg;
			break;
		case 'C':
			o->peer = optarg;
			break;
		case 's':
			o->size = parse_size(optarg, "--size");
			break;
		case 'S':
			o->seed = parse_u64(optarg, "--seed");
			break;
		case 'r':
			o->round = parse_u64(optarg, "--round");
			break;
		case 'n':
			o->probes = parse_u64(optarg, "--probes");
			break;
		case 'w':
			o->warmup = parse_u64(optarg, "--warmup");
			break;
		case 't':
			o->timeout_s = (unsigned int)parse_u64(optarg,
							       "--timeout");
			break;
		case 'd':
			o->daemonize = true;
			break;
		case 'p':
			o->pid_file = optarg;
			break;
		case 'L':
			o->samples = optarg;
			break;
		default:
			return -1;
		}
	}
	if (!o->name || !o->samples || !o->size || o->size % PAGE ||
	    !o->probes || !o->timeout_s || optind < argc)
		return -1;
	if (o->probes + o->warmup > o->size / PAGE)
		die("%" PRIu64 " probes and %" PRIu64 " warm-up ones need as many pages, there are %" PRIu64,
		    o->probes, o->warmup, o->size / PAGE);
	return 0;
}

static int cmd_floor(int argc, char **argv)
{
	struct run_opts o = { .name = "floor" };
	uint8_t req[REQ_LEN], hdr[HDR_LEN], type;
	uint64_t i, pg, t0, t1, *order, *page, off;
	uint32_t npages, len;
	uint16_t flags;
	struct run_meta m = { 0 };
	struct probe *p;
	char err[256];
	int fd, tries;

	if (parse_run(&o, argc, argv) || !o.peer) {
		fputs(run_usage, stderr);
		return 2;
	}
	page = aligned_alloc(PAGE, PAGE);
	p = calloc(o.probes, sizeof(*p));
	if (!page || !p)
		die("out of memory");
	order = random_order(o.size / PAGE, o.seed ^ image_mix64(o.round + 1));

	/* The server may be a moment late to listen. */
	for (tries = 0;; tries++) {
		fd = pcmig_tcp_connect(o.peer, 2000, err, sizeof(err));
		if (fd >= 0)
			break;
		if (tries >= 50)
			die("%s", err);
		usleep(100 * 1000);
	}

	for (i = 0; i < o.warmup + o.probes; i++) {
		if (i == o.warmup) {
			cpu_times(&m.c0);
			m.duration_ns = bench_now_ns();
		}
		pg = order[i];
		put_be64(req, pg * PAGE);
		t0 = bench_now_ns();
		if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != sizeof(req))
			die("send: %s", strerror(errno));
		recv_all(fd, hdr, sizeof(hdr));
		recv_all(fd, page, PAGE);
		t1 = bench_now_ns();
		if (pcmig_frame_get(hdr, &type, &flags, &npages, &len, &off) ||
		    type != PCMIG_FRAME_PAGES ||
		    flags != PCMIG_FRAME_F_REQUESTED || npages != 1 ||
		    len != PAGE)
			die("reply: not a PAGES frame of one requested page");
		if (off != pg * PAGE)
			die("reply for offset %" PRIu64 ", asked %" PRIu64,
			    off, pg * PAGE);
		if (!image_page_ok(page, o.seed, pg, false))
			die("page %" PRIu64 ": contents differ from the image",
			    pg);
		m.verified++;
		if (i < o.warmup)
			continue;
		p[i - o.warmup].page = pg;
		p[i - o.warmup].ns = t1 - t0;
		p[i - o.warmup].class = 'f';
	}
	m.duration_ns = bench_now_ns() - m.duration_ns;
	cpu_times(&m.c1);
	close(fd);

	write_samples(o.samples, o.name, p, o.probes, &m);
	fprintf(stderr, "%s: %" PRIu64 " round trips (after %" PRIu64 " warm-up) in %.2f s, every page checked\n",
		o.name, o.probes, o.warmup, (double)m.duration_ns / 1e9);
	free(order);
	free(page);
	free(p);
	printf("status ok\n");
	return 0;
}

/* ---- probe: remote faults on a pcmig session ---- */

static void on_fatal_signal(int sig)
{
	static const char bus[] =
		"reqlat: SIGBUS on session memory: the session failed or was destroyed\n";
	static const char alrm[] =
		"reqlat: timeout: the probe did not finish in time\n";
	static const char st[] = "status failed\n";
	const char *m = sig == SIGBUS ? bus : alrm;
	size_t len = sig == SIGBUS ? sizeof(bus) - 1 : sizeof(alrm) - 1;

	if (write(STDERR_FILENO, m, len) < 0 ||
	    write(STDOUT_FILENO, st, sizeof(st) - 1) < 0)
		_exit(3);
	_exit(3);
}

static void session_status(int fd, struct pcmig_status *st)
{
	memset(st, 0, sizeof(*st));
	if (ioctl(fd, PCMIG_IOC_STATUS, st))
		die("PCMIG_IOC_STATUS: %s", strerror(errno));
	if (st->state == PCMIG_STATE_FAILED || st->state == PCMIG_STATE_PAUSED)
		die("the session is %s (reason %s, error %d)",
		    pcmig_state_name(st->state), pcmig_reason_name(st->reason),
		    st->error);
}

/* Fork: the parent exits 0 once the child runs on its own. */
static void daemonize(const char *pid_file)
{
	int p[2], fd;
	char c = 0;
	pid_t pid;
	FILE *f;

	if (pipe(p))
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	setsid();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (pid_file) {
		f = fopen(pid_file, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			die("%s: %s", pid_file, strerror(errno));
	}
	if (write(p[1], &c, 1) != 1)
		die("daemonize: %s", strerror(errno));
	close(p[1]);
}

/* Map the session node read-only. */
static const volatile uint64_t *map_node(const struct run_opts *o, int *fdp)
{
	off_t len;
	void *map;
	int fd;

	fd = open(o->node, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", o->node, strerror(errno));
	len = lseek(fd, 0, SEEK_END);
	if (len < 0 || (uint64_t)len != o->size)
		die("%s: size %lld, expected %" PRIu64, o->node,
		    (long long)len, o->size);
	map = mmap(NULL, o->size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("%s: mmap: %s", o->node, strerror(errno));
	*fdp = fd;
	return map;
}

static int cmd_probe(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct pcmig_status s0, s1, a, b;
	const volatile uint64_t *base, *addr;
	uint64_t i, pg, t0, t1, w, *order, start, push_end = 0;
	uint64_t pushed_end = 0, nr = 0, np = 0, nu = 0;
	struct run_meta m = { 0 };
	struct sigaction sa;
	struct probe *p, *q;
	unsigned int k;
	int fd;

	if (parse_run(&o, argc, argv) || !o.node) {
		fputs(run_usage, stderr);
		return 2;
	}
	base = map_node(&o, &fd);
	p = calloc(o.probes, sizeof(*p));
	if (!p)
		die("out of memory");
	order = random_order(o.size / PAGE, o.seed ^ image_mix64(o.round + 1) ^
			     0xfa017ULL);

	if (o.daemonize)
		daemonize(o.pid_file);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	alarm(o.timeout_s);

	session_status(fd, &s0);
	if (s0.state != PCMIG_STATE_RUNNING)
		die("the session is %s, not running",
		    pcmig_state_name(s0.state));
	fprintf(stderr, "%s: probing %" PRIu64 " random pages (after %" PRIu64 " warm-up) of %s; %llu of %llu pages present\n",
		o.name, o.probes, o.warmup, o.node, s0.pages_present,
		s0.pages_total);

	start = 0;
	for (i = 0; i < o.warmup + o.probes; i++) {
		if (i == o.warmup) {
			session_status(fd, &s0);
			cpu_times(&m.c0);
			start = bench_now_ns();
		}
		pg = order[i];
		addr = base + pg * WORDS;
		session_status(fd, &a);
		t0 = bench_now_ns();
		w = addr[0];
		t1 = bench_now_ns();
		session_status(fd, &b);
		if (w != image_word(o.seed, pg, 0, false) ||
		    !image_page_ok(addr, o.seed, pg, false))
			die("page %" PRIu64 ": contents differ from the source image",
			    pg);
		m.verified++;
		if (i < o.warmup)
			continue;
		/* After END the push is over: its rate counts up to there. */
		if (b.state == PCMIG_STATE_END && !push_end) {
			push_end = bench_now_ns();
			pushed_end = b.pages_pushed;
		}
		q = &p[i - o.warmup];
		q->page = pg;
		q->ns = t1 - t0;
		if (b.faults_blocked > a.faults_blocked) {
			q->class = 'r';
			q->kwait_ns = b.blocked_ns - a.blocked_ns;
			nr++;
		} else if (b.faults > a.faults) {
			q->class = 'u';
			nu++;
		} else {
			q->class = 'p';
			np++;
		}
	}
	m.duration_ns = bench_now_ns() - start;
	cpu_times(&m.c1);
	session_status(fd, &s1);
	alarm(0);

	if (!push_end) {
		push_end = start + m.duration_ns;
		pushed_end = s1.pages_pushed;
	}
	m.push_ns = push_end - start;
	m.push_pages = pushed_end - s0.pages_pushed;
	m.pages_total = s1.pages_total;
	m.present_start = s0.pages_present;
	m.present_end = s1.pages_present;
	m.ended = s1.state == PCMIG_STATE_END;
	for (k = 0; k < PCMIG_HIST_BUCKETS; k++)
		m.hist[k] = s1.hist[k] - s0.hist[k];
	write_samples(o.samples, o.name, p, o.probes, &m);

	fprintf(stderr, "%s: %" PRIu64 " probes in %.2f s: %" PRIu64 " remote (blocked), %" PRIu64 " present, %" PRIu64 " missing but not blocked; session %s, %llu pages requested, %llu pushed, %llu duplicate; every page checked\n",
		o.name, o.probes, (double)m.duration_ns / 1e9, nr, np, nu,
		pcmig_state_name(s1.state), s1.pages_requested,
		s1.pages_pushed, s1.pages_duplicate);
	free(order);
	free(p);
	munmap((void *)base, o.size);
	close(fd);
	printf("status ok\n");
	fflush(stdout);
	return 0;
}

/* ---- verify: every page of a finished migration ---- */

static const char verify_usage[] =
	"usage: reqlat verify --size SIZE --seed SEED [--node NODE] [--daemonize]\n"
	"                     [--pid-file FILE] [--timeout S]\n"
	"Maps the session (default $PCMIG_NODE), waits for SIGUSR1 (at most\n"
	"--timeout seconds, default 300), then checks that the session is at\n"
	"END with every page present and that every page holds the pattern.\n";

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "daemonize", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct run_opts o = { .name = "verify", .timeout_s = 300 };
	uint64_t pg, pages, bad = 0, first_bad = 0, t0, t1;
	const volatile uint64_t *base;
	struct pcmig_status st;
	struct sigaction sa;
	struct timespec ts;
	bool seed_set = false;
	sigset_t usr1;
	int c, fd, sig;

	o.node = getenv("PCMIG_NODE");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o.node = optarg;
			break;
		case 's':
			o.size = parse_size(optarg, "--size");
			break;
		case 'S':
			o.seed = parse_u64(optarg, "--seed");
			seed_set = true;
			break;
		case 't':
			o.timeout_s = (unsigned int)parse_u64(optarg,
							      "--timeout");
			break;
		case 'd':
			o.daemonize = true;
			break;
		case 'p':
			o.pid_file = optarg;
			break;
		default:
			fputs(verify_usage, stderr);
			return 2;
		}
	}
	if (!o.node || !o.size || o.size % PAGE || !seed_set ||
	    !o.timeout_s || optind < argc) {
		fputs(verify_usage, stderr);
		return 2;
	}
	pages = o.size / PAGE;

	/* Blocked before the fork: a SIGUSR1 sent early is kept, not fatal. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &usr1, NULL))
		die("sigprocmask: %s", strerror(errno));
	base = map_node(&o, &fd);
	if (o.daemonize)
		daemonize(o.pid_file);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);

	ts.tv_sec = o.timeout_s;
	ts.tv_nsec = 0;
	do
		sig = sigtimedwait(&usr1, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	if (sig < 0)
		die("no SIGUSR1 within %u s: %s", o.timeout_s,
		    errno == EAGAIN ? "timed out" : strerror(errno));
	alarm(o.timeout_s);

	session_status(fd, &st);
	if (st.state != PCMIG_STATE_END || st.pages_present != pages)
		die("the session is %s with %llu of %" PRIu64 " pages present, not at END with every page",
		    pcmig_state_name(st.state), st.pages_present, pages);
	t0 = bench_now_ns();
	for (pg = 0; pg < pages; pg++) {
		if (image_page_ok(base + pg * WORDS, o.seed, pg, false))
			continue;
		if (!bad++)
			first_bad = pg;
	}
	t1 = bench_now_ns();
	alarm(0);
	if (bad)
		die("%" PRIu64 " of %" PRIu64 " pages differ from the source image (first: page %" PRIu64 ")",
		    bad, pages, first_bad);
	fprintf(stderr, "verify: all %" PRIu64 " pages match (checked in %.1f s); session END, %llu pushed, %llu requested, %llu duplicate, %llu faults\n",
		pages, (double)(t1 - t0) / 1e9, st.pages_pushed,
		st.pages_requested, st.pages_duplicate, st.faults);
	munmap((void *)base, o.size);
	close(fd);
	printf("status ok\n");
	fflush(stdout);
	return 0;
}

/* ---- summarize ---- */

struct summary {
	struct bench_samples all;	/* every probe */
	struct bench_samples remote;	/* remote faults that blocked */
	struct bench_samples kwait;	/* their wait as the kernel saw it */
	struct bench_samples present;	/* the page was there already */
	uint64_t unblocked;
	bool floor;
	struct run_meta m;		/* summed over the rounds */
	double present_start_pct;	/* summed over the rounds */
	double present_end_pct;
	unsigned int rounds;
	double round_p50[MAX_ROUNDS];
};

static void add_sample(struct bench_samples *s, uint64_t v)
{
	if (bench_samples_add(s, v))
		die("out of memory");
}

/* "# KEY VALUE" of a sample file into @m. */
static void read_meta(const char *path, char *line, struct run_meta *m,
		      struct cpu_times *c)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
#define K(f)	{ #f, offsetof(struct run_meta, f) }
		K(duration_ns), K(verified), K(push_ns), K(push_pages),
		K(pages_total), K(present_start), K(present_end), K(ended),
#undef K
	};
	unsigned long long v;
	char key[32], *s, *end;
	unsigned int k;
	int n;

	if (sscanf(line, "# %31s %n", key, &n) != 1)
		die("%s: bad line '%s'", path, line);
	s = line + n;
	if (!strcmp(key, "case"))
		return;
	if (!strcmp(key, "hist")) {
		for (k = 0; k < PCMIG_HIST_BUCKETS; k++) {
			v = strtoull(s, &end, 10);
			if (end == s)
				die("%s: short histogram", path);
			m->hist[k] = v;
			s = end;
		}
		return;
	}
	v = strtoull(s, &end, 10);
	if (end == s)
		die("%s: bad line '%s'", path, line);
	if (!strcmp(key, "cpu_total")) {
		c->total = v;
		return;
	}
	if (!strcmp(key, "cpu_busy")) {
		c->busy = v;
		return;
	}
	if (!strcmp(key, "cpu_softirq")) {
		c->softirq = v;
		return;
	}
	for (k = 0; k < ARRAY_SIZE(keys); k++) {
		if (!strcmp(key, keys[k].key)) {
			*(uint64_t *)((char *)m + keys[k].off) = v;
			return;
		}
	}
	die("%s: unknown key '%s'", path, key);
}

static void read_samples(const char *path, struct summary *sum)
{
	struct bench_samples round = { 0 };
	unsigned long long idx, page, ns, kwait;
	struct run_meta m = { 0 };
	struct cpu_times c = { 0 };
	char line[512], class;
	unsigned int k;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#') {
			read_meta(path, line, &m, &c);
			continue;
		}
		if (sscanf(line, "%llu %llu %llu %c %llu", &idx, &page, &ns,
			   &class, &kwait) != 5)
			die("%s: bad line '%s'", path, line);
		add_sample(&sum->all, ns);
		switch (class) {
		case 'f':
			sum->floor = true;
			/* fall through */
		case 'r':
			add_sample(&sum->remote, ns);
			add_sample(&round, ns);
			if (class == 'r')
				add_sample(&sum->kwait, kwait);
			break;
		case 'u':
			sum->unblocked++;
			break;
		case 'p':
			add_sample(&sum->present, ns);
			break;
		default:
			die("%s: bad class '%c'", path, class);
		}
	}
	if (ferror(f) || fclose(f))
		die("%s: read error", path);

	sum->m.duration_ns += m.duration_ns;
	sum->m.verified += m.verified;
	sum->m.push_ns += m.push_ns;
	sum->m.push_pages += m.push_pages;
	sum->m.ended += m.ended;
	sum->m.c1.total += c.total;
	sum->m.c1.busy += c.busy;
	sum->m.c1.softirq += c.softirq;
	for (k = 0; k < PCMIG_HIST_BUCKETS; k++)
		sum->m.hist[k] += m.hist[k];
	if (m.pages_total) {
		sum->present_start_pct += 100.0 * (double)m.present_start /
					  (double)m.pages_total;
		sum->present_end_pct += 100.0 * (double)m.present_end /
					(double)m.pages_total;
	}
	sum->round_p50[sum->rounds++] =
		(double)bench_percentile(&round, 50) / NS_PER_US;
	bench_samples_free(&round);
}

static void result(const char *name, const char *metric, double value,
		   const char *unit)
{
	bench_result(BENCH, name, metric, value, unit);
}

/* p50, p90, p99, max and mean of @s in microseconds, as PREFIXp50_us... */
static void report_samples(const char *name, const char *prefix,
			   struct bench_samples *s)
{
	static const struct {
		const char *metric;
		double pct;
	} pcts[] = {
		{ "p50_us", 50 }, { "p90_us", 90 }, { "p99_us", 99 },
		{ "max_us", 100 },
	};
	char metric[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pcts); i++) {
		snprintf(metric, sizeof(metric), "%s%s", prefix,
			 pcts[i].metric);
		result(name, metric,
		       (double)bench_percentile(s, pcts[i].pct) / NS_PER_US,
		       "us");
	}
	snprintf(metric, sizeof(metric), "%smean_us", prefix);
	result(name, metric, bench_mean(s) / NS_PER_US, "us");
}

static int cmd_summarize(int argc, char **argv)
{
	static struct summary sum;
	const char *name = NULL;
	const struct run_meta *m = &sum.m;
	double cpu_total, secs;
	unsigned int r;
	int i;

	if (argc >= 3 && !strcmp(argv[1], "--case"))
		name = argv[2];
	if (!name || argc < 4 || argc - 3 > MAX_ROUNDS) {
		fprintf(stderr, "usage: reqlat summarize --case NAME FILE... (1 to %d files)\n",
			MAX_ROUNDS);
		return 2;
	}
	for (i = 3; i < argc; i++)
		read_samples(argv[i], &sum);
	if (!sum.all.n)
		die("%s: no probes", name);

	result(name, "probes", (double)sum.all.n, "count");
	result(name, "remote", (double)sum.remote.n, "count");
	report_samples(name, "", &sum.remote);
	result(name, "rounds", sum.rounds, "count");
	if (!sum.floor) {
		result(name, "present", (double)sum.present.n, "count");
		result(name, "unblocked", (double)sum.unblocked, "count");
		report_samples(name, "all_", &sum.all);
		if (sum.present.n)
			result(name, "present_p50_us",
			       (double)bench_percentile(&sum.present, 50) /
			       NS_PER_US, "us");
		report_samples(name, "kwait_", &sum.kwait);
		result(name, "khist_p50_us",
		       (double)pcmig_hist_percentile(m->hist,
						     PCMIG_HIST_BUCKETS, 50) /
		       NS_PER_US, "us");
		result(name, "khist_p99_us",
		       (double)pcmig_hist_percentile(m->hist,
						     PCMIG_HIST_BUCKETS, 99) /
		       NS_PER_US, "us");
		secs = (double)m->push_ns / 1e9;
		result(name, "push_rate", secs > 0 ? (double)m->push_pages *
		       PAGE / secs / (1 << 20) : 0, "MiB/s");
		result(name, "present_start", sum.present_start_pct /
		       sum.rounds, "%");
		result(name, "present_end", sum.present_end_pct / sum.rounds,
		       "%");
		result(name, "ended_during_probe", (double)m->ended, "rounds");
	}
	cpu_total = (double)m->c1.total;
	if (cpu_total > 0) {
		result(name, "cpu_busy", 100.0 * (double)m->c1.busy /
		       cpu_total, "%");
		result(name, "cpu_softirq", 100.0 * (double)m->c1.softirq /
		       cpu_total, "%");
	}
	result(name, "duration", (double)m->duration_ns / 1e9, "s");
	result(name, "verified", (double)m->verified, "pages");

	fprintf(stderr, "%s: p50 by round:", name);
	for (r = 0; r < sum.rounds; r++)
		fprintf(stderr, " %.0f", sum.round_p50[r]);
	fprintf(stderr, " us\n");
	bench_samples_free(&sum.all);
	bench_samples_free(&sum.remote);
	bench_samples_free(&sum.kwait);
	bench_samples_free(&sum.present);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s make-image FILE SIZE SEED\n"
		"       %s floor-server --listen HOST:PORT --image FILE\n"
		"       %s floor --connect HOST:PORT --size SIZE --seed SEED --samples FILE ...\n"
		"       %s probe --case NAME --size SIZE --seed SEED --samples FILE ...\n"
		"       %s summarize --case NAME FILE...\n"
		"       %s verify --size SIZE --seed SEED ...\n",
		prog, prog, prog, prog, prog, prog);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "make-image"))
		return cmd_make_image(argc - 1, argv + 1);
	if (!strcmp(argv[1], "floor-server"))
		return cmd_floor_server(argc - 1, argv + 1);
	if (!strcmp(argv[1], "floor"))
		return cmd_floor(argc - 1, argv + 1);
	if (!strcmp(argv[1], "probe"))
		return cmd_probe(argc - 1, argv + 1);
	if (!strcmp(argv[1], "summarize"))
		return cmd_summarize(argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
