/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Session helpers of the pcmig selftests: ioctl wrappers returning 0 or a
 * negative errno, status polling with deadlines, child processes that fault
 * on session memory, and a test environment bundling a session, its mapping,
 * a page source and an event listener.
 *
 * Independent of kselftest_harness.h.
 */
#ifndef _PCMIG_SESSION_H
#define _PCMIG_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/pcmig.h>

#include "pcmig_genl.h"
#include "pcmig_source.h"

/* The control node. */
#define PCMIG_CTL_PATH	"/dev/" PCMIG_NAME

/* Page size of session memory (x86_64: 4 KiB). */
#define PCMIG_PS	4096u

/* Deadlines, in milliseconds, sized for a software-emulated guest. */
#define PCMIG_WAIT_MS		10000
#define PCMIG_SHORT_MS		300

/* Sessions created by these tests are named with this prefix. */
#define PCMIG_ST_PREFIX		"kst-"

int pcmig_ctl_open(void);

/*
 * PCMIG_IOC_CREATE with a zeroed structure but for @size, the page size,
 * @flags and @name (at most 32 bytes copied: a 32-byte name is not terminated).
 * Returns the session fd or -errno; fills @id if not NULL.
 */
int pcmig_create(int ctl, uint64_t size, uint32_t flags, const char *name,
		 uint32_t *id);
/* The raw ioctl: returns fd or -errno. */
int pcmig_create_raw(int ctl, struct pcmig_create *c);
int pcmig_attach(int fd, int sock, uint32_t channels);
int pcmig_set_state(int fd, uint32_t state);
int pcmig_discard(int fd, uint64_t offset, uint64_t length);
/* PCMIG_IOC_SYNC: 0 or -errno. */
int pcmig_sync(int fd, uint64_t token, uint32_t timeout_ms);
/* PCMIG_IOC_MISSING with @m as is: 0 or -errno. */
int pcmig_missing(int fd, struct pcmig_missing *m);
/*
 * PCMIG_IOC_MISSING from *@offset into @ext of *@count entries; on success
 * *@offset and *@count are what the kernel wrote back.
 */
int pcmig_missing_runs(int fd, uint64_t *offset, struct pcmig_extent *ext,
		       uint32_t *count);
/* PCMIG_IOC_SET_PARAMS with @p as is, or with only a pause timeout. */
int pcmig_set_params(int fd, struct pcmig_params *p);
int pcmig_set_pause_timeout(int fd, uint32_t timeout_ms);
/* CLOCK_MONOTONIC in nanoseconds, the clock of paused_at_ns. */
uint64_t pcmig_monotonic_ns(void);
int pcmig_destroy(int fd);
int pcmig_get_status(int fd, struct pcmig_status *st);

const char *pcmig_state_name(uint32_t state);
const char *pcmig_reason_name(uint32_t reason);

/* Path of a session's node. */
void pcmig_node_path(char *buf, size_t len, uint32_t id);

/*
 * Poll PCMIG_IOC_STATUS until @field (a __u64 member) is at least @min, or
 * the state is @state, or the deadline passes. 0 or -ETIMEDOUT (@st then
 * holds the last status; pcmig_lib_error() says what was awaited).
 */
int pcmig_wait_u64(int fd, size_t field, uint64_t min, int timeout_ms,
		   struct pcmig_status *st);
#define PCMIG_WAIT_FIELD(fd, field, min, ms, st)			\
	pcmig_wait_u64(fd, offsetof(struct pcmig_status, field), min, ms, st)
int pcmig_wait_state(int fd, uint32_t state, int timeout_ms,
		     struct pcmig_status *st);

/*
 * status.faults (faults that found their page missing) now, or 0. Wait for
 * it to pass base + n to know that n more faults are under way; the module
 * counts faults_blocked when a wait ends.
 */
uint64_t pcmig_faults(int fd);
#define PCMIG_WAIT_FAULTS(fd, base, n, st)				\
	PCMIG_WAIT_FIELD(fd, faults, (base) + (n), PCMIG_WAIT_MS, st)

/* Sleep @ms milliseconds. */
void pcmig_msleep(unsigned int ms);

/*
 * Child processes. pcmig_wait_child() waits up to @timeout_ms for @pid:
 * 0 and @status filled if it ended, -ETIMEDOUT if it still runs.
 * pcmig_kill_child() kills (SIGKILL) and reaps it. Both accept pid <= 0.
 */
int pcmig_wait_child(pid_t pid, int timeout_ms, int *status);
void pcmig_kill_child(pid_t pid);
/*
 * A wait status, or -1 for a child that has not ended (pcmig_env_reap()):
 * exited with 0, killed by @sig, and as text ("exit 3", "signal 7 (Bus
 * error)", "still running" etc.).
 */
bool pcmig_exited_ok(int status);
bool pcmig_died_of(int status, int sig);
const char *pcmig_status_str(int status);

/*
 * Fork a child that reads pages [first, first + n) of @map and compares
 * each with the pattern of @seed (or zero if @zero): exits 0 if all match,
 * 1 on a mismatch. A fault that fails kills it with SIGBUS.
 */
