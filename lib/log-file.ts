/**
 * The log file: appended to, and rotated by size, by what writes it: many
 * short-lived plugin processes at the same time.
 *
 * Backups are named as upstream Multus's writer (lumberjack) names them, so
 * log tooling built for it keeps working: `<name>-<UTC time>.<ext>`, e.g.
 * `multus-2024-05-01T10-20-30.123.log`, plus `.gz` once compressed.
 *
 * - One process rotates at a time: it holds `<file>.rotating` (naming its
 *   pid and start time; the lock of a process that died is broken). Others
 *   keep appending to the current file meanwhile.
 * - The file is moved aside (renamed), never copied or truncated, so every
 *   line is written whole into exactly one file.
 * - A writer that checked the file just before it was moved aside still
 *   appends its line to the backup. So a backup is compressed or removed
 *   only when no other process has it open; one that is still open is taken
 *   care of by a later rotation.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { tryLock } from "./file-lock.ts";
import { tempFilesOf, tempPath } from "./files.ts";
import type { LogRotation } from "./netconf.ts";
import { startTime } from "./proc.ts";

/**
 * Appends lines to the log file, one write(2) per line with O_APPEND, so
 * the lines of concurrent processes never mix. What each line costs beyond
 * that is one stat(2) of the path: it tells the size (time to rotate?) and
 * whether another process rotated the file (then it is reopened).
 */
export class LogFile {
  private fd = -1;
  private dev = -1;
  private ino = -1;

  constructor(
    private readonly file: string,
    private readonly rotation: LogRotation,
  ) {}

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    let st = this.current();
    if (st.size > 0 && st.size + bytes > this.rotation.maxBytes) {
      try {
        rotateLog(this.file, this.rotation, bytes);
      } catch {
        // a rotation that fails (a read-only dir ...) must not cost the line
      }
      st = this.current();
    }
    writeSync(this.fd, line);
  }

  /** The file at the path now: through our fd while it still is that file, else reopened. */
  private current(): Stats {
    const st = statSync(this.file, { throwIfNoEntry: false });
    if (st && st.ino === this.ino && st.dev === this.dev) return st;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1; // never a closed (and maybe reused) descriptor, should the open fail
    this.fd = openSync(this.file, "a", 0o600);
    const now = fstatSync(this.fd);
    this.dev = now.dev;
    this.ino = now.ino;
    return now;
  }
}

/** `name` and `.ext` of a log file name, split as lumberjack does (Go's filepath.Ext). */
function splitName(file: string): { dir: string; prefix: string; ext: string } {
  const base = basename(file);
  const dot = base.lastIndexOf(".");
  return { dir: dirname(file), prefix: dot < 0 ? base : base.slice(0, dot), ext: dot < 0 ? "" : base.slice(dot) };
}

/** lumberjack's timestamp: UTC `2006-01-02T15-04-05.000`. */
const stamp = (ms: number): string => new Date(ms).toISOString().slice(0, 23).replace(/:/g, "-");
const STAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})$/;

interface Backup {
  path: string;
  /** Rotation time, from the name. */
  time: number;
  compressed: boolean;
}

/** The backups of `file`, newest first; other files in its dir are not ours and are left alone. */
function listBackups(file: string): Backup[] {
  const { dir, prefix, ext } = splitName(file);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: Backup[] = [];
  for (const n of names) {
    const compressed = n.endsWith(`${ext}.gz`);
    const end = n.length - ext.length - (compressed ? 3 : 0);
    if (!n.startsWith(`${prefix}-`) || (!compressed && !n.endsWith(ext))) continue;
    const m = STAMP.exec(n.slice(prefix.length + 1, end));
    if (!m) continue;
    const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number);
    out.push({ path: join(dir, n), time: Date.UTC(y, mo - 1, d, h, mi, s, ms), compressed });
  }
  return out.sort((a, b) => b.time - a.time || Number(a.compressed) - Number(b.compressed));
}

// ---------------------------------------------------------------------------
// The rotation lock (./file-lock.ts tryLock) is never waited for, so it costs a writer nothing.

// ---------------------------------------------------------------------------
// Rotation

