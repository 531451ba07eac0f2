/** Write the network-status annotations on the pod (status subresource, merge patch). */
import type { NetworkStatus } from "../network-status.ts";
import { NETWORK_STATUS_ANNOTATION, OLD_NETWORK_STATUS_ANNOTATION } from "../network-status.ts";
import type { KubeClient } from "./client.ts";
import { ApiError } from "./errors.ts";
import { type Pod, podPath } from "./pod.ts";

export async function writeNetworkStatus(client: KubeClient, pod: Pod, statuses: NetworkStatus[]): Promise<void> {
  const value = JSON.stringify(statuses, null, 2);
  // The uid makes the patch a precondition: a replaced pod is never annotated.
  const patch = {
    metadata: {
      uid: pod.uid || undefined,
      annotations: { [NETWORK_STATUS_ANNOTATION]: value, [OLD_NETWORK_STATUS_ANNOTATION]: value },
    },
  };
  const what = `write network-status of pod ${pod.namespace}/${pod.name}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await client.mergePatch(`${podPath(pod)}/status`, patch, what);
      return;
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && attempt < 4) {
        await new Promise((r) => setTimeout(r, 20 * attempt));
        continue;
      }
      throw e;
    }
  }
}
