/** The pod being wired: who it is (from CNI_ARGS) and its annotations. */
import type { PodRef } from "../cni/args.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import type { KubeClient } from "./client.ts";

export interface Pod {
  namespace: string;
  name: string;
  /** The API's UID (for a static pod, its mirror pod's): the precondition of every write. */
  uid: string;
  annotations: Record<string, string>;
  /** The object as read, for a status update (PUT) without another GET. */
  object: JsonObject;
}

/** kubelet's annotation saying where a pod comes from: "api", or "file"/"http" for a static pod. */
export const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";

export function podPath(ref: { namespace: string; name: string }): string {
  return `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/pods/${encodeURIComponent(ref.name)}`;
}

/**
 * A static pod (from a manifest file or URL on the node): kubelet knows it by
 * its own UID, the API holds its mirror pod, whose UID differs.
 */
export function isStaticPod(pod: Pick<Pod, "annotations">): boolean {
  const source = pod.annotations[CONFIG_SOURCE_ANNOTATION];
  return source !== undefined && source !== "api";
}

/** The Pod of an object the API returned. */
export function podFromObject(ref: { namespace: string; name: string }, obj: JsonObject): Pod {
  const meta = isJsonObject(obj.metadata) ? obj.metadata : {};
  const annotations: Record<string, string> = {};
  if (isJsonObject(meta.annotations)) {
    for (const [k, v] of Object.entries(meta.annotations)) if (typeof v === "string") annotations[k] = v;
  }
  return { namespace: ref.namespace, name: ref.name, uid: String(meta.uid ?? ""), annotations, object: obj };
}

/** The pod, refused when its UID is not the runtime's (a replaced pod) unless it is a static pod's mirror. */
export async function getPod(client: KubeClient, ref: PodRef): Promise<Pod> {
  const pod = podFromObject(ref, await client.get(podPath(ref), `get pod ${ref.namespace}/${ref.name}`));
  if (ref.uid && pod.uid && ref.uid !== pod.uid && !isStaticPod(pod)) {
    throw new CniError(
      ErrorCode.ApiFailure,
      `pod ${ref.namespace}/${ref.name}: expected UID "${ref.uid}" (from the runtime) but the API has "${pod.uid}": the pod was replaced`,
    );
  }
  return pod;
}
