// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: sockets and exact I/O with deadlines.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

/**
 * pcmig_now_ms() - the monotonic clock
 *
 * Return: milliseconds of CLOCK_MONOTONIC, for deadlines.
 */
uint64_t pcmig_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* pcmig_now_ms() for the signed deadlines here (<0: none). */
static int64_t now_ms(void)
{
	return (int64_t)pcmig_now_ms();
}

/* Wait for @events on @fd until @deadline (ms, monotonic); <0: forever. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int left, ret;

	for (;;) {
		left = deadline < 0 ? -1 : (int)(deadline - now_ms());
		/* A deadline already past still looks once. */
		if (deadline >= 0 && left < 0)
			left = 0;
		ret = poll(&p, 1, left);
		if (ret > 0)
			return 0;
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (!ret && deadline >= 0 && now_ms() >= deadline)
			return -ETIMEDOUT;
	}
}

/**
 * pcmig_parse_hostport() - split "HOST:PORT" or "[V6ADDR]:PORT"
 * @spec: the address
 * @host: output
 * @hostlen: room at @host
 * @port: output
 * @portlen: room at @port
 *
 * Return: 0, or -EINVAL.
 */
int pcmig_parse_hostport(const char *spec, char *host, size_t hostlen,
			 char *port, size_t portlen)
{
	const char *colon, *h = spec;
	size_t n;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		h = spec + 1;
		n = end - h;
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -EINVAL;
		n = colon - spec;
	}
	if (!n || n >= hostlen || !colon[1] || strlen(colon + 1) >= portlen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int resolve(const char *spec, bool passive, struct addrinfo **res,
		   char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = passive ? AI_PASSIVE : 0,
	};
	char host[256], port[32];
	int ret;

	if (pcmig_parse_hostport(spec, host, sizeof(host), port,
				 sizeof(port))) {
		snprintf(err, errlen, "bad address '%s' (want HOST:PORT)",
			 spec);
		return -EINVAL;
	}
	ret = getaddrinfo(host, port, &hints, res);
	if (ret) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(ret));
		return -EINVAL;
	}
	return 0;
}

/* Seconds of silence after which a connection is dead; 0: TCP's own. */
static unsigned int link_timeout_s = PCMIG_LINK_TIMEOUT_S;

/**
 * pcmig_set_link_timeout() - how soon the connections made from now on
 * notice a dead link
 * @seconds: 1 to %PCMIG_LINK_TIMEOUT_MAX_S, or 0 for TCP's own behaviour
 *	(a silent link is then noticed only after minutes of retransmissions)
 */
void pcmig_set_link_timeout(unsigned int seconds)
{
	link_timeout_s = seconds;
}

/**
 * pcmig_link_timeout() - the link timeout of new connections
 *
 * Return: seconds, 0 when off.
 */
unsigned int pcmig_link_timeout(void)
{
	return link_timeout_s;
}

/**
 * pcmig_parse_secs() - parse a whole number of seconds
 * @arg: decimal seconds
 * @max: largest value accepted
 * @seconds: the value
 *
 * Return: 0, or -EINVAL when @arg is not a number from 0 to @max.
 */
int pcmig_parse_secs(const char *arg, unsigned int max, unsigned int *seconds)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || v > max)
		return -EINVAL;
	*seconds = v;
	return 0;
}

/**
 * pcmig_parse_link_timeout() - parse the value of --link-timeout
 * @arg: decimal seconds
 * @seconds: the value
 *
 * Return: 0, or -EINVAL when @arg is not 0 to %PCMIG_LINK_TIMEOUT_MAX_S.
 */
int pcmig_parse_link_timeout(const char *arg, unsigned int *seconds)
{
	return pcmig_parse_secs(arg, PCMIG_LINK_TIMEOUT_MAX_S, seconds);
}

