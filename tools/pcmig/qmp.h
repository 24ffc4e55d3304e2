/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: a QMP client (QEMU Machine Protocol) for driving QEMU.
 *
 * One connection on a UNIX stream socket: qmp_connect() to a path, or
 * qmp_start() on a socket already connected (a socketpair end QEMU got at
 * its start). Both read the greeting and negotiate with qmp_capabilities.
 * Then qmp_send() sends a command (with a descriptor attached by
 * SCM_RIGHTS if asked, for "getfd") and qmp_wait() waits for its answer,
 * matched by "id"; qmp_exec() does both. Events that arrive meanwhile are
 * kept (the last QMP_EVENTS of them) for qmp_event_next().
 *
 * Every wait has a deadline; every message is bounded (QMP_MSG_MAX) and
 * checked whole by json_parse() before anything in it is used. Errors
 * carry QEMU's own words: a command's "error" gives its "desc" in
 * q->err (and its class in q->err_class).
 */
#ifndef _PCMIG_QMP_H
#define _PCMIG_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define QMP_MSG_MAX	(1U << 20)	/* longest message accepted */
#define QMP_EVENTS	32		/* events kept */
#define QMP_EVENT_DATA	1024		/* bytes of an event's data kept */
#define QMP_ERR_LEN	512

/**
 * struct qmp_event - an event QEMU sent
 * @seq: its number, counting from 1 on this connection
 * @name: the "event" member
 * @data: the "data" member as JSON text ("{}" if absent or too long)
 * @sec: the "timestamp" seconds
 * @usec: the "timestamp" microseconds
 */
struct qmp_event {
	uint64_t seq;
	char name[64];
	char data[QMP_EVENT_DATA];
	uint64_t sec;
	uint64_t usec;
};

/**
 * struct qmp_reply - the answer to a command
 * @text: the whole message (owned)
 * @doc: @text, parsed
 * @ret: the token of its "return" member
 */
struct qmp_reply {
	char *text;
	struct json_doc doc;
	int ret;
};

/**
 * struct qmp - a QMP connection
 * @fd: the socket, -1 when closed
 * @buf: bytes received, not yet taken as messages
 * @len: bytes at @buf
 * @cap: bytes allocated at @buf
 * @next_id: the id of the next command
 * @ev: the last events, a ring
 * @ev_seq: events received
 * @version: QEMU's version from the greeting, "major.minor.micro"
 * @err: the last failure: QEMU's error "desc", or what went wrong here
 * @err_class: QEMU's error "class", or "" for failures here
 */
struct qmp {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	uint64_t next_id;
	struct qmp_event ev[QMP_EVENTS];
	uint64_t ev_seq;
	char version[32];
	char err[QMP_ERR_LEN];
	char err_class[64];
};

void qmp_init(struct qmp *q);
void qmp_close(struct qmp *q);
int qmp_connect(struct qmp *q, const char *path, int timeout_ms);
int qmp_start(struct qmp *q, int fd, int timeout_ms);
int qmp_send(struct qmp *q, const char *cmd, const char *args, int pass_fd,
	     uint64_t *id);
int qmp_wait(struct qmp *q, uint64_t id, int timeout_ms,
	     struct qmp_reply *r);
int qmp_exec(struct qmp *q, const char *cmd, const char *args, int pass_fd,
	     int timeout_ms, struct qmp_reply *r);
const struct qmp_event *qmp_event_next(const struct qmp *q, uint64_t *seq,
				       const char *name);
void qmp_reply_free(struct qmp_reply *r);

#endif /* _PCMIG_QMP_H */
