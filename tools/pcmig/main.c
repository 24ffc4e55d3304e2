// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig-tool: user-space side of pcmig postcopy live migration.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "net.h"
#include "pcmig-tool.h"

/* How long monitor keeps printing after the event that ends it. */
#define MONITOR_DRAIN_MS	200

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
	const char *usage;
};

static const struct command *find_command(const char *name);

static void command_help(FILE *f, const char *name)
{
	const struct command *cmd = find_command(name);

	fprintf(f, "%s", cmd->usage);
}

/* The synopsis (first line of the help) and a hint, for errors. */
static void command_synopsis(FILE *f, const char *name)
{
	const struct command *cmd = find_command(name);
	const char *nl = strchr(cmd->usage, '\n');

	fprintf(f, "%.*s\nTry 'pcmig-tool %s --help' for more.\n",
		nl ? (int)(nl - cmd->usage) : (int)strlen(cmd->usage),
		cmd->usage, name);
}

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif

static __printf(2, 3) int usage_error(const char *name, const char *fmt, ...);

/* Error exit for a bad command line: the command's usage on stderr. */
static int usage_error(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pcmig-tool %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	command_synopsis(stderr, name);
	return 2;
}

/* A session id: a decimal number that fits in 32 bits. */
static int parse_id(const char *arg, uint32_t *id)
{
	unsigned long long val;
	char *end;

	if (!arg || arg[0] < '0' || arg[0] > '9')
		return -EINVAL;
	errno = 0;
	val = strtoull(arg, &end, 10);
	if (errno || *end || val > UINT32_MAX)
		return -EINVAL;
	*id = (uint32_t)val;
	return 0;
}

/* Open the family, explaining the usual failures; false on error. */
static bool open_genl(struct pcmig_genl *g)
{
	int ret = pcmig_genl_open(g);

	if (ret == -ENOENT) {
		fprintf(stderr, "pcmig-tool: the pcmig module is not loaded (no \"%s\" generic netlink family)\n",
			PCMIG_NAME);
		return false;
	}
	if (ret) {
		fprintf(stderr, "pcmig-tool: generic netlink: %s\n",
			strerror(-ret));
		return false;
	}
	return true;
}

static void print_info_json(const struct pcmig_info *info)
{
	printf("{\"module_version\":");
	pcmig_json_fputs(stdout, info->version);
	printf(",\"abi_major\":%u,\"abi_minor\":%u,"
	       "\"features\":%" PRIu64 ",\"page_size\":%u,"
	       "\"tool_abi_major\":%u,\"tool_abi_minor\":%u}\n",
	       info->abi_major, info->abi_minor, info->features,
	       info->page_size, PCMIG_ABI_MAJOR, PCMIG_ABI_MINOR);
}

static int cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct pcmig_version ver;
	struct pcmig_info info;
	struct pcmig_genl g;
	bool json = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			command_help(stdout, "version");
			return 0;
		default:
			command_synopsis(stderr, "version");
			return 2;
		}
	}
	if (optind < argc)
		return usage_error("version", "unexpected argument '%s'",
				   argv[optind]);

	if (!open_genl(&g))
		return 1;
	ret = pcmig_genl_get_info(&g, &info);
	pcmig_genl_close(&g);
	if (ret) {
		fprintf(stderr, "pcmig-tool: get info: %s\n", strerror(-ret));
		return 1;
	}

	ret = pcmig_ctl_version(&ver);
	if (ret) {
		fprintf(stderr, "pcmig-tool: %s: %s\n", PCMIG_CTL_PATH, strerror(-ret));
		return 1;
	}
	if (ver.abi_major != info.abi_major || ver.abi_minor != info.abi_minor) {
		fprintf(stderr, "pcmig-tool: ioctl and netlink disagree on the ABI (%u.%u vs %u.%u)\n",
			ver.abi_major, ver.abi_minor, info.abi_major, info.abi_minor);
		return 1;
	}

	if (json) {
		print_info_json(&info);
	} else {
		printf("pcmig module %s, ABI %u.%u, page size %u, features 0x%" PRIx64 "\n",
		       info.version, info.abi_major, info.abi_minor,
		       info.page_size, info.features);
		printf("pcmig-tool ABI %u.%u\n", PCMIG_ABI_MAJOR, PCMIG_ABI_MINOR);
	}
	if (info.abi_major != PCMIG_ABI_MAJOR) {
		fprintf(stderr, "pcmig-tool: module ABI %u is not the tool's ABI %u\n",
			info.abi_major, PCMIG_ABI_MAJOR);
		return 1;
	}
	return 0;
}

static void show_one(const struct pcmig_session *s, bool json)
{
	if (json) {
		pcmig_show_session_json(stdout, s);
		putchar('\n');
		return;
	}
	pcmig_show_sessions_table(stdout, s, 1);
	putchar('\n');
	pcmig_show_session_details(stdout, s);
}

