// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: helpers of the end-to-end migration tests (see
 * pcmig_mig.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "pcmig_mig.h"
#include "pcmig_session.h"
#include "pcmig_source.h"

#define PAGE	4096u

/* Child side of pcmig_spawn(): never returns. */
static void redirect(int target, const char *path, int flags)
{
	int fd = open(path ? path : "/dev/null", flags, 0600);

	if (fd < 0)
		_exit(126);
	if (fd != target) {
		dup2(fd, target);
		close(fd);
	}
}

/* A /dev of its own: tmpfs with the few nodes a tool needs, no pcmig. */
static int hide_ctl(void)
{
	static const struct { const char *name; unsigned int maj, min; } n[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "random", 1, 8 },
		{ "urandom", 1, 9 },
	};
	char path[64];
	unsigned int i;

	if (unshare(CLONE_NEWNS))
		return -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return -1;
	if (mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755"))
		return -1;
	for (i = 0; i < sizeof(n) / sizeof(n[0]); i++) {
		snprintf(path, sizeof(path), "/dev/%s", n[i].name);
		if (mknod(path, S_IFCHR | 0666, makedev(n[i].maj, n[i].min)))
			return -1;
	}
	if (mkdir("/dev/shm", 01777))
		return -1;
	return 0;
}

static int enter_netns(const char *name)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = setns(fd, CLONE_NEWNET);
	close(fd);
	return ret;
}

int pcmig_netns_switch(const char *name)
{
	int saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (saved < 0)
		return -errno;
	if (enter_netns(name)) {
		int err = -errno;

		close(saved);
		pcmig_lib_set_error("netns %s: %s", name, strerror(-err));
		return err;
	}
	return saved;
}

void pcmig_netns_restore(int saved)
{
	if (saved < 0)
		return;
	setns(saved, CLONE_NEWNET);
	close(saved);
}

