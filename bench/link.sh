#!/usr/bin/env bash
# A node behind a shaped link: how chunk transfer adds to the encode, and at
# what link speed sending raw frames (an unseekable input: a pipe, a lavfi
# graph) stops paying.
#
# The node runs in a network namespace joined to this one by a veth pair,
# pinned to core 1 with one slot; dffmpeg runs here. Each link rate shapes
# both directions with tc's token bucket (tbf). This kernel's tc has no
# netem: a delay (RATE@DELAY, such as 100mbit@20ms) comes from
# bench/delay_relay.py, a TCP relay on core 0 that holds every byte back
# DELAY each way before the shaped link. No loss is added.
#
# Two inputs of the same SECONDS of 640x360 testsrc2 with some noise: a file
# of H.264 at CRF 18 (chunks travel coded), and the same frames as a lavfi
# graph (chunks travel raw, zstd-compressed; synthetic frames compress far
# better than a camera's, so the raw rows are optimistic). The encode is libx264
# -preset medium, one thread, as ffmpeg pinned to one core runs it here for
# reference. Per run the script prints the wall time, the ratio to that
# ffmpeg, and from the chunks' own timing (DFFMPEG_LOG debug) the seconds
# spent uploading and encoding and the chunk inputs' bytes (before zstd),
# and from those the link rate at which uploading a chunk takes as long as
# encoding it. *Idle* is the wall time less the encodes: what the node's one
# slot spent not encoding (start-up, uploads not overlapped with an encode,
# the last download, the mux), the figure that uploading ahead
# (`--upload-ahead`, the AHEAD variable: `0 1` by default, each rate and
# input run with each) is to shrink, and one that the machine's noise in
# encode speed does not move. With RUNS above 1 each row is run that many
# times and printed as the median (min to max) of the wall and idle times.
#
# Usage: sudo [AHEAD="0 1"] [RUNS=1] bash bench/link.sh [SECONDS] [RATE[@DELAY]...]
#   (default 12 s; unshaped 1gbit 100mbit)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "network namespaces need root" >&2; exit 1; }
secs=${1:-12}
shift $(( $# > 0 ? 1 : 0 )) || true
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(unshaped 1gbit 100mbit)
read -r -a aheads <<< "${AHEAD:-0 1}"
cargo build --release --locked -q -p cli -p node
B=$PWD/target/release
work=$(mktemp -d)
ns=dffmpeg-link-$$
outer=dfl$$a; inner=dfl$$b
runs=${RUNS:-1}
node_pid=
relay_pid=
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null
  [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
  ip link del "$outer" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip link add "$outer" type veth peer name "$inner"
ip link set "$inner" netns "$ns"
ip addr add 10.214.1.1/24 dev "$outer"; ip link set "$outer" up
ip netns exec "$ns" ip addr add 10.214.1.2/24 dev "$inner"
ip netns exec "$ns" ip link set "$inner" up
ip netns exec "$ns" ip link set lo up

shape() {
  tc qdisc del dev "$outer" root 2>/dev/null || true
  ip netns exec "$ns" tc qdisc del dev "$inner" root 2>/dev/null || true
  [ "$1" = unshaped ] && return
  tc qdisc add dev "$outer" root tbf rate "$1" burst 1mbit latency 100ms
  ip netns exec "$ns" tc qdisc add dev "$inner" root tbf rate "$1" burst 1mbit latency 100ms
}

graph="testsrc2=size=640x360:rate=25:duration=$secs,noise=alls=12:allf=t"
ffmpeg -v error -f lavfi -i "$graph" -c:v libx264 -preset veryfast -crf 18 -g 250 "$work/in.mkv"
encode=(-c:v libx264 -preset medium -crf 23 -x264-params threads=1)

mkdir -p "$work/node"
ip netns exec "$ns" taskset -c 1 "$B/dffmpeg-node" -n 10.214.1.2:0 --slots 1 -t "$work/node" \
  > "$work/node.out" 2>/dev/null &
node_pid=$!
until grep -q '^listening on ' "$work/node.out"; do sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$work/node.out")

t() { local s; s=$(date +%s.%N); "$@"; echo "$(date +%s.%N) - $s" | bc; }
alone=$(t taskset -c 0 ffmpeg -v error -y -nostdin -i "$work/in.mkv" "${encode[@]}" "$work/o.mkv")
printf 'ffmpeg alone on one core: %.2f s for %d s of 640x360\n' "$alone" "$secs"

# Sums the chunks' upload and encode seconds and input bytes from the log.
sums() {
  python3 - "$1" <<'PY'
import re, sys
up = enc = sent = 0.0
for line in open(sys.argv[1], errors="replace"):
    if "chunk transferred" not in line:
        continue
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    f = dict(re.findall(r"(\w+)=([0-9.e+-]+)", line))
    up += float(f["upload_s"]); enc += float(f["encode_s"]); sent += float(f["input_bytes"])
print(f"{up:.2f} {enc:.2f} {sent / 1e6:.1f}")
PY
}

# median (min to max) of the numbers in a file, one per line.
spread() {
  python3 - "$1" <<'PY'
import statistics, sys
xs = [float(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{statistics.median(xs):.2f} ({min(xs):.2f} to {max(xs):.2f})")
PY
}

for spec in "${rates[@]}"; do
  rate=${spec%@*}
  shape "$rate"
  target=$addr
  if [ "$spec" != "$rate" ]; then
    delay=${spec#*@}; delay=${delay%ms}
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null
    taskset -c 0 python3 bench/delay_relay.py "$delay" "${addr%:*}" "${addr##*:}" \
      > "$work/relay.out" &
    relay_pid=$!
    until grep -q '^listening on ' "$work/relay.out"; do sleep 0.05; done
    target=$(sed -n 's/^listening on //p' "$work/relay.out")
  fi
  for kind in coded raw; do
    if [ "$kind" = coded ]; then input=(-i "$work/in.mkv"); else input=(-f lavfi -i "$graph"); fi
    for ahead in "${aheads[@]}"; do
      : > "$work/walls"; : > "$work/idles"
      for run in $(seq "$runs"); do
        took=$(t env DFFMPEG_LOG=cli=debug taskset -c 0 "$B/dffmpeg" --nodes "$target" \
          --upload-ahead "$ahead" -y -nostdin -nostats -v verbose "${input[@]}" "${encode[@]}" \
          "$work/o.mkv" 2> "$work/log")
        grep -q ' chunks on ' "$work/log" || { echo "not distributed: $(tail -3 "$work/log")" >&2; exit 1; }
        read -r up enc mb < <(sums "$work/log")
        echo "$took" >> "$work/walls"
        echo "$took - $enc" | bc -l >> "$work/idles"
      done
      even=$(echo "$mb * 8 / $enc" | bc -l)
      if [ "$runs" -gt 1 ]; then
        printf '%-14s %-5s ahead %s, %d runs: wall %s s, idle %s s; last run: uploads %5.2f s of %6.1f MB, encodes %5.2f s; break-even link %.0f Mbit/s (before zstd)\n' \
          "$spec" "$kind" "$ahead" "$runs" "$(spread "$work/walls")" "$(spread "$work/idles")" \
          "$up" "$mb" "$enc" "$even"
      else
        printf '%-14s %-5s ahead %s: %6.2f s = %.2fx ffmpeg alone; idle %5.2f s; uploads %5.2f s of %6.1f MB, encodes %5.2f s; break-even link %.0f Mbit/s (before zstd)\n' \
          "$spec" "$kind" "$ahead" "$took" "$(echo "$took / $alone" | bc -l)" "$(echo "$took - $enc" | bc -l)" \
          "$up" "$mb" "$enc" "$even"
      fi
    done
  done
done
