// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the destination steps for an orchestrator.
 *
 * "advise" starts a daemon that runs the engine one step at a time and
 * returns once ADVISE is done; "listen" and "run" talk to it through a
 * UNIX socket in the state directory:
 *
 *   DIR/pid      the daemon's pid; locked (flock) while it runs
 *   DIR/ctl      its control socket
 *   DIR/status   one JSON object, rewritten (atomically) on every change
 *   DIR/events   JSON lines, as incoming --json prints them
 *   DIR/log      its messages, with times
 *
 * The control socket's protocol: one request line ("status", "listen",
 * "run", "run-wait", "wait", "recover [HOST:PORT]"), answered by any
 * number of "info TEXT" lines
 * and one final line: "ok TEXT", "err CODE TEXT" or (for wait and
 * run-wait) "exit CODE TEXT", CODE being the exit status the client should
 * return. "run-wait" is "run" and then "wait" on the same connection:
 * the migration may end as soon as PACKAGED_OK is out, and the daemon with
 * it, so that a separate "wait" could come too late.
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
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"

#define DAEMON_MAX_CLIENTS	8
#define DAEMON_LINE_MAX		256

enum client_wait {
	CL_NONE,
	CL_LISTEN,		/* listen asked before the package came */
	CL_WAIT,		/* wait: answer at the end */
	CL_RECOVER,		/* recover: answer once recovered */
};

struct client {
	int fd;
	size_t len;
	enum client_wait pending;
	uint64_t recoveries;	/* CL_RECOVER: recoveries when asked */
	char buf[DAEMON_LINE_MAX];
};

struct daemon {
	struct dest *d;
	char listen[DAEMON_LINE_MAX];	/* recover's new address */
	char dir[PATH_MAX];
	int ctl_fd;
	int report_fd;
	struct client cl[DAEMON_MAX_CLIENTS];
};

static volatile int daemon_aborted;

static void daemon_on_signal(int sig)
{
	daemon_aborted = 1;
}

