// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: a real QEMU migrated with pcmig (Documentation/qemu.rst).
 *
 * The VM is build/pcmig-memcheck.elf (tools/guest/memcheck.c), booted by
 * qemu-system-x86_64 -accel tcg with 64 MiB of RAM in a shared
 * memory-backend-file: it fills its memory with per-page patterns, then
 * counts rounds, each checking and rewriting 4 MiB (2-6 MiB) and checking
 * 8 MiB of the rest, printing "memcheck: round N ok" (or BAD lines) on its
 * serial port. "pcmig-tool migrate --qemu-qmp" in one network namespace
 * sends it to "pcmig-tool incoming --qemu -- qemu-system-x86_64 ..." in
 * another:
 *
 * qemu.migrates_running_guest   the VM goes on counting at the destination
 *	from the source's next round (it did not boot again), no BAD page,
 *	pages requested by its faults while the push was slowed, and after
 *	END every page it did not write since (0-1 MiB, 6-64 MiB) equals the
 *	source's RAM file byte for byte; QEMU outlives incoming.
 * qemu.load_failure_quotes_qemu   the destination QEMU cannot load the
 *	state (a device only the source has): incoming fails with QEMU's own
 *	words, the source keeps its VM stopped (the state went out) and says
 *	how to resume it; the destination QEMU is gone.
 * qemu.load_failure_after_qmp_closed   the same failure from a fake QEMU
 *	that closes QMP 3 s before it exits (the race that said "Broken
 *	pipe"): incoming waits for the exit and quotes QEMU.
 * qemu.source_resumes_vm_after_failure   QEMU's migrate fails after the
 *	VM was stopped (injected by a QMP proxy between the tool and QEMU):
 *	the tool resumes the VM, which counts rounds again; the destination's
 *	QEMU, started at ADVISE, is stopped.
 * qemu.steps_advise_listen_run   the same with the destination's steps:
 *	QEMU starts at advise (its output in DIR/qemu.log), loads the state
 *	at listen and stays paused, runs at run; it outlives the daemon.
 * qemu.dest_qemu_gives_memory_back   4 MiB punched through the destination
 *	QEMU's descriptor of the session file at ADVISE: pages_punched, zero
 *	and never fetched, the guest runs on without a BAD page.
 * qemu.source_refuses_what_cannot_migrate   a shared memory backend that
 *	is not a --ram block, and a non-migratable device: refused before
 *	anything is sent, with QEMU's reason.
 *
 * After each test no /dev/pcmig* may be anything but a character device
 * (a QEMU given a missing node as mem-path creates a regular file), and
 * every destination QEMU's mem-path is /proc/self/fd/N.
 *
 * $PCMIG_QEMU_VERBOSE=1 logs what every process printed, also on success.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_genl.h"
#include "pcmig_mig.h"
#include "pcmig_proc.h"
#include "pcmig_qemu.h"
#include "pcmig_source.h"

static void __attribute__((constructor)) qemu_test_init(void)
{
	const char *fake = getenv("PCMIG_QEMU_FAKE");

	/* Started as the destination's QEMU by load_failure_after_qmp_closed */
	if (fake)
		_exit(pcmig_fake_qemu(atoi(fake)));
	pcmig_leak_guard_install();
}

#define MIB		(1024 * 1024)
#define RAM_MB		64
#define PS		4096u
/* Deadlines in ms: QEMU under TCG inside a TCG guest is slow. */
#define BOOT_MS		180000	/* the guest's first rounds */
#define MIG_MS		240000	/* a whole migration */
#define FAIL_MS		120000	/* both tools end after a failure */
#define ROUNDS_MS	120000	/* a few more rounds of the guest */
#define PORT		7140

FIXTURE(qemu) {
	char dir[128];
	char ram[160];
	char tool[512];
	char guest[512];
	char qemu[256];
	char key[192];
	char name[32];
	char ns_src[32], ns_dst[32];
	bool netns;
	char addr[64];
	char src_qmp[192], src_serial[192], dst_serial[192], dst_log[192];
	struct pcmig_proc vm, mig, inc, step[2];
	int node_fd;
	void *map;
	struct pcmig_qmp_proxy px;
	char append[32];	/* the guest's command line, or "" */
	char dst_qemu[400];	/* the destination's QEMU, or "" */
};

FIXTURE_SETUP(qemu)
{
	self->node_fd = -1;
	self->vm.what = "source QEMU";
	self->mig.what = "migrate";
	self->inc.what = "incoming";
	self->step[0].what = "listen";
	self->step[1].what = "run";
	self->vm.status = self->mig.status = self->inc.status = -1;
	self->step[0].status = self->step[1].status = -1;
	self->px.lfd = -1;
	pthread_mutex_init(&self->px.lock, NULL);
	ASSERT_EQ(0, access(PCMIG_CTL_PATH, F_OK))
		TH_LOG("%s: %s (is pcmig.ko loaded?)", PCMIG_CTL_PATH,
		       strerror(errno));
	if (!pcmig_file_near("PCMIG_TOOL", "../pcmig-tool", X_OK, self->tool,
			     sizeof(self->tool)))
		SKIP(return, "no pcmig-tool at %.400s", self->tool);
	if (!pcmig_file_near("PCMIG_GUEST", "../pcmig-memcheck.elf", R_OK,
			     self->guest, sizeof(self->guest)))
		SKIP(return, "no guest at %.400s", self->guest);
	if (!pcmig_find_qemu(self->qemu, sizeof(self->qemu)))
		SKIP(return, "no qemu-system-x86_64 in $PATH (make deps)");
	/* QEMU outlives incoming: as an orphan it comes back to us. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	snprintf(self->dir, sizeof(self->dir), "/tmp/pcmig-qemu-%d", getpid());
	snprintf(self->ram, sizeof(self->ram), "/dev/shm/pcmig-qemu-%d.ram",
		 getpid());
	snprintf(self->name, sizeof(self->name), PCMIG_ST_PREFIX "qemu-%d",
		 getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0700));
	snprintf(self->src_qmp, sizeof(self->src_qmp), "%s/src.qmp", self->dir);
	snprintf(self->src_serial, sizeof(self->src_serial), "%s/src.serial",
		 self->dir);
	snprintf(self->dst_serial, sizeof(self->dst_serial), "%s/dst.serial",
		 self->dir);
	snprintf(self->dst_log, sizeof(self->dst_log), "%s/dst-qemu.log",
		 self->dir);

	snprintf(self->key, sizeof(self->key), "%s/key", self->dir);
	ASSERT_EQ(0, pcmig_make_key_file(self->key))
		TH_LOG("%s", pcmig_lib_error());

	snprintf(self->ns_src, sizeof(self->ns_src), "pq-s-%d", getpid());
	snprintf(self->ns_dst, sizeof(self->ns_dst), "pq-d-%d", getpid());
	ASSERT_EQ(0, pcmig_netns_pair(self->ns_src, self->ns_dst,
				      "10.96.0.1", "10.96.0.2"))
		TH_LOG("%s", pcmig_lib_error());
	self->netns = true;
	snprintf(self->addr, sizeof(self->addr), "10.96.0.2:%d", PORT);
}

#define LOG_PROC(p)							\
	TH_LOG("%s: %s\n--- stdout:\n%s--- stderr:\n%s---", (p)->what,	\
	       (p)->status < 0 ? "still running or killed" :		\
	       pcmig_status_str((p)->status),				\
	       (p)->out_text ? (p)->out_text : "",			\
	       (p)->err_text ? (p)->err_text : "")

static void log_file(struct __test_metadata *_metadata, const char *what,
		     const char *path)
{
	char *t = pcmig_read_file(path, NULL);
	size_t n = t ? strlen(t) : 0;

	/* The end of a long file is what tells. */
	TH_LOG("--- %s (%s):\n%s", what, path,
	       t ? t + (n > 3000 ? n - 3000 : 0) : "(none)");
	free(t);
}

FIXTURE_TEARDOWN(qemu)
{
	struct pcmig_proc *ps[] = { &self->vm, &self->mig, &self->inc,
			      &self->step[0], &self->step[1] };
	struct pcmig_nl_session s[64];
	unsigned int i, n = 0;
	char strays[512];

	if (getenv("PCMIG_QEMU_VERBOSE")) {
		for (i = 0; i < 5; i++) {
			if (!ps[i]->out[0])
				continue;
			if (!ps[i]->out_text)
				pcmig_proc_collect(ps[i]);
			LOG_PROC(ps[i]);
		}
		log_file(_metadata, "source serial", self->src_serial);
		log_file(_metadata, "destination serial", self->dst_serial);
		log_file(_metadata, "destination QEMU", self->dst_log);
	}
	pcmig_qmp_proxy_stop(&self->px);
	for (i = 0; i < 5; i++)
		pcmig_proc_free(ps[i]);
	pcmig_kill_children();
	if (self->map)
		munmap(self->map, RAM_MB * MIB);
	if (self->node_fd >= 0)
		close(self->node_fd);
	if (!pcmig_genl_session_dump(s, 64, &n))
		for (i = 0; i < n && i < 64; i++)
			if (!strcmp(s[i].name, self->name))
				pcmig_genl_session_destroy(s[i].id);
	/*
	 * No QEMU may leave a file where a session's node belongs (a missing
	 * mem-path is created): removed, lest it fail every test after.
	 */
	EXPECT_EQ(0, pcmig_dev_strays(strays, sizeof(strays), true))
		TH_LOG("not character devices, removed: %s", strays);
	if (self->netns) {
		pcmig_netns_del(self->ns_src);
		pcmig_netns_del(self->ns_dst);
	}
	if (self->ram[0])
		unlink(self->ram);
	if (self->dir[0])
		pcmig_runl(30000, NULL, 0, "rm", "-rf", self->dir, NULL);
}

/* The arguments both QEMUs share: machine, RAM size, guest, serial. */
static void vm_args(FIXTURE_DATA(qemu) *self, struct pcmig_args *a,
		    const char *serial)
{
	pcmig_arg(a, "-nodefaults");
	pcmig_arg(a, "-display");
	pcmig_arg(a, "none");
	pcmig_arg(a, "-accel");
	pcmig_arg(a, "tcg");
	pcmig_arg(a, "-machine");
	pcmig_arg(a, "pc,memory-backend=m0");
	pcmig_arg(a, "-m");
	pcmig_arg(a, "%dM", RAM_MB);
	pcmig_arg(a, "-kernel");
	pcmig_arg(a, "%s", self->guest);
	pcmig_arg(a, "-serial");
	pcmig_arg(a, "file:%s", serial);
	if (self->append[0]) {
		pcmig_arg(a, "-append");
		pcmig_arg(a, "%s", self->append);
	}
}

static void proc_start(struct __test_metadata *_metadata,
		       FIXTURE_DATA(qemu) *self, struct pcmig_proc *p,
		       struct pcmig_args *a, const char *netns)
{
	struct pcmig_spawn_opts so = { .netns = netns };
	char cmd[4096];

	pcmig_args_str(a, cmd, sizeof(cmd));
	TH_LOG("%s: %s", p->what, cmd);
	ASSERT_LT(0, pcmig_proc_spawn(p, self->dir, a, &so))
		TH_LOG("%s", pcmig_lib_error());
}

#define ASSERT_EXIT(p, code) do {					\
	if (!pcmig_proc_exited_with(p, code))				\
		LOG_PROC(p);						\
	ASSERT_TRUE(pcmig_proc_exited_with(p, code));			\
} while (0)

