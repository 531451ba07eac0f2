/**
 * The one home of file writes that must never be seen half done (cache
 * records, configs, kubeconfigs, the installed executable), and of reading
 * the conf dir the way the runtime does.
 */
import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  type Dirent,
  fstatSync,
  fsyncSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { mark } from "./trace.ts";

/** What a config, record or credential file may weigh: far above any real one, far below harm. */
export const READ_LIMIT = 4 << 20;

/** Why a file was not read: node's errno code (ENOENT ...), or ENOTREG / EFBIG for ours. */
export class FileReadError extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
    problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Read a file that must be a regular one, at most `maxBytes`: opened
 * non-blocking (a FIFO cannot hold us in open(2)), checked with fstat (no
 * device or FIFO is ever read), and read with a cap (a file that grows while
 * read cannot grow us). `nofollow` refuses a symlink (files we own, such as
 * locks and records).
 */
export function readRegularFile(path: string, { maxBytes = READ_LIMIT, nofollow = false } = {}): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (nofollow ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "EIO";
    const problem = code === "ELOOP" && nofollow ? "is a symbolic link" : `cannot be opened (${code})`;
    throw new FileReadError(path, code, problem);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileReadError(path, "ENOTREG", `is ${kindOf(st)}, not a regular file`);
    const tooBig = () => new FileReadError(path, "EFBIG", `is larger than ${maxBytes} bytes`);
    if (st.size > maxBytes) throw tooBig();
    // One read takes the whole file as fstat saw it; one that grows meanwhile is read on, up to the cap.
    const chunk = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 4096)));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return Buffer.concat(chunks, total);
      total += n;
      if (total > maxBytes) throw tooBig();
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
  } finally {
    closeSync(fd);
  }
}

/** Block this thread for `ms` (a non-blocking stdin with nothing in it yet). */
const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Read an open stream (stdin: a pipe, a file, a terminal, a device) to its
 * end, at most `maxBytes`: one without end (/dev/zero) or a huge one is
 * refused once past the cap, never read on. `what` names it in errors.
 */
export function readStream(fd: number, what: string, maxBytes = READ_LIMIT): Buffer {
  const chunk = Buffer.alloc(64 << 10);
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "EIO";
      if (code === "EAGAIN") {
        pause(2);
        continue;
      }
      throw new FileReadError(what, code, `cannot be read (${code})`);
    }
    if (n === 0) return Buffer.concat(chunks, total);
    total += n;
    if (total > maxBytes) throw new FileReadError(what, "EFBIG", `is larger than ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
}

/** readRegularFile as UTF-8 text. */
export function readRegularText(path: string, opts: { maxBytes?: number; nofollow?: boolean } = {}): string {
  return readRegularFile(path, opts).toString("utf8");
}

/** The temp file a process writes beside `file` before renaming it over `file`. */
export const tempPath = (file: string, pid = process.pid): string => `${file}.${pid}.tmp`;

/**
 * The temp files beside `file` (as tempPath names them) and the pid of each
 * writer: what a writer killed between its write and its rename leaves.
 */
export function tempFilesOf(file: string): { path: string; pid: number }[] {
  const dir = dirname(file);
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const m = n.startsWith(prefix) ? /^(\d+)\.tmp$/.exec(n.slice(prefix.length)) : null;
    return m ? [{ path: join(dir, n), pid: Number(m[1]) }] : [];
  });
}

/**
 * Write to a temp file beside `file`, fsync, then rename over it: readers see
 * the old or the new content, never a part. `durable: false` skips the fsync,
 * for facts a reboot makes moot anyway.
 */
export function atomicWrite(file: string, data: string | Buffer, mode: number, { durable = true } = {}): void {
  const tmp = tempPath(file);
  try {
    const fd = openSync(tmp, "w", mode);
    try {
      writeFileSync(fd, data);
      if (durable) {
        mark(`write ${basename(file)}`);
        fsyncSync(fd);
        mark(`fsync ${basename(file)}`);
      }
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

const CHUNK = 1 << 20;

/** Copy `src` over `dst` the same way (temp file, fsync, rename), without holding the file in memory. */
export function atomicCopy(src: string, dst: string, mode: number): void {
  const tmp = tempPath(dst);
  try {
    copyFileSync(src, tmp);
    chmodSync(tmp, mode);
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dst);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Whether two files have the same bytes, read a chunk at a time (the executable is ~100 MiB). */
export function sameContent(a: string, b: string): boolean {
  let fa: number | undefined;
  let fb: number | undefined;
  try {
    if (statSync(a).size !== statSync(b).size) return false;
    fa = openSync(a, "r");
    fb = openSync(b, "r");
    const ba = Buffer.alloc(CHUNK);
    const bb = Buffer.alloc(CHUNK);
    for (;;) {
      const na = readSync(fa, ba, 0, CHUNK, null);
      const nb = readSync(fb, bb, 0, CHUNK, null);
      if (na !== nb || !ba.subarray(0, na).equals(bb.subarray(0, nb))) return false;
      if (na === 0) return true;
    }
  } catch {
    return false;
  } finally {
    if (fa !== undefined) closeSync(fa);
    if (fb !== undefined) closeSync(fb);
  }
}

/** Whether `file` contains `needle`, read a chunk at a time. */
export function fileIncludes(file: string, needle: string): boolean {
  const n = Buffer.from(needle);
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const buf = Buffer.alloc(CHUNK + n.length);
    let kept = 0;
    for (;;) {
      const got = readSync(fd, buf, kept, CHUNK, null);
      if (got === 0) return false;
      const end = kept + got;
      if (buf.subarray(0, end).includes(n)) return true;
      kept = Math.min(n.length - 1, end);
      buf.copy(buf, 0, end - kept, end);
    }
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const CONF_EXT = /\.(conf|conflist|json)$/;
/** Byte order, as Go's sort.Strings (libcni) compares names. */
export const byName = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/**
 * The network config files of a conf dir in the order the runtime considers
 * them (libcni's ConfFiles): every entry but directories whose extension is
 * .conf, .conflist or .json, sorted by name. Names only; none when the dir
 * cannot be read.
 */
export function confFiles(confDir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(confDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => !e.isDirectory() && CONF_EXT.test(e.name))
    .map((e) => e.name)
    .sort(byName);
}
