#!/usr/bin/env bash
# ORM benchmark: find one row by id, fetch 20 rows, and a page of 20 posts with eager-loaded
# authors, through the model API vs the same queries hand-written with sqlx on the same pool,
# interleaved in the same run. SQLite always; PostgreSQL when FOUNDRY_TEST_DATABASE_URL is set.
#
# Prints `RESULT <metric> <value> <unit>` lines; `*_ratio` is hand-written time / model time
# (1.0 = the model API is as fast; the target is >= 0.9).
#
# It then counts instructions per operation on SQLite with callgrind (model vs sqlx, the
# difference of a 300- and a 900-operation run, so setup cancels out): a ratio that does not
# move when other work shares the machine. `INSTRUCTIONS=0` skips it.
#
#   bench/db.sh
#   ROUNDS=10 FOUNDRY_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test bench/db.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
cargo bench --quiet -p foundry-db --bench orm 2>/dev/null | grep '^RESULT'

[ "${INSTRUCTIONS:-1}" = 0 ] && exit 0
command -v valgrind >/dev/null || { echo "valgrind not installed: no instruction counts" >&2; exit 0; }
binary=$(cargo bench -p foundry-db --bench orm --no-run --message-format=json 2>/dev/null \
  | grep -o '"executable":"[^"]*orm-[^"]*"' | head -n1 | cut -d'"' -f4)
count() { # scenario:side:operations -> instructions
  env -u FOUNDRY_TEST_DATABASE_URL BENCH_PROFILE="$1" valgrind --tool=callgrind \
    --callgrind-out-file=/dev/null "$binary" --bench 2>&1 | awk '/Collected/ {print $4}'
}
for scenario in find_by_id fetch_20 page_20_with_authors; do
  for side in model sqlx; do
    per_op=$(( ($(count "$scenario:$side:900") - $(count "$scenario:$side:300")) / 600 ))
    eval "${side}_instr=$per_op"
    echo "RESULT orm_sqlite_${scenario}_${side}_instructions $per_op instr"
  done
  echo "RESULT orm_sqlite_${scenario}_instruction_ratio $(awk -v m="$model_instr" -v s="$sqlx_instr" 'BEGIN {printf "%.3f", s / m}') ratio"
done
