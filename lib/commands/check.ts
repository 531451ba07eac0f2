/**
 * CHECK: every cached attachment is checked by its own plugin with the result
 * it returned at ADD as prevResult.
 */

import { cachedRequest } from "../cache.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { canCheck, checkDelegate } from "../delegate-exec.ts";
import { type CommandContext, pluginEnv, readRecord, withContainerLock } from "./context.ts";

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
  for (const [i, a] of rec.attachments.entries()) {
    const { delegate: d, runtimeConfig } = cachedRequest(rec, i, netconf.name);
    // Delegates older than 0.4.0 have no CHECK; they are skipped, not failed.
    if (!canCheck(d) || !a.result) continue;
    try {
      const env = pluginEnv(ctx, a.ifName, ctx.args.netns, a.cniArgs ?? rec.cniArgs);
      await checkDelegate(d, { env, timeoutMs: netconf.timeouts.delegateMs, ...(runtimeConfig ? { runtimeConfig } : {}) }, a.result);
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
