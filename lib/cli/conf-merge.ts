/**
 * What install writes into our conf: a fresh one from the cluster network's
 * config and the flags, or an existing Multus config (ours, upstream's, or
 * hand-written) brought up to date with only what install owns replaced.
 *
 * Install owns the cluster network (delegates[0]), the cniVersion and
 * capabilities it implies, its marker, and the settings given as flags
 * (a flag given replaces the conf's value; absent, the conf's value stays).
 * Everything else is the user's and stays, except what an adopted config
 * holds only for upstream's installer or daemon (see adopt).
 */
import { isJsonObject, type JsonObject } from "../json.ts";
import { isMultusConfig, MARKER, view } from "./conf-dir.ts";

/** Netconf keys install sets from its flags (besides kubeconfig and cniVersion). */
export const FLAG_KEYS = [
  "readinessindicatorfile",
  "namespaceIsolation",
  "globalNamespaces",
  "logLevel",
  "logFile",
  "logToStderr",
  "binDir",
] as const;
export type FlagKey = (typeof FLAG_KEYS)[number];
/** The conf's values given as install flags (--namespace-isolation ...): each replaces the conf's. */
export type FlagSettings = Partial<Record<FlagKey | "cniVersion", string | boolean>>;

export interface ClusterNetwork {
  file: string;
  conf: JsonObject;
}

/** Capabilities of a conf or of every plugin of a conflist, so the runtime passes their runtimeConfig. */
export function capabilitiesOf(conf: JsonObject): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  const plugins = Array.isArray(conf.plugins) ? conf.plugins : [conf];
  for (const p of plugins) {
    if (isJsonObject(p) && isJsonObject(p.capabilities)) {
      for (const [k, v] of Object.entries(p.capabilities)) if (v === true) out[k] = true;
    }
  }
  return out;
}

export const cniVersionOf = (conf: JsonObject): string => (typeof conf.cniVersion === "string" ? conf.cniVersion : "1.0.0");

/** The conf a first install writes (flattened: a conflist's plugins[0] with the list's name and cniVersion). */
export function freshConf(
  cluster: ClusterNetwork,
  o: { kubeconfig?: string; version: string; settings?: FlagSettings; clusterNetworkConf?: string },
): JsonObject {
  const conf: JsonObject = {
    cniVersion: o.settings?.cniVersion ?? cniVersionOf(cluster.conf),
    name: "multus-cni-network",
    type: "multus",
    [MARKER]: {
      version: o.version,
      delegatesTo: cluster.file,
      ...(o.clusterNetworkConf ? { clusterNetworkConf: o.clusterNetworkConf } : {}),
    },
  };
  const caps = capabilitiesOf(cluster.conf);
  if (Object.keys(caps).length) conf.capabilities = caps;
  if (o.kubeconfig) conf.kubeconfig = o.kubeconfig;
  for (const k of FLAG_KEYS) if (o.settings?.[k] !== undefined) conf[k] = o.settings[k];
  conf.delegates = [cluster.conf];
  return conf;
}

/** JSON equality, ignoring the order of object keys. */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
}

/** The keys install owns; every other top-level key is the user's. */
const OWNED = new Set(["cniVersion", "name", "type", MARKER, "capabilities", "kubeconfig", "delegates"]);

export interface Merged {
  conf: JsonObject;
  /** Names of the delegates after the first, kept as they were. */
  userDelegates: string[];
  /** Settings kept that a fresh install would not write (capabilities as capabilities.X). */
  userSettings: string[];
}

export const delegateName = (d: unknown, i: number): string =>
  isJsonObject(d) && typeof d.name === "string" && d.name ? d.name : `delegates[${i}]`;

/**
 * An existing multus conf brought up to date: `fresh` (what a first install
 * would write now) supplies delegates[0], the flags' settings and, where the
 * old values were derived from the old delegates[0], cniVersion and
 * capabilities; everything else the user set is kept. Deterministic, so a
 * re-run gives the same conf.
 */
