/**
 * Find a plugin binary by bare name and execute it the way a runtime would:
 * no shell, CNI_* env overridden, config on stdin, bounded in time.
 */
import { accessSync, constants, statSync } from "node:fs";
import { join } from "node:path";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { pluginTypeProblem } from "./delegate.ts";
import { DELEGATE_MARK, markValue, thisProcess } from "./proc.ts";
import { type SpawnOutput, STDOUT_LIMIT, spawnPlugin } from "./spawn.ts";

export type PluginVerb = "ADD" | "DEL" | "CHECK" | "STATUS" | "GC";

export interface PluginEnv {
  containerId: string;
  netns: string;
  ifName: string;
  args: string;
  /** Dirs searched for the plugin, and passed on as CNI_PATH. */
  path: string[];
}

export interface InvokeRequest {
  pluginType: string;
  verb: PluginVerb;
  env: PluginEnv;
  config: unknown;
  timeoutMs: number;
  /** Told the plugin's pid (its process group) as soon as it runs. */
  onStart?: (pid: number) => void;
}

/** A plugin failure, with what the plugin said: its message, and its own CNI code when it gave one. */
export class DelegateError extends CniError {
  readonly pluginCode?: number;

  constructor(req: InvokeRequest, problem: string, pluginCode?: number, details?: string) {
    super(ErrorCode.DelegateFailed, `plugin "${req.pluginType}" failed: ${problem}`, details);
    if (pluginCode !== undefined) this.pluginCode = pluginCode;
  }
}

/** Absolute path of an executable plugin, searching `dirs` in order. */
export function findPlugin(pluginType: string, dirs: readonly string[]): string {
  const problem = pluginTypeProblem(pluginType);
  if (problem) throw new CniError(ErrorCode.InvalidNetworkConfig, `plugin type ${problem}`);
  for (const dir of dirs) {
    const candidate = join(dir, pluginType);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new CniError(
    ErrorCode.InvalidNetworkConfig,
    `failed to find plugin "${pluginType}" in path [${dirs.join(" ")}]`,
    "install the plugin binary into one of these dirs, or fix CNI_PATH / binDir",
  );
}

const STDERR_LIMIT = 2000;

function excerpt(s: string): string {
  const t = s.trim();
  return t.length > STDERR_LIMIT ? `${t.slice(0, STDERR_LIMIT)}…` : t;
}

/** Spawn the plugin; ETXTBSY (the binary is being replaced, e.g. by an installer) is retried briefly. */
async function spawnRetrying(req: InvokeRequest, file: string, env: Record<string, string>): Promise<SpawnOutput> {
  const input = JSON.stringify(req.config);
  for (let attempt = 0; ; attempt++) {
    try {
      return await spawnPlugin({ file, env, input, timeoutMs: req.timeoutMs, onStart: req.onStart });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ETXTBSY" && attempt < 4) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      throw new DelegateError(req, `cannot execute ${file}: ${(e as Error).message}`);
    }
  }
}

/** Why a plugin run failed: its own CNI error object on stdout when it printed one, else what happened to it. */
function failureOf(req: InvokeRequest, res: SpawnOutput): DelegateError {
  if (res.overflowed) {
    return new DelegateError(
      req,
      `printed more than ${STDOUT_LIMIT} bytes on stdout; it and its child processes were killed`,
      undefined,
      excerpt(res.stderr),
    );
  }
  if (res.timedOut) {
    return new DelegateError(
      req,
      `timed out after ${Number((req.timeoutMs / 1000).toFixed(1))}s; it and its child processes were killed`,
      undefined,
      excerpt(res.stderr),
    );
  }
  if (res.signal) return new DelegateError(req, `killed by ${res.signal}`, undefined, excerpt(res.stderr));
  let parsed: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
  try {
    const v: unknown = JSON.parse(res.stdout);
    if (typeof v === "object" && v !== null) parsed = v as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed.msg === "string") {
    const detail = typeof parsed.details === "string" && parsed.details ? parsed.details : excerpt(res.stderr);
    const pcode = typeof parsed.code === "number" ? parsed.code : undefined;
    return new DelegateError(req, parsed.msg, pcode, detail);
  }
  const said = excerpt(res.stderr) || excerpt(res.stdout) || "no output";
  return new DelegateError(req, `exited with code ${res.code}: ${said}`);
}

/**
 * Run one plugin. Returns its stdout on success; throws DelegateError with the
 * plugin's own CNI error (or stderr) otherwise.
 */
export async function invokePlugin(req: InvokeRequest): Promise<string> {
  const file = findPlugin(req.pluginType, req.env.path);
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    CNI_COMMAND: req.verb,
    CNI_CONTAINERID: req.env.containerId,
    CNI_NETNS: req.env.netns,
    CNI_IFNAME: req.env.ifName,
    CNI_ARGS: req.env.args,
    CNI_PATH: req.env.path.join(":"),
    // Names us in the delegate's (and its children's) environment, so a DEL
    // after we were killed can find what we left running.
    [DELEGATE_MARK]: markValue(thisProcess()),
  };
  const res = await spawnRetrying(req, file, env);
  // Success only when it exited 0 on its own (not killed for its output or its time).
  if (res.code === 0 && !res.overflowed && !res.timedOut) return res.stdout;
  throw failureOf(req, res);
}
