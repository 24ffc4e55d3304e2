// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the recovery messages: RESUME, RESUME_OK, MISSING
 * (runs checked one message at a time and across a sequence) and RESUMED.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <linux/pcmig.h>

#include "proto.h"
#include "unit.h"

#define PAGE	4096ULL
#define SIZE	(64 * PAGE)

static uint8_t buf[1 << 17];

struct runs_seen {
	uint64_t off[8];
	uint64_t len[8];
	unsigned int n;
	int fail_at;			/* return -ENOSPC at this run, or -1 */
};

static int see_run(void *arg, uint64_t off, uint64_t len)
{
	struct runs_seen *r = arg;

	if ((int)r->n == r->fail_at)
		return -ENOSPC;
	if (r->n < 8) {
		r->off[r->n] = off;
		r->len[r->n] = len;
	}
	r->n++;
	return 0;
}

static void test_resume(void)
{
	struct pcmig_resume r = { .attempt = 7 }, out;
	struct pcmig_msg_hdr h;
	int n;

	n = pcmig_resume_encode(buf, sizeof(buf), &r);
	CHECK(n == PCMIG_MSG_HDR_LEN + PCMIG_RESUME_LEN);
	CHECK(pcmig_msg_get_hdr(buf, &h) == 0 && h.type == PCMIG_MSG_RESUME &&
	      h.len == PCMIG_RESUME_LEN);
	CHECK(pcmig_resume_decode(buf + PCMIG_MSG_HDR_LEN, h.len, &out) == 0);
	CHECK(out.attempt == 7);
	CHECK(!strcmp(pcmig_msg_name(PCMIG_MSG_RESUME), "RESUME"));
	CHECK(!strcmp(pcmig_msg_name(PCMIG_MSG_RESUMED), "RESUMED"));

	r.attempt = 0;
	CHECK(pcmig_resume_encode(buf, sizeof(buf), &r) == -EINVAL);
	r.attempt = 1;
	CHECK(pcmig_resume_encode(buf, 10, &r) == -EMSGSIZE);
	pcmig_resume_encode(buf, sizeof(buf), &r);
	/* Wrong length, zero attempt, padding. */
	CHECK(pcmig_resume_decode(buf + PCMIG_MSG_HDR_LEN, 7, &out) == -EPROTO);
	memset(buf + PCMIG_MSG_HDR_LEN, 0, 4);
	CHECK(pcmig_resume_decode(buf + PCMIG_MSG_HDR_LEN, 8, &out) == -EPROTO);
	buf[PCMIG_MSG_HDR_LEN + 3] = 1;
	buf[PCMIG_MSG_HDR_LEN + 7] = 1;
	CHECK(pcmig_resume_decode(buf + PCMIG_MSG_HDR_LEN, 8, &out) == -EPROTO);

	/* RESUMED has no payload. */
	n = pcmig_empty_encode(buf, sizeof(buf), PCMIG_MSG_RESUMED);
	CHECK(n == PCMIG_MSG_HDR_LEN);
	CHECK(pcmig_msg_get_hdr(buf, &h) == 0 && h.type == PCMIG_MSG_RESUMED &&
	      h.len == 0);
	pcmig_msg_put_hdr(buf, sizeof(buf), PCMIG_MSG_RESUMED, 1);
	CHECK(pcmig_msg_get_hdr(buf, &h) == -EPROTO);
}

