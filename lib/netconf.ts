/**
 * Our own network config (the JSON on stdin): parse, apply defaults, check the
 * fields we read. The result is read-only; plans are built from it.
 */
import { CniError, ErrorCode } from "./cni/errors.ts";
import { IMPLICIT_VERSION, isSupportedVersion, SUPPORTED_VERSIONS } from "./cni/version.ts";
import { type Delegate, loadDelegate } from "./delegate.ts";
import { isJsonObject, type JsonObject } from "./json.ts";
import { formatPosition, positionAt, STDIN, syntaxError } from "./json-position.ts";

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
/** kubelet's pod-resources gRPC API (device-plugin allocations). */
export const DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";
/** kubelet's device manager checkpoint: the allocations when the API cannot answer. */
export const DEFAULT_KUBELET_CHECKPOINT = "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint";
/** Network Plumbing WG device-info files: `dp/` by device plugins, `cni/` by us. */
export const DEFAULT_DEVICE_INFO_DIR = "/var/run/k8s.cni.cncf.io/devinfo";

/**
 * The longest duration a netconf may set (s), for every timeout: far above
 * any useful one, far below what a timer holds (2^31 - 1 ms; beyond it a
 * timer fires at once). The validator (wasm/src/netconf.rs) refuses more.
 */
export const MAX_DURATION_S = 3600;

/**
 * Deeper than any config (a real one has < 10 levels), shallower than the
 * validator's parser limit (128, with its input's own 3 levels around it).
 */
const MAX_JSON_DEPTH = 64;

/** Time limits, in ms. */
export interface Timeouts {
  /** One delegate exec; the whole process group is killed after it. */
  delegateMs: number;
  /** The whole of one ADD after the readiness wait: attach, and roll back on failure. */
  addMs: number;
  /** How long ADD waits for the readiness indicator file. */
  readinessMs: number;
  /** Kubernetes API: one request, and all attempts of one call. */
  apiRequestMs: number;
  apiDeadlineMs: number;
}

/** Kubernetes mode: where networks come from and who may use them. */
export interface KubernetesSection {
  kubeconfig?: string;
  /** The cluster network by name (a NAD in multusNamespace, a conf file, or a path). */
  clusterNetwork?: string;
  multusNamespace: string;
  /** Pods here get no defaultNetworks. */
  systemNamespaces: string[];
  defaultNetworks: string[];
  /** Pods may use NADs of their own namespace and globalNamespaces only. */
  namespaceIsolation: boolean;
  globalNamespaces: string[];
  /** With the legacy `networks` annotation, keep the config's delegates too. */
  alwaysUseDefault: boolean;
  /** Post AddedInterface (and, on failure, Warning) events on the pod. */
  podEvents: boolean;
}

/** Kubernetes mode, device-plugin networks (NADs with a `resourceName`): where the pod's devices are found and described. */
export interface DevicesSection {
  /** kubelet's pod-resources API socket. */
  podResourcesSocket: string;
  /** kubelet's device manager checkpoint, read when the API cannot answer. */
  kubeletCheckpoint: string;
  /** Base dir of the device-info files (`dp/` written by device plugins, `cni/` by us). */
  deviceInfoDir: string;
}

/**
 * Size-based rotation of `logFile` (netconf `logOptions`, named as upstream
 * Multus names them), in the units the writer uses.
 */
export interface LogRotation {
  /** The file is moved aside before a line would take it past this (`maxSize`, MB). */
  maxBytes: number;
  /** Backups kept, newest first; 0 keeps all (`maxBackups`). */
  maxBackups: number;
  /** Backups older than this go; 0 keeps them whatever their age (`maxAge`, days). */
  maxAgeMs: number;
  /** gzip the backups (`compress`). */
  compress: boolean;
}

const MB = 1024 * 1024;
const DAY_MS = 24 * 3600 * 1000;
/** `maxSize` 0 or absent: 100 MB, as upstream. */
export const DEFAULT_LOG_MAX_SIZE_MB = 100;
/** Without `logOptions` the log stays bounded as upstream's does: 100 MB, 5 gzipped backups of at most 5 days. */
export const DEFAULT_LOG_ROTATION: LogRotation = {
  maxBytes: DEFAULT_LOG_MAX_SIZE_MB * MB,
  maxBackups: 5,
  maxAgeMs: 5 * DAY_MS,
  compress: true,
};

