/**
 * Our own network config (the JSON on stdin): parse, apply defaults, check the
 * fields we read. The result is read-only; plans are built from it.
 */
import { CniError, ErrorCode } from "./cni/errors.ts";
import { IMPLICIT_VERSION, SUPPORTED_VERSIONS, isSupportedVersion } from "./cni/version.ts";
import { type Delegate, type JsonObject, isJsonObject, loadDelegate } from "./delegate.ts";

export const DEFAULT_CNI_DIR = "/var/lib/cni/multus";
export const DEFAULT_BIN_DIR = "/opt/cni/bin";
export const DEFAULT_CONF_DIR = "/etc/cni/multus/net.d";
/** Per delegate invocation; kubelet's own CRI deadline is a few minutes. */
export const DEFAULT_DELEGATE_TIMEOUT_S = 60;
/**
 * One ADD's delegates, rollback included. With the readiness wait (10 s) it
 * keeps an ADD under kubelet's 2-minute CRI deadline, so the runtime gets
 * our answer instead of killing us mid-way.
 */
export const DEFAULT_ADD_TIMEOUT_S = 90;
export const DEFAULT_READINESS_TIMEOUT_S = 10;

export interface NetConf {
  /** The decoded stdin, untouched. */
  raw: JsonObject;
  name: string;
  /** `cniVersion` of our config; results are returned in it. */
  cniVersion: string;
  mode: "legacy" | "crd";
  delegates: Delegate[];
  kubeconfig?: string;
  cniDir: string;
  binDir: string;
  confDir: string;
  delegateTimeoutMs: number;
  /** The whole of one ADD after the readiness wait: attach, and roll back on failure. */
  addTimeoutMs: number;
  /** ADD (never DEL) waits for this file: the cluster network's readiness. */
  readinessFile?: string;
  readinessTimeoutMs: number;
  /** Kubernetes API: one request, and all attempts of one call. */
  apiTimeoutMs: number;
  apiDeadlineMs: number;
  /** Run the delegates of one ADD or DEL concurrently instead of in order. */
  parallel: boolean;
}

const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function invalid(msg: string, details?: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg, details);
}

function optString(o: JsonObject, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw invalid(`netconf: "${key}" must be a string`);
  return v;
}

/** Decode stdin; a decode failure is code 6, as the spec says. */
export function decodeNetconf(bytes: Uint8Array | string): JsonObject {
  const text = typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8");
  if (text.trim() === "") throw new CniError(ErrorCode.DecodeFailure, "error decoding network config: stdin is empty");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CniError(ErrorCode.DecodeFailure, `error decoding network config: ${(e as Error).message}`);
  }
  if (!isJsonObject(v)) throw new CniError(ErrorCode.DecodeFailure, "error decoding network config: not a JSON object");
  return v;
}

/** The config's version, for error replies; never throws. */
export function peekVersion(raw: JsonObject | undefined): string | undefined {
  const v = raw?.cniVersion;
  return isSupportedVersion(v) ? v : undefined;
}

/** The config's cniVersion (0.1.0 when absent); an unknown one is code 1, as the spec says. */
export function checkVersion(raw: JsonObject): string {
  const cniVersion = raw.cniVersion ?? IMPLICIT_VERSION;
  if (!isSupportedVersion(cniVersion)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      "incompatible CNI versions",
      `config is ${JSON.stringify(cniVersion)}, plugin supports [${SUPPORTED_VERSIONS.map((v) => `"${v}"`).join(" ")}]`,
    );
  }
  return cniVersion;
}

export function parseNetconf(bytes: Uint8Array | string): NetConf {
  return loadNetconf(decodeNetconf(bytes));
}

export function loadNetconf(raw: JsonObject): NetConf {
  const name = raw.name;
  if (name === undefined || name === "") throw invalid(`netconf: "name" is missing`);
  if (typeof name !== "string") throw invalid(`netconf: "name" must be a string`);
  if (!NETWORK_NAME.test(name)) throw invalid(`netconf: "name" ${JSON.stringify(name)} has invalid characters`);

  const cniVersion = checkVersion(raw);

  const kubeconfig = optString(raw, "kubeconfig") || undefined;
  const clusterNetwork = optString(raw, "clusterNetwork") || undefined;
  const seconds = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "number" || !(v > 0)) throw invalid(`netconf: "${key}" must be a positive number of seconds`);
    return v * 1000;
  };

  const list = raw.delegates ?? [];
  if (!Array.isArray(list)) throw invalid(`netconf: "delegates" must be a list of CNI configs`);
  if (list.length === 0 && !kubeconfig && !clusterNetwork) {
    throw invalid(`netconf: "delegates" must list at least one network when "kubeconfig" is not set`);
  }
  const defaults = { name, cniVersion };
  const delegates = list.map((d, i) => loadDelegate(d, `delegates[${i}]`, i, defaults));

  const conf: NetConf = {
    raw,
    name,
    cniVersion,
    mode: kubeconfig || clusterNetwork ? "crd" : "legacy",
    delegates,
    cniDir: optString(raw, "cniDir") || DEFAULT_CNI_DIR,
    binDir: optString(raw, "binDir") || DEFAULT_BIN_DIR,
    confDir: optString(raw, "confDir") || DEFAULT_CONF_DIR,
    delegateTimeoutMs: seconds("delegateTimeout", DEFAULT_DELEGATE_TIMEOUT_S),
    addTimeoutMs: seconds("addTimeout", DEFAULT_ADD_TIMEOUT_S),
    readinessTimeoutMs: seconds("readinessTimeout", DEFAULT_READINESS_TIMEOUT_S),
    apiTimeoutMs: seconds("apiTimeout", 5),
    apiDeadlineMs: seconds("apiDeadline", 20),
    parallel: raw.parallel === true,
  };
  if (kubeconfig) conf.kubeconfig = kubeconfig;
  const readinessFile = optString(raw, "readinessindicatorfile");
  if (readinessFile) conf.readinessFile = readinessFile;
  for (const key of ["always_use_default", "namespaceIsolation", "logToStderr", "retryDeleteOnError", "parallel"]) {
    const v = raw[key];
    if (v !== undefined && typeof v !== "boolean") throw invalid(`netconf: "${key}" must be true or false`);
  }
  return conf;
}
