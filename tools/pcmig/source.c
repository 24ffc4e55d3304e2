// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the source side of a migration, "pcmig-tool migrate".
 *
 * The RAM files are mapped read-only, end to end, in one reserved range of
 * address space, so that page i of session memory is at mem + i * page
 * size and a frame's payload goes out with sendmsg() straight from the
 * mapping. Threads:
 *
 * main     handshakes, ADVISE, precopy steps, PACKAGED; then it waits on
 *          the control connection (PACKAGED_OK, DONE, ERROR), a signalfd
 *          (SIGINT, SIGTERM) and an eventfd the workers kick, prints the
 *          progress every second and tears everything down
 * urgent   reads REQUEST frames from the urgent connection, checks them
 *          and answers each at once on the same connection: no hand-off to
 *          another thread stands between a request and its reply
 * pusher   the background push: on the bulk connection, or, without one,
 *          on the urgent connection between the replies (while a reply
 *          waits, the pusher starts no frame there); then END
 *
 * A bitmap tells the pages sent, on any connection; the push skips them.
 * When every page is sent, END goes on every page connection: the
 * destination's kernel is done when each has carried END, and since each
 * connection is ordered, every page has then arrived. Writes on the urgent
 * connection hold a lock, and a reply marks its pages sent under it: END
 * never overtakes a reply whose page counted as sent.
 *
 * source_int.h lists the files of the source side and what each does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "format.h"
#include "net.h"
#include "pcmig-tool.h"
#include "source_int.h"

#define NSEC_PER_MSEC	1000000ULL
#define GRACE_MS	2000		/* wait for the peer's ERROR */
#define NOTSENT_LOWAT	(128 << 10)	/* unsent bytes behind the push */

/* ---- threads ---- */

static int start_threads(struct src *s)
{
	struct src_pusher *w = &s->pusher;
	int lowat = NOTSENT_LOWAT, ret;
	pthread_condattr_t ca;

	w->s = s;
	w->shared = s->bulk < 0;
	w->fd = w->shared ? s->urg : s->bulk;
	w->name = w->shared ? "urgent" : "bulk";
	/*
	 * Keep little unsent data queued behind the push: a reply on the
	 * same socket waits behind it, and after a request the push should
	 * soon carry the pages around the requested one.
	 */
	setsockopt(w->fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
		   sizeof(lowat));
	/* Again after each recovery, with the same condition variable. */
	if (!w->cond_ready) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->cond, &ca);
		pthread_condattr_destroy(&ca);
		w->cond_ready = true;
	}

	ret = -pthread_create(&s->reader, NULL, src_urgent_main, s);
	s->reader_started = !ret;
	if (!ret) {
		ret = -pthread_create(&w->thread, NULL, src_pusher_main, w);
		w->started = !ret;
	}
	if (ret)
		src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL,
			 "cannot start threads: %s", strerror(-ret));
	return ret;
}

static void set_phase(struct src *s, int phase)
{
	pthread_mutex_lock(&s->lock);
	STORE(&s->phase, phase);
	STORE(&s->jump, 0);		/* each phase starts at page 0 */
	if (s->pusher.cond_ready)
		pthread_cond_broadcast(&s->pusher.cond);
	pthread_mutex_unlock(&s->lock);
}

static void stop_threads(struct src *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	if (s->pusher.cond_ready)
		pthread_cond_broadcast(&s->pusher.cond);
	pthread_mutex_unlock(&s->lock);
	/* Wakes a blocked read() or poll() of the workers. */
	if (s->urg >= 0)
		shutdown(s->urg, SHUT_RDWR);
	if (s->bulk >= 0)
		shutdown(s->bulk, SHUT_RDWR);
	if (s->reader_started)
		pthread_join(s->reader, NULL);
	if (s->pusher.started)
		pthread_join(s->pusher.thread, NULL);
	s->reader_started = s->pusher.started = false;
}

/* ---- progress ---- */

static const char *phase_name(struct src *s)
{
	bool end;

	pthread_mutex_lock(&s->lock);
	end = s->end_sent;
	pthread_mutex_unlock(&s->lock);
	if (end)
		return "end";
	switch (LOAD(&s->phase)) {
	case PH_PRECOPY:
		return "precopy";
	case PH_POSTCOPY:
		return "postcopy";
	default:
		return "setup";
	}
}