export interface LogSection {
  file?: string;
  level?: string;
  toStderr: boolean;
  rotation: LogRotation;
}

/** One entry of the runtime's `cni.dev/valid-attachments` (GC). */
export interface ValidAttachment {
  containerID: string;
  ifname: string;
}

export interface NetConf {
  name: string;
  /** `cniVersion` of our config; results are returned in it. */
  cniVersion: string;
  /**
   * false when the config has no `cniVersion`: the ADD result is then the
   * cluster network's as its delegate printed it, as upstream Multus returns it.
   */
  cniVersionGiven: boolean;
  mode: "legacy" | "crd";
  delegates: Delegate[];
  cniDir: string;
  binDir: string;
  confDir: string;
  timeouts: Timeouts;
  /** ADD (never DEL) waits for this file: the cluster network's readiness. */
  readinessFile?: string;
  kubernetes: KubernetesSection;
  devices: DevicesSection;
  log: LogSection;
  /** Run the delegates of one ADD or DEL concurrently instead of in order. */
  parallel: boolean;
  /** Keep a DEL's failed attachments in the record for the runtime's retry (else the record goes). */
  retryDeleteOnError: boolean;
  /** The runtime's capability args (portMappings, bandwidth ...) for the cluster network. */
  runtimeConfig?: JsonObject;
  /** GC: the attachments the runtime still uses; undefined when the runtime sent none. */
  validAttachments?: ValidAttachment[];
}

/**
 * Every top-level key of our netconf that has a meaning. The validator
 * (wasm/src/netconf.rs) knows the same list; a test keeps them equal.
 */
export const NETCONF_FIELDS = [
  "name",
  "type",
  "cniVersion",
  "cniVersions",
  "delegates",
  "kubeconfig",
  "cniDir",
  "confDir",
  "binDir",
  "clusterNetwork",
  "defaultNetworks",
  "multusNamespace",
  "systemNamespaces",
  "namespaceIsolation",
  "globalNamespaces",
  "readinessindicatorfile",
  "readinessTimeout",
  "logFile",
  "logLevel",
  "logToStderr",
  "logOptions",
  "always_use_default",
  "retryDeleteOnError",
  "parallel",
  "capabilities",
  "runtimeConfig",
  "prevResult",
  "delegateTimeout",
  "addTimeout",
  "apiTimeout",
  "apiDeadline",
  "args",
  "cni.dev/valid-attachments",
  "podResourcesSocket",
  "kubeletCheckpoint",
  "deviceInfoDir",
  "podEvents",
  "multusInstall",
] as const;

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
    // Where, by our own tokenizer (the runtime's parser may say no position, and says it its own way).
    const s = syntaxError(text);
    const where = s && `${STDIN}:${formatPosition(positionAt(text, s.offset))}: ${s.message}`;
    throw new CniError(ErrorCode.DecodeFailure, `error decoding network config: ${(e as Error).message}`, where);
  }
  if (!isJsonObject(v)) throw new CniError(ErrorCode.DecodeFailure, "error decoding network config: not a JSON object");
  if (depthExceeds(v, MAX_JSON_DEPTH)) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      `error decoding network config: nested too deeply (more than ${MAX_JSON_DEPTH} levels of lists and objects)`,
    );
  }
  return v;
}

