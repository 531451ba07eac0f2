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
 *
 * This is the runtime seam for process creation: under Bun (dist/multus)
 * Bun.spawn, which starts a child with vfork and posix_spawn-style setup;
 * elsewhere (node, deno: dist/multus.mjs) node:child_process. Both create the
 * child with setsid() (`detached`), so pid = process group id. Everything
 * else in the program is plain node:* APIs that node, deno and bun all provide.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { bunRuntime } from "./runtime.ts";

export interface SpawnRequest {
  file: string;
  /** Arguments after the file name (a CNI plugin gets none). */
  args?: readonly string[];
  env: Record<string, string>;
  input: string;
  timeoutMs: number;
  onStart?: (pid: number) => void;
  /** Bytes of stdout, and of stderr, kept at most: beyond it the group is killed (`overflowed`). */
  outputLimit?: number;
}

export interface SpawnOutput {
  stdout: string;
  stderr: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** stdout or stderr passed `outputLimit`: the group was killed and the output cut there. */
  overflowed?: boolean;
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
  const bun = bunRuntime();
  return bun ? spawnWithBun(bun, req) : spawnWithNode(req);
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

/** A "data" listener keeping at most `limit` bytes in `chunks`; past it, `overflow` runs and nothing more is kept. */
function collector(chunks: Buffer[], limit = Number.POSITIVE_INFINITY, overflow: () => void): (b: Buffer) => void {
  let size = 0;
  let full = false;
  return (b) => {
    if (full) return;
    size += b.length;
    if (size <= limit) return void chunks.push(b);
    chunks.push(b.subarray(0, b.length - (size - limit)));
    full = true;
    overflow();
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
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let overflowed = false;
    let timer: ReturnType<typeof groupTimer> | undefined;

    const finish = (code: number | null, signal: string | null): void => {
      if (settled) return;
      settled = true;
      timer?.clear();
      child.stdout.destroy();
      child.stderr.destroy();
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        code,
        signal,
        timedOut: timer?.fired ?? false,
        ...(overflowed ? { overflowed } : {}),
      });
    };

    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      timer?.clear();
      reject(e);
    });
    if (child.pid === undefined) return; // spawn failed: "error" follows
    const pgid = child.pid;
    req.onStart?.(pgid);
    timer = groupTimer(pgid, req.timeoutMs);

    const overflow = () => {
      overflowed = true;
      killGroup(pgid);
    };
    child.stdout.on("data", collector(out, req.outputLimit, overflow));
    child.stderr.on("data", collector(err, req.outputLimit, overflow));
    let closed = false;
    child.on("close", (code, signal) => {
      closed = true;
      finish(code, signal);
    });
    child.on("exit", (code, signal) => {
      timer?.afterExit();
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

/**
 * Read a pipe into chunks until EOF or until stopped (a descendant may hold
 * it open forever); past `limit` bytes `onOverflow` runs and reading ends.
 */
function drain(
  stream: ReadableStream<Uint8Array>,
  limit = Number.POSITIVE_INFINITY,
  onOverflow: () => void = () => {},
): { chunks: Uint8Array[]; ended: Promise<void>; stop(): void } {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  const ended = (async () => {
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        size += value.length;
        if (size > limit) {
          chunks.push(value.subarray(0, value.length - (size - limit)));
          onOverflow();
          return;
        }
        chunks.push(value);
      }
    } catch {
      // cancelled, or the pipe failed: keep what was read
    }
  })();
  return { chunks, ended, stop: () => void reader.cancel().catch(() => {}) };
}

const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString("utf8");

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
  let overflowed = false;
  const overflow = () => {
    overflowed = true;
    killGroup(pgid);
  };
  const out = drain(child.stdout, req.outputLimit, overflow);
  const err = drain(child.stderr, req.outputLimit, overflow);
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
    stdout: text(out.chunks),
    stderr: text(err.chunks),
    code: child.signalCode ? null : child.exitCode,
    signal: child.signalCode,
    timedOut: timer.fired,
    ...(overflowed ? { overflowed } : {}),
  };
}
