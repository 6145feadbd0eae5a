#!/usr/bin/env bash
# Runs the benchmark suite against the Redis at CACHEFRONT_REDIS_ADDR
# (default 127.0.0.1:6379) and prints the benchstat table and the ratios of
# the cachefront targets, each against a floor measured in the same run.
#
#   bench/run.sh                      # -count=10, -benchtime=1s, every benchmark
#   COUNT=5 BENCH='Get|Set' bench/run.sh
#   OUT=results/mine.txt bench/run.sh # keep the raw output somewhere else
#
# COUNT (default 10), BENCHTIME (default 1s), BENCH (a -bench regexp, default
# .) and OUT (the raw `go test` output, default bench/results/results.txt;
# a relative path is taken from bench/) are optional. benchstat is installed
# into GOBIN when it is missing.
set -euo pipefail

cd "$(dirname "$0")"
COUNT="${COUNT:-10}"
BENCHTIME="${BENCHTIME:-1s}"
BENCH="${BENCH:-.}"
OUT="${OUT:-results/results.txt}"
mkdir -p "$(dirname "$OUT")"
export CACHEFRONT_REDIS_ADDR="${CACHEFRONT_REDIS_ADDR:-127.0.0.1:6379}"

BENCHSTAT="$(command -v benchstat || true)"
if [ -z "$BENCHSTAT" ]; then
	GOBIN="$(go env GOPATH)/bin"
	BENCHSTAT="$GOBIN/benchstat"
	[ -x "$BENCHSTAT" ] || go install golang.org/x/perf/cmd/benchstat@latest
fi

{
	echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "# $(go version)"
	echo "# $(redis-server --version 2>/dev/null || echo 'redis-server: not on PATH')"
	echo "# cachefront $(git -C .. describe --always --dirty 2>/dev/null || echo '(not a git checkout)')"
	echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo "# go test -run '^\$' -bench '$BENCH' -benchtime=$BENCHTIME -count=$COUNT ."
} >"$OUT"

# The test binary is built once and run with the library as checked out
# beside this directory (the replace directive in go.mod).
go test -run '^$' -bench "$BENCH" -benchtime="$BENCHTIME" -count="$COUNT" . | tee -a "$OUT"
echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) at the end, $(date -u '+%H:%M:%S UTC')" >>"$OUT"

echo
echo "## benchstat"
"$BENCHSTAT" "$OUT"
echo
echo "## medians and ratios"
go run ./ratios "$OUT"
