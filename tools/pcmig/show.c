// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: printing sessions and events, as text and as JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "pcmig-tool.h"

/* A u64 attribute, its JSON key and its field in struct pcmig_session. */
struct counter {
	int attr;
	const char *key;
	size_t off;
};

#define COUNTER(a, f) { PCMIG_ATTR_##a, #f, offsetof(struct pcmig_session, f) }

/* Counters, in the order the JSON and the event lines give them. */
static const struct counter counters[] = {
	COUNTER(SIZE, size),
	COUNTER(PAGES_TOTAL, pages_total),
	COUNTER(PAGES_PRESENT, pages_present),
	COUNTER(PAGES_RECEIVED, pages_received),
	COUNTER(PAGES_REQUESTED, pages_requested),
	COUNTER(PAGES_PUSHED, pages_pushed),
	COUNTER(PAGES_ZERO, pages_zero),
	COUNTER(PAGES_DUPLICATE, pages_duplicate),
	COUNTER(PAGES_DISCARDED, pages_discarded),
	COUNTER(IN_FLIGHT, in_flight),
	COUNTER(BYTES_RECEIVED, bytes_received),
	COUNTER(REQUESTS_SENT, requests_sent),
	COUNTER(FAULTS, faults),
	COUNTER(FAULTS_BLOCKED, faults_blocked),
	COUNTER(BLOCKED_NS, blocked_ns),
	COUNTER(PAUSES, pauses),
};

/*
 * The outage counters (ABI 0.4): after the others, which keep their place in
 * the output.
 */
static const struct counter outage_counters[] = {
	COUNTER(RECOVERIES, recoveries),
	COUNTER(PAUSED_AT_NS, paused_at_ns),
	COUNTER(PAUSED_TOTAL_NS, paused_total_ns),
	COUNTER(REQUESTS_RESENT, requests_resent),
};

#undef COUNTER

static const unsigned int percentiles[] = { 50, 90, 99 };

/* strerror() of a negative errno, whatever the value. */
static const char *err_str(int32_t err)
{
	return strerror(err < 0 && err != INT32_MIN ? -err : err);
}

static uint64_t counter(const struct pcmig_session *s,
			const struct counter *c)
{
	uint64_t val;

	memcpy(&val, (const char *)s + c->off, sizeof(val));
	return val;
}

/* Mean time a blocked fault waited; false if unknown. */
static bool mean_blocked(const struct pcmig_session *s, uint64_t *ns)
{
	if (!pcmig_has(s, PCMIG_ATTR_BLOCKED_NS) ||
	    !pcmig_has(s, PCMIG_ATTR_FAULTS_BLOCKED) || !s->faults_blocked)
		return false;
	*ns = s->blocked_ns / s->faults_blocked;
	return true;
}

/* Whether the session has a non-empty histogram for percentiles. */
static bool have_waits(const struct pcmig_session *s)
{
	return pcmig_has(s, PCMIG_ATTR_HIST) &&
	       pcmig_hist_total(s->hist, PCMIG_HIST_BUCKETS);
}

/* Whether the session is in an outage: PAUSED or RECOVER. */
static bool in_outage(const struct pcmig_session *s)
{
	return pcmig_has(s, PCMIG_ATTR_STATE) &&
	       (s->state == PCMIG_STATE_PAUSED ||
		s->state == PCMIG_STATE_RECOVER);
}

/*
 * How long the current outage had lasted when the message was parsed; false
 * outside an outage or when unknown (no start, no time of the parse, or a
 * start after it: another clock, as in a time namespace).
 */
static bool paused_for(const struct pcmig_session *s, uint64_t *ns)
{
	if (!in_outage(s) || !pcmig_has(s, PCMIG_ATTR_PAUSED_AT_NS) ||
	    !s->paused_at_ns || !s->seen_ns || s->seen_ns < s->paused_at_ns)
		return false;
	*ns = s->seen_ns - s->paused_at_ns;
	return true;
}

