// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of tools/pcmig/format.c: names, units, percentiles, JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "pcmig-tool.h"

static int passed, failed;

#define CHECK(cond)							\
	do {								\
		if (cond) {						\
			passed++;					\
		} else {						\
			failed++;					\
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,	\
				__LINE__, #cond);			\
		}							\
	} while (0)

#define CHECK_STR(got, want)						\
	do {								\
		const char *g_ = (got), *w_ = (want);			\
		if (g_ && !strcmp(g_, w_)) {				\
			passed++;					\
		} else {						\
			failed++;					\
			fprintf(stderr, "%s:%d: FAIL: %s: got \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__, #got,		\
				g_ ? g_ : "(null)", w_);		\
		}							\
	} while (0)

#define CHECK_U64(got, want)						\
	do {								\
		unsigned long long g_ = (got), w_ = (want);		\
		if (g_ == w_) {						\
			passed++;					\
		} else {						\
			failed++;					\
			fprintf(stderr, "%s:%d: FAIL: %s: got %llu, want %llu\n", \
				__FILE__, __LINE__, #got, g_, w_);	\
		}							\
	} while (0)

static void test_states(void)
{
	static const struct {
		uint32_t state;
		const char *name;
	} states[] = {
		{ PCMIG_STATE_NONE, "none" },
		{ PCMIG_STATE_ADVISE, "advise" },
		{ PCMIG_STATE_DISCARD, "discard" },
		{ PCMIG_STATE_LISTEN, "listen" },
		{ PCMIG_STATE_RUNNING, "running" },
		{ PCMIG_STATE_END, "end" },
		{ PCMIG_STATE_PAUSED, "paused" },
		{ PCMIG_STATE_RECOVER, "recover" },
		{ PCMIG_STATE_FAILED, "failed" },
	};
	char buf[PCMIG_FMT_LEN];
	size_t i;

	CHECK(ARRAY_SIZE(states) == __PCMIG_STATE_MAX);
	for (i = 0; i < ARRAY_SIZE(states); i++) {
		CHECK_STR(pcmig_state_name(states[i].state), states[i].name);
		CHECK_STR(pcmig_state_str(states[i].state, buf, sizeof(buf)),
			  states[i].name);
		CHECK(pcmig_state_parse(states[i].name) ==
		      (int)states[i].state);
	}
	CHECK(!pcmig_state_name(__PCMIG_STATE_MAX));
	CHECK_STR(pcmig_state_str(__PCMIG_STATE_MAX, buf, sizeof(buf)),
		  "unknown(9)");
	CHECK_STR(pcmig_state_str(UINT32_MAX, buf, sizeof(buf)),
		  "unknown(4294967295)");
	CHECK(pcmig_state_parse("RUNNING") == PCMIG_STATE_RUNNING);
	CHECK(pcmig_state_parse("Failed") == PCMIG_STATE_FAILED);
	CHECK(pcmig_state_parse("bogus") == -EINVAL);
	CHECK(pcmig_state_parse("") == -EINVAL);
	CHECK(pcmig_state_parse("run") == -EINVAL);
	CHECK(pcmig_state_parse("running2") == -EINVAL);
	CHECK(pcmig_state_parse("unknown(9)") == -EINVAL);
	CHECK(pcmig_state_parse(NULL) == -EINVAL);
}

static void test_reasons(void)
{
	static const struct {
		uint32_t reason;
		const char *name;
	} reasons[] = {
		{ PCMIG_REASON_NONE, "none" },
		{ PCMIG_REASON_CHANNEL_EOF, "channel_eof" },
		{ PCMIG_REASON_CHANNEL_ERROR, "channel_error" },
		{ PCMIG_REASON_BAD_MAGIC, "bad_magic" },
		{ PCMIG_REASON_BAD_VERSION, "bad_version" },
		{ PCMIG_REASON_BAD_TYPE, "bad_type" },
		{ PCMIG_REASON_BAD_FLAGS, "bad_flags" },
		{ PCMIG_REASON_BAD_RANGE, "bad_range" },
		{ PCMIG_REASON_BAD_LENGTH, "bad_length" },
		{ PCMIG_REASON_NOT_REQUESTED, "not_requested" },
		{ PCMIG_REASON_DUPLICATE, "duplicate" },
		{ PCMIG_REASON_INCOMPLETE, "incomplete" },
		{ PCMIG_REASON_ABORTED, "aborted" },
		{ PCMIG_REASON_DESTROYED, "destroyed" },
	};
	char buf[PCMIG_FMT_LEN];
	size_t i;

	CHECK(ARRAY_SIZE(reasons) == __PCMIG_REASON_MAX);
	for (i = 0; i < ARRAY_SIZE(reasons); i++) {
		CHECK_STR(pcmig_reason_name(reasons[i].reason),
			  reasons[i].name);
		CHECK_STR(pcmig_reason_str(reasons[i].reason, buf,
					   sizeof(buf)), reasons[i].name);
		CHECK(pcmig_reason_parse(reasons[i].name) ==
		      (int)reasons[i].reason);
	}
	CHECK(!pcmig_reason_name(__PCMIG_REASON_MAX));
	CHECK_STR(pcmig_reason_str(__PCMIG_REASON_MAX, buf, sizeof(buf)),
		  "unknown(14)");
	CHECK_STR(pcmig_reason_str(1000, buf, sizeof(buf)), "unknown(1000)");
	CHECK(pcmig_reason_parse("BAD-MAGIC") == PCMIG_REASON_BAD_MAGIC);
	CHECK(pcmig_reason_parse("not-requested") ==
	      PCMIG_REASON_NOT_REQUESTED);
	CHECK(pcmig_reason_parse("bad") == -EINVAL);
	CHECK(pcmig_reason_parse("bad_magic_") == -EINVAL);
	CHECK(pcmig_reason_parse(NULL) == -EINVAL);
}

static void test_events(void)
{
	char buf[PCMIG_FMT_LEN];

	CHECK_STR(pcmig_event_name(PCMIG_CMD_EVENT_STATE), "state");
	CHECK_STR(pcmig_event_name(PCMIG_CMD_EVENT_PAUSED), "paused");
	CHECK_STR(pcmig_event_name(PCMIG_CMD_EVENT_ERROR), "error");
	CHECK_STR(pcmig_event_name(PCMIG_CMD_EVENT_COMPLETE), "complete");
	CHECK(!pcmig_event_name(PCMIG_CMD_UNSPEC));
	CHECK(!pcmig_event_name(PCMIG_CMD_SESSION_GET));
	CHECK(!pcmig_event_name(__PCMIG_CMD_MAX));
	CHECK_STR(pcmig_event_str(200, buf, sizeof(buf)), "unknown(200)");
}

static void test_percentiles(void)
{
	uint64_t h[PCMIG_HIST_BUCKETS];
	const unsigned int n = PCMIG_HIST_BUCKETS;

	/* Empty. */
	memset(h, 0, sizeof(h));
	CHECK_U64(pcmig_hist_total(h, n), 0);
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 0);
	CHECK_U64(pcmig_hist_percentile(h, n, 90), 0);
	CHECK_U64(pcmig_hist_percentile(h, n, 99), 0);
	CHECK_U64(pcmig_hist_percentile(h, n, 100), 0);
	CHECK_U64(pcmig_hist_percentile(h, 0, 50), 0);

	/* All in one bucket: every percentile is its upper bound. */
	h[5] = 100;
	CHECK_U64(pcmig_hist_percentile(h, n, 0), 64);
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 64);
	CHECK_U64(pcmig_hist_percentile(h, n, 90), 64);
	CHECK_U64(pcmig_hist_percentile(h, n, 99), 64);
	CHECK_U64(pcmig_hist_percentile(h, n, 100), 64);

	/* The first bucket: [1, 2) ns. */
	memset(h, 0, sizeof(h));
	h[0] = 1;
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 2);

	/* The last bucket (which also counts everything longer). */
	memset(h, 0, sizeof(h));
	h[PCMIG_HIST_BUCKETS - 1] = 7;
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 1ULL << 40);
	CHECK_U64(pcmig_hist_percentile(h, n, 99), 1ULL << 40);
	h[0] = 93;
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 2);
	CHECK_U64(pcmig_hist_percentile(h, n, 90), 2);
	CHECK_U64(pcmig_hist_percentile(h, n, 93), 2);
	CHECK_U64(pcmig_hist_percentile(h, n, 94), 1ULL << 40);
	CHECK_U64(pcmig_hist_percentile(h, n, 99), 1ULL << 40);

	/* Spread: the cumulative count crosses exactly at 50 and 90. */
	memset(h, 0, sizeof(h));
	h[3] = 50;
	h[10] = 40;
	h[20] = 10;
	CHECK_U64(pcmig_hist_total(h, n), 100);
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 16);
	CHECK_U64(pcmig_hist_percentile(h, n, 51), 2048);
	CHECK_U64(pcmig_hist_percentile(h, n, 90), 2048);
	CHECK_U64(pcmig_hist_percentile(h, n, 91), 1ULL << 21);
	CHECK_U64(pcmig_hist_percentile(h, n, 99), 1ULL << 21);
	CHECK_U64(pcmig_hist_percentile(h, n, 1000), 1ULL << 21);

	/* Rounding up: 3 samples, p50 needs 2 of them. */
	memset(h, 0, sizeof(h));
	h[1] = 1;
	h[2] = 1;
	h[3] = 1;
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 8);
	CHECK_U64(pcmig_hist_percentile(h, n, 34), 8);
	CHECK_U64(pcmig_hist_percentile(h, n, 33), 4);

	/* Huge counts saturate instead of wrapping. */
	memset(h, 0, sizeof(h));
	h[4] = UINT64_MAX;
	h[8] = UINT64_MAX;
	CHECK_U64(pcmig_hist_total(h, n), UINT64_MAX);
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 32);
	CHECK_U64(pcmig_hist_percentile(h, n, 100), 32);
	memset(h, 0, sizeof(h));
	h[4] = UINT64_MAX / 2;
	h[8] = UINT64_MAX / 2;
	CHECK_U64(pcmig_hist_percentile(h, n, 50), 32);
	CHECK_U64(pcmig_hist_percentile(h, n, 51), 512);
}

