// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: the "pcmig" generic netlink family (see pcmig_genl.h).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "pcmig_genl.h"
#include "pcmig_source.h"

/* How long one request/reply exchange may take. */
#define GENL_TIMEOUT_MS		10000

const char *pcmig_cmd_name(uint8_t cmd)
{
	static const char * const names[] = {
		[PCMIG_CMD_UNSPEC] = "UNSPEC",
		[PCMIG_CMD_GET_INFO] = "GET_INFO",
		[PCMIG_CMD_SESSION_GET] = "SESSION_GET",
		[PCMIG_CMD_SESSION_DESTROY] = "SESSION_DESTROY",
		[PCMIG_CMD_EVENT_STATE] = "EVENT_STATE",
		[PCMIG_CMD_EVENT_PAUSED] = "EVENT_PAUSED",
		[PCMIG_CMD_EVENT_ERROR] = "EVENT_ERROR",
		[PCMIG_CMD_EVENT_COMPLETE] = "EVENT_COMPLETE",
	};

	return cmd < sizeof(names) / sizeof(names[0]) ? names[cmd] : "?";
}

static uint64_t get_u64(struct nlattr *a)
{
	if (nla_len(a) >= 8)
		return nla_get_u64(a);
	if (nla_len(a) >= 4)
		return nla_get_u32(a);
	return 0;
}

static uint32_t get_u32(struct nlattr *a)
{
	return nla_len(a) >= 4 ? nla_get_u32(a) : 0;
}

static const struct {
	int attr;
	size_t off;
} u64_fields[] = {
#define F(a, f) { PCMIG_ATTR_##a, offsetof(struct pcmig_nl_session, f) }
	F(SIZE, size),
	F(PAGES_TOTAL, pages_total),
	F(PAGES_PRESENT, pages_present),
	F(PAGES_RECEIVED, pages_received),
	F(PAGES_REQUESTED, pages_requested),
	F(PAGES_PUSHED, pages_pushed),
	F(PAGES_ZERO, pages_zero),
	F(PAGES_DUPLICATE, pages_duplicate),
	F(PAGES_DISCARDED, pages_discarded),
	F(IN_FLIGHT, in_flight),
	F(BYTES_RECEIVED, bytes_received),
	F(REQUESTS_SENT, requests_sent),
	F(FAULTS, faults),
	F(FAULTS_BLOCKED, faults_blocked),
	F(BLOCKED_NS, blocked_ns),
	F(PAUSES, pauses),
	F(RECOVERIES, recoveries),
	F(PAUSED_AT_NS, paused_at_ns),
	F(PAUSED_TOTAL_NS, paused_total_ns),
	F(REQUESTS_RESENT, requests_resent),
	F(PAGES_PUNCHED, pages_punched),
#undef F
};

int pcmig_nl_session_missing(const struct pcmig_nl_session *s)
{
	static const int attrs[] = {
		PCMIG_ATTR_ID, PCMIG_ATTR_NAME, PCMIG_ATTR_STATE,
		PCMIG_ATTR_REASON, PCMIG_ATTR_ERROR, PCMIG_ATTR_SIZE,
		PCMIG_ATTR_PAGES_TOTAL, PCMIG_ATTR_PAGES_PRESENT,
		PCMIG_ATTR_PAGES_RECEIVED, PCMIG_ATTR_PAGES_REQUESTED,
		PCMIG_ATTR_PAGES_PUSHED, PCMIG_ATTR_PAGES_ZERO,
		PCMIG_ATTR_PAGES_DUPLICATE, PCMIG_ATTR_PAGES_DISCARDED,
		PCMIG_ATTR_IN_FLIGHT, PCMIG_ATTR_BYTES_RECEIVED,
		PCMIG_ATTR_REQUESTS_SENT, PCMIG_ATTR_FAULTS,
		PCMIG_ATTR_FAULTS_BLOCKED, PCMIG_ATTR_BLOCKED_NS,
		PCMIG_ATTR_PAUSES, PCMIG_ATTR_HIST,
		PCMIG_ATTR_RESUME_STATE, PCMIG_ATTR_PAUSE_TIMEOUT_MS,
		PCMIG_ATTR_RECOVERIES, PCMIG_ATTR_PAUSED_AT_NS,
		PCMIG_ATTR_PAUSED_TOTAL_NS, PCMIG_ATTR_REQUESTS_RESENT,
		PCMIG_ATTR_PAGES_PUNCHED,
	};
	unsigned int i;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (!PCMIG_NL_HAS(s, attrs[i]))
			return attrs[i];
	return PCMIG_ATTR_UNSPEC;
}

