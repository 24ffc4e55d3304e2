// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: a small, strict JSON reader (json.h). Every byte of the text
 * is checked against the grammar; the depth is bounded, and so is the
 * number of values; offsets are checked to fit the tokens.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "json.h"

struct parser {
	struct json_doc *doc;
	const char *s;
	size_t len;
	size_t pos;
	char *err;
	size_t errlen;
};

static int fail(struct parser *p, const char *what)
{
	if (p->err && p->errlen) {
		if (p->pos < p->len)
			snprintf(p->err, p->errlen, "%s at byte %zu", what,
				 p->pos);
		else
			snprintf(p->err, p->errlen, "%s at the end", what);
	}
	return -EINVAL;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len &&
	       (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
		p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

/* A new token of @type starting at @start: its index, or -errno. */
static int new_tok(struct parser *p, enum json_type type, size_t start)
{
	struct json_doc *d = p->doc;
	struct json_tok *nt;
	unsigned int cap;

	if (d->ntok == d->cap) {
		if (d->cap >= JSON_MAX_TOKENS) {
			fail(p, "too many values");
			return -E2BIG;
		}
		cap = d->cap ? d->cap * 2 : 64;
		nt = realloc(d->tok, cap * sizeof(*nt));
		if (!nt) {
			if (p->err && p->errlen)
				snprintf(p->err, p->errlen, "out of memory");
			return -ENOMEM;
		}
		d->tok = nt;
		d->cap = cap;
	}
	nt = &d->tok[d->ntok];
	memset(nt, 0, sizeof(*nt));
	nt->type = type;
	nt->start = (uint32_t)start;
	return (int)d->ntok++;
}

/* A string; p->pos at its opening quote. Leaves p->pos after the close. */
static int parse_string(struct parser *p, size_t *start, size_t *end)
{
	unsigned char c;
	int i;

	p->pos++;
	*start = p->pos;
	for (;;) {
		if (p->pos >= p->len)
			return fail(p, "unterminated string");
		c = (unsigned char)p->s[p->pos];
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, "control character in a string");
		if (c != '\\') {
			p->pos++;
			continue;
		}
		if (p->pos + 1 >= p->len)
			return fail(p, "unterminated string");
		switch (p->s[p->pos + 1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p->pos += 2;
			break;
		case 'u':
			if (p->pos + 6 > p->len)
				return fail(p, "short \\u escape");
			for (i = 2; i < 6; i++)
				if (pcmig_hex_digit(p->s[p->pos + i]) < 0)
					return fail(p, "bad \\u escape");
			p->pos += 6;
			break;
		default:
			return fail(p, "bad escape");
		}
	}
	*end = p->pos;
	p->pos++;
	return 0;
}

static bool digit(struct parser *p)
{
	return p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int parse_number(struct parser *p)
{
	if (p->s[p->pos] == '-')
		p->pos++;
	if (!digit(p))
		return fail(p, "bad number");
	if (p->s[p->pos] == '0') {
		p->pos++;
	} else {
		while (digit(p))
			p->pos++;
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!digit(p))
			return fail(p, "bad number");
		while (digit(p))
			p->pos++;
	}
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		if (p->pos < p->len &&
		    (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!digit(p))
			return fail(p, "bad number");
		while (digit(p))
			p->pos++;
	}
	return 0;
}

static int parse_value(struct parser *p, unsigned int depth);

/* An object or array; p->pos at its bracket. */
static int parse_container(struct parser *p, unsigned int depth, int t)
{
	bool obj = p->doc->tok[t].type == JSON_OBJECT;
	char close = obj ? '}' : ']';
	size_t ks, ke;
	uint32_t n = 0;
	int ret, k;

	if (depth >= JSON_MAX_DEPTH)
		return fail(p, "nested too deep");
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		if (obj) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "expected a member name");
			k = new_tok(p, JSON_STRING, p->pos + 1);
			if (k < 0)
				return k;
			ret = parse_string(p, &ks, &ke);
			if (ret)
				return ret;
			p->doc->tok[k].end = (uint32_t)ke;
			p->doc->tok[k].next = p->doc->ntok;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, "expected ':'");
			p->pos++;
			skip_ws(p);
		}
		ret = parse_value(p, depth + 1);
		if (ret)
			return ret;
		n++;
		p->doc->tok[t].size = n;
		skip_ws(p);
		if (p->pos >= p->len)
			return fail(p, obj ? "unterminated object" :
				    "unterminated array");
		if (p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		if (p->s[p->pos] != ',')
			return fail(p, "expected ',' or a closing bracket");
		p->pos++;
		skip_ws(p);
	}
}

