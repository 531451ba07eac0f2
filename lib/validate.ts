/**
 * Config validation by the WebAssembly validator (wasm/), before anything is
 * attached. The module is compiled and instantiated once per process, on
 * first use; the verbs that never validate never pay for it, and neither does
 * a plugin call whose input this validator already found valid (see assertValid).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { instantiate, type Validator } from "../wasm/pkg/multus_validator.js";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { atomicWrite, readRegularText } from "./files.ts";
import type { JsonObject } from "./json.ts";
import { wasmBytes, wasmId } from "./wasm-bytes.ts";

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

export type ValidationAnswer = { type: "valid"; warnings: Problem[] } | { type: "invalid"; errors: Problem[]; warnings: Problem[] };

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
 * Inputs found valid, one file each: named by a hash of the validator's
 * identity and the input's JSON text, holding both (the exact text decides,
 * not the hash). On tmpfs: gone at reboot; root-only, like /run itself.
 */
export const VALID_MEMO_DIR = "/run/multus/validated";

/** 53 bits of a string hash (cyrb53), as hex: a file name, not a proof. */
function memoName(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16);
}

/**
 * Throw a CniError (code 7, InvalidNetworkConfig) whose msg is the first
 * problem and whose details list them all, one a line; return if valid.
 * The validator is deterministic, so an input it found valid before (the
 * node's config on every ADD) is not validated again: compiling it is most
 * of the plugin's own CPU time on an ADD. Only valid inputs are remembered.
 */
export function assertValid(input: ValidatorInput): void {
  let memo: { file: string; text: string } | undefined;
  try {
    const text = `${wasmId()}\n${JSON.stringify(input)}`;
    memo = { file: join(VALID_MEMO_DIR, memoName(text)), text };
    if (readRegularText(memo.file, { nofollow: true }) === memo.text) return;
  } catch {
    // not seen before (or no memo at all): validate
  }
  const a = validateInput(input);
  if (a.type === "invalid") {
    throw new CniError(ErrorCode.InvalidNetworkConfig, problemLine(a.errors[0]), a.errors.map(problemLine).join("\n"));
  }
  if (!memo) return;
  try {
    mkdirSync(VALID_MEMO_DIR, { recursive: true, mode: 0o700 });
    // A remembered input is a hint, lost with /run at a reboot: no fsync.
    atomicWrite(memo.file, memo.text, 0o600, { durable: false });
  } catch {
    // not root, or a read-only /run: the next call validates again
  }
}
