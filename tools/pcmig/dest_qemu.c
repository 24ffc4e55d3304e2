// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: "incoming --qemu -- QEMU ARGS..." (and advise): the
 * destination runs QEMU itself (Documentation/qemu.rst).
 *
 * ADVISE   dest_qemu_start(): QEMU starts with the operator's arguments
 *          and ours: a memory-backend-file per --ram block, its id the
 *          block's name, on the session file at the block's offset;
 *          -incoming defer; -S; and a QMP monitor on a socketpair whose
 *          other end only we hold. The session file is the descriptor
 *          CREATE gave us, inherited by QEMU as QEMU_MEM_FD: its mem-path
 *          is /proc/self/fd/QEMU_MEM_FD, which QEMU reopens (another file
 *          of the same session, ABI 0.6). Never the node /dev/pcmigN:
 *          QEMU creates a mem-path that does not exist (a regular file in
 *          /dev, had the session gone), and fallocate(PUNCH_HOLE), how
 *          QEMU gives memory back, fails on a character device.
 *          Nothing is waited for: QEMU comes up while the package
 *          travels (a fault meanwhile waits for LISTEN).
 * LISTEN   dest_qemu_load(): the greeting, x-ignore-shared, "getfd" with
 *          the read end of a pipe, "migrate-incoming fd:NAME", the device
 *          state written into the pipe, until query-migrate says
 *          "completed" (or QEMU's error: its "error-desc", or the last
 *          line it wrote before it exited).
 * RUN      dest_qemu_cont(): "cont".
 *
 * While QEMU works the session is followed (dest_service()), as for a
 * hook, within --hook-timeout. QEMU runs in a session of its own and
 * outlives us: it is the VM. Before "cont" succeeded, a failed migration
 * stops it (dest_qemu_finish()); after, it is never touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"
#include "qmp.h"

#define QEMU_QMP_FD	3		/* our QMP socket, in QEMU */
#define QEMU_ERR_FD	4		/* exec's errno to us (close-on-exec) */
#define QEMU_MEM_FD	5		/* the session file, in QEMU */
#define QEMU_STATE_FD	"pcmig-state"	/* the pipe's name in QEMU */
#define QEMU_POLL_MS	50		/* between looks while QEMU works */
#define QEMU_KILL_MS	3000		/* quit, then SIGTERM, then SIGKILL */
#define QEMU_PROBE_MS	10000		/* QEMU -object ...,help */
#define QEMU_PIPE_SIZE	(1 << 20)
#define QEMU_EXIT_MS	5000		/* QMP broke: QEMU's exit is near */

/**
 * struct dest_qemu - the QEMU of a destination
 * @argv: its command line (owned)
 * @pid: its pid, or 0 before it starts
 * @pidfd: a pidfd of it, or -1
 * @status: its wait status once reaped, else -1
 * @qfd: our end of the QMP socketpair until the client takes it
 * @qmp: the QMP client
 * @log: the file of its output, or "" for our standard error
 * @log_start: the log's size when QEMU started
 * @offsets: QEMU's memory-backend-file has "offset"
 * @phase: what QEMU is doing, for messages ("starting", ...)
 * @loaded: its incoming migration completed
 * @running: "cont" succeeded: from now on it is the VM, never stopped
 */
struct dest_qemu {
	char **argv;
	pid_t pid;
	int pidfd;
	int status;
	int qfd;
	struct qmp qmp;
	char log[PATH_MAX];
	off_t log_start;
	bool offsets;
	const char *phase;
	bool loaded;
	bool running;
};

/* ---- running QEMU ---- */

/* Run @argv to its end with its output in @out; its wait status or -1. */
static int run_capture(char *const argv[], char *out, size_t len)
{
	uint64_t deadline = pcmig_now_ms() + QEMU_PROBE_MS;
	int pfd[2], status = 0;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (!pid) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };

		n = read(pfd[0], out + got, len - 1 - got);
		if (n > 0) {
			got += n;
			if (got + 1 < len)
				continue;
		}
		if (!n || got + 1 >= len || pcmig_now_ms() > deadline)
			break;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		poll(&p, 1, 100);
	}
	out[got] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, WNOHANG) != pid) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return status;
}

