/**
 * The per-container cache record: what an ADD attached, so that DEL and CHECK
 * never depend on the config or the API server still being there.
 * One file per container, `<cniDir>/<containerId>`, mode 0600, replaced
 * atomically (temp file, fsync, rename) so a crash never leaves half a record.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { AttachmentDevice, AttachmentRequest } from "./attachment.ts";
import { containerIdProblem } from "./cni/args.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { CURRENT_VERSION } from "./cni/version.ts";
import { loadDelegate } from "./delegate.ts";
import { atomicWrite, FileReadError, readRegularText, tempFilesOf } from "./files.ts";
import { isJsonObject, type JsonObject } from "./json.ts";
import type { ProcessId } from "./proc.ts";
import { readUpstreamRecord, type UpstreamContext } from "./upstream-record.ts";

export const CACHE_KIND = "multusCacheV1";

export interface CachedAttachment {
  network: string;
  ifName: string;
  isClusterNetwork: boolean;
  /** The delegate config exactly as executed (conf or conflist). */
  config: JsonObject;
  /** The delegate's result as it printed it; absent until its ADD succeeded. */
  result?: JsonObject;
  /** Runtime config given to this attachment's plugins (filtered by their capabilities). */
  runtimeConfig?: JsonObject;
  /** CNI_ARGS this attachment's plugins got. */
  cniArgs?: string;
  /** Its name in network-status. */
  statusName?: string;
  /** Its device-plugin device and device-info file: DEL removes the file without asking anyone. */
  device?: AttachmentDevice;
  /** An attachment upstream Multus made: its libcni results file, removed with it (lib/upstream-record.ts). */
  resultsFile?: string;
}

export interface CacheRecord {
  kind: typeof CACHE_KIND;
  containerId: string;
  netns: string;
  /** CNI_IFNAME of the ADD. */
  ifName: string;
  cniArgs: string;
  /** Our netconf's cniVersion at ADD time. */
  cniVersion: string;
  /** false while the ADD is in progress (or was killed mid-way). */
  complete: boolean;
  /** The plugin process doing the ADD, written before any delegate runs. */
  owner?: ProcessId;
  /** Delegate process groups the ADD started (a DEL kills those still running if the owner died). */
  running?: ProcessId[];
  attachments: CachedAttachment[];
}