/** Whether lists and objects nest more than `max` levels (the top one counts), without recursion. */
function depthExceeds(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, depth] = stack.pop()!;
    if (typeof x !== "object" || x === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(x) ? x : Object.values(x)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
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

function optStringList(o: JsonObject, key: string, fallback: string[]): string[] {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw invalid(`netconf: "${key}" must be a list of strings`);
  return v as string[];
}

function optBool(o: JsonObject, key: string): boolean {
  const v = o[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw invalid(`netconf: "${key}" must be true or false`);
  return v;
}

const nonNegative = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** `logOptions`' keys: what each must be, and the LogRotation field it sets (undefined: not that). */
const LOG_OPTIONS: Record<string, { must: string; read: (v: unknown) => Partial<LogRotation> | undefined }> = {
  maxSize: {
    must: "a number of megabytes (0 means 100)",
    read: (v) => (nonNegative(v) ? { maxBytes: Math.round((v || DEFAULT_LOG_MAX_SIZE_MB) * MB) } : undefined),
  },
  maxBackups: {
    must: "a whole number of files (0 keeps all)",
    read: (v) => (Number.isSafeInteger(v) && (v as number) >= 0 ? { maxBackups: v as number } : undefined),
  },
  maxAge: {
    must: "a number of days (0 keeps backups whatever their age)",
    read: (v) => (nonNegative(v) ? { maxAgeMs: v * DAY_MS } : undefined),
  },
  compress: { must: "true or false", read: (v) => (typeof v === "boolean" ? { compress: v } : undefined) },
};

/** `logOptions` over the defaults; `strict` throws on a bad value, else the default stands. */
function readLogRotation(raw: JsonObject, strict: boolean): LogRotation {
  const r = { ...DEFAULT_LOG_ROTATION };
  const o = raw.logOptions;
  if (o === undefined || o === null) return r;
  if (!isJsonObject(o)) {
    if (strict) throw invalid(`netconf: "logOptions" must be an object`);
    return r;
  }
  for (const [key, opt] of Object.entries(LOG_OPTIONS)) {
    if (o[key] === undefined || o[key] === null) continue;
    const set = opt.read(o[key]);
    if (set) Object.assign(r, set);
    else if (strict) throw invalid(`netconf: "logOptions.${key}" must be ${opt.must}`);
  }
  return r;
}

/**
 * The log settings alone, never throwing: the logger exists before the rest
 * of the config is checked, so that a bad config is logged too (loadNetconf
 * then refuses it).
 */
export function readLogSection(raw: JsonObject): LogSection {
  return {
    ...(typeof raw.logFile === "string" && raw.logFile ? { file: raw.logFile } : {}),
    ...(typeof raw.logLevel === "string" ? { level: raw.logLevel } : {}),
    toStderr: raw.logToStderr === true,
    rotation: readLogRotation(raw, false),
  };
}

const VALID_KEY = "cni.dev/valid-attachments";

/**
 * The runtime's list for GC. A malformed list is refused: read as "nothing
 * is valid" it would tear down every pod on the node.
 */
function readValidAttachments(raw: JsonObject): ValidAttachment[] | undefined {
  const list = raw[VALID_KEY];
  if (list === undefined) return undefined;
  const field = `"${VALID_KEY}"`;
  const bad = (msg: string) => invalid(msg, "GC needs the runtime's list of valid attachments; nothing was torn down");
  if (!Array.isArray(list)) throw bad(`${field} must be a list of {"containerID", "ifname"} objects`);
  return list.map((a, i) => {
    if (!isJsonObject(a)) throw bad(`${field}[${i}] must be an object with "containerID" and "ifname"`);
    for (const key of ["containerID", "ifname"]) {
      if (typeof a[key] !== "string" || a[key] === "") throw bad(`${field}[${i}].${key} must be a non-empty string`);
    }
    return { containerID: a.containerID as string, ifname: a.ifname as string };
  });
}

/** Every timeout of the netconf; `teardown` gives a malformed one its default instead of refusing it. */
function readTimeouts(raw: JsonObject, teardown: boolean): Timeouts {
  const seconds = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "number" || !(v > 0)) {
      if (teardown) return fallback * 1000;
      throw invalid(`netconf: "${key}" must be a number of seconds greater than 0 and at most ${MAX_DURATION_S}`);
    }
    // The validator refuses a longer one where it gates (ADD, CHECK, STATUS); a DEL or GC
    // it does not gate gets the longest allowed instead, never a timer that overflows.
    return Math.min(v, MAX_DURATION_S) * 1000;
  };
  return {
    delegateMs: seconds("delegateTimeout", DEFAULT_DELEGATE_TIMEOUT_S),
    addMs: seconds("addTimeout", DEFAULT_ADD_TIMEOUT_S),
    readinessMs: seconds("readinessTimeout", DEFAULT_READINESS_TIMEOUT_S),
    apiRequestMs: seconds("apiTimeout", 5),
    apiDeadlineMs: seconds("apiDeadline", 20),
  };
}

