#!/usr/bin/env bash
# Run every benchmark script; each prints `RESULT <metric> <value> <unit>` lines.
set -euo pipefail
cd "$(dirname "$0")"
for script in ./*.sh; do
  [ "$(basename "$script")" = all.sh ] && continue
  echo "## $script"
  "$script"
done
