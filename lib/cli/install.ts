/**
 * `multus install` / `multus uninstall`: put this one file into the CNI bin
 * dir and make it the node's first network config, delegating to the config
 * that was first before.
 *
 * A re-run (the DaemonSet runs install on every restart) regenerates only
 * what install owns in an existing multus conf: the cluster network
 * (delegates[0], from the current first non-multus conf), the cniVersion and
 * capabilities it derived from it, and its marker. Every other delegate and
 * setting a user added stays; nothing changed means nothing is rewritten. A
 * conf that is unreadable, not JSON or not multus is never overwritten
 * without --force, which regenerates from scratch. A config that sorts before
 * ours (the runtime takes the first .conf/.conflist/.json by name) is an
 * error unless --force.
 */

import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { atomicCopy, atomicWrite, byName, confFiles, fileIncludes, sameContent } from "../files.ts";
import type { JsonObject } from "../json.ts";
import { isJsonObject } from "../json.ts";
import { removeGenerated } from "./serviceaccount.ts";

export const CONF_NAME = "00-multus.conf";
/** Marks a config written by `multus install`. */
export const MARKER = "multusInstall";

export interface InstallOptions {
  binDir: string;
  confDir: string;
  /** The file name of our conf in confDir (default 00-multus.conf). */
  confName?: string;
  kubeconfig?: string;
  /** The kubeconfig is generated in this run (--generate-kubeconfig): with --dry-run it need not exist yet. */
  kubeconfigGenerated?: boolean;
  /** Written into the conf as `readinessindicatorfile`: ADD waits for it. */
  readinessFile?: string;
  dryRun: boolean;
  force: boolean;
  /** Write even if another conf sorts first (what --force means for ordering), without the rest of --force. */
  forceOrder?: boolean;
  /** Only the conf: leave the bin dir alone (the watch loop after its first pass). */
  confOnly?: boolean;
  /** The file to install (this program). */
  self: string;
  version: string;
}

/** The path of the running program: the executable, or the script run by node/deno. */
export { selfPath } from "../runtime.ts";

function readJson(file: string): JsonObject | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(file, "utf8"));
    return isJsonObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The node's current default network: first .conf/.conflist/.json by name that is not ours and not multus. */
export function findDefaultNetwork(confDir: string, confName = CONF_NAME): { file: string; conf: JsonObject } | undefined {
  for (const n of confFiles(confDir)) {
    if (n === confName) continue;
    const conf = readJson(join(confDir, n));
    if (conf && conf.type !== "multus" && !conf[MARKER]) return { file: join(confDir, n), conf };
  }
  return undefined;
}

/** Capabilities of a conf or of every plugin of a conflist, so the runtime passes their runtimeConfig. */
function capabilitiesOf(conf: JsonObject): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  const plugins = Array.isArray(conf.plugins) ? conf.plugins : [conf];
  for (const p of plugins) {
    if (isJsonObject(p) && isJsonObject(p.capabilities)) {
      for (const [k, v] of Object.entries(p.capabilities)) if (v === true) out[k] = true;
    }
  }
  return out;
}

const cniVersionOf = (conf: JsonObject) => (typeof conf.cniVersion === "string" ? conf.cniVersion : "1.0.0");

/** The conf a first install writes. */
export function multusConf(
  delegate: { file: string; conf: JsonObject },
  opts: Pick<InstallOptions, "kubeconfig" | "readinessFile" | "version">,
): JsonObject {
  const conf: JsonObject = {
    cniVersion: cniVersionOf(delegate.conf),
    name: "multus-cni-network",
    type: "multus",
    [MARKER]: { version: opts.version, delegatesTo: delegate.file },
  };
  const caps = capabilitiesOf(delegate.conf);
  if (Object.keys(caps).length) conf.capabilities = caps;
  if (opts.kubeconfig) conf.kubeconfig = opts.kubeconfig;
  if (opts.readinessFile) conf.readinessindicatorfile = opts.readinessFile;
  conf.delegates = [delegate.conf];
  return conf;
}

