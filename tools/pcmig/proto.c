// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: encoder and decoder of the migration protocol's messages.
 *
 * Every decoder checks exact lengths and every field before it fills its
 * output; nothing is read past the given length.
 */
#include <errno.h>
#include <string.h>

#include <linux/pcmig.h>

#include "proto.h"
#include "wire.h"

static const char * const msg_names[PCMIG_MSG_TYPE_MAX + 1] = {
	[PCMIG_MSG_HELLO] = "HELLO",
	[PCMIG_MSG_HELLO_ACK] = "HELLO_ACK",
	[PCMIG_MSG_AUTH] = "AUTH",
	[PCMIG_MSG_AUTH_OK] = "AUTH_OK",
	[PCMIG_MSG_ERROR] = "ERROR",
	[PCMIG_MSG_ADVISE] = "ADVISE",
	[PCMIG_MSG_ADVISE_OK] = "ADVISE_OK",
	[PCMIG_MSG_DISCARD] = "DISCARD",
	[PCMIG_MSG_PACKAGED] = "PACKAGED",
	[PCMIG_MSG_PACKAGED_OK] = "PACKAGED_OK",
	[PCMIG_MSG_DONE] = "DONE",
	[PCMIG_MSG_DONE_ACK] = "DONE_ACK",
	[PCMIG_MSG_LISTEN] = "LISTEN",
	[PCMIG_MSG_DEVICE_STATE] = "DEVICE_STATE",
	[PCMIG_MSG_RUN] = "RUN",
	[PCMIG_MSG_SYNC] = "SYNC",
	[PCMIG_MSG_RESUME] = "RESUME",
	[PCMIG_MSG_RESUME_OK] = "RESUME_OK",
	[PCMIG_MSG_MISSING] = "MISSING",
	[PCMIG_MSG_RESUMED] = "RESUMED",
};

/**
 * pcmig_msg_name() - name of a message type
 * @type: message type
 *
 * Return: a static string, "unknown" for an unknown type.
 */
const char *pcmig_msg_name(uint8_t type)
{
	if (type > PCMIG_MSG_TYPE_MAX || !msg_names[type])
		return "unknown";
	return msg_names[type];
}

static const char * const err_names[PCMIG_ERR_MAX + 1] = {
	[PCMIG_ERR_NONE] = "no error",
	[PCMIG_ERR_PROTOCOL] = "protocol error",
	[PCMIG_ERR_VERSION] = "no common protocol version",
	[PCMIG_ERR_AUTH] = "authentication failed",
	[PCMIG_ERR_PAGE_SIZE] = "page size mismatch",
	[PCMIG_ERR_LAYOUT] = "RAM layout mismatch",
	[PCMIG_ERR_CAPS] = "required capability missing",
	[PCMIG_ERR_SESSION] = "unknown migration session",
	[PCMIG_ERR_KERNEL] = "kernel side cannot do postcopy",
	[PCMIG_ERR_PACKAGE] = "bad device-state package",
	[PCMIG_ERR_VMM] = "VMM hook failed",
	[PCMIG_ERR_ABORTED] = "aborted",
	[PCMIG_ERR_INTERNAL] = "internal error",
};

/**
 * pcmig_err_name() - description of an ERROR code
 * @code: PCMIG_ERR_*
 *
 * Return: a static string, "unknown error" for an unknown code.
 */
const char *pcmig_err_name(uint32_t code)
{
	if (code > PCMIG_ERR_MAX)
		return "unknown error";
	return err_names[code];
}

/**
 * pcmig_msg_max_len() - largest payload a message type may carry
 * @type: message type
 *
 * Return: bytes; 0 for unknown types and types without payload.
 */