/**
 * dest_qemu_prepare() - before listening: what can be checked of QEMU
 * @d: the migration, with --qemu
 *
 * Several RAM blocks need "offset" on memory-backend-file (QEMU 8.1):
 * QEMU is asked for the properties of memory-backend-file. The log file
 * must be writable.
 *
 * Return: 0, or -1 with the result decided.
 */
int dest_qemu_prepare(struct dest *d)
{
	char *probe[] = { d->o->qemu_argv[0], "-object",
			  "memory-backend-file,help", NULL };
	struct dest_qemu *q;
	char out[8192];
	int fd, st;

	q = calloc(1, sizeof(*q));
	if (!q) {
		dest_fail(d, DEST_EXIT_FAILED, 0, "out of memory");
		return -1;
	}
	d->qemu = q;
	q->pidfd = q->qfd = -1;
	q->status = -1;
	q->phase = "starting";
	qmp_init(&q->qmp);
	if (d->o->qemu_log)
		snprintf(q->log, sizeof(q->log), "%s", d->o->qemu_log);
	else if (d->o->state_dir)
		snprintf(q->log, sizeof(q->log), "%s/qemu.log",
			 d->o->state_dir);
	if (q->log[0]) {
		fd = open(q->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0600);
		if (fd < 0) {
			dest_fail(d, DEST_EXIT_FAILED, 0, "--qemu-log %s: %s",
				  q->log, strerror(errno));
			return -1;
		}
		close(fd);
	}
	if (d->o->nblocks < 2)
		return 0;
	st = run_capture(probe, out, sizeof(out));
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		dest_fail(d, DEST_EXIT_FAILED, 0,
			  "cannot ask %s for the properties of memory-backend-file: %s",
			  probe[0], out[0] ? out : "it did not run");
		return -1;
	}
	q->offsets = strstr(out, "offset=") != NULL;
	if (!q->offsets) {
		dest_fail(d, DEST_EXIT_FAILED, 0,
			  "%s cannot map RAM block '%s' at its offset in the session file: its memory-backend-file has no 'offset' property (QEMU 8.1 and later have it); with this QEMU, migrate one RAM block",
			  probe[0], d->o->blocks[1].name);
		return -1;
	}
	return 0;
}

/*
 * The child: own session, QMP socket as QEMU_QMP_FD, the session file as
 * QEMU_MEM_FD (inherited: dup2() clears close-on-exec), output, exec.
 */
static void qemu_child(struct dest *d, int qfd, int logfd, int errfd)
{
	struct dest_qemu *q = d->qemu;
	int fd;

	setsid();
	dest_child_reset(-1);
	if (logfd >= 0) {
		dup2(logfd, STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
	} else {
		dup2(STDERR_FILENO, STDOUT_FILENO);
	}
	/* Out of the way first: any may sit on another's number. */
	qfd = fcntl(qfd, F_DUPFD_CLOEXEC, 16);
	errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 16);
	fd = fcntl(d->sfd, F_DUPFD_CLOEXEC, 16);
	if (qfd < 0 || errfd < 0 || fd < 0 || dup2(qfd, QEMU_QMP_FD) < 0 ||
	    dup2(errfd, QEMU_ERR_FD) < 0 || dup2(fd, QEMU_MEM_FD) < 0)
		_exit(126);
	close_range(QEMU_MEM_FD + 1, ~0U, 0);
	fcntl(QEMU_ERR_FD, F_SETFD, FD_CLOEXEC);
	execvp(q->argv[0], q->argv);
	fd = errno;
	if (write(QEMU_ERR_FD, &fd, sizeof(fd)) < 0)
		_exit(127);
	_exit(127);
}

/**
 * dest_qemu_start() - start QEMU on the session file (after ADVISE)
 * @d: the migration, its session created (@d->sfd open)
 *
 * Return: 0, or -1 with the migration failed.
 */
