// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig: the session state machine.
 *
 * ADVISE -> (DISCARD) -> LISTEN -> RUNNING -> END, after QEMU's postcopy
 * states, plus PAUSED and RECOVER after a channel failure and FAILED. User
 * space asks for the forward moves and may pause; the receivers pause or
 * fail a session and complete it. An outage (PAUSED, and RECOVER until it
 * returns) may be bounded by the pause timeout, a delayed work item that
 * fails the session.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/build_bug.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/printk.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "pcmig.h"
#include "trace.h"

/*
 * Sized by their initialisers: a state or reason added to the UAPI without
 * a name here fails the build (the checks in the lookups below).
 */
static const char * const pcmig_state_names[] = {
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

static const char * const pcmig_reason_names[] = {
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
	[PCMIG_REASON_USER]		= "paused by user space",
	[PCMIG_REASON_PAUSE_TIMEOUT]	= "paused longer than the pause timeout",
	[PCMIG_REASON_HUGE_PAGE]	= "huge page in session memory",
};

/**
 * pcmig_state_name() - name of a state
 * @state: state
 *
 * Return: a static string.
 */
const char *pcmig_state_name(enum pcmig_state state)
{
	BUILD_BUG_ON(ARRAY_SIZE(pcmig_state_names) != __PCMIG_STATE_MAX);
	if ((unsigned int)state >= __PCMIG_STATE_MAX)
		return "unknown";
	return pcmig_state_names[state] ?: "unknown";
}

/**
 * pcmig_reason_name() - description of a reason
 * @reason: reason
 *
 * Return: a static string.
 */
const char *pcmig_reason_name(enum pcmig_reason reason)
{
	BUILD_BUG_ON(ARRAY_SIZE(pcmig_reason_names) != __PCMIG_REASON_MAX);
	if ((unsigned int)reason >= __PCMIG_REASON_MAX)
		return "unknown";
	return pcmig_reason_names[reason] ?: "unknown";
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

/**
 * pcmig_state_sends() - whether requests go out in @state
 * @state: state
 *
 * Return: true for LISTEN and RUNNING, where a fault's request is sent at
 * once; in ADVISE and DISCARD requests are held back until LISTEN, in
 * PAUSED and RECOVER until the session resumes.
 */
bool pcmig_state_sends(enum pcmig_state state)
{
	return state == PCMIG_STATE_LISTEN || state == PCMIG_STATE_RUNNING;
}

static bool pcmig_state_discards(enum pcmig_state state)
{
	return state == PCMIG_STATE_ADVISE || state == PCMIG_STATE_DISCARD;
}

/**
 * pcmig_state_outage() - whether a session in @state is in an outage
 * @state: state
 *
 * Return: true for PAUSED and RECOVER.
 */
bool pcmig_state_outage(enum pcmig_state state)
{
	return state == PCMIG_STATE_PAUSED || state == PCMIG_STATE_RECOVER;
}

/**
 * pcmig_before_listen() - whether the session has not been in LISTEN yet
 * @s: session
 *
 * A DISCARD may still come: the session is in ADVISE or DISCARD, or in
 * PAUSED or RECOVER on the way back to one of them. The answer changes
 * once only, from true to false: with the move to LISTEN (or to FAILED).
 * Any context.
 *
 * Return: true before LISTEN.
 */
bool pcmig_before_listen(struct pcmig_session *s)
{
	enum pcmig_state state = READ_ONCE(s->state);
	bool ret;

	if (!pcmig_state_outage(state))
		return pcmig_state_discards(state);
	/* The resume state goes with the state. */
	spin_lock_bh(&s->lock);
	ret = pcmig_state_discards(s->state) ||
	      (pcmig_state_outage(s->state) &&
	       pcmig_state_discards(s->resume_state));
	spin_unlock_bh(&s->lock);
	return ret;
}

/* The moves user space may ask for, PAUSED and FAILED aside. Under s->lock. */
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

/* The outage is over: account its length. Under s->lock. */
static void pcmig_outage_end(struct pcmig_session *s)
{
	s->paused_total_ns += ktime_get_ns() - s->paused_at_ns;
	cancel_delayed_work(&s->pause_work);
}

/*
 * Nanoseconds left of the pause timeout, 0 once it expired, U64_MAX when
 * none runs (not in an outage, or no timeout set). Under s->lock.
 */
static u64 pcmig_pause_left(struct pcmig_session *s)
{
	u64 deadline, now;

	if (!pcmig_state_outage(s->state) || !s->pause_timeout_ms)
		return U64_MAX;
	deadline = s->paused_at_ns + (u64)s->pause_timeout_ms * NSEC_PER_MSEC;
	now = ktime_get_ns();
	return now < deadline ? deadline - now : 0;
}

/*
 * Arm the pause timeout for what is left of it, or cancel it. Under
 * s->lock, so that the timer always follows the latest state and timeout;
 * the work item checks again anyway when it runs.
 */
static void pcmig_pause_timer(struct pcmig_session *s)
{
	u64 left = pcmig_pause_left(s);

	if (left == U64_MAX)
		cancel_delayed_work(&s->pause_work);
	else
		mod_delayed_work(pcmig_wq, &s->pause_work,
				 nsecs_to_jiffies(left) + 1);
}

/* SET_STATE(PAUSED) and SET_STATE(FAILED). */
static int pcmig_set_state_stop(struct pcmig_session *s, enum pcmig_state to)
{
	enum pcmig_state from = READ_ONCE(s->state);

	if (pcmig_state_final(from))
		return -EBUSY;
	if (to == PCMIG_STATE_FAILED) {
		pcmig_fail(s, PCMIG_REASON_ABORTED, 0);
		return 0;
	}
	if (from == PCMIG_STATE_PAUSED)
		return 0;
	pcmig_pause(s, PCMIG_REASON_USER, 0);
	/* Unless the session ended or failed meanwhile. */
	return pcmig_state_final(READ_ONCE(s->state)) ? -EBUSY : 0;
}

/*
 * Check and make any other move, under s->lock. Return: 0 with *@from
 * set, or pcmig_set_state()'s errno.
 */
static int pcmig_move(struct pcmig_session *s, enum pcmig_state to,
		      enum pcmig_state *from)
{
	int ret = 0;

	spin_lock_bh(&s->lock);
	*from = s->state;
	if (pcmig_state_final(*from))
		ret = -EBUSY;
	else if (!pcmig_move_legal(s, *from, to))
		ret = -EINVAL;
	else if (pcmig_state_sends(to) &&
		 !(s->chan_mask & PCMIG_CHANNEL_URGENT))
		ret = -ENOTCONN;
	if (ret) {
		spin_unlock_bh(&s->lock);
		return ret;
	}
	WRITE_ONCE(s->state, to);
	if (*from == PCMIG_STATE_RECOVER) {
		s->reason = PCMIG_REASON_NONE;
		s->error = 0;
		s->recoveries++;
		pcmig_outage_end(s);
		trace_pcmig_recover(s);
	}
	pcmig_event_state(s, *from, to);
	spin_unlock_bh(&s->lock);
	return 0;
}

/**
 * pcmig_set_state() - a move asked for by user space
 * @s: session; the caller holds @s->ctl_lock
 * @to: target state
 *
 * The move to LISTEN waits for a DISCARD under way (a DISCARD frame's):
 * once it has returned, no DISCARD changes a page any more.
 *
 * Return: 0; -EBUSY from a final state; -ENOTCONN for LISTEN or RUNNING
 * without an urgent channel; -EINVAL for any other illegal move; -EINTR on
 * a fatal signal while waiting for the receivers of a paused session or
 * for a DISCARD.
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

	if (to == PCMIG_STATE_PAUSED || to == PCMIG_STATE_FAILED)
		return pcmig_set_state_stop(s, to);

	/*
	 * DISCARD checks the state under discard_lock: after this, none
	 * runs and none can start. One under way only reschedules.
	 */
	if (to == PCMIG_STATE_LISTEN &&
	    mutex_lock_killable(&s->discard_lock))
		return -EINTR;
	ret = pcmig_move(s, to, &from);
	if (to == PCMIG_STATE_LISTEN)
		mutex_unlock(&s->discard_lock);
	if (ret)
		return ret;

	/* Requests held back (ADVISE) or lost (PAUSED) go out now. */
	if (pcmig_state_sends(to) && !pcmig_state_sends(from)) {
		if (from == PCMIG_STATE_RECOVER)
			pcmig_tx_recovered(s);
		else
			pcmig_tx_resend(s);
	}
	if (to == PCMIG_STATE_RUNNING)
		pcmig_check_complete(s);
	return 0;
}

/**
 * pcmig_enter_discard() - allow a DISCARD, moving ADVISE to DISCARD
 * @s: session; the caller holds @s->discard_lock until its DISCARD is over
 *
 * Only ADVISE and DISCARD allow it; PAUSED and RECOVER do not, even on the
 * way back to them.
 *
 * Return: 0; -EBUSY in a final state; -EINVAL in any other state.
 */
int pcmig_enter_discard(struct pcmig_session *s)
{
	enum pcmig_state from;

	spin_lock_bh(&s->lock);
	from = s->state;
	if (from == PCMIG_STATE_DISCARD) {
		spin_unlock_bh(&s->lock);
		return 0;
	}
	if (from != PCMIG_STATE_ADVISE) {
		spin_unlock_bh(&s->lock);
		return pcmig_state_final(from) ? -EBUSY : -EINVAL;
	}
	WRITE_ONCE(s->state, PCMIG_STATE_DISCARD);
	pcmig_event_state(s, from, PCMIG_STATE_DISCARD);
	spin_unlock_bh(&s->lock);
	return 0;
}

/*
 * Pause, if @epoch (when not NULL) is still the session's outage
 * generation: a channel or socket of an earlier generation was already
 * dropped by the pause that ended it, and the session may have been
 * recovered with new channels since.
 */
static void __pcmig_pause(struct pcmig_session *s, const u32 *epoch,
			  enum pcmig_reason reason, int error)
{
	enum pcmig_state from;

	spin_lock_bh(&s->lock);
	from = s->state;
	if (!pcmig_state_active(from) || (epoch && *epoch != s->epoch)) {
		spin_unlock_bh(&s->lock);
		return;
	}
	/* A pause from RECOVER continues the outage it is part of. */
	if (from != PCMIG_STATE_RECOVER) {
		s->resume_state = from;
		s->paused_at_ns = ktime_get_ns();
	}
	WRITE_ONCE(s->state, PCMIG_STATE_PAUSED);
	s->reason = reason;
	s->error = error;
	s->pauses++;
	s->epoch++;
	trace_pcmig_pause(s);
	pcmig_pause_timer(s);
	pcmig_event_reason(s, PCMIG_CMD_EVENT_PAUSED, reason, error);
	pcmig_event_state(s, from, PCMIG_STATE_PAUSED);
	spin_unlock_bh(&s->lock);

	pcmig_channels_shutdown(s);
	pcmig_tx_drop_queue(s);
	if (reason != PCMIG_REASON_USER)
		pr_warn_ratelimited("session %u paused: %s (%d)\n", s->id,
				    pcmig_reason_name(reason), error);
}

/**
 * pcmig_pause() - pause the session
 * @s: session
 * @reason: why
 * @error: negative errno, or zero
 *
 * Every channel is shut down; faults on missing pages keep waiting; the
 * pause timeout, if set, starts (unless this pause continues an outage
 * from RECOVER). Does nothing unless the session is active.
 */
void pcmig_pause(struct pcmig_session *s, enum pcmig_reason reason,
		 int error)
{
	__pcmig_pause(s, NULL, reason, error);
}

/**
 * pcmig_pause_channel() - a channel or the request socket failed: pause
 * @s: session
 * @epoch: &pcmig_session.epoch the channel or socket was attached in
 * @reason: why
 * @error: negative errno, or zero
 *
 * Like pcmig_pause(), but only if the session did not pause since @epoch:
 * a late report of a channel that an earlier pause dropped must not pause
 * the channels attached after that pause.
 */
void pcmig_pause_channel(struct pcmig_session *s, u32 epoch,
			 enum pcmig_reason reason, int error)
{
	__pcmig_pause(s, &epoch, reason, error);
}

/* Move to FAILED. Under s->lock, in a state that is not final. */
static void pcmig_fail_locked(struct pcmig_session *s,
			      enum pcmig_reason reason, int error)
{
	enum pcmig_state from = s->state;

	if (pcmig_state_outage(from))
		pcmig_outage_end(s);
	cancel_delayed_work(&s->pause_work);
	WRITE_ONCE(s->state, PCMIG_STATE_FAILED);
	s->reason = reason;
	s->error = error;
	pcmig_event_reason(s, PCMIG_CMD_EVENT_ERROR, reason, error);
	pcmig_event_state(s, from, PCMIG_STATE_FAILED);
}

/* What follows a move to FAILED, without the lock. */
static void pcmig_fail_finish(struct pcmig_session *s,
			      enum pcmig_reason reason, int error)
{
	pcmig_channels_shutdown(s);
	pcmig_tx_drop_queue(s);
	pcmig_wake_all(s);
	if (reason != PCMIG_REASON_DESTROYED && reason != PCMIG_REASON_ABORTED)
		pr_warn_ratelimited("session %u failed: %s (%d)\n", s->id,
				    pcmig_reason_name(reason), error);
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

	spin_lock_bh(&s->lock);
	from = s->state;
	if (pcmig_state_final(from)) {
		spin_unlock_bh(&s->lock);
		return;
	}
	pcmig_fail_locked(s, reason, error);
	spin_unlock_bh(&s->lock);

	pcmig_fail_finish(s, reason, error);
}

/*
 * Fail the session if it has been in PAUSED and RECOVER longer than its
 * pause timeout; otherwise arm the timer for the rest, or cancel it.
 */
static void pcmig_pause_timeout_check(struct pcmig_session *s)
{
	spin_lock_bh(&s->lock);
	if (pcmig_pause_left(s)) {
		pcmig_pause_timer(s);
		spin_unlock_bh(&s->lock);
		return;
	}
	pcmig_fail_locked(s, PCMIG_REASON_PAUSE_TIMEOUT, -ETIMEDOUT);
	spin_unlock_bh(&s->lock);

	pcmig_fail_finish(s, PCMIG_REASON_PAUSE_TIMEOUT, -ETIMEDOUT);
}

static void pcmig_pause_timeout_work(struct work_struct *work)
{
	pcmig_pause_timeout_check(container_of(to_delayed_work(work),
					       struct pcmig_session,
					       pause_work));
}

/**
 * pcmig_pause_timeout_init() - prepare a new session's pause timeout
 * @s: session
 */
void pcmig_pause_timeout_init(struct pcmig_session *s)
{
	INIT_DELAYED_WORK(&s->pause_work, pcmig_pause_timeout_work);
}

/**
 * pcmig_pause_timeout_release() - stop the pause timeout of a session
 * being freed
 * @s: session; nothing can pause it any more (no reference is left)
 *
 * The work item holds no reference of its own: it is cancelled here,
 * before the session is freed, and cannot be queued again.
 */
void pcmig_pause_timeout_release(struct pcmig_session *s)
{
	cancel_delayed_work_sync(&s->pause_work);
}

/**
 * pcmig_set_pause_timeout() - set the pause timeout
 * @s: session; the caller holds @s->ctl_lock
 * @timeout_ms: milliseconds, at most %PCMIG_PAUSE_TIMEOUT_MAX_MS; 0 for none
 *
 * Applies to an outage in progress too, counted from its start: a timeout
 * already past fails the session before this returns.
 *
 * Return: 0, or -EBUSY in END or FAILED.
 */
int pcmig_set_pause_timeout(struct pcmig_session *s, u32 timeout_ms)
{
	spin_lock_bh(&s->lock);
	if (pcmig_state_final(s->state)) {
		spin_unlock_bh(&s->lock);
		return -EBUSY;
	}
	s->pause_timeout_ms = timeout_ms;
	spin_unlock_bh(&s->lock);

	pcmig_pause_timeout_check(s);
	return 0;
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

	spin_lock_bh(&s->lock);
	if (s->state != PCMIG_STATE_RUNNING) {
		spin_unlock_bh(&s->lock);
		return;
	}
	WRITE_ONCE(s->state, PCMIG_STATE_END);
	pcmig_event_complete(s);
	pcmig_event_state(s, PCMIG_STATE_RUNNING, PCMIG_STATE_END);
	spin_unlock_bh(&s->lock);

	pcmig_channels_shutdown(s);
}