uint32_t pcmig_msg_max_len(uint8_t type)
{
	switch (type) {
	case PCMIG_MSG_HELLO:
		return PCMIG_HELLO_FIXED_LEN +
		       PCMIG_MAX_BLOCKS * PCMIG_BLOCK_WIRE_LEN;
	case PCMIG_MSG_HELLO_ACK:
		return PCMIG_HELLO_ACK_LEN;
	case PCMIG_MSG_AUTH:
		return PCMIG_MAC_LEN;
	case PCMIG_MSG_ERROR:
		return 4 + PCMIG_MAX_ERROR_TEXT;
	case PCMIG_MSG_ADVISE:
		return PCMIG_ADVISE_LEN;
	case PCMIG_MSG_ADVISE_OK:
		return PCMIG_ADVISE_OK_LEN;
	case PCMIG_MSG_DISCARD:
		return 8 + PCMIG_MAX_RANGES * PCMIG_RANGE_WIRE_LEN;
	case PCMIG_MSG_PACKAGED:
	case PCMIG_MSG_DEVICE_STATE:
		return PCMIG_MAX_PACKAGE;
	case PCMIG_MSG_DONE:
		return PCMIG_DONE_LEN;
	case PCMIG_MSG_SYNC:
		return PCMIG_SYNC_LEN;
	case PCMIG_MSG_RESUME:
		return PCMIG_RESUME_LEN;
	case PCMIG_MSG_RESUME_OK:
		return PCMIG_RESUME_OK_LEN;
	case PCMIG_MSG_MISSING:
		return 8 + PCMIG_MAX_RUNS * PCMIG_RANGE_WIRE_LEN;
	default:
		return 0;
	}
}

/**
 * pcmig_msg_put_hdr() - write a message header
 * @buf: output
 * @size: bytes available at @buf
 * @type: message type
 * @len: payload length
 *
 * Return: %PCMIG_MSG_HDR_LEN, or -EMSGSIZE.
 */
int pcmig_msg_put_hdr(void *buf, size_t size, uint8_t type, uint32_t len)
{
	uint8_t *p = buf;

	if (size < PCMIG_MSG_HDR_LEN)
		return -EMSGSIZE;
	put32(p, PCMIG_PROTO_MAGIC);
	p[4] = PCMIG_PROTO_VERSION;
	p[5] = type;
	put16(p + 6, 0);
	put32(p + 8, len);
	return PCMIG_MSG_HDR_LEN;
}

/**
 * pcmig_msg_get_hdr() - check and decode a message header
 * @buf: %PCMIG_MSG_HDR_LEN bytes
 * @hdr: filled on success
 *
 * The magic, version, flags, type and the length bound of the type are
 * checked; the payload is for the type's decoder to check.
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_msg_get_hdr(const void *buf, struct pcmig_msg_hdr *hdr)
{
	const uint8_t *p = buf;
	uint32_t len;

	if (get32(p) != PCMIG_PROTO_MAGIC || p[4] != PCMIG_PROTO_VERSION ||
	    get16(p + 6))
		return -EPROTO;
	if (p[5] < 1 || p[5] > PCMIG_MSG_TYPE_MAX)
		return -EPROTO;
	len = get32(p + 8);
	if (len > pcmig_msg_max_len(p[5]))
		return -EPROTO;
	hdr->type = p[5];
	hdr->len = len;
	return 0;
}

/* Header plus room check; returns the payload pointer or NULL. */
static uint8_t *msg_start(void *buf, size_t size, uint8_t type, uint32_t len)
{
	if (size < PCMIG_MSG_HDR_LEN + (size_t)len)
		return NULL;
	pcmig_msg_put_hdr(buf, size, type, len);
	return (uint8_t *)buf + PCMIG_MSG_HDR_LEN;
}

