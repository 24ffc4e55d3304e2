// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the session state machine.
 *
 * ADVISE -> (DISCARD) -> LISTEN -> RUNNING -> END, after QEMU's postcopy
 * states, plus PAUSED and RECOVER after a channel failure and FAILED. User
 * space asks for the forward moves; the receivers pause or fail a session
 * and complete it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/printk.h>

#include "compat.h"
#include "pcmig.h"

static const char * const pcmig_state_names[__PCMIG_STATE_MAX] = {
	[PCMIG_STATE_NONE]	= "none",
	[PCMIG_STATE_ADVISE]	= "advise",
	[PCMIG_STATE_DISCARD]	= "discard",
	[PCMIG_STATE_LISTEN]	= "listen",
	[PCMIG_STATE_RUNNING]	= "running",
	[PCMIG_STATE_END]	= "end",
	[PCMIG_STATE_PAUSED]	= "paused",
	[PCMIG_STATE_RECOVER]	= "recover",
	[PCMIG_STATE_FAILED]	= "failed",
};

static const char * const pcmig_reason_names[__PCMIG_REASON_MAX] = {
	[PCMIG_REASON_NONE]		= "none",
	[PCMIG_REASON_CHANNEL_EOF]	= "channel closed by the peer",
	[PCMIG_REASON_CHANNEL_ERROR]	= "channel error",
	[PCMIG_REASON_BAD_MAGIC]	= "frame with a bad magic number",
	[PCMIG_REASON_BAD_VERSION]	= "frame of an unknown version",
	[PCMIG_REASON_BAD_TYPE]		= "frame of a bad type",
	[PCMIG_REASON_BAD_FLAGS]	= "frame with bad flags",
	[PCMIG_REASON_BAD_RANGE]	= "frame with a bad page range",
	[PCMIG_REASON_BAD_LENGTH]	= "frame with a bad length",
	[PCMIG_REASON_NOT_REQUESTED]	= "reply for a page never requested",
	[PCMIG_REASON_DUPLICATE]	= "page sent twice",
	[PCMIG_REASON_INCOMPLETE]	= "source ended with pages missing",
	[PCMIG_REASON_ABORTED]		= "aborted by user space",
	[PCMIG_REASON_DESTROYED]	= "session destroyed",
};

/**
 * pcmig_state_name() - name of a state
 * @state: state
 *
 * Return: a static string.
 */
const char *pcmig_state_name(enum pcmig_state state)
{
	if ((unsigned int)state >= __PCMIG_STATE_MAX)
		return "unknown";
	return pcmig_state_names[state];
}

/**
 * pcmig_reason_name() - description of a reason
 * @reason: reason
 *
 * Return: a static string.
 */
const char *pcmig_reason_name(enum pcmig_reason reason)
{
	if ((unsigned int)reason >= __PCMIG_REASON_MAX)
		return "unknown";
	return pcmig_reason_names[reason];
}

static bool pcmig_state_final(enum pcmig_state state)
{
	return state == PCMIG_STATE_END || state == PCMIG_STATE_FAILED;
}

/**
 * pcmig_state_active() - whether a session in @state moves pages
 * @state: state
 *
 * Return: true for ADVISE, DISCARD, LISTEN, RUNNING and RECOVER: the
 * states that can pause and in which channels may be attached.
 */
bool pcmig_state_active(enum pcmig_state state)
{
	switch (state) {
	case PCMIG_STATE_ADVISE:
	case PCMIG_STATE_DISCARD:
	case PCMIG_STATE_LISTEN:
	case PCMIG_STATE_RUNNING:
	case PCMIG_STATE_RECOVER:
		return true;
	default:
		return false;
	}
}

static bool pcmig_state_sends(enum pcmig_state state)
{
	return state == PCMIG_STATE_LISTEN || state == PCMIG_STATE_RUNNING;
}

/* The moves user space may ask for, FAILED aside. Under s->lock. */
static bool pcmig_move_legal(struct pcmig_session *s, enum pcmig_state from,
			     enum pcmig_state to)
{
	switch (from) {
	case PCMIG_STATE_ADVISE:
		return to == PCMIG_STATE_DISCARD || to == PCMIG_STATE_LISTEN;
	case PCMIG_STATE_DISCARD:
		return to == PCMIG_STATE_LISTEN;
	case PCMIG_STATE_LISTEN:
		return to == PCMIG_STATE_RUNNING;
	case PCMIG_STATE_PAUSED:
		return to == PCMIG_STATE_RECOVER;
	case PCMIG_STATE_RECOVER:
		return to == s->resume_state;
	default:
		return false;
	}
}

/**
 * pcmig_set_state() - a move asked for by user space
 * @s: session; the caller holds @s->ctl_lock
 * @to: target state
 *
 * Return: 0; -EBUSY from a final state; -ENOTCONN for LISTEN or RUNNING
 * without an urgent channel; -EINVAL for any other illegal move.
 */
