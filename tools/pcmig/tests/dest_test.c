// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the destination side's pure helpers (dest_util.c), the
 * status file round trip, the hook runner (dest_hook.c), and what the engine
 * and the step client do without a kernel: the retired DISCARD message,
 * early failures' summaries, a wait on a migration that ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

static int passed, failed;

#define CHECK(cond)							\
	do {								\
		if (cond) {						\
			passed++;					\
		} else {						\
			failed++;					\
			fprintf(stderr, "%s:%d: FAIL: %s\n", __FILE__,	\
				__LINE__, #cond);			\
		}							\
	} while (0)

#define CHECK_STR(got, want)						\
	do {								\
		const char *g_ = (got), *w_ = (want);			\
		if (g_ && !strcmp(g_, w_)) {				\
			passed++;					\
		} else {						\
			failed++;					\
			fprintf(stderr, "%s:%d: FAIL: %s: got \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__, #got,		\
				g_ ? g_ : "(null)", w_);		\
		}							\
	} while (0)

#define CHECK_U64(got, want)						\
	do {								\
		unsigned long long g_ = (got), w_ = (want);		\
		if (g_ == w_) {						\
			passed++;					\
		} else {						\
			failed++;					\
			fprintf(stderr, "%s:%d: FAIL: %s: got %llu, want %llu\n", \
				__FILE__, __LINE__, #got, g_, w_);	\
		}							\
	} while (0)

static void test_names(void)
{
	uint8_t sid[PCMIG_SESSION_ID_LEN];
	char buf[PCMIG_NAME_LEN];
	unsigned int i;

	CHECK(dest_name_check("vm1") == 0);
	CHECK(dest_name_check("a-b_c.d:e") == 0);
	CHECK(dest_name_check("0123456789012345678901234567890") == 0);
	CHECK(dest_name_check("01234567890123456789012345678901") == -EINVAL);
	CHECK(dest_name_check("") == -EINVAL);
	CHECK(dest_name_check("a b") == -EINVAL);
	CHECK(dest_name_check("a/b") == -EINVAL);
	CHECK(dest_name_check("a\tb") == -EINVAL);
	CHECK(dest_name_check("caf\xc3\xa9") == -EINVAL);

	for (i = 0; i < sizeof(sid); i++)
		sid[i] = (uint8_t)(0xa0 + i);
	dest_default_name(sid, buf, sizeof(buf));
	CHECK_STR(buf, "mig-a0a1a2a3a4a5a6a7");
	CHECK(dest_name_check(buf) == 0);
	dest_default_name(sid, buf, 8);
	CHECK(strlen(buf) < 8);
}

static void test_rate(void)
{
	struct dest_rate r;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	CHECK_U64(dest_rate_get(&r), 0);
	dest_rate_add(&r, 1000, 0);
	CHECK_U64(dest_rate_get(&r), 0);
	dest_rate_add(&r, 2000, 500);
	CHECK_U64(dest_rate_get(&r), 500);
	dest_rate_add(&r, 2500, 1000);
	CHECK_U64(dest_rate_get(&r), 666);	/* 1000 pages in 1.5 s */

	/* Only the last DEST_RATE_WINDOW_MS (plus one sample) count. */
	memset(&r, 0, sizeof(r));
	dest_rate_add(&r, 0, 0);
	dest_rate_add(&r, 1000, 100000);	/* a burst long ago */
	for (i = 2; i <= 12; i++)
		dest_rate_add(&r, i * 1000, 100000 + (i - 1) * 10);
	CHECK_U64(dest_rate_get(&r), 10);

	/* Same time, or going backwards (discard): unknown. */
	memset(&r, 0, sizeof(r));
	dest_rate_add(&r, 5, 10);
	dest_rate_add(&r, 5, 20);
	CHECK_U64(dest_rate_get(&r), 0);
	memset(&r, 0, sizeof(r));
	dest_rate_add(&r, 0, 20);
	dest_rate_add(&r, 1000, 10);
	CHECK_U64(dest_rate_get(&r), 0);
}

static void test_eta(void)
{
	char buf[PCMIG_FMT_LEN];

	CHECK_U64(dest_eta_s(0, 0), 0);
	CHECK_U64(dest_eta_s(10, 0), UINT64_MAX);
	CHECK_U64(dest_eta_s(10, 3), 4);
	CHECK_U64(dest_eta_s(9, 3), 3);
	CHECK_STR(dest_fmt_eta(UINT64_MAX, buf, sizeof(buf)), "?");
	CHECK_STR(dest_fmt_eta(0, buf, sizeof(buf)), "0s");
	CHECK_STR(dest_fmt_eta(59, buf, sizeof(buf)), "59s");
	CHECK_STR(dest_fmt_eta(60, buf, sizeof(buf)), "1m00s");
	CHECK_STR(dest_fmt_eta(245, buf, sizeof(buf)), "4m05s");
	CHECK_STR(dest_fmt_eta(7380, buf, sizeof(buf)), "2h03m");
	CHECK_STR(dest_fmt_ms(0, buf, sizeof(buf)), "0.0 s");
	CHECK_STR(dest_fmt_ms(12345, buf, sizeof(buf)), "12.3 s");
	CHECK_STR(dest_fmt_ms(999, buf, sizeof(buf)), "0.9 s");
}

static void test_progress_line(void)
{
	struct pcmig_status st;
	char line[256];
	size_t n;

	memset(&st, 0, sizeof(st));
	st.state = PCMIG_STATE_RUNNING;
	st.pages_total = 65536;
	st.pages_present = 35600;
	st.faults = 1234;
	n = dest_progress_line(line, sizeof(line), &st, 8123);
	CHECK_STR(line, "running 35600/65536 pages 54.3% 8123 pages/s ETA 4s faults 1234");
	CHECK_U64(n, strlen(line));

	st.hist[16] = 10;		/* [64 us, 128 us) */
	st.hist[20] = 1;		/* [1 ms, 2 ms) */
	dest_progress_line(line, sizeof(line), &st, 0);
	CHECK_STR(line, "running 35600/65536 pages 54.3% 0 pages/s ETA ? faults 1234 wait p50<=131.1 us p99<=2.1 ms");
	CHECK_U64(dest_wait_pct(&st, 50), 131072);
	CHECK_U64(dest_wait_pct(&st, 99), 2097152);

	/* Truncation: snprintf semantics, always terminated. */
	n = dest_progress_line(line, 10, &st, 0);
	CHECK(n > 10 && strlen(line) == 9);

	memset(&st, 0, sizeof(st));
	st.state = 99;
	dest_progress_line(line, sizeof(line), &st, 0);
	CHECK_STR(line, "unknown(99) 0/0 pages 0.0% 0 pages/s ETA 0s faults 0");
}

static void test_texts(void)
{
	char buf[128];

	CHECK_STR(dest_reason_text(PCMIG_REASON_CHANNEL_EOF, 0, buf,
				   sizeof(buf)), "channel_eof");
	CHECK_STR(dest_reason_text(PCMIG_REASON_CHANNEL_ERROR, -ECONNRESET,
				   buf, sizeof(buf)),
		  "channel_error (Connection reset by peer)");
	CHECK_STR(dest_reason_text(77, 0, buf, sizeof(buf)), "unknown(77)");
	CHECK_STR(dest_step_name(DEST_STEP_INIT), "waiting");
	CHECK_STR(dest_step_name(DEST_STEP_PACKAGED), "packaged");
	CHECK_STR(dest_step_name(DEST_STEP_PAUSED), "paused");
	CHECK_STR(dest_step_name((enum dest_step)42), "unknown");
	dest_json_time(buf, sizeof(buf));
	CHECK(strlen(buf) == 27 && buf[4] == '-' && buf[10] == 'T' &&
	      buf[26] == 'Z');
}

static void test_status_exit(void)
{
	char msg[64];
	int code = -1;

	CHECK(dest_status_exit("{\"step\":\"running\",\"exit\":null,\"message\":\"\"}",
			       &code, msg, sizeof(msg)) == -ENOENT);
	CHECK(dest_status_exit("{}", &code, msg, sizeof(msg)) == -ENOENT);
	CHECK(dest_status_exit("{\"pid\":1,\"exit\":3,\"message\":\"paused \\\"x\\\"\\n\"}",
			       &code, msg, sizeof(msg)) == 0);
	CHECK(code == 3);
	CHECK_STR(msg, "paused \"x\" ");
	CHECK(dest_status_exit("{\"exit\":0}", &code, msg, sizeof(msg)) == 0);
	CHECK(code == 0 && !msg[0]);
	CHECK(dest_status_exit("{\"exit\":1,\"message\":\"\\u0001abcdefgh\"}",
			       &code, msg, 4) == 0);
	CHECK_STR(msg, "?ab");
	CHECK(dest_status_exit("{\"exit\":999}", &code, msg, sizeof(msg)) ==
	      -ENOENT);
}

/* dest_status_json() writes what dest_status_exit() reads back. */
static void test_status_roundtrip(void)
{
	static struct dest_opts o;
	static struct dest d;
	char *buf = NULL, msg[256];
	size_t len = 0;
	int code = -1;
	FILE *f;

	o.cmd = "test";
	o.listen = "127.0.0.1:1";
	o.quiet = true;
	dest_init(&d, &o, NULL);
	d.result = DEST_EXIT_PAUSED;
	d.step = DEST_STEP_PAUSED;
	snprintf(d.msg, sizeof(d.msg), "session 3 \"paused\"");
	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	if (!f)
		return;
	dest_status_json(&d, f);
	fclose(f);
	CHECK(strchr(buf, '\n') == buf + len - 1);
	CHECK(strstr(buf, "\"step\":\"paused\"") != NULL);
	CHECK(dest_status_exit(buf, &code, msg, sizeof(msg)) == 0);
	CHECK(code == DEST_EXIT_PAUSED);
	CHECK_STR(msg, "session 3 \"paused\"");
	free(buf);
}

static void test_hooks(void)
{
	static struct dest_opts o;
	static struct dest d;
	static char data[300000];
	char err[512], path[] = "/tmp/dest_test.XXXXXX";
	int fd;

	o.cmd = "test";
	o.quiet = true;
	o.hook_timeout_ms = 1000;
	dest_init(&d, &o, NULL);
	memset(data, 'x', sizeof(data));

	/* All read, status 0; bigger than a pipe. */
	CHECK(dest_hook_run(&d, "hook", "n=$(wc -c); test $n = 300000",
			    data, sizeof(data), err, sizeof(err)) == 0);
	CHECK(dest_hook_run(&d, "hook", "cat >/dev/null", data, 0, err,
			    sizeof(err)) == 0);
	CHECK(dest_hook_run(&d, "hook", "true", NULL, 0, err,
			    sizeof(err)) == 0);
	/* stdin is /dev/null without input. */
	CHECK(dest_hook_run(&d, "hook", "test -z \"$(cat)\"", NULL, 0, err,
			    sizeof(err)) == 0);

	CHECK(dest_hook_run(&d, "hook", "exit 7", NULL, 0, err,
			    sizeof(err)) == -1);
	CHECK_STR(err, "hook exited with status 7");
	CHECK(dest_hook_run(&d, "hook", "kill -9 $$", NULL, 0, err,
			    sizeof(err)) == -1);
	CHECK(strstr(err, "killed by signal 9") != NULL);
	CHECK(dest_hook_run(&d, "hook", "head -c 100 >/dev/null", data,
			    sizeof(data), err, sizeof(err)) == -1);
	CHECK(strstr(err, "without reading all of the device state") != NULL);
	CHECK(dest_hook_run(&d, "hook", "exec 0<&-; sleep 0.2", data,
			    sizeof(data), err, sizeof(err)) == -1);
	CHECK(dest_hook_run(&d, "hook", "sleep 5", NULL, 0, err,
			    sizeof(err)) == -1);
	CHECK(strstr(err, "did not finish within 1 s") != NULL);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	close(fd);
	CHECK(dest_write_file(path, data, 1000, err, sizeof(err)) == 0);
	CHECK(dest_write_file("/nonexistent/dir/x", data, 1, err,
			      sizeof(err)) == -1);
	CHECK(strstr(err, "No such file") != NULL);
	unlink(path);
}

/* A struct dest whose JSON lines go to a memory stream. */
struct jdest {
	struct dest_opts o;
	struct dest d;
	char *json;
	size_t len;
	FILE *f;
};

static void jdest_init(struct jdest *j, const char *key_file,
		       const char *listen)
{
	memset(j, 0, sizeof(*j));
	j->o.cmd = "test";
	j->o.quiet = true;
	j->o.json = true;
	j->o.key_file = key_file;
	j->o.listen = listen;
	j->o.timeout_ms = 2000;
	j->o.nblocks = 1;
	snprintf(j->o.blocks[0].name, sizeof(j->o.blocks[0].name), "ram0");
	j->o.blocks[0].size = 1 << 20;
	dest_init(&j->d, &j->o, NULL);
	j->f = open_memstream(&j->json, &j->len);
	j->d.events_out = j->f;
}

/* The last line written (the summary after dest_finish()). */
static const char *jdest_last(struct jdest *j)
{
	char *p;

	fflush(j->f);
	if (!j->len)
		return "";
	for (p = j->json + j->len - 1; p > j->json && p[-1] != '\n'; p--)
		;
	return p;
}

static void jdest_free(struct jdest *j)
{
	fclose(j->f);
	free(j->json);
}

static void write_key(const char *path, const char *key, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, key, strlen(key)) == (ssize_t)strlen(key));
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

/* A control DISCARD message: ERROR 1 with the retirement text, exit 1. */
static void test_discard_retired(void)
{
	static struct jdest j;
	uint8_t buf[256], raw[PCMIG_MSG_HDR_LEN];
	struct pcmig_error_msg e;
	struct pcmig_msg_hdr h;
	struct pollfd pfd;
	int sv[2], n;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	jdest_init(&j, NULL, "127.0.0.1:1");
	j.d.cfd = sv[0];
	j.d.step = DEST_STEP_ADVISED;
	/* A retired DISCARD: count 1, one range (offset 0, one page). */
	memset(buf, 0, sizeof(buf));
	n = pcmig_msg_put_hdr(buf, sizeof(buf), PCMIG_MSG_DISCARD, 8 + 16);
	CHECK(n == PCMIG_MSG_HDR_LEN);
	buf[PCMIG_MSG_HDR_LEN + 3] = 1;
	buf[PCMIG_MSG_HDR_LEN + 8 + 8 + 6] = 0x10;
	n += 8 + 16;
	CHECK(write(sv[1], buf, n) == n);
	pfd.fd = sv[0];
	pfd.events = POLLIN;
	pfd.revents = POLLIN;
	dest_dispatch(&j.d, &pfd, 1);
	CHECK(j.d.result == DEST_EXIT_FAILED);
	CHECK_STR(j.d.msg, "DISCARD messages are retired: discards travel as DISCARD frames on the page connection");
	CHECK(j.d.cfd == -1);
	CHECK(j.d.step == DEST_STEP_FAILED);

	/* The source got ERROR 1 with that text. */
	CHECK(read(sv[1], raw, sizeof(raw)) == (ssize_t)sizeof(raw));
	CHECK(pcmig_msg_get_hdr(raw, &h) == 0);
	CHECK(h.type == PCMIG_MSG_ERROR);
	CHECK(h.len < sizeof(buf));
	if (h.type == PCMIG_MSG_ERROR && h.len < sizeof(buf)) {
		CHECK(read(sv[1], buf, h.len) == (ssize_t)h.len);
		CHECK(pcmig_error_decode(buf, h.len, &e) == 0);
		CHECK(e.code == PCMIG_ERR_PROTOCOL);
		CHECK_STR(e.text, DEST_DISCARD_RETIRED);
	}
	close(sv[1]);

	dest_finish(&j.d);
	CHECK(strstr(jdest_last(&j), "\"event\":\"summary\",\"result\":\"failed\",\"exit\":1,\"message\":\"DISCARD messages are retired") != NULL);
	jdest_free(&j);
}

/* One control message to a destination in step ADVISED. */
static void dispatch_msg(struct jdest *j, int peer, const void *buf, int n)
{
	struct pollfd pfd = { .fd = j->d.cfd, .events = POLLIN,
			      .revents = POLLIN };

	CHECK(write(peer, buf, n) == n);
	dest_dispatch(&j->d, &pfd, 1);
}

/* The ERROR a source got: its code, and its text in @text. */
static uint32_t read_error(int fd, char *text, size_t size)
{
	uint8_t raw[PCMIG_MSG_HDR_LEN], buf[PCMIG_MAX_ERROR_TEXT + 8];
	struct pcmig_error_msg e;
	struct pcmig_msg_hdr h;

	if (read(fd, raw, sizeof(raw)) != (ssize_t)sizeof(raw) ||
	    pcmig_msg_get_hdr(raw, &h) || h.type != PCMIG_MSG_ERROR ||
	    h.len > sizeof(buf) || read(fd, buf, h.len) != (ssize_t)h.len ||
	    pcmig_error_decode(buf, h.len, &e))
		return UINT32_MAX;
	snprintf(text, size, "%s", e.text);
	return e.code;
}

/*
 * SYNC: recorded for LISTEN in step ADVISED; a malformed one, a token
 * that does not grow, or one after PACKAGED: ERROR 1, exit 1.
 */
static void test_sync(void)
{
	static const struct {
		uint64_t first, second;
		bool bad_len, after_package;
		const char *msg;
	} cases[] = {
		{ 7, 9, false, false, NULL },
		{ 7, 7, false, false,
		  "SYNC token 7 after 7: tokens must grow" },
		{ 7, 3, false, false,
		  "SYNC token 3 after 7: tokens must grow" },
		{ 7, 0, true, false, "malformed SYNC (7 bytes)" },
		{ 7, 8, false, true,
		  "unexpected SYNC from the source (step packaged)" },
	};
	static struct jdest j;
	uint8_t buf[64];
	char text[PCMIG_MAX_ERROR_TEXT + 1];
	unsigned int i;
	int sv[2], n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		jdest_init(&j, NULL, "127.0.0.1:1");
		j.d.cfd = sv[0];
		j.d.step = DEST_STEP_ADVISED;
		n = pcmig_sync_encode(buf, sizeof(buf), cases[i].first);
		dispatch_msg(&j, sv[1], buf, n);
		CHECK(j.d.result == -1);
		CHECK(j.d.sync_token == cases[i].first);
		if (cases[i].after_package)
			j.d.step = DEST_STEP_PACKAGED;
		n = pcmig_sync_encode(buf, sizeof(buf), cases[i].second ?
				      cases[i].second : 1);
		if (cases[i].bad_len) {
			/* Seven bytes of token. */
			pcmig_msg_put_hdr(buf, sizeof(buf), PCMIG_MSG_SYNC, 7);
			n = PCMIG_MSG_HDR_LEN + 7;
		}
		dispatch_msg(&j, sv[1], buf, n);
		if (!cases[i].msg) {
			CHECK(j.d.result == -1);
			CHECK(j.d.sync_token == cases[i].second);
			CHECK(j.d.step == DEST_STEP_ADVISED);
			close(j.d.cfd);
			j.d.cfd = -1;
		} else {
			CHECK(j.d.result == DEST_EXIT_FAILED);
			CHECK_STR(j.d.msg, cases[i].msg);
			CHECK(j.d.step == DEST_STEP_FAILED);
			CHECK(j.d.sync_token == cases[i].first);
			CHECK(read_error(sv[1], text, sizeof(text)) ==
			      PCMIG_ERR_PROTOCOL);
			CHECK_STR(text, cases[i].msg);
		}
		close(sv[1]);
		dest_finish(&j.d);
		jdest_free(&j);
	}
}

/* Early failures: the summary has the exit status and the message. */
static void test_early_failures(void)
{
	static struct jdest j;
	const char *key = "/tmp/dest_test.key";
	const char *last;

	/* Key file readable by others. */
	write_key(key, "0123456789abcdef0123\n", 0644);
	jdest_init(&j, key, "127.0.0.1:0");
	CHECK(dest_prepare(&j.d) == DEST_EXIT_FAILED);
	CHECK(j.d.result == DEST_EXIT_FAILED);
	dest_finish(&j.d);
	last = jdest_last(&j);
	CHECK(strstr(last, "\"event\":\"summary\"") != NULL);
	CHECK(strstr(last, "\"exit\":1,") != NULL);
	CHECK(strstr(last, "readable by others (mode 0644): chmod 600 it") !=
	      NULL);
	CHECK(strstr(last, "18446744073709551615") == NULL);
	/* No control connection: no total time. */
	CHECK(strstr(last, "total_ms") == NULL);
	/* A failure event before it. */
	CHECK(strstr(j.json, "\"event\":\"failure\",\"exit\":1") != NULL);
	jdest_free(&j);

	/* By the group. */
	write_key(key, "0123456789abcdef0123\n", 0640);
	jdest_init(&j, key, "127.0.0.1:0");
	CHECK(dest_prepare(&j.d) == DEST_EXIT_FAILED);
	dest_finish(&j.d);
	last = jdest_last(&j);
	CHECK(strstr(last, "\"exit\":1,") != NULL);
	CHECK(strstr(last, "(mode 0640)") != NULL);
	jdest_free(&j);

	/* Too short. */
	write_key(key, "short\n", 0600);
	jdest_init(&j, key, "127.0.0.1:0");
	CHECK(dest_prepare(&j.d) == DEST_EXIT_FAILED);
	dest_finish(&j.d);
	last = jdest_last(&j);
	CHECK(strstr(last, "\"exit\":1,\"message\":\"key file /tmp/dest_test.key") != NULL);
	jdest_free(&j);

	/* Missing. */
	unlink(key);
	jdest_init(&j, key, "127.0.0.1:0");
	CHECK(dest_prepare(&j.d) == DEST_EXIT_FAILED);
	dest_finish(&j.d);
	last = jdest_last(&j);
	CHECK(strstr(last, "\"exit\":1,\"message\":\"") != NULL);
	CHECK(strstr(last, "\"message\":\"\"") == NULL);
	jdest_free(&j);

	/* A layout that cannot be: exit 2, with the message. */
	write_key(key, "0123456789abcdef0123\n", 0600);
	jdest_init(&j, key, "127.0.0.1:0");
	j.o.blocks[0].size = 1000;
	CHECK(dest_prepare(&j.d) == DEST_EXIT_USAGE);
	dest_finish(&j.d);
	last = jdest_last(&j);
	CHECK(strstr(last, "\"exit\":2,\"message\":\"bad --ram layout") !=
	      NULL);
	jdest_free(&j);

	/* The address cannot be listened on. */
	jdest_init(&j, key, "no-such-host.invalid:1");
	CHECK(dest_prepare(&j.d) == DEST_EXIT_FAILED);
	dest_finish(&j.d);
	last = jdest_last(&j);
	CHECK(strstr(last, "\"exit\":1,\"message\":\"") != NULL);
	CHECK(strstr(last, "\"message\":\"\"") == NULL);
	jdest_free(&j);
	unlink(key);
}

static void *bad_client(void *arg)
{
	struct sockaddr_storage *ss = arg;
	static const char junk[64] = "this is not a HELLO";
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);

	if (fd < 0)
		return NULL;
	if (!connect(fd, (struct sockaddr *)ss, sizeof(struct sockaddr_in)))
		if (write(fd, junk, sizeof(junk)) < 0)
			perror("write");
	/* Wait for the destination to give up, then go. */
	shutdown(fd, SHUT_WR);
	while (read(fd, (char[64]){ 0 }, 64) > 0)
		;
	close(fd);
	return NULL;
}

/* A failed handshake: the summary has exit 1 and the handshake's error. */
static void test_handshake_failure(void)
{
	static struct jdest j;
	static struct sockaddr_storage ss;
	const char *key = "/tmp/dest_test.key";
	socklen_t sl = sizeof(ss);
	const char *last;
	pthread_t t;

	write_key(key, "0123456789abcdef0123\n", 0600);
	jdest_init(&j, key, "127.0.0.1:0");
	CHECK(dest_prepare(&j.d) == 0);
	CHECK(j.d.result < 0);
	CHECK(getsockname(j.d.lfd, (struct sockaddr *)&ss, &sl) == 0);
	CHECK(pthread_create(&t, NULL, bad_client, &ss) == 0);
	CHECK(dest_advised(&j.d) == -1);
	dest_finish(&j.d);
	pthread_join(t, NULL);
	last = jdest_last(&j);
	CHECK(strstr(last, "\"exit\":1,\"message\":\"control connection from 127.0.0.1:") != NULL);
	jdest_free(&j);
	unlink(key);
}

/*
 * "wait" (and "run-wait") after the daemon ended: a migration that ended
 * well is a success, one that failed keeps its status and message.
 */
static void test_wait_ended(void)
{
	char dir[] = "/tmp/dest_test.XXXXXX", path[64], text[512];
	int saved, fd, ret;
	size_t n;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/status", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"pid\":1,\"step\":\"done\",\"exit\":0,\"message\":\"every page arrived\"}\n",
	      f);
	fclose(f);
	CHECK(dest_client(dir, "wait", true, "test") == 0);
	/* Not quiet: it says so, and not as an error. */
	snprintf(path, sizeof(path), "%s/stderr", dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);
	ret = dest_client(dir, "wait", false, "test");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	CHECK(ret == 0);
	f = fopen(path, "r");
	CHECK(f != NULL);
	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
		CHECK(strstr(text, "error") == NULL);
		CHECK(strstr(text, "every page arrived") != NULL);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/status", dir);
	CHECK(dest_client(dir, "run", true, "test") == DEST_EXIT_FAILED);

	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"pid\":1,\"step\":\"paused\",\"exit\":3,\"message\":\"paused\"}\n",
	      f);
	fclose(f);
	CHECK(dest_client(dir, "wait", true, "test") == DEST_EXIT_PAUSED);
	CHECK(dest_client(dir, "run-wait", true, "test") == DEST_EXIT_PAUSED);
	CHECK(dest_client(dir, "listen", true, "test") == DEST_EXIT_FAILED);
	unlink(path);
	rmdir(dir);
}

