// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: pure helpers of the destination side (names, rate and
 * ETA, the progress line, the status file). Nothing here talks to the
 * kernel or the network, so that tests/dest_test.c can check it on the host.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dest.h"
#include "format.h"

/**
 * dest_name_check() - is this a valid session name
 * @name: the name
 *
 * The kernel's rule: 1 to %PCMIG_NAME_LEN - 1 printable ASCII characters,
 * no '/' and no space.
 *
 * Return: 0, or -EINVAL.
 */
int dest_name_check(const char *name)
{
	size_t i, len = strlen(name);

	if (!len || len >= PCMIG_NAME_LEN)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == '/')
			return -EINVAL;
	return 0;
}

/**
 * dest_default_name() - the session name when --name is not given
 * @session_id: the migration's session id (%PCMIG_SESSION_ID_LEN bytes)
 * @buf: output, at least %PCMIG_NAME_LEN bytes
 * @size: bytes at @buf
 *
 * "mig-" and the hex of the first 8 bytes of the session id, so that both
 * sides of a migration can be matched in logs.
 */
void dest_default_name(const uint8_t *session_id, char *buf, size_t size)
{
	size_t i, len;

	len = (size_t)snprintf(buf, size, "mig-");
	for (i = 0; i < 8 && len + 2 < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%02x",
					session_id[i]);
}

/**
 * dest_rate_add() - record a sample of the pages present
 * @r: the window
 * @t_ms: when (monotonic ms, not decreasing)
 * @val: pages present then
 */
void dest_rate_add(struct dest_rate *r, uint64_t t_ms, uint64_t val)
{
	r->t_ms[r->head] = t_ms;
	r->val[r->head] = val;
	r->head = (r->head + 1) % DEST_RATE_SAMPLES;
	if (r->n < DEST_RATE_SAMPLES)
		r->n++;
}

/**
 * dest_rate_get() - pages per second over the window
 * @r: the window
 *
 * Compares the newest sample with the oldest one at most
 * %DEST_RATE_WINDOW_MS older (or the oldest held).
 *
 * Return: pages per second, 0 when unknown.
 */
uint64_t dest_rate_get(const struct dest_rate *r)
{
	unsigned int newest, i, idx;
	uint64_t dt, dv;
	int best = -1;

	if (r->n < 2)
		return 0;
	newest = (r->head + DEST_RATE_SAMPLES - 1) % DEST_RATE_SAMPLES;
	for (i = 1; i < r->n; i++) {
		idx = (newest + DEST_RATE_SAMPLES - i) % DEST_RATE_SAMPLES;
		if (r->t_ms[newest] - r->t_ms[idx] > DEST_RATE_WINDOW_MS &&
		    best >= 0)
			break;
		best = (int)idx;
	}
	dt = r->t_ms[newest] - r->t_ms[best];
	if (!dt || r->val[newest] < r->val[best])
		return 0;
	dv = r->val[newest] - r->val[best];
	return dv * 1000 / dt;
}

/**
 * dest_eta_s() - seconds until done at a rate
 * @remaining: pages missing
 * @rate: pages per second
 *
 * Return: seconds (rounded up), 0 when nothing remains, UINT64_MAX when
 * unknown (no progress).
 */
uint64_t dest_eta_s(uint64_t remaining, uint64_t rate)
{
	if (!remaining)
		return 0;
	if (!rate)
		return UINT64_MAX;
	return (remaining + rate - 1) / rate;
}

/**
 * dest_fmt_eta() - a duration in seconds for the progress line
 * @secs: seconds, UINT64_MAX for unknown
 * @buf: output, at least %PCMIG_FMT_LEN bytes
 * @size: bytes at @buf
 *
 * "42s", "4m05s", "2h03m", or "?" when unknown.
 *
 * Return: @buf.
 */
char *dest_fmt_eta(uint64_t secs, char *buf, size_t size)
{
	if (secs == UINT64_MAX)
		snprintf(buf, size, "?");
	else if (secs < 60)
		snprintf(buf, size, "%" PRIu64 "s", secs);
	else if (secs < 3600)
		snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", secs / 60,
			 secs % 60);
	else
		snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", secs / 3600,
			 secs / 60 % 60);
	return buf;
}

/**
 * dest_fmt_ms() - a duration in milliseconds as seconds with a decimal
 * @ms: milliseconds
 * @buf: output, at least %PCMIG_FMT_LEN bytes
 * @size: bytes at @buf
 *
 * Return: @buf, e.g. "12.3 s".
 */
char *dest_fmt_ms(uint64_t ms, char *buf, size_t size)
{
	snprintf(buf, size, "%" PRIu64 ".%" PRIu64 " s", ms / 1000,
		 ms % 1000 / 100);
	return buf;
}

/**
 * dest_wait_pct() - a percentile of a status's fault-wait histogram
 * @st: the status
 * @pct: percentile, 0 to 100
 *
 * Return: the upper bound of the bucket holding it, in ns; 0 without
 * waits.
 */
uint64_t dest_wait_pct(const struct pcmig_status *st, unsigned int pct)
{
	uint64_t h[PCMIG_HIST_BUCKETS];
	unsigned int i;

	for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
		h[i] = st->hist[i];
	return pcmig_hist_percentile(h, PCMIG_HIST_BUCKETS, pct);
}

