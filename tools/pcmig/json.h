/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: a small, strict JSON reader, enough for QMP (qmp.c).
 *
 * json_parse() checks a whole text against the JSON grammar (RFC 8259:
 * objects, arrays, strings with their escapes, numbers, true, false, null;
 * at most JSON_MAX_DEPTH levels) and records every value as a token, in
 * document order. Nothing is copied: a token is a type and a range of the
 * text. Lookups (json_get(), json_elem()) walk the tokens; values come out
 * through json_string(), json_u64(), json_bool(), each checking the type.
 *
 * json_msg_end() finds where the first JSON object of a byte stream ends,
 * so that a reader knows when a message is complete without trusting any
 * length or line ending.
 */
#ifndef _PCMIG_JSON_H
#define _PCMIG_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH	64		/* nested objects and arrays */
#define JSON_MAX_TOKENS	(1U << 20)	/* values in one document */

enum json_type {
	JSON_NONE,
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

/**
 * struct json_tok - one value of a document
 * @type: enum json_type
 * @start: offset of its first byte (a string's: after the quote)
 * @end: offset after its last byte (a string's: before the quote)
 * @size: members of an object, elements of an array, else 0
 * @next: index of the token after this value and everything inside it
 *
 * An object's members follow it as pairs: the key (a string token), then
 * the value and its own tokens.
 */
struct json_tok {
	uint8_t type;
	uint32_t start;
	uint32_t end;
	uint32_t size;
	uint32_t next;
};

/**
 * struct json_doc - a parsed document
 * @text: the text (not copied: it must outlive the document)
 * @len: its length
 * @tok: the tokens; token 0 is the top-level value
 * @ntok: tokens used
 * @cap: tokens allocated
 */
struct json_doc {
	const char *text;
	size_t len;
	struct json_tok *tok;
	unsigned int ntok;
	unsigned int cap;
};

int json_parse(struct json_doc *doc, const char *text, size_t len,
	       char *err, size_t errlen);
void json_free(struct json_doc *doc);

enum json_type json_type_of(const struct json_doc *doc, int t);
int json_get(const struct json_doc *doc, int obj, const char *key);
int json_elem(const struct json_doc *doc, int arr, unsigned int i);
bool json_streq(const struct json_doc *doc, int t, const char *s);
int json_string(const struct json_doc *doc, int t, char *buf, size_t len);
int json_u64(const struct json_doc *doc, int t, uint64_t *v);
int json_bool(const struct json_doc *doc, int t, bool *v);
int json_raw(const struct json_doc *doc, int t, const char **p, size_t *len);

int json_msg_end(const char *buf, size_t len, size_t *end);
int json_quote(char *buf, size_t len, const char *s);

#endif /* _PCMIG_JSON_H */
