/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * pcmig: postcopy live migration with in-kernel fault resolution.
 *
 * User-space ABI of /dev/pcmig and of the "pcmig" generic netlink family.
 */
#ifndef _UAPI_LINUX_PCMIG_H
#define _UAPI_LINUX_PCMIG_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

/* Name of the control node (/dev/pcmig) and of the generic netlink family. */
#define PCMIG_NAME		"pcmig"

/*
 * ABI version. The major number changes when an existing ioctl, structure or
 * netlink attribute changes meaning; the minor number when something is
 * added. User space must refuse a major number it does not know.
 */
#define PCMIG_ABI_MAJOR		0
#define PCMIG_ABI_MINOR		6

/* Feature bits reported in &struct pcmig_version.features. */
#define PCMIG_FEATURE_SESSIONS	_BITULL(0)	/* sessions, fault path, channel */
#define PCMIG_FEATURE_SYNC	_BITULL(1)	/* SYNC frames, PCMIG_IOC_SYNC */
#define PCMIG_FEATURE_RECOVER	_BITULL(2)	/* PCMIG_IOC_MISSING, pausing
						 * from user space, the pause
						 * timeout (ABI 0.4)
						 */
#define PCMIG_FEATURE_PUNCH	_BITULL(3)	/* fallocate(PUNCH_HOLE) on
						 * session files, pages_punched
						 * (ABI 0.6)
						 */
#define PCMIG_FEATURES_ALL	(PCMIG_FEATURE_SESSIONS | PCMIG_FEATURE_SYNC | \
				 PCMIG_FEATURE_RECOVER | PCMIG_FEATURE_PUNCH)

/* Longest session name, including the terminating NUL. */
#define PCMIG_NAME_LEN		32

/* Largest session: 4 TiB. */
#define PCMIG_MAX_SIZE		_BITULL(42)

/**
 * struct pcmig_version - answer of %PCMIG_IOC_VERSION
 * @abi_major: %PCMIG_ABI_MAJOR of the running module (out)
 * @abi_minor: %PCMIG_ABI_MINOR of the running module (out)
 * @features: mask of PCMIG_FEATURE_* bits the module supports (out)
 * @page_size: page size of session memory, in bytes (out)
 * @flags: must be zero (in); zero on return
 * @reserved: must be zero (in); zero on return
 *
 * The caller zeroes the structure before the call. A non-zero @flags or
 * @reserved field gets -EINVAL, so that a later ABI can give them meaning.
 */
struct pcmig_version {
	__u32 abi_major;
	__u32 abi_minor;
	__u64 features;
	__u32 page_size;
	__u32 flags;
	__u64 reserved[4];
};

/**
 * enum pcmig_state - state of a session, after QEMU's postcopy states
 * @PCMIG_STATE_NONE: not a state; never reported
 * @PCMIG_STATE_ADVISE: created; pages may arrive (precopy), faults on
 *	missing pages wait and their requests are held back until LISTEN
 * @PCMIG_STATE_DISCARD: the source is discarding ranges it sent earlier
 * @PCMIG_STATE_LISTEN: the kernel owns page traffic: requests go out
 * @PCMIG_STATE_RUNNING: the VM runs on the destination
 * @PCMIG_STATE_END: every page is present; faults never leave the kernel
 * @PCMIG_STATE_PAUSED: a channel failed; faults on missing pages wait
 * @PCMIG_STATE_RECOVER: new channels are being attached after PAUSED
 * @PCMIG_STATE_FAILED: unrecoverable; faults on missing pages get SIGBUS
 * @__PCMIG_STATE_MAX: number of states
 */
enum pcmig_state {
	PCMIG_STATE_NONE,
	PCMIG_STATE_ADVISE,
	PCMIG_STATE_DISCARD,
	PCMIG_STATE_LISTEN,
	PCMIG_STATE_RUNNING,
	PCMIG_STATE_END,
	PCMIG_STATE_PAUSED,
	PCMIG_STATE_RECOVER,
	PCMIG_STATE_FAILED,

