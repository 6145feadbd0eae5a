#!/bin/sh
# Remakes deploy/dashboard.png from a real run: starts a Redis, productapi
# (the bundled sample on a fresh SQLite file) and a Prometheus scraping it
# every 5s with the alerting rules of deploy/prometheus/alerts.yml, drives
# traffic with wrk and admin writes with curl, stops Redis for OUTAGE
# seconds in the middle, then draws the Grafana dashboard's panels from
# Prometheus (render-dashboard.go) and screenshots them with headless
# Chromium. Grafana is not needed.
#
#	examples/productapi/deploy/render-dashboard.sh
#	PROM_URL=http://localhost:9090 RANGE=3600 examples/productapi/deploy/render-dashboard.sh   # no run: draw what a Prometheus holds
#	TSDB=/tmp/run examples/productapi/deploy/render-dashboard.sh   # keep the run's Prometheus data in /tmp/run
#
# With PROM_URL, START and END (Unix seconds) draw a past window instead of
# the last RANGE seconds, RATE_INTERVAL (1m) and STEP (15s) set the
# resolution, NOTE replaces the line under the title; a run prints its
# window and these for a redraw.
#
# Needs go, prometheus, wrk, chromium, curl, jq and redis-server
# (Debian: apt-get install prometheus wrk chromium curl jq redis-server).
# Variables: DURATION (seconds of traffic, 360), OUTAGE_AT (seconds in, 150),
# OUTAGE (seconds, 75), API_PORT (18080), PROM_PORT (19090), REDIS_PORT
# (16390), OUT (deploy/dashboard.png), TSDB (where Prometheus keeps the
# run's data; a temporary directory, removed at the end).
set -eu
cd "$(dirname "$0")/.."
deploy=$PWD/deploy

DURATION=${DURATION:-360}
OUTAGE_AT=${OUTAGE_AT:-150}
OUTAGE=${OUTAGE:-75}
API_PORT=${API_PORT:-18080}
PROM_PORT=${PROM_PORT:-19090}
REDIS_PORT=${REDIS_PORT:-16390}
OUT=${OUT:-$deploy/dashboard.png}

tmp=$(mktemp -d)
pids=""
cleanup() {
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_http URL: poll until URL answers 200, for 30s at most.
wait_http() {
	i=0
	until curl -fs -o /dev/null "$1"; do
		i=$((i + 1))
		if [ "$i" -gt 300 ]; then
			echo "render-dashboard.sh: $1 did not answer" >&2
			exit 1
		fi
		sleep 0.1
	done
}

start_redis() {
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >>"$tmp/redis.log" 2>&1 &
	redis_pid=$!
	pids="$pids $redis_pid"
}

if [ -n "${PROM_URL:-}" ]; then
	end=${END:-$(date +%s)}
	start=${START:-$((end - ${RANGE:-3600}))}
	rate=${RATE_INTERVAL:-1m}
	step=${STEP:-15s}
	note=${NOTE:-from $PROM_URL}
else
	PROM_URL=http://127.0.0.1:$PROM_PORT
	rate=20s
	step=5s
	api=http://127.0.0.1:$API_PORT

	start_redis
	go build -o "$tmp/productapi" .
	ADDR=127.0.0.1:$API_PORT DATABASE_URL=sqlite:$tmp/productapi.db REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 \
		ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD=render-dashboard-password CACHE_TTL=20s LOG_LEVEL=warn \
		"$tmp/productapi" >"$tmp/api.log" 2>&1 &
	pids="$pids $!"
	wait_http "$api/healthz"

	cat >"$tmp/prometheus.yml" <<-CONF
		global:
		  scrape_interval: 5s
		  evaluation_interval: 5s
		rule_files:
		  - $deploy/prometheus/alerts.yml
		scrape_configs:
		  - job_name: productapi
		    static_configs:
		      - targets: ["127.0.0.1:$API_PORT"]
	CONF
	prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="${TSDB:-$tmp/prometheus}" \
		--web.listen-address=127.0.0.1:$PROM_PORT --log.level=warn >"$tmp/prometheus.log" 2>&1 &
	pids="$pids $!"
	wait_http "$PROM_URL/-/ready"

	# What the clients read: every product page, every category's list,
	# a few other lists, and some products that do not exist.
	asins=$(tail -n +2 data/sample/amazon_products.csv | cut -d, -f1)
	{
		for a in $asins; do echo "/products/$a"; done
		for c in $(seq 1 30); do echo "/products?category_id=$c"; done
		echo "/categories"
		echo "/products?sort=-stars&limit=10"
		echo "/products?best_seller=true"
		for n in 1 2 3 4 5; do echo "/products/B0MISSING0$n"; done
	} >"$tmp/paths.txt"

	token=$(curl -fs "$api/auth/login" -H 'Content-Type: application/json' \
		-d '{"email":"admin@example.com","password":"render-dashboard-password"}' | jq -r .access_token)

	start=$(date +%s)
	wrk -t2 -c8 -d"${DURATION}s" -s "$deploy/load.lua" "$api" -- "$tmp/paths.txt" >"$tmp/wrk.log" 2>&1 &
	pids="$pids $!"

	# An admin edits a product every 3s: each write invalidates its
	# product and category tags.
	(
		while :; do
			a=$(echo "$asins" | shuf -n 1)
			curl -fs "$api/products/$a" |
				jq '{title, img_url, product_url, stars, reviews, price: (.price + 0.01), list_price, category_id, is_best_seller, bought_in_last_month}' |
				curl -s -o /dev/null -X PUT "$api/products/$a" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @- || true
			sleep 3
		done
	) &
	pids="$pids $!"

	sleep "$OUTAGE_AT"
	echo "render-dashboard.sh: stopping Redis for ${OUTAGE}s" >&2
	kill "$redis_pid"
	sleep "$OUTAGE"
	start_redis
	# The last scrapes land after wrk stops; the picture ends with wrk, so
	# that the stats on top show the load and not its end.
	sleep $((DURATION - OUTAGE_AT - OUTAGE + 10))
	end=$((start + DURATION))
	note="a local run: wrk on $api, an admin write every 3s, Redis stopped for ${OUTAGE}s"
	echo "render-dashboard.sh: to redraw: START=$start END=$end RATE_INTERVAL=$rate STEP=$step PROM_URL=..." >&2
fi

height=$(go run "$deploy/render-dashboard.go" -prom "$PROM_URL" -dashboard "$deploy/grafana/dashboards/productapi.json" \
	-start "$start" -end "$end" -step "$step" -rate-interval "$rate" -note "$note" -out "$tmp/dashboard.html")
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
	--disable-sync --no-first-run --hide-scrollbars --user-data-dir="$tmp/chromium" \
	--window-size=1600,"$height" --screenshot="$OUT" "file://$tmp/dashboard.html" >"$tmp/chromium.log" 2>&1
echo "render-dashboard.sh: wrote $OUT" >&2
