// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of tools/pcmig/genl.c's message parsing and of show.c's output,
 * with messages built by libnl on the host (no kernel involved).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "format.h"
#include "pcmig-tool.h"
#include "unit.h"

#define FAMILY	0x42

static struct nl_msg *new_msg(uint8_t cmd)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg || !genlmsg_put(msg, 0, 0, FAMILY, 0, 0, cmd,
				 PCMIG_GENL_VERSION)) {
		fprintf(stderr, "cannot build a message\n");
		exit(2);
	}
	return msg;
}

/*
 * A session as a module before ABI 0.4 describes it: 1 MiB, half present,
 * in @state for @reason after @pauses pauses.
 */
static struct nl_msg *session_in(uint32_t state, uint32_t reason,
				 uint64_t pauses)
{
	struct nl_msg *msg = new_msg(PCMIG_CMD_SESSION_GET);
	struct nlattr *nest;
	int i;

	nla_put_u32(msg, PCMIG_ATTR_ID, 7);
	nla_put_string(msg, PCMIG_ATTR_NAME, "vm \"one\"");
	nla_put_u32(msg, PCMIG_ATTR_STATE, state);
	nla_put_u32(msg, PCMIG_ATTR_REASON, reason);
	nla_put_u32(msg, PCMIG_ATTR_ERROR, (uint32_t)-104);
	nla_put_u64(msg, PCMIG_ATTR_SIZE, 1 << 20);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_TOTAL, 256);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_PRESENT, 128);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_RECEIVED, 120);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_REQUESTED, 10);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_PUSHED, 110);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_ZERO, 8);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_DUPLICATE, 1);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_DISCARDED, 2);
	nla_put_u64(msg, PCMIG_ATTR_IN_FLIGHT, 3);
	nla_put_u64(msg, PCMIG_ATTR_BYTES_RECEIVED, 500000);
	nla_put_u64(msg, PCMIG_ATTR_REQUESTS_SENT, 4);
	nla_put_u64(msg, PCMIG_ATTR_FAULTS, 12);
	nla_put_u64(msg, PCMIG_ATTR_FAULTS_BLOCKED, 10);
	nla_put_u64(msg, PCMIG_ATTR_BLOCKED_NS, 1500000);
	nla_put_u64(msg, PCMIG_ATTR_PAUSES, pauses);
	nest = nla_nest_start(msg, PCMIG_ATTR_HIST);
	for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
		nla_put_u64(msg, i + 1, i == 16 ? 5 : i == 17 ? 4 :
			    i == 20 ? 1 : 0);
	nla_nest_end(msg, nest);
	return msg;
}

/* A running session that never paused, before ABI 0.4. */
static struct nl_msg *full_session(void)
{
	return session_in(PCMIG_STATE_RUNNING, PCMIG_REASON_NONE, 0);
}

#define SEC		1000000000ULL
/* The clocks at the parse, in the show tests; the outage began 83.5 s ago. */
#define SEEN_NS		(5000 * SEC)
#define SEEN_REAL_NS	((86400 + 3661) * SEC + 5000000)
#define PAUSED_AT_NS	(SEEN_NS - 83 * SEC - SEC / 2)

/*
 * The attributes added since ABI 0.3: the outage's (ABI 0.4), 2 recoveries,
 * 3 min 3.5 s paused; 5 pages punched (ABI 0.6).
 */
static void put_outage(struct nl_msg *msg, uint32_t resume_state,
		       uint32_t pause_timeout_ms)
{
	nla_put_u32(msg, PCMIG_ATTR_RESUME_STATE, resume_state);
	nla_put_u32(msg, PCMIG_ATTR_PAUSE_TIMEOUT_MS, pause_timeout_ms);
	nla_put_u64(msg, PCMIG_ATTR_RECOVERIES, 2);
	nla_put_u64(msg, PCMIG_ATTR_PAUSED_AT_NS, PAUSED_AT_NS);
	nla_put_u64(msg, PCMIG_ATTR_PAUSED_TOTAL_NS, 183 * SEC + SEC / 2);
	nla_put_u64(msg, PCMIG_ATTR_REQUESTS_RESENT, 17);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_PUNCHED, 5);
}

/* The attributes of @msg, read at SEEN_NS (SEEN_REAL_NS). */
static void parse_seen(struct nl_msg *msg, struct pcmig_session *s)
{
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), s) == 0);
	s->seen_ns = SEEN_NS;
	s->seen_real_ns = SEEN_REAL_NS;
	nlmsg_free(msg);
}

