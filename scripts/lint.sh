#!/usr/bin/env bash
# The house rules CI enforces, each a line of its own:
#   types (tsc), lint + format (Biome), no import cycle in lib/ and main.ts,
#   functions of at most 50 lines on the ADD/DEL path,
#   Rust format and lints (rustfmt, clippy),
#   and the size budgets of what we ship.
# Needs: npm ci; apt-get install cargo rustfmt rust-clippy (Debian's, offline).
set -uo pipefail
cd "$(dirname "$0")/.."
failed=0
step() {
  local name=$1
  shift
  if "$@"; then echo "lint: $name ok"; else echo "lint: $name FAILED" >&2; failed=1; fi
}

step "tsc --noEmit" npx --no-install tsc --noEmit -p .
step "biome check (lint + format)" npx --no-install biome check --diagnostic-level=error .
step "no import cycle" node scripts/import-cycles.mjs
step "ADD/DEL functions at most 50 lines" node scripts/function-size.mjs
(
  cd wasm || exit 1
  export PATH="/usr/bin:$PATH" RUSTC=/usr/bin/rustc
  step "cargo fmt --check" /usr/bin/cargo fmt --check
  step "cargo clippy -D warnings" /usr/bin/cargo clippy --quiet --offline --release --all-targets -- -D warnings
  exit "$failed"
) || failed=1

# Budgets (KiB): what an ADD has to load, and what an operator copies.
budget() {
  local file=$1 max=$2
  [ -f "$file" ] || { echo "lint: $file missing (run npm run build)" >&2; return 1; }
  local kib=$(($(stat -c %s "$file") / 1024))
  [ "$kib" -le "$max" ] || { echo "lint: $file is $kib KiB, over its $max KiB budget" >&2; return 1; }
  echo "lint: $file $kib KiB (budget $max KiB)"
}
step "bundle budget" budget dist/multus.mjs 1536
step "validator budget" budget wasm/pkg/multus_validator_bg.wasm 150
step "executable budget" budget dist/multus 122880
exit "$failed"
