// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: user-space side of pcmig postcopy live migration.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcmig-tool.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static void print_info_json(const struct pcmig_info *info)
{
	printf("{\"module_version\":\"%s\",\"abi_major\":%u,\"abi_minor\":%u,"
	       "\"features\":%" PRIu64 ",\"page_size\":%u,"
	       "\"tool_abi_major\":%u,\"tool_abi_minor\":%u}\n",
	       info->version, info->abi_major, info->abi_minor, info->features,
	       info->page_size, PCMIG_ABI_MAJOR, PCMIG_ABI_MINOR);
}

static int cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct pcmig_version ver;
	struct pcmig_info info;
	struct pcmig_genl g;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: pcmig-tool version [--json]\n");
			return 0;
		default:
			return 2;
		}
	}

	ret = pcmig_genl_open(&g);
	if (ret == -ENOENT) {
		fprintf(stderr, "pcmig-tool: the pcmig module is not loaded (no \"%s\" generic netlink family)\n",
			PCMIG_NAME);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "pcmig-tool: generic netlink: %s\n", strerror(-ret));
		return 1;
	}
	ret = pcmig_genl_get_info(&g, &info);
	pcmig_genl_close(&g);
	if (ret) {
		fprintf(stderr, "pcmig-tool: get info: %s\n", strerror(-ret));
		return 1;
	}

	ret = pcmig_ctl_version(&ver);
	if (ret) {
		fprintf(stderr, "pcmig-tool: %s: %s\n", PCMIG_CTL_PATH, strerror(-ret));
		return 1;
	}
	if (ver.abi_major != info.abi_major || ver.abi_minor != info.abi_minor) {
		fprintf(stderr, "pcmig-tool: ioctl and netlink disagree on the ABI (%u.%u vs %u.%u)\n",
			ver.abi_major, ver.abi_minor, info.abi_major, info.abi_minor);
		return 1;
	}

	if (json) {
		print_info_json(&info);
	} else {
		printf("pcmig module %s, ABI %u.%u, page size %u, features 0x%" PRIx64 "\n",
		       info.version, info.abi_major, info.abi_minor,
		       info.page_size, info.features);
		printf("pcmig-tool ABI %u.%u\n", PCMIG_ABI_MAJOR, PCMIG_ABI_MINOR);
	}
	if (info.abi_major != PCMIG_ABI_MAJOR) {
		fprintf(stderr, "pcmig-tool: module ABI %u is not the tool's ABI %u\n",
			info.abi_major, PCMIG_ABI_MAJOR);
		return 1;
	}
	return 0;
}

static const struct command commands[] = {
	{ "version", cmd_version, "show the loaded module's version and ABI" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pcmig-tool COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'pcmig-tool COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);

	fprintf(stderr, "pcmig-tool: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
