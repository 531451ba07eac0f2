/**
 * STATUS (CNI 1.1): can a container be added now? Not while the cluster
 * network's readiness file is absent, a network every pod gets cannot be
 * resolved, or one of its plugins is missing (50, naming it). Each of those
 * networks whose config speaks 1.1.0 is then asked for its own STATUS (all
 * at once) and its 50 or 51 passed on; older configs have no STATUS, and
 * libcni does not ask them either.
 *
 * Kubernetes mode with the API server down: 50. Every ADD then fails (it
 * reads the pod), which is what 50 says; 51 would say existing pods lost
 * connectivity, which an API outage does not do.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { versionAllows } from "../cni/version.ts";
import type { Delegate } from "../delegate.ts";
import { statusDelegate } from "../delegate-exec.ts";
import { DelegateError, findPlugin } from "../plugin-exec.ts";
import { assertReady } from "../readiness.ts";
import { type CommandContext, pluginDirs, pluginEnv } from "./context.ts";
import { nodeNetworks } from "./node-networks.ts";

export async function status(ctx: CommandContext): Promise<void> {
  assertReady(ctx.netconf.readinessFile);
  let networks: Delegate[];
  try {
    networks = await nodeNetworks(ctx);
  } catch (e) {
    throw new CniError(
      ErrorCode.PluginUnavailable,
      `the cluster network cannot be resolved: ${(e as Error).message}`,
      (e as CniError).details,
    );
  }
  const dirs = pluginDirs(ctx);
  for (const d of networks) {
    for (const t of d.pluginTypes) {
      try {
        findPlugin(t, dirs);
      } catch (e) {
        throw new CniError(
          ErrorCode.PluginUnavailable,
          `network "${d.name}" is unavailable: ${(e as Error).message}`,
          (e as CniError).details,
        );
      }
    }
  }
  const answers = await Promise.all(networks.filter((d) => versionAllows(d.cniVersion, "STATUS")).map((d) => askStatus(ctx, d)));
  const failed = answers.filter((a): a is CniError => a !== undefined);
  // "Cannot add" outranks "limited": the first 50, else the first 51.
  const worst = failed.find((f) => f.code === ErrorCode.PluginUnavailable) ?? failed[0];
  if (worst) throw worst;
}

/** The network's own STATUS, plugin by plugin; its failure as our 50 or 51. */
async function askStatus(ctx: CommandContext, d: Delegate): Promise<CniError | undefined> {
  try {
    await statusDelegate(d, { env: pluginEnv(ctx, ctx.args.ifName), timeoutMs: ctx.netconf.timeouts.delegateMs });
    return undefined;
  } catch (e) {
    const limited = e instanceof DelegateError && e.pluginCode === ErrorCode.PluginUnavailableLimited;
    return new CniError(
      limited ? ErrorCode.PluginUnavailableLimited : ErrorCode.PluginUnavailable,
      `network "${d.name}" is unavailable: ${(e as Error).message}`,
      (e as CniError).details,
    );
  }
}