/*
 * A duration for an operator: pcmig_fmt_ns() below a minute, else the
 * non-zero whole units, e.g. "1 h 2 min 3 s", "5 min" (rounded down).
 */
static char *fmt_duration(uint64_t ns, char *buf, size_t size)
{
	static const struct {
		uint64_t secs;
		const char *unit;
	} units[] = {
		{ 86400, "d" }, { 3600, "h" }, { 60, "min" }, { 1, "s" },
	};
	uint64_t n, secs = ns / 1000000000;
	size_t i, len = 0;

	if (secs < 60)
		return pcmig_fmt_ns(ns, buf, size);
	for (i = 0; i < ARRAY_SIZE(units) && len < size; i++) {
		n = secs / units[i].secs;
		secs %= units[i].secs;
		if (n)
			len += snprintf(buf + len, size - len, "%s%" PRIu64 " %s",
					len ? " " : "", n, units[i].unit);
	}
	return buf;
}

/* The session name for a terminal: printable ASCII only. */
static void safe_name(const struct pcmig_session *s, char *buf, size_t size)
{
	size_t i;

	if (!pcmig_has(s, PCMIG_ATTR_NAME) || !s->name[0]) {
		snprintf(buf, size, "-");
		return;
	}
	for (i = 0; i + 1 < size && s->name[i]; i++)
		buf[i] = s->name[i] >= 0x20 && s->name[i] < 0x7f ?
			 s->name[i] : '?';
	buf[i] = '\0';
}

/* Start a JSON member: a comma unless it is the first, then the key. */
static void json_key(FILE *f, bool *first, const char *key)
{
	fprintf(f, "%s\"%s\":", *first ? "" : ",", key);
	*first = false;
}

/* "key":N, or "key":null without @have; nothing then unless @nulls. */
static void json_u64(FILE *f, bool *first, const char *key, bool have,
		     uint64_t val, bool nulls)
{
	if (!have && !nulls)
		return;
	json_key(f, first, key);
	if (have)
		fprintf(f, "%" PRIu64, val);
	else
		fputs("null", f);
}

/* A state attribute as "key":"name", or null as json_u64() does. */
static void json_state(FILE *f, bool *first, const char *key,
		       const struct pcmig_session *s, int attr,
		       uint32_t state, bool nulls)
{
	char buf[PCMIG_FMT_LEN];

	if (!pcmig_has(s, attr) && !nulls)
		return;
	json_key(f, first, key);
	if (pcmig_has(s, attr))
		pcmig_json_fputs(f, pcmig_state_str(state, buf, sizeof(buf)));
	else
		fputs("null", f);
}

/*
 * The counters of @table, each followed by what is derived from it: the
 * mean wait after blocked_ns, the outage's length after paused_at_ns.
 */
static void json_counters(FILE *f, const struct pcmig_session *s,
			  const struct counter *table, size_t n, bool nulls,
			  bool *first)
{
	uint64_t ns = 0;
	size_t i;
	bool have;

	for (i = 0; i < n; i++) {
		json_u64(f, first, table[i].key, pcmig_has(s, table[i].attr),
			 counter(s, &table[i]), nulls);
		if (table[i].attr == PCMIG_ATTR_BLOCKED_NS) {
			have = mean_blocked(s, &ns);
			json_u64(f, first, "mean_blocked_ns", have, ns, nulls);
		} else if (table[i].attr == PCMIG_ATTR_PAUSED_AT_NS) {
			have = paused_for(s, &ns);
			json_u64(f, first, "paused_for_ms", have, ns / 1000000,
				 nulls);
		}
	}
}

/*
 * The members of a session's JSON object. With @nulls, an absent attribute
 * is "key":null (status: every object has the same keys); without, it is
 * left out (events carry only some attributes).
 */
