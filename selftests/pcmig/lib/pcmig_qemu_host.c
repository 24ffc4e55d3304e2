// SPDX-License-Identifier: GPL-2.0
/*
 * pcmig selftests: what the QEMU tests look at on the host around their
 * processes (see pcmig_qemu.h): a session in another namespace, QEMU in
 * $PATH, the destination QEMU's mem-path, stray files in /dev.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pcmig_genl.h"
#include "pcmig_mig.h"
#include "pcmig_qemu.h"
#include "pcmig_session.h"

int pcmig_session_in_netns(const char *ns, uint32_t id,
			   struct pcmig_nl_session *s)
{
	int saved = pcmig_netns_switch(ns), ret;

	if (saved < 0)
		return saved;
	ret = pcmig_genl_session_get(id, s);
	pcmig_netns_restore(saved);
	return ret;
}

bool pcmig_find_qemu(char *buf, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[1024], *d, *save = NULL;

	snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/bin:/bin");
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/qemu-system-x86_64", d);
		if (!access(buf, X_OK))
			return true;
	}
	return false;
}

int pcmig_qemu_mem_paths(pid_t pid, char *paths, size_t len)
{
	char path[64], buf[16384], *a;
	int fd, n = 0;
	size_t o = 0;
	ssize_t got;

	paths[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	for (a = buf; a < buf + got; a += strlen(a) + 1) {
		const char *m = strstr(a, "mem-path=");
		size_t l;

		if (!m)
			continue;
		m += 9;
		l = strcspn(m, ",");
		if (o + l + 2 < len) {
			if (o)
				paths[o++] = ' ';
			memcpy(paths + o, m, l);
			o += l;
			paths[o] = '\0';
		}
		n++;
	}
	return n;
}

int pcmig_dev_strays(char *names, size_t len, bool remove)
{
	struct dirent *e;
	struct stat st;
	char path[300];
	size_t o = 0;
	int n = 0;
	DIR *d;

	names[0] = '\0';
	d = opendir("/dev");
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "pcmig", 5))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", e->d_name);
		if (lstat(path, &st) || S_ISCHR(st.st_mode))
			continue;
		o += snprintf(names + o, o < len ? len - o : 0, "%s%s",
			      n ? " " : "", path);
		if (o >= len)
			o = len - 1;
		n++;
		if (remove)
			unlink(path);
	}
	closedir(d);
	return n;
}
