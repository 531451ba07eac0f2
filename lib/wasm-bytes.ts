// Development: read the .wasm from wasm/pkg. The bundler substitutes this module with one exporting the same wasmBytes() over embedded bytes.
import { readFileSync } from "node:fs";

/** The validator's WebAssembly module (wasm/pkg/multus_validator_bg.wasm). */
export function wasmBytes(): Uint8Array {
  return readFileSync(new URL("../wasm/pkg/multus_validator_bg.wasm", import.meta.url));
}
