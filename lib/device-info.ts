/**
 * Network Plumbing WG device-info files, for attachments that got a
 * device-plugin device. Under `deviceInfoDir` (/var/run/k8s.cni.cncf.io/devinfo):
 * - `dp/<resource>-<deviceID>-device.json`: written by the device plugin, if it does;
 * - `cni/<network>-<containerID>_<ifname>`: ours, one per attachment (`/` → `-`
 *   in both names), handed to the delegate as runtimeConfig `CNIDeviceInfoFile`.
 * At ADD, before the delegate runs, the device plugin's file is copied when
 * present, else a PCI address is described as {"type":"pci", ...}; the
 * delegate may rewrite the file. Its content goes into network-status as
 * `device-info`. DEL removes it. Loaded only for such attachments.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Attachment, type AttachmentDevice, attachmentName } from "./attachment.ts";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { atomicWrite, FileReadError, readRegularText } from "./files.ts";
import { isJsonObject, type JsonObject } from "./json.ts";
import type { Logger } from "./log.ts";

export const DEVICE_INFO_VERSION = "1.1.0";
const PCI_ADDRESS = /^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;
const flat = (s: string) => s.replaceAll("/", "-");

/** Our file for one attachment: the name upstream Multus uses. */
export function cniDeviceInfoPath(dir: string, network: string, containerId: string, ifName: string): string {
  return join(dir, "cni", flat(`${network}-${containerId}_${ifName}`));
}

/** The device plugin's file for one device. */
export function dpDeviceInfoPath(dir: string, resourceName: string, deviceID: string): string {
  return join(dir, "dp", `${flat(resourceName)}-${flat(deviceID)}-device.json`);
}

/**
 * Attachments with a device get their device-info file, also passed as
 * runtimeConfig `CNIDeviceInfoFile` (to plugins with that capability).
 */
export function withDeviceInfoFiles(plan: readonly Attachment[], dir: string, containerId: string): Attachment[] {
  return plan.map((a) => {
    if (!a.device) return a;
    const infoFile = cniDeviceInfoPath(dir, attachmentName(a), containerId, a.ifName);
    return { ...a, device: { ...a.device, infoFile }, runtimeConfig: { ...a.runtimeConfig, CNIDeviceInfoFile: infoFile } };
  });
}

/**
 * A device-info file's JSON object, or undefined when it is missing or not
 * an object. One that cannot be used (a FIFO, a device, too large, not
 * JSON) is logged, never waited on.
 */
export function readDeviceInfo(file: string, log?: Logger): JsonObject | undefined {
  let v: unknown;
  try {
    v = JSON.parse(readRegularText(file));
  } catch (e) {
    if (!(e instanceof FileReadError && e.code === "ENOENT"))
      log?.error("device-info file not used", { file, problem: (e as Error).message });
    return undefined;
  }
  return isJsonObject(v) ? v : undefined;
}

/**
 * Write the attachment's device-info file before its delegate runs: the
 * device plugin's description of the device when it wrote one, else a PCI
 * description of a PCI address. Returns what was written; undefined when
 * there is nothing to say (a non-PCI device without a device plugin file).
 */
export function writeDeviceInfo(device: AttachmentDevice, dir: string, log: Logger): JsonObject | undefined {
  const { infoFile, deviceID, resourceName } = device;
  if (!infoFile || !deviceID) return undefined;
  const dpFile = dpDeviceInfoPath(dir, resourceName, deviceID);
  let info = readDeviceInfo(dpFile, log);
  if (info) log.info("device-info from the device plugin", { file: dpFile });
  else if (PCI_ADDRESS.test(deviceID)) info = { type: "pci", version: DEVICE_INFO_VERSION, pci: { "pci-address": deviceID } };
  else {
    log.info("no device-info for this device: no device plugin file and not a PCI address", { deviceID, file: dpFile });
    return undefined;
  }
  try {
    mkdirSync(join(dir, "cni"), { recursive: true, mode: 0o755 });
    atomicWrite(infoFile, JSON.stringify(info), 0o444);
  } catch (e) {
    throw new CniError(ErrorCode.IoFailure, `cannot write device-info file ${infoFile}: ${(e as Error).message}`);
  }
  return info;
}

export function removeDeviceInfo(file: string): void {
  rmSync(file, { force: true });
}