static void json_members(FILE *f, const struct pcmig_session *s, bool nulls,
			 bool *first)
{
	char buf[PCMIG_FMT_LEN];
	unsigned int i;

	json_u64(f, first, "id", pcmig_has(s, PCMIG_ATTR_ID), s->id, nulls);
	if (pcmig_has(s, PCMIG_ATTR_NAME) || nulls) {
		json_key(f, first, "name");
		if (pcmig_has(s, PCMIG_ATTR_NAME))
			pcmig_json_fputs(f, s->name);
		else
			fputs("null", f);
	}
	json_state(f, first, "old_state", s, PCMIG_ATTR_OLD_STATE,
		   s->old_state, false);
	json_state(f, first, "state", s, PCMIG_ATTR_STATE, s->state, nulls);
	if (pcmig_has(s, PCMIG_ATTR_REASON) || nulls) {
		json_key(f, first, "reason");
		if (pcmig_has(s, PCMIG_ATTR_REASON))
			pcmig_json_fputs(f, pcmig_reason_str(s->reason, buf,
							     sizeof(buf)));
		else
			fputs("null", f);
	}
	if (pcmig_has(s, PCMIG_ATTR_ERROR) || nulls) {
		json_key(f, first, "error");
		if (pcmig_has(s, PCMIG_ATTR_ERROR))
			fprintf(f, "%d", s->error);
		else
			fputs("null", f);
		json_key(f, first, "error_str");
		if (pcmig_has(s, PCMIG_ATTR_ERROR) && s->error)
			pcmig_json_fputs(f, err_str(s->error));
		else
			fputs("null", f);
	}
	json_counters(f, s, counters, ARRAY_SIZE(counters), nulls, first);
	if (pcmig_has(s, PCMIG_ATTR_HIST) || nulls) {
		json_key(f, first, "hist");
		if (pcmig_has(s, PCMIG_ATTR_HIST)) {
			fputc('[', f);
			for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
				fprintf(f, "%s%" PRIu64, i ? "," : "",
					s->hist[i]);
			fputc(']', f);
		} else {
			fputs("null", f);
		}
		for (i = 0; i < ARRAY_SIZE(percentiles); i++) {
			snprintf(buf, sizeof(buf), "p%u_ns", percentiles[i]);
			json_u64(f, first, buf, have_waits(s),
				 pcmig_hist_percentile(s->hist,
						       PCMIG_HIST_BUCKETS,
						       percentiles[i]), true);
		}
	}
	json_state(f, first, "resume_state", s, PCMIG_ATTR_RESUME_STATE,
		   s->resume_state, nulls);
	json_counters(f, s, outage_counters, ARRAY_SIZE(outage_counters),
		      nulls, first);
	json_u64(f, first, "pause_timeout_ms",
		 pcmig_has(s, PCMIG_ATTR_PAUSE_TIMEOUT_MS), s->pause_timeout_ms,
		 nulls);
	json_u64(f, first, "pages_punched",
		 pcmig_has(s, PCMIG_ATTR_PAGES_PUNCHED), s->pages_punched,
		 nulls);
}

/**
 * pcmig_show_session_json() - print a session as one JSON object
 * @f: output stream
 * @s: the session
 *
 * Every attribute is a member, null when the module did not send it; state
 * and reason are names, "hist" an array of %PCMIG_HIST_BUCKETS counts and
 * "p50_ns", "p90_ns", "p99_ns" the histogram's percentiles (null without
 * waits). The outage members (ABI 0.4) come last: "resume_state" (a name),
 * "recoveries", "paused_at_ns", "paused_for_ms" (how long the current
 * outage had lasted when the message was parsed; null outside PAUSED and
 * RECOVER), "paused_total_ns", "requests_resent", "pause_timeout_ms"; then
 * "pages_punched" (ABI 0.6). No newline follows.
 */
void pcmig_show_session_json(FILE *f, const struct pcmig_session *s)
{
	bool first = true;

	fputc('{', f);
	json_members(f, s, true, &first);
	fputc('}', f);
}

/**
 * pcmig_show_sessions_json() - print sessions as a JSON array
 * @f: output stream
 * @s: the sessions
 * @n: how many
 *
 * One object per line, as pcmig_show_session_json() prints them; the array
 * is followed by a newline.
 */
