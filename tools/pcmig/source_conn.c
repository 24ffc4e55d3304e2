// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the connections of "pcmig-tool migrate": connecting and
 * handshaking the control, urgent and bulk connections, writing on
 * control, and ADVISE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "source_int.h"

/**
 * src_hs_init() - the handshake parameters of one of the migration's
 * connections
 * @s: the migration (key, session id, layout, time limit)
 * @hs: filled
 * @role: PCMIG_ROLE_*
 * @caps: capabilities offered
 * @required: capabilities required
 */
void src_hs_init(struct src *s, struct pcmig_hs *hs, uint8_t role,
		 uint64_t caps, uint64_t required)
{
	memset(hs, 0, sizeof(*hs));
	hs->key = s->key;
	hs->keylen = s->keylen;
	hs->role = role;
	hs->caps_supported = caps;
	hs->caps_required = required;
	memcpy(hs->session_id, s->sid, PCMIG_SESSION_ID_LEN);
	hs->page_size = s->page_size;
	hs->nblocks = s->nblocks;
	hs->blocks = s->layout;
	hs->timeout_ms = s->timeout_ms;
}

static int connect_one(struct src *s, uint8_t role, uint64_t caps,
		       uint64_t required, uint64_t *negotiated)
{
	struct pcmig_hs hs;
	char err[256];
	int fd;

	fd = pcmig_tcp_connect(s->connect, s->timeout_ms, err, sizeof(err));
	if (fd < 0) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", err);
		return -1;
	}
	src_hs_init(s, &hs, role, caps, required);
	if (pcmig_hs_client(fd, &hs)) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", hs.err);
		close(fd);
		return -1;
	}
	*negotiated = hs.caps;
	return fd;
}

/**
 * src_connect_all() - the control, urgent and bulk connections
 * @s: the migration
 *
 * Connect and handshake each; the bulk connection only if both sides
 * agree on it.
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_connect_all(struct src *s)
{
	uint64_t caps = PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_DISCARD, got, req = 0;
	if (!s->no_bulk)
		caps |= PCMIG_CAP_BULK_CHANNEL;
	if (s->ndiscards)
		req |= PCMIG_CAP_DISCARD;
	if (pcmig_random(s->sid, sizeof(s->sid))) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "no random numbers");
		return -1;
	}
	s->ctl = connect_one(s, PCMIG_ROLE_CONTROL, caps, req, &s->caps);
	if (s->ctl < 0)
		return -1;
	s->zero_frames = s->caps & PCMIG_CAP_ZERO_PAGES;
	s->urg = connect_one(s, PCMIG_ROLE_URGENT, caps, req, &got);
	if (s->urg < 0)
		return -1;
	if (s->caps & PCMIG_CAP_BULK_CHANNEL) {
		s->bulk = connect_one(s, PCMIG_ROLE_BULK, caps, req, &got);
		if (s->bulk < 0)
			return -1;
	}
	return 0;
}

/**
 * src_ctl_send() - write a whole message on the control connection
 * @s: the migration
 * @buf: the message
 * @len: its length
 * @what: the message's name, for the failure
 *
 * Return: 0, or a negative errno (recorded with src_fail()).
 */
int src_ctl_send(struct src *s, const void *buf, size_t len,
		 const char *what)
{
	int ret = pcmig_write_full(s->ctl, buf, len, s->timeout_ms);
	char ebuf[128];

	if (ret)
		src_fail(s, PCMIG_ERR_ABORTED, 0, "sending %s: %s", what,
			 src_io_error(s, ret, ebuf, sizeof(ebuf)));
	return ret;
}

/**
 * src_advise() - ADVISE the destination of the memory, wait for ADVISE_OK
 * @s: the migration
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_advise(struct src *s)
{
	struct pcmig_advise a = { .size = s->size, .page_size = s->page_size };
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_ADVISE_LEN];
	struct pcmig_error_msg perr;
	struct pcmig_advise_ok ok;
	struct pcmig_msg_hdr h;
	void *p = NULL;
	char ebuf[128];
	int n, ret;

	n = pcmig_advise_encode(buf, sizeof(buf), &a);
	if (n < 0 || src_ctl_send(s, buf, n, "ADVISE"))
		return -1;
	ret = pcmig_msg_recv(s->ctl, &h, &p, PCMIG_ADVISE_OK_LEN,
			     s->timeout_ms, &perr);
	if (ret == -ECONNABORTED) {
		src_fail(s, perr.code, 0, "destination refused ADVISE: %s (%s)",
			 perr.text, pcmig_err_name(perr.code));
		return -1;
	}
	if (ret == -EPROTO) {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "malformed answer to ADVISE");
		return -1;
	}
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, 0, "no answer to ADVISE: %s",
			 ret == -ETIMEDOUT ? "timed out" :
			 src_io_error(s, ret, ebuf, sizeof(ebuf)));
		return -1;
	}
	ret = h.type == PCMIG_MSG_ADVISE_OK ?
	      pcmig_advise_ok_decode(p, h.len, &ok) : -EPROTO;
	free(p);
	if (ret) {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "expected ADVISE_OK, got %s", pcmig_msg_name(h.type));
		return -1;
	}
	s->dest_session = ok.session;
	return 0;
}
