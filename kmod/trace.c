// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the tracepoints of trace.h, defined here once.
 */
#include <linux/build_bug.h>
#include <linux/kernel.h>

#define CREATE_TRACE_POINTS
#include "trace.h"

/*
 * Every state and reason has a name in the events' output: the lists as
 * trace.h leaves them, tables of { value, name }.
 */
static const struct trace_print_flags pcmig_trace_states[] __maybe_unused = {
	PCMIG_TRACE_STATES
};

static const struct trace_print_flags pcmig_trace_reasons[] __maybe_unused = {
	PCMIG_TRACE_REASONS
};

static_assert(ARRAY_SIZE(pcmig_trace_states) == __PCMIG_STATE_MAX);
static_assert(ARRAY_SIZE(pcmig_trace_reasons) == __PCMIG_REASON_MAX);
