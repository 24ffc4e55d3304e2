# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# versus-report.sh OUT DEST SMP... - the report of scripts/bench-versus:
# medians over the rounds of OUT/smpN/stats.txt, the table on stdout,
# DEST/results.json and, if gnuplot is there, DEST/latency.png. Run with
# bash by bench-versus (not a part of its own).
set -euo pipefail

out=$1 dest=$2
shift 2
smps=("$@")

# med FILE NET KIND CASE KEY: the median over the rounds, or "null".
med() {
	awk -v net="$2" -v kind="$3" -v c="$4" -v key="$5" '
	{
		ok = 0; v = ""
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "net" && kv[2] != net) next
			if (kv[1] == "kind" && kv[2] != kind) next
			if (kv[1] == "case" && kv[2] == c) ok = 1
			if (kv[1] == key) v = kv[2]
		}
		if (ok && v != "") a[n++] = v
	}
	END {
		if (!n) { print "null"; exit }
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		print (n % 2) ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2
	}' "$1"
}

# hist FILE NET CASE: the log2 histogram (us) of the remote faults of
# the 'lat' probes over all rounds, as a JSON object {"BUCKET": COUNT}.
hist() {
	awk -v net="$2" -v c="$3" '
	$0 ~ " net=" net " " && / kind=lat / && $0 ~ " case=" c " " {
		for (i = 1; i <= NF; i++) {
			if ($i !~ /^hist_us=/) continue
			sub(/^hist_us=/, "", $i)
			if ($i == "none") continue
			m = split($i, b, ",")
			for (j = 1; j <= m; j++) { split(b[j], kv, ":"); h[kv[1] + 0] += kv[2] }
		}
	}
	END {
		printf "{"; sep = ""
		for (k = 1; k < 2^31; k *= 2) if (k in h) { printf "%s\"%d\": %d", sep, k, h[k]; sep = ", " }
		printf "}"
	}' "$1"
}

# ratio A B: A / B with two decimals, or null.
ratio() {
	if [ "$1" = null ] || [ "$2" = null ]; then echo null; return; fi
	awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "null"; else printf "%.2f\n", a / b }'
}

# The largest thread count measured for both pcmig and uffd, 8 if there.
tmax() {
	local f=$1 net=$2 t best=
	for t in 1 2 4 8 16; do
		[ "$(med "$f" "$net" "tput$t" pcmig pages_per_s)" != null ] || continue
		best=$t
		[ "$t" = 8 ] && break
	done
	echo "${best:-1}"
}

