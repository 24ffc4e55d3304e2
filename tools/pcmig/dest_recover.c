// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: recovery on the destination side.
 *
 * Once the source has sent the package it is in postcopy: the VM runs (or
 * is about to run) here with part of its memory still there, and a lost
 * link pauses the session instead of ending the migration. The listening
 * socket stays open; the source reconnects to it (source_recover.c). A
 * new control connection is authenticated like the first one and must
 * carry the migration's session id, so a stranger or another migration is
 * refused and the session stays as it was. Then, as Documentation/
 * protocol.rst (Recovery) says: RESUME; PAUSED (by us if the kernel has
 * not noticed the loss yet) to RECOVER; RESUME_OK and the runs of missing
 * pages, read from the kernel (PCMIG_IOC_MISSING) while no channel is
 * attached, so that they cannot change; the new page connections,
 * attached in RECOVER; the state the session paused from, on which the
 * kernel requests again every page it is still waiting for; RESUMED. Any
 * failure on the way pauses the session again and waits for the next
 * attempt.
 *
 * dest_service() is the destination's tick with recovery: the engine's
 * poll loop and the hooks' wait call it.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

/* Extents read from the kernel per PCMIG_IOC_MISSING. */
#define MISSING_BATCH	PCMIG_MAX_RUNS

struct reconnect {
	int cfd, ufd, bfd;
	char why[PCMIG_MAX_ERROR_TEXT + 128];
	uint32_t code;			/* ERROR for the source, or 0 */
	struct pcmig_resume_ok ok;
	uint32_t attempt;		/* the source's */
};

static __printf(3, 4) int rc_fail(struct reconnect *rc, uint32_t code,
				  const char *fmt, ...);

