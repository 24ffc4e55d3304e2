/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the benchmark programs (tools/bench/NAME.c): clocks,
 * samples and their percentiles, and the one output format 'make bench'
 * collects.
 */
#ifndef PCMIG_BENCH_H
#define PCMIG_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_NSEC_PER_SEC	1000000000ULL

/**
 * struct bench_samples - a growing array of measurements (nanoseconds)
 * @v: the samples
 * @n: samples stored
 * @cap: room at @v
 */
struct bench_samples {
	uint64_t *v;
	size_t n;
	size_t cap;
};

uint64_t bench_now_ns(void);
int bench_samples_add(struct bench_samples *s, uint64_t ns);
void bench_samples_free(struct bench_samples *s);
uint64_t bench_percentile(struct bench_samples *s, double pct);
double bench_mean(const struct bench_samples *s);

/*
 * Result lines, on standard output, one per measurement:
 *   result BENCH CASE METRIC VALUE UNIT
 * e.g. "result sendpath sendmsg throughput 812.4 MiB/s". The driver
 * (scripts/bench) computes ratios from these lines.
 */
void bench_result(const char *bench, const char *name, const char *metric,
		  double value, const char *unit);

/*
 * The program's name, for messages: each benchmark program defines it.
 */
extern const char *prog;

/*
 * die() - print "PROG: MESSAGE" on standard error and "status failed" on
 * standard output (what the bench scripts look for), and exit 1.
 */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
					      noreturn));

struct iovec;

/*
 * Write a whole iovec (consumed) with blocking sendmsg() calls, in one if it
 * can. Return: 0, or a negative errno (-EPIPE if nothing could be written).
 */
int bench_sendv(int fd, struct iovec *iov, int cnt);

/* A size or number with K, M, G, T suffixes, or die() naming @what. */
uint64_t parse_size(const char *s, const char *what);

#endif /* PCMIG_BENCH_H */
