/**
 * `multus install` / `multus uninstall`: put this one file into the CNI bin
 * dir and make it the node's first network config, delegating to the config
 * that was first before.
 *
 * Our conf is the first Multus config of the conf dir, whoever wrote it
 * (upstream's thin installer writes 00-multus.conf, or 00-multus.conflist
 * for CNI 1.0.0 and later; its thick daemon writes a multus-shim conf): it
 * is adopted in place, under its name and in its shape, so the file the
 * runtime loads first stays the one it loads. Without any, 00-multus.conf
 * (or --conf-name). A second Multus config is set aside (renamed to
 * NAME.old, which the runtime ignores): a Multus config is never a cluster
 * network, and multus never runs inside multus.
 *
 * A re-run (the DaemonSet runs install on every restart) regenerates only
 * what install owns (conf-merge.ts); nothing changed means nothing is
 * rewritten. A conf that is unreadable, not JSON or not multus is never
 * overwritten without --force, which writes a fresh one; a readable Multus
 * config is always merged, --force or not. A config that sorts before ours
 * (the runtime takes the first .conf/.conflist/.json by name) is an error
 * unless --force. The bin file is replaced when it is this program (any
 * version) or upstream Multus (told by its Go build info), anything else
 * only with --force. Every check is made before anything is written.
 */

import { existsSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { listCachedContainers } from "../cache.ts";
import { atomicCopy, atomicWrite, readRegularText, sameContent } from "../files.ts";
import type { JsonObject } from "../json.ts";
import { isJsonObject } from "../json.ts";
import { DEFAULT_CNI_DIR } from "../netconf.ts";
import {
  CONF_NAME,
  type ConfEntry,
  isMultusConfig,
  isOurs,
  MARKER,
  type MultusView,
  multusEntries,
  readConfDir,
  shapeOf,
  sortingBefore,
  stored,
  targetName,
  view,
} from "./conf-dir.ts";
import { adopt, type ClusterNetwork, delegateName, type FlagSettings, freshConf, mergeConf, same, unnest } from "./conf-merge.ts";
import { describeUpstream, isThisProgram, upstreamMultus } from "./program-file.ts";
import { removeGenerated } from "./serviceaccount.ts";

export { CONF_NAME, MARKER };

export interface InstallOptions {
  binDir: string;
  confDir: string;
  /** The file name of our conf in confDir (default: the first Multus config there, else 00-multus.conf). */
  confName?: string;
  kubeconfig?: string;
  /** The kubeconfig is generated in this run (--generate-kubeconfig): with --dry-run it need not exist yet. */
  kubeconfigGenerated?: boolean;
  /** Written into the conf as `readinessindicatorfile`: ADD waits for it. */
  readinessFile?: string;
  /** Conf settings given as flags (--namespace-isolation, --log-level ...): each replaces the conf's value. */
  settings?: FlagSettings;
  /** --cluster-network-conf: the conf dir file to delegate to; "" goes back to the first non-multus one. */
  clusterNetworkConf?: string;
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

export function confNameOf(o: { confName?: string }): string | undefined {
  const name = o.confName;
  if (name === undefined) return undefined;
  if (!/^[^/\\\0]+\.(conf|conflist|json)$/.test(name) || name.startsWith(".")) {
    throw new Error(
      `--conf-name must be a file name ending in .conf, .conflist or .json (it is written into the conf dir), got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

export type ClusterState =
  | { kind: "found"; file: string; conf: JsonObject; text: string }
  | { kind: "unparsable"; file: string }
  | { kind: "none" }
  | { kind: "problem"; why: string };

/**
 * The cluster network: the config named by --cluster-network-conf (or the
 * one an earlier run was told), else the first config by name that is no
 * Multus config. A file that is not regular (a FIFO ...) is skipped and
 * named in `skipped`; one that is not a JSON object is skipped too, or, with
 * `stopAtUnparsable` (the watch loop: it is most likely being written), ends
 * the search.
 */
export function clusterNetworkIn(
  entries: ConfEntry[],
  target: string,
  chosen: string | undefined,
  stopAtUnparsable = false,
): { state: ClusterState; skipped: string[] } {
  const skipped: string[] = [];
  if (chosen) {
    const e = entries.find((x) => x.name === chosen);
    const why = (w: string) => ({ state: { kind: "problem", why: `the cluster network's config ${chosen} ${w}` } as const, skipped });
    if (!e) return why("is not in the conf dir (--cluster-network-conf names a .conf, .conflist or .json file there)");
    if (e.kind === "unreadable") return why(e.why);
    if (e.kind === "unparsable" || !isJsonObject(e.value)) {
      return stopAtUnparsable ? { state: { kind: "unparsable", file: e.file }, skipped } : why("is not a JSON object");
    }
    if (e.name === target || isMultusConfig(e.value)) return why("is a multus config, never a cluster network");
    return { state: { kind: "found", file: e.file, conf: e.value, text: e.text }, skipped };
  }
  for (const e of entries) {
    if (e.name === target) continue;
    if (e.kind === "unreadable") {
      skipped.push(`${e.file} ${e.why}: skipped`);
      continue;
    }
    if (e.kind === "unparsable" || !isJsonObject(e.value)) {
      if (stopAtUnparsable) return { state: { kind: "unparsable", file: e.file }, skipped };
      continue;
    }
    if (isMultusConfig(e.value)) continue;
    return { state: { kind: "found", file: e.file, conf: e.value, text: e.text }, skipped };
  }
  return { state: { kind: "none" }, skipped };
}

/** The cluster network file an earlier run was told (--cluster-network-conf), from our conf's marker. */
function chosenBefore(conf: JsonObject | undefined): string | undefined {
  const m = conf?.[MARKER];
  return isJsonObject(m) && typeof m.clusterNetworkConf === "string" && m.clusterNetworkConf ? m.clusterNetworkConf : undefined;
}

/** The conf dir as one install run sees it: where our conf goes, what is there, what it adopts, what it sets aside. */
export interface ConfDirPlan {
  entries: ConfEntry[];
  target: string;
  existing: Existing;
  /** The Multus config adopted: the one at `target`, or (none there) the first other one. */
  source?: { view: MultusView; from: string; text?: string };
  /** Other Multus configs: renamed to NAME.old. */
  aside: ConfEntry[];
  chosen?: string;
}

type Existing = { kind: "absent" } | { kind: "multus"; view: MultusView; value: unknown } | { kind: "bad"; why: string; text?: string };

/** What is at our conf's path: nothing, a multus config we can keep, or something we must not touch. */
function existingAt(e: ConfEntry | undefined): Existing {
  if (!e) return { kind: "absent" };
  if (e.kind === "unreadable") return { kind: "bad", why: e.why };
  if (e.kind === "unparsable") return { kind: "bad", why: e.why, text: e.text };
  if (!isJsonObject(e.value)) return { kind: "bad", why: "is not a JSON object", text: e.text };
  const v = view(e.value);
  if (!v) {
    const t = e.value.type;
    return { kind: "bad", why: `is not a multus config (${t !== undefined ? `type ${JSON.stringify(t)}` : 'no "type"'})`, text: e.text };
  }
  if ("problem" in v) return { kind: "bad", why: v.problem, text: e.text };
  if ("delegates" in v.conf && !Array.isArray(v.conf.delegates))
    return { kind: "bad", why: 'is a multus config whose "delegates" is not a list', text: e.text };
  return { kind: "multus", view: v, value: e.value };
}

export function planConfDir(o: Pick<InstallOptions, "confDir" | "confName" | "clusterNetworkConf">): ConfDirPlan {
  const entries = readConfDir(o.confDir);
  const target = targetName(entries, confNameOf(o));
  const existing = existingAt(entries.find((e) => e.name === target));
  const aside = multusEntries(entries).filter((e) => e.name !== target);
  let source: ConfDirPlan["source"];
  if (existing.kind === "multus") source = { view: existing.view, from: target };
  else if (existing.kind === "absent") {
    for (const e of aside) {
      const v = e.kind === "json" ? view(e.value) : undefined;
      if (v && !("problem" in v) && (!("delegates" in v.conf) || Array.isArray(v.conf.delegates))) {
        source = { view: v, from: e.name };
        break;
      }
    }
  }
  const chosen = o.clusterNetworkConf !== undefined ? o.clusterNetworkConf || undefined : chosenBefore(source?.view.conf);
  return { entries, target, existing, aside, ...(source ? { source } : {}), ...(chosen ? { chosen } : {}) };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const nameOf = (conf: unknown) => (isJsonObject(conf) && typeof conf.name === "string" ? JSON.stringify(conf.name) : "(unnamed)");
const textOf = (v: JsonObject) => `${JSON.stringify(v, null, 2)}\n`;

/** The conf's settings from install's options: the flags, and the readiness indicator. */
function givenSettings(o: InstallOptions): FlagSettings {
  return { ...o.settings, ...(o.readinessFile ? { readinessindicatorfile: o.readinessFile } : {}) };
}

type BinState = { kind: "skip" | "same" | "absent" | "older" } | { kind: "upstream"; what: string } | { kind: "foreign" };

/** What is at the bin path, and whether install may replace it. */
function binState(o: InstallOptions, target: string): BinState {
  if (o.confOnly) return { kind: "skip" };
  if (!existsSync(target)) return { kind: "absent" };
  if (sameContent(o.self, target)) return { kind: "same" };
  if (isThisProgram(target)) return { kind: "older" };
  const up = upstreamMultus(target);
  return up ? { kind: "upstream", what: describeUpstream(up) } : { kind: "foreign" };
}

/** What an install did (or, with --dry-run, would do): `multus install --json` prints it. */
export interface InstallReport {
  dryRun: boolean;
  /** `none`: the bin dir is left alone (the watch loop after its first pass). */
  bin: { path: string; action: "none" | "unchanged" | "copy"; replaces?: string };
  conf: { path: string; action: "write" | "replace" | "update" | "unchanged"; delegatesTo: string; content: JsonObject };
  /** Second multus configs renamed to FILE.old. */
  setAside: string[];
  warnings: string[];
  /** What was kept, adopted or regenerated, as the text output says it. */
  notes: string[];
}

/** Returns the lines to print. Throws an Error whose message says what to fix (the CLI prints it, exit 1). */
export function install(o: InstallOptions): string[] {
  return installPlanned(o).lines;
}

/** install, also saying which file our conf is (the watch loop keeps to it) and what was done. */
export function installPlanned(o: InstallOptions): { lines: string[]; confFile: string; report: InstallReport } {
  const out: string[] = [];
  // Neither dir is created: a mistyped path would make a plugin dir the runtime never searches.
  requireDir(o.confDir, "--conf-dir", "the runtime's network config dir");
  if (!o.confOnly) requireDir(o.binDir, "--bin-dir", "the runtime's CNI plugin dir (where the cluster network's plugins are)");
  const plan = planConfDir(o);
  const { target: confName } = plan;
  const bin = join(o.binDir, "multus");
  const confFile = join(o.confDir, confName);
  if (o.kubeconfig && !(o.kubeconfigGenerated && o.dryRun) && !existsSync(o.kubeconfig))
    throw new Error(`kubeconfig ${o.kubeconfig} does not exist`);

  const found = clusterNetworkIn(plan.entries, confName, plan.chosen);
  for (const s of found.skipped) out.push(`warning: ${s}`);
  const st = found.state;
  if (st.kind === "problem") throw new Error(st.why);
  if (st.kind !== "found") {
    throw new Error(`no network config (.conf, .conflist, .json) in ${o.confDir} to delegate to: install the cluster network first`);
  }
  const cluster: ClusterNetwork = { file: st.file, conf: st.conf };
  const given = givenSettings(o);
  const fresh = freshConf(cluster, { ...o, settings: given, ...(plan.chosen ? { clusterNetworkConf: plan.chosen } : {}) });

  // Every check before anything is written.
  const { existing } = plan;
  if (existing.kind === "bad" && !o.force) {
    throw new Error(
      `${confFile} ${existing.why}, so install cannot keep the delegates and settings in it: fix it or move it away, or use --force to overwrite it with a fresh config`,
    );
  }
  const source = plan.source && existing.kind !== "bad" ? prepareSource(plan.source.view.conf, o.force, confFile) : undefined;
  const asideNames = new Set(plan.aside.map((e) => e.name));
  const before = sortingBefore(plan.entries, confName)
    .filter((e) => !asideNames.has(e.name))
    .map((e) => e.file);
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
      `${o.self} is an ES module for node or deno; installed as ${bin} it would not run. ` +
        "Run install from the single executable (dist/multus, or dist/multus-arm64 on arm64)",
    );
  }
  const b = binState(o, bin);
  if (b.kind === "foreign" && !o.force) throw new Error(`${bin} exists and is not this program; use --force to replace it`);

  const would = (done: string, planned: string) => (o.dryRun ? planned : done);
  const conf = confText(o, plan, source, fresh, cluster.file, confFile, would);
  const report: InstallReport = {
    dryRun: o.dryRun,
    bin: {
      path: bin,
      action: b.kind === "skip" ? "none" : b.kind === "same" ? "unchanged" : "copy",
      ...(b.kind === "upstream" ? { replaces: b.what } : b.kind === "foreign" ? { replaces: "a file that is not this program" } : {}),
    },
    conf: { path: confFile, action: conf.action, delegatesTo: cluster.file, content: conf.value },
    setAside: plan.aside.map((e) => e.file),
    warnings: out.map((l) => l.replace(/^warning: /, "")),
    notes: conf.detail.map((l) => l.trim()),
  };

  if (o.dryRun) {
    if (b.kind !== "skip") out.push(b.kind === "same" ? `${bin}: unchanged` : `would copy ${o.self} to ${bin} (mode 0755)${binNote(b)}`);
    out.push(conf.headline, ...conf.detail, ...asideLines(plan.aside, would));
    if (conf.text !== undefined) out.push(conf.text.trimEnd());
    return { lines: out, confFile, report };
  }
  if (b.kind !== "skip") {
    if (b.kind === "same") out.push(`${bin}: unchanged`);
    else {
      atomicCopy(o.self, bin, 0o755);
      out.push(`installed ${bin}${binNote(b)}`);
    }
  }
  if (conf.text !== undefined) atomicWrite(confFile, conf.text, 0o644);
  for (const e of plan.aside) renameSync(e.file, `${e.file}.old`);
  out.push(conf.headline, ...conf.detail, ...asideLines(plan.aside, would));
  return { lines: out, confFile, report };
}

/** A dir install writes into but never creates: missing, it is an Error naming the flag. */
function requireDir(dir: string, flag: string, what: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT"
        ? `${dir} does not exist: ${flag} must name ${what}; install creates no dir (check the path, or create it first)`
        : `${dir} cannot be read (${code}): ${flag} must name ${what}`,
    );
  }
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory: ${flag} must name ${what}`);
}

const binNote = (b: BinState): string =>
  b.kind === "upstream"
    ? ` (replacing ${b.what}: its pods' cache records stay, for their DEL)`
    : b.kind === "foreign"
      ? " (--force: replacing a file that is not this program)"
      : "";

const asideLines = (aside: ConfEntry[], would: (d: string, p: string) => string): string[] =>
  aside.map(
    (e) =>
      `${would("set aside", "would set aside")} ${e.file} as ${basename(e.file)}.old (a second multus config; the runtime ignores .old files)`,
  );

/** The adopted config made ready to merge: upstream-only keys dropped, a nested multus taken apart. */
function prepareSource(conf: JsonObject, force: boolean, confFile: string): { conf: JsonObject; notes: string[] } {
  const a = adopt(conf);
  const u = unnest(a.conf);
  let c = u.conf;
  const notes = [...a.notes, ...u.notes];
  if (u.nested.length) {
    if (!force) {
      throw new Error(
        `${confFile}: ${u.nested.join(", ")} ${u.nested.length === 1 ? "is a multus config" : "are multus configs"}: multus would run inside multus. Remove ${u.nested.length === 1 ? "it" : "them"} from "delegates", or use --force to drop ${u.nested.length === 1 ? "it" : "them"}`,
      );
    }
    const ds = c.delegates as unknown[];
    c = { ...c, delegates: ds.filter((d, i) => i === 0 || !isMultusConfig(d)) };
    notes.push(`dropped ${u.nested.join(", ")} (--force: a multus config as a delegate runs multus inside multus)`);
  }
  return { conf: c, notes };
}

interface ConfText {
  /** undefined: leave the file as it is */
  text?: string;
  headline: string;
  detail: string[];
  action: InstallReport["conf"]["action"];
  /** The conf as it is after the install. */
  value: JsonObject;
}

/** The conf to write and what to say about it. */
function confText(
  o: InstallOptions,
  plan: ConfDirPlan,
  source: { conf: JsonObject; notes: string[] } | undefined,
  fresh: JsonObject,
  clusterFile: string,
  confFile: string,
  would: (done: string, planned: string) => string,
): ConfText {
  const { existing } = plan;
  const shape = shapeOf(plan.target);
  const from = basename(clusterFile);
  const mode = (c: JsonObject) => `delegates to ${from}${typeof c.kubeconfig === "string" ? `, Kubernetes mode with ${c.kubeconfig}` : ""}`;
  const detail: string[] = [];
  if (!source) {
    const value = stored(fresh, shape);
    const text = textOf(value);
    if (existing.kind === "absent") {
      return {
        text,
        headline: o.dryRun ? `would write ${confFile}, delegating to ${clusterFile}:` : `wrote ${confFile} (${mode(fresh)})`,
        detail,
        action: "write",
        value,
      };
    }
    const why = existing.kind === "bad" ? existing.why : "";
    return {
      text,
      headline: `${would("wrote", "would write")} ${confFile} from scratch (--force), ${mode(fresh)}${o.dryRun ? ":" : ""}`,
      detail: [`  ${would("replaced", "would replace")} ${plan.target}, which ${why}`],
      action: "replace",
      value,
    };
  }
  const m = mergeConf(source.conf, fresh, givenSettings(o));
  const sv = plan.source!.view;
  const value = stored(m.conf, shape, sv.shape === "conflist" ? sv.list : undefined);
  const inPlace = plan.source!.from === plan.target;
  const changed = !inPlace || existing.kind !== "multus" || !same(value, existing.value);
  const text = changed ? textOf(value) : undefined;
  const adopting = inPlace ? "" : `, adopting ${plan.source!.from}`;
  const headline = changed
    ? `${would("updated", "would update")} ${confFile} (${mode(m.conf)}${adopting})${o.dryRun ? ":" : ""}`
    : `${confFile}: unchanged (${mode(m.conf)})`;
  const old = source.conf;
  const old0 = Array.isArray(old.delegates) ? old.delegates[0] : undefined;
  const new0 = (m.conf.delegates as unknown[])[0];
  const oldMarker = isJsonObject(old[MARKER]) ? (old[MARKER] as JsonObject) : undefined;
  const oldFrom = typeof oldMarker?.delegatesTo === "string" ? basename(oldMarker.delegatesTo) : undefined;
  for (const n of source.notes) detail.push(`  ${n}`);
  if (!same(old0, new0) || (oldFrom !== undefined && oldFrom !== from)) {
    detail.push(
      old0 !== undefined && nameOf(old0) === nameOf(new0) && (oldFrom === undefined || oldFrom === from)
        ? `  cluster network (delegates[0]) regenerated from ${from} (it changed)`
        : `  cluster network (delegates[0]): ${old0 === undefined ? "none" : `${nameOf(old0)}${oldFrom ? ` from ${oldFrom}` : ""}`} is now ${nameOf(new0)} from ${from}`,
    );
  }
  const keys = ["cniVersion", "capabilities", "kubeconfig", ...Object.keys(givenSettings(o)).filter((k) => k !== "cniVersion")];
  const also = [...new Set(keys)].filter((k) => !same(old[k], m.conf[k]));
  if (!oldMarker) also.push(`${MARKER} (adopting a multus config install did not write)`);
  else if (oldMarker.version !== o.version) also.push(`${MARKER}.version (was ${JSON.stringify(oldMarker.version)})`);
  else if (!same(oldMarker.clusterNetworkConf, (m.conf[MARKER] as JsonObject).clusterNetworkConf))
    also.push(`${MARKER}.clusterNetworkConf (the cluster network's config, as --cluster-network-conf names it)`);
  if (also.length) detail.push(`  ${would("updated", "would update")}: ${also.join(", ")}`);
  if (m.userDelegates.length)
    detail.push(`  ${would("kept", "would keep")} ${plural(m.userDelegates.length, "user delegate")}: ${m.userDelegates.join(", ")}`);
  if (m.userSettings.length) detail.push(`  ${would("kept", "would keep")} settings: ${m.userSettings.join(", ")}`);
  if (typeof m.conf.clusterNetwork === "string" && m.conf.clusterNetwork) {
    detail.push(
      `  note: "clusterNetwork" is set (${JSON.stringify(m.conf.clusterNetwork)}), so the plugin uses that network, not delegates[0], and ignores the delegates list`,
    );
  }
  return { ...(text !== undefined ? { text } : {}), headline, detail, action: changed ? "update" : "unchanged", value };
}

/**
 * The containers with a cache record in `cniDir` (this program's, or
 * upstream's: a JSON array named by the container ID): their DEL runs the
 * installed binary.
 */
export function cachedPods(cniDir: string): { ids: string[]; upstream: number } {
  const ids: string[] = [];
  let upstream = 0;
  for (const id of listCachedContainers(cniDir)) {
    let text: string;
    try {
      text = readRegularText(join(cniDir, id), { nofollow: true });
    } catch {
      continue; // a directory (upstream's results/), a FIFO ...: no record
    }
    ids.push(id);
    try {
      if (Array.isArray(JSON.parse(text))) upstream++;
    } catch {
      // unreadable as JSON: still a container the runtime may DEL
    }
  }
  return { ids, upstream };
}

export function uninstall(o: Pick<InstallOptions, "binDir" | "confDir" | "confName" | "force" | "dryRun">): string[] {
  const out: string[] = [];
  const entries = readConfDir(o.confDir);
  const name = targetName(entries, confNameOf(o));
  const entry = entries.find((e) => e.name === name);
  const confFile = join(o.confDir, name);
  const bin = join(o.binDir, "multus");
  const ourConf = entry?.kind === "json" ? view(entry.value) : undefined;
  const conf = ourConf && !("problem" in ourConf) ? ourConf.conf : undefined;
  const binThere = existsSync(bin);

  // Every check first: a refused uninstall leaves everything as it was.
  if (existsSync(confFile) && !(entry?.kind === "json" && isOurs(entry.value)) && !o.force)
    throw new Error(`${confFile} was not written by multus install; use --force to remove it`);
  if (binThere && !isThisProgram(bin) && !o.force) {
    const up = upstreamMultus(bin);
    throw new Error(`${bin} is not this program${up ? ` (it is ${describeUpstream(up)})` : ""}; use --force to remove it`);
  }
  const cniDir = typeof conf?.cniDir === "string" && conf.cniDir ? conf.cniDir : DEFAULT_CNI_DIR;
  const pods = binThere ? cachedPods(cniDir) : { ids: [], upstream: 0 };
  if (pods.ids.length && !o.force) {
    const shown = pods.ids.slice(0, 5).join(", ") + (pods.ids.length > 5 ? ", ..." : "");
    throw new Error(
      `${plural(pods.ids.length, "container")} on this node still ${pods.ids.length === 1 ? "has" : "have"} a cache record in ${cniDir} (${shown}${pods.upstream ? `; ${pods.upstream} written by upstream Multus` : ""}): ` +
        `their DEL runs ${bin}. Uninstall once those pods are gone (drain the node), or use --force`,
    );
  }

  const did = (d: string, p: string) => (o.dryRun ? p : d);
  if (existsSync(confFile)) {
    const extra = Array.isArray(conf?.delegates) ? conf.delegates.slice(1).map((d, i) => delegateName(d, i + 1)) : [];
    if (extra.length) {
      if (!o.dryRun) renameSync(confFile, `${confFile}.bak`);
      out.push(
        `${did("removed", "would remove")} ${confFile} (${did("kept", "keeping")} as ${name}.bak: it holds ${plural(extra.length, "delegate")} added by hand: ${extra.join(", ")})`,
      );
    } else {
      if (!o.dryRun) rmSync(confFile);
      out.push(`${did("removed", "would remove")} ${confFile}`);
    }
  } else out.push(`${confFile}: not present`);
  if (binThere) {
    if (!o.dryRun) rmSync(bin);
    out.push(`${did("removed", "would remove")} ${bin}`);
  } else out.push(`${bin}: not present`);
  // The kubeconfig and token copy --generate-kubeconfig wrote (never a hand-made one).
  for (const f of removeGenerated(o.confDir, o.dryRun)) out.push(`${did("removed", "would remove")} ${f}`);
  return out;
}
