#!/usr/bin/env bash
# The test command: installs what is missing, builds the workspace once, and
# runs every test against the built binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --workspace --locked
# The example policies, as the wasm modules users would build.
cargo build --locked --release --target wasm32-unknown-unknown \
  -p least-loaded-policy -p fastest-first-policy -p scene-aware-policy
cargo test --workspace --locked
