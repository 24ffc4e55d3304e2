// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: pure formatting helpers (names, units, percentiles, JSON).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <linux/pcmig.h>

#include "format.h"

static const char * const state_names[] = {
	[PCMIG_STATE_NONE]	= "none",
	[PCMIG_STATE_ADVISE]	= "advise",
	[PCMIG_STATE_DISCARD]	= "discard",
	[PCMIG_STATE_LISTEN]	= "listen",
	[PCMIG_STATE_RUNNING]	= "running",
	[PCMIG_STATE_END]	= "end",
	[PCMIG_STATE_PAUSED]	= "paused",
	[PCMIG_STATE_RECOVER]	= "recover",
	[PCMIG_STATE_FAILED]	= "failed",
};

static const char * const reason_names[] = {
	[PCMIG_REASON_NONE]		= "none",
	[PCMIG_REASON_CHANNEL_EOF]	= "channel_eof",
	[PCMIG_REASON_CHANNEL_ERROR]	= "channel_error",
	[PCMIG_REASON_BAD_MAGIC]	= "bad_magic",
	[PCMIG_REASON_BAD_VERSION]	= "bad_version",
	[PCMIG_REASON_BAD_TYPE]		= "bad_type",
	[PCMIG_REASON_BAD_FLAGS]	= "bad_flags",
	[PCMIG_REASON_BAD_RANGE]	= "bad_range",
	[PCMIG_REASON_BAD_LENGTH]	= "bad_length",
	[PCMIG_REASON_NOT_REQUESTED]	= "not_requested",
	[PCMIG_REASON_DUPLICATE]	= "duplicate",
	[PCMIG_REASON_INCOMPLETE]	= "incomplete",
	[PCMIG_REASON_ABORTED]		= "aborted",
	[PCMIG_REASON_DESTROYED]	= "destroyed",
	[PCMIG_REASON_USER]		= "user",
	[PCMIG_REASON_PAUSE_TIMEOUT]	= "pause_timeout",
	[PCMIG_REASON_HUGE_PAGE]	= "huge_page",
};

static const char * const event_names[] = {
	[PCMIG_CMD_EVENT_STATE]		= "state",
	[PCMIG_CMD_EVENT_PAUSED]	= "paused",
	[PCMIG_CMD_EVENT_ERROR]		= "error",
	[PCMIG_CMD_EVENT_COMPLETE]	= "complete",
};

/* A new state or reason in the uapi header must get a name here. */
_Static_assert(ARRAY_SIZE(state_names) == __PCMIG_STATE_MAX,
	       "state_names[] does not cover enum pcmig_state");
_Static_assert(ARRAY_SIZE(reason_names) == __PCMIG_REASON_MAX,
	       "reason_names[] does not cover enum pcmig_reason");

static const char *table_name(const char * const *names, size_t n,
			      uint32_t val)
{
	return val < n ? names[val] : NULL;
}

static const char *table_str(const char * const *names, size_t n,
			     uint32_t val, char *buf, size_t size)
{
	const char *name = table_name(names, n, val);

	if (name)
		return name;
	snprintf(buf, size, "unknown(%u)", val);
	return buf;
}

/* Case-insensitive, with '-' and '_' equivalent. */
static int name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char ca = *a >= 'A' && *a <= 'Z' ? *a - 'A' + 'a' : *a;
		char cb = *b >= 'A' && *b <= 'Z' ? *b - 'A' + 'a' : *b;

		if (ca == '-')
			ca = '_';
		if (cb == '-')
			cb = '_';
		if (ca != cb)
			return 0;
	}
	return *a == *b;
}

static int table_parse(const char * const *names, size_t n, const char *name)
{
	size_t i;

	if (!name)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (names[i] && name_eq(name, names[i]))
			return (int)i;
	return -EINVAL;
}

/**
 * pcmig_state_name() - name of a session state
 * @state: &enum pcmig_state
 *
 * Return: the lower-case name ("advise", "running", ...), or NULL if @state
 * is not a state this tool knows.
 */
