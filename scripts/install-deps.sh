#!/usr/bin/env bash
# Installs what a fresh machine lacks: ffmpeg (with ffprobe) from Debian's
# packages, bc for the demo's arithmetic, openssl for the TLS tests' certificates,
# strace for the hostile-spec test, a font for the drawtext tests, the wasm32 target for policies, and the
# Python clients the tests use.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || missing+=(ffmpeg)
command -v bc >/dev/null || missing+=(bc)
# The TLS tests make their certificates with the openssl command.
command -v openssl >/dev/null || missing+=(openssl)
# The hostile-spec test watches the node's ffmpeg with strace.
command -v strace >/dev/null || missing+=(strace)
# The drawtext tests draw with DejaVu Sans (a font file sent to the nodes).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$' \
  || rustup target add wasm32-unknown-unknown
# The Python clients the tests drive dffmpeg through (ffmpeg-python, moviepy),
# in a virtualenv under target/ so nothing is installed system-wide.
venv=target/python
if ! "$venv/bin/python" -c 'import ffmpeg, moviepy' 2>/dev/null; then
  command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
  python3 -m venv "$venv" 2>/dev/null || {
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt
fi
