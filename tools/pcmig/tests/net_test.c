// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the link timeout of tools/pcmig/net.c: --link-timeout
 * values, and the keepalive and TCP_USER_TIMEOUT options that every
 * connection pcmig_tcp_connect() and pcmig_tcp_accept() make carries
 * (over loopback TCP on the host; whether a dead link is then noticed is
 * the selftests' business, in the test guest).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "unit.h"

static void test_parse(void)
{
	unsigned int v = 77;

	CHECK(!pcmig_parse_link_timeout("0", &v));
	CHECK_U64(v, 0);
	CHECK(!pcmig_parse_link_timeout("15", &v));
	CHECK_U64(v, 15);
	CHECK(!pcmig_parse_link_timeout("3600", &v));
	CHECK_U64(v, 3600);
	v = 77;
	CHECK(pcmig_parse_link_timeout("3601", &v) == -EINVAL);
	CHECK(pcmig_parse_link_timeout("-1", &v) == -EINVAL);
	CHECK(pcmig_parse_link_timeout("", &v) == -EINVAL);
	CHECK(pcmig_parse_link_timeout("5s", &v) == -EINVAL);
	CHECK(pcmig_parse_link_timeout("1.5", &v) == -EINVAL);
	CHECK(pcmig_parse_link_timeout("99999999999999999999", &v) == -EINVAL);
	CHECK_U64(v, 77);
}

static int sockopt(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int v = -1;

	if (getsockopt(fd, level, name, &v, &len))
		return -errno;
	return v;
}

/* The options of a connected socket: keepalive and its timers. */
static void check_opts(int fd, int keepalive, int idle, int intvl, int cnt,
		       int user_ms)
{
	CHECK_U64(sockopt(fd, SOL_SOCKET, SO_KEEPALIVE), keepalive);
	if (!keepalive) {
		CHECK_U64(sockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), 0);
		return;
	}
	CHECK_U64(sockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE), idle);
	CHECK_U64(sockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL), intvl);
	CHECK_U64(sockopt(fd, IPPROTO_TCP, TCP_KEEPCNT), cnt);
	CHECK_U64(sockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), user_ms);
}

#define AS_IS	(~0u)

/*
 * A connection over loopback with the link timeout set to @seconds (left
 * as it is for AS_IS).
 */
static void check_pair(unsigned int seconds, int keepalive, int idle,
		       int intvl, int cnt, int user_ms)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	char err[256], spec[64];
	int lfd, cfd, afd;

	if (seconds != AS_IS)
		pcmig_set_link_timeout(seconds);
	lfd = pcmig_tcp_listen("127.0.0.1:0", err, sizeof(err));
	CHECK(lfd >= 0);
	if (lfd < 0)
		return;
	CHECK(!getsockname(lfd, (struct sockaddr *)&sin, &sl));
	snprintf(spec, sizeof(spec), "127.0.0.1:%u", ntohs(sin.sin_port));
	cfd = pcmig_tcp_connect(spec, 5000, err, sizeof(err));
	CHECK(cfd >= 0);
	afd = pcmig_tcp_accept(lfd, 5000);
	CHECK(afd >= 0);
	if (cfd >= 0) {
		check_opts(cfd, keepalive, idle, intvl, cnt, user_ms);
		CHECK_U64(sockopt(cfd, IPPROTO_TCP, TCP_NODELAY), 1);
		close(cfd);
	}
	if (afd >= 0) {
		check_opts(afd, keepalive, idle, intvl, cnt, user_ms);
		CHECK_U64(sockopt(afd, IPPROTO_TCP, TCP_NODELAY), 1);
		close(afd);
	}
	close(lfd);
}

static void test_connections(void)
{
	/* The default (15 s), then what --link-timeout sets. */
	check_pair(AS_IS, 1, 7, 2, 3, 15000);
	check_pair(3, 1, 1, 1, 3, 3000);
	check_pair(1, 1, 1, 1, 3, 1000);
	check_pair(60, 1, 30, 10, 3, 60000);
	/* 0: TCP's own behaviour, nothing set. */
	check_pair(0, 0, 0, 0, 0, 0);
}

int main(void)
{
	test_parse();
	test_connections();
	return unit_report("net_test");
}
