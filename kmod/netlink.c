// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the "pcmig" generic netlink family.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <net/genetlink.h>

#include "compat.h"
#include "pcmig.h"

static const struct nla_policy pcmig_genl_policy[PCMIG_ATTR_MAX + 1] = {
	[PCMIG_ATTR_ABI_MAJOR]	= { .type = NLA_U32 },
	[PCMIG_ATTR_ABI_MINOR]	= { .type = NLA_U32 },
	[PCMIG_ATTR_FEATURES]	= { .type = NLA_U64 },
	[PCMIG_ATTR_PAGE_SIZE]	= { .type = NLA_U32 },
	[PCMIG_ATTR_VERSION]	= { .type = NLA_NUL_STRING, .len = 32 },
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
	    nla_put_string(msg, PCMIG_ATTR_VERSION, PCMIG_MODULE_VERSION))
		goto err_size;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_size:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct genl_small_ops pcmig_genl_ops[] = {
	{
		.cmd	= PCMIG_CMD_GET_INFO,
		.doit	= pcmig_genl_get_info,
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
};

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
