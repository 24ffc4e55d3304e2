// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the session file PCMIG_IOC_CREATE returns, a regular file.
 *
 * vfs_fallocate() hands fallocate(2) to a file's ->fallocate() only for a
 * regular file or a block device; any other inode gets -ENODEV before the
 * driver is asked. A session's node /dev/pcmig<id> is a character device,
 * so fallocate(FALLOC_FL_PUNCH_HOLE), with which QEMU gives guest memory
 * back, can never reach pcmig through it. The descriptor PCMIG_IOC_CREATE
 * returns is therefore a regular file. Opened again through
 * /proc/<pid>/fd/<n> it gives another session file while the session is
 * live: a path a VMM can be given (QEMU's mem-path).
 *
 * Its inode is an empty, unlinked file of the module's tmpfs mount, with
 * the session's file operations and inode operations that refuse every
 * change of attributes. It has to be a tmpfs inode: the file's f_mapping
 * is the backing file's, which makes the mm take the file for a tmpfs
 * file and look at its inode as one (the memfd seals that mmap(2) and
 * fcntl(F_ADD_SEALS) read and write, the huge page checks). Its seals are
 * tmpfs's default, F_SEAL_SEAL: no seal can be added.
 *
 * The session holds a reference on the inode and gives it tmpfs's own
 * operations back when it is freed, once the last file using ours is gone:
 * an inode that outlives the session (a dentry still held) points into
 * the module no more.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/shmem_fs.h>

#include "compat.h"
#include "pcmig.h"

/* tmpfs's operations of a regular file, put back by pcmig_file_release(). */
static const struct inode_operations *pcmig_shmem_iops;
static const struct file_operations *pcmig_shmem_fops;

/*
 * The size of session memory is fixed: truncate(2) and ftruncate(2) get
 * -EINVAL as on the device node; no other attribute changes either.
 */
static int pcmig_file_setattr(PCMIG_IDMAP *idmap, struct dentry *dentry,
			      struct iattr *attr)
{
	return attr->ia_valid & ATTR_SIZE ? -EINVAL : -EPERM;
}

static const struct inode_operations pcmig_file_iops = {
	.setattr	= pcmig_file_setattr,
};

/**
 * pcmig_file_create() - a new regular file of a session
 * @s: session, without a file of this kind yet; the caller holds a
 *	reference for the file
 * @fops: the session file operations
 *
 * Return: the file, opened for reading and writing, holding a reference on
 * the module for @fops; or an ERR_PTR().
 */
struct file *pcmig_file_create(struct pcmig_session *s,
			       const struct file_operations *fops)
{
	struct inode *inode;
	struct file *file;
	char name[16];

	snprintf(name, sizeof(name), PCMIG_NAME "%u", s->id);
	file = shmem_file_setup_with_mnt(pcmig_backing_mnt(), name, s->size,
					 VM_NORESERVE);
	if (IS_ERR(file))
		return file;

	inode = file_inode(file);
	WRITE_ONCE(pcmig_shmem_iops, inode->i_op);
	WRITE_ONCE(pcmig_shmem_fops, inode->i_fop);
	inode->i_mode = S_IFREG | 0600;
	inode->i_op = &pcmig_file_iops;
	/* For an open through /proc/<pid>/fd/<n>: pcmig_node_open(). */
	inode->i_fop = fops;
	ihold(inode);
	s->inode = inode;

	/* The file's reference on the module, dropped by its last fput(). */
	__module_get(THIS_MODULE);
	replace_fops(file, fops);
	/* No read or write: -EINVAL, as on the node. */
	file->f_mode &= ~(FMODE_CAN_READ | FMODE_CAN_WRITE);
	return file;
}

/**
 * pcmig_file_release() - a session being freed lets go of its file inode
 * @s: session; no file with the session file operations is left
 */
void pcmig_file_release(struct pcmig_session *s)
{
	struct inode *inode = s->inode;

	if (!inode)
		return;
	inode->i_fop = READ_ONCE(pcmig_shmem_fops);
	inode->i_op = READ_ONCE(pcmig_shmem_iops);
	iput(inode);
}
