// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: setting up an incoming migration, before ADVISE: the state
 * from the options, the key, the page size, the layout check and the
 * listening socket (dest_prepare()), then the control, urgent and bulk
 * connections, accepted and authenticated (dest_connect()).
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
#include <sys/socket.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

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
	if (d->o->qemu_argv && dest_qemu_prepare(d))
		return d->result;

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
	uint64_t deadline = pcmig_now_ms() + (uint64_t)d->o->timeout_ms;
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
		if (!first && pcmig_now_ms() >= deadline)
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
		d->t_start = pcmig_now_ms();
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
	/* The source comes back to the same address after a lost link. */
	if (d->o->no_recover) {
		close(d->lfd);
		d->lfd = -1;
	}

	dest_json_start(d, "connected");
	dest_json_str(d, "peer", d->peer);
	dest_json_str(d, "session_id", pcmig_fmt_hex(d->session_id,
						     sizeof(d->session_id),
						     caps, sizeof(caps)));
	dest_json_u64(d, "version", hs.version);
	dest_json_str(d, "caps", caps_str(d->caps, caps, sizeof(caps)));
	dest_json_end(d);
	return 0;
}

/* The id of the live session named @name: 0, -ENOENT, or an errno. */
static int find_session(const char *name, uint32_t *id)
{
	struct pcmig_session *list = NULL;
	struct pcmig_genl g;
	size_t i, n = 0;
	int ret;

	ret = pcmig_genl_open(&g);
	if (ret)
		return ret;
	ret = pcmig_genl_session_dump(&g, &list, &n);
	pcmig_genl_close(&g);
	if (ret)
		return ret;
	ret = -ENOENT;
	for (i = 0; i < n; i++) {
		if (pcmig_has(&list[i], PCMIG_ATTR_NAME) &&
		    !strcmp(list[i].name, name) &&
		    pcmig_has(&list[i], PCMIG_ATTR_ID)) {
			*id = list[i].id;
			ret = 0;
			break;
		}
	}
	free(list);
	return ret;
}

/**
 * dest_attach_existing() - take over the session of a destination tool
 * that died (incoming --attach NAME)
 * @d: the migration, after dest_prepare()
 *
 * The session must have reached RUNNING (its VMM runs): this tool serves
 * the source's reconnection, sends PACKAGED_OK again (the source ignores a
 * second one) and follows the session to its end. The migration's session
 * id and capabilities come from the first authenticated source that
 * reconnects (dest_recover.c), checked against --session-id if given, or
 * against a default session name ("mig-" and the id's first 8 bytes).
 *
 * Return: 0, or -1 with the result decided.
 */
int dest_attach_existing(struct dest *d)
{
	const char *name = d->o->attach;
	uint32_t id, state;
	char path[32];
	int ret;

	ret = find_session(name, &id);
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, 0, "--attach %s: %s", name,
			  ret == -ENOENT ? "no session of that name" :
			  strerror(-ret));
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/%s%u", PCMIG_NAME, id);
	d->sfd = open(path, O_RDWR | O_CLOEXEC);
	if (d->sfd < 0) {
		dest_fail(d, DEST_EXIT_FAILED, 0, "--attach %s: %s: %s", name,
			  path, strerror(errno));
		return -1;
	}
	d->id = id;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->node, sizeof(d->node), "%s", path);
	ret = dest_read_status(d);
	if (ret) {
		dest_fail(d, DEST_EXIT_FAILED, 0, "--attach %s: status: %s",
			  name, strerror(-ret));
		return -1;
	}
	state = d->kstate == PCMIG_STATE_PAUSED ||
		d->kstate == PCMIG_STATE_RECOVER ? d->st.resume_state :
		d->kstate;
	if (state != PCMIG_STATE_RUNNING) {
		dest_fail(d, DEST_EXIT_FAILED, 0,
			  "--attach %s: session %u is %s (from %s): only a session that reached RUNNING can be taken over",
			  name, id, pcmig_state_name(d->kstate) ?: "?",
			  pcmig_state_name(state) ?: "?");
		return -1;
	}
	if (d->st.size != d->size) {
		dest_fail(d, DEST_EXIT_FAILED, 0,
			  "--attach %s: the session has %" PRIu64 " bytes, the --ram blocks add up to %" PRIu64,
			  name, (uint64_t)d->st.size, d->size);
		return -1;
	}
	ret = pcmig_events_open(&d->ev);
	if (ret)
		dest_warn(d, "netlink events unavailable (%s): following the session by polling",
			  strerror(-ret));
	else
		d->have_ev = true;
	d->adopt = true;
	d->step = DEST_STEP_RUNNING;
	d->ok_pending = true;
	d->t_start = d->t_run = pcmig_now_ms();
	dest_info(d, "attached to session %u '%s' (%s, %s): waiting for the source to reconnect",
		  id, name, path, pcmig_state_name(d->kstate) ?: "?");
	dest_json_start(d, "attached");
	dest_json_u64(d, "id", id);
	dest_json_str(d, "name", name);
	dest_json_str(d, "node", path);
	dest_json_end(d);
	dest_changed(d);
	return 0;
}
