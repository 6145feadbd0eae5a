#!/usr/bin/env bash
# Benchmark of the product importer against the databases' own CSV loaders.
#
# Generates ROWS products (default 1.4 million, the size of the Kaggle
# "Amazon Products Dataset 2023") and imports them, into the schema of the
# product API's migrations, ROUNDS times (default 3), each time into fresh
# databases:
#
#   1. SQLite, with the importer (full validation, upsert, change detection);
#   2. SQLite, with the sqlite3 shell: .import into a plain staging table,
#      then INSERT … SELECT into products (the shell cannot fill created_at
#      and updated_at on its own) — the reference of the target;
#   3. SQLite, with the sqlite3 shell as in 2, but dropping products'
#      secondary indexes before the INSERT … SELECT and creating them after
#      it, in the same transaction (what the importer does on an empty
#      table): for information;
#   4. PostgreSQL, with the importer (COPY into staging, then one merge per
#      transaction);
#   5. PostgreSQL, with psql \copy straight into products (created_at and
#      updated_at given a DEFAULT now() for the occasion);
#
# the order of the importer and its reference alternating from one round to
# the next; then, once, 6. and 7.: the importer again on the last round's
# SQLite and PostgreSQL databases, a re-import, which must report every row
# as unchanged.
#
# Prints the median wall time, the largest peak RSS of the client process
# and the ratios of the medians as a Markdown table, then every round's
# times. Usage, from anywhere:
#
#   examples/productapi/internal/importer/bench.sh
#
# Environment: ROWS (1400000), ROUNDS (3), SEED (1), PG (1; 0 skips
# PostgreSQL), WORK (a fresh temporary directory, removed afterwards unless
# KEEP=1), PG_URL (postgres://root@127.0.0.1:5432/test?sslmode=disable). The
# PostgreSQL schemas it creates are dropped at the end.
set -euo pipefail

ROWS=${ROWS:-1400000}
ROUNDS=${ROUNDS:-3}
SEED=${SEED:-1}
PG=${PG:-1}
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
[ "$PG" = 0 ] || command -v psql >/dev/null || { echo "psql is required (or PG=0)" >&2; exit 1; }
[ -x /usr/bin/time ] || { apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }; }

# calc EXPR DECIMALS: floating-point arithmetic.
calc() { awk "BEGIN { printf \"%.$2f\", $1 }"; }

# median N…: the median of the numbers.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# largest N…: the largest of the numbers.
largest() { printf '%s\n' "$@" | sort -g | tail -1; }

psqlq() { psql "$PG_URL" -v ON_ERROR_STOP=1 -q -X "$@"; }

dropschemas() {
	psqlq -c "DROP SCHEMA IF EXISTS $OURS_SCHEMA CASCADE; DROP SCHEMA IF EXISTS $COPY_SCHEMA CASCADE" >/dev/null 2>&1 || true
}

