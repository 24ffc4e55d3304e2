/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deterministic guest-memory images for the demo VMM and the benchmarks:
 * every page's contents follow from a seed and the page number, so a
 * destination can check each page byte for byte without the source's
 * file. With zero pages, about one page in eight is all zeros.
 */
#ifndef _PCMIG_IMAGE_H
#define _PCMIG_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#define IMAGE_PAGE	4096UL
#define IMAGE_WORDS	(IMAGE_PAGE / 8)

uint64_t image_mix64(uint64_t x);
/* A pseudo-random number from *@state, which moves on. */
uint64_t image_rnd(uint64_t *state);
/* Whether page @page is a zero page of an image made with zero pages. */
bool image_zero_page(uint64_t seed, uint64_t page);
void image_fill_page(uint64_t *p, uint64_t seed, uint64_t page, bool zeros);
bool image_page_ok(const volatile uint64_t *p, uint64_t seed, uint64_t page,
		   bool zeros);
/* The expected word @w of page @page. */
uint64_t image_word(uint64_t seed, uint64_t page, uint64_t w, bool zeros);
/*
 * Write an image of @size bytes (a non-zero multiple of IMAGE_PAGE) to a
 * new file at @path; zero pages stay holes. *@nzero (if not NULL) gets
 * the number of zero pages. Return: 0, -EINVAL for a bad size, -ENOMEM,
 * or -errno of the file operation that failed.
 */
int image_write(const char *path, uint64_t size, uint64_t seed, bool zeros,
		uint64_t *nzero);

#endif /* _PCMIG_IMAGE_H */
