// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: postcopy live migration with in-kernel fault resolution.
 *
 * Module entry points and the /dev/pcmig control node.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "pcmig.h"

/*
 * Session memory lives in files of a private tmpfs mount. Its default
 * "huge=never" keeps pages 4 KiB as the fault path needs (presence is
 * tracked per page), and the shmem_enabled settings "always",
 * "within_size" and "advise" only change the kernel's internal shm mount.
 * But "force" in /sys/kernel/mm/transparent_hugepage/shmem_enabled
 * overrides every tmpfs mount, and the lookups of the module pass no VMA
 * whose VM_NOHUGEPAGE would stop it; nothing exported to modules keeps a
 * tmpfs file at 4 KiB folios then. So sessions are refused while it is set
 * (pcmig_backing_probe()), and a session that meets a huge page because it
 * was set later fails (pcmig_fail_huge()).
 */
static struct vfsmount *pcmig_mnt;

/**
 * pcmig_backing_mnt() - the tmpfs mount that holds session memory
 *
 * Return: the mount, valid while the module is loaded.
 */
struct vfsmount *pcmig_backing_mnt(void)
{
	return pcmig_mnt;
}

/**
 * pcmig_backing_probe() - whether session memory would get huge pages now
 *
 * Allocates the first page of a scratch file of the mount, as a receiver
 * would, and looks at what tmpfs gave. Under "force" that is a huge folio
 * (unless memory is too fragmented for one right now: then the session is
 * created, and pcmig_fail_huge() catches a huge page later).
 *
 * Return: 0; -EOPNOTSUPP if tmpfs gives the mount huge pages; -ENOMEM.
 */
int pcmig_backing_probe(void)
{
	struct page *page;
	struct file *file;
	int ret = 0;

	if (!IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		return 0;
	file = shmem_file_setup_with_mnt(pcmig_mnt, "pcmig-probe", PMD_SIZE,
					 VM_NORESERVE);
	if (IS_ERR(file))
		return PTR_ERR(file);
	page = shmem_read_mapping_page_gfp(file->f_mapping, 0,
					   mapping_gfp_mask(file->f_mapping));
	if (IS_ERR(page)) {
		ret = PTR_ERR(page);
		goto out;
	}
	if (pcmig_page_huge(page)) {
		pr_warn_ratelimited("session memory would get huge pages: set /sys/kernel/mm/transparent_hugepage/shmem_enabled to something other than force\n");
		ret = -EOPNOTSUPP;
	}
	put_page(page);
out:
	fput(file);
	return ret;
}

/**
 * pcmig_fill_version() - describe the running module
 * @ver: structure to fill; every field is written
 */
void pcmig_fill_version(struct pcmig_version *ver)
{
	memset(ver, 0, sizeof(*ver));
	ver->abi_major = PCMIG_ABI_MAJOR;
	ver->abi_minor = PCMIG_ABI_MINOR;
	/*
	 * What this module implements, named one by one: a header that
	 * declares a new feature must not make the module claim it.
	 */
	ver->features = PCMIG_FEATURE_SESSIONS | PCMIG_FEATURE_SYNC |
			PCMIG_FEATURE_RECOVER | PCMIG_FEATURE_PUNCH;
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

static long pcmig_ioctl_create(struct pcmig_create __user *uargs)
{
	struct pcmig_session *s;
	struct pcmig_create args;
	int fd, ret;

	if (copy_from_user(&args, uargs, sizeof(args)))
		return -EFAULT;
	if (args.pad || args.id ||
	    memchr_inv(args.reserved, 0, sizeof(args.reserved)))
		return -EINVAL;

	ret = pcmig_session_create(&args, &s);
	if (ret)
		return ret;

	args.id = s->id;
	if (copy_to_user(uargs, &args, sizeof(args))) {
		ret = -EFAULT;
		goto err_destroy;
	}

	fd = pcmig_session_open_file(s);
	if (fd < 0) {
		ret = fd;
		goto err_destroy;
	}
	/* The table's reference keeps the session; ours is not needed. */
	pcmig_session_put(s);
	return fd;

err_destroy:
	pcmig_session_destroy(s);
	pcmig_session_put(s);
	return ret;
}

/**
 * pcmig_ioctl_common() - ioctls valid on every pcmig file
 * @cmd: ioctl number
 * @arg: its argument
 *
 * Return: the ioctl's result, or -ENOTTY if @cmd is not a common ioctl.
 */
long pcmig_ioctl_common(unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case PCMIG_IOC_VERSION:
		return pcmig_ioctl_version((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static long pcmig_ctl_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	switch (cmd) {
	case PCMIG_IOC_CREATE:
		return pcmig_ioctl_create((void __user *)arg);
	default:
		return pcmig_ioctl_common(cmd, arg);
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
	struct file_system_type *tmpfs;
	int ret;

	tmpfs = get_fs_type("tmpfs");
	if (!tmpfs) {
		pr_err("no tmpfs\n");
		return -ENODEV;
	}
	pcmig_mnt = kern_mount(tmpfs);
	module_put(tmpfs->owner);
	if (IS_ERR(pcmig_mnt)) {
		ret = PTR_ERR(pcmig_mnt);
		pr_err("cannot mount tmpfs: %d\n", ret);
		return ret;
	}

	ret = pcmig_fault_init();
	if (ret)
		goto err_mnt;

	ret = pcmig_sessions_init();
	if (ret)
		goto err_fault;

	ret = pcmig_genl_register();
	if (ret) {
		pr_err("cannot register the generic netlink family: %d\n", ret);
		goto err_sessions;
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
err_sessions:
	pcmig_sessions_exit();
err_fault:
	pcmig_fault_exit();
err_mnt:
	kern_unmount(pcmig_mnt);
	return ret;
}

static void __exit pcmig_exit(void)
{
	misc_deregister(&pcmig_ctl_dev);
	pcmig_genl_unregister();
	pcmig_sessions_exit();
	pcmig_fault_exit();
	kern_unmount(pcmig_mnt);
	pr_info("unloaded\n");
}

module_init(pcmig_init);
module_exit(pcmig_exit);

MODULE_AUTHOR("The pcmig developers");
MODULE_DESCRIPTION("Postcopy live migration with in-kernel fault resolution");
MODULE_LICENSE("GPL");
MODULE_VERSION(PCMIG_MODULE_VERSION);