static int status_by_id(struct pcmig_genl *g, uint32_t id, bool json)
{
	struct pcmig_session s;
	int ret;

	ret = pcmig_genl_session_get(g, id, &s);
	if (ret == -ENOENT) {
		fprintf(stderr, "pcmig-tool: no session %u\n", id);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "pcmig-tool: status of session %u: %s\n", id,
			strerror(-ret));
		return 1;
	}
	show_one(&s, json);
	return 0;
}

static int status_dump(struct pcmig_genl *g, const char *name, bool json)
{
	struct pcmig_session *list;
	size_t i, n, found = 0;
	int ret;

	ret = pcmig_genl_session_dump(g, &list, &n);
	if (ret) {
		fprintf(stderr, "pcmig-tool: list sessions: %s\n",
			strerror(-ret));
		return 1;
	}

	if (!name) {
		if (json)
			pcmig_show_sessions_json(stdout, list, n);
		else
			pcmig_show_sessions_table(stdout, list, n);
		free(list);
		return 0;
	}

	for (i = 0; i < n; i++) {
		if (!pcmig_has(&list[i], PCMIG_ATTR_NAME) ||
		    strcmp(list[i].name, name))
			continue;
		/* Names are unique; should two ever match, show both. */
		if (found++ && !json)
			putchar('\n');
		show_one(&list[i], json);
	}
	free(list);
	if (!found) {
		fprintf(stderr, "pcmig-tool: no session named '%s'\n", name);
		return 1;
	}
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL;
	struct pcmig_genl g;
	bool json = false;
	bool have_id = false;
	uint32_t id = 0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "n:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			command_help(stdout, "status");
			return 0;
		default:
			command_synopsis(stderr, "status");
			return 2;
		}
	}
	if (optind < argc) {
		if (parse_id(argv[optind], &id))
			return usage_error("status", "'%s' is not a session id",
					   argv[optind]);
		have_id = true;
		optind++;
	}
	if (optind < argc)
		return usage_error("status", "unexpected argument '%s'",
				   argv[optind]);
	if (have_id && name)
		return usage_error("status", "%s", "give an ID or --name, not both");

	if (!open_genl(&g))
		return 1;
	if (have_id)
		ret = status_by_id(&g, id, json);
	else
		ret = status_dump(&g, name, json);
	pcmig_genl_close(&g);
	if (fflush(stdout) || ferror(stdout)) {
		perror("pcmig-tool: stdout");
		return 1;
	}
	return ret;
}

static int cmd_destroy(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct pcmig_genl g;
	uint32_t id;
	int c, ret;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			command_help(stdout, "destroy");
			return 0;
		default:
			command_synopsis(stderr, "destroy");
			return 2;
		}
	}
	if (optind >= argc)
		return usage_error("destroy", "%s", "missing session ID");
	if (parse_id(argv[optind], &id))
		return usage_error("destroy", "'%s' is not a session id",
				   argv[optind]);
	if (optind + 1 < argc)
		return usage_error("destroy", "unexpected argument '%s'",
				   argv[optind + 1]);

	if (!open_genl(&g))
		return 1;
	ret = pcmig_genl_session_destroy(&g, id);
	pcmig_genl_close(&g);
	switch (ret) {
	case 0:
		printf("session %u destroyed\n", id);
		return 0;
	case -EPERM:
		fprintf(stderr, "pcmig-tool: destroy session %u: need CAP_NET_ADMIN\n",
			id);
		return 1;
	case -ENOENT:
		fprintf(stderr, "pcmig-tool: no session %u\n", id);
		return 1;
	default:
		fprintf(stderr, "pcmig-tool: destroy session %u: %s\n", id,
			strerror(-ret));
		return 1;
	}
}

/**
 * struct monitor - state of the monitor command
 * @json: print JSON lines
 * @have_id: filter on @id
 * @id: the session to follow
 * @exit_on_end: stop when the followed session reaches END or FAILED
 * @result: exit status once decided (0 END, 1 FAILED), -1 before
 * @out_error: writing to stdout failed
 */
struct monitor {
	bool json;
	bool have_id;
	uint32_t id;
	bool exit_on_end;
	int result;
	bool out_error;
};

/* The exit status a session's state decides: 0 END, 1 FAILED, else -1. */
static int final_result(uint32_t state)
{
	if (state == PCMIG_STATE_END)
		return 0;
	if (state == PCMIG_STATE_FAILED)
		return 1;
	return -1;
}

