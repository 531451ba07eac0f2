/**
 * The CNI_* environment: which variables each verb needs, and their checks.
 * This is the only module that reads the runtime's environment.
 */
import { labelProblem, subdomainProblem } from "../k8s/names.ts";
import { CniError, ErrorCode } from "./errors.ts";

export type Verb = "ADD" | "DEL" | "CHECK" | "VERSION" | "STATUS" | "GC";

const VERBS: readonly Verb[] = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"];

export interface CniArgs {
  verb: Verb;
  containerId: string;
  netns: string;
  ifName: string;
  /** CNI_ARGS exactly as received; passed through to delegates. */
  args: string;
  /** CNI_ARGS parsed (the one place it is parsed), in order. */
  pairs: ReadonlyMap<string, string>;
  /** The pod named by K8S_POD_NAMESPACE / K8S_POD_NAME (and K8S_POD_UID), if any. */
  pod?: PodRef;
  /** CNI_PATH entries, in order. */
  path: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/** Variables each verb must have (CNI spec section 3, as libcni's skel enforces). */
const REQUIRED: Record<Verb, readonly string[]> = {
  ADD: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  CHECK: ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"],
  DEL: ["CNI_CONTAINERID", "CNI_IFNAME"],
  VERSION: [],
  STATUS: [],
  GC: [],
};

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Linux interface name rules (IFNAMSIZ is 16 including the NUL), and not
 * `lo`, which every network namespace has: why `name` cannot be a pod's
 * interface, or undefined when it can. The one home of this rule; the
 * validator (wasm/src/delegate.rs) has its own copy, kept equal by a test.
 */
export function ifNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (Buffer.byteLength(name, "utf8") > 15) return "is longer than 15 bytes";
  if (name === "." || name === "..") return "must not be '.' or '..'";
  if (name.includes("\0")) return "must not contain a NUL byte";
  if (name === "lo") return "is the loopback interface every network namespace already has";
  if (/\s/.test(name)) return "must not contain whitespace";
  if (name.includes("/")) return "must not contain '/'";
  if (name.includes(":")) return "must not contain ':'";
  return undefined;
}

/** A container ID must be safe to use as a file name in the cache directory. */
export function containerIdProblem(id: string): string | undefined {
  if (!CONTAINER_ID.test(id)) return `"${id}" has invalid characters (allowed: letters, digits, '_', '.', '-'; first a letter or digit)`;
  if (id.length > 200) return "is longer than 200 characters";
  return undefined;
}

/** Read the verb alone: VERSION and the human CLI need nothing else. */
export function readVerb(env: Env): Verb | undefined {
  const cmd = env.CNI_COMMAND;
  if (cmd === undefined || cmd === "") return undefined;
  if (!(VERBS as readonly string[]).includes(cmd)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `unknown CNI_COMMAND: ${cmd}`, `supported: ${VERBS.join(", ")}`);
  }
  return cmd as Verb;
}

export function readCniArgs(env: Env, verb: Verb): CniArgs {
  const missing = REQUIRED[verb].filter((k) => !env[k]);
  if (missing.length) {
    throw new CniError(ErrorCode.InvalidEnvironment, `required env variables [${missing.join(",")}] missing`);
  }
  const containerId = env.CNI_CONTAINERID ?? "";
  if (containerId !== "") {
    const p = containerIdProblem(containerId);
    if (p) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_CONTAINERID ${p}`);
  }
  const ifName = env.CNI_IFNAME ?? "";
  if (REQUIRED[verb].includes("CNI_IFNAME")) {
    const p = ifNameProblem(ifName);
    if (p) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_IFNAME "${ifName}" ${p}`);
  }
  const args = env.CNI_ARGS ?? "";
  const pairs = new Map(parseCniArgs(args)); // malformed pairs are refused before anything runs
  const pod = podRef(pairs);
  return {
    verb,
    containerId,
    netns: env.CNI_NETNS ?? "",
    ifName,
    args,
    pairs,
    ...(pod ? { pod } : {}),
    path: (env.CNI_PATH ?? "").split(":").filter((p) => p !== ""),
  };
}

/** Who the runtime says the pod is (kubelet's K8S_POD_* pairs). */
export interface PodRef {
  namespace: string;
  name: string;
  /** K8S_POD_UID when the runtime sent it. */
  uid?: string;
}

/** The pod named in CNI_ARGS; names that Kubernetes would not accept are refused (code 4) before any request. */
function podRef(pairs: ReadonlyMap<string, string>): PodRef | undefined {
  const namespace = pairs.get("K8S_POD_NAMESPACE");
  const name = pairs.get("K8S_POD_NAME");
  if (!namespace || !name) return undefined;
  const bad = (key: string, value: string, problem: string) =>
    new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS: ${key} ${JSON.stringify(value)} is not a valid Kubernetes name: it ${problem}`);
  const nsProblem = labelProblem(namespace);
  if (nsProblem) throw bad("K8S_POD_NAMESPACE", namespace, nsProblem);
  const nameProblem = subdomainProblem(name);
  if (nameProblem) throw bad("K8S_POD_NAME", name, nameProblem);
  const uid = pairs.get("K8S_POD_UID");
  return uid ? { namespace, name, uid } : { namespace, name };
}

/**
 * CNI_ARGS for one attachment: the runtime's pairs, plus its own (a pair
 * replaces the runtime's value for the same key). `IgnoreUnknown=1` comes
 * first when the runtime did not send IgnoreUnknown, as upstream Multus
 * does, so plugins that parse their args strictly accept the K8S_* keys.
 */
export function withExtraArgs(base: CniArgs, extra: readonly (readonly [string, string])[] | undefined): string {
  const ignore = !base.pairs.has("IgnoreUnknown");
  if (!extra?.length) {
    if (!ignore) return base.args; // exactly as received
    return base.args === "" ? "IgnoreUnknown=1" : `IgnoreUnknown=1;${base.args}`;
  }
  const pairs = new Map<string, string>(ignore ? [["IgnoreUnknown", "1"], ...base.pairs] : base.pairs);
  for (const [k, v] of extra) pairs.set(k, v);
  return [...pairs].map(([k, v]) => `${k}=${v}`).join(";");
}

/** `K1=V1;K2=V2` → ordered pairs. A pair without `=` is an error (code 4). */
function parseCniArgs(s: string): [string, string][] {
  if (s.trim() === "") return [];
  return s
    .split(";")
    .filter((p) => p !== "")
    .map((pair) => {
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS: invalid pair "${pair}" (expected KEY=VALUE)`);
      return [pair.slice(0, eq), pair.slice(eq + 1)];
    });
}
