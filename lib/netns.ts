/**
 * The only code that acts inside the pod's network namespace (through
 * nsenter and ip, without a shell): moving the default route to the
 * attachment a pod asked for with `default-route`.
 */
import { execFile } from "node:child_process";
import { CniError, ErrorCode } from "./cni/errors.ts";

function run(netns: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile("nsenter", [`--net=${netns}`, "--", "ip", ...args], { timeout: 10_000 }, (err, _out, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr: String(stderr).trim() });
    });
  });
}

export interface DefaultRouteRequest {
  /** Interface that gets the default route. */
  ifName: string;
  gateways: string[];
}

const familyOf = (ip: string) => (ip.includes(":") ? "-6" : "-4");

/**
 * For each IP family a gateway is requested for: remove every default route
 * of that family from the pod's interfaces, then add `default via gw dev if`.
 * An empty gateway list removes default routes of both families.
 */
export async function applyDefaultRoutes(netns: string, interfaces: string[], req: DefaultRouteRequest): Promise<void> {
  const families = req.gateways.length ? [...new Set(req.gateways.map(familyOf))] : ["-4", "-6"];
  for (const fam of families) {
    for (const dev of interfaces) {
      // Repeated until none is left; "no such process" means there was none.
      for (let i = 0; i < 8; i++) {
        const r = await run(netns, [fam, "route", "del", "default", "dev", dev]);
        if (r.code !== 0) break;
      }
    }
  }
  for (const gw of req.gateways) {
    const r = await run(netns, [familyOf(gw), "route", "replace", "default", "via", gw, "dev", req.ifName]);
    if (r.code !== 0) {
      throw new CniError(
        ErrorCode.SandboxFailure,
        `cannot add default route via ${gw} on ${req.ifName}: ${r.stderr || `ip exited ${r.code}`}`,
      );
    }
  }
}