/* A name field: printable ASCII, NUL-terminated, zero-padded. */
static bool name_valid(const char *name, size_t size)
{
	size_t i, len = strnlen(name, size);

	if (len == 0 || len == size)
		return false;
	for (i = 0; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return false;
	for (i = len; i < size; i++)
		if (name[i])
			return false;
	return true;
}

/**
 * pcmig_layout_check() - check a RAM layout
 * @b: blocks
 * @n: number of blocks, 1 to %PCMIG_MAX_BLOCKS
 * @page_size: every block size must be a non-zero multiple of it
 * @total: sum of the sizes, on success
 *
 * Names must be valid and unique; the total at most %PCMIG_MAX_SIZE.
 *
 * Return: 0, or -EINVAL.
 */
int pcmig_layout_check(const struct pcmig_block *b, uint32_t n,
		       uint32_t page_size, uint64_t *total)
{
	uint64_t sum = 0;
	uint32_t i, j;

	if (!n || n > PCMIG_MAX_BLOCKS || !page_size)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!name_valid(b[i].name, sizeof(b[i].name)))
			return -EINVAL;
		if (!b[i].size || b[i].size % page_size ||
		    b[i].size > PCMIG_MAX_SIZE - sum)
			return -EINVAL;
		sum += b[i].size;
		for (j = 0; j < i; j++)
			if (!strcmp(b[i].name, b[j].name))
				return -EINVAL;
	}
	*total = sum;
	return 0;
}

/**
 * pcmig_layout_equal() - whether two HELLOs describe the same RAM layout
 * @a: a HELLO
 * @b: another
 *
 * Return: true if the blocks are the same, in the same order.
 */
bool pcmig_layout_equal(const struct pcmig_hello *a,
			const struct pcmig_hello *b)
{
	uint32_t i;

	if (a->nblocks != b->nblocks)
		return false;
	for (i = 0; i < a->nblocks; i++)
		if (strcmp(a->blocks[i].name, b->blocks[i].name) ||
		    a->blocks[i].size != b->blocks[i].size)
			return false;
	return true;
}

