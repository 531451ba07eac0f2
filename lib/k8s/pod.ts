/** The pod being wired: who it is (from CNI_ARGS) and its annotations. */
import type { PodRef } from "../cni/args.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isJsonObject } from "../json.ts";
import type { KubeClient } from "./client.ts";

export interface Pod {
  namespace: string;
  name: string;
  uid: string;
  annotations: Record<string, string>;
}

export function podPath(ref: { namespace: string; name: string }): string {
  return `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/pods/${encodeURIComponent(ref.name)}`;
}

export async function getPod(client: KubeClient, ref: PodRef): Promise<Pod> {
  const obj = await client.get(podPath(ref), `get pod ${ref.namespace}/${ref.name}`);
  const meta = isJsonObject(obj.metadata) ? obj.metadata : {};
  const annotations: Record<string, string> = {};
  if (isJsonObject(meta.annotations)) {
    for (const [k, v] of Object.entries(meta.annotations)) if (typeof v === "string") annotations[k] = v;
  }
  const pod: Pod = { namespace: ref.namespace, name: ref.name, uid: String(meta.uid ?? ""), annotations };
  if (ref.uid && pod.uid && ref.uid !== pod.uid) {
    throw new CniError(
      ErrorCode.ApiFailure,
      `pod ${ref.namespace}/${ref.name}: expected UID "${ref.uid}" (from the runtime) but the API has "${pod.uid}": the pod was replaced`,
    );
  }
  return pod;
}