int dest_qemu_start(struct dest *d)
{
	struct dest_qemu *q = d->qemu;
	int sv[2], ep[2], logfd = -1, eno = 0;
	struct stat st;
	ssize_t n;

	q->argv = dest_qemu_argv(d->o, QEMU_MEM_FD, QEMU_QMP_FD, q->offsets);
	if (!q->argv) {
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM, "out of memory");
		return -1;
	}
	if (q->log[0]) {
		logfd = open(q->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0600);
		if (logfd < 0) {
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM,
				  "--qemu-log %s: %s", q->log, strerror(errno));
			return -1;
		}
		q->log_start = fstat(logfd, &st) ? 0 : st.st_size;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		sv[0] = -1;
		eno = errno;
	} else if (pipe2(ep, O_CLOEXEC)) {
		eno = errno;
		close(sv[0]);
		close(sv[1]);
		sv[0] = -1;
	}
	if (sv[0] < 0) {
		if (logfd >= 0)
			close(logfd);
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM,
			  "cannot start QEMU: %s", strerror(eno));
		return -1;
	}
	fflush(NULL);
	q->pid = fork();
	if (!q->pid)
		qemu_child(d, sv[1], logfd, ep[1]);
	eno = errno;
	close(sv[1]);
	close(ep[1]);
	if (logfd >= 0)
		close(logfd);
	if (q->pid < 0) {
		q->pid = 0;
		close(sv[0]);
		close(ep[0]);
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM,
			  "cannot start QEMU: fork: %s", strerror(eno));
		return -1;
	}
	/* The exec went through when the pipe closes without an errno. */
	do {
		n = read(ep[0], &eno, sizeof(eno));
	} while (n < 0 && errno == EINTR);
	close(ep[0]);
	if (n == sizeof(eno)) {
		close(sv[0]);
		while (waitpid(q->pid, &q->status, 0) < 0 && errno == EINTR)
			;
		q->pid = 0;
		dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_VMM,
			  "cannot run %s: %s", q->argv[0], strerror(eno));
		return -1;
	}
	q->qfd = sv[0];
	q->pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
	dest_info(d, "QEMU started (pid %d) on session %u (mem-path /proc/self/fd/%d)%s%s",
		  (int)q->pid, d->id, QEMU_MEM_FD,
		  q->log[0] ? ", its output in " : "", q->log);
	dest_json_start(d, "qemu");
	dest_json_str(d, "action", "started");
	dest_json_u64(d, "pid", (uint64_t)q->pid);
	dest_json_str(d, "node", d->node);
	dest_json_u64(d, "mem_fd", QEMU_MEM_FD);
	if (q->log[0])
		dest_json_str(d, "log", q->log);
	dest_json_end(d);
	dest_changed(d);
	return 0;
}

/* Append "; " (unless @buf is empty) and @s to @buf, cut to fit. */
static void append(char *buf, size_t len, const char *s)
{
	size_t o = strlen(buf), n;

	if (o && o + 2 < len) {
		memcpy(buf + o, "; ", 2);
		o += 2;
	}
	n = strlen(s);
	if (o + n >= len)
		n = len - 1 - o;
	memcpy(buf + o, s, n);
	buf[o + n] = '\0';
}

/*
 * The last lines (at most 3) QEMU wrote to its log since it started, in
 * @buf, joined with "; ": an error of QEMU's often takes two lines, the
 * second a summary ("load of migration failed: Invalid argument").
 */
static void last_words(struct dest_qemu *q, char *buf, size_t len)
{
	char tail[2048], *nl, *line = NULL;
	unsigned int lines = 0;
	ssize_t n;
	off_t size;
	int fd;

	buf[0] = '\0';
	if (!q->log[0])
		return;
	fd = open(q->log, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > q->log_start) {
		off_t from = size - (off_t)sizeof(tail) + 1;

		if (from < q->log_start)
			from = q->log_start;
		n = pread(fd, tail, (size_t)(size - from), from);
		if (n > 0) {
			tail[n] = '\0';
			while (n > 0 && (tail[n - 1] == '\n' ||
					 tail[n - 1] == '\r'))
				tail[--n] = '\0';
			/* Back over at most 3 lines, then join them. */
			for (line = tail + n; line > tail && lines < 3; ) {
				line--;
				if (*line == '\n' && ++lines == 3) {
					line++;
					break;
				}
			}
			for (; line && *line; line = nl ? nl + 1 : NULL) {
				nl = strchr(line, '\n');
				if (nl)
					*nl = '\0';
				if (nl && nl > line && nl[-1] == '\r')
					nl[-1] = '\0';
				if (*line)
					append(buf, len, line);
			}
		}
	}
	close(fd);
}

/*
 * Whether QEMU ended (waiting up to @wait_ms for it: it closed its QMP
 * socket, its exit is near); if so, why, in @err.
 */
