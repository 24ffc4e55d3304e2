// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of tools/pcmig/genl.c's message parsing and of show.c's output,
 * with messages built by libnl on the host (no kernel involved).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A session as the module describes it: 1 MiB, half present. */
static struct nl_msg *full_session(void)
{
	struct nl_msg *msg = new_msg(PCMIG_CMD_SESSION_GET);
	struct nlattr *nest;
	int i;

	nla_put_u32(msg, PCMIG_ATTR_ID, 7);
	nla_put_string(msg, PCMIG_ATTR_NAME, "vm \"one\"");
	nla_put_u32(msg, PCMIG_ATTR_STATE, PCMIG_STATE_RUNNING);
	nla_put_u32(msg, PCMIG_ATTR_REASON, PCMIG_REASON_NONE);
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
	nla_put_u64(msg, PCMIG_ATTR_PAUSES, 0);
	nest = nla_nest_start(msg, PCMIG_ATTR_HIST);
	for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
		nla_put_u64(msg, i + 1, i == 16 ? 5 : i == 17 ? 4 :
			    i == 20 ? 1 : 0);
	nla_nest_end(msg, nest);
	return msg;
}

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
	CHECK_HAS(mem, "\"p50_ns\":131072,\"p90_ns\":262144,\"p99_ns\":2097152}");
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
	CHECK_HAS(mem, "\"mean_blocked_ns\":null,\"pauses\":null,\"hist\":null,\"p50_ns\":null,\"p90_ns\":null,\"p99_ns\":null}");
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

int main(void)
{
	test_parse_full();
	test_parse_sparse();
	test_parse_malformed();
	test_show_json();
	test_show_table();
	test_show_event();

	return unit_report("genl_test");
}
