import { CURRENT_VERSION, SUPPORTED_VERSIONS } from "../cni/version.ts";

export interface VersionResult {
  cniVersion: string;
  supportedVersions: string[];
}

/** VERSION needs no config: it answers the same for every input. */
export function version(): VersionResult {
  return { cniVersion: CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}
