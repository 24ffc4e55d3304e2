/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: the migration protocol between source and destination tools.
 *
 * Documentation/protocol.rst is the specification; this header is its
 * code. Page channels, once handed to the kernel, carry the frames of
 * uapi/linux/pcmig.h instead.
 */
#ifndef _PCMIG_PROTO_H
#define _PCMIG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCMIG_PROTO_MAGIC	0x50434d43	/* "PCMC" */
#define PCMIG_PROTO_VERSION	1		/* newest version we speak */
#define PCMIG_PROTO_VERSION_MIN	1		/* oldest version we speak */

#define PCMIG_MSG_HDR_LEN	12
#define PCMIG_NONCE_LEN		32
#define PCMIG_MAC_LEN		32		/* HMAC-SHA256 */
#define PCMIG_SESSION_ID_LEN	16
#define PCMIG_BLOCK_NAME_LEN	32
#define PCMIG_MAX_BLOCKS	64
#define PCMIG_MAX_RANGES	4096		/* per DISCARD message */
#define PCMIG_MAX_ERROR_TEXT	1024
#define PCMIG_MAX_PACKAGE	(1U << 30)	/* bytes of a PACKAGED blob */
#define PCMIG_MIN_KEY_LEN	16
#define PCMIG_MAX_KEY_LEN	1024

/* Message types. Sub-messages of a PACKAGED blob use the same header. */
enum pcmig_msg_type {
	PCMIG_MSG_HELLO = 1,		/* src -> dst, every connection */
	PCMIG_MSG_HELLO_ACK = 2,	/* dst -> src */
	PCMIG_MSG_AUTH = 3,		/* src -> dst */
	PCMIG_MSG_AUTH_OK = 4,		/* dst -> src */
	PCMIG_MSG_ERROR = 5,		/* either way, then close */
	PCMIG_MSG_ADVISE = 6,		/* src -> dst, control */
	PCMIG_MSG_ADVISE_OK = 7,	/* dst -> src */
	PCMIG_MSG_DISCARD = 8,		/* retired: DISCARD frames instead */
	PCMIG_MSG_PACKAGED = 9,		/* src -> dst */
	PCMIG_MSG_PACKAGED_OK = 10,	/* dst -> src: device state loaded */
	PCMIG_MSG_DONE = 11,		/* dst -> src: every page present */
	PCMIG_MSG_DONE_ACK = 12,	/* src -> dst: end of stream */
	PCMIG_MSG_LISTEN = 13,		/* inside PACKAGED */
	PCMIG_MSG_DEVICE_STATE = 14,	/* inside PACKAGED */
	PCMIG_MSG_RUN = 15,		/* inside PACKAGED */
	PCMIG_MSG_SYNC = 16,		/* src -> dst: SYNC frames sent */
	PCMIG_MSG_RESUME = 17,		/* src -> dst: recover the session */
	PCMIG_MSG_RESUME_OK = 18,	/* dst -> src: RECOVER, MISSING next */
	PCMIG_MSG_MISSING = 19,		/* dst -> src: runs of missing pages */
	PCMIG_MSG_RESUMED = 20,		/* dst -> src: requests go out again */
	PCMIG_MSG_TYPE_MAX = 20
};

/* Connection roles, in HELLO. */
enum pcmig_role {
	PCMIG_ROLE_CONTROL = 1,
	PCMIG_ROLE_URGENT = 2,
	PCMIG_ROLE_BULK = 3,
};

/* Capabilities; unknown bits are ignored unless required. */
#define PCMIG_CAP_ZERO_PAGES	(1ULL << 0)	/* ZERO frames */
#define PCMIG_CAP_BULK_CHANNEL	(1ULL << 1)	/* a separate bulk connection */
#define PCMIG_CAP_DISCARD	(1ULL << 2)	/* DISCARD messages */
#define PCMIG_CAPS_KNOWN	(PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_BULK_CHANNEL | \
				 PCMIG_CAP_DISCARD)

/* ERROR codes. */
enum pcmig_err {
	PCMIG_ERR_NONE = 0,
	PCMIG_ERR_PROTOCOL = 1,		/* malformed or unexpected message */
	PCMIG_ERR_VERSION = 2,		/* no common protocol version */
	PCMIG_ERR_AUTH = 3,		/* authentication failed */
	PCMIG_ERR_PAGE_SIZE = 4,	/* page sizes differ */
	PCMIG_ERR_LAYOUT = 5,		/* RAM layout not acceptable */
	PCMIG_ERR_CAPS = 6,		/* a required capability is missing */
	PCMIG_ERR_SESSION = 7,		/* unknown or mismatched session id */
	PCMIG_ERR_KERNEL = 8,		/* pcmig.ko missing or ABI mismatch */
	PCMIG_ERR_PACKAGE = 9,		/* bad device-state package */
	PCMIG_ERR_VMM = 10,		/* the VMM hook failed */
	PCMIG_ERR_ABORTED = 11,		/* the peer gave up */
	PCMIG_ERR_INTERNAL = 12,	/* anything else */
	PCMIG_ERR_MAX = 12
};

