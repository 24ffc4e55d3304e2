// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the destination's migration engine.
 *
 * Connections and handshakes, ADVISE (kernel checks, session, attaching the
 * page connections), PACKAGED (read whole, then LISTEN, device state,
 * RUNNING, run hook, PACKAGED_OK), and following the session to END
 * with the netlink events (subscribed before the session exists) and
 * PCMIG_IOC_STATUS. Every failure ends in dest_fail(): a message, ERROR to
 * the source while the control connection is up, the session moved to
 * FAILED and destroyed (unless --keep).
 *
 * The engine runs in one thread around poll(); incoming drives it alone,
 * the step daemon adds its control socket to the same poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

/* Capabilities the destination offers. */
#define DEST_CAPS	(PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_DISCARD | \
			 PCMIG_CAP_BULK_CHANNEL)

/* After the control connection closed: time for the session to pause. */
#define CONTROL_LOST_GRACE_MS	1000

/* Event datagrams read in one go (the rest waits for the next look). */
#define EVENTS_PER_TICK		256

/* How often the status is read when there is no event socket. */
#define POLL_NO_EVENTS_MS	100

static int read_status(struct dest *d);

static const char *caps_str(uint64_t caps, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s",
		 caps & PCMIG_CAP_ZERO_PAGES ? "zero_pages " : "",
		 caps & PCMIG_CAP_BULK_CHANNEL ? "bulk_channel " : "",
		 caps & PCMIG_CAP_DISCARD ? "discard " : "",
		 caps ? "" : "none");
	if (buf[0] && buf[strlen(buf) - 1] == ' ')
		buf[strlen(buf) - 1] = '\0';
	return buf;
}

/**
 * dest_init() - set up a migration from its options
 * @d: the migration
 * @o: options (kept)
 * @aborted: set non-zero by a signal handler to stop
 */
void dest_init(struct dest *d, struct dest_opts *o, volatile int *aborted)
{
	uint32_t i;

	memset(d, 0, sizeof(*d));
	d->o = o;
	d->lfd = d->cfd = d->ufd = d->bfd = d->sfd = -1;
	d->result = -1;
	d->aborted = aborted;
	d->tty = !o->quiet && isatty(STDERR_FILENO);
	d->events_out = o->json ? stdout : NULL;
	for (i = 0; i < o->nblocks; i++)
		d->size += o->blocks[i].size;
}

/**
 * dest_prepare() - before any connection: key, layout, listening socket
 * @d: the migration
 *
 * A failure is decided with dest_fail() like any other: @d->result and
 * @d->msg are set, so that the summary says what happened.
 *
 * Return: 0, %DEST_EXIT_USAGE for a layout that cannot be, or
 * %DEST_EXIT_FAILED (message printed).
 */
int dest_prepare(struct dest *d)
{
	struct pcmig_version ver;
	char err[512];
	uint64_t total;
	long ps;
	int ret;

	ret = pcmig_key_load(d->o->key_file, d->key, &d->keylen, err,
			     sizeof(err));
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, 0, "%s", err);
		return d->result;
	}

	ps = sysconf(_SC_PAGESIZE);
	d->page_size = ps > 0 ? (uint32_t)ps : 4096;
	ret = pcmig_ctl_version(&ver);
	if (!ret)
		d->page_size = ver.page_size;
	else if (ret == -ENOENT)
		dest_warn(d, "pcmig.ko is not loaded (no %s): the source will be refused",
			    PCMIG_CTL_PATH);
	else
		dest_warn(d, "%s: %s", PCMIG_CTL_PATH,
			    strerror(-ret));

	if (pcmig_layout_check(d->o->blocks, d->o->nblocks, d->page_size,
			       &total)) {
		dest_fail(d, DEST_EXIT_USAGE, 0,
			  "bad --ram layout: every block needs a unique name and a size that is a multiple of %u bytes, %" PRIu64 " TiB at most in all",
			  d->page_size, (uint64_t)PCMIG_MAX_SIZE >> 40);
		return d->result;
	}

	d->lfd = pcmig_tcp_listen(d->o->listen, err, sizeof(err));
	if (d->lfd < 0) {
		dest_fail(d, DEST_EXIT_FAILED, 0, "%s", err);
		return d->result;
	}
	dest_info(d, "listening on %s for a migration of %s", d->o->listen,
		  pcmig_fmt_size(d->size, err, sizeof(err)));
	dest_json_start(d, "listening");
	dest_json_str(d, "address", d->o->listen);
	dest_json_u64(d, "size", d->size);
	dest_json_end(d);
	return 0;
}

