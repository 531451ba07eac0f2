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
import { closeSync, linkSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { cachePath } from "./cache.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { FileReadError, readRegularText, tempFilesOf, tempPath } from "./files.ts";
import { isProcessId, isRunning, type ProcessId, sameProcess, startTime, thisProcess } from "./proc.ts";

export interface ContainerLock {
  /** The process that held the lock before and died holding it. */
  takenOver?: ProcessId;
  /** What was at the lock's name instead of a lock file, now removed (for the log). */
  replaced?: string;
  release(): void;
}

/** What is at the lock's name: nothing, a lock naming its owner, or something that is no lock of ours. */
type Found = undefined | { owner: ProcessId } | { unusable: string };

function readLock(file: string): Found {
  let text: string;
  try {
    // Never follow a link, never wait on a FIFO, never read a device: a lock file is small and regular.
    text = readRegularText(file, { nofollow: true, maxBytes: 4096 });
  } catch (e) {
    // Gone (released meanwhile), or not a lock file at all.
    if (e instanceof FileReadError && e.code === "ENOENT") return undefined;
    return { unusable: (e as Error).message };
  }
  try {
    const v: unknown = JSON.parse(text);
    if (isProcessId(v)) return { owner: v };
  } catch {
    // written half by a caller killed meanwhile: stale like any other
  }
  return { unusable: `${file} does not name its owner` };
}

/** Where a stale lock is set aside while it is checked (its temp files are swept like any other). */
const staleAside = (file: string): string => `${file}.stale`;

/**
 * Remove a stale lock (or what stands in for one), and only that: it is
 * renamed aside first and checked, so a lock another caller took meanwhile
 * is put back.
 */
function breakStale(file: string, stale: ProcessId | undefined): boolean {
  const aside = tempPath(staleAside(file));
  try {
    renameSync(file, aside);
  } catch {
    return false; // someone else broke it (or it cannot be moved: then it is waited on like a live lock)
  }
  const moved = readLock(aside);
  if (moved && "owner" in moved && !(stale && sameProcess(moved.owner, stale)) && isRunning(moved.owner)) {
    try {
      linkSync(aside, file);
    } catch {
      // a third caller holds it now; theirs stands
    }
  }
  rmSync(aside, { recursive: true, force: true });
  return true;
}

/**
 * A caller killed between writing its temp file (or setting a stale lock
 * aside) and removing it leaves the file behind: the next owner removes
 * those of dead pids.
 */
function sweepDeadTempFiles(file: string): void {
  for (const t of [...tempFilesOf(file), ...tempFilesOf(staleAside(file))]) {
    if (startTime(t.pid) === undefined) rmSync(t.path, { recursive: true, force: true });
  }
}

/**
 * One attempt: our identity in a temp file, linked to the lock's name. The
 * temp file exists only for that moment, so a caller killed while it waits
 * leaves nothing behind.
 */
function tryLink(file: string, me: ProcessId): boolean {
  const mine = tempPath(file);
  try {
    let fd: number;
    try {
      fd = openSync(mine, "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      rmSync(mine, { recursive: true, force: true }); // left by a killed process that had our pid
      fd = openSync(mine, "wx", 0o600);
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    linkSync(mine, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new CniError(ErrorCode.CacheFailure, `cannot create lock ${file}: ${(e as Error).message}`);
  } finally {
    rmSync(mine, { force: true });
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
  while (!tryLink(file, me)) {
    const found = readLock(file);
    if (!found) continue; // released meanwhile: try again at once
    const owner = "owner" in found ? found.owner : undefined;
    if (!(owner && isRunning(owner)) && breakStale(file, owner)) {
      if (owner?.pid) takenOver = owner;
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
  return {
    ...(takenOver ? { takenOver } : {}),
    ...(replaced ? { replaced } : {}),
    release() {
      const found = readLock(file);
      if (found && "owner" in found && sameProcess(found.owner, me)) rmSync(file, { force: true });
    },
  };
}