cleanup() {
	[ "$PG" = 0 ] || dropschemas
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

# timed NAME CMD…: runs CMD, appends its wall seconds and peak RSS (MiB) to
# the arrays NAME_s and NAME_rss.
timed() {
	local name=$1 secs kib
	shift
	echo "# $name: $*" >&2
	/usr/bin/time -f '%e %M' -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || {
		cat "$WORK/$name.err" >&2
		exit 1
	}
	read -r secs kib <"$WORK/$name.time"
	eval "${name}_s+=($secs)"
	eval "${name}_rss+=($(calc "$kib / 1024" 0))"
	echo "#   $secs s, $(calc "$kib / 1024" 0) MiB" >&2
	grep -E 'rows in|peak' "$WORK/$name.out" >&2 || true
}

# shell_load [drop]: the sqlite3 shell's script. The product API opens its
# database in WAL mode with synchronous=NORMAL; every loader gets the same
# settings. With drop, products' secondary indexes are dropped before the
# INSERT … SELECT and created after it, in its transaction.
shell_load() {
	cat <<'EOF'
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TEMP TABLE categories_csv (id TEXT, category_name TEXT);
CREATE TEMP TABLE products_csv (asin TEXT, title TEXT, imgUrl TEXT, productURL TEXT, stars TEXT,
  reviews TEXT, price TEXT, listPrice TEXT, category_id TEXT, isBestSeller TEXT, boughtInLastMonth TEXT);
.import --csv --skip 1 amazon_categories.csv categories_csv
.import --csv --skip 1 amazon_products.csv products_csv
BEGIN;
EOF
	if [ "${1:-}" = drop ]; then
		sed -n 's/^CREATE INDEX \([a-z_]*\) ON products .*/DROP INDEX \1;/p' "$SQLITE_SCHEMA"
	fi
	cat <<'EOF'
INSERT INTO categories SELECT id, category_name, strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ') FROM categories_csv;
INSERT INTO products SELECT asin, title, imgUrl, productURL, stars, reviews, price, listPrice, category_id,
  isBestSeller = 'True', boughtInLastMonth, strftime('%Y-%m-%dT%H:%M:%fZ'), strftime('%Y-%m-%dT%H:%M:%fZ') FROM products_csv;
EOF
	if [ "${1:-}" = drop ]; then
		grep '^CREATE INDEX [a-z_]* ON products ' "$SQLITE_SCHEMA"
	fi
	echo 'COMMIT;'
}
shell_load >"$WORK/shell.sql"
shell_load drop >"$WORK/shell_idx.sql"
[ "$(grep -c '^DROP INDEX' "$WORK/shell_idx.sql")" = 7 ] || { echo "expected 7 indexes on products in $SQLITE_SCHEMA" >&2; exit 1; }

sep='&'
case $PG_URL in *\?*) ;; *) sep='?' ;; esac
OURS_URL="$PG_URL${sep}search_path=$OURS_SCHEMA"

sqlite_ours() { timed sqlite_ours ./benchcmd -db "sqlite:$WORK/ours.db" -dir "$WORK"; }
sqlite_shell() { timed sqlite_shell sh -c 'sqlite3 -batch -init /dev/null "$1" <"$2"' sh "$WORK/shell.db" "$WORK/shell.sql"; }
sqlite_shell_idx() { timed sqlite_shell_idx sh -c 'sqlite3 -batch -init /dev/null "$1" <"$2"' sh "$WORK/shell_idx.db" "$WORK/shell_idx.sql"; }
pg_ours() { timed pg_ours ./benchcmd -db "$OURS_URL" -dir "$WORK"; }
pg_copy() {
	timed pg_copy env PGOPTIONS="-c search_path=$COPY_SCHEMA" psql "$PG_URL" -v ON_ERROR_STOP=1 -q -X \
		-c '\copy categories (id, name) FROM amazon_categories.csv (FORMAT csv, HEADER)' \
		-c '\copy products (asin, title, img_url, product_url, stars, reviews, price, list_price, category_id, is_best_seller, bought_in_last_month) FROM amazon_products.csv (FORMAT csv, HEADER, FORCE_NOT_NULL (title, img_url, product_url))'
}

# check_count DB: every loader must have stored every row (DB is a SQLite
# file or pg:SCHEMA).
check_count() {
	local n
	case $1 in
	pg:*) n=$(psqlq -Atc "SELECT count(*) FROM ${1#pg:}.products") ;;
	*) n=$(sqlite3 "$1" 'SELECT count(*) FROM products') ;;
	esac
	[ "$n" = "$ROWS" ] || { echo "a loader stored $n rows in $1, want $ROWS" >&2; exit 1; }
}

# check_indexes DB: a SQLite database has products' primary key and seven
# secondary indexes.
check_indexes() {
	[ "$(sqlite3 "$1" "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'products'")" = 8 ] ||
		{ echo "$1 lacks indexes on products" >&2; exit 1; }
}

cd "$WORK"
for round in $(seq "$ROUNDS"); do
	echo "# round $round of $ROUNDS" >&2
	rm -f "$WORK"/ours.db* "$WORK"/shell.db* "$WORK"/shell_idx.db*
	for db in ours shell shell_idx; do sqlite3 "$WORK/$db.db" <"$SQLITE_SCHEMA"; done
	if [ $((round % 2)) = 1 ]; then
		sqlite_ours
		sqlite_shell
		sqlite_shell_idx
	else
		sqlite_shell_idx
		sqlite_shell
		sqlite_ours
	fi
	for db in ours shell shell_idx; do
		check_count "$WORK/$db.db"
		check_indexes "$WORK/$db.db"
	done
	[ "$PG" = 0 ] && continue
	dropschemas
	psqlq -c "CREATE SCHEMA $OURS_SCHEMA; CREATE SCHEMA $COPY_SCHEMA"
	PGOPTIONS="-c search_path=$OURS_SCHEMA" psqlq -f "$PG_SCHEMA"
	PGOPTIONS="-c search_path=$COPY_SCHEMA" psqlq -f "$PG_SCHEMA"
	PGOPTIONS="-c search_path=$COPY_SCHEMA" psqlq -c "