#define EXPECT_HAS(text, needle) do {					\
	const char *t_ = (text);					\
	EXPECT_TRUE(t_ && strstr(t_, needle))				\
		TH_LOG("no \"%s\" in:\n%s", needle, t_ ? t_ : "(null)"); \
} while (0)

/* The source QEMU with the guest, its RAM in self->ram; @extra args. */
static void start_vm(struct __test_metadata *_metadata,
		     FIXTURE_DATA(qemu) *self, const char *const *extra)
{
	struct pcmig_args a = { .n = 0 };

	pcmig_arg(&a, "%s", self->qemu);
	vm_args(self, &a, self->src_serial);
	pcmig_arg(&a, "-object");
	pcmig_arg(&a, "memory-backend-file,id=m0,mem-path=%s,share=on,size=%dM",
	    self->ram, RAM_MB);
	pcmig_arg(&a, "-qmp");
	pcmig_arg(&a, "unix:%s,server=on,wait=off", self->src_qmp);
	for (; extra && *extra; extra++)
		pcmig_arg(&a, "%s", *extra);
	proc_start(_metadata, self, &self->vm, &a, NULL);
}

/*
 * The destination QEMU @pid runs on the session file it inherited: every
 * mem-path on its command line is /proc/self/fd/N, never a path it could
 * create (such as a session node that is gone). Return: N, or -1.
 */
