// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: recovery on the source side of "pcmig-tool migrate".
 *
 * In postcopy the VM runs at the destination with part of its memory
 * still here, so a lost link must not end the migration. When a
 * connection fails after PACKAGED, the main thread stops the workers,
 * closes every connection and reconnects to the same address with a
 * growing delay (PCMIG_RECONNECT_MIN_MS doubling to PCMIG_RECONNECT_MAX_MS)
 * until it succeeds, a signal stops it, the destination refuses for good
 * or --recover-timeout runs out. An attempt is the protocol's recovery
 * exchange (Documentation/protocol.rst, Recovery): the control handshake
 * with the migration's session id, RESUME, RESUME_OK and the MISSING runs,
 * from which the bitmap of pages sent is rebuilt (every page but the
 * missing ones), the page connections, RESUMED. The workers then start
 * again: the kernel at the destination re-sends its outstanding requests
 * on the new urgent connection and the push goes on with what is missing.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "net.h"
#include "source_int.h"

#define NSEC_PER_MSEC	1000000ULL
#define SAY_EVERY_NS	(5 * NSEC_PER_SEC)	/* attempt lines at most */
#define RECONNECT_CONNECT_MS	1500	/* one attempt's connect() */

/* Why an attempt failed, and whether another one can help. */
struct attempt {
	uint32_t n;
	bool fatal;
	uint32_t code;			/* PCMIG_ERR_* for a fatal failure */
	char why[PCMIG_MAX_ERROR_TEXT + 128];
	struct pcmig_resume_ok ok;
	uint64_t resent;		/* pages sent before, missing now */
};

static __printf(3, 4) void attempt_fail(struct attempt *a, bool fatal,
					const char *fmt, ...);

static void attempt_fail(struct attempt *a, bool fatal, const char *fmt, ...)
{
	va_list ap;

	a->fatal = fatal;
	va_start(ap, fmt);
	vsnprintf(a->why, sizeof(a->why), fmt, ap);
	va_end(ap);
}

/* Refusals another attempt cannot change. */
static bool refusal_is_final(uint32_t code)
{
	switch (code) {
	case PCMIG_ERR_VERSION:
	case PCMIG_ERR_AUTH:
	case PCMIG_ERR_PAGE_SIZE:
	case PCMIG_ERR_LAYOUT:
	case PCMIG_ERR_CAPS:
	case PCMIG_ERR_SESSION:
	case PCMIG_ERR_KERNEL:
		return true;
	default:
		return false;
	}
}

/* Connect and handshake one connection of the migration; -1 on failure. */
static int connect_role(struct src *s, uint8_t role, struct attempt *a)
{
	struct pcmig_hs hs;
	char err[256];
	int fd, ret;

	/*
	 * A SYN lost in the outage is sent again by TCP only after 1, 3, 7
	 * s: a new attempt with a fresh one is quicker once the link is back.
	 */
	fd = pcmig_tcp_connect(s->connect, s->timeout_ms < RECONNECT_CONNECT_MS ?
			       s->timeout_ms : RECONNECT_CONNECT_MS, err,
			       sizeof(err));
	if (fd < 0) {
		attempt_fail(a, false, "%s", err);
		return -1;
	}
	src_hs_init(s, &hs, role, s->caps, 0);
	ret = pcmig_hs_client(fd, &hs);
	if (ret) {
		close(fd);
		a->code = hs.err_code;
		attempt_fail(a, ret == -EACCES || (ret == -ECONNABORTED &&
				refusal_is_final(hs.err_code)), "%s", hs.err);
		return -1;
	}
	if (hs.caps != s->caps) {
		close(fd);
		a->code = PCMIG_ERR_CAPS;
		attempt_fail(a, true,
			     "the destination now accepts capabilities 0x%" PRIx64 ", not 0x%" PRIx64 " as before",
			     hs.caps, s->caps);
		return -1;
	}
	return fd;
}