static void test_size(void)
{
	char buf[PCMIG_FMT_LEN];

	CHECK_STR(pcmig_fmt_size(0, buf, sizeof(buf)), "0 B");
	CHECK_STR(pcmig_fmt_size(1, buf, sizeof(buf)), "1 B");
	CHECK_STR(pcmig_fmt_size(1023, buf, sizeof(buf)), "1023 B");
	CHECK_STR(pcmig_fmt_size(1024, buf, sizeof(buf)), "1 KiB");
	CHECK_STR(pcmig_fmt_size(1025, buf, sizeof(buf)), "1.0 KiB");
	CHECK_STR(pcmig_fmt_size(1075, buf, sizeof(buf)), "1.0 KiB");
	CHECK_STR(pcmig_fmt_size(1076, buf, sizeof(buf)), "1.1 KiB");
	CHECK_STR(pcmig_fmt_size(1536, buf, sizeof(buf)), "1.5 KiB");
	CHECK_STR(pcmig_fmt_size(4096, buf, sizeof(buf)), "4 KiB");
	CHECK_STR(pcmig_fmt_size(1023 * 1024, buf, sizeof(buf)), "1023 KiB");
	CHECK_STR(pcmig_fmt_size(1023 * 1024 + 1000, buf, sizeof(buf)),
		  "1.0 MiB");
	CHECK_STR(pcmig_fmt_size((1 << 20) - 1, buf, sizeof(buf)), "1.0 MiB");
	CHECK_STR(pcmig_fmt_size(1 << 20, buf, sizeof(buf)), "1 MiB");
	CHECK_STR(pcmig_fmt_size(256ULL << 20, buf, sizeof(buf)), "256 MiB");
	CHECK_STR(pcmig_fmt_size(4ULL << 30, buf, sizeof(buf)), "4 GiB");
	CHECK_STR(pcmig_fmt_size(3ULL << 29, buf, sizeof(buf)), "1.5 GiB");
	CHECK_STR(pcmig_fmt_size(PCMIG_MAX_SIZE, buf, sizeof(buf)), "4 TiB");
	CHECK_STR(pcmig_fmt_size(1ULL << 50, buf, sizeof(buf)), "1 PiB");
	CHECK_STR(pcmig_fmt_size(1ULL << 60, buf, sizeof(buf)), "1 EiB");
	CHECK_STR(pcmig_fmt_size(UINT64_MAX, buf, sizeof(buf)), "16.0 EiB");
	/* A small buffer truncates, never overflows. */
	CHECK_STR(pcmig_fmt_size(1536, buf, 4), "1.5");
}

