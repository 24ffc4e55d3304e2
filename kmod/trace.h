/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig: tracepoints (Documentation/tracing.rst).
 *
 * Every event carries the session id. Each is emitted at the one place
 * where the thing it reports happens, so that it matches the counter of
 * the status that counts the same thing: pcmig_fault_missing the faults,
 * pcmig_fault the waits (those that got their page: faults_blocked),
 * pcmig_request_sent the request frames, pcmig_page_received the pages
 * that became present by arriving (received, pushed, zero), pcmig_pause
 * the pauses and pcmig_recover the recoveries; pcmig_state_change comes
 * with the netlink state event, once for every move. A disabled tracepoint
 * costs a static branch.
 *
 * The definitions are in trace.c (CREATE_TRACE_POINTS), which is compiled
 * with this directory in its include path: define_trace.h includes this
 * file again by its name.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pcmig

#if !defined(_PCMIG_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PCMIG_TRACE_H

#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/tracepoint.h>
#include <linux/types.h>

#include "pcmig.h"

#ifndef _PCMIG_TRACE_ONCE
#define _PCMIG_TRACE_ONCE

/* How a page became present (pcmig_page_received). */
#define PCMIG_TRACE_REQUESTED	0	/* a reply to a request */
#define PCMIG_TRACE_PUSHED	1	/* a page pushed without a request */
#define PCMIG_TRACE_ZERO	2	/* announced zero by a ZERO frame */

/*
 * Names for __print_symbolic() and __print_flags(): those of pcmig-tool
 * for states and reasons (trace.c checks that every one has a name); the
 * fault flags of 6.1 (a newer kernel's own show as a hexadecimal rest).
 */
#define PCMIG_TRACE_STATES					\
	PCMIG_EM(PCMIG_STATE_NONE,		"none")		\
	PCMIG_EM(PCMIG_STATE_ADVISE,		"advise")	\
	PCMIG_EM(PCMIG_STATE_DISCARD,		"discard")	\
	PCMIG_EM(PCMIG_STATE_LISTEN,		"listen")	\
	PCMIG_EM(PCMIG_STATE_RUNNING,		"running")	\
	PCMIG_EM(PCMIG_STATE_END,		"end")		\
	PCMIG_EM(PCMIG_STATE_PAUSED,		"paused")	\
	PCMIG_EM(PCMIG_STATE_RECOVER,		"recover")	\
	PCMIG_EMe(PCMIG_STATE_FAILED,		"failed")

#define PCMIG_TRACE_REASONS					\
	PCMIG_EM(PCMIG_REASON_NONE,		"none")		\
	PCMIG_EM(PCMIG_REASON_CHANNEL_EOF,	"channel_eof")	\
	PCMIG_EM(PCMIG_REASON_CHANNEL_ERROR,	"channel_error") \
	PCMIG_EM(PCMIG_REASON_BAD_MAGIC,	"bad_magic")	\
	PCMIG_EM(PCMIG_REASON_BAD_VERSION,	"bad_version")	\
	PCMIG_EM(PCMIG_REASON_BAD_TYPE,		"bad_type")	\
	PCMIG_EM(PCMIG_REASON_BAD_FLAGS,	"bad_flags")	\
	PCMIG_EM(PCMIG_REASON_BAD_RANGE,	"bad_range")	\
	PCMIG_EM(PCMIG_REASON_BAD_LENGTH,	"bad_length")	\
	PCMIG_EM(PCMIG_REASON_NOT_REQUESTED,	"not_requested") \
	PCMIG_EM(PCMIG_REASON_DUPLICATE,	"duplicate")	\
	PCMIG_EM(PCMIG_REASON_INCOMPLETE,	"incomplete")	\
	PCMIG_EM(PCMIG_REASON_ABORTED,		"aborted")	\
	PCMIG_EM(PCMIG_REASON_DESTROYED,	"destroyed")	\
	PCMIG_EM(PCMIG_REASON_USER,		"user")		\
	PCMIG_EM(PCMIG_REASON_PAUSE_TIMEOUT,	"pause_timeout") \
	PCMIG_EMe(PCMIG_REASON_HUGE_PAGE,	"huge_page")

