// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the destination side of a migration (being written).
 */
#include <stdio.h>

#include "pcmig-tool.h"

const char incoming_usage[] =
	"usage: pcmig-tool incoming --listen HOST:PORT --key-file FILE --ram NAME:SIZE...\n";
const char advise_usage[] = "usage: pcmig-tool advise --state-dir DIR ...\n";
const char listen_usage[] = "usage: pcmig-tool listen --state-dir DIR\n";
const char run_usage[] = "usage: pcmig-tool run --state-dir DIR\n";

static int not_yet(const char *what)
{
	fprintf(stderr, "pcmig-tool: %s: not implemented yet\n", what);
	return 1;
}

int cmd_incoming(int argc, char **argv)
{
	return not_yet("incoming");
}

int cmd_advise(int argc, char **argv)
{
	return not_yet("advise");
}

int cmd_listen(int argc, char **argv)
{
	return not_yet("listen");
}

int cmd_run(int argc, char **argv)
{
	return not_yet("run");
}
