#!/usr/bin/env bash
# A quick, single-run comparison of dffmpeg against plain ffmpeg on this
# machine: embedded node vs ffmpeg, and two nodes pinned to one core each
# vs ffmpeg pinned to one core. Indicative only: issue 6's benchmarks report
# medians of repeated runs. Usage: bash bench/quick-compare.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --locked -q
B=$PWD/target/debug
secs=${1:-16}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$secs" -f lavfi -i "sine=duration=$secs" \
  -c:v libx264 -preset ultrafast -g 250 -c:a aac "$work/in.mkv"
enc=(-c:v libx264 -preset medium -crf 23 -c:a copy)
t() { local s; s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
plain=$(t ffmpeg -y -nostdin -i "$work/in.mkv" "${enc[@]}" "$work/o1.mkv")
embedded=$(t "$B/dffmpeg" -y -nostdin -nostats -i "$work/in.mkv" "${enc[@]}" "$work/o2.mkv")
pinned=$(t taskset -c 0 ffmpeg -y -nostdin -i "$work/in.mkv" "${enc[@]}" "$work/o3.mkv")
nodes=()
for core in 0 1; do
  mkdir -p "$work/n$core"
  taskset -c "$core" "$B/dffmpeg-node" -n 127.0.0.1:0 --slots 1 -t "$work/n$core" > "$work/n$core.out" 2>/dev/null &
  pids+=($!)
  until grep -q '^listening on ' "$work/n$core.out"; do sleep 0.1; done
  nodes+=(--nodes "$(sed -n 's/^listening on //p' "$work/n$core.out")")
done
two=$(t "$B/dffmpeg" "${nodes[@]}" -y -nostdin -nostats -i "$work/in.mkv" "${enc[@]}" "$work/o4.mkv")
printf 'plain ffmpeg %.2f s, dffmpeg embedded %.2f s: overhead %.2fx\n' "$plain" "$embedded" "$(echo "$embedded / $plain" | bc -l)"
printf 'ffmpeg on one core %.2f s, two pinned nodes %.2f s: speed-up %.2fx\n' "$pinned" "$two" "$(echo "$pinned / $two" | bc -l)"