/**
 * pcmig_hello_encode() - write a HELLO message
 * @buf: output
 * @size: bytes available
 * @h: the HELLO; @h->nblocks at most %PCMIG_MAX_BLOCKS
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_hello_encode(void *buf, size_t size, const struct pcmig_hello *h)
{
	uint32_t i, len;
	uint8_t *p;

	if (h->nblocks > PCMIG_MAX_BLOCKS)
		return -EMSGSIZE;
	len = PCMIG_HELLO_FIXED_LEN + h->nblocks * PCMIG_BLOCK_WIRE_LEN;
	p = msg_start(buf, size, PCMIG_MSG_HELLO, len);
	if (!p)
		return -EMSGSIZE;
	memset(p, 0, len);
	put16(p, h->version_min);
	put16(p + 2, h->version_max);
	p[4] = h->role;
	put64(p + 8, h->caps_supported);
	put64(p + 16, h->caps_required);
	memcpy(p + 24, h->session_id, PCMIG_SESSION_ID_LEN);
	put32(p + 40, h->page_size);
	memcpy(p + 44, h->nonce, PCMIG_NONCE_LEN);
	put32(p + 76, h->nblocks);
	p += PCMIG_HELLO_FIXED_LEN;
	for (i = 0; i < h->nblocks; i++, p += PCMIG_BLOCK_WIRE_LEN) {
		strncpy((char *)p, h->blocks[i].name, PCMIG_BLOCK_NAME_LEN - 1);
		put64(p + PCMIG_BLOCK_NAME_LEN, h->blocks[i].size);
	}
	return PCMIG_MSG_HDR_LEN + len;
}

/**
 * pcmig_hello_decode() - decode a HELLO payload
 * @p: payload
 * @len: its length
 * @h: filled on success
 *
 * Checks: padding zero, a known role, versions ordered, the block count
 * matching the length, blocks only on the control connection, block names
 * valid (the layout itself is for pcmig_layout_check()).
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_hello_decode(const void *p, uint32_t len, struct pcmig_hello *h)
{
	const uint8_t *b = p, *blk;
	struct pcmig_hello out;
	uint32_t i;

	if (len < PCMIG_HELLO_FIXED_LEN)
		return -EPROTO;
	memset(&out, 0, sizeof(out));
	out.version_min = get16(b);
	out.version_max = get16(b + 2);
	out.role = b[4];
	if (b[5] || b[6] || b[7])
		return -EPROTO;
	out.caps_supported = get64(b + 8);
	out.caps_required = get64(b + 16);
	memcpy(out.session_id, b + 24, PCMIG_SESSION_ID_LEN);
	out.page_size = get32(b + 40);
	memcpy(out.nonce, b + 44, PCMIG_NONCE_LEN);
	out.nblocks = get32(b + 76);

	if (!out.version_min || out.version_min > out.version_max)
		return -EPROTO;
	if (out.role < PCMIG_ROLE_CONTROL || out.role > PCMIG_ROLE_BULK)
		return -EPROTO;
	if (out.caps_required & ~out.caps_supported)
		return -EPROTO;
	if (out.nblocks > PCMIG_MAX_BLOCKS ||
	    len != PCMIG_HELLO_FIXED_LEN + out.nblocks * PCMIG_BLOCK_WIRE_LEN)
		return -EPROTO;
	if ((out.role == PCMIG_ROLE_CONTROL) != (out.nblocks > 0))
		return -EPROTO;

	blk = b + PCMIG_HELLO_FIXED_LEN;
	for (i = 0; i < out.nblocks; i++, blk += PCMIG_BLOCK_WIRE_LEN) {
		memcpy(out.blocks[i].name, blk, PCMIG_BLOCK_NAME_LEN);
		if (!name_valid(out.blocks[i].name, PCMIG_BLOCK_NAME_LEN))
			return -EPROTO;
		out.blocks[i].size = get64(blk + PCMIG_BLOCK_NAME_LEN);
	}
	*h = out;
	return 0;
}

/**
 * pcmig_hello_ack_encode() - write a HELLO_ACK message
 * @buf: output
 * @size: bytes available
 * @a: the answer
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_hello_ack_encode(void *buf, size_t size,
			   const struct pcmig_hello_ack *a)
{
	uint8_t *p = msg_start(buf, size, PCMIG_MSG_HELLO_ACK,
			       PCMIG_HELLO_ACK_LEN);

	if (!p)
		return -EMSGSIZE;
	memset(p, 0, PCMIG_HELLO_ACK_LEN);
	put16(p, a->version);
	put64(p + 8, a->caps);
	memcpy(p + 16, a->nonce, PCMIG_NONCE_LEN);
	memcpy(p + 16 + PCMIG_NONCE_LEN, a->mac, PCMIG_MAC_LEN);
	return PCMIG_MSG_HDR_LEN + PCMIG_HELLO_ACK_LEN;
}

/**
 * pcmig_hello_ack_decode() - decode a HELLO_ACK payload
 * @p: payload
 * @len: its length
 * @a: filled on success
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_hello_ack_decode(const void *p, uint32_t len,
			   struct pcmig_hello_ack *a)
{
	const uint8_t *b = p;
	static const uint8_t zero[6];

	if (len != PCMIG_HELLO_ACK_LEN || memcmp(b + 2, zero, sizeof(zero)))
		return -EPROTO;
	if (!get16(b))
		return -EPROTO;
	a->version = get16(b);
	a->caps = get64(b + 8);
	memcpy(a->nonce, b + 16, PCMIG_NONCE_LEN);
	memcpy(a->mac, b + 16 + PCMIG_NONCE_LEN, PCMIG_MAC_LEN);
	return 0;
}

/**
 * pcmig_auth_encode() - write an AUTH message
 * @buf: output
 * @size: bytes available
 * @mac: %PCMIG_MAC_LEN bytes
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_auth_encode(void *buf, size_t size, const uint8_t *mac)
{
	uint8_t *p = msg_start(buf, size, PCMIG_MSG_AUTH, PCMIG_MAC_LEN);

	if (!p)
		return -EMSGSIZE;
	memcpy(p, mac, PCMIG_MAC_LEN);
	return PCMIG_MSG_HDR_LEN + PCMIG_MAC_LEN;
}

/**
 * pcmig_auth_decode() - decode an AUTH payload
 * @p: payload
 * @len: its length
 * @mac: %PCMIG_MAC_LEN bytes, filled on success
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_auth_decode(const void *p, uint32_t len, uint8_t *mac)
{
	if (len != PCMIG_MAC_LEN)
		return -EPROTO;
	memcpy(mac, p, PCMIG_MAC_LEN);
	return 0;
}

/**
 * pcmig_error_encode() - write an ERROR message
 * @buf: output
 * @size: bytes available
 * @code: PCMIG_ERR_*
 * @text: human-readable detail; cut at %PCMIG_MAX_ERROR_TEXT bytes
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_error_encode(void *buf, size_t size, uint32_t code,
		       const char *text)
{
	size_t n = strnlen(text, PCMIG_MAX_ERROR_TEXT);
	uint8_t *p = msg_start(buf, size, PCMIG_MSG_ERROR, 4 + n);

	if (!p)
		return -EMSGSIZE;
	put32(p, code);
	memcpy(p + 4, text, n);
	return PCMIG_MSG_HDR_LEN + 4 + n;
}

/**
 * pcmig_error_decode() - decode an ERROR payload
 * @p: payload
 * @len: its length
 * @e: filled on success; non-printable characters become '?'
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_error_decode(const void *p, uint32_t len, struct pcmig_error_msg *e)
{
	const uint8_t *b = p;
	uint32_t i;

	if (len < 4 || len > 4 + PCMIG_MAX_ERROR_TEXT)
		return -EPROTO;
	e->code = get32(b);
	for (i = 0; i < len - 4; i++)
		e->text[i] = (b[4 + i] >= 0x20 && b[4 + i] < 0x7f) ?
			     b[4 + i] : '?';
	e->text[len - 4] = '\0';
	return 0;
}

/**
 * pcmig_advise_encode() - write an ADVISE message
 * @buf: output
 * @size: bytes available
 * @a: the request
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_advise_encode(void *buf, size_t size, const struct pcmig_advise *a)
{
	uint8_t *p = msg_start(buf, size, PCMIG_MSG_ADVISE, PCMIG_ADVISE_LEN);

	if (!p)
		return -EMSGSIZE;
	put64(p, a->size);
	put32(p + 8, a->page_size);
	put32(p + 12, 0);
	return PCMIG_MSG_HDR_LEN + PCMIG_ADVISE_LEN;
}

/**
 * pcmig_advise_decode() - decode an ADVISE payload
 * @p: payload
 * @len: its length
 * @a: filled on success
 *
 * Return: 0, or -EPROTO (flags set, size or page size zero or unaligned).
 */