/* Every attribute put_outage() puts, in struct pcmig_session.have. */
#define OUTAGE_ATTRS	((1ULL << PCMIG_ATTR_RESUME_STATE) |		\
			 (1ULL << PCMIG_ATTR_PAUSE_TIMEOUT_MS) |	\
			 (1ULL << PCMIG_ATTR_RECOVERIES) |		\
			 (1ULL << PCMIG_ATTR_PAUSED_AT_NS) |		\
			 (1ULL << PCMIG_ATTR_PAUSED_TOTAL_NS) |		\
			 (1ULL << PCMIG_ATTR_REQUESTS_RESENT) |		\
			 (1ULL << PCMIG_ATTR_PAGES_PUNCHED))

static char *capture_start(FILE **f, char **mem, size_t *len)
{
	*mem = NULL;
	*f = open_memstream(mem, len);
	if (!*f) {
		perror("open_memstream");
		exit(2);
	}
	return NULL;
}

static void test_parse_full(void)
{
	struct nl_msg *msg = full_session();
	struct pcmig_session s;

	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(s.cmd == PCMIG_CMD_SESSION_GET);
	CHECK(pcmig_has(&s, PCMIG_ATTR_ID) && s.id == 7);
	CHECK(pcmig_has(&s, PCMIG_ATTR_NAME));
	CHECK_STR(s.name, "vm \"one\"");
	CHECK(pcmig_has(&s, PCMIG_ATTR_STATE) &&
	      s.state == PCMIG_STATE_RUNNING);
	CHECK(pcmig_has(&s, PCMIG_ATTR_REASON) && s.reason == 0);
	CHECK(pcmig_has(&s, PCMIG_ATTR_ERROR) && s.error == -104);
	CHECK(!pcmig_has(&s, PCMIG_ATTR_OLD_STATE));
	CHECK(s.size == 1 << 20 && s.pages_total == 256);
	CHECK(s.pages_present == 128 && s.pages_received == 120);
	CHECK(s.pages_requested == 10 && s.pages_pushed == 110);
	CHECK(s.pages_zero == 8 && s.pages_duplicate == 1);
	CHECK(s.pages_discarded == 2 && s.in_flight == 3);
	CHECK(s.bytes_received == 500000 && s.requests_sent == 4);
	CHECK(s.faults == 12 && s.faults_blocked == 10);
	CHECK(s.blocked_ns == 1500000 && pcmig_has(&s, PCMIG_ATTR_PAUSES));
	CHECK(pcmig_has(&s, PCMIG_ATTR_HIST));
	CHECK(s.hist[16] == 5 && s.hist[17] == 4 && s.hist[20] == 1);
	CHECK(pcmig_hist_total(s.hist, PCMIG_HIST_BUCKETS) == 10);
	/* A module before ABI 0.4: no outage attribute, no zeros claimed. */
	CHECK(!(s.have & OUTAGE_ATTRS));
	nlmsg_free(msg);
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void test_parse_outage(void)
{
	struct nl_msg *msg = session_in(PCMIG_STATE_PAUSED,
					PCMIG_REASON_CHANNEL_EOF, 3);
	uint64_t before, real_before;
	struct pcmig_session s;
	uint16_t two = 2;

	put_outage(msg, PCMIG_STATE_RUNNING, 300000);
	before = now_ns(CLOCK_MONOTONIC);
	real_before = now_ns(CLOCK_REALTIME);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK((s.have & OUTAGE_ATTRS) == OUTAGE_ATTRS);
	CHECK(s.state == PCMIG_STATE_PAUSED && s.pauses == 3);
	CHECK(s.reason == PCMIG_REASON_CHANNEL_EOF);
	CHECK(s.resume_state == PCMIG_STATE_RUNNING);
	CHECK_U64(s.pause_timeout_ms, 300000);
	CHECK_U64(s.recoveries, 2);
	CHECK_U64(s.paused_at_ns, PAUSED_AT_NS);
	CHECK_U64(s.paused_total_ns, 183 * SEC + SEC / 2);
	CHECK_U64(s.requests_resent, 17);
	CHECK_U64(s.pages_punched, 5);
	/* The clocks the outage is measured against: read at the parse. */
	CHECK(s.seen_ns >= before && s.seen_ns <= now_ns(CLOCK_MONOTONIC));
	CHECK(s.seen_real_ns >= real_before &&
	      s.seen_real_ns <= now_ns(CLOCK_REALTIME));
	nlmsg_free(msg);

	/* A u64 outage counter of 4 bytes, a u32 of 2: rejected. */
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put_u32(msg, PCMIG_ATTR_PAUSED_AT_NS, 1);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == -EPROTO);
	nlmsg_free(msg);
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put(msg, PCMIG_ATTR_RESUME_STATE, sizeof(two), &two);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == -EPROTO);
	nlmsg_free(msg);

	/* Only some of them: the others stay absent. */
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put_u32(msg, PCMIG_ATTR_PAUSE_TIMEOUT_MS, 0);
	nla_put_u64(msg, PCMIG_ATTR_RECOVERIES, 0);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(s.have == ((1ULL << PCMIG_ATTR_PAUSE_TIMEOUT_MS) |
			 (1ULL << PCMIG_ATTR_RECOVERIES)));
	nlmsg_free(msg);
}

