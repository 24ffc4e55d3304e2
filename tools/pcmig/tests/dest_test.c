// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the destination side's pure helpers (dest_util.c), the
 * status file round trip and the hook runner (dest_hook.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void test_ranges(void)
{
	const uint64_t size = 1 << 20;

	CHECK(!dest_range_check(0, 4096, size, 4096));
	CHECK(!dest_range_check(0, size, size, 4096));
	CHECK(!dest_range_check(size - 4096, 4096, size, 4096));
	CHECK_STR(dest_range_check(0, 0, size, 4096), "empty");
	CHECK_STR(dest_range_check(1, 4096, size, 4096), "not page aligned");
	CHECK_STR(dest_range_check(0, 4095, size, 4096), "not page aligned");
	CHECK_STR(dest_range_check(size, 4096, size, 4096),
		  "past the end of guest memory");
	CHECK_STR(dest_range_check(size - 4096, 8192, size, 4096),
		  "past the end of guest memory");
	/* No overflow: offset + length wraps around. */
	CHECK_STR(dest_range_check(4096, UINT64_MAX - 4095, size, 4096),
		  "past the end of guest memory");
	CHECK_STR(dest_range_check(0, 4096, size, 0), "not page aligned");
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

int main(void)
{
	test_names();
	test_ranges();
	test_rate();
	test_eta();
	test_progress_line();
	test_texts();
	test_status_exit();
	test_status_roundtrip();
	test_hooks();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
