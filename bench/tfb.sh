#!/usr/bin/env bash
# TechEmpower benchmark: examples/tfb (models, the query builder, an API resource, a view,
# Validated<T>, the default api/web groups and global stack) against bench/tfb-baseline (the
# same endpoints hand-written on bare axum + sqlx, same pool size), both on PostgreSQL.
#
# It builds release, (re)creates and seeds the database with the app's own migrations and
# seeder, starts both servers on core 0, checks that they answer every endpoint with the same
# status, content type and body (the same shape for the random ones), then loads each
# endpoint with wrk on core 1, alternating the two servers in SLICES turns per round (DURATION
# seconds each per round), ROUNDS rounds, medians.
#
# Prints `RESULT tfb_<endpoint>_rps`, `RESULT baseline_<endpoint>_rps`,
# `RESULT tfb_<endpoint>_ratio` (target >= 0.9; the median of the rounds' own ratios, which
# go to stderr to show how much the machine moved), idle and peak RSS of each server (peak =
# the kernel's high-water mark over the whole load), and, unless CALLGRIND=0, callgrind
# instructions per request for each endpoint (`validate` with the valid signup; the figure
# that does not move with machine load). LOAD=0 skips the wrk load and the RSS figures.
#
#   bench/tfb.sh
#   LOAD=0 ENDPOINTS="plaintext json validate" bench/tfb.sh   # instructions only
#   ROUNDS=5 DURATION=10 ENDPOINTS="db fortunes" bench/tfb.sh
#   SLICES=1 bench/tfb.sh   # one DURATION-long run per server and round
#   TFB_DATABASE_URL=postgres://postgres@127.0.0.1:5432/tfb_bench POOL=10 QUERIES=20 bench/tfb.sh
#
# CG_KEEP=dir keeps the callgrind outputs (`dir/<server>_<endpoint>.<requests>`) for
# callgrind_annotate; PORT=n moves the three ports to n, n+1, n+2 (default 18181).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
source bench/common.bash
PG_URL="${TFB_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tfb_bench}"
POOL="${POOL:-10}"
QUERIES="${QUERIES:-20}"
ENDPOINTS="${ENDPOINTS:-plaintext json db queries updates fortunes validate}"
APP_PORT=${PORT:-18181}
BASE_PORT=$((APP_PORT + 1))
CG_PORT=$((APP_PORT + 2))
[ -z "${CG_KEEP:-}" ] || mkdir -p "$CG_KEEP"

cargo build --release --quiet -p tfb -p tfb-baseline
APP="$CARGO_TARGET_DIR/release/tfb"
BASE="$CARGO_TARGET_DIR/release/tfb-baseline"

# The database: created when missing, then migrated fresh and seeded by the app itself.
admin_url="${PG_URL%/*}/postgres"
db_name="${PG_URL##*/}"
db_name="${db_name%%\?*}"
psql "$admin_url" -qtAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1 \
  || psql "$admin_url" -qc "CREATE DATABASE \"$db_name\""
export FOUNDRY_ROOT="$PWD/examples/tfb" FOUNDRY_ENV=production RUST_LOG=warn
export DATABASE_URL="$PG_URL" FOUNDRY_DATABASE__MAX_CONNECTIONS="$POOL"
export FOUNDRY_APP__KEY="$("$APP" key:generate --show)"
"$APP" migrate:fresh --seed --force >/dev/null
psql "$PG_URL" -q -c "VACUUM ANALYZE world" -c "VACUUM ANALYZE fortune"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

taskset -c 0 "$APP" serve --port "$APP_PORT" >/dev/null 2>&1 & app_pid=$!; pids+=($app_pid)
taskset -c 0 "$BASE" "$BASE_PORT" "$PG_URL" "$POOL" >/dev/null 2>&1 & base_pid=$!; pids+=($base_pid)
wait_http "http://127.0.0.1:$APP_PORT/plaintext"
wait_http "http://127.0.0.1:$BASE_PORT/plaintext"

declare -A path=(
  [plaintext]=/plaintext [json]=/json [db]=/db [queries]="/queries?queries=$QUERIES"
  [updates]="/updates?queries=$QUERIES" [fortunes]=/fortunes [validate]=/validate
)
VALID='{"name":"Ada Lovelace","email":"ada@example.com","age":36}'
INVALID='{"name":"","email":"nope","age":12}'
post_lua=$(mktemp --suffix=.lua)
printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
  "'$VALID'" >"$post_lua"