static void parse_session(struct nlattr **tb, struct pcmig_nl_session *s)
{
	unsigned int i;
	int a;

	memset(s, 0, sizeof(*s));
	for (a = 0; a <= PCMIG_ATTR_MAX && a < 64; a++)
		if (tb[a])
			s->present |= 1ULL << a;
	if (tb[PCMIG_ATTR_ID])
		s->id = get_u32(tb[PCMIG_ATTR_ID]);
	if (tb[PCMIG_ATTR_NAME]) {
		size_t l = nla_len(tb[PCMIG_ATTR_NAME]);

		if (l >= sizeof(s->name))
			l = sizeof(s->name) - 1;
		memcpy(s->name, nla_data(tb[PCMIG_ATTR_NAME]), l);
		s->name[l] = '\0';
	}
	if (tb[PCMIG_ATTR_STATE])
		s->state = get_u32(tb[PCMIG_ATTR_STATE]);
	if (tb[PCMIG_ATTR_OLD_STATE])
		s->old_state = get_u32(tb[PCMIG_ATTR_OLD_STATE]);
	if (tb[PCMIG_ATTR_REASON])
		s->reason = get_u32(tb[PCMIG_ATTR_REASON]);
	if (tb[PCMIG_ATTR_ERROR])
		s->error = (int32_t)get_u32(tb[PCMIG_ATTR_ERROR]);
	if (tb[PCMIG_ATTR_RESUME_STATE])
		s->resume_state = get_u32(tb[PCMIG_ATTR_RESUME_STATE]);
	if (tb[PCMIG_ATTR_PAUSE_TIMEOUT_MS])
		s->pause_timeout_ms = get_u32(tb[PCMIG_ATTR_PAUSE_TIMEOUT_MS]);
	for (i = 0; i < sizeof(u64_fields) / sizeof(u64_fields[0]); i++) {
		struct nlattr *x = tb[u64_fields[i].attr];

		if (x)
			*(uint64_t *)((char *)s + u64_fields[i].off) =
				get_u64(x);
	}
	if (tb[PCMIG_ATTR_HIST]) {
		struct nlattr *n;
		int rem;

		nla_for_each_nested(n, tb[PCMIG_ATTR_HIST], rem) {
			int t = nla_type(n);

			s->hist_entries++;
			if (t >= 1 && t <= PCMIG_HIST_BUCKETS)
				s->hist[t - 1] = get_u64(n);
		}
	}
}

/* Request/reply exchange */

struct xchg {
	int err;
	bool done;
	int (*parse)(struct nlattr **tb, void *arg);
	void *arg;
};

static int x_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[PCMIG_ATTR_MAX + 1];
	struct xchg *x = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCMIG_ATTR_MAX, NULL)) {
		x->err = -EBADMSG;
		return NL_SKIP;
	}
	if (x->parse)
		x->parse(tb, x->arg);
	return NL_OK;
}

static int x_done(struct nl_msg *msg, void *arg)
{
	struct xchg *x = arg;

	x->done = true;
	return NL_STOP;
}

static int x_err(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct xchg *x = arg;

	x->err = e->error;
	x->done = true;
	return NL_STOP;
}

