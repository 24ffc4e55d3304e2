// SPDX-License-Identifier: GPL-2.0
/*
 * uffd_dest: a postcopy destination built on userfaultfd the way QEMU
 * builds one, receiving the very page stream 'pcmig-tool migrate' sends
 * to 'pcmig-tool incoming' (Documentation/protocol.rst), for part versus
 * of 'make bench' (scripts/bench-versus). Only the destination differs.
 *
 *   uffd_dest --listen H:P --key-file F --ram NAME:SIZE [--state-out F]
 *             [--fault-threads 1|2] WORKLOAD OPTIONS (lib/vswork.h)
 *
 * Connections, handshakes, ADVISE, PACKAGED, PACKAGED_OK, DONE/DONE_ACK
 * as pcmig-tool incoming does them, with the tool's own code
 * (tools/pcmig/handshake.c, net.c, proto.c, auth.c). Guest memory is a
 * MAP_SHARED memfd registered with UFFDIO_REGISTER_MODE_MISSING.
 *
 * fault thread(s) (QEMU's postcopy_ram_fault_thread): poll the uffd,
 *	drain every pending event, and send one REQUEST frame with the
 *	offsets of all of them on the urgent connection (batched like the
 *	kernel's requests); a page asked for once is not asked again, a
 *	fault on a page already placed only gets a UFFDIO_WAKE.
 * a receive thread per page connection (QEMU's listen thread and
 *	postcopy-preempt channel): reads PAGES/ZERO frames straight into a
 *	buffer and places each run of pages with one UFFDIO_COPY /
 *	UFFDIO_ZEROPAGE, which wakes the faulting threads. EEXIST (the page
 *	was placed already: a push crossed a reply) is counted and skipped,
 *	as QEMU does.
 *
 * The workload (lib/vswork.c) runs in this process once the package is
 * in: the faulting threads share the registered mm. It is the run hook:
 * PACKAGED_OK goes after it, as pcmig-tool incoming sends it after its
 * --run-cmd. With --wait-end the migration is followed to its end (every
 * page placed, END on every page connection), every page checked, DONE
 * sent; otherwise the process exits once measured (the source then sees
 * its connections close). Any failure: 'status failed' and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/pcmig.h>

#include "bench.h"
#include "image.h"
#include "net.h"
#include "proto.h"
#include "ram.h"
#include "vswork.h"

#define PS		IMAGE_PAGE
#define HDR		((uint32_t)sizeof(struct pcmig_frame))
#define TIMEOUT_MS	30000
#define MAX_FAULT_THREADS 2

const char *prog = "uffd_dest";

struct ud {
	uint8_t *mem;
	uint64_t size, npages;
	int uffd;
	int lfd, cfd, ufd, bfd;
	pthread_mutex_t ulock;		/* writes on the urgent connection */
	uint8_t *requested;		/* per page: asked for (atomic) */
	uint8_t *placed;		/* per page: placed (atomic) */
	uint64_t events;		/* fault events read (atomic) */
	uint64_t requests;		/* pages asked for (atomic) */
	uint64_t frames;		/* REQUEST frames sent (atomic) */
	uint64_t nplaced;		/* pages placed (atomic) */
	uint64_t nzero;			/* of which zero pages (atomic) */
	uint64_t eexist;		/* placements that found the page */
	int nconns;			/* page connections */
	int ends;			/* END frames seen (atomic) */
};

static struct ud ud = { .uffd = -1, .lfd = -1, .cfd = -1, .ufd = -1,
			.bfd = -1 };

/* ---- the page path ---- */

static void mark_placed(uint64_t off, uint64_t len, bool zero)
{
	uint64_t pg;

	for (pg = off / PS; pg < (off + len) / PS; pg++)
		__atomic_store_n(&ud.placed[pg], 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&ud.nplaced, len / PS, __ATOMIC_RELAXED);
	if (zero)
		__atomic_add_fetch(&ud.nzero, len / PS, __ATOMIC_RELAXED);
}

/*
 * Place @npages pages at @off: one ioctl for the run; a page that is
 * there already (EEXIST) is skipped and the rest placed.
 */