static void progress(struct src *s)
{
	uint64_t t = src_now_ns(), bytes = LOAD(&s->st.bytes);
	uint64_t sent = LOAD(&s->nsent), reqs = LOAD(&s->st.requests);
	uint64_t dt = t - s->t_last, rate;
	char rbuf[PCMIG_FMT_LEN];

	rate = dt ? (uint64_t)((unsigned __int128)(bytes - s->bytes_last) *
			       NSEC_PER_SEC / dt) : 0;
	s->t_last = t;
	s->bytes_last = bytes;
	if (s->json) {
		printf("{\"event\":\"progress\",\"seconds\":%.3f,\"phase\":\"%s\","
		       "\"pages_sent\":%" PRIu64 ",\"pages_total\":%" PRIu64 ","
		       "\"requests_answered\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
		       "\"rate\":%" PRIu64 "}\n",
		       (double)(t - s->t_start) / NSEC_PER_SEC, phase_name(s),
		       sent, s->npages, reqs, bytes, rate);
		fflush(stdout);
	}
	if (!s->quiet)
		fprintf(stderr,
			"pcmig-tool: migrate: %s: %" PRIu64 "/%" PRIu64 " pages sent (%u%%), %" PRIu64 " requests answered, %s/s\n",
			phase_name(s), sent, s->npages,
			(unsigned int)(sent * 100 / s->npages), reqs,
			pcmig_fmt_size(rate, rbuf, sizeof(rbuf)));
}

/* ---- the control connection ---- */

enum wait_for {
	UNTIL_PRECOPY,		/* the precopy push is over */
	UNTIL_DONE,		/* DONE arrived */
};

/* One message on control. Return: 1 for DONE, 0 to go on, -1 failed. */
static int control_message(struct src *s, enum wait_for until,
			   struct pcmig_done *done)
{
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	void *p = NULL;
	int ret;

	ret = pcmig_msg_recv(s->ctl, &h, &p, PCMIG_DONE_LEN, s->timeout_ms,
			     &perr);
	if (ret == -ECONNABORTED) {
		src_fail_peer(s, &perr);
		return -1;
	}
	if (ret == -EPROTO) {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "malformed message on the control connection");
		return -1;
	}
	if (ret) {
		char buf[128];

		src_fail(s, PCMIG_ERR_ABORTED, FAIL_LINK,
			 "control connection: %s",
			 src_io_error(s, ret, buf, sizeof(buf)));
		return -1;
	}
	STORE(&s->last_activity, src_now_ns());
	ret = -1;
	if (until == UNTIL_DONE && h.type == PCMIG_MSG_PACKAGED_OK &&
	    !s->packaged_ok) {
		s->packaged_ok = true;
		src_msg(s, "destination: device state loaded, VM running");
		if (s->json) {
			printf("{\"event\":\"running\",\"seconds\":%.3f}\n",
			       (double)(src_now_ns() - s->t_start) /
			       NSEC_PER_SEC);
			fflush(stdout);
		}
		ret = 0;
	} else if (until == UNTIL_DONE && h.type == PCMIG_MSG_PACKAGED_OK) {
		/*
		 * Again after a recovery: a destination that could not know
		 * whether it arrived (a new destination tool), or meant for
		 * the source before us (--resume).
		 */
		ret = 0;
	} else if (until == UNTIL_DONE && h.type == PCMIG_MSG_DONE &&
		   s->packaged_ok) {
		if (pcmig_done_decode(p, h.len, done))
			src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
				 "malformed DONE");
		else
			ret = 1;
	} else {
		src_fail(s, PCMIG_ERR_PROTOCOL, FAIL_TELL,
			 "unexpected %s on the control connection%s",
			 pcmig_msg_name(h.type),
			 until != UNTIL_DONE ? " before PACKAGED" :
			 !s->packaged_ok ? " before PACKAGED_OK" : "");
	}
	free(p);
	return ret;
}

/*
 * The main thread's wait: control messages, signals, the workers' news,
 * progress every second. Return: 0 when @until is reached, -1 on failure
 * (recorded with src_fail()).
 */
