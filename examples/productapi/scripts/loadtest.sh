#!/usr/bin/env bash
# Load test: the same product list query served from the cache and with
# the cache bypassed (?nocache=true), with wrk on loopback against a large
# generated catalogue.
#
#	examples/productapi/scripts/loadtest.sh
#
# Settings (environment): ROWS (products generated, default 500000),
# DATABASE (sqlite or postgres, default sqlite; postgres needs DATABASE_URL),
# REDIS_URL (default: the embedded development server), PORT (default
# 18089, loopback only), THREADS, CONNS, DURATION (wrk: 2, 32, 15s), QUERY
# (default a category page sorted by reviews).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${ROWS:-500000}
PORT=${PORT:-18089}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
DURATION=${DURATION:-15s}
QUERY=${QUERY:-/products?category_id=7&sort=-reviews&limit=20}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 1; }

work=$(mktemp -d)
server=""
cleanup() {
	if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

export DATABASE_URL=${DATABASE_URL:-sqlite:$work/load.db}
export LOAD_SAMPLE_DATA=false LOG_LEVEL=warn ADDR=127.0.0.1:$PORT CACHE_TTL=${CACHE_TTL:-5m}
export CACHE_NAMESPACE=loadtest-$$
# ?nocache=true is honoured for admins only: the runs carry an admin token.
export ADMIN_EMAIL=loadtest@example.com ADMIN_PASSWORD=loadtest-password JWT_SECRET=loadtest-secret-0123456789abcdef0123456789

echo "== building"
(cd "$here" && go build -o "$work/productapi" .)
echo "== generating $ROWS products"
"$work/productapi" gen --rows "$ROWS" --out "$work/data"
echo "== importing into $(echo "$DATABASE_URL" | sed 's|//[^@]*@|//…@|')"
"$work/productapi" import --categories "$work/data/amazon_categories.csv" --products "$work/data/amazon_products.csv" | tail -n 1

echo "== starting the server on $ADDR"
"$work/productapi" serve 2>"$work/server.log" &
server=$!
for _ in $(seq 1 100); do
	if curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1; then break; fi
	sleep 0.1
done
curl -fsS "http://$ADDR/readyz" >/dev/null

token=$(curl -fsS -XPOST "http://$ADDR/auth/login" -H "Content-Type: application/json" -d "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
auth="Authorization: Bearer $token"

url="http://$ADDR$QUERY"
sep='?'; case "$QUERY" in *\?*) sep='&';; esac
curl -fsS -H "$auth" -o /dev/null -D - "$url" | grep -i '^x-cache' || true
echo "== one uncached request:"
curl -fsS -H "$auth" -o /dev/null -w '   %{time_total}s, %{size_download} bytes\n' "$url${sep}nocache=true"

run() {
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --timeout 30s --latency -H "$auth" "$1" | tee "$work/wrk.out" >&2
	awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out"
}
echo "== cached: wrk -t$THREADS -c$CONNS -d$DURATION $url"
cached=$(run "$url")
echo "== bypassing the cache: wrk -t$THREADS -c$CONNS -d$DURATION $url${sep}nocache=true"
uncached=$(run "$url${sep}nocache=true")

echo
printf 'rows=%s query=%s\n' "$ROWS" "$QUERY"
printf 'cached:   %10.1f req/s\n' "$cached"
printf 'uncached: %10.1f req/s\n' "$uncached"
awk -v a="$cached" -v b="$uncached" 'BEGIN { printf "ratio:    %10.1fx\n", a / b }'