int pcmig_set_state(struct pcmig_session *s, enum pcmig_state to)
{
	enum pcmig_state from;
	int ret;

	/*
	 * The receivers of the failed channels are on their way out; new
	 * channels attached in RECOVER must not find them still there. No
	 * channel can be added meanwhile: attach is refused in PAUSED.
	 */
	if (to == PCMIG_STATE_RECOVER &&
	    READ_ONCE(s->state) == PCMIG_STATE_PAUSED) {
		ret = pcmig_channels_wait_gone(s);
		if (ret)
			return ret;
	}

	spin_lock_irq(&s->lock);
	from = s->state;
	if (pcmig_state_final(from)) {
		spin_unlock_irq(&s->lock);
		return -EBUSY;
	}
	if (to == PCMIG_STATE_FAILED) {
		spin_unlock_irq(&s->lock);
		pcmig_fail(s, PCMIG_REASON_ABORTED, 0);
		return 0;
	}
	if (!pcmig_move_legal(s, from, to)) {
		spin_unlock_irq(&s->lock);
		return -EINVAL;
	}
	if (pcmig_state_sends(to) && !(s->chan_mask & PCMIG_CHANNEL_URGENT)) {
		spin_unlock_irq(&s->lock);
		return -ENOTCONN;
	}
	WRITE_ONCE(s->state, to);
	if (from == PCMIG_STATE_RECOVER) {
		s->reason = PCMIG_REASON_NONE;
		s->error = 0;
	}
	spin_unlock_irq(&s->lock);

	pcmig_event_state(s, from, to);
	/* Requests held back (ADVISE) or lost (PAUSED) go out now. */
	if (pcmig_state_sends(to) && !pcmig_state_sends(from))
		pcmig_tx_resend(s);
	if (to == PCMIG_STATE_RUNNING)
		pcmig_check_complete(s);
	return 0;
}

/**
 * pcmig_enter_discard() - allow a DISCARD, moving ADVISE to DISCARD
 * @s: session; the caller holds @s->ctl_lock
 *
 * Return: 0; -EBUSY in a final state; -EINVAL in any other state.
 */
int pcmig_enter_discard(struct pcmig_session *s)
{
	enum pcmig_state from;

	spin_lock_irq(&s->lock);
	from = s->state;
	if (from == PCMIG_STATE_DISCARD) {
		spin_unlock_irq(&s->lock);
		return 0;
	}
	if (from != PCMIG_STATE_ADVISE) {
		spin_unlock_irq(&s->lock);
		return pcmig_state_final(from) ? -EBUSY : -EINVAL;
	}
	WRITE_ONCE(s->state, PCMIG_STATE_DISCARD);
	spin_unlock_irq(&s->lock);

	pcmig_event_state(s, from, PCMIG_STATE_DISCARD);
	return 0;
}

/**
 * pcmig_pause() - a channel failed: pause the session
 * @s: session
 * @reason: why
 * @error: negative errno, or zero
 *
 * Every channel is shut down; faults on missing pages keep waiting. Does
 * nothing unless the session is active.
 */
void pcmig_pause(struct pcmig_session *s, enum pcmig_reason reason,
		 int error)
{
	enum pcmig_state from;

	spin_lock_irq(&s->lock);
	from = s->state;
	if (!pcmig_state_active(from)) {
		spin_unlock_irq(&s->lock);
		return;
	}
	if (from != PCMIG_STATE_RECOVER)
		s->resume_state = from;
	WRITE_ONCE(s->state, PCMIG_STATE_PAUSED);
	s->reason = reason;
	s->error = error;
	s->pauses++;
	spin_unlock_irq(&s->lock);

	pcmig_channels_shutdown(s);
	pcmig_tx_drop_queue(s);
	pr_warn_ratelimited("session %u paused: %s (%d)\n", s->id,
			    pcmig_reason_name(reason), error);
	pcmig_event_reason(s, PCMIG_CMD_EVENT_PAUSED, reason, error);
	pcmig_event_state(s, from, PCMIG_STATE_PAUSED);
}

/**
 * pcmig_fail() - fail the session for good
 * @s: session
 * @reason: why
 * @error: negative errno, or zero
 *
 * Every channel is shut down and every blocked fault gets SIGBUS. Does
 * nothing in END or FAILED.
 */
void pcmig_fail(struct pcmig_session *s, enum pcmig_reason reason, int error)
{
	enum pcmig_state from;

	spin_lock_irq(&s->lock);
	from = s->state;
	if (pcmig_state_final(from)) {
		spin_unlock_irq(&s->lock);
		return;
	}
	WRITE_ONCE(s->state, PCMIG_STATE_FAILED);
	s->reason = reason;
	s->error = error;
	spin_unlock_irq(&s->lock);

	pcmig_channels_shutdown(s);
	pcmig_tx_drop_queue(s);
	pcmig_wake_all(s);
	if (reason != PCMIG_REASON_DESTROYED && reason != PCMIG_REASON_ABORTED)
		pr_warn_ratelimited("session %u failed: %s (%d)\n", s->id,
				    pcmig_reason_name(reason), error);
	pcmig_event_reason(s, PCMIG_CMD_EVENT_ERROR, reason, error);
	pcmig_event_state(s, from, PCMIG_STATE_FAILED);
}

/**
 * pcmig_check_complete() - move a RUNNING session whose pages are all
 * present to END
 * @s: session
 */
void pcmig_check_complete(struct pcmig_session *s)
{
	if (atomic64_read(&s->nr_present) != s->npages)
		return;

	spin_lock_irq(&s->lock);
	if (s->state != PCMIG_STATE_RUNNING) {
		spin_unlock_irq(&s->lock);
		return;
	}
	WRITE_ONCE(s->state, PCMIG_STATE_END);
	spin_unlock_irq(&s->lock);

	pcmig_channels_shutdown(s);
	pcmig_event_complete(s);
	pcmig_event_state(s, PCMIG_STATE_RUNNING, PCMIG_STATE_END);
}