static int expect_mem_path(struct __test_metadata *_metadata, pid_t pid)
{
	char paths[512];
	int n, fd = -1;

	n = pcmig_qemu_mem_paths(pid, paths, sizeof(paths));
	EXPECT_EQ(1, n) TH_LOG("QEMU %d mem-paths: %s", (int)pid, paths);
	EXPECT_EQ(1, sscanf(paths, "/proc/self/fd/%d", &fd))
		TH_LOG("QEMU %d mem-path: %s", (int)pid, paths);
	return fd;
}

/* The guest runs: ready, and two rounds done. */
static void vm_running(struct __test_metadata *_metadata,
		       FIXTURE_DATA(qemu) *self)
{
	bool ok = pcmig_wait_round(self->src_serial, 2, BOOT_MS);

	if (!ok) {
		log_file(_metadata, "source serial", self->src_serial);
		pcmig_proc_wait(&self->vm, 0);
		LOG_PROC(&self->vm);
	}
	ASSERT_TRUE(ok);
}

/*
 * incoming --qemu (or advise --state-dir @sdir --qemu) in the destination
 * namespace, listening.
 */
static void start_dest(struct __test_metadata *_metadata,
		       FIXTURE_DATA(qemu) *self, const char *sdir)
{
	struct pcmig_args a = { .n = 0 };
	int ret;

	pcmig_arg(&a, "%s", self->tool);
	if (sdir) {
		pcmig_arg(&a, "advise");
		pcmig_arg(&a, "--state-dir");
		pcmig_arg(&a, "%s", sdir);
	} else {
		pcmig_arg(&a, "incoming");
	}
	pcmig_arg(&a, "--listen");
	pcmig_arg(&a, "%s", self->addr);
	pcmig_arg(&a, "--key-file");
	pcmig_arg(&a, "%s", self->key);
	pcmig_arg(&a, "--ram");
	pcmig_arg(&a, "m0:%dM", RAM_MB);
	pcmig_arg(&a, "--name");
	pcmig_arg(&a, "%s", self->name);
	if (!sdir) {
		pcmig_arg(&a, "--json");
		pcmig_arg(&a, "--qemu-log");
		pcmig_arg(&a, "%s", self->dst_log);
	}
	pcmig_arg(&a, "--qemu");
	pcmig_arg(&a, "--");
	pcmig_arg(&a, "%s", self->dst_qemu[0] ? self->dst_qemu :
		  "qemu-system-x86_64");
	vm_args(self, &a, self->dst_serial);
	proc_start(_metadata, self, &self->inc, &a, self->ns_dst);
	ret = pcmig_wait_listen(self->inc.pid, PORT, 60000);
	if (ret) {
		pcmig_proc_wait(&self->inc, 0);
		LOG_PROC(&self->inc);
	}
	ASSERT_EQ(0, ret) TH_LOG("%s", pcmig_lib_error());
}

