#!/usr/bin/env bash
# Kernel benchmark: startup time and idle RSS of the blog, and JSON hello throughput through
# the RustForge kernel vs bare axum, interleaved in the same run.
#
# Prints one `RESULT <metric> <value> <unit>` line per figure. Servers are pinned to core 0
# and the load generator to core 1, so requests/s on one server core measure CPU per request.
# Requests/s move with whatever else the machine does; the callgrind instruction counts at the
# end do not, so they are the figure to compare across runs.
#
#   bench/kernel.sh              # 3 rounds of 5 s each
#   ROUNDS=5 DURATION=10 bench/kernel.sh
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
source bench/common.bash
BLOG_PORT=18080
BASE_PORT=18081

cargo build --release --quiet -p blog -p axum-baseline
BLOG="$CARGO_TARGET_DIR/release/blog"
BASE="$CARGO_TARGET_DIR/release/axum-baseline"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

export FOUNDRY_ENV=production FOUNDRY_APP__KEY="$("$BLOG" key:generate --show)" RUST_LOG=warn

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# Time from exec to the first successful response, measured by a poller that starts the process.
startup_ms() {
  python3 - "$BLOG" "$BLOG_PORT" <<'PY'
import socket, subprocess, sys, time
binary, port = sys.argv[1], int(sys.argv[2])
start = time.perf_counter()
proc = subprocess.Popen(["taskset", "-c", "0", binary, "serve", "--port", str(port)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
request = b"GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(request)
            if s.recv(16).startswith(b"HTTP/1.1 200"):
                break
    except OSError:
        time.sleep(0.0005)
    if time.perf_counter() - start > 10:
        proc.kill(); sys.exit("the blog did not answer within 10 s")
elapsed = (time.perf_counter() - start) * 1000
proc.terminate(); proc.wait()
print(f"{elapsed:.1f}")
PY
}

samples=()
for _ in 1 2 3 4 5; do samples+=("$(startup_ms)"); done
printf 'RESULT blog_startup_to_first_response_ms %s ms\n' "$(printf '%s\n' "${samples[@]}" | median)"

taskset -c 0 "$BLOG" serve --port "$BLOG_PORT" >/dev/null 2>&1 & pids+=($!); blog_pid=$!
taskset -c 0 "$BASE" hello "$BASE_PORT" >/dev/null 2>&1 & pids+=($!); base_pid=$!
for port in $BLOG_PORT $BASE_PORT; do wait_http "http://127.0.0.1:$port/api/hello"; done
diff <(curl -s "http://127.0.0.1:$BLOG_PORT/api/hello") <(curl -s "http://127.0.0.1:$BASE_PORT/api/hello") \
  || { echo "error: the two servers answer differently" >&2; exit 1; }
sleep 1
printf 'RESULT blog_idle_rss_mb %s MB\n' "$(awk -v kb="$(rss_kb $blog_pid)" 'BEGIN {printf "%.1f", kb/1024}')"
printf 'RESULT baseline_idle_rss_mb %s MB\n' "$(awk -v kb="$(rss_kb $base_pid)" 'BEGIN {printf "%.1f", kb/1024}')"

blog_runs=(); base_runs=()
for round in $(seq 1 "$ROUNDS"); do
  # Alternate which server goes first so drift in machine load hits both equally.
  if (( round % 2 )); then
    base_runs+=("$(rps "http://127.0.0.1:$BASE_PORT/api/hello")")
    blog_runs+=("$(rps "http://127.0.0.1:$BLOG_PORT/api/hello")")
  else
    blog_runs+=("$(rps "http://127.0.0.1:$BLOG_PORT/api/hello")")
    base_runs+=("$(rps "http://127.0.0.1:$BASE_PORT/api/hello")")
  fi
done
blog_rps=$(printf '%s\n' "${blog_runs[@]}" | median)
base_rps=$(printf '%s\n' "${base_runs[@]}" | median)
printf 'RESULT kernel_json_hello_rps %.0f req/s\n' "$blog_rps"
printf 'RESULT baseline_json_hello_rps %.0f req/s\n' "$base_rps"
awk -v a="$blog_rps" -v b="$base_rps" 'BEGIN {printf "RESULT kernel_json_hello_ratio %.3f x\n", a/b}'
# One server core saturated: CPU per request is 1/rps, so the difference is what the kernel adds.
printf 'RESULT kernel_overhead_us %s us\n' "$(added_us "$blog_rps" "$base_rps")"
printf 'RESULT blog_peak_rss_mb %s MB\n' "$(awk -v kb="$(hwm_kb $blog_pid)" 'BEGIN {printf "%.1f", kb/1024}')"
printf 'RESULT baseline_peak_rss_mb %s MB\n' "$(awk -v kb="$(hwm_kb $base_pid)" 'BEGIN {printf "%.1f", kb/1024}')"
cleanup; pids=()

# Instructions per request under callgrind: deterministic, unlike requests/s on a shared
# machine. Two runs of different lengths cancel out startup and shutdown.
CG_PORT=18082
blog_ir=$(per_request "http://127.0.0.1:$CG_PORT/api/hello" "$BLOG" serve --port $CG_PORT)
base_ir=$(per_request "http://127.0.0.1:$CG_PORT/api/hello" "$BASE" hello $CG_PORT)
printf 'RESULT kernel_json_hello_instructions %s instructions/request\n' "$blog_ir"
printf 'RESULT baseline_json_hello_instructions %s instructions/request\n' "$base_ir"
printf 'RESULT kernel_overhead_instructions %s instructions/request\n' "$((blog_ir - base_ir))"
