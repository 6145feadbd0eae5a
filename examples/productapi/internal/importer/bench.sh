#!/usr/bin/env bash
# Benchmark of the product importer against the databases' own CSV loaders.
#
# Generates ROWS products (default 1.4 million, the size of the Kaggle
# "Amazon Products Dataset 2023") and imports them, into the schema of the
# product API's migrations:
#
#   1. SQLite, with the importer (full validation, upsert, change detection);
#   2. SQLite, with the sqlite3 shell: .import into a plain staging table,
#      then INSERT … SELECT into products (the shell cannot fill created_at
#      and updated_at on its own);
#   3. PostgreSQL, with the importer (COPY into staging, then one merge per
#      transaction);
#   4. PostgreSQL, with psql \copy straight into products (created_at and
#      updated_at given a DEFAULT now() for the occasion);
#   5. and 6. the importer again on the same SQLite and PostgreSQL databases:
#      a re-import, which must report every row as unchanged.
#
# Prints wall time, peak RSS of the client process and the ratios as a
# Markdown table. Usage, from anywhere:
#
#   examples/productapi/internal/importer/bench.sh
#
# Environment: ROWS (1400000), SEED (1), WORK (a fresh temporary directory,
# removed afterwards unless KEEP=1), PG_URL
# (postgres://root@127.0.0.1:5432/test?sslmode=disable). The PostgreSQL
# schemas it creates are dropped at the end.
set -euo pipefail

ROWS=${ROWS:-1400000}
SEED=${SEED:-1}
PG_URL=${PG_URL:-postgres://root@127.0.0.1:5432/test?sslmode=disable}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
APP=$(cd "$HERE/../.." && pwd) # examples/productapi
WORK=${WORK:-$(mktemp -d /tmp/productapi-bench.XXXXXX)}
SUFFIX=$$
OURS_SCHEMA=importer_bench_ours_$SUFFIX
COPY_SCHEMA=importer_bench_copy_$SUFFIX

if ! command -v sqlite3 >/dev/null; then
	apt-get install -y sqlite3 >/dev/null || { apt-get update >/dev/null && apt-get install -y sqlite3 >/dev/null; }
fi
command -v psql >/dev/null || { echo "psql is required" >&2; exit 1; }
[ -x /usr/bin/time ] || { apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }; }

# calc EXPR DECIMALS: floating-point arithmetic.
calc() { awk "BEGIN { printf \"%.$2f\", $1 }"; }

psqlq() { psql "$PG_URL" -v ON_ERROR_STOP=1 -q -X "$@"; }

cleanup() {
	psqlq -c "DROP SCHEMA IF EXISTS $OURS_SCHEMA CASCADE; DROP SCHEMA IF EXISTS $COPY_SCHEMA CASCADE" >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

mkdir -p "$WORK"
echo "# building" >&2
(cd "$APP" && go build -o "$WORK/benchcmd" ./internal/importer/benchcmd)
echo "# generating $ROWS rows (seed $SEED) in $WORK" >&2
"$WORK/benchcmd" -gen -rows "$ROWS" -seed "$SEED" -dir "$WORK" >&2
SIZE=$(stat -c %s "$WORK/amazon_products.csv")

SQLITE_SCHEMA=$APP/internal/db/migrations/sqlite/0001_init.sql
PG_SCHEMA=$APP/internal/db/migrations/postgres/0001_init.sql

# timed NAME CMD…: runs CMD, records wall seconds and peak RSS (MiB) of the
# process tree's largest process as $NAME_s and $NAME_rss.
timed() {
	local name=$1
	shift
	echo "# $name: $*" >&2
	/usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		cat "$WORK/$name.err" >&2
		exit 1
	}
	read -r secs kib <"$WORK/$name.time"
	printf -v "${name}_s" '%s' "$secs"
	printf -v "${name}_rss" '%s' "$(calc "$kib / 1024" 0)"
	grep -E 'rows in|peak' "$WORK/$name.out" >&2 || true
}

# SQLite: the product API opens its database in WAL mode with
# synchronous=NORMAL; both loaders get the same settings.
sqlite3 "$WORK/ours.db" <"$SQLITE_SCHEMA"
sqlite3 "$WORK/shell.db" <"$SQLITE_SCHEMA"
cat >"$WORK/shell.sql" <<'EOF'
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TEMP TABLE categories_csv (id TEXT, category_name TEXT);
CREATE TEMP TABLE products_csv (asin TEXT, title TEXT, imgUrl TEXT, productURL TEXT, stars TEXT,
  reviews TEXT, price TEXT, listPrice TEXT, category_id TEXT, isBestSeller TEXT, boughtInLastMonth TEXT);
