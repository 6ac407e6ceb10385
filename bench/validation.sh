#!/usr/bin/env bash
# Validation benchmark: a 10-field signup payload and a 1,000-item `items.*` payload through
# foundry-validation, with the same rules in `garde` measured in the same run as a reference.
#
# criterion's report goes to stderr; stdout gets one `RESULT <metric> <value> <unit>` line per
# figure (ns per validation, and the ratio to garde).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rustforge/target}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
cargo bench -p foundry-validation --bench validation >"$out" 2>&1 || { cat "$out" >&2; exit 1; }
grep -v '^RESULT ' "$out" >&2 || true
grep '^RESULT ' "$out"
