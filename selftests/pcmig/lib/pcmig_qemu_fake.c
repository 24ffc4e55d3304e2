// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: a fake destination QEMU (see pcmig_qemu.h) whose load
 * fails the way that raced the tool's QMP client: its QMP socket closed a
 * while before its exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcmig_qemu.h"
#include "pcmig_session.h"

#define FAKE_QMP_FD	3

static int say(const char *msg)
{
	size_t len = strlen(msg), off = 0;
	ssize_t n;

	while (off < len) {
		n = write(FAKE_QMP_FD, msg + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += n;
	}
	return 0;
}

/* Answer one command line; 1 once the failure is due. */
static int answer(const char *line)
{
	const char *ex = strstr(line, "\"execute\":\""), *idp;
	uint64_t id = 0;
	char cmd[64], msg[256];
	size_t n;

	if (!ex)
		return 0;
	ex += 11;
	n = strcspn(ex, "\"");
	snprintf(cmd, sizeof(cmd), "%.*s", (int)(n < 63 ? n : 63), ex);
	idp = strstr(line, "\"id\":");
	if (idp)
		id = strtoull(idp + 5, NULL, 10);
	if (!strcmp(cmd, "query-status"))
		snprintf(msg, sizeof(msg),
			 "{\"return\": {\"status\": \"inmigrate\", \"singlestep\": false, \"running\": false}, \"id\": %" PRIu64 "}\r\n",
			 id);
	else if (!strcmp(cmd, "query-migrate"))
		snprintf(msg, sizeof(msg),
			 "{\"return\": {\"status\": \"active\"}, \"id\": %" PRIu64 "}\r\n",
			 id);
	else
		snprintf(msg, sizeof(msg), "{\"return\": {}, \"id\": %" PRIu64 "}\r\n",
			 id);
	if (say(msg))
		return -1;
	return !strcmp(cmd, "query-migrate");
}

int pcmig_fake_qemu(int exit_delay_ms)
{
	char buf[8192], *nl;
	size_t len = 0;
	ssize_t n;
	int ret = 0;

	if (say("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"pcmig fake\"}, \"capabilities\": [\"oob\"]}}\r\n"))
		return 2;
	while (!ret) {
		n = read(FAKE_QMP_FD, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 2;
		len += n;
		buf[len] = '\0';
		while (!ret && (nl = strchr(buf, '\n'))) {
			*nl = '\0';
			ret = answer(buf);
			len -= nl + 1 - buf;
			memmove(buf, nl + 1, len + 1);
		}
		if (len == sizeof(buf) - 1)
			return 2;
	}
	if (ret < 0)
		return 2;
	fprintf(stderr, "qemu-system-x86_64: fake-qemu: load of migration failed: injected by pcmig_qemu_test\n");
	fflush(stderr);
	close(FAKE_QMP_FD);
	pcmig_msleep(exit_delay_ms);
	return 1;
}
