/**
 * One call at a time per container: the runtime may run ADD and DEL (or two
 * ADDs) for one container concurrently, and the plugin may be killed while
 * it holds the lock.
 *
 * The lock is a file `<cniDir>/.locks/<containerId>` holding the owner's pid
 * and start time, created atomically with link(2). A lock whose owner is no
 * longer running is stale and is broken by the next caller, so a killed
 * process never blocks a container; `takenOver` tells the new owner that
 * the previous one died holding it (an ADD may have left delegates running).
 */
import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cachePath } from "./cache.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { tempFilesOf, tempPath } from "./files.ts";
import { isProcessId, isRunning, type ProcessId, sameProcess, startTime, thisProcess } from "./proc.ts";

export interface ContainerLock {
  /** The process that held the lock before and died holding it. */
  takenOver?: ProcessId;
  release(): void;
}

function readOwner(file: string): ProcessId | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(file, "utf8"));
    return isProcessId(v) ? v : { pid: 0, start: "" };
  } catch (e) {
    // Gone (released meanwhile) or unreadable; an unreadable lock file is stale.
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? undefined : { pid: 0, start: "" };
  }
}

/** Where a stale lock is set aside while it is checked (its temp files are swept like any other). */
const staleAside = (file: string): string => `${file}.stale`;

/**
 * Remove a stale lock, and only that one: it is renamed aside first and
 * checked, so a lock another caller took meanwhile is put back.
 */
function breakStale(file: string, stale: ProcessId): void {
  const aside = tempPath(staleAside(file));
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else broke it
  }
  const moved = readOwner(aside);
  if (moved && !sameProcess(moved, stale) && isRunning(moved)) {
    try {
      linkSync(aside, file);
    } catch {
      // a third caller holds it now; theirs stands
    }
  }
  rmSync(aside, { force: true });
}

/**
 * A caller killed between writing its temp file (or setting a stale lock
 * aside) and removing it leaves the file behind: the next owner removes
 * those of dead pids.
 */
function sweepDeadTempFiles(file: string): void {
  for (const t of [...tempFilesOf(file), ...tempFilesOf(staleAside(file))]) {
    if (startTime(t.pid) === undefined) rmSync(t.path, { force: true });
  }
}

export async function lockContainer(cniDir: string, containerId: string, timeoutMs: number): Promise<ContainerLock> {
  const dir = join(cniDir, ".locks");
  const file = join(dir, containerId);
  cachePath(cniDir, containerId); // the same name checks as the record's
  const me = thisProcess();
  const mine = tempPath(file);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(mine, JSON.stringify(me), { mode: 0o600 });
  } catch (e) {
    throw new CniError(ErrorCode.CacheFailure, `cannot create lock ${file}: ${(e as Error).message}`);
  }
  const until = Date.now() + timeoutMs;
  let takenOver: ProcessId | undefined;
  let wait = 5;
  try {
    for (;;) {
      try {
        linkSync(mine, file);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new CniError(ErrorCode.CacheFailure, `cannot create lock ${file}: ${(e as Error).message}`);
        }
      }
      const owner = readOwner(file);
      if (!owner) continue;
      if (!isRunning(owner)) {
        breakStale(file, owner);
        if (owner.pid) takenOver = owner;
        continue;
      }
      if (Date.now() >= until) {
        throw new CniError(
          ErrorCode.TryAgainLater,
          `another call for container ${containerId} is still running (pid ${owner.pid})`,
          `waited ${Math.round(timeoutMs / 1000)}s for ${file}; the runtime will retry`,
        );
      }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 100);
    }
  } finally {
    rmSync(mine, { force: true });
  }
  sweepDeadTempFiles(file);
  return {
    ...(takenOver ? { takenOver } : {}),
    release() {
      const owner = readOwner(file);
      if (owner && sameProcess(owner, me)) rmSync(file, { force: true });
    },
  };
}
