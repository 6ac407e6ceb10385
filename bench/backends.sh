#!/usr/bin/env bash
# Production backends benchmark, one section per component, each printing
# `RESULT <metric> <value> <unit>` lines with ratios against a baseline measured in the same run.
#
#   cache: get/put through `Cache` vs the raw client on the same connection (a Mutex<HashMap>
#          for memory, hand-written sqlx for the database store, redis-rs GET/SET for Redis),
#          and the rate limiter's cost per request for each algorithm (memory, Redis).
#   queue: no-op jobs per second per driver, one producer queueing in bulk batches of 100 and one
#          worker at concurrency 8 (crates/foundry-queue/benches/throughput.rs), each with its
#          ratio to the target for the 2-core machine (>= 1 meets it): Redis 25000, PostgreSQL
#          10000, SQLite 5000 jobs/s. ROUNDS runs (default 3), median of each. JOBS per run
#          (default 20000).
#
# SQLite and memory always; PostgreSQL and Redis when FOUNDRY_TEST_DATABASE_URL and
# FOUNDRY_TEST_REDIS_URL are set. Run one section with `bench/backends.sh cache`.
#
#   FOUNDRY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
#   FOUNDRY_TEST_REDIS_URL=redis://127.0.0.1:6379 bench/backends.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"

section_cache() {
  cargo bench --quiet -p foundry-cache --bench backends 2>/dev/null | grep '^RESULT'
}

section_queue() {
  cargo bench --quiet -p foundry-queue --features redis --bench throughput --no-run 2>/dev/null
  local out; out=$(mktemp)
  for _ in $(seq 1 "${ROUNDS:-3}"); do
    cargo bench --quiet -p foundry-queue --features redis --bench throughput 2>/dev/null \
      | grep '^RESULT' >>"$out"
  done
  # Median per metric, then the ratio to the driver's target.
  awk '
    { v[$2] = v[$2] " " $3 }
    END {
      t["queue_redis_jobs_per_s"] = 25000; t["queue_postgres_jobs_per_s"] = 10000
      t["queue_sqlite_jobs_per_s"] = 5000
      for (m in v) {
        n = split(substr(v[m], 2), a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { x = a[j]; a[j] = a[j-1]; a[j-1] = x }
        med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        printf "RESULT %s %.0f jobs/s\n", m, med
        if (m in t) {
          name = m; sub(/_jobs_per_s$/, "_vs_target", name)
          printf "RESULT %s %.2f ratio\n", name, med / t[m]
        }
      }
    }' "$out" | sort
  rm -f "$out"
}

# Add a section as `section_<name>() { … }` and list it here.
SECTIONS=(cache queue)

for section in "${@:-${SECTIONS[@]}}"; do
  "section_$section"
done