export function mergeConf(existing: JsonObject, fresh: JsonObject, given: FlagSettings = {}): Merged {
  const oldDelegates = Array.isArray(existing.delegates) ? existing.delegates : [];
  const old0 = isJsonObject(oldDelegates[0]) ? oldDelegates[0] : undefined;
  const freshDelegates = fresh.delegates as unknown[];
  const conf: JsonObject = {};
  const userSettings: string[] = [];

  // cniVersion follows the cluster network, unless the user chose another (in the file, or with --cni-version).
  const keepVersion = "cniVersion" in existing && !(old0 && existing.cniVersion === cniVersionOf(old0));
  conf.cniVersion = given.cniVersion ?? (keepVersion ? existing.cniVersion : fresh.cniVersion);
  conf.name = "name" in existing ? existing.name : fresh.name;
  conf.type = "multus";
  conf[MARKER] = fresh[MARKER];
  // Capabilities: the cluster network's, plus those the user added for other delegates.
  const oldDerived = old0 ? capabilitiesOf(old0) : {};
  const caps: JsonObject = { ...(isJsonObject(fresh.capabilities) ? fresh.capabilities : {}) };
  if (isJsonObject(existing.capabilities)) {
    for (const [k, v] of Object.entries(existing.capabilities)) {
      if (!(k in oldDerived) && !(k in caps)) caps[k] = v;
    }
  }
  if (Object.keys(caps).length) conf.capabilities = caps;
  if ("kubeconfig" in fresh) conf.kubeconfig = fresh.kubeconfig;
  else if ("kubeconfig" in existing) conf.kubeconfig = existing.kubeconfig;
  for (const [k, v] of Object.entries(existing)) if (!OWNED.has(k)) conf[k] = v;
  // Given on the command line, a setting replaces the old value; otherwise the old one stays.
  for (const k of FLAG_KEYS) if (k in fresh) conf[k] = fresh[k];
  conf.delegates = [freshDelegates[0], ...oldDelegates.slice(1)];

  for (const k of Object.keys(existing)) {
    if (k === "type" || k === MARKER || k === "delegates") continue;
    if (k === "capabilities") {
      const f = isJsonObject(fresh.capabilities) ? fresh.capabilities : {};
      for (const c of Object.keys(caps)) if (!(c in f)) userSettings.push(`capabilities.${c}`);
    } else if (k in conf && !(k in fresh && same(conf[k], fresh[k])) && !(k === "cniVersion" && given.cniVersion !== undefined)) {
      userSettings.push(k);
    }
  }
  const userDelegates = oldDelegates.slice(1).map((d, i) => delegateName(d, i + 1));
  return { conf, userDelegates, userSettings };
}

/** A config being adopted, cleaned of what only upstream's installer or daemon used, and what was done to it. */
export interface Adopted {
  conf: JsonObject;
  /** One line each: what was dropped or changed, and why. */
  notes: string[];
}

/**
 * Adopt a Multus config install did not write. Upstream's thin installer
 * (v4.1) writes "cniConf", a key its plugin never reads, holding a path in
 * the installer's container: dropped (the plugin's key is "confDir", kept
 * when set). Upstream's thick shim config (type multus-shim) names the
 * cluster network as the daemon's path to its file ("clusterNetwork") and
 * the daemon's socket: both dropped, since this plugin runs no daemon and
 * delegates to that config itself (delegates[0]).
 */
export function adopt(conf: JsonObject): Adopted {
  const out: JsonObject = { ...conf };
  const notes: string[] = [];
  const drop = (k: string, why: string) => {
    if (!(k in out)) return;
    delete out[k];
    notes.push(`dropped "${k}" (${why})`);
  };
  if (isJsonObject(conf[MARKER])) return { conf: out, notes };
  drop("cniConf", 'a key upstream\'s installer writes and no plugin reads; the plugin reads "confDir"');
  if (conf.type === "multus-shim") {
    notes.push(`type "multus-shim" (upstream's thick plugin) is now "multus": this plugin needs no daemon`);
    drop("clusterNetwork", "the thick daemon's path to the cluster network's config; it is delegates[0] now");
    drop("daemonSocketDir", "the thick daemon's socket");
    drop("socketDir", "the thick daemon's socket");
  }
  return { conf: out, notes };
}

