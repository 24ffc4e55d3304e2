// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the "pcmig" generic netlink family: module information, session
 * status, destroy, and the events multicast group.
 *
 * A session belongs to the network namespace it was created in: GET, the
 * dump and DESTROY see the sessions of the requester's namespace only, and
 * need CAP_NET_ADMIN over it, as does joining the events group; events go
 * to the session's namespace. The operations run in parallel, without the
 * genetlink mutex: none of them waits for a session's ioctl lock.
 *
 * Events are queued under the session's lock, in the order of the changes
 * they report, and sent by one work item per session.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list.h>
#include <linux/lockdep.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "compat.h"
#include "pcmig.h"
#include "trace.h"

static const struct nla_policy pcmig_genl_policy[PCMIG_ATTR_MAX + 1] = {
	[PCMIG_ATTR_ID]		= { .type = NLA_U32 },
};

enum pcmig_mcgrp {
	PCMIG_MCGRP_EVENTS,
};

static const struct genl_multicast_group pcmig_mcgrps[] = {
	[PCMIG_MCGRP_EVENTS] = {
		.name	= PCMIG_GENL_MCGRP_EVENTS,
		.flags	= GENL_MCAST_CAP_NET_ADMIN,
	},
};

static struct genl_family pcmig_genl_family;

static int pcmig_genl_get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct pcmig_version ver;
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &pcmig_genl_family, 0,
				PCMIG_CMD_GET_INFO);
	if (!hdr)
		goto err_size;

	pcmig_fill_version(&ver);
	if (nla_put_u32(msg, PCMIG_ATTR_ABI_MAJOR, ver.abi_major) ||
	    nla_put_u32(msg, PCMIG_ATTR_ABI_MINOR, ver.abi_minor) ||
	    nla_put_u64_64bit(msg, PCMIG_ATTR_FEATURES, ver.features,
			      PCMIG_ATTR_PAD) ||
	    nla_put_u32(msg, PCMIG_ATTR_PAGE_SIZE, ver.page_size) ||
	    nla_put_string(msg, PCMIG_ATTR_VERSION, PCMIG_MODULE_VERSION) ||
	    nla_put_u32(msg, PCMIG_ATTR_SESSIONS,
			pcmig_session_count(genl_info_net(info))))
		goto err_size;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_size:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int pcmig_put_u64(struct sk_buff *msg, int attr, u64 value)
{
	return nla_put_u64_64bit(msg, attr, value, PCMIG_ATTR_PAD);
}

static int pcmig_put_counters(struct sk_buff *msg,
			      const struct pcmig_status *st)
{
	const struct {
		int attr;
		u64 value;
	} counters[] = {
		{ PCMIG_ATTR_SIZE,		st->size },
		{ PCMIG_ATTR_PAGES_TOTAL,	st->pages_total },
		{ PCMIG_ATTR_PAGES_PRESENT,	st->pages_present },
		{ PCMIG_ATTR_PAGES_RECEIVED,	st->pages_received },
		{ PCMIG_ATTR_PAGES_REQUESTED,	st->pages_requested },
		{ PCMIG_ATTR_PAGES_PUSHED,	st->pages_pushed },
		{ PCMIG_ATTR_PAGES_ZERO,	st->pages_zero },
		{ PCMIG_ATTR_PAGES_DUPLICATE,	st->pages_duplicate },
		{ PCMIG_ATTR_PAGES_DISCARDED,	st->pages_discarded },
		{ PCMIG_ATTR_IN_FLIGHT,		st->in_flight },
		{ PCMIG_ATTR_BYTES_RECEIVED,	st->bytes_received },
		{ PCMIG_ATTR_REQUESTS_SENT,	st->requests_sent },
		{ PCMIG_ATTR_FAULTS,		st->faults },
		{ PCMIG_ATTR_FAULTS_BLOCKED,	st->faults_blocked },
		{ PCMIG_ATTR_BLOCKED_NS,	st->blocked_ns },
		{ PCMIG_ATTR_PAUSES,		st->pauses },
		{ PCMIG_ATTR_RECOVERIES,	st->recoveries },
		{ PCMIG_ATTR_PAUSED_AT_NS,	st->paused_at_ns },
		{ PCMIG_ATTR_PAUSED_TOTAL_NS,	st->paused_total_ns },
		{ PCMIG_ATTR_REQUESTS_RESENT,	st->requests_resent },
		{ PCMIG_ATTR_PAGES_PUNCHED,	st->pages_punched },
	};
	struct nlattr *hist;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(counters); i++)
		if (pcmig_put_u64(msg, counters[i].attr, counters[i].value))
			return -EMSGSIZE;

	hist = nla_nest_start(msg, PCMIG_ATTR_HIST);
	if (!hist)
		return -EMSGSIZE;
	for (i = 0; i < PCMIG_HIST_BUCKETS; i++)
		if (pcmig_put_u64(msg, i + 1, st->hist[i]))
			return -EMSGSIZE;
	nla_nest_end(msg, hist);
	return 0;
}