# Status, content type and body; numbers blanked for the endpoints that read random rows.
answer() { # port endpoint [body]
  local out url="http://127.0.0.1:$1${path[$2]}"
  if [ "$2" = validate ]; then
    out=$(curl -s -w '\n%{http_code} %{content_type}' -H 'content-type: application/json' -d "$3" "$url")
  else
    out=$(curl -s -w '\n%{http_code} %{content_type}' "$url")
  fi
  case $2 in db|queries|updates) sed -E 's/[0-9]+/N/g' <<<"$out" ;; *) printf '%s\n' "$out" ;; esac
}
for endpoint in $ENDPOINTS; do
  bodies=("")
  [ "$endpoint" = validate ] && bodies=("$VALID" "$INVALID")
  for body in "${bodies[@]}"; do
    diff <(answer "$BASE_PORT" "$endpoint" "$body") <(answer "$APP_PORT" "$endpoint" "$body") >&2 \
      || { echo "error: the servers answer $endpoint differently (baseline <, tfb >)" >&2; exit 1; }
  done
done
echo "verified: both servers answer $ENDPOINTS alike" >&2

rss_kb() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }
app_idle=$(rss_kb "$app_pid" VmRSS)
base_idle=$(rss_kb "$base_pid" VmRSS)

# Each round gives each server DURATION seconds per endpoint, in SLICES turns that alternate
# between the two (tfb, baseline, baseline, tfb, …; `served` in bench/common.bash). A server's
# figure for the round is its requests over its seconds.
declare -A runs=()
[ "${LOAD:-1}" = 1 ] || ROUNDS=0
for round in $(seq 1 "$ROUNDS"); do
  for endpoint in $ENDPOINTS; do
    extra=(); [ "$endpoint" = validate ] && extra=(-s "$post_lua")
    declare -A turns=([tfb]="" [baseline]="")
    for turn in $(seq 1 "$SLICES"); do
      servers=(tfb baseline)
      [ $(( (round + turn) % 2 )) = 1 ] && servers=(baseline tfb)
      for server in "${servers[@]}"; do
        port=$APP_PORT; [ "$server" = baseline ] && port=$BASE_PORT
        turns[$server]+="$(served "http://127.0.0.1:$port${path[$endpoint]}" "${extra[@]}")"$'\n'
      done
    done
    for server in tfb baseline; do
      runs[${server}_$endpoint]+="$(turns_rps <<<"${turns[$server]}") "
    done
  done
done

for endpoint in $([ "${LOAD:-1}" = 1 ] && echo "$ENDPOINTS"); do
  tfb=$(printf '%s\n' ${runs[tfb_$endpoint]} | median)
  base=$(printf '%s\n' ${runs[baseline_$endpoint]} | median)
  printf 'RESULT tfb_%s_rps %.0f req/s\n' "$endpoint" "$tfb"
  printf 'RESULT baseline_%s_rps %.0f req/s\n' "$endpoint" "$base"
  printf 'RESULT tfb_%s_ratio %.3f x\n' "$endpoint" \
    "$(round_ratio "$endpoint" "${runs[tfb_$endpoint]}" "${runs[baseline_$endpoint]}")"
done
if [ "${LOAD:-1}" = 1 ]; then
  awk -v k="$app_idle" 'BEGIN {printf "RESULT tfb_idle_rss %.1f MB\n", k/1024}'
  awk -v k="$(rss_kb "$app_pid" VmHWM)" 'BEGIN {printf "RESULT tfb_peak_rss %.1f MB\n", k/1024}'
  awk -v k="$base_idle" 'BEGIN {printf "RESULT baseline_idle_rss %.1f MB\n", k/1024}'
  awk -v k="$(rss_kb "$base_pid" VmHWM)" 'BEGIN {printf "RESULT baseline_peak_rss %.1f MB\n", k/1024}'
fi
cleanup; pids=()
rm -f "$post_lua"

if [ "${CALLGRIND:-1}" = 1 ]; then
  for endpoint in $ENDPOINTS; do
    url="http://127.0.0.1:$CG_PORT${path[$endpoint]}"
    unset CG_POST_BODY CG_READY_URL
    if [ "$endpoint" = validate ]; then
      export CG_POST_BODY="$VALID" CG_READY_URL="http://127.0.0.1:$CG_PORT/plaintext"
    fi
    tfb_ir=$(CG_KEEP=${CG_KEEP:+$CG_KEEP/tfb_$endpoint} per_request "$url" "$APP" serve --port "$CG_PORT")
    base_ir=$(CG_KEEP=${CG_KEEP:+$CG_KEEP/baseline_$endpoint} per_request "$url" "$BASE" "$CG_PORT" "$PG_URL" "$POOL")
    printf 'RESULT tfb_%s_instructions %s instructions/request\n' "$endpoint" "$tfb_ir"
    printf 'RESULT baseline_%s_instructions %s instructions/request\n' "$endpoint" "$base_ir"
  done
fi
