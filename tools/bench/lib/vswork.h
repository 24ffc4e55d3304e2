/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The workload of part versus (scripts/bench-versus), run in-process by
 * every destination it compares: pcmig (build/bench/versus work, the run
 * hook of pcmig-tool incoming) and the userfaultfd destination
 * (build/bench/uffd_dest). One code for both, so that only the
 * destination differs.
 */
#ifndef PCMIG_VSWORK_H
#define PCMIG_VSWORK_H

#include <stdbool.h>
#include <stdint.h>

/**
 * struct vs_dest - guest memory as a destination offers it
 * @name: "pcmig" or "uffd", for the result line
 * @mem: guest memory, mapped
 * @size: its bytes
 * @remote: accesses that waited for the network so far (pcmig: the
 *	session's faults_blocked; uffd: fault events read)
 * @complete: whether every page is present (pcmig: END; uffd: every page
 *	placed and END on every page connection)
 * @priv: the destination's
 */
struct vs_dest {
	const char *name;
	uint8_t *mem;
	uint64_t size;
	uint64_t (*remote)(struct vs_dest *d);
	bool (*complete)(struct vs_dest *d);
	void *priv;
};

#define VS_MAX_STEPS	16

/**
 * struct vs_step - one step of the plan
 * @kind: "lat" (one thread, latency of each first access), "tput"
 *	(@threads threads on distinct missing pages at once), "skew" (the
 *	demo's skewed workload, @pages accesses per thread)
 * @threads: threads touching memory
 * @pages: pages per thread (lat, tput) or accesses per thread (skew)
 */
struct vs_step {
	char kind[8];
	unsigned int threads;
	uint64_t pages;
};

/**
 * struct vs_opts - what to run
 * @plan: the steps, as given (--plan)
 * @steps: the steps, in order; lat and tput steps never share a page
 * @nsteps: how many
 * @from: lat, tput: the pages are picked at or above this page
 * @seed: the image's seed
 * @samples: lat: write the latencies (us) here
 * @src_pid_file: the source process's pid, whose CPU time is not the
 *	destination's
 * @wait_end: then wait until every page is present and check them all
 * @timeout_s: the whole run, else it fails
 */
struct vs_opts {
	const char *plan;
	struct vs_step steps[VS_MAX_STEPS];
	unsigned int nsteps;
	uint64_t from;
	uint64_t seed;
	const char *samples;
	const char *src_pid_file;
	bool wait_end;
	unsigned int timeout_s;
};

/*
 * Parse the workload's options (--plan, --from-page,
 * --seed, --samples, --source-pid-file, --wait-end, --timeout) out of
 * @argc/@argv; others are handed to @other (return 0 if taken, else die).
 */
void vs_parse(struct vs_opts *o, int argc, char **argv,
	      int (*other)(int opt, const char *arg, void *ctx), void *ctx);
extern const char vs_usage[];

/*
 * Run the workload on @d and print its line 'stat key=value ...' on
 * stdout. Any wrong page, SIGBUS or timeout: die().
 */
void vs_run(const struct vs_opts *o, struct vs_dest *d);

/*
 * Print " p50=.. p90=.. p99=.. p999=.. mean=.. hist_us=B:N,..." for @n
 * latencies in ns (sorted in place); histogram buckets [B, 2B) us.
 */
void vs_print_lat(uint64_t *v, uint64_t n);

#endif /* PCMIG_VSWORK_H */