/** JSON equality, ignoring the order of object keys. */
function same(a: unknown, b: unknown): boolean {
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

/**
 * An existing multus conf brought up to date: `fresh` (what a first install
 * would write now) supplies delegates[0] and, where the old values were
 * derived from the old delegates[0], cniVersion and capabilities; everything
 * else the user set is kept. Deterministic, so a re-run gives the same conf.
 */
export function mergeConf(existing: JsonObject, fresh: JsonObject): Merged {
  const oldDelegates = Array.isArray(existing.delegates) ? existing.delegates : [];
  const old0 = isJsonObject(oldDelegates[0]) ? oldDelegates[0] : undefined;
  const freshDelegates = fresh.delegates as unknown[];
  const conf: JsonObject = {};
  const userSettings: string[] = [];

  // cniVersion follows the cluster network, unless the user chose another.
  const keepVersion = "cniVersion" in existing && !(old0 && existing.cniVersion === cniVersionOf(old0));
  conf.cniVersion = keepVersion ? existing.cniVersion : fresh.cniVersion;
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
  // Given on the command line (--readiness-indicator-file), it replaces the old value; otherwise the old one stays.
  if ("readinessindicatorfile" in fresh) conf.readinessindicatorfile = fresh.readinessindicatorfile;
  conf.delegates = [freshDelegates[0], ...oldDelegates.slice(1)];

  for (const k of Object.keys(existing)) {
    if (k === "type" || k === MARKER || k === "delegates") continue;
    if (k === "capabilities") {
      const f = isJsonObject(fresh.capabilities) ? fresh.capabilities : {};
      for (const c of Object.keys(caps)) if (!(c in f)) userSettings.push(`capabilities.${c}`);
    } else if (k in conf && !(k in fresh && same(conf[k], fresh[k]))) userSettings.push(k);
  }
  const userDelegates = oldDelegates
    .slice(1)
    .map((d, i) => (isJsonObject(d) && typeof d.name === "string" && d.name ? d.name : `delegates[${i + 1}]`));
  return { conf, userDelegates, userSettings };
}

type Existing = { kind: "absent" } | { kind: "multus"; conf: JsonObject; text: string } | { kind: "bad"; why: string; text?: string };

/** What is at our conf's path: nothing, a multus conf we can keep, or something we must not touch. */
function readExisting(file: string): Existing {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    return { kind: "bad", why: `cannot be read (${(e as Error).message})` };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { kind: "bad", why: `is not valid JSON (${(e as Error).message})`, text };
  }
  if (!isJsonObject(v)) return { kind: "bad", why: "is not a JSON object", text };
  if (v.type !== "multus")
    return { kind: "bad", why: `is not a multus config (${"type" in v ? `type ${JSON.stringify(v.type)}` : 'no "type"'})`, text };
  if ("delegates" in v && !Array.isArray(v.delegates))
    return { kind: "bad", why: 'is a multus config whose "delegates" is not a list', text };
  return { kind: "multus", conf: v, text };
}

function isOurs(file: string): boolean {
  const c = readJson(file);
  return !!c && isJsonObject(c[MARKER]);
}

