// SPDX-License-Identifier: GPL-2.0
/*
 * Host unit tests of the migration protocol: every message's encoder and
 * decoder, malformed input of every kind, the device-state package, key
 * loading, and the handshake over a socketpair with each mismatch.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/pcmig.h>

#include "net.h"
#include "proto.h"
#include "unit.h"

static uint8_t buf[1 << 16];

static void test_header(void)
{
	struct pcmig_msg_hdr h;
	uint8_t raw[PCMIG_MSG_HDR_LEN];
	int t;

	CHECK(pcmig_msg_put_hdr(raw, sizeof(raw), PCMIG_MSG_ADVISE,
				PCMIG_ADVISE_LEN) == PCMIG_MSG_HDR_LEN);
	CHECK(pcmig_msg_get_hdr(raw, &h) == 0 && h.type == PCMIG_MSG_ADVISE &&
	      h.len == PCMIG_ADVISE_LEN);
	CHECK(pcmig_msg_put_hdr(raw, 4, PCMIG_MSG_ADVISE, 0) == -EMSGSIZE);

	raw[0] ^= 1;				/* magic */
	CHECK(pcmig_msg_get_hdr(raw, &h) == -EPROTO);
	raw[0] ^= 1;
	raw[4] = 2;				/* version */
	CHECK(pcmig_msg_get_hdr(raw, &h) == -EPROTO);
	raw[4] = PCMIG_PROTO_VERSION;
	raw[7] = 1;				/* flags */
	CHECK(pcmig_msg_get_hdr(raw, &h) == -EPROTO);
	raw[7] = 0;
	for (t = 0; t < 256; t += 1) {
		pcmig_msg_put_hdr(raw, sizeof(raw), t, 0);
		CHECK((pcmig_msg_get_hdr(raw, &h) == 0) ==
		      (t >= 1 && t <= PCMIG_MSG_TYPE_MAX));
	}
	/* Oversized for the type. */
	pcmig_msg_put_hdr(raw, sizeof(raw), PCMIG_MSG_ADVISE,
			  PCMIG_ADVISE_LEN + 1);
	CHECK(pcmig_msg_get_hdr(raw, &h) == -EPROTO);
	pcmig_msg_put_hdr(raw, sizeof(raw), PCMIG_MSG_PACKAGED,
			  PCMIG_MAX_PACKAGE);
	CHECK(pcmig_msg_get_hdr(raw, &h) == 0);
	pcmig_msg_put_hdr(raw, sizeof(raw), PCMIG_MSG_PACKAGED,
			  PCMIG_MAX_PACKAGE + 1);
	CHECK(pcmig_msg_get_hdr(raw, &h) == -EPROTO);
	pcmig_msg_put_hdr(raw, sizeof(raw), PCMIG_MSG_AUTH_OK, 1);
	CHECK(pcmig_msg_get_hdr(raw, &h) == -EPROTO);
	CHECK(strcmp(pcmig_msg_name(PCMIG_MSG_RUN), "RUN") == 0);
	CHECK(strcmp(pcmig_msg_name(99), "unknown") == 0);
	CHECK(strcmp(pcmig_err_name(PCMIG_ERR_AUTH),
		     "authentication failed") == 0);
	CHECK(strcmp(pcmig_err_name(1000), "unknown error") == 0);
}

static void sample_hello(struct pcmig_hello *h, uint32_t nblocks)
{
	uint32_t i;

	memset(h, 0, sizeof(*h));
	h->version_min = 1;
	h->version_max = 1;
	h->role = nblocks ? PCMIG_ROLE_CONTROL : PCMIG_ROLE_URGENT;
	h->caps_supported = PCMIG_CAPS_KNOWN | (1ULL << 40);
	h->caps_required = PCMIG_CAP_ZERO_PAGES;
	memset(h->session_id, 0x5a, sizeof(h->session_id));
	h->page_size = 4096;
	memset(h->nonce, 0xa5, sizeof(h->nonce));
	h->nblocks = nblocks;
	for (i = 0; i < nblocks; i++) {
		snprintf(h->blocks[i].name, sizeof(h->blocks[i].name),
			 "ram%u", i);
		h->blocks[i].size = (uint64_t)(i + 1) << 20;
	}
}

