// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: helpers of the QEMU tests (see pcmig_qemu.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pcmig_mig.h"
#include "pcmig_qemu.h"
#include "pcmig_session.h"
#include "pcmig_source.h"

/* ---- the guest's serial port ---- */

static void parse(char *t, struct pcmig_serial *s)
{
	char *l, *save = NULL;
	long r;

	memset(s, 0, sizeof(*s));
	s->first = s->last = -1;
	s->consecutive = true;
	for (l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(l, "memcheck: ram ", 14))
			s->boots++;
		else if (!strcmp(l, "memcheck: ready"))
			s->ready = true;
		else if (strstr(l, "BAD") || strstr(l, " bad "))
			s->bad++;
		if (sscanf(l, "memcheck: round %ld", &r) == 1) {
			if (s->first < 0)
				s->first = r;
			else if (r != s->last + 1)
				s->consecutive = false;
			s->last = r;
		}
	}
	if (s->first > 1)
		s->consecutive = false;
}

void pcmig_serial_read(const char *path, struct pcmig_serial *s)
{
	char *t = pcmig_read_file(path, NULL), none[1] = "";

	parse(t ? t : none, s);
	free(t);
}

void pcmig_serial_read2(const char *src, const char *dst,
			struct pcmig_serial *s)
{
	char *a = pcmig_read_file(src, NULL), *b = pcmig_read_file(dst, NULL);
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	char *t = malloc(la + lb + 1), none[1] = "";

	if (t) {
		memcpy(t, a ? a : "", la);
		memcpy(t + la, b ? b : "", lb);
		t[la + lb] = '\0';
		parse(t, s);
	} else {
		parse(none, s);
	}
	free(t);
	free(a);
	free(b);
}

/* Wait until the guest at @path has printed round @round (or later). */
bool pcmig_wait_round(const char *path, long round, int ms)
{
	uint64_t deadline = pcmig_now_ms() + ms;
	struct pcmig_serial s;

	for (;;) {
		pcmig_serial_read(path, &s);
		if (s.last >= round)
			return true;
		if (pcmig_now_ms() > deadline)
			return false;
		pcmig_msleep(200);
	}
}

/* ---- the QMP proxy ---- */

static int unix_addr(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n);
	return 0;
}

static void proxy_note(struct pcmig_qmp_proxy *px, const char *line, int nfds)
{
	const char *p = strstr(line, "\"execute\":\"");
	char name[64] = "?";
	size_t o;

	if (p)
		sscanf(p + 11, "%63[^\"]", name);
	pthread_mutex_lock(&px->lock);
	o = strlen(px->log);
	snprintf(px->log + o, sizeof(px->log) - o, "%s/%d ", name, nfds);
	pthread_mutex_unlock(&px->lock);
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* One line (a command) to QEMU, with the descriptors that came with it. */
static int send_line(int fd, const char *line, size_t len, int *fds, int n)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(8 * sizeof(int))];
	} c;
	struct iovec iov = { (void *)line, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t k;

	if (n) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.b;
		m.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c.h.cmsg_level = SOL_SOCKET;
		c.h.cmsg_type = SCM_RIGHTS;
		c.h.cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(&c.h), fds, n * sizeof(int));
	}
	k = sendmsg(fd, &m, MSG_NOSIGNAL);
	if (k <= 0)
		return -1;
	return write_all(fd, line + k, len - k);
}

