// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: the "pcmig" generic netlink family as a host service.
 * Destroy and status never wait behind a long ioctl, and a pcmig request
 * never holds up the other generic netlink families; sessions belong to the
 * network namespace that created them (GET, dump, destroy and events see
 * only those, and need CAP_NET_ADMIN there); an unprivileged user with
 * nothing but a session's node faults its pages in; creation reports the
 * real errno; events arrive in the order of the state changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "kselftest_harness.h"
#include "pcmig_test.h"
#include "pcmig_session.h"

#define PS		PCMIG_PS
#define NOBODY		65534

/* A session whose DISCARD of all of it takes seconds (2^30 pages). */
#define HUGE_SIZE	PCMIG_MAX_SIZE
/* How long destroy, status or another family's request may take. */
#define BOUND_MS	3000
/* How long a DISCARD may go on once its session was destroyed. */
#define BAIL_MS		5000
/* Until a child stuck behind a long ioctl is given up on. */
#define STUCK_MS	180000

static void __attribute__((constructor)) netlink_test_init(void)
{
	pcmig_leak_guard_install();
}

/* An exit code for a result: 0, the errno, or 255. */
static int rc(int ret)
{
	if (!ret)
		return 0;
	return ret < 0 && ret > -200 ? -ret : 255;
}

static int exit_code(int status)
{
	return status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Wait for a child that may be stuck in the kernel; kill it at the end. */
static void reap(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return;
	if (pcmig_wait_child(*pid, STUCK_MS, &status))
		pcmig_kill_child(*pid);
	*pid = 0;
}

/* CTRL_CMD_GETFAMILY of "nlctrl": another, non-parallel, family. */
static int nlctrl_family(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int id;

	if (!sk)
		return -ENOMEM;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return -ECONNREFUSED;
	}
	id = genl_ctrl_resolve(sk, "nlctrl");
	nl_socket_free(sk);
	return id;
}

static pid_t fork_destroy(uint32_t id)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(rc(pcmig_genl_session_destroy(id)));
	return pid;
}

static pid_t fork_ioctl_destroy(int fd)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(rc(pcmig_destroy(fd)));
	return pid;
}

static pid_t fork_nlctrl(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(nlctrl_family() == GENL_ID_CTRL ? 0 : 1);
	return pid;
}

static pid_t fork_get(uint32_t id)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct pcmig_nl_session s;
		int r = pcmig_genl_session_get(id, &s);

		_exit(r ? rc(r) : s.state == PCMIG_STATE_DISCARD ? 0 : 254);
	}
	return pid;
}

/* Become "nobody", without capabilities; /proc/self stays ours. */
static int drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ||
	    prctl(PR_SET_DUMPABLE, 1))
		return -errno;
	return 0;
}

/* Long operations under the session's ioctl lock */

FIXTURE(hold) {
	int ctl, fd;
	uint32_t id;
	pid_t discard, kid[2];
};