static int parse_literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return fail(p, "unexpected character");
	p->pos += n;
	return 0;
}

/* Any value; p->pos at its first byte (whitespace skipped). */
static int parse_value(struct parser *p, unsigned int depth)
{
	enum json_type type;
	size_t s, e;
	int t, ret;

	if (p->pos >= p->len)
		return fail(p, "expected a value");
	switch (p->s[p->pos]) {
	case '{':
		type = JSON_OBJECT;
		break;
	case '[':
		type = JSON_ARRAY;
		break;
	case '"':
		type = JSON_STRING;
		break;
	case 't':
		type = JSON_TRUE;
		break;
	case 'f':
		type = JSON_FALSE;
		break;
	case 'n':
		type = JSON_NULL;
		break;
	default:
		if (p->s[p->pos] != '-' && !digit(p))
			return fail(p, "unexpected character");
		type = JSON_NUMBER;
		break;
	}
	t = new_tok(p, type, type == JSON_STRING ? p->pos + 1 : p->pos);
	if (t < 0)
		return t;
	switch (type) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		ret = parse_container(p, depth, t);
		e = p->pos;
		break;
	case JSON_STRING:
		ret = parse_string(p, &s, &e);
		break;
	case JSON_NUMBER:
		ret = parse_number(p);
		e = p->pos;
		break;
	default:
		ret = parse_literal(p, type == JSON_TRUE ? "true" :
				    type == JSON_FALSE ? "false" : "null");
		e = p->pos;
		break;
	}
	if (ret)
		return ret;
	p->doc->tok[t].end = (uint32_t)e;
	p->doc->tok[t].next = p->doc->ntok;
	return 0;
}

/**
 * json_parse() - check a JSON text and record its values
 * @doc: the document, filled (json_free() it, on success or failure)
 * @text: the text; it must stay valid while @doc is used
 * @len: its length in bytes
 * @err: a message on failure (what and at which byte), or NULL
 * @errlen: room at @err
 *
 * The whole of @text must be one value, with optional whitespace around.
 *
 * Return: 0, -EINVAL for text that is not JSON (or nested deeper than
 * JSON_MAX_DEPTH), -E2BIG for a text over 4 GiB or with more than
 * JSON_MAX_TOKENS values, -ENOMEM.
 */
int json_parse(struct json_doc *doc, const char *text, size_t len,
	       char *err, size_t errlen)
{
	struct parser p = {
		.doc = doc, .s = text, .len = len, .err = err,
		.errlen = errlen,
	};
	int ret;

	memset(doc, 0, sizeof(*doc));
	doc->text = text;
	doc->len = len;
	if (len >= UINT32_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "text too long");
		return -E2BIG;
	}
	skip_ws(&p);
	ret = parse_value(&p, 0);
	if (ret)
		return ret;
	skip_ws(&p);
	if (p.pos != len)
		return fail(&p, "trailing characters");
	return 0;
}

/**
 * json_free() - release a document's tokens
 * @doc: the document
 */
void json_free(struct json_doc *doc)
{
	free(doc->tok);
	doc->tok = NULL;
	doc->ntok = doc->cap = 0;
}

static bool valid(const struct json_doc *doc, int t)
{
	return t >= 0 && (unsigned int)t < doc->ntok;
}

/**
 * json_type_of() - the type of a token
 * @doc: the document
 * @t: the token, or a negative number (a failed lookup)
 *
 * Return: its type; JSON_NONE for no such token.
 */
enum json_type json_type_of(const struct json_doc *doc, int t)
{
	return valid(doc, t) ? (enum json_type)doc->tok[t].type : JSON_NONE;
}