/**
 * pcmig_tcp_liveness() - have a TCP connection fail when its link is dead
 * @fd: connected TCP socket
 * @seconds: how long a dead link may go unnoticed; 0 leaves TCP's defaults
 *
 * A link can die without a reset (a cable pulled, a partition): with data
 * to send, TCP retransmits for many minutes; idle, it never notices. Here
 * keepalive probes start after half of @seconds of silence, three of them
 * over the other half, and TCP_USER_TIMEOUT ends the connection once data
 * (or the probes) went unacknowledged for @seconds. The socket then fails
 * with ETIMEDOUT: a destination session pauses, the source stops.
 *
 * Return: 0 or a negative errno.
 */
int pcmig_tcp_liveness(int fd, unsigned int seconds)
{
	int on = 1, cnt = 3, idle, intvl;
	unsigned int ms;

	if (!seconds)
		return 0;
	idle = seconds / 2 ? seconds / 2 : 1;
	intvl = (seconds - idle) / cnt;
	if (!intvl)
		intvl = 1;
	ms = seconds * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
		       sizeof(intvl)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms)))
		return -errno;
	return 0;
}

/*
 * What every connection gets, accepted or made: TCP_NODELAY (requests must
 * not wait behind Nagle) and the link timeout. Return: 0 or a negative
 * errno of the latter.
 */
static int tcp_conn_opts(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return pcmig_tcp_liveness(fd, link_timeout_s);
}

/**
 * pcmig_tcp_listen() - listen on "HOST:PORT"
 * @spec: the address
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Return: the listening socket, or a negative errno.
 */
int pcmig_tcp_listen(const char *spec, char *err, size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, one = 1, ret;

	ret = resolve(spec, true, &res, err, errlen);
	if (ret)
		return ret;
	ret = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 16))
			break;
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "listen on %s: %s", spec, strerror(-ret));
		return ret;
	}
	return fd;
}

/**
 * pcmig_tcp_accept() - accept a connection within a time limit
 * @lfd: listening socket
 * @timeout_ms: limit, or -1 for none
 *
 * Return: the connected socket (TCP_NODELAY, pcmig_tcp_liveness() with
 * the link timeout), or a negative errno (-ETIMEDOUT).
 */
int pcmig_tcp_accept(int lfd, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int fd, ret;

	for (;;) {
		ret = wait_fd(lfd, POLLIN, deadline);
		if (ret)
			return ret;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0) {
			ret = tcp_conn_opts(fd);
			if (ret) {
				close(fd);
				return ret;
			}
			return fd;
		}
		if (errno != EINTR && errno != EAGAIN &&
		    errno != ECONNABORTED)
			return -errno;
	}
}

/**
 * pcmig_tcp_connect() - connect to "HOST:PORT" within a time limit
 * @spec: the address
 * @timeout_ms: limit for each address tried
 * @err: a message on failure
 * @errlen: room at @err
 *
 * Return: the connected socket (blocking, TCP_NODELAY,
 * pcmig_tcp_liveness() with the link timeout), or a negative errno.
 */
