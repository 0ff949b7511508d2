#!/usr/bin/env bash
# Peak memory as the input grows (DESIGN section 8: flat), against plain
# ffmpeg measured in the same run. Every process reports its own peak
# resident set: ffmpeg and dffmpeg through -benchmark (`bench: maxrss=`,
# getrusage of the process itself, not of its children), a node through
# VmHWM in /proc once its job is done. Each size runs RUNS times; the script
# prints the median, min and max of each figure and the ratios of the medians
# to ffmpeg's.
#
# Usage: bash bench/memory.sh [RUNS] [SECONDS...]   (default: 5 runs of 10 60 600)
# The input is SECONDS of 640x360 testsrc2 at 25 fps with a sine tone (AAC)
# in Matroska, keyframes every 250 frames; the encode is libx264
# -preset ultrafast, audio copied. The binaries are the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift $(( $# > 0 ? 1 : 0 )) || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 60 600)
cargo build --release --locked -q -p cli -p node
B=$PWD/target/release
work=$(mktemp -d)
node_pid=
trap '[ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null; rm -rf "$work"' EXIT
encode=(-c:v libx264 -preset ultrafast -c:a copy)

# The kB figure from a `bench: maxrss=NkB` line in a log.
maxrss() { sed -n 's/^bench: maxrss=\([0-9]*\)kB$/\1/p' "$1" | tail -1; }

stats() {
  python3 - "$1" <<'PY'
import statistics, sys
xs = [float(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{statistics.median(xs) / 1024:.1f} {min(xs) / 1024:.1f} {max(xs) / 1024:.1f}")
PY
}

echo "peak resident memory in MiB, median (min to max) of $runs runs; ratio = median / ffmpeg's"
for secs in "${sizes[@]}"; do
  in=$work/in-$secs.mkv
  ffmpeg -v error -f lavfi -i "testsrc2=size=640x360:rate=25:duration=$secs" \
    -f lavfi -i "sine=duration=$secs" -c:v libx264 -preset ultrafast -g 250 -c:a aac "$in"
  : > "$work/ffmpeg"; : > "$work/embedded"; : > "$work/coordinator"; : > "$work/node"
  for run in $(seq "$runs"); do
    ffmpeg -y -nostdin -nostats -benchmark -i "$in" "${encode[@]}" "$work/o.mkv" 2> "$work/log"
    maxrss "$work/log" >> "$work/ffmpeg"
    "$B/dffmpeg" -y -nostdin -nostats -benchmark -i "$in" "${encode[@]}" "$work/o.mkv" 2> "$work/log"
    maxrss "$work/log" >> "$work/embedded"
    # A fresh node per run, so that its VmHWM is this job's.
    mkdir -p "$work/node-dir"
    "$B/dffmpeg-node" -n 127.0.0.1:0 --slots 2 -t "$work/node-dir" > "$work/node.out" 2>/dev/null &
    node_pid=$!
    until grep -q '^listening on ' "$work/node.out"; do sleep 0.05; done
    addr=$(sed -n 's/^listening on //p' "$work/node.out")
    "$B/dffmpeg" --nodes "$addr" -y -nostdin -nostats -v verbose -benchmark -i "$in" "${encode[@]}" \
      "$work/o.mkv" 2> "$work/log"
    grep -q ' chunks on ' "$work/log" || { echo "not distributed: $(tail -3 "$work/log")" >&2; exit 1; }
    maxrss "$work/log" >> "$work/coordinator"
    sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$node_pid/status" >> "$work/node"
    kill "$node_pid"; wait "$node_pid" 2>/dev/null || true; node_pid=
  done
  read -r f fmin fmax < <(stats "$work/ffmpeg")
  read -r e emin emax < <(stats "$work/embedded")
  read -r c cmin cmax < <(stats "$work/coordinator")
  read -r n nmin nmax < <(stats "$work/node")
  size=$(du -m "$in" | cut -f1)
  printf '%4d s (%d MB): ffmpeg %.1f (%.1f to %.1f); dffmpeg embedded %.1f (%.1f to %.1f) = %.2fx; coordinator %.1f (%.1f to %.1f) = %.2fx; node %.1f (%.1f to %.1f) = %.2fx\n' \
    "$secs" "$size" "$f" "$fmin" "$fmax" "$e" "$emin" "$emax" "$(echo "$e / $f" | bc -l)" \
    "$c" "$cmin" "$cmax" "$(echo "$c / $f" | bc -l)" "$n" "$nmin" "$nmax" "$(echo "$n / $f" | bc -l)"
done