static void test_hello(void)
{
	struct pcmig_hello h, d;
	uint8_t *p = buf + PCMIG_MSG_HDR_LEN;
	uint32_t len;
	int n;

	sample_hello(&h, 3);
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	CHECK(n == PCMIG_MSG_HDR_LEN + PCMIG_HELLO_FIXED_LEN +
		   3 * PCMIG_BLOCK_WIRE_LEN);
	len = n - PCMIG_MSG_HDR_LEN;
	CHECK(pcmig_hello_decode(p, len, &d) == 0);
	CHECK(d.role == PCMIG_ROLE_CONTROL && d.nblocks == 3 &&
	      d.page_size == 4096 && d.caps_required == PCMIG_CAP_ZERO_PAGES &&
	      d.caps_supported == h.caps_supported);
	CHECK(!memcmp(d.session_id, h.session_id, sizeof(h.session_id)));
	CHECK(!memcmp(d.nonce, h.nonce, sizeof(h.nonce)));
	CHECK(pcmig_layout_equal(&h, &d));
	CHECK(!strcmp(d.blocks[2].name, "ram2") && d.blocks[2].size == 3 << 20);

	/* Truncated, or trailing bytes. */
	CHECK(pcmig_hello_decode(p, len - 1, &d) == -EPROTO);
	CHECK(pcmig_hello_decode(p, PCMIG_HELLO_FIXED_LEN - 1, &d) == -EPROTO);
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	CHECK(pcmig_hello_decode(p, len + 1, &d) == -EPROTO);
	/* Bad role, padding, versions, capabilities. */
	p[4] = 4;
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	p[4] = PCMIG_ROLE_CONTROL;
	p[6] = 1;
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	p[6] = 0;
	p[1] = 2;				/* min 2 > max 1 */
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	p[1] = 0;				/* min 0 */
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	p[1] = 1;
	p[23] |= 0x80;				/* required bit 7 not supported */
	p[15] &= ~0x80;
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	/* A block name without NUL, with a space, with junk after NUL. */
	memset(p + PCMIG_HELLO_FIXED_LEN, 'x', PCMIG_BLOCK_NAME_LEN);
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	p[PCMIG_HELLO_FIXED_LEN + 1] = ' ';
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	p[PCMIG_HELLO_FIXED_LEN + 10] = 'z';
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	/* Block count disagreeing with the length. */
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	p[79] = 4;
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	/* Blocks on a page channel; none on the control connection. */
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	p[4] = PCMIG_ROLE_BULK;
	CHECK(pcmig_hello_decode(p, len, &d) == -EPROTO);
	sample_hello(&h, 0);
	h.role = PCMIG_ROLE_CONTROL;
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	CHECK(pcmig_hello_decode(p, n - PCMIG_MSG_HDR_LEN, &d) == -EPROTO);
	h.role = PCMIG_ROLE_BULK;
	n = pcmig_hello_encode(buf, sizeof(buf), &h);
	CHECK(pcmig_hello_decode(p, n - PCMIG_MSG_HDR_LEN, &d) == 0);
	/* Too many blocks to encode; no room. */
	sample_hello(&h, 1);
	h.nblocks = PCMIG_MAX_BLOCKS + 1;
	CHECK(pcmig_hello_encode(buf, sizeof(buf), &h) == -EMSGSIZE);
	h.nblocks = 1;
	CHECK(pcmig_hello_encode(buf, 50, &h) == -EMSGSIZE);
}

