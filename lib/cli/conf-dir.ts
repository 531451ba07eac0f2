/**
 * The node's CNI conf dir as install, watch and doctor read it: every
 * config the runtime could load, read without blocking or growing (a FIFO,
 * a device or a huge file is reported, never read), and which of them are a
 * Multus config.
 *
 * A Multus config is any config with a Multus plugin in it: a conf whose
 * `type` is multus or multus-shim (upstream's thick shim), a conflist with
 * such a plugin anywhere in `plugins`, or a config install wrote (its
 * marker). A Multus config is never a cluster network. One install can
 * adopt is a conf, or a conflist whose plugins[0] is the Multus plugin (the
 * shape upstream's installer writes for CNI 1.0.0 and later): as plugins[0]
 * the runtime hands the plugin that object with the list's `name` and
 * `cniVersion` (libcni does so), which is what `view` gives.
 */
import { join } from "node:path";
import { isMultusPluginType } from "../delegate.ts";
import { byName, confFiles, FileReadError, readRegularText } from "../files.ts";
import { isJsonObject, type JsonObject } from "../json.ts";

/** Marks a config written by `multus install`. */
export const MARKER = "multusInstall";
export const CONF_NAME = "00-multus.conf";

export type ConfEntry = { name: string; file: string } & (
  | { kind: "json"; value: unknown; text: string }
  | { kind: "unparsable"; why: string; text: string }
  /** Not a regular file, too large, or unreadable: `why` says which. */
  | { kind: "unreadable"; why: string; code: string }
);

/** One config file, read as a runtime would, but never blocking (FIFO) or unbounded (a device, a huge file). */
export function readConf(confDir: string, name: string): ConfEntry | undefined {
  const file = join(confDir, name);
  let text: string;
  try {
    text = readRegularText(file);
  } catch (e) {
    const code = e instanceof FileReadError ? e.code : ((e as NodeJS.ErrnoException).code ?? "EIO");
    if (code === "ENOENT") return undefined;
    return {
      name,
      file,
      kind: "unreadable",
      code,
      why: e instanceof FileReadError ? e.message.slice(file.length + 1) : (e as Error).message,
    };
  }
  try {
    return { name, file, kind: "json", value: JSON.parse(text), text };
  } catch (e) {
    return { name, file, kind: "unparsable", why: `is not valid JSON (${(e as Error).message})`, text };
  }
}

/** Every config file of the conf dir, in the runtime's order (gone between listing and reading: left out). */
export function readConfDir(confDir: string): ConfEntry[] {
  return confFiles(confDir).flatMap((n) => readConf(confDir, n) ?? []);
}

/** A Multus config as the plugin sees it, and the shape it is stored in. */
export interface MultusView {
  shape: "conf" | "conflist";
  /** The plugin's config: the conf itself, or plugins[0] with the list's name and cniVersion. */
  conf: JsonObject;
  /** For a conflist: the list (its other keys and plugins are kept as they are). */
  list?: JsonObject;
}

/** Whether a config has a Multus plugin anywhere, or was written by install. */
export function isMultusConfig(v: unknown): boolean {
  if (!isJsonObject(v)) return false;
  if (isMultusPluginType(v.type) || isJsonObject(v[MARKER])) return true;
  return Array.isArray(v.plugins) && v.plugins.some((p) => isJsonObject(p) && (isMultusPluginType(p.type) || isJsonObject(p[MARKER])));
}

/**
 * The Multus config in `v`: undefined when it holds no Multus plugin, a
 * problem when it holds one install cannot adopt in place.
 */
export function view(v: unknown): MultusView | { problem: string } | undefined {
  if (!isMultusConfig(v) || !isJsonObject(v)) return undefined;
  if (!Array.isArray(v.plugins) || v.type !== undefined) {
    if (!isMultusPluginType(v.type))
      return { problem: `is not a multus config (${"type" in v ? `type ${JSON.stringify(v.type)}` : 'no "type"'})` };
    return { shape: "conf", conf: v };
  }
  const first = v.plugins[0];
  if (!isJsonObject(first) || !isMultusPluginType(first.type)) {
    return { problem: "is a conflist whose multus plugin is not plugins[0]: the runtime would run other plugins before it" };
  }
  const conf: JsonObject = { ...first };
  if ("name" in v) conf.name = v.name;
  if ("cniVersion" in v) conf.cniVersion = v.cniVersion;
  return { shape: "conflist", conf, list: v };
}

/**
 * `conf` stored in `shape`: a conflist keeps its other keys and plugins, and
 * carries name and cniVersion at the list's level only (libcni gives them
 * to plugins[0]).
 */
export function stored(conf: JsonObject, shape: MultusView["shape"], list?: JsonObject): JsonObject {
  if (shape === "conf") return conf;
  const { name, cniVersion, ...plugin } = conf;
  const rest = Array.isArray(list?.plugins) ? list.plugins.slice(1) : [];
  const out: JsonObject = { cniVersion, name };
  for (const [k, v] of Object.entries(list ?? {})) if (!(k in out) && k !== "plugins") out[k] = v;
  out.plugins = [plugin, ...rest];
  return out;
}

export const shapeOf = (name: string): MultusView["shape"] => (name.endsWith(".conflist") ? "conflist" : "conf");

/** The Multus configs of the conf dir, in the runtime's order. */
export const multusEntries = (entries: ConfEntry[]): ConfEntry[] => entries.filter((e) => e.kind === "json" && isMultusConfig(e.value));

/**
 * Where install keeps our conf: the name given, else the first Multus
 * config the runtime would load (adopted in place, whoever wrote it), else
 * 00-multus.conf.
 */
export function targetName(entries: ConfEntry[], confName?: string): string {
  return confName ?? multusEntries(entries)[0]?.name ?? CONF_NAME;
}

export function isOurs(v: unknown): boolean {
  const m = view(v);
  return m !== undefined && !("problem" in m) && isJsonObject(m.conf[MARKER]);
}

/** The names that sort before `name` (the runtime would load them first). */
export const sortingBefore = (entries: ConfEntry[], name: string): ConfEntry[] => entries.filter((e) => byName(e.name, name) < 0);
