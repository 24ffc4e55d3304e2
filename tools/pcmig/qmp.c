// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: a QMP client (qmp.h). The socket is non-blocking; every read
 * and write waits in poll() until a deadline. Bytes are gathered until
 * json_msg_end() sees a whole object (at most QMP_MSG_MAX bytes), which is
 * then parsed and checked before use: an event is kept, a reply is matched
 * to its command by "id", anything else ends the connection's usefulness
 * with -EPROTO.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "qmp.h"

#define QMP_SEND_TIMEOUT_MS	10000	/* a command must go out by then */
#define QMP_CONNECT_RETRY_MS	10	/* a full listen backlog: again */

static int left_ms(uint64_t deadline)
{
	uint64_t now = pcmig_now_ms();

	if (now >= deadline)
		return 0;
	return deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
}

static __attribute__((format(printf, 3, 4)))
int set_err(struct qmp *q, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	q->err_class[0] = '\0';
	return ret;
}

/**
 * qmp_init() - an unconnected client
 * @q: the client
 */
void qmp_init(struct qmp *q)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->next_id = 1;
}

/**
 * qmp_close() - close the connection and free its buffer
 * @q: the client (may be closed already)
 */
void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->buf);
	q->buf = NULL;
	q->len = q->cap = 0;
}

/**
 * qmp_reply_free() - release a reply
 * @r: the reply (zeroed or filled by qmp_wait())
 */
void qmp_reply_free(struct qmp_reply *r)
{
	json_free(&r->doc);
	free(r->text);
	r->text = NULL;
	r->ret = -1;
}

/* Read what is there, waiting until @deadline for the first byte. */
static int fill(struct qmp *q, uint64_t deadline)
{
	struct pollfd p = { .fd = q->fd, .events = POLLIN };
	size_t cap;
	ssize_t n;
	char *nb;
	int ret;

	if (q->fd < 0)
		return set_err(q, -ENOTCONN, "not connected to QEMU");
	if (q->len >= QMP_MSG_MAX)
		return set_err(q, -EMSGSIZE,
			       "a QMP message longer than %u bytes",
			       QMP_MSG_MAX);
	if (q->len == q->cap) {
		cap = q->cap ? q->cap * 2 : 4096;
		if (cap > QMP_MSG_MAX)
			cap = QMP_MSG_MAX;
		nb = realloc(q->buf, cap);
		if (!nb)
			return set_err(q, -ENOMEM, "out of memory");
		q->buf = nb;
		q->cap = cap;
	}
	for (;;) {
		n = recv(q->fd, q->buf + q->len, q->cap - q->len,
			 MSG_DONTWAIT);
		if (n > 0) {
			q->len += n;
			return 0;
		}
		if (!n)
			return set_err(q, -ECONNRESET,
				       "QEMU closed the QMP connection");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return set_err(q, -errno, "QMP connection: %s",
				       strerror(errno));
		ret = poll(&p, 1, left_ms(deadline));
		if (ret < 0 && errno != EINTR)
			return set_err(q, -errno, "poll: %s", strerror(errno));
		if (!ret)
			return set_err(q, -ETIMEDOUT, "QEMU did not answer");
	}
}

/*
 * The next whole message, parsed, waiting until @deadline. Return: 0 with
 * @text (malloc()ed, NUL-terminated) and @doc, or -errno.
 */
static int read_msg(struct qmp *q, uint64_t deadline, char **text,
		    struct json_doc *doc)
{
	char perr[128];
	size_t end;
	int ret;

