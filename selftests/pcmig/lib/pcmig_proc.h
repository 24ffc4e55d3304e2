/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A child process of an end-to-end test (pcmig-tool, a VMM, QEMU): its
 * command line built piece by piece, its standard output and error in
 * files of the test's directory, its wait status and what it printed.
 *
 * Independent of kselftest_harness.h, like pcmig_mig.h.
 */
#ifndef _PCMIG_PROC_H
#define _PCMIG_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pcmig_spawn_opts;

/* A command line built with printf formats (pcmig_arg()). */
struct pcmig_args {
	char *v[96];		/* NULL-terminated */
	unsigned int n;
	char buf[16384];
	size_t used;
};

/* Append printf(@fmt, ...) to @a as one argument (dropped if no room). */
void pcmig_arg(struct pcmig_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* @a's arguments joined by spaces, as much as fits in @buf. */
void pcmig_args_str(const struct pcmig_args *a, char *buf, size_t len);

/*
 * The file $@env, or @rel next to this test's executable, in @buf:
 * whether access(@mode) allows it (X_OK for a program).
 */
bool pcmig_file_near(const char *env, const char *rel, int mode, char *buf,
		     size_t len);

/* A child process and what it left. */
struct pcmig_proc {
	const char *what;	/* its name in logs and file names */
	pid_t pid;
	int status;		/* wait status, -1 while it runs */
	char out[192];		/* its standard output: a file */
	char err[192];		/* its standard error: a file */
	const char *in;		/* its standard input, or NULL */
	char *out_text;		/* read when it was waited for */
	char *err_text;
};

/*
 * Start @a as @p, with its output in @dir/WHAT.out and WHAT.err (spaces
 * of @p->what become '-') and @p->in as its input; @so gives the rest.
 * Returns the pid or -errno (see pcmig_spawn()).
 */
pid_t pcmig_proc_spawn(struct pcmig_proc *p, const char *dir,
		       struct pcmig_args *a, struct pcmig_spawn_opts *so);
/* Read @p's output files into out_text and err_text ("" if none). */
void pcmig_proc_collect(struct pcmig_proc *p);
/*
 * Wait for the processes of @ps (NULL-terminated) until @timeout_ms: those
 * still running then are killed (status stays -1). Their output is read.
 */
void pcmig_procs_wait(struct pcmig_proc **ps, int timeout_ms);
/* pcmig_procs_wait() of @p alone. */
void pcmig_proc_wait(struct pcmig_proc *p, int timeout_ms);
/* Whether @p ended with exit(@code). */
bool pcmig_proc_exited_with(const struct pcmig_proc *p, int code);
/* Kill @p if it still runs and free what was read of its output. */
void pcmig_proc_free(struct pcmig_proc *p);

#endif /* _PCMIG_PROC_H */
