#!/usr/bin/env bash
# Starts or stops a throwaway Sentinel group on loopback: a master, one
# replica and three sentinels watching them under the name "cachefront".
#
#   scripts/redis-sentinel.sh start [BASE_PORT]   # master BASE, replica BASE+1,
#                                                 # sentinels BASE+2..BASE+4 (default 7201)
#   scripts/redis-sentinel.sh stop  [BASE_PORT]
#
# "start" prints the sentinel address list for CACHEFRONT_SENTINEL_ADDRS on
# stdout; the master name (CACHEFRONT_SENTINEL_MASTER) is "cachefront".
# Sentinels declare the master down after 5s without an answer, so the
# short pauses tests inject never cause a failover; tests that want one
# kill the master.
set -euo pipefail

cmd=${1:-}
base=${2:-7201}
dir=${SENTINEL_DIR:-${TMPDIR:-/tmp}/cachefront-sentinel-$base}
master=$base
replica=$((base + 1))
sentinels=("$((base + 2))" "$((base + 3))" "$((base + 4))")
name=cachefront

wait_ping() {
	for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "port $1 did not answer" >&2
	return 1
}

case "$cmd" in
start)
	command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 1; }
	"$0" stop "$base" >/dev/null 2>&1 || true
	mkdir -p "$dir"
	for p in "$master" "$replica"; do
		mkdir -p "$dir/$p"
		args=(--port "$p" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/$p" --daemonize yes
			--pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log")
		[ "$p" = "$replica" ] && args+=(--replicaof 127.0.0.1 "$master")
		redis-server "${args[@]}" >/dev/null
		wait_ping "$p"
	done
	for _ in $(seq 100); do
		redis-cli -p "$replica" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
		sleep 0.1
	done
	for p in "${sentinels[@]}"; do
		mkdir -p "$dir/$p"
		cat >"$dir/$p/sentinel.conf" <<CONF
port $p
bind 127.0.0.1
daemonize yes
pidfile $dir/$p/sentinel.pid
logfile $dir/$p/sentinel.log
dir $dir/$p
sentinel monitor $name 127.0.0.1 $master 2
sentinel down-after-milliseconds $name 5000
sentinel failover-timeout $name 10000
sentinel parallel-syncs $name 1
CONF
		redis-server "$dir/$p/sentinel.conf" --sentinel >/dev/null
		wait_ping "$p"
	done
	# Every sentinel knows the master, its replica and the other sentinels.
	for _ in $(seq 150); do
		ok=1
		for p in "${sentinels[@]}"; do
			info=$(redis-cli -p "$p" sentinel master "$name" 2>/dev/null | tr '\n' ' ')
			echo "$info" | grep -q 'num-slaves 1' || ok=0
			echo "$info" | grep -q 'num-other-sentinels 2' || ok=0
		done
		[ "$ok" = 1 ] && break
		sleep 0.2
	done
	[ "$ok" = 1 ] || { echo "the sentinels did not find each other" >&2; exit 1; }
	out=()
	for p in "${sentinels[@]}"; do out+=("127.0.0.1:$p"); done
	(IFS=,; echo "${out[*]}")
	;;
stop)
	for p in "${sentinels[@]}" "$replica" "$master"; do
		redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
	done
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop [BASE_PORT]" >&2
	exit 2
	;;
esac
