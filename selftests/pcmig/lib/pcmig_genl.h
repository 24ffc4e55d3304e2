/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "pcmig" generic netlink family for the selftests (libnl-genl-3):
 * GET_INFO, SESSION_GET (doit and dump), SESSION_DESTROY, and a listener
 * for the "events" multicast group.
 *
 * Independent of kselftest_harness.h. Functions return 0 or a negative
 * errno (the kernel's for a netlink error message).
 */
#ifndef _PCMIG_GENL_H
#define _PCMIG_GENL_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/pcmig.h>

struct pcmig_nl_info {
	uint32_t abi_major, abi_minor, page_size;
	uint64_t features;
	uint32_t sessions;
	bool has_sessions;
	char version[64];
};

/* One session as SESSION_GET or an event reports it. */
struct pcmig_nl_session {
	uint32_t id;
	char name[PCMIG_NAME_LEN + 8];
	uint32_t state, old_state, reason;
	int32_t error;
	uint64_t size, pages_total, pages_present, pages_received;
	uint64_t pages_requested, pages_pushed, pages_zero, pages_duplicate;
	uint64_t pages_discarded, in_flight, bytes_received, requests_sent;
	uint64_t faults, faults_blocked, blocked_ns, pauses;
	/* ABI 0.4 */
	uint32_t resume_state, pause_timeout_ms;
	uint64_t recoveries, paused_at_ns, paused_total_ns, requests_resent;
	/* ABI 0.6 */
	uint64_t pages_punched;
	uint64_t hist[PCMIG_HIST_BUCKETS];
	unsigned int hist_entries;	/* nested entries seen */
	/* Which attributes were there: bit PCMIG_ATTR_* */
	uint64_t present;
};

#define PCMIG_NL_HAS(s, attr)	(((s)->present >> (attr)) & 1)

/*
 * The first attribute abi.rst lists for SESSION_GET that @s lacks, or
 * PCMIG_ATTR_UNSPEC if it has them all.
 */
int pcmig_nl_session_missing(const struct pcmig_nl_session *s);

int pcmig_genl_get_info(struct pcmig_nl_info *info);
/* SESSION_GET with ID; -ENOENT if there is none. */
int pcmig_genl_session_get(uint32_t id, struct pcmig_nl_session *out);
/*
 * SESSION_GET dump: up to @max sessions into @out, their number in @count
 * (which may exceed @max).
 */
int pcmig_genl_session_dump(struct pcmig_nl_session *out, unsigned int max,
			    unsigned int *count);
int pcmig_genl_session_destroy(uint32_t id);

/* Event listener */

struct pcmig_event {
	uint8_t cmd;			/* PCMIG_CMD_EVENT_* */
	struct pcmig_nl_session s;	/* the attributes it carried */
};

struct pcmig_events;

/* Join the "events" group; NULL on failure (see pcmig_lib_error()). */
struct pcmig_events *pcmig_events_open(void);
void pcmig_events_close(struct pcmig_events *ev);

/*
 * pcmig_events_find() - the first event at index >= @from for session @id
 * with command @cmd and (for @cmd PCMIG_CMD_EVENT_STATE, if @state is not
 * PCMIG_STATE_NONE) new state @state, waiting up to @timeout_ms for it.
 * Returns its index (events are numbered in arrival order) and copies it to
 * @out, or -ETIMEDOUT.
 */
int pcmig_events_find(struct pcmig_events *ev, int from, uint32_t id,
		      uint8_t cmd, uint32_t state, int timeout_ms,
		      struct pcmig_event *out);
/* Events received so far (after draining the socket for @wait_ms). */
int pcmig_events_count(struct pcmig_events *ev, int wait_ms);
/* Event @i, or NULL. */
const struct pcmig_event *pcmig_events_get(struct pcmig_events *ev, int i);
/* Events for session @id at index >= @from (after waiting @wait_ms). */
int pcmig_events_count_for(struct pcmig_events *ev, int from, uint32_t id,
			   int wait_ms);
/* True if the socket overflowed (events were lost). */
bool pcmig_events_overrun(struct pcmig_events *ev);

const char *pcmig_cmd_name(uint8_t cmd);

#endif /* _PCMIG_GENL_H */
