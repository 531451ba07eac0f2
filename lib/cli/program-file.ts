/**
 * What program a file in the CNI bin dir is, told from its bytes alone
 * (never by running it): this program (any version), upstream Multus (its Go
 * build info), or something else. Files are scanned a chunk at a time,
 * opened non-blocking and only when regular, up to the size they had when
 * opened: a FIFO, a device or a growing file cannot hold or grow us.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";

const CHUNK = 1 << 20;

/**
 * Call `visit` with the file's bytes, a chunk at a time, each chunk led by
 * the last `overlap` bytes of the one before (so that a match across a
 * boundary is seen); stops when `visit` returns a value. Undefined when the
 * file is not a regular file or cannot be read.
 */
function scan<T>(file: string, overlap: number, visit: (buf: Buffer, fd: number) => T | undefined): T | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return undefined;
    const buf = Buffer.alloc(CHUNK + overlap);
    let kept = 0;
    let left = st.size;
    while (left > 0) {
      const got = readSync(fd, buf, kept, Math.min(CHUNK, left), null);
      if (got === 0) return undefined;
      left -= got;
      const end = kept + got;
      const found = visit(buf.subarray(0, end), fd);
      if (found !== undefined) return found;
      kept = Math.min(overlap, end);
      buf.copy(buf, 0, end - kept, end);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Whether `file` contains `needle` (a regular file only). */
export function contains(file: string, needle: string): boolean {
  const n = Buffer.from(needle);
  return scan(file, n.length - 1, (buf) => (buf.includes(n) ? true : undefined)) === true;
}

/** A text only this program's executables hold (its usage line). */
const OURS = "meta CNI plugin that attaches several networks";

/** This program, any version (it answers like one). */
export const isThisProgram = (file: string): boolean => contains(file, OURS);

/**
 * Go's build info (what `go version -m` prints) is a string framed by these
 * 16 bytes, in every Go binary built in module mode (Go 1.12 on); its first
 * lines are `path\t<main package>` and `mod\t<module>\t<version>\t<sum>`.
 */
const MODINFO_START = Buffer.from("3077af0c9274080241e1c107e6d618e6", "hex");
const MODINFO_END = Buffer.from("f932433186182072008242104116d8f2", "hex");
/** Far more than the path and mod lines need. */
const MODINFO_HEAD = 4096;

/** The main package and module lines of a Go binary's build info, or undefined. */
export function goBuildInfo(file: string): { path: string; module: string; version: string } | undefined {
  // The first build info decides (it reads on from the file, so the scan ends there).
  return scan(file, MODINFO_START.length - 1, (buf, fd) => {
    const at = buf.indexOf(MODINFO_START);
    if (at < 0) return undefined;
    // The lines after the start mark; read on past the chunk if they straddle it.
    let head = buf.subarray(at + MODINFO_START.length, at + MODINFO_START.length + MODINFO_HEAD);
    if (head.length < MODINFO_HEAD) {
      const more = Buffer.alloc(MODINFO_HEAD - head.length);
      const n = readSync(fd, more, 0, more.length, null);
      head = Buffer.concat([head, more.subarray(0, n)]);
    }
    const endAt = head.indexOf(MODINFO_END);
    const text = head.subarray(0, endAt < 0 ? head.length : endAt).toString("latin1");
    const path = /^path\t([^\t\n]+)\n/.exec(text)?.[1];
    const mod = /\nmod\t([^\t\n]+)\t([^\t\n]*)/.exec(text);
    return { info: path && mod ? { path, module: mod[1], version: mod[2] } : undefined };
  })?.info;
}

/** Upstream Multus's module paths, newest first: v4, v3, and the GitHub paths of before. */
export const UPSTREAM_MODULES = [
  "gopkg.in/k8snetworkplumbingwg/multus-cni.v4",
  "gopkg.in/k8snetworkplumbingwg/multus-cni.v3",
  "gopkg.in/intel/multus-cni.v3",
  "github.com/k8snetworkplumbingwg/multus-cni",
  "github.com/intel/multus-cni",
];
/** Its plugin's main packages: the thin plugin, the thick plugin's shim, and the thin plugin before cmd/ existed. */
const UPSTREAM_COMMANDS = ["cmd/multus", "cmd/multus-shim", "multus"];

export interface UpstreamMultus {
  module: string;
  /** The main package: .../cmd/multus or .../cmd/multus-shim. */
  path: string;
  version: string;
}

/** Upstream Multus's plugin (thin, or the thick shim), recognised by its Go build info. */
export function upstreamMultus(file: string): UpstreamMultus | undefined {
  const info = goBuildInfo(file);
  if (!info || !UPSTREAM_MODULES.includes(info.module)) return undefined;
  return UPSTREAM_COMMANDS.some((c) => info.path === `${info.module}/${c}`) ? info : undefined;
}

export const describeUpstream = (u: UpstreamMultus): string =>
  `upstream Multus, ${u.path}${u.version && u.version !== "(devel)" ? ` ${u.version}` : ""}`;
