// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the connection handshake: HELLO, HELLO_ACK, AUTH, AUTH_OK.
 *
 * Version and capability negotiation, page size and RAM layout checks, and
 * mutual authentication with a pre-shared key: each side proves the key
 * with an HMAC over the source's HELLO (which carries the source's nonce
 * and everything negotiated) and the destination's nonce. Any mismatch ends
 * with an ERROR message to the peer and a clear message locally.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static const char * const role_names[] = {
	[PCMIG_ROLE_CONTROL] = "control",
	[PCMIG_ROLE_URGENT] = "urgent",
	[PCMIG_ROLE_BULK] = "bulk",
};

static const char *role_name(uint8_t role)
{
	return role >= PCMIG_ROLE_CONTROL && role <= PCMIG_ROLE_BULK ?
	       role_names[role] : "unknown";
}

/* Record a failure; tell the peer unless @tell is false. */
static int hs_fail(int fd, struct pcmig_hs *hs, int ret, uint32_t code,
		   bool tell, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(hs->err, sizeof(hs->err), fmt, ap);
	va_end(ap);
	hs->err_code = code;
	if (tell)
		pcmig_msg_send_error(fd, code, hs->err);
	return ret;
}

/* Failure of a receive: the peer's ERROR, a timeout, a closed connection. */
static int hs_recv_fail(int fd, struct pcmig_hs *hs, int ret,
			const struct pcmig_error_msg *peer, const char *what)
{
	/* The peer's text already says what went wrong. */
	if (ret == -ECONNABORTED)
		return hs_fail(fd, hs, ret, peer->code, false,
			       "peer refused the %s connection: %s",
			       role_name(hs->role), peer->text[0] ? peer->text :
			       pcmig_err_name(peer->code));
	if (ret == -EPROTO)
		return hs_fail(fd, hs, ret, PCMIG_ERR_PROTOCOL, true,
			       "malformed message instead of %s", what);
	return hs_fail(fd, hs, ret, PCMIG_ERR_PROTOCOL, false,
		       "no %s from the peer: %s", what,
		       ret == -ECONNRESET ? "connection closed" :
		       strerror(-ret));
}

/* Receive a message that must be of @type; the payload is malloc()ed. */
static int hs_expect(int fd, struct pcmig_hs *hs, uint8_t type, void **p,
		     uint32_t *len)
{
	struct pcmig_error_msg peer;
	struct pcmig_msg_hdr h;
	int ret;

	ret = pcmig_msg_recv(fd, &h, p, pcmig_msg_max_len(type),
			     hs->timeout_ms, &peer);
	if (ret)
		return hs_recv_fail(fd, hs, ret, &peer, pcmig_msg_name(type));
	if (h.type != type) {
		free(*p);
		*p = NULL;
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_PROTOCOL, true,
			       "expected %s, got %s", pcmig_msg_name(type),
			       pcmig_msg_name(h.type));
	}
	*len = h.len;
	return 0;
}

/**
 * pcmig_hs_client() - the source's side of the handshake
 * @fd: a new connection to the destination
 * @hs: parameters; results on success, hs->err on failure
 *
 * Return: 0; -ECONNABORTED when the destination refused; -EACCES when the
 * destination did not prove the key; -EPROTO; an I/O error.
 */
