/** A compiled, instantiated validator. */
export interface Validator {
  /** JSON input `{"netconf"?, "attachments"?}` in, JSON answer out; never throws for any input. */
  validate(input: string): string;
}

/** Compile and instantiate the module synchronously from its bytes. */
export function instantiate(bytes: Uint8Array): Validator;
