// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: following an incoming migration's session to its end: the
 * tick (netlink events, PCMIG_IOC_STATUS, progress), the answer to END
 * (DONE, DONE_ACK), PAUSED and FAILED, dest_fail(), and reading control
 * messages, which looks after the session between chunks of a package.
 *
 * Every failure ends in dest_fail(): a message, ERROR to the source while
 * the control connection is up, the session moved to FAILED and destroyed
 * (unless --keep).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

/* After the control connection closed: time for the session to pause. */
#define CONTROL_LOST_GRACE_MS	1000

/* Event datagrams read in one go (the rest waits for the next look). */
#define EVENTS_PER_TICK		256

/**
 * dest_ctl_recv() - read one control message
 * @d: the migration
 * @h: the message's header
 * @payload: its payload (malloc()ed, for the caller to free), or NULL
 * @perr: the source's ERROR, for -ECONNABORTED
 *
 * PACKAGED payloads come in chunks, each within the timeout (a big package
 * on a slow link is not an error), and the session is looked after between
 * chunks.
 *
 * Return: 0; -ECONNABORTED with @perr for the source's ERROR; -EPROTO;
 * -ECONNRESET at end of file; -ETIMEDOUT; -ECANCELED when the migration
 * ended meanwhile; -ENOMEM; another I/O error.
 */
int dest_ctl_recv(struct dest *d, struct pcmig_msg_hdr *h, void **payload,
		  struct pcmig_error_msg *perr)
{
	uint8_t raw[PCMIG_MSG_HDR_LEN];
	uint32_t got = 0, chunk;
	uint8_t *p;
	int ret;

	*payload = NULL;
	ret = pcmig_read_full(d->cfd, raw, sizeof(raw), d->o->timeout_ms);
	if (ret)
		return ret;
	if (pcmig_msg_get_hdr(raw, h))
		return -EPROTO;
	if (!h->len)
		return h->type == PCMIG_MSG_ERROR ? -EPROTO : 0;
	p = malloc(h->len);
	if (!p)
		return -ENOMEM;
	while (got < h->len) {
		chunk = h->len - got;
		if (chunk > DEST_PKG_CHUNK)
			chunk = DEST_PKG_CHUNK;
		ret = pcmig_read_full(d->cfd, p + got, chunk,
				      d->o->timeout_ms);
		if (ret) {
			free(p);
			return ret;
		}
		got += chunk;
		if (got < h->len) {
			dest_tick(d);
			if (d->result >= 0) {
				free(p);
				return -ECANCELED;
			}
		}
	}
	if (h->type == PCMIG_MSG_ERROR) {
		ret = pcmig_error_decode(p, h->len, perr);
		free(p);
		return ret ? -EPROTO : -ECONNABORTED;
	}
	*payload = p;
	return 0;
}

/*
 * The control connection closed or failed. When the source went away as a
 * whole, its page connections close too and the session pauses a moment
 * later; on a dead link they time out like the control connection did,
 * within the link timeout. That is the better report (exit 3). Returns
 * true when it was reported so.
 */
static bool control_lost_pause(struct dest *d)
{
	uint64_t until = pcmig_now_ms() + CONTROL_LOST_GRACE_MS +
			 pcmig_link_timeout() * 1000ULL;
	char why[160];

	if (d->sfd < 0)
		return false;
	if (dest_can_recover(d)) {
		/* Pause now: the source reconnects and resumes it. */
		int ret;

		close(d->cfd);
		d->cfd = -1;
		ret = dest_set_state(d, PCMIG_STATE_PAUSED);
		if (ret && ret != -EINVAL)
			return false;
		dest_react(d);
		return true;
	}
	for (;;) {
		if (dest_read_status(d))
			return false;
		if (d->kstate == PCMIG_STATE_PAUSED) {
			close(d->cfd);
			d->cfd = -1;
			dest_fail(d, DEST_EXIT_PAUSED, 0,
				  "destination session %u paused: the source closed the control connection and a page connection was lost (%s); recovery is not supported yet",
				  d->id, dest_reason_text(d->st.reason,
							  d->st.error, why,
							  sizeof(why)));
			return true;
		}
		if (d->kstate != PCMIG_STATE_ADVISE &&
		    d->kstate != PCMIG_STATE_DISCARD &&
		    d->kstate != PCMIG_STATE_LISTEN &&
		    d->kstate != PCMIG_STATE_RUNNING)
			return false;
		if (pcmig_now_ms() >= until)
			return false;
		poll(NULL, 0, 50);
	}
}