/* Append code point @cp as UTF-8 to @out at *@o (counting past @len). */
static void put_utf8(char *out, size_t len, size_t *o, uint32_t cp)
{
	unsigned char b[4];
	size_t n, i;

	if (cp < 0x80) {
		b[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = 0xc0 | (cp >> 6);
		b[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = 0xe0 | (cp >> 12);
		b[1] = 0x80 | ((cp >> 6) & 0x3f);
		b[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (cp >> 18);
		b[1] = 0x80 | ((cp >> 12) & 0x3f);
		b[2] = 0x80 | ((cp >> 6) & 0x3f);
		b[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	for (i = 0; i < n; i++, (*o)++)
		if (*o + 1 < len)
			out[*o] = (char)b[i];
}

static uint32_t hex4(const char *s)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = v << 4 | (uint32_t)pcmig_hex_digit(s[i]);
	return v;
}

/*
 * Decode the (validated) string body @s of @n bytes into @out: as much as
 * fits, NUL-terminated if @len. U+0000 becomes '?', a lone surrogate
 * U+FFFD. Return: the decoded length.
 */
static size_t unescape(const char *s, size_t n, char *out, size_t len)
{
	size_t i = 0, o = 0;
	uint32_t cp, lo;

	while (i < n) {
		if (s[i] != '\\') {
			if (o + 1 < len)
				out[o] = s[i];
			o++;
			i++;
			continue;
		}
		switch (s[i + 1]) {
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			cp = hex4(s + i + 2);
			i += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && i + 8 <= n &&
			    s[i + 2] == '\\' && s[i + 3] == 'u') {
				lo = hex4(s + i + 4);
				if (lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					     (lo - 0xdc00);
					i += 6;
				}
			}
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0xfffd;
			if (!cp)
				cp = '?';
			break;
		default:	/* " \ / */
			cp = (unsigned char)s[i + 1];
			break;
		}
		i += 2;
		put_utf8(out, len, &o, cp);
	}
	if (len)
		out[o < len ? o : len - 1] = '\0';
	return o;
}

/**
 * json_string() - the value of a string token, unescaped
 * @doc: the document
 * @t: the token
 * @buf: where it goes, NUL-terminated (cut short if it does not fit)
 * @len: room at @buf, at least 1
 *
 * Return: 0; -E2BIG if it was cut short; -EINVAL if @t is not a string.
 */
int json_string(const struct json_doc *doc, int t, char *buf, size_t len)
{
	const struct json_tok *k;
	size_t n;

	if (json_type_of(doc, t) != JSON_STRING) {
		if (len)
			buf[0] = '\0';
		return -EINVAL;
	}
	k = &doc->tok[t];
	n = unescape(doc->text + k->start, k->end - k->start, buf, len);
	return n < len ? 0 : -E2BIG;
}

/**
 * json_streq() - whether a token is the string @s
 * @doc: the document
 * @t: the token
 * @s: the string to compare with
 *
 * Return: true if @t is a string whose value is @s.
 */
bool json_streq(const struct json_doc *doc, int t, const char *s)
{
	size_t want = strlen(s), n;
	char small[256], *buf = small;
	const struct json_tok *k;
	bool eq;

	if (json_type_of(doc, t) != JSON_STRING)
		return false;
	k = &doc->tok[t];
	/* A decoded string is never longer than its text. */
	if (want > k->end - k->start)
		return false;
	if (want >= sizeof(small)) {
		buf = malloc(want + 2);
		if (!buf)
			return false;
	}
	n = unescape(doc->text + k->start, k->end - k->start, buf, want + 2);
	eq = n == want && !memcmp(buf, s, want);
	if (buf != small)
		free(buf);
	return eq;
}

/**
 * json_get() - a member of an object
 * @doc: the document
 * @obj: the object's token
 * @key: the member's name
 *
 * Return: the token of its value (the first, should the name repeat), or
 * -1 if @obj is not an object or has no such member.
 */
int json_get(const struct json_doc *doc, int obj, const char *key)
{
	unsigned int i, m;

	if (json_type_of(doc, obj) != JSON_OBJECT)
		return -1;
	i = (unsigned int)obj + 1;
	for (m = 0; m < doc->tok[obj].size; m++) {
		if (json_streq(doc, (int)i, key))
			return (int)i + 1;
		i = doc->tok[i + 1].next;
	}
	return -1;
}

/**
 * json_elem() - an element of an array
 * @doc: the document
 * @arr: the array's token
 * @i: the element's index
 *
 * Return: its token, or -1 if @arr is not an array or is shorter.
 */
int json_elem(const struct json_doc *doc, int arr, unsigned int i)
{
	unsigned int t, k;

	if (json_type_of(doc, arr) != JSON_ARRAY || i >= doc->tok[arr].size)
		return -1;
	t = (unsigned int)arr + 1;
	for (k = 0; k < i; k++)
		t = doc->tok[t].next;
	return (int)t;
}

/**
 * json_u64() - a non-negative integer
 * @doc: the document
 * @t: the token
 * @v: the value
 *
 * Return: 0; -EINVAL if @t is not a number written as digits only (no
 * sign, fraction or exponent); -ERANGE if it does not fit 64 bits.
 */
int json_u64(const struct json_doc *doc, int t, uint64_t *v)
{
	const struct json_tok *k;
	uint64_t x = 0;
	uint32_t i;
	unsigned int d;

	if (json_type_of(doc, t) != JSON_NUMBER)
		return -EINVAL;
	k = &doc->tok[t];
	for (i = k->start; i < k->end; i++) {
		if (doc->text[i] < '0' || doc->text[i] > '9')
			return -EINVAL;
		d = doc->text[i] - '0';
		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/**
 * json_bool() - true or false
 * @doc: the document
 * @t: the token
 * @v: the value
 *
 * Return: 0, or -EINVAL if @t is neither true nor false.
 */
int json_bool(const struct json_doc *doc, int t, bool *v)
{
	enum json_type type = json_type_of(doc, t);

	if (type != JSON_TRUE && type != JSON_FALSE)
		return -EINVAL;
	*v = type == JSON_TRUE;
	return 0;
}

/**
 * json_raw() - the text of a value, as it is in the document
 * @doc: the document
 * @t: the token
 * @p: its first byte (a string's opening quote)
 * @len: its length
 *
 * Return: 0, or -EINVAL for no such token.
 */
int json_raw(const struct json_doc *doc, int t, const char **p, size_t *len)
{
	const struct json_tok *k;
	size_t s, e;

	if (!valid(doc, t))
		return -EINVAL;
	k = &doc->tok[t];
	s = k->start;
	e = k->end;
	if (k->type == JSON_STRING) {
		s--;
		e++;
	}
	*p = doc->text + s;
	*len = e - s;
	return 0;
}

/**
 * json_msg_end() - where the first object of a stream ends
 * @buf: bytes received
 * @len: how many
 * @end: the offset after the object's closing brace, when complete
 *
 * Leading whitespace is skipped. Only the structure is followed here
 * (strings, escapes, brackets); json_parse() checks the rest.
 *
 * Return: 1 when an object is complete, 0 when more bytes are needed,
 * -EINVAL when the stream holds something else than an object there or
 * nests deeper than JSON_MAX_DEPTH.
 */
int json_msg_end(const char *buf, size_t len, size_t *end)
{
	unsigned int depth = 0;
	bool str = false;
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' ||
			   buf[i] == '\n' || buf[i] == '\r'))
		i++;
	if (i == len)
		return 0;
	if (buf[i] != '{')
		return -EINVAL;
	for (; i < len; i++) {
		char c = buf[i];

		if (str) {
			if (c == '\\')
				i++;	/* the escaped byte is skipped */
			else if (c == '"')
				str = false;
			continue;
		}
		switch (c) {
		case '"':
			str = true;
			break;
		case '{':
		case '[':
			if (++depth > JSON_MAX_DEPTH)
				return -EINVAL;
			break;
		case '}':
		case ']':
			if (!depth)
				return -EINVAL;
			if (!--depth) {
				*end = i + 1;
				return 1;
			}
			break;
		}
	}
	return 0;
}

/**
 * json_quote() - a string as a quoted JSON string
 * @buf: the output, NUL-terminated
 * @len: room at @buf
 * @s: the string (UTF-8 bytes are kept as they are)
 *
 * Return: the length written, or -E2BIG if it does not fit (@buf is then
 * an empty string, never a truncated quote).
 */
int json_quote(char *buf, size_t len, const char *s)
{
	const unsigned char *c = (const unsigned char *)s;
	size_t o = 0;
	char esc[8];
	int n;

	if (!len)
		return -E2BIG;
	buf[o++] = '"';
	for (; *c; c++) {
		if (*c == '"' || *c == '\\')
			n = snprintf(esc, sizeof(esc), "\\%c", *c);
		else if (*c < 0x20)
			n = snprintf(esc, sizeof(esc), "\\u%04x", *c);
		else
			n = snprintf(esc, sizeof(esc), "%c", *c);
		if (o + n + 2 > len) {
			buf[0] = '\0';
			return -E2BIG;
		}
		memcpy(buf + o, esc, n);
		o += n;
	}
	if (o + 2 > len) {
		buf[0] = '\0';
		return -E2BIG;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return (int)o;
}
