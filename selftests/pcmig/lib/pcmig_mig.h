/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the end-to-end migration selftests: child processes with
 * their output in files (optionally in a network namespace, or in a mount
 * namespace without /dev/pcmig), network namespaces joined by a veth pair,
 * waiting for a listening socket, files of page patterns, JSON lines, and a
 * source played with the tool's own codec.
 *
 * Independent of kselftest_harness.h: functions return 0 or a negative
 * errno and leave a message in pcmig_lib_error().
 */
#ifndef _PCMIG_MIG_H
#define _PCMIG_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

/* How a child is started by pcmig_spawn(). */
struct pcmig_spawn_opts {
	const char *netns;	/* "ip netns" name to enter, or NULL */
	bool hide_ctl;		/* a /dev without pcmig (mount ns) */
	/* Standard input, output and error: files, or /dev/null if NULL. */
	const char *in;
	const char *out;
	const char *err;
};

/*
 * Fork and exec @argv[0] (a path) with @argv. The child gets SIGKILL when
 * the caller dies, stays in the caller's process group and closes every
 * other descriptor. Returns the pid or -errno.
 */
pid_t pcmig_spawn(char *const argv[], const struct pcmig_spawn_opts *o);

/*
 * Run a command (argv, NULL-terminated; argv[0] searched in $PATH) to the
 * end, at most @timeout_ms (then it is killed): its wait status, or -errno.
 * Its standard output and error go to @out (NUL-terminated, truncated) if
 * not NULL.
 */
int pcmig_run(char *const argv[], int timeout_ms, char *out, size_t outlen);
/* The same with the arguments inline, NULL-terminated. */
int pcmig_runl(int timeout_ms, char *out, size_t outlen, const char *arg0,
	       ...) __attribute__((sentinel));

/*
 * Two network namespaces @a and @b, joined by a veth pair with @ip_a and
 * @ip_b (IPv4, /24) and their loopbacks up. On failure what was made is
 * deleted again.
 */
int pcmig_netns_pair(const char *a, const char *b, const char *ip_a,
		     const char *ip_b);
void pcmig_netns_del(const char *name);
/*
 * Move this thread into "ip netns" namespace @name: sockets it opens from
 * then on (generic netlink ones: sessions created there are visible only
 * from there) are that namespace's. Returns a descriptor of the namespace
 * left, for pcmig_netns_restore(), or -errno.
 */
int pcmig_netns_switch(const char *name);
void pcmig_netns_restore(int saved);
/* The name pcmig_netns_pair() gives the veth end in namespace @ns. */
void pcmig_netns_veth(const char *ns, char dev[16]);

/* A TCP port nobody listens on now in this network namespace. */
int pcmig_free_port(void);
/*
 * Wait until some socket in the network namespace of @pid listens on TCP
 * @port: 0, -ESRCH if @pid ended first, -ETIMEDOUT.
 */
int pcmig_wait_listen(pid_t pid, unsigned int port, int timeout_ms);
/* True if @pid is a zombie or gone. */
bool pcmig_pid_ended(pid_t pid);

/* Files. */
int pcmig_write_file(const char *path, const void *buf, size_t len,
		     unsigned int mode);
/* A new pre-shared key (--key-file): 48 random hex digits, mode 0600. */
int pcmig_make_key_file(const char *path);
/* The whole file, malloc()ed and NUL-terminated; NULL on failure. */
char *pcmig_read_file(const char *path, size_t *len);
/* Wait until @path exists (and is not empty if @nonempty). */
int pcmig_wait_file(const char *path, bool nonempty, int timeout_ms);
/*
 * A memory image of @npages pages: page i is the pattern of (@seed, i)
 * unless @zero_every is non-zero and i % @zero_every == @zero_every - 1, or
 * i lies in [zero_first, zero_first + zero_n): then zeros. Returns the
 * number of zero pages or -errno.
 */
int64_t pcmig_make_image(const char *path, uint64_t npages, uint64_t seed,
			 unsigned int zero_every, uint64_t zero_first,
			 uint64_t zero_n);
/* @len bytes of the pattern of @seed (page-sized pieces). */
int pcmig_make_pattern_file(const char *path, uint64_t len, uint64_t seed);
/*
 * Compare two files: 0 if equal, else -1 with the first difference in
 * pcmig_lib_error().
 */
int pcmig_files_equal(const char *a, const char *b);
/*
 * Compare @len bytes at @mem with file @path from @off, page by page: -1
 * if equal, else the index of the first page that differs (and in @bad the
 * number of pages that differ); -2 if the file cannot be read.
 */
int64_t pcmig_cmp_mem_file(const void *mem, const char *path, uint64_t off,
			   uint64_t len, uint64_t *bad);

/*
 * JSON lines: the number @key of the last line of @text that has "@key"
 * and, if @event is not NULL, "event":"@event". -1 if there is none.
 */
long long pcmig_json_num(const char *text, const char *event, const char *key);
/* The last line with "event":"@event" copied to @buf; false if none. */
bool pcmig_json_line(const char *text, const char *event, char *buf,
		     size_t len);

/* Quote @s for /bin/sh into @buf. */
const char *pcmig_shq(const char *s, char *buf, size_t len);

/*
 * A source played by the test, with the tool's codec: connections to
 * @addr; the control one carrying @blocks.
 */
struct pcmig_fake_src {
	int ctl, urgent, bulk;
	uint8_t session_id[PCMIG_SESSION_ID_LEN];
	uint8_t key[PCMIG_MAX_KEY_LEN];
	size_t keylen;
	struct pcmig_block blocks[4];
	uint32_t nblocks;
	uint64_t caps;
	char err[PCMIG_MAX_ERROR_TEXT + 256];	/* last failure */
	uint32_t err_code;			/* its PCMIG_ERR_* if known */
};

int pcmig_fake_src_init(struct pcmig_fake_src *f, const char *key_file);
/*
 * Connect a connection of @role and run the handshake with @page_size:
 * the descriptor, or -errno with f->err and f->err_code set (-ECONNABORTED:
 * the destination sent ERROR).
 */
int pcmig_fake_src_connect(struct pcmig_fake_src *f, const char *addr,
			   uint8_t role, uint32_t page_size, int timeout_ms);
/*
 * Send a message (header and @len bytes of @payload) / receive one on
 * @fd: -ECONNABORTED for an ERROR (f->err_code, f->err).
 */
int pcmig_fake_src_send(struct pcmig_fake_src *f, int fd, uint8_t type,
			const void *payload, uint32_t len, int timeout_ms);
int pcmig_fake_src_recv(struct pcmig_fake_src *f, int fd, uint8_t *type,
			void **payload, uint32_t *len, int timeout_ms);
void pcmig_fake_src_close(struct pcmig_fake_src *f);

/* SIGKILL and reap every process whose parent we are (a subreaper). */
void pcmig_kill_children(void);

#endif /* _PCMIG_MIG_H */
