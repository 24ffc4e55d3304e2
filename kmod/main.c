// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: postcopy live migration with in-kernel fault resolution.
 *
 * Module entry points and the /dev/pcmig control node.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "pcmig.h"

/**
 * pcmig_fill_version() - describe the running module
 * @ver: structure to fill; every field is written
 */
void pcmig_fill_version(struct pcmig_version *ver)
{
	memset(ver, 0, sizeof(*ver));
	ver->abi_major = PCMIG_ABI_MAJOR;
	ver->abi_minor = PCMIG_ABI_MINOR;
	ver->features = PCMIG_FEATURES_ALL;
	ver->page_size = PAGE_SIZE;
}

static long pcmig_ioctl_version(struct pcmig_version __user *uver)
{
	struct pcmig_version ver;

	if (copy_from_user(&ver, uver, sizeof(ver)))
		return -EFAULT;
	if (ver.flags || memchr_inv(ver.reserved, 0, sizeof(ver.reserved)))
		return -EINVAL;

	pcmig_fill_version(&ver);
	if (copy_to_user(uver, &ver, sizeof(ver)))
		return -EFAULT;
	return 0;
}

static long pcmig_ctl_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case PCMIG_IOC_VERSION:
		return pcmig_ioctl_version(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations pcmig_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= pcmig_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice pcmig_ctl_dev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= PCMIG_NAME,
	.fops	= &pcmig_ctl_fops,
	.mode	= 0600,
};

static int __init pcmig_init(void)
{
	int ret;

	ret = pcmig_genl_register();
	if (ret) {
		pr_err("cannot register the generic netlink family: %d\n", ret);
		return ret;
	}

	ret = misc_register(&pcmig_ctl_dev);
	if (ret) {
		pr_err("cannot register /dev/%s: %d\n", PCMIG_NAME, ret);
		goto err_genl;
	}

	pr_info("version %s loaded (ABI %u.%u)\n", PCMIG_MODULE_VERSION,
		PCMIG_ABI_MAJOR, PCMIG_ABI_MINOR);
	return 0;

err_genl:
	pcmig_genl_unregister();
	return ret;
}

static void __exit pcmig_exit(void)
{
	misc_deregister(&pcmig_ctl_dev);
	pcmig_genl_unregister();
	pr_info("unloaded\n");
}

module_init(pcmig_init);
module_exit(pcmig_exit);

MODULE_AUTHOR("The pcmig developers");
MODULE_DESCRIPTION("Postcopy live migration with in-kernel fault resolution");
MODULE_LICENSE("GPL");
MODULE_VERSION(PCMIG_MODULE_VERSION);