pid_t pcmig_fork_check(const void *map, uint64_t first, uint64_t n,
		       uint64_t seed, bool zero);

/*
 * Readers: a child process running @nthreads threads, thread t reading
 * every page of [first, first + n) of @map in its own random order (or in
 * order if @shuffle is false) and comparing each byte for byte with the
 * pattern of @seed. Results come back through shared memory.
 */
struct pcmig_reader_result {
	uint64_t checked;
	uint64_t bad;
	int64_t first_bad_page;
	int64_t first_bad_offset;
	bool done;
};

struct pcmig_readers {
	pid_t pid;
	unsigned int nthreads;
	struct pcmig_reader_result *res;	/* shared, nthreads entries */
	int status;
};

int pcmig_readers_start(struct pcmig_readers *r, const void *map,
			uint64_t first, uint64_t n, uint64_t seed,
			unsigned int nthreads, bool shuffle,
			uint64_t shuffle_seed);
/* 0 when the child exited (see r->status and r->res), -ETIMEDOUT (killed). */
int pcmig_readers_wait(struct pcmig_readers *r, int timeout_ms);
void pcmig_readers_cleanup(struct pcmig_readers *r);

/* A value from /proc/meminfo in KiB ("Shmem"), or -1. */
long pcmig_meminfo_kb(const char *key);
/* /sys/module/pcmig/refcnt, or -1. */
long pcmig_module_refcnt(void);
/* delete_module(2): 0 or -1 with errno set. */
int pcmig_delete_module(const char *name, unsigned int flags);
/*
 * The VmFlags line of the /proc/self/smaps entry that starts at @addr,
 * copied to @buf; 0 or -ENOENT.
 */
int pcmig_smaps_vmflags(const void *addr, char *buf, size_t len);
bool pcmig_vmflags_has(const char *vmflags, const char *flag);

/*
 * A test environment: a session, a mapping of all of it, a page source on
 * the session's channel(s), an event listener and children to reap.
 */
#define PCMIG_ENV_MAX_KIDS	8

struct pcmig_env {
	int ctl;
	int fd;			/* session file, -1 if none */
	uint32_t id;
	char name[PCMIG_NAME_LEN];
	uint64_t size;
	uint64_t npages;
	uint8_t *map;		/* MAP_SHARED mapping of the whole session */
	bool destroyed;
	struct pcmig_source *src;
	struct pcmig_events *ev;
	pid_t kids[PCMIG_ENV_MAX_KIDS];
	uint64_t seed;
};

struct pcmig_env_opts {
	uint64_t npages;
	enum pcmig_transport transport;
	bool split;		/* separate urgent and bulk sockets */
	bool no_source;		/* create and map only */
	bool listen;		/* SET_STATE(LISTEN) after the attach */
	bool events;		/* open an event listener first */
	uint32_t flags;		/* PCMIG_CREATE_F_* */
	uint64_t seed;
	const char *tag;	/* part of the session name */
};

/* Zero @env so that cleanup is safe before setup. */
void pcmig_env_init(struct pcmig_env *env);
int pcmig_env_setup(struct pcmig_env *env, const struct pcmig_env_opts *o);
/*
 * Attach a new source on fresh socket(s) (after RECOVER, say); the old
 * source, if any, is freed first.
 */
int pcmig_env_new_source(struct pcmig_env *env, enum pcmig_transport t,
			 bool split, uint64_t seed);
/* Destroy, reap children, stop the source, unmap, close everything. */
void pcmig_env_cleanup(struct pcmig_env *env);
/* Remember a child for cleanup; returns @pid. */
pid_t pcmig_env_kid(struct pcmig_env *env, pid_t pid);
/* Forget (after reaping it) a child. */
void pcmig_env_forget(struct pcmig_env *env, pid_t pid);
/*
 * Wait up to @timeout_ms for the child @pid and forget it: its wait status,
 * or -1 if it still runs (it stays remembered then).
 */
int pcmig_env_reap(struct pcmig_env *env, pid_t pid, int timeout_ms);
/* Destroy now (status stays readable); 0 or -errno. */
int pcmig_env_destroy(struct pcmig_env *env);
int pcmig_env_status(struct pcmig_env *env, struct pcmig_status *st);
/* pcmig_readers_wait() for readers registered with pcmig_env_kid(). */
int pcmig_env_readers_wait(struct pcmig_env *env, struct pcmig_readers *r,
			   int timeout_ms);
/*
 * Compare pages [first, first + n) of the mapping with @seed's pattern in
 * this process: -1 if they match, else the first bad page (and @off).
 */
int64_t pcmig_env_check(struct pcmig_env *env, uint64_t first, uint64_t n,
			uint64_t seed, long *off);

/*
 * Leak guard: call from a constructor of a test program. When the harness
 * process exits, any session still alive is destroyed through netlink and
 * reported, so that a test killed by its timeout does not keep pcmig.ko
 * loaded.
 */
void pcmig_leak_guard_install(void);

#endif /* _PCMIG_SESSION_H */