/* A pretend daemon for run-wait: info, then the final exit line. */
static void *fake_daemon(void *arg)
{
	int lfd = *(int *)arg, fd;
	char req[64] = "";
	ssize_t n;

	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	n = read(fd, req, sizeof(req) - 1);
	if (n > 0 && !strcmp(req, "run-wait\n")) {
		dprintf(fd, "info running: PACKAGED_OK sent\n");
		usleep(100 * 1000);
		dprintf(fd, "exit 0 every page arrived: 256 pages in 1.0 s\n");
	} else {
		dprintf(fd, "err 2 unexpected request\n");
	}
	close(fd);
	return NULL;
}

static void test_run_wait_client(void)
{
	char dir[] = "/tmp/dest_test.XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t t;
	int lfd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(lfd >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(lfd, 1) == 0);
	CHECK(pthread_create(&t, NULL, fake_daemon, &lfd) == 0);
	CHECK(dest_client(dir, "run-wait", true, "test") == 0);
	pthread_join(t, NULL);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	test_names();
	test_rate();
	test_eta();
	test_progress_line();
	test_texts();
	test_status_exit();
	test_status_roundtrip();
	test_hooks();
	test_discard_retired();
	test_sync();
	test_early_failures();
	test_handshake_failure();
	test_wait_ended();
	test_run_wait_client();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
