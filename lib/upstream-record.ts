/**
 * What upstream Multus leaves for a container, read as one of our records,
 * so that after an upgrade in place our DEL and CHECK release and check the
 * attachments upstream made:
 * - its record `<cniDir>/<containerID>`: a JSON array, one object per
 *   attachment in attach order, whose `Bytes` (base64) is the delegate config
 *   exactly as executed; `Name` is the network's (a NAD's `namespace/name`),
 *   `ifnameRequest` the interface asked for. No interface name is stored
 *   otherwise: upstream derives it again, CNI_IFNAME for [0], else
 *   `net<index>`.
 * - libcni's result cache it wrote beside it, one file per attachment,
 *   `<cniDir>/results/<network>-<containerID>-<ifname>` (kind cniCacheV1):
 *   the delegate's `result` (prevResult for DEL and CHECK) and the
 *   `cniArgs` and `capabilityArgs` the delegate was added with.
 * Each results file used is named in the attachment (`resultsFile`), and goes
 * with it.
 */
import { rmdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Attachment } from "./attachment.ts";
import { cniDeviceInfoPath } from "./device-info.ts";
import { readRegularText } from "./files.ts";
import { isJsonObject, type JsonObject } from "./json.ts";

export const UPSTREAM_RESULT_KIND = "cniCacheV1";

/** What a record of upstream's does not say, taken from the call reading it. */
export interface UpstreamContext {
  /** CNI_IFNAME: the interface of attachment [0] unless it asked for one. */
  ifName: string;
  /** Our netconf's cniVersion, for delegate configs without one (as upstream's DEL does). */
  cniVersion: string;
  /** Where device-info files are (device-plugin attachments). */
  deviceInfoDir?: string;
}

/** What upstream's record says, as our attachments, and the netns its results files name (its record does not). */
export interface UpstreamRecord {
  attachments: Attachment[];
  netns: string;
  /** CNI_ARGS of the first attachment's ADD, for attachments whose results file is gone. */
  cniArgs: string;
}

const resultsDir = (cniDir: string) => join(cniDir, "results");

/** The delegate config as executed: `Bytes`, else the parsed conf or conflist upstream kept. */
function configOf(el: JsonObject): JsonObject | undefined {
  if (typeof el.Bytes === "string") {
    try {
      const v: unknown = JSON.parse(Buffer.from(el.Bytes, "base64").toString("utf8"));
      if (isJsonObject(v)) return v;
    } catch {
      // not JSON: fall back to the parsed copies
    }
  }
  const list = el.ConfList;
  if (isJsonObject(list) && Array.isArray(list.plugins) && list.plugins.length) return list;
  return isJsonObject(el.Conf) && typeof el.Conf.type === "string" ? el.Conf : undefined;
}

/** libcni's cached result of one attachment, when there is a file of that name that is about it. */
function readResults(
  cniDir: string,
  containerId: string,
  network: string,
  ifName: string,
): { file: string; cached: JsonObject } | undefined {
  const name = `${network}-${containerId}-${ifName}`;
  // A network name is part of the file name: one that is not a plain name cannot name a file of ours.
  if (basename(name) !== name || name.startsWith(".")) return undefined;
  const file = join(resultsDir(cniDir), name);
  let v: unknown;
  try {
    v = JSON.parse(readRegularText(file, { nofollow: true }));
  } catch {
    return undefined;
  }
  if (!isJsonObject(v) || v.kind !== UPSTREAM_RESULT_KIND || v.containerId !== containerId || v.ifName !== ifName) return undefined;
  return { file, cached: v };
}

/** `[["K","V"], ...]` as CNI_ARGS text. */
function cniArgsText(pairs: unknown): string | undefined {
  if (!Array.isArray(pairs)) return undefined;
  const ok = pairs.filter((p): p is [string, string] => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === "string"));
  return ok.map(([k, v]) => `${k}=${v}`).join(";");
}

/** What upstream gave a secondary attachment as runtime config when no results file says it. */
function requestedRuntime(el: JsonObject): JsonObject | undefined {
  const rc: JsonObject = {};
  if (Array.isArray(el.ipRequest) && el.ipRequest.length) rc.ips = el.ipRequest;
  if (typeof el.macRequest === "string" && el.macRequest) rc.mac = el.macRequest;
  if (typeof el.infinibandGUIDRequest === "string" && el.infinibandGUIDRequest) rc.infinibandGUID = el.infinibandGUIDRequest;
  if (typeof el.deviceID === "string" && el.deviceID) rc.deviceID = el.deviceID;
  return Object.keys(rc).length ? rc : undefined;
}