export function confNameOf(o: { confName?: string }): string {
  const name = o.confName ?? CONF_NAME;
  if (!/^[^/\\\0]+\.(conf|json)$/.test(name) || name.startsWith(".")) {
    throw new Error(
      `--conf-name must be a file name ending in .conf or .json (it is written into the conf dir), got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const nameOf = (conf: unknown) => (isJsonObject(conf) && typeof conf.name === "string" ? JSON.stringify(conf.name) : "(unnamed)");

/** Returns the lines to print. Throws an Error whose message says what to fix (the CLI prints it, exit 1). */
export function install(o: InstallOptions): string[] {
  const out: string[] = [];
  const confName = confNameOf(o);
  const target = join(o.binDir, "multus");
  const confFile = join(o.confDir, confName);
  if (o.kubeconfig && !(o.kubeconfigGenerated && o.dryRun) && !existsSync(o.kubeconfig))
    throw new Error(`kubeconfig ${o.kubeconfig} does not exist`);

  const delegate = findDefaultNetwork(o.confDir, confName);
  if (!delegate) {
    throw new Error(`no network config (.conf, .conflist, .json) in ${o.confDir} to delegate to: install the cluster network first`);
  }
  const fresh = multusConf(delegate, o);
  const freshText = `${JSON.stringify(fresh, null, 2)}\n`;

  // Every check before anything is written.
  const existing = readExisting(confFile);
  if (existing.kind === "bad" && !o.force) {
    throw new Error(
      `${confFile} ${existing.why}, so install cannot keep the delegates and settings in it: fix it or move it away, or use --force to overwrite it with a fresh config`,
    );
  }
  const before = confFiles(o.confDir)
    .filter((n) => byName(n, confName) < 0)
    .map((n) => join(o.confDir, n));
  if (before.length) {
    const [them, sort, it] = before.length === 1 ? [before[0], "sorts", "it"] : [before.join(", "), "sort", "them"];
    if (!o.force && !o.forceOrder) {
      throw new Error(
        `${them} ${sort} before ${confName}: the runtime uses the first config by name, so it would never run multus. ` +
          `Rename ${it} to sort after ${confName} (or move ${it} out of ${o.confDir}), or pass --conf-name with a name that sorts before ${it}, or --force to write ${confName} anyway`,
      );
    }
    out.push(
      `warning: ${them} ${sort} before ${confName}: the runtime uses ${it}, not multus (--force: ${o.dryRun ? "would write" : "writing"} ${confName} anyway)`,
    );
  }
  // Copied to an extensionless name, an ES module is no longer one: node refuses to run it.
  if (!o.confOnly && o.self.endsWith(".mjs")) {
    throw new Error(
      `${o.self} is an ES module for node or deno; installed as ${target} it would not run. ` +
        "Run install from the single executable (dist/multus, or dist/multus-arm64 on arm64)",
    );
  }
  const binSame = o.confOnly === true || sameContent(o.self, target);
  if (!o.confOnly && existsSync(target) && !binSame && !o.force && !sameProgram(target)) {
    throw new Error(`${target} exists and is not this program; use --force to replace it`);
  }

  // What to write, and what to say about it.
  const would = (done: string, planned: string) => (o.dryRun ? planned : done);
  const mode = (c: JsonObject) =>
    `delegates to ${basename(delegate.file)}${typeof c.kubeconfig === "string" ? `, Kubernetes mode with ${c.kubeconfig}` : ""}`;
  const detail: string[] = [];
  let text: string | undefined; // undefined: leave the file as it is
  let headline: string;
  if (existing.kind === "absent") {
    text = freshText;
    headline = o.dryRun ? `would write ${confFile}, delegating to ${delegate.file}:` : `wrote ${confFile} (${mode(fresh)})`;
  } else if (o.force || existing.kind === "bad") {
    text = existing.text === freshText ? undefined : freshText;
    if (existing.kind === "bad") detail.push(`  ${would("replaced", "would replace")} ${confName}, which ${existing.why}`);
    else {
      const m = mergeConf(existing.conf, fresh);
      if (m.userDelegates.length)
        detail.push(
          `  ${would("dropped", "would drop")} ${plural(m.userDelegates.length, "user delegate")}: ${m.userDelegates.join(", ")}`,
        );
      if (m.userSettings.length) detail.push(`  ${would("dropped", "would drop")} settings: ${m.userSettings.join(", ")}`);
    }
    headline =
      text === undefined
        ? `${confFile}: unchanged (--force: regenerated from scratch, same content)`
        : `${would("wrote", "would write")} ${confFile} from scratch (--force), ${mode(fresh)}${o.dryRun ? ":" : ""}`;
  } else {
    const m = mergeConf(existing.conf, fresh);
    const changed = !same(m.conf, existing.conf);
    text = changed ? `${JSON.stringify(m.conf, null, 2)}\n` : undefined;
    headline = changed
      ? `${would("updated", "would update")} ${confFile} (${mode(m.conf)})${o.dryRun ? ":" : ""}`
      : `${confFile}: unchanged (${mode(m.conf)})`;
    const old0 = Array.isArray(existing.conf.delegates) ? existing.conf.delegates[0] : undefined;
    const new0 = (m.conf.delegates as unknown[])[0];
    const oldMarker = isJsonObject(existing.conf[MARKER]) ? (existing.conf[MARKER] as JsonObject) : undefined;
    const oldFrom = typeof oldMarker?.delegatesTo === "string" ? basename(oldMarker.delegatesTo) : undefined;
    const from = basename(delegate.file);
    if (!same(old0, new0) || (oldFrom !== undefined && oldFrom !== from)) {
      detail.push(
        old0 !== undefined && nameOf(old0) === nameOf(new0) && (oldFrom === undefined || oldFrom === from)
          ? `  cluster network (delegates[0]) regenerated from ${from} (it changed)`
          : `  cluster network (delegates[0]): ${old0 === undefined ? "none" : `${nameOf(old0)}${oldFrom ? ` from ${oldFrom}` : ""}`} is now ${nameOf(new0)} from ${from}`,
      );
    }
    const also = ["cniVersion", "capabilities", "kubeconfig", "readinessindicatorfile"].filter((k) => !same(existing.conf[k], m.conf[k]));
    if (!oldMarker) also.push(`${MARKER} (adopting a multus config install did not write)`);
    else if (oldMarker.version !== o.version) also.push(`${MARKER}.version (was ${JSON.stringify(oldMarker.version)})`);
    if (also.length) detail.push(`  ${would("updated", "would update")}: ${also.join(", ")}`);
    if (m.userDelegates.length)
      detail.push(`  ${would("kept", "would keep")} ${plural(m.userDelegates.length, "user delegate")}: ${m.userDelegates.join(", ")}`);
    if (m.userSettings.length) detail.push(`  ${would("kept", "would keep")} settings: ${m.userSettings.join(", ")}`);
    if (typeof m.conf.clusterNetwork === "string" && m.conf.clusterNetwork) {
      detail.push(
        `  note: "clusterNetwork" is set (${JSON.stringify(m.conf.clusterNetwork)}), so the plugin uses that network, not delegates[0], and ignores the delegates list`,
      );
    }
  }

  if (o.dryRun) {
    if (!o.confOnly) out.push(binSame ? `${target}: unchanged` : `would copy ${o.self} to ${target} (mode 0755)`);
    out.push(headline, ...detail);
    if (text !== undefined) out.push(text.trimEnd());
    return out;
  }
  if (!o.confOnly) {
    mkdirSync(o.binDir, { recursive: true });
    if (binSame) out.push(`${target}: unchanged`);
    else {
      atomicCopy(o.self, target, 0o755);
      out.push(`installed ${target}`);
    }
  }
  if (text !== undefined) atomicWrite(confFile, text, 0o644);
  out.push(headline, ...detail);
  return out;
}

/** A previous version of this program (it answers like one) may be replaced. */
function sameProgram(file: string): boolean {
  try {
    return fileIncludes(file, "meta CNI plugin that attaches several networks");
  } catch {
    return false;
  }
}

export function uninstall(o: Pick<InstallOptions, "binDir" | "confDir" | "confName" | "force" | "dryRun">): string[] {
  const out: string[] = [];
  const confFile = join(o.confDir, confNameOf(o));
  const target = join(o.binDir, "multus");
  if (existsSync(confFile)) {
    if (!isOurs(confFile) && !o.force) throw new Error(`${confFile} was not written by multus install; use --force to remove it`);
    if (!o.dryRun) rmSync(confFile);
    out.push(`${o.dryRun ? "would remove" : "removed"} ${confFile}`);
  } else out.push(`${confFile}: not present`);
  if (existsSync(target)) {
    if (!sameProgram(target) && !o.force) throw new Error(`${target} is not this program; use --force to remove it`);
    if (!o.dryRun) rmSync(target);
    out.push(`${o.dryRun ? "would remove" : "removed"} ${target}`);
  } else out.push(`${target}: not present`);
  // The kubeconfig and token copy --generate-kubeconfig wrote (never a hand-made one).
  for (const f of removeGenerated(o.confDir, o.dryRun)) out.push(`${o.dryRun ? "would remove" : "removed"} ${f}`);
  return out;
}
