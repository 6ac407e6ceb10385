#!/usr/bin/env bash
# HTTP benchmark: plaintext and JSON hello through (a) bare axum, (b) the `api` group and
# (c) the `web` group of a RustForge app with the framework's default `[http]` stack
# (bench/http-app, production, no database), and a JSON body echoed back (`POST /api/echo`,
# `Json<T>` in and out) through bare axum and the `api` group, interleaved in the same run.
#
# Prints `RESULT <metric> <value> <unit>` lines: requests/s (medians of ROUNDS), the
# throughput ratio of each group to bare axum and the server CPU µs per request each group adds
# (from requests/s on one pinned core; both the median of the rounds' own figures, each round's
# scenarios taking turns over the same seconds), and callgrind instructions per request (the
# figure to compare across runs: it does not move with machine load).
#
#   bench/http.sh                        # 3 rounds of 5 s per scenario
#   ROUNDS=5 DURATION=10 bench/http.sh
#   CALLGRIND=0 bench/http.sh            # skip the instruction counts
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
source bench/common.bash
BASE_PORT=18091
APP_PORT=18092
CG_PORT=18093

cargo build --release --quiet -p http-app -p axum-baseline
APP="$CARGO_TARGET_DIR/release/http-app"
BASE="$CARGO_TARGET_DIR/release/axum-baseline"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# An empty root: no foundry.toml, no public/, no storage.
ROOT_DIR=$(mktemp -d)
export FOUNDRY_ROOT="$ROOT_DIR" FOUNDRY_ENV=production FOUNDRY_LOG__LEVEL=warn RUST_LOG=warn
export FOUNDRY_APP__KEY="$("$APP" key:generate --show)"

taskset -c 0 "$BASE" hello "$BASE_PORT" >/dev/null 2>&1 & pids+=($!)
taskset -c 0 "$APP" serve --port "$APP_PORT" >/dev/null 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$BASE_PORT/api/json"
wait_http "http://127.0.0.1:$APP_PORT/api/json"
ECHO='{"title":"Hello, World!","views":1}'
post_lua=$(mktemp --suffix=.lua)
printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
  "'$ECHO'" >"$post_lua"
answer() { # port path
  if [ "$2" = api/echo ]; then
    curl -s -H 'content-type: application/json' -d "$ECHO" "http://127.0.0.1:$1/$2"
  else
    curl -s "http://127.0.0.1:$1/$2"
  fi
}
for path in api/plaintext api/json web/plaintext web/json api/echo; do
  diff <(answer "$BASE_PORT" "$path") <(answer "$APP_PORT" "$path") \
    || { echo "error: the servers answer /$path differently" >&2; exit 1; }
done

# scenario name → URL; the baseline serves the same paths.
declare -A url=(
  [bare_plaintext]="http://127.0.0.1:$BASE_PORT/api/plaintext"
  [bare_json]="http://127.0.0.1:$BASE_PORT/api/json"
  [bare_echo]="http://127.0.0.1:$BASE_PORT/api/echo"
  [api_plaintext]="http://127.0.0.1:$APP_PORT/api/plaintext"
  [api_json]="http://127.0.0.1:$APP_PORT/api/json"
  [api_echo]="http://127.0.0.1:$APP_PORT/api/echo"
  [web_plaintext]="http://127.0.0.1:$APP_PORT/web/plaintext"
  [web_json]="http://127.0.0.1:$APP_PORT/web/json"
)
order=(bare_plaintext api_plaintext web_plaintext bare_json api_json web_json bare_echo api_echo)
# Each compared with bare axum serving the same body.
compared=(api_plaintext web_plaintext api_json web_json api_echo)
declare -A runs=()
for round in $(seq 1 "$ROUNDS"); do
  # Each scenario gets SLICES turns per round (bench/common.bash), the order rotated each turn
  # so that drift in machine load falls on every scenario alike.
  declare -A turns=()
  for turn in $(seq 1 "$SLICES"); do
    shift_by=$(( (round + turn) % ${#order[@]} ))
    rotated=("${order[@]:$shift_by}" "${order[@]:0:$shift_by}")
    for name in "${rotated[@]}"; do
      extra=(); [ "${name#*_}" = echo ] && extra=(-s "$post_lua")
      turns[$name]+="$(served "${url[$name]}" "${extra[@]}")"$'\n'
    done
  done
  for name in "${order[@]}"; do
    runs[$name]+="$(turns_rps <<<"${turns[$name]}") "
  done
done
for name in "${order[@]}"; do
  printf 'RESULT %s_rps %.0f req/s\n' "$name" "$(printf '%s\n' ${runs[$name]} | median)"
done
for scenario in "${compared[@]}"; do
  bare=bare_${scenario#*_}
  printf 'RESULT %s_ratio %.3f x\n' "$scenario" \
    "$(round_ratio "$scenario" "${runs[$scenario]}" "${runs[$bare]}")"
  added=$(paste -d' ' <(printf '%s\n' ${runs[$scenario]}) <(printf '%s\n' ${runs[$bare]}) \
    | while read -r a b; do added_us "$a" "$b"; echo; done | median)
  printf 'RESULT %s_added_cpu_us %.2f us\n' "$scenario" "$added"
done
rm -f "$post_lua"
cleanup; pids=()

if [ "${CALLGRIND:-1}" = 1 ]; then
  for body in plaintext json echo; do
    unset CG_POST_BODY CG_READY_URL
    groups=(api web)
    if [ "$body" = echo ]; then
      export CG_POST_BODY="$ECHO" CG_READY_URL="http://127.0.0.1:$CG_PORT/api/plaintext"
      groups=(api)
    fi
    base_ir=$(per_request "http://127.0.0.1:$CG_PORT/api/$body" "$BASE" hello $CG_PORT)
    printf 'RESULT bare_%s_instructions %s instructions/request\n' "$body" "$base_ir"
    for group in "${groups[@]}"; do
      ir=$(per_request "http://127.0.0.1:$CG_PORT/$group/$body" "$APP" serve --port $CG_PORT)
      printf 'RESULT %s_%s_instructions %s instructions/request\n' "$group" "$body" "$ir"
      printf 'RESULT %s_%s_added_instructions %s instructions/request\n' "$group" "$body" "$((ir - base_ir))"
    done
  done
fi
rm -rf "$ROOT_DIR"
