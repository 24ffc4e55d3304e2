// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the "pcmig" generic netlink family: module information, session
 * status, destroy, and the events multicast group.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/slab.h>
#include <net/genetlink.h>

#include "compat.h"
#include "pcmig.h"

static const struct nla_policy pcmig_genl_policy[PCMIG_ATTR_MAX + 1] = {
	[PCMIG_ATTR_ID]		= { .type = NLA_U32 },
};

enum pcmig_mcgrp {
	PCMIG_MCGRP_EVENTS,
};

static const struct genl_multicast_group pcmig_mcgrps[] = {
	[PCMIG_MCGRP_EVENTS] = { .name = PCMIG_GENL_MCGRP_EVENTS },
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
	    nla_put_u32(msg, PCMIG_ATTR_SESSIONS, pcmig_session_count()))
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

/* The session named by the request's PCMIG_ATTR_ID, with a reference. */
static struct pcmig_session *pcmig_genl_session(struct genl_info *info)
{
	struct pcmig_session *s;

	if (GENL_REQ_ATTR_CHECK(info, PCMIG_ATTR_ID))
		return ERR_PTR(-EINVAL);
	s = pcmig_session_find(nla_get_u32(info->attrs[PCMIG_ATTR_ID]));
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
	struct pcmig_session *s;
	u32 id = cb->args[0];
	int ret;

	while (!pcmig_session_next(&id, &s)) {
		ret = pcmig_fill_session(skb, s, NETLINK_CB(cb->skb).portid,
					 cb->nlh->nlmsg_seq, NLM_F_MULTI);
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
	mutex_lock(&s->ctl_lock);
	ret = pcmig_session_destroy(s);
	mutex_unlock(&s->ctl_lock);
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
	},
	{
		.cmd	= PCMIG_CMD_SESSION_DESTROY,
		.doit	= pcmig_genl_session_destroy,
		.flags	= GENL_ADMIN_PERM,
	},
};

static struct genl_family pcmig_genl_family __ro_after_init = {
	.name		= PCMIG_NAME,
	.version	= PCMIG_GENL_VERSION,
	.maxattr	= PCMIG_ATTR_MAX,
	.policy		= pcmig_genl_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.small_ops	= pcmig_genl_ops,
	.n_small_ops	= ARRAY_SIZE(pcmig_genl_ops),
	.resv_start_op	= PCMIG_CMD_MAX + 1,
	.mcgrps		= pcmig_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(pcmig_mcgrps),
};

/* Start an event message; NULL on no memory. */
static struct sk_buff *pcmig_event_new(struct pcmig_session *s, u8 cmd,
				       void **hdr)
{
	struct sk_buff *msg;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &pcmig_genl_family, 0, cmd);
	if (!*hdr || nla_put_u32(msg, PCMIG_ATTR_ID, s->id)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/*
 * Sessions are global, like their device nodes: their events go to
 * listeners in every network namespace (the tool may run in another one).
 */
static void pcmig_event_send(struct sk_buff *msg, void *hdr)
{
	genlmsg_end(msg, hdr);
	genlmsg_multicast_allns(&pcmig_genl_family, msg, 0,
				PCMIG_MCGRP_EVENTS);
}

/* An event carrying the session id and two 32-bit attributes. */
static void pcmig_event_pair(struct pcmig_session *s, u8 cmd, int attr1,
			     u32 val1, int attr2, u32 val2)
{
	struct sk_buff *msg;
	void *hdr;

	msg = pcmig_event_new(s, cmd, &hdr);
	if (!msg)
		return;
	if (nla_put_u32(msg, attr1, val1) || nla_put_u32(msg, attr2, val2)) {
		nlmsg_free(msg);
		return;
	}
	pcmig_event_send(msg, hdr);
}

/**
 * pcmig_event_state() - multicast a state change
 * @s: session
 * @old: previous state
 * @state: new state
 */
void pcmig_event_state(struct pcmig_session *s, enum pcmig_state old,
		       enum pcmig_state state)
{
	pcmig_event_pair(s, PCMIG_CMD_EVENT_STATE, PCMIG_ATTR_STATE, state,
			 PCMIG_ATTR_OLD_STATE, old);
}

/**
 * pcmig_event_reason() - multicast a pause or a failure
 * @s: session
 * @cmd: %PCMIG_CMD_EVENT_PAUSED or %PCMIG_CMD_EVENT_ERROR
 * @reason: why
 * @error: negative errno, or zero (an s32 attribute)
 */
void pcmig_event_reason(struct pcmig_session *s, u8 cmd,
			enum pcmig_reason reason, int error)
{
	pcmig_event_pair(s, cmd, PCMIG_ATTR_REASON, reason, PCMIG_ATTR_ERROR,
			 (u32)error);
}

/**
 * pcmig_event_complete() - multicast that every page is present
 * @s: session
 */
void pcmig_event_complete(struct pcmig_session *s)
{
	struct pcmig_status *st;
	struct sk_buff *msg;
	void *hdr;

	msg = pcmig_event_new(s, PCMIG_CMD_EVENT_COMPLETE, &hdr);
	if (!msg)
		return;
	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st || pcmig_put_session(msg, s, st)) {
		kfree(st);
		nlmsg_free(msg);
		return;
	}
	kfree(st);
	pcmig_event_send(msg, hdr);
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
