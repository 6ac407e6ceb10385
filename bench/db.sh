#!/usr/bin/env bash
# ORM benchmark: find one row by id, fetch 20 rows, and a page of 20 posts with eager-loaded
# authors, through the model API vs the same queries hand-written with sqlx on the same pool,
# interleaved in the same run. SQLite always; PostgreSQL when FOUNDRY_TEST_DATABASE_URL is set.
#
# Prints `RESULT <metric> <value> <unit>` lines; `*_ratio` is hand-written time / model time
# (1.0 = the model API is as fast; the target is >= 0.9).
#
#   bench/db.sh
#   ROUNDS=10 FOUNDRY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bench/db.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
cargo bench --quiet -p foundry-db --bench orm 2>/dev/null | grep '^RESULT'