/* A decoded message header. */
struct pcmig_msg_hdr {
	uint8_t type;
	uint32_t len;
};

/* One RAM block of the layout. */
struct pcmig_block {
	char name[PCMIG_BLOCK_NAME_LEN];	/* NUL-terminated */
	uint64_t size;				/* bytes, page aligned */
};

struct pcmig_hello {
	uint16_t version_min;
	uint16_t version_max;
	uint8_t role;
	uint64_t caps_supported;
	uint64_t caps_required;
	uint8_t session_id[PCMIG_SESSION_ID_LEN];
	uint32_t page_size;
	uint8_t nonce[PCMIG_NONCE_LEN];
	uint32_t nblocks;			/* CONTROL only, else 0 */
	struct pcmig_block blocks[PCMIG_MAX_BLOCKS];
};

struct pcmig_hello_ack {
	uint16_t version;
	uint64_t caps;
	uint8_t nonce[PCMIG_NONCE_LEN];
	uint8_t mac[PCMIG_MAC_LEN];
};

struct pcmig_error_msg {
	uint32_t code;
	char text[PCMIG_MAX_ERROR_TEXT + 1];	/* NUL-terminated */
};

struct pcmig_advise {
	uint64_t size;				/* sum of the blocks */
	uint32_t page_size;
};

struct pcmig_advise_ok {
	uint32_t session;			/* kernel session id */
};

struct pcmig_wire_range {
	uint64_t offset;
	uint64_t length;
};

struct pcmig_done {
	uint64_t pages_total;
	uint64_t pages_received;
	uint64_t pages_requested;
	uint64_t pages_zero;
	uint64_t faults;
};

/* Payload sizes that are fixed. */
#define PCMIG_HELLO_FIXED_LEN	(2 + 2 + 1 + 3 + 8 + 8 + PCMIG_SESSION_ID_LEN + \
				 4 + PCMIG_NONCE_LEN + 4)
#define PCMIG_BLOCK_WIRE_LEN	(PCMIG_BLOCK_NAME_LEN + 8)
#define PCMIG_HELLO_ACK_LEN	(2 + 6 + 8 + PCMIG_NONCE_LEN + PCMIG_MAC_LEN)
#define PCMIG_ADVISE_LEN	(8 + 4 + 4)
#define PCMIG_ADVISE_OK_LEN	(4 + 4)
#define PCMIG_RANGE_WIRE_LEN	16
#define PCMIG_DONE_LEN		(5 * 8)
#define PCMIG_SYNC_LEN		8
#define PCMIG_RESUME_LEN	8
#define PCMIG_RESUME_OK_LEN	(4 + 4 + 8 + 8)
#define PCMIG_MAX_RUNS		4096		/* per MISSING message */
#define PCMIG_MISSING_F_LAST	(1U << 0)	/* the last MISSING message */

/* Largest payload of each type (PACKAGED: PCMIG_MAX_PACKAGE). */
uint32_t pcmig_msg_max_len(uint8_t type);
const char *pcmig_msg_name(uint8_t type);
const char *pcmig_err_name(uint32_t code);

/*
 * Codec. Encoders write into @buf of @size bytes and return the bytes
 * written (header included), or -EMSGSIZE. Decoders take a payload of
 * @len bytes and return 0 or -EPROTO (never reading past @len), filling
 * their output only on success.
 */
int pcmig_msg_put_hdr(void *buf, size_t size, uint8_t type, uint32_t len);
int pcmig_msg_get_hdr(const void *buf, struct pcmig_msg_hdr *hdr);

int pcmig_hello_encode(void *buf, size_t size, const struct pcmig_hello *h);
int pcmig_hello_decode(const void *p, uint32_t len, struct pcmig_hello *h);
int pcmig_hello_ack_encode(void *buf, size_t size,
			   const struct pcmig_hello_ack *a);
int pcmig_hello_ack_decode(const void *p, uint32_t len,
			   struct pcmig_hello_ack *a);
int pcmig_auth_encode(void *buf, size_t size, const uint8_t *mac);
int pcmig_auth_decode(const void *p, uint32_t len, uint8_t *mac);
int pcmig_error_encode(void *buf, size_t size, uint32_t code,
		       const char *text);
int pcmig_error_decode(const void *p, uint32_t len, struct pcmig_error_msg *e);
int pcmig_advise_encode(void *buf, size_t size, const struct pcmig_advise *a);
int pcmig_advise_decode(const void *p, uint32_t len, struct pcmig_advise *a);
int pcmig_advise_ok_encode(void *buf, size_t size,
			   const struct pcmig_advise_ok *a);
int pcmig_advise_ok_decode(const void *p, uint32_t len,
			   struct pcmig_advise_ok *a);