/* migrate --qemu-qmp @qmp in the source namespace, with @extra args. */
static void start_migrate(struct __test_metadata *_metadata,
			  FIXTURE_DATA(qemu) *self, const char *qmp,
			  const char *const *extra)
{
	struct pcmig_args a = { .n = 0 };

	pcmig_arg(&a, "%s", self->tool);
	pcmig_arg(&a, "migrate");
	pcmig_arg(&a, "--connect");
	pcmig_arg(&a, "%s", self->addr);
	pcmig_arg(&a, "--key-file");
	pcmig_arg(&a, "%s", self->key);
	pcmig_arg(&a, "--ram");
	pcmig_arg(&a, "m0=%s", self->ram);
	pcmig_arg(&a, "--qemu-qmp");
	pcmig_arg(&a, "%s", qmp);
	pcmig_arg(&a, "--json");
	for (; extra && *extra; extra++)
		pcmig_arg(&a, "%s", *extra);
	proc_start(_metadata, self, &self->mig, &a, self->ns_src);
}

/*
 * The guest went on where it stopped: its output at the source, then at
 * the destination, counts rounds 1, 2, 3... without a gap or a repeat (a
 * line the stop cut in two is whole again when both are read as one),
 * with one boot, at the source, three rounds or more at the destination,
 * and no BAD page anywhere.
 */
static void expect_went_on(struct __test_metadata *_metadata,
			   FIXTURE_DATA(qemu) *self)
{
	struct pcmig_serial src, dst, all;

	pcmig_serial_read(self->src_serial, &src);
	ASSERT_TRUE(pcmig_wait_round(self->dst_serial, src.last + 3, ROUNDS_MS))
		log_file(_metadata, "destination serial", self->dst_serial);
	pcmig_serial_read(self->dst_serial, &dst);
	pcmig_serial_read2(self->src_serial, self->dst_serial, &all);
	EXPECT_EQ(1, all.boots);
	EXPECT_EQ(0, dst.boots);
	EXPECT_TRUE(all.consecutive && dst.first > src.last &&
		    dst.first <= src.last + 2) {
		TH_LOG("source rounds to %ld, destination from %ld",
		       src.last, dst.first);
		log_file(_metadata, "source serial", self->src_serial);
		log_file(_metadata, "destination serial", self->dst_serial);
	}
	EXPECT_EQ(0, all.bad) log_file(_metadata, "destination serial",
				       self->dst_serial);
}

/*
 * The whole path: a running guest migrated while it runs, its faults
 * served while the push is slowed to 4 MiB/s (64 MiB: about 16 s).
 */
