# Helpers shared by the HTTP benchmark scripts (sourced, not run: all.sh runs only *.sh).
#
# Servers go to core 0 and the load generator to core 1, so requests/s on one saturated server
# core measure CPU per request. callgrind instruction counts do not move with machine load.

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
CONNECTIONS="${CONNECTIONS:-64}"

command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y wrk >/dev/null; }

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# Wait until `url` answers 2xx (up to ~10 s).
wait_http() {
  for _ in $(seq 1 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.05; done
  echo "error: $1 does not answer" >&2; return 1
}

# wrk's report for `url`, loaded for `secs` seconds on core 1; more wrk options (`-s
# script.lua`) may follow. Non-2xx answers are reported on stderr: they would make the figure
# meaningless.
load_for() { # secs url [wrk options...]
  local out
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$1s" "${@:3}" "$2")
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
    echo "warning: $2: $(grep 'Non-2xx\|Socket errors' <<<"$out" | tr -s ' ')" >&2
  fi
  printf '%s\n' "$out"
}

# Requests/s of `url` over DURATION seconds.
rps() { # url [wrk options...]
  load_for "$DURATION" "$@" | awk '/^Requests\/sec/ {print $2}'
}

# Servers compared in one run take turns of DURATION/SLICES seconds, SLICES per round, so that
# the machine's drift over seconds falls on all of them alike.
SLICES="${SLICES:-5}"
SLICE_SECS=$(( DURATION / SLICES )); [ "$SLICE_SECS" -ge 1 ] || SLICE_SECS=1

# One turn: "<requests> <seconds>" served by `url` in SLICE_SECS seconds.
served() { # url [wrk options...]
  load_for "$SLICE_SECS" "$@" | awk '/ requests in / {sub(/s,$/, "", $4); print $1, $4}'
}

# Requests/s over a round's turns, from `served` lines on stdin.
turns_rps() { awk 'NF == 2 {n += $1; t += $2} END {printf "%.1f", n / t}'; }

# The median of per-round ratios a/b, from two lists of per-round requests/s: a round's two
# figures come from turns interleaved over the same seconds, so the machine's drift cancels
# within a round, where the ratio of two medians could pair one's fast round with the other's
# slow one. Each round's ratio goes to stderr as `rounds <label>: …`.
round_ratio() { # label "a1 a2 …" "b1 b2 …"
  local ratios
  ratios=$(paste -d' ' <(printf '%s\n' $2) <(printf '%s\n' $3) | awk '{printf "%.4f\n", $1 / $2}')
  echo "rounds $1:" $(printf '%.2f\n' $ratios) >&2
  median <<<"$ratios"
}

# Microseconds of server CPU per request `a` adds over `b`, from requests/s on one core.
added_us() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (1/a - 1/b) * 1e6}'; }

# Instructions executed for `n` keep-alive requests to `url` by a server started under
# callgrind with `command...`. With CG_POST_BODY set, the requests are JSON POSTs of that body
# (readiness is then polled at CG_READY_URL). CG_KEEP=prefix keeps each callgrind output as `prefix.<n>`;
# CG_OPTS adds callgrind options (`--cache-sim=yes` for the simulated cache misses in the kept files).
instructions() { # n url command...
  local n=$1 url=$2; shift 2
  local out; out=$(mktemp)
  command -v valgrind >/dev/null || { echo "installing valgrind" >&2; apt-get install -y valgrind >/dev/null; }
  valgrind --tool=callgrind ${CG_OPTS:-} --callgrind-out-file="$out" "$@" >/dev/null 2>&1 &
  local vpid=$!
  for _ in $(seq 1 400); do curl -sf "${CG_READY_URL:-$url}" >/dev/null && break; sleep 0.1; done
  local post=()
  [ -n "${CG_POST_BODY:-}" ] && post=(-H 'content-type: application/json' --data-raw "$CG_POST_BODY")
  # One keep-alive connection, n requests (curl sends the same body to every URL).
  curl -s "${post[@]}" $(for _ in $(seq 1 "$n"); do printf '%s ' "$url"; done) >/dev/null
  kill -INT "$vpid"; sleep 0.3; kill -TERM "$vpid" 2>/dev/null || true; wait "$vpid" || true
  awk '/^(summary|totals):/ {print $2; exit}' "$out"
  if [ -n "${CG_KEEP:-}" ]; then mv "$out" "$CG_KEEP.$n"; else rm -f "$out"; fi
}

# Instructions per request: two runs of different lengths cancel out startup and shutdown.
per_request() { # url command...
  local short long
  short=$(instructions 500 "$@"); long=$(instructions 2500 "$@")
  awk -v s="$short" -v l="$long" 'BEGIN {printf "%.0f", (l - s) / 2000}'
}
