// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the command line of "pcmig-tool migrate": its usage text
 * and the options, read into struct src.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "net.h"
#include "pcmig-tool.h"
#include "ram.h"
#include "source_int.h"

const char migrate_usage[] =
	"usage: pcmig-tool migrate --connect HOST:PORT --key-file FILE --ram NAME=FILE... {--device-state SRC | --qemu-qmp PATH} [OPTIONS]\n"
	"\n"
	"Migrate a VM to a destination running 'pcmig-tool incoming': the source\n"
	"side. The VM's RAM blocks are files the source VMM shares (tmpfs,\n"
	"/dev/shm, a memfd's /proc path); they are read live, never copied.\n"
	"After the handshakes and ADVISE, the device state goes out in one\n"
	"package (LISTEN, DEVICE_STATE, RUN); then pages the destination faults\n"
	"on are answered at once on the urgent connection while every other page\n"
	"is pushed in the background, in address order from the last request.\n"
	"\n"
	"  -c, --connect HOST:PORT  the destination\n"
	"  -k, --key-file FILE      pre-shared key (mode 0600, at least 16 bytes)\n"
	"  -r, --ram NAME=FILE      a RAM block; its size is the file's (a\n"
	"                           non-zero multiple of the page size); blocks\n"
	"                           are laid end to end in the order given\n"
	"  -d, --device-state SRC   the VMM's device state: a file, '-' for\n"
	"                           standard input, or cmd:COMMAND (run with\n"
	"                           /bin/sh -c, its output is the state); read\n"
	"                           whole when the package is sent\n"
	"      --qemu-qmp PATH      the VM is a QEMU with this QMP socket: its\n"
	"                           --ram blocks are its shared memory backends\n"
	"                           (NAME is the backend's id); after ADVISE it\n"
	"                           is stopped and its device state taken from\n"
	"                           QEMU's migration (x-ignore-shared) into the\n"
	"                           package; on a failure before the package it\n"
	"                           runs again (Documentation/qemu.rst)\n"
	"      --no-bulk            no separate bulk connection: background pages\n"
	"                           share the urgent connection\n"
	"  -b, --bandwidth RATE     limit the background push to RATE bytes per\n"
	"                           second (K, M, G suffixes); replies to\n"
	"                           requests are never limited\n"
	"      --batch PAGES        pages per background frame (1-256; default\n"
	"                           256, or 32 with --bandwidth or --no-bulk)\n"
	"      --frames-per-call N  background frames per sendmsg() (1-8,\n"
	"                           default 1; 1 with --bandwidth or --no-bulk)\n"
	"      --precopy            push every page before the package\n"
	"      --precopy-hook CMD   after the precopy push, run CMD (/bin/sh -c);\n"
	"                           it must exit 0\n"
	"      --discard OFF:LEN    after the precopy push (and hook), make a\n"
	"                           page-aligned range missing at the destination\n"
	"                           and send it again in postcopy (repeatable;\n"
	"                           decimal with K/M/G/T or 0x hexadecimal)\n"
	"  -t, --timeout SECONDS    limit of each handshake and control exchange,\n"
	"                           of a stalled connection, and of the silence\n"
	"                           after END (default 30)\n"
	"      --link-timeout SECONDS\n"
	"                           a connection on a dead link (no reset: a\n"
	"                           cable pulled, a partition) or to a peer that\n"
	"                           stopped reading fails after this long (TCP\n"
	"                           keepalive and TCP_USER_TIMEOUT; 0 for TCP's\n"
	"                           own minutes; default 15, at most 3600)\n"
	"      --recover-timeout SECONDS\n"
	"                           after a lost link in postcopy, reconnect for\n"
	"                           at most this long (0, the default: until it\n"
	"                           works or a signal stops it)\n"
	"      --no-recover         fail at once on a lost link instead\n"
	"      --resume SESSION_ID  take over the migration of a source that\n"
	"                           died in postcopy: the same --connect,\n"
	"                           --key-file and --ram, the session id it\n"
	"                           printed (32 hex digits); no --device-state\n"
	"  -j, --json               one JSON object per line on standard output:\n"
	"                           start, progress every second, paused,\n"
	"                           reconnecting, recovered, done or error\n"
	"  -q, --quiet              no progress or summary, errors only\n"
	"  -h, --help               this text\n"
	"\n"
	"Exit status: 0 when the destination confirmed every page (DONE), 1 on\n"
	"any failure (the destination is told with an ERROR), 2 for a bad\n"
	"command line.\n";

static __printf(1, 2) int usage_err(const char *fmt, ...);

static int usage_err(const char *fmt, ...)
{
	const char *nl = strchr(migrate_usage, '\n');
	va_list ap;

	fprintf(stderr, "pcmig-tool migrate: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%.*s\nTry 'pcmig-tool migrate --help' for more.\n",
		(int)(nl - migrate_usage), migrate_usage);
	return 2;
}

enum {
	OPT_NO_BULK = 256,
	OPT_BATCH,
	OPT_FRAMES,
	OPT_PRECOPY,
	OPT_HOOK,
	OPT_DISCARD,
	OPT_LINK_TIMEOUT,
	OPT_RECOVER_TIMEOUT,
	OPT_NO_RECOVER,
	OPT_RESUME,
	OPT_QEMU_QMP,
};

/**
 * src_parse_options() - the command line of "pcmig-tool migrate"
 * @s: the migration, whose options are set
 * @argc: argument count, argv[0] being "migrate"
 * @argv: arguments
 *
 * Return: -1 to go on, else the exit status: 0 after --help, 2 for a bad
 * command line.
 */