#define PCMIG_TRACE_FAULT_FLAGS					\
	PCMIG_EM(FAULT_FLAG_WRITE,		"WRITE")	\
	PCMIG_EM(FAULT_FLAG_MKWRITE,		"MKWRITE")	\
	PCMIG_EM(FAULT_FLAG_ALLOW_RETRY,	"ALLOW_RETRY")	\
	PCMIG_EM(FAULT_FLAG_RETRY_NOWAIT,	"RETRY_NOWAIT")	\
	PCMIG_EM(FAULT_FLAG_KILLABLE,		"KILLABLE")	\
	PCMIG_EM(FAULT_FLAG_TRIED,		"TRIED")	\
	PCMIG_EM(FAULT_FLAG_USER,		"USER")		\
	PCMIG_EM(FAULT_FLAG_REMOTE,		"REMOTE")	\
	PCMIG_EM(FAULT_FLAG_INSTRUCTION,	"INSTRUCTION")	\
	PCMIG_EM(FAULT_FLAG_INTERRUPTIBLE,	"INTERRUPTIBLE") \
	PCMIG_EM(FAULT_FLAG_UNSHARE,		"UNSHARE")	\
	PCMIG_EMe(FAULT_FLAG_ORIG_PTE_VALID,	"ORIG_PTE_VALID")

/* The REQUEST frame being sent, and the first page it asks for. */
static inline const struct pcmig_frame *
pcmig_trace_req(const struct pcmig_session *s)
{
	return s->tx_buf;
}

static inline u64 pcmig_trace_first(const struct pcmig_session *s)
{
	const __be64 *offsets = (const __be64 *)(pcmig_trace_req(s) + 1);

	return be64_to_cpu(offsets[0]) >> PAGE_SHIFT;
}

#endif /* _PCMIG_TRACE_ONCE */

/*
 * The enumerators by value in the events' format files, for the tools
 * that parse them (perf, trace-cmd); then the lists as name tables.
 */
#undef PCMIG_EM
#undef PCMIG_EMe
#define PCMIG_EM(a, b)	TRACE_DEFINE_ENUM(a);
#define PCMIG_EMe(a, b)	TRACE_DEFINE_ENUM(a);

PCMIG_TRACE_STATES
PCMIG_TRACE_REASONS
PCMIG_TRACE_FAULT_FLAGS

#undef PCMIG_EM
#undef PCMIG_EMe
#define PCMIG_EM(a, b)	{ a, b },
#define PCMIG_EMe(a, b)	{ a, b }

/* A fault found its page missing: one for each of the status's faults. */
TRACE_EVENT(pcmig_fault_missing,
	    TP_PROTO(const struct pcmig_session *s, unsigned long idx,
		     unsigned int flags),
	    TP_ARGS(s, idx, flags),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(unsigned long, idx)
			     __field(unsigned int, flags)),
	    TP_fast_assign(__entry->session = s->id;
			   __entry->idx = idx;
			   __entry->flags = flags;),
	    TP_printk("session=%u idx=%lu flags=%s",
		      __entry->session, __entry->idx,
		      __print_flags(__entry->flags, "|",
				    PCMIG_TRACE_FAULT_FLAGS))
);

/*
 * A fault's wait for its page ended, @start being when it found the page
 * missing and @ret the wait's result. blocked: the page is present, and
 * the wait is one of the status's faults_blocked (its wait_ns that of the
 * histogram, give or take the nanoseconds between two clock reads);
 * otherwise a signal (interrupted) or the failure of the session ended it.
 */
TRACE_EVENT(pcmig_fault,
	    TP_PROTO(struct pcmig_session *s, unsigned long idx, u64 start,
		     int ret),
	    TP_ARGS(s, idx, start, ret),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(unsigned long, idx)
			     __field(u64, wait_ns)
			     __field(bool, blocked)
			     __field(bool, interrupted)),
	    TP_fast_assign(__entry->session = s->id;
			   __entry->idx = idx;
			   __entry->wait_ns = ktime_get_ns() - start;
			   __entry->blocked = pcmig_page_present(s, idx);
			   __entry->interrupted = ret != 0;),
	    TP_printk("session=%u idx=%lu blocked=%d wait_ns=%llu interrupted=%d",
		      __entry->session, __entry->idx, __entry->blocked,
		      __entry->wait_ns, __entry->interrupted)
);

/* A REQUEST frame, the one in @s->tx_buf, was sent whole. */
TRACE_EVENT(pcmig_request_sent,
	    TP_PROTO(const struct pcmig_session *s),
	    TP_ARGS(s),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, npages)
			     __field(u64, first)),
	    TP_fast_assign(__entry->session = s->id;
			   __entry->npages = be32_to_cpu(pcmig_trace_req(s)->npages);
			   __entry->first = pcmig_trace_first(s);),
	    TP_printk("session=%u npages=%u first=%llu",
		      __entry->session, __entry->npages, __entry->first)
);