static int path_in(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* Rewrite DIR/status atomically (notify callback of the engine). */
static void write_status(struct dest *d, void *arg)
{
	struct daemon *dm = arg;
	char path[PATH_MAX + 16], tmp[PATH_MAX + 16];
	FILE *f;

	if (path_in(path, sizeof(path), dm->dir, "status") ||
	    path_in(tmp, sizeof(tmp), dm->dir, "status.tmp"))
		return;
	f = fopen(tmp, "we");
	if (!f)
		return;
	dest_status_json(d, f);
	if (fclose(f) || rename(tmp, path))
		unlink(tmp);
}

/* Write one line (newlines inside become spaces) to @fd. */
static void vsend_line(int fd, const char *fmt, va_list ap)
{
	char line[PCMIG_MAX_ERROR_TEXT + 512];
	int n, i;

	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	for (i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[n++] = '\n';
	pcmig_write_full(fd, line, n, 5000);
}

static void reply(struct client *c, const char *fmt, ...) __printf(2, 3);

static void reply(struct client *c, const char *fmt, ...)
{
	va_list ap;

	if (c->fd < 0)
		return;
	va_start(ap, fmt);
	vsend_line(c->fd, fmt, ap);
	va_end(ap);
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->pending = CL_NONE;
}

/* The final answer of a wait: the exit status and what happened. */
static void reply_exit(struct dest *d, struct client *c)
{
	char a[PCMIG_FMT_LEN];

	if (d->result == DEST_EXIT_DONE && d->have_st)
		reply(c, "exit 0 every page arrived: %llu pages in %s (%llu pushed, %llu requested, %llu zero), %llu faults",
		      d->st.pages_total,
		      dest_fmt_ms(d->t_end - d->t_start, a, sizeof(a)),
		      d->st.pages_pushed, d->st.pages_requested,
		      d->st.pages_zero, d->st.faults);
	else
		reply(c, "exit %d %s", d->result, d->msg);
}

static void do_listen(struct daemon *dm)
{
	char err[PCMIG_MAX_ERROR_TEXT + 64];
	struct dest *d = dm->d;
	int i, ret;

	ret = dest_listen(d, err, sizeof(err));
	for (i = 0; i < DAEMON_MAX_CLIENTS; i++) {
		struct client *c = &dm->cl[i];

		if (c->fd < 0 || c->pending != CL_LISTEN)
			continue;
		if (ret)
			reply(c, "err %d %s", d->result >= 0 ? d->result : 1,
			      err);
		else
			reply(c, "ok device state delivered (%zu bytes)",
			      d->state_len);
		client_close(c);
	}
}

/*
 * "recover [HOST:PORT]": pause now if not paused (the operator knows the
 * link is bad), listen on another address if given, and answer once the
 * source has reconnected and the session runs again.
 */
static void do_recover(struct daemon *dm, struct client *c, const char *addr)
{
	char err[PCMIG_MAX_ERROR_TEXT];
	struct dest *d = dm->d;
	int fd, ret;

	if (!dest_can_recover(d)) {
		reply(c, "err 1 nothing to recover in step %s%s",
		      dest_step_name(d->step),
		      d->o->no_recover ? " (--no-recover)" : "");
		client_close(c);
		return;
	}
	if (addr) {
		fd = pcmig_tcp_listen(addr, err, sizeof(err));
		if (fd < 0) {
			reply(c, "err 1 %s", err);
			client_close(c);
			return;
		}
		close(d->lfd);
		d->lfd = fd;
		snprintf(dm->listen, sizeof(dm->listen), "%s", addr);
		d->o->listen = dm->listen;
		dest_info(d, "listening on %s for the source to reconnect",
			  addr);
	}
	if (d->kstate != PCMIG_STATE_PAUSED &&
	    d->kstate != PCMIG_STATE_RECOVER) {
		ret = dest_set_state(d, PCMIG_STATE_PAUSED);
		if (ret && ret != -EINVAL) {
			reply(c, "err 1 session %u: pause: %s", d->id,
			      strerror(-ret));
			client_close(c);
			return;
		}
		reply(c, "info session %u paused by the operator", d->id);
	}
	c->pending = CL_RECOVER;
	c->recoveries = d->recoveries;
	reply(c, "info waiting for the source to reconnect to %s",
	      d->o->listen);
}

/* Answer the recover requests whose recovery came. */
static void recovered(struct daemon *dm)
{
	struct dest *d = dm->d;
	int i;

	for (i = 0; i < DAEMON_MAX_CLIENTS; i++) {
		struct client *c = &dm->cl[i];

		if (c->fd < 0 || c->pending != CL_RECOVER ||
		    d->recoveries <= c->recoveries)
			continue;
		reply(c, "ok session %u recovered (recovery %llu)", d->id,
		      (unsigned long long)d->recoveries);
		client_close(c);
	}
}

static void handle_request(struct daemon *dm, struct client *c,
			   const char *req)
{
	char err[PCMIG_MAX_ERROR_TEXT + 64];
	struct dest *d = dm->d;
	char *json = NULL;
	size_t len = 0;
	FILE *f;

	if (!strcmp(req, "status")) {
		f = open_memstream(&json, &len);
		if (!f) {
			reply(c, "err 1 out of memory");
		} else {
			dest_status_json(d, f);
			fclose(f);
			reply(c, "ok %s", json);
			free(json);
		}
		client_close(c);
	} else if (!strcmp(req, "listen")) {
		if (d->step == DEST_STEP_ADVISED) {
			c->pending = CL_LISTEN;
			reply(c, "info waiting for the device-state package from the source");
		} else if (d->step == DEST_STEP_PACKAGED) {
			c->pending = CL_LISTEN;
			do_listen(dm);
		} else {
			reply(c, "err 1 out of order: the device state was delivered already (step %s)",
			      dest_step_name(d->step));
			client_close(c);
		}
	} else if (!strcmp(req, "run") || !strcmp(req, "run-wait")) {
		if (d->step == DEST_STEP_LISTENING) {
			if (dest_run(d, err, sizeof(err))) {
				reply(c, "err %d %s",
				      d->result >= 0 ? d->result : 1, err);
			} else if (!strcmp(req, "run-wait")) {
				/* The end is answered on this connection. */
				reply(c, "info running: PACKAGED_OK sent");
				c->pending = CL_WAIT;
				return;
			} else {
				reply(c, "ok running: PACKAGED_OK sent");
			}
		} else if (d->step < DEST_STEP_LISTENING) {
			reply(c, "err 1 out of order: the device state has not been delivered yet (step %s): run 'pcmig-tool listen --state-dir %s' first",
			      dest_step_name(d->step), dm->dir);
		} else {
			reply(c, "err 1 out of order: already running (step %s)",
			      dest_step_name(d->step));
		}
		client_close(c);
	} else if (!strcmp(req, "wait")) {
		c->pending = CL_WAIT;
	} else if (!strcmp(req, "recover") || !strncmp(req, "recover ", 8)) {
		do_recover(dm, c, req[7] ? req + 8 : NULL);
	} else {
		reply(c, "err 2 unknown request '%.64s' (status, listen, run, run-wait, wait, recover)",
		      req);
		client_close(c);
	}
}

static void client_read(struct daemon *dm, struct client *c)
{
	char *nl;
	ssize_t n;

	n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* Gone (^C): what it asked for and waits for is forgotten. */
		client_close(c);
		return;
	}
	c->len += n;
	c->buf[c->len] = '\0';
	nl = strchr(c->buf, '\n');
	if (!nl) {
		if (c->len == sizeof(c->buf) - 1) {
			reply(c, "err 2 request too long");
			client_close(c);
		}
		return;
	}
	*nl = '\0';
	if (nl > c->buf && nl[-1] == '\r')
		nl[-1] = '\0';
	if (c->pending != CL_NONE)
		return;		/* one request per connection */
	handle_request(dm, c, c->buf);
}

static void ctl_accept(struct daemon *dm)
{
	int fd, i;

	fd = accept4(dm->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	for (i = 0; i < DAEMON_MAX_CLIENTS; i++) {
		if (dm->cl[i].fd < 0) {
			dm->cl[i].fd = fd;
			dm->cl[i].len = 0;
			dm->cl[i].pending = CL_NONE;
			return;
		}
	}
	pcmig_write_full(fd, "err 1 too many clients\n", 23, 1000);
	close(fd);
}

static void report(struct daemon *dm, const char *fmt, ...) __printf(2, 3);

/* A line to the waiting "advise" parent. */
static void report(struct daemon *dm, const char *fmt, ...)
{
	va_list ap;

	if (dm->report_fd < 0)
		return;
	va_start(ap, fmt);
	vsend_line(dm->report_fd, fmt, ap);
	va_end(ap);
}

static void daemon_loop(struct daemon *dm)
{
	struct pollfd pfd[3 + 1 + DAEMON_MAX_CLIENTS];
	struct dest *d = dm->d;
	int n, i, base, ret;

	while (d->result < 0) {
		n = dest_pollfds(d, pfd, 3);
		base = n;
		pfd[n].fd = dm->ctl_fd;
		pfd[n].events = POLLIN;
		pfd[n++].revents = 0;
		for (i = 0; i < DAEMON_MAX_CLIENTS; i++) {
			pfd[n].fd = dm->cl[i].fd;
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
		ret = poll(pfd, n, dest_poll_timeout(d));
		if (ret < 0 && errno != EINTR) {
			dest_fail(d, DEST_EXIT_FAILED, PCMIG_ERR_INTERNAL,
				  "poll: %s", strerror(errno));
			break;
		}
		if (ret < 0)
			for (i = 0; i < n; i++)
				pfd[i].revents = 0;
		dest_dispatch(d, pfd, base);
		if (d->result >= 0)
			break;
		for (i = 0; i < DAEMON_MAX_CLIENTS; i++) {
			struct pollfd *p = &pfd[base + 1 + i];

			if (p->fd >= 0 && p->fd == dm->cl[i].fd && p->revents)
				client_read(dm, &dm->cl[i]);
			if (d->result >= 0)
				break;
		}
		if (d->result < 0 && (pfd[base].revents & POLLIN))
			ctl_accept(dm);
		recovered(dm);
		if (d->result < 0 && d->step == DEST_STEP_PACKAGED) {
			for (i = 0; i < DAEMON_MAX_CLIENTS; i++)
				if (dm->cl[i].fd >= 0 &&
				    dm->cl[i].pending == CL_LISTEN)
					break;
			if (i < DAEMON_MAX_CLIENTS)
				do_listen(dm);
		}
	}

	/*
	 * Requests that came meanwhile are read too (a "wait" that arrived
	 * just now), rather than left to find the status file.
	 */
	for (i = 0; i < DAEMON_MAX_CLIENTS; i++)
		ctl_accept(dm);
	for (i = 0; i < DAEMON_MAX_CLIENTS; i++)
		if (dm->cl[i].fd >= 0 && dm->cl[i].pending == CL_NONE)
			client_read(dm, &dm->cl[i]);

	/* The end: everyone waiting learns how it ended. */
	for (i = 0; i < DAEMON_MAX_CLIENTS; i++) {
		struct client *c = &dm->cl[i];

		if (c->fd < 0)
			continue;
		if (c->pending == CL_WAIT)
			reply_exit(d, c);
		else if (c->pending == CL_LISTEN || c->pending == CL_RECOVER)
			reply(c, "err %d %s", d->result ? d->result : 1,
			      d->msg);
		client_close(c);
	}
}

/* The daemon itself, after the double fork. Never returns. */
static void daemon_main(struct daemon *dm, int lock_fd)
{
	struct dest *d = dm->d;
	char path[PATH_MAX + 16], buf[32];
	struct sigaction sa;
	int fd, n, i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = daemon_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	if (!path_in(path, sizeof(path), dm->dir, "log")) {
		fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			  0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!path_in(path, sizeof(path), dm->dir, "events"))
		d->events_out = fopen(path, "ae");
	d->log_time = true;
	d->tty = false;
	d->aborted = &daemon_aborted;
	d->notify = write_status;
	d->notify_arg = dm;
	for (i = 0; i < DAEMON_MAX_CLIENTS; i++)
		dm->cl[i].fd = -1;

	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(lock_fd, 0) || pwrite(lock_fd, buf, n, 0) != n)
		dest_warn(d, "cannot write the pid file");
	report(dm, "pid %d", (int)getpid());
	dest_info(d, "daemon started (pid %d) in %s", (int)getpid(), dm->dir);
	write_status(d, dm);

	if (dest_advised(d)) {
		report(dm, "err %d %s", d->result, d->msg);
	} else {
		report(dm, "node %s %u %s", d->node, d->id, d->name);
		close(dm->report_fd);
		dm->report_fd = -1;
		daemon_loop(dm);
	}
	dest_finish(d);
	write_status(d, dm);
	if (!path_in(path, sizeof(path), dm->dir, "ctl"))
		unlink(path);
	if (!path_in(path, sizeof(path), dm->dir, "pid"))
		unlink(path);
	dest_info(d, "daemon exits with status %d", d->result);
	if (d->events_out)
		fclose(d->events_out);
	_exit(d->result);
}

/* DIR: created if missing (mode 0700), made absolute. */
static int prepare_dir(const char *dir, char *abs, size_t size)
{
	char *r;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "pcmig-tool advise: error: --state-dir %s: %s\n",
			dir, strerror(errno));
		return -1;
	}
	r = realpath(dir, NULL);
	if (!r || strlen(r) >= size) {
		fprintf(stderr, "pcmig-tool advise: error: --state-dir %s: %s\n",
			dir, r ? "path too long" : strerror(errno));
		free(r);
		return -1;
	}
	strcpy(abs, r);
	free(r);
	return 0;
}

