# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2034,SC2154 # globals shared with the parts
#
# bench-lib.sh - helpers of the 'make bench' parts that migrate in the test
# guest (scripts/bench-reqlat, scripts/bench-push). Sourced, never run: it
# is not executable, and scripts/bench skips it when it looks for parts.
#
#   . "$here/bench-lib.sh"
#
# The part sets, before it calls anything here:
#
#   part      its name in messages, e.g. bench-reqlat
#   tree      the source tree
#
# and, for the guest helpers (after bench_guest_init):
#
#   tool      build/pcmig-tool
#   rq        build/bench/reqlat (make-image, the probers, verify)
#   size      guest memory migrated, e.g. 256M
#   image     the source's image file (in /dev/shm)
#   src_ns, dst_ns, src_ip, dst_ip
#             the two network namespaces and their addresses
#   keep      globs (in $work) copied to the results directory at exit
#
# bench_guest_init sets work (a scratch directory), results (the results
# directory vm-run shares with the host, may be empty) and pids (background
# processes to kill at exit), and installs bench_cleanup as the EXIT trap.
# wait_for and wait_exact set rc; start_migration sets inc_pid, mig_pid and
# mig_t0.
#
# Functions here need bash (arrays, $EPOCHREALTIME) and a part running
# under 'set -euo pipefail'.

# ---- host side ----

# bench_require FILE...: every FILE must exist (relative to $tree or
# absolute), else say what to build and exit 1.
bench_require() {
	local f
	for f in "$@"; do
		if [ ! -e "$f" ]; then
			echo "$part: $f is missing: run 'make' (make benches tool for the programs)" >&2
			exit 1
		fi
	done
}

# host_sampler PGID PREFIX: on the host, every second, one line: the time,
# the QEMU processes running, and the CPU time (ticks) used meanwhile by
# processes outside process group PGID (ours holds vm-run and our guest),
# so that a run disturbed by other work on this host can be told.
# Processes living less than a second are missed. PREFIX.prev and
# PREFIX.cur are its scratch files. Runs until killed.
host_sampler() {
	local pgid=$1 prev=$2.prev cur=$2.cur other
	: > "$prev"
	while :; do
		# A process may end between the glob and cat: not an error
		# (the part runs under 'set -e -o pipefail').
		{ cat /proc/[0-9]*/stat 2> /dev/null || true; } |
		awk -v me="$pgid" '{ sub(/ \(.*\) /, " x ")
			if ($5 != me) print $1 ":" $22, $14 + $15 }' > "$cur"
		other=$(awk 'NR == FNR { p[$1] = $2; next }
			($1 in p) { d += $2 - p[$1] } END { print d + 0 }' \
			"$prev" "$cur")
		echo "$(date +%s.%N)" \
			"$(pgrep -c -f '^qemu-system-x86_64 ' || true) $other"
		mv "$cur" "$prev"
		sleep 1
	done
}

# host_sampler_start OUT: host_sampler in the background, for this
# script's process group, into OUT/host-load.txt; its pid in $sampler.
host_sampler_start() {
	local out=$1
	host_sampler "$(ps -o pgid= $$ | tr -d ' ')" "$out/host-procs" \
		> "$out/host-load.txt" 2> /dev/null &
	sampler=$!
}

# host_sampler_stop OUT: end the sampler host_sampler_start started.
host_sampler_stop() {
	local out=$1
	kill "$sampler" 2> /dev/null || true
	wait "$sampler" 2> /dev/null || true
	rm -f "$out/host-procs.prev" "$out/host-procs.cur"
}

# host_report OUT CASE...: per case, over its windows (OUT/windows.txt,
# lines "CASE ROUND START END" in seconds since the epoch, written in the
# guest), the mean CPU (in cores) of other work on the host
# (OUT/host-load.txt) and the most other QEMU guests seen; a NOTE when a
# case was disturbed (more than 0.2 cores, or another guest).
host_report() {
	local out=$1
	shift
	awk -v part="$part" -v cases="$*" '
	FILENAME ~ /windows/ { w++; wc[w] = $1; ws[w] = $3; we[w] = $4; next }
	{
		if (pt != "" && $1 > pt) {
			other = $3 / (($1 - pt) * 100)
			tm = ($1 + pt) / 2
			for (i = 1; i <= w; i++) {
				if (tm < ws[i] - 0.5 || tm > we[i] + 0.5)
					continue
				sum[wc[i]] += other
				n[wc[i]]++
				if ($2 - 1 > mq[wc[i]])
					mq[wc[i]] = $2 - 1
			}
		}
		pt = $1
	}
	END {
		nc = split(cases, cs, " ")
		line = ""
		for (i = 1; i <= nc; i++) {
			c = cs[i]
			if (!n[c])
				continue
			m = sum[c] / n[c]
			line = line sprintf("%s%s %.2f", line == "" ? "" : ", ",
					    c, m)
			if (m > 0.2 || mq[c] > 0)
				bad = bad " " c
			if (mq[c] > maxq)
				maxq = mq[c]
		}
		if (line == "") {
			print part ": host: no load samples"
			exit
		}
		printf "%s: host: CPU used by other work during each case (cores of 2): %s; other QEMU guests seen: %d\n", part, line, maxq
		if (bad != "")
			printf "%s: NOTE: disturbed by other work on the host:%s (figures less reliable)\n", part, bad
		else
			print part ": host: no disturbance seen"
	}' "$out/windows.txt" "$out/host-load.txt"
}