/**
 * dest_ctl_recv_fail() - a receive failed: say why in terms of the migration
 * @d: the migration
 * @ret: what dest_ctl_recv() returned
 * @perr: the source's ERROR, for -ECONNABORTED
 * @what: when it happened, for the message ("before ADVISE")
 */
void dest_ctl_recv_fail(struct dest *d, int ret,
			const struct pcmig_error_msg *perr, const char *what)
{
	switch (ret) {
	case -ECANCELED:
		return;
	case -ECONNABORTED:
		dest_fail(d, DEST_EXIT_FAILED, 0, "the source gave up: %s: %s",
			  pcmig_err_name(perr->code), perr->text);
		return;
	case -ECONNRESET:
		if (control_lost_pause(d))
			return;
		dest_fail(d, DEST_EXIT_FAILED, 0,
			  "the source closed the control connection %s",
			  what);
		return;
	case -EPROTO:
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL,
			  "malformed message on the control connection %s",
			  what);
		return;
	case -ETIMEDOUT:
		/* A dead link (the link timeout), or a stalled message. */
		if (control_lost_pause(d))
			return;
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL,
			  "control connection: the source stopped in the middle of a message, or the link is dead (timed out) %s",
			  what);
		return;
	case -ENOMEM:
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "out of memory for a control message %s", what);
		return;
	default:
		dest_fail(d, DEST_EXIT_FAILED, 0, "control connection: %s %s",
			  strerror(-ret), what);
	}
}

/**
 * dest_can_recover() - whether a pause is recovered rather than the end
 * @d: the migration
 *
 * Return: true when recovery is on and the source has sent the package:
 * from then on it is in postcopy and reconnects after a lost link. Before
 * that the VM still runs at the source, and a lost link ends the
 * migration.
 */
bool dest_can_recover(struct dest *d)
{
	return !d->o->no_recover && d->lfd >= 0 && d->sfd >= 0 &&
	       d->step >= DEST_STEP_PACKAGED && d->step <= DEST_STEP_RUNNING;
}

/**
 * dest_set_state() - move the session to another state
 * @d: the migration, with its session file
 * @state: PCMIG_STATE_*
 *
 * Return: 0, or a negative errno.
 */
int dest_set_state(struct dest *d, uint32_t state)
{
	struct pcmig_set_state s = { .state = state };

	return ioctl(d->sfd, PCMIG_IOC_SET_STATE, &s) ? -errno : 0;
}

/**
 * dest_attach_pages() - hand the page connections to the session
 * @d: the migration, with its session file
 * @ufd: the urgent connection
 * @bfd: the bulk connection, or -1 (the urgent one carries both)
 *
 * The descriptors stay the caller's to close.
 *
 * Return: 0, or a negative errno of PCMIG_IOC_ATTACH.
 */
int dest_attach_pages(struct dest *d, int ufd, int bfd)
{
	struct pcmig_attach at = { 0 };

	at.fd = ufd;
	at.channels = PCMIG_CHANNEL_URGENT | (bfd < 0 ? PCMIG_CHANNEL_BULK : 0);
	if (ioctl(d->sfd, PCMIG_IOC_ATTACH, &at))
		return -errno;
	if (bfd < 0)
		return 0;
	at.fd = bfd;
	at.channels = PCMIG_CHANNEL_BULK;
	return ioctl(d->sfd, PCMIG_IOC_ATTACH, &at) ? -errno : 0;
}

/**
 * dest_read_status() - read the session's status into @d->st
 * @d: the migration
 *
 * Return: 0, or a negative errno.
 */
