// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the "pcmig" generic netlink family through libnl-genl-3.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "format.h"
#include "pcmig-tool.h"

/* Receive buffer of the event socket: room for bursts of events. */
#define PCMIG_EVENTS_RCVBUF	(1 << 20)

/* Attempts of a dump that the kernel reports as interrupted. */
#define PCMIG_DUMP_TRIES	3

/*
 * Every attribute the module sends, with the smallest payload its type
 * needs; libnl rejects a message whose attribute is shorter. Strings are
 * NLA_UNSPEC so that one without a NUL does not cost the whole message: they
 * are copied with a bound and always NUL-terminated.
 */
static struct nla_policy pcmig_policy[PCMIG_ATTR_MAX + 1] = {
	[PCMIG_ATTR_ABI_MAJOR]		= { .type = NLA_U32 },
	[PCMIG_ATTR_ABI_MINOR]		= { .type = NLA_U32 },
	[PCMIG_ATTR_FEATURES]		= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGE_SIZE]		= { .type = NLA_U32 },
	[PCMIG_ATTR_VERSION]		= { .type = NLA_UNSPEC },
	[PCMIG_ATTR_ID]			= { .type = NLA_U32 },
	[PCMIG_ATTR_NAME]		= { .type = NLA_UNSPEC },
	[PCMIG_ATTR_STATE]		= { .type = NLA_U32 },
	[PCMIG_ATTR_OLD_STATE]		= { .type = NLA_U32 },
	[PCMIG_ATTR_REASON]		= { .type = NLA_U32 },
	[PCMIG_ATTR_ERROR]		= { .type = NLA_S32 },
	[PCMIG_ATTR_SIZE]		= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_TOTAL]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_PRESENT]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_RECEIVED]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_REQUESTED]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_PUSHED]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_ZERO]		= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_DUPLICATE]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_DISCARDED]	= { .type = NLA_U64 },
	[PCMIG_ATTR_IN_FLIGHT]		= { .type = NLA_U64 },
	[PCMIG_ATTR_BYTES_RECEIVED]	= { .type = NLA_U64 },
	[PCMIG_ATTR_REQUESTS_SENT]	= { .type = NLA_U64 },
	[PCMIG_ATTR_FAULTS]		= { .type = NLA_U64 },
	[PCMIG_ATTR_FAULTS_BLOCKED]	= { .type = NLA_U64 },
	[PCMIG_ATTR_BLOCKED_NS]		= { .type = NLA_U64 },
	[PCMIG_ATTR_PAUSES]		= { .type = NLA_U64 },
	[PCMIG_ATTR_HIST]		= { .type = NLA_NESTED },
	[PCMIG_ATTR_SESSIONS]		= { .type = NLA_U32 },
	[PCMIG_ATTR_RESUME_STATE]	= { .type = NLA_U32 },
	[PCMIG_ATTR_PAUSE_TIMEOUT_MS]	= { .type = NLA_U32 },
	[PCMIG_ATTR_RECOVERIES]		= { .type = NLA_U64 },
	[PCMIG_ATTR_PAUSED_AT_NS]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAUSED_TOTAL_NS]	= { .type = NLA_U64 },
	[PCMIG_ATTR_REQUESTS_RESENT]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGES_PUNCHED]	= { .type = NLA_U64 },
};

/* Inside PCMIG_ATTR_HIST: attribute i + 1 is bucket i. */
static struct nla_policy pcmig_hist_policy[PCMIG_HIST_BUCKETS + 1] = {
	[1 ... PCMIG_HIST_BUCKETS] = { .type = NLA_U64 },
};

/*
 * The integer fields of struct pcmig_session, by attribute, with their size:
 * 4 bytes where the policy says NLA_U32 or NLA_S32 (the error), 8 where it
 * says NLA_U64.
 */