void pcmig_show_sessions_json(FILE *f, const struct pcmig_session *s,
			      size_t n)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		fputs(i ? ",\n" : "\n", f);
		pcmig_show_session_json(f, &s[i]);
	}
	fputs(n ? "\n]\n" : "]\n", f);
}

enum {
	COL_ID, COL_NAME, COL_STATE, COL_REASON, COL_SIZE, COL_PAGES,
	COL_PCT, COL_REQUESTED, COL_PUSHED, COL_ZERO, COL_DUPLICATE,
	COL_IN_FLIGHT, COL_FAULTS, COL_BLOCKED, COL_MEAN, NR_COLS
};

static const struct {
	const char *title;
	bool left;
} columns[NR_COLS] = {
	[COL_ID]	= { "ID", false },
	[COL_NAME]	= { "NAME", true },
	[COL_STATE]	= { "STATE", true },
	[COL_REASON]	= { "REASON", true },
	[COL_SIZE]	= { "SIZE", false },
	[COL_PAGES]	= { "PRESENT/TOTAL", false },
	[COL_PCT]	= { "%", false },
	[COL_REQUESTED]	= { "REQUESTED", false },
	[COL_PUSHED]	= { "PUSHED", false },
	[COL_ZERO]	= { "ZERO", false },
	[COL_DUPLICATE]	= { "DUP", false },
	[COL_IN_FLIGHT]	= { "IN-FLIGHT", false },
	[COL_FAULTS]	= { "FAULTS", false },
	[COL_BLOCKED]	= { "BLOCKED", false },
	[COL_MEAN]	= { "MEAN-WAIT", false },
};

#define CELL_LEN	48

static void cell_u64(char *cell, const struct pcmig_session *s, int attr,
		     uint64_t val)
{
	if (pcmig_has(s, attr))
		snprintf(cell, CELL_LEN, "%" PRIu64, val);
	else
		snprintf(cell, CELL_LEN, "-");
}

static void fill_row(char (*row)[CELL_LEN], const struct pcmig_session *s)
{
	char buf[PCMIG_FMT_LEN];
	uint64_t ns, permille;

	if (pcmig_has(s, PCMIG_ATTR_ID))
		snprintf(row[COL_ID], CELL_LEN, "%u", s->id);
	else
		snprintf(row[COL_ID], CELL_LEN, "-");
	safe_name(s, row[COL_NAME], CELL_LEN);
	snprintf(row[COL_STATE], CELL_LEN, "%s",
		 pcmig_has(s, PCMIG_ATTR_STATE) ?
		 pcmig_state_str(s->state, buf, sizeof(buf)) : "-");
	snprintf(row[COL_REASON], CELL_LEN, "%s",
		 pcmig_has(s, PCMIG_ATTR_REASON) &&
		 s->reason != PCMIG_REASON_NONE ?
		 pcmig_reason_str(s->reason, buf, sizeof(buf)) : "-");
	snprintf(row[COL_SIZE], CELL_LEN, "%s",
		 pcmig_has(s, PCMIG_ATTR_SIZE) ?
		 pcmig_fmt_size(s->size, buf, sizeof(buf)) : "-");

	if (pcmig_has(s, PCMIG_ATTR_PAGES_PRESENT) &&
	    pcmig_has(s, PCMIG_ATTR_PAGES_TOTAL))
		snprintf(row[COL_PAGES], CELL_LEN, "%" PRIu64 "/%" PRIu64,
			 s->pages_present, s->pages_total);
	else
		snprintf(row[COL_PAGES], CELL_LEN, "-");
	if (pcmig_has(s, PCMIG_ATTR_PAGES_PRESENT) &&
	    pcmig_has(s, PCMIG_ATTR_PAGES_TOTAL) && s->pages_total) {
		/* Rounded down: 100.0 only when every page is present. */
		permille = (uint64_t)((long double)s->pages_present * 1000 /
				      s->pages_total);
		snprintf(row[COL_PCT], CELL_LEN, "%" PRIu64 ".%" PRIu64 "%%",
			 permille / 10, permille % 10);
	} else {
		snprintf(row[COL_PCT], CELL_LEN, "-");
	}

	cell_u64(row[COL_REQUESTED], s, PCMIG_ATTR_PAGES_REQUESTED,
		 s->pages_requested);
	cell_u64(row[COL_PUSHED], s, PCMIG_ATTR_PAGES_PUSHED, s->pages_pushed);
	cell_u64(row[COL_ZERO], s, PCMIG_ATTR_PAGES_ZERO, s->pages_zero);
	cell_u64(row[COL_DUPLICATE], s, PCMIG_ATTR_PAGES_DUPLICATE,
		 s->pages_duplicate);
	cell_u64(row[COL_IN_FLIGHT], s, PCMIG_ATTR_IN_FLIGHT, s->in_flight);
	cell_u64(row[COL_FAULTS], s, PCMIG_ATTR_FAULTS, s->faults);
	cell_u64(row[COL_BLOCKED], s, PCMIG_ATTR_FAULTS_BLOCKED,
		 s->faults_blocked);
	snprintf(row[COL_MEAN], CELL_LEN, "%s",
		 mean_blocked(s, &ns) ? pcmig_fmt_ns(ns, buf, sizeof(buf)) :
		 "-");
}