static void monitor_event(const struct pcmig_session *ev, void *arg)
{
	struct monitor *m = arg;
	struct timespec ts;

	if (m->have_id && (!pcmig_has(ev, PCMIG_ATTR_ID) || ev->id != m->id))
		return;

	clock_gettime(CLOCK_REALTIME, &ts);
	pcmig_show_event(stdout, ev, &ts, m->json);
	if (fflush(stdout) || ferror(stdout))
		m->out_error = true;

	if (!m->exit_on_end || m->result >= 0)
		return;
	switch (ev->cmd) {
	case PCMIG_CMD_EVENT_COMPLETE:
		m->result = 0;
		break;
	case PCMIG_CMD_EVENT_ERROR:
		m->result = 1;
		break;
	case PCMIG_CMD_EVENT_STATE:
		if (pcmig_has(ev, PCMIG_ATTR_STATE))
			m->result = final_result(ev->state);
		break;
	}
}

/*
 * With --exit-on-end --id: the session may have ended before we subscribed,
 * or while events were lost. Returns its final exit status or -1.
 */
static int monitor_check_state(const struct monitor *m)
{
	struct pcmig_session s;
	struct pcmig_genl g;
	int result = -1;

	if (!m->exit_on_end || !m->have_id || pcmig_genl_open(&g))
		return -1;
	if (!pcmig_genl_session_get(&g, m->id, &s) &&
	    pcmig_has(&s, PCMIG_ATTR_STATE)) {
		result = final_result(s.state);
		if (result >= 0) {
			char buf[PCMIG_FMT_LEN];

			fprintf(stderr, "pcmig-tool: session %u is in state %s\n",
				m->id, pcmig_state_str(s.state, buf,
						       sizeof(buf)));
		}
	}
	pcmig_genl_close(&g);
	return result;
}

static int monitor_loop(struct pcmig_events *ev, int sfd, struct monitor *m)
{
	uint64_t deadline = 0, now;
	struct pollfd pfd[2];
	int ret, timeout;

	for (;;) {
		if (m->out_error) {
			fprintf(stderr, "pcmig-tool: monitor: cannot write to stdout\n");
			return 1;
		}
		timeout = -1;
		if (m->result >= 0) {
			now = pcmig_now_ms();
			if (!deadline)
				deadline = now + MONITOR_DRAIN_MS;
			timeout = now < deadline ? (int)(deadline - now) : 0;
			if (timeout <= 0)
				return m->result;
		}

		pfd[0].fd = pcmig_events_fd(ev);
		pfd[0].events = POLLIN;
		pfd[1].fd = sfd;
		pfd[1].events = POLLIN;
		ret = poll(pfd, 2, timeout);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			perror("pcmig-tool: monitor: poll");
			return 1;
		}
		if (pfd[1].revents & POLLIN)
			return m->result >= 0 ? m->result : 0;
		if (!(pfd[0].revents & (POLLIN | POLLERR)))
			continue;

		ret = pcmig_events_recv(ev, monitor_event, m);
		if (ret == -ENOBUFS) {
			fprintf(stderr, "pcmig-tool: monitor: events lost (receive buffer full)\n");
			if (m->result < 0)
				m->result = monitor_check_state(m);
		} else if (ret && ret != -EAGAIN && ret != -EINTR) {
			fprintf(stderr, "pcmig-tool: monitor: receive: %s\n",
				strerror(-ret));
			return 1;
		}
	}
}

