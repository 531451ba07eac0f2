/**
 * Config validation by the WebAssembly validator (wasm/), before anything is
 * attached. The module is compiled and instantiated once per process, on
 * first use; the verbs that never validate never pay for it.
 */
import { CniError, ErrorCode } from "./cni/errors.ts";
import type { JsonObject } from "./delegate.ts";
import { instantiate, type Validator } from "../wasm/pkg/multus_validator.js";
import { wasmBytes } from "./wasm-bytes.ts";

export interface ValidatorAttachment {
  /** Names the attachment in problem paths, e.g. "ns1/macvlan-a". */
  path: string;
  ifname?: string;
  config: JsonObject;
}

export interface ValidatorInput {
  netconf?: JsonObject;
  attachments?: ValidatorAttachment[];
}

export interface Problem {
  path: string;
  message: string;
}

export type ValidationAnswer =
  | { type: "valid"; warnings: Problem[] }
  | { type: "invalid"; errors: Problem[]; warnings: Problem[] };

let validator: Validator | undefined;

export function validateInput(input: ValidatorInput): ValidationAnswer {
  validator ??= instantiate(wasmBytes());
  return JSON.parse(validator.validate(JSON.stringify(input))) as ValidationAnswer;
}

const line = (p: Problem) => (p.path ? `${p.path}: ${p.message}` : p.message);

/** Throw a CniError (code 7) naming the first problem and listing them all. */
export function assertValid(input: ValidatorInput): ValidationAnswer & { type: "valid" } {
  const a = validateInput(input);
  if (a.type === "invalid") {
    throw new CniError(ErrorCode.InvalidNetworkConfig, line(a.errors[0]), a.errors.map(line).join("\n"));
  }
  return a;
}

export { line as problemLine };
