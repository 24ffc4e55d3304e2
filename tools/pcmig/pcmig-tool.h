/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig-tool: declarations shared by the tool's source files.
 */
#ifndef _PCMIG_TOOL_H
#define _PCMIG_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <linux/pcmig.h>

#define PCMIG_CTL_PATH	"/dev/" PCMIG_NAME

/**
 * struct pcmig_info - what the module says about itself over netlink
 * @abi_major: ABI major number
 * @abi_minor: ABI minor number
 * @features: feature mask
 * @page_size: session page size in bytes
 * @version: module version string
 */
struct pcmig_info {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint64_t features;
	uint32_t page_size;
	char version[32];
};

/**
 * struct pcmig_genl - a connected generic netlink socket for the family
 * @sock: libnl socket
 * @family: resolved family id
 */
struct pcmig_genl {
	struct nl_sock *sock;
	int family;
};

/**
 * struct pcmig_session - the attributes of a session or event message
 * @have: bit PCMIG_ATTR_x set when attribute x was present and valid; an
 *	absent attribute leaves its field zero (test with pcmig_has())
 * @cmd: generic netlink command of the message (PCMIG_CMD_*)
 * @id: %PCMIG_ATTR_ID
 * @name: %PCMIG_ATTR_NAME, truncated to fit and NUL-terminated
 * @state: %PCMIG_ATTR_STATE, &enum pcmig_state
 * @old_state: %PCMIG_ATTR_OLD_STATE (state events only)
 * @reason: %PCMIG_ATTR_REASON, &enum pcmig_reason
 * @error: %PCMIG_ATTR_ERROR, negative errno or zero
 * @size: %PCMIG_ATTR_SIZE
 * @pages_total: %PCMIG_ATTR_PAGES_TOTAL
 * @pages_present: %PCMIG_ATTR_PAGES_PRESENT
 * @pages_received: %PCMIG_ATTR_PAGES_RECEIVED
 * @pages_requested: %PCMIG_ATTR_PAGES_REQUESTED
 * @pages_pushed: %PCMIG_ATTR_PAGES_PUSHED
 * @pages_zero: %PCMIG_ATTR_PAGES_ZERO
 * @pages_duplicate: %PCMIG_ATTR_PAGES_DUPLICATE
 * @pages_discarded: %PCMIG_ATTR_PAGES_DISCARDED
 * @in_flight: %PCMIG_ATTR_IN_FLIGHT
 * @bytes_received: %PCMIG_ATTR_BYTES_RECEIVED
 * @requests_sent: %PCMIG_ATTR_REQUESTS_SENT
 * @faults: %PCMIG_ATTR_FAULTS
 * @faults_blocked: %PCMIG_ATTR_FAULTS_BLOCKED
 * @blocked_ns: %PCMIG_ATTR_BLOCKED_NS
 * @pauses: %PCMIG_ATTR_PAUSES
 * @hist: %PCMIG_ATTR_HIST, fault-wait histogram; missing buckets are zero
 * @resume_state: %PCMIG_ATTR_RESUME_STATE, in PAUSED and RECOVER the state
 *	RECOVER leads back to; %PCMIG_STATE_NONE in other states (ABI 0.4)
 * @pause_timeout_ms: %PCMIG_ATTR_PAUSE_TIMEOUT_MS, 0 when off (ABI 0.4)
 * @recoveries: %PCMIG_ATTR_RECOVERIES (ABI 0.4)
 * @paused_at_ns: %PCMIG_ATTR_PAUSED_AT_NS, CLOCK_MONOTONIC start of the
 *	current or last outage; 0 if the session never paused (ABI 0.4)
 * @paused_total_ns: %PCMIG_ATTR_PAUSED_TOTAL_NS, the current outage
 *	included up to the moment the module answered (ABI 0.4)
 * @requests_resent: %PCMIG_ATTR_REQUESTS_RESENT (ABI 0.4)
 * @pages_punched: %PCMIG_ATTR_PAGES_PUNCHED, missing pages a punch made
 *	present (ABI 0.6)
 * @seen_ns: not an attribute: CLOCK_MONOTONIC, in nanoseconds, when
 *	pcmig_genl_parse() parsed the message, the "now" that @paused_at_ns is
 *	measured against; 0 when unknown (then so is the outage's length)
 * @seen_real_ns: not an attribute: CLOCK_REALTIME at the same moment, to
 *	date @paused_at_ns; 0 when unknown
 */
