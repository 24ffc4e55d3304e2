// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: the tracepoints (Documentation/tracing.rst). The events
 * of the "pcmig" system are enabled through tracefs, filtered on the
 * session of the test, and a small session goes through ADVISE, LISTEN,
 * a fault on a missing page, a pause from user space, RECOVER with new
 * sockets, RUNNING and END (or FAILED while a fault waits): the trace
 * buffer must hold exactly the events of what happened, in order, each
 * field as the status and the test's own clock say.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"

#define PS		PCMIG_PS
#define SEED		0x7ace
#define NPAGES		16
#define FAULTED		5	/* the page a child faults on */
#define HOLD_MS		100	/* the source holds its reply this long */

#define TRACEFS		"/sys/kernel/tracing"

/*
 * The fault flags of a user-mode read fault on x86 (do_user_addr_fault()),
 * and those it must not have. ORIG_PTE_VALID depends on whether the page
 * table existed already: neither here nor there.
 */
static const char * const user_read_flags[] = {
	"ALLOW_RETRY", "KILLABLE", "USER", "INTERRUPTIBLE",
};

static const char * const user_read_not[] = {
	"WRITE", "MKWRITE", "RETRY_NOWAIT", "REMOTE", "INSTRUCTION",
	"UNSHARE",
};

static void __attribute__((constructor)) trace_test_init(void)
{
	pcmig_leak_guard_install();
}

/* Write @val to the tracefs file @name (truncating it); 0 or -errno. */
static int tr_write(const char *name, const char *val)
{
	char path[256];
	ssize_t n;
	int fd, ret = 0;

	snprintf(path, sizeof(path), TRACEFS "/%s", name);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != strlen(val))
		ret = -EIO;
	close(fd);
	return ret;
}

/* The whole of the tracefs file @name, NUL-terminated (free it), or NULL. */
static char *tr_read(const char *name)
{
	size_t len = 0, cap = 1 << 16;
	char path[256], *buf, *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), TRACEFS "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		if (cap - len < 4096) {
			p = realloc(buf, cap * 2);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			free(buf);
			buf = NULL;
		} else if (!n) {
			buf[len] = '\0';
			break;
		} else {
			len += n;
		}
	}
	close(fd);
	return buf;
}

/* tracefs at TRACEFS, mounted if it is not there yet; 0 or -errno. */
static int tracefs_mount(void)
{
	if (!access(TRACEFS "/events", F_OK))
		return 0;
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL))
		return -errno;
	return access(TRACEFS "/events", F_OK) ? -errno : 0;
}

/* One event of the trace: its name and "key=value ..." fields. */
#define MAX_EVENTS	256

struct tev {
	char name[32];
	char fields[256];
};

/*
 * The pcmig events in the text of the trace file, oldest first (the file
 * merges the per-CPU buffers by time stamp, of the "global" clock here).
 * Return: how many, or -1 if there are more than @max.
 */
static int parse_trace(const char *text, struct tev *ev, int max)
{
	const char *line = text, *end, *p, *colon;
	int n = 0;

	for (; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (*line == '#')
			continue;
		p = strstr(line, ": pcmig_");
		if (!p || p > end)
			continue;
		p += 2;
		colon = strchr(p, ':');
		if (!colon || colon > end)
			continue;
		if (n == max)
			return -1;
		snprintf(ev[n].name, sizeof(ev[n].name), "%.*s",
			 (int)(colon - p), p);
		colon++;
		while (*colon == ' ')
			colon++;
		snprintf(ev[n].fields, sizeof(ev[n].fields), "%.*s",
			 (int)(end - colon), colon);
		n++;
	}
	return n;
}

/* The value of field @key of @e as text, in @buf; NULL if absent. */
static const char *tev_str(const struct tev *e, const char *key, char *buf,
			   size_t len)
{
	size_t klen = strlen(key);
	const char *p = e->fields;

	for (;;) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			p += klen + 1;
			snprintf(buf, len, "%.*s", (int)strcspn(p, " "), p);
			return buf;
		}
		p = strchr(p, ' ');
		if (!p)
			return NULL;
		p++;
	}
}

