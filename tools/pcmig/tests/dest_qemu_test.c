// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of "incoming --qemu"'s command line (dest_qemu_args.c): what
 * the operator's QEMU arguments may not hold, and the arguments the tool
 * adds (a backend per RAM block at its offset of the node, -incoming defer,
 * -S, the QMP socket).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dest.h"
#include "unit.h"

static void opts(struct dest_opts *o, char **argv, int argc,
		 const char *n0, uint64_t s0, const char *n1, uint64_t s1)
{
	memset(o, 0, sizeof(*o));
	o->qemu_argv = argv;
	o->qemu_argc = argc;
	snprintf(o->blocks[0].name, sizeof(o->blocks[0].name), "%s", n0);
	o->blocks[0].size = s0;
	o->nblocks = 1;
	if (n1) {
		snprintf(o->blocks[1].name, sizeof(o->blocks[1].name), "%s",
			 n1);
		o->blocks[1].size = s1;
		o->nblocks = 2;
	}
}

/* Check the arguments; "" if accepted, else the message. */
static const char *check(char **argv, int argc, const char *n0,
			 const char *n1)
{
	static char err[512];
	struct dest_opts o;

	opts(&o, argv, argc, n0, 1 << 20, n1, 1 << 20);
	err[0] = '\0';
	if (!dest_qemu_check_args(&o, err, sizeof(err)) && err[0])
		return "accepted with a message";
	return err;
}

static void test_check(void)
{
	char *ok[] = { "qemu-system-x86_64", "-machine",
		       "pc,memory-backend=m0", "-m", "64M", NULL };
	char *numa[] = { "qemu", "-machine", "pc", "-numa",
			 "node,memdev=a.b_c-1", "-numa", "node,memdev=m1",
			 "-object", "memory-backend-ram,id=other,size=1M",
			 NULL };
	char *inc[] = { "qemu", "-machine", "pc,memory-backend=m0",
			"-incoming", "defer", NULL };
	char *inc2[] = { "qemu", "-machine", "pc,memory-backend=m0",
			 "--incoming=tcp:0:4444", NULL };
	char *daem[] = { "qemu", "-machine", "pc,memory-backend=m0",
			 "-daemonize", NULL };
	char *def[] = { "qemu", "-machine", "pc,memory-backend=m0",
			"-object", "memory-backend-file,size=1M,id=m0,share=on",
			NULL };
	char *unused[] = { "qemu", "-machine", "pc,memory-backend=m00",
			   "-numa", "node,memdev=xm0", NULL };
	char *empty[] = { "", NULL };

	CHECK_STR(check(ok, 5, "m0", NULL), "");
	CHECK_STR(check(numa, 9, "a.b_c-1", "m1"), "");
	CHECK_STR(check(inc, 5, "m0", NULL),
		  "--qemu: no -incoming: the tool starts QEMU with -incoming defer");
	CHECK_STR(check(inc2, 4, "m0", NULL),
		  "--qemu: no --incoming=tcp:0:4444: the tool starts QEMU with -incoming defer");
	CHECK_HAS(check(daem, 4, "m0", NULL), "--qemu: no -daemonize");
	CHECK_STR(check(def, 5, "m0", NULL),
		  "--qemu: the tool defines memory backend 'm0' itself, on the session file: remove -object memory-backend-file,size=1M,id=m0,share=on");
	CHECK_STR(check(unused, 5, "m0", NULL),
		  "--qemu: nothing in QEMU's arguments uses the RAM block 'm0' (-machine memory-backend=m0, or -numa node,memdev=m0)");
	CHECK_HAS(check(numa, 9, "a.b_c-1", "m2"),
		  "uses the RAM block 'm2'");
	CHECK_HAS(check(ok, 5, "0m", NULL),
		  "--ram 0m: with --qemu, NAME is the id of QEMU's memory backend");
	CHECK_HAS(check(ok, 5, "m/0", NULL), "--ram m/0:");
	CHECK_STR(check(empty, 1, "m0", NULL),
		  "--qemu needs the QEMU command after '--'");
	CHECK_STR(check(ok, 0, "m0", NULL),
		  "--qemu needs the QEMU command after '--'");
}

static int count(char **v)
{
	int n = 0;

	while (v[n])
		n++;
	return n;
}

static void test_argv(void)
{
	char *in[] = { "qemu-system-x86_64", "-m", "64M", NULL };
	struct dest_opts o;
	char **v;

	opts(&o, in, 3, "m0", 64 << 20, NULL, 0);
	v = dest_qemu_argv(&o, 4, 3, false);
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_U64(count(v), 3 + 2 + 7);
	CHECK_STR(v[0], "qemu-system-x86_64");
	CHECK_STR(v[2], "64M");
	CHECK_STR(v[3], "-object");
	CHECK_STR(v[4], "memory-backend-file,id=m0,mem-path=/proc/self/fd/4,share=on,size=67108864");
	CHECK_STR(v[5], "-incoming");
	CHECK_STR(v[6], "defer");
	CHECK_STR(v[7], "-S");
	CHECK_STR(v[8], "-chardev");
	CHECK_STR(v[9], "socket,id=pcmig-qmp,fd=3");
	CHECK_STR(v[10], "-mon");
	CHECK_STR(v[11], "chardev=pcmig-qmp,mode=control");
	dest_qemu_argv_free(v);

	/* Two blocks: the second at the first's size, with "offset". */
	opts(&o, in, 3, "lo", 2 << 20, "hi", 6 << 20);
	v = dest_qemu_argv(&o, 6, 5, true);
	CHECK(v != NULL);
	if (!v)
		return;
	CHECK_U64(count(v), 3 + 4 + 7);
	CHECK_STR(v[4], "memory-backend-file,id=lo,mem-path=/proc/self/fd/6,share=on,size=2097152,offset=0");
	CHECK_STR(v[6], "memory-backend-file,id=hi,mem-path=/proc/self/fd/6,share=on,size=6291456,offset=2097152");
	CHECK_STR(v[11], "socket,id=pcmig-qmp,fd=5");
	dest_qemu_argv_free(v);
	dest_qemu_argv_free(NULL);
}

int main(void)
{
	test_check();
	test_argv();
	return unit_report("dest_qemu_test");
}
