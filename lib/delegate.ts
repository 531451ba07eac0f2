/**
 * A delegate is one CNI config (a single plugin conf or a conflist) that we
 * execute for one interface. Its JSON is kept as given: unknown keys survive,
 * only `name` and `cniVersion` are filled in when missing. What one pod asks
 * of it (interface name, runtime config ...) is an AttachmentRequest
 * (lib/attachment.ts), never part of the delegate.
 */
import { CniError, ErrorCode } from "./cni/errors.ts";
import { isSupportedVersion } from "./cni/version.ts";
import { isJsonObject, type JsonObject } from "./json.ts";

export interface Delegate {
  /** The network name (`name` of the conf or conflist). */
  readonly name: string;
  readonly kind: "conf" | "conflist";
  /** The config handed to the plugin(s), with `name` and `cniVersion` present. */
  readonly config: JsonObject;
  readonly cniVersion: string;
  /** Plugin types in execution order (one for a conf). */
  readonly pluginTypes: readonly string[];
}

const BARE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Plugin types that are a Multus (this one, upstream's thin plugin, or
 * upstream's thick shim): never a delegate, never a cluster network.
 */
export const MULTUS_PLUGIN_TYPES: readonly string[] = ["multus", "multus-shim"];

export const isMultusPluginType = (t: unknown): boolean => typeof t === "string" && MULTUS_PLUGIN_TYPES.includes(t);

/**
 * Why a plugin `type` is unsafe or malformed, or undefined when it is a bare
 * name. A type is looked up only as a file name inside the plugin dirs.
 */
export function pluginTypeProblem(t: unknown): string | undefined {
  if (typeof t !== "string") return "must be a string";
  if (t === "") return "is empty";
  if (t.includes("/") || t.includes("\\") || t.includes("..")) {
    return `"${t}" is a path; it must be a bare plugin name such as "bridge"`;
  }
  if (!BARE_NAME.test(t)) return `"${t}" is not a valid plugin name (letters, digits, '.', '_', '-')`;
  return undefined;
}

function invalid(path: string, problem: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, `${path}: ${problem}`);
}

function checkPluginType(obj: JsonObject, path: string, allowMultus: boolean): string {
  const p = pluginTypeProblem(obj.type);
  if (p) throw invalid(`${path}.type`, p);
  if (!allowMultus && isMultusPluginType(obj.type)) {
    throw invalid(`${path}.type`, `"${obj.type}" is a Multus: a Multus is never a delegate (it would call itself)`);
  }
  const ipam = obj.ipam;
  if (ipam !== undefined) {
    if (!isJsonObject(ipam)) throw invalid(`${path}.ipam`, "must be an object");
    if (ipam.type !== undefined) {
      const q = pluginTypeProblem(ipam.type);
      if (q) throw invalid(`${path}.ipam.type`, q);
    }
  }
  return obj.type as string;
}

export interface DelegateDefaults {
  /** Used to name a delegate that has no `name`: `<name>-<index>`. */
  name: string;
  cniVersion: string;
}

/**
 * Build a Delegate from a config object. `path` names it in errors
 * (e.g. `delegates[1]`), `index` is its position for default naming. A
 * plugin type of MULTUS_PLUGIN_TYPES is refused (code 7), unless
 * `allowMultus`: a cache record written by an older release may name one,
 * and must still be read so that its other attachments can be deleted.
 */
export function loadDelegate(
  raw: unknown,
  path: string,
  index: number,
  defaults: DelegateDefaults,
  { allowMultus = false } = {},
): Delegate {
  if (!isJsonObject(raw)) throw invalid(path, "must be a JSON object (a CNI conf or conflist)");
  const config: JsonObject = { ...raw };

  let kind: Delegate["kind"];
  let pluginTypes: string[];
  if (config.type !== undefined || config.plugins === undefined) {
    if (config.type === undefined) throw invalid(path, `has neither "type" nor "plugins"`);
    kind = "conf";
    pluginTypes = [checkPluginType(config, path, allowMultus)];
  } else {
    kind = "conflist";
    const plugins = config.plugins;
    if (!Array.isArray(plugins) || plugins.length === 0) throw invalid(`${path}.plugins`, "must be a non-empty list");
    pluginTypes = plugins.map((p, i) => {
      if (!isJsonObject(p)) throw invalid(`${path}.plugins[${i}]`, "must be an object");
      return checkPluginType(p, `${path}.plugins[${i}]`, allowMultus);
    });
  }

  if (config.name === undefined || config.name === "") config.name = `${defaults.name}-${index}`;
  if (typeof config.name !== "string") throw invalid(`${path}.name`, "must be a string");
  if (config.cniVersion === undefined) config.cniVersion = defaults.cniVersion;
  if (!isSupportedVersion(config.cniVersion)) {
    throw invalid(`${path}.cniVersion`, `${JSON.stringify(config.cniVersion)} is not a supported CNI version`);
  }

  // Naming hints of delegates mode; read by requestFromConfig (lib/attachment.ts).
  if (config.masterplugin !== undefined && typeof config.masterplugin !== "boolean") {
    throw invalid(`${path}.masterplugin`, "must be true or false");
  }
  if (config.ifnameRequest !== undefined && typeof config.ifnameRequest !== "string") {
    throw invalid(`${path}.ifnameRequest`, "must be a string");
  }
  return { name: config.name, kind, config, cniVersion: config.cniVersion, pluginTypes };
}

/**
 * The stdin for one plugin of a delegate. A conflist's plugin gets the list's
 * `name` and `cniVersion` (as libcni does); `prevResult` when given; of the
 * attachment's runtime config, the keys its `capabilities` declare.
 */
export function pluginConfig(d: Delegate, pluginIndex: number, prevResult?: unknown, runtimeConfig?: JsonObject): JsonObject {
  let conf: JsonObject;
  if (d.kind === "conf") {
    conf = { ...d.config };
  } else {
    const plugins = d.config.plugins as JsonObject[];
    conf = { ...plugins[pluginIndex], name: d.name, cniVersion: d.cniVersion };
  }
  if (prevResult !== undefined) conf.prevResult = prevResult;
  else delete conf.prevResult;
  if (runtimeConfig) {
    // As a runtime does: only the capabilities this plugin declares.
    const caps = isJsonObject(conf.capabilities) ? conf.capabilities : {};
    const rc = Object.fromEntries(Object.entries(runtimeConfig).filter(([k]) => caps[k] === true));
    if (Object.keys(rc).length) conf.runtimeConfig = rc;
  }
  return conf;
}
