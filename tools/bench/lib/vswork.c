// SPDX-License-Identifier: GPL-2.0
/*
 * The workload of part versus, shared by its destinations (vswork.h).
 *
 * lat   one thread touches --pages distinct random pages one at a time
 *       and times the first read of each; a probe counts as a remote
 *       fault when the destination's counter of accesses that waited for
 *       the network moved during it (the headline figures are of those).
 * tput  --threads threads, each on --pages distinct random missing pages
 *       of its own, all started together: pages/s over the touching phase.
 * skew  the demo's workload (tools/lib/workload.h): --threads threads of
 *       --pages accesses each; with --wait-end, then wait for the last
 *       page and check every page of memory.
 *
 * Every page touched is compared whole with the image. The destination's
 * CPU time over the measured phase: the guest's busy time (/proc/stat:
 * user, nice, system, irq, softirq, steal: kernel threads and softirq
 * included) minus the source process's (its pid from --source-pid-file).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "bench.h"
#include "image.h"
#include "vswork.h"
#include "workload.h"

#define PS		IMAGE_PAGE
#define WORDS		IMAGE_WORDS
#define MAX_THREADS	64
#define HIST_BUCKETS	32

const char vs_usage[] =
	"  --plan 'STEP...'       the steps, in order, each on pages none of\n"
	"                         the others touched: latT:N (T threads, N\n"
	"                         pages each, probed one at a time; T is 1),\n"
	"                         tputT:N (T threads on N pages each, all at\n"
	"                         once), skewT:N (the demo's workload, T\n"
	"                         threads of N accesses each; last)\n"
	"  --from-page N          lat, tput: pick pages at or above N\n"
	"  --seed N               the image's seed\n"
	"  --samples FILE         lat: the remote faults' latencies (us)\n"
	"  --source-pid-file F    the source's pid: its CPU is not counted\n"
	"  --wait-end             then wait for every page and check them all\n"
	"  --timeout S            limit of the whole run (default 240)\n";

static void on_fatal(int sig)
{
	static const char bus[] =
		"vswork: SIGBUS on guest memory: the destination failed\n";
	static const char alrm[] =
		"vswork: timeout: the workload did not finish in time\n";
	static const char st[] = "status failed\n";

	if (sig == SIGBUS) {
		if (write(STDERR_FILENO, bus, sizeof(bus) - 1) < 0)
			_exit(3);
	} else if (write(STDERR_FILENO, alrm, sizeof(alrm) - 1) < 0) {
		_exit(3);
	}
	if (write(STDOUT_FILENO, st, sizeof(st) - 1) < 0)
		_exit(3);
	_exit(3);
}

static void parse_plan(struct vs_opts *o)
{
	const char *p = o->plan;
	struct vs_step *st;
	char kind[8];
	unsigned int t;
	unsigned long long n;
	int used;

	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		if (o->nsteps == VS_MAX_STEPS)
			die("--plan: at most %d steps", VS_MAX_STEPS);
		if (sscanf(p, "%7[a-z]%u:%llu%n", kind, &t, &n, &used) != 3)
			die("--plan: bad step at '%s'", p);
		st = &o->steps[o->nsteps++];
		snprintf(st->kind, sizeof(st->kind), "%s", kind);
		st->threads = t;
		st->pages = n;
		if ((strcmp(kind, "lat") && strcmp(kind, "tput") &&
		     strcmp(kind, "skew")) || !t || t > MAX_THREADS || !n ||
		    (!strcmp(kind, "lat") && t != 1))
			die("--plan: bad step '%.*s' (lat1:N, tputT:N, skewT:N; T 1 to %d)",
			    used, p, MAX_THREADS);
		if (o->nsteps > 1 && !strcmp(o->steps[o->nsteps - 2].kind,
					      "skew"))
			die("--plan: skew comes last");
		p += used;
	}
	if (!o->nsteps)
		die("--plan: no step");
}

void vs_parse(struct vs_opts *o, int argc, char **argv,
	      int (*other)(int opt, const char *arg, void *ctx), void *ctx)
{
	static const struct option vs_opts_tab[] = {
		{ "plan", required_argument, NULL, 1000 },
		{ "from-page", required_argument, NULL, 1003 },
		{ "seed", required_argument, NULL, 1004 },
		{ "samples", required_argument, NULL, 1005 },
		{ "source-pid-file", required_argument, NULL, 1006 },
		{ "wait-end", no_argument, NULL, 1007 },
		{ "timeout", required_argument, NULL, 1008 },
		/* The caller's, handed to @other. */
		{ "listen", required_argument, NULL, 'l' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "ram", required_argument, NULL, 'r' },
		{ "state-out", required_argument, NULL, 's' },
		{ "fault-threads", required_argument, NULL, 'f' },
		{ "node", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->plan = "lat1:100";
	o->timeout_s = 240;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", vs_opts_tab, NULL)) != -1) {
		switch (c) {
		case 1000: o->plan = optarg; break;
		case 1003: o->from = parse_size(optarg, "--from-page"); break;
		case 1004: o->seed = parse_size(optarg, "--seed"); break;
		case 1005: o->samples = optarg; break;
		case 1006: o->src_pid_file = optarg; break;
		case 1007: o->wait_end = true; break;
		case 1008: o->timeout_s = parse_size(optarg, "--timeout"); break;
		default:
			if (c == '?' || !other || other(c, optarg, ctx))
				die("bad option (see the usage)");
		}
	}
	if (optind < argc)
		die("unexpected argument '%s'", argv[optind]);
	o->nsteps = 0;
	parse_plan(o);
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