static void test_parse_sparse(void)
{
	struct nl_msg *msg = new_msg(PCMIG_CMD_EVENT_STATE);
	struct pcmig_session s;

	/* Only some attributes, and some this tool does not know. */
	nla_put_u32(msg, PCMIG_ATTR_ID, 3);
	nla_put_u32(msg, PCMIG_ATTR_STATE, PCMIG_STATE_END);
	nla_put_u32(msg, PCMIG_ATTR_OLD_STATE, PCMIG_STATE_RUNNING);
	nla_put_u64(msg, PCMIG_ATTR_MAX + 5, 99);
	nla_put_u32(msg, 200, 1);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(s.cmd == PCMIG_CMD_EVENT_STATE);
	CHECK(s.have == ((1ULL << PCMIG_ATTR_ID) | (1ULL << PCMIG_ATTR_STATE) |
			 (1ULL << PCMIG_ATTR_OLD_STATE)));
	CHECK(s.id == 3 && s.state == PCMIG_STATE_END &&
	      s.old_state == PCMIG_STATE_RUNNING);
	CHECK(!pcmig_has(&s, PCMIG_ATTR_NAME) && s.name[0] == '\0');
	CHECK(!pcmig_has(&s, PCMIG_ATTR_HIST));
	nlmsg_free(msg);

	/* No attributes at all. */
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(s.have == 0);
	nlmsg_free(msg);
}

static void test_parse_malformed(void)
{
	char name[100], raw[PCMIG_NAME_LEN + 8];
	struct pcmig_session s;
	struct nl_msg *msg;
	struct nlattr *nest;
	uint16_t two = 2;

	/* A u32 attribute of 2 bytes: the message is rejected. */
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put_u32(msg, PCMIG_ATTR_ID, 1);
	nla_put(msg, PCMIG_ATTR_STATE, sizeof(two), &two);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == -EPROTO);
	nlmsg_free(msg);

	/* A u64 counter of 4 bytes: rejected too. */
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put_u32(msg, PCMIG_ATTR_FAULTS, 1);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == -EPROTO);
	nlmsg_free(msg);

	/* A name longer than any session name: truncated, terminated. */
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put_string(msg, PCMIG_ATTR_NAME, name);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(pcmig_has(&s, PCMIG_ATTR_NAME));
	CHECK(strlen(s.name) == PCMIG_NAME_LEN - 1);
	nlmsg_free(msg);

	/* A name without its NUL, filling the attribute: still bounded. */
	memset(raw, 'r', sizeof(raw));
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put(msg, PCMIG_ATTR_NAME, sizeof(raw), raw);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(strlen(s.name) == PCMIG_NAME_LEN - 1);
	nlmsg_free(msg);
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put(msg, PCMIG_ATTR_NAME, 3, "abc");
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK_STR(s.name, "abc");
	nlmsg_free(msg);

	/* A bad histogram bucket: the histogram is absent, the rest not. */
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nla_put_u32(msg, PCMIG_ATTR_ID, 9);
	nest = nla_nest_start(msg, PCMIG_ATTR_HIST);
	nla_put_u64(msg, 1, 5);
	nla_put_u32(msg, 2, 5);
	nla_nest_end(msg, nest);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(pcmig_has(&s, PCMIG_ATTR_ID) && s.id == 9);
	CHECK(!pcmig_has(&s, PCMIG_ATTR_HIST));
	CHECK(pcmig_hist_total(s.hist, PCMIG_HIST_BUCKETS) == 0);
	nlmsg_free(msg);

	/* Histogram with missing and extra buckets: zeros, extras ignored. */
	msg = new_msg(PCMIG_CMD_SESSION_GET);
	nest = nla_nest_start(msg, PCMIG_ATTR_HIST);
	nla_put_u64(msg, PCMIG_HIST_BUCKETS, 6);
	nla_put_u64(msg, PCMIG_HIST_BUCKETS + 1, 7);
	nla_nest_end(msg, nest);
	CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == 0);
	CHECK(pcmig_has(&s, PCMIG_ATTR_HIST));
	CHECK(s.hist[PCMIG_HIST_BUCKETS - 1] == 6);
	CHECK(pcmig_hist_total(s.hist, PCMIG_HIST_BUCKETS) == 6);
	nlmsg_free(msg);

	/* A netlink message too short for a generic netlink header. */
	msg = nlmsg_alloc_simple(FAMILY, 0);
	CHECK(msg);
	if (msg) {
		CHECK(pcmig_genl_parse(nlmsg_hdr(msg), &s) == -EPROTO);
		nlmsg_free(msg);
	}
}

