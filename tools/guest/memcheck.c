// SPDX-License-Identifier: GPL-2.0
/*
 * memcheck: a tiny bare-metal x86 guest for migrating a real QEMU
 * (selftests/pcmig/pcmig_qemu_test.c, make demo DEMO_ARGS=--qemu).
 *
 * QEMU boots it with -kernel (multiboot, 32-bit protected mode, no paging).
 * It fills its RAM from 6 MiB up (the cold region) and 2-6 MiB (the hot
 * region) with patterns that tell each page apart, says "memcheck: ready",
 * then goes round forever: every hot page is checked and written again
 * with the round's generation, and a slice of the cold region is checked,
 * never written; each round ends with a line on the serial port:
 *
 *   memcheck: round N ok            (or: memcheck: round N bad B)
 *   memcheck: cold pass P ok        (or: bad B) each time the slices
 *                                   have covered the whole cold region
 *   memcheck: BAD page P word W got X want Y     (the first few of them)
 *
 * So a VM migrated while it runs keeps counting rounds from where it
 * stopped (a restarted one would print its "memcheck: ram" line again),
 * any page that arrived wrong shows as BAD, and every page of the cold
 * region keeps, byte for byte, what the source had: the test compares it
 * with the source's RAM file.
 *
 * The multiboot command line (QEMU -append) may set "hot=PAGES",
 * "slice=PAGES" (cold pages checked per round) and "ram=MIB" (the cold
 * region ends there, if below the end of RAM: the memory above is never
 * touched, for the tests that give it back at the destination).
 */
#include <stdint.h>

#define PAGE		4096u
#define WORDS		(PAGE / 4)
#define MIB		(1024u * 1024u)
#define HOT_START	(2 * MIB)
#define COLD_START	(6 * MIB)
#define HOT_MAX		((COLD_START - HOT_START) / PAGE)
#define MAGIC		0x4d43484bu	/* "MCHK" */
#define MAX_REPORTS	16

__asm__(".pushsection .multiboot, \"a\"\n"
	".align 4\n"
	".long 0x1badb002\n"		/* magic */
	".long 0x00000003\n"		/* page-aligned, memory info */
	".long -(0x1badb002 + 0x00000003)\n"
	".popsection\n"
	".pushsection .text\n"
	".globl _start\n"
	"_start:\n"
	"	cli\n"
	"	mov $stack_top, %esp\n"
	"	push %ebx\n"		/* multiboot information */
	"	push %eax\n"		/* magic */
	"	call guest_main\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	".popsection\n"
	".pushsection .bss\n"
	".align 16\n"
	"	.skip 16384\n"
	"stack_top:\n"
	".popsection\n");

struct mb_info {
	uint32_t flags;
	uint32_t mem_lower;
	uint32_t mem_upper;
	uint32_t boot_device;
	uint32_t cmdline;
};

static uint32_t gen[HOT_MAX];		/* generation of each hot page */
static unsigned int reports;

void guest_main(uint32_t magic, const struct mb_info *mbi);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void putc_serial(char c)
{
	unsigned int i;

	for (i = 0; i < 100000 && !(inb(0x3f8 + 5) & 0x20); i++)
		;
	outb(0x3f8, (uint8_t)c);
}

static void puts_serial(const char *s)
{
	for (; *s; s++)
		putc_serial(*s);
}