/* One session's attributes; @st is scratch space. */
static int pcmig_put_session(struct sk_buff *msg, struct pcmig_session *s,
			     struct pcmig_status *st)
{
	pcmig_session_status(s, st);
	if (nla_put_string(msg, PCMIG_ATTR_NAME, s->name) ||
	    nla_put_u32(msg, PCMIG_ATTR_STATE, st->state) ||
	    nla_put_u32(msg, PCMIG_ATTR_REASON, st->reason) ||
	    nla_put_s32(msg, PCMIG_ATTR_ERROR, st->error) ||
	    nla_put_u32(msg, PCMIG_ATTR_RESUME_STATE, st->resume_state) ||
	    nla_put_u32(msg, PCMIG_ATTR_PAUSE_TIMEOUT_MS, st->pause_timeout_ms))
		return -EMSGSIZE;
	return pcmig_put_counters(msg, st);
}

static int pcmig_fill_session(struct sk_buff *msg, struct pcmig_session *s,
			      u32 portid, u32 seq, int flags)
{
	struct pcmig_status *st;
	void *hdr;
	int ret;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	hdr = genlmsg_put(msg, portid, seq, &pcmig_genl_family, flags,
			  PCMIG_CMD_SESSION_GET);
	if (!hdr) {
		ret = -EMSGSIZE;
		goto out;
	}
	ret = nla_put_u32(msg, PCMIG_ATTR_ID, s->id) ? -EMSGSIZE :
	      pcmig_put_session(msg, s, st);
	if (ret)
		genlmsg_cancel(msg, hdr);
	else
		genlmsg_end(msg, hdr);
out:
	kfree(st);
	return ret;
}

/*
 * The session named by the request's PCMIG_ATTR_ID, with a reference; one
 * of another network namespace is not there.
 */
static struct pcmig_session *pcmig_genl_session(struct genl_info *info)
{
	struct pcmig_session *s;

	if (GENL_REQ_ATTR_CHECK(info, PCMIG_ATTR_ID))
		return ERR_PTR(-EINVAL);
	s = pcmig_session_find(nla_get_u32(info->attrs[PCMIG_ATTR_ID]));
	if (s && !net_eq(s->net, genl_info_net(info))) {
		pcmig_session_put(s);
		s = NULL;
	}
	if (!s) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[PCMIG_ATTR_ID],
				    "no such session");
		return ERR_PTR(-ENOENT);
	}
	return s;
}

static int pcmig_genl_session_get(struct sk_buff *skb, struct genl_info *info)
{
	struct pcmig_session *s;
	struct sk_buff *msg;
	int ret;

	s = pcmig_genl_session(info);
	if (IS_ERR(s))
		return PTR_ERR(s);

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pcmig_fill_session(msg, s, info->snd_portid, info->snd_seq, 0);
	if (ret) {
		nlmsg_free(msg);
		goto out;
	}
	ret = genlmsg_reply(msg, info);
out:
	pcmig_session_put(s);
	return ret;
}

