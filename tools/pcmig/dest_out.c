// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: what the destination side tells people and programs: messages
 * on stderr, the refreshed progress line on a terminal, JSON lines (events,
 * progress every second, a final summary) and the step daemon's status file.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

static bool json_first;

/* Prefix of every message: the time in the daemon's log, the command. */
static void msg_prefix(struct dest *d)
{
	char when[48];

	dest_clear_line(d);
	if (d->log_time)
		fprintf(stderr, "%s ", dest_json_time(when, sizeof(when)));
	fprintf(stderr, "pcmig-tool %s: ", d->o->cmd);
}

/**
 * dest_info() - an informational message on stderr, unless --quiet
 * @d: the migration
 * @fmt: printf format
 */
void dest_info(struct dest *d, const char *fmt, ...)
{
	va_list ap;

	if (d->o->quiet)
		return;
	msg_prefix(d);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/**
 * dest_errmsg() - an error message on stderr, always
 * @d: the migration
 * @fmt: printf format
 */
void dest_errmsg(struct dest *d, const char *fmt, ...)
{
	va_list ap;

	msg_prefix(d);
	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/**
 * dest_warn() - a warning on stderr, always
 * @d: the migration
 * @fmt: printf format
 */
void dest_warn(struct dest *d, const char *fmt, ...)
{
	va_list ap;

	msg_prefix(d);
	fputs("warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/**
 * dest_json_start() - begin a JSON line: "time" and "event"
 * @d: the migration; nothing is written without @d->events_out
 * @event: the event's name
 */
void dest_json_start(struct dest *d, const char *event)
{
	char when[48];

	if (!d->events_out)
		return;
	fprintf(d->events_out, "{\"time\":\"%s\",\"event\":",
		dest_json_time(when, sizeof(when)));
	pcmig_json_fputs(d->events_out, event);
	json_first = false;
}

/**
 * dest_json_u64() - a number member of the current JSON line
 * @d: the migration
 * @key: member name (plain ASCII)
 * @val: value
 */
void dest_json_u64(struct dest *d, const char *key, uint64_t val)
{
	if (!d->events_out)
		return;
	fprintf(d->events_out, "%s\"%s\":%" PRIu64, json_first ? "" : ",",
		key, val);
	json_first = false;
}

/**
 * dest_json_str() - a string member of the current JSON line
 * @d: the migration
 * @key: member name (plain ASCII)
 * @val: value, escaped
 */
void dest_json_str(struct dest *d, const char *key, const char *val)
{
	if (!d->events_out)
		return;
	fprintf(d->events_out, "%s\"%s\":", json_first ? "" : ",", key);
	pcmig_json_fputs(d->events_out, val);
	json_first = false;
}

/**
 * dest_json_end() - finish and flush the current JSON line
 * @d: the migration
 */
void dest_json_end(struct dest *d)
{
	if (!d->events_out)
		return;
	fputs("}\n", d->events_out);
	fflush(d->events_out);
}

/**
 * dest_clear_line() - remove the progress line before other output
 * @d: the migration
 */
void dest_clear_line(struct dest *d)
{
	if (!d->line_shown)
		return;
	fputs("\r\033[K", stderr);
	d->line_shown = false;
}

static unsigned int term_width(void)
{
	struct winsize ws;

	if (!ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 20)
		return ws.ws_col;
	return 80;
}

/* The fault-wait percentile @pct of the last status, in ns (0: none). */
static uint64_t wait_pct(const struct dest *d, unsigned int pct)
{
	return dest_wait_pct(&d->st, pct);
}

/**
 * dest_progress() - a progress sample: refresh the line, emit JSON
 * @d: the migration, with a fresh @d->st
 * @force: emit the JSON progress object even if the tick is not due
 *
 * Called once per tick (%DEST_TICK_MS) with a fresh status.
 */
void dest_progress(struct dest *d, bool force)
{
	char line[256], sbuf[PCMIG_FMT_LEN];
	uint64_t rate, remaining;
	unsigned int width;
	size_t len;

	if (!d->have_st)
		return;
	dest_rate_add(&d->rate, pcmig_now_ms(), d->st.pages_present);
	rate = dest_rate_get(&d->rate);
	remaining = d->st.pages_total > d->st.pages_present ?
		    d->st.pages_total - d->st.pages_present : 0;

	if (d->tty) {
		if (d->recovering)
			len = snprintf(line, sizeof(line),
				       "paused %" PRIu64 " s, waiting for the source to reconnect (%u attempts failed)",
				       (pcmig_now_ms() - d->t_paused) / 1000,
				       d->attempts);
		else
			len = dest_progress_line(line, sizeof(line), &d->st,
						 rate);
		width = term_width() - 1;
		if (len > width && width < sizeof(line))
			line[width] = '\0';
		fprintf(stderr, "\r\033[K%s", line);
		fflush(stderr);
		d->line_shown = true;
	}

	(void)force;
	dest_json_start(d, "progress");
	dest_json_u64(d, "id", d->id);
	dest_json_str(d, "state", pcmig_state_str(d->st.state, sbuf,
						  sizeof(sbuf)));
	dest_json_u64(d, "pages_total", d->st.pages_total);
	dest_json_u64(d, "pages_present", d->st.pages_present);
	dest_json_u64(d, "percent", d->st.pages_total ?
		      d->st.pages_present * 100 / d->st.pages_total : 0);
	dest_json_u64(d, "rate", rate);
	if (dest_eta_s(remaining, rate) != UINT64_MAX)
		dest_json_u64(d, "eta_s", dest_eta_s(remaining, rate));
	dest_json_u64(d, "pages_requested", d->st.pages_requested);
	dest_json_u64(d, "in_flight", d->st.in_flight);
	dest_json_u64(d, "faults", d->st.faults);
	dest_json_u64(d, "p50_ns", wait_pct(d, 50));
	dest_json_u64(d, "p99_ns", wait_pct(d, 99));
	dest_json_u64(d, "recoveries", d->recoveries);
	if (d->recovering)
		dest_json_u64(d, "paused_ms", pcmig_now_ms() - d->t_paused);
	dest_json_end(d);
}

static const char *result_name(int result)
{
	switch (result) {
	case DEST_EXIT_DONE:
		return "done";
	case DEST_EXIT_PAUSED:
		return "paused";
	default:
		return "failed";
	}
}

/**
 * dest_summary() - the final report: a JSON object and, for people, a few
 * lines on stdout (unless --quiet or JSON output)
 * @d: the migration, with its result decided
 */
void dest_summary(struct dest *d)
{
	char a[PCMIG_FMT_LEN], b[PCMIG_FMT_LEN], c[PCMIG_FMT_LEN];
	char e[PCMIG_FMT_LEN], f[PCMIG_FMT_LEN];
	const struct pcmig_status *st = &d->st;
	uint64_t total_ms = d->t_start && d->t_end ? d->t_end - d->t_start : 0;
	uint64_t run_ms = d->t_start && d->t_run ? d->t_run - d->t_start : 0;

	dest_clear_line(d);
	dest_json_start(d, "summary");
	dest_json_str(d, "result", result_name(d->result));
	dest_json_u64(d, "exit", d->result);
	if (d->result != DEST_EXIT_DONE)
		dest_json_str(d, "message", d->msg);
	if (d->node[0]) {
		dest_json_u64(d, "id", d->id);
		dest_json_str(d, "name", d->name);
		dest_json_str(d, "node", d->node);
	}
	if (d->t_run)
		dest_json_u64(d, "time_to_run_ms", run_ms);
	if (d->t_start && d->t_end)
		dest_json_u64(d, "total_ms", total_ms);
	if (d->have_st) {
		dest_json_str(d, "state", pcmig_state_str(st->state, a,
							  sizeof(a)));
		dest_json_str(d, "reason", pcmig_reason_str(st->reason, a,
							    sizeof(a)));
		dest_json_u64(d, "size", st->size);
		dest_json_u64(d, "pages_total", st->pages_total);
		dest_json_u64(d, "pages_present", st->pages_present);
		dest_json_u64(d, "pages_received", st->pages_received);
		dest_json_u64(d, "pages_requested", st->pages_requested);
		dest_json_u64(d, "pages_pushed", st->pages_pushed);
		dest_json_u64(d, "pages_zero", st->pages_zero);
		dest_json_u64(d, "pages_duplicate", st->pages_duplicate);
		dest_json_u64(d, "pages_discarded", st->pages_discarded);
		dest_json_u64(d, "pages_punched", st->pages_punched);
		dest_json_u64(d, "bytes_received", st->bytes_received);
		dest_json_u64(d, "requests_sent", st->requests_sent);
		dest_json_u64(d, "faults", st->faults);
		dest_json_u64(d, "faults_blocked", st->faults_blocked);
		dest_json_u64(d, "blocked_ns", st->blocked_ns);
		dest_json_u64(d, "pauses", st->pauses);
		dest_json_u64(d, "p50_ns", wait_pct(d, 50));
		dest_json_u64(d, "p90_ns", wait_pct(d, 90));
		dest_json_u64(d, "p99_ns", wait_pct(d, 99));
	}
	dest_json_end(d);

	if (d->events_out == stdout || d->o->quiet ||
	    d->result != DEST_EXIT_DONE ||
	    !d->have_st)
		return;
	printf("migration done: %llu pages (%s) in %s, running after %s\n",
	       st->pages_total, pcmig_fmt_size(st->size, a, sizeof(a)),
	       dest_fmt_ms(total_ms, b, sizeof(b)),
	       dest_fmt_ms(run_ms, c, sizeof(c)));
	printf("  pages: %llu pushed, %llu requested, %llu zero, %llu duplicate, %llu discarded, %llu punched\n",
	       st->pages_pushed, st->pages_requested, st->pages_zero,
	       st->pages_duplicate, st->pages_discarded, st->pages_punched);
	printf("  faults: %llu (%llu waited)", st->faults, st->faults_blocked);
	if (wait_pct(d, 100))
		printf(", wait p50<=%s p90<=%s p99<=%s",
		       pcmig_fmt_ns(wait_pct(d, 50), a, sizeof(a)),
		       pcmig_fmt_ns(wait_pct(d, 90), e, sizeof(e)),
		       pcmig_fmt_ns(wait_pct(d, 99), f, sizeof(f)));
	printf("\n");
	fflush(stdout);
}

/**
 * dest_status_json() - the step daemon's status file: one JSON object
 * @d: the migration
 * @f: output
 */
void dest_status_json(struct dest *d, FILE *f)
{
	char when[48], buf[PCMIG_FMT_LEN];
	const struct pcmig_status *st = &d->st;

	fprintf(f, "{\"pid\":%d,\"step\":\"%s\",\"exit\":", (int)getpid(),
		dest_step_name(d->step));
	if (d->result >= 0)
		fprintf(f, "%d", d->result);
	else
		fputs("null", f);
	fputs(",\"message\":", f);
	pcmig_json_fputs(f, d->msg);
	fputs(",\"listen\":", f);
	pcmig_json_fputs(f, d->o->listen);
	fprintf(f, ",\"package\":%s,\"package_bytes\":%zu",
		d->pkg ? "true" : "false", d->pkg_len);
	if (d->node[0]) {
		fprintf(f, ",\"id\":%u,\"name\":", d->id);
		pcmig_json_fputs(f, d->name);
		fputs(",\"node\":", f);
		pcmig_json_fputs(f, d->node);
	}
	if (d->have_st) {
		fprintf(f, ",\"state\":\"%s\",\"reason\":\"%s\"",
			pcmig_state_str(st->state, buf, sizeof(buf)),
			pcmig_reason_str(st->reason, when, sizeof(when)));
		fprintf(f, ",\"size\":%llu,\"pages_total\":%llu,\"pages_present\":%llu,\"pages_received\":%llu,\"pages_requested\":%llu,\"pages_pushed\":%llu,\"pages_zero\":%llu,\"pages_duplicate\":%llu,\"pages_discarded\":%llu,\"pages_punched\":%llu,\"faults\":%llu,\"faults_blocked\":%llu",
			st->size, st->pages_total, st->pages_present,
			st->pages_received, st->pages_requested,
			st->pages_pushed, st->pages_zero, st->pages_duplicate,
			st->pages_discarded, st->pages_punched, st->faults,
			st->faults_blocked);
		fprintf(f, ",\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
			",\"rate\":%" PRIu64, wait_pct(d, 50), wait_pct(d, 99),
			dest_rate_get(&d->rate));
	}
	fprintf(f, ",\"recovering\":%s,\"recoveries\":%" PRIu64
		",\"recovery_attempts\":%u",
		d->recovering ? "true" : "false", d->recoveries, d->attempts);
	if (d->recovering)
		fprintf(f, ",\"paused_ms\":%" PRIu64,
			pcmig_now_ms() - d->t_paused);
	if (d->have_st)
		fprintf(f, ",\"pauses\":%llu,\"requests_resent\":%llu,\"paused_total_ns\":%llu",
			st->pauses, st->requests_resent, st->paused_total_ns);
	if (d->t_run)
		fprintf(f, ",\"time_to_run_ms\":%" PRIu64, d->t_run - d->t_start);
	/* From the control connection: none before it came. */
	if (d->t_start && d->t_end)
		fprintf(f, ",\"total_ms\":%" PRIu64, d->t_end - d->t_start);
	fprintf(f, ",\"updated\":\"%s\"}\n", dest_json_time(when, sizeof(when)));
}

/**
 * dest_changed() - something the status shows changed: tell the daemon
 * @d: the migration
 */
void dest_changed(struct dest *d)
{
	if (d->notify)
		d->notify(d, d->notify_arg);
}
