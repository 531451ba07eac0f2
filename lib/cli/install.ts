/**
 * `multus install` / `multus uninstall`: put this one file into the CNI bin
 * dir and make it the node's first network config, delegating to the config
 * that was first before. Idempotent; never overwrites a file it did not
 * write unless told to (--force).
 */
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isJsonObject } from "../delegate.ts";
import type { JsonObject } from "../delegate.ts";

export const CONF_NAME = "00-multus.conf";
/** Marks a config written by `multus install`. */
const MARKER = "multusInstall";

export interface InstallOptions {
  binDir: string;
  confDir: string;
  kubeconfig?: string;
  dryRun: boolean;
  force: boolean;
  /** The file to install (this program). */
  self: string;
  version: string;
}

export class UsageError extends Error {}

/** The path of the running program: the executable, or the script run by node/deno. */
export function selfPath(): string {
  const script = process.argv[1];
  if (script && existsSync(script)) {
    const a = realpathSync(script);
    if (a !== realpathSync(process.execPath)) return a;
  }
  return process.execPath;
}

function atomicWrite(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

function readJson(file: string): JsonObject | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(file, "utf8"));
    return isJsonObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The node's current default network: first .conf/.conflist/.json by name that is not ours. */
export function findDefaultNetwork(confDir: string): { file: string; conf: JsonObject } | undefined {
  let names: string[];
  try {
    names = readdirSync(confDir);
  } catch {
    return undefined;
  }
  for (const n of names.filter((x) => /\.(conf|conflist|json)$/.test(x)).sort()) {
    if (n === CONF_NAME) continue;
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

export function multusConf(delegate: { file: string; conf: JsonObject }, opts: Pick<InstallOptions, "kubeconfig" | "version">): JsonObject {
  const cniVersion = typeof delegate.conf.cniVersion === "string" ? delegate.conf.cniVersion : "1.0.0";
  const conf: JsonObject = {
    cniVersion,
    name: "multus-cni-network",
    type: "multus",
    [MARKER]: { version: opts.version, delegatesTo: delegate.file },
  };
  const caps = capabilitiesOf(delegate.conf);
  if (Object.keys(caps).length) conf.capabilities = caps;
  if (opts.kubeconfig) conf.kubeconfig = opts.kubeconfig;
  conf.delegates = [delegate.conf];
  return conf;
}

function isOurs(file: string): boolean {
  const c = readJson(file);
  return !!c && isJsonObject(c[MARKER]);
}

function sameBytes(a: string, b: string): boolean {
  try {
    return readFileSync(a).equals(readFileSync(b));
  } catch {
    return false;
  }
}

/** Returns the lines to print. Throws UsageError for a person's mistake. */
export function install(o: InstallOptions): string[] {
  const out: string[] = [];
  const target = join(o.binDir, "multus");
  const confFile = join(o.confDir, CONF_NAME);
  if (o.kubeconfig && !existsSync(o.kubeconfig)) throw new UsageError(`kubeconfig ${o.kubeconfig} does not exist`);

  const delegate = findDefaultNetwork(o.confDir);
  if (!delegate) {
    throw new UsageError(`no network config (.conf, .conflist, .json) in ${o.confDir} to delegate to: install the cluster network first`);
  }
  const conf = `${JSON.stringify(multusConf(delegate, o), null, 2)}\n`;
  if (existsSync(confFile) && !isOurs(confFile) && !o.force) {
    throw new UsageError(`${confFile} exists and was not written by multus install; use --force to replace it`);
  }
  const binSame = sameBytes(o.self, target);
  if (existsSync(target) && !binSame && !o.force && !sameProgram(target)) {
    throw new UsageError(`${target} exists and is not this program; use --force to replace it`);
  }
  const confSame = existsSync(confFile) && readFileSync(confFile, "utf8") === conf;

  if (o.dryRun) {
    out.push(binSame ? `${target}: unchanged` : `would copy ${o.self} to ${target} (mode 0755)`);
    out.push(confSame ? `${confFile}: unchanged` : `would write ${confFile}, delegating to ${delegate.file}:`, ...(confSame ? [] : [conf.trimEnd()]));
    return out;
  }
  mkdirSync(o.binDir, { recursive: true });
  if (binSame) out.push(`${target}: unchanged`);
  else {
    atomicWrite(target, readFileSync(o.self), 0o755);
    out.push(`installed ${target}`);
  }
  if (confSame) out.push(`${confFile}: unchanged`);
  else {
    atomicWrite(confFile, conf, 0o644);
    out.push(`wrote ${confFile} (delegates to ${basename(delegate.file)}${o.kubeconfig ? `, Kubernetes mode with ${o.kubeconfig}` : ""})`);
  }
  return out;
}

/** A previous version of this program (it answers like one) may be replaced. */
function sameProgram(file: string): boolean {
  try {
    return readFileSync(file).includes("meta CNI plugin that attaches several networks");
  } catch {
    return false;
  }
}

export function uninstall(o: Pick<InstallOptions, "binDir" | "confDir" | "force" | "dryRun">): string[] {
  const out: string[] = [];
  const confFile = join(o.confDir, CONF_NAME);
  const target = join(o.binDir, "multus");
  if (existsSync(confFile)) {
    if (!isOurs(confFile) && !o.force) throw new UsageError(`${confFile} was not written by multus install; use --force to remove it`);
    if (!o.dryRun) rmSync(confFile);
    out.push(`${o.dryRun ? "would remove" : "removed"} ${confFile}`);
  } else out.push(`${confFile}: not present`);
  if (existsSync(target)) {
    if (!sameProgram(target) && !o.force) throw new UsageError(`${target} is not this program; use --force to remove it`);
    if (!o.dryRun) rmSync(target);
    out.push(`${o.dryRun ? "would remove" : "removed"} ${target}`);
  } else out.push(`${target}: not present`);
  return out;
}