	for (;;) {
		ret = json_msg_end(q->buf, q->len, &end);
		if (ret < 0)
			return set_err(q, -EPROTO,
				       "QEMU sent something else than a JSON object on its QMP socket");
		if (ret > 0)
			break;
		ret = fill(q, deadline);
		if (ret)
			return ret;
	}
	*text = malloc(end + 1);
	if (!*text)
		return set_err(q, -ENOMEM, "out of memory");
	memcpy(*text, q->buf, end);
	(*text)[end] = '\0';
	memmove(q->buf, q->buf + end, q->len - end);
	q->len -= end;
	ret = json_parse(doc, *text, end, perr, sizeof(perr));
	if (ret) {
		json_free(doc);
		free(*text);
		*text = NULL;
		return set_err(q, -EPROTO, "a bad QMP message from QEMU: %s",
			       perr);
	}
	if (json_type_of(doc, 0) != JSON_OBJECT) {
		json_free(doc);
		free(*text);
		*text = NULL;
		return set_err(q, -EPROTO, "a QMP message that is not an object");
	}
	return 0;
}

static void keep_event(struct qmp *q, const struct json_doc *doc)
{
	struct qmp_event *e = &q->ev[q->ev_seq % QMP_EVENTS];
	int data = json_get(doc, 0, "data");
	int ts = json_get(doc, 0, "timestamp");
	const char *raw;
	size_t len;

	memset(e, 0, sizeof(*e));
	e->seq = ++q->ev_seq;
	json_string(doc, json_get(doc, 0, "event"), e->name, sizeof(e->name));
	if (json_type_of(doc, data) == JSON_OBJECT &&
	    !json_raw(doc, data, &raw, &len) && len < sizeof(e->data)) {
		memcpy(e->data, raw, len);
		e->data[len] = '\0';
	} else {
		snprintf(e->data, sizeof(e->data), "{}");
	}
	json_u64(doc, json_get(doc, ts, "seconds"), &e->sec);
	json_u64(doc, json_get(doc, ts, "microseconds"), &e->usec);
}

/**
 * qmp_event_next() - the next event kept, after a sequence number
 * @q: the client
 * @seq: the last event seen (0 at first); moved to the one returned
 * @name: only events of this name, or NULL for any
 *
 * Only the last %QMP_EVENTS events are kept.
 *
 * Return: the event, or NULL if there is none after @seq.
 */
const struct qmp_event *qmp_event_next(const struct qmp *q, uint64_t *seq,
				       const char *name)
{
	uint64_t s = *seq + 1;
	const struct qmp_event *e;

	if (q->ev_seq > QMP_EVENTS && s <= q->ev_seq - QMP_EVENTS)
		s = q->ev_seq - QMP_EVENTS + 1;
	for (; s <= q->ev_seq; s++) {
		e = &q->ev[(s - 1) % QMP_EVENTS];
		*seq = s;
		if (!name || !strcmp(e->name, name))
			return e;
	}
	return NULL;
}

/* Write all of @buf, the descriptor @pass_fd (if >= 0) with the first byte. */
static int send_all(struct qmp *q, const char *buf, size_t len, int pass_fd)
{
	uint64_t deadline = pcmig_now_ms() + QMP_SEND_TIMEOUT_MS;
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	struct pollfd p = { .fd = q->fd, .events = POLLOUT };
	struct msghdr m;
	struct iovec iov;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		memset(&m, 0, sizeof(m));
		iov.iov_base = (char *)buf + off;
		iov.iov_len = len - off;
		m.msg_iov = &iov;
		m.msg_iovlen = 1;
		if (pass_fd >= 0) {
			memset(&c, 0, sizeof(c));
			m.msg_control = c.b;
			m.msg_controllen = sizeof(c.b);
			c.h.cmsg_level = SOL_SOCKET;
			c.h.cmsg_type = SCM_RIGHTS;
			c.h.cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(&c.h), &pass_fd, sizeof(int));
		}
		n = sendmsg(q->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			off += n;
			pass_fd = -1;	/* it went with those bytes */
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return set_err(q, -errno, "QMP connection: %s",
				       strerror(errno));
		n = poll(&p, 1, left_ms(deadline));
		if (n < 0 && errno != EINTR)
			return set_err(q, -errno, "poll: %s", strerror(errno));
		if (!n)
			return set_err(q, -ETIMEDOUT,
				       "QEMU does not read its QMP socket");
	}
	return 0;
}