static const struct {
	int attr;
	size_t off;
	size_t size;
} pcmig_int_fields[] = {
#define U32_FIELD(a, f) { PCMIG_ATTR_##a, offsetof(struct pcmig_session, f), 4 }
#define U64_FIELD(a, f) { PCMIG_ATTR_##a, offsetof(struct pcmig_session, f), 8 }
	U32_FIELD(ID, id),
	U32_FIELD(STATE, state),
	U32_FIELD(OLD_STATE, old_state),
	U32_FIELD(REASON, reason),
	U32_FIELD(ERROR, error),
	U64_FIELD(SIZE, size),
	U64_FIELD(PAGES_TOTAL, pages_total),
	U64_FIELD(PAGES_PRESENT, pages_present),
	U64_FIELD(PAGES_RECEIVED, pages_received),
	U64_FIELD(PAGES_REQUESTED, pages_requested),
	U64_FIELD(PAGES_PUSHED, pages_pushed),
	U64_FIELD(PAGES_ZERO, pages_zero),
	U64_FIELD(PAGES_DUPLICATE, pages_duplicate),
	U64_FIELD(PAGES_DISCARDED, pages_discarded),
	U64_FIELD(IN_FLIGHT, in_flight),
	U64_FIELD(BYTES_RECEIVED, bytes_received),
	U64_FIELD(REQUESTS_SENT, requests_sent),
	U64_FIELD(FAULTS, faults),
	U64_FIELD(FAULTS_BLOCKED, faults_blocked),
	U64_FIELD(BLOCKED_NS, blocked_ns),
	U64_FIELD(PAUSES, pauses),
	U32_FIELD(RESUME_STATE, resume_state),
	U32_FIELD(PAUSE_TIMEOUT_MS, pause_timeout_ms),
	U64_FIELD(RECOVERIES, recoveries),
	U64_FIELD(PAUSED_AT_NS, paused_at_ns),
	U64_FIELD(PAUSED_TOTAL_NS, paused_total_ns),
	U64_FIELD(REQUESTS_RESENT, requests_resent),
	U64_FIELD(PAGES_PUNCHED, pages_punched),
#undef U32_FIELD
#undef U64_FIELD
};

/* A clock in nanoseconds; 0 if it cannot be read. */
static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* A libnl error code as a negative errno, for messages. */
static int nlerr_to_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_AGAIN:
	case NLE_DUMP_INTR:
		return -EAGAIN;
	case NLE_INTR:
		return -EINTR;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_INVAL:
		return -EINVAL;
	default:
		return -EPROTO;
	}
}

/**
 * pcmig_genl_open() - connect to generic netlink and resolve the family
 * @g: handle to fill
 *
 * Return: 0, -ENOENT if the family is not registered (module not loaded),
 * or another negative errno.
 */
int pcmig_genl_open(struct pcmig_genl *g)
{
	int ret;

	g->sock = nl_socket_alloc();
	if (!g->sock)
		return -ENOMEM;

	ret = genl_connect(g->sock);
	if (ret < 0) {
		ret = -EPROTO;
		goto err_free;
	}

	g->family = genl_ctrl_resolve(g->sock, PCMIG_NAME);
	if (g->family < 0) {
		ret = -ENOENT;
		goto err_free;
	}
	return 0;

err_free:
	nl_socket_free(g->sock);
	g->sock = NULL;
	return ret;
}

/**
 * pcmig_genl_close() - release a handle from pcmig_genl_open()
 * @g: handle
 */
void pcmig_genl_close(struct pcmig_genl *g)
{
	nl_socket_free(g->sock);
	g->sock = NULL;
}

/*
 * One request and its answer: the replies go to @valid; the request is over
 * at the ACK (doit) or NLMSG_DONE (dump), or at an error message.
 */
struct request {
	nl_recvmsg_msg_cb_t valid;
	void *arg;
	int error;
	bool done;
};

static int req_valid_cb(struct nl_msg *msg, void *arg)
{
	struct request *req = arg;

	return req->valid ? req->valid(msg, req->arg) : NL_OK;
}

