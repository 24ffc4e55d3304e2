// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-demo-vmm: a stand-in VMM for the demo (scripts/demo).
 *
 *   make-image FILE SIZE SEED    guest memory with a known pattern
 *   make-state FILE BYTES SEED   a device-state blob with a known pattern
 *   run --mem NODE ...           map a session like a VMM, load the device
 *                                state (faulting on guest memory while doing
 *                                so), wait for "go", touch memory from N
 *                                threads, wait for END, verify every page
 *
 * Every 8-byte word of a page is a function of (seed, page, word); about
 * one page in eight, chosen from the seed, is all zero. Standalone C and
 * pthreads: nothing of pcmig-tool is linked in.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/pcmig.h>

#include "image.h"
#include "workload.h"
#include "ram.h"

#define PAGE		IMAGE_PAGE
#define WORDS		IMAGE_WORDS
#define STATE_MAGIC	"PCMIGDS1"
#define STATE_HDR	24		/* magic, seed, length */
#define LOAD_CHUNK	(16 * 1024)	/* one guest page read per chunk */
#define MAX_THREADS	64

static const char *prog = "pcmig-demo-vmm";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
						     noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The device state's pattern */

static uint8_t state_byte(uint64_t seed, uint64_t i)
{
	return (uint8_t)(image_mix64(seed ^ 0x5851f42d4c957f2dULL ^ (i / 8)) >>
			 (8 * (i % 8)));
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t parse_size(const char *s, const char *what)
{
	uint64_t v;

	if (pcmig_parse_size(s, &v))
		die("%s '%s': not a size (K, M, G, T suffixes)", what, s);
	return v;
}

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

static void write_all(int fd, const void *buf, size_t len, off_t off,
		      const char *path)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("%s: %s", path, strerror(errno));
		p += n;
		len -= n;
		off += n;
	}
}

/* make-image, make-state */

static int cmd_make_image(int argc, char **argv)
{
	uint64_t size, seed, zeros;
	const char *path;
	int ret;

	if (argc != 4)
		die("usage: make-image FILE SIZE SEED");
	path = argv[1];
	size = parse_size(argv[2], "SIZE");
	seed = parse_u64(argv[3], "SEED");
	if (!size || size % PAGE)
		die("SIZE must be a non-zero multiple of %lu", PAGE);
	ret = image_write(path, size, seed, true, &zeros);
	if (ret)
		die("%s: %s", path, strerror(-ret));
	printf("%s: %" PRIu64 " pages, %" PRIu64 " of them zero, seed %" PRIu64 "\n",
	       path, size / PAGE, zeros, seed);
	return 0;
}

static int cmd_make_state(int argc, char **argv)
{
	uint64_t len, seed, i;
	const char *path;
	uint8_t *buf;
	int fd;

	if (argc != 4)
		die("usage: make-state FILE BYTES SEED");
	path = argv[1];
	len = parse_size(argv[2], "BYTES");
	seed = parse_u64(argv[3], "SEED");
	if (len < STATE_HDR || len > (1ULL << 30) - 64)
		die("BYTES must be %d to 1 GiB - 64", STATE_HDR);
	buf = malloc(len);
	if (!buf)
		die("out of memory");
	memcpy(buf, STATE_MAGIC, 8);
	put64(buf + 8, seed);
	put64(buf + 16, len);
	for (i = STATE_HDR; i < len; i++)
		buf[i] = state_byte(seed, i);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", path, strerror(errno));
	write_all(fd, buf, len, 0, path);
	if (close(fd))
		die("%s: %s", path, strerror(errno));
	free(buf);
	printf("%s: %" PRIu64 " bytes of device state, seed %" PRIu64 "\n",
	       path, len, seed);
	return 0;
}

/* run */

struct vmm {
	const char *mem;
	uint64_t size;
	uint64_t pages;
	uint64_t seed;
	const char *state_in;
	const char *go;
	const char *report;
	const char *pid_file;
	unsigned int threads;
	unsigned int touch_ms;
	unsigned int think_us;
	unsigned int load_pages;
	unsigned int timeout_s;
	bool daemonize;

	int fd;
	volatile uint64_t *base;
	uint8_t *seen;			/* first touch done, per page */
	uint64_t seen_count;		/* atomic */
	bool stop;			/* atomic */
	struct workload_skew skew;

