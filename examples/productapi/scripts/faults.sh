#!/usr/bin/env bash
# Fault run of the reference service: two instances sharing one SQLite
# database and one Redis, under wrk load on loopback, while Redis is in
# turn paused, killed and restarted empty, killed and restarted from a
# snapshot, and (with a Sentinel group) failed over by killing its master.
# In each outage an admin changes a product's price on the first instance;
# from then on both instances are polled for that product, and every answer
# with the old price counts as a stale read.
#
#	examples/productapi/scripts/faults.sh
#
# Prints, per phase: requests, non-2xx responses, p99 and max latency (wrk,
# over the whole phase), the time from Redis answering again to the first
# cache hit (recovery), and stale reads on each instance.
#
# Settings (environment): PHASES (default "pause kill dump failover"),
# OUTAGE (seconds Redis is out, default 3; a failover takes the sentinels'
# own time), BEFORE, AFTER (seconds of load before and after, 3 and 4),
# CONNS (wrk connections per instance, 16), PORT (first API port, 18090;
# the second is PORT+1), REDIS_PORT (16400), SENTINEL_PORT (7401: master,
# replica and three sentinels on the four ports after it).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/../.." && pwd)
PHASES=${PHASES:-pause kill dump failover}
OUTAGE=${OUTAGE:-3}
BEFORE=${BEFORE:-3}
AFTER=${AFTER:-4}
CONNS=${CONNS:-16}
PORT=${PORT:-18090}
REDIS_PORT=${REDIS_PORT:-16400}
SENTINEL_PORT=${SENTINEL_PORT:-7401}
for cmd in wrk redis-server redis-cli curl python3; do
	command -v $cmd >/dev/null || { echo "faults.sh needs $cmd (apt-get install -y wrk redis-server curl python3)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
redis_pid=""
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -n "$redis_pid" ] && kill -9 "$redis_pid" 2>/dev/null || true
	"$repo/scripts/redis-sentinel.sh" stop "$SENTINEL_PORT" >/dev/null 2>&1 || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

echo "building" >&2
(cd "$repo" && go build -o "$work/productapi" ./examples/productapi)

start_redis() { # [keep the snapshot]
	[ "${1:-}" = keep ] || rm -f "$work/dump.rdb"
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
		--dir "$work" --dbfilename dump.rdb --logfile "$work/redis.log" --daemonize no &
	redis_pid=$!
	until redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; do sleep 0.01; done
}

start_api() { # port, then REDIS_* assignments
	local port=$1; shift
	env "$@" ADDR="127.0.0.1:$port" DATABASE_URL="sqlite:$work/catalog.db" CACHE_TTL=60s \
		JWT_SECRET=faults-secret-0123456789abcdef0123456789 ADMIN_EMAIL=admin@example.com \
		ADMIN_PASSWORD=faults-admin-password LOG_LEVEL=warn "$work/productapi" 2>>"$work/api-$port.log" &
	pids+=($!)
	until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.05; done
}

stop_apis() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}

# redis_answers waits until a client of the instances' Redis answers and
# prints when.
redis_answers() { # redis-cli arguments
	until redis-cli "$@" ping 2>/dev/null | grep -q PONG; do sleep 0.005; done
	now
}

# poll_product checks the product on one instance until the deadline,
# appending "time price x-cache" lines to a file.
poll_product() { # port asin until file
	local port=$1 asin=$2 until=$3 out=$4
	while python3 -c "import sys,time; sys.exit(0 if time.time() < $until else 1)"; do
		curl -s -D "$out.h" "http://127.0.0.1:$port/products/$asin" -o "$out.b" || true
		printf '%s %s %s\n' "$(now)" "$(json "d.get('price')" <"$out.b" 2>/dev/null || echo err)" \
			"$(tr -d '\r' <"$out.h" | awk -F': ' 'tolower($1)=="x-cache"{print $2}')" >>"$out"
		sleep 0.01
	done
}

# first_hit prints when a route served from the cache for the first time
# after t.
first_hit() { # port t
	while :; do
		if curl -s -D - -o /dev/null "http://127.0.0.1:$1/categories" | tr -d '\r' | grep -qi '^x-cache: HIT'; then
			now
			return
		fi
		sleep 0.01
	done
}

ms() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')"; }

# wrk_summary prints requests, non-2xx, p99 and max (ms) of a wrk output.
wrk_summary() {
	python3 - "$@" <<'PY'
import re, sys
def ms(v):
    n, u = re.match(r'([\d.]+)(us|ms|s|m)', v).groups()
    return float(n) * {'us': 0.001, 'ms': 1, 's': 1000, 'm': 60000}[u]
req = bad = 0; p99 = mx = 0.0
for path in sys.argv[1:]:
    t = open(path).read()
    req += int(re.search(r'(\d+) requests in', t).group(1))
    m = re.search(r'Non-2xx or 3xx responses: (\d+)', t)
    bad += int(m.group(1)) if m else 0
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', t)
    bad += sum(map(int, m.groups())) if m else 0
    p99 = max(p99, ms(re.search(r'99%\s+(\S+)', t).group(1)))
    mx = max(mx, ms(re.search(r'Latency\s+\S+\s+\S+\s+(\S+)', t).group(1)))
print(req, bad, f'{p99:.0f}', f'{mx:.0f}')
PY
}

