/**
 * The per-container cache record: what an ADD attached (and `multus attach`
 * added since), so that DEL and CHECK never depend on the config or the API
 * server still being there. One file per container, `<cniDir>/<containerId>`,
 * mode 0600, replaced atomically (temp file, fsync, rename) so a crash never
 * leaves half a record.
 *
 * Format: `kind` "multusCacheV1" and `version`. Version 2 (this release) names
 * every attachment's `cniArgs` and the runtime's CNI_PATH (`cniPath`), and its
 * attachments may be added and removed after the ADD. A record without
 * `version` is of version 1 (release 0.1.0 and its successors until version
 * 2): an attachment without `cniArgs` had the record's. A revision only adds
 * fields, and keeps the kind, so that an older release still reads (and
 * DELs) what a newer one recorded; an incompatible change would be a new kind.
 * Records upstream Multus wrote are read too (lib/upstream-record.ts).
 */
import { lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Attachment } from "./attachment.ts";
import { containerIdProblem } from "./cni/args.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { CURRENT_VERSION } from "./cni/version.ts";
import { atomicWrite, FileReadError, readRegularText, tempPath } from "./files.ts";
import { isJsonObject } from "./json.ts";
import type { ProcessId } from "./proc.ts";
import { readUpstreamRecord, type UpstreamContext } from "./upstream-record.ts";

export const CACHE_KIND = "multusCacheV1";
/** The record format this release writes. */
export const CACHE_VERSION = 2;

export interface CacheRecord {
  kind: typeof CACHE_KIND;
  version: number;
  containerId: string;
  netns: string;
  /** CNI_IFNAME of the ADD. */
  ifName: string;
  cniArgs: string;
  /** Our netconf's cniVersion at ADD time (for a delegate config without one). */
  cniVersion: string;
  /** CNI_PATH of the ADD: where `multus attach` finds plugins as the runtime's call did. */
  cniPath?: string[];
  /** false while an ADD or an attach is in progress (or was killed mid-way). */
  complete: boolean;
  /** The plugin process doing the ADD (or the attach), written before any delegate runs. */
  owner?: ProcessId;
  /** Delegate process groups it started (a DEL kills those still running if the owner died). */
  running?: ProcessId[];
  attachments: Attachment[];
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

function fromUpstream(list: unknown[], where: { cniDir: string; containerId: string }, upstream: UpstreamContext): CacheRecord | string {
  // Upstream Multus's record: after an upgrade in place, its attachments are ours to remove.
  const r = readUpstreamRecord(list, where.cniDir, where.containerId, upstream);
  if (typeof r === "string") return r;
  return {
    kind: CACHE_KIND,
    version: CACHE_VERSION,
    containerId: where.containerId,
    netns: r.netns,
    ifName: upstream.ifName,
    cniArgs: r.cniArgs,
    cniVersion: upstream.cniVersion,
    // Upstream writes its record before the first delegate runs; each result is cached once its ADD succeeded.
    complete: r.attachments.every((a) => a.result !== undefined),
    attachments: r.attachments,
  };
}

function checkRecord(v: unknown, where: { cniDir: string; containerId: string }, upstream: UpstreamContext): CacheRecord | string {
  if (Array.isArray(v)) return fromUpstream(v, where, upstream);
  if (!isJsonObject(v)) return "not a JSON object";
  if (v.kind !== CACHE_KIND) return `unknown kind ${JSON.stringify(v.kind)}`;
  if (v.containerId !== where.containerId) return `belongs to container ${JSON.stringify(v.containerId)}`;
  const version = v.version ?? 1;
  if (!Number.isSafeInteger(version) || (version as number) < 1) return `has a malformed version ${JSON.stringify(v.version)}`;
  if (!Array.isArray(v.attachments)) return "has no attachments list";
  for (const a of v.attachments) {
    if (!isJsonObject(a) || typeof a.network !== "string" || typeof a.ifName !== "string" || !isJsonObject(a.config)) {
      return "has a malformed attachment";
    }
  }
  const rec = v as unknown as CacheRecord;
  const cniArgs = typeof rec.cniArgs === "string" ? rec.cniArgs : "";
  // Version 1: an attachment without cniArgs had the record's.
  const attachments = rec.attachments.map((a) => (typeof a.cniArgs === "string" ? a : { ...a, cniArgs }));
  // Read as this release's version (a newer one's added fields are kept as they are).
  return { ...rec, version: Math.max(version as number, CACHE_VERSION), cniArgs, attachments };
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
}

/**
 * A writer SIGKILLed between its write and its rename leaves its temp file
 * beside the record. Every writer holds the container's lock, so it died
 * holding it: whoever takes that lock over removes the file by the dead
 * owner's pid, and nothing lists the cache dir (1,000 pods, 1,000 names).
 */
export function removeDeadWritersTemp(cniDir: string, containerId: string, pid: number): void {
  rmSync(tempPath(cachePath(cniDir, containerId), pid), { force: true });
}

/**
 * Container IDs that have a record (for GC and status listings), sorted;
 * `except` (the containers GC keeps) is left out before anything else is
 * looked at, so a GC beside many running pods pays only for the others.
 */
export function listCachedContainers(cniDir: string, except?: ReadonlySet<string>): string[] {
  let names: string[];
  try {
    names = readdirSync(cniDir); // names only: file types cost a stat's worth per entry under Bun
  } catch {
    return [];
  }
  // Not upstream Multus's results dir (libcni's cache beside the records). Any
  // other entry is listed, even one that is no regular file: reading it says so.
  const isResults = (n: string) => n === "results" && lstatSync(join(cniDir, n), { throwIfNoEntry: false })?.isDirectory() === true;
  return names.filter((n) => !except?.has(n) && !n.endsWith(".tmp") && containerIdProblem(n) === undefined && !isResults(n)).sort();
}
