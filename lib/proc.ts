/**
 * Processes by identity: a pid alone can be reused after a reboot or a
 * wrap-around, so a process is named by its pid and its start time (clock
 * ticks since boot, /proc/<pid>/stat field 22). Linux only, like CNI.
 */
import { readdirSync, readFileSync } from "node:fs";
import { killGroup } from "./spawn.ts";

export interface ProcessId {
  pid: number;
  /** Start time in clock ticks since boot, as /proc says it. */
  start: string;
}

/** Start time of a live (non-zombie) process; undefined when there is none. */
export function startTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

let self: ProcessId | undefined;
export function thisProcess(): ProcessId {
  self ??= { pid: process.pid, start: startTime(process.pid) ?? "" };
  return self;
}

/** Is this exact process (same pid, same start) still running? */
export function isRunning(p: ProcessId): boolean {
  return startTime(p.pid) === p.start;
}

export function sameProcess(a: ProcessId, b: ProcessId): boolean {
  return a.pid === b.pid && a.start === b.start;
}

export function isProcessId(v: unknown): v is ProcessId {
  return typeof v === "object" && v !== null && typeof (v as ProcessId).pid === "number" && typeof (v as ProcessId).start === "string";
}

/** The variable every delegate we run inherits: it names our process. */
export const DELEGATE_MARK = "MULTUS_DELEGATE_OF";
export const markValue = (p: ProcessId): string => `${p.pid}:${p.start}`;

/**
 * SIGKILL every process a (dead) plugin process started and left running:
 * the recorded delegate groups, then anything still carrying its mark in its
 * environment (a delegate spawned just before the record said so, or a
 * grandchild that left the group). Returns the pids killed.
 */
export function killOrphans(owner: ProcessId, groups: readonly ProcessId[]): number[] {
  const killed: number[] = [];
  for (const g of groups) {
    if (!isRunning(g)) continue;
    killGroup(g.pid);
    killed.push(g.pid);
  }
  const mark = `\0${DELEGATE_MARK}=${markValue(owner)}\0`;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return killed;
  }
  for (const n of pids) {
    const pid = Number(n);
    if (pid === process.pid) continue;
    let env: string;
    try {
      env = `\0${readFileSync(`/proc/${n}/environ`, "latin1")}`;
    } catch {
      continue; // gone, or a kernel thread
    }
    if (!env.includes(mark)) continue;
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}

/** Wait until these pids are gone (killed processes are reaped by init). */
export async function waitGone(pids: readonly number[], timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (pids.some((p) => startTime(p) !== undefined) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