int pcmig_tcp_connect(const char *spec, int timeout_ms, char *err,
		      size_t errlen)
{
	struct addrinfo *res, *ai;
	int fd = -1, ret, soerr;
	socklen_t sl = sizeof(soerr);

	ret = resolve(spec, false, &res, err, errlen);
	if (ret)
		return ret;
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
			    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		if (!connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		if (errno == EINPROGRESS) {
			ret = wait_fd(fd, POLLOUT, now_ms() + timeout_ms);
			if (!ret && !getsockopt(fd, SOL_SOCKET, SO_ERROR,
						&soerr, &sl) && !soerr)
				break;
			ret = ret ? ret : -(soerr ? soerr : errno);
		} else {
			ret = -errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		snprintf(err, errlen, "connect to %s: %s", spec,
			 strerror(-ret));
		return ret;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	ret = tcp_conn_opts(fd);
	if (ret) {
		snprintf(err, errlen, "connect to %s: keepalive: %s", spec,
			 strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

/**
 * pcmig_iov_advance() - account for a partial vectored write
 * @iov: the iovec; moved to the first part not fully written
 * @cnt: its parts; decreased accordingly
 * @n: bytes written from the front
 */
void pcmig_iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	struct iovec *v = *iov;
	int c = *cnt;

	while (c && n >= v->iov_len) {
		n -= v->iov_len;
		v++;
		c--;
	}
	if (c) {
		v->iov_base = (uint8_t *)v->iov_base + n;
		v->iov_len -= n;
	}
	*iov = v;
	*cnt = c;
}

/*
 * A socket error as callers see it. A connection aborted on our side
 * (ECONNABORTED: ss -K, a local reset) is a connection gone like any other:
 * -ECONNABORTED is what the message layer returns for the peer's ERROR.
 */
static int conn_errno(int err)
{
	return err == ECONNABORTED ? -ECONNRESET : -err;
}

/**
 * pcmig_read_full() - read exactly @len bytes
 * @fd: socket or pipe
 * @buf: output
 * @len: bytes
 * @timeout_ms: limit for the whole read, or -1
 *
 * Return: 0; -ECONNRESET at end of file; -ETIMEDOUT; another negative
 * errno.
 */
int pcmig_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	uint8_t *p = buf;
	ssize_t n;
	int ret;

	while (len) {
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret)
			return ret;
		n = read(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return conn_errno(errno);
		if (!n)
			return -ECONNRESET;
		p += n;
		len -= n;
	}
	return 0;
}

/**
 * pcmig_write_full() - write exactly @len bytes
 * @fd: socket or pipe
 * @buf: data
 * @len: bytes
 * @timeout_ms: limit for the whole write, or -1
 *
 * Return: 0, -ETIMEDOUT, or another negative errno (-EPIPE: peer gone).
 */
int pcmig_write_full(int fd, const void *buf, size_t len, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	const uint8_t *p = buf;
	ssize_t n;
	int ret;

	while (len) {
		ret = wait_fd(fd, POLLOUT, deadline);
		if (ret)
			return ret;
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return conn_errno(errno);
		p += n;
		len -= n;
	}
	return 0;
}

/**
 * pcmig_msg_recv() - read one protocol message
 * @fd: connection
 * @hdr: the header, on success
 * @payload: malloc()ed payload (NULL if empty); the caller frees it
 * @max: largest payload accepted here
 * @timeout_ms: limit, or -1
 * @peer_err: filled when the peer sent ERROR
 *
 * Return: 0; -EPROTO for a malformed header or a payload over @max;
 * -ECONNABORTED for an ERROR from the peer; an I/O error.
 */
int pcmig_msg_recv(int fd, struct pcmig_msg_hdr *hdr, void **payload,
		   uint32_t max, int timeout_ms,
		   struct pcmig_error_msg *peer_err)
{
	uint8_t raw[PCMIG_MSG_HDR_LEN];
	void *p = NULL;
	int ret;

	*payload = NULL;
	ret = pcmig_read_full(fd, raw, sizeof(raw), timeout_ms);
	if (ret)
		return ret;
	if (pcmig_msg_get_hdr(raw, hdr))
		return -EPROTO;
	if (hdr->type != PCMIG_MSG_ERROR && hdr->len > max)
		return -EPROTO;
	if (hdr->len) {
		p = malloc(hdr->len);
		if (!p)
			return -ENOMEM;
		ret = pcmig_read_full(fd, p, hdr->len, timeout_ms);
		if (ret) {
			free(p);
			return ret;
		}
	}
	if (hdr->type == PCMIG_MSG_ERROR) {
		ret = pcmig_error_decode(p, hdr->len, peer_err);
		free(p);
		return ret ? -EPROTO : -ECONNABORTED;
	}
	*payload = p;
	return 0;
}

/**
 * pcmig_msg_send_error() - tell the peer why we give up
 * @fd: connection
 * @code: PCMIG_ERR_*
 * @text: detail
 *
 * Return: 0, or a negative errno (ignored by most callers: the peer may be
 * gone already).
 */
int pcmig_msg_send_error(int fd, uint32_t code, const char *text)
{
	uint8_t buf[PCMIG_MSG_HDR_LEN + 4 + PCMIG_MAX_ERROR_TEXT];
	int n = pcmig_error_encode(buf, sizeof(buf), code, text);

	return n < 0 ? n : pcmig_write_full(fd, buf, n, 5000);
}
