/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: the destination side of a migration (incoming, and the steps
 * advise, listen and run). Documentation/migration.rst is the operator's
 * view of it; Documentation/protocol.rst the wire protocol.
 *
 * dest_cmd.c     command lines, incoming, listen and run clients
 * dest_daemon.c  the step daemon: state directory, control socket
 * dest_client.c  the step commands' side of the daemon's control socket
 * dest_engine.c  the steps: ADVISE, PACKAGED, LISTEN, RUN; poll(), finish
 * dest_setup.c   options, key, listening socket, connections, handshakes
 * dest_qemu.c    --qemu: QEMU started, its device state loaded over QMP
 * dest_hook.c    the device-state and run hooks
 * dest_recover.c after a lost link: the source reconnects, RESUME, MISSING
 * dest_follow.c  following the session to END: the tick, DONE, dest_fail()
 * dest_out.c     messages, progress line, JSON lines, status file
 * dest_qemu_args.c --qemu: QEMU's command line (tests/dest_qemu_test.c)
 * dest_util.c    pure helpers (tests/dest_test.c)
 *
 * Each calls only files below it in this list.
 */
#ifndef _PCMIG_DEST_H
#define _PCMIG_DEST_H

#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/pcmig.h>

#include "net.h"
#include "pcmig-tool.h"
#include "proto.h"

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

/* Exit statuses of incoming, advise, listen and run. */
#define DEST_EXIT_DONE		0	/* every page arrived (or step done) */
#define DEST_EXIT_FAILED	1	/* the migration failed */
#define DEST_EXIT_USAGE		2	/* bad command line */
#define DEST_EXIT_PAUSED	3	/* a page channel was lost */

/*
 * The answer (ERROR 1) to a DISCARD control message: retired in favour of
 * DISCARD frames on the page connection (Documentation/protocol.rst).
 */
#define DEST_DISCARD_RETIRED \
	"DISCARD messages are retired: discards travel as DISCARD frames on the page connection"

/* Capabilities the destination offers. */
#define DEST_CAPS	(PCMIG_CAP_ZERO_PAGES | PCMIG_CAP_DISCARD | \
			 PCMIG_CAP_BULK_CHANNEL)

/* Longest request line to the step daemon, newline included. */
#define DAEMON_REQUEST_MAX	256

/* Defaults. */
#define DEST_HOOK_TIMEOUT_MS	(300 * 1000)
#define DEST_TICK_MS		1000	/* progress and status refresh */
#define DEST_PKG_CHUNK		(1U << 20)	/* package read per deadline */

/**
 * struct dest_opts - the command line of incoming and advise
 * @listen: HOST:PORT to listen on
 * @key_file: the pre-shared key
 * @blocks: the RAM layout (--ram NAME:SIZE, in order)
 * @nblocks: number of @blocks
 * @name: session name, or NULL for "mig-<session id prefix>"
 * @state_out: write the device state to this file
 * @state_cmd: run this command with the device state on its stdin
 * @run_cmd: run this command after RUNNING
 * @timeout_ms: limit of a handshake or control exchange
 * @hook_timeout_ms: limit of each hook
 * @json: JSON lines on stdout (--json or stdout not a terminal)
 * @quiet: no informational messages and no progress line
 * @keep: never destroy the session on failure or pause
 * @no_recover: a lost link ends the migration (exit 3)
 * @recover_timeout_s: wait this long for the source to reconnect; 0: ever
 * @pause_timeout_s: the kernel's pause timeout (PCMIG_IOC_SET_PARAMS); 0: off
 * @attach: incoming --attach: take over the session of this name
 * @session_id: --session-id, when @have_session_id
 * @have_session_id: the migration's session id was given
 * @state_dir: advise: the step directory
 * @qemu_argv: --qemu: the QEMU command after "--" (NULL-terminated)
 * @qemu_argc: its length; 0 without --qemu
 * @qemu_log: --qemu-log: QEMU's standard output and error, or NULL
 * @cmd: the command's name, for messages
 */
struct dest_opts {
	const char *listen;
	const char *key_file;
	struct pcmig_block blocks[PCMIG_MAX_BLOCKS];
	uint32_t nblocks;
	const char *name;
	const char *state_out;
	const char *state_cmd;
	const char *run_cmd;
	int timeout_ms;
	int hook_timeout_ms;
	bool json;
	bool quiet;
	bool keep;
	bool no_recover;
	unsigned int recover_timeout_s;
	unsigned int pause_timeout_s;
	const char *attach;
	uint8_t session_id[PCMIG_SESSION_ID_LEN];
	bool have_session_id;
	const char *state_dir;
	char **qemu_argv;
	int qemu_argc;
	const char *qemu_log;
	const char *cmd;
};

struct dest_qemu;

