#!/usr/bin/env bash
# Rebuilds the default policy's wasm module byte for byte into
# cli/assets/default_policy.wasm, which is committed and embedded in dffmpeg.
# With --check, rebuilds it aside and fails if the bytes differ (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
out=cli/assets/default_policy.wasm
root=$(pwd)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# A target dir of its own: the flags below must not invalidate the main build.
target=$root/target/policy-build
# Paths differ between machines; remapped, they cannot change the bytes.
CARGO_ENCODED_RUSTFLAGS=$(printf '%s\037%s' \
  "--remap-path-prefix=$root=/dffmpeg" "--remap-path-prefix=$cargo_home=/cargo")
export CARGO_ENCODED_RUSTFLAGS
cargo build --locked --quiet -p default-policy --target wasm32-unknown-unknown \
  --profile policy --target-dir "$target"
built=$target/wasm32-unknown-unknown/policy/default_policy.wasm
if [ "${1:-}" = --check ]; then
  if ! cmp -s "$built" "$out"; then
    echo "$out differs from a rebuild: run scripts/build-default-policy.sh and commit it" >&2
    exit 1
  fi
  echo "$out matches a rebuild ($(wc -c < "$out") bytes)"
else
  mkdir -p "$(dirname "$out")"
  cp "$built" "$out"
  echo "wrote $out ($(wc -c < "$out") bytes)"
fi
