/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: pure formatting helpers (names, units, percentiles, JSON).
 *
 * Nothing here talks to the kernel, so that tools/pcmig/tests/ can test it
 * on the host.
 */
#ifndef _PCMIG_FORMAT_H
#define _PCMIG_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Big enough for every string the helpers below produce: "unknown(N)" with a
 * 32-bit N, "1023.9 KiB", "18446744073.7 s".
 */
#define PCMIG_FMT_LEN	32

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

const char *pcmig_state_name(uint32_t state);
const char *pcmig_state_str(uint32_t state, char *buf, size_t size);
int pcmig_state_parse(const char *name);

const char *pcmig_reason_name(uint32_t reason);
const char *pcmig_reason_str(uint32_t reason, char *buf, size_t size);
int pcmig_reason_parse(const char *name);

const char *pcmig_event_name(uint32_t cmd);
const char *pcmig_event_str(uint32_t cmd, char *buf, size_t size);

char *pcmig_fmt_size(uint64_t bytes, char *buf, size_t size);
char *pcmig_fmt_ns(uint64_t ns, char *buf, size_t size);

uint64_t pcmig_hist_total(const uint64_t *hist, unsigned int nbuckets);
uint64_t pcmig_hist_percentile(const uint64_t *hist, unsigned int nbuckets,
			       unsigned int pct);

/* Bytes as lower-case hex, and back (exactly 2 * @n hex digits). */
char *pcmig_fmt_hex(const uint8_t *p, size_t n, char *buf, size_t size);
int pcmig_parse_hex(const char *s, uint8_t *out, size_t n);
int pcmig_hex_digit(char c);

size_t pcmig_json_escape(char *dst, size_t size, const char *src);
void pcmig_json_fputs(FILE *f, const char *src);

#endif /* _PCMIG_FORMAT_H */