pid_t pcmig_spawn(char *const argv[], const struct pcmig_spawn_opts *o)
{
	static const struct pcmig_spawn_opts none;
	pid_t pid;

	if (!o)
		o = &none;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		pcmig_lib_set_error("fork: %s", strerror(errno));
		return -errno;
	}
	if (pid)
		return pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	/* Open the files before a namespace change can hide them. */
	redirect(STDIN_FILENO, o->in, O_RDONLY);
	redirect(STDOUT_FILENO, o->out, O_WRONLY | O_CREAT | O_TRUNC);
	redirect(STDERR_FILENO, o->err, O_WRONLY | O_CREAT | O_TRUNC);
	if (o->netns && enter_netns(o->netns)) {
		fprintf(stderr, "spawn: netns %s: %s\n", o->netns,
			strerror(errno));
		_exit(125);
	}
	if (o->hide_ctl && hide_ctl()) {
		fprintf(stderr, "spawn: hiding /dev/pcmig: %s\n",
			strerror(errno));
		_exit(125);
	}
	close_range(3, ~0U, 0);
	execv(argv[0], argv);
	fprintf(stderr, "spawn: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

int pcmig_run(char *const argv[], int timeout_ms, char *out, size_t outlen)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;
	int pfd[2], status = 0;
	size_t got = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		redirect(STDIN_FILENO, NULL, O_RDONLY);
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		close_range(3, ~0U, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		char buf[512];
		ssize_t n = read(pfd[0], buf, sizeof(buf));

		if (n > 0) {
			if (out && got + 1 < outlen) {
				size_t k = (size_t)n < outlen - 1 - got ?
					   (size_t)n : outlen - 1 - got;

				memcpy(out + got, buf, k);
				got += k;
			}
			continue;
		}
		if (n == 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			break;
		if (pcmig_now_ms() > deadline)
			break;
		pcmig_msleep(10);
	}
	close(pfd[0]);
	if (out && outlen)
		out[got] = '\0';
	if (pcmig_wait_child(pid, (int)(deadline > pcmig_now_ms() ?
					deadline - pcmig_now_ms() : 0) + 10,
			     &status)) {
		pcmig_kill_child(pid);
		pcmig_lib_set_error("%s: still running after %d ms, killed",
				    argv[0], timeout_ms);
		return -ETIMEDOUT;
	}
	return status;
}

int pcmig_runl(int timeout_ms, char *out, size_t outlen, const char *arg0, ...)
{
	char *argv[32];
	unsigned int n = 0;
	va_list ap;

	argv[n++] = (char *)arg0;
	va_start(ap, arg0);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return pcmig_run(argv, timeout_ms, out, outlen);
}

/* Run @argv; 0 if it exited 0, else -1 with its output in the error. */
static int run_ok(const char *arg0, ...)
{
	char *argv[32], out[512];
	unsigned int n = 0;
	va_list ap;
	int ret;

	argv[n++] = (char *)arg0;
	va_start(ap, arg0);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	ret = pcmig_run(argv, 20000, out, sizeof(out));
	if (ret == 0)
		return 0;
	pcmig_lib_set_error("%s %s %s %s: %s: %s", argv[0], argv[1],
			    n > 2 ? argv[2] : "", n > 3 ? argv[3] : "",
			    ret < 0 ? strerror(-ret) : pcmig_status_str(ret),
			    out);
	return -1;
}

void pcmig_netns_veth(const char *ns, char dev[16])
{
	size_t len = strlen(ns);

	/* Interface names: at most 15 characters. */
	snprintf(dev, 16, "v%.13s", ns + (len > 13 ? len - 13 : 0));
}

int pcmig_netns_pair(const char *a, const char *b, const char *ip_a,
		     const char *ip_b)
{
	char va[16], vb[16], cidr_a[40], cidr_b[40];

	pcmig_netns_veth(a, va);
	pcmig_netns_veth(b, vb);
	snprintf(cidr_a, sizeof(cidr_a), "%s/24", ip_a);
	snprintf(cidr_b, sizeof(cidr_b), "%s/24", ip_b);

	if (run_ok("ip", "netns", "add", a, NULL))
		return -1;
	if (run_ok("ip", "netns", "add", b, NULL))
		goto fail;
	if (run_ok("ip", "link", "add", va, "netns", a, "type", "veth",
		   "peer", "name", vb, "netns", b, NULL) ||
	    run_ok("ip", "-n", a, "addr", "add", cidr_a, "dev", va, NULL) ||
	    run_ok("ip", "-n", b, "addr", "add", cidr_b, "dev", vb, NULL) ||
	    run_ok("ip", "-n", a, "link", "set", "lo", "up", NULL) ||
	    run_ok("ip", "-n", b, "link", "set", "lo", "up", NULL) ||
	    run_ok("ip", "-n", a, "link", "set", va, "up", NULL) ||
	    run_ok("ip", "-n", b, "link", "set", vb, "up", NULL))
		goto fail;
	return 0;
fail:
	pcmig_netns_del(a);
	pcmig_netns_del(b);
	return -1;
}

void pcmig_netns_del(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if (access(path, F_OK))
		return;
	pcmig_runl(20000, NULL, 0, "ip", "netns", "del", name, NULL);
}

int pcmig_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

bool pcmig_pid_ended(pid_t pid)
{
	char path[64], buf[256], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

/* Is TCP @port in state LISTEN in /proc/@pid/net/@file? */
static bool listening_in(pid_t pid, const char *file, unsigned int port)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, file);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char local[128], remote[128];
		unsigned int st, p;
		char *colon;

		if (sscanf(line, " %*d: %127s %127s %x", local, remote,
			   &st) != 3)
			continue;
		colon = strrchr(local, ':');
		if (!colon || sscanf(colon + 1, "%x", &p) != 1)
			continue;
		found = p == port && st == 0x0a;
	}
	fclose(f);
	return found;
}

int pcmig_wait_listen(pid_t pid, unsigned int port, int timeout_ms)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;

	for (;;) {
		if (listening_in(pid, "tcp", port) ||
		    listening_in(pid, "tcp6", port))
			return 0;
		if (pcmig_pid_ended(pid)) {
			pcmig_lib_set_error("pid %d ended before listening on port %u",
					    pid, port);
			return -ESRCH;
		}
		if (pcmig_now_ms() > deadline) {
			pcmig_lib_set_error("nothing listens on port %u after %d ms",
					    port, timeout_ms);
			return -ETIMEDOUT;
		}
		pcmig_msleep(20);
	}
}

