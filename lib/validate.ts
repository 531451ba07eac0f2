/**
 * Config validation by the WebAssembly validator (wasm/), before anything is
 * attached. The module is compiled and instantiated once per process, on
 * first use; the verbs that never validate never pay for it.
 */
import { CniError, ErrorCode } from "./cni/errors.ts";
import type { JsonObject } from "./json.ts";
import { instantiate, type Validator } from "../wasm/pkg/multus_validator.js";
import { wasmBytes } from "./wasm-bytes.ts";

export interface ValidatorAttachment {
  /** Names the attachment in problem paths, e.g. "ns1/macvlan-a". */
  path: string;
  /** The interface it will get; checked and required to be unique. */
  ifname?: string;
  config: JsonObject;
}

export interface ValidatorInput {
  /** The plugin's own config (its delegates are checked too). */
  netconf?: JsonObject;
  attachments?: ValidatorAttachment[];
}

export interface Problem {
  /** Where: dotted keys and [i] indices, prefixed by the attachment's path. */
  path: string;
  message: string;
}

export type ValidationAnswer =
  | { type: "valid"; warnings: Problem[] }
  | { type: "invalid"; errors: Problem[]; warnings: Problem[] };

let validator: Validator | undefined;

/** The instance; failing to load is a bug (the bytes are embedded in the single file). */
function load(): Validator {
  validator ??= instantiate(wasmBytes());
  return validator;
}

const failed = (message: string): ValidationAnswer => ({ type: "invalid", errors: [{ path: "", message }], warnings: [] });

const isProblemList = (v: unknown): v is Problem[] =>
  Array.isArray(v) && v.every((p) => typeof p === "object" && p !== null && typeof p.path === "string" && typeof p.message === "string");

/** Every problem of the input at once. Never throws for any input. */
export function validateInput(input: ValidatorInput): ValidationAnswer {
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch (e) {
    return failed(`input cannot be written as JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const out = load().validate(text ?? "null");
  let a: unknown;
  try {
    a = JSON.parse(out);
  } catch {
    return failed(`the validator answered something that is not JSON: ${out.slice(0, 200)}`);
  }
  const o = (typeof a === "object" && a !== null ? a : {}) as Record<string, unknown>;
  if (o.type === "valid" && isProblemList(o.warnings)) return { type: "valid", warnings: o.warnings };
  if (o.type === "invalid" && isProblemList(o.errors) && o.errors.length > 0 && isProblemList(o.warnings)) {
    return { type: "invalid", errors: o.errors, warnings: o.warnings };
  }
  return failed(`the validator answered in an unexpected shape: ${out.slice(0, 200)}`);
}

/** "path: message", or the message alone for the input as a whole. */
export const problemLine = (p: Problem): string => (p.path ? `${p.path}: ${p.message}` : p.message);

/**
 * Throw a CniError (code 7, InvalidNetworkConfig) whose msg is the first
 * problem and whose details list them all, one a line; return if valid.
 */
export function assertValid(input: ValidatorInput): void {
  const a = validateInput(input);
  if (a.type === "invalid") {
    throw new CniError(ErrorCode.InvalidNetworkConfig, problemLine(a.errors[0]), a.errors.map(problemLine).join("\n"));
  }
}