static void place(uint64_t off, const uint8_t *buf, uint32_t npages)
{
	uint64_t len = (uint64_t)npages * PS, done = 0, n;
	int ret;

	while (done < len) {
		if (buf) {
			struct uffdio_copy c = {
				.dst = (uintptr_t)ud.mem + off + done,
				.src = (uintptr_t)buf + done,
				.len = len - done,
			};

			ret = ioctl(ud.uffd, UFFDIO_COPY, &c);
			n = c.copy > 0 ? (uint64_t)c.copy : 0;
		} else {
			struct uffdio_zeropage z = {
				.range.start = (uintptr_t)ud.mem + off + done,
				.range.len = len - done,
			};

			ret = ioctl(ud.uffd, UFFDIO_ZEROPAGE, &z);
			n = z.zeropage > 0 ? (uint64_t)z.zeropage : 0;
		}
		if (!ret) {
			mark_placed(off + done, len - done, !buf);
			return;
		}
		if (n)
			mark_placed(off + done, n, !buf);
		done += n;
		if (errno == EEXIST) {
			__atomic_add_fetch(&ud.eexist, 1, __ATOMIC_RELAXED);
			done += PS;
		} else if (errno != EAGAIN && errno != EINTR) {
			die("%s at offset %" PRIu64 ": %s",
			    buf ? "UFFDIO_COPY" : "UFFDIO_ZEROPAGE",
			    off + done, strerror(errno));
		}
	}
}

struct conn {
	int fd;
	const char *name;
};

/* A receive thread: one page connection's frames. */
static void *recv_main(void *arg)
{
	struct conn *c = arg;
	uint8_t hdr[HDR], *buf;
	uint32_t npages, len;
	uint64_t off;
	uint16_t flags;
	uint8_t type;
	bool ended = false;
	int ret;

	buf = aligned_alloc(PS, PCMIG_FRAME_MAX_PAGES * PS);
	if (!buf)
		die("out of memory");
	for (;;) {
		ret = pcmig_read_full(c->fd, hdr, HDR, -1);
		if (ret && ended)
			break;
		if (ret)
			die("the %s connection: %s before END", c->name,
			    ret == -ECONNRESET ? "closed" : strerror(-ret));
		if (pcmig_frame_get(hdr, &type, &flags, &npages, &len, &off))
			die("the %s connection: a malformed frame", c->name);
		switch (type) {
		case PCMIG_FRAME_PAGES:
		case PCMIG_FRAME_ZERO:
			if (!npages || npages > PCMIG_FRAME_MAX_PAGES ||
			    off % PS || off / PS + npages > ud.npages ||
			    len != (type == PCMIG_FRAME_PAGES ? npages * PS : 0))
				die("the %s connection: a bad %s frame (%u pages at %" PRIu64 ", %u bytes)",
				    c->name, type == PCMIG_FRAME_ZERO ? "ZERO" :
				    "PAGES", npages, off, len);
			if (len) {
				ret = pcmig_read_full(c->fd, buf, len, TIMEOUT_MS);
				if (ret)
					die("the %s connection: %s in a frame",
					    c->name, strerror(-ret));
			}
			place(off, type == PCMIG_FRAME_PAGES ? buf : NULL,
			      npages);
			break;
		case PCMIG_FRAME_END:
			/* Later requests are still answered: read on. */
			ended = true;
			__atomic_add_fetch(&ud.ends, 1, __ATOMIC_RELEASE);
			break;
		case PCMIG_FRAME_SYNC:
			/* Only after DISCARD frames, which we never get. */
			break;
		default:
			die("the %s connection: unexpected frame type %u",
			    c->name, type);
		}
	}
	free(buf);
	return NULL;
}