/**
 * enum dest_step - how far the destination got
 * @DEST_STEP_INIT: waiting for the connections and ADVISE
 * @DEST_STEP_ADVISED: session created, ADVISE_OK sent; PACKAGED next
 *	(discards come as DISCARD frames in the page stream: the kernel's)
 * @DEST_STEP_PACKAGED: the package is in memory, LISTEN not done yet
 * @DEST_STEP_LISTENING: LISTEN set and the device state delivered
 * @DEST_STEP_RUNNING: RUNNING set, run hook done, PACKAGED_OK sent
 * @DEST_STEP_DONE: every page present, DONE sent (final)
 * @DEST_STEP_FAILED: the migration failed (final)
 * @DEST_STEP_PAUSED: a page channel was lost (final here)
 */
enum dest_step {
	DEST_STEP_INIT,
	DEST_STEP_ADVISED,
	DEST_STEP_PACKAGED,
	DEST_STEP_LISTENING,
	DEST_STEP_RUNNING,
	DEST_STEP_DONE,
	DEST_STEP_FAILED,
	DEST_STEP_PAUSED,
};

/* Samples kept for the transfer rate (one per tick, plus state changes). */
#define DEST_RATE_SAMPLES	8
/* The rate is measured over at most this long. */
#define DEST_RATE_WINDOW_MS	5000

/**
 * struct dest_rate - a sliding window of (time, pages present) samples
 * @t_ms: sample times
 * @val: pages present at @t_ms
 * @n: samples held
 * @head: next slot to write
 */
struct dest_rate {
	uint64_t t_ms[DEST_RATE_SAMPLES];
	uint64_t val[DEST_RATE_SAMPLES];
	unsigned int n;
	unsigned int head;
};

/**
 * struct dest - one incoming migration
 * @o: options
 * @key: pre-shared key
 * @keylen: its length
 * @page_size: page size (the module's, else the system's)
 * @size: bytes of guest memory (sum of the blocks)
 * @lfd: listening socket
 * @cfd: control connection, -1 once closed
 * @ufd: urgent connection until attached
 * @bfd: bulk connection until attached
 * @caps: negotiated capabilities
 * @session_id: the source's migration session id
 * @peer: the source's address, for messages
 * @sfd: session file, -1 before CREATE
 * @id: kernel session id
 * @name: session name
 * @node: "/dev/pcmig<id>"
 * @ev: netlink events, when @have_ev
 * @have_ev: subscribed to the events group
 * @pkg: the PACKAGED payload, until the device state is delivered
 * @pkg_len: its length
 * @state: the device state inside @pkg
 * @state_len: its length
 * @sync_token: token of the SYNC frames to wait for before LISTEN, or 0
 * @step: how far we got
 * @kstate: last known kernel state of the session
 * @st: last status read
 * @have_st: @st is valid
 * @reason: reason of the last pause or failure event
 * @error: errno of the last pause or failure event
 * @result: exit status once decided, -1 before
 * @msg: the final message (failure or summary line)
 * @t_start: when the control connection was accepted (ms, monotonic)
 * @t_run: when PACKAGED_OK was sent
 * @t_end: when the session reached END or failed
 * @t_tick: last progress tick
 * @rate: transfer rate window
 * @line_shown: a progress line is on the terminal
 * @tty: stderr is a terminal and not quiet: draw the progress line
 * @aborted: a signal asked us to stop (set by the handler)
 * @log_time: prefix messages with the time (daemon log)
 * @changed: an event of the session arrived since the last look
 * @notify: called after every change (daemon: rewrite the status file)
 * @notify_arg: argument of @notify
 * @events_out: where JSON events go (stdout, or the daemon's events file)
 * @recovering: the session paused; waiting for the source to reconnect
 * @t_paused: when @recovering began (ms, monotonic)
 * @recoveries: recoveries that succeeded
 * @attempts: recovery attempts that failed in this outage
 * @ok_pending: RUNNING is set but PACKAGED_OK could not go out yet
 * @adopt: --attach: the session id and capabilities are those of the first
 *	authenticated source that reconnects
 * @qemu: --qemu: the QEMU the destination runs (dest_qemu.c), or NULL
 */
struct dest {
	struct dest_opts *o;
	uint8_t key[PCMIG_MAX_KEY_LEN];
	size_t keylen;
	uint32_t page_size;
	uint64_t size;
	int lfd;
	int cfd;
	int ufd;
	int bfd;
	uint64_t caps;
	uint8_t session_id[PCMIG_SESSION_ID_LEN];
	char peer[NI_MAXHOST + NI_MAXSERV + 4];
	int sfd;
	uint32_t id;
	char name[PCMIG_NAME_LEN];
	char node[32];
	struct pcmig_events ev;
	bool have_ev;
	void *pkg;
	size_t pkg_len;
	const void *state;
	size_t state_len;
	uint64_t sync_token;
	enum dest_step step;
	uint32_t kstate;
	struct pcmig_status st;
	bool have_st;
	uint32_t reason;
	int32_t error;
	int result;
	char msg[PCMIG_MAX_ERROR_TEXT + 256];
	uint64_t t_start;
	uint64_t t_run;
	uint64_t t_end;
	uint64_t t_tick;
	struct dest_rate rate;
	bool line_shown;
	bool tty;
	volatile int *aborted;
	bool log_time;
	bool changed;
	void (*notify)(struct dest *d, void *arg);
	void *notify_arg;
	FILE *events_out;
	bool recovering;
	uint64_t t_paused;
	uint64_t recoveries;
	unsigned int attempts;
	bool ok_pending;
	bool adopt;
	struct dest_qemu *qemu;
};