static void peer_name(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getpeername(fd, (struct sockaddr *)&ss, &sl) ||
	    getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, size, "?");
		return;
	}
	if (ss.ss_family == AF_INET6)
		snprintf(buf, size, "[%s]:%s", host, port);
	else
		snprintf(buf, size, "%s:%s", host, port);
}

/*
 * Accept the next connection. The first waits as long as it takes (the
 * source may start later), watching for signals; the others within the
 * timeout.
 */
static int accept_one(struct dest *d, bool first)
{
	uint64_t deadline = dest_now_ms() + (uint64_t)d->o->timeout_ms;
	int fd;

	for (;;) {
		if (d->aborted && *d->aborted)
			return -EINTR;
		/* TCP_NODELAY, and the link timeout: pcmig_tcp_accept(). */
		fd = pcmig_tcp_accept(d->lfd, 1000);
		if (fd >= 0)
			return fd;
		if (fd != -ETIMEDOUT)
			return fd;
		if (!first && dest_now_ms() >= deadline)
			return -ETIMEDOUT;
	}
}

static const char *role_str(uint8_t role)
{
	switch (role) {
	case PCMIG_ROLE_CONTROL:
		return "control";
	case PCMIG_ROLE_URGENT:
		return "urgent";
	default:
		return "bulk";
	}
}

/* Accept and authenticate the connection of @role; returns it or -1. */
static int connect_role(struct dest *d, struct pcmig_hs *hs, uint8_t role)
{
	char who[sizeof(((struct dest *)0)->peer)];
	int fd, ret;

	fd = accept_one(d, role == PCMIG_ROLE_CONTROL);
	if (fd < 0) {
		if (fd == -EINTR)
			dest_fail(d, DEST_EXIT_FAILED, 0,
				  "interrupted while waiting for the source");
		else
			dest_fail(d, DEST_EXIT_FAILED, 0,
				  "no %s connection from the source: %s",
				  role_str(role), strerror(-fd));
		return -1;
	}
	peer_name(fd, who, sizeof(who));
	hs->role = role;
	ret = pcmig_hs_server(fd, hs);
	if (ret) {
		close(fd);
		/* The handshake told the source already. */
		dest_fail(d, DEST_EXIT_FAILED, 0, "%s connection from %s: %s",
			  role_str(role), who, hs->err);
		return -1;
	}
	if (role == PCMIG_ROLE_CONTROL) {
		snprintf(d->peer, sizeof(d->peer), "%s", who);
		d->t_start = dest_now_ms();
	}
	return fd;
}

/**
 * dest_connect() - accept and authenticate control, urgent and bulk
 * @d: the migration, after dest_prepare()
 *
 * Return: 0, or -1 with the result decided.
 */
int dest_connect(struct dest *d)
{
	struct pcmig_hs hs;
	char caps[64];

	memset(&hs, 0, sizeof(hs));
	hs.key = d->key;
	hs.keylen = d->keylen;
	hs.caps_supported = DEST_CAPS;
	hs.page_size = d->page_size;
	hs.nblocks = d->o->nblocks;
	hs.blocks = d->o->blocks;
	hs.timeout_ms = d->o->timeout_ms;

	d->cfd = connect_role(d, &hs, PCMIG_ROLE_CONTROL);
	if (d->cfd < 0)
		return -1;
	d->caps = hs.caps;
	memcpy(d->session_id, hs.session_id, sizeof(d->session_id));
	dest_info(d, "control connection from %s (protocol %u, capabilities %s)",
		  d->peer, hs.version, caps_str(d->caps, caps, sizeof(caps)));

	d->ufd = connect_role(d, &hs, PCMIG_ROLE_URGENT);
	if (d->ufd < 0)
		return -1;
	if (d->caps & PCMIG_CAP_BULK_CHANNEL) {
		d->bfd = connect_role(d, &hs, PCMIG_ROLE_BULK);
		if (d->bfd < 0)
			return -1;
	}
	close(d->lfd);
	d->lfd = -1;

	dest_json_start(d, "connected");
	dest_json_str(d, "peer", d->peer);
	dest_json_u64(d, "version", hs.version);
	dest_json_str(d, "caps", caps_str(d->caps, caps, sizeof(caps)));
	dest_json_end(d);
	return 0;
}