# ---- in the guest ----

# bench_guest_init: the scratch directory, the results directory and the
# EXIT trap.
bench_guest_init() {
	results=${PCMIG_RESULTS:-}
	work=$(mktemp -d "/tmp/$part.XXXXXX")
	pids=()
	trap bench_cleanup EXIT
}

# bench_cleanup: the EXIT trap: kill what is left (the pids, the daemons
# of $work/*.pid), copy the $keep files to the results, remove the
# namespaces, the scratch directory and the image.
bench_cleanup() {
	local p g
	local -a files=()
	for p in "${pids[@]}"; do
		kill "$p" 2> /dev/null || true
	done
	for p in "$work"/*.pid; do
		if [ -f "$p" ]; then
			kill "$(cat "$p")" 2> /dev/null || true
		fi
	done
	wait 2> /dev/null || true
	if [ -n "$results" ] && [ -d "$results" ]; then
		for g in ${keep[@]+"${keep[@]}"}; do
			# shellcheck disable=SC2206 # globs, on purpose
			files+=("$work"/$g)
		done
		cp "${files[@]}" "$results"/ 2> /dev/null || true
	fi
	ip netns del "${src_ns:-}" 2> /dev/null || true
	ip netns del "${dst_ns:-}" 2> /dev/null || true
	rm -rf "$work" "${image:-}"
}

# die MESSAGE: fail the part, with the last lines of every log and status
# file in $work.
die() {
	echo "$part: FAILED: $*"
	local f
	for f in "$work"/*.log "$work"/*.status; do
		[ -s "$f" ] || continue
		echo "$part: --- last lines of $(basename "$f"):"
		tail -n 6 "$f" | sed 's/^/  /'
	done
	exit 1
}

# json_line FILE EVENT: the last JSON line of FILE with "event":"EVENT".
json_line() { grep -F "\"event\":\"$2\"" "$1" 2> /dev/null | tail -n 1; }
# str LINE KEY: the string member KEY of a JSON line.
str() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" <<< "$1" | head -n 1; }
# num LINE KEY: the (first) number member KEY of a JSON line.
num() { sed -n "s/.*\"$2\":\(-\{0,1\}[0-9.e+-]*\).*/\1/p" <<< "$1" | head -n 1; }
# summary_msg FILE: the message of the summary of incoming's JSON FILE.
summary_msg() { str "$(json_line "$1" summary)" message; }

# res FILE CASE METRIC: the VALUE of the result line CASE METRIC in FILE.
res() {
	awk -v c="$2" -v m="$3" '$1 == "result" && $3 == c && $4 == m { v = $5 }
		END { if (v != "") print v }' "$1"
}

# alive PID: whether PID still runs.
alive() { kill -0 "$1" 2> /dev/null; }

# now: the time, seconds since the epoch.
now() { date +%s.%N; }

# wait_for PID SECS: wait up to SECS for PID (a child of this shell) to
# exit, polling; its status, or 124 if it is still running, in $rc.
wait_for() {
	local pid=$1 secs=$2 i
	rc=0
	for ((i = 0; i < secs * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		rc=124
		return
	fi
	wait "$pid" || rc=$?
}

# wait_exact PID: wait for PID (a child of this shell) to exit, and return
# the moment it does (wait(2), no polling): for exit times that are
# measured. Its status in $rc. No time limit of its own, on purpose (a
# watchdog would be one more process in the measured window): the tools'
# own timeouts and vm-run's end a hang.
wait_exact() {
	rc=0
	wait "$1" || rc=$?
}

# no_sessions_left TAG: no session may outlive its migration
# (auto-destroy): wait up to 5 s for every /dev/pcmigN to go.
no_sessions_left() {
	local i
	for i in $(seq 50); do
		compgen -G '/dev/pcmig[0-9]*' > /dev/null || return 0
		sleep 0.1
	done
	die "$1: session(s) left behind: $(echo /dev/pcmig[0-9]*)"
}

# bench_netns_up: the namespaces $src_ns ($src_ip) and $dst_ns ($dst_ip)
# joined by a veth pair (PREFIX-veth-s, PREFIX-veth-d, PREFIX the source
# namespace's name before its '-').
bench_netns_up() {
	local s=${src_ns%%-*}-veth-s d=${src_ns%%-*}-veth-d
	ip netns add "$src_ns"
	ip netns add "$dst_ns"
	ip link add "$s" type veth peer name "$d"
	ip link set "$s" netns "$src_ns"
	ip link set "$d" netns "$dst_ns"
	ip -n "$src_ns" addr add "$src_ip/24" dev "$s"
	ip -n "$dst_ns" addr add "$dst_ip/24" dev "$d"
	ip -n "$src_ns" link set lo up
	ip -n "$dst_ns" link set lo up
	ip -n "$src_ns" link set "$s" up
	ip -n "$dst_ns" link set "$d" up
}

# bench_inputs SEED: the source's image ($image, $size, from SEED: every
# page unique, none zero), a 4 KiB device state ($work/state) and the
# pre-shared key ($work/key, mode 0600).
bench_inputs() {
	"$rq" make-image "$image" "$size" "$1" 2> "$work/setup.log" ||
		die "cannot write the image"
	head -c 4096 /dev/urandom > "$work/state"
	( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/key" )
}

# start_migration TAG PORT [MIGRATE OPTION...] -- [INCOMING OPTION...]:
# incoming in $dst_ns (JSON in $work/TAG-incoming.json, messages in
# TAG-incoming.log, the device state to TAG.state), once it listens
# migrate in $src_ns (TAG-migrate.json, TAG-migrate.log); sets inc_pid,
# mig_pid and mig_t0 (the time right before migrate started, from
# $EPOCHREALTIME). With timed_tools=1 each tool runs under /usr/bin/time,
# which writes "ELAPSED USER SYS" (seconds) as the last line of
# TAG-incoming.time and TAG-migrate.time; the pids are then time's, so
# such a migration must end naturally (end_migration TAG natural).
start_migration() {
	local tag=$1 port=$2 i
	local -a mig_opts=() inc_wrap=() mig_wrap=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		mig_opts+=("$1")
		shift
	done
	shift
	if [ "${timed_tools:-0}" = 1 ]; then
		inc_wrap=(/usr/bin/time -f '%e %U %S' -o "$work/$tag-incoming.time")
		mig_wrap=(/usr/bin/time -f '%e %U %S' -o "$work/$tag-migrate.time")
	fi
	ip netns exec "$dst_ns" "${inc_wrap[@]}" "$tool" incoming \
		--listen "$dst_ip:$port" \
		--key-file "$work/key" --ram "ram0:$size" --json \
		--state-out "$work/$tag.state" "$@" \
		> "$work/$tag-incoming.json" 2> "$work/$tag-incoming.log" &
	inc_pid=$!
	pids+=("$inc_pid")
	for i in $(seq 100); do
		grep -q '"event":"listening"' "$work/$tag-incoming.json" \
			2> /dev/null && break
		alive "$inc_pid" || break
		sleep 0.1
	done
	grep -q '"event":"listening"' "$work/$tag-incoming.json" 2> /dev/null ||
		die "$tag: pcmig-tool incoming did not start listening"
	mig_t0=$EPOCHREALTIME
	ip netns exec "$src_ns" "${mig_wrap[@]}" "$tool" migrate \
		--connect "$dst_ip:$port" \
		--key-file "$work/key" --ram "ram0=$image" \
		--device-state "$work/state" --json "${mig_opts[@]}" \
		> "$work/$tag-migrate.json" 2> "$work/$tag-migrate.log" &
	mig_pid=$!
	pids+=("$mig_pid")
}

# end_migration TAG natural|stop: wait for both tools to finish (status
# 0), or stop the migration with SIGTERM to incoming (whose failure must
# then say 'interrupted (signal)'); then no session may be left.
end_migration() {
	local tag=$1 how=$2 msg
	if [ "$how" = natural ]; then
		wait_for "$inc_pid" 240
		[ "$rc" = 0 ] || die "$tag: pcmig-tool incoming exited with status $rc: $(summary_msg "$work/$tag-incoming.json")"
		wait_for "$mig_pid" 60
		[ "$rc" = 0 ] || die "$tag: pcmig-tool migrate exited with status $rc"
		echo "  $tag: the migration completed (both tools exit 0)"
	else
		[ "${timed_tools:-0}" = 0 ] ||
			die "$tag: a timed migration cannot be stopped (SIGTERM would reach /usr/bin/time)"
		# A fast push may complete the migration first: status 0.
		alive "$inc_pid" && kill -TERM "$inc_pid"
		wait_for "$inc_pid" 60
		msg=$(summary_msg "$work/$tag-incoming.json")
		case "$rc" in
		0) ;;
		1) [[ $msg == *"interrupted (signal)"* ]] ||
			die "$tag: pcmig-tool incoming failed: $msg" ;;
		*) die "$tag: pcmig-tool incoming exited with status $rc after SIGTERM: $msg" ;;
		esac
		wait_for "$mig_pid" 60
		case "$rc" in
		0|1) ;;
		*) die "$tag: pcmig-tool migrate exited with status $rc after the destination stopped" ;;
		esac
	fi
	pids=()
	no_sessions_left "$tag"
}