static void put_dec(uint32_t v)
{
	char b[12];
	int i = 0;

	do {
		b[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		putc_serial(b[--i]);
}

static void put_hex(uint32_t v)
{
	int i;

	puts_serial("0x");
	for (i = 28; i >= 0; i -= 4)
		putc_serial("0123456789abcdef"[(v >> i) & 15]);
}

/* Word @i of page @p at generation @g; words 0 and 1 name the page. */
static inline uint32_t pattern(uint32_t p, uint32_t g, uint32_t i)
{
	uint32_t x;

	if (i == 0)
		return MAGIC ^ p;
	if (i == 1)
		return g;
	x = (p << 12 | i) * 0x9e3779b1u ^ g * 0x85ebca6bu;
	return x ^ x >> 16;
}

static void fill(uint32_t p, uint32_t g)
{
	volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)(p * PAGE);
	uint32_t i;

	for (i = 0; i < WORDS; i++)
		w[i] = pattern(p, g, i);
}

/* 0 if page @p holds generation @g, else 1 (the first few reported). */
static unsigned int check(uint32_t p, uint32_t g)
{
	volatile uint32_t *w = (volatile uint32_t *)(uintptr_t)(p * PAGE);
	uint32_t i, got, want;

	for (i = 0; i < WORDS; i++) {
		got = w[i];
		want = pattern(p, g, i);
		if (got == want)
			continue;
		if (reports++ < MAX_REPORTS) {
			puts_serial("memcheck: BAD page ");
			put_hex(p * PAGE);
			puts_serial(" word ");
			put_dec(i);
			puts_serial(" got ");
			put_hex(got);
			puts_serial(" want ");
			put_hex(want);
			putc_serial('\n');
		}
		return 1;
	}
	return 0;
}

/* "key=N" in the command line, or @def. */
static uint32_t option(const char *cmd, const char *key, uint32_t def)
{
	const char *c, *k;
	uint32_t v;

	for (c = cmd; c && *c; c++) {
		if (c != cmd && c[-1] != ' ')
			continue;
		for (k = key; *k && *c == *k; k++, c++)
			;
		if (*k || *c != '=')
			continue;
		for (v = 0, c++; *c >= '0' && *c <= '9'; c++)
			v = v * 10 + (uint32_t)(*c - '0');
		return v;
	}
	return def;
}

void guest_main(uint32_t magic, const struct mb_info *mbi)
{
	uint32_t p, cold_first = COLD_START / PAGE, cold_end, hot, slice;
	uint32_t pos, n, round, bad, pass = 0, cold_bad = 0, b, top;
	const char *cmd = 0;

	/* The loader zeroed .bss (the ELF's memory size past its file). */
	if (magic != 0x2badb002 || !(mbi->flags & 1)) {
		puts_serial("memcheck: not started by a multiboot loader\n");
		return;
	}
	if (mbi->flags & 4)
		cmd = (const char *)(uintptr_t)mbi->cmdline;
	/* RAM from 1 MiB on, in KiB; the 32-bit address space at most. */
	cold_end = (mbi->mem_upper > 4u * 1024 * 1024 - 2048 ?
		    4u * 1024 * 1024 - 2048 : mbi->mem_upper) / 4 + 256;
	top = option(cmd, "ram", 0);
	if (top && top < cold_end / (MIB / PAGE))
		cold_end = top * (MIB / PAGE);
	hot = option(cmd, "hot", HOT_MAX);
	if (hot > HOT_MAX)
		hot = HOT_MAX;
	slice = option(cmd, "slice", 2048);
	if (cold_end <= cold_first + 1) {
		puts_serial("memcheck: less than 7 MiB of RAM\n");
		return;
	}
	if (!slice || slice > cold_end - cold_first)
		slice = cold_end - cold_first;
	puts_serial("memcheck: ram ");
	put_dec(cold_end * PAGE / MIB);
	puts_serial(" MiB, hot ");
	put_dec(hot);
	puts_serial(" pages from ");
	put_hex(HOT_START);
	puts_serial(", cold from ");
	put_hex(COLD_START);
	puts_serial(" to ");
	put_hex(cold_end * PAGE);
	puts_serial(", slice ");
	put_dec(slice);
	putc_serial('\n');

	for (p = 0; p < hot; p++) {
		gen[p] = 0;
		fill(HOT_START / PAGE + p, 0);
	}
	for (p = cold_first; p < cold_end; p++)
		fill(p, 0);
	puts_serial("memcheck: ready\n");

	pos = cold_first;
	for (round = 1;; round++) {
		bad = 0;
		for (p = 0; p < hot; p++) {
			bad += check(HOT_START / PAGE + p, gen[p]);
			gen[p] = round;
			fill(HOT_START / PAGE + p, round);
		}
		for (n = 0; n < slice; n++) {
			b = check(pos, 0);
			bad += b;
			cold_bad += b;
			if (++pos < cold_end)
				continue;
			pos = cold_first;
			puts_serial("memcheck: cold pass ");
			put_dec(++pass);
			if (cold_bad) {
				puts_serial(" bad ");
				put_dec(cold_bad);
			} else {
				puts_serial(" ok");
			}
			putc_serial('\n');
			cold_bad = 0;
		}
		puts_serial("memcheck: round ");
		put_dec(round);
		if (bad) {
			puts_serial(" bad ");
			put_dec(bad);
		} else {
			puts_serial(" ok");
		}
		putc_serial('\n');
	}
}
