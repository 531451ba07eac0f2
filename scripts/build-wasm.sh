#!/usr/bin/env bash
# Rebuild the validator's WebAssembly module from wasm/ with Debian's Rust
# toolchain and packaged crates (offline), after running its tests natively.
#   scripts/build-wasm.sh           rebuild wasm/pkg/multus_validator_bg.wasm
#   scripts/build-wasm.sh --check   clean build in a temp dir; fail if the committed file differs
# Needs: apt-get install rustc cargo libstd-rust-dev-wasm32 librust-serde-json-dev binaryen
# The same sources give the same bytes with the same Debian packages (rustc
# 1.63, binaryen 108): paths are remapped and nothing records a time.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/wasm"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: scripts/build-wasm.sh [--check]" >&2; exit 2 ;;
esac

for tool in /usr/bin/cargo /usr/bin/rustc; do
  [ -x "$tool" ] || { echo "$tool is missing: apt-get install rustc cargo libstd-rust-dev-wasm32 librust-serde-json-dev binaryen" >&2; exit 1; }
done
command -v wasm-opt >/dev/null || { echo "wasm-opt is missing: apt-get install binaryen" >&2; exit 1; }

# Debian's toolchain, even when a newer one is earlier on PATH, and nothing
# from the environment that would change the flags.
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET RUSTC_WRAPPER RUSTC_WORKSPACE_WRAPPER CARGO_PROFILE_RELEASE_OPT_LEVEL
cargo=/usr/bin/cargo
# Same bytes from the same sources, wherever they are checked out.
export RUSTFLAGS="--remap-path-prefix=$root/wasm=/src --remap-path-prefix=/usr/share/cargo/registry=/registry"
export SOURCE_DATE_EPOCH=0

out="$root/wasm/pkg/multus_validator_bg.wasm"
if [ "$check" -eq 1 ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  export CARGO_TARGET_DIR="$tmp/target"
  dest="$tmp/built.wasm"
else
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/wasm/target}"
  dest="$out"
fi

"$cargo" test --quiet --release --locked --lib
"$cargo" build --quiet --release --locked --target wasm32-unknown-unknown
raw="$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/multus_validator.wasm"
wasm-opt -Oz --strip-debug --strip-producers "$raw" -o "$dest"

size=$(stat -c %s "$dest")
if [ "$size" -gt 153600 ]; then
  echo "the validator is $size bytes, over its 150 KiB budget" >&2
  exit 1
fi
if [ "$check" -eq 1 ]; then
  if cmp -s "$dest" "$out"; then
    echo "wasm/pkg/multus_validator_bg.wasm matches its sources ($size bytes)"
  else
    echo "wasm/pkg/multus_validator_bg.wasm differs from what wasm/ builds ($size bytes): run scripts/build-wasm.sh and commit" >&2
    exit 1
  fi
else
  echo "wrote wasm/pkg/multus_validator_bg.wasm ($size bytes)"
fi