.import --csv --skip 1 amazon_categories.csv categories_csv
.import --csv --skip 1 amazon_products.csv products_csv
BEGIN;
INSERT INTO categories SELECT id, category_name, strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ') FROM categories_csv;
INSERT INTO products SELECT asin, title, imgUrl, productURL, stars, reviews, price, listPrice, category_id,
  isBestSeller = 'True', boughtInLastMonth, strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ') FROM products_csv;
COMMIT;
SELECT count(*) FROM products;
EOF

psqlq -c "CREATE SCHEMA $OURS_SCHEMA; CREATE SCHEMA $COPY_SCHEMA"
PGOPTIONS="-c search_path=$OURS_SCHEMA" psqlq -f "$PG_SCHEMA"
PGOPTIONS="-c search_path=$COPY_SCHEMA" psqlq -f "$PG_SCHEMA"
PGOPTIONS="-c search_path=$COPY_SCHEMA" psqlq -c "
ALTER TABLE categories ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now();
ALTER TABLE products ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now();"
sep='&'
case $PG_URL in *\?*) ;; *) sep='?' ;; esac
OURS_URL="$PG_URL${sep}search_path=$OURS_SCHEMA"

cd "$WORK"
timed sqlite_ours ./benchcmd -db "sqlite:$WORK/ours.db" -dir "$WORK"
timed sqlite_shell sh -c 'sqlite3 -batch -init /dev/null "$1" <"$2"' sh "$WORK/shell.db" "$WORK/shell.sql"
timed pg_ours ./benchcmd -db "$OURS_URL" -dir "$WORK"
timed pg_copy env PGOPTIONS="-c search_path=$COPY_SCHEMA" psql "$PG_URL" -v ON_ERROR_STOP=1 -q -X \
	-c '\copy categories (id, name) FROM amazon_categories.csv (FORMAT csv, HEADER)' \
	-c '\copy products (asin, title, img_url, product_url, stars, reviews, price, list_price, category_id, is_best_seller, bought_in_last_month) FROM amazon_products.csv (FORMAT csv, HEADER, FORCE_NOT_NULL (title, img_url, product_url))'
timed sqlite_reimport ./benchcmd -db "sqlite:$WORK/ours.db" -dir "$WORK"
timed pg_reimport ./benchcmd -db "$OURS_URL" -dir "$WORK"

# Every loader must have stored every row.
n_sqlite_ours=$(sqlite3 "$WORK/ours.db" 'SELECT count(*) FROM products')
n_sqlite_shell=$(sqlite3 "$WORK/shell.db" 'SELECT count(*) FROM products')
n_pg_ours=$(psqlq -Atc "SELECT count(*) FROM $OURS_SCHEMA.products")
n_pg_copy=$(psqlq -Atc "SELECT count(*) FROM $COPY_SCHEMA.products")
for n in "$n_sqlite_ours" "$n_sqlite_shell" "$n_pg_ours" "$n_pg_copy"; do
	[ "$n" = "$ROWS" ] || { echo "a loader stored $n rows, want $ROWS" >&2; exit 1; }
done
grep -q "0 inserted, 0 updated, $ROWS unchanged, 0 failed" "$WORK/sqlite_reimport.out" || { echo "SQLite re-import changed rows" >&2; exit 1; }
grep -q "0 inserted, 0 updated, $ROWS unchanged, 0 failed" "$WORK/pg_reimport.out" || { echo "PostgreSQL re-import changed rows" >&2; exit 1; }

ratio() { calc "$1 / $2" 2; }
cat <<EOF
$ROWS rows, $(calc "$SIZE / 1000000" 0) MB of CSV, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)

| run | wall time (s) | rows/s | peak RSS of the client (MiB) | vs. the database's own loader |
|---|---:|---:|---:|---:|
| SQLite, importer | $sqlite_ours_s | $(calc "$ROWS / $sqlite_ours_s" 0) | $sqlite_ours_rss | $(ratio "$sqlite_ours_s" "$sqlite_shell_s")× |
| SQLite, sqlite3 .import + INSERT … SELECT | $sqlite_shell_s | $(calc "$ROWS / $sqlite_shell_s" 0) | $sqlite_shell_rss | 1.00× |
| PostgreSQL, importer | $pg_ours_s | $(calc "$ROWS / $pg_ours_s" 0) | $pg_ours_rss | $(ratio "$pg_ours_s" "$pg_copy_s")× |
| PostgreSQL, psql \\copy | $pg_copy_s | $(calc "$ROWS / $pg_copy_s" 0) | $pg_copy_rss | 1.00× |
| SQLite, importer, re-import (all unchanged) | $sqlite_reimport_s | $(calc "$ROWS / $sqlite_reimport_s" 0) | $sqlite_reimport_rss | |
| PostgreSQL, importer, re-import (all unchanged) | $pg_reimport_s | $(calc "$ROWS / $pg_reimport_s" 0) | $pg_reimport_rss | |
EOF