static int main_loop(struct src *s, enum wait_for until,
		     struct pcmig_done *done)
{
	struct pollfd pfd[3] = {
		{ .fd = s->ctl, .events = POLLIN },
		{ .fd = s->sigfd, .events = POLLIN },
		{ .fd = s->evfd, .events = POLLIN },
	};
	uint64_t next_tick = s->t_last + NSEC_PER_SEC, t;
	const char *sig;
	bool finished;
	int ret, wait_ms;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		if (s->failed) {
			pthread_mutex_unlock(&s->lock);
			return -1;
		}
		finished = s->push_finished;
		if (until == UNTIL_PRECOPY && s->precopy_done) {
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		pthread_mutex_unlock(&s->lock);

		t = src_now_ns();
		if (t >= next_tick) {
			progress(s);
			next_tick += NSEC_PER_SEC;
			if (next_tick <= t)
				next_tick = t + NSEC_PER_SEC;
		}
		if (finished && t - LOAD(&s->last_activity) >=
		    (uint64_t)s->timeout_ms * NSEC_PER_MSEC) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL | FAIL_LINK,
				 "no DONE from the destination: every connection silent for %g s after the last page",
				 s->timeout_ms / 1000.0);
			return -1;
		}
		wait_ms = (int)((next_tick - t + NSEC_PER_MSEC - 1) /
				NSEC_PER_MSEC);
		if (finished && wait_ms > 100)
			wait_ms = 100;
		ret = poll(pfd, 3, wait_ms);
		if (ret < 0 && errno != EINTR) {
			src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL, "poll: %s",
				 strerror(errno));
			return -1;
		}
		if (ret <= 0)
			continue;
		sig = pfd[1].revents ? src_signal(s) : NULL;
		if (sig) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
				 "%s: migration aborted by the source%s", sig,
				 LOAD(&s->phase) == PH_POSTCOPY ?
				 " (the VM runs at the destination: it cannot get its missing pages now)" :
				 "");
			return -1;
		}
		if (pfd[2].revents) {
			uint64_t v;

			/* Only a wake-up: the flags above say what happened. */
			if (read(s->evfd, &v, sizeof(v)) < 0)
				v = 0;
		}
		if (pfd[0].revents) {
			ret = control_message(s, until, done);
			if (ret < 0)
				return -1;
			if (ret > 0)
				return 0;
		}
	}
}

/* ---- set-up before connecting ---- */

static int map_ram(struct src *s)
{
	uint64_t total = 0;
	struct stat st;
	uint32_t i, j;
	void *p;

	for (i = 0; i < s->nblocks; i++) {
		struct src_block *b = &s->blocks[i];

		for (j = 0; j < i; j++)
			if (!strcmp(b->ram.block.name,
				    s->blocks[j].ram.block.name)) {
				src_fail(s, PCMIG_ERR_INTERNAL, 0,
					 "RAM block name '%s' given twice",
					 b->ram.block.name);
				return -1;
			}
		b->fd = open(b->ram.path, O_RDONLY | O_CLOEXEC);
		if (b->fd < 0 || fstat(b->fd, &st)) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0, "RAM file %s: %s",
				 b->ram.path, strerror(errno));
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0,
				 "RAM file %s: not a regular file",
				 b->ram.path);
			return -1;
		}
		if (!st.st_size || st.st_size % s->page_size) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0,
				 "RAM file %s: size %lld is not a non-zero multiple of the page size (%u)",
				 b->ram.path, (long long)st.st_size,
				 s->page_size);
			return -1;
		}
		b->ram.block.size = st.st_size;
		b->first = total / s->page_size;
		b->npages = st.st_size / s->page_size;
		total += st.st_size;
		s->layout[i] = b->ram.block;
	}
	if (pcmig_layout_check(s->layout, s->nblocks, s->page_size, &total)) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0,
			 "RAM layout refused: at most %d blocks and %llu GiB in all",
			 PCMIG_MAX_BLOCKS,
			 (unsigned long long)(PCMIG_MAX_SIZE >> 30));
		return -1;
	}
	s->size = total;
	s->npages = total / s->page_size;

	/* One range of address space, each file mapped at its offset. */
	p = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0,
			 "cannot reserve %" PRIu64 " bytes of address space: %s",
			 total, strerror(errno));
		return -1;
	}
	s->mem = p;
	for (i = 0; i < s->nblocks; i++) {
		struct src_block *b = &s->blocks[i];

		p = mmap(s->mem + b->first * s->page_size, b->ram.block.size,
			 PROT_READ, MAP_SHARED | MAP_FIXED, b->fd, 0);
		if (p == MAP_FAILED) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0, "cannot map %s: %s",
				 b->ram.path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int setup(struct src *s)
{
	char err[512];
	unsigned int i;

	if (pcmig_key_load(s->key_file, s->key, &s->keylen, err,
			   sizeof(err))) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", err);
		return -1;
	}
	if (map_ram(s))
		return -1;
	if (s->ndiscards) {
		s->discards = calloc(s->ndiscards, sizeof(*s->discards));
		if (!s->discards)
			goto nomem;
	}
	for (i = 0; i < s->ndiscards; i++) {
		if (src_parse_range(s->discard_specs[i], s->size, s->page_size,
				    &s->discards[i], err, sizeof(err))) {
			src_fail(s, PCMIG_ERR_INTERNAL, 0, "%s", err);
			return -1;
		}
	}
	if (s->device_state && strcmp(s->device_state, "-") &&
	    strncmp(s->device_state, "cmd:", 4) &&
	    access(s->device_state, R_OK)) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "device state %s: %s",
			 s->device_state, strerror(errno));
		return -1;
	}
	s->sent = calloc(src_bitmap_words(s->npages), sizeof(uint64_t));
	if (!s->sent)
		goto nomem;
	return 0;