const char *pcmig_state_name(uint32_t state)
{
	return table_name(state_names, ARRAY_SIZE(state_names), state);
}

/**
 * pcmig_state_str() - name of a session state, never NULL
 * @state: &enum pcmig_state
 * @buf: room for "unknown(N)", at least %PCMIG_FMT_LEN bytes
 * @size: bytes in @buf
 *
 * Return: the state's name, or @buf holding "unknown(N)".
 */
const char *pcmig_state_str(uint32_t state, char *buf, size_t size)
{
	return table_str(state_names, ARRAY_SIZE(state_names), state, buf,
			 size);
}

/**
 * pcmig_state_parse() - state from its name
 * @name: a name as pcmig_state_name() returns it; case and '-' versus '_'
 *	do not matter
 *
 * Return: the &enum pcmig_state, or -EINVAL for an unknown name.
 */
int pcmig_state_parse(const char *name)
{
	return table_parse(state_names, ARRAY_SIZE(state_names), name);
}

/**
 * pcmig_reason_name() - name of a pause or failure reason
 * @reason: &enum pcmig_reason
 *
 * Return: the lower-case name ("none", "channel_eof", ...), or NULL if
 * @reason is not a reason this tool knows.
 */
const char *pcmig_reason_name(uint32_t reason)
{
	return table_name(reason_names, ARRAY_SIZE(reason_names), reason);
}

/**
 * pcmig_reason_str() - name of a reason, never NULL
 * @reason: &enum pcmig_reason
 * @buf: room for "unknown(N)", at least %PCMIG_FMT_LEN bytes
 * @size: bytes in @buf
 *
 * Return: the reason's name, or @buf holding "unknown(N)".
 */
const char *pcmig_reason_str(uint32_t reason, char *buf, size_t size)
{
	return table_str(reason_names, ARRAY_SIZE(reason_names), reason, buf,
			 size);
}

/**
 * pcmig_reason_parse() - reason from its name
 * @name: a name as pcmig_reason_name() returns it; case and '-' versus '_'
 *	do not matter
 *
 * Return: the &enum pcmig_reason, or -EINVAL for an unknown name.
 */
int pcmig_reason_parse(const char *name)
{
	return table_parse(reason_names, ARRAY_SIZE(reason_names), name);
}

/**
 * pcmig_event_name() - short name of an event command
 * @cmd: PCMIG_CMD_EVENT_*
 *
 * Return: "state", "paused", "error" or "complete"; NULL for anything else.
 */
const char *pcmig_event_name(uint32_t cmd)
{
	return table_name(event_names, ARRAY_SIZE(event_names), cmd);
}

/**
 * pcmig_event_str() - short name of an event command, never NULL
 * @cmd: PCMIG_CMD_EVENT_*
 * @buf: room for "unknown(N)", at least %PCMIG_FMT_LEN bytes
 * @size: bytes in @buf
 *
 * Return: the event's name, or @buf holding "unknown(N)".
 */
const char *pcmig_event_str(uint32_t cmd, char *buf, size_t size)
{
	return table_str(event_names, ARRAY_SIZE(event_names), cmd, buf, size);
}

/*
 * @val in units of @base^k: an integer when exact ("4 GiB"), else rounded to
 * one decimal ("1.5 GiB", "1.0 GiB" for a little more than 1 GiB). Rounding
 * never shows @base of a unit when a larger unit exists.
 */
static char *fmt_scaled(uint64_t val, uint64_t base, const char * const *units,
			unsigned int nunits, char *buf, size_t size)
{
	uint64_t div = 1, whole, rem, tenths;
	unsigned int u = 0;

	while (u + 1 < nunits && val / div >= base) {
		div *= base;
		u++;
	}
	for (;;) {
		whole = val / div;
		rem = val % div;
		if (!rem) {
			snprintf(buf, size, "%llu %s", (unsigned long long)whole,
				 units[u]);
			return buf;
		}
		/* rem < div <= 2^60, so rem * 10 + div / 2 fits in 64 bits. */
		tenths = (rem * 10 + div / 2) / div;
		if (tenths == 10) {
			whole++;
			tenths = 0;
		}
		if (whole < base || u + 1 >= nunits)
			break;
		div *= base;
		u++;
	}
	snprintf(buf, size, "%llu.%llu %s", (unsigned long long)whole,
		 (unsigned long long)tenths, units[u]);
	return buf;
}

