/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pcmig: internal declarations shared by the files of pcmig.ko.
 */
#ifndef _PCMIG_H
#define _PCMIG_H

#include <linux/pcmig.h>

#define PCMIG_MODULE_VERSION	"0.1.0"

void pcmig_fill_version(struct pcmig_version *ver);

int pcmig_genl_register(void);
void pcmig_genl_unregister(void);

#endif /* _PCMIG_H */
