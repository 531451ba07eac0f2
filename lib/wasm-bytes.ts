// Development: read the .wasm from wasm/pkg. The bundler substitutes this module with one exporting the same wasmBytes() and wasmId() over embedded bytes.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

/** The validator's WebAssembly module (wasm/pkg/multus_validator_bg.wasm). */
export function wasmBytes(): Uint8Array {
  return readFileSync(new URL("../wasm/pkg/multus_validator_bg.wasm", import.meta.url));
}

/** The module's identity: the SHA-256 of its bytes, hex. */
export function wasmId(): string {
  return createHash("sha256").update(wasmBytes()).digest("hex");
}
