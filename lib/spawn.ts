/**
 * Run one executable the way a CNI runtime does, as a process group of its
 * own: no shell, input on stdin, output collected, bounded in time.
 *
 * - Completion is the child's exit, not the end of its output: a plugin that
 *   leaves a background process holding stdout is done when it exits.
 * - On timeout the whole group is killed (SIGKILL), so a plugin's own
 *   children (IPAM plugins, helpers, `sleep &`) do not outlive it.
 * - `onStart` gets the pid (= the group id) as soon as it exists, so a
 *   caller can record it for a later DEL to kill (see lib/orphans.ts).
 *
 * This is the runtime seam for process creation: everything else is plain
 * node:* APIs that node, deno and bun all provide.
 */
import { spawn } from "node:child_process";

export interface SpawnRequest {
  file: string;
  env: Record<string, string>;
  input: string;
  timeoutMs: number;
  onStart?: (pid: number) => void;
}

export interface SpawnOutput {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: string | null;
  timedOut: boolean;
}

/** How long output already written may take to be read once the child has exited. */
const DRAIN_MS = 25;

/** SIGKILL a whole process group; a group already gone is fine. */
export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // nothing left in the group
  }
}

export function spawnPlugin(req: SpawnRequest): Promise<SpawnOutput> {
  return new Promise((resolve, reject) => {
    // detached: setsid(), so the child leads a new process group (pgid = pid).
    const child = spawn(req.file, [], { env: req.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const finish = (code: number | null, signal: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        code,
        signal,
        timedOut,
      });
    };

    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
    if (child.pid === undefined) return; // spawn failed: "error" follows
    const pgid = child.pid;
    req.onStart?.(pgid);
    timer = setTimeout(() => {
      timedOut = true;
      killGroup(pgid);
    }, req.timeoutMs);

    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    let closed = false;
    child.on("close", (code, signal) => {
      closed = true;
      finish(code, signal);
    });
    child.on("exit", (code, signal) => {
      if (timedOut) killGroup(pgid); // anything the group started since
      // Output written before the exit is already in the pipes; a process
      // the child left behind may keep them open, so do not wait for EOF.
      setTimeout(() => {
        if (!closed) finish(code, signal);
      }, DRAIN_MS);
    });
    // A plugin that exits without reading stdin must not crash us with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(req.input);
  });
}