/* One control message of @type (or ERROR); the payload is malloc()ed. */
static int expect(struct src *s, uint8_t type, uint8_t alt, uint32_t max,
		  struct pcmig_msg_hdr *h, void **p, struct attempt *a)
{
	struct pcmig_error_msg perr;
	char buf[128];
	int ret;

	*p = NULL;
	ret = pcmig_msg_recv(s->ctl, h, p, max, s->timeout_ms, &perr);
	if (ret == -ECONNABORTED) {
		a->code = perr.code;
		attempt_fail(a, refusal_is_final(perr.code),
			     "the destination refused: %s (%s)", perr.text,
			     pcmig_err_name(perr.code));
		return -1;
	}
	if (ret) {
		attempt_fail(a, false, "waiting for %s: %s",
			     pcmig_msg_name(type),
			     src_io_error(s, ret, buf, sizeof(buf)));
		return -1;
	}
	if (h->type != type && h->type != alt) {
		free(*p);
		*p = NULL;
		a->code = PCMIG_ERR_PROTOCOL;
		attempt_fail(a, true, "expected %s, got %s",
			     pcmig_msg_name(type), pcmig_msg_name(h->type));
		pcmig_msg_send_error(s->ctl, PCMIG_ERR_PROTOCOL, a->why);
		return -1;
	}
	return 0;
}

struct rebuild {
	struct src *s;
	uint64_t next;			/* first page after the last run */
	uint64_t resent;
};

/*
 * The bitmap of pages sent becomes: every page but the missing ones. The
 * gap before a run is set, the run cleared; a page of a run that was
 * marked sent went out before and was lost: it is sent again.
 */
static int clear_run(void *arg, uint64_t off, uint64_t len)
{
	struct rebuild *rb = arg;
	struct src *s = rb->s;
	uint64_t first = off / s->page_size;

	src_bitmap_set_range(s->sent, rb->next, first - rb->next);
	rb->resent += src_bitmap_clear_range(s->sent, first,
					     len / s->page_size);
	rb->next = first + len / s->page_size;
	return 0;
}

/* The MISSING runs after RESUME_OK: rebuild the bitmap of pages sent. */
static int read_missing(struct src *s, struct attempt *a)
{
	struct rebuild rb = { .s = s };
	struct pcmig_missing_rx m;
	struct pcmig_msg_hdr h;
	void *p;
	int ret;

	if (a->ok.missing_pages > s->npages)
		goto bad;
	/* The workers are stopped: nothing else touches the bitmap. */
	pcmig_missing_rx_init(&m, s->size, s->page_size);
	while (!m.last) {
		if (expect(s, PCMIG_MSG_MISSING, 0,
			   pcmig_msg_max_len(PCMIG_MSG_MISSING), &h, &p, a))
			return -1;
		ret = pcmig_missing_decode(&m, p, h.len, clear_run, &rb);
		free(p);
		if (ret)
			goto bad;
	}
	if (m.runs != a->ok.runs || m.pages != a->ok.missing_pages)
		goto bad;
	src_bitmap_set_range(s->sent, rb.next, s->npages - rb.next);
	STORE(&s->nsent, s->npages - m.pages);
	a->resent = rb.resent;
	return 0;
bad:
	a->code = PCMIG_ERR_PROTOCOL;
	attempt_fail(a, true,
		     "malformed RESUME_OK or MISSING from the destination");
	pcmig_msg_send_error(s->ctl, PCMIG_ERR_PROTOCOL, a->why);
	return -1;
}

/*
 * One attempt. Return: 0 resumed, 1 the destination had every page
 * already (its DONE in @done), -1 failed (@a says why).
 */
