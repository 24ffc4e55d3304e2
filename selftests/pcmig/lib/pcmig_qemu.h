/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the QEMU selftests (pcmig_qemu_test.c): what the memcheck
 * guest printed on its serial port, and a QMP proxy that sits between
 * pcmig-tool and QEMU to record the commands and fail one on purpose.
 */
#ifndef _PCMIG_QEMU_H
#define _PCMIG_QEMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What the guest printed: boots, first and last round, BAD lines, and
 * whether the rounds count 1, 2, 3... without a gap or a repeat.
 */
struct pcmig_serial {
	int boots;
	long first, last;
	int bad;
	bool ready;
	bool consecutive;
};

/* Read the guest's serial output in file @path (missing: nothing). */
void pcmig_serial_read(const char *path, struct pcmig_serial *s);
/*
 * The same for the output of one guest that moved: file @src, then file
 * @dst, read as one stream (a line the stop cut in two is whole again).
 */
void pcmig_serial_read2(const char *src, const char *dst,
			struct pcmig_serial *s);
/* Wait until the guest at @path has printed round @round (or later). */
bool pcmig_wait_round(const char *path, long round, int ms);

/*
 * A QMP proxy between the tool and QEMU: relays both ways (descriptors
 * passed with SCM_RIGHTS too), records each command and the descriptors it
 * carried, and answers "migrate" itself with an error.
 */
struct pcmig_qmp_proxy {
	char path[192];		/* where the tool connects */
	char qemu[192];		/* QEMU's QMP socket */
	int lfd;
	pthread_t th;
	bool started;
	int stop;		/* __atomic: the thread ends */
	pthread_mutex_t lock;
	char log[4096];		/* "command/fds" separated by spaces */
};

/*
 * Listen on @path; relay each connection to QEMU's QMP socket @qemu in a
 * thread. Return: 0 or -errno.
 */
int pcmig_qmp_proxy_start(struct pcmig_qmp_proxy *px, const char *path,
			  const char *qemu);
/* Stop the thread, close the socket (harmless if never started). */
void pcmig_qmp_proxy_stop(struct pcmig_qmp_proxy *px);
/* Where "command/fds" is in the log (its order), or -1 if absent. */
long pcmig_qmp_proxy_logged_at(struct pcmig_qmp_proxy *px, const char *entry);

/* pcmig_qemu_host.c */

/*
 * SESSION_GET of session @id from "ip netns" namespace @ns (where it was
 * created: only there is it visible). Return: 0 or -errno.
 */
struct pcmig_nl_session;
int pcmig_session_in_netns(const char *ns, uint32_t id,
			   struct pcmig_nl_session *s);

/* qemu-system-x86_64 in $PATH, in @buf: whether there is one. */
bool pcmig_find_qemu(char *buf, size_t len);
/*
 * The mem-path= values on process @pid's command line, separated by
 * spaces, in @paths. Return: their number, or -1 if it cannot be read.
 */
int pcmig_qemu_mem_paths(pid_t pid, char *paths, size_t len);
/*
 * What /dev/pcmig* is not a character device (QEMU given a missing node
 * as mem-path creates a regular file there), its paths in @names;
 * unlinked if @remove. Return: their number, or -1.
 */
int pcmig_dev_strays(char *names, size_t len, bool remove);

/*
 * pcmig_qemu_fake.c: a destination QEMU for "incoming --qemu" whose load
 * fails: QMP on descriptor 3 (a 7.2 greeting; "inmigrate"; {} to every
 * other command) up to the first query-migrate ("active"); then an error
 * line on standard error, QMP closed, and after @exit_delay_ms the exit.
 * Return: the exit status, 1 (2 if QMP broke first).
 */
int pcmig_fake_qemu(int exit_delay_ms);

#endif /* _PCMIG_QEMU_H */
