// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: the destination side of a migration: the incoming command
 * and the steps advise, listen and run (Documentation/migration.rst).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dest.h"
#include "format.h"
#include "ram.h"

#define DEST_COMMON_HELP						\
	"  -l, --listen HOST:PORT  address to listen on (required)\n"	\
	"  -k, --key-file FILE     pre-shared key, mode 0600 (required)\n" \
	"  -r, --ram NAME:SIZE     a RAM block, as on the source, in order;\n" \
	"                          SIZE takes K, M, G, T (required, repeatable)\n" \
	"  -n, --name NAME         session name (default mig-<session id>)\n" \
	"      --state-out FILE    write the device state to FILE\n"	\
	"      --state-cmd CMD     run 'sh -c CMD' with the device state on its\n" \
	"                          stdin; it must read all of it and exit 0\n" \
	"                          (a VMM that keeps running daemonizes after\n" \
	"                          loading); guest memory works meanwhile\n" \
	"      --run-cmd CMD       after RUNNING, run 'sh -c CMD' and wait;\n" \
	"                          non-zero fails the migration\n"	\
	"  -t, --timeout SECONDS   limit of a handshake or control exchange\n" \
	"                          (default 30)\n"			\
	"      --link-timeout SECONDS  a connection on a dead link (no reset:\n" \
	"                          a cable pulled, a partition) or to a peer\n" \
	"                          that stopped reading fails after this long\n" \
	"                          and the session pauses (TCP keepalive and\n" \
	"                          TCP_USER_TIMEOUT; 0 for TCP's own minutes;\n" \
	"                          default 15, at most 3600)\n" \
	"      --recover-timeout SECONDS  after a lost link in postcopy, wait\n" \
	"                          this long for the source to reconnect, then\n" \
	"                          exit 3 (0, the default: as long as it takes)\n" \
	"      --no-recover        exit 3 at once on a lost link instead\n" \
	"      --pause-timeout SECONDS  the session fails (blocked faults get\n" \
	"                          SIGBUS, the VM most likely dies) after this\n" \
	"                          long paused; 0, the default: it waits, and\n" \
	"                          so does the VM, for as long as it takes\n" \
	"      --hook-timeout SECONDS  limit of each hook; with --qemu, of\n" \
	"                          QEMU's load, and of its cont (default 300)\n" \
	"      --qemu -- QEMU ARGS...  the VM is a QEMU that we start after\n" \
	"                          ADVISE: ARGS (the source QEMU's, less its\n" \
	"                          RAM backends) and a memory-backend-file per\n" \
	"                          --ram block (NAME is its id) on the session\n" \
	"                          node, -incoming defer, -S and a QMP socket of\n" \
	"                          ours; the device state is loaded over QMP at\n" \
	"                          LISTEN, 'cont' is RUN (Documentation/qemu.rst)\n" \
	"      --qemu-log FILE     QEMU's output (default: our stderr; advise:\n" \
	"                          DIR/qemu.log); when QEMU fails, its last\n" \
	"                          lines there are quoted\n" \
	"  -j, --json              JSON lines on stdout (the default when\n" \
	"                          stdout is not a terminal)\n"		\
	"  -q, --quiet             no messages but errors, no progress line\n" \
	"      --keep              never destroy the session on failure or\n" \
	"                          pause (a paused one stays PAUSED)\n"	\
	"  -h, --help              this text\n"				\
	"\n"								\
	"Hooks see PCMIG_NODE, PCMIG_SESSION_ID and PCMIG_SESSION_NAME; their\n" \
	"stdout goes to our stderr.\n"

const char incoming_usage[] =
	"usage: pcmig-tool incoming --listen HOST:PORT --key-file FILE --ram NAME:SIZE... [OPTIONS] [--qemu -- QEMU ARGS...]\n"
	"\n"
	"Receive a VM: wait for the source (pcmig-tool migrate), authenticate\n"
	"its control, urgent and bulk connections, create the session on ADVISE\n"
	"and print its node (/dev/pcmigN, for the VMM to map), read the\n"
	"device-state package whole, then LISTEN, deliver the device\n"
	"state, RUNNING, run the run hook, and follow the session until every\n"
	"page is present. Progress: a status line on a terminal; JSON lines.\n"
	"\n"
	DEST_COMMON_HELP
	"\n"
	"A lost link in postcopy pauses the session: the source reconnects to\n"
	"the same address and the migration resumes where it stopped, any\n"
	"number of times. Should incoming die in postcopy, start it again with\n"
	"--attach NAME (the session's name; same --listen, --key-file and\n"
	"--ram) and it serves the source's reconnection:\n"
	"      --attach NAME       take over session NAME, which reached RUNNING\n"
	"      --session-id HEX    with --attach: the migration's session id (the\n"
	"                          \"connected\" event's), else any source with\n"
	"                          the key whose id the name fits\n"
	"\n"
	"Exit status: 0 every page arrived, 1 failed, 2 bad command line,\n"
	"3 paused and not recovered (--no-recover, --recover-timeout, or a link\n"
	"lost before the package arrived; the session is destroyed unless\n"
	"--keep).\n";