	__PCMIG_STATE_MAX
};

/**
 * enum pcmig_reason - why a session paused or failed
 * @PCMIG_REASON_NONE: no error
 * @PCMIG_REASON_CHANNEL_EOF: the peer closed a channel
 * @PCMIG_REASON_CHANNEL_ERROR: a socket error (errno in the status)
 * @PCMIG_REASON_BAD_MAGIC: a frame with a wrong magic number
 * @PCMIG_REASON_BAD_VERSION: a frame of an unknown wire version
 * @PCMIG_REASON_BAD_TYPE: a frame of an unknown or misdirected type
 * @PCMIG_REASON_BAD_FLAGS: a frame with unknown flags
 * @PCMIG_REASON_BAD_RANGE: a page range outside the session or unaligned
 * @PCMIG_REASON_BAD_LENGTH: a payload length that does not match the frame
 * @PCMIG_REASON_NOT_REQUESTED: a reply for a page that was never requested
 * @PCMIG_REASON_DUPLICATE: a page that arrived twice without a request
 *	crossing it
 * @PCMIG_REASON_INCOMPLETE: the source ended with pages still missing
 * @PCMIG_REASON_ABORTED: user space moved the session to FAILED
 * @PCMIG_REASON_DESTROYED: the session was destroyed
 * @PCMIG_REASON_USER: user space paused the session (PCMIG_IOC_SET_STATE)
 * @PCMIG_REASON_PAUSE_TIMEOUT: the session stayed PAUSED or RECOVER longer
 *	than its pause timeout (&struct pcmig_params)
 * @PCMIG_REASON_HUGE_PAGE: tmpfs gave session memory a huge page, which
 *	would map pages that have not arrived
 *	(/sys/kernel/mm/transparent_hugepage/shmem_enabled set to "force"
 *	after the session was created); error -EOPNOTSUPP (ABI 0.5)
 * @__PCMIG_REASON_MAX: number of reasons
 */
enum pcmig_reason {
	PCMIG_REASON_NONE,
	PCMIG_REASON_CHANNEL_EOF,
	PCMIG_REASON_CHANNEL_ERROR,
	PCMIG_REASON_BAD_MAGIC,
	PCMIG_REASON_BAD_VERSION,
	PCMIG_REASON_BAD_TYPE,
	PCMIG_REASON_BAD_FLAGS,
	PCMIG_REASON_BAD_RANGE,
	PCMIG_REASON_BAD_LENGTH,
	PCMIG_REASON_NOT_REQUESTED,
	PCMIG_REASON_DUPLICATE,
	PCMIG_REASON_INCOMPLETE,
	PCMIG_REASON_ABORTED,
	PCMIG_REASON_DESTROYED,
	PCMIG_REASON_USER,
	PCMIG_REASON_PAUSE_TIMEOUT,
	PCMIG_REASON_HUGE_PAGE,

	__PCMIG_REASON_MAX
};

/* Destroy the session when its last file and mapping are gone. */
#define PCMIG_CREATE_F_AUTO_DESTROY	_BITUL(0)
#define PCMIG_CREATE_FLAGS		(PCMIG_CREATE_F_AUTO_DESTROY)

/**
 * struct pcmig_create - argument of %PCMIG_IOC_CREATE
 * @size: bytes of session memory; a non-zero multiple of @page_size, at
 *	most %PCMIG_MAX_SIZE (in)
 * @page_size: must be the value %PCMIG_IOC_VERSION reports (in)
 * @flags: PCMIG_CREATE_F_* (in)
 * @name: NUL-terminated label of printable characters, unique among live
 *	sessions; may be empty (in)
 * @id: session id; the session's node is /dev/pcmig<id> (out)
 * @pad: must be zero
 * @reserved: must be zero
 */
struct pcmig_create {
	__u64 size;
	__u32 page_size;
	__u32 flags;
	char name[PCMIG_NAME_LEN];
	__u32 id;
	__u32 pad;
	__u64 reserved[4];
};

