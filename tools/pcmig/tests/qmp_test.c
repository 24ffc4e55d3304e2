// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the JSON reader (json.c) and of the QMP client (qmp.c)
 * against a fake QMP server: a thread on the other end of a socketpair (or
 * of a UNIX socket path) that plays QEMU byte for byte, with replies cut
 * into single bytes, events in between, stale and id-less replies,
 * silence, garbage, a message that never ends, and a descriptor passed
 * with SCM_RIGHTS as "getfd" does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "json.h"
#include "qmp.h"
#include "unit.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": \"Debian\"}, \"capabilities\": [\"oob\"]}}\r\n"

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- JSON ---- */

static int parse(struct json_doc *d, const char *s)
{
	return json_parse(d, s, strlen(s), NULL, 0);
}

static void test_json_valid(void)
{
	const char *s = " {\"a\": [1, -2.5e+3, true, false, null, {}, []],"
			" \"b\\u0063\": {\"x\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\"},"
			" \"u\": \"\\u00e9\\ud83d\\ude00\\u0000\\udc00z\","
			" \"n\": 18446744073709551615, \"big\": 18446744073709551616,"
			" \"neg\": -1, \"frac\": 1.5, \"a\": 2} ";
	struct json_doc d;
	char buf[64];
	uint64_t v;
	bool b;
	int a, t;

	CHECK_U64(parse(&d, s), 0);
	CHECK_U64(json_type_of(&d, 0), JSON_OBJECT);
	CHECK_U64(d.tok[0].size, 8);
	a = json_get(&d, 0, "a");		/* the first of two */
	CHECK_U64(json_type_of(&d, a), JSON_ARRAY);
	CHECK_U64(d.tok[a].size, 7);
	CHECK(!json_u64(&d, json_elem(&d, a, 0), &v) && v == 1);
	CHECK_U64(json_u64(&d, json_elem(&d, a, 1), &v), (uint64_t)-EINVAL);
	CHECK(!json_bool(&d, json_elem(&d, a, 2), &b) && b);
	CHECK(!json_bool(&d, json_elem(&d, a, 3), &b) && !b);
	CHECK_U64(json_bool(&d, json_elem(&d, a, 4), &b), (uint64_t)-EINVAL);
	CHECK_U64(json_type_of(&d, json_elem(&d, a, 4)), JSON_NULL);
	CHECK_U64(json_type_of(&d, json_elem(&d, a, 5)), JSON_OBJECT);
	CHECK_U64(json_type_of(&d, json_elem(&d, a, 6)), JSON_ARRAY);
	CHECK_U64(json_elem(&d, a, 7), (uint64_t)-1);
	/* A key with an escape, found by its value. */
	t = json_get(&d, json_get(&d, 0, "bc"), "x");
	CHECK(!json_string(&d, t, buf, sizeof(buf)));
	CHECK_STR(buf, "q\"\\/\b\f\n\r\t");
	CHECK(json_streq(&d, t, "q\"\\/\b\f\n\r\t"));
	CHECK(!json_streq(&d, t, "q"));
	/* U+00E9, U+1F600 (a surrogate pair), U+0000, a lone surrogate. */
	CHECK(!json_string(&d, json_get(&d, 0, "u"), buf, sizeof(buf)));
	CHECK_STR(buf, "\xc3\xa9\xf0\x9f\x98\x80?\xef\xbf\xbdz");
	/* Cut short: still terminated. */
	CHECK_U64(json_string(&d, json_get(&d, 0, "u"), buf, 3),
		  (uint64_t)-E2BIG);
	CHECK_U64(strlen(buf), 2);
	CHECK(!json_u64(&d, json_get(&d, 0, "n"), &v) && v == UINT64_MAX);
	CHECK_U64(json_u64(&d, json_get(&d, 0, "big"), &v), (uint64_t)-ERANGE);
	CHECK_U64(json_u64(&d, json_get(&d, 0, "neg"), &v), (uint64_t)-EINVAL);
	CHECK_U64(json_u64(&d, json_get(&d, 0, "frac"), &v), (uint64_t)-EINVAL);
	CHECK_U64(json_string(&d, json_get(&d, 0, "n"), buf, sizeof(buf)),
		  (uint64_t)-EINVAL);
	CHECK_U64(json_get(&d, 0, "missing"), (uint64_t)-1);
	CHECK_U64(json_get(&d, a, "a"), (uint64_t)-1);	/* not an object */
	CHECK_U64(json_type_of(&d, -1), JSON_NONE);
	CHECK_U64(json_type_of(&d, 100000), JSON_NONE);
	json_free(&d);

	CHECK_U64(parse(&d, "\"top\""), 0);
	CHECK(json_streq(&d, 0, "top"));
	json_free(&d);
	CHECK_U64(parse(&d, "0"), 0);
	json_free(&d);
}

