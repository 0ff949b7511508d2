#!/usr/bin/env bash
# The test command: installs what is missing, builds the workspace once, and
# runs every test against the built binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --workspace --locked
cargo test --workspace --locked
