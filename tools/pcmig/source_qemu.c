// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: "pcmig-tool migrate --qemu-qmp PATH", the source QEMU driven
 * over its QMP socket (Documentation/qemu.rst).
 *
 * Before connecting to the destination, src_qemu_open() checks the VM: its
 * run state, that no migration of QEMU's own runs, and that its shared
 * memory backends are exactly the --ram blocks (same ids, sizes, and for
 * memory-backend-file the same file): with x-ignore-shared, QEMU leaves
 * shared backends out of its stream, so a shared backend missing from
 * --ram would not be migrated at all.
 *
 * After ADVISE, src_qemu_save() stops the VM, sets x-ignore-shared and
 * runs QEMU's migration into a pipe whose write end QEMU got with "getfd"
 * (SCM_RIGHTS on the QMP socket): "migrate fd:NAME". The device state is
 * read from the pipe straight into memory, until QEMU reports the
 * migration completed; it then goes out as the package.
 *
 * If anything fails before the package went out whole, src_qemu_abort()
 * cancels QEMU's migration and resumes the VM if we stopped it: the VM
 * still runs at the source. After the package, the VM runs at the
 * destination and the source QEMU stays stopped (status postmigrate).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "qmp.h"
#include "source_int.h"

#define STATE_FDNAME	"pcmig-state"
#define STATE_PIPE_SIZE	(1 << 20)	/* asked for, best effort */
#define MIG_POLL_MS	50		/* query-migrate while it ends */

/* QEMU run states a VM can be migrated from. */
static const char * const movable[] = {
	"running", "paused", "prelaunch", "suspended",
};

/* QEMU's migration states in which no migration is under way. */
static const char * const idle[] = {
	"none", "completed", "failed", "cancelled",
};

static bool in(const char *s, const char * const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* The command's error as a failure of the migration. */
static int qfail(struct src *s, const char *what)
{
	src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL, "QEMU: %s: %s", what,
		 s->qmp->err);
	return -1;
}

/* "status" of query-status (and "running" in @running). */
static int run_state(struct src *s, char *buf, size_t len, bool *running)
{
	struct qmp_reply r;
	int ret;

	ret = qmp_exec(s->qmp, "query-status", NULL, -1, s->timeout_ms, &r);
	if (ret)
		return qfail(s, "query-status");
	if (json_string(&r.doc, json_get(&r.doc, r.ret, "status"), buf, len) ||
	    json_bool(&r.doc, json_get(&r.doc, r.ret, "running"), running)) {
		qmp_reply_free(&r);
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "QEMU: query-status: no status in the reply");
		return -1;
	}
	qmp_reply_free(&r);
	return 0;
}

/*
 * "status" of query-migrate ("none" before any), and in @desc its
 * "error-desc" if it failed, or else what blocks a migration
 * ("blocked-reasons", joined with "; "), or "".
 */
static int mig_state(struct src *s, char *buf, size_t len, char *desc,
		     size_t dlen)
{
	char reason[256];
	struct qmp_reply r;
	int t, b, i;

	if (qmp_exec(s->qmp, "query-migrate", NULL, -1, s->timeout_ms, &r))
		return qfail(s, "query-migrate");
	t = json_get(&r.doc, r.ret, "status");
	if (t < 0)
		snprintf(buf, len, "none");
	else
		json_string(&r.doc, t, buf, len);
	if (desc && json_string(&r.doc, json_get(&r.doc, r.ret, "error-desc"),
				desc, dlen) == -EINVAL) {
		desc[0] = '\0';
		b = json_get(&r.doc, r.ret, "blocked-reasons");
		for (i = 0; (t = json_elem(&r.doc, b, i)) >= 0; i++) {
			json_string(&r.doc, t, reason, sizeof(reason));
			snprintf(desc + strlen(desc), dlen - strlen(desc),
				 "%s%s", desc[0] ? "; " : "", reason);
		}
	}
	qmp_reply_free(&r);
	return 0;
}