static void test_show_json(void)
{
	struct nl_msg *msg = full_session();
	struct pcmig_session s[2];
	size_t len, commas = 0;
	char *mem, *p;
	FILE *f;

	pcmig_genl_parse(nlmsg_hdr(msg), &s[0]);
	nlmsg_free(msg);

	capture_start(&f, &mem, &len);
	pcmig_show_session_json(f, &s[0]);
	fclose(f);
	CHECK(mem[0] == '{' && mem[len - 1] == '}');
	CHECK_HAS(mem, "{\"id\":7,\"name\":\"vm \\\"one\\\"\",\"state\":\"running\",\"reason\":\"none\",\"error\":-104,\"error_str\":\"Connection reset by peer\",");
	CHECK_HAS(mem, "\"size\":1048576,\"pages_total\":256,\"pages_present\":128,");
	CHECK_HAS(mem, "\"pages_duplicate\":1,\"pages_discarded\":2,\"in_flight\":3,");
	CHECK_HAS(mem, "\"blocked_ns\":1500000,\"mean_blocked_ns\":150000,\"pauses\":0,");
	CHECK_HAS(mem, "\"hist\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,5,4,0,0,1,");
	/* p50: 5 of 10 in bucket 16; p90: bucket 17; p99: bucket 20. */
	/* The module sent no outage attribute (before ABI 0.4): null. */
	CHECK_HAS(mem, "\"p50_ns\":131072,\"p90_ns\":262144,\"p99_ns\":2097152,\"resume_state\":null,\"recoveries\":null,\"paused_at_ns\":null,\"paused_for_ms\":null,\"paused_total_ns\":null,\"requests_resent\":null,\"pause_timeout_ms\":null,\"pages_punched\":null}");
	p = strstr(mem, "\"hist\":[");
	for (; p && *p != ']'; p++)
		commas += *p == ',';
	CHECK(commas == PCMIG_HIST_BUCKETS - 1);
	free(mem);

	/* Absent attributes are null: every object has the same keys. */
	memset(&s[1], 0, sizeof(s[1]));
	s[1].have = 1ULL << PCMIG_ATTR_ID;
	s[1].id = 8;
	capture_start(&f, &mem, &len);
	pcmig_show_sessions_json(f, s, 2);
	fclose(f);
	CHECK(mem[0] == '[' && !strcmp(mem + len - 3, "\n]\n"));
	CHECK_HAS(mem, "},\n{\"id\":8,\"name\":null,\"state\":null,\"reason\":null,\"error\":null,\"error_str\":null,\"size\":null,");
	CHECK_HAS(mem, "\"mean_blocked_ns\":null,\"pauses\":null,\"hist\":null,\"p50_ns\":null,\"p90_ns\":null,\"p99_ns\":null,\"resume_state\":null,");
	free(mem);

	capture_start(&f, &mem, &len);
	pcmig_show_sessions_json(f, s, 0);
	fclose(f);
	CHECK_STR(mem, "[]\n");
	free(mem);
}