static bool qemu_ended(struct dest *d, int wait_ms, char *err, size_t errlen)
{
	struct dest_qemu *q = d->qemu;
	struct pollfd p = { .fd = q->pidfd, .events = POLLIN };
	uint64_t until = pcmig_now_ms() + wait_ms;
	char words[512], how[64];

	while (q->status < 0 &&
	       waitpid(q->pid, &q->status, WNOHANG) != q->pid) {
		if (pcmig_now_ms() >= until)
			return false;
		if (poll(&p, q->pidfd >= 0 ? 1 : 0, 20) < 0 && errno != EINTR)
			return false;
	}
	if (WIFEXITED(q->status))
		snprintf(how, sizeof(how), "exited with status %d",
			 WEXITSTATUS(q->status));
	else
		snprintf(how, sizeof(how), "was killed by signal %d (%s)",
			 WTERMSIG(q->status), strsignal(WTERMSIG(q->status)));
	last_words(q, words, sizeof(words));
	if (words[0])
		snprintf(err, errlen, "QEMU %s while %s: %s", how, q->phase,
			 words);
	else
		snprintf(err, errlen, "QEMU %s while %s%s", how, q->phase,
			 q->log[0] ? "" : " (its messages: on standard error)");
	return true;
}

/*
 * Between two looks at QEMU: wait for @fd (if >= 0) or QEMU's end, at
 * most QEMU_POLL_MS; follow the session; stop on a signal, the session's
 * failure, QEMU's end or @deadline. Return: 0 to go on, -1 with @err set.
 */
static int qemu_tick(struct dest *d, int fd, short events, uint64_t deadline,
		     char *err, size_t errlen)
{
	struct dest_qemu *q = d->qemu;
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = q->pidfd, .events = POLLIN },
	};

	poll(p, 2, QEMU_POLL_MS);
	if (d->aborted && *d->aborted) {
		snprintf(err, errlen, "interrupted by a signal while QEMU was %s",
			 q->phase);
		return -1;
	}
	dest_service(d);
	if (d->result >= 0) {
		snprintf(err, errlen, "stopped while QEMU was %s: %s",
			 q->phase, d->msg);
		return -1;
	}
	if (qemu_ended(d, 0, err, errlen))
		return -1;
	if (pcmig_now_ms() > deadline) {
		snprintf(err, errlen, "QEMU was still %s after %d s (--hook-timeout)",
			 q->phase, d->o->hook_timeout_ms / 1000);
		return -1;
	}
	return 0;
}

/*
 * Whether a QMP error means the connection broke: QEMU closed its end (it
 * exits on a failed load, and may close first and be gone a little later,
 * so that our next write gets EPIPE or our read ECONNRESET or EOF).
 */
static bool qmp_broke(int ret)
{
	return ret == -EPIPE || ret == -ECONNRESET || ret == -ENOTCONN;
}

/*
 * A QMP command, following the session meanwhile. When the connection
 * breaks, QEMU is waited for (QEMU_EXIT_MS): its exit status and its last
 * words tell why, not our socket's errno.
 */
static int qemu_cmd(struct dest *d, const char *cmd, const char *args,
		    int pass_fd, uint64_t deadline, struct qmp_reply *r,
		    char *err, size_t errlen)
{
	struct qmp *m = &d->qemu->qmp;
	uint64_t id;
	int ret;

	ret = qmp_send(m, cmd, args, pass_fd, &id);
	while (!ret) {
		ret = qmp_wait(m, id, 0, r);
		if (ret != -ETIMEDOUT)
			break;
		if (qemu_tick(d, m->fd, POLLIN, deadline, err, errlen))
			return -1;
		ret = 0;
	}
	if (qmp_broke(ret) && qemu_ended(d, QEMU_EXIT_MS, err, errlen))
		return -1;
	if (ret) {
		snprintf(err, errlen, "QEMU: %s: %s", cmd, m->err);
		return -1;
	}
	return 0;
}

/* A string member of a command's return: 0, or -1 with @err set. */
static int qemu_query(struct dest *d, const char *cmd, const char *key,
		      char *val, size_t len, char *desc, size_t dlen,
		      uint64_t deadline, char *err, size_t errlen)
{
	struct qmp_reply r;

	if (qemu_cmd(d, cmd, NULL, -1, deadline, &r, err, errlen))
		return -1;
	if (json_string(&r.doc, json_get(&r.doc, r.ret, key), val, len))
		snprintf(val, len, "none");
	if (desc && json_string(&r.doc, json_get(&r.doc, r.ret, "error-desc"),
				desc, dlen) == -EINVAL)
		snprintf(desc, dlen, "no error description");
	qmp_reply_free(&r);
	return 0;
}