static int attempt(struct src *s, struct attempt *a, struct pcmig_done *done)
{
	struct pcmig_resume r = { .attempt = a->n };
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_RESUME_LEN];
	struct pcmig_msg_hdr h;
	void *p;
	int n, ret;

	s->ctl = connect_role(s, PCMIG_ROLE_CONTROL, a);
	if (s->ctl < 0)
		return -1;
	n = pcmig_resume_encode(buf, sizeof(buf), &r);
	ret = n < 0 ? n : pcmig_write_full(s->ctl, buf, n, s->timeout_ms);
	if (ret) {
		attempt_fail(a, false, "sending RESUME: %s", strerror(-ret));
		return -1;
	}
	/* The destination may have finished meanwhile: DONE instead. */
	if (expect(s, PCMIG_MSG_RESUME_OK, PCMIG_MSG_DONE, PCMIG_DONE_LEN,
		   &h, &p, a))
		return -1;
	if (h.type == PCMIG_MSG_DONE)
		ret = pcmig_done_decode(p, h.len, done) ? -EPROTO : 1;
	else
		ret = pcmig_resume_ok_decode(p, h.len, &a->ok);
	free(p);
	if (ret < 0) {
		a->code = PCMIG_ERR_PROTOCOL;
		attempt_fail(a, true, "malformed %s from the destination",
			     pcmig_msg_name(h.type));
		pcmig_msg_send_error(s->ctl, PCMIG_ERR_PROTOCOL, a->why);
		return -1;
	}
	if (ret)
		return 1;
	if (read_missing(s, a))
		return -1;
	s->urg = connect_role(s, PCMIG_ROLE_URGENT, a);
	if (s->urg < 0)
		return -1;
	if (s->caps & PCMIG_CAP_BULK_CHANNEL) {
		s->bulk = connect_role(s, PCMIG_ROLE_BULK, a);
		if (s->bulk < 0)
			return -1;
	}
	if (expect(s, PCMIG_MSG_RESUMED, 0, 0, &h, &p, a))
		return -1;
	free(p);
	return 0;
}

/* Sleep @ms unless SIGINT or SIGTERM comes: then false. */
static bool nap(struct src *s, uint64_t ms)
{
	struct pollfd p = { .fd = s->sigfd, .events = POLLIN };
	const char *sig;

	if (poll(&p, 1, (int)ms) <= 0)
		return true;
	sig = src_signal(s);
	if (!sig)
		return true;
	src_fail(s, PCMIG_ERR_ABORTED, 0,
		 "%s while reconnecting: migration aborted (the VM runs at the destination and cannot get its missing pages now)",
		 sig);
	return false;
}

/* Forget the failure that started the recovery, and the workers' state. */
static void reset(struct src *s)
{
	struct src_pusher *w = &s->pusher;

	pthread_mutex_lock(&s->lock);
	s->failed = false;
	s->fail_flags = 0;
	s->fail_code = 0;
	s->fail_msg[0] = '\0';
	s->stop = false;
	s->replying = 0;
	s->end_sent = s->push_finished = false;
	pthread_mutex_unlock(&s->lock);
	STORE(&s->jump, 0);		/* the push starts over at page 0 */
	w->pos = 0;
	w->vec_valid = false;
	w->hole_first = w->hole_end = 0;
	s->replier.rd.len = s->replier.rd.pos = 0;
	STORE(&s->last_activity, src_now_ns());
}

static void say_paused(struct src *s, const char *why)
{
	double t = (double)(src_now_ns() - s->t_start) / NSEC_PER_SEC;

	src_msg(s, "paused: %s; reconnecting to %s", why, s->connect);
	if (!s->json)
		return;
	printf("{\"event\":\"paused\",\"seconds\":%.3f,\"recoveries\":%" PRIu64 ",\"message\":",
	       t, s->recoveries);
	pcmig_json_fputs(stdout, why);
	printf("}\n");
	fflush(stdout);
}

static void say_attempt(struct src *s, const struct attempt *a)
{
	src_msg(s, "paused, reconnecting (attempt %u): %s", a->n, a->why);
	if (!s->json)
		return;
	printf("{\"event\":\"reconnecting\",\"seconds\":%.3f,\"attempt\":%u,\"message\":",
	       (double)(src_now_ns() - s->t_start) / NSEC_PER_SEC, a->n);
	pcmig_json_fputs(stdout, a->why);
	printf("}\n");
	fflush(stdout);
}

