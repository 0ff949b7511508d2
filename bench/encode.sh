#!/usr/bin/env bash
# Encode benchmarks against plain ffmpeg, measured in the same run:
# - overhead: dffmpeg on its embedded node against ffmpeg with the same
#   arguments, both free to use every core;
# - scaling: one, then two dffmpeg-node processes pinned to one core each
#   against ffmpeg pinned to one core (taskset), the encoder limited to one
#   thread per process in both so that a "core" means the same thing on each
#   side (one node measures what distributing costs where nothing is gained);
# - the machine's own ceiling for that scaling: two ffmpegs pinned to one
#   core each, each encoding half of the input at the same time. On a VM
#   whose two vCPUs share caches, memory bandwidth or a physical core, two
#   encodes at once run slower than one alone, and no distribution can beat
#   what two independent ffmpegs get.
# Each configuration runs RUNS times, interleaved, so that the machine's
# noise falls on all of them alike; the script prints the median, min and
# max of each and the ratio of the medians.
#
# Usage: [MEASURES="overhead scaling"] bash bench/encode.sh [RUNS] [SECONDS] [ENCODER...]
#   ENCODER is x264 (libx264 -preset medium), x265 (libx265 -preset
#   medium) or svtav1 (libsvtav1 -preset 8); the default is x264. The input
#   is SECONDS of 1280x720 testsrc2 at 25 fps with a sine tone (AAC),
#   keyframes every 250 frames. MEASURES picks what runs (a slow encoder's
#   scaling rows take hours; its overhead alone does not).
# The binaries are the release build, as a user would install them (dffmpeg's
# own start-up is slower in debug; the encode work is ffmpeg's either way).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
secs=${2:-16}
shift $(( $# > 2 ? 2 : $# )) || true
encoders=("$@")
[ ${#encoders[@]} -gt 0 ] || encoders=(x264)
measures=${MEASURES:-overhead scaling}
wants() { [[ " $measures " == *" $1 "* ]]; }
cargo build --release --locked -q -p cli -p node
B=$PWD/target/release
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$secs" \
  -f lavfi -i "sine=duration=$secs" \
  -c:v libx264 -preset ultrafast -g 250 -c:a aac "$work/in.mkv"

# Seconds taken by a command, its output discarded.
t() {
  local s
  s=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  echo "$(date +%s.%N) - $s" | bc
}

# Two nodes, each pinned to its own core.
nodes=()
for core in 0 1; do
  mkdir -p "$work/n$core"
  taskset -c "$core" "$B/dffmpeg-node" -n 127.0.0.1:0 --slots 1 -t "$work/n$core" \
    > "$work/n$core.out" 2>/dev/null &
  pids+=($!)
  until grep -q '^listening on ' "$work/n$core.out"; do sleep 0.1; done
  nodes+=(--nodes "$(sed -n 's/^listening on //p' "$work/n$core.out")")
done

# median, min and max of the numbers in a file, one per line.
stats() {
  python3 - "$1" <<'EOF'
import statistics, sys
xs = [float(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{statistics.median(xs):.2f} {min(xs):.2f} {max(xs):.2f}")
EOF
}

for name in "${encoders[@]}"; do
  case $name in
    x264) codec=(-c:v libx264 -preset medium -crf 23) ;;
    x265) codec=(-c:v libx265 -preset medium -crf 28) ;;
    svtav1) codec=(-c:v libsvtav1 -preset 8 -crf 35) ;;
    *) echo "unknown encoder $name (x264, x265 or svtav1)" >&2; exit 2 ;;
  esac
  # (-threads is not sent to nodes; the encoders' own options are.)
  case $name in
    x264) one_thread=("${codec[@]}" -x264-params threads=1) ;;
    x265) one_thread=("${codec[@]}" -x265-params pools=1:frame-threads=1) ;;
    svtav1) one_thread=("${codec[@]}" -svtav1-params lp=1) ;;
  esac
  # Both dffmpeg commands must really be distributed, not handed to ffmpeg.
  for cmd in "$B/dffmpeg -i $work/in.mkv ${codec[*]}" \
             "$B/dffmpeg ${nodes[*]} -i $work/in.mkv ${one_thread[*]}"; do
    # shellcheck disable=SC2086
    if ! $cmd -c:a copy -y -nostdin -nostats -v verbose "$work/check.mkv" > "$work/check.log" 2>&1 \
        || ! grep -q ' chunks on ' "$work/check.log"; then
      echo "not distributed: $cmd" >&2
      exit 1
    fi
  done
  : > "$work/plain" ; : > "$work/embedded" ; : > "$work/pinned" ; : > "$work/two"
  : > "$work/halves" ; : > "$work/one"
  half=$(echo "$secs / 2" | bc -l)
  # Two pinned ffmpegs, each on half of the input, at the same time.
  halves() {
    taskset -c 0 ffmpeg -y -nostdin -t "$half" -i "$work/in.mkv" "${one_thread[@]}" -an \
      "$work/h0.mkv" &
    local first=$!
    taskset -c 1 ffmpeg -y -nostdin -ss "$half" -i "$work/in.mkv" "${one_thread[@]}" -an \
      "$work/h1.mkv"
    wait "$first"
  }
  for run in $(seq "$runs"); do
    if wants overhead; then
      t ffmpeg -y -nostdin -i "$work/in.mkv" "${codec[@]}" -c:a copy "$work/o.mkv" >> "$work/plain"
      t "$B/dffmpeg" -y -nostdin -nostats -i "$work/in.mkv" "${codec[@]}" -c:a copy "$work/o.mkv" \
        >> "$work/embedded"
    fi
    if wants scaling; then
      t taskset -c 0 ffmpeg -y -nostdin -i "$work/in.mkv" "${one_thread[@]}" -c:a copy \
        "$work/o.mkv" >> "$work/pinned"
      t "$B/dffmpeg" "${nodes[@]:0:2}" -y -nostdin -nostats -i "$work/in.mkv" "${one_thread[@]}" \
        -c:a copy "$work/o.mkv" >> "$work/one"
      t "$B/dffmpeg" "${nodes[@]}" -y -nostdin -nostats -i "$work/in.mkv" "${one_thread[@]}" \
        -c:a copy "$work/o.mkv" >> "$work/two"
      t halves >> "$work/halves"
    fi
    echo "run $run of $runs ($name) done" >&2
  done
  echo "$name, ${secs} s of 720p, $runs runs (median, min to max):"
  if wants overhead; then
    read -r p pmin pmax < <(stats "$work/plain")
    read -r e emin emax < <(stats "$work/embedded")
    printf '  overhead: ffmpeg %.2f s (%.2f to %.2f), dffmpeg embedded %.2f s (%.2f to %.2f): %.3fx\n' \
      "$p" "$pmin" "$pmax" "$e" "$emin" "$emax" "$(echo "$e / $p" | bc -l)"
  fi
  if wants scaling; then
    read -r q qmin qmax < <(stats "$work/pinned")
    read -r o omin omax < <(stats "$work/one")
    read -r w wmin wmax < <(stats "$work/two")
    read -r h hmin hmax < <(stats "$work/halves")
    printf '  scaling: ffmpeg on one core %.2f s (%.2f to %.2f), one pinned node %.2f s (%.2f to %.2f): %.3fx\n' \
      "$q" "$qmin" "$qmax" "$o" "$omin" "$omax" "$(echo "$q / $o" | bc -l)"
    printf '  scaling: ffmpeg on one core %.2f s, two pinned nodes %.2f s (%.2f to %.2f): %.3fx\n' \
      "$q" "$w" "$wmin" "$wmax" "$(echo "$q / $w" | bc -l)"
    printf '  ceiling: two pinned ffmpegs on halves at once %.2f s (%.2f to %.2f): %.3fx; dffmpeg reaches %.0f%% of it\n' \
      "$h" "$hmin" "$hmax" "$(echo "$q / $h" | bc -l)" "$(echo "100 * $h / $w" | bc -l)"
  fi
done