int dest_read_status(struct dest *d)
{
	struct pcmig_status st;

	memset(&st, 0, sizeof(st));
	if (d->sfd < 0 || ioctl(d->sfd, PCMIG_IOC_STATUS, &st))
		return -errno;
	d->st = st;
	d->have_st = true;
	d->kstate = st.state;
	return 0;
}

/**
 * dest_fail() - the migration failed (or paused): say so, tell the source,
 * stop the session
 * @d: the migration
 * @code: exit status (%DEST_EXIT_FAILED or %DEST_EXIT_PAUSED)
 * @err_code: PCMIG_ERR_* for the source, 0 not to send ERROR
 * @fmt: the message
 *
 * Only the first call counts. A failed session is moved to FAILED (so that
 * blocked faults get SIGBUS) and, unless --keep, destroyed; a paused one is
 * destroyed unless --keep (then it stays PAUSED). A session in END is left
 * alone.
 */
void dest_fail(struct dest *d, int code, uint32_t err_code, const char *fmt,
	       ...)
{
	char buf[PCMIG_FMT_LEN];
	va_list ap;

	if (d->result >= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	d->result = code;
	d->t_end = pcmig_now_ms();
	dest_errmsg(d, "%s", d->msg);

	if (err_code && d->cfd >= 0)
		pcmig_msg_send_error(d->cfd, err_code, d->msg);
	if (d->cfd >= 0) {
		close(d->cfd);
		d->cfd = -1;
	}

	if (d->sfd >= 0) {
		dest_read_status(d);
		if (d->kstate != PCMIG_STATE_END) {
			if (code != DEST_EXIT_PAUSED &&
			    d->kstate != PCMIG_STATE_FAILED) {
				dest_set_state(d, PCMIG_STATE_FAILED);
				dest_read_status(d);
			}
			if (!d->o->keep) {
				if (ioctl(d->sfd, PCMIG_IOC_DESTROY))
					dest_errmsg(d, "destroy session %u: %s",
						    d->id, strerror(errno));
				else
					dest_info(d, "session %u destroyed",
						  d->id);
			} else {
				dest_info(d, "--keep: session %u stays, in state %s (%s)",
					  d->id,
					  pcmig_state_str(d->kstate, buf,
							  sizeof(buf)),
					  d->node);
			}
		}
		dest_read_status(d);
	}
	d->step = code == DEST_EXIT_PAUSED ? DEST_STEP_PAUSED :
		  DEST_STEP_FAILED;
	dest_json_start(d, code == DEST_EXIT_PAUSED ? "paused" : "failure");
	dest_json_u64(d, "exit", code);
	dest_json_str(d, "message", d->msg);
	dest_json_end(d);
	dest_changed(d);
}

/* Every page is present: DONE, then wait for DONE_ACK. */
static void do_done(struct dest *d)
{
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_DONE_LEN];
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	struct pcmig_done done;
	void *p = NULL;
	int ret;

	d->t_end = pcmig_now_ms();
	d->step = DEST_STEP_DONE;
	done.pages_total = d->st.pages_total;
	done.pages_received = d->st.pages_received;
	done.pages_requested = d->st.pages_requested;
	done.pages_zero = d->st.pages_zero;
	done.faults = d->st.faults;
	ret = pcmig_done_encode(buf, sizeof(buf), &done);
	if (ret < 0 || pcmig_write_full(d->cfd, buf, ret, d->o->timeout_ms)) {
		dest_warn(d, "every page arrived, but DONE could not be sent to the source");
		goto out;
	}
	ret = dest_ctl_recv(d, &h, &p, &perr);
	if (ret == -ECONNABORTED) {
		snprintf(d->msg, sizeof(d->msg),
			 "every page arrived, but the source answered DONE with ERROR: %s: %s",
			 pcmig_err_name(perr.code), perr.text);
		dest_errmsg(d, "%s", d->msg);
		d->result = DEST_EXIT_FAILED;
	} else if (ret) {
		dest_warn(d, "every page arrived, but the source did not acknowledge DONE (%s)",
			    ret == -ECONNRESET ? "connection closed" :
			    strerror(-ret));
	} else if (h.type != PCMIG_MSG_DONE_ACK) {
		dest_warn(d, "every page arrived, but the source answered DONE with %s",
			    pcmig_msg_name(h.type));
	}
	free(p);
out:
	close(d->cfd);
	d->cfd = -1;
	if (d->result < 0) {
		d->result = DEST_EXIT_DONE;
		snprintf(d->msg, sizeof(d->msg), "every page arrived");
	}
	dest_changed(d);
}