static int rc_fail(struct reconnect *rc, uint32_t code, const char *fmt, ...)
{
	va_list ap;

	rc->code = code;
	va_start(ap, fmt);
	vsnprintf(rc->why, sizeof(rc->why), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * --attach: may the session id of @hs be the migration's? The one given
 * with --session-id, else one that a default session name ("mig-" and
 * the hex of its first 8 bytes) names; a custom name names none, and
 * any source with the key is taken.
 */
static bool adopt_ok(struct dest *d, const struct pcmig_hs *hs)
{
	char def[PCMIG_NAME_LEN];

	if (d->o->have_session_id)
		return !memcmp(hs->peer.session_id, d->o->session_id,
			       sizeof(d->o->session_id));
	if (strncmp(d->name, "mig-", 4))
		return true;
	dest_default_name(hs->peer.session_id, def, sizeof(def));
	return !strcmp(def, d->name);
}

/* Accept and authenticate a connection of @role within @wait_ms. */
static int accept_role(struct dest *d, struct reconnect *rc, uint8_t role,
		       int wait_ms)
{
	struct pcmig_hs hs;
	int fd;

	fd = pcmig_tcp_accept(d->lfd, wait_ms);
	if (fd < 0)
		return rc_fail(rc, 0, "no %s connection: %s",
			       role == PCMIG_ROLE_URGENT ? "urgent" : "bulk",
			       strerror(-fd));
	memset(&hs, 0, sizeof(hs));
	hs.key = d->key;
	hs.keylen = d->keylen;
	hs.role = role;
	hs.caps_supported = DEST_CAPS;
	hs.page_size = d->page_size;
	hs.nblocks = d->o->nblocks;
	hs.blocks = d->o->blocks;
	hs.timeout_ms = d->o->timeout_ms;
	/* Page connections: the handshake checks the session id. */
	memcpy(hs.session_id, d->session_id, sizeof(hs.session_id));
	if (pcmig_hs_server(fd, &hs)) {
		close(fd);
		return rc_fail(rc, 0, "handshake: %s", hs.err);
	}
	if (role == PCMIG_ROLE_CONTROL && d->adopt && adopt_ok(d, &hs)) {
		/* A new destination tool: the migration is the source's. */
		memcpy(d->session_id, hs.peer.session_id,
		       sizeof(d->session_id));
		d->caps = hs.caps;
		d->adopt = false;
	}
	if (role == PCMIG_ROLE_CONTROL &&
	    memcmp(hs.peer.session_id, d->session_id, sizeof(d->session_id))) {
		pcmig_msg_send_error(fd, PCMIG_ERR_SESSION,
				     "not the migration of this session: the session id differs");
		close(fd);
		return rc_fail(rc, 0,
			       "refused a control connection of another migration (session id differs)");
	}
	if (hs.caps != d->caps) {
		pcmig_msg_send_error(fd, PCMIG_ERR_CAPS,
				     "capabilities differ from the migration's");
		close(fd);
		return rc_fail(rc, 0, "refused a connection: capabilities 0x%" PRIx64 ", the migration has 0x%" PRIx64,
			       hs.caps, d->caps);
	}
	return fd;
}

/*
 * Wait for the source's next page connection within @wait_ms, watching
 * the control connection: the source sends nothing on it until RESUMED,
 * so anything there (its end, most likely) means the attempt is over.
 */
static int wait_page_conn(struct dest *d, struct reconnect *rc, int wait_ms)
{
	uint64_t until = pcmig_now_ms() + (uint64_t)wait_ms, now;
	struct pollfd p[2] = {
		{ .fd = d->lfd, .events = POLLIN },
		{ .fd = rc->cfd, .events = POLLIN | POLLRDHUP },
	};
	int ret;

	for (;;) {
		now = pcmig_now_ms();
		ret = poll(p, 2, now < until ? (int)(until - now) : 0);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return rc_fail(rc, 0, "poll: %s", strerror(errno));
		if (p[1].revents)
			return rc_fail(rc, 0,
				       "the source's control connection ended during the recovery");
		if (p[0].revents)
			return 0;
		if (!ret)
			return rc_fail(rc, 0, "no page connection within %d s",
				       wait_ms / 1000);
	}
}

/* Walk the missing runs; with @fd, send them as MISSING messages. */
static int walk_missing(struct dest *d, struct reconnect *rc, int fd,
			uint64_t *pages, uint64_t *runs)
{
	struct pcmig_wire_range *wr;
	struct pcmig_extent *ext;
	struct pcmig_missing m;
	uint8_t *buf;
	uint32_t i;
	int ret = -1, n;

	ext = calloc(MISSING_BATCH, sizeof(*ext));
	wr = calloc(MISSING_BATCH, sizeof(*wr));
	buf = malloc(pcmig_missing_len(MISSING_BATCH));
	if (!ext || !wr || !buf) {
		rc_fail(rc, PCMIG_ERR_INTERNAL, "out of memory");
		goto out;
	}
	*pages = *runs = 0;
	memset(&m, 0, sizeof(m));
	do {
		m.extents = (uintptr_t)ext;
		m.count = MISSING_BATCH;
		if (ioctl(d->sfd, PCMIG_IOC_MISSING, &m)) {
			rc_fail(rc, PCMIG_ERR_KERNEL,
				"session %u: missing pages: %s", d->id,
				strerror(errno));
			goto out;
		}
		for (i = 0; i < m.count; i++) {
			wr[i].offset = ext[i].offset;
			wr[i].length = ext[i].length;
			*pages += ext[i].length / d->page_size;
		}
		*runs += m.count;
		if (fd < 0)
			continue;
		n = pcmig_missing_encode(buf, pcmig_missing_len(MISSING_BATCH),
					 wr, m.count, m.offset >= d->size);
		ret = n < 0 ? n : pcmig_write_full(fd, buf, n,
						   d->o->timeout_ms);
		if (ret) {
			rc_fail(rc, 0, "sending MISSING: %s", strerror(-ret));
			ret = -1;
			goto out;
		}
	} while (m.offset < d->size);
	ret = 0;
out:
	free(ext);
	free(wr);
	free(buf);
	return ret;
}

static int send_empty(struct dest *d, struct reconnect *rc, int fd,
		      uint8_t type)
{
	uint8_t buf[PCMIG_MSG_HDR_LEN];
	int ret;

	ret = pcmig_write_full(fd, buf, pcmig_empty_encode(buf, sizeof(buf),
							   type),
			       d->o->timeout_ms);
	return ret ? rc_fail(rc, 0, "sending %s: %s", pcmig_msg_name(type),
			     strerror(-ret)) : 0;
}

/* Read RESUME on the new control connection. */
static int read_resume(struct dest *d, struct reconnect *rc)
{
	struct pcmig_error_msg perr;
	struct pcmig_resume r;
	struct pcmig_msg_hdr h;
	void *p = NULL;
	int ret;

	ret = pcmig_msg_recv(rc->cfd, &h, &p, PCMIG_RESUME_LEN,
			     d->o->timeout_ms, &perr);
	if (ret == -ECONNABORTED)
		return rc_fail(rc, 0, "the source gave up: %s (%s)", perr.text,
			       pcmig_err_name(perr.code));
	if (ret)
		return rc_fail(rc, PCMIG_ERR_PROTOCOL, "no RESUME: %s",
			       strerror(-ret));
	ret = h.type == PCMIG_MSG_RESUME ?
	      pcmig_resume_decode(p, h.len, &r) : -EPROTO;
	free(p);
	if (ret)
		return rc_fail(rc, PCMIG_ERR_PROTOCOL,
			       "expected RESUME, got %s",
			       pcmig_msg_name(h.type));
	rc->attempt = r.attempt;
	return 0;
}

/*
 * The exchange on a new control connection, up to RESUMED. Return: 0
 * resumed, 1 the session is complete (the control connection is ours now
 * for DONE), -1 failed (@rc says why; the session is PAUSED again).
 */
static int resume(struct dest *d, struct reconnect *rc)
{
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_RESUME_OK_LEN];
	bool recovering = false;
	int n, ret;

	if (read_resume(d, rc))
		return -1;
	if (dest_read_status(d))
		return rc_fail(rc, PCMIG_ERR_KERNEL, "session status: %s",
			       strerror(errno));
	switch (d->kstate) {
	case PCMIG_STATE_END:
		return 1;
	case PCMIG_STATE_FAILED:
		return rc_fail(rc, PCMIG_ERR_SESSION,
			       "session %u has failed: nothing to resume",
			       d->id);
	case PCMIG_STATE_PAUSED:
		break;
	default:
		/* The source saw the loss first: drop the old channels. */
		ret = dest_set_state(d, PCMIG_STATE_PAUSED);
		if (ret)
			return rc_fail(rc, PCMIG_ERR_KERNEL,
				       "session %u: pause: %s", d->id,
				       strerror(-ret));
	}
	ret = dest_set_state(d, PCMIG_STATE_RECOVER);
	if (ret)
		return rc_fail(rc, PCMIG_ERR_KERNEL, "session %u: recover: %s",
			       d->id, strerror(-ret));
	recovering = true;
	if (dest_read_status(d))
		goto fail_status;
	rc->ok.state = d->st.resume_state;
	if (walk_missing(d, rc, -1, &rc->ok.missing_pages, &rc->ok.runs))
		goto fail;
	n = pcmig_resume_ok_encode(buf, sizeof(buf), &rc->ok);
	ret = n < 0 ? n : pcmig_write_full(rc->cfd, buf, n, d->o->timeout_ms);
	if (ret) {
		rc_fail(rc, 0, "sending RESUME_OK: %s", strerror(-ret));
		goto fail;
	}
	if (walk_missing(d, rc, rc->cfd, &rc->ok.missing_pages,
			 &rc->ok.runs))
		goto fail;

	if (wait_page_conn(d, rc, d->o->timeout_ms))
		goto fail;
	rc->ufd = accept_role(d, rc, PCMIG_ROLE_URGENT, 0);
	if (rc->ufd < 0)
		goto fail;
	if (d->caps & PCMIG_CAP_BULK_CHANNEL) {
		if (wait_page_conn(d, rc, d->o->timeout_ms))
			goto fail;
		rc->bfd = accept_role(d, rc, PCMIG_ROLE_BULK, 0);
		if (rc->bfd < 0)
			goto fail;
	}
	ret = dest_attach_pages(d, rc->ufd, rc->bfd);
	if (!ret)
		ret = dest_set_state(d, rc->ok.state);
	if (ret) {
		rc_fail(rc, PCMIG_ERR_KERNEL, "session %u: resume: %s", d->id,
			strerror(-ret));
		goto fail;
	}
	if (send_empty(d, rc, rc->cfd, PCMIG_MSG_RESUMED))
		goto fail;
	return 0;
fail_status:
	rc_fail(rc, PCMIG_ERR_KERNEL, "session status: %s", strerror(errno));
fail:
	if (recovering)
		dest_set_state(d, PCMIG_STATE_PAUSED);
	return -1;
}

static void say_paused(struct dest *d)
{
	char why[160];

	d->recovering = true;
	d->attempts = 0;
	d->t_paused = pcmig_now_ms();
	dest_reason_text(d->st.reason, d->st.error, why, sizeof(why));
	dest_clear_line(d);
	dest_warn(d, "session %u paused (%s): waiting for the source to reconnect",
		  d->id, why);
	dest_json_start(d, "paused");
	dest_json_u64(d, "id", d->id);
	dest_json_str(d, "reason", why);
	dest_json_u64(d, "recoveries", d->recoveries);
	dest_json_end(d);
	dest_changed(d);
}

static void say_recovered(struct dest *d, const struct reconnect *rc)
{
	uint64_t ms = pcmig_now_ms() - d->t_paused;
	char a[PCMIG_FMT_LEN];

	d->recovering = false;
	d->recoveries++;
	dest_info(d, "session %u recovered after %s (recovery %" PRIu64 ", source attempt %u): %" PRIu64 " pages missing in %" PRIu64 " runs",
		  d->id, dest_fmt_ms(ms, a, sizeof(a)), d->recoveries,
		  rc->attempt, rc->ok.missing_pages, rc->ok.runs);
	dest_json_start(d, "recovered");
	dest_json_u64(d, "id", d->id);
	dest_json_u64(d, "recoveries", d->recoveries);
	dest_json_u64(d, "paused_ms", ms);
	dest_json_u64(d, "missing_pages", rc->ok.missing_pages);
	dest_json_u64(d, "runs", rc->ok.runs);
	dest_json_u64(d, "attempt", rc->attempt);
	dest_json_end(d);
	dest_changed(d);
}

/* A connection waits on the listening socket: a source reconnecting. */
static void reconnect(struct dest *d)
{
	struct reconnect rc = { .cfd = -1, .ufd = -1, .bfd = -1 };
	uint8_t buf[PCMIG_MSG_HDR_LEN];
	int ret;

	rc.cfd = accept_role(d, &rc, PCMIG_ROLE_CONTROL, 0);
	if (rc.cfd < 0) {
		if (rc.why[0] && !strstr(rc.why, strerror(ETIMEDOUT)))
			dest_warn(d, "reconnection refused: %s", rc.why);
		return;
	}
	if (!d->recovering)
		dest_warn(d, "the source reconnected while session %u was not paused: it noticed a lost link first",
			  d->id);
	ret = resume(d, &rc);
	if (rc.ufd >= 0)
		close(rc.ufd);
	if (rc.bfd >= 0)
		close(rc.bfd);
	if (ret < 0) {
		if (rc.code)
			pcmig_msg_send_error(rc.cfd, rc.code, rc.why);
		close(rc.cfd);
		d->attempts++;
		dest_warn(d, "recovery attempt failed: %s", rc.why);
		dest_read_status(d);
		return;
	}
	/* The new control connection replaces the old one. */
	if (d->cfd >= 0)
		close(d->cfd);
	d->cfd = rc.cfd;
	if (ret > 0) {
		dest_react(d);		/* END: DONE on the new connection */
		return;
	}
	if (!d->recovering)
		say_paused(d);
	dest_read_events(d);	/* PAUSED, RECOVER, RUNNING come first */
	say_recovered(d, &rc);
	if (d->ok_pending && d->step == DEST_STEP_RUNNING) {
		ret = pcmig_write_full(d->cfd, buf,
				       pcmig_empty_encode(buf, sizeof(buf),
							  PCMIG_MSG_PACKAGED_OK),
				       d->o->timeout_ms);
		if (!ret)
			d->ok_pending = false;
	}
	dest_react(d);
}

/**
 * dest_service() - the destination's tick, with recovery
 * @d: the migration
 *
 * dest_tick(), then: a session that paused for good waits for the source;
 * a source reconnecting is served (which blocks for at most a few control
 * exchanges); the wait ends with exit 3 after --recover-timeout.
 */
void dest_service(struct dest *d)
{
	struct pollfd p;

	dest_tick(d);
	if (d->result >= 0 || !dest_can_recover(d))
		return;
	if (d->kstate == PCMIG_STATE_PAUSED && !d->recovering) {
		if (d->cfd >= 0) {
			close(d->cfd);
			d->cfd = -1;
		}
		say_paused(d);
	}
	p.fd = d->lfd;
	p.events = POLLIN;
	if (poll(&p, 1, 0) == 1)
		reconnect(d);
	if (d->result < 0 && d->recovering && d->o->recover_timeout_s &&
	    pcmig_now_ms() - d->t_paused >= d->o->recover_timeout_s * 1000ULL)
		dest_fail(d, DEST_EXIT_PAUSED, 0,
			  "session %u paused and the source did not come back within %u s (--recover-timeout)",
			  d->id, d->o->recover_timeout_s);
}