static void test_resume_ok(void)
{
	struct pcmig_resume_ok r = {
		.state = PCMIG_STATE_RUNNING,
		.missing_pages = 1ULL << 40,
		.runs = 3,
	}, out;
	struct pcmig_msg_hdr h;
	uint8_t *p = buf + PCMIG_MSG_HDR_LEN;

	CHECK(pcmig_resume_ok_encode(buf, sizeof(buf), &r) ==
	      PCMIG_MSG_HDR_LEN + PCMIG_RESUME_OK_LEN);
	CHECK(pcmig_msg_get_hdr(buf, &h) == 0 &&
	      h.type == PCMIG_MSG_RESUME_OK);
	CHECK(pcmig_resume_ok_decode(p, h.len, &out) == 0);
	CHECK(out.state == PCMIG_STATE_RUNNING &&
	      out.missing_pages == 1ULL << 40 && out.runs == 3);

	/* States a session cannot resume to. */
	r.state = PCMIG_STATE_PAUSED;
	CHECK(pcmig_resume_ok_encode(buf, sizeof(buf), &r) == -EINVAL);
	r.state = PCMIG_STATE_LISTEN;
	r.runs = r.missing_pages + 1;
	CHECK(pcmig_resume_ok_encode(buf, sizeof(buf), &r) == -EINVAL);
	r.runs = 0;
	r.missing_pages = 0;
	CHECK(pcmig_resume_ok_encode(buf, sizeof(buf), &r) > 0);
	CHECK(pcmig_resume_ok_decode(p, PCMIG_RESUME_OK_LEN, &out) == 0 &&
	      out.state == PCMIG_STATE_LISTEN && !out.runs);
	CHECK(pcmig_resume_ok_decode(p, PCMIG_RESUME_OK_LEN - 1, &out) ==
	      -EPROTO);
	p[3] = PCMIG_STATE_END;
	CHECK(pcmig_resume_ok_decode(p, PCMIG_RESUME_OK_LEN, &out) == -EPROTO);
	p[3] = PCMIG_STATE_LISTEN;
	p[7] = 1;				/* padding */
	CHECK(pcmig_resume_ok_decode(p, PCMIG_RESUME_OK_LEN, &out) == -EPROTO);
	p[7] = 0;
	p[23] = 1;				/* one run, no page */
	CHECK(pcmig_resume_ok_decode(p, PCMIG_RESUME_OK_LEN, &out) == -EPROTO);
}

/* Encode @n runs, decode them into @seen with state @m. */
static int missing_round(struct pcmig_missing_rx *m,
			 const struct pcmig_wire_range *runs, uint32_t n,
			 bool last, struct runs_seen *seen)
{
	struct pcmig_msg_hdr h;
	int len;

	len = pcmig_missing_encode(buf, sizeof(buf), runs, n, last);
	if (len < 0)
		return len;
	if (pcmig_msg_get_hdr(buf, &h) || h.type != PCMIG_MSG_MISSING ||
	    h.len != (uint32_t)len - PCMIG_MSG_HDR_LEN)
		return -EBADMSG;
	return pcmig_missing_decode(m, buf + PCMIG_MSG_HDR_LEN, h.len,
				    see_run, seen);
}