/* For memory-backend-file NAME: its file is @b's (when QEMU says). */
static int check_file(struct src *s, const struct src_block *b)
{
	char args[256], path[4096];
	struct stat a, q;
	struct qmp_reply r;
	int n;

	n = snprintf(args, sizeof(args),
		     "{\"path\":\"/objects/%s\",\"property\":\"mem-path\"}",
		     b->ram.block.name);
	if (n < 0 || (size_t)n >= sizeof(args))
		return 0;
	/* Not a file backend (memfd, ram): nothing to compare. */
	if (qmp_exec(s->qmp, "qom-get", args, -1, s->timeout_ms, &r))
		return s->qmp->err_class[0] ? 0 : qfail(s, "qom-get");
	n = json_string(&r.doc, r.ret, path, sizeof(path));
	qmp_reply_free(&r);
	if (n)
		return 0;
	if (stat(path, &q) || fstat(b->fd, &a))
		return 0;	/* QEMU's view of the file system may differ */
	if (a.st_dev != q.st_dev || a.st_ino != q.st_ino) {
		src_fail(s, PCMIG_ERR_ABORTED, 0,
			 "--ram %s=%s: QEMU's backend '%s' maps another file, %s",
			 b->ram.block.name, b->ram.path, b->ram.block.name,
			 path);
		return -1;
	}
	return 0;
}

/* The shared memory backends are the --ram blocks, and only they. */
static int check_memdevs(struct src *s)
{
	char id[PCMIG_BLOCK_NAME_LEN + 64], ids[512] = "", a[PCMIG_FMT_LEN];
	char b2[PCMIG_FMT_LEN];
	bool share, found[PCMIG_MAX_BLOCKS] = { false };
	struct qmp_reply r;
	uint64_t size;
	uint32_t i;
	int m, e;

	if (qmp_exec(s->qmp, "query-memdev", NULL, -1, s->timeout_ms, &r))
		return qfail(s, "query-memdev");
	for (m = 0; (e = json_elem(&r.doc, r.ret, m)) >= 0; m++) {
		if (json_string(&r.doc, json_get(&r.doc, e, "id"), id,
				sizeof(id)) ||
		    json_u64(&r.doc, json_get(&r.doc, e, "size"), &size) ||
		    json_bool(&r.doc, json_get(&r.doc, e, "share"), &share))
			continue;
		snprintf(ids + strlen(ids), sizeof(ids) - strlen(ids), "%s%s",
			 ids[0] ? ", " : "", id);
		for (i = 0; i < s->nblocks; i++)
			if (!strcmp(id, s->blocks[i].ram.block.name))
				break;
		if (i == s->nblocks) {
			if (!share)
				continue;
			src_fail(s, PCMIG_ERR_ABORTED, 0,
				 "QEMU's shared memory backend '%s' (%s) is not a --ram block: x-ignore-shared leaves it out of QEMU's stream, so it would not be migrated; add --ram %s=FILE",
				 id, pcmig_fmt_size(size, a, sizeof(a)), id);
			goto fail;
		}
		if (!share) {
			src_fail(s, PCMIG_ERR_ABORTED, 0,
				 "--ram %s: QEMU's backend '%s' is not shared (share=on): its RAM would go in QEMU's stream too",
				 id, id);
			goto fail;
		}
		if (size != s->blocks[i].ram.block.size) {
			src_fail(s, PCMIG_ERR_ABORTED, 0,
				 "--ram %s=%s: the file has %s, QEMU's backend '%s' %s",
				 id, s->blocks[i].ram.path,
				 pcmig_fmt_size(s->blocks[i].ram.block.size, a,
						sizeof(a)),
				 id, pcmig_fmt_size(size, b2, sizeof(b2)));
			goto fail;
		}
		found[i] = true;
	}
	qmp_reply_free(&r);
	for (i = 0; i < s->nblocks; i++) {
		if (!found[i]) {
			src_fail(s, PCMIG_ERR_ABORTED, 0,
				 "--ram %s: QEMU has no memory backend '%s' (its backends: %s)",
				 s->blocks[i].ram.block.name,
				 s->blocks[i].ram.block.name,
				 ids[0] ? ids : "none");
			return -1;
		}
		if (check_file(s, &s->blocks[i]))
			return -1;
	}
	return 0;
fail:
	qmp_reply_free(&r);
	return -1;
}