static int req_ack_cb(struct nl_msg *msg, void *arg)
{
	struct request *req = arg;

	req->done = true;
	return NL_STOP;
}

static int req_finish_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct request *req = arg;
	int err;

	/* NLMSG_DONE carries the dump's result. */
	if (nlmsg_datalen(nlh) >= (int)sizeof(err)) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0 && !req->error)
			req->error = err;
	}
	req->done = true;
	return NL_STOP;
}

static int req_err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct request *req = arg;

	req->error = e->error < 0 ? e->error : -EPROTO;
	req->done = true;
	return NL_STOP;
}

static int genl_request(struct pcmig_genl *g, uint8_t cmd, int flags,
			const uint32_t *id, nl_recvmsg_msg_cb_t valid,
			void *arg)
{
	struct request req = { .valid = valid, .arg = arg };
	struct nl_msg *msg;
	int ret;

	msg = nlmsg_alloc();
	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0, flags,
			 cmd, PCMIG_GENL_VERSION) ||
	    (id && nla_put_u32(msg, PCMIG_ATTR_ID, *id) < 0)) {
		ret = -EMSGSIZE;
		goto out;
	}

	if (nl_socket_modify_cb(g->sock, NL_CB_VALID, NL_CB_CUSTOM,
				req_valid_cb, &req) < 0 ||
	    nl_socket_modify_cb(g->sock, NL_CB_ACK, NL_CB_CUSTOM,
				req_ack_cb, &req) < 0 ||
	    nl_socket_modify_cb(g->sock, NL_CB_FINISH, NL_CB_CUSTOM,
				req_finish_cb, &req) < 0 ||
	    nl_socket_modify_err_cb(g->sock, NL_CB_CUSTOM, req_err_cb,
				    &req) < 0) {
		ret = -ENOMEM;
		goto out;
	}

	ret = nl_send_auto(g->sock, msg);
	if (ret < 0) {
		ret = nlerr_to_errno(ret);
		goto out;
	}
	ret = 0;
	while (!req.done) {
		ret = nl_recvmsgs_default(g->sock);
		if (req.error || ret < 0)
			break;
	}
	if (req.error)
		ret = req.error;
	else if (ret < 0)
		ret = nlerr_to_errno(ret);
	else
		ret = 0;
out:
	/* The callbacks point at @req, which is about to go away. */
	nl_socket_modify_cb(g->sock, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	nl_socket_modify_cb(g->sock, NL_CB_ACK, NL_CB_DEFAULT, NULL, NULL);
	nl_socket_modify_cb(g->sock, NL_CB_FINISH, NL_CB_DEFAULT, NULL, NULL);
	nl_socket_modify_err_cb(g->sock, NL_CB_DEFAULT, NULL, NULL);
	nlmsg_free(msg);
	return ret;
}

static int info_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[PCMIG_ATTR_MAX + 1];
	struct pcmig_info *info = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCMIG_ATTR_MAX,
			  pcmig_policy) < 0)
		return NL_SKIP;
	if (!tb[PCMIG_ATTR_ABI_MAJOR] || !tb[PCMIG_ATTR_ABI_MINOR] ||
	    !tb[PCMIG_ATTR_FEATURES] || !tb[PCMIG_ATTR_PAGE_SIZE] ||
	    !tb[PCMIG_ATTR_VERSION])
		return NL_SKIP;

	info->abi_major = nla_get_u32(tb[PCMIG_ATTR_ABI_MAJOR]);
	info->abi_minor = nla_get_u32(tb[PCMIG_ATTR_ABI_MINOR]);
	info->features = nla_get_u64(tb[PCMIG_ATTR_FEATURES]);
	info->page_size = nla_get_u32(tb[PCMIG_ATTR_PAGE_SIZE]);
	nla_strlcpy(info->version, tb[PCMIG_ATTR_VERSION],
		    sizeof(info->version));
	return NL_OK;
}

