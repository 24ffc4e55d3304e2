// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the steps of "pcmig-tool migrate" from the end of the
 * precopy push to postcopy: the precopy hook, DISCARD and SYNC frames,
 * and the package: the device state (a file, standard input, a command's
 * output, or QEMU's: source_qemu.c) read whole and sent as PACKAGED.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "source_int.h"

#define SRC_SYNC_TOKEN	1		/* the one barrier before PACKAGED */

/* ---- commands the source runs ---- */

/* Start "/bin/sh -c CMD", stdin from /dev/null, stdout to @out_fd. */
static int spawn_sh(const char *cmd, int out_fd, pid_t *pid)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	int ret;

	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	ret = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -ret;
}

/* Wait for a child; 0 if it exited 0, else a description in @buf. */
static int reap(pid_t pid, char *buf, size_t len)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			snprintf(buf, len, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else
		snprintf(buf, len, "killed by %s",
			 strsignal(WTERMSIG(status)));
	return -1;
}

/**
 * src_run_hook() - run the precopy hook, which must exit 0
 * @s: the migration
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_run_hook(struct src *s)
{
	char why[128];
	pid_t pid;
	int ret;

	src_msg(s, "running the precopy hook: %s", s->precopy_hook);
	fflush(stdout);
	/* Its output goes to stderr: stdout may carry JSON. */
	ret = spawn_sh(s->precopy_hook, 2, &pid);
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "cannot run the precopy hook: %s", strerror(-ret));
		return -1;
	}
	if (reap(pid, why, sizeof(why))) {
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "the precopy hook %s", why);
		return -1;
	}
	return 0;
}

/* Read @fd to its end into a malloc()ed buffer of at most @max bytes. */
static int read_all(int fd, uint8_t **out, size_t *outlen, size_t max)
{
	size_t cap = 0, len = 0;
	uint8_t *buf = NULL;
	int ret = src_read_more(fd, &buf, &len, &cap, max);

	if (ret <= 0) {
		free(buf);
		/* 0: a non-blocking descriptor ran dry before its end. */
		return ret ? ret : -EAGAIN;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int read_device_state(struct src *s, uint8_t **state, size_t *len)
{
	size_t max = PCMIG_MAX_PACKAGE - pcmig_package_len(0);
	const char *src = s->device_state;
	char why[128];
	int fds[2], ret;
	pid_t pid;

	if (!strncmp(src, "cmd:", 4)) {
		if (pipe2(fds, O_CLOEXEC)) {
			ret = -errno;
			goto fail;
		}
		ret = spawn_sh(src + 4, fds[1], &pid);
		close(fds[1]);
		if (ret) {
			close(fds[0]);
			goto fail;
		}
		ret = read_all(fds[0], state, len, max);
		close(fds[0]);
		if (ret)
			kill(pid, SIGTERM);
		if (reap(pid, why, sizeof(why)) && !ret) {
			free(*state);
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
				 "device-state command %s", why);
			return -1;
		}
	} else if (!strcmp(src, "-")) {
		ret = read_all(0, state, len, max);
	} else {
		int fd = open(src, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			ret = -errno;
			goto fail;
		}
		ret = read_all(fd, state, len, max);
		close(fd);
	}
	if (!ret)
		return 0;
fail:
	if (ret == -EFBIG)
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "device state %s: larger than %zu bytes", src, max);
	else
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "device state %s: %s", src, strerror(-ret));
	return -1;
}

/* ---- the steps of a migration ---- */

