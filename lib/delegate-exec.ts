/**
 * The one way a delegate runs, for every verb: ADD, DEL and CHECK of one
 * attachment, STATUS and GC of one network. A conflist runs its plugins in
 * order (for ADD each gets the previous result) and in reverse for DEL, like
 * a runtime does.
 */

import { CniError, ErrorCode } from "./cni/errors.ts";
import { versionAllows, versionAtLeast } from "./cni/version.ts";
import { type Delegate, isMultusPluginType, pluginConfig } from "./delegate.ts";
import { isJsonObject, type JsonObject, nestedDeeperThan } from "./json.ts";
import type { ValidAttachment } from "./netconf.ts";
import { invokePlugin, type PluginEnv, type PluginVerb } from "./plugin-exec.ts";

/**
 * Most delegates one ADD or DEL runs at once with "parallel": enough for any
 * pod's networks, few enough that a config listing hundreds does not fork
 * them all at once.
 */
export const MAX_PARALLEL_DELEGATES = 8;

export interface ExecOptions {
  env: PluginEnv;
  timeoutMs: number;
  /** The attachment's runtime config (each plugin gets what its capabilities declare). */
  runtimeConfig?: JsonObject;
  /** Told each plugin's pid as it starts. */
  onStart?: (pid: number) => void;
}

/** Far deeper than any CNI result; a deeper one could not be written to the record or sent back as prevResult. */
const RESULT_MAX_DEPTH = 32;

function decodeResult(stdout: string, d: Delegate, pluginType: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(stdout);
  } catch {
    throw new CniError(
      ErrorCode.DelegateFailed,
      `plugin "${pluginType}" failed: it succeeded but printed no valid result`,
      stdout.slice(0, 500),
    );
  }
  if (!isJsonObject(v)) {
    throw new CniError(ErrorCode.DelegateFailed, `plugin "${pluginType}" failed: it printed a result that is not an object`);
  }
  if (nestedDeeperThan(v, RESULT_MAX_DEPTH)) {
    throw new CniError(
      ErrorCode.DelegateFailed,
      `plugin "${pluginType}" failed: it printed a result nested deeper than ${RESULT_MAX_DEPTH} levels`,
    );
  }
  if (v.cniVersion === undefined) v.cniVersion = d.cniVersion;
  return v;
}

/** Plugin `i` of a delegate, with its stdin built from the delegate and the attachment (and `extra` keys, for GC). */
function runPlugin(d: Delegate, i: number, verb: PluginVerb, o: ExecOptions, prevResult?: JsonObject, extra?: JsonObject): Promise<string> {
  const config = { ...pluginConfig(d, i, prevResult, o.runtimeConfig), ...extra };
  return invokePlugin({ pluginType: d.pluginTypes[i], verb, env: o.env, config, timeoutMs: o.timeoutMs, onStart: o.onStart });
}

/** ADD; returns the delegate's final result as printed (its own version). */
export async function addDelegate(d: Delegate, o: ExecOptions): Promise<JsonObject> {
  let prev: JsonObject | undefined;
  for (let i = 0; i < d.pluginTypes.length; i++) {
    const stdout = await runPlugin(d, i, "ADD", o, prev);
    prev = decodeResult(stdout, d, d.pluginTypes[i]);
  }
  return prev!;
}

/**
 * DEL, best effort: every plugin of a conflist is tried (reverse order) even
 * when one fails; the failures are thrown together at the end. A Multus
 * plugin is never run: DEL never recurses (only a record of an older
 * release can name one; ADD refuses them).
 */
export async function delDelegate(d: Delegate, o: ExecOptions, prevResult?: JsonObject): Promise<void> {
  // prevResult on DEL exists since 0.4.0.
  const prev = prevResult && versionAtLeast(d.cniVersion, "0.4.0") ? prevResult : undefined;
  const failures: string[] = [];
  for (let i = d.pluginTypes.length - 1; i >= 0; i--) {
    if (isMultusPluginType(d.pluginTypes[i])) continue;
    try {
      await runPlugin(d, i, "DEL", o, prev);
    } catch (e) {
      failures.push(`DEL of network "${d.name}" on ${o.env.ifName}: ${(e as Error).message}`);
    }
  }
  if (failures.length === 1) throw new CniError(ErrorCode.DelegateFailed, failures[0]);
  if (failures.length > 1) throw new CniError(ErrorCode.DelegateFailed, failures.join("; "));
}

/** Can this delegate be CHECKed at all (CHECK exists since 0.4.0)? */
export function canCheck(d: Delegate): boolean {
  if (!versionAllows(d.cniVersion, "CHECK")) return false;
  return !(d.kind === "conflist" && d.config.disableCheck === true);
}

export async function checkDelegate(d: Delegate, o: ExecOptions, prevResult: JsonObject): Promise<void> {
  for (let i = 0; i < d.pluginTypes.length; i++) {
    await runPlugin(d, i, "CHECK", o, prevResult);
  }
}

/** STATUS of a network, plugin by plugin; the first failure is thrown (a DelegateError with the plugin's code). */
export async function statusDelegate(d: Delegate, o: ExecOptions): Promise<void> {
  for (let i = 0; i < d.pluginTypes.length; i++) await runPlugin(d, i, "STATUS", o);
}

/** The runtime's list of the attachments still in use, as GC hands it to a delegate. */
export const VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments";

/** GC of a network: every plugin is given the attachments that stay, each tried; the failures are thrown together. */
export async function gcDelegate(d: Delegate, o: ExecOptions, valid: readonly ValidAttachment[]): Promise<void> {
  const failures: string[] = [];
  for (let i = 0; i < d.pluginTypes.length; i++) {
    try {
      await runPlugin(d, i, "GC", o, undefined, { [VALID_ATTACHMENTS_KEY]: valid });
    } catch (e) {
      failures.push((e as Error).message);
    }
  }
  if (failures.length) throw new CniError(ErrorCode.DelegateFailed, failures.join("; "));
}
