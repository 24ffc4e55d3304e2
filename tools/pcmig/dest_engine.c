// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the destination's migration engine, the steps of an incoming
 * migration: ADVISE (kernel checks, session, attaching the page
 * connections), PACKAGED (read whole, then LISTEN, device state, RUNNING,
 * run hook, PACKAGED_OK), the poll() interface, and the final clean-up.
 * dest_setup.c sets up and connects; dest_follow.c follows the session
 * to END with the netlink events (subscribed before the session exists)
 * and PCMIG_IOC_STATUS.
 *
 * The engine runs in one thread around poll(); incoming drives it alone,
 * the step daemon adds its control socket to the same poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

/* How often the status is read when there is no event socket. */
#define POLL_NO_EVENTS_MS	100

static int send_msg(struct dest *d, const void *buf, int n, const char *what)
{
	int ret;

	if (n < 0) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "cannot encode %s", what);
		return -1;
	}
	ret = pcmig_write_full(d->cfd, buf, n, d->o->timeout_ms);
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, 0, "sending %s: %s", what,
			  strerror(-ret));
		return -1;
	}
	return 0;
}

/* ADVISE: the kernel checks, the session, the page connections. */
static void do_advise(struct dest *d, const void *p, uint32_t len)
{
	struct pcmig_create cr = { 0 };
	struct pcmig_advise adv;
	struct pcmig_advise_ok ok;
	struct pcmig_version ver;
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_ADVISE_OK_LEN];
	char a[PCMIG_FMT_LEN];
	int cfd, ret;

	if (pcmig_advise_decode(p, len, &adv)) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL,
			  "malformed ADVISE");
		return;
	}

	/* The kernel side first: nothing else happens without it. */
	cfd = open(PCMIG_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (cfd < 0) {
		if (errno == ENOENT)
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
				  "pcmig.ko is not loaded");
		else
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
				  "cannot open %s: %s", PCMIG_CTL_PATH,
				  strerror(errno));
		return;
	}
	memset(&ver, 0, sizeof(ver));
	if (ioctl(cfd, PCMIG_IOC_VERSION, &ver)) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
			  "%s: version: %s", PCMIG_CTL_PATH, strerror(errno));
		goto out;
	}
	if (ver.abi_major != PCMIG_ABI_MAJOR) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
			  "ABI mismatch: module %u.%u, tool %u.%u",
			  ver.abi_major, ver.abi_minor, PCMIG_ABI_MAJOR,
			  PCMIG_ABI_MINOR);
		goto out;
	}
	if (!(ver.features & PCMIG_FEATURE_SYNC)) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
			  "pcmig.ko %u.%u is too old: no SYNC frames (ABI 0.3)",
			  ver.abi_major, ver.abi_minor);
		goto out;
	}
	if ((!d->o->no_recover || d->o->pause_timeout_s) &&
	    !(ver.features & PCMIG_FEATURE_RECOVER)) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
			  "pcmig.ko %u.%u is too old for recovery (ABI 0.4); run with --no-recover",
			  ver.abi_major, ver.abi_minor);
		goto out;
	}
	if (adv.page_size != ver.page_size || adv.page_size != d->page_size) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PAGE_SIZE,
			  "page size mismatch: source %u bytes, destination module %u",
			  adv.page_size, ver.page_size);
		goto out;
	}
	if (adv.size != d->size) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_LAYOUT,
			  "RAM size mismatch: ADVISE says %" PRIu64 " bytes, the destination's --ram blocks add up to %" PRIu64,
			  adv.size, d->size);
		goto out;
	}

	/* Subscribe before the session exists: no event can be missed. */
	ret = pcmig_events_open(&d->ev);
	if (ret)
		dest_warn(d, "netlink events unavailable (%s): following the session by polling",
			    strerror(-ret));
	else
		d->have_ev = true;

	cr.size = d->size;
	cr.page_size = ver.page_size;
	cr.flags = d->o->keep ? 0 : PCMIG_CREATE_F_AUTO_DESTROY;
	if (d->o->name)
		snprintf(cr.name, sizeof(cr.name), "%s", d->o->name);
	else
		dest_default_name(d->session_id, cr.name, sizeof(cr.name));
	ret = ioctl(cfd, PCMIG_IOC_CREATE, &cr);
	if (ret < 0) {
		if (errno == EEXIST)
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_SESSION,
				  "a session named '%s' exists already on the destination",
				  cr.name);
		else if (errno == EOPNOTSUPP)
			/* ABI 0.5: tmpfs would hand out huge pages. */
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
				  "cannot create a session: tmpfs gives huge pages to every file (/sys/kernel/mm/transparent_hugepage/shmem_enabled is 'force'): set it to anything else");
		else
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
				  "cannot create a session of %s: %s",
				  pcmig_fmt_size(cr.size, a, sizeof(a)),
				  strerror(errno));
		goto out;
	}
	d->sfd = ret;
	d->id = cr.id;
	snprintf(d->name, sizeof(d->name), "%s", cr.name);
	snprintf(d->node, sizeof(d->node), "/dev/%s%u", PCMIG_NAME, cr.id);
	d->kstate = PCMIG_STATE_ADVISE;

	if (d->o->pause_timeout_s) {
		struct pcmig_params prm = {
			.pause_timeout_ms = d->o->pause_timeout_s * 1000U,
		};

		if (ioctl(d->sfd, PCMIG_IOC_SET_PARAMS, &prm)) {
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_KERNEL,
				  "session %u: set the pause timeout: %s",
				  d->id, strerror(errno));
			goto out;
		}
	}
	ret = dest_attach_pages(d, d->ufd, d->bfd);
	close(d->ufd);
	if (d->bfd >= 0)
		close(d->bfd);
	d->ufd = d->bfd = -1;
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "attach the page connections: %s", strerror(-ret));
		goto out;
	}

	memset(&ok, 0, sizeof(ok));
	ok.session = d->id;
	if (send_msg(d, buf, pcmig_advise_ok_encode(buf, sizeof(buf), &ok),
		     "ADVISE_OK"))
		goto out;

	d->step = DEST_STEP_ADVISED;
	dest_read_status(d);
	dest_info(d, "session %u '%s' created: %s, %s in %" PRIu64 " pages",
		  d->id, d->name, d->node, pcmig_fmt_size(d->size, a, sizeof(a)),
		  d->size / d->page_size);
	if (!d->o->json && !d->o->state_dir) {
		printf("%s\n", d->node);
		fflush(stdout);
	}
	dest_json_start(d, "advised");
	dest_json_u64(d, "id", d->id);
	dest_json_str(d, "name", d->name);
	dest_json_str(d, "node", d->node);
	dest_json_u64(d, "size", d->size);
	dest_json_u64(d, "pages", d->size / d->page_size);
	dest_json_end(d);
	dest_changed(d);