FIXTURE_SETUP(hold)
{
	char name[PCMIG_NAME_LEN];
	struct pcmig_status st;

	self->fd = -1;
	self->discard = self->kid[0] = self->kid[1] = 0;
	self->ctl = pcmig_ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("%s", pcmig_lib_error());
	snprintf(name, sizeof(name), PCMIG_ST_PREFIX "hold-%d", getpid());
	self->fd = pcmig_create(self->ctl, HUGE_SIZE, 0, name, &self->id);
	ASSERT_LE(0, self->fd) TH_LOG("%s", pcmig_lib_error());

	/* A DISCARD of every page: it runs under the ioctl lock. */
	self->discard = fork();
	ASSERT_LE(0, self->discard);
	if (self->discard == 0)
		_exit(rc(pcmig_discard(self->fd, 0, HUGE_SIZE)));
	ASSERT_EQ(0, pcmig_wait_state(self->fd, PCMIG_STATE_DISCARD,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	/* It is still going on. */
	pcmig_msleep(PCMIG_SHORT_MS);
	ASSERT_EQ(-ETIMEDOUT, pcmig_wait_child(self->discard, 0, NULL))
		TH_LOG("the DISCARD of %llu bytes is over already: nothing to wait behind",
		       (unsigned long long)HUGE_SIZE);
}

FIXTURE_TEARDOWN(hold)
{
	reap(&self->kid[0]);
	reap(&self->kid[1]);
	reap(&self->discard);
	if (self->fd >= 0) {
		pcmig_destroy(self->fd);
		close(self->fd);
	}
	if (self->ctl >= 0)
		close(self->ctl);
}

/*
 * After a destroy: the session is FAILED (DESTROYED), and the DISCARD that
 * held its ioctl lock ends within BAIL_MS with EBUSY.
 */
static void expect_destroyed_discard_bails(struct __test_metadata *_metadata,
					   FIXTURE_DATA(hold) *self)
{
	struct pcmig_status st;
	int status, ret;

	ASSERT_EQ(0, pcmig_get_status(self->fd, &st));
	EXPECT_EQ(PCMIG_STATE_FAILED, st.state);
	EXPECT_EQ(PCMIG_REASON_DESTROYED, st.reason);
	ret = pcmig_wait_child(self->discard, BAIL_MS, &status);
	EXPECT_EQ(0, ret) TH_LOG("DISCARD still running %d ms after destroy",
				 BAIL_MS);
	if (!ret) {
		self->discard = 0;
		EXPECT_EQ(EBUSY, exit_code(status))
			TH_LOG("DISCARD: %s", pcmig_status_str(status));
	}
}

/*
 * SESSION_DESTROY (and GET) while a DISCARD of 1 TiB holds the session's
 * ioctl lock: both return at once; the DISCARD stops early with -EBUSY.
 */
TEST_F_TIMEOUT(hold, destroy_and_get_do_not_wait_behind_an_ioctl, 400)
{
	uint64_t t0, t;
	int status, ret;

	t0 = pcmig_now_ms();
	self->kid[0] = fork_get(self->id);
	ASSERT_LE(0, self->kid[0]);
	ret = pcmig_wait_child(self->kid[0], BOUND_MS, &status);
	ASSERT_EQ(0, ret) TH_LOG("SESSION_GET still waiting after %d ms",
				 BOUND_MS);
	self->kid[0] = 0;
	EXPECT_EQ(0, exit_code(status))
		TH_LOG("SESSION_GET: %s", pcmig_status_str(status));

	t0 = pcmig_now_ms();
	self->kid[1] = fork_destroy(self->id);
	ASSERT_LE(0, self->kid[1]);
	ret = pcmig_wait_child(self->kid[1], BOUND_MS, &status);
	t = pcmig_now_ms() - t0;
	ASSERT_EQ(0, ret)
		TH_LOG("SESSION_DESTROY still waiting after %d ms behind the DISCARD",
		       BOUND_MS);
	self->kid[1] = 0;
	EXPECT_EQ(0, exit_code(status))
		TH_LOG("SESSION_DESTROY: %s", pcmig_status_str(status));
	TH_LOG("SESSION_DESTROY took %llu ms", (unsigned long long)t);

	/* The DISCARD gives up: the session is final. */
	expect_destroyed_discard_bails(_metadata, self);
	TH_LOG("DISCARD ended %llu ms after the destroy began",
	       (unsigned long long)(pcmig_now_ms() - t0));
	EXPECT_EQ(-ENODEV, pcmig_destroy(self->fd));
}

/* PCMIG_IOC_DESTROY on another descriptor does not wait either. */
TEST_F_TIMEOUT(hold, destroy_ioctl_does_not_wait_behind_an_ioctl, 400)
{
	int status, ret;

	self->kid[0] = fork_ioctl_destroy(self->fd);
	ASSERT_LE(0, self->kid[0]);
	ret = pcmig_wait_child(self->kid[0], BOUND_MS, &status);
	ASSERT_EQ(0, ret)
		TH_LOG("PCMIG_IOC_DESTROY still waiting after %d ms behind the DISCARD",
		       BOUND_MS);
	self->kid[0] = 0;
	EXPECT_EQ(0, exit_code(status))
		TH_LOG("PCMIG_IOC_DESTROY: %s", pcmig_status_str(status));
	expect_destroyed_discard_bails(_metadata, self);
}

/*
 * A request of another generic netlink family (nlctrl's GETFAMILY, which
 * takes the genetlink mutex) while pcmig's SESSION_DESTROY of a session
 * busy in a DISCARD is under way: it completes at once.
 */
TEST_F_TIMEOUT(hold, other_family_not_held_up_by_destroy, 400)
{
	int status, ret;

	self->kid[0] = fork_destroy(self->id);
	ASSERT_LE(0, self->kid[0]);
	/* Let it reach the kernel. */
	pcmig_msleep(PCMIG_SHORT_MS);

	self->kid[1] = fork_nlctrl();
	ASSERT_LE(0, self->kid[1]);
	ret = pcmig_wait_child(self->kid[1], BOUND_MS, &status);
	ASSERT_EQ(0, ret)
		TH_LOG("nlctrl GETFAMILY still waiting after %d ms", BOUND_MS);
	self->kid[1] = 0;
	EXPECT_EQ(0, exit_code(status))
		TH_LOG("nlctrl: %s", pcmig_status_str(status));

	ret = pcmig_wait_child(self->kid[0], BOUND_MS, &status);
	ASSERT_EQ(0, ret) TH_LOG("SESSION_DESTROY still waiting");
	self->kid[0] = 0;
	EXPECT_EQ(0, exit_code(status))
		TH_LOG("SESSION_DESTROY: %s", pcmig_status_str(status));
}

/* Network namespaces and permissions */

FIXTURE(ns) {
	struct pcmig_env env;
	struct pcmig_events *ev;
	pid_t kid;
};

FIXTURE_SETUP(ns)
{
	struct pcmig_env_opts o = { .npages = 16, .no_source = true,
				    .tag = "ns" };

	self->ev = NULL;
	self->kid = 0;
	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(ns)
{
	if (self->kid > 0)
		pcmig_kill_child(self->kid);
	pcmig_events_close(self->ev);
	pcmig_env_cleanup(&self->env);
}

/* Whether a dump lists @id. */
static int dump_lists(uint32_t id, unsigned int *count)
{
	struct pcmig_nl_session s[64];
	unsigned int n = 0, i;
	int ret;

	ret = pcmig_genl_session_dump(s, 64, &n);
	if (ret)
		return ret;
	*count = n;
	for (i = 0; i < n && i < 64; i++)
		if (s[i].id == id)
			return 1;
	return 0;
}

/* From another network namespace: no GET, no dump entry, no destroy. */
TEST_F(ns, session_invisible_from_another_netns)
{
	struct pcmig_status st;
	int status;

	self->kid = fork();
	ASSERT_LE(0, self->kid);
	if (self->kid == 0) {
		struct pcmig_nl_session s;
		struct pcmig_nl_info info;
		unsigned int n;
		int r;

		if (unshare(CLONE_NEWNET))
			_exit(100);
		r = pcmig_genl_session_get(self->env.id, &s);
		if (r != -ENOENT)
			_exit(r ? 101 : 102);
		r = dump_lists(self->env.id, &n);
		if (r)
			_exit(r < 0 ? 103 : 104);
		r = pcmig_genl_session_destroy(self->env.id);
		if (r != -ENOENT)
			_exit(r ? 105 : 106);
		if (pcmig_genl_get_info(&info) || !info.has_sessions ||
		    info.sessions)
			_exit(107);
		_exit(0);
	}
	ASSERT_EQ(0, pcmig_wait_child(self->kid, PCMIG_WAIT_MS, &status));
	self->kid = 0;
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("%s (101 GET error, 102 GET found it, 103 dump error, 104 dump lists it, 105 destroy error, 106 destroyed it, 107 GET_INFO counts it)",
		       pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(PCMIG_STATE_ADVISE, st.state);
}

/*
 * A session created in a second namespace: its creator sees it and its
 * events there; the first namespace sees neither, and the second hears
 * nothing of the first's session.
 */
TEST_F(ns, sessions_and_events_stay_in_their_netns)
{
	int c2p[2], p2c[2], status, ret;
	struct pcmig_nl_session s;
	uint32_t cid = 0;
	unsigned int n;
	char go = 'g';

	self->ev = pcmig_events_open();
	ASSERT_NE(NULL, self->ev) TH_LOG("%s", pcmig_lib_error());
	ASSERT_EQ(0, pipe(c2p));
	ASSERT_EQ(0, pipe(p2c));
	self->kid = fork();
	ASSERT_LE(0, self->kid);
	if (self->kid == 0) {
		struct pcmig_events *ev;
		char name[PCMIG_NAME_LEN];
		int ctl, fd, r;

		close(c2p[0]);
		close(p2c[1]);
		if (unshare(CLONE_NEWNET))
			_exit(100);
		ev = pcmig_events_open();
		ctl = pcmig_ctl_open();
		if (!ev || ctl < 0)
			_exit(101);
		snprintf(name, sizeof(name), PCMIG_ST_PREFIX "ns2-%d",
			 getpid());
		fd = pcmig_create(ctl, 16 * PS, PCMIG_CREATE_F_AUTO_DESTROY,
				  name, &cid);
		if (fd < 0)
			_exit(102);
		r = pcmig_genl_session_get(cid, &s);
		if (r || strcmp(s.name, name))
			_exit(103);
		r = dump_lists(cid, &n);
		if (r != 1 || n != 1)
			_exit(104);
		if (dump_lists(self->env.id, &n))
			_exit(105);
		if (write(c2p[1], &cid, sizeof(cid)) != sizeof(cid) ||
		    read(p2c[0], &go, 1) != 1)
			_exit(106);
		if (pcmig_set_state(fd, PCMIG_STATE_DISCARD))
			_exit(107);
		if (pcmig_events_find(ev, 0, cid, PCMIG_CMD_EVENT_STATE,
				      PCMIG_STATE_DISCARD, PCMIG_WAIT_MS,
				      NULL) < 0)
			_exit(108);
		/* The first namespace's change came before ours. */
		if (pcmig_events_count_for(ev, 0, self->env.id,
					   PCMIG_SHORT_MS))
			_exit(109);
		if (pcmig_genl_session_destroy(cid))
			_exit(110);
		_exit(0);
	}
	close(c2p[1]);
	close(p2c[0]);
	ret = read(c2p[0], &cid, sizeof(cid));
	if (ret == sizeof(cid)) {
		EXPECT_EQ(-ENOENT, pcmig_genl_session_get(cid, &s));
		EXPECT_EQ(0, dump_lists(cid, &n));
		EXPECT_EQ(-ENOENT, pcmig_genl_session_destroy(cid));
		EXPECT_EQ(0, pcmig_set_state(self->env.fd,
					     PCMIG_STATE_DISCARD));
		EXPECT_LE(0, pcmig_events_find(self->ev, 0, self->env.id,
					       PCMIG_CMD_EVENT_STATE,
					       PCMIG_STATE_DISCARD,
					       PCMIG_WAIT_MS, NULL))
			TH_LOG("%s", pcmig_lib_error());
		EXPECT_EQ(1, write(p2c[1], &go, 1));
	}
	close(c2p[0]);
	close(p2c[1]);
	ASSERT_EQ(0, pcmig_wait_child(self->kid, 2 * PCMIG_WAIT_MS, &status));
	self->kid = 0;
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("second netns: %s (102 create, 103 GET, 104 dump of its own, 105 dump shows the other's, 108 no event, 109 event of the other netns, 110 destroy)",
		       pcmig_status_str(status));
	ASSERT_EQ(sizeof(cid), ret);
	/* Nothing of the second namespace's session was heard here. */
	EXPECT_EQ(0, pcmig_events_count_for(self->ev, 0, cid, PCMIG_SHORT_MS));
}

/*
 * Without CAP_NET_ADMIN: GET, dump and destroy are refused with -EPERM and
 * the events group cannot be joined; GET_INFO is open to all.
 */
TEST_F(ns, unprivileged_get_dump_destroy_and_events_eperm)
{
	int status;

	self->kid = fork();
	ASSERT_LE(0, self->kid);
	if (self->kid == 0) {
		struct pcmig_nl_session s[4];
		struct pcmig_nl_info info;
		unsigned int n;
		int r;

		if (drop_to_nobody())
			_exit(100);
		if (pcmig_genl_get_info(&info))
			_exit(101);
		r = pcmig_genl_session_get(self->env.id, s);
		if (r != -EPERM)
			_exit(r ? 102 : 103);
		r = pcmig_genl_session_dump(s, 4, &n);
		if (r != -EPERM)
			_exit(r ? 104 : 105);
		r = pcmig_genl_session_destroy(self->env.id);
		if (r != -EPERM)
			_exit(r ? 106 : 107);
		if (pcmig_events_open())
			_exit(108);
		_exit(0);
	}
	ASSERT_EQ(0, pcmig_wait_child(self->kid, PCMIG_WAIT_MS, &status));
	self->kid = 0;
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("unprivileged: %s (101 GET_INFO refused, 102/104/106 GET/dump/destroy other error, 103/105/107 GET/dump/destroy allowed, 108 joined the events group)",
		       pcmig_status_str(status));
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/*
 * An unprivileged user in a user namespace of its own, owning a network
 * namespace: CAP_NET_ADMIN there. It sees the sessions of that namespace
 * only: those it created (with a control node descriptor it was handed),
 * and their events; none of the host's.
 */
TEST_F(ns, user_namespace_sees_only_its_own)
{
	int status;

	self->kid = fork();
	ASSERT_LE(0, self->kid);
	if (self->kid == 0) {
		struct pcmig_nl_session s;
		struct pcmig_nl_info info;
		struct pcmig_events *ev;
		char name[PCMIG_NAME_LEN];
		unsigned int n;
		uint32_t cid;
		int fd, r;

		if (drop_to_nobody())
			_exit(100);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
			_exit(90);
		if (write_file("/proc/self/setgroups", "deny") ||
		    write_file("/proc/self/uid_map", "0 65534 1") ||
		    write_file("/proc/self/gid_map", "0 65534 1"))
			_exit(101);
		r = pcmig_genl_session_get(self->env.id, &s);
		if (r != -ENOENT)
			_exit(r ? 102 : 103);
		if (dump_lists(self->env.id, &n) || n)
			_exit(104);
		ev = pcmig_events_open();
		if (!ev)
			_exit(105);
		snprintf(name, sizeof(name), PCMIG_ST_PREFIX "uns-%d",
			 getpid());
		fd = pcmig_create(self->env.ctl, 16 * PS,
				  PCMIG_CREATE_F_AUTO_DESTROY, name, &cid);
		if (fd < 0)
			_exit(106);
		r = pcmig_genl_session_get(cid, &s);
		if (r || strcmp(s.name, name))
			_exit(107);
		if (dump_lists(cid, &n) != 1 || n != 1)
			_exit(108);
		if (pcmig_genl_get_info(&info) || info.sessions != 1)
			_exit(111);
		if (pcmig_set_state(fd, PCMIG_STATE_DISCARD) ||
		    pcmig_events_find(ev, 0, cid, PCMIG_CMD_EVENT_STATE,
				      PCMIG_STATE_DISCARD, PCMIG_WAIT_MS,
				      NULL) < 0)
			_exit(109);
		if (pcmig_genl_session_destroy(cid))
			_exit(110);
		_exit(0);
	}
	ASSERT_EQ(0, pcmig_wait_child(self->kid, 2 * PCMIG_WAIT_MS, &status));
	self->kid = 0;
	if (exit_code(status) == 90)
		SKIP(return, "no unprivileged user namespaces here");
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("user namespace: %s (102 GET error, 103 GET of the host's session worked, 104 dump, 105 events, 106 create, 107 GET of its own, 108 dump of its own, 109 its event, 110 destroy, 111 GET_INFO's count)",
		       pcmig_status_str(status));
}

/* The node of a session, for a user without privileges */

FIXTURE(node) {
	struct pcmig_env env;
	pid_t kid;
};

FIXTURE_SETUP(node)
{
	struct pcmig_env_opts o = { .npages = 64, .listen = true,
				    .seed = 0x7a11, .tag = "node" };

	self->kid = 0;
	pcmig_env_start(_metadata, &self->env, &o);
}

FIXTURE_TEARDOWN(node)
{
	if (self->kid > 0)
		pcmig_kill_child(self->kid);
	pcmig_env_cleanup(&self->env);
}

/*
 * As "nobody": /dev/pcmig<id> and /dev/pcmig refused (0600, root's); once
 * root gave it the session's node, it maps the node and faults every page
 * in, compared byte for byte; /dev/pcmig stays refused.
 */
TEST_F(node, unprivileged_owner_of_the_node_faults_pages_in)
{
	struct pcmig_status st;
	char path[64];
	int status;
	pid_t pid;

	pcmig_node_path(path, sizeof(path), self->env.id);

	/* Before the node is given away. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (drop_to_nobody())
			_exit(100);
		if (open(path, O_RDWR) >= 0 || errno != EACCES)
			_exit(101);
		_exit(0);
	}
	ASSERT_EQ(0, pcmig_wait_child(pid, PCMIG_WAIT_MS, &status));
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("node before chown: %s (101: not EACCES)",
		       pcmig_status_str(status));

	ASSERT_EQ(0, chown(path, NOBODY, NOBODY));
	ASSERT_EQ(0, chmod(path, 0600));
	self->kid = fork();
	ASSERT_LE(0, self->kid);
	if (self->kid == 0) {
		uint8_t *map;
		uint64_t i;
		int fd;

		if (drop_to_nobody())
			_exit(100);
		if (open(PCMIG_CTL_PATH, O_RDWR) >= 0 || errno != EACCES)
			_exit(101);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			_exit(102);
		map = mmap(NULL, self->env.size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			_exit(103);
		for (i = 0; i < self->env.npages; i++)
			if (pcmig_pattern_check(map + i * PS, PS,
						self->env.seed, i) >= 0)
				_exit(104);
		_exit(0);
	}
	ASSERT_EQ(0, pcmig_wait_child(self->kid, 3 * PCMIG_WAIT_MS, &status));
	self->kid = 0;
	EXPECT_TRUE(pcmig_exited_ok(status))
		TH_LOG("nobody: %s (101 /dev/pcmig not EACCES, 102 open node, 103 mmap, 104 a page differs, SIGBUS: fault failed)",
		       pcmig_status_str(status));
	ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
	EXPECT_EQ(self->env.npages, st.pages_present);
	EXPECT_EQ(self->env.npages, st.pages_received);
	EXPECT_LE(1, st.faults);
}

/* Creation errors */

FIXTURE(create) {
	int ctl;
	char file_max[64];
};

FIXTURE_SETUP(create)
{
	FILE *f = fopen("/proc/sys/fs/file-max", "r");

	self->file_max[0] = '\0';
	self->ctl = pcmig_ctl_open();
	ASSERT_LE(0, self->ctl) TH_LOG("%s", pcmig_lib_error());
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(self->file_max, sizeof(self->file_max), f));
	fclose(f);
}

FIXTURE_TEARDOWN(create)
{
	if (self->file_max[0])
		write_file("/proc/sys/fs/file-max", self->file_max);
	if (self->ctl >= 0)
		close(self->ctl);
}

/*
 * The backing file cannot be had (the system's file table is full for a
 * caller without CAP_SYS_ADMIN): CREATE says -ENFILE, not -ENOMEM.
 */
TEST_F(create, backing_file_error_is_passed_on)
{
	int p[2], q[2], status, ret;
	char c = 'x';
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, pipe(q));
	pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint32_t id;
		int fd;

		close(p[0]);
		close(q[1]);
		if (drop_to_nobody())
			_exit(100);
		if (write(p[1], &c, 1) != 1 || read(q[0], &c, 1) != 1)
			_exit(101);
		fd = pcmig_create(self->ctl, 16 * PS,
				  PCMIG_CREATE_F_AUTO_DESTROY,
				  PCMIG_ST_PREFIX "enfile", &id);
		_exit(fd >= 0 ? 0 : rc(fd));
	}
	close(p[1]);
	close(q[0]);
	ASSERT_EQ(1, read(p[0], &c, 1));
	/* Any file count is at the limit (the count read is approximate). */
	ret = write_file("/proc/sys/fs/file-max", "0");
	EXPECT_EQ(1, write(q[1], &c, 1));
	ASSERT_EQ(0, pcmig_wait_child(pid, PCMIG_WAIT_MS, &status));
	write_file("/proc/sys/fs/file-max", self->file_max);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(ENFILE, exit_code(status))
		TH_LOG("CREATE with the file table full: %s",
		       pcmig_status_str(status));
	close(p[0]);
	close(q[1]);
}

/* Event order */

FIXTURE(order) {
	struct pcmig_env env;
	struct pcmig_events *ev;
};

FIXTURE_SETUP(order)
{
	pcmig_env_init(&self->env);
	self->ev = pcmig_events_open();
	ASSERT_NE(NULL, self->ev) TH_LOG("%s", pcmig_lib_error());
}

FIXTURE_TEARDOWN(order)
{
	pcmig_env_cleanup(&self->env);
	pcmig_events_close(self->ev);
}

/*
 * Walk the STATE events of session @id from index @from: each must start
 * where the previous one ended, the first at @first. Returns the number of
 * events out of order, and the last state in *@last.
 */
static int chain_breaks(struct pcmig_events *ev, int from, uint32_t id,
			uint32_t first, uint32_t *last, char *log, size_t len)
{
	uint32_t at = first;
	int i, n = pcmig_events_count(ev, 0), breaks = 0;
	size_t off = 0;

	for (i = from; i < n; i++) {
		const struct pcmig_event *e = pcmig_events_get(ev, i);

		if (e->s.id != id)
			continue;
		if (off < len)
			off += snprintf(log + off, len - off, " %s",
					pcmig_cmd_name(e->cmd));
		if (e->cmd != PCMIG_CMD_EVENT_STATE)
			continue;
		if (off < len)
			off += snprintf(log + off, len - off, "(%s->%s)",
					pcmig_state_name(e->s.old_state),
					pcmig_state_name(e->s.state));
		if (e->s.old_state != at)
			breaks++;
		at = e->s.state;
	}
	*last = at;
	return breaks;
}

/*
 * A whole session: LISTEN, RUNNING, every page pushed, END. The state
 * events come in that order, COMPLETE before the move to END.
 */
TEST_F(order, migration_events_in_state_order)
{
	struct pcmig_env_opts o = { .npages = 256, .listen = true,
				    .seed = 0x0dde, .tag = "order" };
	struct pcmig_event e;
	struct pcmig_status st;
	char log[1024] = "";
	uint32_t last;
	int i, c;

	pcmig_env_start(_metadata, &self->env, &o);
	ASSERT_EQ(0, pcmig_set_state(self->env.fd, PCMIG_STATE_RUNNING));
	ASSERT_EQ(0, pcmig_source_push_range(self->env.src, 0, o.npages));
	ASSERT_EQ(0, pcmig_wait_state(self->env.fd, PCMIG_STATE_END,
				      PCMIG_WAIT_MS, &st))
		TH_LOG("%s", pcmig_lib_error());
	i = pcmig_events_find(self->ev, 0, self->env.id, PCMIG_CMD_EVENT_STATE,
			      PCMIG_STATE_END, PCMIG_WAIT_MS, &e);
	ASSERT_LE(0, i) TH_LOG("%s", pcmig_lib_error());
	c = pcmig_events_find(self->ev, 0, self->env.id,
			      PCMIG_CMD_EVENT_COMPLETE, 0, 0, NULL);
	ASSERT_LE(0, c);
	EXPECT_LT(c, i);
	EXPECT_EQ(0, chain_breaks(self->ev, 0, self->env.id,
				  PCMIG_STATE_ADVISE, &last, log, sizeof(log)))
		TH_LOG("events:%s", log);
	EXPECT_EQ(PCMIG_STATE_END, last) TH_LOG("events:%s", log);
	/* LISTEN, RUNNING, COMPLETE, END. */
	EXPECT_EQ(4, pcmig_events_count_for(self->ev, 0, self->env.id, 0))
		TH_LOG("events:%s", log);
}

#define RACE_ROUNDS	200

/*
 * A receiver pausing the session (its source hung up) and user space
 * failing it right after: the PAUSED events come before the FAILED ones,
 * whichever side got to send first. Many rounds.
 */
TEST_F_TIMEOUT(order, pause_then_fail_in_order, 600)
{
	struct pcmig_env_opts o = { .npages = 8, .listen = true,
				    .seed = 0x0dd, .tag = "race" };
	int round, breaks = 0, from;
	struct pcmig_status st;
	char log[1024];
	uint32_t last;

	for (round = 0; round < RACE_ROUNDS; round++) {
		uint64_t until;

		from = pcmig_events_count(self->ev, 0);
		pcmig_env_start(_metadata, &self->env, &o);
		pcmig_source_close(self->env.src);
		until = pcmig_now_ms() + PCMIG_WAIT_MS;
		do {
			ASSERT_EQ(0, pcmig_get_status(self->env.fd, &st));
		} while (st.state != PCMIG_STATE_PAUSED &&
			 pcmig_now_ms() < until);
		ASSERT_EQ(PCMIG_STATE_PAUSED, st.state);
		ASSERT_EQ(0, pcmig_set_state(self->env.fd,
					     PCMIG_STATE_FAILED));
		ASSERT_LE(0, pcmig_events_find(self->ev, from, self->env.id,
					       PCMIG_CMD_EVENT_STATE,
					       PCMIG_STATE_FAILED,
					       PCMIG_WAIT_MS, NULL))
			TH_LOG("%s", pcmig_lib_error());
		/* Late ones too. */
		pcmig_events_count(self->ev, 50);
		log[0] = '\0';
		if (chain_breaks(self->ev, from, self->env.id,
				 PCMIG_STATE_ADVISE, &last, log,
				 sizeof(log)) || last != PCMIG_STATE_FAILED) {
			breaks++;
			TH_LOG("round %d:%s", round, log);
		}
		pcmig_env_cleanup(&self->env);
	}
	EXPECT_FALSE(pcmig_events_overrun(self->ev));
	EXPECT_EQ(0, breaks) TH_LOG("%d of %d rounds out of order", breaks,
				    RACE_ROUNDS);
}

PCMIG_HARNESS_MAIN