static void test_show_table(void)
{
	struct nl_msg *msg = full_session();
	struct pcmig_session s[2];
	size_t len;
	char *mem;
	FILE *f;

	pcmig_genl_parse(nlmsg_hdr(msg), &s[0]);
	nlmsg_free(msg);
	memset(&s[1], 0, sizeof(s[1]));
	s[1].have = (1ULL << PCMIG_ATTR_ID) | (1ULL << PCMIG_ATTR_STATE) |
		    (1ULL << PCMIG_ATTR_REASON) | (1ULL << PCMIG_ATTR_NAME) |
		    (1ULL << PCMIG_ATTR_PAGES_TOTAL) |
		    (1ULL << PCMIG_ATTR_PAGES_PRESENT);
	s[1].id = 12;
	s[1].state = 42;
	s[1].reason = PCMIG_REASON_BAD_MAGIC;
	strcpy(s[1].name, "a\tb\x7f");
	s[1].pages_total = 1000000;
	s[1].pages_present = 999999;

	capture_start(&f, &mem, &len);
	pcmig_show_sessions_table(f, s, 2);
	fclose(f);
	CHECK_HAS(mem, "ID  NAME");
	CHECK_HAS(mem, " 7  vm \"one\"  running");
	CHECK_HAS(mem, "1 MiB");
	CHECK_HAS(mem, "128/256");
	CHECK_HAS(mem, "50.0%");
	CHECK_HAS(mem, "  150 us\n");
	/* Unknown state, non-printable name, not 100% until complete. */
	CHECK_HAS(mem, "12  a?b?      unknown(42)  bad_magic");
	CHECK_HAS(mem, "999999/1000000  99.9%");
	CHECK(!strchr(mem, '\t'));
	free(mem);

	capture_start(&f, &mem, &len);
	pcmig_show_sessions_table(f, s, 0);
	fclose(f);
	CHECK_STR(mem, "no sessions\n");
	free(mem);

	capture_start(&f, &mem, &len);
	pcmig_show_session_details(f, &s[0]);
	fclose(f);
	CHECK_HAS(mem, "last error        Connection reset by peer (-104)\n");
	CHECK_HAS(mem, "bytes received    488.3 KiB (500000)\n");
	CHECK_HAS(mem, "fault wait        p50 <= 131.1 us, p90 <= 262.1 us, p99 <= 2.1 ms (10 waits)\n");
	free(mem);

	capture_start(&f, &mem, &len);
	pcmig_show_session_details(f, &s[1]);
	fclose(f);
	CHECK_HAS(mem, "pages received    -\n");
	CHECK_HAS(mem, "fault wait        -\n");
	free(mem);
}

/* pcmig_show_event() of @ev as text, then as JSON: the output, to free. */
static char *show_event_both(const struct pcmig_session *ev,
			     const struct timespec *ts)
{
	size_t len;
	char *mem;
	FILE *f;

	capture_start(&f, &mem, &len);
	pcmig_show_event(f, ev, ts, false);
	pcmig_show_event(f, ev, ts, true);
	fclose(f);
	return mem;
}

static void test_show_event(void)
{
	struct timespec ts = { .tv_sec = 86400 + 3661, .tv_nsec = 5000000 };
	struct pcmig_session ev;
	char *mem;

	memset(&ev, 0, sizeof(ev));
	ev.cmd = PCMIG_CMD_EVENT_STATE;
	ev.have = (1ULL << PCMIG_ATTR_ID) | (1ULL << PCMIG_ATTR_STATE) |
		  (1ULL << PCMIG_ATTR_OLD_STATE);
	ev.id = 4;
	ev.state = PCMIG_STATE_RUNNING;
	ev.old_state = PCMIG_STATE_LISTEN;
	mem = show_event_both(&ev, &ts);
	CHECK_HAS(mem, " session 4 state listen->running\n");
	CHECK_HAS(mem, "{\"time\":\"1970-01-02T01:01:01.005000Z\",\"event\":\"state\",\"id\":4,\"old_state\":\"listen\",\"state\":\"running\"}\n");
	free(mem);

	ev.cmd = PCMIG_CMD_EVENT_PAUSED;
	ev.have = (1ULL << PCMIG_ATTR_ID) | (1ULL << PCMIG_ATTR_REASON) |
		  (1ULL << PCMIG_ATTR_ERROR);
	ev.reason = PCMIG_REASON_CHANNEL_ERROR;
	ev.error = -104;
	mem = show_event_both(&ev, &ts);
	CHECK_HAS(mem, " session 4 paused reason=channel_error error=-104 (Connection reset by peer)\n");
	CHECK_HAS(mem, "\"event\":\"paused\",\"id\":4,\"reason\":\"channel_error\",\"error\":-104,\"error_str\":\"Connection reset by peer\"}\n");
	free(mem);

	ev.cmd = PCMIG_CMD_EVENT_ERROR;
	ev.reason = PCMIG_REASON_BAD_MAGIC;
	ev.error = 0;
	mem = show_event_both(&ev, &ts);
	CHECK_HAS(mem, " session 4 error reason=bad_magic\n");
	CHECK_HAS(mem, "\"event\":\"error\",\"id\":4,\"reason\":\"bad_magic\",\"error\":0,\"error_str\":null}\n");
	free(mem);

	ev.cmd = PCMIG_CMD_EVENT_COMPLETE;
	ev.have = (1ULL << PCMIG_ATTR_ID) | (1ULL << PCMIG_ATTR_PAGES_TOTAL) |
		  (1ULL << PCMIG_ATTR_PAGES_PRESENT) |
		  (1ULL << PCMIG_ATTR_FAULTS_BLOCKED) |
		  (1ULL << PCMIG_ATTR_BLOCKED_NS);
	ev.pages_total = 256;
	ev.pages_present = 256;
	ev.faults_blocked = 2;
	ev.blocked_ns = 3000;
	mem = show_event_both(&ev, &ts);
	CHECK_HAS(mem, " session 4 complete pages_total=256 pages_present=256 faults_blocked=2 blocked_ns=3000 mean_blocked=1.5 us\n");
	CHECK_HAS(mem, "\"event\":\"complete\",\"id\":4,\"pages_total\":256,\"pages_present\":256,\"faults_blocked\":2,\"blocked_ns\":3000,\"mean_blocked_ns\":1500}\n");
	free(mem);

	/* An event this tool does not know, without an id. */
	ev.cmd = 77;
	ev.have = 0;
	mem = show_event_both(&ev, &ts);
	CHECK_HAS(mem, " session - unknown(77)\n");
	CHECK_HAS(mem, "\"event\":\"unknown(77)\"}\n");
	free(mem);
}