/**
 * dest_progress_line() - the one-line progress display
 * @buf: output
 * @size: bytes at @buf
 * @st: the session's status
 * @rate: pages per second
 *
 * E.g. "running 35600/65536 pages 54.3% 8123 pages/s ETA 4s faults 1234
 * wait p50<=128 us p99<=2.1 ms".
 *
 * Return: the length of the full line (snprintf semantics).
 */
size_t dest_progress_line(char *buf, size_t size,
			  const struct pcmig_status *st, uint64_t rate)
{
	char sbuf[PCMIG_FMT_LEN], eta[PCMIG_FMT_LEN], p50[PCMIG_FMT_LEN];
	char p99[PCMIG_FMT_LEN];
	uint64_t total = st->pages_total, present = st->pages_present;
	uint64_t permille = total ? present * 1000 / total : 0;
	int n;

	if (present > total)
		present = total;
	n = snprintf(buf, size,
		     "%s %" PRIu64 "/%" PRIu64 " pages %" PRIu64 ".%" PRIu64
		     "%% %" PRIu64 " pages/s ETA %s faults %" PRIu64,
		     pcmig_state_str(st->state, sbuf, sizeof(sbuf)), present,
		     total, permille / 10, permille % 10, rate,
		     dest_fmt_eta(dest_eta_s(total - present, rate), eta,
				  sizeof(eta)),
		     (uint64_t)st->faults);
	if (n < 0)
		return 0;
	if (dest_wait_pct(st, 100)) {
		int m = snprintf((size_t)n < size ? buf + n : NULL,
				 (size_t)n < size ? size - n : 0,
				 " wait p50<=%s p99<=%s",
				 pcmig_fmt_ns(dest_wait_pct(st, 50), p50,
					      sizeof(p50)),
				 pcmig_fmt_ns(dest_wait_pct(st, 99), p99,
					      sizeof(p99)));
		if (m > 0)
			n += m;
	}
	return (size_t)n;
}

/**
 * dest_reason_text() - a pause or failure reason for people
 * @reason: &enum pcmig_reason
 * @error: negative errno or zero
 * @buf: output
 * @size: bytes at @buf
 *
 * Return: @buf, e.g. "channel_error (Connection reset by peer)".
 */
char *dest_reason_text(uint32_t reason, int32_t error, char *buf,
		       size_t size)
{
	char rbuf[PCMIG_FMT_LEN];

	if (error)
		snprintf(buf, size, "%s (%s)",
			 pcmig_reason_str(reason, rbuf, sizeof(rbuf)),
			 strerror(error < 0 ? -error : error));
	else
		snprintf(buf, size, "%s",
			 pcmig_reason_str(reason, rbuf, sizeof(rbuf)));
	return buf;
}

/**
 * dest_step_name() - name of a step, as in the status file
 * @step: &enum dest_step
 *
 * Return: a static string.
 */
const char *dest_step_name(enum dest_step step)
{
	static const char * const names[] = {
		[DEST_STEP_INIT] = "waiting",
		[DEST_STEP_ADVISED] = "advised",
		[DEST_STEP_PACKAGED] = "packaged",
		[DEST_STEP_LISTENING] = "listening",
		[DEST_STEP_RUNNING] = "running",
		[DEST_STEP_DONE] = "done",
		[DEST_STEP_FAILED] = "failed",
		[DEST_STEP_PAUSED] = "paused",
	};

	if ((unsigned int)step >= ARRAY_SIZE(names))
		return "unknown";
	return names[step];
}

/* The value of a top-level string member "key":"..." of @json, unescaped. */
static int json_get_str(const char *json, const char *key, char *out,
			size_t outlen)
{
	char pat[64];
	const char *p;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(json, pat);
	if (!p || !outlen)
		return -ENOENT;
	for (p += strlen(pat); *p && *p != '"'; p++) {
		char c = *p;

		if (c == '\\' && p[1]) {
			p++;
			c = *p == 'n' ? ' ' : *p == 't' ? ' ' : *p;
			if (*p == 'u') {
				/* \u00XX: keep it simple, show '?'. */
				c = '?';
				p += strnlen(p, 5) >= 5 ? 4 : 0;
			}
		}
		if (n + 1 < outlen)
			out[n++] = c;
	}
	out[n] = '\0';
	return 0;
}

/**
 * dest_status_exit() - the final exit status recorded in a status file
 * @json: the status file's contents (one JSON object)
 * @code: the "exit" member, on success
 * @msg: the "message" member (may be empty), on success
 * @msglen: room at @msg
 *
 * Return: 0, or -ENOENT when the migration has no exit status yet.
 */
int dest_status_exit(const char *json, int *code, char *msg, size_t msglen)
{
	const char *p = strstr(json, "\"exit\":");
	char *end;
	long v;

	if (!p)
		return -ENOENT;
	p += strlen("\"exit\":");
	if (*p < '0' || *p > '9')
		return -ENOENT;
	v = strtol(p, &end, 10);
	if (end == p || v > 255)
		return -ENOENT;
	*code = (int)v;
	if (json_get_str(json, "message", msg, msglen))
		msg[0] = '\0';
	return 0;
}

/**
 * dest_json_time() - the current time as JSON lines carry it
 * @buf: output, at least 32 bytes
 * @size: bytes at @buf
 *
 * Return: @buf, e.g. "2024-05-01T03:04:05.123456Z" (UTC).
 */
char *dest_json_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t len;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!gmtime_r(&ts.tv_sec, &tm)) {
		snprintf(buf, size, "%lld", (long long)ts.tv_sec);
		return buf;
	}
	len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + len, size - len, ".%06ldZ", ts.tv_nsec / 1000);
	return buf;
}
