// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: a test's child processes (see pcmig_proc.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pcmig_mig.h"
#include "pcmig_proc.h"
#include "pcmig_session.h"
#include "pcmig_source.h"

void pcmig_arg(struct pcmig_args *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->n + 2 >= sizeof(a->v) / sizeof(a->v[0]))
		return;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->buf) - a->used)
		return;
	a->v[a->n++] = a->buf + a->used;
	a->v[a->n] = NULL;
	a->used += n + 1;
}

void pcmig_args_str(const struct pcmig_args *a, char *buf, size_t len)
{
	size_t o = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < a->n && o + 2 < len; i++)
		o += snprintf(buf + o, len - o, "%s%s", i ? " " : "", a->v[i]);
}

bool pcmig_file_near(const char *env, const char *rel, int mode, char *buf,
		     size_t len)
{
	char self[400], *slash;
	ssize_t n;

	if (getenv(env)) {
		snprintf(buf, len, "%s", getenv(env));
		return !access(buf, mode);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	snprintf(buf, len, "%s/%s", self, rel);
	return !access(buf, mode);
}

pid_t pcmig_proc_spawn(struct pcmig_proc *p, const char *dir,
		       struct pcmig_args *a, struct pcmig_spawn_opts *so)
{
	size_t i, d = strlen(dir) + 1;

	snprintf(p->out, sizeof(p->out), "%s/%s.out", dir, p->what);
	snprintf(p->err, sizeof(p->err), "%s/%s.err", dir, p->what);
	for (i = d; p->out[i] && p->err[i]; i++)
		if (p->out[i] == ' ')
			p->out[i] = p->err[i] = '-';
	so->out = p->out;
	so->err = p->err;
	so->in = p->in;
	p->status = -1;
	p->pid = pcmig_spawn(a->v, so);
	return p->pid;
}

void pcmig_proc_collect(struct pcmig_proc *p)
{
	free(p->out_text);
	free(p->err_text);
	p->out_text = pcmig_read_file(p->out, NULL);
	p->err_text = pcmig_read_file(p->err, NULL);
	if (!p->out_text)
		p->out_text = strdup("");
	if (!p->err_text)
		p->err_text = strdup("");
}

void pcmig_procs_wait(struct pcmig_proc **ps, int timeout_ms)
{
	uint64_t deadline = pcmig_now_ms() + timeout_ms;
	unsigned int i;

	for (i = 0; ps[i]; i++) {
		struct pcmig_proc *p = ps[i];
		int64_t left = (int64_t)deadline - (int64_t)pcmig_now_ms();

		if (p->pid > 0 && p->status < 0 &&
		    pcmig_wait_child(p->pid, left > 0 ? (int)left : 0,
				     &p->status)) {
			pcmig_kill_child(p->pid);
			p->status = -1;
			p->pid = 0;
		}
		pcmig_proc_collect(p);
	}
}

void pcmig_proc_wait(struct pcmig_proc *p, int timeout_ms)
{
	struct pcmig_proc *ps[] = { p, NULL };

	pcmig_procs_wait(ps, timeout_ms);
}

bool pcmig_proc_exited_with(const struct pcmig_proc *p, int code)
{
	return p->status >= 0 && WIFEXITED(p->status) &&
	       WEXITSTATUS(p->status) == code;
}

void pcmig_proc_free(struct pcmig_proc *p)
{
	if (p->pid > 0 && p->status < 0)
		pcmig_kill_child(p->pid);
	p->pid = 0;
	free(p->out_text);
	free(p->err_text);
	p->out_text = p->err_text = NULL;
}