/**
 * A conf whose delegates[0] is itself a Multus config (what an earlier
 * install wrote on a node where upstream's conflist sorted first) made
 * flat: the inner config's settings and delegates are taken, the outer's
 * own settings and later delegates win and follow. Other delegates that are
 * a Multus config are listed: multus would run inside multus.
 */
export function unnest(conf: JsonObject): Adopted & { nested: string[] } {
  let out = conf;
  const notes: string[] = [];
  for (let depth = 0; depth < 8; depth++) {
    const ds = Array.isArray(out.delegates) ? out.delegates : [];
    const inner = view(ds[0]);
    if (!inner || "problem" in inner) break;
    const cleaned = adopt(inner.conf).conf;
    const innerDelegates = Array.isArray(cleaned.delegates) ? cleaned.delegates : [];
    const lifted = Object.keys(cleaned).filter((k) => !OWNED.has(k) && !(k in out));
    notes.push(
      `delegates[0] (${delegateName(ds[0], 0)}) was itself a multus config: taken apart${lifted.length ? `, its settings kept: ${lifted.join(", ")}` : ""}`,
    );
    const merged: JsonObject = { ...cleaned, ...out };
    merged.delegates = [...innerDelegates, ...ds.slice(1)];
    out = merged;
  }
  const ds = Array.isArray(out.delegates) ? out.delegates : [];
  const nested = ds.flatMap((d, i) => (i > 0 && isMultusConfig(d) ? [`delegates[${i}] (${delegateName(d, i)})`] : []));
  return { conf: out, notes, nested };
}

/** install's flags for conf settings, as given (undefined: not given). */
export interface SettingFlags {
  namespaceIsolation?: boolean;
  globalNamespaces?: string;
  logLevel?: string;
  logFile?: string;
  logToStderr?: boolean;
  additionalBinDir?: string;
  cniVersion?: string;
}

const LOG_LEVELS = ["debug", "verbose", "info", "error", "panic"];
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The conf values of install's flags; throws an Error naming the flag for a value the plugin would refuse or misread. */
export function settingsFrom(f: SettingFlags, supportedVersions: readonly string[]): FlagSettings {
  const out: FlagSettings = {};
  if (f.namespaceIsolation !== undefined) out.namespaceIsolation = f.namespaceIsolation;
  if (f.logToStderr !== undefined) out.logToStderr = f.logToStderr;
  if (f.globalNamespaces !== undefined) {
    const names = f.globalNamespaces.split(",").map((n) => n.trim());
    const bad = names.find((n) => !NAMESPACE.test(n));
    if (bad !== undefined)
      throw new Error(
        `--global-namespaces must be namespace names separated by commas, got ${JSON.stringify(f.globalNamespaces)} (${bad === "" ? "an empty name" : JSON.stringify(bad)})`,
      );
    out.globalNamespaces = names.join(",");
  }
  if (f.logLevel !== undefined) {
    const level = f.logLevel.toLowerCase();
    if (!LOG_LEVELS.includes(level))
      throw new Error(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(f.logLevel)}`);
    out.logLevel = level;
  }
  for (const [flag, key, v] of [
    ["--log-file", "logFile", f.logFile],
    ["--additional-bin-dir", "binDir", f.additionalBinDir],
  ] as const) {
    if (v === undefined) continue;
    if (!v.startsWith("/"))
      throw new Error(`${flag} must be an absolute path (the plugin runs in the runtime's working directory), got ${JSON.stringify(v)}`);
    out[key] = v;
  }
  if (f.cniVersion !== undefined) {
    if (!supportedVersions.includes(f.cniVersion))
      throw new Error(`--cni-version must be one of ${supportedVersions.join(", ")}, got ${JSON.stringify(f.cniVersion)}`);
    out.cniVersion = f.cniVersion;
  }
  return out;
}