static void print_row(FILE *f, const char (*cells)[CELL_LEN],
		      const int *width)
{
	int c;

	for (c = 0; c < NR_COLS; c++) {
		const char *sep = c ? "  " : "";

		if (c == NR_COLS - 1 && columns[c].left)
			fprintf(f, "%s%s", sep, cells[c]);
		else if (columns[c].left)
			fprintf(f, "%s%-*s", sep, width[c], cells[c]);
		else
			fprintf(f, "%s%*s", sep, width[c], cells[c]);
	}
	fputc('\n', f);
}

/**
 * pcmig_show_sessions_table() - print sessions as a table, one row each
 * @f: output stream
 * @s: the sessions
 * @n: how many
 *
 * Columns: id, name, state, reason ("-" for none), size, present/total
 * pages, percent present, pages requested, pushed, zero and duplicate,
 * pages in flight, faults, blocked faults and their mean wait. An absent
 * attribute shows as "-". Prints "no sessions" when @n is 0.
 */
void pcmig_show_sessions_table(FILE *f, const struct pcmig_session *s,
			       size_t n)
{
	char row[NR_COLS][CELL_LEN];
	int width[NR_COLS];
	size_t i;
	int c;

	if (!n) {
		fprintf(f, "no sessions\n");
		return;
	}

	for (c = 0; c < NR_COLS; c++)
		width[c] = (int)strlen(columns[c].title);
	for (i = 0; i < n; i++) {
		fill_row(row, &s[i]);
		for (c = 0; c < NR_COLS; c++)
			if ((int)strlen(row[c]) > width[c])
				width[c] = (int)strlen(row[c]);
	}

	for (c = 0; c < NR_COLS; c++)
		snprintf(row[c], CELL_LEN, "%s", columns[c].title);
	print_row(f, (const char (*)[CELL_LEN])row, width);
	for (i = 0; i < n; i++) {
		fill_row(row, &s[i]);
		print_row(f, (const char (*)[CELL_LEN])row, width);
	}
}

static void event_time(const struct timespec *ts, bool json, char *buf,
		       size_t size)
{
	struct tm tm;
	size_t len;

	if (json ? !gmtime_r(&ts->tv_sec, &tm) :
		   !localtime_r(&ts->tv_sec, &tm)) {
		snprintf(buf, size, "%lld", (long long)ts->tv_sec);
		return;
	}
	len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (json)
		snprintf(buf + len, size - len, ".%06ldZ",
			 ts->tv_nsec / 1000);
	else
		snprintf(buf + len, size - len, ".%03ld",
			 ts->tv_nsec / 1000000);
}