/* The value of numeric field @key of @e, or UINT64_MAX if absent. */
static uint64_t tev_u64(const struct tev *e, const char *key)
{
	char buf[32];

	if (!tev_str(e, key, buf, sizeof(buf)))
		return UINT64_MAX;
	return strtoull(buf, NULL, 0);
}

/* Whether field @key of @e reads @val. */
static bool tev_is(const struct tev *e, const char *key, const char *val)
{
	char buf[128];

	return tev_str(e, key, buf, sizeof(buf)) && !strcmp(buf, val);
}

/* Whether flag @flag is among the '|'-separated flags of field @key. */
static bool tev_flag(const struct tev *e, const char *key, const char *flag)
{
	char buf[256], *tok, *save;

	if (!tev_str(e, key, buf, sizeof(buf)))
		return false;
	for (tok = strtok_r(buf, "|", &save); tok;
	     tok = strtok_r(NULL, "|", &save))
		if (!strcmp(tok, flag))
			return true;
	return false;
}

/*
 * Whether field "flags" of @e is a user-mode read fault's, on its first
 * attempt or (@tried) its retry; the field is logged otherwise.
 */
static bool user_read_fault(struct __test_metadata *_metadata,
			    const struct tev *e, bool tried)
{
	bool ok = tev_flag(e, "flags", "TRIED") == tried;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(user_read_flags); i++)
		ok = ok && tev_flag(e, "flags", user_read_flags[i]);
	for (i = 0; i < ARRAY_SIZE(user_read_not); i++)
		ok = ok && !tev_flag(e, "flags", user_read_not[i]);
	if (!ok)
		TH_LOG("fault flags (%s): %s", tried ? "retry" : "first",
		       e->fields);
	return ok;
}

/* Events named @name among @ev; the index of the first in *@first. */
static int tev_count(const struct tev *ev, int n, const char *name,
		     int *first)
{
	int i, count = 0;

	if (first)
		*first = -1;
	for (i = 0; i < n; i++) {
		if (strcmp(ev[i].name, name))
			continue;
		if (first && *first < 0)
			*first = i;
		count++;
	}
	return count;
}

/* The page_received event of page @idx (-1 if none, -2 if several). */
static int tev_received(const struct tev *ev, int n, uint64_t idx)
{
	int i, found = -1;

	for (i = 0; i < n; i++) {
		if (strcmp(ev[i].name, "pcmig_page_received") ||
		    tev_u64(&ev[i], "idx") != idx)
			continue;
		if (found >= 0)
			return -2;
		found = i;
	}
	return found;
}

FIXTURE(trace) {
	struct pcmig_env env;
	char clock[32];		/* trace_clock to restore, "" if none */
	char record_cmd[4];	/* options/record-cmd to restore, "" if none */
	struct tev ev[MAX_EVENTS];
	int nev;
};

FIXTURE_SETUP(trace)
{
	struct pcmig_env_opts o = {
		.npages = NPAGES,
		.transport = PCMIG_TRANSPORT_UNIX,
		.split = true,
		.seed = SEED,
		.tag = "trace",
	};
	char filter[64], *clocks, *opt, *b, *e;

	self->clock[0] = '\0';
	self->record_cmd[0] = '\0';
	self->nev = 0;
	pcmig_env_init(&self->env);
	ASSERT_EQ(0, tracefs_mount()) TH_LOG("tracefs: %s", strerror(errno));
	ASSERT_EQ(0, access(TRACEFS "/events/pcmig/enable", W_OK))
		TH_LOG("no pcmig events in tracefs: %s", strerror(errno));

	/* Events of different CPUs in their true order. */
	clocks = tr_read("trace_clock");
	ASSERT_NE(NULL, clocks);
	b = strchr(clocks, '[');
	e = b ? strchr(b, ']') : NULL;
	if (b && e && e - b - 1 < (int)sizeof(self->clock))
		snprintf(self->clock, sizeof(self->clock), "%.*s",
			 (int)(e - b - 1), b + 1);
	free(clocks);
	ASSERT_EQ(0, tr_write("trace_clock", "global"));

	/*
	 * No comm recording: with it on, enabling the first event and
	 * disabling the last one (un)register probes on sched_switch and
	 * sched_wakeup, which live-patches __schedule() while the other CPU
	 * runs it. Under QEMU 7.2's multi-threaded TCG that once left a vCPU
	 * re-executing a stale INT3 forever (the kernel's "INT3 already
	 * removed" path backs up and retries), and the guest hung in
	 * text_poke_bp(). The test reads no comm, so it does not need them.
	 */
	opt = tr_read("options/record-cmd");
	ASSERT_NE(NULL, opt);
	if (opt[0] == '0' || opt[0] == '1')
		self->record_cmd[0] = opt[0];
	self->record_cmd[1] = '\0';
	free(opt);
	ASSERT_EQ(0, tr_write("options/record-cmd", "0"));

	/* Created in ADVISE, which no event reports. */
	pcmig_env_start(_metadata, &self->env, &o);
	snprintf(filter, sizeof(filter), "session == %u", self->env.id);
	ASSERT_EQ(0, tr_write("events/pcmig/filter", filter));
	ASSERT_EQ(0, tr_write("trace", ""));
	ASSERT_EQ(0, tr_write("events/pcmig/enable", "1"));
	ASSERT_EQ(0, tr_write("tracing_on", "1"));
}

