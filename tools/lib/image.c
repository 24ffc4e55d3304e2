// SPDX-License-Identifier: GPL-2.0
/*
 * Deterministic guest-memory images (see image.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"

/**
 * image_mix64() - a 64-bit mixing function (splitmix64's finaliser)
 * @x: input
 *
 * Return: @x mixed.
 */
uint64_t image_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/**
 * image_rnd() - the next number of a pseudo-random sequence
 * @state: the sequence's state; moves on
 *
 * Return: a pseudo-random number.
 */
uint64_t image_rnd(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return image_mix64(*state);
}

/**
 * image_zero_page() - whether a page is a zero page
 * @seed: the image's seed
 * @page: page number
 *
 * Return: true for about one page in eight (images with zero pages only).
 */
bool image_zero_page(uint64_t seed, uint64_t page)
{
	return (image_mix64(seed * 0xa24baed4963ee407ULL + page + 1) & 7) == 0;
}

static uint64_t page_key(uint64_t seed, uint64_t page)
{
	return image_mix64(seed ^ (page * 0x9e3779b97f4a7c15ULL) ^
			   0x243f6a8885a308d3ULL);
}

static uint64_t key_word(uint64_t key, uint64_t w)
{
	return image_mix64(key + w * 0xd1b54a32d192ed03ULL);
}

/**
 * image_word() - one word of a page
 * @seed: the image's seed
 * @page: page number
 * @w: word in the page, below %IMAGE_WORDS
 * @zeros: the image has zero pages
 *
 * Return: the word the page holds.
 */
uint64_t image_word(uint64_t seed, uint64_t page, uint64_t w, bool zeros)
{
	if (zeros && image_zero_page(seed, page))
		return 0;
	return key_word(page_key(seed, page), w);
}

/**
 * image_fill_page() - write a page's contents
 * @p: %IMAGE_WORDS words
 * @seed: the image's seed
 * @page: page number
 * @zeros: the image has zero pages
 */
void image_fill_page(uint64_t *p, uint64_t seed, uint64_t page, bool zeros)
{
	uint64_t key = page_key(seed, page), w;

	if (zeros && image_zero_page(seed, page)) {
		memset(p, 0, IMAGE_PAGE);
		return;
	}
	for (w = 0; w < IMAGE_WORDS; w++)
		p[w] = key_word(key, w);
}

/**
 * image_page_ok() - whether memory holds a page's contents
 * @p: %IMAGE_WORDS words
 * @seed: the image's seed
 * @page: page number
 * @zeros: the image has zero pages
 *
 * Return: true if every word matches.
 */
bool image_page_ok(const volatile uint64_t *p, uint64_t seed, uint64_t page,
		   bool zeros)
{
	uint64_t key = page_key(seed, page), w;
	bool zero = zeros && image_zero_page(seed, page);

	for (w = 0; w < IMAGE_WORDS; w++)
		if (p[w] != (zero ? 0 : key_word(key, w)))
			return false;
	return true;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

/**
 * image_write() - write an image file
 * @path: the file, created or truncated
 * @size: bytes, a non-zero multiple of %IMAGE_PAGE
 * @seed: the image's seed
 * @zeros: with zero pages (left as holes)
 * @nzero: set to the number of zero pages, if not NULL
 *
 * Return: 0, -EINVAL for a bad @size, -ENOMEM, or a negative errno.
 */
int image_write(const char *path, uint64_t size, uint64_t seed, bool zeros,
		uint64_t *nzero)
{
	uint64_t pages = size / IMAGE_PAGE, pg, run, nz = 0;
	uint64_t *buf;
	int fd, ret = 0;

	if (!size || size % IMAGE_PAGE)
		return -EINVAL;
	buf = malloc(256 * IMAGE_PAGE);
	if (!buf)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (ftruncate(fd, (off_t)size)) {
		ret = -errno;
		goto out_close;
	}
	/* Zero pages stay holes; runs of others go out in big writes. */
	for (pg = 0; pg < pages && !ret; pg += run) {
		if (zeros && image_zero_page(seed, pg)) {
			nz++;
			run = 1;
			continue;
		}
		for (run = 0; run < 256 && pg + run < pages &&
		     !(zeros && image_zero_page(seed, pg + run)); run++)
			image_fill_page(buf + run * IMAGE_WORDS, seed, pg + run,
					zeros);
		ret = pwrite_all(fd, buf, run * IMAGE_PAGE,
				 (off_t)(pg * IMAGE_PAGE));
	}
out_close:
	if (close(fd) && !ret)
		ret = -errno;
out:
	free(buf);
	if (!ret && nzero)
		*nzero = nz;
	return ret;
}