TEST_F_TIMEOUT(qemu, migrates_running_guest, 900)
{
	static const char * const slow[] = { "--bandwidth", "4M", NULL };
	long long pid, state, total;
	char node[64], line[1024];
	int64_t first;
	uint64_t bad = 0;
	const char *p;

	start_vm(_metadata, self, NULL);
	vm_running(_metadata, self);
	start_dest(_metadata, self, NULL);
	start_migrate(_metadata, self, self->src_qmp, slow);
	pcmig_proc_wait(&self->mig, MIG_MS);
	pcmig_proc_wait(&self->inc, FAIL_MS);
	ASSERT_EXIT(&self->mig, 0);
	ASSERT_EXIT(&self->inc, 0);

	/* The source saved a device state without the RAM (x-ignore-shared). */
	state = pcmig_json_num(self->mig.out_text, "qemu", "state_bytes");
	EXPECT_LT(0, state);
	EXPECT_GT(4 * MIB, state) TH_LOG("the device state holds the RAM");
	EXPECT_EQ(state, pcmig_json_num(self->inc.out_text, "device_state",
					"bytes"));
	EXPECT_TRUE(pcmig_json_line(self->inc.out_text, "device_state", line,
				    sizeof(line)) && strstr(line, "\"to\":\"qemu\""))
		TH_LOG("%s", line);
	/* Every page arrived; the running guest asked for some of them. */
	total = pcmig_json_num(self->inc.out_text, "summary", "pages_total");
	EXPECT_EQ(RAM_MB * MIB / PS, total);
	EXPECT_EQ(total, pcmig_json_num(self->inc.out_text, "summary",
					"pages_present"));
	EXPECT_LT(0, pcmig_json_num(self->inc.out_text, "summary",
				    "pages_requested"))
		LOG_PROC(&self->inc);

	/*
	 * The guest went on where it stopped: the destination's first round
	 * is the one after the source's last, without a boot in between.
	 */
	expect_went_on(_metadata, self);

	/* QEMU runs on after incoming exited, on the session file. */
	pid = pcmig_json_num(self->inc.out_text, "qemu", "pid");
	ASSERT_LT(0, pid);
	EXPECT_FALSE(pcmig_pid_ended((pid_t)pid));
	EXPECT_EQ(pcmig_json_num(self->inc.out_text, "qemu", "mem_fd"),
		  expect_mem_path(_metadata, (pid_t)pid));

	/*
	 * Byte for byte: what the guest never writes after "ready" (below
	 * its program at 1 MiB, and from 6 MiB up) is the source's RAM at
	 * the stop, which the stopped source QEMU still holds.
	 */
	ASSERT_TRUE(pcmig_json_line(self->inc.out_text, "advised", line,
				    sizeof(line)));
	p = strstr(line, "\"node\":\"");
	ASSERT_TRUE(p && sscanf(p + 8, "%63[^\"]", node) == 1);
	self->node_fd = open(node, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->node_fd) TH_LOG("%s: %s", node, strerror(errno));
	self->map = mmap(NULL, RAM_MB * MIB, PROT_READ, MAP_SHARED,
			 self->node_fd, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	first = pcmig_cmp_mem_file(self->map, self->ram, 0, MIB, &bad);
	EXPECT_EQ(-1, first) TH_LOG("low MiB: page %lld first of %llu that differ",
				    (long long)first, (unsigned long long)bad);
	first = pcmig_cmp_mem_file((const char *)self->map + 6 * MIB, self->ram,
				   6 * MIB, (RAM_MB - 6) * MIB, &bad);
	EXPECT_EQ(-1, first) TH_LOG("from 6 MiB: page %lld first of %llu that differ",
				    (long long)first, (unsigned long long)bad);
	/* And the hot region was written since: the check can see change. */
	first = pcmig_cmp_mem_file((const char *)self->map + 2 * MIB, self->ram,
				   2 * MIB, 4 * MIB, &bad);
	EXPECT_LE(0, first);
}

/* Step @i of the destination after advise: 0 listen, 1 run --wait. */
static void run_step(struct __test_metadata *_metadata,
		     FIXTURE_DATA(qemu) *self, int i, const char *sdir)
{
	struct pcmig_args a = { .n = 0 };

	pcmig_arg(&a, "%s", self->tool);
	pcmig_arg(&a, "%s", i ? "run" : "listen");
	pcmig_arg(&a, "--state-dir");
	pcmig_arg(&a, "%s", sdir);
	if (i)
		pcmig_arg(&a, "--wait");
	proc_start(_metadata, self, &self->step[i], &a, self->ns_dst);
	pcmig_proc_wait(&self->step[i], MIG_MS);
}

/*
 * The destination in steps: advise starts QEMU (its output in DIR/qemu.log
 * by default), listen loads the state and leaves the VM paused, run
 * resumes it; QEMU outlives the step daemon.
 */
TEST_F_TIMEOUT(qemu, steps_advise_listen_run, 600)
{
	char sdir[192], path[256], *ev, *log;
	struct pcmig_serial dst;
	long long pid;

	snprintf(sdir, sizeof(sdir), "%s/steps", self->dir);
	self->inc.what = "advise";
	start_vm(_metadata, self, NULL);
	vm_running(_metadata, self);
	start_dest(_metadata, self, sdir);
	start_migrate(_metadata, self, self->src_qmp, NULL);
	pcmig_proc_wait(&self->inc, MIG_MS);
	ASSERT_EXIT(&self->inc, 0);
	EXPECT_HAS(self->inc.out_text, "/dev/pcmig");

	/* QEMU started at ADVISE; its VM has not run. */
	snprintf(path, sizeof(path), "%s/events", sdir);
	ev = pcmig_read_file(path, NULL);
	pid = pcmig_json_num(ev, "qemu", "pid");
	free(ev);
	ASSERT_LT(0, pid);
	EXPECT_FALSE(pcmig_pid_ended((pid_t)pid));
	expect_mem_path(_metadata, (pid_t)pid);

	run_step(_metadata, self, 0, sdir);
	ASSERT_EXIT(&self->step[0], 0);
	ev = pcmig_read_file(path, NULL);
	EXPECT_HAS(ev, "\"event\":\"qemu\",\"action\":\"loaded\"");
	free(ev);
	/* Loaded, paused until run. */
	pcmig_msleep(2000);
	pcmig_serial_read(self->dst_serial, &dst);
	EXPECT_EQ(-1, dst.last);

	run_step(_metadata, self, 1, sdir);
	pcmig_proc_wait(&self->mig, MIG_MS);
	ASSERT_EXIT(&self->step[1], 0);
	ASSERT_EXIT(&self->mig, 0);

	expect_went_on(_metadata, self);
	EXPECT_FALSE(pcmig_pid_ended((pid_t)pid));
	/* The daemon's log says where QEMU's output went, and it exists. */
	snprintf(path, sizeof(path), "%s/log", sdir);
	log = pcmig_read_file(path, NULL);
	EXPECT_HAS(log, "its output in ");
	EXPECT_HAS(log, "/steps/qemu.log");
	free(log);
	snprintf(path, sizeof(path), "%s/qemu.log", sdir);
	EXPECT_EQ(0, access(path, F_OK));
}

/*
 * The destination QEMU can give memory back: its RAM is the session file,
 * where fallocate(PUNCH_HOLE | KEEP_SIZE) works as QEMU's
 * ram_block_discard_range() does it (virtio-balloon, virtio-mem,
 * discard-data). Between advise and listen, when every page is missing,
 * 4 MiB that the guest never touches (it checks its memory below 56 MiB:
 * "ram=56") are punched through QEMU's own descriptor: they become
 * present and zero (pages_punched), and are never fetched: the pattern the
 * test wrote there in the source's RAM is dropped when pushed, while the
 * 2 MiB after them arrive. The guest runs on without a BAD page.
 */
TEST_F_TIMEOUT(qemu, dest_qemu_gives_memory_back, 600)
{
	const uint64_t punch = 56 * MIB, plen = 4 * MIB, kept = 2 * MIB;
	char sdir[192], path[256], *ev;
	struct pcmig_nl_session s;
	long long pid, id;
	uint64_t i, bad = 0;
	unsigned char *src;
	int fd, rfd;

	snprintf(self->append, sizeof(self->append), "ram=56");
	snprintf(sdir, sizeof(sdir), "%s/steps", self->dir);
	self->inc.what = "advise";
	start_vm(_metadata, self, NULL);
	vm_running(_metadata, self);
	/* A pattern at the source where the guest never looks. */
	rfd = open(self->ram, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, rfd);
	src = mmap(NULL, plen + kept, PROT_WRITE, MAP_SHARED, rfd, punch);
	close(rfd);
	ASSERT_NE(MAP_FAILED, src);
	for (i = 0; i < plen + kept; i += PS)
		memset(src + i, 0x80 | (int)(i / PS % 127), PS);
	munmap(src, plen + kept);

	start_dest(_metadata, self, sdir);
	start_migrate(_metadata, self, self->src_qmp, NULL);
	pcmig_proc_wait(&self->inc, MIG_MS);
	ASSERT_EXIT(&self->inc, 0);
	snprintf(path, sizeof(path), "%s/events", sdir);
	ev = pcmig_read_file(path, NULL);
	pid = pcmig_json_num(ev, "qemu", "pid");
	id = pcmig_json_num(ev, "advised", "id");
	free(ev);
	ASSERT_LT(0, pid);
	ASSERT_LE(0, id);
	fd = expect_mem_path(_metadata, (pid_t)pid);
	ASSERT_LE(0, fd);

	/* QEMU's descriptor of the session file, opened again: punch. */
	snprintf(path, sizeof(path), "/proc/%lld/fd/%d", pid, fd);
	self->node_fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->node_fd) TH_LOG("%s: %s", path, strerror(errno));
	ASSERT_EQ(0, fallocate(self->node_fd,
			       FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       punch, plen)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, pcmig_session_in_netns(self->ns_dst, id, &s));
	EXPECT_EQ(plen / PS, s.pages_punched);
	EXPECT_EQ(plen / PS, s.pages_present);

	run_step(_metadata, self, 0, sdir);
	ASSERT_EXIT(&self->step[0], 0);
	run_step(_metadata, self, 1, sdir);
	pcmig_proc_wait(&self->mig, MIG_MS);
	ASSERT_EXIT(&self->step[1], 0);
	ASSERT_EXIT(&self->mig, 0);
	expect_went_on(_metadata, self);

	/* All there; the punched pages stayed zero, the next ones came. */
	ASSERT_EQ(0, pcmig_session_in_netns(self->ns_dst, id, &s));
	EXPECT_EQ(PCMIG_STATE_END, s.state);
	EXPECT_EQ(RAM_MB * MIB / PS, s.pages_present);
	EXPECT_EQ(plen / PS, s.pages_punched);
	EXPECT_LE(plen / PS, s.pages_duplicate);
	self->map = mmap(NULL, RAM_MB * MIB, PROT_READ, MAP_SHARED,
			 self->node_fd, 0);
	ASSERT_NE(MAP_FAILED, self->map) TH_LOG("mmap: %s", strerror(errno));
	src = (unsigned char *)self->map + punch;
	for (i = 0; i < plen && !src[i]; i++)
		;
	EXPECT_EQ(plen, i) TH_LOG("punched page %llu is not zero",
				  (unsigned long long)(i / PS));
	EXPECT_EQ(-1, pcmig_cmp_mem_file(src + plen, self->ram, punch + plen,
					 kept, &bad));
	EXPECT_EQ(-1, pcmig_cmp_mem_file((const char *)self->map + 6 * MIB,
					 self->ram, 6 * MIB, 50 * MIB, &bad));
	EXPECT_FALSE(pcmig_pid_ended((pid_t)pid));
}