FIXTURE_TEARDOWN(trace)
{
	int i;

	/* What the trace held, to see what a failed test saw. */
	if (!_metadata->passed)
		for (i = 0; i < self->nev; i++)
			TH_LOG("event %2d %s: %s", i, self->ev[i].name,
			       self->ev[i].fields);
	tr_write("events/pcmig/enable", "0");
	tr_write("events/pcmig/filter", "0");
	tr_write("trace", "");
	if (self->clock[0])
		tr_write("trace_clock", self->clock);
	if (self->record_cmd[0])
		tr_write("options/record-cmd", self->record_cmd);
	pcmig_env_cleanup(&self->env);
}

/* Read the trace into self->ev, and stop tracing pcmig. */
static void read_events(struct __test_metadata *_metadata,
			FIXTURE_DATA(trace) *self)
{
	char *text;
	int i;

	ASSERT_EQ(0, tr_write("events/pcmig/enable", "0"));
	text = tr_read("trace");
	ASSERT_NE(NULL, text);
	self->nev = parse_trace(text, self->ev, MAX_EVENTS);
	free(text);
	ASSERT_LE(0, self->nev) TH_LOG("more than %d events", MAX_EVENTS);
	for (i = 0; i < self->nev; i++)
		EXPECT_EQ(self->env.id, tev_u64(&self->ev[i], "session"))
			TH_LOG("event %d: %s", i, self->ev[i].fields);
}

/* The moves, pause and recovery of migration_events, and a field each. */
static const struct move {
	const char *name;
	const char *f1, *v1, *f2, *v2, *f3, *v3;
} moves[] = {
	{ "pcmig_state_change", "from", "advise", "to",
	  "listen", "reason", "none" },
	{ "pcmig_pause", "reason", "user", "error", "0",
	  "resume", "listen" },
	{ "pcmig_state_change", "from", "listen", "to",
	  "paused", "reason", "user" },
	{ "pcmig_state_change", "from", "paused", "to",
	  "recover", "reason", "user" },
	{ "pcmig_recover", "resume", "listen", "recoveries",
	  "1", NULL, NULL },
	{ "pcmig_state_change", "from", "recover", "to",
	  "listen", "reason", "none" },
	{ "pcmig_state_change", "from", "listen", "to",
	  "running", "reason", "none" },
	{ "pcmig_state_change", "from", "running", "to",
	  "end", "reason", "none" },
};

/*
 * Two pages pushed in ADVISE (one PAGES, one ZERO) on the bulk channel;
 * LISTEN; a fault on a missing page whose reply is held; a pause from
 * user space; RECOVER with new sockets and back to LISTEN; RUNNING; the
 * rest pushed; END.
 */
