/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: what the files of "pcmig-tool migrate", the source side of a
 * migration, share (source.c's top comment tells how it works):
 *
 * source.c          cmd_migrate(): set-up, the threads, the control
 *                   connection, progress and the final reports
 * source_opts.c     the command line
 * source_package.c  the precopy hook, DISCARD and SYNC, the package
 * source_qemu.c     --qemu-qmp: the VM's QEMU stopped, its state saved
 * source_urgent.c   the urgent thread: requests and their replies
 * source_push.c     the pusher thread: the background push, END
 * source_recover.c  after a lost link: reconnect, RESUME, MISSING
 * source_conn.c     connections, handshakes, ADVISE
 * source_io.c       helpers of them all: failures, messages, writes
 * source_logic.c    the pure pieces (source.h, tests/source_test.c)
 *
 * Each calls only files below it in this list.
 */
#ifndef _PCMIG_SOURCE_INT_H
#define _PCMIG_SOURCE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/pcmig.h>

#include "proto.h"
#include "ram.h"
#include "source.h"

#define NSEC_PER_SEC	1000000000ULL
#define REPLY_BATCH	64		/* requests answered per sendmsg() */
#define PUSH_FRAMES	8		/* push frames per sendmsg() */
#define NO_JUMP		UINT64_MAX
#define MINCORE_MAX	4096		/* pages per mincore() */

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

enum src_phase {
	PH_IDLE,		/* no background push */
	PH_PRECOPY,		/* push every page, no END */
	PH_POSTCOPY,		/* push the rest, then END */
};

/* How a failure is handled at the end. */
#define FAIL_TELL	(1U << 0)	/* send ERROR on the control connection */
/* A page connection broke: the peer's ERROR, if one comes, says why. */
#define FAIL_CHANNEL	(1U << 1)
/* The control connection failed or went silent: recovery may help. */
#define FAIL_LINK	(1U << 2)

struct src_block {
	struct pcmig_ram ram;
	int fd;
	uint64_t first;			/* first page */
	uint64_t npages;
};

struct src_stats {
	uint64_t pages_pushed;		/* background pages, first copy */
	uint64_t pages_zero;		/* pages sent as ZERO, first copies */
	uint64_t requests;		/* requested pages answered */
	uint64_t request_frames;	/* REQUEST frames read */
	uint64_t service_ns;		/* sum of request-to-reply times */
	uint64_t bytes;			/* bytes written on page connections */
	uint64_t pages_resent;		/* sent, lost with a link, sent again */
};

struct src;
struct pcmig_hs;
struct qmp;

struct src_pusher {
	struct src *s;
	const char *name;		/* "urgent" or "bulk" */
	int fd;
	bool shared;			/* on the urgent connection */
	pthread_cond_t cond;
	bool cond_ready;
	pthread_t thread;
	bool started;

	/* Background push. */
	uint64_t pos;			/* cursor */
	bool vec_valid;			/* residency from mincore() */
	uint64_t vec_first, vec_n;
	uint64_t hole_first, hole_end;	/* pages known to be holes */
	unsigned char vec[MINCORE_MAX];

	uint8_t hdr[PUSH_FRAMES][SRC_FRAME_LEN];
	struct iovec iov[2 * PUSH_FRAMES];
};

/* Scratch of the urgent thread, for one sendmsg() of replies. */
/*
 * Requests are read in as many bytes as the socket holds: with several
 * faulting vCPUs, each sends a frame of its own, and one read() and one
 * reply sendmsg() for all of them cost the source (and the destination's
 * receive softirq, which runs once for the whole reply) much less than a
 * round of system calls per frame.
 */
#define URG_RBUF	(4 * (SRC_FRAME_LEN + 8 * PCMIG_FRAME_MAX_REQS))

struct urg_reader {
	uint8_t buf[URG_RBUF];
	size_t len;			/* bytes in buf */
	size_t pos;			/* first byte not parsed */
};

struct src_replier {
	struct urg_reader rd;		/* requests read, not answered */
	bool first_copy[REPLY_BATCH];	/* the reply is its first copy */
	struct src_reply plan[REPLY_BATCH];
	uint8_t hdrs[REPLY_BATCH][SRC_FRAME_LEN];
	struct iovec iov[2 * REPLY_BATCH];
};

struct src {
	/* Options. */
	const char *connect;
	const char *key_file;
	const char *device_state;
	const char *precopy_hook;
	const char **discard_specs;
	unsigned int ndiscards;
	bool no_bulk, precopy, json, quiet;
	bool recover;			/* reconnect after a lost link */
	bool resume;			/* --resume: take over a migration */
	unsigned int recover_timeout_s;	/* give up after; 0: never */
	uint64_t bandwidth;
	uint32_t batch;
	uint32_t frames_per_call;
	int timeout_ms;

	/* Memory. */
	struct src_block blocks[PCMIG_MAX_BLOCKS];
	struct pcmig_block layout[PCMIG_MAX_BLOCKS];
	uint32_t nblocks;
	uint8_t *mem;
	uint64_t size, npages;
	uint32_t page_size;
	struct pcmig_wire_range *discards;
	uint8_t key[PCMIG_MAX_KEY_LEN];
	size_t keylen;

	/* Connections. */
	uint8_t sid[PCMIG_SESSION_ID_LEN];	/* the migration's session id */
	int ctl, urg, bulk;
	uint64_t caps;
	bool zero_frames;
	uint32_t dest_session;
	int sigfd, evfd;

	/* Shared with the workers. */
	uint64_t *sent;			/* pages sent, see the top comment */
	uint64_t nsent;			/* bits set in sent (atomic) */
	uint64_t jump;			/* cursor after a request (atomic) */
	uint64_t last_activity;		/* ns of the last byte moved (atomic) */
	int phase;			/* enum src_phase (atomic reads) */
	struct src_stats st;		/* atomic counters */

	pthread_mutex_t wlock;		/* writes on the urgent connection */

	pthread_mutex_t lock;		/* everything below */
	unsigned int replying;		/* replies waiting for wlock */
	bool stop;
	bool precopy_done, end_sent, push_finished;
	bool packaged_ok;		/* the main thread's only */
	uint64_t recoveries;		/* the main thread's only */
	struct src_tb tb;		/* the pusher's only */
	bool failed;
	unsigned int fail_flags;
	uint32_t fail_code;
	char fail_msg[PCMIG_MAX_ERROR_TEXT];

	struct src_pusher pusher;
	struct src_replier replier;
	pthread_t reader;
	bool reader_started;

	/* --qemu-qmp: the VM's QEMU (source_qemu.c). */
	const char *qemu_qmp;
	struct qmp *qmp;
	bool qemu_stopped;		/* we stopped its running VM */
	bool qemu_migrating;		/* its own migration may still run */
	bool package_sent;		/* PACKAGED went out whole */

	/* Progress. */
	uint64_t t_start, t_last;
	uint64_t bytes_last;
};

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v)	__atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define SUB(p, v)	__atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)