static void test_json_invalid(void)
{
	static const char * const bad[] = {
		"", " ", "{", "}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}",
		"{a:1}", "{\"a\":01}", "1.", "-", "1e", ".5", "+1", "tru",
		"nul", "\"abc", "\"a\\x\"", "\"a\\u12g4\"", "\"a\\u12\"",
		"\"a\nb\"", "{} {}", "[1]x", "{\"a\":1}}", "'a'", "[\"\\\"]",
	};
	char deep[2 * JSON_MAX_DEPTH + 8], err[128];
	struct json_doc d;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = parse(&d, bad[i]);
		json_free(&d);
		CHECK_MSG(ret == -EINVAL, "'%s' parsed: %d", bad[i], ret);
	}
	/* JSON_MAX_DEPTH levels parse, one more does not. */
	memset(deep, '[', JSON_MAX_DEPTH);
	memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
	deep[2 * JSON_MAX_DEPTH] = '\0';
	CHECK_U64(parse(&d, deep), 0);
	json_free(&d);
	memset(deep, '[', JSON_MAX_DEPTH + 1);
	memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
	deep[2 * JSON_MAX_DEPTH + 2] = '\0';
	CHECK_U64(json_parse(&d, deep, strlen(deep), err, sizeof(err)),
		  (uint64_t)-EINVAL);
	CHECK_HAS(err, "nested too deep");
	json_free(&d);
	CHECK_U64(json_parse(&d, "{\"a\":tru}", 9, err, sizeof(err)),
		  (uint64_t)-EINVAL);
	CHECK_STR(err, "unexpected character at byte 5");
	json_free(&d);
	/* Not NUL-terminated: the length is what counts. */
	CHECK_U64(json_parse(&d, "[1,2]xyz", 5, NULL, 0), 0);
	json_free(&d);
	CHECK_U64(json_parse(&d, "[1,2", 4, NULL, 0), (uint64_t)-EINVAL);
	json_free(&d);
}

static void test_json_msg_end(void)
{
	const char *two = "\r\n {\"a\":\"}{\\\"\",\"b\":[{}]}\r\n{\"c\":1}";
	size_t end = 0;
	char deep[JSON_MAX_DEPTH + 4];

	CHECK_U64(json_msg_end(two, strlen(two), &end), 1);
	CHECK_U64(end, strlen("\r\n {\"a\":\"}{\\\"\",\"b\":[{}]}"));
	CHECK_U64(json_msg_end(two, end - 1, &end), 0);
	CHECK_U64(json_msg_end("", 0, &end), 0);
	CHECK_U64(json_msg_end(" \r\n", 3, &end), 0);
	CHECK_U64(json_msg_end("hello", 5, &end), (uint64_t)-EINVAL);
	CHECK_U64(json_msg_end("[1]", 3, &end), (uint64_t)-EINVAL);
	CHECK_U64(json_msg_end("{]]", 3, &end), 1);	/* json_parse's job */
	CHECK_U64(json_msg_end("{\"a\\", 4, &end), 0);
	memset(deep, '{', sizeof(deep));
	CHECK_U64(json_msg_end(deep, JSON_MAX_DEPTH, &end), 0);
	CHECK_U64(json_msg_end(deep, JSON_MAX_DEPTH + 1, &end),
		  (uint64_t)-EINVAL);
}

static void test_json_quote(void)
{
	char buf[32];
	struct json_doc d;

	CHECK_U64(json_quote(buf, sizeof(buf), "a\"b\\c\n\x01\xc3\xa9"),
		  strlen("\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\""));
	CHECK_STR(buf, "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\"");
	CHECK_U64(parse(&d, buf), 0);
	CHECK(json_streq(&d, 0, "a\"b\\c\n\x01\xc3\xa9"));
	json_free(&d);
	CHECK_U64(json_quote(buf, 5, "abc"), (uint64_t)-E2BIG);
	CHECK_STR(buf, "");
	CHECK_U64(json_quote(buf, 6, "abc"), 5);
	CHECK_U64(json_quote(buf, 3, ""), 2);
	CHECK_U64(json_quote(buf, 2, ""), (uint64_t)-E2BIG);
	CHECK_U64(json_quote(buf, 0, ""), (uint64_t)-E2BIG);
}