/* ---- failures ---- */

/*
 * The destination's QEMU cannot load the state (a device only the source
 * has): QEMU's own words at both ends; the source's VM stays stopped (its
 * state went out, the destination did not say it runs it) and the source
 * says how to resume it; the destination's QEMU is gone.
 */
TEST_F_TIMEOUT(qemu, load_failure_quotes_qemu, 600)
{
	static const char * const rng[] = { "-device", "virtio-rng-pci", NULL };
	struct pcmig_serial a, b, dst;
	long long pid;

	start_vm(_metadata, self, rng);
	vm_running(_metadata, self);
	start_dest(_metadata, self, NULL);
	start_migrate(_metadata, self, self->src_qmp, NULL);
	pcmig_proc_wait(&self->inc, FAIL_MS);
	pcmig_proc_wait(&self->mig, FAIL_MS);
	ASSERT_EXIT(&self->inc, 1);
	ASSERT_EXIT(&self->mig, 1);

	EXPECT_HAS(self->inc.err_text,
		   "error: QEMU exited with status 1 while loading the device state: ");
	EXPECT_HAS(self->inc.err_text, "Unknown savevm section or instance");
	EXPECT_HAS(self->inc.err_text, "virtio-rng");
	/* The source got the destination's ERROR, with QEMU's words. */
	EXPECT_HAS(self->mig.err_text, "Unknown savevm section or instance");
	EXPECT_HAS(self->mig.err_text,
		   "QEMU: the VM stays stopped here: its device state went to the destination, which did not confirm running it (no PACKAGED_OK)");

	/* The destination's QEMU ended; its VM never ran. */
	pid = pcmig_json_num(self->inc.out_text, "qemu", "pid");
	ASSERT_LT(0, pid);
	EXPECT_TRUE(pcmig_pid_ended((pid_t)pid));
	pcmig_serial_read(self->dst_serial, &dst);
	EXPECT_EQ(-1, dst.last);
	EXPECT_EQ(0, dst.boots);

	/* The source's VM stays stopped. */
	pcmig_serial_read(self->src_serial, &a);
	pcmig_msleep(3000);
	pcmig_serial_read(self->src_serial, &b);
	EXPECT_EQ(a.last, b.last);
	EXPECT_EQ(0, b.bad);
}