function readDevices(raw: JsonObject): DevicesSection {
  return {
    podResourcesSocket: optString(raw, "podResourcesSocket") || DEFAULT_POD_RESOURCES_SOCKET,
    kubeletCheckpoint: optString(raw, "kubeletCheckpoint") || DEFAULT_KUBELET_CHECKPOINT,
    deviceInfoDir: optString(raw, "deviceInfoDir") || DEFAULT_DEVICE_INFO_DIR,
  };
}

function readKubernetes(raw: JsonObject, kubeconfig: string | undefined, clusterNetwork: string | undefined): KubernetesSection {
  const globalNamespaces = (optString(raw, "globalNamespaces") || "default")
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  const kubernetes: KubernetesSection = {
    multusNamespace: optString(raw, "multusNamespace") || "kube-system",
    systemNamespaces: optStringList(raw, "systemNamespaces", ["kube-system"]),
    defaultNetworks: optStringList(raw, "defaultNetworks", []),
    namespaceIsolation: optBool(raw, "namespaceIsolation"),
    globalNamespaces,
    alwaysUseDefault: optBool(raw, "always_use_default"),
    podEvents: raw.podEvents === undefined ? true : optBool(raw, "podEvents"),
  };
  if (kubeconfig) kubernetes.kubeconfig = kubeconfig;
  if (clusterNetwork) kubernetes.clusterNetwork = clusterNetwork;
  return kubernetes;
}

/**
 * `teardown` (DEL, GC): a delegate that is a Multus is read, not refused, so
 * that a config an older install wrote (a Multus nested as the cluster
 * network) never blocks a pod's deletion; DEL skips such a plugin. A
 * duration that is no number of seconds gets its default, for the same reason.
 */
export function loadNetconf(raw: JsonObject, { teardown = false } = {}): NetConf {
  const name = raw.name;
  if (name === undefined || name === "") throw invalid(`netconf: "name" is missing`);
  if (typeof name !== "string") throw invalid(`netconf: "name" must be a string`);
  if (!NETWORK_NAME.test(name)) throw invalid(`netconf: "name" ${JSON.stringify(name)} has invalid characters`);

  const cniVersion = checkVersion(raw);

  const kubeconfig = optString(raw, "kubeconfig") || undefined;
  const clusterNetwork = optString(raw, "clusterNetwork") || undefined;
  const list = raw.delegates ?? [];
  if (!Array.isArray(list)) throw invalid(`netconf: "delegates" must be a list of CNI configs`);
  if (list.length === 0 && !kubeconfig && !clusterNetwork) {
    throw invalid(`netconf: "delegates" must list at least one network when "kubeconfig" is not set`);
  }
  const defaults = { name, cniVersion };
  const delegates = list.map((d, i) => loadDelegate(d, `delegates[${i}]`, i, defaults, { allowMultus: teardown }));
  const kubernetes = readKubernetes(raw, kubeconfig, clusterNetwork);

  const log = readLogSection(raw);
  optBool(raw, "logToStderr");
  readLogRotation(raw, true);
  const rc = raw.runtimeConfig;
  if (rc !== undefined && !isJsonObject(rc)) throw invalid(`netconf: "runtimeConfig" must be an object`);

  const conf: NetConf = {
    name,
    cniVersion,
    cniVersionGiven: raw.cniVersion !== undefined,
    mode: kubeconfig || clusterNetwork ? "crd" : "legacy",
    delegates,
    cniDir: optString(raw, "cniDir") || DEFAULT_CNI_DIR,
    binDir: optString(raw, "binDir") || DEFAULT_BIN_DIR,
    confDir: optString(raw, "confDir") || DEFAULT_CONF_DIR,
    timeouts: readTimeouts(raw, teardown),
    kubernetes,
    devices: readDevices(raw),
    log,
    parallel: optBool(raw, "parallel"),
    // Our DEL keeps failed attachments by default; false is upstream's default.
    retryDeleteOnError: raw.retryDeleteOnError === undefined ? true : optBool(raw, "retryDeleteOnError"),
  };
  const readinessFile = optString(raw, "readinessindicatorfile");
  if (readinessFile) conf.readinessFile = readinessFile;
  if (isJsonObject(rc)) conf.runtimeConfig = rc;
  const valid = readValidAttachments(raw);
  if (valid) conf.validAttachments = valid;
  return conf;
}