static void test_ns(void)
{
	char buf[PCMIG_FMT_LEN];

	CHECK_STR(pcmig_fmt_ns(0, buf, sizeof(buf)), "0 ns");
	CHECK_STR(pcmig_fmt_ns(999, buf, sizeof(buf)), "999 ns");
	CHECK_STR(pcmig_fmt_ns(1000, buf, sizeof(buf)), "1 us");
	CHECK_STR(pcmig_fmt_ns(1024, buf, sizeof(buf)), "1.0 us");
	CHECK_STR(pcmig_fmt_ns(1500, buf, sizeof(buf)), "1.5 us");
	CHECK_STR(pcmig_fmt_ns(1949, buf, sizeof(buf)), "1.9 us");
	CHECK_STR(pcmig_fmt_ns(1950, buf, sizeof(buf)), "2.0 us");
	CHECK_STR(pcmig_fmt_ns(999999, buf, sizeof(buf)), "1.0 ms");
	CHECK_STR(pcmig_fmt_ns(999949, buf, sizeof(buf)), "999.9 us");
	CHECK_STR(pcmig_fmt_ns(1000000, buf, sizeof(buf)), "1 ms");
	CHECK_STR(pcmig_fmt_ns(65536, buf, sizeof(buf)), "65.5 us");
	CHECK_STR(pcmig_fmt_ns(999999999, buf, sizeof(buf)), "1.0 s");
	CHECK_STR(pcmig_fmt_ns(1000000000, buf, sizeof(buf)), "1 s");
	CHECK_STR(pcmig_fmt_ns(60000000000ULL, buf, sizeof(buf)), "60 s");
	CHECK_STR(pcmig_fmt_ns(1ULL << 40, buf, sizeof(buf)), "1099.5 s");
	CHECK_STR(pcmig_fmt_ns(UINT64_MAX, buf, sizeof(buf)),
		  "18446744073.7 s");
}

