/**
 * The cluster network's readiness: the `readinessindicatorfile` it writes
 * once it is up. ADD (never DEL) waits for it, in every mode, and fails
 * with "try again later" when it does not come; STATUS, a probe the
 * runtime repeats, does not wait: absent means unavailable (50).
 */
import { existsSync } from "node:fs";
import { CniError, ErrorCode } from "./cni/errors.ts";

export async function waitForReadiness(file: string | undefined, timeoutMs: number): Promise<void> {
  if (!file) return;
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() >= deadline) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `the cluster network is not ready: ${file} does not exist (waited ${timeoutMs / 1000}s)`,
        "check that the default network's own pods are running",
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** STATUS: the file must be there now. */
export function assertReady(file: string | undefined): void {
  if (file && !existsSync(file)) {
    throw new CniError(
      ErrorCode.PluginUnavailable,
      `the cluster network is not ready: ${file} does not exist`,
      "check that the default network's own pods are running",
    );
  }
}

export interface IndicatorWait {
  /** Give up after this long; undefined waits as long as it takes (the DaemonSet's way). */
  timeoutMs?: number;
  /** Told what is waited for when the wait starts, and again every `progressMs`. */
  progress: (line: string) => void;
  progressMs?: number;
  /** The pause between looks; one that ends early (a signal came) is fine. */
  sleep?: (ms: number) => Promise<void>;
  /** Stop waiting (a signal came): the wait answers false. */
  stopped?: () => boolean;
}

/** How often `multus install` says what it still waits for. */
export const PROGRESS_MS = 5000;

/**
 * `multus install --readiness-indicator-file`: wait for the file, saying
 * so now and then; true once it exists, false when stopped, an Error (the
 * CLI's exit code 1) when `timeoutMs` passes first.
 */
export async function awaitIndicator(file: string, o: IndicatorWait): Promise<boolean> {
  if (existsSync(file)) return true;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = Date.now();
  const every = o.progressMs ?? PROGRESS_MS;
  const limit = o.timeoutMs === undefined ? "" : ` (giving up after ${o.timeoutMs / 1000}s)`;
  o.progress(`waiting for the readiness indicator ${file} before writing anything${limit}`);
  let said = started;
  for (;;) {
    if (o.stopped?.()) return false;
    if (existsSync(file)) return true;
    const now = Date.now();
    if (o.timeoutMs !== undefined && now - started >= o.timeoutMs) {
      throw new Error(
        `the readiness indicator ${file} did not appear within ${o.timeoutMs / 1000}s (--readiness-timeout): nothing was written; is the cluster network's own pod running?`,
      );
    }
    if (now - said >= every) {
      said = now;
      o.progress(`still waiting for ${file} (${Math.round((now - started) / 1000)}s)`);
    }
    await sleep(Math.min(200, o.timeoutMs === undefined ? 200 : Math.max(1, started + o.timeoutMs - now)));
  }
}