/* Write what the pipe takes; close it after the last byte. */
static void feed(struct dest *d, int *wfd, size_t *written)
{
	ssize_t n;

	while (*wfd >= 0 && *written < d->state_len) {
		n = write(*wfd, (const char *)d->state + *written,
			  d->state_len - *written);
		if (n > 0) {
			*written += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close(*wfd);	/* QEMU closed its end: it says why */
		*wfd = -1;
	}
	if (*wfd >= 0) {
		close(*wfd);
		*wfd = -1;
	}
}

/*
 * Device state into QEMU through the pipe @rfd/@wfd (getfd,
 * migrate-incoming), to "completed". We keep a copy of the read end: what
 * QEMU left unread is known at the end. Return: 0, or -1 with @err set.
 */
static int incoming(struct dest *d, int rfd, int wfd, uint64_t deadline,
		    char *err, size_t errlen)
{
	char st[64], desc[QMP_ERR_LEN];
	size_t written = 0;
	int left = 0, ret = -1;

	if (qemu_cmd(d, "getfd", "{\"fdname\":\"" QEMU_STATE_FD "\"}", rfd,
		     deadline, NULL, err, errlen) ||
	    qemu_cmd(d, "migrate-incoming",
		     "{\"uri\":\"fd:" QEMU_STATE_FD "\"}", -1, deadline, NULL,
		     err, errlen))
		goto out;
	for (;;) {
		feed(d, &wfd, &written);
		if (qemu_query(d, "query-migrate", "status", st, sizeof(st),
			       desc, sizeof(desc), deadline, err, errlen))
			break;
		if (!strcmp(st, "completed")) {
			if (ioctl(rfd, FIONREAD, &left))
				left = 0;
			if (written < d->state_len || left > 0) {
				snprintf(err, errlen, "QEMU loaded the device state without reading all of it (%zu of %zu bytes)",
					 written - (size_t)left, d->state_len);
				break;
			}
			ret = 0;
			break;
		}
		if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
			/* QEMU 7.2 exits next: its words are the whole story. */
			if (!qemu_ended(d, QEMU_EXIT_MS, err, errlen))
				snprintf(err, errlen, "QEMU: incoming migration %s: %s",
					 st, desc);
			break;
		}
		if (qemu_tick(d, wfd, POLLOUT, deadline, err, errlen))
			break;
	}
out:
	if (wfd >= 0)
		close(wfd);
	close(rfd);
	return ret;
}

/**
 * dest_qemu_load() - load the device state into QEMU (LISTEN)
 * @d: the migration, its session in LISTEN
 * @err: the reason on failure
 * @errlen: room at @err
 *
 * Return: 0, or -1 with @err set (the caller fails the migration).
 */
int dest_qemu_load(struct dest *d, char *err, size_t errlen)
{
	uint64_t t0 = pcmig_now_ms();
	uint64_t deadline = t0 + (uint64_t)d->o->hook_timeout_ms;
	struct dest_qemu *q = d->qemu;
	char st[64], a[PCMIG_FMT_LEN], b[PCMIG_FMT_LEN];
	int pfd[2], fd;

	/* The greeting: QEMU may still be starting. */
	if (q->qfd >= 0) {
		for (;;) {
			struct pollfd p = { .fd = q->qfd, .events = POLLIN };

			if (poll(&p, 1, 0) > 0)
				break;
			if (qemu_tick(d, q->qfd, POLLIN, deadline, err,
				      errlen))
				return -1;
		}
		fd = q->qfd;
		q->qfd = -1;
		if (qmp_start(&q->qmp, fd, d->o->timeout_ms)) {
			if (!qemu_ended(d, QEMU_EXIT_MS, err, errlen))
				snprintf(err, errlen, "QEMU: %s", q->qmp.err);
			return -1;
		}
	}
	q->phase = "loading the device state";
	if (qemu_query(d, "query-status", "status", st, sizeof(st), NULL, 0,
		       deadline, err, errlen))
		return -1;
	if (strcmp(st, "inmigrate")) {
		snprintf(err, errlen, "QEMU is not waiting for an incoming migration (status '%s')",
			 st);
		return -1;
	}
	if (qemu_cmd(d, "migrate-set-capabilities",
		     "{\"capabilities\":[{\"capability\":\"x-ignore-shared\",\"state\":true}]}",
		     -1, deadline, NULL, err, errlen))
		return -1;
	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fcntl(pfd[1], F_SETPIPE_SZ, QEMU_PIPE_SIZE);
	fcntl(pfd[1], F_SETFL, O_NONBLOCK);
	if (incoming(d, pfd[0], pfd[1], deadline, err, errlen))
		return -1;
	q->loaded = true;
	if (qemu_query(d, "query-status", "status", st, sizeof(st), NULL, 0,
		       deadline, err, errlen))
		return -1;
	dest_info(d, "QEMU %s loaded the device state (%s) in %s; VM %s until RUN",
		  q->qmp.version, pcmig_fmt_size(d->state_len, a, sizeof(a)),
		  dest_fmt_ms(pcmig_now_ms() - t0, b, sizeof(b)), st);
	dest_json_start(d, "qemu");
	dest_json_str(d, "action", "loaded");
	dest_json_str(d, "version", q->qmp.version);
	dest_json_u64(d, "ms", pcmig_now_ms() - t0);
	dest_json_end(d);
	return 0;
}

