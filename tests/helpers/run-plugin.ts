/** Execute the built plugin exactly as a container runtime does. */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PLUGIN = process.env.MULTUS_TEST_BIN ?? join(ROOT, "dist", "multus");
export const CNI_BIN = "/usr/lib/cni";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json?: Record<string, unknown>;
}

export interface CniCall {
  command?: string;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  path?: string;
  /** Extra or overriding env; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  stdin: string | object;
  bin?: string;
  argv?: string[];
  /** Run the bin with this interpreter (e.g. ["node"]). */
  interpreter?: string[];
  /** The working directory (default: the test's). */
  cwd?: string;
}

/** The environment a runtime gives the plugin for `call`. */
export function cniEnv(call: CniCall): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName ?? "eth0",
    CNI_ARGS: call.args,
    CNI_PATH: call.path ?? CNI_BIN,
    ...call.env,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env as Record<string, string>;
}

export function runPlugin(call: CniCall): Promise<RunResult> {
  const env = cniEnv(call);
  const bin = call.bin ?? PLUGIN;
  const [file, argv] = call.interpreter
    ? [call.interpreter[0], [...call.interpreter.slice(1), bin, ...(call.argv ?? [])]]
    : [bin, call.argv ?? []];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { env: env as NodeJS.ProcessEnv, ...(call.cwd ? { cwd: call.cwd } : {}) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(typeof call.stdin === "string" ? call.stdin : JSON.stringify(call.stdin));
  });
}
