// Loader for multus_validator_bg.wasm: compiled and instantiated
// synchronously, then validate(JSON text) -> JSON answer text through the
// module's raw ABI (see multus_validator.d.ts). validate() never throws: if
// the module traps (e.g. out of memory) the answer says so and the next call
// gets a fresh instance.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function failure(message) {
  return JSON.stringify({ type: "invalid", errors: [{ path: "", message }], warnings: [] });
}

function call(w, input) {
  const data = encoder.encode(input);
  const ptr = w.alloc(data.length) >>> 0;
  if (ptr === 0) return failure(`input of ${data.length} bytes is too large for the validator`);
  try {
    new Uint8Array(w.memory.buffer, ptr, data.length).set(data);
    const len = w.validate(ptr, data.length) >>> 0;
    // Take the buffer after the call: memory may have grown.
    return decoder.decode(new Uint8Array(w.memory.buffer, w.answer_ptr() >>> 0, len));
  } finally {
    w.dealloc(ptr, data.length);
  }
}

export function instantiate(bytes) {
  const module = new WebAssembly.Module(bytes);
  const fresh = () => new WebAssembly.Instance(module, {}).exports;
  let w = fresh();
  return {
    validate(input) {
      try {
        w ??= fresh();
        return call(w, String(input));
      } catch (e) {
        w = undefined;
        return failure(`the validator failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}
