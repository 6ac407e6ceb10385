#!/usr/bin/env bash
# Production backends benchmark, one section per component, each printing
# `RESULT <metric> <value> <unit>` lines with ratios against a baseline measured in the same run.
#
#   cache: get/put through `Cache` vs the raw client on the same connection (a Mutex<HashMap>
#          for memory, hand-written sqlx for the database store, redis-rs GET/SET for Redis),
#          and the rate limiter's cost per request for each algorithm (memory, Redis).
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

# Add a section as `section_<name>() { … }` and list it here.
SECTIONS=(cache)

for section in "${@:-${SECTIONS[@]}}"; do
  "section_$section"
done