static void send_request(const uint64_t *offs, uint32_t n)
{
	static __thread uint8_t frame[sizeof(struct pcmig_frame) +
				      8 * PCMIG_FRAME_MAX_REQS];
	uint32_t i;
	int ret;

	for (i = 0; i < n; i++) {
		uint64_t be = htobe64(offs[i]);

		memcpy(frame + HDR + 8 * i, &be, 8);
	}
	pcmig_frame_put(frame, PCMIG_FRAME_REQUEST, 0, n, 8 * n, 0);
	pthread_mutex_lock(&ud.ulock);
	ret = pcmig_write_full(ud.ufd, frame, HDR + 8 * n, TIMEOUT_MS);
	pthread_mutex_unlock(&ud.ulock);
	if (ret)
		die("sending a request on the urgent connection: %s",
		    strerror(-ret));
	__atomic_add_fetch(&ud.frames, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&ud.requests, n, __ATOMIC_RELAXED);
}

/*
 * A fault thread: wait for faults, drain every pending event, one REQUEST
 * frame for all the pages not asked for yet.
 */
static void *fault_main(void *arg)
{
	struct pollfd p = { .fd = ud.uffd, .events = POLLIN };
	uint64_t offs[PCMIG_FRAME_MAX_REQS], pg;
	struct uffd_msg msg[64];
	uint32_t cnt;
	ssize_t n;
	int i;

	(void)arg;
	for (;;) {
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll on the uffd: %s", strerror(errno));
		}
		cnt = 0;
		for (;;) {
			n = read(ud.uffd, msg, sizeof(msg));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n < 0)
				die("reading the uffd: %s", strerror(errno));
			for (i = 0; i < n / (ssize_t)sizeof(msg[0]); i++) {
				if (msg[i].event != UFFD_EVENT_PAGEFAULT)
					die("unexpected uffd event %u",
					    msg[i].event);
				__atomic_add_fetch(&ud.events, 1,
						   __ATOMIC_RELAXED);
				pg = (msg[i].arg.pagefault.address -
				      (uintptr_t)ud.mem) / PS;
				if (pg >= ud.npages)
					die("a fault outside guest memory");
				if (__atomic_load_n(&ud.placed[pg],
						    __ATOMIC_ACQUIRE)) {
					struct uffdio_range r = {
						.start = (uintptr_t)ud.mem +
							 pg * PS,
						.len = PS,
					};

					/* Placed meanwhile: just wake it. */
					if (ioctl(ud.uffd, UFFDIO_WAKE, &r))
						die("UFFDIO_WAKE: %s",
						    strerror(errno));
					continue;
				}
				if (__atomic_exchange_n(&ud.requested[pg], 1,
							__ATOMIC_RELAXED))
					continue;
				offs[cnt++] = pg * PS;
				if (cnt == PCMIG_FRAME_MAX_REQS) {
					send_request(offs, cnt);
					cnt = 0;
				}
			}
			if (n < (ssize_t)sizeof(msg))
				break;
		}
		if (cnt)
			send_request(offs, cnt);
	}
	return NULL;
}

