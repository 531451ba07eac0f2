/**
 * The CNI_* environment: which variables each verb needs, and their checks.
 * This is the only module that reads the runtime's environment.
 */
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

/** Linux interface name rules (IFNAMSIZ is 16 including the NUL). */
export function ifNameProblem(name: string): string | undefined {
  if (name === "") return "is empty";
  if (Buffer.byteLength(name) > 15) return `"${name}" is longer than 15 bytes`;
  if (name === "." || name === "..") return `"${name}" is not a valid interface name`;
  if (/[\s/:]/.test(name)) return `"${name}" contains '/', ':' or whitespace`;
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
    if (p) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_IFNAME ${p}`);
  }
  const args = env.CNI_ARGS ?? "";
  parseCniArgs(args); // reject malformed pairs early, before anything runs
  return {
    verb,
    containerId,
    netns: env.CNI_NETNS ?? "",
    ifName,
    args,
    path: (env.CNI_PATH ?? "").split(":").filter((p) => p !== ""),
  };
}

/** `K1=V1;K2=V2` → ordered pairs. A pair without `=` is an error (code 4). */
export function parseCniArgs(s: string): [string, string][] {
  if (s.trim() === "") return [];
  return s.split(";").filter((p) => p !== "").map((pair) => {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_ARGS: invalid pair "${pair}" (expected KEY=VALUE)`);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
}
