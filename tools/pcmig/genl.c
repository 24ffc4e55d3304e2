// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the "pcmig" generic netlink family through libnl-genl-3.
 */
#include <errno.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "pcmig-tool.h"

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

static int info_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[PCMIG_ATTR_MAX + 1];
	struct pcmig_info *info = arg;
	int ret;

	ret = genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCMIG_ATTR_MAX, NULL);
	if (ret < 0)
		return NL_STOP;
	if (!tb[PCMIG_ATTR_ABI_MAJOR] || !tb[PCMIG_ATTR_ABI_MINOR] ||
	    !tb[PCMIG_ATTR_FEATURES] || !tb[PCMIG_ATTR_PAGE_SIZE] ||
	    !tb[PCMIG_ATTR_VERSION])
		return NL_STOP;

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
	struct nl_msg *msg;
	int ret;

	memset(info, 0, sizeof(*info));
	msg = nlmsg_alloc();
	if (!msg)
		return -ENOMEM;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, g->family, 0, 0,
			 PCMIG_CMD_GET_INFO, PCMIG_GENL_VERSION)) {
		ret = -EMSGSIZE;
		goto out;
	}

	ret = nl_socket_modify_cb(g->sock, NL_CB_VALID, NL_CB_CUSTOM, info_cb,
				  info);
	if (ret < 0)
		goto err_proto;
	ret = nl_send_auto(g->sock, msg);
	if (ret < 0)
		goto err_proto;
	ret = nl_recvmsgs_default(g->sock);
	if (ret < 0)
		goto err_proto;
	ret = info->version[0] ? 0 : -EPROTO;
	goto out;

err_proto:
	ret = -EPROTO;
out:
	nlmsg_free(msg);
	return ret;
}