static int genl_xchg(uint8_t cmd, int flags, const uint32_t *id,
		     int (*parse)(struct nlattr **, void *), void *arg)
{
	struct xchg x = { .parse = parse, .arg = arg };
	struct nl_sock *sk;
	struct nl_msg *msg = NULL;
	struct nl_cb *cb = NULL;
	uint64_t deadline = pcmig_now_ms() + GENL_TIMEOUT_MS;
	int family, ret;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	ret = genl_connect(sk);
	if (ret) {
		ret = -ECONNREFUSED;
		goto out;
	}
	family = genl_ctrl_resolve(sk, PCMIG_NAME);
	if (family < 0) {
		pcmig_lib_set_error("genl family %s: %s", PCMIG_NAME,
				    nl_geterror(family));
		ret = -ENOENT;
		goto out;
	}
	if (flags & NLM_F_DUMP)
		nl_socket_disable_auto_ack(sk);
	msg = nlmsg_alloc();
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!msg || !cb) {
		ret = -ENOMEM;
		goto out;
	}
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, flags, cmd,
			 PCMIG_GENL_VERSION) ||
	    (id && nla_put_u32(msg, PCMIG_ATTR_ID, *id))) {
		ret = -EMSGSIZE;
		goto out;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, x_valid, &x);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, x_done, &x);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, x_done, &x);
	nl_cb_err(cb, NL_CB_CUSTOM, x_err, &x);
	ret = nl_send_auto(sk, msg);
	if (ret < 0) {
		ret = -EIO;
		goto out;
	}
	ret = 0;
	while (!x.done) {
		struct pollfd pfd = { .fd = nl_socket_get_fd(sk),
				      .events = POLLIN };
		int64_t left = (int64_t)(deadline - pcmig_now_ms());
		int r;

		if (left <= 0) {
			ret = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = nl_recvmsgs(sk, cb);
		if (r < 0 && !x.done && r != -NLE_AGAIN && r != -NLE_INTR) {
			pcmig_lib_set_error("nl_recvmsgs: %s", nl_geterror(r));
			ret = -EIO;
			break;
		}
	}
	if (!ret)
		ret = x.err;
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

static int parse_info(struct nlattr **tb, void *arg)
{
	struct pcmig_nl_info *info = arg;

	if (tb[PCMIG_ATTR_ABI_MAJOR])
		info->abi_major = get_u32(tb[PCMIG_ATTR_ABI_MAJOR]);
	if (tb[PCMIG_ATTR_ABI_MINOR])
		info->abi_minor = get_u32(tb[PCMIG_ATTR_ABI_MINOR]);
	if (tb[PCMIG_ATTR_PAGE_SIZE])
		info->page_size = get_u32(tb[PCMIG_ATTR_PAGE_SIZE]);
	if (tb[PCMIG_ATTR_FEATURES])
		info->features = get_u64(tb[PCMIG_ATTR_FEATURES]);
	if (tb[PCMIG_ATTR_SESSIONS]) {
		info->sessions = get_u32(tb[PCMIG_ATTR_SESSIONS]);
		info->has_sessions = true;
	}
	if (tb[PCMIG_ATTR_VERSION])
		nla_strlcpy(info->version, tb[PCMIG_ATTR_VERSION],
			    sizeof(info->version));
	return 0;
}

int pcmig_genl_get_info(struct pcmig_nl_info *info)
{
	memset(info, 0, sizeof(*info));
	return genl_xchg(PCMIG_CMD_GET_INFO, 0, NULL, parse_info, info);
}

struct one_session {
	struct pcmig_nl_session *s;
	unsigned int n;
};

static int parse_one(struct nlattr **tb, void *arg)
{
	struct one_session *o = arg;

	if (!o->n++)
		parse_session(tb, o->s);
	return 0;
}

int pcmig_genl_session_get(uint32_t id, struct pcmig_nl_session *out)
{
	struct one_session o = { .s = out };
	int ret;

	memset(out, 0, sizeof(*out));
	ret = genl_xchg(PCMIG_CMD_SESSION_GET, 0, &id, parse_one, &o);
	if (!ret && o.n != 1) {
		pcmig_lib_set_error("SESSION_GET: %u replies", o.n);
		ret = -EPROTO;
	}
	return ret;
}

struct dump {
	struct pcmig_nl_session *out;
	unsigned int max, n;
};

static int parse_dump(struct nlattr **tb, void *arg)
{
	struct dump *d = arg;

	if (d->n < d->max)
		parse_session(tb, &d->out[d->n]);
	d->n++;
	return 0;
}

int pcmig_genl_session_dump(struct pcmig_nl_session *out, unsigned int max,
			    unsigned int *count)
{
	struct dump d = { .out = out, .max = max };
	int ret;

	ret = genl_xchg(PCMIG_CMD_SESSION_GET, NLM_F_DUMP, NULL, parse_dump,
			&d);
	*count = d.n;
	return ret;
}

int pcmig_genl_session_destroy(uint32_t id)
{
	return genl_xchg(PCMIG_CMD_SESSION_DESTROY, 0, &id, NULL, NULL);
}

/* Events */

struct pcmig_events {
	struct nl_sock *sk;
	struct pcmig_event *arr;
	int n, cap;
	bool overrun;
};

static int ev_valid(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[PCMIG_ATTR_MAX + 1];
	struct pcmig_events *ev = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *g = genlmsg_hdr(nlh);

	if (genlmsg_parse(nlh, 0, tb, PCMIG_ATTR_MAX, NULL))
		return NL_SKIP;
	if (ev->n == ev->cap) {
		int cap = ev->cap ? ev->cap * 2 : 64;
		void *p = realloc(ev->arr, cap * sizeof(*ev->arr));

		if (!p) {
			ev->overrun = true;
			return NL_SKIP;
		}
		ev->arr = p;
		ev->cap = cap;
	}
	ev->arr[ev->n].cmd = g->cmd;
	parse_session(tb, &ev->arr[ev->n].s);
	ev->n++;
	return NL_OK;
}

struct pcmig_events *pcmig_events_open(void)
{
	struct pcmig_events *ev;
	int grp, ret;

	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->sk = nl_socket_alloc();
	if (!ev->sk)
		goto fail;
	if (genl_connect(ev->sk)) {
		pcmig_lib_set_error("genl_connect failed");
		goto fail;
	}
	grp = genl_ctrl_resolve_grp(ev->sk, PCMIG_NAME,
				    PCMIG_GENL_MCGRP_EVENTS);
	if (grp < 0) {
		pcmig_lib_set_error("group %s/%s: %s", PCMIG_NAME,
				    PCMIG_GENL_MCGRP_EVENTS, nl_geterror(grp));
		goto fail;
	}
	nl_socket_disable_seq_check(ev->sk);
	nl_socket_modify_cb(ev->sk, NL_CB_VALID, NL_CB_CUSTOM, ev_valid, ev);
	ret = nl_socket_add_membership(ev->sk, grp);
	if (ret) {
		pcmig_lib_set_error("join %s: %s", PCMIG_GENL_MCGRP_EVENTS,
				    nl_geterror(ret));
		goto fail;
	}
	nl_socket_set_buffer_size(ev->sk, 1 << 20, 0);
	nl_socket_set_nonblocking(ev->sk);
	return ev;
fail:
	if (ev->sk)
		nl_socket_free(ev->sk);
	free(ev);
	return NULL;
}

void pcmig_events_close(struct pcmig_events *ev)
{
	if (!ev)
		return;
	nl_socket_free(ev->sk);
	free(ev->arr);
	free(ev);
}

/* Receive what is there, waiting up to @ms for the first message. */
static void ev_recv(struct pcmig_events *ev, int ms)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(ev->sk),
			      .events = POLLIN };
	int r;

	if (poll(&pfd, 1, ms) <= 0)
		return;
	for (;;) {
		r = nl_recvmsgs_default(ev->sk);
		if (r == -NLE_AGAIN || r == -NLE_INTR)
			break;
		if (r == -NLE_NOMEM) {
			ev->overrun = true;
			continue;
		}
		if (r < 0)
			break;
		if (poll(&pfd, 1, 0) <= 0)
			break;
	}
}

