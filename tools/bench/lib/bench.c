// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the benchmark programs: clocks, samples, percentiles
 * and result lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bench.h"
#include "net.h"
#include "ram.h"

/**
 * bench_now_ns() - the monotonic clock
 *
 * Return: nanoseconds.
 */
uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * BENCH_NSEC_PER_SEC + ts.tv_nsec;
}

/**
 * bench_samples_add() - store one measurement
 * @s: samples
 * @ns: the measurement
 *
 * Return: 0, or -1 when out of memory.
 */
int bench_samples_add(struct bench_samples *s, uint64_t ns)
{
	uint64_t *v;
	size_t cap;

	if (s->n == s->cap) {
		cap = s->cap ? 2 * s->cap : 1024;
		v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ns;
	return 0;
}

/**
 * bench_samples_free() - release the samples
 * @s: samples; empty afterwards
 */
void bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/**
 * bench_percentile() - a percentile, nearest rank
 * @s: samples; sorted by the call
 * @pct: 0 to 100
 *
 * Return: the sample at that rank, or 0 without samples.
 */
uint64_t bench_percentile(struct bench_samples *s, double pct)
{
	size_t rank;

	if (!s->n)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	rank = (size_t)(pct / 100.0 * (double)s->n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return s->v[rank - 1];
}

/**
 * bench_mean() - the mean of the samples
 * @s: samples
 *
 * Return: the mean, 0 without samples.
 */
double bench_mean(const struct bench_samples *s)
{
	double sum = 0;
	size_t i;

	for (i = 0; i < s->n; i++)
		sum += (double)s->v[i];
	return s->n ? sum / (double)s->n : 0;
}

/**
 * bench_result() - print one result line for the driver
 * @bench: benchmark name
 * @name: the case measured
 * @metric: what was measured
 * @value: the figure
 * @unit: its unit
 */
void bench_result(const char *bench, const char *name, const char *metric,
		  double value, const char *unit)
{
	printf("result %s %s %s %.6g %s\n", bench, name, metric, value, unit);
	fflush(stdout);
}

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	printf("status failed\n");
	exit(1);
}

uint64_t parse_size(const char *s, const char *what)
{
	uint64_t v;

	if (pcmig_parse_size(s, &v))
		die("%s '%s': not a size (K, M, G, T suffixes)", what, s);
	return v;
}

int bench_sendv(int fd, struct iovec *iov, int cnt)
{
	struct msghdr mh = { 0 };
	ssize_t n;

	while (cnt) {
		mh.msg_iov = iov;
		mh.msg_iovlen = cnt;
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EPIPE;
		pcmig_iov_advance(&iov, &cnt, (size_t)n);
	}
	return 0;
}
