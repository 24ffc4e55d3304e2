// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: session helpers and the test environment (see
 * pcmig_session.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pcmig_session.h"

int pcmig_ctl_open(void)
{
	int fd = open(PCMIG_CTL_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		pcmig_lib_set_error("open %s: %s", PCMIG_CTL_PATH,
				    strerror(errno));
		return -errno;
	}
	return fd;
}

int pcmig_create_raw(int ctl, struct pcmig_create *c)
{
	int fd = ioctl(ctl, PCMIG_IOC_CREATE, c);

	if (fd < 0) {
		pcmig_lib_set_error("PCMIG_IOC_CREATE: %s", strerror(errno));
		return -errno;
	}
	return fd;
}

int pcmig_create(int ctl, uint64_t size, uint32_t flags, const char *name,
		 uint32_t *id)
{
	struct pcmig_create c;
	int fd;

	memset(&c, 0, sizeof(c));
	c.size = size;
	c.page_size = PCMIG_PS;
	c.flags = flags;
	if (name)
		memcpy(c.name, name, strnlen(name, sizeof(c.name)));
	fd = pcmig_create_raw(ctl, &c);
	if (fd >= 0 && id)
		*id = c.id;
	return fd;
}

static int ret_errno(int r, const char *what)
{
	if (r >= 0)
		return 0;
	pcmig_lib_set_error("%s: %s", what, strerror(errno));
	return -errno;
}

int pcmig_attach(int fd, int sock, uint32_t channels)
{
	struct pcmig_attach a;

	memset(&a, 0, sizeof(a));
	a.fd = sock;
	a.channels = channels;
	return ret_errno(ioctl(fd, PCMIG_IOC_ATTACH, &a), "PCMIG_IOC_ATTACH");
}

int pcmig_set_state(int fd, uint32_t state)
{
	struct pcmig_set_state s;

	memset(&s, 0, sizeof(s));
	s.state = state;
	return ret_errno(ioctl(fd, PCMIG_IOC_SET_STATE, &s),
			 "PCMIG_IOC_SET_STATE");
}

int pcmig_discard(int fd, uint64_t offset, uint64_t length)
{
	struct pcmig_range r;

	memset(&r, 0, sizeof(r));
	r.offset = offset;
	r.length = length;
	return ret_errno(ioctl(fd, PCMIG_IOC_DISCARD, &r),
			 "PCMIG_IOC_DISCARD");
}

int pcmig_sync(int fd, uint64_t token, uint32_t timeout_ms)
{
	struct pcmig_sync a;

	memset(&a, 0, sizeof(a));
	a.token = token;
	a.timeout_ms = timeout_ms;
	return ret_errno(ioctl(fd, PCMIG_IOC_SYNC, &a), "PCMIG_IOC_SYNC");
}

int pcmig_missing(int fd, struct pcmig_missing *m)
{
	return ret_errno(ioctl(fd, PCMIG_IOC_MISSING, m), "PCMIG_IOC_MISSING");
}

int pcmig_missing_runs(int fd, uint64_t *offset, struct pcmig_extent *ext,
		       uint32_t *count)
{
	struct pcmig_missing m;
	int ret;

	memset(&m, 0, sizeof(m));
	m.offset = *offset;
	m.extents = (uintptr_t)ext;
	m.count = *count;
	ret = pcmig_missing(fd, &m);
	if (!ret) {
		*offset = m.offset;
		*count = m.count;
	}
	return ret;
}

int pcmig_set_params(int fd, struct pcmig_params *p)
{
	return ret_errno(ioctl(fd, PCMIG_IOC_SET_PARAMS, p),
			 "PCMIG_IOC_SET_PARAMS");
}

int pcmig_set_pause_timeout(int fd, uint32_t timeout_ms)
{
	struct pcmig_params p;

	memset(&p, 0, sizeof(p));
	p.pause_timeout_ms = timeout_ms;
	return pcmig_set_params(fd, &p);
}

uint64_t pcmig_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int pcmig_destroy(int fd)
{
	return ret_errno(ioctl(fd, PCMIG_IOC_DESTROY), "PCMIG_IOC_DESTROY");
}

