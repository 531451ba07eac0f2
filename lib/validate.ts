/**
 * Config validation by the WebAssembly validator (wasm/), before anything is
 * attached. The module is compiled and instantiated once per process, on
 * first use; the verbs that never validate never pay for it, and neither does
 * a plugin call whose input this validator already found valid (see assertValid).
 */
import { lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { instantiate, type Validator } from "../wasm/pkg/multus_validator.js";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { atomicWrite, readRegularText } from "./files.ts";
import { isJsonObject, type JsonObject } from "./json.ts";
import { formatPosition, STDIN, valuePosition } from "./json-position.ts";
import type { Logger } from "./log.ts";
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
 * identity and the input's JSON text, holding both and the input's warnings
 * (the exact text decides, not the hash). On tmpfs: gone at reboot;
 * root-only, like /run itself. Whoever can write here could make an input
 * skip validation, but could as well replace the plugin.
 */
export const VALID_MEMO_DIR = "/run/multus/validated";
/** Entries kept; past it, the oldest quarter is removed. */
export const MEMO_MAX_ENTRIES = 128;
/** An entry (input and warnings) larger than this is never written: that input is validated every time. */
export const MEMO_MAX_ENTRY_BYTES = 64 * 1024;
/** A temp file this old was left by a writer that died between its write and its rename. */
const STALE_TEMP_MS = 60_000;

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

/** Keys that carry one pod's data and that the validator only checks to be objects. */
const PER_POD = ["runtimeConfig", "args", "prevResult"];

/** `o` with each per-pod object emptied: a pod's cni-args, port mappings or IPs make no entry of their own. */
function withoutPodData(o: JsonObject): JsonObject {
  const out: JsonObject = { ...o };
  for (const k of PER_POD) if (isJsonObject(out[k])) out[k] = {};
  if (Array.isArray(out.plugins)) out.plugins = out.plugins.map((p) => (isJsonObject(p) ? withoutPodData(p) : p));
  if (Array.isArray(out.delegates)) out.delegates = out.delegates.map((d) => (isJsonObject(d) ? withoutPodData(d) : d));
  return out;
}

/**
 * What the memo keys an input by: the validator's answer is the same for
 * any per-pod data (tests/validate-memo.test.ts checks it), so that data is
 * left out.
 */
function memoKey(input: ValidatorInput): ValidatorInput {
  return {
    ...(input.netconf ? { netconf: withoutPodData(input.netconf) } : {}),
    ...(input.attachments ? { attachments: input.attachments.map((a) => ({ ...a, config: withoutPodData(a.config) })) } : {}),
  };
}

interface MemoEntry {
  file: string;
  /** The validator's identity and the input's text, a line each. */
  head: string;
}

function memoEntry(input: ValidatorInput, dir: string): MemoEntry | undefined {
  try {
    const head = `${wasmId()}\n${JSON.stringify(memoKey(input))}\n`;
    return head.length > MEMO_MAX_ENTRY_BYTES ? undefined : { file: join(dir, memoName(head)), head };
  } catch {
    return undefined; // not JSON (a cycle ...): the validator says why
  }
}

/** The warnings of a remembered input, or undefined when it is not remembered. */
function recall(e: MemoEntry): Problem[] | undefined {
  try {
    const text = readRegularText(e.file, { maxBytes: MEMO_MAX_ENTRY_BYTES, nofollow: true });
    if (!text.startsWith(e.head)) return undefined;
    const warnings: unknown = JSON.parse(text.slice(e.head.length));
    return isProblemList(warnings) ? warnings : undefined;
  } catch {
    return undefined; // not seen before, or not an entry we wrote
  }
}

function remember(e: MemoEntry, warnings: Problem[], dir: string): void {
  const data = `${e.head}${JSON.stringify(warnings)}`;
  if (Buffer.byteLength(data) > MEMO_MAX_ENTRY_BYTES) return;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A remembered input is a hint, lost with /run at a reboot: no fsync.
    atomicWrite(e.file, data, 0o600, { durable: false });
    evict(dir);
  } catch {
    // not root, or a read-only /run: the next call validates again
  }
}

/**
 * Past MEMO_MAX_ENTRIES, remove the oldest entries (by mtime) down to three
 * quarters, and dead writers' temp files. Only a new entry pays for it: one
 * directory read, and a stat per entry once every MEMO_MAX_ENTRIES / 4 new ones.
 */
function evict(dir: string): void {
  const names = readdirSync(dir);
  if (names.length <= MEMO_MAX_ENTRIES) return;
  const now = Date.now();
  const entries: { path: string; mtime: number }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    try {
      const mtime = lstatSync(path).mtimeMs;
      if (!name.endsWith(".tmp")) entries.push({ path, mtime });
      else if (now - mtime > STALE_TEMP_MS) rmSync(path, { force: true });
    } catch {
      // removed meanwhile by another call
    }
  }
  entries.sort((a, b) => a.mtime - b.mtime);
  for (const { path } of entries.slice(0, entries.length - Math.floor((MEMO_MAX_ENTRIES * 3) / 4))) rmSync(path, { force: true });
}

export interface AssertOptions {
  /** Where valid inputs are remembered; VALID_MEMO_DIR by default. */
  memoDir?: string;
  /** Where the input's warnings go (level info). */
  log?: Logger;
  /** The text `input.netconf` was parsed from (stdin): an error's details then say where each problem is in it. */
  netconfText?: string;
}

/** The details of an invalid input: every problem a line, each led by `<stdin>:line:column:` when the text is known. */
function detailLines(errors: Problem[], text: string | undefined): string {
  return errors
    .map((p) => {
      const at = text === undefined ? undefined : valuePosition(text, p.path);
      return at ? `${STDIN}:${formatPosition(at)}: ${problemLine(p)}` : problemLine(p);
    })
    .join("\n");
}

/**
 * Throw a CniError (code 7, InvalidNetworkConfig) whose msg is the first
 * problem and whose details list them all, one a line; return the warnings
 * if valid (they never fail a call; `log` records them). The validator is
 * deterministic, so an input it found valid before (the node's config on
 * every ADD) is not validated again: compiling it is most of the plugin's
 * own CPU time on an ADD. Only valid inputs are remembered.
 */
export function assertValid(input: ValidatorInput, opts: AssertOptions = {}): Problem[] {
  const dir = opts.memoDir ?? VALID_MEMO_DIR;
  const entry = memoEntry(input, dir);
  let warnings = entry && recall(entry);
  if (!warnings) {
    const a = validateInput(input);
    if (a.type === "invalid") {
      throw new CniError(ErrorCode.InvalidNetworkConfig, problemLine(a.errors[0]), detailLines(a.errors, opts.netconfText));
    }
    warnings = a.warnings;
    if (entry) remember(entry, warnings, dir);
  }
  if (warnings.length > 0) opts.log?.info("config warnings", { warnings: warnings.map(problemLine) });
  return warnings;
}
