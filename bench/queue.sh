#!/usr/bin/env bash
# Queue throughput: no-op jobs per second per driver (memory, SQLite; PostgreSQL and Redis when
# FOUNDRY_TEST_DATABASE_URL / FOUNDRY_TEST_REDIS_URL are set), one producer queueing in bulk
# batches of 100 and one worker at concurrency 8, measured from the first dispatch to the
# last job finished. Targets on the 2-core machine: Redis >= 25000, PostgreSQL >= 10000,
# SQLite >= 5000 jobs/s.
#
#   bench/queue.sh
#   JOBS=50000 FOUNDRY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
#     FOUNDRY_TEST_REDIS_URL=redis://127.0.0.1:6379 bench/queue.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
cargo bench --quiet -p foundry-queue --features redis --bench throughput 2>/dev/null | grep '^RESULT'