/**
 * pcmig_genl_get_info() - ask the module for its version and features
 * @g: open handle
 * @info: filled on success
 *
 * Return: 0, or a negative errno (-EPROTO for a malformed reply).
 */
int pcmig_genl_get_info(struct pcmig_genl *g, struct pcmig_info *info)
{
	int ret;

	memset(info, 0, sizeof(*info));
	ret = genl_request(g, PCMIG_CMD_GET_INFO, 0, NULL, info_cb, info);
	if (ret)
		return ret;
	return info->version[0] ? 0 : -EPROTO;
}

/**
 * pcmig_genl_parse() - parse a "pcmig" message carrying session attributes
 * @nlh: the message (a reply to %PCMIG_CMD_SESSION_GET or an event)
 * @s: filled; attributes that are absent stay zero and their bit in
 *	@s->have clear
 *
 * Every attribute is checked against its type's length; a string is copied
 * with a bound (truncated to fit @s->name) and NUL-terminated; a malformed
 * histogram counts as absent. Attributes this tool does not know are
 * ignored. @s->seen_ns and @s->seen_real_ns get the time of the parse,
 * against which the length of an outage (@s->paused_at_ns) is measured.
 *
 * Return: 0, or -EPROTO if the message is not a valid generic netlink
 * message or an attribute is too short for its type.
 */
int pcmig_genl_parse(struct nlmsghdr *nlh, struct pcmig_session *s)
{
	struct nlattr *htb[PCMIG_HIST_BUCKETS + 1];
	struct nlattr *tb[PCMIG_ATTR_MAX + 1];
	struct genlmsghdr *gnlh;
	size_t i;

	memset(s, 0, sizeof(*s));
	if (!genlmsg_valid_hdr(nlh, 0))
		return -EPROTO;
	if (genlmsg_parse(nlh, 0, tb, PCMIG_ATTR_MAX, pcmig_policy) < 0)
		return -EPROTO;
	gnlh = nlmsg_data(nlh);
	s->cmd = gnlh->cmd;

	for (i = 0; i < ARRAY_SIZE(pcmig_int_fields); i++) {
		char *field = (char *)s + pcmig_int_fields[i].off;
		int attr = pcmig_int_fields[i].attr;
		uint64_t v64;
		uint32_t v32;

		if (!tb[attr])
			continue;
		if (pcmig_int_fields[i].size == sizeof(v32)) {
			v32 = nla_get_u32(tb[attr]);
			memcpy(field, &v32, sizeof(v32));
		} else {
			v64 = nla_get_u64(tb[attr]);
			memcpy(field, &v64, sizeof(v64));
		}
		s->have |= 1ULL << attr;
	}
	if (tb[PCMIG_ATTR_NAME]) {
		nla_strlcpy(s->name, tb[PCMIG_ATTR_NAME], sizeof(s->name));
		s->have |= 1ULL << PCMIG_ATTR_NAME;
	}
	if (tb[PCMIG_ATTR_HIST] &&
	    nla_parse_nested(htb, PCMIG_HIST_BUCKETS, tb[PCMIG_ATTR_HIST],
			     pcmig_hist_policy) == 0) {
		for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
			if (htb[i + 1])
				s->hist[i] = nla_get_u64(htb[i + 1]);
		s->have |= 1ULL << PCMIG_ATTR_HIST;
	}
	s->seen_ns = clock_ns(CLOCK_MONOTONIC);
	s->seen_real_ns = clock_ns(CLOCK_REALTIME);
	return 0;
}

struct session_list {
	struct pcmig_session *items;
	size_t n;
	size_t cap;
	size_t malformed;
	int error;
};

static int session_get_cb(struct nl_msg *msg, void *arg)
{
	struct session_list *list = arg;

	if (list->n)
		return NL_SKIP;	/* a doit answers once */
	if (pcmig_genl_parse(nlmsg_hdr(msg), &list->items[0]) < 0) {
		list->malformed++;
		return NL_SKIP;
	}
	list->n = 1;
	return NL_OK;
}