/*
 * Page rx->idx became present: its payload arrived whole in @page, or
 * @page is NULL for a zero page. channel: the number of the channel in its
 * session (attach order, from 0); mask: what it serves.
 */
TRACE_EVENT(pcmig_page_received,
	    TP_PROTO(const struct pcmig_rx *rx, const struct page *page),
	    TP_ARGS(rx, page),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(unsigned long, idx)
			     __field(u32, channel)
			     __field(u32, mask)
			     __field(u8, kind)),
	    TP_fast_assign(__entry->session = rx->s->id;
			   __entry->idx = rx->idx;
			   __entry->channel = rx->ch->index;
			   __entry->mask = rx->ch->mask;
			   __entry->kind = !page ? PCMIG_TRACE_ZERO :
					   rx->requested ? PCMIG_TRACE_REQUESTED :
					   PCMIG_TRACE_PUSHED;),
	    TP_printk("session=%u idx=%lu channel=%u mask=%s kind=%s",
		      __entry->session, __entry->idx, __entry->channel,
		      __print_flags(__entry->mask, "|",
				    { PCMIG_CHANNEL_URGENT, "urgent" },
				    { PCMIG_CHANNEL_BULK, "bulk" }),
		      __print_symbolic(__entry->kind,
				       { PCMIG_TRACE_REQUESTED, "requested" },
				       { PCMIG_TRACE_PUSHED, "pushed" },
				       { PCMIG_TRACE_ZERO, "zero" }))
);

/*
 * The session moved from @from to @to, under its lock; reason: its
 * reason now (that of the pause or failure, none once recovered).
 */
TRACE_EVENT(pcmig_state_change,
	    TP_PROTO(const struct pcmig_session *s, enum pcmig_state from,
		     enum pcmig_state to),
	    TP_ARGS(s, from, to),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, from)
			     __field(u32, to)
			     __field(u32, reason)),
	    TP_fast_assign(__entry->session = s->id;
			   __entry->from = from;
			   __entry->to = to;
			   __entry->reason = s->reason;),
	    TP_printk("session=%u from=%s to=%s reason=%s",
		      __entry->session,
		      __print_symbolic(__entry->from, PCMIG_TRACE_STATES),
		      __print_symbolic(__entry->to, PCMIG_TRACE_STATES),
		      __print_symbolic(__entry->reason, PCMIG_TRACE_REASONS))
);

/*
 * The session pauses, under its lock, with its reason and error set:
 * epoch is the outage generation the pause starts (channels attached from
 * now on carry it), resume the state RECOVER leads back to.
 */
TRACE_EVENT(pcmig_pause,
	    TP_PROTO(const struct pcmig_session *s),
	    TP_ARGS(s),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, reason)
			     __field(int, error)
			     __field(u32, epoch)
			     __field(u32, resume)),
	    TP_fast_assign(__entry->session = s->id;
			   __entry->reason = s->reason;
			   __entry->error = s->error;
			   __entry->epoch = s->epoch;
			   __entry->resume = s->resume_state;),
	    TP_printk("session=%u reason=%s error=%d epoch=%u resume=%s",
		      __entry->session,
		      __print_symbolic(__entry->reason, PCMIG_TRACE_REASONS),
		      __entry->error, __entry->epoch,
		      __print_symbolic(__entry->resume, PCMIG_TRACE_STATES))
);

/*
 * The session went back from RECOVER to resume, under its lock, its
 * outage accounted: paused_ns is the length of this outage (from the
 * first pause of it), paused_total_ns that of every outage so far.
 */
TRACE_EVENT(pcmig_recover,
	    TP_PROTO(const struct pcmig_session *s),
	    TP_ARGS(s),
	    TP_STRUCT__entry(__field(u32, session)
			     __field(u32, resume)
			     __field(u64, recoveries)
			     __field(u64, paused_ns)
			     __field(u64, paused_total_ns)),
	    TP_fast_assign(__entry->session = s->id;
			   __entry->resume = s->state;
			   __entry->recoveries = s->recoveries;
			   __entry->paused_ns = ktime_get_ns() - s->paused_at_ns;
			   __entry->paused_total_ns = s->paused_total_ns;),
	    TP_printk("session=%u resume=%s recoveries=%llu paused_ns=%llu paused_total_ns=%llu",
		      __entry->session,
		      __print_symbolic(__entry->resume, PCMIG_TRACE_STATES),
		      __entry->recoveries, __entry->paused_ns,
		      __entry->paused_total_ns)
);

#endif /* _PCMIG_TRACE_H */

/* Outside the guard: define_trace.h reads this file again, by this name. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