	/* results */
	uint64_t state_bytes;
	uint64_t load_touches;
	uint64_t load_max_ns;
	uint64_t load_bad;
	uint64_t touches;		/* atomic */
	uint64_t touch_bad;		/* atomic */
	uint64_t *lat;			/* first-touch latencies */
	uint64_t nlat;			/* atomic index into @lat */
	uint64_t touch_ns;
	uint64_t wait_end_ns;
	uint64_t verify_ns;
	uint64_t verified;		/* atomic */
	uint64_t mismatches;		/* atomic */
	uint64_t zero_pages;		/* atomic */
	uint64_t first_bad;
	struct pcmig_status st;
};

static void on_sigbus(int sig)
{
	static const char msg[] =
		"pcmig-demo-vmm: SIGBUS on guest memory: the session failed or was destroyed\n";

	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

/* One access to a page; latency in ns. Checks the first word. */
static uint64_t touch_page(struct vmm *v, uint64_t page, bool *ok)
{
	const volatile uint64_t *p = v->base + page * WORDS;
	uint64_t t0 = now_ns(), w;

	w = p[0];
	t0 = now_ns() - t0;
	*ok = w == image_word(v->seed, page, 0, true);
	return t0;
}

/* Read the device state, reading guest pages as a real load would. */
static void load_state(struct vmm *v)
{
	uint64_t len = 0, cap = 1 << 20, i, page, ns;
	uint8_t *buf = malloc(cap);
	unsigned int chunk = 0;
	ssize_t n;
	int fd = 0;

	if (!buf)
		die("out of memory");
	if (strcmp(v->state_in, "-")) {
		fd = open(v->state_in, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("%s: %s", v->state_in, strerror(errno));
	}
	for (;;) {
		if (len + LOAD_CHUNK > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		n = read(fd, buf + len, LOAD_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("reading the device state: %s", strerror(errno));
		if (!n)
			break;
		len += n;
		/* Fault on guest memory in the middle of the load. */
		if (v->load_touches < v->load_pages) {
			page = image_mix64(v->seed ^ 0x1234 ^ chunk++) %
			       v->pages;
			ns = now_ns();
			if (!image_page_ok(v->base + page * WORDS, v->seed,
					   page, true))
				v->load_bad++;
			ns = now_ns() - ns;
			if (ns > v->load_max_ns)
				v->load_max_ns = ns;
			v->load_touches++;
		}
	}
	if (fd)
		close(fd);
	v->state_bytes = len;
	if (len < STATE_HDR || memcmp(buf, STATE_MAGIC, 8))
		die("device state: not made by make-state (%" PRIu64 " bytes)",
		    len);
	if (get64(buf + 8) != v->seed)
		die("device state: seed %" PRIu64 ", expected %" PRIu64,
		    get64(buf + 8), v->seed);
	if (get64(buf + 16) != len)
		die("device state: %" PRIu64 " bytes, its header says %" PRIu64,
		    len, get64(buf + 16));
	for (i = STATE_HDR; i < len; i++)
		if (buf[i] != state_byte(v->seed, i))
			die("device state: byte %" PRIu64 " differs", i);
	free(buf);
	if (v->load_bad)
		die("%" PRIu64 " guest pages read during the load were wrong",
		    v->load_bad);
	printf("device state: %" PRIu64 " bytes loaded and checked; %" PRIu64 " guest pages read meanwhile (slowest %.3f ms)\n",
	       len, v->load_touches, v->load_max_ns / 1e6);
	fflush(stdout);
}

/* Fork: the parent exits 0 (state loaded) once the child runs. */
static void daemonize(struct vmm *v)
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
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	if (v->pid_file) {
		f = fopen(v->pid_file, "w");
		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			die("%s: %s", v->pid_file, strerror(errno));
	}
	if (write(p[1], &c, 1) != 1)
		die("daemonize: %s", strerror(errno));
	close(p[1]);
}

static void wait_go(struct vmm *v, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];
	ssize_t n;
	int ret;

	printf("waiting for 'go' on %s\n", v->go);
	fflush(stdout);
	for (;;) {
		ret = poll(&p, 1, (int)v->timeout_s * 1000);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			die("no 'go' on %s within %u s", v->go, v->timeout_s);
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			die("%s: %s", v->go, strerror(errno));
		poll(NULL, 0, 10);
	}
	close(fd);
}

struct toucher {
	struct vmm *v;
	unsigned int id;
	pthread_t th;
};

static void *touch_thread(void *arg)
{
	struct toucher *t = arg;
	struct vmm *v = t->v;
	uint64_t s = workload_thread_seed(v->seed, t->id);
	uint64_t end = now_ns() + (uint64_t)v->touch_ms * 1000000, page, ns;
	struct timespec think = { 0, (long)v->think_us * 1000 };
	uint64_t n = 0;
	bool ok;

	while (!__atomic_load_n(&v->stop, __ATOMIC_RELAXED) &&
	       now_ns() < end &&
	       __atomic_load_n(&v->seen_count, __ATOMIC_RELAXED) < v->pages) {
		page = workload_next_page(&v->skew, &s);
		ns = touch_page(v, page, &ok);
		n++;
		if (!ok)
			__atomic_fetch_add(&v->touch_bad, 1, __ATOMIC_RELAXED);
		if (!__atomic_exchange_n(&v->seen[page], 1, __ATOMIC_RELAXED)) {
			uint64_t i = __atomic_fetch_add(&v->nlat, 1,
							__ATOMIC_RELAXED);

			__atomic_fetch_add(&v->seen_count, 1,
					   __ATOMIC_RELAXED);
			if (i < v->pages)
				v->lat[i] = ns;
		}
		if (v->think_us)
			nanosleep(&think, NULL);
	}
	__atomic_fetch_add(&v->touches, n, __ATOMIC_RELAXED);
	return NULL;
}

static bool session_ended(struct vmm *v)
{
	struct pcmig_status st;

	memset(&st, 0, sizeof(st));
	return !ioctl(v->fd, PCMIG_IOC_STATUS, &st) &&
	       (st.state == PCMIG_STATE_END || st.state == PCMIG_STATE_FAILED);
}

/*
 * Run @fn on every thread. With @watch, stop them early once the session
 * ended: after END no access leaves the kernel, so first touches measure
 * nothing of interest any more.
 */
static void run_threads(struct vmm *v, void *(*fn)(void *), bool watch)
{
	struct toucher t[MAX_THREADS];
	unsigned int i;

	__atomic_store_n(&v->stop, false, __ATOMIC_RELAXED);
	for (i = 0; i < v->threads; i++) {
		t[i].v = v;
		t[i].id = i;
		if (pthread_create(&t[i].th, NULL, fn, &t[i]))
			die("pthread_create failed");
	}
	if (watch) {
		uint64_t end = now_ns() + (uint64_t)v->touch_ms * 1000000;

		while (now_ns() < end && !session_ended(v) &&
		       __atomic_load_n(&v->seen_count, __ATOMIC_RELAXED) <
		       v->pages)
			poll(NULL, 0, 20);
		__atomic_store_n(&v->stop, true, __ATOMIC_RELAXED);
	}
	for (i = 0; i < v->threads; i++)
		pthread_join(t[i].th, NULL);
}

static void wait_end(struct vmm *v)
{
	uint64_t until = now_ns() + (uint64_t)v->timeout_s * 1000000000ULL;

	for (;;) {
		memset(&v->st, 0, sizeof(v->st));
		if (ioctl(v->fd, PCMIG_IOC_STATUS, &v->st))
			die("%s: status: %s", v->mem, strerror(errno));
		if (v->st.state == PCMIG_STATE_END)
			return;
		if (v->st.state == PCMIG_STATE_FAILED)
			die("the session failed (reason %u, error %d)",
			    v->st.reason, v->st.error);
		if (now_ns() > until)
			die("the session did not reach END within %u s (state %u, %llu of %llu pages)",
			    v->timeout_s, v->st.state, v->st.pages_present,
			    v->st.pages_total);
		poll(NULL, 0, 50);
	}
}

static void *verify_thread(void *arg)
{
	struct toucher *t = arg;
	struct vmm *v = t->v;
	uint64_t per = (v->pages + v->threads - 1) / v->threads;
	uint64_t first = t->id * per, last = first + per, pg, bad = 0;
	uint64_t zeros = 0;

	if (last > v->pages)
		last = v->pages;
	for (pg = first; pg < last; pg++) {
		if (image_zero_page(v->seed, pg))
			zeros++;
		if (!image_page_ok(v->base + pg * WORDS, v->seed, pg, true)) {
			if (!bad++)
				__atomic_store_n(&v->first_bad, pg,
						 __ATOMIC_RELAXED);
		}
	}
	__atomic_fetch_add(&v->mismatches, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&v->zero_pages, zeros, __ATOMIC_RELAXED);
	__atomic_fetch_add(&v->verified, last > first ? last - first : 0,
			   __ATOMIC_RELAXED);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, uint64_t n, unsigned int p)
{
	uint64_t i;

	if (!n)
		return 0;
	i = (n * p + 99) / 100;
	return sorted[i ? i - 1 : 0];
}

static void report(struct vmm *v)
{
	uint64_t n = v->nlat < v->pages ? v->nlat : v->pages;
	uint64_t p50, p99, max;
	bool ok = !v->mismatches && v->verified == v->pages && !v->touch_bad;
	FILE *f;

	qsort(v->lat, n, sizeof(v->lat[0]), cmp_u64);
	p50 = pct(v->lat, n, 50);
	p99 = pct(v->lat, n, 99);
	max = n ? v->lat[n - 1] : 0;

	printf("touched: %" PRIu64 " accesses by %u threads in %.1f s, %" PRIu64 " pages touched first (p50 %.1f us, p99 %.1f us, max %.1f ms)\n",
	       v->touches, v->threads, v->touch_ns / 1e9, n, p50 / 1e3,
	       p99 / 1e3, max / 1e6);
	printf("session: END after %.1f s more; %llu pages, %llu requested, %llu faults\n",
	       v->wait_end_ns / 1e9, v->st.pages_total, v->st.pages_requested,
	       v->st.faults);
	if (ok)
		printf("verified: all pages match (%" PRIu64 " pages, %" PRIu64 " zero, in %.1f s)\n",
		       v->verified, v->zero_pages, v->verify_ns / 1e9);
	else
		printf("verified: MISMATCH: %" PRIu64 " of %" PRIu64 " pages differ (first: page %" PRIu64 "), %" PRIu64 " bad first words while touching\n",
		       v->mismatches, v->pages, v->first_bad, v->touch_bad);
	fflush(stdout);

	if (!v->report)
		return;
	f = fopen(v->report, "w");
	if (!f)
		die("%s: %s", v->report, strerror(errno));
	fprintf(f, "{\"result\":\"%s\",\"pages\":%" PRIu64 ",\"pages_verified\":%" PRIu64
		",\"mismatches\":%" PRIu64 ",\"first_mismatch\":%" PRId64
		",\"zero_pages\":%" PRIu64 ",\"touches\":%" PRIu64
		",\"touch_errors\":%" PRIu64 ",\"first_touches\":%" PRIu64
		",\"first_touch_p50_ns\":%" PRIu64 ",\"first_touch_p99_ns\":%" PRIu64
		",\"first_touch_max_ns\":%" PRIu64 ",\"load_touches\":%" PRIu64
		",\"load_max_ns\":%" PRIu64 ",\"state_bytes\":%" PRIu64
		",\"touch_ms\":%" PRIu64 ",\"wait_end_ms\":%" PRIu64
		",\"verify_ms\":%" PRIu64 ",\"threads\":%u}\n",
		ok ? "ok" : "mismatch", v->pages, v->verified, v->mismatches,
		v->mismatches ? (int64_t)v->first_bad : (int64_t)-1,
		v->zero_pages, v->touches, v->touch_bad, n, p50, p99, max,
		v->load_touches, v->load_max_ns, v->state_bytes,
		v->touch_ns / 1000000, v->wait_end_ns / 1000000,
		v->verify_ns / 1000000, v->threads);
	if (fclose(f))
		die("%s: %s", v->report, strerror(errno));
}

static const char run_usage[] =
	"usage: pcmig-demo-vmm run --mem NODE --size SIZE --seed SEED --state-in FILE|-\n"
	"                          --go FIFO [--threads N] [--touch-ms MS] [--think-us US]\n"
	"                          [--load-pages N] [--report FILE] [--daemonize]\n"
	"                          [--pid-file FILE] [--timeout SECONDS]\n";

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "state-in", required_argument, NULL, 'i' },
		{ "threads", required_argument, NULL, 't' },
		{ "go", required_argument, NULL, 'g' },
		{ "touch-ms", required_argument, NULL, 'T' },
		{ "think-us", required_argument, NULL, 'k' },
		{ "load-pages", required_argument, NULL, 'l' },
		{ "report", required_argument, NULL, 'r' },
		{ "daemonize", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static struct vmm v;
	uint64_t t0;
	off_t end;
	int c, go_fd;
	void *map;

	v.threads = 4;
	v.touch_ms = 60000;
	v.think_us = 100;
	v.load_pages = 16;
	v.timeout_s = 600;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			v.mem = optarg;
			break;
		case 's':
			v.size = parse_size(optarg, "--size");
			break;
		case 'S':
			v.seed = parse_u64(optarg, "--seed");
			break;
		case 'i':
			v.state_in = optarg;
			break;
		case 't':
			v.threads = (unsigned int)parse_u64(optarg, "--threads");
			break;
		case 'g':
			v.go = optarg;
			break;
		case 'T':
			v.touch_ms = (unsigned int)parse_u64(optarg, "--touch-ms");
			break;
		case 'k':
			v.think_us = (unsigned int)parse_u64(optarg, "--think-us");
			break;
		case 'l':
			v.load_pages = (unsigned int)parse_u64(optarg,
							       "--load-pages");
			break;
		case 'r':
			v.report = optarg;
			break;
		case 'd':
			v.daemonize = true;
			break;
		case 'p':
			v.pid_file = optarg;
			break;
		case 'o':
			v.timeout_s = (unsigned int)parse_u64(optarg, "--timeout");
			break;
		case 'h':
			fputs(run_usage, stdout);
			return 0;
		default:
			fputs(run_usage, stderr);
			return 2;
		}
	}
	if (!v.mem || !v.size || !v.state_in || !v.go || optind < argc) {
		fputs(run_usage, stderr);
		return 2;
	}
	if (v.size % PAGE || !v.threads || v.threads > MAX_THREADS ||
	    !v.timeout_s)
		die("--size must be a multiple of %lu, --threads 1 to %d",
		    PAGE, MAX_THREADS);
	v.pages = v.size / PAGE;
	workload_skew_init(&v.skew, v.pages, v.seed);
	v.seen = calloc(v.pages, 1);
	v.lat = calloc(v.pages, sizeof(v.lat[0]));
	if (!v.seen || !v.lat)
		die("out of memory");
	signal(SIGBUS, on_sigbus);

	v.fd = open(v.mem, O_RDWR | O_CLOEXEC);
	if (v.fd < 0)
		die("%s: %s", v.mem, strerror(errno));
	end = lseek(v.fd, 0, SEEK_END);
	if (end < 0 || (uint64_t)end != v.size)
		die("%s: size %lld, expected %" PRIu64, v.mem, (long long)end,
		    v.size);
	map = mmap(NULL, v.size, PROT_READ | PROT_WRITE, MAP_SHARED, v.fd, 0);
	if (map == MAP_FAILED)
		die("%s: mmap: %s", v.mem, strerror(errno));
	v.base = map;
	go_fd = open(v.go, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (go_fd < 0)
		die("%s: %s", v.go, strerror(errno));

	load_state(&v);
	if (v.daemonize)
		daemonize(&v);
	wait_go(&v, go_fd);

	printf("go: %u threads touch guest memory for up to %u ms or until END (%d%% of accesses in a hot %d%%)\n",
	       v.threads, v.touch_ms, WORKLOAD_HOT_PERCENT,
	       WORKLOAD_HOT_FRACTION);
	fflush(stdout);
	t0 = now_ns();
	run_threads(&v, touch_thread, true);
	v.touch_ns = now_ns() - t0;

	t0 = now_ns();
	wait_end(&v);
	v.wait_end_ns = now_ns() - t0;

	t0 = now_ns();
	run_threads(&v, verify_thread, false);
	v.verify_ns = now_ns() - t0;
	report(&v);
	munmap(map, v.size);
	close(v.fd);
	return v.mismatches || v.verified != v.pages || v.touch_bad ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: %s make-image FILE SIZE SEED\n"
		"       %s make-state FILE BYTES SEED\n"
		"       %s run --mem NODE --size SIZE --seed SEED ... (run --help)\n",
		prog, prog, prog);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "make-image"))
		return cmd_make_image(argc - 1, argv + 1);
	if (!strcmp(argv[1], "make-state"))
		return cmd_make_state(argc - 1, argv + 1);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
