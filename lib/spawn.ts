/**
 * Run one executable the way a CNI runtime does, as a process group of its
 * own: no shell, input on stdin, output collected, bounded in time.
 *
 * - Completion is the child's exit, not the end of its output: a plugin that
 *   leaves a background process holding stdout is done when it exits.
 * - On timeout the whole group is killed (SIGKILL), so a plugin's own
 *   children (IPAM plugins, helpers, `sleep &`) do not outlive it.
 * - `onStart` gets the pid (= the group id) as soon as it exists, so a
 *   caller can record it for a later DEL to kill (see lib/proc.ts).
 * - Output is bounded: a child that prints more than `maxStdout` on stdout
 *   is killed like a timed-out one (`overflowed`); of stderr, which is
 *   read to its end so the child never blocks on it, only the first
 *   STDERR_KEEP bytes are kept.
 *
 * This is the runtime seam for process creation: under Bun (dist/multus)
 * Bun.spawn, which starts a child with vfork and posix_spawn-style setup;
 * elsewhere (node, deno: dist/multus.mjs) node:child_process. Both create the
 * child with setsid() (`detached`), so pid = process group id. Everything
 * else in the program is plain node:* APIs that node, deno and bun all provide.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { bunRuntime } from "./runtime.ts";
import { mark } from "./trace.ts";

/** What a child may print on stdout by default: a CNI result (or a credential) is a few KiB. */
export const STDOUT_LIMIT = 4 << 20;
/** What is kept of a child's stderr: far more than any message needs. */
export const STDERR_KEEP = 64 << 10;

export interface SpawnRequest {
  file: string;
  /** Arguments after the file name (a CNI plugin gets none). */
  args?: readonly string[];
  env: Record<string, string>;
  input: string;
  timeoutMs: number;
  onStart?: (pid: number) => void;
  /** Most bytes of stdout accepted (default STDOUT_LIMIT). */
  maxStdout?: number;
}

export interface SpawnOutput {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** It printed more than `maxStdout` and was killed (its group too); `stdout` is what came before. */
  overflowed: boolean;
}

/**
 * Collects a child's output up to `keep` bytes; past that, `onOverflow`
 * runs (stdout) or the rest is dropped (stderr, without `onOverflow`).
 */
class Capped {
  readonly chunks: Uint8Array[] = [];
  private kept = 0;
  overflowed = false;

  constructor(
    private readonly keep: number,
    private readonly onOverflow?: () => void,
  ) {}

  /** Take a chunk; false once full and no more is wanted. */
  add(b: Uint8Array): boolean {
    if (this.kept + b.length <= this.keep) {
      this.chunks.push(b);
      this.kept += b.length;
      return true;
    }
    if (this.onOverflow) {
      if (!this.overflowed) this.onOverflow();
      this.overflowed = true;
      return false;
    }
    if (this.kept < this.keep) this.chunks.push(b.subarray(0, this.keep - this.kept));
    this.kept = this.keep;
    return true;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/** How long output already written may take to be read once the child has exited. */
const DRAIN_MS = 25;

/** SIGKILL a whole process group; a group already gone is fine. Never kill(0) or kill(-1): those are not a group. */
export function killGroup(pgid: number): void {
  if (!Number.isInteger(pgid) || pgid <= 1) return;
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // nothing left in the group
  }
}

export async function spawnPlugin(req: SpawnRequest): Promise<SpawnOutput> {
  const name = req.file.slice(req.file.lastIndexOf("/") + 1);
  mark(`spawn ${name}`);
  const bun = bunRuntime();
  try {
    return await (bun ? spawnWithBun(bun, req) : spawnWithNode(req));
  } finally {
    mark(`exited ${name}`);
  }
}

/** The timeout of one child: SIGKILL its group, once more after its exit for what the group started since. */
function groupTimer(pgid: number, ms: number): { readonly fired: boolean; afterExit(): void; clear(): void } {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    killGroup(pgid);
  }, ms);
  return {
    get fired() {
      return fired;
    },
    afterExit() {
      if (fired) killGroup(pgid);
    },
    clear() {
      clearTimeout(timer);
    },
  };
}

/** node:child_process, loaded on first use: Bun never needs it (its module costs milliseconds and MiBs there). */
let childProcess: typeof import("node:child_process") | undefined;

