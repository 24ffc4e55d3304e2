# SPDX-License-Identifier: GPL-2.0
#
# pcmig top-level Makefile.
#
#   make            build pcmig.ko, pcmig-tool and the selftests
#   make check      the whole test suite (static checks, unit tests, VM tests)
#   make check-debug  the same on a debug guest kernel (lockdep, KASAN, ...)
#   make check-compat compile pcmig.ko against a newer Debian kernel's headers
#                   (COMPAT_KVER; fetched once, needs the network)
#   make demo       a demonstration inside the test guest
#   make bench      benchmarks, figures side by side (BENCH_ARGS=...)
#   make deps       install the Debian packages the build needs (as root)
#   make clean      remove everything built
#   make install    module, tool, man pages, udev rule (Documentation/install.rst)
# Variables: KDIR (kernel build dir), W=1 (extra kernel warnings), C=1
# (sparse), WERROR=1 (warnings are errors), V=1 (verbose).

srctree := $(CURDIR)
BUILD   := $(srctree)/build

KVER ?= $(shell $(srctree)/scripts/kver 2>/dev/null)
KDIR ?= $(firstword $(wildcard /lib/modules/$(KVER)/build /usr/src/linux-headers-$(KVER)))

CC      ?= cc
PKG_CONFIG ?= pkg-config
WARNFLAGS := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes \
	     -Wstrict-prototypes -Wno-unused-parameter
# The kselftest harness's macros compare signed with unsigned by design.
ST_WARNFLAGS := -Wall -Wextra -Wformat=2 -Wno-sign-compare \
	     -Wno-unused-parameter
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
ST_WARNFLAGS += -Werror
KBUILD_EXTRA := KCFLAGS=-Werror
endif
CFLAGS  ?= -O2 -g
CPPFLAGS += -I$(srctree)/uapi -D_GNU_SOURCE
NL_CFLAGS = $(shell $(PKG_CONFIG) --cflags libnl-genl-3.0 libcrypto)
NL_LIBS   = $(shell $(PKG_CONFIG) --libs libnl-genl-3.0 libcrypto)