const char advise_usage[] =
	"usage: pcmig-tool advise --state-dir DIR --listen HOST:PORT --key-file FILE --ram NAME:SIZE... [OPTIONS] [--qemu -- QEMU ARGS...]\n"
	"\n"
	"Destination step 1: start a daemon that does what incoming does, one\n"
	"step at a time. advise returns once ADVISE is done, printing the node\n"
	"(/dev/pcmigN; with --json an object), or fails. The daemon then holds\n"
	"the device-state package until 'pcmig-tool listen', and RUN until\n"
	"'pcmig-tool run'. It keeps DIR/pid, DIR/ctl (its control socket),\n"
	"DIR/status (JSON, rewritten on every change), DIR/events (JSON lines)\n"
	"and DIR/log.\n"
	"\n"
	"  -d, --state-dir DIR     the step directory (created 0700 if missing)\n"
	DEST_COMMON_HELP
	"\n"
	"Exit status: 0 advised, 1 failed, 2 bad command line, 3 paused.\n";

const char listen_usage[] =
	"usage: pcmig-tool listen --state-dir DIR [--quiet]\n"
	"\n"
	"Destination step 2: LISTEN and deliver the device state (waiting for\n"
	"the package if it has not arrived yet). Returns when it is delivered.\n"
	"\n"
	"  -d, --state-dir DIR     the directory given to advise\n"
	"  -q, --quiet             no messages but errors\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 delivered, 1 failed or out of order, 2 bad command line,\n"
	"3 paused.\n";

const char run_usage[] =
	"usage: pcmig-tool run --state-dir DIR [--wait] [--quiet]\n"
	"\n"
	"Destination step 3: RUNNING, the run hook, PACKAGED_OK to the source.\n"
	"With --wait, then follow the migration to its end and exit with the\n"
	"daemon's final status.\n"
	"\n"
	"  -d, --state-dir DIR     the directory given to advise\n"
	"  -w, --wait              wait until every page arrived (or failure)\n"
	"  -q, --quiet             no messages but errors\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 running (with --wait: every page arrived), 1 failed or\n"
	"out of order, 2 bad command line, 3 paused.\n";

const char recover_usage[] =
	"usage: pcmig-tool recover --state-dir DIR [--listen HOST:PORT] [--quiet]\n"
	"\n"
	"Destination, with the step daemon: recover the migration now. The\n"
	"session is paused if it is not (the operator knows the link is bad),\n"
	"the daemon listens on HOST:PORT instead if given (a new path: then\n"
	"restart the source with 'pcmig-tool migrate --resume SESSION_ID\n"
	"--connect HOST:PORT ...'), and recover returns once the source has\n"
	"reconnected and the session runs again. Without it, recovery is\n"
	"automatic anyway: the source reconnects to the address it knows.\n"
	"\n"
	"  -d, --state-dir DIR     the directory given to advise\n"
	"  -l, --listen HOST:PORT  listen there from now on\n"
	"  -q, --quiet             no messages but errors\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 recovered, 1 failed or nothing to recover, 2 bad\n"
	"command line.\n";

static volatile int aborted;

static void on_signal(int sig)
{
	/* A second signal: stop now, the default way. */
	if (aborted) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	aborted = 1;
}

/**
 * dest_signals() - SIGINT and SIGTERM stop the migration cleanly, a
 * second one at once; SIGPIPE is ignored
 *
 * Return: the flag the handlers set.
 */
static volatile int *dest_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return &aborted;
}

static __printf(3, 4) int usage_err(const char *cmd, const char *usage,
				    const char *fmt, ...);

/* A bad command line: the message, the synopsis, status 2. */
static int usage_err(const char *cmd, const char *usage, const char *fmt, ...)
{
	const char *nl = strchr(usage, '\n');
	va_list ap;

	fprintf(stderr, "pcmig-tool %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%.*s\nTry 'pcmig-tool %s --help' for more.\n",
		nl ? (int)(nl - usage) : (int)strlen(usage), usage, cmd);
	return DEST_EXIT_USAGE;
}

