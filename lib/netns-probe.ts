/**
 * Which interface names a network namespace has, looked up in this process
 * (Bun only, through bun:ffi and the C library): setns(2) into the
 * namespace, if_nametoindex(3) for each name, setns(2) back. Only the
 * calling thread changes namespace, and nothing else runs on it meanwhile
 * (the calls are synchronous), so no socket of ours is ever opened there.
 * Undefined when the C library cannot be reached (the caller runs `ip`).
 */
import { closeSync, openSync } from "node:fs";
import { CniError, ErrorCode } from "./cni/errors.ts";

const CLONE_NEWNET = 0x40000000;

interface Libc {
  setns(fd: number, nstype: number): number;
  if_nametoindex(name: Uint8Array): number;
}

async function libc(): Promise<Libc | undefined> {
  try {
    const ffi = await import("bun:ffi");
    const { i32, u32, cstring } = ffi.FFIType;
    return ffi.dlopen("libc.so.6", {
      setns: { args: [i32, i32], returns: i32 },
      if_nametoindex: { args: [cstring], returns: u32 },
    }).symbols;
  } catch {
    return undefined;
  }
}

export async function probeInterfaces(netns: string, names: readonly string[]): Promise<string[] | undefined> {
  const c = await libc();
  if (!c) return undefined;
  const own = openSync("/proc/thread-self/ns/net", "r");
  let target: number | undefined;
  try {
    target = openSync(netns, "r");
    if (c.setns(target, CLONE_NEWNET) !== 0) {
      throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS ${netns} is not a network namespace`);
    }
    // Nothing here can throw: the thread goes back before anything else runs on it.
    const found = names.filter((n) => c.if_nametoindex(Buffer.from(`${n}\0`)) !== 0);
    if (c.setns(own, CLONE_NEWNET) !== 0) {
      throw new CniError(ErrorCode.Internal, "cannot return to the host's network namespace after looking into the pod's");
    }
    return found;
  } finally {
    if (target !== undefined) closeSync(target);
    closeSync(own);
  }
}