int pcmig_advise_decode(const void *p, uint32_t len, struct pcmig_advise *a)
{
	const uint8_t *b = p;
	uint64_t size;
	uint32_t ps;

	if (len != PCMIG_ADVISE_LEN || get32(b + 12))
		return -EPROTO;
	size = get64(b);
	ps = get32(b + 8);
	if (!ps || !size || size % ps)
		return -EPROTO;
	a->size = size;
	a->page_size = ps;
	return 0;
}

/**
 * pcmig_advise_ok_encode() - write an ADVISE_OK message
 * @buf: output
 * @size: bytes available
 * @a: the answer
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_advise_ok_encode(void *buf, size_t size,
			   const struct pcmig_advise_ok *a)
{
	uint8_t *p = msg_start(buf, size, PCMIG_MSG_ADVISE_OK,
			       PCMIG_ADVISE_OK_LEN);

	if (!p)
		return -EMSGSIZE;
	put32(p, a->session);
	put32(p + 4, 0);
	return PCMIG_MSG_HDR_LEN + PCMIG_ADVISE_OK_LEN;
}

/**
 * pcmig_advise_ok_decode() - decode an ADVISE_OK payload
 * @p: payload
 * @len: its length
 * @a: filled on success
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_advise_ok_decode(const void *p, uint32_t len,
			   struct pcmig_advise_ok *a)
{
	const uint8_t *b = p;

	if (len != PCMIG_ADVISE_OK_LEN || get32(b + 4))
		return -EPROTO;
	a->session = get32(b);
	return 0;
}

/**
 * pcmig_done_encode() - write a DONE message
 * @buf: output
 * @size: bytes available
 * @d: the destination's final counters
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_done_encode(void *buf, size_t size, const struct pcmig_done *d)
{
	uint8_t *p = msg_start(buf, size, PCMIG_MSG_DONE, PCMIG_DONE_LEN);

	if (!p)
		return -EMSGSIZE;
	put64(p, d->pages_total);
	put64(p + 8, d->pages_received);
	put64(p + 16, d->pages_requested);
	put64(p + 24, d->pages_zero);
	put64(p + 32, d->faults);
	return PCMIG_MSG_HDR_LEN + PCMIG_DONE_LEN;
}

/**
 * pcmig_done_decode() - decode a DONE payload
 * @p: payload
 * @len: its length
 * @d: filled on success
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_done_decode(const void *p, uint32_t len, struct pcmig_done *d)
{
	const uint8_t *b = p;

	if (len != PCMIG_DONE_LEN)
		return -EPROTO;
	d->pages_total = get64(b);
	d->pages_received = get64(b + 8);
	d->pages_requested = get64(b + 16);
	d->pages_zero = get64(b + 24);
	d->faults = get64(b + 32);
	return 0;
}

/**
 * pcmig_sync_encode() - write a SYNC message
 * @buf: output
 * @size: bytes available
 * @token: token of the SYNC frames, not zero
 *
 * Return: bytes written, -EMSGSIZE, or -EINVAL for a zero token.
 */