static void detail_u64(FILE *f, const char *label,
		       const struct pcmig_session *s, int attr, uint64_t val)
{
	if (pcmig_has(s, attr))
		fprintf(f, "%-17s %" PRIu64 "\n", label, val);
	else
		fprintf(f, "%-17s -\n", label);
}

/*
 * The outage of a PAUSED or RECOVER session: since when (local time) and
 * how long, the state it resumes to, the pause timeout and what is left.
 */
static void detail_outage(FILE *f, const struct pcmig_session *s)
{
	char when[64], buf[PCMIG_FMT_LEN], buf2[PCMIG_FMT_LEN];
	uint64_t ns = 0, timeout_ns;
	struct timespec ts;
	bool known;

	if (!in_outage(s))
		return;
	known = paused_for(s, &ns);
	if (known && s->seen_real_ns > ns) {
		ts.tv_sec = (s->seen_real_ns - ns) / 1000000000;
		ts.tv_nsec = (s->seen_real_ns - ns) % 1000000000;
		event_time(&ts, false, when, sizeof(when));
		fprintf(f, "%-17s %s (%s ago)\n", "paused since", when,
			fmt_duration(ns, buf, sizeof(buf)));
	} else if (known) {
		fprintf(f, "%-17s %s ago\n", "paused since",
			fmt_duration(ns, buf, sizeof(buf)));
	} else if (pcmig_has(s, PCMIG_ATTR_PAUSED_AT_NS) && s->paused_at_ns) {
		fprintf(f, "%-17s %" PRIu64 " ns CLOCK_MONOTONIC\n",
			"paused since", s->paused_at_ns);
	}
	if (pcmig_has(s, PCMIG_ATTR_RESUME_STATE))
		fprintf(f, "%-17s %s\n", "resumes to",
			pcmig_state_str(s->resume_state, buf, sizeof(buf)));
	if (!pcmig_has(s, PCMIG_ATTR_PAUSE_TIMEOUT_MS))
		return;
	if (!s->pause_timeout_ms) {
		fprintf(f, "%-17s off: faults wait until a recovery\n",
			"pause timeout");
		return;
	}
	timeout_ns = (uint64_t)s->pause_timeout_ms * 1000000;
	fprintf(f, "%-17s %s", "pause timeout",
		fmt_duration(timeout_ns, buf, sizeof(buf)));
	if (known && ns < timeout_ns)
		fprintf(f, ", %s left",
			fmt_duration(timeout_ns - ns, buf2, sizeof(buf2)));
	else if (known)
		fputs(", expired: the session fails", f);
	fputc('\n', f);
}

/**
 * pcmig_show_session_details() - what the table leaves out, for one session
 * @f: output stream
 * @s: the session
 *
 * In PAUSED and RECOVER first the outage: since when and for how long (as
 * of the message's parse), the state it resumes to and the pause timeout
 * with what is left of it. Then the last channel error, the remaining
 * counters with the outage counters, the pause timeout outside an outage
 * when set, and the fault-wait histogram summarised as p50/p90/p99 (upper
 * bounds of log2 buckets). The outage lines are left out when the module
 * did not send their attributes (before ABI 0.4).
 */