static int parse_seconds(const char *s, int *ms)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > INT_MAX / 1000)
		return -EINVAL;
	*ms = (int)v * 1000;
	return 0;
}

enum {
	OPT_STATE_OUT = 256,
	OPT_STATE_CMD,
	OPT_RUN_CMD,
	OPT_HOOK_TIMEOUT,
	OPT_KEEP,
	OPT_LINK_TIMEOUT,
	OPT_RECOVER_TIMEOUT,
	OPT_NO_RECOVER,
	OPT_PAUSE_TIMEOUT,
	OPT_ATTACH,
	OPT_SESSION_ID,
	OPT_QEMU,
	OPT_QEMU_LOG,
};

/*
 * --qemu: the QEMU command is everything after the first "--"; getopt()
 * sees only what comes before. Return: the arguments getopt() gets.
 */
static int split_qemu(int argc, char **argv, struct dest_opts *o)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--"))
			continue;
		o->qemu_argv = argv + i + 1;
		o->qemu_argc = argc - i - 1;
		return i;
	}
	return argc;
}

/* incoming and advise: the same options (advise also --state-dir). */
static int parse_dest_opts(int argc, char **argv, struct dest_opts *o,
			   const char *cmd, const char *usage, bool step)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "ram", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "state-out", required_argument, NULL, OPT_STATE_OUT },
		{ "state-cmd", required_argument, NULL, OPT_STATE_CMD },
		{ "run-cmd", required_argument, NULL, OPT_RUN_CMD },
		{ "timeout", required_argument, NULL, 't' },
		{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
		{ "link-timeout", required_argument, NULL, OPT_LINK_TIMEOUT },
		{ "recover-timeout", required_argument, NULL,
		  OPT_RECOVER_TIMEOUT },
		{ "no-recover", no_argument, NULL, OPT_NO_RECOVER },
		{ "pause-timeout", required_argument, NULL, OPT_PAUSE_TIMEOUT },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ "session-id", required_argument, NULL, OPT_SESSION_ID },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "qemu", no_argument, NULL, OPT_QEMU },
		{ "qemu-log", required_argument, NULL, OPT_QEMU_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct pcmig_ram ram;
	unsigned int link_s;
	char err[512];
	bool json = false, qemu = false;
	int c;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->timeout_ms = PCMIG_NET_TIMEOUT_MS;
	o->hook_timeout_ms = DEST_HOOK_TIMEOUT_MS;
	argc = split_qemu(argc, argv, o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:k:r:n:t:jqd:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'k':
			o->key_file = optarg;
			break;
		case 'r':
			if (o->nblocks >= PCMIG_MAX_BLOCKS)
				return usage_err(cmd, usage,
						 "at most %d --ram blocks",
						 PCMIG_MAX_BLOCKS);
			if (pcmig_parse_ram_size(optarg, &ram, err,
						 sizeof(err)))
				return usage_err(cmd, usage, "%s", err);
			o->blocks[o->nblocks++] = ram.block;
			break;
		case 'n':
			if (dest_name_check(optarg))
				return usage_err(cmd, usage,
						 "--name '%s': 1 to 31 printable characters, no '/' or space",
						 optarg);
			o->name = optarg;
			break;
		case OPT_STATE_OUT:
			o->state_out = optarg;
			break;
		case OPT_STATE_CMD:
			o->state_cmd = optarg;
			break;
		case OPT_RUN_CMD:
			o->run_cmd = optarg;
			break;
		case 't':
			if (parse_seconds(optarg, &o->timeout_ms))
				return usage_err(cmd, usage,
						 "--timeout '%s': a number of seconds",
						 optarg);
			break;
		case OPT_HOOK_TIMEOUT:
			if (parse_seconds(optarg, &o->hook_timeout_ms))
				return usage_err(cmd, usage,
						 "--hook-timeout '%s': a number of seconds",
						 optarg);
			break;
		case OPT_LINK_TIMEOUT:
			if (pcmig_parse_link_timeout(optarg, &link_s))
				return usage_err(cmd, usage,
						 "--link-timeout '%s': seconds, 0 to %d",
						 optarg, PCMIG_LINK_TIMEOUT_MAX_S);
			pcmig_set_link_timeout(link_s);
			break;
		case OPT_RECOVER_TIMEOUT:
			if (pcmig_parse_secs(optarg, PCMIG_RECOVER_TIMEOUT_MAX_S,
					     &o->recover_timeout_s))
				return usage_err(cmd, usage,
						 "--recover-timeout '%s': seconds, 0 to %d",
						 optarg,
						 PCMIG_RECOVER_TIMEOUT_MAX_S);
			break;
		case OPT_NO_RECOVER:
			o->no_recover = true;
			break;
		case OPT_PAUSE_TIMEOUT:
			if (pcmig_parse_secs(optarg,
					     PCMIG_PAUSE_TIMEOUT_MAX_MS / 1000,
					     &o->pause_timeout_s))
				return usage_err(cmd, usage,
						 "--pause-timeout '%s': seconds, 0 to %u",
						 optarg,
						 PCMIG_PAUSE_TIMEOUT_MAX_MS / 1000);
			break;
		case OPT_ATTACH:
			if (step)
				return usage_err(cmd, usage, "%s",
						 "--attach is for 'pcmig-tool incoming'");
			o->attach = optarg;
			break;
		case OPT_SESSION_ID:
			if (pcmig_parse_hex(optarg, o->session_id,
					    sizeof(o->session_id)))
				return usage_err(cmd, usage,
						 "--session-id '%s': %d hex digits",
						 optarg,
						 2 * PCMIG_SESSION_ID_LEN);
			o->have_session_id = true;
			break;
		case 'j':
			json = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_KEEP:
			o->keep = true;
			break;
		case 'd':
			if (!step)
				return usage_err(cmd, usage, "%s",
						 "--state-dir is for 'pcmig-tool advise'");
			o->state_dir = optarg;
			break;
		case OPT_QEMU:
			qemu = true;
			break;
		case OPT_QEMU_LOG:
			o->qemu_log = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return usage_err(cmd, usage, "%s", "bad option");
		}
	}
	if (optind < argc)
		return usage_err(cmd, usage, "unexpected argument '%s'",
				 argv[optind]);
	if (!o->listen)
		return usage_err(cmd, usage, "%s", "--listen HOST:PORT is required");
	if (!o->key_file)
		return usage_err(cmd, usage, "%s", "--key-file FILE is required");
	if (!o->nblocks)
		return usage_err(cmd, usage, "%s",
				 "at least one --ram NAME:SIZE is required");
	if (o->state_out && o->state_cmd)
		return usage_err(cmd, usage, "%s",
				 "--state-out and --state-cmd exclude each other");
	if (step && !o->state_dir)
		return usage_err(cmd, usage, "%s", "--state-dir DIR is required");
	if (o->have_session_id && !o->attach)
		return usage_err(cmd, usage, "%s", "--session-id goes with --attach");
	if (o->attach && (o->no_recover || o->state_out || o->state_cmd ||
			  o->run_cmd || o->name || qemu))
		return usage_err(cmd, usage, "%s",
				 "--attach takes over a running session: no --no-recover, --name, --state-out, --state-cmd, --run-cmd or --qemu");
	if (!qemu && o->qemu_argv)
		return usage_err(cmd, usage, "unexpected argument '%s'",
				 o->qemu_argc ? o->qemu_argv[0] : "--");
	if (!qemu && o->qemu_log)
		return usage_err(cmd, usage, "%s", "--qemu-log goes with --qemu");
	if (qemu) {
		if (o->state_out || o->state_cmd || o->run_cmd)
			return usage_err(cmd, usage, "%s",
					 "--qemu loads the device state and starts the VM itself: no --state-out, --state-cmd or --run-cmd");
		if (dest_qemu_check_args(o, err, sizeof(err)))
			return usage_err(cmd, usage, "%s", err);
	}
	o->json = json || (!step && !isatty(STDOUT_FILENO));
	return 0;
}

