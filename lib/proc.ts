/**
 * Processes by identity: a pid alone can be reused after a reboot or a
 * wrap-around, so a process is named by its pid, its start time (clock
 * ticks since boot, /proc/<pid>/stat field 22) and the boot it runs in
 * (start times repeat from one boot to the next). Linux only, like CNI.
 */
import { readdirSync, readFileSync } from "node:fs";
import { killGroup } from "./spawn.ts";

export interface ProcessId {
  pid: number;
  /** Start time in clock ticks since boot, as /proc says it. */
  start: string;
  /** The kernel's boot ID then; absent in what was written before it was recorded. */
  boot?: string;
}

/** /proc/<pid>/stat from field 3 on (state, ppid, pgrp, …); undefined when there is no such process. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** Start time of a live (non-zombie) process; undefined when there is none. */
export function startTime(pid: number): string | undefined {
  const fields = statFields(pid);
  if (!fields || fields[0] === "Z" || fields[0] === "X") return undefined;
  return fields[19];
}

let boot: string | undefined;
/** This boot's ID ("" where the kernel does not say). */
export function bootId(): string {
  if (boot === undefined) {
    try {
      boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    } catch {
      boot = "";
    }
  }
  return boot;
}

let self: ProcessId | undefined;
export function thisProcess(): ProcessId {
  self ??= { pid: process.pid, start: startTime(process.pid) ?? "", ...(bootId() ? { boot: bootId() } : {}) };
  return self;
}

/** Is this exact process (same pid, same start, same boot when known) still running? */
export function isRunning(p: ProcessId): boolean {
  return startTime(p.pid) === p.start && (p.boot === undefined || p.boot === bootId());
}

export function sameProcess(a: ProcessId, b: ProcessId): boolean {
  return a.pid === b.pid && a.start === b.start && (a.boot ?? "") === (b.boot ?? "");
}

export function isProcessId(v: unknown): v is ProcessId {
  if (typeof v !== "object" || v === null) return false;
  const p = v as ProcessId;
  return typeof p.pid === "number" && typeof p.start === "string" && (p.boot === undefined || typeof p.boot === "string");
}

/** The variable every delegate we run inherits: it names our process. */
export const DELEGATE_MARK = "MULTUS_DELEGATE_OF";
export const markValue = (p: ProcessId): string => `${p.pid}:${p.start}`;

/** What a sweep did: the pids signalled, and those it was told of but left alone, with why. */
export interface Sweep {
  killed: number[];
  skipped: { pid: number; reason: string }[];
  /** Set when the record is not of this boot: nothing it names was looked at. */
  otherBoot?: string;
}

/** Why `pid` is never signalled by us whatever says so, or undefined. */
function untouchable(pid: number): string | undefined {
  if (!Number.isInteger(pid) || pid <= 1) return "pid 1 and lower are never signalled";
  if (pid === process.pid) return "it is this process";
  const ours = statFields(process.pid)?.[2];
  if (ours !== undefined && (String(pid) === ours || statFields(pid)?.[2] === ours)) return "it is in this process's own group";
  return undefined;
}

/** Does this process carry `mark` (DELEGATE_MARK=…) in the environment it was started with? */
function carries(pid: number, mark: string): boolean {
  try {
    return `\0${readFileSync(`/proc/${pid}/environ`, "latin1")}`.includes(mark);
  } catch {
    return false; // gone, or a kernel thread
  }
}

/**
 * SIGKILL what a dead plugin process started and left running, and only
 * that: the record that lists it is a file, so a process is signalled only
 * with proof that it is one of ours — the record is of this boot, and the
 * process carries the owner's mark in its environment. The recorded
 * delegate groups go first (a group leader with the mark takes its group
 * with it), then anything else carrying the mark (a delegate spawned just
 * before the record said so, or a grandchild that left the group).
 */
export function killOrphans(owner: ProcessId, groups: readonly ProcessId[]): Sweep {
  const sweep: Sweep = { killed: [], skipped: [] };
  if (!owner.boot || owner.boot !== bootId()) {
    sweep.otherBoot = owner.boot ? "the record is from another boot" : "the record does not say which boot it is from";
    return sweep;
  }
  const mark = `\0${DELEGATE_MARK}=${markValue(owner)}\0`;
  for (const g of groups) {
    if (!isRunning(g)) continue; // done, or never started
    const reason = untouchable(g.pid) ?? (carries(g.pid, mark) ? undefined : `it does not carry ${DELEGATE_MARK} of that ADD`);
    if (reason) {
      sweep.skipped.push({ pid: g.pid, reason });
      continue;
    }
    // Only a leader takes its group along (ours are session leaders); anything else marked is found below.
    if (statFields(g.pid)?.[2] === String(g.pid)) {
      killGroup(g.pid);
      sweep.killed.push(g.pid);
    }
  }
  let pids: number[];
  try {
    pids = readdirSync("/proc").flatMap((n) => (/^\d+$/.test(n) ? [Number(n)] : []));
  } catch {
    return sweep;
  }
  for (const pid of pids) {
    if (pid <= 1 || pid === process.pid || !carries(pid, mark)) continue;
    const reason = untouchable(pid);
    if (reason) {
      sweep.skipped.push({ pid, reason });
      continue;
    }
    try {
      process.kill(pid, "SIGKILL");
      sweep.killed.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return sweep;
}

/** Wait until these pids are gone (killed processes are reaped by init). */
export async function waitGone(pids: readonly number[], timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (pids.some((p) => startTime(p) !== undefined) && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 10));
  }
}
