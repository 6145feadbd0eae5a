#!/usr/bin/env bash
# Measures the HTTP middleware under load: wrk on loopback against
# cmd/httpbench in each mode (fixed, oneget, cached, cached-l1), the modes
# alternating within each round so that a change of load on the machine
# falls on all of them, then prints every round's req/s, the median of each
# mode and the ratios the targets are stated in. Each target's two modes run
# one after the other (fixed and cached-l1, oneget and cached), in the
# opposite order in every other round, so that each round also gives a
# paired ratio; the median of those is printed beside the ratio of medians.
# Each round also records the server's CPU time (user and system, from
# /proc) per request served: unlike req/s, it hardly depends on how much of
# the machine wrk and other processes took meanwhile.
#
#   bench/wrk.sh                     # 3 rounds of wrk -t2 -c32 -d10s per mode
#   ROUNDS=5 bench/wrk.sh
#   OUT=results/wrk.txt bench/wrk.sh # keep the raw output somewhere else
#
# Needs wrk (apt-get install -y wrk) and a Redis at CACHEFRONT_REDIS_ADDR
# (default 127.0.0.1:6379). ROUNDS (default 3), DURATION (default 10s) and
# OUT (default bench/results/wrk-results.txt; a relative path is taken from
# bench/) are optional. Only loopback is used.
set -euo pipefail

cd "$(dirname "$0")"
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
OUT="${OUT:-results/wrk-results.txt}"
mkdir -p "$(dirname "$OUT")"
MODES=(fixed cached-l1 oneget cached)
export CACHEFRONT_REDIS_ADDR="${CACHEFRONT_REDIS_ADDR:-127.0.0.1:6379}"

command -v wrk >/dev/null || { echo "wrk.sh: wrk not found (apt-get install -y wrk)" >&2; exit 1; }

tmp="$(mktemp -d)"
server=""
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/httpbench" ./cmd/httpbench

# start_server MODE starts httpbench in MODE, sets server to its PID and
# addr to the address it printed.
start_server() {
	# Removed first: the loop below must never read the previous server's
	# address before the new one has truncated the file.
	rm -f "$tmp/addr"
	"$tmp/httpbench" -mode "$1" -addr 127.0.0.1:0 >"$tmp/addr" 2>"$tmp/server.log" &
	server=$!
	addr=""
	for _ in $(seq 100); do
		addr="$(head -n1 "$tmp/addr" 2>/dev/null || true)"
		[ -n "$addr" ] && return 0
		kill -0 "$server" 2>/dev/null || break
		sleep 0.1
	done
	echo "wrk.sh: httpbench -mode $1 did not start:" >&2
	cat "$tmp/server.log" >&2
	exit 1
}

# server_cpu prints the server's user and system CPU time, in clock ticks.
server_cpu() {
	awk '{print $14 + $15}' "/proc/$server/stat"
}

stop_server() {
	kill "$server"
	wait "$server" || true
	server=""
}

{
	echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "# $(go version)"
	echo "# $(redis-server --version 2>/dev/null || echo 'redis-server: not on PATH')"
	echo "# $(wrk --version 2>&1 | head -n1 || true)"
	echo "# cachefront $(git -C .. describe --always --dirty 2>/dev/null || echo '(not a git checkout)')"
	echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo "# per mode and round: wrk -t2 -c32 -d$DURATION http://ADDR/products/B0BTXNYW2Q"
} >"$OUT"

for round in $(seq "$ROUNDS"); do
	order=("${MODES[@]}")
	if [ $((round % 2)) -eq 0 ]; then order=(cached oneget cached-l1 fixed); fi
	for mode in "${order[@]}"; do
		start_server "$mode"
		cpu0="$(server_cpu)"
		wrk -t2 -c32 -d"$DURATION" "http://$addr/products/B0BTXNYW2Q" >"$tmp/wrk.out"
		cpu1="$(server_cpu)"
		stop_server
		if grep -q 'Non-2xx\|Socket errors' "$tmp/wrk.out"; then
			echo "wrk.sh: errors in $mode, round $round:" >&2
			cat "$tmp/wrk.out" >&2
			exit 1
		fi
		rps="$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")"
		reqs="$(awk '/ requests in / {print $1}' "$tmp/wrk.out")"
		cpu="$(awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v n="$reqs" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
		echo "round=$round mode=$mode req/s=$rps server-cpu-us/req=$cpu" | tee -a "$OUT"
	done
done
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(date -u '+%H:%M:%S UTC')" >>"$OUT"

echo
awk '
/^round=/ {
	split($1, n, "="); split($2, m, "="); split($3, r, "="); split($4, c, "=")
	v[m[2]] = v[m[2]] " " r[2]
	cpu[m[2]] = cpu[m[2]] " " c[2]
	rps[n[2], m[2]] = r[2]
	if (n[2] > rounds) rounds = n[2]
}
# paired prints the median and range of the per-round ratios a / b.
function paired(a, b,    k, s, x, lo, hi) {
	for (k = 1; k <= rounds; k++) {
		x = rps[k, a] / rps[k, b]
		s = s " " x
		if (k == 1 || x < lo) lo = x
		if (k == 1 || x > hi) hi = x
	}
	return sprintf("%.2f (%.2f–%.2f)", median(s), lo, hi)
}
function median(s,    a, n, i, j, t) {
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	split("fixed oneget cached cached-l1", modes, " ")
	print "| mode | median req/s | rounds | median server CPU µs/request | rounds |"
	print "|---|---:|---|---:|---|"
	for (i = 1; i <= 4; i++) {
		med[modes[i]] = median(v[modes[i]]); mcpu[modes[i]] = median(cpu[modes[i]])
		printf "| %s | %.0f |%s | %.2f |%s |\n", modes[i], med[modes[i]], v[modes[i]], mcpu[modes[i]], cpu[modes[i]]
	}
	print ""
	print "| ratio | of medians | per round: median (range) | target |"
	print "|---|---:|---:|---|"
	printf "| cached / oneget | %.2f | %s | a hit costs ≤ 1.1× the one-GET handler: ≥ %.2f |\n", med["cached"] / med["oneget"], paired("cached", "oneget"), 1 / 1.1
	printf "| cached-l1 / fixed | %.2f | %s | ≥ 0.9 |\n", med["cached-l1"] / med["fixed"], paired("cached-l1", "fixed")
	printf "| cached-l1 / oneget | %.2f | %s | |\n", med["cached-l1"] / med["oneget"], paired("cached-l1", "oneget")
	printf "| oneget / fixed | %.2f | %s | |\n", med["oneget"] / med["fixed"], paired("oneget", "fixed")
	print ""
	printf "Server CPU per request, ratio of medians: cached / oneget %.2f, cached-l1 / fixed %.2f.\n", mcpu["cached"] / mcpu["oneget"], mcpu["cached-l1"] / mcpu["fixed"]
}' "$OUT"
