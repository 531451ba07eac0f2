/**
 * The validator's WebAssembly bytes. In development they are read from
 * wasm/pkg; the bundler replaces this module with one that embeds them, so
 * the single file needs nothing beside it.
 */
import { readFileSync } from "node:fs";

export function wasmBytes(): Uint8Array {
  return readFileSync(new URL("../wasm/pkg/multus_validator_bg.wasm", import.meta.url));
}