/**
 * pcmig_genl_session_get() - read one session (%PCMIG_CMD_SESSION_GET)
 * @g: open handle
 * @id: session id
 * @s: filled on success
 *
 * Return: 0, -ENOENT if there is no such session, -EPROTO for a malformed or
 * missing reply, or another negative errno.
 */
int pcmig_genl_session_get(struct pcmig_genl *g, uint32_t id,
			   struct pcmig_session *s)
{
	struct session_list list = { .items = s, .cap = 1 };
	int ret;

	memset(s, 0, sizeof(*s));
	ret = genl_request(g, PCMIG_CMD_SESSION_GET, 0, &id, session_get_cb,
			   &list);
	if (ret)
		return ret;
	return list.n ? 0 : -EPROTO;
}

static int session_dump_cb(struct nl_msg *msg, void *arg)
{
	struct session_list *list = arg;
	struct pcmig_session *items;
	size_t cap;

	if (list->error)
		return NL_SKIP;
	if (list->n == list->cap) {
		cap = list->cap ? list->cap * 2 : 16;
		items = realloc(list->items, cap * sizeof(*items));
		if (!items) {
			list->error = -ENOMEM;
			return NL_SKIP;
		}
		list->items = items;
		list->cap = cap;
	}
	if (pcmig_genl_parse(nlmsg_hdr(msg), &list->items[list->n]) < 0) {
		list->malformed++;
		return NL_SKIP;
	}
	list->n++;
	return NL_OK;
}

/**
 * pcmig_genl_session_dump() - read every session (%PCMIG_CMD_SESSION_GET
 * with NLM_F_DUMP)
 * @g: open handle
 * @list: set to a malloc()ed array the caller frees (NULL when empty)
 * @n: set to the number of sessions
 *
 * A malformed message is skipped with a warning on stderr. A dump the kernel
 * reports as interrupted is tried again a few times.
 *
 * Return: 0, or a negative errno.
 */
int pcmig_genl_session_dump(struct pcmig_genl *g, struct pcmig_session **list,
			    size_t *n)
{
	struct session_list sl;
	int ret, tries = 0;

	do {
		memset(&sl, 0, sizeof(sl));
		ret = genl_request(g, PCMIG_CMD_SESSION_GET, NLM_F_DUMP, NULL,
				   session_dump_cb, &sl);
		if (!ret)
			ret = sl.error;
		if (ret) {
			free(sl.items);
			sl.items = NULL;
			sl.n = 0;
		}
	} while (ret == -EAGAIN && ++tries < PCMIG_DUMP_TRIES);

	if (sl.malformed)
		fprintf(stderr, "pcmig-tool: ignored %zu malformed session message%s\n",
			sl.malformed, sl.malformed == 1 ? "" : "s");
	*list = sl.items;
	*n = sl.n;
	return ret;
}

/**
 * pcmig_genl_session_destroy() - destroy a session
 * (%PCMIG_CMD_SESSION_DESTROY)
 * @g: open handle
 * @id: session id
 *
 * Return: 0, -EPERM without CAP_NET_ADMIN, -ENOENT if there is no such
 * session, or another negative errno.
 */
int pcmig_genl_session_destroy(struct pcmig_genl *g, uint32_t id)
{
	return genl_request(g, PCMIG_CMD_SESSION_DESTROY, 0, &id, NULL, NULL);
}

/**
 * pcmig_events_open() - subscribe to the family's "events" multicast group
 * @ev: handle to fill
 *
 * The socket is non-blocking: poll pcmig_events_fd() and call
 * pcmig_events_recv() when it is readable.
 *
 * Return: 0, -ENOENT if the family is not registered (module not loaded),
 * -ESRCH if it has no "events" group, or another negative errno.
 */
