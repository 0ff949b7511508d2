#!/usr/bin/env bash
# Where a distributed encode's time goes beside plain ffmpeg, on one core.
#
# One dffmpeg-node pinned to core 0 encodes the whole input chunk after
# chunk while dffmpeg runs on core 1; plain ffmpeg encodes it pinned to core
# 0 too, one encoder thread on both sides (as bench/encode.sh's scaling
# rows). strace records when the node starts and ends each chunk's ffmpeg,
# which splits dffmpeg's extra time into:
# - start-up: dffmpeg's start to the first chunk's ffmpeg (probe, plan, cut,
#   upload);
# - chunks: the chunks' ffmpegs together, less plain ffmpeg's time (a process
#   start per chunk, the encoder's start and flush, the frames decoded before
#   a chunk's first);
# - between chunks: the node's core idle from one chunk's ffmpeg to the next;
# - tail: the last chunk's ffmpeg to dffmpeg's exit (download, verify, mux).
# Each of RUNS runs prints one line; the script ends with the medians.
#
# Usage: bash bench/chunk_costs.sh [RUNS] [SECONDS] [SEGMENT_SECONDS]
# The input is SECONDS of 1280x720 testsrc2 at 25 fps with AAC audio,
# keyframes every 250 frames; the encode is x264 -preset medium -crf 23.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
secs=${2:-60}
segment=${3:-10}
command -v strace >/dev/null || { echo "strace is required" >&2; exit 1; }
cargo build --release --locked -q -p cli -p node
B=$PWD/target/release
work=$(mktemp -d)
node=
trap '[ -n "$node" ] && kill "$node" 2>/dev/null; rm -rf "$work"' EXIT

ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$secs" \
  -f lavfi -i "sine=duration=$secs" \
  -c:v libx264 -preset ultrafast -g 250 -c:a aac "$work/in.mkv"
encode=(-c:v libx264 -preset medium -crf 23 -x264-params threads=1 -c:a copy)

mkdir -p "$work/n"
# strace follows the node's children: each chunk's ffmpeg is an execve and an exit.
taskset -c 0 strace -f -tt -e trace=execve,exit_group -o "$work/trace" \
  "$B/dffmpeg-node" -n 127.0.0.1:0 --slots 1 -t "$work/n" > "$work/node.out" 2>/dev/null &
node=$!
until grep -q '^listening on ' "$work/node.out"; do sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$work/node.out")

now() { date +%s.%N; }
: > "$work/rows"
for run in $(seq "$runs"); do
  s=$(now)
  taskset -c 0 ffmpeg -y -nostdin -i "$work/in.mkv" "${encode[@]}" "$work/o.mkv" >/dev/null 2>&1
  plain=$(echo "$(now) - $s" | bc)
  # strace keeps its file offset: read only what this run appends.
  offset=$(stat -c %s "$work/trace")
  s=$(now)
  DFFMPEG_SEGMENT_DURATION=$segment taskset -c 1 "$B/dffmpeg" --nodes "$addr" -y -nostdin \
    -nostats -i "$work/in.mkv" "${encode[@]}" "$work/o.mkv" >/dev/null 2>&1
  e=$(now)
  python3 - "$work/trace" "$offset" "$s" "$e" "$plain" <<'EOF' | tee -a "$work/rows"
import sys, datetime
trace, offset = sys.argv[1], int(sys.argv[2])
start, end, plain = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
day = datetime.datetime.fromtimestamp(start).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
began, spans = {}, []
with open(trace, errors="replace") as f:
    f.seek(offset)
    lines = f.read().splitlines()
for line in lines:
    parts = line.split(None, 2)
    if len(parts) < 3:
        continue
    pid, clock, call = parts
    h, m, sec = clock.split(":")
    t = day + int(h) * 3600 + int(m) * 60 + float(sec)
    # A process's execve may be logged unfinished, then resumed: its start counts.
    if call.startswith("execve(") and 'ffmpeg"' in call.split(",")[0] and "= -1" not in call:
        began[pid] = t
    elif call.startswith("exit_group(") and pid in began:
        spans.append((began.pop(pid), t))
spans.sort()
chunks = sum(b - a for a, b in spans)
between = sum(max(0.0, spans[i + 1][0] - spans[i][1]) for i in range(len(spans) - 1))
wall = end - start
print(f"plain {plain:.2f} dffmpeg {wall:.2f} chunks {len(spans)} start-up {spans[0][0] - start:.2f} "
      f"chunk-ffmpegs {chunks:.2f} (extra {chunks - plain:.2f}) between {between:.2f} tail {end - spans[-1][1]:.2f}")
EOF
done
python3 - "$work/rows" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def col(name, offset=1):
    return statistics.median(float(r[r.index(name) + offset].strip("()")) for r in rows)
print(f"medians of {len(rows)} runs: plain {col('plain'):.2f} s, dffmpeg {col('dffmpeg'):.2f} s; "
      f"start-up {col('start-up'):.2f}, chunk ffmpegs' extra {col('(extra'):.2f}, "
      f"between chunks {col('between'):.2f}, tail {col('tail'):.2f}")
EOF
