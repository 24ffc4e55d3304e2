/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: sockets, exact reads and writes with deadlines, messages and
 * the handshake.
 */
#ifndef _PCMIG_NET_H
#define _PCMIG_NET_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Default limit for one handshake or control exchange, in ms. */
#define PCMIG_NET_TIMEOUT_MS	30000

uint64_t pcmig_now_ms(void);

int pcmig_parse_hostport(const char *spec, char *host, size_t hostlen,
			 char *port, size_t portlen);
/*
 * Link timeout: how many seconds a connection may sit on a dead link
 * (no reset: a cable pulled, a partition) before it fails with ETIMEDOUT.
 * Every connection pcmig_tcp_accept() and pcmig_tcp_connect() make gets
 * it (pcmig_tcp_liveness()); --link-timeout sets it, 0 turns it off.
 */
#define PCMIG_LINK_TIMEOUT_S		15
#define PCMIG_LINK_TIMEOUT_MAX_S	3600

void pcmig_set_link_timeout(unsigned int seconds);
unsigned int pcmig_link_timeout(void);
int pcmig_parse_link_timeout(const char *arg, unsigned int *seconds);
int pcmig_parse_secs(const char *arg, unsigned int max, unsigned int *seconds);

/*
 * Recovery after a lost link: the source reconnects with a growing delay
 * between attempts, and both sides give up after --recover-timeout
 * (0, the default: never; at most a week).
 */
#define PCMIG_RECOVER_TIMEOUT_MAX_S	(7 * 24 * 3600)
#define PCMIG_RECONNECT_MIN_MS		100
#define PCMIG_RECONNECT_MAX_MS		3000
int pcmig_tcp_liveness(int fd, unsigned int seconds);
int pcmig_tcp_listen(const char *spec, char *err, size_t errlen);
int pcmig_tcp_accept(int lfd, int timeout_ms);
int pcmig_tcp_connect(const char *spec, int timeout_ms, char *err,
		      size_t errlen);

struct iovec;
/*
 * Consume @n bytes written from the front of an iovec: *@iov and *@cnt
 * move past the parts done, the first part left is trimmed.
 */
void pcmig_iov_advance(struct iovec **iov, int *cnt, size_t n);

int pcmig_read_full(int fd, void *buf, size_t len, int timeout_ms);
int pcmig_write_full(int fd, const void *buf, size_t len, int timeout_ms);

/*
 * Read one message: the header is checked, the payload (at most @max
 * bytes, else -EPROTO) goes to *@payload, malloc()ed, NULL if empty. An
 * ERROR message is decoded into @peer_err and returns -ECONNABORTED.
 */
int pcmig_msg_recv(int fd, struct pcmig_msg_hdr *hdr, void **payload,
		   uint32_t max, int timeout_ms,
		   struct pcmig_error_msg *peer_err);
int pcmig_msg_send_error(int fd, uint32_t code, const char *text);

/* What both ends agree on and what the handshake needs. */
struct pcmig_hs {
	const uint8_t *key;
	size_t keylen;
	uint8_t role;
	uint64_t caps_supported;
	uint64_t caps_required;
	uint8_t session_id[PCMIG_SESSION_ID_LEN];
	uint32_t page_size;
	uint32_t nblocks;
	const struct pcmig_block *blocks;
	int timeout_ms;

	/* Results. */
	uint16_t version;
	uint64_t caps;
	struct pcmig_hello peer;		/* destination: the HELLO */
	uint32_t err_code;			/* PCMIG_ERR_* on failure */
	char err[PCMIG_MAX_ERROR_TEXT + 128];	/* message on failure */
};

/*
 * Source side: send HELLO, check HELLO_ACK's MAC, send AUTH, wait for
 * AUTH_OK. On failure hs->err says why (and the peer is told).
 */
int pcmig_hs_client(int fd, struct pcmig_hs *hs);

/*
 * Destination side: read HELLO, check version, page size, capabilities
 * and, for the control connection, the layout (against hs->blocks) or, for
 * a page channel, the session id (against hs->session_id); answer with
 * HELLO_ACK, check AUTH. hs->peer holds the HELLO.
 */
int pcmig_hs_server(int fd, struct pcmig_hs *hs);

#endif /* _PCMIG_NET_H */
