/**
 * A lock that is a file naming its owner (pid, start time, boot ID),
 * created atomically with link(2), and broken by the next taker once its
 * owner is no longer running: a killed process never holds one forever.
 * Shared by the per-container lock (./lock.ts, which waits for it) and the
 * log's rotation lock (./log-file.ts, which never waits).
 */
import { closeSync, linkSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { FileReadError, readRegularText, tempFilesOf, tempPath } from "./files.ts";
import { isProcessId, isRunning, type ProcessId, sameProcess, startTime, thisProcess } from "./proc.ts";

/** What is at the lock's name: nothing, a lock naming its owner, or something that is no lock of ours. */
export type Found = undefined | { owner: ProcessId } | { unusable: string };

export function readLock(file: string): Found {
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
 * is put back. False when it could not be moved (someone else broke it, or
 * it cannot be: then it counts as held).
 */
export function breakStale(file: string, stale: ProcessId | undefined): boolean {
  const aside = tempPath(staleAside(file));
  try {
    renameSync(file, aside);
  } catch {
    return false;
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
export function sweepDeadTempFiles(file: string): void {
  for (const t of [...tempFilesOf(file), ...tempFilesOf(staleAside(file))]) {
    if (startTime(t.pid) === undefined) rmSync(t.path, { recursive: true, force: true });
  }
}

/**
 * One attempt: our identity in a temp file, linked to the lock's name; false
 * when something is there already. The temp file exists only for that
 * moment, so a caller killed while it waits leaves nothing behind. Throws on
 * any other failure (a dir that cannot be written).
 */
export function tryLink(file: string, me: ProcessId): boolean {
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
    throw e;
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Release a lock we hold (and only one we hold: a broken and retaken lock is someone else's). */
export function releaseLock(file: string, me: ProcessId = thisProcess()): void {
  const found = readLock(file);
  if (found && "owner" in found && sameProcess(found.owner, me)) rmSync(file, { force: true });
}

/**
 * Take the lock now if nobody alive holds it (breaking a dead owner's),
 * never waiting: its release, or undefined while a live owner has it (or
 * it cannot be taken at all).
 */
export function tryLock(file: string): (() => void) | undefined {
  const me = thisProcess();
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (tryLink(file, me)) {
        sweepDeadTempFiles(file);
        return () => releaseLock(file, me);
      }
      const found = readLock(file);
      const owner = found && "owner" in found ? found.owner : undefined;
      if (owner && isRunning(owner)) return undefined;
      if (found) breakStale(file, owner);
    }
  } catch {
    // the lock's dir cannot be written: no lock
  }
  return undefined;
}