nomem:
	src_fail(s, PCMIG_ERR_INTERNAL, 0, "out of memory");
	return -1;
}

static int src_init(struct src *s)
{
	s->ctl = s->urg = s->bulk = s->sigfd = s->evfd = -1;
	s->frames_per_call = 1;
	s->timeout_ms = PCMIG_NET_TIMEOUT_MS;
	s->jump = NO_JUMP;
	s->recover = true;
	s->page_size = (uint32_t)sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	return 0;
}

static void src_cleanup(struct src *s)
{
	uint32_t i;

	stop_threads(s);
	if (s->pusher.cond_ready)
		pthread_cond_destroy(&s->pusher.cond);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->lock);
	src_close_conns(s);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->evfd >= 0)
		close(s->evfd);
	if (s->mem)
		munmap(s->mem, s->size);
	for (i = 0; i < s->nblocks; i++)
		if (s->blocks[i].fd >= 0)
			close(s->blocks[i].fd);
	free(s->sent);
	free(s->discards);
	free(s->discard_specs);
	memset(s->key, 0, sizeof(s->key));
}

/* ---- the end ---- */

static void report_failure(struct src *s)
{
	struct pcmig_error_msg perr;
	struct pcmig_msg_hdr h;
	struct pollfd p;
	void *payload = NULL;
	char peer[PCMIG_MAX_ERROR_TEXT + 64] = "";

	/*
	 * A page connection broke: the destination most likely says why on
	 * control. Give it a moment before talking over it.
	 */
	if ((s->fail_flags & FAIL_CHANNEL) && s->ctl >= 0) {
		p.fd = s->ctl;
		p.events = POLLIN;
		if (poll(&p, 1, GRACE_MS) > 0) {
			int ret = pcmig_msg_recv(s->ctl, &h, &payload,
						 PCMIG_DONE_LEN, GRACE_MS,
						 &perr);

			if (ret == -ECONNABORTED) {
				snprintf(peer, sizeof(peer), "%s (%s)",
					 perr.text, pcmig_err_name(perr.code));
				s->fail_flags &= ~FAIL_TELL;
			} else if (ret == -ECONNRESET) {
				s->fail_flags &= ~FAIL_TELL;
			}
			free(payload);
		}
	}
	if ((s->fail_flags & FAIL_TELL) && s->ctl >= 0)
		pcmig_msg_send_error(s->ctl, s->fail_code, s->fail_msg);

	fprintf(stderr, "pcmig-tool: migrate: %s\n", s->fail_msg);
	if (peer[0])
		fprintf(stderr, "pcmig-tool: migrate: destination failed: %s\n",
			peer);
	if (s->json) {
		printf("{\"event\":\"error\",\"seconds\":%.3f,\"message\":",
		       s->t_start ? (double)(src_now_ns() - s->t_start) /
		       NSEC_PER_SEC : 0.0);
		pcmig_json_fputs(stdout, s->fail_msg);
		if (peer[0]) {
			printf(",\"destination\":");
			pcmig_json_fputs(stdout, peer);
		}
		printf("}\n");
		fflush(stdout);
	}
}