/* dest_util.c: pure helpers. */
int dest_name_check(const char *name);
void dest_default_name(const uint8_t *session_id, char *buf, size_t size);
void dest_rate_add(struct dest_rate *r, uint64_t t_ms, uint64_t val);
uint64_t dest_rate_get(const struct dest_rate *r);
uint64_t dest_eta_s(uint64_t remaining, uint64_t rate);
char *dest_fmt_eta(uint64_t secs, char *buf, size_t size);
char *dest_fmt_ms(uint64_t ms, char *buf, size_t size);
uint64_t dest_wait_pct(const struct pcmig_status *st, unsigned int pct);
size_t dest_progress_line(char *buf, size_t size,
			  const struct pcmig_status *st, uint64_t rate);
char *dest_reason_text(uint32_t reason, int32_t error, char *buf,
		       size_t size);
const char *dest_step_name(enum dest_step step);
int dest_status_exit(const char *json, int *code, char *msg, size_t msglen);
char *dest_json_time(char *buf, size_t size);

/* dest_out.c: output. */
void dest_info(struct dest *d, const char *fmt, ...) __printf(2, 3);
void dest_errmsg(struct dest *d, const char *fmt, ...) __printf(2, 3);
void dest_warn(struct dest *d, const char *fmt, ...) __printf(2, 3);
void dest_json_start(struct dest *d, const char *event);
void dest_json_u64(struct dest *d, const char *key, uint64_t val);
void dest_json_str(struct dest *d, const char *key, const char *val);
void dest_json_end(struct dest *d);
void dest_progress(struct dest *d, bool force);
void dest_clear_line(struct dest *d);
void dest_summary(struct dest *d);
void dest_status_json(struct dest *d, FILE *f);
void dest_changed(struct dest *d);

/* dest_follow.c: following the session, failures. */
int dest_ctl_recv(struct dest *d, struct pcmig_msg_hdr *h, void **payload,
		  struct pcmig_error_msg *perr);
void dest_ctl_recv_fail(struct dest *d, int ret,
			const struct pcmig_error_msg *perr, const char *what);
int dest_set_state(struct dest *d, uint32_t state);
int dest_attach_pages(struct dest *d, int ufd, int bfd);
bool dest_can_recover(struct dest *d);
int dest_read_status(struct dest *d);
void dest_fail(struct dest *d, int code, uint32_t err_code, const char *fmt,
	       ...) __printf(4, 5);
void dest_react(struct dest *d);
void dest_read_events(struct dest *d);
void dest_tick(struct dest *d);

/* dest_recover.c: after a lost link. */
void dest_service(struct dest *d);

/* dest_hook.c: hooks. */
int dest_hook_run(struct dest *d, const char *what, const char *cmd,
		  const void *input, size_t len, char *err, size_t errlen);
int dest_write_file(const char *path, const void *data, size_t len,
		    char *err, size_t errlen);
void dest_child_reset(int in);

/* dest_qemu_args.c: --qemu's command line. */
int dest_qemu_check_args(const struct dest_opts *o, char *err, size_t errlen);
char **dest_qemu_argv(const struct dest_opts *o, int mem_fd, int qmp_fd,
		      bool offsets);
void dest_qemu_argv_free(char **v);

/* dest_qemu.c: --qemu. */
int dest_qemu_prepare(struct dest *d);
int dest_qemu_start(struct dest *d);
int dest_qemu_load(struct dest *d, char *err, size_t errlen);
int dest_qemu_cont(struct dest *d, char *err, size_t errlen);
void dest_qemu_finish(struct dest *d);

/* dest_setup.c: set-up and connections. */
void dest_init(struct dest *d, struct dest_opts *o, volatile int *aborted);
int dest_prepare(struct dest *d);
int dest_connect(struct dest *d);
int dest_attach_existing(struct dest *d);

/* dest_engine.c: the migration. */
int dest_advised(struct dest *d);
int dest_pollfds(struct dest *d, struct pollfd *pfd, int max);
void dest_dispatch(struct dest *d, const struct pollfd *pfd, int n);
int dest_poll_timeout(struct dest *d);
int dest_listen(struct dest *d, char *err, size_t errlen);
int dest_run(struct dest *d, char *err, size_t errlen);
void dest_finish(struct dest *d);

/* dest_daemon.c: the steps. */
int dest_daemon_advise(struct dest_opts *o);
int dest_client(const char *dir, const char *request, bool quiet,
		const char *cmd);

#endif /* _PCMIG_DEST_H */
