// Loader for multus_validator_bg.wasm: one synchronous instantiation, then
// validate(JSON text) -> JSON text through the module's alloc/validate ABI.
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function instantiate(bytes) {
  const module = new WebAssembly.Module(bytes);
  const { exports: w } = new WebAssembly.Instance(module, {});
  return {
    validate(input) {
      const data = encoder.encode(input);
      const ptr = w.alloc(data.length);
      try {
        new Uint8Array(w.memory.buffer, ptr, data.length).set(data);
        const len = w.validate(ptr, data.length);
        // Read after the call: memory may have grown.
        return decoder.decode(new Uint8Array(w.memory.buffer, w.answer_ptr(), len));
      } finally {
        w.dealloc(ptr, data.length);
      }
    },
  };
}
