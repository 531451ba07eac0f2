#!/usr/bin/env bash
# Rebuild the validator's WebAssembly module from wasm/ with Debian's Rust
# toolchain and packaged crates (offline), after running its tests natively.
#   scripts/build-wasm.sh           rebuild wasm/pkg/multus_validator_bg.wasm
#   scripts/build-wasm.sh --check   rebuild into a temp dir; fail if the committed file differs
# Needs: apt-get install rustc cargo libstd-rust-dev-wasm32 librust-serde-json-dev binaryen
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/wasm"

# Debian's toolchain, even when a newer one is earlier on PATH.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
cargo=/usr/bin/cargo
# Same bytes from the same sources, wherever they are checked out.
export RUSTFLAGS="--remap-path-prefix=$root/wasm=/src --remap-path-prefix=/usr/share/cargo/registry=/registry"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/wasm/target}"

"$cargo" test --quiet --release --lib
"$cargo" build --quiet --release --target wasm32-unknown-unknown
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/multus_validator.wasm"

out="$root/wasm/pkg/multus_validator_bg.wasm"
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  wasm-opt -Oz --strip-debug --strip-producers "$raw" -o "$tmp/built.wasm"
  if cmp -s "$tmp/built.wasm" "$out"; then
    echo "wasm/pkg/multus_validator_bg.wasm matches its sources ($(stat -c %s "$out") bytes)"
  else
    echo "wasm/pkg/multus_validator_bg.wasm differs from what wasm/ builds: run scripts/build-wasm.sh and commit" >&2
    exit 1
  fi
else
  wasm-opt -Oz --strip-debug --strip-producers "$raw" -o "$out"
  echo "wrote wasm/pkg/multus_validator_bg.wasm ($(stat -c %s "$out") bytes)"
fi