/**
 * src_qemu_open() - connect to the VM's QEMU and check it can be migrated
 * @s: the migration, its RAM files open (for their sizes)
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_qemu_open(struct src *s)
{
	char st[64], mst[64], why[QMP_ERR_LEN];
	bool running;

	s->qmp = calloc(1, sizeof(*s->qmp));
	if (!s->qmp) {
		src_fail(s, PCMIG_ERR_INTERNAL, 0, "out of memory");
		return -1;
	}
	qmp_init(s->qmp);
	if (qmp_connect(s->qmp, s->qemu_qmp, s->timeout_ms)) {
		src_fail(s, PCMIG_ERR_ABORTED, 0, "QEMU: %s", s->qmp->err);
		return -1;
	}
	if (run_state(s, st, sizeof(st), &running))
		return -1;
	if (!in(st, movable, ARRAY_SIZE(movable))) {
		src_fail(s, PCMIG_ERR_ABORTED, 0,
			 "QEMU's VM cannot be migrated in its state '%s'", st);
		return -1;
	}
	if (mig_state(s, mst, sizeof(mst), why, sizeof(why)))
		return -1;
	if (!in(mst, idle, ARRAY_SIZE(idle))) {
		src_fail(s, PCMIG_ERR_ABORTED, 0,
			 "QEMU is migrating already (migration status '%s')",
			 mst);
		return -1;
	}
	if (check_memdevs(s))
		return -1;
	if (!strcmp(mst, "none") && why[0]) {
		src_fail(s, PCMIG_ERR_ABORTED, 0,
			 "QEMU cannot migrate this VM: %s", why);
		return -1;
	}
	src_msg(s, "QEMU %s at %s: VM %s, %u shared memory backend%s checked",
		s->qmp->version, s->qemu_qmp, st, s->nblocks,
		s->nblocks == 1 ? "" : "s");
	return 0;
}

/* A signal on the migration's signalfd: the operator aborts. */
static bool signalled(struct src *s)
{
	const char *sig = src_signal(s);

	if (sig)
		src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
			 "%s: migration aborted by the source", sig);
	return sig;
}

/* QEMU's stream through the pipe @fd into @state, to its end. */
static int read_stream(struct src *s, int fd, uint8_t **state, size_t *len)
{
	size_t cap = 0, max = PCMIG_MAX_PACKAGE - pcmig_package_len(0);
	uint64_t quiet_since = src_now_ns(), before;
	struct pollfd p[2] = {
		{ .fd = fd, .events = POLLIN },
		{ .fd = s->sigfd, .events = POLLIN },
	};
	int ret;

	*state = NULL;
	*len = 0;
	for (;;) {
		before = *len;
		ret = src_read_more(fd, state, len, &cap, max);
		if (ret > 0)
			return 0;
		if (ret < 0) {
			if (ret == -EFBIG)
				src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
					 "QEMU: device state larger than %zu bytes",
					 max);
			else
				src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
					 "QEMU: reading the device state: %s",
					 strerror(-ret));
			return -1;
		}
		if (*len > before)
			quiet_since = src_now_ns();
		if (src_now_ns() - quiet_since >=
		    (uint64_t)s->timeout_ms * 1000000ULL) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
				 "QEMU: no device state for %g s (%zu bytes so far)",
				 s->timeout_ms / 1000.0, *len);
			return -1;
		}
		ret = poll(p, s->sigfd >= 0 ? 2 : 1, 100);
		if (ret > 0 && p[1].revents && signalled(s))
			return -1;
	}
}

/* Wait until QEMU's migration is no longer under way. */
static int mig_end(struct src *s, char *st, size_t len)
{
	uint64_t deadline = src_now_ns() + s->timeout_ms * 1000000ULL;
	char desc[QMP_ERR_LEN];

	for (;;) {
		if (mig_state(s, st, len, desc, sizeof(desc)))
			return -1;
		if (!strcmp(st, "completed"))
			return 0;
		if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
				 "QEMU's migration %s: %s", st,
				 desc[0] ? desc : "no error description");
			return -1;
		}
		if (src_now_ns() > deadline) {
			src_fail(s, PCMIG_ERR_ABORTED, FAIL_TELL,
				 "QEMU's migration still '%s' %g s after its stream ended",
				 st, s->timeout_ms / 1000.0);
			return -1;
		}
		poll(NULL, 0, MIG_POLL_MS);
	}
}

/**
 * src_qemu_save() - stop the VM and take its device state from QEMU
 * @s: the migration
 * @state: the state, malloc()ed
 * @len: its length
 *
 * Return: 0, or -1 (recorded with src_fail()).
 */