/**
 * qmp_send() - send a command
 * @q: the client
 * @cmd: the command's name
 * @args: its arguments, a JSON object, or NULL for none
 * @pass_fd: a descriptor to pass with it (SCM_RIGHTS, for "getfd"), or -1
 * @id: the command's id, for qmp_wait()
 *
 * Return: 0, -EINVAL if @args is not a JSON object, or -errno (q->err).
 */
int qmp_send(struct qmp *q, const char *cmd, const char *args, int pass_fd,
	     uint64_t *id)
{
	struct json_doc doc;
	char name[128], *msg;
	int n, ret;

	if (q->fd < 0)
		return set_err(q, -ENOTCONN, "not connected to QEMU");
	if (json_quote(name, sizeof(name), cmd) < 0)
		return set_err(q, -EINVAL, "command name too long");
	if (args) {
		ret = json_parse(&doc, args, strlen(args), NULL, 0);
		if (!ret && json_type_of(&doc, 0) != JSON_OBJECT)
			ret = -EINVAL;
		json_free(&doc);
		if (ret)
			return set_err(q, -EINVAL,
				       "%s: arguments are not a JSON object",
				       cmd);
	}
	*id = q->next_id++;
	n = asprintf(&msg, "{\"execute\":%s%s%s,\"id\":%" PRIu64 "}\n", name,
		     args ? ",\"arguments\":" : "", args ? args : "", *id);
	if (n < 0)
		return set_err(q, -ENOMEM, "out of memory");
	ret = send_all(q, msg, n, pass_fd);
	free(msg);
	return ret;
}

/*
 * Whether @doc answers command @id: a reply with that id, or an error
 * without id (QEMU could not read the command far enough to see it).
 */
static bool answers(const struct json_doc *doc, uint64_t id)
{
	int rid = json_get(doc, 0, "id");
	uint64_t v;

	if (rid < 0)
		return json_get(doc, 0, "error") >= 0;
	return !json_u64(doc, rid, &v) && v == id;
}

/**
 * qmp_wait() - wait for the answer to a command
 * @q: the client
 * @id: the command's id, from qmp_send()
 * @timeout_ms: how long to wait
 * @r: the reply, to be released with qmp_reply_free(); or NULL
 *
 * Events meanwhile are kept; replies to other commands are dropped. After
 * -ETIMEDOUT, qmp_wait() may be called again for the same @id.
 *
 * Return: 0 ("return"), -EREMOTEIO (QEMU's "error": q->err is its desc,
 * q->err_class its class), -ETIMEDOUT, -ECONNRESET (QEMU closed the
 * connection), -EPROTO (not QMP), or another -errno; q->err says.
 */
int qmp_wait(struct qmp *q, uint64_t id, int timeout_ms, struct qmp_reply *r)
{
	uint64_t deadline = pcmig_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct json_doc doc;
	char *text;
	int ret, err;

	if (r) {
		memset(r, 0, sizeof(*r));
		r->ret = -1;
	}
	for (;;) {
		ret = read_msg(q, deadline, &text, &doc);
		if (ret)
			return ret;
		if (json_get(&doc, 0, "event") >= 0) {
			keep_event(q, &doc);
		} else if (json_get(&doc, 0, "return") < 0 &&
			   json_get(&doc, 0, "error") < 0) {
			json_free(&doc);
			free(text);
			return set_err(q, -EPROTO,
				       "a QMP message that is neither a reply nor an event");
		} else if (answers(&doc, id)) {
			break;
		}
		json_free(&doc);
		free(text);
	}
	err = json_get(&doc, 0, "error");
	if (err >= 0) {
		if (json_string(&doc, json_get(&doc, err, "desc"), q->err,
				sizeof(q->err)) == -EINVAL)
			snprintf(q->err, sizeof(q->err),
				 "an error without a description");
		if (json_string(&doc, json_get(&doc, err, "class"),
				q->err_class, sizeof(q->err_class)) == -EINVAL)
			q->err_class[0] = '\0';
		json_free(&doc);
		free(text);
		return -EREMOTEIO;
	}
	if (r) {
		r->text = text;
		r->doc = doc;
		r->ret = json_get(&doc, 0, "return");
	} else {
		json_free(&doc);
		free(text);
	}
	return 0;
}