type Read = { attachment: Omit<Attachment, "cniArgs">; cniArgs?: string; netns?: string };

function attachmentOf(el: unknown, i: number, cniDir: string, containerId: string, ctx: UpstreamContext): Read | string {
  if (!isJsonObject(el)) return `element ${i} is not an object`;
  const config = configOf(el);
  if (!config) return `element ${i} has no delegate config (Bytes, Conf or ConfList)`;
  if (el.ifnameRequest !== undefined && typeof el.ifnameRequest !== "string") return `element ${i} has a malformed ifnameRequest`;
  const ifName = el.ifnameRequest || (i === 0 ? ctx.ifName : `net${i}`);
  const network = typeof config.name === "string" ? config.name : "";
  const statusName = typeof el.Name === "string" && el.Name !== network ? el.Name : undefined;
  const results = network ? readResults(cniDir, containerId, network, ifName) : undefined;
  const cached = results?.cached;
  const runtimeConfig = isJsonObject(cached?.capabilityArgs) ? cached.capabilityArgs : i === 0 ? undefined : requestedRuntime(el);
  const cniArgs = cniArgsText(cached?.cniArgs);
  const deviceID = typeof el.deviceID === "string" && el.deviceID ? el.deviceID : undefined;
  const infoFile =
    typeof runtimeConfig?.CNIDeviceInfoFile === "string"
      ? runtimeConfig.CNIDeviceInfoFile
      : deviceID && ctx.deviceInfoDir
        ? cniDeviceInfoPath(ctx.deviceInfoDir, String(el.Name ?? network), containerId, ifName)
        : undefined;
  const resourceName = typeof el.resourceName === "string" ? el.resourceName : "";
  const attachment = {
    network,
    ifName,
    isClusterNetwork: i === 0,
    config,
    ...(isJsonObject(cached?.result) ? { result: cached.result } : {}),
    ...(runtimeConfig ? { runtimeConfig } : {}),
    ...(statusName ? { statusName } : {}),
    ...(deviceID && infoFile ? { device: { resourceName, deviceID, infoFile } } : {}),
    ...(results ? { resultsFile: results.file } : {}),
  };
  return {
    attachment,
    ...(cniArgs !== undefined ? { cniArgs } : {}),
    ...(typeof cached?.netns === "string" && cached.netns ? { netns: cached.netns } : {}),
  };
}

/** Upstream's record (already parsed) as ours; a string says why it cannot be used. */
export function readUpstreamRecord(list: unknown[], cniDir: string, containerId: string, ctx: UpstreamContext): UpstreamRecord | string {
  if (list.length === 0) return "is an empty list";
  const read: Read[] = [];
  for (const [i, el] of list.entries()) {
    const a = attachmentOf(el, i, cniDir, containerId, ctx);
    if (typeof a === "string") return `(a record of upstream Multus): ${a}`;
    read.push(a);
  }
  // An attachment whose results file is gone: CNI_ARGS as the first one's ADD had them.
  const cniArgs = read[0].cniArgs ?? "";
  return {
    attachments: read.map((r) => ({ ...r.attachment, cniArgs: r.cniArgs ?? cniArgs })),
    // GC passes it on while the namespace exists (the runtime's DEL brings its own).
    netns: read.find((r) => r.netns)?.netns ?? "",
    cniArgs,
  };
}

/** Remove the results files of these attachments (only ever files in `<cniDir>/results`), and the dir once empty. */
export function removeUpstreamResults(cniDir: string, attachments: readonly { resultsFile?: string }[]): void {
  const dir = resultsDir(cniDir);
  const files = attachments.flatMap((a) => (typeof a.resultsFile === "string" && dirname(a.resultsFile) === dir ? [a.resultsFile] : []));
  if (!files.length) return;
  for (const f of files) rmSync(f, { force: true });
  try {
    rmdirSync(dir);
  } catch {
    // not empty (other containers' results), or gone
  }
}