/**
 * Move `file` aside under a backup name no other backup has (only the lock
 * holder makes backups). A rename keeps the name of what other processes
 * have open in step with the file (see pathsOpenElsewhere).
 */
function moveAside(file: string, now: number): void {
  const { dir, prefix, ext } = splitName(file);
  for (let ms = now; ; ms++) {
    const backup = join(dir, `${prefix}-${stamp(ms)}${ext}`);
    if (statSync(backup, { throwIfNoEntry: false })) continue;
    renameSync(file, backup);
    return;
  }
}

/**
 * Rotate `file` if it is still too large for a line of `incoming` bytes
 * (another process may just have done it), then prune and compress the
 * backups. Returns without doing anything while another process rotates.
 */
function rotateLog(file: string, r: LogRotation, incoming: number): void {
  const lock = `${file}.rotating`;
  const release = tryLock(lock);
  if (!release) return;
  try {
    const st = statSync(file, { throwIfNoEntry: false });
    if (!st || st.size === 0 || st.size + incoming <= r.maxBytes) return;
    const now = Date.now();
    moveAside(file, now);
    tidyBackups(file, r, now);
  } finally {
    release();
  }
}

/**
 * The paths of the files other processes have open (from /proc). Read as
 * the links' text, never by following them: a stat would reach whatever
 * file system those files live on, and one that hangs (NFS) would hang us.
 */
function pathsOpenElsewhere(): Set<string> {
  const open = new Set<string>();
  const self = String(process.pid);
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((p) => p !== self && /^\d+$/.test(p));
  } catch {
    return open;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // gone, or a kernel thread
    }
    for (const fd of fds) {
      try {
        open.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  }
  return open;
}

/**
 * lumberjack's rules: beyond `maxBackups` (a backup and its `.gz` count
 * once) or older than `maxAge` a backup goes; the rest is compressed.
 * What another process still has open waits for a later rotation.
 */
function tidyBackups(file: string, r: LogRotation, now: number): void {
  const backups = listBackups(file);
  const names = new Set<string>();
  const remove: Backup[] = [];
  const compress: Backup[] = [];
  for (const b of backups) {
    names.add(b.compressed ? b.path.slice(0, -3) : b.path);
    const tooMany = r.maxBackups > 0 && names.size > r.maxBackups;
    const tooOld = r.maxAgeMs > 0 && b.time < now - r.maxAgeMs;
    if (tooMany || tooOld) remove.push(b);
    else if (r.compress && !b.compressed) compress.push(b);
  }
  if (!remove.length && !compress.length) return;
  const open = pathsOpenElsewhere();
  // /proc names files by their real path.
  const dir = realpathSync(dirname(file));
  const closed = (b: Backup): boolean => !open.has(join(dir, basename(b.path)));
  for (const b of remove) if (closed(b)) rmSync(b.path, { force: true });
  for (const b of compress) if (closed(b)) compressFile(b.path);
}

/**
 * gzip `src` into `src.gz` (through a temp file, so a reader never sees
 * half of it), 1 MiB at a time: one gzip member per MiB, which gunzip, zcat
 * and every gzip reader read as one stream, in bounded memory. zlib is
 * loaded here, only when a rotation compresses.
 */
function compressFile(src: string): void {
  const zlib = process.getBuiltinModule("node:zlib") as typeof import("node:zlib");
  const dst = `${src}.gz`;
  for (const t of tempFilesOf(dst)) if (startTime(t.pid) === undefined) rmSync(t.path, { force: true });
  const tmp = tempPath(dst);
  const input = openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const output = openSync(tmp, "w", 0o600);
    try {
      const chunk = Buffer.alloc(1 << 20);
      for (let n = readSync(input, chunk); n > 0; n = readSync(input, chunk)) {
        const gz = zlib.gzipSync(chunk.subarray(0, n));
        for (let off = 0; off < gz.length; ) off += writeSync(output, gz, off);
      }
      fsyncSync(output);
    } finally {
      closeSync(output);
    }
    renameSync(tmp, dst);
    rmSync(src, { force: true });
  } catch {
    rmSync(tmp, { force: true });
  } finally {
    closeSync(input);
  }
}
