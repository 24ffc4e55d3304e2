/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: RAM layout options (--ram) and sizes.
 */
#ifndef _PCMIG_RAM_H
#define _PCMIG_RAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* One --ram option: NAME:SIZE (destination) or NAME=FILE (source). */
struct pcmig_ram {
	struct pcmig_block block;
	char path[4096];		/* NAME=FILE only */
};

int pcmig_parse_size(const char *s, uint64_t *out);
/* NAME:SIZE; the size takes K, M, G, T suffixes (powers of 1024). */
int pcmig_parse_ram_size(const char *spec, struct pcmig_ram *r, char *err,
			 size_t errlen);
/* NAME=FILE; the size is the file's size, read by the caller. */
int pcmig_parse_ram_file(const char *spec, struct pcmig_ram *r, char *err,
			 size_t errlen);

#endif /* _PCMIG_RAM_H */