int pcmig_write_file(const char *path, const void *buf, size_t len,
		     unsigned int mode)
{
	const char *p = buf;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		pcmig_lib_set_error("%s: %s", path, strerror(errno));
		return -errno;
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n <= 0) {
			pcmig_lib_set_error("write %s: %s", path,
					    strerror(errno));
			close(fd);
			return -EIO;
		}
		p += n;
		len -= n;
	}
	fchmod(fd, mode);
	close(fd);
	return 0;
}

int pcmig_make_key_file(const char *path)
{
	char text[2 * 24 + 2];
	uint8_t raw[24];
	size_t i;

	if (pcmig_random(raw, sizeof(raw))) {
		pcmig_lib_set_error("no random bytes for %s", path);
		return -EIO;
	}
	for (i = 0; i < sizeof(raw); i++)
		snprintf(text + 2 * i, 3, "%02x", raw[i]);
	strcat(text, "\n");
	return pcmig_write_file(path, text, strlen(text), 0600);
}

char *pcmig_read_file(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1);
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pcmig_lib_set_error("%s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

int pcmig_wait_file(const char *path, bool nonempty, int timeout_ms)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;
	struct stat st;

	for (;;) {
		if (!stat(path, &st) && (!nonempty || st.st_size > 0))
			return 0;
		if (pcmig_now_ms() > deadline) {
			pcmig_lib_set_error("no %s after %d ms", path,
					    timeout_ms);
			return -ETIMEDOUT;
		}
		pcmig_msleep(20);
	}
}

int64_t pcmig_make_image(const char *path, uint64_t npages, uint64_t seed,
			 unsigned int zero_every, uint64_t zero_first,
			 uint64_t zero_n)
{
	static uint8_t page[PAGE];
	int64_t zeros = 0;
	uint64_t i;
	FILE *f;

	f = fopen(path, "we");
	if (!f) {
		pcmig_lib_set_error("%s: %s", path, strerror(errno));
		return -errno;
	}
	for (i = 0; i < npages; i++) {
		bool zero = (zero_every && i % zero_every == zero_every - 1) ||
			    (i >= zero_first && i < zero_first + zero_n);

		if (zero) {
			memset(page, 0, sizeof(page));
			zeros++;
		} else {
			pcmig_pattern_fill(page, PAGE, seed, i);
		}
		if (fwrite(page, PAGE, 1, f) != 1) {
			pcmig_lib_set_error("write %s: %s", path,
					    strerror(errno));
			fclose(f);
			return -EIO;
		}
	}
	if (fclose(f)) {
		pcmig_lib_set_error("close %s: %s", path, strerror(errno));
		return -EIO;
	}
	return zeros;
}

