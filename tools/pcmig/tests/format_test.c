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
#include "unit.h"

/* A value of an enumeration and its name. */
struct named {
	uint32_t value;
	const char *name;
};

/*
 * The @n entries of @tab, every value below @max in order, through the
 * enumeration's name(), str() and parse(); and @max has no name.
 */
static void check_names(const struct named *tab, size_t n, uint32_t max,
			const char *(*name)(uint32_t),
			const char *(*str)(uint32_t, char *, size_t),
			int (*parse)(const char *))
{
	char buf[PCMIG_FMT_LEN];
	size_t i;

	CHECK(n == max);
	for (i = 0; i < n; i++) {
		CHECK_STR(name(tab[i].value), tab[i].name);
		CHECK_STR(str(tab[i].value, buf, sizeof(buf)), tab[i].name);
		CHECK(parse(tab[i].name) == (int)tab[i].value);
	}
	CHECK(!name(max));
}

static void test_states(void)
{
	static const struct named states[] = {
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

	check_names(states, ARRAY_SIZE(states), __PCMIG_STATE_MAX,
		    pcmig_state_name, pcmig_state_str, pcmig_state_parse);
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
	static const struct named reasons[] = {
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
		{ PCMIG_REASON_USER, "user" },
		{ PCMIG_REASON_PAUSE_TIMEOUT, "pause_timeout" },
		{ PCMIG_REASON_HUGE_PAGE, "huge_page" },
	};
	char buf[PCMIG_FMT_LEN];

	check_names(reasons, ARRAY_SIZE(reasons), __PCMIG_REASON_MAX,
		    pcmig_reason_name, pcmig_reason_str, pcmig_reason_parse);
	CHECK_STR(pcmig_reason_str(__PCMIG_REASON_MAX, buf, sizeof(buf)),
		  "unknown(17)");
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

/* An input of a unit formatter and what it must give. */
struct fmt_case {
	uint64_t in;
	const char *want;
};

/* Every case of @cases through @fmt (called @what), with room to spare. */
static void check_fmt(char *(*fmt)(uint64_t, char *, size_t),
		      const char *what, const struct fmt_case *cases,
		      size_t n)
{
	char buf[PCMIG_FMT_LEN];
	size_t i;

	for (i = 0; i < n; i++) {
		const char *got = fmt(cases[i].in, buf, sizeof(buf));

		CHECK_MSG(got && !strcmp(got, cases[i].want),
			  "%s(%llu): got \"%s\", want \"%s\"", what,
			  (unsigned long long)cases[i].in,
			  got ? got : "(null)", cases[i].want);
	}
}

static void test_size(void)
{
	static const struct fmt_case sizes[] = {
		{ 0, "0 B" },
		{ 1, "1 B" },
		{ 1023, "1023 B" },
		{ 1024, "1 KiB" },
		{ 1025, "1.0 KiB" },
		{ 1075, "1.0 KiB" },
		{ 1076, "1.1 KiB" },
		{ 1536, "1.5 KiB" },
		{ 4096, "4 KiB" },
		{ 1023 * 1024, "1023 KiB" },
		{ 1023 * 1024 + 1000, "1.0 MiB" },
		{ (1 << 20) - 1, "1.0 MiB" },
		{ 1 << 20, "1 MiB" },
		{ 256ULL << 20, "256 MiB" },
		{ 4ULL << 30, "4 GiB" },
		{ 3ULL << 29, "1.5 GiB" },
		{ PCMIG_MAX_SIZE, "4 TiB" },
		{ 1ULL << 50, "1 PiB" },
		{ 1ULL << 60, "1 EiB" },
		{ UINT64_MAX, "16.0 EiB" },
	};
	char buf[PCMIG_FMT_LEN];

	check_fmt(pcmig_fmt_size, "pcmig_fmt_size", sizes, ARRAY_SIZE(sizes));
	/* A small buffer truncates, never overflows. */
	CHECK_STR(pcmig_fmt_size(1536, buf, 4), "1.5");
}

static void test_ns(void)
{
	static const struct fmt_case times[] = {
		{ 0, "0 ns" },
		{ 999, "999 ns" },
		{ 1000, "1 us" },
		{ 1024, "1.0 us" },
		{ 1500, "1.5 us" },
		{ 1949, "1.9 us" },
		{ 1950, "2.0 us" },
		{ 999999, "1.0 ms" },
		{ 999949, "999.9 us" },
		{ 1000000, "1 ms" },
		{ 65536, "65.5 us" },
		{ 999999999, "1.0 s" },
		{ 1000000000, "1 s" },
		{ 60000000000ULL, "60 s" },
		{ 1ULL << 40, "1099.5 s" },
		{ UINT64_MAX, "18446744073.7 s" },
	};

	check_fmt(pcmig_fmt_ns, "pcmig_fmt_ns", times, ARRAY_SIZE(times));
}

static void test_json(void)
{
	/* Escaped into @size bytes: the full length and what fits. */
	static const struct {
		size_t size;
		const char *src;
		size_t len;
		const char *want;
	} cut[] = {
		{ 4, "ab\"cd", 6, "ab" },
		{ 5, "ab\"cd", 6, "ab\\\"" },
		{ 6, "ab\"cd", 6, "ab\\\"c" },
		{ 7, "ab\"cd", 6, "ab\\\"cd" },
		{ 3, "\x01", 6, "" },
		{ 1, "abc", 3, "" },
	};
	char buf[64];
	char *mem = NULL;
	size_t memlen = 0;
	char big[600];
	size_t i;
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
	for (i = 0; i < ARRAY_SIZE(cut); i++) {
		CHECK(pcmig_json_escape(buf, cut[i].size, cut[i].src) ==
		      cut[i].len);
		CHECK_STR(buf, cut[i].want);
	}
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

static void test_hex(void)
{
	static const uint8_t id[4] = { 0x00, 0x9f, 0xa0, 0xff };
	uint8_t out[4] = { 1, 2, 3, 4 };
	char buf[16];

	CHECK_STR(pcmig_fmt_hex(id, 4, buf, sizeof(buf)), "009fa0ff");
	CHECK_STR(pcmig_fmt_hex(id, 4, buf, 5), "009f");	/* cut short */
	CHECK(pcmig_parse_hex("009FA0ff", out, 4) == 0);
	CHECK(!memcmp(out, id, 4));
	memset(out, 7, sizeof(out));
	CHECK(pcmig_parse_hex("009fa0f", out, 4) == -EINVAL);
	CHECK(pcmig_parse_hex("009fa0fff", out, 4) == -EINVAL);
	CHECK(pcmig_parse_hex("009fa0fg", out, 4) == -EINVAL);
	CHECK(pcmig_parse_hex("", out, 4) == -EINVAL);
	CHECK(out[0] == 7 && out[3] == 7);	/* untouched on failure */
}

int main(void)
{
	test_hex();
	test_states();
	test_reasons();
	test_events();
	test_percentiles();
	test_size();
	test_ns();
	test_json();

	return unit_report("format_test");
}
