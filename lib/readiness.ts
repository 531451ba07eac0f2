/**
 * The cluster network's readiness gate: ADD (never DEL) waits for the
 * `readinessindicatorfile` the cluster network writes once it is up, in
 * every mode, and fails with "try again later" when it does not come.
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