/* CPU time of the source process (all its threads), in clock ticks. */
static uint64_t source_ticks(const struct vs_opts *o)
{
	unsigned long long ut, st;
	char path[64], buf[1024], *p;
	int pid = 0;
	FILE *f;

	if (!o->src_pid_file)
		return 0;
	f = fopen(o->src_pid_file, "r");
	if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0)
		die("%s: no source pid", o->src_pid_file);
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f))
		die("%s: cannot read (the source is gone?)", path);
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		die("%s: cannot parse", path);
	return ut + st;
}

struct cpu_mark {
	uint64_t busy;
	uint64_t src;
};

static void cpu_mark(const struct vs_opts *o, struct cpu_mark *m)
{
	m->busy = guest_busy_ticks();
	m->src = source_ticks(o);
}

/* Destination CPU between two marks, in microseconds. */
static double cpu_us(const struct cpu_mark *a, const struct cpu_mark *b)
{
	int64_t t = (int64_t)(b->busy - a->busy) - (int64_t)(b->src - a->src);

	return (double)(t < 0 ? 0 : t) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static uint64_t epoch_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * BENCH_NSEC_PER_SEC + ts.tv_nsec;
}

struct vs_run {
	const struct vs_opts *o;
	struct vs_dest *d;
	uint64_t npages;
	uint64_t *order;		/* pages for the lat and tput steps */
	uint64_t next;			/* the first of them not used yet */
	uint64_t *cur;			/* this step's pages */
	uint64_t *lat;			/* ns */
	unsigned int nthreads;		/* this step's */
	uint64_t pages;			/* this step's, per thread */
	uint64_t nlat;			/* atomic (skew) */
	uint8_t *seen;			/* skew: first touch done */
	struct workload_skew skew;
	pthread_barrier_t start;
	uint64_t touches;		/* atomic */
};

static void check_page(struct vs_run *r, uint64_t pg)
{
	if (!image_page_ok((const volatile uint64_t *)(r->d->mem + pg * PS),
			   r->o->seed, pg, false))
		die("%s: page %" PRIu64 ": contents differ from the source image",
		    r->d->name, pg);
}

static uint64_t first_read(struct vs_run *r, uint64_t pg)
{
	const volatile uint64_t *p =
		(const volatile uint64_t *)(r->d->mem + pg * PS);
	uint64_t t0 = bench_now_ns(), w;

	w = p[0];
	t0 = bench_now_ns() - t0;
	if (w != image_word(r->o->seed, pg, 0, false))
		die("%s: page %" PRIu64 ": first word differs from the source image",
		    r->d->name, pg);
	return t0;
}

/* The first @total pages of a random permutation of [from, npages). */
static void pick_pages(struct vs_run *r, uint64_t total)
{
	uint64_t state = r->o->seed ^ 0x5eedULL ^ bench_now_ns(), i, j, t;
	uint64_t from = r->o->from, n = r->npages;

	if (from >= n || total > n - from)
		die("%" PRIu64 " pages asked from page %" PRIu64
		    ", the memory has %" PRIu64, total, from, n);
	r->order = calloc(n, sizeof(uint64_t));
	if (!r->order)
		die("out of memory");
	for (i = 0; i < n; i++)
		r->order[i] = i;
	for (i = 0; i < total; i++) {
		j = from + i + image_rnd(&state) % (n - from - i);
		t = r->order[from + i];
		r->order[from + i] = r->order[j];
		r->order[j] = t;
	}
	memmove(r->order, r->order + from, total * sizeof(uint64_t));
}

/* This step's @total pages, and room for their latencies. */
static void step_pages(struct vs_run *r, uint64_t total)
{
	r->cur = r->order + r->next;
	r->next += total;
	free(r->lat);
	r->lat = calloc(total, sizeof(uint64_t));
	if (!r->lat)
		die("out of memory");
}

