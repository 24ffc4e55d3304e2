// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: pre-shared key and the HMAC-SHA256 challenge/response of
 * the handshake (OpenSSL's libcrypto does the hashing).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "proto.h"

/**
 * pcmig_key_load() - read the pre-shared key from a file
 * @path: the key file; must not be readable by group or others
 * @key: %PCMIG_MAX_KEY_LEN bytes, filled on success
 * @len: key length, on success
 * @err: a message on failure
 * @errlen: room at @err
 *
 * The key is the file's contents without trailing white space, at least
 * %PCMIG_MIN_KEY_LEN bytes.
 *
 * Return: 0, or a negative errno.
 */
int pcmig_key_load(const char *path, uint8_t *key, size_t *len,
		   char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		ret = -EINVAL;
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "key file %s: readable by others (mode %04o): chmod 600 it",
			 path, (unsigned int)(st.st_mode & 07777));
		ret = -EPERM;
		goto out;
	}
	while (got < PCMIG_MAX_KEY_LEN) {
		n = read(fd, key + got, PCMIG_MAX_KEY_LEN - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "key file %s: %s", path,
				 strerror(-ret));
			goto out;
		}
		if (!n)
			break;
		got += n;
	}
	if (got == PCMIG_MAX_KEY_LEN) {
		snprintf(err, errlen, "key file %s: longer than %d bytes", path,
			 PCMIG_MAX_KEY_LEN - 1);
		ret = -EINVAL;
		goto out;
	}
	while (got && (key[got - 1] == '\n' || key[got - 1] == '\r' ||
		       key[got - 1] == ' ' || key[got - 1] == '\t'))
		got--;
	if (got < PCMIG_MIN_KEY_LEN) {
		snprintf(err, errlen, "key file %s: key shorter than %d bytes",
			 path, PCMIG_MIN_KEY_LEN);
		ret = -EINVAL;
		goto out;
	}
	*len = got;
out:
	close(fd);
	return ret;
}

/**
 * pcmig_random() - fill a buffer from the kernel's random generator
 * @buf: output
 * @len: bytes
 *
 * Return: 0, or a negative errno.
 */
int pcmig_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

static int mac(const uint8_t *key, size_t keylen, const char *label,
	       const void *hello, size_t hello_len, const uint8_t *nonce,
	       uint8_t *out)
{
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	EVP_MAC *hmac;
	size_t outlen = 0;
	int ret = -EIO;

	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!hmac)
		return -EIO;
	ctx = EVP_MAC_CTX_new(hmac);
	if (!ctx)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, (const uint8_t *)label, strlen(label) + 1) != 1 ||
	    EVP_MAC_update(ctx, hello, hello_len) != 1 ||
	    EVP_MAC_update(ctx, nonce, PCMIG_NONCE_LEN) != 1 ||
	    EVP_MAC_final(ctx, out, &outlen, PCMIG_MAC_LEN) != 1 ||
	    outlen != PCMIG_MAC_LEN)
		goto out;
	ret = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(hmac);
	return ret;
}

/**
 * pcmig_mac_dst() - the destination's proof of the key
 * @key: pre-shared key
 * @keylen: its length
 * @hello: the source's HELLO payload as received
 * @hello_len: its length
 * @dst_nonce: the destination's nonce
 * @out: %PCMIG_MAC_LEN bytes
 *
 * HMAC-SHA256 over "pcmig dst\0", the HELLO payload (which holds the
 * source's nonce and the whole negotiation) and the destination's nonce.
 *
 * Return: 0, or -EIO.
 */
int pcmig_mac_dst(const uint8_t *key, size_t keylen, const void *hello,
		  size_t hello_len, const uint8_t *dst_nonce, uint8_t *out)
{
	return mac(key, keylen, "pcmig dst", hello, hello_len, dst_nonce, out);
}

/**
 * pcmig_mac_src() - the source's proof of the key
 * @key: pre-shared key
 * @keylen: its length
 * @hello: the source's HELLO payload as sent
 * @hello_len: its length
 * @dst_nonce: the destination's nonce from HELLO_ACK
 * @out: %PCMIG_MAC_LEN bytes
 *
 * Like pcmig_mac_dst() with the label "pcmig src", so that neither side
 * can replay the other's answer.
 *
 * Return: 0, or -EIO.
 */
int pcmig_mac_src(const uint8_t *key, size_t keylen, const void *hello,
		  size_t hello_len, const uint8_t *dst_nonce, uint8_t *out)
{
	return mac(key, keylen, "pcmig src", hello, hello_len, dst_nonce, out);
}

/**
 * pcmig_mac_equal() - compare two MACs in constant time
 * @a: a MAC
 * @b: another
 *
 * Return: true if equal.
 */
bool pcmig_mac_equal(const uint8_t *a, const uint8_t *b)
{
	return CRYPTO_memcmp(a, b, PCMIG_MAC_LEN) == 0;
}
