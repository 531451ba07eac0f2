/**
 * One call at a time per container: the runtime may run ADD and DEL (or two
 * ADDs) for one container concurrently, and the plugin may be killed while
 * it holds the lock.
 *
 * The lock is a file `<cniDir>/.locks/<containerId>` holding the owner's pid,
 * start time and boot ID, created atomically with link(2). A lock whose
 * owner is no longer running is stale and is broken by the next caller, so
 * a killed process never blocks a container; `takenOver` tells the new owner
 * that the previous one died holding it (an ADD may have left delegates
 * running). Anything else at the lock's name (a directory, a FIFO, a
 * symlink: never one of ours) is set aside the same way.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cachePath, removeDeadWritersTemp } from "./cache.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { breakStale, readLock, releaseLock, sweepDeadTempFiles, tryLink } from "./file-lock.ts";
import { isRunning, type ProcessId, thisProcess } from "./proc.ts";
import { mark } from "./trace.ts";

export interface ContainerLock {
  /** The process that held the lock before and died holding it. */
  takenOver?: ProcessId;
  /** What was at the lock's name instead of a lock file, now removed (for the log). */
  replaced?: string;
  release(): void;
}

function linked(file: string, me: ProcessId): boolean {
  try {
    return tryLink(file, me);
  } catch (e) {
    throw new CniError(ErrorCode.CacheFailure, `cannot create lock ${file}: ${(e as Error).message}`);
  }
}

export async function lockContainer(cniDir: string, containerId: string, timeoutMs: number): Promise<ContainerLock> {
  const dir = join(cniDir, ".locks");
  const file = join(dir, containerId);
  cachePath(cniDir, containerId); // the same name checks as the record's
  const me = thisProcess();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new CniError(ErrorCode.CacheFailure, `cannot create lock ${file}: ${(e as Error).message}`);
  }
  const until = Date.now() + timeoutMs;
  let takenOver: ProcessId | undefined;
  let replaced: string | undefined;
  let wait = 5;
  while (!linked(file, me)) {
    const found = readLock(file);
    if (!found) continue; // released meanwhile: try again at once
    const owner = "owner" in found ? found.owner : undefined;
    if (!(owner && isRunning(owner)) && breakStale(file, owner)) {
      if (owner?.pid) {
        takenOver = owner;
        removeDeadWritersTemp(cniDir, containerId, owner.pid);
      }
      if ("unusable" in found) replaced = found.unusable;
      continue;
    }
    if (Date.now() >= until) {
      const waited = `waited ${Math.round(timeoutMs / 1000)}s for ${file}; the runtime will retry`;
      if ("unusable" in found)
        throw new CniError(ErrorCode.TryAgainLater, `cannot set aside what stands where the lock belongs: ${found.unusable}`, waited);
      throw new CniError(
        ErrorCode.TryAgainLater,
        `another call for container ${containerId} is still running (pid ${found.owner.pid})`,
        waited,
      );
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 100);
  }
  sweepDeadTempFiles(file);
  mark("locked");
  return {
    ...(takenOver ? { takenOver } : {}),
    ...(replaced ? { replaced } : {}),
    release: () => releaseLock(file, me),
  };
}