# section FILE NET: one JSON object for a setting, and its table.
section() {
	local f=$1 net=$2 c t pps sep tm json
	tm=$(tmax "$f" "$net")
	json="{"
	json+="\"floor\": {\"rtt_p50_us\": $(med "$f" "$net" lat floor p50),"
	json+=" \"rtt_p99_us\": $(med "$f" "$net" lat floor p99),"
	json+=" \"stream_mbps\": $(med "$f" "$net" stream stream mbps)}"
	for c in pcmig uffd; do
		pps="{" sep=""
		for t in 1 2 4 8 16; do
			v=$(med "$f" "$net" "tput$t" "$c" pages_per_s)
			[ "$v" = null ] && continue
			pps+="$sep\"$t\": $v" sep=", "
		done
		pps+="}"
		json+=", \"$c\": {\"fault_p50_us\": $(med "$f" "$net" lat "$c" p50),"
		json+=" \"fault_p90_us\": $(med "$f" "$net" lat "$c" p90),"
		json+=" \"fault_p99_us\": $(med "$f" "$net" lat "$c" p99),"
		json+=" \"fault_p999_us\": $(med "$f" "$net" lat "$c" p999),"
		json+=" \"pages_per_s\": $pps,"
		json+=" \"fault_hist_us\": $(hist "$f" "$net" "$c"),"
		json+=" \"idle_p99_us\": $(med "$f" "$net" lat "$c" p99),"
		json+=" \"saturated_p50_us\": $(med "$f" "$net" sat "$c" p50),"
		json+=" \"saturated_p99_us\": $(med "$f" "$net" sat "$c" p99),"
		json+=" \"migrate_512m_s\": $(med "$f" "$net" skew "$c" migrate_s),"
		json+=" \"workload_512m_s\": $(med "$f" "$net" skew "$c" workload_s),"
		json+=" \"whole_remote_faults\": $(med "$f" "$net" skew "$c" remote),"
		json+=" \"cpu_us_per_page\": $(med "$f" "$net" skew "$c" cpu_us_per_page),"
		json+=" \"cpu_us_per_fault_tput$tm\": $(med "$f" "$net" "tput$tm" "$c" cpu_us_per_page)}"
	done
	json+=", \"uffd_two_fault_threads\": {\"fault_p50_us\": $(med "$f" "${net}2ft" lat uffd p50),"
	json+=" \"fault_p99_us\": $(med "$f" "${net}2ft" lat uffd p99),"
	json+=" \"pages_per_s_8\": $(med "$f" "${net}2ft" tput8 uffd pages_per_s)}"
	json+=", \"ratios\": {"
	json+="\"p50_vs_uffd\": $(ratio "$(med "$f" "$net" lat pcmig p50)" "$(med "$f" "$net" lat uffd p50)"),"
	json+=" \"p50_vs_floor\": $(ratio "$(med "$f" "$net" lat pcmig p50)" "$(med "$f" "$net" lat floor p50)"),"
	json+=" \"uffd_p50_vs_floor\": $(ratio "$(med "$f" "$net" lat uffd p50)" "$(med "$f" "$net" lat floor p50)"),"
	json+=" \"tput8_vs_uffd\": $(ratio "$(med "$f" "$net" tput8 pcmig pages_per_s)" "$(med "$f" "$net" tput8 uffd pages_per_s)"),"
	json+=" \"tput${tm}_vs_uffd\": $(ratio "$(med "$f" "$net" "tput$tm" pcmig pages_per_s)" "$(med "$f" "$net" "tput$tm" uffd pages_per_s)"),"
	json+=" \"saturated_vs_idle_p99\": $(ratio "$(med "$f" "$net" sat pcmig p99)" "$(med "$f" "$net" lat pcmig p99)"),"
	json+=" \"uffd_saturated_vs_idle_p99\": $(ratio "$(med "$f" "$net" sat uffd p99)" "$(med "$f" "$net" lat uffd p99)"),"
	json+=" \"migrate_512m_vs_uffd\": $(ratio "$(med "$f" "$net" skew pcmig migrate_s)" "$(med "$f" "$net" skew uffd migrate_s)"),"
	json+=" \"workload_512m_vs_uffd\": $(ratio "$(med "$f" "$net" skew pcmig workload_s)" "$(med "$f" "$net" skew uffd workload_s)"),"
	json+=" \"cpu_vs_uffd\": $(ratio "$(med "$f" "$net" skew pcmig cpu_us_per_page)" "$(med "$f" "$net" skew uffd cpu_us_per_page)"),"
	json+=" \"cpu_fault_vs_uffd\": $(ratio "$(med "$f" "$net" "tput$tm" pcmig cpu_us_per_page)" "$(med "$f" "$net" "tput$tm" uffd cpu_us_per_page)")}"
	json+="}"
	echo "$json"
}

table() {
	local f=$1 net=$2 label=$3 c t
	echo
	echo "versus: $label"
	printf '%-8s %9s %9s %9s %9s %12s %12s %10s\n' case p50_us p90_us p99_us p999_us sat_p99_us cpu_us/page remote
	for c in floor pcmig uffd; do
		printf '%-8s %9s %9s %9s %9s %12s %12s %10s\n' "$c" \
			"$(med "$f" "$net" lat "$c" p50)" "$(med "$f" "$net" lat "$c" p90)" \
			"$(med "$f" "$net" lat "$c" p99)" "$(med "$f" "$net" lat "$c" p999)" \
			"$(med "$f" "$net" sat "$c" p99)" \
			"$(med "$f" "$net" skew "$c" cpu_us_per_page)" \
			"$(med "$f" "$net" lat "$c" remote)"
	done
	printf '%-8s' 'pages/s'
	for t in 1 2 4 8 16; do printf ' %10s' "x$t"; done
	echo
	for c in floor pcmig uffd; do
		printf '%-8s' "$c"
		for t in 1 2 4 8 16; do printf ' %10s' "$(med "$f" "$net" "tput$t" "$c" pages_per_s)"; done
		echo
	done
	printf '%-8s' 'pcmig/uffd'
	for t in 1 2 4 8 16; do
		printf ' %10s' "$(ratio "$(med "$f" "$net" "tput$t" pcmig pages_per_s)" "$(med "$f" "$net" "tput$t" uffd pages_per_s)")"
	done
	echo
	echo "pcmig/uffd p50 $(ratio "$(med "$f" "$net" lat pcmig p50)" "$(med "$f" "$net" lat uffd p50)"), pcmig/floor p50 $(ratio "$(med "$f" "$net" lat pcmig p50)" "$(med "$f" "$net" lat floor p50)"), uffd/floor p50 $(ratio "$(med "$f" "$net" lat uffd p50)" "$(med "$f" "$net" lat floor p50)"); saturated/idle p99: pcmig $(ratio "$(med "$f" "$net" sat pcmig p99)" "$(med "$f" "$net" lat pcmig p99)"), uffd $(ratio "$(med "$f" "$net" sat uffd p99)" "$(med "$f" "$net" lat uffd p99)"); uffd with two fault threads: p50 $(med "$f" "${net}2ft" lat uffd p50) us, x8 $(med "$f" "${net}2ft" tput8 uffd pages_per_s) pages/s; floor stream $(med "$f" "$net" stream stream mbps) Mbit/s"
	if grep -q "net=$net .*kind=skew" "$f"; then
		echo "whole migration ($(grep -m1 "net=$net .*kind=skew" "$f" | grep -o 'verified=[0-9]*' | cut -d= -f2) pages, 4-thread skewed workload): to the last page pcmig $(med "$f" "$net" skew pcmig migrate_s) s, uffd $(med "$f" "$net" skew uffd migrate_s) s (ratio $(ratio "$(med "$f" "$net" skew pcmig migrate_s)" "$(med "$f" "$net" skew uffd migrate_s)")); workload done pcmig $(med "$f" "$net" skew pcmig workload_s) s, uffd $(med "$f" "$net" skew uffd workload_s) s (ratio $(ratio "$(med "$f" "$net" skew pcmig workload_s)" "$(med "$f" "$net" skew uffd workload_s)")); CPU per page pcmig $(med "$f" "$net" skew pcmig cpu_us_per_page) us, uffd $(med "$f" "$net" skew uffd cpu_us_per_page) us"
	fi
	echo "remote-fault histogram (us bucket: count), pcmig: $(hist "$f" "$net" pcmig)"
	echo "remote-fault histogram (us bucket: count), uffd:  $(hist "$f" "$net" uffd)"
	echo "remote-fault histogram (us bucket: count), floor: $(hist "$f" "$net" floor)"
}

