// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: encoder and decoder of the recovery messages (RESUME,
 * RESUME_OK, MISSING, RESUMED) of Documentation/protocol.rst.
 *
 * As in proto.c, every decoder checks exact lengths and every field before
 * it acts; nothing is read past the given length.
 */
#include <errno.h>
#include <string.h>

#include <linux/pcmig.h>

#include "proto.h"
#include "wire.h"

/**
 * pcmig_resume_encode() - write a RESUME message
 * @buf: output
 * @size: bytes available
 * @r: contents; @r->attempt is not zero
 *
 * Return: bytes written, -EMSGSIZE, or -EINVAL for attempt zero.
 */
int pcmig_resume_encode(void *buf, size_t size, const struct pcmig_resume *r)
{
	uint8_t *p = buf;

	if (!r->attempt)
		return -EINVAL;
	if (size < PCMIG_MSG_HDR_LEN + PCMIG_RESUME_LEN)
		return -EMSGSIZE;
	pcmig_msg_put_hdr(p, size, PCMIG_MSG_RESUME, PCMIG_RESUME_LEN);
	p += PCMIG_MSG_HDR_LEN;
	put32(p, r->attempt);
	put32(p + 4, 0);
	return PCMIG_MSG_HDR_LEN + PCMIG_RESUME_LEN;
}

/**
 * pcmig_resume_decode() - decode a RESUME payload
 * @p: payload
 * @len: its length
 * @r: filled on success
 *
 * Return: 0, or -EPROTO (length, attempt zero, non-zero padding).
 */
int pcmig_resume_decode(const void *p, uint32_t len, struct pcmig_resume *r)
{
	const uint8_t *b = p;

	if (len != PCMIG_RESUME_LEN || !get32(b) || get32(b + 4))
		return -EPROTO;
	r->attempt = get32(b);
	return 0;
}

static bool resume_state_valid(uint32_t state)
{
	return state == PCMIG_STATE_ADVISE || state == PCMIG_STATE_DISCARD ||
	       state == PCMIG_STATE_LISTEN || state == PCMIG_STATE_RUNNING;
}

/**
 * pcmig_resume_ok_encode() - write a RESUME_OK message
 * @buf: output
 * @size: bytes available
 * @r: contents
 *
 * Return: bytes written, -EMSGSIZE, or -EINVAL for a state a session
 * cannot resume to or more runs than missing pages.
 */
int pcmig_resume_ok_encode(void *buf, size_t size,
			   const struct pcmig_resume_ok *r)
{
	uint8_t *p = buf;

	if (!resume_state_valid(r->state) || r->runs > r->missing_pages)
		return -EINVAL;
	if (size < PCMIG_MSG_HDR_LEN + PCMIG_RESUME_OK_LEN)
		return -EMSGSIZE;
	pcmig_msg_put_hdr(p, size, PCMIG_MSG_RESUME_OK, PCMIG_RESUME_OK_LEN);
	p += PCMIG_MSG_HDR_LEN;
	put32(p, r->state);
	put32(p + 4, 0);
	put64(p + 8, r->missing_pages);
	put64(p + 16, r->runs);
	return PCMIG_MSG_HDR_LEN + PCMIG_RESUME_OK_LEN;
}

/**
 * pcmig_resume_ok_decode() - decode a RESUME_OK payload
 * @p: payload
 * @len: its length
 * @r: filled on success
 *
 * Return: 0, or -EPROTO.
 */
int pcmig_resume_ok_decode(const void *p, uint32_t len,
			   struct pcmig_resume_ok *r)
{
	const uint8_t *b = p;
	struct pcmig_resume_ok v;

	if (len != PCMIG_RESUME_OK_LEN || get32(b + 4))
		return -EPROTO;
	v.state = get32(b);
	v.missing_pages = get64(b + 8);
	v.runs = get64(b + 16);
	if (!resume_state_valid(v.state) || v.runs > v.missing_pages)
		return -EPROTO;
	*r = v;
	return 0;
}

/**
 * pcmig_missing_len() - bytes of a MISSING message
 * @n: runs in it
 *
 * Return: header and payload bytes.
 */
