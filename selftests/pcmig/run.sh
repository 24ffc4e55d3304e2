#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - run the pcmig selftests inside the test guest.
#
# Usage: run.sh [BINDIR]   (default: build/selftests of the tree)
#
# Each test program's TAP output goes to stdout and to $PCMIG_RESULTS/NAME.tap;
# its exit status to $PCMIG_RESULTS/NAME.rc. $PCMIG_TEST (a shell pattern on
# "fixture.test") runs only the matching tests. pcmig_module_test runs last,
# as it unloads and reloads the module.
set -u

here=$(cd "$(dirname "$0")" && pwd)
bindir=${1:-$here/../../build/selftests}
results=${PCMIG_RESULTS:-$(mktemp -d)}
per_test_timeout=${PCMIG_TEST_TIMEOUT:-900}

progs=()
for p in "$bindir"/*_test; do
	[ -x "$p" ] || continue
	[ "$(basename "$p")" = pcmig_module_test ] && continue
	progs+=("$p")
done
[ -x "$bindir/pcmig_module_test" ] && progs+=("$bindir/pcmig_module_test")
if [ ${#progs[@]} -eq 0 ]; then
	echo "run.sh: no test programs in $bindir" >&2
	exit 1
fi

status=0
for p in "${progs[@]}"; do
	name=$(basename "$p")
	echo "# run.sh: $name"
	timeout -k 5 "$per_test_timeout" "$p" 2>&1 | tee "$results/$name.tap"
	rc=${PIPESTATUS[0]}
	echo "$rc" > "$results/$name.rc"
	[ "$rc" = 0 ] || status=1
	if [ "$rc" = 124 ]; then
		echo "not ok - $name timed out after ${per_test_timeout}s" |
			tee -a "$results/$name.tap"
	fi
done
exit "$status"
