#!/usr/bin/env bash
# Starts or stops a throwaway Redis Cluster on loopback: three masters, each
# with one replica.
#
#   scripts/redis-cluster.sh start [BASE_PORT]   # ports BASE..BASE+5 (default 7101)
#   scripts/redis-cluster.sh stop  [BASE_PORT]
#
# "start" prints the address list for CACHEFRONT_CLUSTER_ADDRS on stdout
# (masters first). REPLICAS=0 starts three masters alone.
set -euo pipefail

cmd=${1:-}
base=${2:-7101}
dir=${CLUSTER_DIR:-${TMPDIR:-/tmp}/cachefront-cluster-$base}
replicas=${REPLICAS:-1}
ports=()
for i in $(seq 0 $((3 * (1 + replicas) - 1))); do ports+=("$((base + i))"); done

addrs() {
	local out=() p
	for p in "${ports[@]}"; do out+=("127.0.0.1:$p"); done
	(IFS=,; echo "${out[*]}")
}

case "$cmd" in
start)
	command -v redis-server >/dev/null || { echo "redis-server not found" >&2; exit 1; }
	rm -rf "$dir" && mkdir -p "$dir"
	for p in "${ports[@]}"; do
		mkdir -p "$dir/$p"
		redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
			--cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout 2000 \
			--save "" --appendonly no --dir "$dir/$p" --daemonize yes \
			--pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" >/dev/null
	done
	for p in "${ports[@]}"; do
		for _ in $(seq 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
	done
	hosts=()
	for p in "${ports[@]}"; do hosts+=("127.0.0.1:$p"); done
	redis-cli --cluster create "${hosts[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1 ||
		{ cat "$dir/create.log" >&2; exit 1; }
	for _ in $(seq 100); do
		ok=1
		for p in "${ports[@]}"; do
			redis-cli -p "$p" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
			if redis-cli -p "$p" info replication 2>/dev/null | grep -q 'role:slave'; then
				redis-cli -p "$p" info replication | grep -q 'master_link_status:up' || ok=0
			fi
		done
		[ "$ok" = 1 ] && break
		sleep 0.1
	done
	[ "$ok" = 1 ] || { echo "cluster did not reach cluster_state:ok" >&2; exit 1; }
	addrs
	;;
stop)
	for p in "${ports[@]}"; do
		redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
	done
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop [BASE_PORT]" >&2
	exit 2
	;;
esac