/**
 * dest_qemu_cont() - start the VM's vCPUs (RUN)
 * @d: the migration, its session RUNNING
 * @err: the reason on failure
 * @errlen: room at @err
 *
 * Return: 0, or -1 with @err set.
 */
int dest_qemu_cont(struct dest *d, char *err, size_t errlen)
{
	uint64_t deadline = pcmig_now_ms() + (uint64_t)d->o->hook_timeout_ms;
	struct dest_qemu *q = d->qemu;
	char st[64];

	/*
	 * From "cont" on the VM may run here, whatever comes: it is never
	 * stopped again, unless QEMU refused the command (its error).
	 */
	q->phase = "resuming the VM";
	q->running = true;
	q->qmp.err_class[0] = '\0';
	if (qemu_cmd(d, "cont", NULL, -1, deadline, NULL, err, errlen)) {
		if (q->qmp.err_class[0])
			q->running = false;
		return -1;
	}
	if (qemu_query(d, "query-status", "status", st, sizeof(st), NULL, 0,
		       deadline, err, errlen)) {
		dest_warn(d, "%s", err);
		snprintf(st, sizeof(st), "running");
	}
	dest_info(d, "QEMU (pid %d): VM %s", (int)q->pid, st);
	dest_json_start(d, "qemu");
	dest_json_str(d, "action", "cont");
	dest_json_str(d, "status", st);
	dest_json_end(d);
	return 0;
}

/**
 * dest_qemu_finish() - at the end: QEMU stays (the VM) or goes
 * @d: the migration, its result decided
 *
 * A QEMU whose VM never ran here is stopped ("quit", SIGTERM, SIGKILL) and
 * reaped; a running one is left alone, with its QMP socket closed.
 */
void dest_qemu_finish(struct dest *d)
{
	struct dest_qemu *q = d->qemu;
	uint64_t until;

	if (!q)
		return;
	if (q->pid > 0 && q->status < 0 && !q->running) {
		if (q->qmp.fd >= 0)
			qmp_exec(&q->qmp, "quit", NULL, -1, 1000, NULL);
		until = pcmig_now_ms() + QEMU_KILL_MS;
		while (waitpid(q->pid, &q->status, WNOHANG) != q->pid) {
			if (pcmig_now_ms() > until) {
				kill(q->pid, SIGKILL);
				waitpid(q->pid, &q->status, 0);
				break;
			}
			if (pcmig_now_ms() + QEMU_KILL_MS / 2 > until)
				kill(q->pid, SIGTERM);
			poll(NULL, 0, 20);
		}
		dest_info(d, "QEMU (pid %d) stopped: its VM never ran here",
			  (int)q->pid);
	} else if (q->pid > 0 && q->status < 0) {
		waitpid(q->pid, &q->status, WNOHANG);
		if (q->status < 0)
			dest_info(d, "QEMU (pid %d) runs the VM", (int)q->pid);
	}
	qmp_close(&q->qmp);
	if (q->qfd >= 0)
		close(q->qfd);
	if (q->pidfd >= 0)
		close(q->pidfd);
	dest_qemu_argv_free(q->argv);
	free(q);
	d->qemu = NULL;
}
