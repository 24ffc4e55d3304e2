// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the step commands' side of the step daemon's control socket
 * (listen, run, recover): one request, the daemon's "info" lines as
 * messages, its final answer as the exit status; the status file when the
 * daemon is gone. dest_daemon.c is the other side and says the protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "dest.h"

/* No daemon: whether the migration in @dir ended, and how. */
static int ended_status(const char *dir, int *code, char *msg, size_t len)
{
	char path[PATH_MAX + 16], buf[8192];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/status", dir) >=
	    (int)sizeof(path))
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	return dest_status_exit(buf, code, msg, len);
}

/**
 * dest_client() - send one request to the step daemon and wait for its
 * final answer
 * @dir: the state directory
 * @request: "listen", "run", "run-wait", "wait" or "recover [ADDR]"
 * @quiet: no informational messages
 * @cmd: the command's name, for messages
 *
 * When the daemon is gone, the status file says how the migration ended:
 * for "wait" and "run-wait" that is the answer (an ended success is a
 * success), for "listen" and "run" it is out of order (1).
 *
 * Return: the exit status the answer carries (0 for "ok"); 1 when there is
 * no daemon or it went away without an answer (then the status file's
 * final status if it has one).
 */
int dest_client(const char *dir, const char *request, bool quiet,
		const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[PCMIG_MAX_ERROR_TEXT + 256], req[DAEMON_REQUEST_MAX];
	char *line = NULL, *p;
	bool waits = !strcmp(request, "wait") || !strcmp(request, "run-wait");
	size_t cap = 0;
	int fd, code;
	FILE *f;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir) >=
	    (int)sizeof(sa.sun_path)) {
		fprintf(stderr, "pcmig-tool %s: error: --state-dir %s: path too long\n",
			cmd, dir);
		return DEST_EXIT_FAILED;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		if (!ended_status(dir, &code, msg, sizeof(msg))) {
			if (!strcmp(request, "wait") && !code) {
				if (!quiet)
					fprintf(stderr, "pcmig-tool %s: the migration in %s has ended: %s\n",
						cmd, dir, msg);
				return DEST_EXIT_DONE;
			}
			fprintf(stderr, "pcmig-tool %s: error: the migration in %s has ended already (exit status %d: %s)\n",
				cmd, dir, code, msg);
			return waits && code ? code : DEST_EXIT_FAILED;
		}
		if (err == ENOENT || err == ECONNREFUSED)
			fprintf(stderr, "pcmig-tool %s: error: no migration daemon in %s: run 'pcmig-tool advise --state-dir %s ...' first\n",
				cmd, dir, dir);
		else
			fprintf(stderr, "pcmig-tool %s: error: %s: %s\n", cmd,
				sa.sun_path, strerror(err));
		return DEST_EXIT_FAILED;
	}
	snprintf(req, sizeof(req), "%s\n", request);
	if (pcmig_write_full(fd, req, strlen(req), 5000)) {
		fprintf(stderr, "pcmig-tool %s: error: cannot talk to the daemon: %s\n",
			cmd, strerror(errno));
		close(fd);
		return DEST_EXIT_FAILED;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return DEST_EXIT_FAILED;
	}
	code = -1;
	while (getline(&line, &cap, f) >= 0) {
		p = strchr(line, '\n');
		if (p)
			*p = '\0';
		if (!strncmp(line, "info ", 5)) {
			if (!quiet)
				fprintf(stderr, "pcmig-tool %s: %s\n", cmd,
					line + 5);
			continue;
		}
		if (!strncmp(line, "ok", 2)) {
			if (!quiet && line[2] == ' ')
				fprintf(stderr, "pcmig-tool %s: %s\n", cmd,
					line + 3);
			code = 0;
		} else if (!strncmp(line, "err ", 4) ||
			   !strncmp(line, "exit ", 5)) {
			bool is_exit = line[1] == 'x';

			p = line + (is_exit ? 5 : 4);
			code = atoi(p);
			p = strchr(p, ' ');
			p = p ? p + 1 : (char *)"";
			if (code)
				fprintf(stderr, "pcmig-tool %s: error: %s\n",
					cmd, p);
			else if (!quiet)
				fprintf(stderr, "pcmig-tool %s: %s\n", cmd, p);
		} else {
			fprintf(stderr, "pcmig-tool %s: error: unexpected answer from the daemon: %s\n",
				cmd, line);
			code = DEST_EXIT_FAILED;
		}
		break;
	}
	free(line);
	fclose(f);
	if (code >= 0)
		return code;
	/* The daemon went away without answering: how did it end? */
	usleep(200 * 1000);
	if (!ended_status(dir, &code, msg, sizeof(msg))) {
		if (code || !quiet)
			fprintf(stderr, "pcmig-tool %s: %s%s (exit status %d)\n",
				cmd, code ? "error: " : "", msg, code);
		return waits || code ? code : DEST_EXIT_FAILED;
	}
	fprintf(stderr, "pcmig-tool %s: error: the daemon went away without an answer; see %s/log\n",
		cmd, dir);
	return DEST_EXIT_FAILED;
}
