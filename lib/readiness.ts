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
