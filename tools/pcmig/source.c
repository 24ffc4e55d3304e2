// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the source side of a migration (being written).
 */
#include <stdio.h>

#include "pcmig-tool.h"

const char migrate_usage[] =
	"usage: pcmig-tool migrate --connect HOST:PORT --key-file FILE --ram NAME=FILE... --device-state SRC\n";

int cmd_migrate(int argc, char **argv)
{
	fprintf(stderr, "pcmig-tool: migrate: not implemented yet\n");
	return 1;
}