/**
 * qmp_exec() - send a command and wait for its answer
 * @q: the client
 * @cmd: the command
 * @args: its arguments (a JSON object) or NULL
 * @pass_fd: a descriptor to pass with it, or -1
 * @timeout_ms: how long to wait for the answer
 * @r: the reply (qmp_reply_free() it), or NULL
 *
 * Return: as qmp_wait().
 */
int qmp_exec(struct qmp *q, const char *cmd, const char *args, int pass_fd,
	     int timeout_ms, struct qmp_reply *r)
{
	uint64_t id;
	int ret;

	if (r) {
		memset(r, 0, sizeof(*r));
		r->ret = -1;
	}
	ret = qmp_send(q, cmd, args, pass_fd, &id);
	if (ret)
		return ret;
	ret = qmp_wait(q, id, timeout_ms, r);
	if (ret == -ETIMEDOUT)
		set_err(q, ret, "QEMU did not answer %s within %d ms", cmd,
			timeout_ms);
	return ret;
}

/**
 * qmp_start() - greeting and capabilities on a connected socket
 * @q: the client, after qmp_init()
 * @fd: the socket, now the client's (closed by qmp_close())
 * @timeout_ms: limit of the greeting, and then of the negotiation
 *
 * Return: 0 (q->version set), or -errno with q->err.
 */
int qmp_start(struct qmp *q, int fd, int timeout_ms)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms, maj = 0, min = 0, mic = 0;
	struct json_doc doc;
	int g, v, ret, left;
	char *text;

	q->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	ret = read_msg(q, deadline, &text, &doc);
	if (ret == -ETIMEDOUT)
		return set_err(q, ret,
			       "no QMP greeting from QEMU within %d ms (is another client connected?)",
			       timeout_ms);
	if (ret)
		return ret;
	g = json_get(&doc, 0, "QMP");
	if (json_type_of(&doc, g) != JSON_OBJECT) {
		json_free(&doc);
		free(text);
		return set_err(q, -EPROTO, "QEMU's first QMP message is not a greeting");
	}
	v = json_get(&doc, json_get(&doc, g, "version"), "qemu");
	json_u64(&doc, json_get(&doc, v, "major"), &maj);
	json_u64(&doc, json_get(&doc, v, "minor"), &min);
	json_u64(&doc, json_get(&doc, v, "micro"), &mic);
	snprintf(q->version, sizeof(q->version), "%" PRIu64 ".%" PRIu64 ".%" PRIu64,
		 maj, min, mic);
	json_free(&doc);
	free(text);
	left = left_ms(deadline);
	return qmp_exec(q, "qmp_capabilities", NULL, -1, left ? left : 1,
			NULL);
}

/**
 * qmp_connect() - connect to QEMU's QMP socket and start
 * @q: the client, after qmp_init()
 * @path: the UNIX socket's path
 * @timeout_ms: limit of the whole
 *
 * Return: 0, or -errno with q->err.
 */
int qmp_connect(struct qmp *q, const char *path, int timeout_ms)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return set_err(q, -ENAMETOOLONG,
			       "QMP socket %s: path too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return set_err(q, -errno, "socket: %s", strerror(errno));
	/* A UNIX socket connects at once, or its backlog is full: EAGAIN. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		if ((ret == -EAGAIN || ret == -EINTR) && left_ms(deadline)) {
			poll(NULL, 0, QMP_CONNECT_RETRY_MS);
			continue;
		}
		close(fd);
		return set_err(q, ret, "QMP socket %s: %s", path,
			       strerror(-ret));
	}
	ret = qmp_start(q, fd, left_ms(deadline) ? left_ms(deadline) : 1);
	if (ret && !strncmp(q->err, "no QMP greeting", 15))
		set_err(q, ret,
			"QMP socket %s: no greeting from QEMU within %d ms (is another client connected?)",
			path, timeout_ms);
	return ret;
}