int pcmig_sync_encode(void *buf, size_t size, uint64_t token)
{
	uint8_t *p;

	if (!token)
		return -EINVAL;
	p = msg_start(buf, size, PCMIG_MSG_SYNC, PCMIG_SYNC_LEN);
	if (!p)
		return -EMSGSIZE;
	put64(p, token);
	return PCMIG_MSG_HDR_LEN + PCMIG_SYNC_LEN;
}

/**
 * pcmig_sync_decode() - decode a SYNC payload
 * @p: payload
 * @len: its length
 * @token: set on success
 *
 * Return: 0, or -EPROTO (wrong length, zero token).
 */
int pcmig_sync_decode(const void *p, uint32_t len, uint64_t *token)
{
	uint64_t t;

	if (len != PCMIG_SYNC_LEN)
		return -EPROTO;
	t = get64(p);
	if (!t)
		return -EPROTO;
	*token = t;
	return 0;
}

/**
 * pcmig_empty_encode() - write a message without payload
 * @buf: output
 * @size: bytes available
 * @type: AUTH_OK, PACKAGED_OK, DONE_ACK, LISTEN or RUN
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_empty_encode(void *buf, size_t size, uint8_t type)
{
	return msg_start(buf, size, type, 0) ? PCMIG_MSG_HDR_LEN : -EMSGSIZE;
}

/**
 * pcmig_package_len() - bytes of a PACKAGED payload
 * @state_len: bytes of device state
 *
 * Return: the length of LISTEN + DEVICE_STATE + RUN.
 */
size_t pcmig_package_len(size_t state_len)
{
	return 3 * PCMIG_MSG_HDR_LEN + state_len;
}

/**
 * pcmig_package_build() - write a PACKAGED payload (not its header)
 * @buf: output
 * @size: bytes available, at least pcmig_package_len(@state_len)
 * @state: device state
 * @state_len: its length
 *
 * Return: bytes written, or -EMSGSIZE.
 */
int pcmig_package_build(void *buf, size_t size, const void *state,
			size_t state_len)
{
	uint8_t head[PCMIG_PACKAGE_HEAD_LEN], *p = buf;

	if (size < pcmig_package_len(state_len) ||
	    pcmig_package_frame(head, p + 2 * PCMIG_MSG_HDR_LEN + state_len,
				state_len))
		return -EMSGSIZE;
	/* Without the PACKAGED header of @head. */
	memcpy(p, head + PCMIG_MSG_HDR_LEN, 2 * PCMIG_MSG_HDR_LEN);
	if (state_len)
		memcpy(p + 2 * PCMIG_MSG_HDR_LEN, state, state_len);
	return pcmig_package_len(state_len);
}

/**
 * pcmig_package_frame() - the parts of a PACKAGED message around the state
 * @head: %PCMIG_PACKAGE_HEAD_LEN bytes: PACKAGED header, LISTEN,
 *	DEVICE_STATE header
 * @tail: %PCMIG_PACKAGE_TAIL_LEN bytes: RUN
 * @state_len: bytes of device state that go between them
 *
 * Return: 0, or -EMSGSIZE when the package would be too large.
 */
