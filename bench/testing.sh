#!/usr/bin/env bash
# Test boot time: a blog test booted by foundry-testing (a fresh database copied from one
# migrated per process) against booting the kernel and running the migrations each time.
# Dev profile, as `cargo test` builds. PostgreSQL figures when FOUNDRY_TEST_DATABASE_URL is set.
#
# Prints `RESULT <metric> <value> <unit>` lines (medians of ROUNDS, default 50).
#
#   bench/testing.sh
#   FOUNDRY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bench/testing.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
cargo run --quiet -p blog --example test_boot 2>/dev/null | grep '^RESULT'
