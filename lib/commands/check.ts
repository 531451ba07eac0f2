/**
 * CHECK: every cached attachment is checked by its own plugin with the result
 * it returned at ADD as prevResult.
 */

import { delegateOf } from "../attachment.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { canCheck, checkDelegate } from "../delegate-exec.ts";
import { recorded } from "./attachments.ts";
import { attachmentExec, type CommandContext, readRecord, withContainerLock } from "./context.ts";

export function check(ctx: CommandContext): Promise<void> {
  return withContainerLock(ctx, () => checkLocked(ctx));
}

async function checkLocked(ctx: CommandContext): Promise<void> {
  const { netconf, args } = ctx;
  const read = readRecord(ctx);
  if (read.state === "missing") {
    throw new CniError(
      ErrorCode.CacheFailure,
      `no attachments are recorded for container ${args.containerId}: was it added with this cniDir (${netconf.cniDir})?`,
    );
  }
  if (read.state === "corrupt") throw new CniError(ErrorCode.CacheFailure, `cache record unusable: ${read.problem}`);
  const rec = read.record;
  if (!rec.complete) {
    throw new CniError(ErrorCode.CacheFailure, `the ADD of container ${args.containerId} did not complete`);
  }
  for (const a of recorded(rec)) {
    const d = delegateOf(a, rec.cniVersion);
    // Delegates older than 0.4.0 have no CHECK; they are skipped, not failed.
    if (!canCheck(d) || !a.result) continue;
    try {
      await checkDelegate(d, attachmentExec(ctx, a, netconf.timeouts.delegateMs), a.result);
    } catch (e) {
      const inner = e as CniError;
      throw new CniError(
        inner.code ?? ErrorCode.DelegateFailed,
        `network "${a.network}" on ${a.ifName} failed CHECK: ${inner.message}`,
        inner.details,
      );
    }
  }
}
