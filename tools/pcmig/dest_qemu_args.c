// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the QEMU command line of "incoming --qemu" (dest_qemu.c runs
 * it): what the operator's arguments must be, and what the tool adds. Pure
 * functions, tested by tests/dest_qemu_test.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dest.h"

#define QEMU_QMP_ID	"pcmig-qmp"	/* the chardev of our QMP socket */

/* A QEMU object id: a letter, then letters, digits, '-', '.', '_'. */
static bool id_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		      *s == '_'))
			return false;
	return true;
}

/* Whether @arg has the comma-separated component @key=@val. */
static bool has_kv(const char *arg, const char *key, const char *val)
{
	size_t kl = strlen(key), vl = strlen(val);
	const char *p = arg, *end;

	for (;;) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		if ((size_t)(end - p) == kl + 1 + vl && !strncmp(p, key, kl) &&
		    p[kl] == '=' && !strncmp(p + kl + 1, val, vl))
			return true;
		if (!*end)
			return false;
		p = end + 1;
	}
}

/* -opt or --opt, alone or as -opt=... */
static bool is_opt(const char *arg, const char *opt)
{
	size_t n = strlen(opt);

	if (arg[0] != '-')
		return false;
	arg += arg[1] == '-' ? 2 : 1;
	return !strncmp(arg, opt, n) && (!arg[n] || arg[n] == '=');
}

/**
 * dest_qemu_check_args() - what --qemu's command line must be
 * @o: the options, with @o->qemu_argv
 * @err: the reason on failure
 * @errlen: room at @err
 *
 * The tool adds -incoming and the RAM backends: the operator's arguments
 * must use each --ram block as a backend (memory-backend=NAME or
 * memdev=NAME) and define none of them, nor -incoming or -daemonize.
 *
 * Return: 0, or -EINVAL with @err set.
 */
int dest_qemu_check_args(const struct dest_opts *o, char *err, size_t errlen)
{
	const char *name;
	bool used;
	uint32_t i;
	int a;

	if (o->qemu_argc < 1 || !o->qemu_argv[0][0]) {
		snprintf(err, errlen, "--qemu needs the QEMU command after '--'");
		return -EINVAL;
	}
	for (a = 1; a < o->qemu_argc; a++) {
		if (is_opt(o->qemu_argv[a], "incoming")) {
			snprintf(err, errlen, "--qemu: no %s: the tool starts QEMU with -incoming defer",
				 o->qemu_argv[a]);
			return -EINVAL;
		}
		if (is_opt(o->qemu_argv[a], "daemonize")) {
			snprintf(err, errlen, "--qemu: no %s: the tool runs QEMU in a session of its own, and QEMU outlives it",
				 o->qemu_argv[a]);
			return -EINVAL;
		}
	}
	for (i = 0; i < o->nblocks; i++) {
		name = o->blocks[i].name;
		if (!id_ok(name)) {
			snprintf(err, errlen, "--ram %s: with --qemu, NAME is the id of QEMU's memory backend: a letter, then letters, digits, '-', '.' or '_'",
				 name);
			return -EINVAL;
		}
		used = false;
		for (a = 1; a < o->qemu_argc; a++) {
			const char *v = o->qemu_argv[a];

			if (is_opt(v, "object") && a + 1 < o->qemu_argc &&
			    !strncmp(o->qemu_argv[a + 1], "memory-backend", 14) &&
			    has_kv(o->qemu_argv[a + 1], "id", name)) {
				snprintf(err, errlen, "--qemu: the tool defines memory backend '%s' itself, on the session file: remove -object %s",
					 name, o->qemu_argv[a + 1]);
				return -EINVAL;
			}
			if (has_kv(v, "memory-backend", name) ||
			    has_kv(v, "memdev", name))
				used = true;
		}
		if (!used) {
			snprintf(err, errlen, "--qemu: nothing in QEMU's arguments uses the RAM block '%s' (-machine memory-backend=%s, or -numa node,memdev=%s)",
				 name, name, name);
			return -EINVAL;
		}
	}
	return 0;
}

static __attribute__((format(printf, 1, 2))) char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/**
 * dest_qemu_argv() - QEMU's whole command line
 * @o: the options
 * @mem_fd: the session file's descriptor in QEMU: every RAM block's
 *	mem-path is /proc/self/fd/@mem_fd, never a path QEMU could create
 *	(file_ram_open() creates a missing mem-path), and a regular file on
 *	which fallocate(PUNCH_HOLE) gives memory back (the session node, a
 *	character device, would refuse it with ENODEV)
 * @qmp_fd: the QMP socket's descriptor in QEMU
 * @offsets: QEMU takes "offset" on memory-backend-file (else every block
 *	but the first would be refused: dest_qemu_prepare() checks)
 *
 * Return: a NULL-terminated vector, malloc()ed with its strings (free each
 * then the vector), or NULL when out of memory.
 */
char **dest_qemu_argv(const struct dest_opts *o, int mem_fd, int qmp_fd,
		      bool offsets)
{
	int n = o->qemu_argc + 2 * (int)o->nblocks + 8, k = 0, a;
	uint64_t off = 0;
	char **v;
	uint32_t i;

	v = calloc(n + 1, sizeof(*v));
	if (!v)
		return NULL;
	for (a = 0; a < o->qemu_argc; a++)
		v[k++] = strdup(o->qemu_argv[a]);
	for (i = 0; i < o->nblocks; i++) {
		v[k++] = strdup("-object");
		if (off || offsets)
			v[k++] = fmt("memory-backend-file,id=%s,mem-path=/proc/self/fd/%d,share=on,size=%" PRIu64 ",offset=%" PRIu64,
				     o->blocks[i].name, mem_fd,
				     o->blocks[i].size, off);
		else
			v[k++] = fmt("memory-backend-file,id=%s,mem-path=/proc/self/fd/%d,share=on,size=%" PRIu64,
				     o->blocks[i].name, mem_fd,
				     o->blocks[i].size);
		off += o->blocks[i].size;
	}
	v[k++] = strdup("-incoming");
	v[k++] = strdup("defer");
	v[k++] = strdup("-S");
	v[k++] = strdup("-chardev");
	v[k++] = fmt("socket,id=" QEMU_QMP_ID ",fd=%d", qmp_fd);
	v[k++] = strdup("-mon");
	v[k++] = strdup("chardev=" QEMU_QMP_ID ",mode=control");
	for (a = 0; a < k; a++) {
		if (v[a])
			continue;
		for (a = 0; a < k; a++)
			free(v[a]);
		free(v);
		return NULL;
	}
	return v;
}

/**
 * dest_qemu_argv_free() - free what dest_qemu_argv() returned
 * @v: the vector, or NULL
 */
void dest_qemu_argv_free(char **v)
{
	int i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}