out:
	close(cfd);
}

/**
 * dest_advised() - connections, handshakes and ADVISE
 * @d: the migration, after dest_prepare()
 *
 * Return: 0 when the session exists and ADVISE_OK is sent, or -1 with the
 * result decided.
 */
int dest_advised(struct dest *d)
{
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	void *p;
	int ret;

	if (dest_connect(d))
		return -1;
	ret = dest_ctl_recv(d, &h, &p, &perr);
	if (ret) {
		dest_ctl_recv_fail(d, ret, &perr, "before ADVISE");
		return -1;
	}
	if (h.type != PCMIG_MSG_ADVISE) {
		free(p);
		if (h.type == PCMIG_MSG_DISCARD)
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL, "%s",
				  DEST_DISCARD_RETIRED);
		else
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL,
				  "expected ADVISE, got %s",
				  pcmig_msg_name(h.type));
		return -1;
	}
	do_advise(d, p, h.len);
	free(p);
	if (d->result < 0 && d->o->qemu_argv)
		dest_qemu_start(d);
	return d->result >= 0 ? -1 : 0;
}

static void do_packaged(struct dest *d, void *p, uint32_t len)
{
	char a[PCMIG_FMT_LEN];

	if (pcmig_package_parse(p, len, &d->state, &d->state_len)) {
		free(p);
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PACKAGE,
			  "bad device-state package (%u bytes): it must be exactly LISTEN, DEVICE_STATE, RUN",
			  len);
		return;
	}
	d->pkg = p;
	d->pkg_len = len;
	d->step = DEST_STEP_PACKAGED;
	dest_info(d, "package received: %s of device state",
		  pcmig_fmt_size(d->state_len, a, sizeof(a)));
	dest_json_start(d, "package");
	dest_json_u64(d, "bytes", len);
	dest_json_u64(d, "state_bytes", d->state_len);
	dest_json_end(d);
	dest_changed(d);
}

