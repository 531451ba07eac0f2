/**
 * GC (CNI 1.1): the runtime lists the attachments that are still valid; every
 * cached container not in that list is DELed from its record, then delegates
 * that speak 1.1.0 get their own GC with the attachments that remain.
 */

import { listCachedContainers, readCache } from "../cache.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { versionAllows } from "../cni/version.ts";
import { pluginConfig } from "../delegate.ts";
import { lockContainer } from "../lock.ts";
import { invokePlugin } from "../plugin-exec.ts";
import { type CommandContext, pluginEnv } from "./context.ts";
import { delLocked } from "./del.ts";

const VALID_KEY = "cni.dev/valid-attachments";

export async function gc(ctx: CommandContext): Promise<void> {
  if (!ctx.netconf.validAttachments) {
    throw new CniError(
      ErrorCode.InvalidNetworkConfig,
      `"${VALID_KEY}" is missing`,
      "GC needs the runtime's list of valid attachments; nothing was torn down",
    );
  }
  const valid = new Set(ctx.netconf.validAttachments.map((a) => `${a.containerID}/${a.ifname}`));
  const { cniDir } = ctx.netconf;
  const failures: string[] = [];
  const remaining: { containerID: string; ifname: string; network: string }[] = [];
  for (const id of listCachedContainers(cniDir)) {
    const read = readCache(cniDir, id);
    if (read.state !== "ok") continue;
    const rec = read.record;
    if (valid.has(`${id}/${rec.ifName}`)) {
      for (const a of rec.attachments) remaining.push({ containerID: id, ifname: a.ifName, network: a.network });
      continue;
    }
    // A container some other call is working on right now is not garbage.
    let lock: Awaited<ReturnType<typeof lockContainer>>;
    try {
      lock = await lockContainer(cniDir, id, 0);
    } catch (e) {
      ctx.log.info("GC skipped a container in use", { containerID: id, problem: (e as Error).message });
      continue;
    }
    try {
      await delLocked({ ...ctx, args: { ...ctx.args, containerId: id, ifName: rec.ifName, netns: "", args: rec.cniArgs } });
    } catch (e) {
      failures.push(`container ${id}: ${(e as Error).message}`);
    } finally {
      lock.release();
    }
  }
  for (const d of ctx.netconf.delegates) {
    if (!versionAllows(d.cniVersion, "GC")) continue;
    const attachments = remaining.filter((r) => r.network === d.name).map(({ containerID, ifname }) => ({ containerID, ifname }));
    for (const [i, t] of d.pluginTypes.entries()) {
      const config = { ...pluginConfig(d, i), [VALID_KEY]: attachments };
      await invokePlugin({
        pluginType: t,
        verb: "GC",
        env: pluginEnv(ctx, ""),
        config,
        timeoutMs: ctx.netconf.timeouts.delegateMs,
      }).catch((e: unknown) => failures.push(`GC of network "${d.name}": ${(e as Error).message}`));
    }
  }
  if (failures.length) {
    throw new CniError(ErrorCode.DelegateFailed, `garbage collection left ${failures.length} problem(s)`, failures.join("\n"));
  }
}
