// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the destination's hooks: --state-cmd (the device state on its
 * standard input), --run-cmd, and --state-out.
 *
 * A hook runs as "/bin/sh -c CMD" in its own process group, its standard
 * output sent to our standard error (ours may carry JSON lines), with
 * PCMIG_NODE, PCMIG_SESSION_ID and PCMIG_SESSION_NAME in its environment.
 * While it runs we keep following the session (events, progress): loading
 * device state may fault on guest memory, which the kernel serves on its
 * own; a session that pauses or fails meanwhile ends the hook.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dest.h"

/* How often the session is looked at while a hook runs. */
#define HOOK_POLL_MS		100
/* Between SIGTERM and SIGKILL when a hook must go. */
#define HOOK_KILL_GRACE_MS	2000
/* Pipe size asked for (best effort): fewer wake-ups for big states. */
#define HOOK_PIPE_SIZE		(1 << 20)

/**
 * dest_child_reset() - in a forked child, before exec: the signal state
 * and standard input a new program expects
 * @in: the descriptor to make standard input, or -1 for /dev/null
 *
 * The tool's handlers and ignored SIGPIPE go back to the defaults and no
 * signal stays blocked.
 */
void dest_child_reset(int in)
{
	sigset_t none;
	int fd;

	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (in < 0) {
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0 && fd != STDIN_FILENO) {
			dup2(fd, STDIN_FILENO);
			close(fd);
		}
	} else if (in != STDIN_FILENO) {
		dup2(in, STDIN_FILENO);
	}
}

static void hook_child(struct dest *d, const char *cmd, int in)
{
	char buf[16];

	setpgid(0, 0);
	dest_child_reset(in);
	dup2(STDERR_FILENO, STDOUT_FILENO);
	close_range(3, ~0U, 0);

	if (d->sfd >= 0) {
		setenv("PCMIG_NODE", d->node, 1);
		snprintf(buf, sizeof(buf), "%u", d->id);
		setenv("PCMIG_SESSION_ID", buf, 1);
		setenv("PCMIG_SESSION_NAME", d->name, 1);
	}
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	fprintf(stderr, "pcmig-tool: /bin/sh: %s\n", strerror(errno));
	_exit(127);
}

/* Stop a hook's process group: SIGTERM, then SIGKILL; reap it. */
static void hook_kill(pid_t pid)
{
	uint64_t until = pcmig_now_ms() + HOOK_KILL_GRACE_MS;
	int status;

	kill(-pid, SIGTERM);
	while (pcmig_now_ms() < until) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		poll(NULL, 0, 50);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

static void describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended with wait status 0x%x", status);
}

/**
 * dest_hook_run() - run a hook and wait for it
 * @d: the migration (followed while the hook runs)
 * @what: "state command" or "run command", for messages
 * @cmd: the shell command
 * @input: bytes for its standard input, or NULL for /dev/null
 * @len: bytes at @input
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Success is an exit status of 0 after reading all of @input. The hook is
 * killed (with its process group) when it takes longer than the hook
 * timeout, when a signal asks us to stop, or when the session pauses or
 * fails meanwhile.
 *
 * Return: 0, or -1 with @err set.
 */
int dest_hook_run(struct dest *d, const char *what, const char *cmd,
		  const void *input, size_t len, char *err, size_t errlen)
{
	uint64_t start = pcmig_now_ms(), deadline;
	int pfd[2] = { -1, -1 };
	size_t written = 0;
	int status = 0, unread = 0, pidfd, ret;
	char how[128];
	pid_t pid;

	deadline = start + (uint64_t)d->o->hook_timeout_ms;
	if (input && pipe2(pfd, O_CLOEXEC)) {
		snprintf(err, errlen, "%s: pipe: %s", what, strerror(errno));
		return -1;
	}
	if (pfd[1] >= 0)
		fcntl(pfd[1], F_SETPIPE_SZ, HOOK_PIPE_SIZE);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "%s: fork: %s", what, strerror(errno));
		if (pfd[0] >= 0) {
			close(pfd[0]);
			close(pfd[1]);
		}
		return -1;
	}
	if (!pid)
		hook_child(d, cmd, pfd[0]);
	setpgid(pid, pid);	/* both sides, so kill(-pid) cannot miss */

	/*
	 * We keep a copy of the read end: a hook that stops reading cannot
	 * make our writes fail with EPIPE, and what it left unread is known
	 * when it exits.
	 */
	if (pfd[1] >= 0) {
		fcntl(pfd[1], F_SETFL, O_NONBLOCK);
		if (!len) {
			close(pfd[1]);
			pfd[1] = -1;
		}
	}

	/* The hook's end wakes us at once (no pidfd: within HOOK_POLL_MS). */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = pfd[1], .events = POLLOUT },
			{ .fd = pidfd, .events = POLLIN },
		};
		ssize_t n;

		ret = poll(p, 2, HOOK_POLL_MS);
		if (ret > 0 && (p[0].revents & (POLLOUT | POLLERR))) {
			size_t chunk = len - written;

			if (chunk > HOOK_PIPE_SIZE)
				chunk = HOOK_PIPE_SIZE;
			n = write(pfd[1], (const char *)input + written, chunk);
			if (n > 0)
				written += n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				close(pfd[1]);
				pfd[1] = -1;
			}
			if (pfd[1] >= 0 && written == len) {
				close(pfd[1]);	/* end of file for the hook */
				pfd[1] = -1;
			}
		}

		ret = waitpid(pid, &status, WNOHANG);
		if (ret == pid)
			break;

		if (d->aborted && *d->aborted) {
			hook_kill(pid);
			snprintf(err, errlen, "%s interrupted by a signal",
				 what);
			goto fail;
		}
		dest_service(d);
		if (d->result >= 0) {
			hook_kill(pid);
			snprintf(err, errlen, "%s stopped: %s", what, d->msg);
			goto fail;
		}
		if (pcmig_now_ms() > deadline) {
			hook_kill(pid);
			snprintf(err, errlen,
				 "%s did not finish within %d s (--hook-timeout)",
				 what, d->o->hook_timeout_ms / 1000);
			goto fail;
		}
	}

	if (pfd[0] >= 0 && ioctl(pfd[0], FIONREAD, &unread))
		unread = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		describe_status(status, how, sizeof(how));
		snprintf(err, errlen, "%s %s", what, how);
		goto fail;
	}
	if (input && (written < len || unread > 0)) {
		snprintf(err, errlen,
			 "%s exited without reading all of the device state (%zu of %zu bytes)",
			 what, written - (size_t)unread, len);
		goto fail;
	}
	ret = 0;
	goto out;
fail:
	ret = -1;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return ret;
}

/**
 * dest_write_file() - write the device state to a file (--state-out)
 * @path: the file, created with mode 0600 or truncated
 * @data: the bytes
 * @len: how many
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Return: 0, or -1 with @err set.
 */
int dest_write_file(const char *path, const void *data, size_t len,
		    char *err, size_t errlen)
{
	const char *p = data;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "--state-out %s: %s", path,
			 strerror(errno));
		return -1;
	}
	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "--state-out %s: %s", path,
				 strerror(errno));
			close(fd);
			return -1;
		}
		p += n;
		len -= n;
	}
	if (close(fd)) {
		snprintf(err, errlen, "--state-out %s: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}