int src_qemu_save(struct src *s, uint8_t **state, size_t *len)
{
	uint64_t t0 = src_now_ns(), t_stop;
	char st[64], args[128];
	int fds[2], ret;
	bool running;

	*state = NULL;
	if (run_state(s, st, sizeof(st), &running))
		return -1;
	if (running) {
		if (qmp_exec(s->qmp, "stop", NULL, -1, s->timeout_ms, NULL))
			return qfail(s, "stop");
		s->qemu_stopped = true;
	}
	t_stop = src_now_ns();
	if (qmp_exec(s->qmp, "migrate-set-capabilities",
		     "{\"capabilities\":[{\"capability\":\"x-ignore-shared\",\"state\":true}]}",
		     -1, s->timeout_ms, NULL))
		return qfail(s, "migrate-set-capabilities x-ignore-shared");
	if (pipe2(fds, O_CLOEXEC)) {
		src_fail(s, PCMIG_ERR_INTERNAL, FAIL_TELL, "pipe: %s",
			 strerror(errno));
		return -1;
	}
	fcntl(fds[1], F_SETPIPE_SZ, STATE_PIPE_SIZE);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	ret = qmp_exec(s->qmp, "getfd", "{\"fdname\":\"" STATE_FDNAME "\"}",
		       fds[1], s->timeout_ms, NULL);
	close(fds[1]);
	if (ret) {
		close(fds[0]);
		return qfail(s, "getfd");
	}
	snprintf(args, sizeof(args), "{\"uri\":\"fd:%s\"}", STATE_FDNAME);
	if (qmp_exec(s->qmp, "migrate", args, -1, s->timeout_ms, NULL)) {
		close(fds[0]);
		ret = qfail(s, "migrate");
		qmp_exec(s->qmp, "closefd",
			 "{\"fdname\":\"" STATE_FDNAME "\"}", -1,
			 s->timeout_ms, NULL);
		return ret;
	}
	s->qemu_migrating = true;
	ret = read_stream(s, fds[0], state, len);
	close(fds[0]);
	if (ret || mig_end(s, st, sizeof(st))) {
		free(*state);
		*state = NULL;
		return -1;
	}
	s->qemu_migrating = false;
	src_msg(s, "QEMU: VM %s, device state saved: %zu bytes in %" PRIu64 " ms (x-ignore-shared: the RAM goes through pcmig)",
		s->qemu_stopped ? "stopped" : "was not running", *len,
		(src_now_ns() - t_stop) / 1000000);
	if (s->json) {
		printf("{\"event\":\"qemu\",\"seconds\":%.3f,\"action\":\"saved\","
		       "\"version\":\"%s\",\"state_bytes\":%zu,\"stop_ms\":%" PRIu64 ","
		       "\"save_ms\":%" PRIu64 "}\n",
		       s->t_start ? (double)(src_now_ns() - s->t_start) /
		       NSEC_PER_SEC : 0.0, s->qmp->version, *len,
		       (t_stop - t0) / 1000000,
		       (src_now_ns() - t_stop) / 1000000);
		fflush(stdout);
	}
	return 0;
}

/**
 * src_qemu_abort() - after a failure: the VM runs on at the source
 * @s: the migration, failed
 *
 * A migration of QEMU's own still under way is cancelled; a VM we stopped
 * is resumed, unless the package went out (the VM may then run at the
 * destination: two copies must never run).
 */
void src_qemu_abort(struct src *s)
{
	if (!s->qmp || s->qmp->fd < 0)
		return;
	if (s->qemu_migrating &&
	    qmp_exec(s->qmp, "migrate_cancel", NULL, -1, s->timeout_ms, NULL))
		fprintf(stderr, "pcmig-tool: migrate: QEMU: migrate_cancel: %s\n",
			s->qmp->err);
	if (!s->qemu_stopped)
		return;
	if (s->packaged_ok) {
		fprintf(stderr, "pcmig-tool: migrate: QEMU: the VM stays stopped here: it runs at the destination\n");
		return;
	}
	if (s->package_sent) {
		fprintf(stderr, "pcmig-tool: migrate: QEMU: the VM stays stopped here: its device state went to the destination, which did not confirm running it (no PACKAGED_OK); if the destination's QEMU never ran the VM (it says so), resume it here with QMP 'cont'\n");
		return;
	}
	if (qmp_exec(s->qmp, "cont", NULL, -1, s->timeout_ms, NULL)) {
		fprintf(stderr, "pcmig-tool: migrate: QEMU: cannot resume the VM at the source: %s\n",
			s->qmp->err);
		return;
	}
	s->qemu_stopped = false;
	src_msg(s, "QEMU: the VM runs again at the source");
	if (s->json) {
		printf("{\"event\":\"qemu\",\"action\":\"resumed\"}\n");
		fflush(stdout);
	}
}

/**
 * src_qemu_close() - close the QMP connection
 * @s: the migration
 */
void src_qemu_close(struct src *s)
{
	if (!s->qmp)
		return;
	qmp_close(s->qmp);
	free(s->qmp);
	s->qmp = NULL;
}
