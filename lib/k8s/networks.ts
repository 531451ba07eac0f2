/**
 * Where network configs come from in Kubernetes mode:
 * NetworkAttachmentDefinitions (k8s.cni.cncf.io/v1), the legacy `Network`
 * objects of the first Multus generation, and conf files on the node.
 * Every object is fetched at most once per invocation.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { confFiles, readRegularText } from "../files.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import type { KubeClient } from "./client.ts";
import { ApiError } from "./errors.ts";

/** A NAD annotation: the network needs a device of this device-plugin resource (e.g. SR-IOV VFs). */
export const RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";

function parseJsonObject(text: string, what: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isJsonObject(v)) throw new CniError(ErrorCode.InvalidNetworkConfig, `${what} is not a JSON object`);
  return v;
}

/** The first conf file in `dir` whose CNI `name` is `name`. */
export function findConfByName(dir: string, name: string): JsonObject | undefined {
  for (const f of confFiles(dir).map((n) => join(dir, n))) {
    try {
      const c = parseJsonObject(readRegularText(f), f);
      if (c.name === name) return c;
    } catch {
      // an unreadable or foreign file (a FIFO, a device, too large) is not the one we look for
    }
  }
  return undefined;
}

/** A conf file path, or a dir whose first conf file is used. */
export function loadConfPath(path: string): JsonObject {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `cannot read ${path}: ${(e as Error).message}`);
  }
  const first = st.isDirectory() ? confFiles(path)[0] : undefined;
  const file = st.isDirectory() ? (first === undefined ? undefined : join(path, first)) : path;
  if (!file) throw new CniError(ErrorCode.InvalidNetworkConfig, `no .conf, .json or .conflist file in ${path}`);
  let text: string;
  try {
    text = readRegularText(file);
  } catch (e) {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `conf file ${(e as Error).message}`);
  }
  return parseJsonObject(text, file);
}

export class NetworkSource {
  private readonly memo = new Map<string, Promise<JsonObject | undefined>>();

  constructor(
    private readonly client: KubeClient,
    private readonly confDir: string,
  ) {}

  private once(key: string, load: () => Promise<JsonObject | undefined>): Promise<JsonObject | undefined> {
    let p = this.memo.get(key);
    if (!p) {
      p = load();
      this.memo.set(key, p);
    }
    return p;
  }

  /** GET a NAD; undefined when it does not exist. */
  private getNadObject(namespace: string, name: string): Promise<JsonObject | undefined> {
    return this.once(`nad/${namespace}/${name}`, async () => {
      const path = `/apis/k8s.cni.cncf.io/v1/namespaces/${encodeURIComponent(namespace)}/network-attachment-definitions/${encodeURIComponent(name)}`;
      try {
        return await this.client.get(path, `get NetworkAttachmentDefinition ${namespace}/${name}`);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return undefined;
        throw e;
      }
    });
  }

  /**
   * The config of NAD namespace/name: `spec.config` (with `name` filled in
   * from the object when missing), or, without a spec.config, the conf file in
   * confDir with that name. Undefined when the NAD does not exist.
   */
  async nadConfig(namespace: string, name: string): Promise<JsonObject | undefined> {
    const obj = await this.getNadObject(namespace, name);
    if (!obj) return undefined;
    const spec = isJsonObject(obj.spec) ? obj.spec : {};
    const what = `NetworkAttachmentDefinition ${namespace}/${name}`;
    if (typeof spec.config === "string" && spec.config.trim() !== "") {
      const conf = parseJsonObject(spec.config, `${what} spec.config`);
      if (conf.name === undefined || conf.name === "") conf.name = name;
      return conf;
    }
    const file = findConfByName(this.confDir, name);
    if (!file) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `${what} has no spec.config and no conf file named "${name}" is in ${this.confDir}`,
      );
    }
    return file;
  }

  /** The NAD's `k8s.v1.cni.cncf.io/resourceName`, from the object already read (no request of its own). */
  async nadResourceName(namespace: string, name: string): Promise<string | undefined> {
    const obj = await this.getNadObject(namespace, name);
    const meta = isJsonObject(obj?.metadata) ? obj.metadata : {};
    const v = isJsonObject(meta.annotations) ? meta.annotations[RESOURCE_NAME_ANNOTATION] : undefined;
    return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
  }

  /** Like nadConfig, but a missing NAD is an error naming it. */
  async requireNad(namespace: string, name: string): Promise<JsonObject> {
    const c = await this.nadConfig(namespace, name);
    if (!c) {
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `NetworkAttachmentDefinition ${namespace}/${name} not found`,
        `create it, or fix the pod's network selection (kubectl get network-attachment-definitions -n ${namespace})`,
      );
    }
    return c;
  }

  /**
   * A legacy `Network` object (groups kubernetes.com/v1, then
   * kubernetes-network.cni.cncf.io/v1) turned into a delegate config:
   * {type: plugin, name: object name, ...args[0]}. `args` is a string
   * holding a JSON list; it is parsed, never spliced.
   */
  async legacyNetwork(namespace: string, name: string): Promise<JsonObject> {
    const groups = ["kubernetes.com/v1", "kubernetes-network.cni.cncf.io/v1"];
    const namespaces = namespace === "default" ? ["default"] : [namespace, "default"];
    for (const ns of namespaces) {
      for (const g of groups) {
        const obj = await this.once(`net/${g}/${ns}/${name}`, async () => {
          try {
            return await this.client.get(
              `/apis/${g}/namespaces/${encodeURIComponent(ns)}/networks/${encodeURIComponent(name)}`,
              `get Network ${ns}/${name} (${g})`,
            );
          } catch (e) {
            if (e instanceof ApiError && e.status === 404) return undefined;
            throw e;
          }
        });
        if (obj) return legacyNetworkToConf(obj, `Network ${ns}/${name}`, name);
      }
    }
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `Network ${name} not found in namespace ${namespaces.join(" or ")} (groups ${groups.join(", ")})`,
    );
  }
}

export function legacyNetworkToConf(obj: JsonObject, what: string, name: string): JsonObject {
  const plugin = obj.plugin;
  if (typeof plugin !== "string" || plugin === "") {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${what}: "plugin" must name a CNI plugin`);
  }
  let body: JsonObject = {};
  if (obj.args !== undefined && obj.args !== "") {
    if (typeof obj.args !== "string")
      throw new CniError(ErrorCode.InvalidNetworkConfig, `${what}: "args" must be a string holding a JSON list`);
    let list: unknown;
    try {
      list = JSON.parse(obj.args);
    } catch (e) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `${what}: "args" is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(list) || (list.length > 0 && !isJsonObject(list[0]))) {
      throw new CniError(ErrorCode.InvalidNetworkConfig, `${what}: "args" must be a JSON list whose first element is an object`);
    }
    if (list.length) body = list[0] as JsonObject;
  }
  return { ...body, type: plugin, name };
}