export function cachePath(cniDir: string, containerId: string): string {
  const problem = containerIdProblem(containerId);
  // Checked again here: this value becomes a file name.
  if (problem) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_CONTAINERID ${problem}`);
  return join(cniDir, containerId);
}

/**
 * Write the record atomically; readable by root only. `durable: false` skips
 * the fsync, for facts that a reboot makes moot anyway (running processes).
 */
export function writeCache(cniDir: string, record: CacheRecord, { durable = true } = {}): void {
  const file = cachePath(cniDir, record.containerId);
  try {
    mkdirSync(cniDir, { recursive: true, mode: 0o700 });
    atomicWrite(file, JSON.stringify(record), 0o600, { durable });
  } catch (e) {
    throw new CniError(ErrorCode.CacheFailure, `cannot write cache record ${file}: ${(e as Error).message}`);
  }
}

export type CacheRead = { state: "missing" } | { state: "corrupt"; problem: string } | { state: "ok"; record: CacheRecord };

/** For a record of upstream Multus, what it does not say; without it, CNI_IFNAME eth0 and our newest version. */
const UPSTREAM_DEFAULTS: UpstreamContext = { ifName: "eth0", cniVersion: CURRENT_VERSION };

function checkRecord(v: unknown, where: { cniDir: string; containerId: string }, upstream: UpstreamContext): CacheRecord | string {
  const { containerId } = where;
  if (Array.isArray(v)) {
    // Upstream Multus's record: after an upgrade in place, its attachments are ours to remove.
    const attachments = readUpstreamRecord(v, where.cniDir, containerId, upstream);
    if (typeof attachments === "string") return attachments;
    return {
      kind: CACHE_KIND,
      containerId,
      // GC passes it on while the namespace exists (the runtime's DEL brings its own).
      netns: attachments.find((a) => a.netns)?.netns ?? "",
      ifName: upstream.ifName,
      cniArgs: attachments[0].cniArgs ?? "",
      cniVersion: upstream.cniVersion,
      // Upstream writes its record before the first delegate runs; each result is cached once its ADD succeeded.
      complete: attachments.every((a) => a.result !== undefined),
      attachments,
    };
  }
  if (!isJsonObject(v)) return "not a JSON object";
  if (v.kind !== CACHE_KIND) return `unknown kind ${JSON.stringify(v.kind)}`;
  if (v.containerId !== containerId) return `belongs to container ${JSON.stringify(v.containerId)}`;
  if (!Array.isArray(v.attachments)) return "has no attachments list";
  for (const a of v.attachments) {
    if (!isJsonObject(a) || typeof a.network !== "string" || typeof a.ifName !== "string" || !isJsonObject(a.config)) {
      return "has a malformed attachment";
    }
  }
  return v as unknown as CacheRecord;
}

/**
 * Read a record; a corrupt one is reported, never thrown, so DEL can fall
 * back. A record upstream Multus wrote is read too (`upstream` fills in what
 * it does not say).
 */
export function readCache(cniDir: string, containerId: string, upstream: UpstreamContext = UPSTREAM_DEFAULTS): CacheRead {
  const file = cachePath(cniDir, containerId);
  let text: string;
  try {
    // Ours are regular files, never links: anything else (a FIFO, a device) is not read, let alone waited on.
    text = readRegularText(file, { nofollow: true });
  } catch (e) {
    if (e instanceof FileReadError && e.code === "ENOENT") return { state: "missing" };
    return { state: "corrupt", problem: (e as Error).message };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { state: "corrupt", problem: `${file} is not valid JSON: ${(e as Error).message}` };
  }
  const r = checkRecord(v, { cniDir, containerId }, upstream);
  return typeof r === "string" ? { state: "corrupt", problem: `${file} ${r}` } : { state: "ok", record: r };
}

export function removeCache(cniDir: string, containerId: string): void {
  const file = cachePath(cniDir, containerId);
  // recursive: a directory where the record belongs goes too (a record is never one).
  rmSync(file, { recursive: true, force: true });
  // A writer SIGKILLed between its write and its rename leaves its temp
  // file; the caller holds the container's lock, so no writer is alive.
  for (const t of tempFilesOf(file)) rmSync(t.path, { force: true });
}

/** Container IDs that have a record (for GC and status listings). */
export function listCachedContainers(cniDir: string): string[] {
  let names: string[];
  try {
    // Not upstream Multus's results dir (libcni's cache beside the records). Any
    // other entry is listed, even one that is no regular file: reading it says so.
    names = readdirSync(cniDir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() && d.name === "results" ? [] : [d.name]));
  } catch {
    return [];
  }
  return names.filter((n) => !n.endsWith(".tmp") && containerIdProblem(n) === undefined).sort();
}

/**
 * Rebuild a recorded attachment's request, as it was executed. `allowMultus`
 * (DEL): a record of an older release naming a Multus plugin is still read.
 */
export function cachedRequest(rec: CacheRecord, index: number, netconfName: string, { allowMultus = false } = {}): AttachmentRequest {
  const a = rec.attachments[index];
  const path = `cached attachment ${index} ("${a.network}")`;
  const delegate = loadDelegate(a.config, path, index, { name: netconfName, cniVersion: rec.cniVersion }, { allowMultus });
  return {
    delegate,
    ...(a.runtimeConfig ? { runtimeConfig: a.runtimeConfig } : {}),
    ...(a.statusName ? { statusName: a.statusName } : {}),
    ...(isJsonObject(a.device) && typeof a.device.resourceName === "string" ? { device: a.device } : {}),
  };
}