/* The control socket DIR/ctl, listening. */
static int ctl_listen(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (path_in(sa.sun_path, sizeof(sa.sun_path), dir, "ctl")) {
		fprintf(stderr, "pcmig-tool advise: error: --state-dir %s: too long for a UNIX socket path (%zu bytes at most)\n",
			dir, sizeof(sa.sun_path) - 5);
		return -1;
	}
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(sa.sun_path, 0600) || listen(fd, DAEMON_MAX_CLIENTS)) {
		fprintf(stderr, "pcmig-tool advise: error: %s: %s\n",
			sa.sun_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * The advise command's side: wait for the daemon's report. SIGINT and
 * SIGTERM are passed on to the daemon (which then fails the migration).
 */
static int advise_wait(struct dest_opts *o, const char *dir, int rfd)
{
	FILE *f = fdopen(rfd, "r");
	char *line = NULL, *p;
	size_t cap = 0;
	pid_t daemon_pid = 0;
	bool forwarded = false;
	int code = DEST_EXIT_FAILED;
	unsigned int id;
	char node[64], name[PCMIG_NAME_LEN];

	if (!f) {
		close(rfd);
		return DEST_EXIT_FAILED;
	}
	for (;;) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };

		if (daemon_aborted && daemon_pid > 0 && !forwarded) {
			kill(daemon_pid, SIGTERM);
			forwarded = true;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if (getline(&line, &cap, f) < 0)
			break;
		p = strchr(line, '\n');
		if (p)
			*p = '\0';
		if (!strncmp(line, "pid ", 4)) {
			daemon_pid = (pid_t)atoi(line + 4);
		} else if (sscanf(line, "node %63s %u %31s", node, &id,
				  name) == 3) {
			if (o->json) {
				printf("{\"id\":%u,\"name\":", id);
				pcmig_json_fputs(stdout, name);
				printf(",\"node\":");
				pcmig_json_fputs(stdout, node);
				printf(",\"pid\":%d,\"state_dir\":",
				       (int)daemon_pid);
				pcmig_json_fputs(stdout, dir);
				printf("}\n");
			} else {
				printf("%s\n", node);
			}
			fflush(stdout);
			if (!o->quiet)
				fprintf(stderr, "pcmig-tool advise: session %u '%s' ready at %s; daemon pid %d, state in %s\n",
					id, name, node, (int)daemon_pid, dir);
			code = DEST_EXIT_DONE;
			break;
		} else if (!strncmp(line, "err ", 4)) {
			code = atoi(line + 4);
			p = strchr(line + 4, ' ');
			fprintf(stderr, "pcmig-tool advise: error: %s (log: %s/log)\n",
				p ? p + 1 : line + 4, dir);
			if (code != DEST_EXIT_PAUSED)
				code = DEST_EXIT_FAILED;
			break;
		}
	}
	if (code == DEST_EXIT_FAILED && !line)
		fprintf(stderr, "pcmig-tool advise: error: the daemon ended without a report; see %s/log\n",
			dir);
	else if (code == DEST_EXIT_FAILED && line && strncmp(line, "err ", 4))
		fprintf(stderr, "pcmig-tool advise: error: the daemon ended without a report; see %s/log\n",
			dir);
	free(line);
	fclose(f);
	return code;
}

/**
 * dest_daemon_advise() - pcmig-tool advise: start the step daemon and wait
 * until ADVISE is done
 * @o: parsed options (with @o->state_dir)
 *
 * Return: the exit status: 0 advised (node printed), 1 failed, 3 paused.
 */
int dest_daemon_advise(struct dest_opts *o)
{
	static struct daemon dm;
	static struct dest d;
	char path[PATH_MAX + 16], pidbuf[32];
	struct sigaction sa;
	int lock_fd, rp[2], ret, status;
	pid_t pid;
	ssize_t n;

	if (prepare_dir(o->state_dir, dm.dir, sizeof(dm.dir) - 16))
		return DEST_EXIT_FAILED;
	path_in(path, sizeof(path), dm.dir, "pid");
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0) {
		fprintf(stderr, "pcmig-tool advise: error: %s: %s\n", path,
			strerror(errno));
		return DEST_EXIT_FAILED;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		n = pread(lock_fd, pidbuf, sizeof(pidbuf) - 1, 0);
		pidbuf[n > 0 ? n : 0] = '\0';
		pidbuf[strcspn(pidbuf, "\n")] = '\0';
		fprintf(stderr, "pcmig-tool advise: error: a migration is already running in %s (pid %s)\n",
			dm.dir, pidbuf[0] ? pidbuf : "?");
		close(lock_fd);
		return DEST_EXIT_FAILED;
	}
	path_in(path, sizeof(path), dm.dir, "status");
	unlink(path);
	path_in(path, sizeof(path), dm.dir, "events");
	unlink(path);

	/* Everything that can fail at once fails here, before the fork. */
	dest_init(&d, o, &daemon_aborted);
	d.events_out = NULL;	/* the daemon writes DIR/events */
	d.tty = false;
	ret = dest_prepare(&d);
	if (ret) {
		close(lock_fd);
		return ret;
	}
	dm.d = &d;
	dm.ctl_fd = ctl_listen(dm.dir);
	if (dm.ctl_fd < 0) {
		close(lock_fd);
		return DEST_EXIT_FAILED;
	}
	if (pipe2(rp, O_CLOEXEC)) {
		fprintf(stderr, "pcmig-tool advise: error: pipe: %s\n",
			strerror(errno));
		goto fail;
	}

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "pcmig-tool advise: error: fork: %s\n",
			strerror(errno));
		close(rp[0]);
		close(rp[1]);
		goto fail;
	}
	if (!pid) {
		close(rp[0]);
		setsid();
		pid = fork();
		if (pid)
			_exit(pid < 0 ? 1 : 0);
		dm.report_fd = rp[1];
		daemon_main(&dm, lock_fd);
	}

	close(rp[1]);
	close(dm.ctl_fd);
	close(d.lfd);
	close(lock_fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = daemon_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return advise_wait(o, dm.dir, rp[0]);

fail:
	/* No daemon: nothing of it stays behind. */
	close(dm.ctl_fd);
	close(d.lfd);
	path_in(path, sizeof(path), dm.dir, "ctl");
	unlink(path);
	path_in(path, sizeof(path), dm.dir, "pid");
	unlink(path);
	close(lock_fd);
	return DEST_EXIT_FAILED;
}