/**
 * src_send_discards() - the --discard ranges, as DISCARD frames
 * @s: the migration
 *
 * DISCARD frames, on the connection that carried the precopy pages, after
 * them: the destination's kernel makes those pages missing again in stream
 * order, so no precopy page still in flight can land after its discard.
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_send_discards(struct src *s)
{
	struct src_pusher *w = &s->pusher;
	uint8_t hdrs[REPLY_BATCH][SRC_FRAME_LEN];
	struct iovec iov[REPLY_BATCH];
	uint64_t p, last, cleared = 0;
	unsigned int i, n = 0;
	char ebuf[128];
	int niov, ret;

	for (i = 0; i < s->ndiscards; i += n) {
		niov = 0;
		for (n = 0; n < REPLY_BATCH && i + n < s->ndiscards; n++)
			src_frame_iov(s, hdrs[n], iov, &niov,
				      PCMIG_FRAME_DISCARD, 0,
				      s->discards[i + n].offset / s->page_size,
				      s->discards[i + n].length / s->page_size);
		ret = src_push_send(w, iov, niov);
		if (ret) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL | FAIL_CHANNEL,
				 "%s connection: sending DISCARD: %s", w->name,
				 src_io_error(s, ret, ebuf, sizeof(ebuf)));
			return -1;
		}
	}
	/* Those pages go again, with what they hold now. */
	for (i = 0; i < s->ndiscards; i++) {
		p = s->discards[i].offset / s->page_size;
		last = p + s->discards[i].length / s->page_size;
		for (; p < last; p++)
			if (src_bit_test_and_clear(s->sent, p))
				cleared++;
	}
	SUB(&s->nsent, cleared);
	src_msg(s, "discarded %u range%s, %" PRIu64 " pages to send again",
		s->ndiscards, s->ndiscards == 1 ? "" : "s", cleared);
	return 0;
}

/**
 * src_send_sync() - SYNC frames on every page connection, SYNC on control
 * @s: the migration
 *
 * A DISCARD frame that reaches the destination's kernel after LISTEN
 * fails the session, and LISTEN follows PACKAGED, which travels on another
 * connection. So a SYNC frame goes on every page connection after the
 * discards, and a SYNC message on control before PACKAGED: the
 * destination waits until its kernel has seen the frames (PCMIG_IOC_SYNC)
 * before LISTEN.
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_send_sync(struct src *s)
{
	uint8_t hdr[SRC_FRAME_LEN], m[PCMIG_MSG_HDR_LEN + PCMIG_SYNC_LEN];
	struct iovec iov = { hdr, sizeof(hdr) };
	char ebuf[128];
	int ret, n;

	pcmig_frame_put(hdr, PCMIG_FRAME_SYNC, 0, 0, 0, SRC_SYNC_TOKEN);
	ret = src_push_send(&s->pusher, &iov, 1);
	if (!ret && !s->pusher.shared) {
		iov.iov_base = hdr;
		iov.iov_len = sizeof(hdr);
		pthread_mutex_lock(&s->wlock);
		ret = src_send_iov(s, s->urg, &iov, 1, true);
		pthread_mutex_unlock(&s->wlock);
	}
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL | FAIL_CHANNEL,
			 "sending SYNC frames: %s",
			 src_io_error(s, ret, ebuf, sizeof(ebuf)));
		return -1;
	}
	n = pcmig_sync_encode(m, sizeof(m), SRC_SYNC_TOKEN);
	return n < 0 || src_ctl_send(s, m, n, "SYNC") ? -1 : 0;
}

/**
 * src_send_package() - read the device state, send it as PACKAGED
 * @s: the migration
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_send_package(struct src *s)
{
	uint8_t head[PCMIG_PACKAGE_HEAD_LEN], tail[PCMIG_PACKAGE_TAIL_LEN];
	uint8_t *state = NULL;
	struct iovec iov[3];
	char ebuf[128];
	size_t len;
	int ret;

	if (s->qemu_qmp ? src_qemu_save(s, &state, &len) :
	    read_device_state(s, &state, &len))
		return -1;
	if (pcmig_package_frame(head, tail, len)) {
		free(state);
		src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL,
			 "device state too large for a package: %zu bytes",
			 len);
		return -1;
	}
	/* The state goes from where it was read: no second copy. */
	iov[0].iov_base = head;
	iov[0].iov_len = sizeof(head);
	iov[1].iov_base = state;
	iov[1].iov_len = len;
	iov[2].iov_base = tail;
	iov[2].iov_len = sizeof(tail);
	ret = src_send_iov(s, s->ctl, iov, 3, false);
	free(state);
	if (ret) {
		src_fail(s, PCMIG_ERR_ABORTED, 0, "sending PACKAGED: %s",
			 src_io_error(s, ret, ebuf, sizeof(ebuf)));
		return -1;
	}
	s->package_sent = true;
	src_msg(s, "device state sent (%zu bytes), postcopy", len);
	return 0;
}