static void test_missing(void)
{
	struct pcmig_wire_range r[4];
	struct pcmig_missing_rx m;
	struct runs_seen seen = { .fail_at = -1 };
	struct pcmig_wire_range *big;
	struct pcmig_msg_hdr h;

	/* A sequence of two messages. */
	pcmig_missing_rx_init(&m, SIZE, PAGE);
	r[0] = (struct pcmig_wire_range){ 0, PAGE };
	r[1] = (struct pcmig_wire_range){ 2 * PAGE, 3 * PAGE };
	CHECK(missing_round(&m, r, 2, false, &seen) == 0);
	CHECK(seen.n == 2 && seen.off[1] == 2 * PAGE &&
	      seen.len[1] == 3 * PAGE);
	CHECK(m.runs == 2 && m.pages == 4 && !m.last);
	r[0] = (struct pcmig_wire_range){ 63 * PAGE, PAGE };
	CHECK(missing_round(&m, r, 1, true, &seen) == 0);
	CHECK(seen.n == 3 && m.runs == 3 && m.pages == 5 && m.last);
	/* Nothing after the last message. */
	CHECK(missing_round(&m, r, 0, true, &seen) == -EPROTO);

	/* An empty sequence: one empty last message. */
	pcmig_missing_rx_init(&m, SIZE, PAGE);
	CHECK(missing_round(&m, r, 0, true, &seen) == 0 && m.last &&
	      !m.runs);

	/* Bad runs: each refused whole, before any is applied. */
	pcmig_missing_rx_init(&m, SIZE, PAGE);
	seen.n = 0;
	r[0] = (struct pcmig_wire_range){ 0, PAGE };
	r[1] = (struct pcmig_wire_range){ PAGE, PAGE };	/* touches r[0] */
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	r[1] = (struct pcmig_wire_range){ 0, PAGE };	/* overlaps */
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	r[1] = (struct pcmig_wire_range){ 2 * PAGE + 1, PAGE };
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	r[1] = (struct pcmig_wire_range){ 2 * PAGE, 0 };	/* empty */
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	r[1] = (struct pcmig_wire_range){ 2 * PAGE, PAGE - 1 };
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	r[1] = (struct pcmig_wire_range){ 63 * PAGE, 2 * PAGE };	/* past */
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	r[1] = (struct pcmig_wire_range){ SIZE, PAGE };
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	r[1] = (struct pcmig_wire_range){ 2 * PAGE, UINT64_MAX - PAGE + 1 };
	CHECK(missing_round(&m, r, 2, false, &seen) == -EPROTO && !seen.n);
	CHECK(m.runs == 0 && m.next == 0);

	/* Going backwards across messages, or touching the last run. */
	r[0] = (struct pcmig_wire_range){ 4 * PAGE, PAGE };
	CHECK(missing_round(&m, r, 1, false, &seen) == 0 && seen.n == 1);
	r[0] = (struct pcmig_wire_range){ 2 * PAGE, PAGE };
	CHECK(missing_round(&m, r, 1, false, &seen) == -EPROTO);
	r[0] = (struct pcmig_wire_range){ 5 * PAGE, PAGE };
	CHECK(missing_round(&m, r, 1, false, &seen) == -EPROTO);
	CHECK(seen.n == 1);

	/* The callback's error stops the walk and is returned. */
	pcmig_missing_rx_init(&m, SIZE, PAGE);
	seen.n = 0;
	seen.fail_at = 1;
	r[0] = (struct pcmig_wire_range){ 0, PAGE };
	r[1] = (struct pcmig_wire_range){ 2 * PAGE, PAGE };
	CHECK(missing_round(&m, r, 2, true, &seen) == -ENOSPC);
	seen.fail_at = -1;

	/* Count and length must agree; unknown flags; too short. */
	pcmig_missing_rx_init(&m, SIZE, PAGE);
	pcmig_missing_encode(buf, sizeof(buf), r, 2, false);
	pcmig_msg_get_hdr(buf, &h);
	CHECK(pcmig_missing_decode(&m, buf + PCMIG_MSG_HDR_LEN, h.len - 16,
				   see_run, &seen) == -EPROTO);
	buf[PCMIG_MSG_HDR_LEN + 7] |= 2;
	CHECK(pcmig_missing_decode(&m, buf + PCMIG_MSG_HDR_LEN, h.len,
				   see_run, &seen) == -EPROTO);
	CHECK(pcmig_missing_decode(&m, buf + PCMIG_MSG_HDR_LEN, 7, see_run,
				   &seen) == -EPROTO);

	/* The largest message fits the header's bound; one more does not. */
	big = calloc(PCMIG_MAX_RUNS + 1, sizeof(*big));
	CHECK(big != NULL);
	if (!big)
		return;
	CHECK(pcmig_missing_encode(buf, sizeof(buf), big, PCMIG_MAX_RUNS + 1,
				   false) == -EINVAL);
	CHECK(pcmig_missing_encode(buf, 100, big, 10, false) == -EMSGSIZE);
	CHECK(pcmig_missing_encode(buf, sizeof(buf), big, PCMIG_MAX_RUNS,
				   false) == (int)pcmig_missing_len(PCMIG_MAX_RUNS));
	CHECK(pcmig_msg_get_hdr(buf, &h) == 0);
	pcmig_msg_put_hdr(buf, sizeof(buf), PCMIG_MSG_MISSING,
			  8 + (PCMIG_MAX_RUNS + 1) * PCMIG_RANGE_WIRE_LEN);
	CHECK(pcmig_msg_get_hdr(buf, &h) == -EPROTO);
	free(big);
}

int main(void)
{
	test_resume();
	test_resume_ok();
	test_missing();
	return unit_report("recover_test");
}
