/**
 * Write the network-status annotations on the pod (status subresource).
 *
 * A JSON merge PATCH carrying the pod's UID (the API's, also for a static
 * pod's mirror) as a precondition: one request, and a replaced pod is never
 * annotated. Where RBAC grants `update` but not `patch` on pods/status (the
 * ClusterRole of upstream Multus, which writes with an update), the PATCH's
 * 403 is followed by an update: a PUT of the pod as read at the start of the
 * ADD, with its resourceVersion; on a conflict the pod is read again, its UID
 * checked, and the PUT retried. The choice is made per call: every ADD is a
 * new process and nothing is kept on disk for it, so a node with only
 * upstream's role pays one refused PATCH per ADD.
 */

import { CniError, ErrorCode } from "../cni/errors.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import type { NetworkStatus } from "../network-status.ts";
import { NETWORK_STATUS_ANNOTATION, OLD_NETWORK_STATUS_ANNOTATION } from "../network-status.ts";
import { scrub } from "../secrets.ts";
import type { KubeClient } from "./client.ts";
import { ApiError } from "./errors.ts";
import { type Pod, podPath } from "./pod.ts";

/** Tries of one write when it meets a conflict (409). */
const ATTEMPTS = 4;

const isStatus = (e: unknown, status: number): e is ApiError => e instanceof ApiError && e.status === status;

/** A conflict of the UID precondition: the pod was replaced, and no retry can change that. */
const replaced = (e: ApiError) => /Precondition failed: UID/.test(e.message);

/** `write(attempt)`, again after a short pause while it meets a conflict (a newer version of the pod). */
async function retryOnConflict(write: (attempt: number) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write(attempt);
    } catch (e) {
      if (!isStatus(e, 409) || replaced(e) || attempt >= ATTEMPTS) throw e;
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}

export async function writeNetworkStatus(client: KubeClient, pod: Pod, statuses: NetworkStatus[]): Promise<void> {
  const value = scrub(JSON.stringify(statuses, null, 2));
  const annotations = { [NETWORK_STATUS_ANNOTATION]: value, [OLD_NETWORK_STATUS_ANNOTATION]: value };
  const what = `write network-status of pod ${pod.namespace}/${pod.name}`;
  const patch = { metadata: { uid: pod.uid || undefined, annotations } };
  try {
    await retryOnConflict(() => client.mergePatch(`${podPath(pod)}/status`, patch, what).then(() => {}));
  } catch (e) {
    if (!isStatus(e, 403)) throw e;
    await updateStatus(client, pod, annotations, what, e);
  }
}

/** The same annotations by update (GET is spared: the pod read at the start is the first version tried). */
async function updateStatus(client: KubeClient, pod: Pod, annotations: Record<string, string>, what: string, refused: ApiError) {
  let current: JsonObject = pod.object;
  try {
    await retryOnConflict(async (attempt) => {
      if (attempt > 1) current = await client.get(podPath(pod), `get pod ${pod.namespace}/${pod.name}`);
      const meta = isJsonObject(current.metadata) ? current.metadata : {};
      if (pod.uid && meta.uid !== pod.uid) {
        throw new CniError(ErrorCode.ApiFailure, `${what}: the pod was replaced (its UID was "${pod.uid}", now "${String(meta.uid)}")`);
      }
      const old = isJsonObject(meta.annotations) ? meta.annotations : {};
      const body = { ...current, metadata: { ...meta, annotations: { ...old, ...annotations } } };
      await client.put(`${podPath(pod)}/status`, body, what);
    });
  } catch (e) {
    if (!isStatus(e, 403)) throw e;
    throw new CniError(ErrorCode.ApiFailure, `${e.message} (and the patch before it: ${refused.message})`);
  }
}