ALTER TABLE categories ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now();
ALTER TABLE products ALTER created_at SET DEFAULT now(), ALTER updated_at SET DEFAULT now();"
	if [ $((round % 2)) = 1 ]; then
		pg_ours
		pg_copy
	else
		pg_copy
		pg_ours
	fi
	check_count "pg:$OURS_SCHEMA"
	check_count "pg:$COPY_SCHEMA"
done

timed sqlite_reimport ./benchcmd -db "sqlite:$WORK/ours.db" -dir "$WORK"
grep -q "0 inserted, 0 updated, $ROWS unchanged, 0 failed" "$WORK/sqlite_reimport.out" || { echo "SQLite re-import changed rows" >&2; exit 1; }
if [ "$PG" != 0 ]; then
	timed pg_reimport ./benchcmd -db "$OURS_URL" -dir "$WORK"
	grep -q "0 inserted, 0 updated, $ROWS unchanged, 0 failed" "$WORK/pg_reimport.out" || { echo "PostgreSQL re-import changed rows" >&2; exit 1; }
fi

# row NAME LABEL [REFERENCE]: a table row with NAME's median time, rows/s,
# largest peak RSS and the ratio of its median to REFERENCE's.
row() {
	local -n s=${1}_s rss=${1}_rss
	local m ratio=''
	m=$(median "${s[@]}")
	if [ -n "${3:-}" ]; then
		local -n ref=${3}_s
		ratio="$(calc "$m / $(median "${ref[@]}")" 2)×"
	fi
	echo "| $2 | $m | $(calc "$ROWS / $m" 0) | $(largest "${rss[@]}") | $ratio |"
}

# ratios NAME REFERENCE: NAME's time over REFERENCE's, round by round.
ratios() {
	local -n a=${1}_s b=${2}_s
	local i
	for i in "${!a[@]}"; do printf '%s ' "$(calc "${a[$i]} / ${b[$i]}" 2)"; done
}

echo "$ROWS rows, $(calc "$SIZE / 1000000" 0) MB of CSV, $(nproc) cores, $ROUNDS rounds, $(date -u '+%Y-%m-%d %H:%M UTC'); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| run | median wall time (s) | rows/s | peak RSS of the client (MiB) | vs. the database's own loader |"
echo "|---|---:|---:|---:|---:|"
row sqlite_ours "SQLite, importer" sqlite_shell
row sqlite_shell "SQLite, sqlite3 .import + INSERT … SELECT" sqlite_shell
row sqlite_shell_idx "SQLite, sqlite3 .import + INSERT … SELECT, indexes created after it" sqlite_shell
if [ "$PG" != 0 ]; then
	row pg_ours "PostgreSQL, importer" pg_copy
	row pg_copy "PostgreSQL, psql \\copy" pg_copy
fi
row sqlite_reimport "SQLite, importer, re-import (all unchanged)"
[ "$PG" = 0 ] || row pg_reimport "PostgreSQL, importer, re-import (all unchanged)"
echo
echo "Rounds (s): SQLite importer ${sqlite_ours_s[*]}; sqlite3 ${sqlite_shell_s[*]}; sqlite3 with indexes created after ${sqlite_shell_idx_s[*]}."
echo "SQLite importer / sqlite3, round by round: $(ratios sqlite_ours sqlite_shell)"
if [ "$PG" != 0 ]; then
	echo "Rounds (s): PostgreSQL importer ${pg_ours_s[*]}; psql \\copy ${pg_copy_s[*]}."
	echo "PostgreSQL importer / psql \\copy, round by round: $(ratios pg_ours pg_copy)"
fi
