/**
 * Device-plugin networks (SR-IOV and the like): a NAD annotated
 * `k8s.v1.cni.cncf.io/resourceName` gets one of the devices kubelet
 * allocated to the pod for that resource. Devices are handed out in
 * attachment order, each once: several networks on one resource get
 * successive devices. The device goes into the delegate's config as
 * `deviceID` and `pciBusID` (every plugin of a conflist) and into its
 * runtime config as `deviceID` (for plugins with that capability).
 * Loaded only when a network names a resource.
 */
import { type AttachmentRequest, attachmentName } from "../attachment.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Delegate } from "../delegate.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import type { Logger } from "../log.ts";
import type { DevicesSection } from "../netconf.ts";
import { allocatedDevices, type PodIdentity } from "./pod-resources.ts";

/** The delegate with the device in its config (the JSON is copied, never changed in place). */
export function withDeviceID(d: Delegate, deviceID: string): Delegate {
  const put = (c: JsonObject): JsonObject => ({ ...c, deviceID, pciBusID: deviceID });
  const config =
    d.kind === "conflist" && Array.isArray(d.config.plugins)
      ? { ...d.config, plugins: d.config.plugins.map((p) => (isJsonObject(p) ? put(p) : p)) }
      : put(d.config);
  return { ...d, config };
}

/**
 * Every request whose NAD names a resource gets the next unused device of
 * the pod for it. `taken`: devices the pod's attachments use already (a
 * network added to a running pod gets none of those).
 */
export async function assignDevices(
  requests: readonly AttachmentRequest[],
  pod: PodIdentity | undefined,
  d: DevicesSection,
  log: Logger,
  taken: ReadonlySet<string> = new Set(),
): Promise<AttachmentRequest[]> {
  const first = requests.find((r) => r.device);
  if (!first) return [...requests];
  if (!pod) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `NetworkAttachmentDefinition ${attachmentName(first)} needs a device of resource "${first.device!.resourceName}", but CNI_ARGS names no pod (K8S_POD_NAMESPACE, K8S_POD_NAME)`,
    );
  }
  const { byResource, source } = await allocatedDevices(pod, d, log);
  const used = new Map<string, number>();
  return requests.map((r) => {
    if (!r.device) return r;
    const resource = r.device.resourceName;
    const ids = (byResource.get(resource) ?? []).filter((id) => !taken.has(id));
    const n = used.get(resource) ?? 0;
    if (n >= ids.length) {
      const all = byResource.get(resource) ?? [];
      const why =
        all.length === 0
          ? `none is allocated to pod ${pod.namespace}/${pod.name}`
          : `the pod's ${all.length} device${all.length === 1 ? " is" : "s are"} used by ${ids.length < all.length ? "its other networks" : "the networks before it"}`;
      const allocated = [...byResource].map(([k, v]) => `${k}: ${v.join(", ")}`).join("; ") || "none";
      const needed = requests.filter((q) => q.device?.resourceName === resource).length;
      // Code 7: the pod's networks ask for more of the resource than its containers request; a retry cannot fix that.
      throw new CniError(
        ErrorCode.InvalidNetworkConfig,
        `NetworkAttachmentDefinition ${attachmentName(r)} needs a device of resource "${resource}": ${why}`,
        `the pod's networks on "${resource}" need ${needed} device${needed === 1 ? "" : "s"}, one each: its containers must request that many in their resources. Devices kubelet allocated to the pod (from the ${source}): ${allocated}`,
      );
    }
    used.set(resource, n + 1);
    const deviceID = ids[n];
    return {
      ...r,
      delegate: withDeviceID(r.delegate, deviceID),
      runtimeConfig: { ...r.runtimeConfig, deviceID },
      device: { resourceName: resource, deviceID },
    };
  });
}