static int pcmig_genl_session_dump(struct sk_buff *skb,
				   struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	struct pcmig_session *s;
	u32 id = cb->args[0];
	int ret = 0;

	/* The cursor is the dump's own: dumps of a socket run one at a time. */
	while (!pcmig_session_next(&id, &s)) {
		if (net_eq(s->net, net))
			ret = pcmig_fill_session(skb, s,
						 NETLINK_CB(cb->skb).portid,
						 cb->nlh->nlmsg_seq,
						 NLM_F_MULTI);
		pcmig_session_put(s);
		if (ret)
			break;
		id++;
	}
	cb->args[0] = id;
	return skb->len;
}

static int pcmig_genl_session_destroy(struct sk_buff *skb,
				      struct genl_info *info)
{
	struct pcmig_session *s;
	int ret;

	s = pcmig_genl_session(info);
	if (IS_ERR(s))
		return PTR_ERR(s);
	/* Not behind the session's ioctl lock: see pcmig_session_destroy(). */
	ret = pcmig_session_destroy(s);
	pcmig_session_put(s);
	return ret;
}

static const struct genl_small_ops pcmig_genl_ops[] = {
	{
		.cmd	= PCMIG_CMD_GET_INFO,
		.doit	= pcmig_genl_get_info,
	},
	{
		.cmd	= PCMIG_CMD_SESSION_GET,
		.doit	= pcmig_genl_session_get,
		.dumpit	= pcmig_genl_session_dump,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd	= PCMIG_CMD_SESSION_DESTROY,
		.doit	= pcmig_genl_session_destroy,
		.flags	= GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family pcmig_genl_family __ro_after_init = {
	.name		= PCMIG_NAME,
	.version	= PCMIG_GENL_VERSION,
	.maxattr	= PCMIG_ATTR_MAX,
	.policy		= pcmig_genl_policy,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.small_ops	= pcmig_genl_ops,
	.n_small_ops	= ARRAY_SIZE(pcmig_genl_ops),
	.resv_start_op	= PCMIG_CMD_MAX + 1,
	.mcgrps		= pcmig_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(pcmig_mcgrps),
};

/**
 * struct pcmig_event - an event waiting to be sent
 * @node: entry in &pcmig_session.events
 * @cmd: PCMIG_CMD_EVENT_*
 * @val1: the new state (STATE) or the reason (PAUSED, ERROR)
 * @val2: the old state (STATE) or the error (PAUSED, ERROR)
 */
struct pcmig_event {
	struct list_head node;
	u8 cmd;
	u32 val1;
	s32 val2;
};

/*
 * Queue an event: under s->lock, right where the change it reports is
 * made, so that the events of a session go out in the order of its
 * changes. None is queued while nobody listens in the session's network
 * namespace; one that finds no memory is lost, as one whose message cannot
 * be allocated.
 */
static void pcmig_event_queue(struct pcmig_session *s, u8 cmd, u32 val1,
			      s32 val2)
{
	struct pcmig_event *ev;

	lockdep_assert_held(&s->lock);
	if (!genl_has_listeners(&pcmig_genl_family, s->net,
				PCMIG_MCGRP_EVENTS))
		return;
	ev = kmalloc(sizeof(*ev), GFP_ATOMIC);
	if (!ev)
		return;
	ev->cmd = cmd;
	ev->val1 = val1;
	ev->val2 = val2;
	list_add_tail(&ev->node, &s->events);
	schedule_work(&s->event_work);
}

/* Fill an event's attributes after the session id. */
static int pcmig_event_fill(struct sk_buff *msg, struct pcmig_session *s,
			    const struct pcmig_event *ev)
{
	struct pcmig_status *st;
	int ret;

	switch (ev->cmd) {
	case PCMIG_CMD_EVENT_STATE:
		return nla_put_u32(msg, PCMIG_ATTR_STATE, ev->val1) ||
		       nla_put_u32(msg, PCMIG_ATTR_OLD_STATE, ev->val2) ?
		       -EMSGSIZE : 0;
	case PCMIG_CMD_EVENT_COMPLETE:
		st = kmalloc(sizeof(*st), GFP_KERNEL);
		if (!st)
			return -ENOMEM;
		ret = pcmig_put_session(msg, s, st);
		kfree(st);
		return ret;
	default:
		return nla_put_u32(msg, PCMIG_ATTR_REASON, ev->val1) ||
		       nla_put_s32(msg, PCMIG_ATTR_ERROR, ev->val2) ?
		       -EMSGSIZE : 0;
	}
}

/* Multicast one event to the session's network namespace. */
static void pcmig_event_send(struct pcmig_session *s,
			     const struct pcmig_event *ev)
{
	struct sk_buff *msg;
	void *hdr;

	if (!genl_has_listeners(&pcmig_genl_family, s->net,
				PCMIG_MCGRP_EVENTS))
		return;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &pcmig_genl_family, 0, ev->cmd);
	if (!hdr || nla_put_u32(msg, PCMIG_ATTR_ID, s->id) ||
	    pcmig_event_fill(msg, s, ev)) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast_netns(&pcmig_genl_family, s->net, msg, 0,
				PCMIG_MCGRP_EVENTS, GFP_KERNEL);
}

/* Send the queued events, oldest first. One caller at a time. */
static void pcmig_events_flush(struct pcmig_session *s)
{
	struct pcmig_event *ev;

	for (;;) {
		spin_lock_bh(&s->lock);
		ev = list_first_entry_or_null(&s->events, struct pcmig_event,
					      node);
		if (ev)
			list_del(&ev->node);
		spin_unlock_bh(&s->lock);
		if (!ev)
			return;
		pcmig_event_send(s, ev);
		kfree(ev);
	}
}

static void pcmig_events_work(struct work_struct *work)
{
	pcmig_events_flush(container_of(work, struct pcmig_session,
					event_work));
}

/**
 * pcmig_events_init() - prepare a new session's event queue
 * @s: session
 */
void pcmig_events_init(struct pcmig_session *s)
{
	INIT_LIST_HEAD(&s->events);
	INIT_WORK(&s->event_work, pcmig_events_work);
}

/**
 * pcmig_events_release() - send what is left of a session's events
 * @s: session being freed; nothing queues events any more
 *
 * The work item holds no reference of its own: it is cancelled here and
 * the queue is emptied in its stead, in order.
 */
void pcmig_events_release(struct pcmig_session *s)
{
	cancel_work_sync(&s->event_work);
	pcmig_events_flush(s);
}

/**
 * pcmig_event_state() - queue an event for a state change
 * @s: session; the caller holds @s->lock and made the change under it
 * @old: previous state
 * @state: new state
 */
void pcmig_event_state(struct pcmig_session *s, enum pcmig_state old,
		       enum pcmig_state state)
{
	trace_pcmig_state_change(s, old, state);
	pcmig_event_queue(s, PCMIG_CMD_EVENT_STATE, state, old);
}

/**
 * pcmig_event_reason() - queue an event for a pause or a failure
 * @s: session; the caller holds @s->lock and made the change under it
 * @cmd: %PCMIG_CMD_EVENT_PAUSED or %PCMIG_CMD_EVENT_ERROR
 * @reason: why
 * @error: negative errno, or zero (an s32 attribute)
 */
void pcmig_event_reason(struct pcmig_session *s, u8 cmd,
			enum pcmig_reason reason, int error)
{
	pcmig_event_queue(s, cmd, reason, error);
}

/**
 * pcmig_event_complete() - queue the event that every page is present
 * @s: session; the caller holds @s->lock and moved it to END under it
 *
 * The counters the event carries are read when it is sent.
 */
void pcmig_event_complete(struct pcmig_session *s)
{
	pcmig_event_queue(s, PCMIG_CMD_EVENT_COMPLETE, 0, 0);
}

/**
 * pcmig_genl_register() - register the "pcmig" generic netlink family
 *
 * Return: 0 or a negative errno from genl_register_family().
 */
int pcmig_genl_register(void)
{
	return genl_register_family(&pcmig_genl_family);
}

/**
 * pcmig_genl_unregister() - unregister the "pcmig" generic netlink family
 */
void pcmig_genl_unregister(void)
{
	genl_unregister_family(&pcmig_genl_family);
}