TEST_F(trace, migration_events)
{
	uint64_t t_fork, t_seen, t_rel, t_reaped, t_p0, t_p1, t_r0, t_r1;
	struct pcmig_env *e = &self->env;
	const struct tev *ev = self->ev;
	uint64_t frames, idx, wait_ns;
	int fm, fe, rs, rx5, i, j, n;
	int at[ARRAY_SIZE(moves)];
	struct pcmig_status st;
	int status;
	pid_t kid;

	/* ADVISE: pages pushed on the bulk channel only. */
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 0, 1,
					     0));
	ASSERT_EQ(0, pcmig_source_send_zero(e->src, PCMIG_CHANNEL_BULK, 1, 1));
	ASSERT_EQ(0, PCMIG_WAIT_FIELD(e->fd, pages_present, 2, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));

	/* A fault on a missing page, its reply held for HOLD_MS. */
	pcmig_source_hold(e->src, FAULTED, 1);
	t_fork = pcmig_monotonic_ns();
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, FAULTED, 1, SEED,
						false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, FAULTED, 1,
						PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	t_seen = pcmig_monotonic_ns();
	pcmig_msleep(HOLD_MS);
	t_rel = pcmig_monotonic_ns();
	pcmig_source_release(e->src, FAULTED, 1);
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	t_reaped = pcmig_monotonic_ns();
	ASSERT_TRUE(pcmig_exited_ok(status))
		TH_LOG("reader: %s", pcmig_status_str(status));
	frames = pcmig_source_request_frames(e->src);

	/* Paused by user space, recovered on new sockets. */
	t_p0 = pcmig_monotonic_ns();
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_PAUSED));
	t_p1 = pcmig_monotonic_ns();
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RECOVER));
	ASSERT_EQ(0, pcmig_env_new_source(e, PCMIG_TRANSPORT_UNIX, true, SEED))
		TH_LOG("%s", pcmig_lib_error());
	t_r0 = pcmig_monotonic_ns();
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	t_r1 = pcmig_monotonic_ns();

	/* RUNNING, the rest pushed: END. */
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_RUNNING));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK, 2,
					     FAULTED - 2, 0));
	ASSERT_EQ(0, pcmig_source_send_pages(e->src, PCMIG_CHANNEL_BULK,
					     FAULTED + 1, NPAGES - FAULTED - 1,
					     0));
	ASSERT_EQ(0, pcmig_wait_state(e->fd, PCMIG_STATE_END, PCMIG_WAIT_MS,
				      &st)) TH_LOG("%s", pcmig_lib_error());

	read_events(_metadata, self);
	n = self->nev;

	/* The fault: one found its page missing, one wait got it. */
	ASSERT_EQ(1, st.faults);
	ASSERT_EQ(1, st.faults_blocked);
	ASSERT_EQ(1, tev_count(ev, n, "pcmig_fault_missing", &fm));
	EXPECT_EQ(FAULTED, tev_u64(&ev[fm], "idx"));
	EXPECT_TRUE(user_read_fault(_metadata, &ev[fm], false));
	ASSERT_EQ(1, tev_count(ev, n, "pcmig_fault", &fe));
	EXPECT_EQ(FAULTED, tev_u64(&ev[fe], "idx"));
	EXPECT_EQ(1, tev_u64(&ev[fe], "blocked"));
	EXPECT_EQ(0, tev_u64(&ev[fe], "interrupted"));
	wait_ns = tev_u64(&ev[fe], "wait_ns");
	EXPECT_LE(t_rel - t_seen, wait_ns);
	EXPECT_GE(t_reaped - t_fork, wait_ns);
	/* Read just before the histogram's clock read. */
	EXPECT_GE(st.blocked_ns, wait_ns);

	/*
	 * The request: one frame for the page, as the source saw it (the
	 * resend at LISTEN, should it race with the fault, asks again).
	 */
	ASSERT_LE(1, frames);
	EXPECT_EQ(frames, tev_count(ev, n, "pcmig_request_sent", &rs));
	ASSERT_LE(0, rs);
	EXPECT_EQ(st.requests_sent, frames);
	for (i = rs; i < n; i++) {
		if (strcmp(ev[i].name, "pcmig_request_sent"))
			continue;
		EXPECT_EQ(1, tev_u64(&ev[i], "npages"));
		EXPECT_EQ(FAULTED, tev_u64(&ev[i], "first"));
	}

	/*
	 * Every page received once: pushed on the bulk channel (number 1
	 * before the pause, 3 after), zero, or the reply on the urgent one.
	 */
	EXPECT_EQ(NPAGES, tev_count(ev, n, "pcmig_page_received", NULL));
	for (idx = 0; idx < NPAGES; idx++) {
		const char *kind = idx == 1 ? "zero" :
				   idx == FAULTED ? "requested" : "pushed";
		uint64_t chan = idx < 2 ? 1 : idx == FAULTED ? 0 : 3;

		i = tev_received(ev, n, idx);
		ASSERT_LE(0, i) TH_LOG("page %llu: %d events",
				       (unsigned long long)idx, i);
		EXPECT_TRUE(tev_is(&ev[i], "kind", kind))
			TH_LOG("page %llu: %s", (unsigned long long)idx,
			       ev[i].fields);
		EXPECT_EQ(chan, tev_u64(&ev[i], "channel"))
			TH_LOG("page %llu", (unsigned long long)idx);
		EXPECT_TRUE(tev_is(&ev[i], "mask",
				   idx == FAULTED ? "urgent" : "bulk"))
			TH_LOG("page %llu: %s", (unsigned long long)idx,
			       ev[i].fields);
	}
	EXPECT_EQ(st.pages_received, 15);
	EXPECT_EQ(st.pages_pushed, 14);
	EXPECT_EQ(st.pages_zero, 1);

	/* Fault, request, reply, end of the wait: in that order. */
	rx5 = tev_received(ev, n, FAULTED);
	EXPECT_LT(fm, rs);
	EXPECT_LT(rs, rx5);
	EXPECT_LT(rx5, fe);

	/* The moves, the pause and the recovery, in order. */
	j = 0;
	for (i = 0; i < n; i++) {
		if (strcmp(ev[i].name, "pcmig_state_change") &&
		    strcmp(ev[i].name, "pcmig_pause") &&
		    strcmp(ev[i].name, "pcmig_recover"))
			continue;
		ASSERT_GT(ARRAY_SIZE(moves), j)
			TH_LOG("unexpected %s: %s", ev[i].name,
			       ev[i].fields);
		EXPECT_STREQ(moves[j].name, ev[i].name)
			TH_LOG("move %d: %s", j, ev[i].fields);
		EXPECT_TRUE(tev_is(&ev[i], moves[j].f1, moves[j].v1))
			TH_LOG("move %d: %s", j, ev[i].fields);
		EXPECT_TRUE(tev_is(&ev[i], moves[j].f2, moves[j].v2))
			TH_LOG("move %d: %s", j, ev[i].fields);
		if (moves[j].v3) {
			EXPECT_TRUE(tev_is(&ev[i], moves[j].f3,
					   moves[j].v3))
				TH_LOG("move %d: %s", j, ev[i].fields);
		}
		at[j++] = i;
	}
	ASSERT_EQ(ARRAY_SIZE(moves), j);

	/* The pause's epoch is the session's first outage. */
	EXPECT_EQ(1, tev_u64(&ev[at[1]], "epoch"));
	/* The outage: from the pause to the resume. */
	EXPECT_EQ(st.paused_total_ns,
		  tev_u64(&ev[at[4]], "paused_total_ns"));
	EXPECT_LE(st.paused_total_ns, tev_u64(&ev[at[4]], "paused_ns"));
	EXPECT_LE(t_r0 - t_p1, tev_u64(&ev[at[4]], "paused_ns"));
	EXPECT_GE(t_r1 - t_p0, tev_u64(&ev[at[4]], "paused_ns"));
	EXPECT_EQ(1, st.pauses);
	EXPECT_EQ(1, st.recoveries);

	/* Pushes before LISTEN, the rest after RUNNING. */
	EXPECT_LT(tev_received(ev, n, 0), at[0]);
	EXPECT_LT(tev_received(ev, n, 1), at[0]);
	EXPECT_LT(at[0], fm);
	EXPECT_LT(fe, at[1]);
	for (idx = 2; idx < NPAGES; idx++) {
		if (idx == FAULTED)
			continue;
		EXPECT_LT(at[6], tev_received(ev, n, idx))
			TH_LOG("page %llu", (unsigned long long)idx);
	}

	/* Nothing else. */
	EXPECT_EQ(1 + 1 + frames + NPAGES + 6 + 1 + 1, n);

	/* And the pages themselves. */
	EXPECT_EQ(-1, pcmig_env_check(e, 0, 1, SEED, NULL));
	EXPECT_EQ(-1, pcmig_zero_check(e->map + PS, PS));
	EXPECT_EQ(-1, pcmig_env_check(e, 2, NPAGES - 2, SEED, NULL));
}

