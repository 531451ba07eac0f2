/**
 * Kubeconfig exec credential plugins (`users[].user.exec`, ExecCredential of
 * client.authentication.k8s.io/v1 or v1beta1), run as client-go runs them:
 * the parent's environment plus `env`, `args`, KUBERNETES_EXEC_INFO (with the
 * cluster when `provideClusterInfo`), never interactive (a CNI plugin has no
 * terminal). Unlike client-go it is bounded: the plugin runs in a process
 * group of its own (lib/spawn.ts), killed at the timeout or when it prints
 * more than OUTPUT_LIMIT. What it prints is never copied as it is: stdout
 * holds the credential, and stderr may too.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import { noteSecret, scrubUnknown } from "../secrets.ts";
import { spawnPlugin } from "../spawn.ts";

const API_VERSIONS = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];
/** An ExecCredential is a few KiB; a certificate chain, tens. */
export const OUTPUT_LIMIT = 1 << 20;

export interface ExecCredential {
  token?: string;
  cert?: string;
  key?: string;
}

/** What the plugin may learn of the cluster (ExecCredential spec.cluster), when `provideClusterInfo` is set. */
export interface ExecClusterInfo {
  server: string;
  "tls-server-name"?: string;
  "insecure-skip-tls-verify"?: boolean;
  "certificate-authority-data"?: string;
  "proxy-url"?: string;
  config?: unknown;
}

export interface ExecRun {
  /** The kubeconfig, for messages and for a relative command. */
  kubeconfig: string;
  cluster: ExecClusterInfo;
  timeoutMs: number;
}

function failure(run: ExecRun, why: string): CniError {
  return new CniError(ErrorCode.ApiFailure, `kubeconfig ${run.kubeconfig}: the exec credential plugin ${why}`);
}

/** A command with a path separator is relative to the kubeconfig (as client-go resolves it); a bare name is looked up in PATH. */
function commandPath(command: string, run: ExecRun): string {
  if (command.includes("/")) return isAbsolute(command) ? command : resolve(dirname(run.kubeconfig), command);
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const p = join(dir, command);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  throw failure(run, `"${command}" is not found in PATH`);
}

/** The plugin's environment: ours, the config's `env`, and KUBERNETES_EXEC_INFO. */
function pluginEnv(exec: JsonObject, apiVersion: string, run: ExecRun): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  for (const e of Array.isArray(exec.env) ? exec.env : []) {
    if (isJsonObject(e) && typeof e.name === "string" && e.name !== "") env[e.name] = typeof e.value === "string" ? e.value : "";
  }
  const spec: JsonObject = { interactive: false };
  if (exec.provideClusterInfo === true) spec.cluster = run.cluster as unknown as JsonObject;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion, kind: "ExecCredential", spec });
  return env;
}

/** apiVersion and interactiveMode as client-go checks them. */
function checkConfig(exec: JsonObject, run: ExecRun): { command: string; apiVersion: string } {
  const { command, apiVersion } = exec;
  if (typeof command !== "string" || command === "") throw failure(run, "has no command");
  if (typeof apiVersion !== "string" || !API_VERSIONS.includes(apiVersion)) {
    throw failure(run, `has apiVersion ${JSON.stringify(apiVersion ?? "")}: supported are ${API_VERSIONS.join(", ")}`);
  }
  const mode = exec.interactiveMode;
  if (mode === undefined || mode === "") {
    if (apiVersion.endsWith("/v1")) throw failure(run, `"${command}" has no interactiveMode, which ${apiVersion} requires`);
  } else if (mode === "Always") {
    throw failure(run, `"${command}" has interactiveMode Always, but a CNI plugin has no terminal`);
  } else if (mode !== "Never" && mode !== "IfAvailable") {
    throw failure(run, `"${command}" has interactiveMode ${JSON.stringify(mode)} (Never, IfAvailable or Always)`);
  }
  return { command, apiVersion };
}

/** The credential from the plugin's stdout; errors never quote it. */
function readCredential(stdout: string, apiVersion: string, command: string, run: ExecRun): ExecCredential {
  let v: unknown;
  try {
    v = JSON.parse(stdout);
  } catch {
    throw failure(run, `"${command}" printed no ExecCredential JSON`);
  }
  if (!isJsonObject(v) || v.kind !== "ExecCredential") throw failure(run, `"${command}" printed JSON that is not an ExecCredential`);
  if (v.apiVersion !== apiVersion) {
    throw failure(run, `"${command}" answered ${JSON.stringify(v.apiVersion ?? "")} to a request for ${apiVersion}`);
  }
  const status = isJsonObject(v.status) ? v.status : undefined;
  if (!status) throw failure(run, `"${command}" returned no status`);
  const str = (x: unknown) => (typeof x === "string" && x !== "" ? x : undefined);
  const out: ExecCredential = {};
  const token = str(status.token);
  const cert = str(status.clientCertificateData);
  const key = str(status.clientKeyData);
  noteSecret(token);
  noteSecret(key);
  if (token) out.token = token;
  if (cert || key) {
    if (!cert || !key) throw failure(run, `"${command}" returned a client certificate or key, not both`);
    out.cert = cert;
    out.key = key;
  }
  if (!token && !cert) throw failure(run, `"${command}" returned neither a token nor a client certificate and key`);
  return out;
}

/** Run the plugin once; its credential, or a CniError (code 11 when it timed out). */
export async function execCredential(exec: JsonObject, run: ExecRun): Promise<ExecCredential> {
  const { command, apiVersion } = checkConfig(exec, run);
  const file = commandPath(command, run);
  const args = Array.isArray(exec.args) ? exec.args.map(String) : [];
  let out: Awaited<ReturnType<typeof spawnPlugin>>;
  try {
    out = await spawnPlugin({
      file,
      args,
      env: pluginEnv(exec, apiVersion, run),
      input: "",
      timeoutMs: run.timeoutMs,
      maxStdout: OUTPUT_LIMIT,
    });
  } catch (e) {
    throw failure(run, `"${command}" cannot be run: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (out.timedOut) {
    // Code 11: a plugin that asks a remote service for the token may answer next time.
    throw new CniError(
      ErrorCode.TryAgainLater,
      `kubeconfig ${run.kubeconfig}: the exec credential plugin "${command}" did not finish within ${run.timeoutMs / 1000}s and was killed`,
    );
  }
  if (out.overflowed) throw failure(run, `"${command}" printed more than ${OUTPUT_LIMIT} bytes and was killed`);
  if (out.code !== 0) {
    const why = out.code === null ? `was killed by ${out.signal}` : `failed with exit code ${out.code}`;
    // Its stderr may hold a credential we have never seen: token-like words are cut out.
    const stderr = scrubUnknown(out.stderr.trim())
      .replace(/\s*\n\s*/g, " | ")
      .slice(0, 300);
    throw failure(run, `"${command}" ${why}${stderr ? `: ${stderr}` : ""}`);
  }
  return readCredential(out.stdout, apiVersion, command, run);
}