static void test_layout(void)
{
	struct pcmig_block b[3] = {
		{ "ram0", 1 << 20 }, { "ram1", 8192 }, { "vram", 4096 },
	};
	uint64_t total = 0;

	CHECK(pcmig_layout_check(b, 3, 4096, &total) == 0 &&
	      total == (1 << 20) + 12288);
	CHECK(pcmig_layout_check(b, 0, 4096, &total) == -EINVAL);
	b[1].size = 100;
	CHECK(pcmig_layout_check(b, 3, 4096, &total) == -EINVAL);
	b[1].size = 0;
	CHECK(pcmig_layout_check(b, 3, 4096, &total) == -EINVAL);
	b[1].size = 8192;
	strcpy(b[2].name, "ram0");
	CHECK(pcmig_layout_check(b, 3, 4096, &total) == -EINVAL);
	strcpy(b[2].name, "");
	CHECK(pcmig_layout_check(b, 3, 4096, &total) == -EINVAL);
	strcpy(b[2].name, "vram");
	b[2].size = PCMIG_MAX_SIZE;
	CHECK(pcmig_layout_check(b, 3, 4096, &total) == -EINVAL);
}

static void test_small_messages(void)
{
	uint8_t *p = buf + PCMIG_MSG_HDR_LEN;
	struct pcmig_hello_ack a = { .version = 1, .caps = 5 }, ad;
	struct pcmig_advise adv = { 1 << 30, 4096 }, advd;
	struct pcmig_advise_ok ok = { 7 }, okd;
	struct pcmig_done done = { 1, 2, 3, 4, 5 }, doned;
	struct pcmig_error_msg e;
	uint8_t mac[PCMIG_MAC_LEN];
	int len;

	memset(a.nonce, 1, sizeof(a.nonce));
	memset(a.mac, 2, sizeof(a.mac));
	len = pcmig_hello_ack_encode(buf, sizeof(buf), &a);
	CHECK(len == PCMIG_MSG_HDR_LEN + PCMIG_HELLO_ACK_LEN);
	CHECK(pcmig_hello_ack_decode(p, PCMIG_HELLO_ACK_LEN, &ad) == 0 &&
	      ad.version == 1 && ad.caps == 5 && ad.mac[31] == 2);
	CHECK(pcmig_hello_ack_decode(p, PCMIG_HELLO_ACK_LEN - 1, &ad) ==
	      -EPROTO);
	p[3] = 1;
	CHECK(pcmig_hello_ack_decode(p, PCMIG_HELLO_ACK_LEN, &ad) == -EPROTO);

	memset(mac, 9, sizeof(mac));
	len = pcmig_auth_encode(buf, sizeof(buf), mac);
	CHECK(len == PCMIG_MSG_HDR_LEN + PCMIG_MAC_LEN);
	memset(mac, 0, sizeof(mac));
	CHECK(pcmig_auth_decode(p, PCMIG_MAC_LEN, mac) == 0 && mac[0] == 9);
	CHECK(pcmig_auth_decode(p, PCMIG_MAC_LEN + 1, mac) == -EPROTO);

	len = pcmig_error_encode(buf, sizeof(buf), PCMIG_ERR_LAYOUT,
				 "bad\x01layout");
	CHECK(len == PCMIG_MSG_HDR_LEN + 4 + 10);
	CHECK(pcmig_error_decode(p, 14, &e) == 0 &&
	      e.code == PCMIG_ERR_LAYOUT && !strcmp(e.text, "bad?layout"));
	CHECK(pcmig_error_decode(p, 3, &e) == -EPROTO);
	CHECK(pcmig_error_decode(p, 4 + PCMIG_MAX_ERROR_TEXT + 1, &e) ==
	      -EPROTO);

	len = pcmig_advise_encode(buf, sizeof(buf), &adv);
	CHECK(pcmig_advise_decode(p, PCMIG_ADVISE_LEN, &advd) == 0 &&
	      advd.size == 1 << 30 && advd.page_size == 4096);
	p[15] = 1;				/* flags */
	CHECK(pcmig_advise_decode(p, PCMIG_ADVISE_LEN, &advd) == -EPROTO);
	adv.size = 4097;
	pcmig_advise_encode(buf, sizeof(buf), &adv);
	CHECK(pcmig_advise_decode(p, PCMIG_ADVISE_LEN, &advd) == -EPROTO);
	adv.size = 0;
	pcmig_advise_encode(buf, sizeof(buf), &adv);
	CHECK(pcmig_advise_decode(p, PCMIG_ADVISE_LEN, &advd) == -EPROTO);

	pcmig_advise_ok_encode(buf, sizeof(buf), &ok);
	CHECK(pcmig_advise_ok_decode(p, PCMIG_ADVISE_OK_LEN, &okd) == 0 &&
	      okd.session == 7);
	CHECK(pcmig_advise_ok_decode(p, 4, &okd) == -EPROTO);

	pcmig_done_encode(buf, sizeof(buf), &done);
	CHECK(pcmig_done_decode(p, PCMIG_DONE_LEN, &doned) == 0 &&
	      doned.pages_total == 1 && doned.faults == 5);
	CHECK(pcmig_done_decode(p, PCMIG_DONE_LEN + 8, &doned) == -EPROTO);
	CHECK(pcmig_empty_encode(buf, sizeof(buf), PCMIG_MSG_DONE_ACK) ==
	      PCMIG_MSG_HDR_LEN);
}

