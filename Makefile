# SPDX-License-Identifier: GPL-2.0
#
# pcmig top-level Makefile.
#
#   make            build pcmig.ko, pcmig-tool and the selftests
#   make check      the whole test suite (static checks, unit tests, VM tests)
#   make check-debug  the same on a debug guest kernel (lockdep, KASAN, ...)
#   make demo       a demonstration inside the test guest
#   make bench      benchmarks, figures side by side (BENCH_ARGS=...)
#   make deps       install the Debian packages the build needs (as root)
#   make clean      remove everything built
#
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
	deps check check-debug demo bench checkpatch clean help

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
	$(CC) $(CPPFLAGS) $(NL_CFLAGS) $(CFLAGS) $(WARNFLAGS) -o $@ \
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
KSOURCES = $(filter-out %.mod.c kmod/compat.h,$(wildcard kmod/*.c kmod/*.h)) \
	$(wildcard uapi/linux/*.h)

# compat.h is the one place allowed to test LINUX_VERSION_CODE.
# kernel-doc must find nothing to complain about either.
checkpatch: $(KFILES)/.extracted
	$(CHECKPATCH) -f $(KSOURCES)
	$(CHECKPATCH) --ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON \
		-f kmod/compat.h
	@out=$$(perl $(KFILES)/scripts/kernel-doc -none \
		$(wildcard kmod/*.c kmod/*.h uapi/linux/*.h) 2>&1); \
	if [ -n "$$out" ]; then echo "$$out"; exit 1; fi

check:
	@scripts/check

check-debug:
	@scripts/check --debug-kernel

demo:
	@scripts/demo $(DEMO_ARGS)

bench:
	@scripts/bench $(BENCH_ARGS)

clean:
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(srctree) clean; fi
	rm -rf $(BUILD)