static void uffd_setup(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	int mfd;

	mfd = memfd_create("uffd_dest", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, ud.size))
		die("memfd: %s", strerror(errno));
	ud.mem = mmap(NULL, ud.size, PROT_READ | PROT_WRITE, MAP_SHARED, mfd,
		      0);
	if (ud.mem == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	close(mfd);
	ud.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (ud.uffd < 0)
		die("userfaultfd: %s", strerror(errno));
	if (ioctl(ud.uffd, UFFDIO_API, &api))
		die("UFFDIO_API: %s", strerror(errno));
	reg.range.start = (uintptr_t)ud.mem;
	reg.range.len = ud.size;
	if (ioctl(ud.uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER: %s", strerror(errno));
	if (!(reg.ioctls & (1ULL << _UFFDIO_COPY)) ||
	    !(reg.ioctls & (1ULL << _UFFDIO_ZEROPAGE)))
		die("UFFDIO_REGISTER: no UFFDIO_COPY or UFFDIO_ZEROPAGE on shmem");
	ud.requested = calloc(ud.npages, 1);
	ud.placed = calloc(ud.npages, 1);
	if (!ud.requested || !ud.placed)
		die("out of memory");
}

/* ---- the workload's view ---- */

static uint64_t ud_remote(struct vs_dest *d)
{
	(void)d;
	return __atomic_load_n(&ud.events, __ATOMIC_RELAXED);
}

static bool ud_complete(struct vs_dest *d)
{
	(void)d;
	return __atomic_load_n(&ud.ends, __ATOMIC_ACQUIRE) == ud.nconns &&
	       __atomic_load_n(&ud.nplaced, __ATOMIC_RELAXED) == ud.npages;
}

/* ---- the control connection ---- */

struct cli {
	const char *listen;
	const char *key_file;
	const char *state_out;
	struct pcmig_block block;
	bool have_ram;
	unsigned int fault_threads;
};

static int cli_opt(int opt, const char *arg, void *ctx)
{
	struct cli *c = ctx;
	struct pcmig_ram ram;
	char err[256];

	switch (opt) {
	case 'l': c->listen = arg; return 0;
	case 'k': c->key_file = arg; return 0;
	case 's': c->state_out = arg; return 0;
	case 'f': c->fault_threads = parse_size(arg, "--fault-threads"); return 0;
	case 'r':
		if (c->have_ram)
			die("one --ram block only");
		if (pcmig_parse_ram_size(arg, &ram, err, sizeof(err)))
			die("--ram: %s", err);
		c->block = ram.block;
		c->have_ram = true;
		return 0;
	default:
		return -1;
	}
}

static int accept_role(struct pcmig_hs *hs, uint8_t role)
{
	int fd, one = 1;

	fd = pcmig_tcp_accept(ud.lfd, role == PCMIG_ROLE_CONTROL ? 120000 :
			      TIMEOUT_MS);
	if (fd < 0)
		die("no connection (role %u) from the source: %s", role,
		    strerror(-fd));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	hs->role = role;
	if (pcmig_hs_server(fd, hs))
		die("handshake: %s", hs->err);
	return fd;
}

/* One control message of type @want (or SYNC, skipped). */
static void *ctl_expect(uint8_t want, uint32_t *len)
{
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	void *p;
	int ret;

	for (;;) {
		ret = pcmig_msg_recv(ud.cfd, &h, &p, pcmig_msg_max_len(want),
				     TIMEOUT_MS * 4, &perr);
		if (ret == -ECONNABORTED)
			die("the source gave up: %s: %s",
			    pcmig_err_name(perr.code), perr.text);
		if (ret)
			die("control connection, waiting for %s: %s",
			    pcmig_msg_name(want), strerror(-ret));
		if (h.type == want)
			break;
		free(p);
		if (h.type != PCMIG_MSG_SYNC) {
			pcmig_msg_send_error(ud.cfd, PCMIG_ERR_PROTOCOL,
					     "unexpected message");
			die("expected %s, got %s", pcmig_msg_name(want),
			    pcmig_msg_name(h.type));
		}
	}
	*len = h.len;
	return p;
}

static void ctl_send(const void *buf, int n, const char *what)
{
	if (n < 0 || pcmig_write_full(ud.cfd, buf, n, TIMEOUT_MS))
		die("sending %s failed", what);
}

int main(int argc, char **argv)
{
	uint8_t key[PCMIG_MAX_KEY_LEN], buf[PCMIG_MSG_HDR_LEN + 64];
	struct cli cli = { .fault_threads = 1 };
	struct conn conns[2];
	struct pcmig_advise adv;
	struct pcmig_advise_ok ok = { 0 };
	struct pcmig_done done;
	struct pcmig_hs hs;
	struct vs_opts o;
	struct vs_dest d = { .name = "uffd", .remote = ud_remote,
			     .complete = ud_complete };
	const void *state;
	size_t keylen, state_len;
	pthread_t th;
	char err[512];
	uint32_t len;
	void *p;
	int i;

	vs_parse(&o, argc, argv, cli_opt, &cli);
	if (!cli.listen || !cli.key_file || !cli.have_ram)
		die("usage: uffd_dest --listen H:P --key-file F --ram NAME:SIZE [--state-out F] [--fault-threads 1|2] [workload options]\n%s",
		    vs_usage);
	if (!cli.fault_threads || cli.fault_threads > MAX_FAULT_THREADS)
		die("--fault-threads 1 or 2");
	if (pcmig_key_load(cli.key_file, key, &keylen, err, sizeof(err)))
		die("%s", err);
	ud.size = cli.block.size;
	ud.npages = ud.size / PS;
	pthread_mutex_init(&ud.ulock, NULL);

	ud.lfd = pcmig_tcp_listen(cli.listen, err, sizeof(err));
	if (ud.lfd < 0)
		die("%s", err);
	fprintf(stderr, "%s: listening on %s (%u fault thread(s))\n", prog,
		cli.listen, cli.fault_threads);

	memset(&hs, 0, sizeof(hs));
	hs.key = key;
	hs.keylen = keylen;
	hs.caps_supported = PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_BULK_CHANNEL;
	hs.page_size = PS;
	hs.nblocks = 1;
	hs.blocks = &cli.block;
	hs.timeout_ms = TIMEOUT_MS;
	ud.cfd = accept_role(&hs, PCMIG_ROLE_CONTROL);
	ud.ufd = accept_role(&hs, PCMIG_ROLE_URGENT);
	ud.nconns = 1;
	if (hs.caps & PCMIG_CAP_BULK_CHANNEL) {
		ud.bfd = accept_role(&hs, PCMIG_ROLE_BULK);
		ud.nconns = 2;
	}
	close(ud.lfd);

	p = ctl_expect(PCMIG_MSG_ADVISE, &len);
	if (pcmig_advise_decode(p, len, &adv))
		die("malformed ADVISE");
	free(p);
	if (adv.size != ud.size || adv.page_size != PS) {
		pcmig_msg_send_error(ud.cfd, PCMIG_ERR_LAYOUT,
				     "size or page size mismatch");
		die("ADVISE: %" PRIu64 " bytes in pages of %u, expected %" PRIu64 " in %lu",
		    adv.size, adv.page_size, ud.size, PS);
	}
	uffd_setup();
	conns[0].fd = ud.ufd;
	conns[0].name = "urgent";
	conns[1].fd = ud.bfd;
	conns[1].name = "bulk";
	for (i = 0; i < ud.nconns; i++)
		if (pthread_create(&th, NULL, recv_main, &conns[i]))
			die("pthread_create failed");
	for (i = 0; i < (int)cli.fault_threads; i++)
		if (pthread_create(&th, NULL, fault_main, NULL))
			die("pthread_create failed");
	ctl_send(buf, pcmig_advise_ok_encode(buf, sizeof(buf), &ok),
		 "ADVISE_OK");

	p = ctl_expect(PCMIG_MSG_PACKAGED, &len);
	if (pcmig_package_parse(p, len, &state, &state_len))
		die("bad device-state package");
	if (cli.state_out) {
		FILE *f = fopen(cli.state_out, "w");

		if (!f || fwrite(state, 1, state_len, f) != state_len ||
		    fclose(f))
			die("%s: %s", cli.state_out, strerror(errno));
	}
	free(p);
	fprintf(stderr, "%s: package received (%zu bytes of device state): running the workload\n",
		prog, state_len);

	d.mem = ud.mem;
	d.size = ud.size;
	vs_run(&o, &d);
	ctl_send(buf, pcmig_empty_encode(buf, sizeof(buf),
					 PCMIG_MSG_PACKAGED_OK), "PACKAGED_OK");
	fprintf(stderr, "%s: %" PRIu64 " fault events, %" PRIu64 " pages requested in %" PRIu64 " frames, %" PRIu64 " placed (%" PRIu64 " zero), %" PRIu64 " already there (EEXIST)\n",
		prog, ud.events, ud.requests, ud.frames, ud.nplaced, ud.nzero,
		ud.eexist);
	if (o.wait_end) {
		done.pages_total = ud.npages;
		done.pages_received = ud.nplaced;
		done.pages_requested = ud.requests;
		done.pages_zero = ud.nzero;
		done.faults = ud.events;
		ctl_send(buf, pcmig_done_encode(buf, sizeof(buf), &done),
			 "DONE");
		free(ctl_expect(PCMIG_MSG_DONE_ACK, &len));
		fprintf(stderr, "%s: every page arrived, DONE acknowledged\n",
			prog);
	}
	printf("status ok\n");
	fflush(stdout);
	/* The receive and fault threads end with the process. */
	exit(0);
}