static void report_done(struct src *s, const struct pcmig_done *d)
{
	uint64_t t = src_now_ns() - s->t_start;
	uint64_t reqs = LOAD(&s->st.requests), bytes = LOAD(&s->st.bytes);
	uint64_t mean = reqs ? LOAD(&s->st.service_ns) / reqs : 0;
	char b1[PCMIG_FMT_LEN], b2[PCMIG_FMT_LEN], b3[PCMIG_FMT_LEN];

	if (s->json) {
		printf("{\"event\":\"done\",\"seconds\":%.3f,"
		       "\"pages_total\":%" PRIu64 ",\"pages_pushed\":%" PRIu64 ","
		       "\"zero_pages\":%" PRIu64 ","
		       "\"requests_answered\":%" PRIu64 ","
		       "\"request_frames\":%" PRIu64 ",\"bytes\":%" PRIu64 ","
		       "\"mean_request_service_ns\":%" PRIu64 ","
		       "\"destination\":{\"pages_total\":%" PRIu64 ","
		       "\"pages_received\":%" PRIu64 ",\"pages_requested\":%" PRIu64 ","
		       "\"pages_zero\":%" PRIu64 ",\"faults\":%" PRIu64 "}}\n",
		       (double)t / NSEC_PER_SEC, s->npages,
		       LOAD(&s->st.pages_pushed),
		       LOAD(&s->st.pages_zero), reqs,
		       LOAD(&s->st.request_frames), bytes, mean,
		       d->pages_total, d->pages_received, d->pages_requested,
		       d->pages_zero, d->faults);
		fflush(stdout);
	}
	src_msg(s, "destination: %" PRIu64 " pages, %" PRIu64 " received, %" PRIu64 " requested, %" PRIu64 " zero, %" PRIu64 " faults",
		d->pages_total, d->pages_received, d->pages_requested,
		d->pages_zero, d->faults);
	src_msg(s, "done in %s: %" PRIu64 " pages pushed, %" PRIu64 " zero, %" PRIu64 " requests answered (mean %s), %s sent",
		pcmig_fmt_ns(t, b1, sizeof(b1)), LOAD(&s->st.pages_pushed),
		LOAD(&s->st.pages_zero), reqs,
		pcmig_fmt_ns(mean, b2, sizeof(b2)),
		pcmig_fmt_size(bytes, b3, sizeof(b3)));
}

static void report_start(struct src *s)
{
	char b[PCMIG_FMT_LEN], hex[2 * PCMIG_SESSION_ID_LEN + 1];

	pcmig_fmt_hex(s->sid, sizeof(s->sid), hex, sizeof(hex));
	src_msg(s, "destination session %u, migration %s (should this process die in postcopy: pcmig-tool migrate --resume %s with the same --connect, --key-file and --ram)",
		s->dest_session, hex, hex);
	src_msg(s, "%s in %" PRIu64 " pages, %u block%s, %s connection%s%s",
		pcmig_fmt_size(s->size, b, sizeof(b)), s->npages, s->nblocks,
		s->nblocks == 1 ? "" : "s", s->bulk >= 0 ? "bulk" : "no bulk",
		s->zero_frames ? ", zero pages as ZERO frames" : "",
		s->precopy ? ", precopy" : "");
	if (!s->json)
		return;
	printf("{\"event\":\"start\",\"destination\":");
	pcmig_json_fputs(stdout, s->connect);
	printf(",\"session_id\":\"%s\",\"session\":%u,\"size\":%" PRIu64 ",\"page_size\":%u,"
	       "\"pages\":%" PRIu64 ",\"blocks\":%u,\"bulk\":%s,"
	       "\"zero_frames\":%s,\"precopy\":%s,\"bandwidth\":%" PRIu64 ","
	       "\"batch\":%u,\"frames_per_call\":%u}\n",
	       hex, s->dest_session, s->size, s->page_size, s->npages,
	       s->nblocks,
	       s->bulk >= 0 ? "true" : "false",
	       s->zero_frames ? "true" : "false",
	       s->precopy ? "true" : "false", s->bandwidth, s->batch,
	       src_push_frames(s));
	fflush(stdout);
}

/* The rate limit and batch of the push, the start of the clock. */
static void prepare_push(struct src *s)
{
	uint64_t burst;

	if (!s->batch)
		s->batch = s->bulk < 0 || s->bandwidth ? SRC_BATCH_SHARED :
			   SRC_BATCH_DEFAULT;
	s->t_start = s->t_last = src_now_ns();
	STORE(&s->last_activity, s->t_start);
	burst = s->bandwidth / 10;
	if (burst < SRC_FRAME_LEN + (uint64_t)s->batch * s->page_size)
		burst = SRC_FRAME_LEN + (uint64_t)s->batch * s->page_size;
	src_tb_init(&s->tb, s->bandwidth, burst, src_now_ns());
}

/*
 * Postcopy until DONE, recovering from lost links; the workers run.
 * Return: 0 after DONE (DONE_ACK sent), -1 failed.
 */