static void test_package(void)
{
	static uint8_t blob[4096];
	const char state[] = "device state";
	const void *s;
	size_t sl;
	int len;

	len = pcmig_package_build(blob, sizeof(blob), state, sizeof(state));
	CHECK(len == (int)pcmig_package_len(sizeof(state)));
	CHECK(pcmig_package_parse(blob, len, &s, &sl) == 0 &&
	      sl == sizeof(state) && !memcmp(s, state, sl));
	/* Empty device state. */
	len = pcmig_package_build(blob, sizeof(blob), NULL, 0);
	CHECK(len == 3 * PCMIG_MSG_HDR_LEN);
	CHECK(pcmig_package_parse(blob, len, &s, &sl) == 0 && sl == 0);
	/* Truncated, trailing bytes, wrong order, no RUN. */
	len = pcmig_package_build(blob, sizeof(blob), state, sizeof(state));
	CHECK(pcmig_package_parse(blob, len - 1, &s, &sl) == -EPROTO);
	CHECK(pcmig_package_parse(blob, len + 1, &s, &sl) == -EPROTO);
	pcmig_msg_put_hdr(blob, PCMIG_MSG_HDR_LEN, PCMIG_MSG_RUN, 0);
	CHECK(pcmig_package_parse(blob, len, &s, &sl) == -EPROTO);
	len = pcmig_package_build(blob, sizeof(blob), state, sizeof(state));
	pcmig_msg_put_hdr(blob + len - PCMIG_MSG_HDR_LEN, PCMIG_MSG_HDR_LEN,
			  PCMIG_MSG_LISTEN, 0);
	CHECK(pcmig_package_parse(blob, len, &s, &sl) == -EPROTO);
	CHECK(pcmig_package_build(blob, 10, state, sizeof(state)) == -EMSGSIZE);
	CHECK(pcmig_package_parse(blob, 5, &s, &sl) == -EPROTO);
}

/* The framing without a copy gives the same bytes as the whole build. */
static void test_package_frame(void)
{
	static uint8_t blob[4096], msg[4096];
	uint8_t head[PCMIG_PACKAGE_HEAD_LEN], tail[PCMIG_PACKAGE_TAIL_LEN];
	const char state[] = "device state";
	struct pcmig_msg_hdr h;
	int len;

	CHECK(pcmig_package_frame(head, tail, sizeof(state)) == 0);
	memcpy(msg, head, sizeof(head));
	memcpy(msg + sizeof(head), state, sizeof(state));
	memcpy(msg + sizeof(head) + sizeof(state), tail, sizeof(tail));
	CHECK(pcmig_msg_get_hdr(msg, &h) == 0);
	CHECK(h.type == PCMIG_MSG_PACKAGED);
	CHECK(h.len == pcmig_package_len(sizeof(state)));
	len = pcmig_package_build(blob, sizeof(blob), state, sizeof(state));
	CHECK(len == (int)h.len);
	CHECK(!memcmp(msg + PCMIG_MSG_HDR_LEN, blob, h.len));
	/* Empty state, and the size limits. */
	CHECK(pcmig_package_frame(head, tail, 0) == 0);
	CHECK(pcmig_msg_get_hdr(head, &h) == 0 && h.len == 3 * 12);
	CHECK(pcmig_package_frame(head, tail, PCMIG_MAX_PACKAGE -
				  pcmig_package_len(0)) == 0);
	CHECK(pcmig_package_frame(head, tail, PCMIG_MAX_PACKAGE -
				  pcmig_package_len(0) + 1) == -EMSGSIZE);
	CHECK(pcmig_package_frame(head, tail, SIZE_MAX) == -EMSGSIZE);
}