int pcmig_get_status(int fd, struct pcmig_status *st)
{
	memset(st, 0, sizeof(*st));
	return ret_errno(ioctl(fd, PCMIG_IOC_STATUS, st), "PCMIG_IOC_STATUS");
}

const char *pcmig_state_name(uint32_t state)
{
	static const char * const names[] = {
		"NONE", "ADVISE", "DISCARD", "LISTEN", "RUNNING", "END",
		"PAUSED", "RECOVER", "FAILED",
	};

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

const char *pcmig_reason_name(uint32_t reason)
{
	static const char * const names[] = {
		"NONE", "CHANNEL_EOF", "CHANNEL_ERROR", "BAD_MAGIC",
		"BAD_VERSION", "BAD_TYPE", "BAD_FLAGS", "BAD_RANGE",
		"BAD_LENGTH", "NOT_REQUESTED", "DUPLICATE", "INCOMPLETE",
		"ABORTED", "DESTROYED", "USER", "PAUSE_TIMEOUT", "HUGE_PAGE",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

void pcmig_node_path(char *buf, size_t len, uint32_t id)
{
	snprintf(buf, len, "/dev/%s%u", PCMIG_NAME, id);
}

uint64_t pcmig_faults(int fd)
{
	struct pcmig_status st;

	return pcmig_get_status(fd, &st) ? 0 : st.faults;
}

void pcmig_msleep(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void status_error(const struct pcmig_status *st, const char *what)
{
	pcmig_lib_set_error("timed out waiting for %s: state %s reason %s error %d present %llu/%llu requested %llu in_flight %llu faults %llu blocked %llu",
			    what, pcmig_state_name(st->state),
			    pcmig_reason_name(st->reason), st->error,
			    (unsigned long long)st->pages_present,
			    (unsigned long long)st->pages_total,
			    (unsigned long long)st->pages_requested,
			    (unsigned long long)st->in_flight,
			    (unsigned long long)st->faults,
			    (unsigned long long)st->faults_blocked);
}

/*
 * One round of a polling loop that starts with *@nap 1: false once @deadline
 * has passed, else sleep *@nap ms (1, 2, 4 ... 32), double it and go on.
 */
static bool nap_until(uint64_t deadline, unsigned int *nap)
{
	if (pcmig_now_ms() >= deadline)
		return false;
	pcmig_msleep(*nap);
	if (*nap < 20)
		*nap *= 2;
	return true;
}

/*
 * Poll PCMIG_IOC_STATUS of @fd into @st until @reached(@st, @arg) or the
 * deadline: 0, -errno, or -ETIMEDOUT with an error message naming @what.
 */
static int wait_status(int fd, int timeout_ms, struct pcmig_status *st,
		       bool (*reached)(const struct pcmig_status *st,
				       const void *arg),
		       const void *arg, const char *what)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;
	unsigned int nap = 1;

	do {
		if (pcmig_get_status(fd, st))
			return -errno;
		if (reached(st, arg))
			return 0;
	} while (nap_until(deadline, &nap));
	status_error(st, what);
	return -ETIMEDOUT;
}

struct u64_goal {
	size_t field;
	uint64_t min;
};

static bool u64_reached(const struct pcmig_status *st, const void *arg)
{
	const struct u64_goal *g = arg;
	uint64_t v;

	memcpy(&v, (const char *)st + g->field, sizeof(v));
	return v >= g->min;
}

int pcmig_wait_u64(int fd, size_t field, uint64_t min, int timeout_ms,
		   struct pcmig_status *st)
{
	const struct u64_goal g = { .field = field, .min = min };
	char what[64];

	snprintf(what, sizeof(what), "status field @%zu >= %llu", field,
		 (unsigned long long)min);
	return wait_status(fd, timeout_ms, st, u64_reached, &g, what);
}

static bool state_reached(const struct pcmig_status *st, const void *arg)
{
	return st->state == *(const uint32_t *)arg;
}

int pcmig_wait_state(int fd, uint32_t state, int timeout_ms,
		     struct pcmig_status *st)
{
	char what[64];

	snprintf(what, sizeof(what), "state %s", pcmig_state_name(state));
	return wait_status(fd, timeout_ms, st, state_reached, &state, what);
}

/* Children */

int pcmig_wait_child(pid_t pid, int timeout_ms, int *status)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;
	unsigned int nap = 1;
	pid_t r;

	if (pid <= 0)
		return -ECHILD;
	do {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	} while (nap_until(deadline, &nap));
	return -ETIMEDOUT;
}

void pcmig_kill_child(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

bool pcmig_exited_ok(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool pcmig_died_of(int status, int sig)
{
	return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

const char *pcmig_status_str(int status)
{
	static __thread char buf[64];

	if (status < 0)
		return "still running";
	if (WIFEXITED(status))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof(buf), "signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, sizeof(buf), "status 0x%x", status);
	return buf;
}

pid_t pcmig_fork_check(const void *map, uint64_t first, uint64_t n,
		       uint64_t seed, bool zero)
{
	const unsigned char *p = map;
	pid_t pid;
	uint64_t i;

	pid = fork();
	if (pid)
		return pid;
	for (i = first; i < first + n; i++) {
		const unsigned char *pg = p + i * PCMIG_PS;
		long bad = zero ? pcmig_zero_check(pg, PCMIG_PS) :
				  pcmig_pattern_check(pg, PCMIG_PS, seed, i);

		if (bad >= 0)
			_exit(1);
	}
	_exit(0);
}

/* Readers */

struct reader_arg {
	const unsigned char *map;
	uint64_t first, n, seed;
	bool shuffle;
	uint64_t rnd;
	struct pcmig_reader_result *res;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	uint64_t *order = NULL, i;

	if (a->shuffle) {
		order = malloc(a->n * sizeof(*order));
		if (!order) {
			a->res->bad = ~0ULL;
			return NULL;
		}
		for (i = 0; i < a->n; i++)
			order[i] = i;
		for (i = a->n - 1; i > 0; i--) {
			uint64_t j = xorshift(&a->rnd) % (i + 1), t;

			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
	}
	for (i = 0; i < a->n; i++) {
		uint64_t page = a->first + (order ? order[i] : i);
		long bad = pcmig_pattern_check(a->map + page * PCMIG_PS,
					       PCMIG_PS, a->seed, page);

		if (bad >= 0 && !a->res->bad++) {
			a->res->first_bad_page = (int64_t)page;
			a->res->first_bad_offset = bad;
		}
		a->res->checked++;
	}
	a->res->done = true;
	free(order);
	return NULL;
}

int pcmig_readers_start(struct pcmig_readers *r, const void *map,
			uint64_t first, uint64_t n, uint64_t seed,
			unsigned int nthreads, bool shuffle,
			uint64_t shuffle_seed)
{
	size_t len = nthreads * sizeof(*r->res);

	memset(r, 0, sizeof(*r));
	r->pid = -1;
	r->nthreads = nthreads;
	r->res = mmap(NULL, len, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->res == MAP_FAILED) {
		r->res = NULL;
		return -errno;
	}
	memset(r->res, 0, len);
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		struct reader_arg args[64];
		pthread_t th[64];
		unsigned int t;

		if (nthreads > 64)
			_exit(3);
		for (t = 0; t < nthreads; t++) {
			args[t] = (struct reader_arg) {
				.map = map, .first = first, .n = n,
				.seed = seed, .shuffle = shuffle,
				.rnd = shuffle_seed * 0x9e3779b97f4a7c15ULL +
				       t + 1,
				.res = &r->res[t],
			};
			args[t].res->first_bad_page = -1;
			args[t].res->first_bad_offset = -1;
			if (pthread_create(&th[t], NULL, reader_thread,
					   &args[t]))
				_exit(2);
		}
		for (t = 0; t < nthreads; t++)
			pthread_join(th[t], NULL);
		for (t = 0; t < nthreads; t++)
			if (r->res[t].bad)
				_exit(1);
		_exit(0);
	}
	return 0;
}

int pcmig_readers_wait(struct pcmig_readers *r, int timeout_ms)
{
	int ret = pcmig_wait_child(r->pid, timeout_ms, &r->status);

	if (ret == -ETIMEDOUT) {
		pcmig_kill_child(r->pid);
		pcmig_lib_set_error("readers still running after %d ms",
				    timeout_ms);
	}
	r->pid = -1;
	return ret;
}

int pcmig_env_readers_wait(struct pcmig_env *env, struct pcmig_readers *r,
			   int timeout_ms)
{
	pid_t pid = r->pid;
	int ret = pcmig_readers_wait(r, timeout_ms);

	/* Reaped (or killed and reaped): cleanup must not kill it again. */
	pcmig_env_forget(env, pid);
	return ret;
}

void pcmig_readers_cleanup(struct pcmig_readers *r)
{
	if (r->pid > 0)
		pcmig_kill_child(r->pid);
	r->pid = -1;
	if (r->res)
		munmap(r->res, r->nthreads * sizeof(*r->res));
	r->res = NULL;
}

/* /proc and /sys */

long pcmig_meminfo_kb(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			v = strtol(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

long pcmig_module_refcnt(void)
{
	char buf[32];
	long v = -1;
	FILE *f;

	f = fopen("/sys/module/pcmig/refcnt", "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

int pcmig_delete_module(const char *name, unsigned int flags)
{
	return syscall(__NR_delete_module, name, flags);
}

int pcmig_smaps_vmflags(const void *addr, char *buf, size_t len)
{
	unsigned long start = (unsigned long)addr, s, e;
	char line[512];
	bool in = false;
	FILE *f;
	int ret = -ENOENT;

	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = s == start;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(buf, len, "%s", line + 8);
			buf[strcspn(buf, "\n")] = '\0';
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

bool pcmig_vmflags_has(const char *vmflags, const char *flag)
{
	const char *p = vmflags;
	size_t fl = strlen(flag);

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, flag, fl) && (p[fl] == ' ' || !p[fl]))
			return true;
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

/* Environment */

void pcmig_env_init(struct pcmig_env *env)
{
	memset(env, 0, sizeof(*env));
	env->ctl = -1;
	env->fd = -1;
}

pid_t pcmig_env_kid(struct pcmig_env *env, pid_t pid)
{
	int i;

	if (pid <= 0)
		return pid;
	for (i = 0; i < PCMIG_ENV_MAX_KIDS; i++) {
		if (env->kids[i] <= 0) {
			env->kids[i] = pid;
			return pid;
		}
	}
	return pid;
}

void pcmig_env_forget(struct pcmig_env *env, pid_t pid)
{
	int i;

	for (i = 0; i < PCMIG_ENV_MAX_KIDS; i++)
		if (env->kids[i] == pid)
			env->kids[i] = 0;
}

int pcmig_env_reap(struct pcmig_env *env, pid_t pid, int timeout_ms)
{
	int status;

	if (pcmig_wait_child(pid, timeout_ms, &status))
		return -1;
	pcmig_env_forget(env, pid);
	return status;
}

int pcmig_env_new_source(struct pcmig_env *env, enum pcmig_transport t,
			 bool split, uint64_t seed)
{
	int u[2] = { -1, -1 }, b[2] = { -1, -1 }, ret;

	pcmig_source_free(env->src);
	env->src = NULL;
	ret = pcmig_stream_pair(t, u);
	if (ret)
		return ret;
	if (split) {
		ret = pcmig_stream_pair(t, b);
		if (ret)
			goto fail;
		ret = pcmig_attach(env->fd, u[0], PCMIG_CHANNEL_URGENT);
		if (!ret)
			ret = pcmig_attach(env->fd, b[0], PCMIG_CHANNEL_BULK);
	} else {
		ret = pcmig_attach(env->fd, u[0], PCMIG_CHANNELS_ALL);
	}
	if (ret)
		goto fail;
	/* The session holds its own references. */
	close(u[0]);
	if (b[0] >= 0)
		close(b[0]);
	env->src = pcmig_source_start(u[1], b[1], env->size, PCMIG_PS, seed);
	if (!env->src) {
		close(u[1]);
		if (b[1] >= 0)
			close(b[1]);
		return -ENOMEM;
	}
	return 0;
fail:
	close(u[0]);
	close(u[1]);
	if (b[0] >= 0) {
		close(b[0]);
		close(b[1]);
	}
	return ret;
}

int pcmig_env_setup(struct pcmig_env *env, const struct pcmig_env_opts *o)
{
	static unsigned int serial;
	int ret;

	env->size = o->npages * PCMIG_PS;
	env->npages = o->npages;
	env->seed = o->seed;
	if (o->events) {
		env->ev = pcmig_events_open();
		if (!env->ev)
			return -ENOENT;
	}
	env->ctl = pcmig_ctl_open();
	if (env->ctl < 0)
		return env->ctl;
	snprintf(env->name, sizeof(env->name), PCMIG_ST_PREFIX "%.8s-%d-%u",
		 o->tag ? o->tag : "t", (int)getpid(), serial++);
	env->fd = pcmig_create(env->ctl, env->size, o->flags, env->name,
			       &env->id);
	if (env->fd < 0) {
		ret = env->fd;
		env->fd = -1;
		return ret;
	}
	env->map = mmap(NULL, env->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			env->fd, 0);
	if (env->map == MAP_FAILED) {
		env->map = NULL;
		pcmig_lib_set_error("mmap session: %s", strerror(errno));
		return -errno;
	}
	if (o->no_source)
		return 0;
	ret = pcmig_env_new_source(env, o->transport, o->split, o->seed);
	if (ret)
		return ret;
	if (o->listen)
		return pcmig_set_state(env->fd, PCMIG_STATE_LISTEN);
	return 0;
}

int pcmig_env_destroy(struct pcmig_env *env)
{
	int ret;

	if (env->fd < 0)
		return -EBADF;
	ret = pcmig_destroy(env->fd);
	if (!ret)
		env->destroyed = true;
	return ret;
}

int pcmig_env_status(struct pcmig_env *env, struct pcmig_status *st)
{
	return pcmig_get_status(env->fd, st);
}

int64_t pcmig_env_check(struct pcmig_env *env, uint64_t first, uint64_t n,
			uint64_t seed, long *off)
{
	uint64_t i;

	for (i = first; i < first + n; i++) {
		long bad = pcmig_pattern_check(env->map + i * PCMIG_PS,
					       PCMIG_PS, seed, i);

		if (bad >= 0) {
			if (off)
				*off = bad;
			return (int64_t)i;
		}
	}
	return -1;
}

void pcmig_env_cleanup(struct pcmig_env *env)
{
	int i;

	if (env->fd >= 0 && !env->destroyed)
		pcmig_destroy(env->fd);
	env->destroyed = true;
	for (i = 0; i < PCMIG_ENV_MAX_KIDS; i++) {
		pcmig_kill_child(env->kids[i]);
		env->kids[i] = 0;
	}
	pcmig_source_free(env->src);
	env->src = NULL;
	if (env->map)
		munmap(env->map, env->size);
	env->map = NULL;
	if (env->fd >= 0)
		close(env->fd);
	env->fd = -1;
	if (env->ctl >= 0)
		close(env->ctl);
	env->ctl = -1;
	pcmig_events_close(env->ev);
	env->ev = NULL;
}

/* Leak guard */

static pid_t guard_pid;

static void leak_guard(void)
{
	struct pcmig_nl_session s[64];
	unsigned int n = 0, i;

	if (getpid() != guard_pid)
		return;
	if (pcmig_genl_session_dump(s, 64, &n))
		return;
	for (i = 0; i < n && i < 64; i++) {
		printf("# leak guard: session %u (\"%s\", %s) still alive, destroying it\n",
		       s[i].id, s[i].name, pcmig_state_name(s[i].state));
		pcmig_genl_session_destroy(s[i].id);
	}
	fflush(stdout);
}

void pcmig_leak_guard_install(void)
{
	if (guard_pid)
		return;
	guard_pid = getpid();
	atexit(leak_guard);
}