TOOL     := $(BUILD)/pcmig-tool
TOOL_SRC := $(wildcard tools/pcmig/*.c)
TOOL_HDR := $(wildcard tools/pcmig/*.h) uapi/linux/pcmig.h

# Shared by the demo VMM and the benchmarks: deterministic memory images.
IMAGE_SRC := tools/lib/image.c
IMAGE_HDR := tools/lib/image.h

# The demo's stand-in VMM: tools/demo/*.c, with the tool's pure helpers.
DEMO_VMM := $(BUILD)/pcmig-demo-vmm
DEMO_SRC := $(wildcard tools/demo/*.c)
DEMO_HDR := $(wildcard tools/demo/*.h) uapi/linux/pcmig.h $(IMAGE_HDR)

KFILES   := $(BUILD)/kernel
HARNESS  := $(KFILES)/tools/testing/selftests
ST_DIR   := $(BUILD)/selftests
ST_SRC   := $(wildcard selftests/pcmig/*_test.c)
ST_PROGS := $(patsubst selftests/pcmig/%.c,$(ST_DIR)/%,$(ST_SRC))
ST_LIB   := $(wildcard selftests/pcmig/lib/*.c)
ST_HDR   := $(wildcard selftests/pcmig/lib/*.h) uapi/linux/pcmig.h

# Host-side unit tests of pure C code: tools/pcmig/tests/NAME_test.c, linked
# with the tool's sources other than main.c.
UNIT_DIR   := $(BUILD)/unit
UNIT_SRC   := $(wildcard tools/pcmig/tests/*_test.c)
UNIT_PROGS := $(patsubst tools/pcmig/tests/%.c,$(UNIT_DIR)/%,$(UNIT_SRC))

# The bare-metal x86 guest that the QEMU test and demo migrate: a
# multiboot ELF that QEMU boots with -kernel (tools/guest/).
GUEST     := $(BUILD)/pcmig-memcheck.elf
GUEST_SRC := tools/guest/memcheck.c tools/guest/memcheck.ld
GUEST_CFLAGS := -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -O2 -nostdlib \
	-static -no-pie -Wl,-m,elf_i386 -Wl,--build-id=none \
	-Wl,--no-warn-rwx-segments

.PHONY: all module tool demo-vmm guest selftests unit benches kernel-files \
	deps check check-debug check-compat demo bench checkpatch clean help

all: module tool demo-vmm guest selftests unit benches

help:
	@sed -n '3,16p' Makefile | sed 's/^# \{0,1\}//'

module:
	@test -n "$(KDIR)" || { echo "no kernel headers found: run 'make deps' as root" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(srctree) $(if $(W),W=$(W)) $(if $(C),C=$(C)) \
		$(KBUILD_EXTRA) modules

tool: $(TOOL)

demo-vmm: $(if $(DEMO_SRC),$(DEMO_VMM))

$(DEMO_VMM): $(DEMO_SRC) $(DEMO_HDR) tools/pcmig/ram.c $(IMAGE_SRC) | $(BUILD)
	$(CC) $(CPPFLAGS) -Itools/pcmig -Itools/lib $(CFLAGS) $(WARNFLAGS) \
		-o $@ $(DEMO_SRC) tools/pcmig/ram.c $(IMAGE_SRC) -lpthread

$(TOOL): $(TOOL_SRC) $(TOOL_HDR) | $(BUILD)
	$(CC) $(CPPFLAGS) $(NL_CFLAGS) $(CFLAGS) $(WARNFLAGS) $(LDFLAGS) -o $@ \
		$(TOOL_SRC) $(NL_LIBS)

guest: $(GUEST)

$(GUEST): $(GUEST_SRC) | $(BUILD)
	$(CC) $(GUEST_CFLAGS) $(WARNFLAGS) -T tools/guest/memcheck.ld -o $@ \
		tools/guest/memcheck.c

kernel-files: $(KFILES)/.extracted

$(KFILES)/.extracted:
	scripts/kernel-files $(KFILES)

selftests: $(ST_PROGS)

# Selftests also get the tool's protocol code, to play a peer that lies.
ST_TOOL_SRC := $(addprefix tools/pcmig/,proto.c net.c handshake.c auth.c ram.c)

$(ST_DIR)/%: selftests/pcmig/%.c $(ST_LIB) $(ST_HDR) $(ST_TOOL_SRC) \
		$(KFILES)/.extracted
	@mkdir -p $(ST_DIR)
	$(CC) $(CPPFLAGS) -I$(HARNESS) -Iselftests/pcmig/lib -Itools/pcmig \
		$(NL_CFLAGS) $(CFLAGS) $(ST_WARNFLAGS) -o $@ $< $(ST_LIB) \
		$(ST_TOOL_SRC) $(NL_LIBS) -lpthread

unit: $(UNIT_PROGS)

$(UNIT_DIR)/%: tools/pcmig/tests/%.c $(filter-out tools/pcmig/main.c,$(TOOL_SRC)) \
		$(TOOL_HDR) $(wildcard tools/pcmig/tests/*.h)
	@mkdir -p $(UNIT_DIR)
	$(CC) $(CPPFLAGS) -Itools/pcmig $(NL_CFLAGS) $(CFLAGS) $(WARNFLAGS) \
		-o $@ $< $(filter-out tools/pcmig/main.c,$(TOOL_SRC)) $(NL_LIBS) \
		-lpthread

# Benchmark programs: tools/bench/NAME.c -> build/bench/NAME, each with
# tools/bench/lib/*.c and the tool's sources other than main.c.
BENCH_DIR   := $(BUILD)/bench
BENCH_SRC   := $(wildcard tools/bench/*.c)
BENCH_PROGS := $(patsubst tools/bench/%.c,$(BENCH_DIR)/%,$(BENCH_SRC))
BENCH_LIB   := $(wildcard tools/bench/lib/*.c) $(IMAGE_SRC)

benches: $(BENCH_PROGS)

$(BENCH_DIR)/%: tools/bench/%.c $(BENCH_LIB) $(wildcard tools/bench/lib/*.h) $(IMAGE_HDR) \
		$(filter-out tools/pcmig/main.c,$(TOOL_SRC)) $(TOOL_HDR)
	@mkdir -p $(BENCH_DIR)
	$(CC) $(CPPFLAGS) -Itools/bench/lib -Itools/lib -Itools/pcmig $(NL_CFLAGS) \
		$(CFLAGS) $(WARNFLAGS) -o $@ $< $(BENCH_LIB) \
		$(filter-out tools/pcmig/main.c,$(TOOL_SRC)) $(NL_LIBS) -lpthread

$(BUILD):
	@mkdir -p $@

deps:
	@scripts/deps

CHECKPATCH = $(KFILES)/scripts/checkpatch.pl --strict --no-tree --terse \
	--ignore FILE_PATH_CHANGES
KSOURCES = $(filter-out %.mod.c kmod/compat.h kmod/trace.h, \
	$(wildcard kmod/*.c kmod/*.h)) $(wildcard uapi/linux/*.h)

# compat.h is the one place allowed to test LINUX_VERSION_CODE.
# trace.h keeps its name lists as the kernel's trace headers do: brace
# initialisers for __print_symbolic() (which cannot be parenthesised) and
# TRACE_DEFINE_ENUM() declarations (which need their ';').
# kernel-doc must find nothing to complain about either.
checkpatch: $(KFILES)/.extracted
	$(CHECKPATCH) -f $(KSOURCES)
	$(CHECKPATCH) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON \
		-f kmod/compat.h
	$(CHECKPATCH) --ignore COMPLEX_MACRO,TRAILING_SEMICOLON -f kmod/trace.h
	@out=$$(perl $(KFILES)/scripts/kernel-doc -none \
		$(wildcard kmod/*.c kmod/*.h uapi/linux/*.h) 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi

check:
	@scripts/check

check-debug:
	@scripts/check --debug-kernel

# Not part of make check: the headers come from the network the first time.
# Only kmod/compat.h may need to change for a kernel that fails here.
COMPAT_KVER ?= 6.12.107+deb12-amd64
COMPAT_DIR  := $(BUILD)/compat-$(COMPAT_KVER)

check-compat:
	@kdir=$$(scripts/compat-kdir $(COMPAT_KVER)) || exit 1; \
	rm -rf $(COMPAT_DIR) && mkdir -p $(COMPAT_DIR)/kmod && \
	cp -a Kbuild uapi $(COMPAT_DIR)/ && \
	cp -a kmod/Kbuild kmod/*.c kmod/*.h $(COMPAT_DIR)/kmod/ && \
	$(MAKE) -C $$kdir M=$(COMPAT_DIR) W=1 C=2 modules \
		> $(COMPAT_DIR).log 2>&1; rc=$$?; \
	if [ $$rc != 0 ] || grep -E '(warning|error):' $(COMPAT_DIR).log; then \
		tail -n 30 $(COMPAT_DIR).log; \
		echo "check-compat: pcmig.ko against $(COMPAT_KVER): FAILED"; \
		exit 1; \
	fi; \
	echo "check-compat: pcmig.ko builds against $(COMPAT_KVER) (W=1, sparse) clean"

demo:
	@scripts/demo $(DEMO_ARGS)

bench:
	@scripts/bench $(BENCH_ARGS)

clean:
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(srctree) clean; fi
	rm -rf $(BUILD)

# Installing (Documentation/install.rst). 'make' first (as the kernel's
# modules_install, install builds no module), then as root:
#
#   make install         kmod/pcmig.ko into /lib/modules/$(KVER)/updates,
#                        pcmig-tool into $(PREFIX)/sbin, the man pages into
#                        $(PREFIX)/share/man/man{4,8}, the udev rule into
#                        $(UDEVRULESDIR); then depmod -a $(KVER) and udev
#                        applies the rule to the nodes that exist
#   make uninstall       removes exactly those files, and the directories
#                        updates, man4 and man8 if that left them empty;
#                        depmod -a $(KVER)
#   make dkms-install    the module's sources into /usr/src/pcmig-$(PCMIG_VERSION),
#                        dkms add, then dkms install for $(KVER); DKMS
#                        rebuilds the module for every kernel installed later
#   make dkms-uninstall  dkms remove --all and the sources
#   make dkms-src        only the sources (with DESTDIR: for a package)
#
# DESTDIR is a staging root for packages and is put before every path; with
# it no depmod runs and udev is left alone, as in kernel packages: the
# package's postinst does that on the target system.
PCMIG_VERSION := $(shell sed -n 's/^.define PCMIG_MODULE_VERSION[[:space:]]*"\([^"]*\)".*/\1/p' kmod/pcmig.h)
PREFIX       ?= /usr/local
SBINDIR      ?= $(PREFIX)/sbin
MANDIR       ?= $(PREFIX)/share/man
UDEVRULESDIR ?= /lib/udev/rules.d
MODDIR       ?= /lib/modules/$(KVER)/updates
DKMS_SRCDIR  ?= /usr/src/pcmig-$(PCMIG_VERSION)
INSTALL      ?= install
DKMS         ?= dkms
DEPMOD       ?= $(firstword $(wildcard /sbin/depmod /usr/sbin/depmod) depmod)
MODINFO      ?= $(firstword $(wildcard /sbin/modinfo /usr/sbin/modinfo) modinfo)
MODULE_KO    := kmod/pcmig.ko
UDEV_RULES   := 60-pcmig.rules
# What dkms builds from: kbuild files and the module's sources, no more.
DKMS_FILES   := Kbuild dkms.conf kmod/Kbuild uapi/linux/pcmig.h \
	$(sort $(filter-out %.mod.c,$(wildcard kmod/*.c)) $(wildcard kmod/*.h))

.PHONY: install uninstall dkms-src dkms-install dkms-uninstall \
	install-check-kver

install-check-kver:
	@test -n "$(KVER)" || { echo "make: no kernel release: give KVER=..., or run 'make deps'" >&2; exit 1; }

install: install-check-kver $(TOOL)
	@test -f $(MODULE_KO) || { echo "make install: $(MODULE_KO) is not built: run 'make' first" >&2; exit 1; }
	@built=$$($(MODINFO) -F vermagic $(MODULE_KO) | cut -d' ' -f1); \
	if [ "$$built" != "$(KVER)" ]; then \
		echo "make install: $(MODULE_KO) is built for $$built, not for $(KVER): 'make KVER=$(KVER)' first, or 'make install KVER=$$built'" >&2; \
		exit 1; \
	fi
	@if [ -z "$(DESTDIR)" ] && [ -e /lib/modules/$(KVER)/updates/dkms/pcmig.ko ]; then \
		echo "make install: DKMS installed pcmig for $(KVER) already: 'make dkms-uninstall' first" >&2; \
		exit 1; \
	fi
	$(INSTALL) -D -m 0644 $(MODULE_KO) $(DESTDIR)$(MODDIR)/pcmig.ko
	$(INSTALL) -D -m 0755 $(TOOL) $(DESTDIR)$(SBINDIR)/pcmig-tool
	$(INSTALL) -D -m 0644 man/pcmig-tool.8 $(DESTDIR)$(MANDIR)/man8/pcmig-tool.8
	$(INSTALL) -D -m 0644 man/pcmig.4 $(DESTDIR)$(MANDIR)/man4/pcmig.4
	$(INSTALL) -D -m 0644 udev/$(UDEV_RULES) $(DESTDIR)$(UDEVRULESDIR)/$(UDEV_RULES)
ifeq ($(DESTDIR),)
	$(DEPMOD) -a $(KVER)
	@if [ -S /run/udev/control ]; then \
		udevadm control --reload && \
		udevadm trigger --action=change --subsystem-match=misc --sysname-match=pcmig && \
		udevadm trigger --action=change --subsystem-match=pcmig; \
	fi
endif

uninstall: install-check-kver
	rm -f $(DESTDIR)$(MODDIR)/pcmig.ko $(DESTDIR)$(SBINDIR)/pcmig-tool \
		$(DESTDIR)$(MANDIR)/man8/pcmig-tool.8 \
		$(DESTDIR)$(MANDIR)/man4/pcmig.4 \
		$(DESTDIR)$(UDEVRULESDIR)/$(UDEV_RULES)
	@for d in $(DESTDIR)$(MODDIR) $(DESTDIR)$(MANDIR)/man4 $(DESTDIR)$(MANDIR)/man8; do \
		if [ -d $$d ]; then rmdir --ignore-fail-on-non-empty $$d; fi; \
	done
ifeq ($(DESTDIR),)
	$(DEPMOD) -a $(KVER)
	@if [ -S /run/udev/control ]; then udevadm control --reload; fi
endif

dkms-src:
	@test -n "$(PCMIG_VERSION)" || { echo "make: no PCMIG_MODULE_VERSION in kmod/pcmig.h" >&2; exit 1; }
	rm -rf $(DESTDIR)$(DKMS_SRCDIR)
	@for f in $(DKMS_FILES); do \
		$(INSTALL) -D -m 0644 $$f $(DESTDIR)$(DKMS_SRCDIR)/$$f || exit 1; \
	done
	@echo "pcmig $(PCMIG_VERSION) sources for DKMS in $(DESTDIR)$(DKMS_SRCDIR)"

dkms-install: install-check-kver
	@test -z "$(DESTDIR)" || { echo "make dkms-install: no DESTDIR, it installs on this system ('make dkms-src DESTDIR=...' stages the sources)" >&2; exit 1; }
	@test ! -e /lib/modules/$(KVER)/updates/pcmig.ko || { echo "make dkms-install: 'make install' installed pcmig for $(KVER): 'make uninstall' first" >&2; exit 1; }
	@if $(DKMS) status -m pcmig -v $(PCMIG_VERSION) | grep -q .; then \
		echo "$(DKMS) remove pcmig/$(PCMIG_VERSION) --all"; \
		$(DKMS) remove pcmig/$(PCMIG_VERSION) --all || exit 1; \
	fi
	$(MAKE) --no-print-directory dkms-src
	$(DKMS) add pcmig/$(PCMIG_VERSION)
	$(DKMS) install pcmig/$(PCMIG_VERSION) -k $(KVER)

dkms-uninstall:
	@test -z "$(DESTDIR)" || { echo "make dkms-uninstall: no DESTDIR" >&2; exit 1; }
	@if $(DKMS) status -m pcmig -v $(PCMIG_VERSION) | grep -q .; then \
		echo "$(DKMS) remove pcmig/$(PCMIG_VERSION) --all"; \
		$(DKMS) remove pcmig/$(PCMIG_VERSION) --all || exit 1; \
	fi
	rm -rf $(DKMS_SRCDIR)

# Debian packages pcmig-dkms and pcmig-tools (debian/, Documentation/install.rst):
# dpkg-buildpackage -us -uc -b in a clean copy under build/deb, the .debs there.
.PHONY: deb
deb:
	@scripts/deb-build