/*
 * A fault waits, the session fails: the wait ends without the page
 * (blocked=0), the retried fault finds the page missing again and gets
 * SIGBUS; the move to FAILED says why.
 */
TEST_F(trace, fault_wait_ended_by_failure)
{
	struct pcmig_env *e = &self->env;
	const struct tev *ev = self->ev;
	int fm, fe, sc, i, n, status;
	struct pcmig_status st;
	pid_t kid;

	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_LISTEN));
	pcmig_source_hold(e->src, FAULTED, 1);
	kid = pcmig_env_kid(e, pcmig_fork_check(e->map, FAULTED, 1, SEED,
						false));
	ASSERT_EQ(0, pcmig_source_wait_requests(e->src, FAULTED, 1,
						PCMIG_WAIT_MS))
		TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pcmig_set_state(e->fd, PCMIG_STATE_FAILED));
	status = pcmig_env_reap(e, kid, PCMIG_WAIT_MS);
	ASSERT_TRUE(pcmig_died_of(status, SIGBUS))
		TH_LOG("reader: %s", pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_env_status(e, &st));

	read_events(_metadata, self);
	n = self->nev;

	/* The first fault and its retry, after the failure. */
	ASSERT_EQ(2, st.faults);
	ASSERT_EQ(0, st.faults_blocked);
	ASSERT_EQ(2, tev_count(ev, n, "pcmig_fault_missing", &fm));
	EXPECT_TRUE(user_read_fault(_metadata, &ev[fm], false));
	for (i = fm + 1; i < n; i++)
		if (!strcmp(ev[i].name, "pcmig_fault_missing"))
			break;
	ASSERT_GT(n, i);
	EXPECT_EQ(FAULTED, tev_u64(&ev[i], "idx"));
	EXPECT_TRUE(user_read_fault(_metadata, &ev[i], true));

	ASSERT_EQ(1, tev_count(ev, n, "pcmig_fault", &fe));
	EXPECT_EQ(FAULTED, tev_u64(&ev[fe], "idx"));
	EXPECT_EQ(0, tev_u64(&ev[fe], "blocked"));
	EXPECT_EQ(0, tev_u64(&ev[fe], "interrupted"));

	ASSERT_EQ(2, tev_count(ev, n, "pcmig_state_change", NULL));
	for (sc = 0; sc < n; sc++)
		if (!strcmp(ev[sc].name, "pcmig_state_change") &&
		    tev_is(&ev[sc], "to", "failed"))
			break;
	ASSERT_GT(n, sc);
	EXPECT_TRUE(tev_is(&ev[sc], "from", "listen"));
	EXPECT_TRUE(tev_is(&ev[sc], "reason", "aborted"));

	/* Failure, end of the wait, the retry: in that order. */
	EXPECT_LT(fm, sc);
	EXPECT_LT(sc, fe);
	EXPECT_LT(fe, i);

	EXPECT_EQ(0, tev_count(ev, n, "pcmig_page_received", NULL));
	EXPECT_EQ(0, tev_count(ev, n, "pcmig_pause", NULL));
	EXPECT_EQ(0, tev_count(ev, n, "pcmig_recover", NULL));
	EXPECT_EQ(st.requests_sent,
		  tev_count(ev, n, "pcmig_request_sent", NULL));
	EXPECT_EQ(2 + 1 + st.requests_sent + 2, n);
}

PCMIG_HARNESS_MAIN
