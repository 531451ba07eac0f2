/**
 * The networks of a cache dir that speak GC (cniVersion 1.1.0 or later):
 * one file each, `<cniDir>/.gc-networks/<sha256 of the name>`, holding the
 * network's name and its delegate config as a record has it. GC needs the
 * records of the containers the runtime still lists only to tell such a
 * network which of its attachments stay; with none (the common case), it
 * reads only the records of the containers it tears down, however many
 * there are.
 *
 * The dir exists once a GC has read every record and written what it found
 * (before that, GC reads them all); ADD and attach then add a file for each
 * such network they record, if it is not there yet. A file names a network
 * some record had: a GC that reads every record rewrites the set to what it
 * found. A file missing for a while costs at most that network's GC.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { versionAllows } from "./cni/version.ts";
import { atomicWrite, readRegularText } from "./files.ts";
import { isJsonObject, type JsonObject } from "./json.ts";

const dirOf = (cniDir: string) => join(cniDir, ".gc-networks");
const fileOf = (cniDir: string, name: string) => join(dirOf(cniDir), createHash("sha256").update(name).digest("hex"));

export interface GcNetwork {
  name: string;
  /** The delegate config as a record has it (conf or conflist). */
  config: JsonObject;
}

/** Does this config's version have GC? */
export const speaksGc = (config: JsonObject): boolean => typeof config.cniVersion === "string" && versionAllows(config.cniVersion, "GC");

/** The networks on file; undefined while no GC has read every record yet. */
export function readGcIndex(cniDir: string): GcNetwork[] | undefined {
  let names: string[];
  try {
    names = readdirSync(dirOf(cniDir));
  } catch {
    return undefined;
  }
  return names.flatMap((n) => {
    try {
      const v: unknown = JSON.parse(readRegularText(join(dirOf(cniDir), n), { nofollow: true }));
      return isJsonObject(v) && typeof v.name === "string" && isJsonObject(v.config) ? [{ name: v.name, config: v.config }] : [];
    } catch {
      return []; // not one of ours, or half written by a killed writer: the next full GC rewrites the set
    }
  });
}

/** ADD and attach: note the networks that speak GC, once the index exists (never before: it would look complete). */
export function noteGcNetworks(cniDir: string, networks: readonly GcNetwork[]): void {
  const gc = networks.filter((n) => speaksGc(n.config));
  if (!gc.length || !statSync(dirOf(cniDir), { throwIfNoEntry: false })) return;
  for (const n of gc) {
    const file = fileOf(cniDir, n.name);
    if (statSync(file, { throwIfNoEntry: false })) continue;
    try {
      atomicWrite(file, JSON.stringify(n), 0o600, { durable: false });
    } catch {
      // an index entry is never worth a failed ADD
    }
  }
}

/** GC, having read every record: the networks that speak GC are exactly these. */
export function writeGcIndex(cniDir: string, networks: readonly GcNetwork[]): void {
  const dir = dirOf(cniDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keep = new Set<string>();
  for (const n of networks.filter((x) => speaksGc(x.config))) {
    const file = fileOf(cniDir, n.name);
    keep.add(file);
    atomicWrite(file, JSON.stringify(n), 0o600, { durable: false });
  }
  for (const f of readdirSync(dir)) if (!keep.has(join(dir, f))) rmSync(join(dir, f), { force: true });
}