static int postcopy(struct src *s)
{
	struct pcmig_done done;
	uint8_t ack[PCMIG_MSG_HDR_LEN];
	int n, ret;

	/* The VM runs at the destination: a lost link is recovered. */
	while (main_loop(s, UNTIL_DONE, &done)) {
		stop_threads(s);
		if (!src_can_recover(s))
			return -1;
		ret = src_recover(s, &done);
		if (ret < 0)
			return -1;
		if (ret > 0)
			break;
		if (start_threads(s))
			return -1;
	}
	n = pcmig_empty_encode(ack, sizeof(ack), PCMIG_MSG_DONE_ACK);
	if (src_ctl_send(s, ack, n, "DONE_ACK"))
		return -1;
	stop_threads(s);
	report_done(s, &done);
	return 0;
}

/* Everything after the handshakes. Return: 0 after DONE, -1 failed. */
static int migrate(struct src *s)
{
	if (src_advise(s))
		return -1;
	prepare_push(s);
	report_start(s);
	if (start_threads(s))
		return -1;

	if (s->precopy) {
		set_phase(s, PH_PRECOPY);
		if (main_loop(s, UNTIL_PRECOPY, NULL))
			return -1;
		src_msg(s, "precopy: every page sent");
		if (s->precopy_hook && src_run_hook(s))
			return -1;
		if (src_failed(s))
			return -1;
		if (s->ndiscards && (src_send_discards(s) || src_send_sync(s)))
			return -1;
	}
	if (src_send_package(s))
		return -1;
	set_phase(s, PH_POSTCOPY);
	return postcopy(s);
}

/*
 * --resume: the source before us died in postcopy; take its migration
 * over as a recovery would. Return: 0 after DONE, -1 failed.
 */
static int take_over(struct src *s)
{
	struct pcmig_done done;
	uint8_t ack[PCMIG_MSG_HDR_LEN];
	char hex[2 * PCMIG_SESSION_ID_LEN + 1];
	int n, ret;

	s->caps = PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_DISCARD |
		  (s->no_bulk ? 0 : PCMIG_CAP_BULK_CHANNEL);
	s->zero_frames = true;
	prepare_push(s);
	STORE(&s->phase, PH_POSTCOPY);
	/* The destination may have sent it to the source before us. */
	s->packaged_ok = true;
	src_fail(s, PCMIG_ERR_ABORTED, FAIL_LINK,
		 "taking over migration %s",
		 pcmig_fmt_hex(s->sid, sizeof(s->sid), hex, sizeof(hex)));
	ret = src_recover(s, &done);
	if (ret < 0)
		return -1;
	s->zero_frames = s->caps & PCMIG_CAP_ZERO_PAGES;
	if (ret == 0)
		return start_threads(s) ? -1 : postcopy(s);
	n = pcmig_empty_encode(ack, sizeof(ack), PCMIG_MSG_DONE_ACK);
	if (src_ctl_send(s, ack, n, "DONE_ACK"))
		return -1;
	report_done(s, &done);
	return 0;
}

/* Signals arrive on a descriptor from the handshakes on. */
static int block_signals(struct src *s)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return s->sigfd < 0 || s->evfd < 0 ? -1 : 0;
}

/**
 * cmd_migrate() - "pcmig-tool migrate": the source side of a migration
 * @argc: argument count, argv[0] being "migrate"
 * @argv: arguments
 *
 * Return: 0 when the destination confirmed every page, 1 on failure, 2
 * for a bad command line.
 */
int cmd_migrate(int argc, char **argv)
{
	struct src *s = calloc(1, sizeof(*s));
	int ret;

	if (!s) {
		fprintf(stderr, "pcmig-tool: migrate: out of memory\n");
		return 1;
	}
	src_init(s);
	ret = src_parse_options(s, argc, argv);
	if (ret >= 0)
		goto out;
	ret = 1;
	if (setup(s) || (s->qemu_qmp && src_qemu_open(s)) ||
	    (!s->resume && src_connect_all(s)))
		goto fail;
	if (block_signals(s)) {
		src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL,
			 "cannot set up signals: %s", strerror(errno));
		goto fail;
	}
	if (s->resume ? take_over(s) : migrate(s))
		goto fail;
	ret = 0;
	goto out;
fail:
	/* Tell the destination first, then close the page connections. */
	report_failure(s);
	src_qemu_abort(s);
out:
	src_qemu_close(s);
	src_cleanup(s);
	free(s);
	return ret;
}