/**
 * dest_react() - act on the session's state as the kernel reports it
 * @d: the migration
 */
void dest_react(struct dest *d)
{
	char why[160];

	if (d->result >= 0 || d->sfd < 0 || dest_read_status(d))
		return;
	switch (d->kstate) {
	case PCMIG_STATE_FAILED:
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_ABORTED,
			  "destination session %u failed: %s", d->id,
			  dest_reason_text(d->st.reason, d->st.error, why,
					   sizeof(why)));
		break;
	case PCMIG_STATE_PAUSED:
		/* dest_service() waits for the source to come back. */
		if (dest_can_recover(d))
			break;
		dest_fail(d, DEST_EXIT_PAUSED, PCMIG_ERR_ABORTED,
			  "destination session %u paused: a page connection was lost (%s); recovery is not supported yet",
			  d->id, dest_reason_text(d->st.reason, d->st.error,
						  why, sizeof(why)));
		break;
	case PCMIG_STATE_END:
		/* Only once PACKAGED_OK went out: DONE must come after it. */
		if (d->step == DEST_STEP_RUNNING) {
			dest_clear_line(d);
			do_done(d);
		}
		break;
	default:
		break;
	}
}

static void on_event(const struct pcmig_session *ev, void *arg)
{
	struct dest *d = arg;
	struct timespec ts;

	if (d->sfd < 0 || !pcmig_has(ev, PCMIG_ATTR_ID) || ev->id != d->id)
		return;
	if (d->events_out) {
		clock_gettime(CLOCK_REALTIME, &ts);
		pcmig_show_event(d->events_out, ev, &ts, true);
		fflush(d->events_out);
	}
	if (pcmig_has(ev, PCMIG_ATTR_REASON))
		d->reason = ev->reason;
	if (pcmig_has(ev, PCMIG_ATTR_ERROR))
		d->error = ev->error;
	d->changed = true;
}

/**
 * dest_read_events() - read everything queued on the event socket (one
 * datagram per receive)
 * @d: the migration
 */
void dest_read_events(struct dest *d)
{
	struct pollfd p;
	int ret, i;

	if (!d->have_ev)
		return;
	d->changed = false;
	for (i = 0; i < EVENTS_PER_TICK; i++) {
		p.fd = pcmig_events_fd(&d->ev);
		p.events = POLLIN;
		if (poll(&p, 1, 0) <= 0)
			return;
		ret = pcmig_events_recv(&d->ev, on_event, d);
		if (ret == -ENOBUFS) {
			/* Lost some: the status tells the state anyway. */
			d->changed = true;
		} else if (ret && ret != -EAGAIN && ret != -EINTR) {
			dest_warn(d, "netlink events: %s: following the session by polling",
				  strerror(-ret));
			pcmig_events_close(&d->ev);
			d->have_ev = false;
			d->changed = true;
			return;
		}
	}
}

/**
 * dest_tick() - look after the session without blocking
 * @d: the migration
 *
 * Reads pending events, the status when something happened or a tick is
 * due, acts on END, PAUSED and FAILED, and once per tick refreshes the
 * progress line, the JSON progress and the daemon's status file.
 */
void dest_tick(struct dest *d)
{
	uint64_t now = pcmig_now_ms();
	bool due = now - d->t_tick >= DEST_TICK_MS;

	if (d->result >= 0)
		return;
	if (d->aborted && *d->aborted) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_ABORTED,
			  "the destination was interrupted (signal)");
		return;
	}
	if (d->sfd < 0)
		return;
	dest_read_events(d);
	if (d->changed || due || !d->have_ev)
		dest_react(d);
	if (d->changed && d->result < 0)
		dest_changed(d);
	if (due && d->result < 0) {
		d->t_tick = now;
		dest_progress(d, false);
		dest_changed(d);
	}
}