/*
 * SYNC: the source sent SYNC frames after its DISCARD frames; LISTEN waits
 * until the kernel has seen them (dest_listen()).
 */
static void do_sync(struct dest *d, const void *p, uint32_t len)
{
	uint64_t token;

	if (pcmig_sync_decode(p, len, &token)) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL,
			  "malformed SYNC (%u bytes)", len);
		return;
	}
	if (token <= d->sync_token) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL,
			  "SYNC token %" PRIu64 " after %" PRIu64
			  ": tokens must grow", token, d->sync_token);
		return;
	}
	d->sync_token = token;
}

static void handle_control(struct dest *d)
{
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	void *p;
	int ret;

	ret = dest_ctl_recv(d, &h, &p, &perr);
	if (ret) {
		dest_ctl_recv_fail(d, ret, &perr, "before the migration ended");
		return;
	}
	if (h.type == PCMIG_MSG_DISCARD) {
		/*
		 * Retired: a control message could overtake pages still in
		 * flight on a page connection. Discards come as DISCARD
		 * frames in the page stream, and the kernel applies them.
		 */
		free(p);
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL, "%s",
			  DEST_DISCARD_RETIRED);
		return;
	}
	if (d->step == DEST_STEP_ADVISED && h.type == PCMIG_MSG_PACKAGED) {
		do_packaged(d, p, h.len);
		return;
	}
	if (d->step == DEST_STEP_ADVISED && h.type == PCMIG_MSG_SYNC) {
		do_sync(d, p, h.len);
		free(p);
		return;
	}
	free(p);
	dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_PROTOCOL,
		  "unexpected %s from the source (step %s)",
		  pcmig_msg_name(h.type), dest_step_name(d->step));
}

/**
 * dest_pollfds() - what the engine waits for
 * @d: the migration
 * @pfd: filled from index 0
 * @max: room at @pfd
 *
 * Return: entries used.
 */