/**
 * pcmig_fmt_size() - a byte count in binary units
 * @bytes: the count
 * @buf: output, at least %PCMIG_FMT_LEN bytes
 * @size: bytes in @buf
 *
 * Units are B, KiB, MiB, GiB, TiB, PiB and EiB; the largest unit the value
 * reaches is used. Exact multiples print as integers ("4 GiB", "1023 B"),
 * others with one rounded decimal ("1.5 KiB", "1.0 MiB").
 *
 * Return: @buf.
 */
char *pcmig_fmt_size(uint64_t bytes, char *buf, size_t size)
{
	static const char * const units[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};

	return fmt_scaled(bytes, 1024, units, ARRAY_SIZE(units), buf, size);
}

/**
 * pcmig_fmt_ns() - a duration in human units
 * @ns: nanoseconds
 * @buf: output, at least %PCMIG_FMT_LEN bytes
 * @size: bytes in @buf
 *
 * Units are ns, us, ms and s (decimal). Exact values print as integers
 * ("999 ns", "2 ms"), others with one rounded decimal ("1.5 us", "1.0 us").
 *
 * Return: @buf.
 */
char *pcmig_fmt_ns(uint64_t ns, char *buf, size_t size)
{
	static const char * const units[] = { "ns", "us", "ms", "s" };

	return fmt_scaled(ns, 1000, units, ARRAY_SIZE(units), buf, size);
}

/**
 * pcmig_hist_total() - samples in a histogram
 * @hist: bucket counts
 * @nbuckets: number of buckets
 *
 * Return: the sum of the buckets, saturated at UINT64_MAX.
 */
uint64_t pcmig_hist_total(const uint64_t *hist, unsigned int nbuckets)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < nbuckets; i++) {
		if (hist[i] > UINT64_MAX - total)
			return UINT64_MAX;
		total += hist[i];
	}
	return total;
}

/**
 * pcmig_hist_percentile() - a percentile of a log2 latency histogram
 * @hist: bucket counts; bucket i counts values in [2^i, 2^(i+1)) ns
 * @nbuckets: number of buckets, at most 63
 * @pct: percentile, 0 to 100 (larger values count as 100)
 *
 * Finds the first bucket where the cumulative count reaches @pct percent of
 * all samples (at least one sample) and reports that bucket's upper bound:
 * the percentile is at most that value. For the last bucket, which in
 * &struct pcmig_status also counts everything longer, the bound is
 * 2^@nbuckets.
 *
 * Return: the bound in ns, or 0 for an empty histogram.
 */
uint64_t pcmig_hist_percentile(const uint64_t *hist, unsigned int nbuckets,
			       unsigned int pct)
{
	uint64_t total, target, cum = 0;
	unsigned int i;

	if (nbuckets > 63)
		nbuckets = 63;
	if (pct > 100)
		pct = 100;
	total = pcmig_hist_total(hist, nbuckets);
	if (!total)
		return 0;

	/* ceil(total * pct / 100) without overflowing. */
	target = total / 100 * pct + (total % 100 * pct + 99) / 100;
	if (!target)
		target = 1;

	for (i = 0; i < nbuckets; i++) {
		cum = hist[i] > UINT64_MAX - cum ? UINT64_MAX : cum + hist[i];
		if (cum >= target)
			return 1ULL << (i + 1);
	}
	return 1ULL << nbuckets;	/* not reached: cum ends at total */
}