struct vs_thread {
	struct vs_run *r;
	unsigned int id;
	pthread_t th;
};

static void *tput_thread(void *arg)
{
	struct vs_thread *t = arg;
	struct vs_run *r = t->r;
	uint64_t *order = r->cur + t->id * r->pages;
	uint64_t *lat = r->lat + t->id * r->pages, i;

	pthread_barrier_wait(&r->start);
	for (i = 0; i < r->pages; i++)
		lat[i] = first_read(r, order[i]);
	return NULL;
}

static void *skew_thread(void *arg)
{
	struct vs_thread *t = arg;
	struct vs_run *r = t->r;
	uint64_t s = workload_thread_seed(r->o->seed, t->id), i, pg, ns, k;

	pthread_barrier_wait(&r->start);
	for (i = 0; i < r->pages; i++) {
		pg = workload_next_page(&r->skew, &s);
		ns = first_read(r, pg);
		if (__atomic_exchange_n(&r->seen[pg], 1, __ATOMIC_RELAXED))
			continue;
		check_page(r, pg);
		k = __atomic_fetch_add(&r->nlat, 1, __ATOMIC_RELAXED);
		r->lat[k] = ns;
	}
	__atomic_fetch_add(&r->touches, i, __ATOMIC_RELAXED);
	return NULL;
}

static void *verify_thread(void *arg)
{
	struct vs_thread *t = arg;
	struct vs_run *r = t->r;
	uint64_t per = (r->npages + r->nthreads - 1) / r->nthreads;
	uint64_t pg, last = (t->id + 1) * per;

	for (pg = t->id * per; pg < last && pg < r->npages; pg++)
		check_page(r, pg);
	return NULL;
}

static void run_threads(struct vs_run *r, void *(*fn)(void *), bool barrier)
{
	struct vs_thread t[MAX_THREADS];
	unsigned int i;

	if (barrier)
		pthread_barrier_init(&r->start, NULL, r->nthreads + 1);
	for (i = 0; i < r->nthreads; i++) {
		t[i].r = r;
		t[i].id = i;
		if (pthread_create(&t[i].th, NULL, fn, &t[i]))
			die("pthread_create failed");
	}
	if (barrier)
		pthread_barrier_wait(&r->start);
	for (i = 0; i < r->nthreads; i++)
		pthread_join(t[i].th, NULL);
	if (barrier)
		pthread_barrier_destroy(&r->start);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, uint64_t n, double p)
{
	uint64_t i;

	if (!n)
		return 0;
	i = (uint64_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1] / 1000.0;
}

/* Percentiles, mean and log2 histogram (us) of @n latencies. */
void vs_print_lat(uint64_t *v, uint64_t n)
{
	uint64_t hist[HIST_BUCKETS] = { 0 }, sum = 0, i, us;
	unsigned int b;
	char sep = '=';

	qsort(v, n, sizeof(uint64_t), cmp_u64);
	for (i = 0; i < n; i++) {
		sum += v[i];
		us = v[i] / 1000;
		for (b = 0; us > 1 && b < HIST_BUCKETS - 1; b++)
			us >>= 1;
		hist[b]++;
	}
	printf(" p50=%.1f p90=%.1f p99=%.1f p999=%.1f mean=%.1f",
	       pct_us(v, n, 50), pct_us(v, n, 90), pct_us(v, n, 99),
	       pct_us(v, n, 99.9), n ? sum / 1000.0 / n : 0.0);
	/* Bucket b: [2^b, 2^(b+1)) us, b = 0 also below 1 us. */
	printf(" hist_us");
	for (b = 0; b < HIST_BUCKETS; b++) {
		if (!hist[b])
			continue;
		printf("%c%u:%" PRIu64, sep, 1U << b, hist[b]);
		sep = ',';
	}
	if (sep == '=')
		printf("=none");
}