int pcmig_make_pattern_file(const char *path, uint64_t len, uint64_t seed)
{
	static uint8_t page[PAGE];
	uint64_t i;
	FILE *f;

	f = fopen(path, "we");
	if (!f) {
		pcmig_lib_set_error("%s: %s", path, strerror(errno));
		return -errno;
	}
	for (i = 0; i * PAGE < len; i++) {
		size_t n = len - i * PAGE < PAGE ? len - i * PAGE : PAGE;

		pcmig_pattern_fill(page, PAGE, seed, i);
		if (fwrite(page, n, 1, f) != 1) {
			fclose(f);
			pcmig_lib_set_error("write %s failed", path);
			return -EIO;
		}
	}
	if (fclose(f)) {
		pcmig_lib_set_error("close %s: %s", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

int pcmig_files_equal(const char *a, const char *b)
{
	static uint8_t ba[1 << 16], bb[1 << 16];
	uint64_t off = 0;
	int ret = -1;
	FILE *fa, *fb;

	fa = fopen(a, "re");
	fb = fopen(b, "re");
	if (!fa || !fb) {
		pcmig_lib_set_error("cannot open %s", !fa ? a : b);
		goto out;
	}
	for (;;) {
		size_t na = fread(ba, 1, sizeof(ba), fa);
		size_t nb = fread(bb, 1, sizeof(bb), fb);
		size_t i, n = na < nb ? na : nb;

		if (memcmp(ba, bb, n)) {
			for (i = 0; i < n && ba[i] == bb[i]; i++)
				;
			pcmig_lib_set_error("%s and %s differ at byte %llu",
					    a, b,
					    (unsigned long long)(off + i));
			goto out;
		}
		if (na != nb) {
			pcmig_lib_set_error("%s and %s differ in size (%s is shorter, at %llu bytes)",
					    a, b, na < nb ? a : b,
					    (unsigned long long)(off + n));
			goto out;
		}
		if (!na)
			break;
		off += na;
	}
	ret = 0;
out:
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return ret;
}

int64_t pcmig_cmp_mem_file(const void *mem, const char *path, uint64_t off,
			   uint64_t len, uint64_t *bad)
{
	static uint8_t page[PAGE];
	const uint8_t *m = mem;
	int64_t first = -1;
	uint64_t i, nbad = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pcmig_lib_set_error("%s: %s", path, strerror(errno));
		return -2;
	}
	for (i = 0; i * PAGE < len; i++) {
		if (pread(fd, page, PAGE, off + i * PAGE) != PAGE) {
			pcmig_lib_set_error("%s: short read at %llu", path,
					    (unsigned long long)off +
					    i * PAGE);
			close(fd);
			return -2;
		}
		if (memcmp(page, m + i * PAGE, PAGE)) {
			if (first < 0)
				first = (int64_t)i;
			nbad++;
		}
	}
	close(fd);
	if (bad)
		*bad = nbad;
	return first;
}

/* Does @line have "event":"@event" (any white space around the colon)? */
static bool has_event(const char *line, size_t len, const char *event)
{
	const char *p = line, *end = line + len;

	while ((p = memmem(p, end - p, "\"event\"", 7))) {
		p += 7;
		while (p < end && (*p == ' ' || *p == ':'))
			p++;
		if (p < end && *p == '"' && (size_t)(end - p) > strlen(event) &&
		    !strncmp(p + 1, event, strlen(event)) &&
		    p[1 + strlen(event)] == '"')
			return true;
	}
	return false;
}

/* The last line of @text matching @event and @key: its start and length. */
static const char *last_line(const char *text, const char *event,
			     const char *key, size_t *len)
{
	const char *line = text, *best = NULL;
	char qkey[128];

	snprintf(qkey, sizeof(qkey), "\"%s\"", key ? key : "");
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if ((!event || has_event(line, n, event)) &&
		    (!key || memmem(line, n, qkey, strlen(qkey)))) {
			best = line;
			*len = n;
		}
		line = nl ? nl + 1 : NULL;
	}
	return best;
}

long long pcmig_json_num(const char *text, const char *event, const char *key)
{
	const char *line, *p;
	char qkey[128];
	size_t len = 0;

	if (!text)
		return -1;
	line = last_line(text, event, key, &len);
	if (!line)
		return -1;
	snprintf(qkey, sizeof(qkey), "\"%s\"", key);
	p = memmem(line, len, qkey, strlen(qkey));
	p += strlen(qkey);
	while (*p == ' ' || *p == ':')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	return strtoll(p, NULL, 10);
}

bool pcmig_json_line(const char *text, const char *event, char *buf,
		     size_t len)
{
	const char *line;
	size_t n = 0;

	if (!text)
		return false;
	line = last_line(text, event, NULL, &n);
	if (!line)
		return false;
	snprintf(buf, len, "%.*s", (int)n, line);
	return true;
}

const char *pcmig_shq(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len < 3)
		return "''";
	buf[o++] = '\'';
	for (; *s && o + 5 < len; s++) {
		if (*s == '\'') {
			memcpy(buf + o, "'\\''", 4);
			o += 4;
		} else {
			buf[o++] = *s;
		}
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

/* The fake source */

int pcmig_fake_src_init(struct pcmig_fake_src *f, const char *key_file)
{
	memset(f, 0, sizeof(*f));
	f->ctl = f->urgent = f->bulk = -1;
	f->caps = PCMIG_CAPS_KNOWN;
	if (pcmig_key_load(key_file, f->key, &f->keylen, f->err,
			   sizeof(f->err))) {
		pcmig_lib_set_error("%s", f->err);
		return -EINVAL;
	}
	if (pcmig_random(f->session_id, sizeof(f->session_id)))
		return -EIO;
	return 0;
}

int pcmig_fake_src_connect(struct pcmig_fake_src *f, const char *addr,
			   uint8_t role, uint32_t page_size, int timeout_ms)
{
	struct pcmig_hs hs;
	int fd, ret;

	f->err[0] = '\0';
	f->err_code = 0;
	fd = pcmig_tcp_connect(addr, timeout_ms, f->err, sizeof(f->err));
	if (fd < 0) {
		pcmig_lib_set_error("connect %s: %s", addr, f->err);
		return fd;
	}
	memset(&hs, 0, sizeof(hs));
	hs.key = f->key;
	hs.keylen = f->keylen;
	hs.role = role;
	hs.caps_supported = f->caps;
	memcpy(hs.session_id, f->session_id, sizeof(hs.session_id));
	hs.page_size = page_size;
	hs.nblocks = role == PCMIG_ROLE_CONTROL ? f->nblocks : 0;
	hs.blocks = f->blocks;
	hs.timeout_ms = timeout_ms;
	ret = pcmig_hs_client(fd, &hs);
	if (ret) {
		snprintf(f->err, sizeof(f->err), "%s", hs.err);
		f->err_code = hs.err_code;
		pcmig_lib_set_error("handshake: %s", hs.err);
		close(fd);
		return ret;
	}
	if (role == PCMIG_ROLE_CONTROL)
		f->ctl = fd;
	else if (role == PCMIG_ROLE_URGENT)
		f->urgent = fd;
	else
		f->bulk = fd;
	return fd;
}

int pcmig_fake_src_send(struct pcmig_fake_src *f, int fd, uint8_t type,
			const void *payload, uint32_t len, int timeout_ms)
{
	uint8_t hdr[PCMIG_MSG_HDR_LEN];
	int ret;

	pcmig_msg_put_hdr(hdr, sizeof(hdr), type, len);
	ret = pcmig_write_full(fd, hdr, sizeof(hdr), timeout_ms);
	if (!ret && len)
		ret = pcmig_write_full(fd, payload, len, timeout_ms);
	if (ret)
		snprintf(f->err, sizeof(f->err), "sending %s: %s",
			 pcmig_msg_name(type), strerror(-ret));
	return ret;
}

int pcmig_fake_src_recv(struct pcmig_fake_src *f, int fd, uint8_t *type,
			void **payload, uint32_t *len, int timeout_ms)
{
	struct pcmig_error_msg e;
	struct pcmig_msg_hdr h;
	int ret;

	*payload = NULL;
	ret = pcmig_msg_recv(fd, &h, payload, PCMIG_MAX_PACKAGE, timeout_ms,
			     &e);
	if (ret == -ECONNABORTED) {
		f->err_code = e.code;
		snprintf(f->err, sizeof(f->err), "%s", e.text);
		return ret;
	}
	if (ret) {
		snprintf(f->err, sizeof(f->err), "receiving: %s",
			 strerror(-ret));
		return ret;
	}
	*type = h.type;
	*len = h.len;
	return 0;
}

void pcmig_fake_src_close(struct pcmig_fake_src *f)
{
	if (f->ctl >= 0)
		close(f->ctl);
	if (f->urgent >= 0)
		close(f->urgent);
	if (f->bulk >= 0)
		close(f->bulk);
	f->ctl = f->urgent = f->bulk = -1;
}

void pcmig_kill_children(void)
{
	unsigned int round;

	for (round = 0; round < 20; round++) {
		bool any = false;
		struct dirent *e;
		DIR *d = opendir("/proc");

		if (!d)
			return;
		while ((e = readdir(d))) {
			char path[64], buf[512], *p;
			int ppid, fd;
			pid_t pid = atoi(e->d_name);
			ssize_t n;

			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", pid);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				continue;
			buf[n] = '\0';
			p = strrchr(buf, ')');
			if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1 ||
			    ppid != getpid())
				continue;
			kill(pid, SIGKILL);
			any = true;
		}
		closedir(d);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!any)
			return;
		pcmig_msleep(50);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}
