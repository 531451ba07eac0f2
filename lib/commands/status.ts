/**
 * STATUS (CNI 1.1): are we able to add? Every plugin binary must be present,
 * and the cluster network is asked for its own STATUS when it speaks 1.1.0.
 */

import { planAttachments, requestFromConfig } from "../attachment.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { versionAllows } from "../cni/version.ts";
import { pluginConfig } from "../delegate.ts";
import { DelegateError, findPlugin, invokePlugin } from "../plugin-exec.ts";
import { type CommandContext, pluginDirs, pluginEnv } from "./context.ts";

export async function status(ctx: CommandContext): Promise<void> {
  const { netconf } = ctx;
  if (netconf.delegates.length === 0) return;
  const dirs = pluginDirs(ctx);
  const plan = planAttachments(netconf.delegates.map(requestFromConfig), ctx.args.ifName || "eth0");
  for (const a of plan) {
    for (const t of a.delegate.pluginTypes) {
      try {
        findPlugin(t, dirs);
      } catch (e) {
        throw new CniError(ErrorCode.PluginUnavailable, `network "${a.delegate.name}" is unavailable: ${(e as Error).message}`);
      }
    }
  }
  const cluster = plan.find((a) => a.isClusterNetwork)!.delegate;
  if (!versionAllows(cluster.cniVersion, "STATUS")) return;
  for (const [i, t] of cluster.pluginTypes.entries()) {
    await invokePlugin({
      pluginType: t,
      verb: "STATUS",
      env: pluginEnv(ctx, ctx.args.ifName),
      config: pluginConfig(cluster, i),
      timeoutMs: netconf.timeouts.delegateMs,
    }).catch((e: unknown) => {
      // The plugin's own 50/51 is what the runtime acts on.
      const code = e instanceof DelegateError ? e.pluginCode : undefined;
      throw new CniError(code === 51 ? ErrorCode.PluginUnavailableLimited : ErrorCode.PluginUnavailable, (e as Error).message);
    });
  }
}