static void test_sync(void)
{
	struct pcmig_msg_hdr h;
	uint64_t t = 0;
	int n;

	n = pcmig_sync_encode(buf, sizeof(buf), 0x0102030405060708ULL);
	CHECK(n == PCMIG_MSG_HDR_LEN + 8);
	CHECK(pcmig_msg_get_hdr(buf, &h) == 0);
	CHECK(h.type == PCMIG_MSG_SYNC && h.len == 8);
	CHECK(buf[PCMIG_MSG_HDR_LEN] == 1 && buf[PCMIG_MSG_HDR_LEN + 7] == 8);
	CHECK(pcmig_sync_decode(buf + PCMIG_MSG_HDR_LEN, 8, &t) == 0);
	CHECK(t == 0x0102030405060708ULL);
	CHECK_STR(pcmig_msg_name(PCMIG_MSG_SYNC), "SYNC");
	/* Zero token, short, long, no room. */
	CHECK(pcmig_sync_encode(buf, sizeof(buf), 0) == -EINVAL);
	CHECK(pcmig_sync_encode(buf, PCMIG_MSG_HDR_LEN + 7, 1) == -EMSGSIZE);
	memset(buf, 0, sizeof(buf));
	t = 5;
	CHECK(pcmig_sync_decode(buf, 8, &t) == -EPROTO && t == 5);
	buf[7] = 1;
	CHECK(pcmig_sync_decode(buf, 7, &t) == -EPROTO && t == 5);
	CHECK(pcmig_sync_decode(buf, 9, &t) == -EPROTO && t == 5);
	/* The header refuses a longer payload. */
	pcmig_msg_put_hdr(buf, sizeof(buf), PCMIG_MSG_SYNC, 9);
	CHECK(pcmig_msg_get_hdr(buf, &h) == -EPROTO);
	pcmig_msg_put_hdr(buf, sizeof(buf), PCMIG_MSG_TYPE_MAX + 1, 0);
	CHECK(pcmig_msg_get_hdr(buf, &h) == -EPROTO);
}

/* Partial vectored writes: whole parts skipped, the next one trimmed. */
static void test_iov_advance(void)
{
	char a[4], b[8], c[2];
	struct iovec v[3], *iov;
	int cnt;

	v[0].iov_base = a;
	v[0].iov_len = sizeof(a);
	v[1].iov_base = b;
	v[1].iov_len = sizeof(b);
	v[2].iov_base = c;
	v[2].iov_len = sizeof(c);
	iov = v;
	cnt = 3;
	pcmig_iov_advance(&iov, &cnt, 0);
	CHECK(iov == v && cnt == 3 && v[0].iov_len == 4);
	pcmig_iov_advance(&iov, &cnt, 3);
	CHECK(iov == v && cnt == 3 && iov->iov_base == a + 3 &&
	      iov->iov_len == 1);
	pcmig_iov_advance(&iov, &cnt, 1 + 5);
	CHECK(iov == v + 1 && cnt == 2 && iov->iov_base == b + 5 &&
	      iov->iov_len == 3);
	pcmig_iov_advance(&iov, &cnt, 3);
	CHECK(iov == v + 2 && cnt == 1 && iov->iov_len == 2);
	pcmig_iov_advance(&iov, &cnt, 2);
	CHECK(cnt == 0);
}