int pcmig_hs_client(int fd, struct pcmig_hs *hs)
{
	uint8_t buf[PCMIG_MSG_HDR_LEN + PCMIG_HELLO_FIXED_LEN +
		    PCMIG_MAX_BLOCKS * PCMIG_BLOCK_WIRE_LEN];
	uint8_t out[PCMIG_MSG_HDR_LEN + PCMIG_MAC_LEN];
	uint8_t mac[PCMIG_MAC_LEN];
	struct pcmig_hello_ack ack;
	struct pcmig_hello h;
	void *p = NULL;
	uint32_t len;
	int n, ret;

	memset(&h, 0, sizeof(h));
	h.version_min = PCMIG_PROTO_VERSION_MIN;
	h.version_max = PCMIG_PROTO_VERSION;
	h.role = hs->role;
	h.caps_supported = hs->caps_supported;
	h.caps_required = hs->caps_required;
	memcpy(h.session_id, hs->session_id, PCMIG_SESSION_ID_LEN);
	h.page_size = hs->page_size;
	h.nblocks = hs->role == PCMIG_ROLE_CONTROL ? hs->nblocks : 0;
	if (h.nblocks > PCMIG_MAX_BLOCKS)
		return hs_fail(fd, hs, -EINVAL, PCMIG_ERR_LAYOUT, false,
			       "too many RAM blocks (%u, at most %d)",
			       h.nblocks, PCMIG_MAX_BLOCKS);
	memcpy(h.blocks, hs->blocks, h.nblocks * sizeof(h.blocks[0]));
	if (pcmig_random(h.nonce, sizeof(h.nonce)))
		return hs_fail(fd, hs, -EIO, PCMIG_ERR_INTERNAL, false,
			       "no random numbers");

	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	if (n < 0)
		return hs_fail(fd, hs, n, PCMIG_ERR_INTERNAL, false,
			       "cannot encode HELLO");
	ret = pcmig_write_full(fd, buf, n, hs->timeout_ms);
	if (ret)
		return hs_fail(fd, hs, ret, PCMIG_ERR_PROTOCOL, false,
			       "sending HELLO: %s", strerror(-ret));

	ret = hs_expect(fd, hs, PCMIG_MSG_HELLO_ACK, &p, &len);
	if (ret)
		return ret;
	ret = pcmig_hello_ack_decode(p, len, &ack);
	free(p);
	if (ret)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_PROTOCOL, true,
			       "malformed HELLO_ACK");

	/* The destination proves the key before we give anything away. */
	if (pcmig_mac_dst(hs->key, hs->keylen, buf + PCMIG_MSG_HDR_LEN,
			  n - PCMIG_MSG_HDR_LEN, ack.nonce, mac))
		return hs_fail(fd, hs, -EIO, PCMIG_ERR_INTERNAL, true,
			       "cannot compute the HMAC");
	if (!pcmig_mac_equal(mac, ack.mac))
		return hs_fail(fd, hs, -EACCES, PCMIG_ERR_AUTH, true,
			       "authentication failed: the destination does not know the key");
	if (ack.version < PCMIG_PROTO_VERSION_MIN ||
	    ack.version > PCMIG_PROTO_VERSION)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_VERSION, true,
			       "destination chose protocol version %u, we speak %d to %d",
			       ack.version, PCMIG_PROTO_VERSION_MIN,
			       PCMIG_PROTO_VERSION);
	if (ack.caps & ~hs->caps_supported)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_CAPS, true,
			       "destination accepted capabilities we did not offer (0x%" PRIx64 ")",
			       ack.caps & ~hs->caps_supported);
	if (hs->caps_required & ~ack.caps)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_CAPS, true,
			       "destination lacks required capabilities 0x%" PRIx64,
			       hs->caps_required & ~ack.caps);

	if (pcmig_mac_src(hs->key, hs->keylen, buf + PCMIG_MSG_HDR_LEN,
			  n - PCMIG_MSG_HDR_LEN, ack.nonce, mac))
		return hs_fail(fd, hs, -EIO, PCMIG_ERR_INTERNAL, true,
			       "cannot compute the HMAC");
	n = pcmig_auth_encode(out, sizeof(out), mac);
	ret = pcmig_write_full(fd, out, n, hs->timeout_ms);
	if (ret)
		return hs_fail(fd, hs, ret, PCMIG_ERR_PROTOCOL, false,
			       "sending AUTH: %s", strerror(-ret));

	ret = hs_expect(fd, hs, PCMIG_MSG_AUTH_OK, &p, &len);
	free(p);
	if (ret)
		return ret;
	hs->version = ack.version;
	hs->caps = ack.caps;
	return 0;
}

static void human_size(uint64_t v, char *buf, size_t len)
{
	if (v && !(v % (1ULL << 30)))
		snprintf(buf, len, "%" PRIu64 " GiB", v >> 30);
	else if (v && !(v % (1ULL << 20)))
		snprintf(buf, len, "%" PRIu64 " MiB", v >> 20);
	else
		snprintf(buf, len, "%" PRIu64 " bytes", v);
}

/* The control connection's layout against ours. */
static int hs_check_layout(int fd, struct pcmig_hs *hs,
			   const struct pcmig_hello *h)
{
	char a[32], b[32];
	uint64_t total;
	uint32_t i;

	if (pcmig_layout_check(h->blocks, h->nblocks, h->page_size, &total))
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_LAYOUT, true,
			       "invalid RAM layout from the source");
	if (!hs->nblocks)
		return 0;
	if (h->nblocks != hs->nblocks)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_LAYOUT, true,
			       "RAM layout mismatch: source has %u blocks, destination %u",
			       h->nblocks, hs->nblocks);
	for (i = 0; i < h->nblocks; i++) {
		if (strcmp(h->blocks[i].name, hs->blocks[i].name))
			return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_LAYOUT, true,
				       "RAM layout mismatch: block %u is '%s' at the source, '%s' here",
				       i, h->blocks[i].name,
				       hs->blocks[i].name);
		if (h->blocks[i].size != hs->blocks[i].size) {
			human_size(h->blocks[i].size, a, sizeof(a));
			human_size(hs->blocks[i].size, b, sizeof(b));
			return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_LAYOUT, true,
				       "RAM layout mismatch: block '%s' is %s at the source, %s here",
				       h->blocks[i].name, a, b);
		}
	}
	return 0;
}

