/**
 * Pod events, as Multus emits them: `AddedInterface` ("Add net1 [10.1.1.5/24]
 * from ns/name") after an ADD, a Warning when an ADD fails. One request per
 * ADD at most, one attempt with a short timeout; a failure is only logged:
 * an event must never hold up or fail a pod.
 */

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { scrub } from "../secrets.ts";
import type { KubeClient } from "./client.ts";
import type { Pod } from "./pod.ts";

export interface PodEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** Events are best effort: this is all the time one may take. */
export const EVENT_TIMEOUT_MS = 1000;

/** The core/v1 Event for `pod`, as kubelet and Multus write them. */
export function podEvent(pod: Pod, ev: PodEvent, now = new Date()): Record<string, unknown> {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${pod.name}.${randomBytes(8).toString("hex")}`, namespace: pod.namespace },
    involvedObject: { apiVersion: "v1", kind: "Pod", namespace: pod.namespace, name: pod.name, ...(pod.uid ? { uid: pod.uid } : {}) },
    reason: ev.reason,
    // Tenants of the namespace read events: never a credential an API server repeated in an error.
    message: scrub(ev.message),
    type: ev.type,
    source: { component: "multus" },
    reportingComponent: "multus",
    reportingInstance: hostname(),
    firstTimestamp: ts,
    lastTimestamp: ts,
    count: 1,
  };
}

/** Post one event; resolves to the problem (for the log) instead of throwing. */
export async function postPodEvent(client: KubeClient, pod: Pod, ev: PodEvent): Promise<string | undefined> {
  const path = `/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/events`;
  try {
    await client.postOnce(path, podEvent(pod, ev), `create event ${ev.reason} for pod ${pod.namespace}/${pod.name}`, EVENT_TIMEOUT_MS);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