void pcmig_show_session_details(FILE *f, const struct pcmig_session *s)
{
	char buf[PCMIG_FMT_LEN];
	unsigned int i;
	uint64_t total;

	detail_outage(f, s);
	if (pcmig_has(s, PCMIG_ATTR_ERROR) && s->error)
		fprintf(f, "%-17s %s (%d)\n", "last error", err_str(s->error),
			s->error);
	detail_u64(f, "pages received", s, PCMIG_ATTR_PAGES_RECEIVED,
		   s->pages_received);
	detail_u64(f, "pages discarded", s, PCMIG_ATTR_PAGES_DISCARDED,
		   s->pages_discarded);
	if (pcmig_has(s, PCMIG_ATTR_BYTES_RECEIVED))
		fprintf(f, "%-17s %s (%" PRIu64 ")\n", "bytes received",
			pcmig_fmt_size(s->bytes_received, buf, sizeof(buf)),
			s->bytes_received);
	else
		fprintf(f, "%-17s -\n", "bytes received");
	detail_u64(f, "requests sent", s, PCMIG_ATTR_REQUESTS_SENT,
		   s->requests_sent);
	if (pcmig_has(s, PCMIG_ATTR_REQUESTS_RESENT))
		detail_u64(f, "requests resent", s, PCMIG_ATTR_REQUESTS_RESENT,
			   s->requests_resent);
	if (pcmig_has(s, PCMIG_ATTR_PAGES_PUNCHED))
		detail_u64(f, "pages punched", s, PCMIG_ATTR_PAGES_PUNCHED,
			   s->pages_punched);
	detail_u64(f, "pauses", s, PCMIG_ATTR_PAUSES, s->pauses);
	if (pcmig_has(s, PCMIG_ATTR_RECOVERIES))
		detail_u64(f, "recoveries", s, PCMIG_ATTR_RECOVERIES,
			   s->recoveries);
	if (pcmig_has(s, PCMIG_ATTR_PAUSED_TOTAL_NS))
		fprintf(f, "%-17s %s\n", "paused in total",
			fmt_duration(s->paused_total_ns, buf, sizeof(buf)));
	if (!in_outage(s) && pcmig_has(s, PCMIG_ATTR_PAUSE_TIMEOUT_MS) &&
	    s->pause_timeout_ms)
		fprintf(f, "%-17s %s\n", "pause timeout",
			fmt_duration((uint64_t)s->pause_timeout_ms * 1000000,
				     buf, sizeof(buf)));
	if (pcmig_has(s, PCMIG_ATTR_BLOCKED_NS))
		fprintf(f, "%-17s %s\n", "total wait",
			pcmig_fmt_ns(s->blocked_ns, buf, sizeof(buf)));
	else
		fprintf(f, "%-17s -\n", "total wait");

	fprintf(f, "%-17s", "fault wait");
	if (!pcmig_has(s, PCMIG_ATTR_HIST)) {
		fprintf(f, " -\n");
		return;
	}
	total = pcmig_hist_total(s->hist, PCMIG_HIST_BUCKETS);
	if (!total) {
		fprintf(f, " no waits\n");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(percentiles); i++)
		fprintf(f, "%s p%u <= %s", i ? "," : "", percentiles[i],
			pcmig_fmt_ns(pcmig_hist_percentile(s->hist,
							   PCMIG_HIST_BUCKETS,
							   percentiles[i]),
				     buf, sizeof(buf)));
	fprintf(f, " (%" PRIu64 " wait%s)\n", total, total == 1 ? "" : "s");
}

/* The counters of @table that @ev carries, as " key=value". */
static void event_u64s(FILE *f, const struct pcmig_session *ev,
		       const struct counter *table, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pcmig_has(ev, table[i].attr))
			fprintf(f, " %s=%" PRIu64, table[i].key,
				counter(ev, &table[i]));
}

/* A state as " key=name". */
static void event_state(FILE *f, const char *key, uint32_t state)
{
	char buf[PCMIG_FMT_LEN];

	fprintf(f, " %s=%s", key, pcmig_state_str(state, buf, sizeof(buf)));
}