static void test_frames(void)
{
	uint8_t f[24], type;
	uint16_t flags;
	uint32_t np, len;
	uint64_t off;

	pcmig_frame_put(f, 3, 1, 2, 16, 1 << 20);
	CHECK(pcmig_frame_get(f, &type, &flags, &np, &len, &off) == 0 &&
	      type == 3 && flags == 1 && np == 2 && len == 16 &&
	      off == 1 << 20);
	f[4] = 9;
	CHECK(pcmig_frame_get(f, &type, &flags, &np, &len, &off) == -EPROTO);
}

static const char *write_key(const char *name, const char *content,
			     mode_t mode)
{
	static char path[4][256];
	static int i;
	char *p = path[i++ % 4];
	int fd;

	snprintf(p, 256, "/tmp/pcmig-proto-test-%d-%s", getpid(), name);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0 || write(fd, content, strlen(content)) < 0)
		perror(p);
	fchmod(fd, mode);
	close(fd);
	return p;
}

static void test_keys(void)
{
	uint8_t key[PCMIG_MAX_KEY_LEN];
	char err[256];
	size_t len = 0;
	const char *p;

	p = write_key("good", "0123456789abcdef0123\n", 0600);
	CHECK(pcmig_key_load(p, key, &len, err, sizeof(err)) == 0 &&
	      len == 20 && !memcmp(key, "0123456789abcdef0123", 20));
	unlink(p);
	p = write_key("open", "0123456789abcdef0123\n", 0644);
	CHECK(pcmig_key_load(p, key, &len, err, sizeof(err)) == -EPERM &&
	      strstr(err, "chmod 600"));
	unlink(p);
	p = write_key("short", "short\n", 0600);
	CHECK(pcmig_key_load(p, key, &len, err, sizeof(err)) == -EINVAL &&
	      strstr(err, "shorter"));
	unlink(p);
	CHECK(pcmig_key_load("/nonexistent/key", key, &len, err,
			     sizeof(err)) == -ENOENT);
}

/* Handshakes over a socketpair: the server runs in a thread. */

struct hs_pair {
	struct pcmig_hs cli, srv;
	int cli_ret, srv_ret;
	int fds[2];
};

static void *srv_thread(void *arg)
{
	struct hs_pair *hp = arg;

	hp->srv_ret = pcmig_hs_server(hp->fds[1], &hp->srv);
	return NULL;
}

static const struct pcmig_block blocks[2] = {
	{ "ram0", 1 << 20 }, { "vram", 8192 },
};

static void hs_defaults(struct hs_pair *hp, const char *ckey,
			const char *skey)
{
	memset(hp, 0, sizeof(*hp));
	hp->cli.key = (const uint8_t *)ckey;
	hp->cli.keylen = strlen(ckey);
	hp->cli.role = PCMIG_ROLE_CONTROL;
	hp->cli.caps_supported = PCMIG_CAPS_KNOWN;
	hp->cli.page_size = 4096;
	hp->cli.nblocks = 2;
	hp->cli.blocks = blocks;
	hp->cli.timeout_ms = 5000;
	memset(hp->cli.session_id, 0x11, PCMIG_SESSION_ID_LEN);
	hp->srv = hp->cli;
	hp->srv.key = (const uint8_t *)skey;
	hp->srv.keylen = strlen(skey);
	memset(hp->srv.session_id, 0, PCMIG_SESSION_ID_LEN);
}

static void hs_run(struct hs_pair *hp)
{
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, hp->fds)) {
		perror("socketpair");
		exit(1);
	}
	pthread_create(&t, NULL, srv_thread, hp);
	hp->cli_ret = pcmig_hs_client(hp->fds[0], &hp->cli);
	if (hp->cli_ret)
		shutdown(hp->fds[0], SHUT_RDWR);
	pthread_join(t, NULL);
	close(hp->fds[0]);
	close(hp->fds[1]);
}

#define KEY "correct horse battery staple"