/* Channels a socket serves; a socket may serve both. */
#define PCMIG_CHANNEL_URGENT	_BITUL(0)	/* requests out, replies in */
#define PCMIG_CHANNEL_BULK	_BITUL(1)	/* background pages in */
#define PCMIG_CHANNELS_ALL	(PCMIG_CHANNEL_URGENT | PCMIG_CHANNEL_BULK)

/**
 * struct pcmig_attach - argument of %PCMIG_IOC_ATTACH
 * @fd: a connected stream socket (TCP or UNIX); the session takes its own
 *	reference, the caller may close @fd afterwards
 * @channels: PCMIG_CHANNEL_* mask, non-empty
 * @flags: must be zero
 * @pad: must be zero
 * @reserved: must be zero
 */
struct pcmig_attach {
	__s32 fd;
	__u32 channels;
	__u32 flags;
	__u32 pad;
	__u64 reserved[2];
};

/**
 * struct pcmig_set_state - argument of %PCMIG_IOC_SET_STATE
 * @state: target &enum pcmig_state
 * @flags: must be zero
 * @reserved: must be zero
 */
struct pcmig_set_state {
	__u32 state;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct pcmig_range - argument of %PCMIG_IOC_DISCARD
 * @offset: byte offset in session memory, page aligned
 * @length: bytes, a non-zero multiple of the page size
 * @flags: must be zero
 * @pad: must be zero
 */
struct pcmig_range {
	__u64 offset;
	__u64 length;
	__u32 flags;
	__u32 pad;
};

/*
 * Buckets of the fault-latency histogram: bucket i counts waits of
 * [2^i, 2^(i+1)) ns; the last bucket also counts everything longer.
 */
#define PCMIG_HIST_BUCKETS	40

/**
 * struct pcmig_status - answer of %PCMIG_IOC_STATUS
 * @id: session id
 * @state: &enum pcmig_state
 * @reason: &enum pcmig_reason of the last pause or failure
 * @error: negative errno of the last channel error, or zero
 * @size: bytes of session memory
 * @pages_total: pages of session memory
 * @pages_present: pages received, zero-filled or otherwise present
 * @pages_received: pages whose contents arrived on a channel
 * @pages_requested: pages requested from the source (total)
 * @pages_pushed: pages that arrived without a request (background)
 * @pages_zero: pages announced as zero by the source
 * @pages_duplicate: legitimate duplicates dropped (push crossing a request)
 * @pages_discarded: pages made missing again by DISCARD
 * @in_flight: pages requested and not yet present
 * @bytes_received: bytes read from the channels, headers included
 * @requests_sent: request frames written to the urgent channel
 * @faults: faults on session memory that found their page missing
 * @faults_blocked: faults that waited for a page
 * @blocked_ns: total time faults waited, in nanoseconds
 * @pauses: times the session went to PAUSED
 * @hist: fault-wait latency histogram, see %PCMIG_HIST_BUCKETS
 * @resume_state: in PAUSED and RECOVER, the state RECOVER leads back to
 *	(ADVISE, LISTEN or RUNNING); %PCMIG_STATE_NONE otherwise (ABI 0.4)
 * @pause_timeout_ms: the pause timeout, 0 when off (ABI 0.4)
 * @recoveries: times the session went from RECOVER back to its
 *	@resume_state (ABI 0.4)
 * @paused_at_ns: CLOCK_MONOTONIC time the last outage began (a move to
 *	PAUSED from a state other than RECOVER), in nanoseconds; zero if it
 *	never paused (ABI 0.4)
 * @paused_total_ns: time spent in PAUSED and RECOVER, the current outage
 *	included (ABI 0.4)
 * @requests_resent: pages requested on leaving RECOVER: those whose
 *	requests or replies were lost with the old channels, and those first
 *	faulted on during the outage (ABI 0.4)
 * @pages_punched: pages that were missing and became present, as zeros,
 *	because user space punched a hole over them with
 *	fallocate(FALLOC_FL_PUNCH_HOLE): the source need not send them any
 *	more (ABI 0.6)
 * @reserved: zero
 */
struct pcmig_status {
	__u32 id;
	__u32 state;
	__u32 reason;
	__s32 error;
	__u64 size;
	__u64 pages_total;
	__u64 pages_present;
	__u64 pages_received;
	__u64 pages_requested;
	__u64 pages_pushed;
	__u64 pages_zero;
	__u64 pages_duplicate;
	__u64 pages_discarded;
	__u64 in_flight;
	__u64 bytes_received;
	__u64 requests_sent;
	__u64 faults;
	__u64 faults_blocked;
	__u64 blocked_ns;
	__u64 pauses;
	__u64 hist[PCMIG_HIST_BUCKETS];
	__u32 resume_state;
	__u32 pause_timeout_ms;
	__u64 recoveries;
	__u64 paused_at_ns;
	__u64 paused_total_ns;
	__u64 requests_resent;
	__u64 pages_punched;
	__u64 reserved[2];
};

/**
 * struct pcmig_sync - argument of %PCMIG_IOC_SYNC
 * @token: the token to wait for; non-zero
 * @timeout_ms: longest wait in milliseconds; zero to look without waiting
 * @flags: must be zero
 */
struct pcmig_sync {
	__u64 token;
	__u32 timeout_ms;
	__u32 flags;
};

/**
 * struct pcmig_extent - a run of pages
 * @offset: byte offset in session memory, page aligned
 * @length: bytes, a non-zero multiple of the page size
 */
struct pcmig_extent {
	__u64 offset;
	__u64 length;
};

/* Most extents one PCMIG_IOC_MISSING call returns. */
#define PCMIG_MISSING_MAX	65536

/**
 * struct pcmig_missing - argument of %PCMIG_IOC_MISSING
 * @offset: where to start looking, a page-aligned byte offset at most the
 *	session size (in); where the next call should start: past the last
 *	run returned, or the session size when no missing page is left (out)
 * @extents: user pointer to an array of @count &struct pcmig_extent (in)
 * @count: room in @extents, 1..%PCMIG_MISSING_MAX (in); runs written (out)
 * @flags: must be zero
 * @reserved: must be zero
 *
 * Each run is maximal within the part looked at: two runs returned are
 * never adjacent. Runs are returned in address order.
 */
struct pcmig_missing {
	__u64 offset;
	__u64 extents;
	__u32 count;
	__u32 flags;
	__u64 reserved[2];
};

/* Longest pause timeout: one week. */
#define PCMIG_PAUSE_TIMEOUT_MAX_MS	(7U * 24 * 3600 * 1000)

/**
 * struct pcmig_params - argument of %PCMIG_IOC_SET_PARAMS
 * @pause_timeout_ms: after this long in PAUSED or RECOVER (counted from the
 *	move to PAUSED) the session fails with %PCMIG_REASON_PAUSE_TIMEOUT and
 *	blocked faults get SIGBUS; 0 (the default) waits for ever; at most
 *	%PCMIG_PAUSE_TIMEOUT_MAX_MS
 * @flags: must be zero
 * @reserved: must be zero
 */
struct pcmig_params {
	__u32 pause_timeout_ms;
	__u32 flags;
	__u64 reserved[3];
};

#define PCMIG_IOC_MAGIC		0xB8

/*
 * PCMIG_IOC_VERSION - read the ABI version and the supported features.
 *
 * Valid on the control node and on session files. Returns 0, -EFAULT for a
 * bad pointer, or -EINVAL for non-zero input fields.
 */
#define PCMIG_IOC_VERSION	_IOWR(PCMIG_IOC_MAGIC, 0x00, struct pcmig_version)

/*
 * PCMIG_IOC_CREATE - create a session in state ADVISE (control node only).
 *
 * Returns a new session file descriptor (close-on-exec) and fills @id; the
 * session also appears as /dev/pcmig<id>. Errors: -EINVAL (size, page size,
 * flags, name), -EEXIST (name in use), -ENOMEM, -ENOSPC (no free id).
 */
#define PCMIG_IOC_CREATE	_IOWR(PCMIG_IOC_MAGIC, 0x01, struct pcmig_create)

/*
 * PCMIG_IOC_ATTACH - hand a connected stream socket to the session.
 *
 * Allowed in ADVISE, DISCARD, LISTEN, RUNNING and RECOVER. From then on the
 * socket is the session's until its channel is gone: its receive timeout
 * (SO_RCVTIMEO) is cleared, and one set later is undone. Errors: -EBADF,
 * -ENOTSOCK, -EINVAL (not a connected TCP or UNIX stream socket, bad mask),
 * -EBUSY (the channel already has a socket; the socket is attached already,
 * to this session or another, or has another kernel user; END/FAILED),
 * -EPERM (PAUSED: move to RECOVER first), -ENOMEM.
 */
#define PCMIG_IOC_ATTACH	_IOW(PCMIG_IOC_MAGIC, 0x10, struct pcmig_attach)

/*
 * PCMIG_IOC_SET_STATE - move the session to another state.
 *
 * Legal: ADVISE->DISCARD, ADVISE->LISTEN, DISCARD->LISTEN, LISTEN->RUNNING,
 * PAUSED->RECOVER, RECOVER->ADVISE, LISTEN or RUNNING (whichever the
 * session paused from, &pcmig_status.resume_state; LISTEN and RUNNING need
 * an urgent channel), ADVISE, DISCARD, LISTEN, RUNNING or RECOVER to PAUSED
 * (ABI 0.4: reason %PCMIG_REASON_USER, every channel is shut down; PAUSED
 * to PAUSED is a no-op), and any state but END to FAILED. LISTEN needs an
 * urgent channel. Anything else: -EINVAL; END and FAILED are final (-EBUSY).
 */
#define PCMIG_IOC_SET_STATE	_IOW(PCMIG_IOC_MAGIC, 0x11, struct pcmig_set_state)

/*
 * PCMIG_IOC_DISCARD - make a range of pages missing again; their mappings
 * are zapped. Allowed in ADVISE and DISCARD (moves ADVISE to DISCARD).
 */
#define PCMIG_IOC_DISCARD	_IOW(PCMIG_IOC_MAGIC, 0x12, struct pcmig_range)

/* PCMIG_IOC_STATUS - read the session's state and counters. */
#define PCMIG_IOC_STATUS	_IOR(PCMIG_IOC_MAGIC, 0x13, struct pcmig_status)

/*
 * PCMIG_IOC_DESTROY - destroy the session: its node goes away, it moves to
 * FAILED (reason DESTROYED) so that blocked faults get SIGBUS, and it is
 * freed when its last file and mapping are gone.
 */
#define PCMIG_IOC_DESTROY	_IO(PCMIG_IOC_MAGIC, 0x14)

/*
 * PCMIG_IOC_SYNC - wait until every attached channel has received a
 * %PCMIG_FRAME_SYNC frame with a token at least @token (ABI 0.3).
 *
 * Each channel's frames are handled in order, so on return every frame the
 * source sent before its SYNC frames has been acted on. Allowed in ADVISE,
 * DISCARD, LISTEN, RUNNING and RECOVER. Returns 0; -EINVAL (zero @token,
 * non-zero @flags); -ENOTCONN (no channel attached, or the session paused
 * meanwhile); -EBUSY (END or FAILED, also when reached meanwhile);
 * -ETIMEDOUT after @timeout_ms (zero: look without waiting); -EINTR on a
 * signal.
 */
#define PCMIG_IOC_SYNC		_IOW(PCMIG_IOC_MAGIC, 0x15, struct pcmig_sync)

/*
 * PCMIG_IOC_MISSING - list runs of missing pages (ABI 0.4), for recovery:
 * the destination tells the source what it still has to send. Allowed in
 * every state; stable only while no channel is attached (PAUSED, RECOVER
 * before ATTACH). Returns 0; -EINVAL (offset unaligned or past the end,
 * count zero or over %PCMIG_MISSING_MAX, non-zero flags or reserved);
 * -EFAULT.
 */
#define PCMIG_IOC_MISSING	_IOWR(PCMIG_IOC_MAGIC, 0x16, struct pcmig_missing)

/*
 * PCMIG_IOC_SET_PARAMS - set the session's parameters (ABI 0.4). A new
 * pause timeout applies to a pause in progress too, counted from its start
 * (a timeout already past fails the session at once). Returns 0; -EINVAL
 * (out of range, non-zero flags or reserved); -EBUSY in END or FAILED.
 */
#define PCMIG_IOC_SET_PARAMS	_IOW(PCMIG_IOC_MAGIC, 0x17, struct pcmig_params)

/*
 * Wire format of the page channel: frames of a fixed header followed by
 * @len bytes of payload. Integers are big endian.
 */
#define PCMIG_FRAME_MAGIC	0x50434d46	/* "PCMF" */
#define PCMIG_FRAME_VERSION	1
#define PCMIG_FRAME_MAX_PAGES	256		/* pages in one PAGES frame */
#define PCMIG_FRAME_MAX_REQS	512		/* offsets in one REQUEST frame */

/**
 * enum pcmig_frame_type - frame types
 * @PCMIG_FRAME_PAGES: source to destination: @npages pages from @offset,
 *	payload @npages * page size bytes; %PCMIG_FRAME_F_REQUESTED when it
 *	answers a request
 * @PCMIG_FRAME_ZERO: source to destination: @npages zero pages from
 *	@offset; no payload
 * @PCMIG_FRAME_REQUEST: destination to source: @npages page offsets
 *	(__be64 bytes, page aligned) as payload; @offset is zero
 * @PCMIG_FRAME_END: source to destination: every page has been sent on
 *	this channel; no payload, @npages and @offset zero. The source is done
 *	when every attached channel has carried one.
 * @PCMIG_FRAME_DISCARD: source to destination: @npages pages from @offset
 *	become missing again (pages sent earlier that changed since); no
 *	payload; only in ADVISE and DISCARD (moves ADVISE to DISCARD). In the
 *	page stream, so that it is ordered with the pages sent before it.
 * @PCMIG_FRAME_SYNC: source to destination: a barrier; @offset is its token
 *	(non-zero, greater than the last token on this channel), no payload,
 *	@npages zero. %PCMIG_IOC_SYNC waits until every channel has carried
 *	a token, so that user space knows every frame sent before it has been
 *	acted on (e.g. DISCARD frames before LISTEN).
 */
enum pcmig_frame_type {
	PCMIG_FRAME_PAGES = 1,
	PCMIG_FRAME_ZERO = 2,
	PCMIG_FRAME_REQUEST = 3,
	PCMIG_FRAME_END = 4,
	PCMIG_FRAME_DISCARD = 5,
	PCMIG_FRAME_SYNC = 6,
};

#define PCMIG_FRAME_F_REQUESTED	_BITUL(0)

/**
 * struct pcmig_frame - header of every frame on a page channel
 * @magic: %PCMIG_FRAME_MAGIC
 * @version: %PCMIG_FRAME_VERSION
 * @type: &enum pcmig_frame_type
 * @flags: PCMIG_FRAME_F_*
 * @npages: pages the frame covers
 * @len: payload bytes that follow the header
 * @offset: byte offset in session memory, page aligned
 */
struct pcmig_frame {
	__be32 magic;
	__u8 version;
	__u8 type;
	__be16 flags;
	__be32 npages;
	__be32 len;
	__be64 offset;
};

/* Generic netlink family "pcmig". */
#define PCMIG_GENL_VERSION	1
#define PCMIG_GENL_MCGRP_EVENTS	"events"

/**
 * enum pcmig_genl_cmd - commands of the "pcmig" generic netlink family
 * @PCMIG_CMD_UNSPEC: unused
 * @PCMIG_CMD_GET_INFO: module information; replies with %PCMIG_ATTR_ABI_MAJOR,
 *	%PCMIG_ATTR_ABI_MINOR, %PCMIG_ATTR_FEATURES, %PCMIG_ATTR_PAGE_SIZE and
 *	%PCMIG_ATTR_VERSION and %PCMIG_ATTR_SESSIONS
 * @PCMIG_CMD_SESSION_GET: one session (by %PCMIG_ATTR_ID), or all of them
 *	with NLM_F_DUMP; replies carry the session attributes
 * @PCMIG_CMD_SESSION_DESTROY: destroy the session %PCMIG_ATTR_ID
 *	(CAP_NET_ADMIN)
 * @PCMIG_CMD_EVENT_STATE: event: the session changed state
 *	(%PCMIG_ATTR_ID, %PCMIG_ATTR_STATE, %PCMIG_ATTR_OLD_STATE)
 * @PCMIG_CMD_EVENT_PAUSED: event: a channel failed, the session paused
 *	(%PCMIG_ATTR_ID, %PCMIG_ATTR_REASON, %PCMIG_ATTR_ERROR)
 * @PCMIG_CMD_EVENT_ERROR: event: the session failed
 *	(%PCMIG_ATTR_ID, %PCMIG_ATTR_REASON, %PCMIG_ATTR_ERROR)
 * @PCMIG_CMD_EVENT_COMPLETE: event: every page is present
 *	(%PCMIG_ATTR_ID and the counters)
 * @__PCMIG_CMD_MAX: number of commands
 * @PCMIG_CMD_MAX: highest command
 */
enum pcmig_genl_cmd {
	PCMIG_CMD_UNSPEC,
	PCMIG_CMD_GET_INFO,
	PCMIG_CMD_SESSION_GET,
	PCMIG_CMD_SESSION_DESTROY,
	PCMIG_CMD_EVENT_STATE,
	PCMIG_CMD_EVENT_PAUSED,
	PCMIG_CMD_EVENT_ERROR,
	PCMIG_CMD_EVENT_COMPLETE,