/*
 * Mutations of a real reply: every result is either a document whose
 * tokens all lie inside the text, or -EINVAL; never a crash (run under
 * valgrind or ASan to see one).
 */
static void test_json_mutations(void)
{
	static const char base[] = "{\"return\": [{\"id\": \"m0\", \"size\": 67108864, \"share\": true, \"host-nodes\": [], \"policy\": \"default\", \"x\": \"a\\u00e9\\n\"}], \"id\": 3}";
	static const char alphabet[] = "{}[]\":,\\u0123456789-+.eEtrufalsn \r\n\x01\xff";
	unsigned int i, k, bad = 0, good = 0, okrange = 1;
	uint32_t x = 12345;
	char buf[sizeof(base)], out[64];
	struct json_doc d;
	int ret;

	for (i = 0; i < 20000; i++) {
		memcpy(buf, base, sizeof(base));
		for (k = 0; k < 1 + i % 4; k++) {
			x = x * 1103515245 + 12345;
			buf[(x >> 8) % (sizeof(base) - 1)] =
				alphabet[(x >> 20) % (sizeof(alphabet) - 1)];
		}
		x = x * 1103515245 + 12345;
		ret = json_parse(&d, buf, (x >> 8) % sizeof(base), NULL, 0);
		if (ret) {
			bad += ret == -EINVAL;
		} else {
			good++;
			for (k = 0; k < d.ntok; k++) {
				if (d.tok[k].end > (x >> 8) % sizeof(base) ||
				    d.tok[k].start > d.tok[k].end ||
				    d.tok[k].next > d.ntok)
					okrange = 0;
				if (d.tok[k].type == JSON_STRING)
					json_string(&d, (int)k, out,
						    sizeof(out));
			}
		}
		json_free(&d);
	}
	CHECK_U64(bad + good, 20000);
	CHECK(good > 0);
	CHECK(okrange);
}

/* ---- the fake QMP server ---- */

struct fake {
	int fd;				/* the server's end */
	void (*play)(struct fake *f);
	pthread_t th;
	int passed_fd;			/* received with SCM_RIGHTS */
	char last[4096];		/* the last command read */
};

static void srv_send(struct fake *f, const char *s)
{
	size_t n = strlen(s), o = 0;
	ssize_t k;

	while (o < n) {
		k = send(f->fd, s + o, n - o, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		o += k;
	}
}

/* One byte at a time, with pauses: the client must reassemble. */
static void srv_send_slowly(struct fake *f, const char *s)
{
	for (; *s; s++) {
		send(f->fd, s, 1, MSG_NOSIGNAL);
		if (*s == ',')
			usleep(2000);
	}
}

/* Read one command line; its id, or 0. Takes a passed descriptor. */
static uint64_t srv_read(struct fake *f)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr m;
	struct iovec iov;
	struct cmsghdr *h;
	size_t n = 0;
	ssize_t k;
	char *p;

	for (;;) {
		memset(&m, 0, sizeof(m));
		iov.iov_base = f->last + n;
		iov.iov_len = 1;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		m.msg_control = c.b;
		m.msg_controllen = sizeof(c.b);
		k = recvmsg(f->fd, &m, 0);
		if (k <= 0)
			return 0;
		for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h))
			if (h->cmsg_type == SCM_RIGHTS)
				memcpy(&f->passed_fd, CMSG_DATA(h), sizeof(int));
		if (f->last[n] == '\n' || n + 2 >= sizeof(f->last))
			break;
		n++;
	}
	f->last[n] = '\0';
	p = strstr(f->last, "\"id\":");
	return p ? strtoull(p + 5, NULL, 10) : 0;
}

/* Greeting, then the answer to qmp_capabilities. */
static void srv_hello(struct fake *f)
{
	char r[128];
	uint64_t id;

	srv_send(f, GREETING);
	id = srv_read(f);
	snprintf(r, sizeof(r), "{\"return\": {}, \"id\": %" PRIu64 "}\r\n",
		 id);
	srv_send(f, r);
}

