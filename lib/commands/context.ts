/** What every verb works with: the runtime's arguments and our netconf. */
import type { CniArgs } from "../cni/args.ts";
import type { NetConf } from "../netconf.ts";
import type { PluginEnv } from "../invoke.ts";

export interface CommandContext {
  args: CniArgs;
  netconf: NetConf;
}

/** Plugin search dirs: CNI_PATH first, then the netconf's binDir. */
export function pluginDirs(ctx: CommandContext): string[] {
  return [...new Set([...ctx.args.path, ctx.netconf.binDir])];
}

export function pluginEnv(ctx: CommandContext, ifName: string, netns = ctx.args.netns): PluginEnv {
  return {
    containerId: ctx.args.containerId,
    netns,
    ifName,
    args: ctx.args.args,
    path: pluginDirs(ctx),
  };
}