static bool ev_match(const struct pcmig_event *e, uint32_t id, uint8_t cmd,
		     uint32_t state)
{
	if (e->cmd != cmd || e->s.id != id)
		return false;
	if (cmd == PCMIG_CMD_EVENT_STATE && state != PCMIG_STATE_NONE)
		return e->s.state == state;
	return true;
}

int pcmig_events_find(struct pcmig_events *ev, int from, uint32_t id,
		      uint8_t cmd, uint32_t state, int timeout_ms,
		      struct pcmig_event *out)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;
	int i = from < 0 ? 0 : from;

	for (;;) {
		int64_t left;

		for (; i < ev->n; i++) {
			if (ev_match(&ev->arr[i], id, cmd, state)) {
				if (out)
					*out = ev->arr[i];
				return i;
			}
		}
		left = (int64_t)(deadline - pcmig_now_ms());
		if (left <= 0)
			break;
		ev_recv(ev, (int)left);
	}
	pcmig_lib_set_error("no %s%s%s event for session %u within %d ms (%d events seen%s)",
			    pcmig_cmd_name(cmd),
			    cmd == PCMIG_CMD_EVENT_STATE && state ? " " : "",
			    cmd == PCMIG_CMD_EVENT_STATE && state ?
			    "(state)" : "", id, timeout_ms, ev->n,
			    ev->overrun ? ", overrun" : "");
	return -ETIMEDOUT;
}

int pcmig_events_count(struct pcmig_events *ev, int wait_ms)
{
	uint64_t deadline = pcmig_now_ms() + wait_ms;
	int64_t left;

	do {
		left = (int64_t)(deadline - pcmig_now_ms());
		ev_recv(ev, left > 0 ? (int)left : 0);
	} while (left > 0);
	return ev->n;
}

const struct pcmig_event *pcmig_events_get(struct pcmig_events *ev, int i)
{
	return i >= 0 && i < ev->n ? &ev->arr[i] : NULL;
}

int pcmig_events_count_for(struct pcmig_events *ev, int from, uint32_t id,
			   int wait_ms)
{
	int i, n = 0;

	pcmig_events_count(ev, wait_ms);
	for (i = from < 0 ? 0 : from; i < ev->n; i++)
		if (ev->arr[i].s.id == id)
			n++;
	return n;
}

bool pcmig_events_overrun(struct pcmig_events *ev)
{
	return ev->overrun;
}