/* What @show prints of @s, to free. */
static char *shown(void (*show)(FILE *f, const struct pcmig_session *s),
		   const struct pcmig_session *s)
{
	size_t len;
	char *mem;
	FILE *f;

	capture_start(&f, &mem, &len);
	show(f, s);
	fclose(f);
	return mem;
}

#define details_of(s)	shown(pcmig_show_session_details, s)
#define json_of(s)	shown(pcmig_show_session_json, s)

/* What @show prints of @s is @want, byte for byte. */
#define CHECK_SHOWN(show, s, want)					\
	do {								\
		char *m_ = shown(show, s);				\
									\
		CHECK_STR(m_, want);					\
		free(m_);						\
	} while (0)

/* The details of session 7 from the line after the outage's. */
#define DETAILS_REST							\
	"last error        Connection reset by peer (-104)\n"		\
	"pages received    120\n"						\
	"pages discarded   2\n"						\
	"bytes received    488.3 KiB (500000)\n"				\
	"requests sent     4\n"

/* The counters after "requests sent", with those of put_outage(). */
#define DETAILS_COUNTERS						\
	"requests resent   17\n"						\
	"pages punched     5\n"						\
	"pauses            3\n"						\
	"recoveries        2\n"						\
	"paused in total   3 min 3 s\n"

#define DETAILS_WAITS							\
	"total wait        1.5 ms\n"					\
	"fault wait        p50 <= 131.1 us, p90 <= 262.1 us, p99 <= 2.1 ms (10 waits)\n"

/* The JSON of session 7 up to the outage members. */
#define JSON_HEAD(state, reason, pauses)				\
	"{\"id\":7,\"name\":\"vm \\\"one\\\"\",\"state\":\"" state "\",\"reason\":\"" reason "\",\"error\":-104,\"error_str\":\"Connection reset by peer\",\"size\":1048576,\"pages_total\":256,\"pages_present\":128,\"pages_received\":120,\"pages_requested\":10,\"pages_pushed\":110,\"pages_zero\":8,\"pages_duplicate\":1,\"pages_discarded\":2,\"in_flight\":3,\"bytes_received\":500000,\"requests_sent\":4,\"faults\":12,\"faults_blocked\":10,\"blocked_ns\":1500000,\"mean_blocked_ns\":150000,\"pauses\":" pauses ",\"hist\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,5,4,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],\"p50_ns\":131072,\"p90_ns\":262144,\"p99_ns\":2097152,"

static void test_show_paused(void)
{
	struct nl_msg *msg = session_in(PCMIG_STATE_PAUSED,
					PCMIG_REASON_CHANNEL_EOF, 3);
	struct pcmig_session s;
	size_t len;
	char *mem;
	FILE *f;

	put_outage(msg, PCMIG_STATE_RUNNING, 300000);
	parse_seen(msg, &s);

	CHECK_SHOWN(pcmig_show_session_details, &s,
		    "paused since      1970-01-02T00:59:37.505 (1 min 23 s ago)\n"
		    "resumes to        running\n"
		    "pause timeout     5 min, 3 min 36 s left\n"
		    DETAILS_REST DETAILS_COUNTERS DETAILS_WAITS);

	CHECK_SHOWN(pcmig_show_session_json, &s,
		    JSON_HEAD("paused", "channel_eof", "3")
		    "\"resume_state\":\"running\",\"recoveries\":2,\"paused_at_ns\":4916500000000,\"paused_for_ms\":83500,\"paused_total_ns\":183500000000,\"requests_resent\":17,\"pause_timeout_ms\":300000,\"pages_punched\":5}");

	/* The table keeps its columns; the reason stays in its own. */
	capture_start(&f, &mem, &len);
	pcmig_show_sessions_table(f, &s, 1);
	fclose(f);
	CHECK_HAS(mem, " 7  vm \"one\"  paused  channel_eof  1 MiB");
	CHECK_HAS(mem, "  150 us\n");
	free(mem);
}