int dest_pollfds(struct dest *d, struct pollfd *pfd, int max)
{
	int n = 0;

	if (d->cfd >= 0 && n < max) {
		pfd[n].fd = d->cfd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	if (d->have_ev && n < max) {
		pfd[n].fd = pcmig_events_fd(&d->ev);
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	/* A source reconnecting after a lost link: dest_service(). */
	if (dest_can_recover(d) && n < max) {
		pfd[n].fd = d->lfd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

/**
 * dest_poll_timeout() - how long poll() may wait
 * @d: the migration
 *
 * Return: milliseconds until the next tick (shorter without events).
 */
int dest_poll_timeout(struct dest *d)
{
	uint64_t now = pcmig_now_ms(), next = d->t_tick + DEST_TICK_MS;
	int ms = next > now ? (int)(next - now) : 0;

	if (!d->have_ev && ms > POLL_NO_EVENTS_MS)
		ms = POLL_NO_EVENTS_MS;
	return ms;
}

/**
 * dest_dispatch() - handle what poll() found on dest_pollfds()'s entries
 * @d: the migration
 * @pfd: the array given to dest_pollfds(), after poll()
 * @n: entries dest_pollfds() filled
 */
void dest_dispatch(struct dest *d, const struct pollfd *pfd, int n)
{
	int i;

	for (i = 0; i < n && d->result < 0; i++) {
		if (!pfd[i].revents)
			continue;
		if (pfd[i].fd == d->cfd)
			handle_control(d);
	}
	dest_service(d);
}

/* Before LISTEN: every frame before the source's SYNC frames is applied. */
static int wait_sync(struct dest *d)
{
	struct pcmig_sync a = {
		.token = d->sync_token,
		.timeout_ms = (uint32_t)d->o->timeout_ms,
	};
	int err;

	if (!d->sync_token)
		return 0;
	if (!ioctl(d->sfd, PCMIG_IOC_SYNC, &a)) {
		dest_info(d, "the source's discards are applied (SYNC %" PRIu64
			  " on every page connection)", d->sync_token);
		return 0;
	}
	err = errno;
	if (err == ETIMEDOUT)
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_ABORTED,
			  "session %u: the page connections did not deliver the SYNC frames within %g s",
			  d->id, d->o->timeout_ms / 1000.0);
	else
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "session %u: waiting for the SYNC frames: %s", d->id,
			  strerror(err));
	return -1;
}

/**
 * dest_listen() - LISTEN and deliver the device state
 * @d: the migration, in step %DEST_STEP_PACKAGED
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Return: 0, or -1 (the migration failed, or the step is wrong: @err says).
 */
int dest_listen(struct dest *d, char *err, size_t errlen)
{
	char a[PCMIG_FMT_LEN], herr[PCMIG_MAX_ERROR_TEXT];
	uint64_t t0;
	int ret;

	if (d->step != DEST_STEP_PACKAGED) {
		snprintf(err, errlen, "cannot listen in step %s",
			 dest_step_name(d->step));
		return -1;
	}
	if (wait_sync(d))
		goto fail;
	ret = dest_set_state(d, PCMIG_STATE_LISTEN);
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "session %u: set state LISTEN: %s", d->id,
			  strerror(-ret));
		goto fail;
	}
	t0 = pcmig_now_ms();
	if (d->o->state_out) {
		if (dest_write_file(d->o->state_out, d->state, d->state_len,
				    herr, sizeof(herr))) {
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM, "%s",
				  herr);
			goto fail;
		}
		dest_info(d, "device state (%s) written to %s",
			  pcmig_fmt_size(d->state_len, a, sizeof(a)),
			  d->o->state_out);
	} else if (d->o->qemu_argv) {
		dest_info(d, "loading the device state (%s) into QEMU",
			  pcmig_fmt_size(d->state_len, a, sizeof(a)));
		if (dest_qemu_load(d, herr, sizeof(herr))) {
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM, "%s",
				  herr);
			goto fail;
		}
	} else if (d->o->state_cmd) {
		dest_info(d, "loading the device state (%s) with the state command",
			  pcmig_fmt_size(d->state_len, a, sizeof(a)));
		if (dest_hook_run(d, "state command", d->o->state_cmd,
				  d->state, d->state_len, herr,
				  sizeof(herr))) {
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM, "%s",
				  herr);
			goto fail;
		}
		dest_info(d, "device state loaded in %s",
			  dest_fmt_ms(pcmig_now_ms() - t0, a, sizeof(a)));
	} else {
		dest_info(d, "note: no --state-out or --state-cmd: device state (%s) discarded",
			  pcmig_fmt_size(d->state_len, a, sizeof(a)));
	}
	dest_json_start(d, "device_state");
	dest_json_u64(d, "bytes", d->state_len);
	dest_json_str(d, "to", d->o->state_out ? "file" :
		      d->o->state_cmd ? "command" :
		      d->o->qemu_argv ? "qemu" : "discarded");
	dest_json_u64(d, "ms", pcmig_now_ms() - t0);
	dest_json_end(d);
	free(d->pkg);
	d->pkg = NULL;
	d->state = NULL;
	d->step = DEST_STEP_LISTENING;
	dest_changed(d);
	dest_service(d);
	if (d->result >= 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "%s", d->msg);
	return -1;
}