/*
 * QEMU closes its QMP socket a moment before it exits after a failed load,
 * which raced the tool: its next QMP write got EPIPE and it said "Broken
 * pipe". Here the destination's QEMU is this program as a fake
 * ($PCMIG_QEMU_FAKE, pcmig_fake_qemu()) that answers QMP up to the first
 * query-migrate, prints its error, closes QMP, and exits 1 three seconds
 * later: incoming must wait for the exit and quote it, every time.
 */
TEST_F_TIMEOUT(qemu, load_failure_after_qmp_closed, 600)
{
	ssize_t n;

	n = readlink("/proc/self/exe", self->dst_qemu,
		     sizeof(self->dst_qemu) - 1);
	ASSERT_LT(0, n);
	self->dst_qemu[n] = '\0';
	start_vm(_metadata, self, NULL);
	vm_running(_metadata, self);
	setenv("PCMIG_QEMU_FAKE", "3000", 1);
	start_dest(_metadata, self, NULL);
	unsetenv("PCMIG_QEMU_FAKE");
	start_migrate(_metadata, self, self->src_qmp, NULL);
	pcmig_proc_wait(&self->inc, FAIL_MS);
	pcmig_proc_wait(&self->mig, FAIL_MS);
	ASSERT_EXIT(&self->inc, 1);
	ASSERT_EXIT(&self->mig, 1);

	EXPECT_HAS(self->inc.err_text,
		   "error: QEMU exited with status 1 while loading the device state: qemu-system-x86_64: fake-qemu: load of migration failed: injected by pcmig_qemu_test");
	EXPECT_EQ(NULL, strstr(self->inc.err_text, "Broken pipe"));
	EXPECT_EQ(NULL, strstr(self->inc.err_text, "closed the QMP"));
	EXPECT_HAS(self->mig.err_text, "fake-qemu: load of migration failed");
}

/*
 * QEMU's migrate fails after the VM was stopped (the proxy answers it with
 * an error): the tool resumes the VM, which counts rounds again, and tells
 * the destination, whose QEMU (started at ADVISE) is stopped.
 */