static int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "id", required_argument, NULL, 'i' },
		{ "exit-on-end", no_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct monitor m = { .result = -1 };
	struct pcmig_events ev;
	sigset_t sigs;
	int c, ret, sfd;

	while ((c = getopt_long(argc, argv, "ji:eh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			m.json = true;
			break;
		case 'i':
			if (parse_id(optarg, &m.id))
				return usage_error("monitor",
						   "'%s' is not a session id",
						   optarg);
			m.have_id = true;
			break;
		case 'e':
			m.exit_on_end = true;
			break;
		case 'h':
			command_help(stdout, "monitor");
			return 0;
		default:
			command_synopsis(stderr, "monitor");
			return 2;
		}
	}
	if (optind < argc)
		return usage_error("monitor", "unexpected argument '%s'",
				   argv[optind]);

	/* SIGINT and SIGTERM arrive on a descriptor the loop polls. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0) {
		perror("pcmig-tool: sigprocmask");
		return 1;
	}
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("pcmig-tool: signalfd");
		return 1;
	}

	ret = pcmig_events_open(&ev);
	if (ret) {
		if (ret == -ENOENT)
			fprintf(stderr, "pcmig-tool: the pcmig module is not loaded (no \"%s\" generic netlink family)\n",
				PCMIG_NAME);
		else if (ret == -ESRCH)
			fprintf(stderr, "pcmig-tool: the pcmig module has no \"%s\" multicast group\n",
				PCMIG_GENL_MCGRP_EVENTS);
		else
			fprintf(stderr, "pcmig-tool: subscribe to events: %s\n",
				strerror(-ret));
		close(sfd);
		return 1;
	}

	/* Subscribed first, so that no event can fall between the two. */
	m.result = monitor_check_state(&m);
	ret = m.result >= 0 ? m.result : monitor_loop(&ev, sfd, &m);

	pcmig_events_close(&ev);
	close(sfd);
	return ret;
}

static const struct command commands[] = {
	{ "migrate", cmd_migrate, "migrate a VM: the source side", migrate_usage },
	{ "incoming", cmd_incoming, "receive a VM: the whole destination side",
	  incoming_usage },
	{ "advise", cmd_advise, "destination step 1: handshake and ADVISE",
	  advise_usage },
	{ "listen", cmd_listen, "destination step 2: LISTEN and device state",
	  listen_usage },
	{ "run", cmd_run, "destination step 3: RUN and follow to END",
	  run_usage },
	{ "recover", cmd_recover,
	  "destination steps: recover a paused migration now",
	  recover_usage },
	{
		"version", cmd_version,
		"show the loaded module's version and ABI",
		"usage: pcmig-tool version [--json]\n"
		"\n"
		"Show the version, ABI and page size of the loaded pcmig module\n"
		"(over netlink and through " PCMIG_CTL_PATH ") and the tool's ABI.\n"
		"Fails if the module's ABI major number is not the tool's.\n"
		"\n"
		"  -j, --json     one JSON object instead of text\n"
		"  -h, --help     this text\n",
	},
	{
		"status", cmd_status,
		"show sessions: state, pages, faults",
		"usage: pcmig-tool status [ID | --name NAME] [--json]\n"
		"\n"
		"Without an argument, show every live session, one table row each:\n"
		"id, name, state, reason (when not none), size, present/total pages\n"
		"and percent, pages requested, pushed, zero and duplicate, pages in\n"
		"flight, faults, blocked faults and their mean wait. With ID or NAME,\n"
		"show that session, followed by its other counters and the p50, p90\n"
		"and p99 of its fault waits (upper bounds of the histogram's log2\n"
		"buckets). Exits 1 if the session does not exist.\n"
		"\n"
		"  ID                 the session with this id\n"
		"  -n, --name NAME    the session with this name\n"
		"  -j, --json         JSON: an object per session (an array without\n"
		"                     ID or NAME) with every attribute, state and\n"
		"                     reason as names, \"hist\" as an array of 40\n"
		"                     counts and p50_ns, p90_ns, p99_ns\n"
		"  -h, --help         this text\n",
	},
	{
		"monitor", cmd_monitor,
		"print session events as they happen",
		"usage: pcmig-tool monitor [--json] [--id ID] [--exit-on-end]\n"
		"\n"
		"Subscribe to the module's \"" PCMIG_GENL_MCGRP_EVENTS "\" multicast group and print one\n"
		"line per event: time, session id, kind and attributes:\n"
		"  state OLD->NEW                    a state change\n"
		"  paused reason=R [error=-N (text)] a channel failed\n"
		"  error reason=R [error=-N (text)]  the session failed\n"
		"  complete key=value...             every page is present\n"
		"Output is flushed after every line. SIGINT or SIGTERM ends it with\n"
		"status 0.\n"
		"\n"
		"  -j, --json         one JSON object per line (\"time\" in UTC,\n"
		"                     \"event\", \"id\", then the event's attributes)\n"
		"  -i, --id ID        only events of session ID\n"
		"  -e, --exit-on-end  exit 0 when the session (with --id; else the\n"
		"                     first one) reaches END, 1 when it reaches\n"
		"                     FAILED; also at once if it is already there\n"
		"  -h, --help         this text\n",
	},
	{
		"destroy", cmd_destroy,
		"destroy a session (needs CAP_NET_ADMIN)",
		"usage: pcmig-tool destroy ID\n"
		"\n"
		"Destroy session ID: its node goes away, it moves to FAILED (reason\n"
		"destroyed) so that blocked faults get SIGBUS, and it is freed when\n"
		"its last file and mapping are gone. Needs CAP_NET_ADMIN.\n"
		"\n"
		"  -h, --help     this text\n",
	},
};

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

static void print_help(FILE *f, bool full)
{
	size_t i;

	fprintf(f, "usage: pcmig-tool COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-12s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\n'pcmig-tool COMMAND --help' describes a command.\n");
	if (!full)
		return;
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "\n%s", commands[i].usage);
	fprintf(f, "\nExit status: 0 success, 1 failure, 2 bad command line.\n");
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		print_help(stderr, false);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2 && find_command(argv[2])) {
			command_help(stdout, argv[2]);
			return 0;
		}
		print_help(stdout, true);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (cmd)
		return cmd->run(argc - 1, argv + 1);

	fprintf(stderr, "pcmig-tool: unknown command '%s'\n", argv[1]);
	print_help(stderr, false);
	return 2;
}