int pcmig_events_open(struct pcmig_events *ev)
{
	int ret;

	ev->sock = nl_socket_alloc();
	if (!ev->sock)
		return -ENOMEM;

	ret = genl_connect(ev->sock);
	if (ret < 0) {
		ret = -EPROTO;
		goto err_free;
	}
	ev->family = genl_ctrl_resolve(ev->sock, PCMIG_NAME);
	if (ev->family < 0) {
		ret = -ENOENT;
		goto err_free;
	}
	ev->group = genl_ctrl_resolve_grp(ev->sock, PCMIG_NAME,
					  PCMIG_GENL_MCGRP_EVENTS);
	if (ev->group < 0) {
		ret = ev->group == -NLE_OBJ_NOTFOUND ? -ESRCH :
			nlerr_to_errno(ev->group);
		goto err_free;
	}

	/* Events are not answers to anything we sent. */
	nl_socket_disable_seq_check(ev->sock);
	ret = nl_socket_add_membership(ev->sock, ev->group);
	if (ret < 0) {
		ret = nlerr_to_errno(ret);
		goto err_free;
	}
	/* Best effort: the default buffer holds fewer events. */
	nl_socket_set_buffer_size(ev->sock, PCMIG_EVENTS_RCVBUF, 0);
	ret = nl_socket_set_nonblocking(ev->sock);
	if (ret < 0) {
		ret = nlerr_to_errno(ret);
		goto err_free;
	}
	return 0;

err_free:
	nl_socket_free(ev->sock);
	ev->sock = NULL;
	return ret;
}

/**
 * pcmig_events_close() - release a handle from pcmig_events_open()
 * @ev: handle
 */
void pcmig_events_close(struct pcmig_events *ev)
{
	nl_socket_free(ev->sock);
	ev->sock = NULL;
}

/**
 * pcmig_events_fd() - the event socket's file descriptor, for poll()
 * @ev: open handle
 *
 * Return: the descriptor.
 */
int pcmig_events_fd(const struct pcmig_events *ev)
{
	return nl_socket_get_fd(ev->sock);
}

struct event_ctx {
	const struct pcmig_events *ev;
	pcmig_event_fn fn;
	void *arg;
};

static int event_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct event_ctx *ctx = arg;
	struct pcmig_session s;

	if (nlh->nlmsg_type != ctx->ev->family)
		return NL_SKIP;
	if (pcmig_genl_parse(nlh, &s) < 0) {
		fprintf(stderr, "pcmig-tool: ignored a malformed event\n");
		return NL_SKIP;
	}
	if (s.cmd < PCMIG_CMD_EVENT_STATE)
		return NL_SKIP;	/* not an event */
	ctx->fn(&s, ctx->arg);
	return NL_OK;
}

/**
 * pcmig_events_recv() - read what is queued on the event socket
 * @ev: open handle
 * @fn: called for each event message, in order
 * @arg: passed to @fn
 *
 * Messages of other families, messages that are not events (commands below
 * %PCMIG_CMD_EVENT_STATE) and malformed ones (with a warning on stderr) are
 * skipped; events of commands this tool does not know are passed on.
 *
 * Return: 0 (also when nothing was queued), -ENOBUFS if the kernel dropped
 * events because the socket's buffer was full, or another negative errno.
 */
int pcmig_events_recv(struct pcmig_events *ev, pcmig_event_fn fn, void *arg)
{
	struct event_ctx ctx = { .ev = ev, .fn = fn, .arg = arg };
	int ret;

	ret = nl_socket_modify_cb(ev->sock, NL_CB_VALID, NL_CB_CUSTOM,
				  event_cb, &ctx);
	if (ret < 0)
		return nlerr_to_errno(ret);
	/* Each call reads one datagram: drain the socket (non-blocking). */
	do {
		ret = nl_recvmsgs_default(ev->sock);
	} while (ret >= 0);
	nl_socket_modify_cb(ev->sock, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	if (ret == -NLE_AGAIN)
		return 0;
	/* libnl reports recvmsg()'s ENOBUFS as NLE_NOMEM. */
	if (ret == -NLE_NOMEM)
		return -ENOBUFS;
	return nlerr_to_errno(ret);
}