/**
 * cmd_incoming() - pcmig-tool incoming: the whole destination side
 * @argc: argument count (argv[0] is "incoming")
 * @argv: arguments
 *
 * Return: the exit status (see incoming_usage).
 */
int cmd_incoming(int argc, char **argv)
{
	static struct dest_opts o;
	static struct dest d;
	struct pollfd pfd[4];
	char err[PCMIG_MAX_ERROR_TEXT];
	int ret, n;

	ret = parse_dest_opts(argc, argv, &o, "incoming", incoming_usage,
			      false);
	if (ret)
		return ret < 0 ? 0 : ret;

	dest_init(&d, &o, dest_signals());
	ret = dest_prepare(&d);
	if (ret) {
		dest_finish(&d);
		return ret;
	}
	if (o.attach ? !dest_attach_existing(&d) : !dest_advised(&d)) {
		while (d.result < 0) {
			n = dest_pollfds(&d, pfd, ARRAY_SIZE(pfd));
			ret = poll(pfd, n, dest_poll_timeout(&d));
			if (ret < 0 && errno != EINTR) {
				dest_fail(&d, DEST_EXIT_FAILED,
					  PCMIG_ERR_INTERNAL, "poll: %s",
					  strerror(errno));
				break;
			}
			dest_dispatch(&d, pfd, ret > 0 ? n : 0);
			if (d.result < 0 && d.step == DEST_STEP_PACKAGED &&
			    !dest_listen(&d, err, sizeof(err)))
				dest_run(&d, err, sizeof(err));
		}
	}
	dest_finish(&d);
	return d.result;
}

