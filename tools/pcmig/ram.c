// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: RAM layout options and sizes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ram.h"

/**
 * pcmig_parse_size() - parse a size with an optional K, M, G or T suffix
 * @s: the text, e.g. "256M"; suffixes are powers of 1024
 * @out: the size in bytes
 *
 * Return: 0, or -EINVAL (no digits, junk, overflow).
 */
int pcmig_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	case 't': case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (shift && end[1])
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_name(const char *spec, size_t n, struct pcmig_ram *r,
		      char *err, size_t errlen)
{
	size_t i;

	if (!n || n >= sizeof(r->block.name)) {
		snprintf(err, errlen, "--ram %s: name of 1 to %zu characters",
			 spec, sizeof(r->block.name) - 1);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		if (spec[i] < 0x21 || spec[i] > 0x7e) {
			snprintf(err, errlen,
				 "--ram %s: name must be printable ASCII", spec);
			return -EINVAL;
		}
	}
	memset(r, 0, sizeof(*r));
	memcpy(r->block.name, spec, n);
	return 0;
}

/**
 * pcmig_parse_ram_size() - parse a destination's "NAME:SIZE"
 * @spec: the option's value
 * @r: filled on success (path empty)
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Return: 0, or -EINVAL.
 */
int pcmig_parse_ram_size(const char *spec, struct pcmig_ram *r, char *err,
			 size_t errlen)
{
	const char *colon = strrchr(spec, ':');
	uint64_t size;

	if (!colon) {
		snprintf(err, errlen, "--ram %s: want NAME:SIZE", spec);
		return -EINVAL;
	}
	if (parse_name(spec, colon - spec, r, err, errlen))
		return -EINVAL;
	if (pcmig_parse_size(colon + 1, &size) || !size) {
		snprintf(err, errlen, "--ram %s: bad size '%s'", spec,
			 colon + 1);
		return -EINVAL;
	}
	r->block.size = size;
	return 0;
}

/**
 * pcmig_parse_ram_file() - parse a source's "NAME=FILE"
 * @spec: the option's value
 * @r: filled on success (size zero: the caller reads the file's)
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Return: 0, or -EINVAL.
 */
int pcmig_parse_ram_file(const char *spec, struct pcmig_ram *r, char *err,
			 size_t errlen)
{
	const char *eq = strchr(spec, '=');

	if (!eq || !eq[1]) {
		snprintf(err, errlen, "--ram %s: want NAME=FILE", spec);
		return -EINVAL;
	}
	if (parse_name(spec, eq - spec, r, err, errlen))
		return -EINVAL;
	if (strlen(eq + 1) >= sizeof(r->path)) {
		snprintf(err, errlen, "--ram %s: path too long", spec);
		return -EINVAL;
	}
	strcpy(r->path, eq + 1);
	return 0;
}