static void *srv_main(void *arg)
{
	struct fake *f = arg;

	f->play(f);
	return NULL;
}

static void fake_start(struct fake *f, void (*play)(struct fake *f),
		       int *client)
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	f->passed_fd = -1;
	f->play = play;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("socketpair");
		exit(1);
	}
	f->fd = sv[1];
	*client = sv[0];
	pthread_create(&f->th, NULL, srv_main, f);
}

static void fake_end(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->fd);
}

/* ---- QMP client ---- */

static void play_session(struct fake *f)
{
	char r[512];
	uint64_t id;

	srv_hello(f);
	/* query-status: events first, the reply byte by byte. */
	id = srv_read(f);
	srv_send(f, "{\"timestamp\": {\"seconds\": 5, \"microseconds\": 7}, \"event\": \"STOP\"}\r\n");
	srv_send(f, "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"setup\"}}\r\n");
	snprintf(r, sizeof(r), "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %" PRIu64 "}\r\n",
		 id);
	srv_send_slowly(f, r);
	/* stop: a stale reply (another id), then QEMU's error. */
	id = srv_read(f);
	snprintf(r, sizeof(r), "{\"return\": {}, \"id\": %" PRIu64 "}\r\n"
		 "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Migration is disabled: \\\"x\\\"\"}, \"id\": %" PRIu64 "}\r\n",
		 id + 1000, id);
	srv_send(f, r);
	/* A command QEMU could not read: an error without id. */
	srv_read(f);
	srv_send(f, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n");
	/* Silence, then the answer after the client timed out once. */
	id = srv_read(f);
	usleep(300 * 1000);
	snprintf(r, sizeof(r), "{\"return\": [1, 2], \"id\": %" PRIu64 "}\r\n",
		 id);
	srv_send(f, r);
	/* getfd: write into the descriptor received. */
	id = srv_read(f);
	if (f->passed_fd >= 0) {
		if (write(f->passed_fd, "through", 7) != 7)
			perror("write");
		close(f->passed_fd);
	}
	snprintf(r, sizeof(r), "{\"return\": {}, \"id\": %" PRIu64 "}\r\n",
		 id);
	srv_send(f, r);
	/* Then QEMU goes away. */
	srv_read(f);
	shutdown(f->fd, SHUT_RDWR);
}

static void test_qmp_session(void)
{
	const struct qmp_event *e;
	struct qmp_reply r;
	struct fake f;
	struct qmp q;
	uint64_t seq = 0, id, t0;
	int fd, pfd[2], ret;
	char buf[64];

	fake_start(&f, play_session, &fd);
	qmp_init(&q);
	CHECK_U64(qmp_start(&q, fd, 2000), 0);
	CHECK_STR(q.version, "7.2.22");

	CHECK_U64(qmp_exec(&q, "query-status", NULL, -1, 2000, &r), 0);
	CHECK(!json_string(&r.doc, json_get(&r.doc, r.ret, "status"), buf,
			   sizeof(buf)));
	CHECK_STR(buf, "running");
	qmp_reply_free(&r);
	e = qmp_event_next(&q, &seq, "MIGRATION");
	CHECK(e && e->seq == 2);
	CHECK_STR(e ? e->data : NULL, "{\"status\": \"setup\"}");
	CHECK(!qmp_event_next(&q, &seq, NULL));
	seq = 0;
	e = qmp_event_next(&q, &seq, NULL);
	CHECK(e && !strcmp(e->name, "STOP") && e->sec == 5 && e->usec == 7);
	CHECK_STR(e ? e->data : NULL, "{}");

	CHECK_U64(qmp_exec(&q, "stop", NULL, -1, 2000, NULL),
		  (uint64_t)-EREMOTEIO);
	CHECK_STR(q.err, "Migration is disabled: \"x\"");
	CHECK_STR(q.err_class, "GenericError");
	CHECK_U64(qmp_exec(&q, "cont", "{\"a\": 1}", -1, 2000, NULL),
		  (uint64_t)-EREMOTEIO);
	CHECK_STR(q.err, "JSON parse error");

	CHECK_U64(qmp_send(&q, "query-x", NULL, -1, &id), 0);
	t0 = ms_now();
	CHECK_U64(qmp_wait(&q, id, 100, &r), (uint64_t)-ETIMEDOUT);
	CHECK(ms_now() - t0 >= 100 && ms_now() - t0 < 250);
	CHECK_U64(qmp_wait(&q, id, 2000, &r), 0);
	CHECK_U64(json_type_of(&r.doc, r.ret), JSON_ARRAY);
	qmp_reply_free(&r);

	if (pipe(pfd)) {
		perror("pipe");
		exit(1);
	}
	CHECK_U64(qmp_exec(&q, "getfd", "{\"fdname\": \"st\"}", pfd[1], 2000,
			   NULL), 0);
	close(pfd[1]);
	memset(buf, 0, sizeof(buf));
	CHECK_U64(read(pfd[0], buf, sizeof(buf) - 1), 7);
	CHECK_STR(buf, "through");
	close(pfd[0]);
	CHECK_HAS(f.last, "\"execute\":\"getfd\",\"arguments\":{\"fdname\": \"st\"}");

	/* Arguments that are not an object never go out. */
	CHECK_U64(qmp_send(&q, "x", "[1]", -1, &id), (uint64_t)-EINVAL);
	CHECK_U64(qmp_send(&q, "x", "{", -1, &id), (uint64_t)-EINVAL);

	ret = qmp_exec(&q, "quit", NULL, -1, 2000, NULL);
	CHECK_U64(ret, (uint64_t)-ECONNRESET);
	CHECK_STR(q.err, "QEMU closed the QMP connection");
	fake_end(&f);
	qmp_close(&q);
}

static void play_garbage(struct fake *f)
{
	srv_hello(f);
	srv_read(f);
	srv_send(f, "hello\r\n");
	srv_read(f);
}

static void play_bad_json(struct fake *f)
{
	srv_hello(f);
	srv_read(f);
	srv_send(f, "{\"return\": {}, \"id\": 01}\r\n");
	srv_read(f);
}

static void play_neither(struct fake *f)
{
	srv_hello(f);
	srv_read(f);
	srv_send(f, "{\"id\": 2}\r\n");
	srv_read(f);
}

static void play_endless(struct fake *f)
{
	static char chunk[65536];
	size_t sent = 0;

	srv_hello(f);
	srv_read(f);
	memset(chunk, ' ', sizeof(chunk));
	chunk[0] = '{';
	chunk[1] = '"';
	chunk[2] = 'a';
	while (sent <= QMP_MSG_MAX + sizeof(chunk)) {
		if (send(f->fd, chunk, sizeof(chunk), MSG_NOSIGNAL) <= 0)
			break;
		sent += sizeof(chunk);
		chunk[0] = chunk[1] = chunk[2] = 'x';
	}
}

static void play_no_greeting(struct fake *f)
{
	srv_send(f, "{\"return\": {}}\r\n");
	srv_read(f);
}

static void play_silent(struct fake *f)
{
	srv_read(f);
}

static void play_events(struct fake *f)
{
	char r[128];
	uint64_t id;
	int i;

	srv_hello(f);
	id = srv_read(f);
	for (i = 1; i <= QMP_EVENTS + 8; i++) {
		snprintf(r, sizeof(r), "{\"event\": \"E%d\", \"data\": {\"i\": %d}}\r\n",
			 i, i);
		srv_send(f, r);
	}
	snprintf(r, sizeof(r), "{\"return\": {}, \"id\": %" PRIu64 "}\r\n",
		 id);
	srv_send(f, r);
	srv_read(f);
}

/* Start a client against @play; run one command; its status and error. */
static int one(void (*play)(struct fake *f), int start_ret, char *err,
	       size_t errlen)
{
	struct fake f;
	struct qmp q;
	int fd, ret;

	fake_start(&f, play, &fd);
	qmp_init(&q);
	/*
	 * Short only where the timeout is the point: the fake server's
	 * thread may wait for a CPU longer than 300 ms on a loaded host.
	 */
	ret = qmp_start(&q, fd, start_ret == -ETIMEDOUT ? 300 : 5000);
	CHECK_MSG(ret == start_ret, "start: %d, want %d (%s)", ret, start_ret,
		  q.err);
	if (!ret)
		ret = qmp_exec(&q, "query-status", NULL, -1, 2000, NULL);
	snprintf(err, errlen, "%s", q.err);
	qmp_close(&q);		/* the server's read ends */
	fake_end(&f);
	return ret;
}

static void test_qmp_failures(void)
{
	char err[QMP_ERR_LEN];

	CHECK_U64(one(play_garbage, 0, err, sizeof(err)), (uint64_t)-EPROTO);
	CHECK_HAS(err, "something else than a JSON object");
	CHECK_U64(one(play_bad_json, 0, err, sizeof(err)), (uint64_t)-EPROTO);
	CHECK_HAS(err, "a bad QMP message from QEMU: expected ',' or a closing bracket at byte 24");
	CHECK_U64(one(play_neither, 0, err, sizeof(err)), (uint64_t)-EPROTO);
	CHECK_HAS(err, "neither a reply nor an event");
	CHECK_U64(one(play_endless, 0, err, sizeof(err)), (uint64_t)-EMSGSIZE);
	CHECK_HAS(err, "longer than 1048576 bytes");
	CHECK_U64(one(play_no_greeting, -EPROTO, err, sizeof(err)),
		  (uint64_t)-EPROTO);
	CHECK_HAS(err, "not a greeting");
	CHECK_U64(one(play_silent, -ETIMEDOUT, err, sizeof(err)),
		  (uint64_t)-ETIMEDOUT);
	CHECK_STR(err, "no QMP greeting from QEMU within 300 ms (is another client connected?)");
}

static void test_qmp_events_ring(void)
{
	const struct qmp_event *e;
	uint64_t seq = 0;
	struct fake f;
	struct qmp q;
	int fd, n = 0;

	fake_start(&f, play_events, &fd);
	qmp_init(&q);
	CHECK_U64(qmp_start(&q, fd, 2000), 0);
	CHECK_U64(qmp_exec(&q, "x", NULL, -1, 2000, NULL), 0);
	CHECK_U64(q.ev_seq, QMP_EVENTS + 8);
	/* The first 8 are gone: the oldest kept is number 9. */
	e = qmp_event_next(&q, &seq, NULL);
	CHECK(e && e->seq == 9 && !strcmp(e->name, "E9"));
	CHECK_STR(e ? e->data : NULL, "{\"i\": 9}");
	while (qmp_event_next(&q, &seq, NULL))
		n++;
	CHECK_U64(n, QMP_EVENTS - 1);
	seq = 0;
	e = qmp_event_next(&q, &seq, "E40");
	CHECK(e && e->seq == 40);
	seq = 0;
	CHECK(!qmp_event_next(&q, &seq, "E1"));
	qmp_close(&q);
	fake_end(&f);
}

static void play_path(struct fake *f)
{
	srv_hello(f);
	srv_read(f);
}

static void test_qmp_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[108], longp[200];
	struct fake f;
	struct qmp q;
	int lfd, cfd;
	pid_t pid;

	snprintf(path, sizeof(path), "/tmp/pcmig-qmp-test-%d.sock", getpid());
	unlink(path);
	qmp_init(&q);
	CHECK_U64(qmp_connect(&q, path, 500), (uint64_t)-ENOENT);
	CHECK_HAS(q.err, "No such file or directory");
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	CHECK_U64(qmp_connect(&q, longp, 500), (uint64_t)-ENAMETOOLONG);

	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memcpy(sa.sun_path, path, strlen(path));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1)) {
		perror("bind");
		exit(1);
	}
	/* Accepted by nobody yet: no greeting in time. */
	CHECK_U64(qmp_connect(&q, path, 200), (uint64_t)-ETIMEDOUT);
	CHECK_HAS(q.err, "no greeting from QEMU within 200 ms");
	qmp_close(&q);
	cfd = accept(lfd, NULL, NULL);
	close(cfd);

	/* A server process accepts and greets. */
	memset(&f, 0, sizeof(f));
	f.passed_fd = -1;
	pid = fork();
	if (pid == 0) {
		f.fd = accept(lfd, NULL, NULL);
		play_path(&f);
		_exit(0);
	}
	qmp_init(&q);
	CHECK_U64(qmp_connect(&q, path, 2000), 0);
	CHECK_STR(q.version, "7.2.22");
	qmp_close(&q);
	waitpid(pid, NULL, 0);
	close(lfd);
	unlink(path);
}

int main(void)
{
	test_json_valid();
	test_json_invalid();
	test_json_msg_end();
	test_json_quote();
	test_json_mutations();
	test_qmp_session();
	test_qmp_failures();
	test_qmp_events_ring();
	test_qmp_connect();
	return unit_report("qmp_test");
}