static void test_handshake(void)
{
	struct pcmig_block other[2];
	struct hs_pair hp;

	/* Success: control, then a page channel of the same session. */
	hs_defaults(&hp, KEY, KEY);
	hp.srv.caps_supported = PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_DISCARD;
	hs_run(&hp);
	CHECK(hp.cli_ret == 0 && hp.srv_ret == 0);
	CHECK(hp.cli.version == 1 && hp.srv.version == 1);
	CHECK(hp.cli.caps == (PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_DISCARD) &&
	      hp.srv.caps == hp.cli.caps);
	CHECK(!memcmp(hp.srv.session_id, hp.cli.session_id,
		      PCMIG_SESSION_ID_LEN));
	CHECK(pcmig_layout_equal(&hp.srv.peer, &hp.srv.peer) &&
	      hp.srv.peer.nblocks == 2);

	hs_defaults(&hp, KEY, KEY);
	hp.cli.role = hp.srv.role = PCMIG_ROLE_URGENT;
	memset(hp.srv.session_id, 0x11, PCMIG_SESSION_ID_LEN);
	hs_run(&hp);
	CHECK(hp.cli_ret == 0 && hp.srv_ret == 0);

	/* Wrong key: the source catches the destination's bad MAC. */
	hs_defaults(&hp, KEY, "another key entirely!");
	hs_run(&hp);
	CHECK(hp.cli_ret == -EACCES && hp.cli.err_code == PCMIG_ERR_AUTH);
	CHECK(strstr(hp.cli.err, "destination does not know the key"));
	CHECK(hp.srv_ret == -ECONNABORTED &&
	      hp.srv.err_code == PCMIG_ERR_AUTH);
	CHECK(strstr(hp.srv.err, "authentication failed"));

	/* Page size. */
	hs_defaults(&hp, KEY, KEY);
	hp.srv.page_size = 65536;
	hs_run(&hp);
	CHECK(hp.srv_ret == -EPROTO && hp.srv.err_code == PCMIG_ERR_PAGE_SIZE);
	CHECK(hp.cli_ret == -ECONNABORTED &&
	      hp.cli.err_code == PCMIG_ERR_PAGE_SIZE);
	CHECK(strstr(hp.cli.err, "page size mismatch: source 4096 bytes, destination 65536"));

	/* Layout: a block of another size, another name, another count. */
	memcpy(other, blocks, sizeof(other));
	other[0].size = 2 << 20;
	hs_defaults(&hp, KEY, KEY);
	hp.srv.blocks = other;
	hs_run(&hp);
	CHECK(hp.srv.err_code == PCMIG_ERR_LAYOUT &&
	      hp.cli.err_code == PCMIG_ERR_LAYOUT);
	CHECK(strstr(hp.cli.err, "block 'ram0' is 1 MiB at the source, 2 MiB here"));
	memcpy(other, blocks, sizeof(other));
	strcpy(other[1].name, "vga");
	hs_defaults(&hp, KEY, KEY);
	hp.srv.blocks = other;
	hs_run(&hp);
	CHECK(hp.cli.err_code == PCMIG_ERR_LAYOUT && strstr(hp.cli.err, "'vga'"));
	hs_defaults(&hp, KEY, KEY);
	hp.srv.nblocks = 1;
	hs_run(&hp);
	CHECK(hp.cli.err_code == PCMIG_ERR_LAYOUT &&
	      strstr(hp.cli.err, "2 blocks, destination 1"));

	/* Capabilities required by either side. */
	hs_defaults(&hp, KEY, KEY);
	hp.cli.caps_required = PCMIG_CAP_BULK_CHANNEL;
	hp.srv.caps_supported = PCMIG_CAP_ZERO_PAGES;
	hs_run(&hp);
	CHECK(hp.srv.err_code == PCMIG_ERR_CAPS &&
	      hp.cli.err_code == PCMIG_ERR_CAPS);
	hs_defaults(&hp, KEY, KEY);
	hp.srv.caps_required = 1ULL << 50;
	hs_run(&hp);
	CHECK(hp.cli.err_code == PCMIG_ERR_CAPS &&
	      strstr(hp.cli.err, "destination requires"));
	/* Unknown capabilities offered are ignored. */
	hs_defaults(&hp, KEY, KEY);
	hp.cli.caps_supported |= 1ULL << 60;
	hs_run(&hp);
	CHECK(hp.cli_ret == 0 && !(hp.cli.caps & (1ULL << 60)));

	/* A page channel of another session; the wrong role. */
	hs_defaults(&hp, KEY, KEY);
	hp.cli.role = hp.srv.role = PCMIG_ROLE_BULK;
	memset(hp.srv.session_id, 0x22, PCMIG_SESSION_ID_LEN);
	hs_run(&hp);
	CHECK(hp.srv.err_code == PCMIG_ERR_SESSION &&
	      hp.cli.err_code == PCMIG_ERR_SESSION);
	hs_defaults(&hp, KEY, KEY);
	hp.srv.role = PCMIG_ROLE_URGENT;
	hs_run(&hp);
	CHECK(hp.cli.err_code == PCMIG_ERR_PROTOCOL &&
	      strstr(hp.cli.err, "expected the urgent connection, got control"));
}