/**
 * dest_run() - RUNNING, the run hook, PACKAGED_OK
 * @d: the migration, in step %DEST_STEP_LISTENING
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Return: 0, or -1 (the migration failed, or the step is wrong: @err says).
 */
int dest_run(struct dest *d, char *err, size_t errlen)
{
	uint8_t buf[PCMIG_MSG_HDR_LEN];
	char herr[PCMIG_MAX_ERROR_TEXT], a[PCMIG_FMT_LEN];
	int ret;

	if (d->step != DEST_STEP_LISTENING) {
		snprintf(err, errlen, "cannot run in step %s",
			 dest_step_name(d->step));
		return -1;
	}
	ret = dest_set_state(d, PCMIG_STATE_RUNNING);
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "session %u: set state RUNNING: %s", d->id,
			  strerror(-ret));
		goto fail;
	}
	if (d->o->run_cmd &&
	    dest_hook_run(d, "run command", d->o->run_cmd, NULL, 0, herr,
			  sizeof(herr))) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM, "%s", herr);
		goto fail;
	}
	if (d->o->qemu_argv && dest_qemu_cont(d, herr, sizeof(herr))) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM, "%s", herr);
		goto fail;
	}
	if (d->result >= 0)
		goto fail;
	/*
	 * Paused meanwhile: PACKAGED_OK goes out after the recovery. A write
	 * that fails is a lost link like any other.
	 */
	if (d->cfd < 0 || pcmig_write_full(d->cfd, buf,
					   pcmig_empty_encode(buf, sizeof(buf),
							      PCMIG_MSG_PACKAGED_OK),
					   d->o->timeout_ms)) {
		if (!dest_can_recover(d)) {
			dest_fail(d, DEST_EXIT_FAILED, 0,
				  "cannot send PACKAGED_OK: the control connection is lost");
			goto fail;
		}
		d->ok_pending = true;
		if (d->cfd >= 0) {
			close(d->cfd);
			d->cfd = -1;
			dest_set_state(d, PCMIG_STATE_PAUSED);
		}
	}
	d->t_run = pcmig_now_ms();
	d->step = DEST_STEP_RUNNING;
	dest_info(d, "running %s after the source connected",
		  dest_fmt_ms(d->t_run - d->t_start, a, sizeof(a)));
	dest_json_start(d, "running");
	dest_json_u64(d, "id", d->id);
	dest_json_u64(d, "time_to_run_ms", d->t_run - d->t_start);
	dest_json_end(d);
	dest_changed(d);
	dest_react(d);		/* END may have come already */
	return 0;
fail:
	snprintf(err, errlen, "%s", d->msg);
	return -1;
}

/**
 * dest_finish() - after the result is decided: summary and clean-up
 * @d: the migration
 *
 * The session file is closed: an auto-destroy session lives on for as long
 * as a VMM maps it.
 */
void dest_finish(struct dest *d)
{
	/* Never a summary without a decided result (exit -1, no message). */
	if (d->result < 0)
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "internal error: the migration ended without a result");
	dest_qemu_finish(d);
	/* The module's last events (pause, failure, destroy) go out too. */
	dest_read_events(d);
	if (d->sfd >= 0)
		dest_read_status(d);
	dest_summary(d);
	if (d->result == DEST_EXIT_DONE)
		dest_info(d, "done: session %u (%s) complete", d->id,
			  d->node);
	if (d->have_ev)
		pcmig_events_close(&d->ev);
	d->have_ev = false;
	if (d->cfd >= 0)
		close(d->cfd);
	if (d->ufd >= 0)
		close(d->ufd);
	if (d->bfd >= 0)
		close(d->bfd);
	if (d->lfd >= 0)
		close(d->lfd);
	if (d->sfd >= 0)
		close(d->sfd);
	d->cfd = d->ufd = d->bfd = d->lfd = -1;
	d->sfd = -1;
	free(d->pkg);
	d->pkg = NULL;
	dest_changed(d);
}