static void test_json(void)
{
	char buf[64];
	char *mem = NULL;
	size_t memlen = 0;
	char big[600];
	FILE *f;

	CHECK(pcmig_json_escape(buf, sizeof(buf), "plain") == 5);
	CHECK_STR(buf, "plain");
	CHECK(pcmig_json_escape(buf, sizeof(buf), "") == 0);
	CHECK_STR(buf, "");
	CHECK(pcmig_json_escape(buf, sizeof(buf), "a\"b") == 4);
	CHECK_STR(buf, "a\\\"b");
	CHECK(pcmig_json_escape(buf, sizeof(buf), "a\\b") == 4);
	CHECK_STR(buf, "a\\\\b");
	pcmig_json_escape(buf, sizeof(buf), "\"\\\"");
	CHECK_STR(buf, "\\\"\\\\\\\"");
	pcmig_json_escape(buf, sizeof(buf), "\b\f\n\r\t");
	CHECK_STR(buf, "\\b\\f\\n\\r\\t");
	CHECK(pcmig_json_escape(buf, sizeof(buf), "\x01") == 6);
	CHECK_STR(buf, "\\u0001");
	pcmig_json_escape(buf, sizeof(buf), "\x1f x\x7f");
	CHECK_STR(buf, "\\u001f x\\u007f");
	pcmig_json_escape(buf, sizeof(buf), "\x0b\x1b");
	CHECK_STR(buf, "\\u000b\\u001b");
	/* Bytes above 0x7f as Latin-1: the output stays ASCII. */
	pcmig_json_escape(buf, sizeof(buf), "\xc3\xa9");
	CHECK_STR(buf, "\\u00c3\\u00a9");
	pcmig_json_escape(buf, sizeof(buf), "</script> {}[]:,'");
	CHECK_STR(buf, "</script> {}[]:,'");

	/* Truncation: like snprintf(), never half an escape. */
	CHECK(pcmig_json_escape(buf, 4, "ab\"cd") == 6);
	CHECK_STR(buf, "ab");
	CHECK(pcmig_json_escape(buf, 5, "ab\"cd") == 6);
	CHECK_STR(buf, "ab\\\"");
	CHECK(pcmig_json_escape(buf, 6, "ab\"cd") == 6);
	CHECK_STR(buf, "ab\\\"c");
	CHECK(pcmig_json_escape(buf, 7, "ab\"cd") == 6);
	CHECK_STR(buf, "ab\\\"cd");
	CHECK(pcmig_json_escape(buf, 3, "\x01") == 6);
	CHECK_STR(buf, "");
	CHECK(pcmig_json_escape(buf, 1, "abc") == 3);
	CHECK_STR(buf, "");
	CHECK(pcmig_json_escape(NULL, 0, "a\nb") == 4);

	/* pcmig_json_fputs(): quoted, and long strings too. */
	f = open_memstream(&mem, &memlen);
	CHECK(f);
	if (!f)
		return;
	pcmig_json_fputs(f, "x\"y\n");
	fclose(f);
	CHECK_STR(mem, "\"x\\\"y\\n\"");
	free(mem);

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[300] = '"';
	big[400] = '\x02';
	mem = NULL;
	f = open_memstream(&mem, &memlen);
	CHECK(f);
	if (!f)
		return;
	pcmig_json_fputs(f, big);
	fclose(f);
	CHECK(memlen == sizeof(big) - 1 + 2 + 1 + 5);
	CHECK(mem[0] == '"' && mem[memlen - 1] == '"');
	CHECK(!strncmp(mem + 301, "\\\"", 2));
	CHECK(!strncmp(mem + 402, "\\u0002", 6));
	free(mem);
}

int main(void)
{
	test_states();
	test_reasons();
	test_events();
	test_percentiles();
	test_size();
	test_ns();
	test_json();

	printf("format_test: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
