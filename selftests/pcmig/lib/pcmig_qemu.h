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

#endif /* _PCMIG_QEMU_H */