/**
 * pcmig_json_escape() - escape a string for the inside of a JSON string
 * @dst: output buffer (may be NULL when @size is 0)
 * @size: bytes in @dst
 * @src: NUL-terminated input
 *
 * Quote and backslash get a backslash; backspace, form feed, newline,
 * carriage return and tab their short escapes;
 * other control characters, DEL and every byte above 0x7f become \u00XX (the
 * byte read as Latin-1), so the output is plain ASCII and valid JSON whatever
 * the input. Like snprintf(), the output is truncated to fit @size, never in
 * the middle of an escape, and NUL-terminated when @size is not 0.
 *
 * Return: the length of the whole escaped string, without the NUL.
 */
size_t pcmig_json_escape(char *dst, size_t size, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	bool room = size > 0;
	size_t len = 0;
	char esc[8];
	size_t n;

	for (; *s; s++) {
		switch (*s) {
		case '"':
			n = snprintf(esc, sizeof(esc), "\\\"");
			break;
		case '\\':
			n = snprintf(esc, sizeof(esc), "\\\\");
			break;
		case '\b':
			n = snprintf(esc, sizeof(esc), "\\b");
			break;
		case '\f':
			n = snprintf(esc, sizeof(esc), "\\f");
			break;
		case '\n':
			n = snprintf(esc, sizeof(esc), "\\n");
			break;
		case '\r':
			n = snprintf(esc, sizeof(esc), "\\r");
			break;
		case '\t':
			n = snprintf(esc, sizeof(esc), "\\t");
			break;
		default:
			if (*s < 0x20 || *s >= 0x7f) {
				n = snprintf(esc, sizeof(esc), "\\u%04x", *s);
			} else {
				esc[0] = *s;
				esc[1] = '\0';
				n = 1;
			}
			break;
		}
		if (room && len + n < size) {
			memcpy(dst + len, esc, n);
		} else if (room) {
			/* Full: end the output here, keep counting. */
			dst[len] = '\0';
			room = false;
		}
		len += n;
	}
	if (room)
		dst[len] = '\0';
	return len;
}

/**
 * pcmig_json_fputs() - print a string as a quoted JSON string
 * @f: output stream
 * @src: NUL-terminated input, escaped as pcmig_json_escape() does
 */
void pcmig_json_fputs(FILE *f, const char *src)
{
	char buf[256];
	size_t len;

	len = pcmig_json_escape(buf, sizeof(buf), src);
	if (len < sizeof(buf)) {
		fprintf(f, "\"%s\"", buf);
		return;
	}

	/* Long input: escape one character at a time. */
	fputc('"', f);
	for (; *src; src++) {
		char one[2] = { *src, '\0' };

		pcmig_json_escape(buf, sizeof(buf), one);
		fputs(buf, f);
	}
	fputc('"', f);
}

/**
 * pcmig_fmt_hex() - bytes as lower-case hex digits
 * @p: the bytes
 * @n: how many
 * @buf: output, at least 2 * @n + 1 bytes (else cut short)
 * @size: bytes at @buf
 *
 * Return: @buf.
 */
char *pcmig_fmt_hex(const uint8_t *p, size_t n, char *buf, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (!size)
		return buf;
	for (i = 0; i < n && 2 * i + 2 < size; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 15];
	}
	buf[2 * i] = '\0';
	return buf;
}

/**
 * pcmig_hex_digit() - the value of one hex digit
 * @c: the character, either case
 *
 * Return: 0 to 15, or -1 if @c is not a hex digit.
 */
int pcmig_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/**
 * pcmig_parse_hex() - hex digits to bytes
 * @s: exactly 2 * @n hex digits, either case
 * @out: @n bytes, written only on success
 * @n: bytes wanted
 *
 * Return: 0, or -EINVAL.
 */
int pcmig_parse_hex(const char *s, uint8_t *out, size_t n)
{
	uint8_t tmp[256];
	size_t i;
	int hi, lo;

	if (n > sizeof(tmp) || strlen(s) != 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		hi = pcmig_hex_digit(s[2 * i]);
		lo = pcmig_hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, tmp, n);
	return 0;
}