int pcmig_done_encode(void *buf, size_t size, const struct pcmig_done *d);
int pcmig_done_decode(const void *p, uint32_t len, struct pcmig_done *d);
/* SYNC: the token of the SYNC frames, never zero. */
int pcmig_sync_encode(void *buf, size_t size, uint64_t token);
int pcmig_sync_decode(const void *p, uint32_t len, uint64_t *token);
/* A message with an empty payload (AUTH_OK, DONE_ACK, LISTEN, RUN, ...). */
int pcmig_empty_encode(void *buf, size_t size, uint8_t type);

/*
 * A PACKAGED blob: LISTEN, then at most one DEVICE_STATE, then RUN, and
 * nothing else. pcmig_package_parse() checks that and points @state into
 * @blob (no copy).
 */
size_t pcmig_package_len(size_t state_len);
int pcmig_package_build(void *buf, size_t size, const void *state,
			size_t state_len);
/*
 * The same without copying the state: the PACKAGED message is @head (its
 * header, LISTEN and the DEVICE_STATE header), the state, then @tail (RUN).
 */
#define PCMIG_PACKAGE_HEAD_LEN	(3 * PCMIG_MSG_HDR_LEN)
#define PCMIG_PACKAGE_TAIL_LEN	PCMIG_MSG_HDR_LEN
int pcmig_package_frame(uint8_t *head, uint8_t *tail, size_t state_len);
int pcmig_package_parse(const void *blob, size_t len, const void **state,
			size_t *state_len);

/*
 * Recovery (proto_recover.c). RESUME: the source's attempt number (1 for
 * the first recovery attempt of this source process). RESUME_OK: the
 * state the session resumes to and how much MISSING describes. MISSING:
 * runs in address order, page aligned, not empty, not touching or
 * overlapping each other or the previous message's runs, within @size.
 */
struct pcmig_resume {
	uint32_t attempt;
};

struct pcmig_resume_ok {
	uint32_t state;				/* PCMIG_STATE_LISTEN, ... */
	uint64_t missing_pages;
	uint64_t runs;				/* in all MISSING messages */
};

/* Decoding state of a MISSING sequence, for the checks across messages. */
struct pcmig_missing_rx {
	uint64_t size;				/* session bytes */
	uint32_t page_size;
	uint64_t next;				/* lowest offset allowed next */
	uint64_t runs;				/* runs so far */
	uint64_t pages;				/* pages so far */
	bool last;				/* LAST seen */
};

int pcmig_resume_encode(void *buf, size_t size, const struct pcmig_resume *r);
int pcmig_resume_decode(const void *p, uint32_t len, struct pcmig_resume *r);
int pcmig_resume_ok_encode(void *buf, size_t size,
			   const struct pcmig_resume_ok *r);
int pcmig_resume_ok_decode(const void *p, uint32_t len,
			   struct pcmig_resume_ok *r);
/* Bytes of a MISSING message with @n runs, header included. */
size_t pcmig_missing_len(uint32_t n);
int pcmig_missing_encode(void *buf, size_t size,
			 const struct pcmig_wire_range *runs, uint32_t n,
			 bool last);
void pcmig_missing_rx_init(struct pcmig_missing_rx *m, uint64_t size,
			   uint32_t page_size);
/*
 * Check one MISSING payload against @m and call @fn for each run; returns
 * 0, -EPROTO (nothing of it applied: the payload is checked whole first),
 * or what @fn returned when it was not 0.
 */
int pcmig_missing_decode(struct pcmig_missing_rx *m, const void *p,
			 uint32_t len,
			 int (*fn)(void *arg, uint64_t off, uint64_t len),
			 void *arg);

/* Session memory: the blocks laid end to end. */
int pcmig_layout_check(const struct pcmig_block *b, uint32_t n,
		       uint32_t page_size, uint64_t *total);
bool pcmig_layout_equal(const struct pcmig_hello *a,
			const struct pcmig_hello *b);

/* Page-channel frames (uapi/linux/pcmig.h), for the source. */
void pcmig_frame_put(void *buf, uint8_t type, uint16_t flags,
		     uint32_t npages, uint32_t len, uint64_t offset);
int pcmig_frame_get(const void *buf, uint8_t *type, uint16_t *flags,
		    uint32_t *npages, uint32_t *len, uint64_t *offset);

/* Authentication (auth.c). */
int pcmig_key_load(const char *path, uint8_t *key, size_t *len,
		   char *err, size_t errlen);
int pcmig_random(void *buf, size_t len);
/* MAC of the destination: over "pcmig dst", the HELLO payload, its nonce. */
int pcmig_mac_dst(const uint8_t *key, size_t keylen, const void *hello,
		  size_t hello_len, const uint8_t *dst_nonce, uint8_t *mac);
/* MAC of the source: over "pcmig src", the HELLO payload, dst's nonce. */
int pcmig_mac_src(const uint8_t *key, size_t keylen, const void *hello,
		  size_t hello_len, const uint8_t *dst_nonce, uint8_t *mac);
bool pcmig_mac_equal(const uint8_t *a, const uint8_t *b);

#endif /* _PCMIG_PROTO_H */