static void run_lat(struct vs_run *r, const struct vs_step *st)
{
	const struct vs_opts *o = r->o;
	uint64_t i, pg, ns, a, b, nr = 0;
	struct cpu_mark c0, c1;
	uint64_t t0, wall;
	FILE *f = NULL;

	step_pages(r, st->pages);
	if (o->samples) {
		f = fopen(o->samples, "w");
		if (!f)
			die("%s: %s", o->samples, strerror(errno));
	}
	cpu_mark(o, &c0);
	t0 = bench_now_ns();
	for (i = 0; i < st->pages; i++) {
		pg = r->cur[i];
		a = r->d->remote(r->d);
		ns = first_read(r, pg);
		b = r->d->remote(r->d);
		check_page(r, pg);
		/* Only the probes that waited for the network count. */
		if (b > a) {
			r->lat[nr++] = ns;
			if (f)
				fprintf(f, "%.1f\n", ns / 1000.0);
		}
	}
	wall = bench_now_ns() - t0;
	cpu_mark(o, &c1);
	if (f && fclose(f))
		die("%s: %s", o->samples, strerror(errno));
	printf("stat kind=lat case=%s threads=1 pages=%" PRIu64
	       " remote=%" PRIu64, r->d->name, st->pages, nr);
	vs_print_lat(r->lat, nr);
	printf(" pages_per_s=%.0f cpu_us_per_page=%.1f wall_s=%.3f\n",
	       st->pages / (wall / 1e9), nr ? cpu_us(&c0, &c1) / nr : 0.0,
	       wall / 1e9);
}

static void run_tput(struct vs_run *r, const struct vs_step *st)
{
	const struct vs_opts *o = r->o;
	uint64_t total = st->threads * st->pages, i, a, b, t0, wall;
	struct cpu_mark c0, c1;

	step_pages(r, total);
	r->nthreads = st->threads;
	r->pages = st->pages;
	a = r->d->remote(r->d);
	cpu_mark(o, &c0);
	t0 = bench_now_ns();
	run_threads(r, tput_thread, true);
	wall = bench_now_ns() - t0;
	cpu_mark(o, &c1);
	b = r->d->remote(r->d);
	for (i = 0; i < total; i++)
		check_page(r, r->cur[i]);
	printf("stat kind=tput%u case=%s threads=%u pages=%" PRIu64
	       " remote=%" PRIu64, st->threads, r->d->name, st->threads,
	       total, b - a);
	vs_print_lat(r->lat, total);
	printf(" pages_per_s=%.0f cpu_us_per_page=%.1f wall_s=%.3f\n",
	       total / (wall / 1e9), cpu_us(&c0, &c1) / total, wall / 1e9);
}

static void run_skew(struct vs_run *r, const struct vs_step *st)
{
	const struct vs_opts *o = r->o;
	uint64_t t0, e0, work, done = 0, a, b;
	struct cpu_mark c0, c1;

	workload_skew_init(&r->skew, r->npages, o->seed);
	r->seen = calloc(r->npages, 1);
	free(r->lat);
	r->lat = calloc(r->npages, sizeof(uint64_t));
	if (!r->seen || !r->lat)
		die("out of memory");
	r->nthreads = st->threads;
	r->pages = st->pages;
	a = r->d->remote(r->d);
	cpu_mark(o, &c0);
	e0 = epoch_ns();
	t0 = bench_now_ns();
	run_threads(r, skew_thread, true);
	work = bench_now_ns() - t0;
	if (o->wait_end) {
		while (!r->d->complete(r->d))
			poll(NULL, 0, 2);
		done = bench_now_ns() - t0;
	}
	cpu_mark(o, &c1);
	b = r->d->remote(r->d);
	if (o->wait_end)
		run_threads(r, verify_thread, false);
	printf("stat kind=skew case=%s threads=%u pages=%" PRIu64
	       " accesses=%" PRIu64 " remote=%" PRIu64, r->d->name,
	       st->threads, r->nlat, r->touches, b - a);
	vs_print_lat(r->lat, r->nlat);
	printf(" t_start=%.6f work_s=%.3f complete_s=%.3f cpu_us_per_page=%.1f verified=%" PRIu64 "\n",
	       e0 / 1e9, work / 1e9, done / 1e9,
	       cpu_us(&c0, &c1) / (o->wait_end ? r->npages : r->nlat),
	       o->wait_end ? r->npages : r->nlat);
}

void vs_run(const struct vs_opts *o, struct vs_dest *d)
{
	struct vs_run r = { .o = o, .d = d, .npages = d->size / PS };
	struct sigaction sa;
	uint64_t total = 0;
	unsigned int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	alarm(o->timeout_s);
	for (i = 0; i < o->nsteps; i++)
		if (strcmp(o->steps[i].kind, "skew"))
			total += o->steps[i].threads * o->steps[i].pages;
	if (total)
		pick_pages(&r, total);
	for (i = 0; i < o->nsteps; i++) {
		if (!strcmp(o->steps[i].kind, "lat"))
			run_lat(&r, &o->steps[i]);
		else if (!strcmp(o->steps[i].kind, "tput"))
			run_tput(&r, &o->steps[i]);
		else
			run_skew(&r, &o->steps[i]);
		fflush(stdout);
	}
	alarm(0);
	free(r.order);
	free(r.lat);
	free(r.seen);
}
