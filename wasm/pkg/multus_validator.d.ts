/** A compiled, instantiated validator. */
export interface Validator {
  /**
   * JSON input `{"netconf"?: object, "attachments"?: [{"path", "ifname"?, "config"}]}`
   * in, JSON answer out: `{"type":"valid","warnings":[...]}` or
   * `{"type":"invalid","errors":[...],"warnings":[...]}`, each problem
   * `{"path","message"}`. Never throws, for any input.
   */
  validate(input: string): string;
}

/**
 * Compile and instantiate the module synchronously from its bytes (throws
 * only if the bytes are not this module).
 */
export function instantiate(bytes: Uint8Array): Validator;

/**
 * The raw exports of multus_validator_bg.wasm (no imports). Pointers and
 * lengths are u32. To validate: `p = alloc(n)` (0: out of memory), write the
 * n bytes of UTF-8 JSON input at p, `validate(p, n)` returns the answer's
 * length, read that many bytes of UTF-8 JSON at `answer_ptr()` (also
 * `answer_len()`; valid until the next call), then `dealloc(p, n)`.
 */
export interface ValidatorExports {
  readonly memory: WebAssembly.Memory;
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  validate(ptr: number, len: number): number;
  answer_ptr(): number;
  answer_len(): number;
}