/* Relay one connection of the tool until either side closes. */
static void proxy_conn(struct pcmig_qmp_proxy *px, int cfd)
{
	struct sockaddr_un sa;
	static char in[65536];
	char buf[65536], *nl, reply[160], *idp;
	int fds[8], nfds = 0, qfd, i;
	size_t inlen = 0, len;
	ssize_t n;

	qfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (qfd < 0 || unix_addr(&sa, px->qemu) ||
	    connect(qfd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (qfd >= 0)
			close(qfd);
		return;
	}
	while (!__atomic_load_n(&px->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p[2] = { { .fd = qfd, .events = POLLIN },
				       { .fd = cfd, .events = POLLIN } };

		if (poll(p, 2, 200) <= 0)
			continue;
		if (p[0].revents) {
			n = read(qfd, buf, sizeof(buf));
			if (n <= 0 || write_all(cfd, buf, n))
				break;
		}
		if (p[1].revents) {
			union {
				struct cmsghdr h;
				char b[CMSG_SPACE(8 * sizeof(int))];
			} c;
			struct iovec iov = { in + inlen, sizeof(in) - inlen };
			struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
					    .msg_control = c.b,
					    .msg_controllen = sizeof(c.b) };
			struct cmsghdr *h;

			n = recvmsg(cfd, &m, MSG_CMSG_CLOEXEC);
			if (n <= 0)
				break;
			for (h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
				int k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				if (h->cmsg_type != SCM_RIGHTS)
					continue;
				for (i = 0; i < k && nfds < 8; i++)
					memcpy(&fds[nfds++],
					       CMSG_DATA(h) + i * sizeof(int),
					       sizeof(int));
			}
			inlen += n;
			while ((nl = memchr(in, '\n', inlen))) {
				len = nl - in + 1;
				*nl = '\0';
				proxy_note(px, in, nfds);
				*nl = '\n';
				if (memmem(in, len, "\"execute\":\"migrate\"",
					   19)) {
					idp = memmem(in, len, "\"id\":", 5);
					snprintf(reply, sizeof(reply),
						 "{\"error\": {\"class\": \"GenericError\", \"desc\": \"injected by pcmig_qemu_test\"}, \"id\": %ld}\r\n",
						 idp ? strtol(idp + 5, NULL, 10) : 0);
					write_all(cfd, reply, strlen(reply));
					for (i = 0; i < nfds; i++)
						close(fds[i]);
				} else if (send_line(qfd, in, len, fds, nfds)) {
					goto out;
				} else {
					for (i = 0; i < nfds; i++)
						close(fds[i]);
				}
				nfds = 0;
				memmove(in, in + len, inlen - len);
				inlen -= len;
			}
		}
	}
out:
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	close(qfd);
}

static void *proxy_main(void *arg)
{
	struct pcmig_qmp_proxy *px = arg;
	int cfd;

	while (!__atomic_load_n(&px->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd p = { .fd = px->lfd, .events = POLLIN };

		if (poll(&p, 1, 200) <= 0)
			continue;
		cfd = accept4(px->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		proxy_conn(px, cfd);
		close(cfd);
	}
	return NULL;
}

int pcmig_qmp_proxy_start(struct pcmig_qmp_proxy *px, const char *path,
			  const char *qemu)
{
	struct sockaddr_un sa;

	if (strlen(path) >= sizeof(px->path) ||
	    strlen(qemu) >= sizeof(px->qemu) || unix_addr(&sa, path))
		return -ENAMETOOLONG;
	strcpy(px->path, path);
	strcpy(px->qemu, qemu);
	px->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (px->lfd < 0 || bind(px->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(px->lfd, 4))
		return -errno;
	if (pthread_create(&px->th, NULL, proxy_main, px))
		return -EAGAIN;
	px->started = true;
	return 0;
}

void pcmig_qmp_proxy_stop(struct pcmig_qmp_proxy *px)
{
	if (px->started) {
		__atomic_store_n(&px->stop, 1, __ATOMIC_RELEASE);
		pthread_join(px->th, NULL);
		px->started = false;
	}
	if (px->lfd >= 0)
		close(px->lfd);
	px->lfd = -1;
}

/* The position of "name/fds " in the proxy's log, or -1. */
long pcmig_qmp_proxy_logged_at(struct pcmig_qmp_proxy *px, const char *entry)
{
	char e[80], *p;
	long at;

	snprintf(e, sizeof(e), " %s ", entry);
	pthread_mutex_lock(&px->lock);
	p = strstr(px->log, e + 1) == px->log ? px->log : strstr(px->log, e);
	at = p ? p - px->log : -1;
	pthread_mutex_unlock(&px->lock);
	return at;
}