async function spawnWithNode(req: SpawnRequest): Promise<SpawnOutput> {
  childProcess ??= await import("node:child_process");
  const { spawn } = childProcess;
  return new Promise((resolve, reject) => {
    // detached: setsid(), so the child leads a new process group (pgid = pid).
    const child: ChildProcessWithoutNullStreams = spawn(req.file, req.args ?? [], {
      env: req.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    supervise(child, req, resolve, reject);
    // A plugin that exits without reading stdin must not crash us with EPIPE.
    child.stdin.on("error", () => {});
    child.stdin.end(req.input);
  });
}

/** A node:child_process child's output, time bound and end, by the rules spawnWithBun keeps too. */
function supervise(
  child: ChildProcessWithoutNullStreams,
  req: SpawnRequest,
  resolve: (o: SpawnOutput) => void,
  reject: (e: Error) => void,
): void {
  let pgid = 0;
  const out = new Capped(req.maxStdout ?? STDOUT_LIMIT, () => {
    killGroup(pgid);
    child.stdout.destroy();
  });
  const err = new Capped(STDERR_KEEP);
  let settled = false;
  let closed = false;
  let timer: ReturnType<typeof groupTimer> | undefined;
  const finish = (code: number | null, signal: string | null): void => {
    if (settled) return;
    settled = true;
    timer?.clear();
    child.stdout.destroy();
    child.stderr.destroy();
    resolve({ stdout: out.text(), stderr: err.text(), code, signal, timedOut: timer?.fired ?? false, overflowed: out.overflowed });
  };
  child.on("error", (e) => {
    if (settled) return;
    settled = true;
    timer?.clear();
    reject(e);
  });
  if (child.pid === undefined) return; // spawn failed: "error" follows
  pgid = child.pid;
  req.onStart?.(pgid);
  timer = groupTimer(pgid, req.timeoutMs);
  child.stdout.on("data", (b: Buffer) => out.add(b));
  child.stderr.on("data", (b: Buffer) => err.add(b));
  child.on("close", (code, signal) => {
    closed = true;
    finish(code, signal);
  });
  // Output written before the exit is already in the pipes; a process the
  // child left behind may keep them open, so do not wait for EOF.
  child.on("exit", (code, signal) => {
    timer?.afterExit();
    setTimeout(() => !closed && finish(code, signal), DRAIN_MS);
  });
}

/** The part of Bun's API used here (Bun.spawn with pipes). */
export interface BunSpawnApi {
  spawn(options: { cmd: string[]; env: Record<string, string>; stdin: Uint8Array; stdout: "pipe"; stderr: "pipe"; detached: boolean }): {
    readonly pid: number;
    readonly stdout: ReadableStream<Uint8Array>;
    readonly stderr: ReadableStream<Uint8Array>;
    readonly exited: Promise<number>;
    readonly exitCode: number | null;
    readonly signalCode: string | null;
  };
}

/** Read a pipe into `into` until EOF, until it wants no more, or until stopped (a descendant may hold it open forever). */
function drain(stream: ReadableStream<Uint8Array>, into: Capped): { ended: Promise<void>; stop(): void } {
  const reader = stream.getReader();
  const ended = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || !into.add(value)) return;
      }
    } catch {
      // cancelled, or the pipe failed: keep what was read
    }
  })();
  return { ended, stop: () => void reader.cancel().catch(() => {}) };
}

async function spawnWithBun(bun: BunSpawnApi, req: SpawnRequest): Promise<SpawnOutput> {
  // detached: setsid() in the child, so it leads a new process group (pgid = pid).
  // Throws (ENOENT, EACCES, ETXTBSY …, with .code) when the exec fails.
  const child = bun.spawn({
    cmd: [req.file, ...(req.args ?? [])],
    env: req.env,
    // Bun writes it and closes stdin; a child that exits without reading it is fine.
    stdin: Buffer.from(req.input, "utf8"),
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const pgid = child.pid;
  req.onStart?.(pgid);
  const timer = groupTimer(pgid, req.timeoutMs);
  const stdout = new Capped(req.maxStdout ?? STDOUT_LIMIT, () => killGroup(pgid));
  const stderr = new Capped(STDERR_KEEP);
  const out = drain(child.stdout, stdout);
  const err = drain(child.stderr, stderr);
  try {
    await child.exited;
    timer.afterExit();
    // Output written before the exit is already in the pipes; a process the
    // child left behind may keep them open, so do not wait for EOF.
    let late: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all([out.ended, err.ended]), new Promise((r) => (late = setTimeout(r, DRAIN_MS)))]);
    clearTimeout(late);
  } finally {
    timer.clear();
    out.stop();
    err.stop();
  }
  return {
    stdout: stdout.text(),
    stderr: stderr.text(),
    code: child.signalCode ? null : child.exitCode,
    signal: child.signalCode,
    timedOut: timer.fired,
    overflowed: stdout.overflowed,
  };
}