int pcmig_package_frame(uint8_t *head, uint8_t *tail, size_t state_len)
{
	size_t plen = pcmig_package_len(state_len);

	if (state_len > PCMIG_MAX_PACKAGE || plen > PCMIG_MAX_PACKAGE)
		return -EMSGSIZE;
	pcmig_msg_put_hdr(head, PCMIG_MSG_HDR_LEN, PCMIG_MSG_PACKAGED, plen);
	pcmig_empty_encode(head + PCMIG_MSG_HDR_LEN, PCMIG_MSG_HDR_LEN,
			   PCMIG_MSG_LISTEN);
	pcmig_msg_put_hdr(head + 2 * PCMIG_MSG_HDR_LEN, PCMIG_MSG_HDR_LEN,
			  PCMIG_MSG_DEVICE_STATE, state_len);
	pcmig_empty_encode(tail, PCMIG_PACKAGE_TAIL_LEN, PCMIG_MSG_RUN);
	return 0;
}

/**
 * pcmig_package_parse() - check a PACKAGED payload
 * @blob: the payload, read whole
 * @len: its length
 * @state: set to the device state inside @blob
 * @state_len: its length
 *
 * The package must be exactly LISTEN, DEVICE_STATE, RUN.
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_package_parse(const void *blob, size_t len, const void **state,
			size_t *state_len)
{
	const uint8_t *p = blob;
	struct pcmig_msg_hdr h;

	if (len < pcmig_package_len(0))
		return -EPROTO;
	if (pcmig_msg_get_hdr(p, &h) || h.type != PCMIG_MSG_LISTEN || h.len)
		return -EPROTO;
	p += PCMIG_MSG_HDR_LEN;
	if (pcmig_msg_get_hdr(p, &h) || h.type != PCMIG_MSG_DEVICE_STATE ||
	    h.len != len - pcmig_package_len(0))
		return -EPROTO;
	*state = p + PCMIG_MSG_HDR_LEN;
	*state_len = h.len;
	p += PCMIG_MSG_HDR_LEN + h.len;
	if (pcmig_msg_get_hdr(p, &h) || h.type != PCMIG_MSG_RUN || h.len)
		return -EPROTO;
	return 0;
}

/**
 * pcmig_frame_put() - write a page-channel frame header
 * @buf: %sizeof(struct pcmig_frame) bytes
 * @type: PCMIG_FRAME_*
 * @flags: PCMIG_FRAME_F_*
 * @npages: pages covered
 * @len: payload bytes
 * @offset: byte offset in session memory
 */
void pcmig_frame_put(void *buf, uint8_t type, uint16_t flags,
		     uint32_t npages, uint32_t len, uint64_t offset)
{
	uint8_t *p = buf;

	put32(p, PCMIG_FRAME_MAGIC);
	p[4] = PCMIG_FRAME_VERSION;
	p[5] = type;
	put16(p + 6, flags);
	put32(p + 8, npages);
	put32(p + 12, len);
	put64(p + 16, offset);
}

/**
 * pcmig_frame_get() - decode a page-channel frame header
 * @buf: %sizeof(struct pcmig_frame) bytes
 * @type: frame type
 * @flags: flags
 * @npages: pages covered
 * @len: payload bytes
 * @offset: byte offset
 *
 * Only the magic and version are checked; the source checks the rest
 * against what it expects (REQUEST frames).
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_frame_get(const void *buf, uint8_t *type, uint16_t *flags,
		    uint32_t *npages, uint32_t *len, uint64_t *offset)
{
	const uint8_t *p = buf;

	if (get32(p) != PCMIG_FRAME_MAGIC || p[4] != PCMIG_FRAME_VERSION)
		return -EPROTO;
	*type = p[5];
	*flags = get16(p + 6);
	*npages = get32(p + 8);
	*len = get32(p + 12);
	*offset = get64(p + 16);
	return 0;
}