/* source_opts.c: the command line. */
int src_parse_options(struct src *s, int argc, char **argv);

/* source_package.c: the steps before postcopy. */
int src_run_hook(struct src *s);
int src_send_discards(struct src *s);
int src_send_sync(struct src *s);
int src_send_package(struct src *s);

/* source_qemu.c: the VM's QEMU. */
int src_qemu_open(struct src *s);
int src_qemu_save(struct src *s, uint8_t **state, size_t *len);
void src_qemu_abort(struct src *s);
void src_qemu_close(struct src *s);

/* source_urgent.c: requests and their replies. */
void *src_urgent_main(void *arg);

/* source_push.c: the background push. */
int src_push_send(struct src_pusher *w, struct iovec *iov, int niov);
unsigned int src_push_frames(const struct src *s);
void *src_pusher_main(void *arg);

/* source_recover.c: after a lost link. */
bool src_can_recover(struct src *s);
int src_recover(struct src *s, struct pcmig_done *done);

/* source_conn.c: connections. */
void src_hs_init(struct src *s, struct pcmig_hs *hs, uint8_t role,
		 uint64_t caps, uint64_t required);
int src_connect_all(struct src *s);
int src_ctl_send(struct src *s, const void *buf, size_t len,
		 const char *what);
int src_advise(struct src *s);

/* source_io.c: helpers of every role. */
uint64_t src_now_ns(void);
void src_wake_main(struct src *s);
void src_close_conns(struct src *s);
void src_fail(struct src *s, uint32_t code, unsigned int flags,
	      const char *fmt, ...) __printf(4, 5);
void src_fail_peer(struct src *s, const struct pcmig_error_msg *perr);
bool src_failed(struct src *s);
void src_msg(struct src *s, const char *fmt, ...) __printf(2, 3);
int src_send_iov(struct src *s, int fd, struct iovec *iov, int cnt,
		 bool count);
const char *src_io_error(struct src *s, int ret, char *buf, size_t len);
bool src_mem_is_zero(void *ctx, uint64_t page);
void src_frame_iov(struct src *s, uint8_t *hdr, struct iovec *iov,
		   int *niov, uint8_t type, uint16_t flags, uint64_t first,
		   uint32_t npages);
bool src_benign_failure(struct src *s);
const char *src_signal(struct src *s);
int src_read_more(int fd, uint8_t **buf, size_t *len, size_t *cap,
		  size_t max);

#endif /* _PCMIG_SOURCE_INT_H */