/*
 * Read one control message. PACKAGED payloads come in chunks, each within
 * the timeout (a big package on a slow link is not an error), and the
 * session is looked after between chunks.
 *
 * Return: 0; -ECONNABORTED with @perr for the source's ERROR; -EPROTO;
 * -ECONNRESET at end of file; -ETIMEDOUT; -ECANCELED when the migration
 * ended meanwhile; -ENOMEM; another I/O error.
 */
static int ctl_recv(struct dest *d, struct pcmig_msg_hdr *h, void **payload,
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
	uint64_t until = dest_now_ms() + CONTROL_LOST_GRACE_MS +
			 pcmig_link_timeout() * 1000ULL;
	char why[160];

	if (d->sfd < 0)
		return false;
	for (;;) {
		if (read_status(d))
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
		if (dest_now_ms() >= until)
			return false;
		poll(NULL, 0, 50);
	}
}

/* A receive failed: say why in terms of the migration. */
static void ctl_recv_fail(struct dest *d, int ret,
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

static int set_state(struct dest *d, uint32_t state)
{
	struct pcmig_set_state s = { .state = state };

	return ioctl(d->sfd, PCMIG_IOC_SET_STATE, &s) ? -errno : 0;
}

/* Read the session's status into @d->st. */
static int read_status(struct dest *d)
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
	d->t_end = dest_now_ms();
	dest_errmsg(d, "%s", d->msg);

	if (err_code && d->cfd >= 0)
		pcmig_msg_send_error(d->cfd, err_code, d->msg);
	if (d->cfd >= 0) {
		close(d->cfd);
		d->cfd = -1;
	}

	if (d->sfd >= 0) {
		read_status(d);
		if (d->kstate != PCMIG_STATE_END) {
			if (code != DEST_EXIT_PAUSED &&
			    d->kstate != PCMIG_STATE_FAILED) {
				set_state(d, PCMIG_STATE_FAILED);
				read_status(d);
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
		read_status(d);
	}
	d->step = code == DEST_EXIT_PAUSED ? DEST_STEP_PAUSED :
		  DEST_STEP_FAILED;
	dest_json_start(d, code == DEST_EXIT_PAUSED ? "paused" : "failure");
	dest_json_u64(d, "exit", code);
	dest_json_str(d, "message", d->msg);
	dest_json_end(d);
	dest_changed(d);
}

/* ADVISE: the kernel checks, the session, the page connections. */
static void do_advise(struct dest *d, const void *p, uint32_t len)
{
	struct pcmig_create cr = { 0 };
	struct pcmig_attach at = { 0 };
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

	at.fd = d->ufd;
	at.channels = PCMIG_CHANNEL_URGENT |
		      (d->bfd < 0 ? PCMIG_CHANNEL_BULK : 0);
	if (ioctl(d->sfd, PCMIG_IOC_ATTACH, &at)) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "attach the urgent connection: %s", strerror(errno));
		goto out;
	}
	if (d->bfd >= 0) {
		at.fd = d->bfd;
		at.channels = PCMIG_CHANNEL_BULK;
		if (ioctl(d->sfd, PCMIG_IOC_ATTACH, &at)) {
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
				  "attach the bulk connection: %s",
				  strerror(errno));
			goto out;
		}
		close(d->bfd);
		d->bfd = -1;
	}
	close(d->ufd);
	d->ufd = -1;

	memset(&ok, 0, sizeof(ok));
	ok.session = d->id;
	if (send_msg(d, buf, pcmig_advise_ok_encode(buf, sizeof(buf), &ok),
		     "ADVISE_OK"))
		goto out;

	d->step = DEST_STEP_ADVISED;
	read_status(d);
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
	ret = ctl_recv(d, &h, &p, &perr);
	if (ret) {
		ctl_recv_fail(d, ret, &perr, "before ADVISE");
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

	ret = ctl_recv(d, &h, &p, &perr);
	if (ret) {
		ctl_recv_fail(d, ret, &perr, "before the migration ended");
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

/* Every page is present: DONE, then wait for DONE_ACK. */
static void do_done(struct dest *d)
{
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_DONE_LEN];
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	struct pcmig_done done;
	void *p = NULL;
	int ret;

	d->t_end = dest_now_ms();
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
	ret = ctl_recv(d, &h, &p, &perr);
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

/* Act on the session's state as the kernel reports it. */
static void react(struct dest *d)
{
	char why[160];

	if (d->result >= 0 || d->sfd < 0 || read_status(d))
		return;
	switch (d->kstate) {
	case PCMIG_STATE_FAILED:
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_ABORTED,
			  "destination session %u failed: %s", d->id,
			  dest_reason_text(d->st.reason, d->st.error, why,
					   sizeof(why)));
		break;
	case PCMIG_STATE_PAUSED:
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

/* Everything queued on the event socket (one datagram per receive). */
static void read_events(struct dest *d)
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
	uint64_t now = dest_now_ms();
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
	read_events(d);
	if (d->changed || due || !d->have_ev)
		react(d);
	if (d->changed && d->result < 0)
		dest_changed(d);
	if (due && d->result < 0) {
		d->t_tick = now;
		dest_progress(d, false);
		dest_changed(d);
	}
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
	uint64_t now = dest_now_ms(), next = d->t_tick + DEST_TICK_MS;
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
	dest_tick(d);
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
	ret = set_state(d, PCMIG_STATE_LISTEN);
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
			  "session %u: set state LISTEN: %s", d->id,
			  strerror(-ret));
		goto fail;
	}
	t0 = dest_now_ms();
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
			  dest_fmt_ms(dest_now_ms() - t0, a, sizeof(a)));
	} else {
		dest_info(d, "note: no --state-out or --state-cmd: device state (%s) discarded",
			  pcmig_fmt_size(d->state_len, a, sizeof(a)));
	}
	dest_json_start(d, "device_state");
	dest_json_u64(d, "bytes", d->state_len);
	dest_json_str(d, "to", d->o->state_out ? "file" :
		      d->o->state_cmd ? "command" : "discarded");
	dest_json_u64(d, "ms", dest_now_ms() - t0);
	dest_json_end(d);
	free(d->pkg);
	d->pkg = NULL;
	d->state = NULL;
	d->step = DEST_STEP_LISTENING;
	dest_changed(d);
	dest_tick(d);
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
	ret = set_state(d, PCMIG_STATE_RUNNING);
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
	if (d->result >= 0)
		goto fail;
	if (send_msg(d, buf, pcmig_empty_encode(buf, sizeof(buf),
						PCMIG_MSG_PACKAGED_OK),
		     "PACKAGED_OK"))
		goto fail;
	d->t_run = dest_now_ms();
	d->step = DEST_STEP_RUNNING;
	dest_info(d, "running %s after the source connected",
		  dest_fmt_ms(d->t_run - d->t_start, a, sizeof(a)));
	dest_json_start(d, "running");
	dest_json_u64(d, "id", d->id);
	dest_json_u64(d, "time_to_run_ms", d->t_run - d->t_start);
	dest_json_end(d);
	dest_changed(d);
	react(d);		/* END may have come already */
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
	/* The module's last events (pause, failure, destroy) go out too. */
	read_events(d);
	if (d->sfd >= 0)
		read_status(d);
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