	__PCMIG_CMD_MAX,
	PCMIG_CMD_MAX = __PCMIG_CMD_MAX - 1
};

/**
 * enum pcmig_genl_attr - attributes of the "pcmig" generic netlink family
 * @PCMIG_ATTR_UNSPEC: unused
 * @PCMIG_ATTR_PAD: padding for 64-bit attributes
 * @PCMIG_ATTR_ABI_MAJOR: u32, %PCMIG_ABI_MAJOR
 * @PCMIG_ATTR_ABI_MINOR: u32, %PCMIG_ABI_MINOR
 * @PCMIG_ATTR_FEATURES: u64, PCMIG_FEATURE_* mask
 * @PCMIG_ATTR_PAGE_SIZE: u32, page size of session memory in bytes
 * @PCMIG_ATTR_VERSION: string, module version
 * @PCMIG_ATTR_ID: u32, session id
 * @PCMIG_ATTR_NAME: string, session name
 * @PCMIG_ATTR_STATE: u32, &enum pcmig_state
 * @PCMIG_ATTR_OLD_STATE: u32, previous &enum pcmig_state
 * @PCMIG_ATTR_REASON: u32, &enum pcmig_reason
 * @PCMIG_ATTR_ERROR: s32, negative errno or zero
 * @PCMIG_ATTR_SIZE: u64, bytes of session memory
 * @PCMIG_ATTR_PAGES_TOTAL: u64
 * @PCMIG_ATTR_PAGES_PRESENT: u64
 * @PCMIG_ATTR_PAGES_RECEIVED: u64
 * @PCMIG_ATTR_PAGES_REQUESTED: u64
 * @PCMIG_ATTR_PAGES_PUSHED: u64
 * @PCMIG_ATTR_PAGES_ZERO: u64
 * @PCMIG_ATTR_PAGES_DUPLICATE: u64
 * @PCMIG_ATTR_PAGES_DISCARDED: u64
 * @PCMIG_ATTR_IN_FLIGHT: u64
 * @PCMIG_ATTR_BYTES_RECEIVED: u64
 * @PCMIG_ATTR_REQUESTS_SENT: u64
 * @PCMIG_ATTR_FAULTS: u64
 * @PCMIG_ATTR_FAULTS_BLOCKED: u64
 * @PCMIG_ATTR_BLOCKED_NS: u64
 * @PCMIG_ATTR_PAUSES: u64
 * @PCMIG_ATTR_HIST: nested; attribute i + 1 (u64) is bucket i of the
 *	fault-wait histogram (see %PCMIG_HIST_BUCKETS)
 * @PCMIG_ATTR_SESSIONS: u32, session objects alive in the module, destroyed
 *	ones still in use included (in %PCMIG_CMD_GET_INFO)
 * @PCMIG_ATTR_RESUME_STATE: u32, &pcmig_status.resume_state
 * @PCMIG_ATTR_PAUSE_TIMEOUT_MS: u32
 * @PCMIG_ATTR_RECOVERIES: u64
 * @PCMIG_ATTR_PAUSED_AT_NS: u64
 * @PCMIG_ATTR_PAUSED_TOTAL_NS: u64
 * @PCMIG_ATTR_REQUESTS_RESENT: u64
 * @PCMIG_ATTR_PAGES_PUNCHED: u64, &pcmig_status.pages_punched (ABI 0.6)
 * @__PCMIG_ATTR_MAX: number of attributes
 * @PCMIG_ATTR_MAX: highest attribute
 */
enum pcmig_genl_attr {
	PCMIG_ATTR_UNSPEC,
	PCMIG_ATTR_PAD,
	PCMIG_ATTR_ABI_MAJOR,
	PCMIG_ATTR_ABI_MINOR,
	PCMIG_ATTR_FEATURES,
	PCMIG_ATTR_PAGE_SIZE,
	PCMIG_ATTR_VERSION,
	PCMIG_ATTR_ID,
	PCMIG_ATTR_NAME,
	PCMIG_ATTR_STATE,
	PCMIG_ATTR_OLD_STATE,
	PCMIG_ATTR_REASON,
	PCMIG_ATTR_ERROR,
	PCMIG_ATTR_SIZE,
	PCMIG_ATTR_PAGES_TOTAL,
	PCMIG_ATTR_PAGES_PRESENT,
	PCMIG_ATTR_PAGES_RECEIVED,
	PCMIG_ATTR_PAGES_REQUESTED,
	PCMIG_ATTR_PAGES_PUSHED,
	PCMIG_ATTR_PAGES_ZERO,
	PCMIG_ATTR_PAGES_DUPLICATE,
	PCMIG_ATTR_PAGES_DISCARDED,
	PCMIG_ATTR_IN_FLIGHT,
	PCMIG_ATTR_BYTES_RECEIVED,
	PCMIG_ATTR_REQUESTS_SENT,
	PCMIG_ATTR_FAULTS,
	PCMIG_ATTR_FAULTS_BLOCKED,
	PCMIG_ATTR_BLOCKED_NS,
	PCMIG_ATTR_PAUSES,
	PCMIG_ATTR_HIST,
	PCMIG_ATTR_SESSIONS,
	PCMIG_ATTR_RESUME_STATE,
	PCMIG_ATTR_PAUSE_TIMEOUT_MS,
	PCMIG_ATTR_RECOVERIES,
	PCMIG_ATTR_PAUSED_AT_NS,
	PCMIG_ATTR_PAUSED_TOTAL_NS,
	PCMIG_ATTR_REQUESTS_RESENT,
	PCMIG_ATTR_PAGES_PUNCHED,

	__PCMIG_ATTR_MAX,
	PCMIG_ATTR_MAX = __PCMIG_ATTR_MAX - 1
};

#endif /* _UAPI_LINUX_PCMIG_H */