/* A source of an unknown future version: the destination says so. */
static void test_version_mismatch(void)
{
	struct pcmig_error_msg e;
	struct pcmig_msg_hdr h;
	struct pcmig_hello hello;
	struct hs_pair hp;
	pthread_t t;
	void *p;
	int n;

	hs_defaults(&hp, KEY, KEY);
	socketpair(AF_UNIX, SOCK_STREAM, 0, hp.fds);
	pthread_create(&t, NULL, srv_thread, &hp);
	sample_hello(&hello, 2);
	memcpy(hello.blocks, blocks, sizeof(blocks));
	hello.version_min = 2;
	hello.version_max = 3;
	hello.caps_required = 0;
	n = pcmig_hello_encode(buf, sizeof(buf), &hello);
	CHECK(pcmig_write_full(hp.fds[0], buf, n, 1000) == 0);
	CHECK(pcmig_msg_recv(hp.fds[0], &h, &p, 0, 5000, &e) == -ECONNABORTED);
	CHECK(e.code == PCMIG_ERR_VERSION && strstr(e.text, "source speaks 2 to 3"));
	pthread_join(t, NULL);
	CHECK(hp.srv_ret == -EPROTO && hp.srv.err_code == PCMIG_ERR_VERSION);
	close(hp.fds[0]);
	close(hp.fds[1]);

	/* Garbage instead of HELLO. */
	hs_defaults(&hp, KEY, KEY);
	socketpair(AF_UNIX, SOCK_STREAM, 0, hp.fds);
	pthread_create(&t, NULL, srv_thread, &hp);
	CHECK(pcmig_write_full(hp.fds[0], "GET / HTTP/1.0\r\n\r\n", 18,
			       1000) == 0);
	pthread_join(t, NULL);
	CHECK(hp.srv_ret == -EPROTO && hp.srv.err_code == PCMIG_ERR_PROTOCOL);
	close(hp.fds[0]);
	close(hp.fds[1]);

	/* Silence: the destination gives up after its time limit. */
	hs_defaults(&hp, KEY, KEY);
	hp.srv.timeout_ms = 200;
	socketpair(AF_UNIX, SOCK_STREAM, 0, hp.fds);
	pthread_create(&t, NULL, srv_thread, &hp);
	pthread_join(t, NULL);
	CHECK(hp.srv_ret == -ETIMEDOUT && strstr(hp.srv.err, "no HELLO"));
	close(hp.fds[0]);
	close(hp.fds[1]);
}

int main(void)
{
	test_header();
	test_hello();
	test_layout();
	test_small_messages();
	test_package();
	test_package_frame();
	test_sync();
	test_iov_advance();
	test_frames();
	test_keys();
	test_handshake();
	test_version_mismatch();
	return unit_report("proto_test");
}