/* The attributes of a complete (or unknown) event as key=value pairs. */
static void event_counters(FILE *f, const struct pcmig_session *ev)
{
	char buf[PCMIG_FMT_LEN];
	uint64_t ns;

	if (pcmig_has(ev, PCMIG_ATTR_STATE))
		event_state(f, "state", ev->state);
	if (pcmig_has(ev, PCMIG_ATTR_REASON) &&
	    ev->reason != PCMIG_REASON_NONE)
		fprintf(f, " reason=%s",
			pcmig_reason_str(ev->reason, buf, sizeof(buf)));
	event_u64s(f, ev, counters, ARRAY_SIZE(counters));
	if (mean_blocked(ev, &ns))
		fprintf(f, " mean_blocked=%s",
			pcmig_fmt_ns(ns, buf, sizeof(buf)));
	if (pcmig_has(ev, PCMIG_ATTR_RESUME_STATE) &&
	    ev->resume_state != PCMIG_STATE_NONE)
		event_state(f, "resume_state", ev->resume_state);
	event_u64s(f, ev, outage_counters, ARRAY_SIZE(outage_counters));
	if (paused_for(ev, &ns))
		fprintf(f, " paused_for=%s",
			fmt_duration(ns, buf, sizeof(buf)));
	if (pcmig_has(ev, PCMIG_ATTR_PAUSE_TIMEOUT_MS))
		fprintf(f, " pause_timeout_ms=%u", ev->pause_timeout_ms);
	if (pcmig_has(ev, PCMIG_ATTR_PAGES_PUNCHED))
		fprintf(f, " pages_punched=%" PRIu64, ev->pages_punched);
	if (pcmig_has(ev, PCMIG_ATTR_ERROR) && ev->error)
		fprintf(f, " error=%d (%s)", ev->error, err_str(ev->error));
}

/**
 * pcmig_show_event() - print one event as one line
 * @f: output stream
 * @ev: the event (@ev->cmd is its PCMIG_CMD_EVENT_*)
 * @ts: when it was received
 * @json: a JSON object ("time" in UTC, "event", then the attributes the
 *	event carried) instead of text
 *
 * Text: local time, "session ID", the event kind and its attributes:
 * "state OLD->NEW", "paused|error reason=R [error=-N (text)]", "complete"
 * followed by the counters as key=value, the outage's among them (and
 * "paused_for" in an outage).
 */
void pcmig_show_event(FILE *f, const struct pcmig_session *ev,
		      const struct timespec *ts, bool json)
{
	char when[64], kbuf[PCMIG_FMT_LEN], buf[PCMIG_FMT_LEN];
	char buf2[PCMIG_FMT_LEN];
	bool first = true;
	const char *kind;

	event_time(ts, json, when, sizeof(when));
	kind = pcmig_event_str(ev->cmd, kbuf, sizeof(kbuf));

	if (json) {
		fputc('{', f);
		json_key(f, &first, "time");
		pcmig_json_fputs(f, when);
		json_key(f, &first, "event");
		pcmig_json_fputs(f, kind);
		json_members(f, ev, false, &first);
		fputs("}\n", f);
		return;
	}

	fprintf(f, "%s session ", when);
	if (pcmig_has(ev, PCMIG_ATTR_ID))
		fprintf(f, "%u", ev->id);
	else
		fputc('-', f);
	fprintf(f, " %s", kind);

	switch (ev->cmd) {
	case PCMIG_CMD_EVENT_STATE:
		fprintf(f, " %s->%s",
			pcmig_has(ev, PCMIG_ATTR_OLD_STATE) ?
			pcmig_state_str(ev->old_state, buf, sizeof(buf)) : "?",
			pcmig_has(ev, PCMIG_ATTR_STATE) ?
			pcmig_state_str(ev->state, buf2, sizeof(buf2)) : "?");
		if (pcmig_has(ev, PCMIG_ATTR_REASON) &&
		    ev->reason != PCMIG_REASON_NONE)
			fprintf(f, " reason=%s",
				pcmig_reason_str(ev->reason, buf,
						 sizeof(buf)));
		break;
	case PCMIG_CMD_EVENT_PAUSED:
	case PCMIG_CMD_EVENT_ERROR:
		fprintf(f, " reason=%s",
			pcmig_has(ev, PCMIG_ATTR_REASON) ?
			pcmig_reason_str(ev->reason, buf, sizeof(buf)) : "?");
		if (pcmig_has(ev, PCMIG_ATTR_ERROR) && ev->error)
			fprintf(f, " error=%d (%s)", ev->error,
				err_str(ev->error));
		break;
	default:
		event_counters(f, ev);
		break;
	}
	fputc('\n', f);
}