TEST_F_TIMEOUT(qemu, source_resumes_vm_after_failure, 600)
{
	char path[192], line[1024];
	struct pcmig_serial s, t;
	long long pid;
	long stop, caps, getfd, mig, cont;

	start_vm(_metadata, self, NULL);
	vm_running(_metadata, self);
	snprintf(path, sizeof(path), "%s/proxy.qmp", self->dir);
	ASSERT_EQ(0, pcmig_qmp_proxy_start(&self->px, path, self->src_qmp));
	start_dest(_metadata, self, NULL);
	start_migrate(_metadata, self, path, NULL);
	pcmig_proc_wait(&self->mig, FAIL_MS);
	pcmig_proc_wait(&self->inc, FAIL_MS);
	ASSERT_EXIT(&self->mig, 1);
	ASSERT_EXIT(&self->inc, 1);

	EXPECT_HAS(self->mig.err_text,
		   "pcmig-tool: migrate: QEMU: migrate: injected by pcmig_qemu_test");
	EXPECT_HAS(self->mig.err_text, "QEMU: the VM runs again at the source");
	EXPECT_TRUE(pcmig_json_line(self->mig.out_text, "qemu", line,
				    sizeof(line)) &&
		    strstr(line, "\"action\":\"resumed\""))
		TH_LOG("%s", self->mig.out_text);
	/* What the tool said to QEMU, in this order. */
	stop = pcmig_qmp_proxy_logged_at(&self->px, "stop/0");
	caps = pcmig_qmp_proxy_logged_at(&self->px, "migrate-set-capabilities/0");
	getfd = pcmig_qmp_proxy_logged_at(&self->px, "getfd/1");
	mig = pcmig_qmp_proxy_logged_at(&self->px, "migrate/0");
	cont = pcmig_qmp_proxy_logged_at(&self->px, "cont/0");
	EXPECT_TRUE(stop >= 0 && stop < caps && caps < getfd && getfd < mig &&
		    mig < cont) TH_LOG("QMP commands: %s", self->px.log);

	/* The VM runs again at the source. */
	pcmig_serial_read(self->src_serial, &s);
	EXPECT_TRUE(pcmig_wait_round(self->src_serial, s.last + 2, ROUNDS_MS));
	pcmig_serial_read(self->src_serial, &t);
	EXPECT_EQ(1, t.boots);
	EXPECT_EQ(0, t.bad);

	/* The destination was told, and stopped its QEMU. */
	EXPECT_HAS(self->inc.err_text, "injected by pcmig_qemu_test");
	EXPECT_HAS(self->inc.err_text, "stopped: its VM never ran here");
	pid = pcmig_json_num(self->inc.out_text, "qemu", "pid");
	ASSERT_LT(0, pid);
	EXPECT_TRUE(pcmig_pid_ended((pid_t)pid));
}

/*
 * Refused before anything is sent, the VM never stopped: a shared memory
 * backend that is not a --ram block (x-ignore-shared would leave it
 * behind), then a device QEMU cannot migrate (QEMU's reason). Nothing
 * listens at the destination address: a check that let the migration go
 * on would end in "Connection refused" instead.
 */
TEST_F_TIMEOUT(qemu, source_refuses_what_cannot_migrate, 300)
{
	char x1[192], obj[256], ram[220];
	const char *extra[] = { "-object", obj, "-drive",
				"if=none,id=d0,file=null-co://,format=raw",
				"-device", "nvme,drive=d0,serial=pcmig", NULL };
	const char *more[] = { "--ram", ram, NULL };

	snprintf(x1, sizeof(x1), "%s/x1.ram", self->dir);
	snprintf(obj, sizeof(obj),
		 "memory-backend-file,id=x1,mem-path=%s,share=on,size=8M", x1);
	snprintf(ram, sizeof(ram), "x1=%s", x1);
	start_vm(_metadata, self, extra);
	ASSERT_EQ(0, pcmig_wait_file(self->src_qmp, false, BOOT_MS));

	start_migrate(_metadata, self, self->src_qmp, NULL);
	pcmig_proc_wait(&self->mig, FAIL_MS);
	ASSERT_EXIT(&self->mig, 1);
	EXPECT_HAS(self->mig.err_text,
		   "QEMU's shared memory backend 'x1' (8 MiB) is not a --ram block: x-ignore-shared leaves it out of QEMU's stream");

	start_migrate(_metadata, self, self->src_qmp, more);
	pcmig_proc_wait(&self->mig, FAIL_MS);
	ASSERT_EXIT(&self->mig, 1);
	EXPECT_HAS(self->mig.err_text,
		   "QEMU cannot migrate this VM: non-migratable device: ");
	EXPECT_HAS(self->mig.err_text, "/nvme");
	EXPECT_EQ(NULL, strstr(self->mig.err_text, "stopped"));
}

PCMIG_HARNESS_MAIN
