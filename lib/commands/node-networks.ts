/**
 * The networks every pod on this node gets, known without a pod: what
 * STATUS checks and what GC reaches besides the networks the cache records
 * name. Delegates mode: `delegates`. Kubernetes mode: the cluster network
 * (`clusterNetwork` resolved as ADD resolves it: a NAD in multusNamespace,
 * a conf file in confDir, a path; else delegates[0]), the other delegates
 * and `defaultNetworks`, through the same resolution code as ADD.
 */
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Delegate } from "../delegate.ts";
import { type CommandContext, openKubeClient } from "./context.ts";

/**
 * The API gets at most this long in all (less when `apiDeadline` is
 * shorter): a STATUS the runtime repeats, or a GC, must not hang on a down
 * API server.
 */
export const NODE_NETWORKS_API_MS = 5000;

/** Throws when a network cannot be resolved (the API down, a NAD missing ...). */
export async function nodeNetworks(ctx: CommandContext): Promise<Delegate[]> {
  if (ctx.netconf.mode !== "crd") return ctx.netconf.delegates;
  const boundMs = Math.min(NODE_NETWORKS_API_MS, ctx.netconf.timeouts.apiDeadlineMs);
  const client = await openKubeClient(ctx, boundMs);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CniError(ErrorCode.TryAgainLater, `the API server did not answer within ${boundMs / 1000}s`)),
      boundMs,
    );
  });
  try {
    const { resolveKubernetesNetworks } = await import("../k8s/resolve.ts");
    const resolution = resolveKubernetesNetworks(ctx.netconf, client, undefined, { devices: false });
    resolution.catch(() => {}); // when `late` wins, its failure (the client closed) is nobody's
    const { requests } = await Promise.race([resolution, late]);
    return requests.map((r) => r.delegate);
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}