/* A PAUSED session of a module before ABI 0.4: nothing about the outage. */
static void test_show_paused_old_module(void)
{
	struct pcmig_session s;

	parse_seen(session_in(PCMIG_STATE_PAUSED, PCMIG_REASON_CHANNEL_EOF, 3),
		   &s);
	CHECK_SHOWN(pcmig_show_session_details, &s,
		    DETAILS_REST "pauses            3\n" DETAILS_WAITS);
	CHECK_SHOWN(pcmig_show_session_json, &s,
		    JSON_HEAD("paused", "channel_eof", "3")
		    "\"resume_state\":null,\"recoveries\":null,\"paused_at_ns\":null,\"paused_for_ms\":null,\"paused_total_ns\":null,\"requests_resent\":null,\"pause_timeout_ms\":null,\"pages_punched\":null}");
}

/* The details of @s start with the outage lines @want, then "last error". */
static void check_outage_lines(const struct pcmig_session *s,
			       const char *want)
{
	char *mem = details_of(s);
	size_t n = strlen(want);

	CHECK_MSG(!strncmp(mem, want, n) && !strncmp(mem + n, "last error", 10),
		  "got:\n%swant before \"last error\":\n%s", mem, want);
	free(mem);
}

#define SINCE_83S	"paused since      1970-01-02T00:59:37.505 (1 min 23 s ago)\n"
#define SINCE_MONO	"paused since      4916500000000 ns CLOCK_MONOTONIC\n"
#define TO_LISTEN	"resumes to        listen\n"

static void test_show_outage_cases(void)
{
	static const struct {
		uint64_t seen_ns, seen_real_ns, paused_at_ns;
		uint32_t pause_timeout_ms;
		const char *want;
	} cases[] = {
		/* Past its pause timeout: the kernel is failing it. */
		{ SEEN_NS, SEEN_REAL_NS, PAUSED_AT_NS, 60000,
		  SINCE_83S TO_LISTEN
		  "pause timeout     1 min, expired: the session fails\n" },
		/* No timeout: said in an outage, faults wait for good. */
		{ SEEN_NS, SEEN_REAL_NS, PAUSED_AT_NS, 0,
		  SINCE_83S TO_LISTEN
		  "pause timeout     off: faults wait until a recovery\n" },
		/* Long and short outages. */
		{ 100000 * SEC, SEEN_REAL_NS, 100000 * SEC - 90061 * SEC - 7,
		  7U * 24 * 3600 * 1000,
		  "paused since      1970-01-01T00:00:00.004 (1 d 1 h 1 min 1 s ago)\n"
		  TO_LISTEN
		  "pause timeout     7 d, 5 d 22 h 58 min 58 s left\n" },
		{ SEEN_NS, SEEN_REAL_NS, SEEN_NS - 12300000000ULL, 60000,
		  "paused since      1970-01-02T01:00:48.705 (12.3 s ago)\n"
		  TO_LISTEN "pause timeout     1 min, 47.7 s left\n" },
		/* Time of the parse unknown: the start as the module sent it. */
		{ 0, SEEN_REAL_NS, PAUSED_AT_NS, 60000,
		  SINCE_MONO TO_LISTEN "pause timeout     1 min\n" },
		/* A start after the parse (another clock): unknown too. */
		{ PAUSED_AT_NS - 1, SEEN_REAL_NS, PAUSED_AT_NS, 60000,
		  SINCE_MONO TO_LISTEN "pause timeout     1 min\n" },
		/* No wall clock: only how long. */
		{ SEEN_NS, 0, PAUSED_AT_NS, 3600000,
		  "paused since      1 min 23 s ago\n" TO_LISTEN
		  "pause timeout     1 h, 58 min 36 s left\n" },
	};
	struct pcmig_session s;
	unsigned int i;
	char *mem;

	parse_seen(session_in(PCMIG_STATE_RECOVER, PCMIG_REASON_USER, 1), &s);
	s.have |= OUTAGE_ATTRS;
	s.resume_state = PCMIG_STATE_LISTEN;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		s.seen_ns = cases[i].seen_ns;
		s.seen_real_ns = cases[i].seen_real_ns;
		s.paused_at_ns = cases[i].paused_at_ns;
		s.pause_timeout_ms = cases[i].pause_timeout_ms;
		check_outage_lines(&s, cases[i].want);
	}

	/* Its length unknown: null in JSON, not a guess. */
	s.seen_ns = 0;
	mem = json_of(&s);
	CHECK_HAS(mem, "\"paused_at_ns\":4916500000000,\"paused_for_ms\":null,");
	free(mem);

	/* RECOVER from an older module: state and reason only. */
	s.have &= ~OUTAGE_ATTRS;
	check_outage_lines(&s, "");
}