rows=()
phase() { # name
	local name=$1 redis_args api_a api_b
	if [ "$name" = failover ]; then
		sentinels=$("$repo/scripts/redis-sentinel.sh" start "$SENTINEL_PORT")
		redis_args=(-p $((SENTINEL_PORT + 2)) sentinel get-master-addr-by-name cachefront)
		start_api "$PORT" REDIS_ADDRS="$sentinels" REDIS_MASTER_NAME=cachefront
		start_api $((PORT + 1)) REDIS_ADDRS="$sentinels" REDIS_MASTER_NAME=cachefront
	else
		start_redis
		redis_args=(-p "$REDIS_PORT")
		start_api "$PORT" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
		start_api $((PORT + 1)) REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
	fi
	local base="http://127.0.0.1:$PORT"
	token=$(curl -fs "$base/auth/login" -H 'Content-Type: application/json' \
		-d '{"email":"admin@example.com","password":"faults-admin-password"}' | json "d['access_token']")
	curl -fs "$base/products?limit=40" | json "'\n'.join('/products/'+p['asin'] for p in d['products'])" >"$work/paths"
	printf '%s\n' /categories '/products?category_id=1&sort=-stars&limit=10' '/products?limit=20' >>"$work/paths"
	asin=$(sed -n 1p "$work/paths" | cut -d/ -f3)
	old=$(curl -fs "$base/products/$asin" | json "d['price']")
	for p in "$PORT" $((PORT + 1)); do curl -fs "http://127.0.0.1:$p/products/$asin" >/dev/null; done

	local total=$((BEFORE + OUTAGE + AFTER + 8))
	FAULTS_PATHS="$work/paths" wrk -t1 -c"$CONNS" -d"${total}s" --latency -s "$here/scripts/faults.lua" "$base" >"$work/wrk-a" 2>&1 &
	local wa=$!
	FAULTS_PATHS="$work/paths" wrk -t1 -c"$CONNS" -d"${total}s" --latency -s "$here/scripts/faults.lua" "http://127.0.0.1:$((PORT + 1))" >"$work/wrk-b" 2>&1 &
	local wb=$!
	sleep "$BEFORE"

	local master_pid
	case $name in
	pause) kill -STOP "$redis_pid" ;;
	kill) kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true ;;
	dump) redis-cli -p "$REDIS_PORT" save >/dev/null; kill -9 "$redis_pid"; wait "$redis_pid" 2>/dev/null || true ;;
	failover)
		master_pid=$(redis-cli -p "$SENTINEL_PORT" info server | tr -d '\r' | awk -F: '$1=="process_id"{print $2}')
		kill -9 "$master_pid" ;;
	esac
	sleep 0.3
	local new_price status
	new_price=$(python3 -c "print(round($old + 1.23, 2))")
	body=$(curl -fs "$base/products/$asin" -H "Authorization: Bearer $token" | python3 -c "import json,sys; d=json.load(sys.stdin); d['price']=$new_price; [d.pop(k, None) for k in ('created_at', 'updated_at')]; print(json.dumps(d))")
	status=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$base/products/$asin" -H "Authorization: Bearer $token" \
		-H 'Content-Type: application/json' -d "$body")
	local written; written=$(now)
	local until; until=$(python3 -c "print($written + $OUTAGE + $AFTER + 2)")
	rm -f "$work/poll-a" "$work/poll-b"
	poll_product "$PORT" "$asin" "$until" "$work/poll-a" &
	local pa=$!
	poll_product $((PORT + 1)) "$asin" "$until" "$work/poll-b" &
	local pb=$!

	local back
	case $name in
	pause) sleep "$OUTAGE"; kill -CONT "$redis_pid"; back=$(redis_answers -p "$REDIS_PORT") ;;
	kill) sleep "$OUTAGE"; start_redis; back=$(redis_answers -p "$REDIS_PORT") ;;
	dump) sleep "$OUTAGE"; start_redis keep; back=$(redis_answers -p "$REDIS_PORT") ;;
	failover)
		until redis-cli "${redis_args[@]}" 2>/dev/null | grep -q $((SENTINEL_PORT + 1)); do sleep 0.01; done
		back=$(redis_answers -p $((SENTINEL_PORT + 1))) ;;
	esac
	local hit_a hit_b
	hit_a=$(first_hit "$PORT" "$back")
	hit_b=$(first_hit $((PORT + 1)) "$back")
	wait "$pa" "$pb" "$wa" "$wb" || true

	local stale_a stale_b
	stale_a=$(awk -v old="$old" '$2 == old' "$work/poll-a" | wc -l)
	stale_b=$(awk -v old="$old" '$2 == old' "$work/poll-b" | wc -l)
	read -r req bad p99 mx < <(wrk_summary "$work/wrk-a" "$work/wrk-b")
	local recov; recov=$(python3 -c "print(f'{(max($hit_a, $hit_b) - $back) * 1000:.0f}')")
	rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s/%s | %s/%s |' "$name" "$status" "$req" "$bad" "$p99" "$mx" \
		"$recov" "$(ms "$written" "$back")" "$stale_a" "$stale_b")")
	echo "${rows[-1]}" >&2
	stop_apis
	if [ "$name" = failover ]; then
		"$repo/scripts/redis-sentinel.sh" stop "$SENTINEL_PORT" >/dev/null 2>&1 || true
	else
		kill -9 "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; redis_pid=""
	fi
	rm -f "$work/catalog.db"*
}

for p in $PHASES; do phase "$p"; done

echo "| phase | admin PUT during the outage | requests | non-2xx | p99 ms | max ms | recovery ms / Redis out after the PUT, ms | stale reads, instance 1/2 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