main_f=$out/smp${smps[0]}/stats.txt
[ -s "$main_f" ] || { echo "versus-report: no figures in $main_f" >&2; exit 1; }
mkdir -p "$dest"
kver=$(sed -n 's/^\[ *[0-9.]*\] Linux version \([^ ]*\).*/\1/p' "$out/smp${smps[0]}/kernel.log" | head -n 1)
json="{\"part\": \"versus\", \"env\": {\"kernel\": \"$kver\", \"vcpus\": ${smps[0]}, \"memory\": \"2G guest, $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB host\", \"emulation\": \"QEMU TCG on $(nproc) host cores\", \"date\": \"$(date -u +%FT%TZ)\"}"
json+=", $(section "$main_f" none | sed 's/^{//; s/}$//')"
table "$main_f" none "${smps[0]} vCPUs, no netem"
if grep -q 'net=netem' "$main_f"; then
	json+=", \"netem\": $(section "$main_f" netem)"
	table "$main_f" netem "${smps[0]} vCPUs, netem delay 100us"
fi
for n in "${smps[@]:1}"; do
	f=$out/smp$n/stats.txt
	[ -s "$f" ] || continue
	json+=", \"smp$n\": $(section "$f" none)"
	table "$f" none "$n vCPUs, no netem"
	if grep -q 'net=netem' "$f"; then
		json+=", \"smp${n}_netem\": $(section "$f" netem)"
		table "$f" netem "$n vCPUs, netem delay 100us"
	fi
done
json+="}"
echo "$json" > "$dest/results.json"
echo
echo "versus: results in $dest/results.json"

if command -v gnuplot > /dev/null; then
	d=$out/smp${smps[0]}
	for c in floor pcmig uffd; do
		cat "$d"/none-"$c"-r*.samples 2> /dev/null | sort -n |
			awk '{ v[NR] = $1 } END { for (i = 1; i <= NR; i++) print v[i], i / NR }' \
			> "$d/$c.cdf"
	done
	for c in floor pcmig uffd; do
		for t in 1 2 4 8 16; do
			v=$(med "$main_f" none "tput$t" "$c" pages_per_s)
			[ "$v" = null ] || echo "$t $v"
		done > "$d/$c.tput"
	done
	gnuplot <<GP
set terminal pngcairo size 1200,500
set output "$dest/latency.png"
set multiplot layout 1,2
set title "remote-fault latency, one thread (CDF)"
set xlabel "us"
set ylabel "fraction"
set logscale x
set key bottom right
plot "$d/floor.cdf" using 1:2 with lines title "floor", "$d/pcmig.cdf" using 1:2 with lines title "pcmig", "$d/uffd.cdf" using 1:2 with lines title "uffd"
unset logscale x
set title "fault throughput"
set xlabel "faulting threads"
set ylabel "pages/s"
set logscale x 2
set key top left
plot "$d/floor.tput" using 1:2 with linespoints title "floor", "$d/pcmig.tput" using 1:2 with linespoints title "pcmig", "$d/uffd.tput" using 1:2 with linespoints title "uffd"
unset multiplot
GP
	echo "versus: picture in $dest/latency.png"
else
	echo "versus: no gnuplot (make deps as root installs it): no picture"
fi