struct pcmig_session {
	uint64_t have;
	uint8_t cmd;
	uint32_t id;
	char name[PCMIG_NAME_LEN];
	uint32_t state;
	uint32_t old_state;
	uint32_t reason;
	int32_t error;
	uint64_t size;
	uint64_t pages_total;
	uint64_t pages_present;
	uint64_t pages_received;
	uint64_t pages_requested;
	uint64_t pages_pushed;
	uint64_t pages_zero;
	uint64_t pages_duplicate;
	uint64_t pages_discarded;
	uint64_t in_flight;
	uint64_t bytes_received;
	uint64_t requests_sent;
	uint64_t faults;
	uint64_t faults_blocked;
	uint64_t blocked_ns;
	uint64_t pauses;
	uint64_t hist[PCMIG_HIST_BUCKETS];
	uint32_t resume_state;
	uint32_t pause_timeout_ms;
	uint64_t recoveries;
	uint64_t paused_at_ns;
	uint64_t paused_total_ns;
	uint64_t requests_resent;
	uint64_t pages_punched;
	uint64_t seen_ns;
	uint64_t seen_real_ns;
};

_Static_assert(PCMIG_ATTR_MAX < 64, "struct pcmig_session.have is too small");

/**
 * pcmig_has() - whether a message carried an attribute
 * @s: parsed message
 * @attr: PCMIG_ATTR_*
 *
 * Return: true if @attr was present and valid.
 */
static inline bool pcmig_has(const struct pcmig_session *s, int attr)
{
	return attr >= 0 && attr < 64 && (s->have >> attr) & 1;
}

/**
 * struct pcmig_events - a generic netlink socket subscribed to "events"
 * @sock: libnl socket
 * @family: resolved family id
 * @group: resolved multicast group id
 */
struct pcmig_events {
	struct nl_sock *sock;
	int family;
	int group;
};

/**
 * typedef pcmig_event_fn - called for every event message received
 * @ev: the parsed event (@ev->cmd is its PCMIG_CMD_EVENT_*)
 * @arg: the caller's argument
 */
typedef void (*pcmig_event_fn)(const struct pcmig_session *ev, void *arg);

struct nlmsghdr;

int pcmig_genl_open(struct pcmig_genl *g);
void pcmig_genl_close(struct pcmig_genl *g);
int pcmig_genl_get_info(struct pcmig_genl *g, struct pcmig_info *info);
int pcmig_genl_parse(struct nlmsghdr *nlh, struct pcmig_session *s);
int pcmig_genl_session_get(struct pcmig_genl *g, uint32_t id,
			   struct pcmig_session *s);
int pcmig_genl_session_dump(struct pcmig_genl *g, struct pcmig_session **list,
			    size_t *n);
int pcmig_genl_session_destroy(struct pcmig_genl *g, uint32_t id);

int pcmig_events_open(struct pcmig_events *ev);
void pcmig_events_close(struct pcmig_events *ev);
int pcmig_events_fd(const struct pcmig_events *ev);
int pcmig_events_recv(struct pcmig_events *ev, pcmig_event_fn fn, void *arg);

int pcmig_ctl_version(struct pcmig_version *ver);

void pcmig_show_session_json(FILE *f, const struct pcmig_session *s);
void pcmig_show_sessions_json(FILE *f, const struct pcmig_session *s,
			      size_t n);
void pcmig_show_sessions_table(FILE *f, const struct pcmig_session *s,
			       size_t n);
void pcmig_show_session_details(FILE *f, const struct pcmig_session *s);
void pcmig_show_event(FILE *f, const struct pcmig_session *ev,
		      const struct timespec *ts, bool json);

/*
 * Migration commands: the source in source*.c, the destination in dest*.c.
 * Each usage text starts with its synopsis line.
 */
int cmd_migrate(int argc, char **argv);
int cmd_incoming(int argc, char **argv);
int cmd_advise(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_recover(int argc, char **argv);
extern const char migrate_usage[];
extern const char incoming_usage[];
extern const char advise_usage[];
extern const char listen_usage[];
extern const char run_usage[];
extern const char recover_usage[];

#endif /* _PCMIG_TOOL_H */