/* Everything in a HELLO but the MAC. */
static int hs_check_hello(int fd, struct pcmig_hs *hs,
			  const struct pcmig_hello *h)
{
	uint16_t top = h->version_max < PCMIG_PROTO_VERSION ?
		       h->version_max : PCMIG_PROTO_VERSION;

	if (top < h->version_min || top < PCMIG_PROTO_VERSION_MIN)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_VERSION, true,
			       "no common protocol version: source speaks %u to %u, destination %d to %d",
			       h->version_min, h->version_max,
			       PCMIG_PROTO_VERSION_MIN, PCMIG_PROTO_VERSION);
	hs->version = top;
	if (h->role != hs->role)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_PROTOCOL, true,
			       "expected the %s connection, got %s",
			       role_name(hs->role), role_name(h->role));
	if (h->page_size != hs->page_size)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_PAGE_SIZE, true,
			       "page size mismatch: source %u bytes, destination %u",
			       h->page_size, hs->page_size);
	if (h->caps_required & ~hs->caps_supported)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_CAPS, true,
			       "source requires capabilities 0x%" PRIx64 " the destination lacks",
			       h->caps_required & ~hs->caps_supported);
	if (hs->caps_required & ~h->caps_supported)
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_CAPS, true,
			       "destination requires capabilities 0x%" PRIx64 " the source lacks",
			       hs->caps_required & ~h->caps_supported);
	hs->caps = h->caps_supported & hs->caps_supported;

	if (h->role == PCMIG_ROLE_CONTROL) {
		memcpy(hs->session_id, h->session_id, PCMIG_SESSION_ID_LEN);
		return hs_check_layout(fd, hs, h);
	}
	if (memcmp(h->session_id, hs->session_id, PCMIG_SESSION_ID_LEN))
		return hs_fail(fd, hs, -EPROTO, PCMIG_ERR_SESSION, true,
			       "%s connection for another migration session",
			       role_name(h->role));
	return 0;
}

/**
 * pcmig_hs_server() - the destination's side of the handshake
 * @fd: an accepted connection
 * @hs: parameters (hs->role: the connection expected next); results on
 *	success, hs->err on failure
 *
 * Return: 0; -ECONNABORTED when the source gave up; -EACCES when the source
 * did not prove the key; -EPROTO for any mismatch; an I/O error.
 */
int pcmig_hs_server(int fd, struct pcmig_hs *hs)
{
	uint8_t out[PCMIG_MSG_HDR_LEN + PCMIG_HELLO_ACK_LEN];
	uint8_t mac[PCMIG_MAC_LEN];
	struct pcmig_hello_ack ack;
	struct pcmig_hello *h = &hs->peer;
	void *hello = NULL, *p = NULL;
	uint32_t hello_len, len;
	int n, ret;

	ret = hs_expect(fd, hs, PCMIG_MSG_HELLO, &hello, &hello_len);
	if (ret)
		return ret;
	if (pcmig_hello_decode(hello, hello_len, h)) {
		ret = hs_fail(fd, hs, -EPROTO, PCMIG_ERR_PROTOCOL, true,
			      "malformed HELLO");
		goto out;
	}
	ret = hs_check_hello(fd, hs, h);
	if (ret)
		goto out;

	memset(&ack, 0, sizeof(ack));
	ack.version = hs->version;
	ack.caps = hs->caps;
	if (pcmig_random(ack.nonce, sizeof(ack.nonce)) ||
	    pcmig_mac_dst(hs->key, hs->keylen, hello, hello_len, ack.nonce,
			  ack.mac)) {
		ret = hs_fail(fd, hs, -EIO, PCMIG_ERR_INTERNAL, true,
			      "cannot compute the HMAC");
		goto out;
	}
	n = pcmig_hello_ack_encode(out, sizeof(out), &ack);
	ret = pcmig_write_full(fd, out, n, hs->timeout_ms);
	if (ret) {
		ret = hs_fail(fd, hs, ret, PCMIG_ERR_PROTOCOL, false,
			      "sending HELLO_ACK: %s", strerror(-ret));
		goto out;
	}

	ret = hs_expect(fd, hs, PCMIG_MSG_AUTH, &p, &len);
	if (ret)
		goto out;
	if (pcmig_auth_decode(p, len, mac)) {
		ret = hs_fail(fd, hs, -EPROTO, PCMIG_ERR_PROTOCOL, true,
			      "malformed AUTH");
		goto out;
	}
	if (pcmig_mac_src(hs->key, hs->keylen, hello, hello_len, ack.nonce,
			  ack.mac)) {
		ret = hs_fail(fd, hs, -EIO, PCMIG_ERR_INTERNAL, true,
			      "cannot compute the HMAC");
		goto out;
	}
	if (!pcmig_mac_equal(mac, ack.mac)) {
		ret = hs_fail(fd, hs, -EACCES, PCMIG_ERR_AUTH, true,
			      "authentication failed: the source does not know the key");
		goto out;
	}
	n = pcmig_empty_encode(out, sizeof(out), PCMIG_MSG_AUTH_OK);
	ret = pcmig_write_full(fd, out, n, hs->timeout_ms);
	if (ret)
		ret = hs_fail(fd, hs, ret, PCMIG_ERR_PROTOCOL, false,
			      "sending AUTH_OK: %s", strerror(-ret));
out:
	free(p);
	free(hello);
	return ret;
}