size_t pcmig_missing_len(uint32_t n)
{
	return PCMIG_MSG_HDR_LEN + 8 + (size_t)n * PCMIG_RANGE_WIRE_LEN;
}

/**
 * pcmig_missing_encode() - write a MISSING message
 * @buf: output
 * @size: bytes available
 * @runs: @n runs, as the decoder wants them
 * @n: at most %PCMIG_MAX_RUNS (zero in an empty last message)
 * @last: the last message of the sequence
 *
 * Return: bytes written, -EMSGSIZE, or -EINVAL for too many runs.
 */
int pcmig_missing_encode(void *buf, size_t size,
			 const struct pcmig_wire_range *runs, uint32_t n,
			 bool last)
{
	uint8_t *p = buf;
	uint32_t i;

	if (n > PCMIG_MAX_RUNS)
		return -EINVAL;
	if (size < pcmig_missing_len(n))
		return -EMSGSIZE;
	pcmig_msg_put_hdr(p, size, PCMIG_MSG_MISSING,
			  8 + n * PCMIG_RANGE_WIRE_LEN);
	p += PCMIG_MSG_HDR_LEN;
	put32(p, n);
	put32(p + 4, last ? PCMIG_MISSING_F_LAST : 0);
	p += 8;
	for (i = 0; i < n; i++, p += PCMIG_RANGE_WIRE_LEN) {
		put64(p, runs[i].offset);
		put64(p + 8, runs[i].length);
	}
	return (int)pcmig_missing_len(n);
}

/**
 * pcmig_missing_rx_init() - start decoding a MISSING sequence
 * @m: decoding state
 * @size: bytes of session memory
 * @page_size: page size
 */
void pcmig_missing_rx_init(struct pcmig_missing_rx *m, uint64_t size,
			   uint32_t page_size)
{
	memset(m, 0, sizeof(*m));
	m->size = size;
	m->page_size = page_size;
}

/**
 * pcmig_missing_decode() - check one MISSING payload and apply its runs
 * @m: decoding state, from pcmig_missing_rx_init()
 * @p: payload
 * @len: its length
 * @fn: called for each run (byte offset and length), in order
 * @arg: passed to @fn
 *
 * The whole payload is checked before @fn sees any run: the count matches
 * the length, the flags are known, no message follows the last one, and
 * each run is page aligned, not empty, inside the session and strictly
 * after the previous run with a gap (runs are maximal).
 *
 * Return: 0, -EPROTO, or @fn's non-zero return.
 */
int pcmig_missing_decode(struct pcmig_missing_rx *m, const void *p,
			 uint32_t len,
			 int (*fn)(void *arg, uint64_t off, uint64_t len),
			 void *arg)
{
	const uint8_t *b = p, *r;
	uint64_t next = m->next, pages = 0, off, n_bytes;
	uint32_t n, flags, i;
	int ret;

	if (m->last || len < 8)
		return -EPROTO;
	n = get32(b);
	flags = get32(b + 4);
	if (n > PCMIG_MAX_RUNS || len != 8 + n * PCMIG_RANGE_WIRE_LEN ||
	    (flags & ~PCMIG_MISSING_F_LAST))
		return -EPROTO;
	for (i = 0, r = b + 8; i < n; i++, r += PCMIG_RANGE_WIRE_LEN) {
		off = get64(r);
		n_bytes = get64(r + 8);
		if (!n_bytes || off % m->page_size || n_bytes % m->page_size ||
		    off < next || off > m->size || n_bytes > m->size - off)
			return -EPROTO;
		/* Touching the previous run: it was not maximal. */
		if ((m->runs || i) && off == next)
			return -EPROTO;
		next = off + n_bytes;
		pages += n_bytes / m->page_size;
	}
	for (i = 0, r = b + 8; i < n; i++, r += PCMIG_RANGE_WIRE_LEN) {
		ret = fn(arg, get64(r), get64(r + 8));
		if (ret)
			return ret;
	}
	m->next = next;
	m->runs += n;
	m->pages += pages;
	m->last = flags & PCMIG_MISSING_F_LAST;
	return 0;
}