int src_parse_options(struct src *s, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "ram", required_argument, NULL, 'r' },
		{ "device-state", required_argument, NULL, 'd' },
		{ "no-bulk", no_argument, NULL, OPT_NO_BULK },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "frames-per-call", required_argument, NULL, OPT_FRAMES },
		{ "precopy", no_argument, NULL, OPT_PRECOPY },
		{ "precopy-hook", required_argument, NULL, OPT_HOOK },
		{ "discard", required_argument, NULL, OPT_DISCARD },
		{ "timeout", required_argument, NULL, 't' },
		{ "link-timeout", required_argument, NULL, OPT_LINK_TIMEOUT },
		{ "recover-timeout", required_argument, NULL,
		  OPT_RECOVER_TIMEOUT },
		{ "no-recover", no_argument, NULL, OPT_NO_RECOVER },
		{ "resume", required_argument, NULL, OPT_RESUME },
		{ "qemu-qmp", required_argument, NULL, OPT_QEMU_QMP },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char **nd;
	char err[512], *end;
	unsigned int link_s;
	uint64_t v;
	double d;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:k:r:d:b:t:jqh", opts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			s->connect = optarg;
			break;
		case 'k':
			s->key_file = optarg;
			break;
		case 'r':
			if (s->nblocks == PCMIG_MAX_BLOCKS)
				return usage_err("at most %d --ram blocks",
						 PCMIG_MAX_BLOCKS);
			if (pcmig_parse_ram_file(optarg,
						 &s->blocks[s->nblocks].ram,
						 err, sizeof(err)))
				return usage_err("%s", err);
			s->blocks[s->nblocks++].fd = -1;
			break;
		case 'd':
			s->device_state = optarg;
			break;
		case OPT_NO_BULK:
			s->no_bulk = true;
			break;
		case 'b':
			if (pcmig_parse_size(optarg, &v) || !v)
				return usage_err("--bandwidth %s: want a rate in bytes per second, e.g. 100M",
						 optarg);
			s->bandwidth = v;
			break;
		case OPT_BATCH:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || !v ||
			    v > PCMIG_FRAME_MAX_PAGES)
				return usage_err("--batch %s: want 1 to %d pages",
						 optarg, PCMIG_FRAME_MAX_PAGES);
			s->batch = v;
			break;
		case OPT_FRAMES:
			v = strtoull(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || !v ||
			    v > PUSH_FRAMES)
				return usage_err("--frames-per-call %s: want 1 to %d",
						 optarg, PUSH_FRAMES);
			s->frames_per_call = v;
			break;
		case OPT_PRECOPY:
			s->precopy = true;
			break;
		case OPT_HOOK:
			s->precopy_hook = optarg;
			break;
		case OPT_DISCARD:
			nd = realloc(s->discard_specs,
				     (s->ndiscards + 1) * sizeof(*nd));
			if (!nd)
				return usage_err("out of memory");
			s->discard_specs = nd;
			s->discard_specs[s->ndiscards++] = optarg;
			break;
		case 't':
			errno = 0;
			d = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(d >= 0.001) ||
			    d > 86400)
				return usage_err("--timeout %s: want seconds, more than 0 and at most 86400",
						 optarg);
			s->timeout_ms = (int)(d * 1000);
			break;
		case OPT_LINK_TIMEOUT:
			if (pcmig_parse_link_timeout(optarg, &link_s))
				return usage_err("--link-timeout %s: want seconds, 0 to %d",
						 optarg, PCMIG_LINK_TIMEOUT_MAX_S);
			pcmig_set_link_timeout(link_s);
			break;
		case OPT_RECOVER_TIMEOUT:
			if (pcmig_parse_secs(optarg, PCMIG_RECOVER_TIMEOUT_MAX_S,
					     &s->recover_timeout_s))
				return usage_err("--recover-timeout %s: want seconds, 0 to %d",
						 optarg,
						 PCMIG_RECOVER_TIMEOUT_MAX_S);
			break;
		case OPT_NO_RECOVER:
			s->recover = false;
			break;
		case OPT_RESUME:
			if (pcmig_parse_hex(optarg, s->sid, sizeof(s->sid)))
				return usage_err("--resume %s: want the session id, %d hex digits",
						 optarg,
						 2 * PCMIG_SESSION_ID_LEN);
			s->resume = true;
			break;
		case OPT_QEMU_QMP:
			s->qemu_qmp = optarg;
			break;
		case 'j':
			s->json = true;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'h':
			printf("%s", migrate_usage);
			return 0;
		default:
			return usage_err("bad option");
		}
	}
	if (optind < argc)
		return usage_err("unexpected argument '%s'", argv[optind]);
	if (!s->connect)
		return usage_err("missing --connect HOST:PORT");
	if (!s->key_file)
		return usage_err("missing --key-file FILE");
	if (!s->nblocks)
		return usage_err("missing --ram NAME=FILE");
	if (s->resume) {
		if (s->device_state || s->qemu_qmp || s->precopy || !s->recover)
			return usage_err("--resume takes over in postcopy: no --device-state, --qemu-qmp, --precopy or --no-recover");
		return -1;
	}
	if (s->qemu_qmp) {
		if (s->device_state)
			return usage_err("--qemu-qmp takes the device state from QEMU: no --device-state");
		if (s->precopy)
			return usage_err("--qemu-qmp: no --precopy (QEMU does not tell which pages its VM wrote since)");
		if (!*s->qemu_qmp)
			return usage_err("--qemu-qmp needs the path of QEMU's QMP socket");
		return -1;
	}
	if (!s->device_state)
		return usage_err("missing --device-state SRC or --qemu-qmp PATH");
	if (!strcmp(s->device_state, "cmd:"))
		return usage_err("--device-state cmd: needs a command");
	if ((s->precopy_hook || s->ndiscards) && !s->precopy)
		return usage_err("--precopy-hook and --discard need --precopy");
	return -1;
}
