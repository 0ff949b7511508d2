#!/usr/bin/env bash
# The main job, on a fresh machine: build, start two local nodes, encode a
# generated clip through them, and verify it frame by frame against plain
# ffmpeg. Prints VERIFIED and exits 0 only if the frames are identical.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --workspace --locked

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

nodes=()
for i in 1 2; do
  mkdir -p "$work/node$i"
  target/debug/dffmpeg-node -n 127.0.0.1:0 --slots 1 -t "$work/node$i" > "$work/node$i.out" 2> "$work/node$i.log" &
  pids+=($!)
  until grep -q '^listening on ' "$work/node$i.out"; do sleep 0.1; done
  nodes+=(--nodes "$(sed -n 's/^listening on //p' "$work/node$i.out")")
done

echo "== generating a 10 s 640x360 clip with audio"
ffmpeg -hide_banner -v error -f lavfi -i testsrc2=size=640x360:rate=25:duration=10 \
  -f lavfi -i sine=frequency=440:duration=10 -c:v libx264 -g 100 -bf 3 -c:a aac "$work/clip.mkv"

echo "== dffmpeg over two nodes: ${nodes[*]}"
start=$(date +%s.%N)
target/debug/dffmpeg "${nodes[@]}" --segment-duration 2 -y -loglevel verbose \
  -i "$work/clip.mkv" -c:v libx264 -qp 0 -preset veryfast -c:a copy "$work/dist.mkv"
end=$(date +%s.%N)

echo "== plain ffmpeg, same command"
ffmpeg -hide_banner -v error -y -i "$work/clip.mkv" -c:v libx264 -qp 0 -preset veryfast -c:a copy "$work/plain.mkv"

for f in dist plain; do
  ffmpeg -v error -i "$work/$f.mkv" -map 0:v -f framemd5 - > "$work/$f.video.md5"
  ffmpeg -v error -i "$work/$f.mkv" -map 0:a -c copy -f framemd5 - > "$work/$f.audio.md5"
done
if cmp -s "$work/dist.video.md5" "$work/plain.video.md5" && cmp -s "$work/dist.audio.md5" "$work/plain.audio.md5"; then
  frames=$(grep -vc '^#' "$work/dist.video.md5")
  printf 'VERIFIED: %s frames and every audio packet identical to plain ffmpeg (distributed encode took %.2f s)\n' \
    "$frames" "$(echo "$end - $start" | bc)"
else
  echo "MISMATCH: the distributed output differs from plain ffmpeg's" >&2
  diff "$work/plain.video.md5" "$work/dist.video.md5" | head -20 >&2
  exit 1
fi