/**
 * cmd_advise() - pcmig-tool advise: start the step daemon
 * @argc: argument count
 * @argv: arguments
 *
 * Return: the exit status (see advise_usage).
 */
int cmd_advise(int argc, char **argv)
{
	static struct dest_opts o;
	int ret;

	ret = parse_dest_opts(argc, argv, &o, "advise", advise_usage, true);
	if (ret)
		return ret < 0 ? 0 : ret;
	return dest_daemon_advise(&o);
}

/*
 * listen, run and recover: --state-dir, --quiet, for run --wait, for
 * recover --listen.
 */
static int parse_step(int argc, char **argv, const char *cmd,
		      const char *usage, const char **dir, bool *wait,
		      const char **addr, bool *quiet)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 'd' },
		{ "wait", no_argument, NULL, 'w' },
		{ "listen", required_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:wl:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			*dir = optarg;
			break;
		case 'w':
			if (!wait)
				return usage_err(cmd, usage, "%s",
						 "--wait is for 'pcmig-tool run'");
			*wait = true;
			break;
		case 'l':
			if (!addr)
				return usage_err(cmd, usage, "%s",
						 "--listen is for 'pcmig-tool recover'");
			*addr = optarg;
			break;
		case 'q':
			*quiet = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		default:
			return usage_err(cmd, usage, "%s", "bad option");
		}
	}
	if (optind < argc)
		return usage_err(cmd, usage, "unexpected argument '%s'",
				 argv[optind]);
	if (!*dir)
		return usage_err(cmd, usage, "%s", "--state-dir DIR is required");
	return 0;
}

/**
 * cmd_listen() - pcmig-tool listen: step 2
 * @argc: argument count
 * @argv: arguments
 *
 * Return: the exit status (see listen_usage).
 */
int cmd_listen(int argc, char **argv)
{
	const char *dir = NULL;
	bool quiet = false;
	int ret;

	ret = parse_step(argc, argv, "listen", listen_usage, &dir, NULL, NULL,
			 &quiet);
	if (ret)
		return ret < 0 ? 0 : ret;
	signal(SIGPIPE, SIG_IGN);
	return dest_client(dir, "listen", quiet, "listen");
}

/**
 * cmd_run() - pcmig-tool run: step 3
 * @argc: argument count
 * @argv: arguments
 *
 * Return: the exit status (see run_usage).
 */
int cmd_run(int argc, char **argv)
{
	const char *dir = NULL;
	bool quiet = false, wait = false;
	int ret;

	ret = parse_step(argc, argv, "run", run_usage, &dir, &wait, NULL,
			 &quiet);
	if (ret)
		return ret < 0 ? 0 : ret;
	signal(SIGPIPE, SIG_IGN);
	/*
	 * One request: the migration may end right after PACKAGED_OK, and the
	 * daemon with it, before a second connection could ask to wait.
	 */
	return dest_client(dir, wait ? "run-wait" : "run", quiet, "run");
}

/**
 * cmd_recover() - pcmig-tool recover: recover the step daemon's migration
 * @argc: argument count
 * @argv: arguments
 *
 * Return: the exit status (see recover_usage).
 */
int cmd_recover(int argc, char **argv)
{
	const char *dir = NULL, *addr = NULL;
	char req[DAEMON_REQUEST_MAX];
	bool quiet = false;
	int ret;

	ret = parse_step(argc, argv, "recover", recover_usage, &dir, NULL,
			 &addr, &quiet);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (addr && (strlen(addr) > 200 || strpbrk(addr, " \n\r")))
		return usage_err("recover", recover_usage, "%s",
				 "--listen HOST:PORT: at most 200 characters, no space");
	snprintf(req, sizeof(req), addr ? "recover %s" : "recover",
		 addr ? addr : "");
	signal(SIGPIPE, SIG_IGN);
	return dest_client(dir, req, quiet, "recover");
}