static void say_recovered(struct src *s, const struct attempt *a,
			  uint64_t paused_ns)
{
	char b[PCMIG_FMT_LEN];

	src_msg(s, "recovered after %s (attempt %u, recovery %" PRIu64 "): %" PRIu64 " pages missing at the destination in %" PRIu64 " runs, %" PRIu64 " of them sent before",
		pcmig_fmt_ns(paused_ns, b, sizeof(b)), a->n, s->recoveries,
		a->ok.missing_pages, a->ok.runs, a->resent);
	if (!s->json)
		return;
	printf("{\"event\":\"recovered\",\"seconds\":%.3f,\"attempt\":%u,"
	       "\"recoveries\":%" PRIu64 ",\"paused_ms\":%" PRIu64 ","
	       "\"missing_pages\":%" PRIu64 ",\"runs\":%" PRIu64 ","
	       "\"pages_resent\":%" PRIu64 "}\n",
	       (double)(src_now_ns() - s->t_start) / NSEC_PER_SEC, a->n,
	       s->recoveries, (uint64_t)(paused_ns / NSEC_PER_MSEC), a->ok.missing_pages,
	       a->ok.runs, a->resent);
	fflush(stdout);
}

/**
 * src_can_recover() - whether the failure recorded is a lost link
 * @s: the migration, its workers stopped
 *
 * Return: true for a page or control connection that failed or went
 * silent, unless recovery is off (--no-recover).
 */
bool src_can_recover(struct src *s)
{
	bool ret;

	pthread_mutex_lock(&s->lock);
	ret = s->recover && s->failed &&
	      (s->fail_flags & (FAIL_CHANNEL | FAIL_LINK));
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/**
 * src_recover() - reconnect after a lost link and resume the migration
 * @s: the migration, its workers stopped, a failure recorded for which
 *	src_can_recover() said yes
 * @done: the destination's DONE when it had every page already
 *
 * On success the failure is forgotten, the bitmap of pages sent rebuilt,
 * the connections new and the workers ready to start again.
 *
 * Return: 0 resumed; 1 the destination is done (@done filled, control
 * connected for DONE_ACK); -1 failed for good (recorded with src_fail()).
 */
int src_recover(struct src *s, struct pcmig_done *done)
{
	uint64_t t0 = src_now_ns(), said = 0, delay = PCMIG_RECONNECT_MIN_MS;
	uint64_t limit = (uint64_t)s->recover_timeout_s * NSEC_PER_SEC;
	struct attempt a;
	char why[PCMIG_MAX_ERROR_TEXT];
	int ret;

	pthread_mutex_lock(&s->lock);
	snprintf(why, sizeof(why), "%s", s->fail_msg);
	pthread_mutex_unlock(&s->lock);
	src_close_conns(s);
	say_paused(s, why);

	memset(&a, 0, sizeof(a));
	for (a.n = 1;; a.n++) {
		reset(s);
		ret = attempt(s, &a, done);
		if (ret >= 0)
			break;
		src_close_conns(s);
		if (a.fatal) {
			src_fail(s, a.code ? a.code : PCMIG_ERR_ABORTED, 0,
				 "recovery refused: %s", a.why);
			return -1;
		}
		if (a.n == 1 || src_now_ns() - said >= SAY_EVERY_NS) {
			say_attempt(s, &a);
			said = src_now_ns();
		}
		if (limit && src_now_ns() - t0 >= limit) {
			src_fail(s, PCMIG_ERR_ABORTED, 0,
				 "no recovery within %u s (--recover-timeout); last attempt: %s",
				 s->recover_timeout_s, a.why);
			return -1;
		}
		if (!nap(s, delay))
			return -1;
		delay = delay * 2 > PCMIG_RECONNECT_MAX_MS ?
			PCMIG_RECONNECT_MAX_MS : delay * 2;
	}
	if (ret == 1) {
		src_msg(s, "reconnected: the destination had every page already");
		return 1;
	}
	s->recoveries++;
	ADD(&s->st.pages_resent, a.resent);
	say_recovered(s, &a, src_now_ns() - t0);
	return 0;
}