/* Recovered and running again: the counters stay, the outage lines go. */
static void test_show_recovered(void)
{
	struct nl_msg *msg = session_in(PCMIG_STATE_RUNNING,
					PCMIG_REASON_CHANNEL_EOF, 3);
	struct pcmig_session s;
	char *mem;

	put_outage(msg, PCMIG_STATE_NONE, 300000);
	parse_seen(msg, &s);
	CHECK_SHOWN(pcmig_show_session_details, &s,
		    DETAILS_REST DETAILS_COUNTERS "pause timeout     5 min\n"
		    DETAILS_WAITS);
	CHECK_SHOWN(pcmig_show_session_json, &s,
		    JSON_HEAD("running", "channel_eof", "3")
		    "\"resume_state\":\"none\",\"recoveries\":2,\"paused_at_ns\":4916500000000,\"paused_for_ms\":null,\"paused_total_ns\":183500000000,\"requests_resent\":17,\"pause_timeout_ms\":300000,\"pages_punched\":5}");

	/* No timeout set: no line for it outside an outage. */
	s.pause_timeout_ms = 0;
	s.paused_total_ns = 3603 * SEC;
	mem = details_of(&s);
	CHECK(!strstr(mem, "pause timeout"));
	CHECK_HAS(mem, "\npaused in total   1 h 3 s\n");
	free(mem);
}

/* The text time of the events below, local time being UTC. */
#define EVENT_TIME	"1970-01-02T01:01:01.005"

/* The outage attributes in events (complete carries them all). */
static void test_show_event_outage(void)
{
	struct timespec ts = { .tv_sec = 86400 + 3661, .tv_nsec = 5000000 };
	struct pcmig_session ev;
	struct nl_msg *msg;
	char *mem;

	msg = new_msg(PCMIG_CMD_EVENT_COMPLETE);
	nla_put_u32(msg, PCMIG_ATTR_ID, 4);
	nla_put_u32(msg, PCMIG_ATTR_STATE, PCMIG_STATE_END);
	nla_put_u64(msg, PCMIG_ATTR_PAGES_TOTAL, 256);
	put_outage(msg, PCMIG_STATE_NONE, 0);
	parse_seen(msg, &ev);
	mem = show_event_both(&ev, &ts);
	CHECK_STR(mem, EVENT_TIME " session 4 complete state=end pages_total=256 recoveries=2 paused_at_ns=4916500000000 paused_total_ns=183500000000 requests_resent=17 pause_timeout_ms=0 pages_punched=5\n"
		  "{\"time\":\"1970-01-02T01:01:01.005000Z\",\"event\":\"complete\",\"id\":4,\"state\":\"end\",\"pages_total\":256,\"resume_state\":\"none\",\"recoveries\":2,\"paused_at_ns\":4916500000000,\"paused_total_ns\":183500000000,\"requests_resent\":17,\"pause_timeout_ms\":0,\"pages_punched\":5}\n");
	free(mem);

	/* An event of an outage (none today): how long, where it resumes. */
	ev.cmd = 77;
	ev.state = PCMIG_STATE_PAUSED;
	ev.resume_state = PCMIG_STATE_RUNNING;
	mem = show_event_both(&ev, &ts);
	CHECK_STR(mem, EVENT_TIME " session 4 unknown(77) state=paused pages_total=256 resume_state=running recoveries=2 paused_at_ns=4916500000000 paused_total_ns=183500000000 requests_resent=17 paused_for=1 min 23 s pause_timeout_ms=0 pages_punched=5\n"
		  "{\"time\":\"1970-01-02T01:01:01.005000Z\",\"event\":\"unknown(77)\",\"id\":4,\"state\":\"paused\",\"pages_total\":256,\"resume_state\":\"running\",\"recoveries\":2,\"paused_at_ns\":4916500000000,\"paused_for_ms\":83500,\"paused_total_ns\":183500000000,\"requests_resent\":17,\"pause_timeout_ms\":0,\"pages_punched\":5}\n");
	free(mem);
}

int main(void)
{
	/* Local time in the text output: UTC, for fixed strings. */
	setenv("TZ", "UTC", 1);
	tzset();

	test_parse_full();
	test_parse_outage();
	test_parse_sparse();
	test_parse_malformed();
	test_show_json();
	test_show_table();
	test_show_event();
	test_show_paused();
	test_show_paused_old_module();
	test_show_outage_cases();
	test_show_recovered();
	test_show_event_outage();

	return unit_report("genl_test");
}
