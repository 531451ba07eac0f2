/** CNI spec versions this plugin speaks, oldest first. */
export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;

export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The version we report for VERSION and for errors when nothing better is known. */
export const CURRENT_VERSION: CniVersion = "1.1.0";

/** A config without `cniVersion` is a 0.1.0 config (CNI spec). */
export const IMPLICIT_VERSION: CniVersion = "0.1.0";

export function isSupportedVersion(v: unknown): v is CniVersion {
  return typeof v === "string" && (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** Compare two dotted versions numerically: negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionAtLeast(v: string, min: string): boolean {
  return compareVersions(v, min) >= 0;
}

/** Which verbs a config version allows, per the spec that introduced them. */
export function versionAllows(v: string, verb: "CHECK" | "GC" | "STATUS"): boolean {
  return verb === "CHECK" ? versionAtLeast(v, "0.4.0") : versionAtLeast(v, "1.1.0");
}
