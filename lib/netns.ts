/**
 * The only code that looks or acts inside the pod's network namespace
 * (through nsenter and ip, without a shell): the interface names already
 * there (checked before an ADD runs anything), and moving the default route
 * to the attachments a pod asked for with `default-route`. And whether a
 * recorded namespace is still one.
 */
import { execFile } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { CniError, ErrorCode } from "./cni/errors.ts";

interface IpRun {
  /** Exit code; "missing" when nsenter or ip is not installed. */
  code: number | "missing";
  stdout: string;
  stderr: string;
}

/** `ip` in the netns; `batch` lines go to `ip -batch -` on stdin. */
function run(netns: string, args: string[], batch?: string[]): Promise<IpRun> {
  return new Promise((resolve) => {
    const argv = [`--net=${netns}`, "--", "ip", ...args, ...(batch ? ["-batch", "-"] : [])];
    const child = execFile("nsenter", argv, { timeout: 10_000 }, (err, stdout, stderr) => {
      // The exit code, or "ENOENT" when nsenter is missing; nsenter exits 126/127 when it cannot execute ip.
      const exit = (err as { code?: unknown } | null)?.code;
      const missing = exit === "ENOENT" || exit === 126 || exit === 127;
      const code = missing ? "missing" : typeof exit === "number" ? exit : err ? 1 : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr).trim() });
    });
    child.stdin?.on("error", () => {});
    child.stdin?.end(batch ? `${batch.join("\n")}\n` : "");
  });
}

/**
 * The names of the interfaces in the pod's network namespace. A CNI_NETNS
 * that does not exist or is not a network namespace is code 4; undefined
 * when nsenter or ip is not installed (the check is then skipped).
 */
export async function podInterfaces(netns: string): Promise<string[] | undefined> {
  if (!existsSync(netns)) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS ${netns} does not exist`);
  const r = await run(netns, ["-o", "link", "show"]);
  if (r.code === "missing") return undefined;
  if (r.code !== 0) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_NETNS ${netns} is not a usable network namespace: ${r.stderr || `exit ${r.code}`}`,
    );
  }
  // "7: eth0@if12: <BROADCAST,..." (the part after @ names the peer)
  return r.stdout.split("\n").flatMap((l) => /^\d+:\s*([^:@\s]+)/.exec(l)?.[1] ?? []);
}

/** One interface's part in `default-route`: the gateways it asked for (none: it only loses its default routes). */
export interface DefaultRouteTarget {
  ifName: string;
  gateways: readonly string[];
}

/**
 * The default routes of both IP families are removed from each target's
 * interface, then `default via <gw> dev <if>` added for its gateways.
 */
export async function applyDefaultRoutes(netns: string, targets: readonly DefaultRouteTarget[]): Promise<void> {
  if (!targets.length) return;
  // -force: an interface without such routes (or without IPv6) is no failure.
  const flush = targets.flatMap((t) => [`route flush exact 0.0.0.0/0 dev ${t.ifName}`, `route flush exact ::/0 dev ${t.ifName}`]);
  if ((await run(netns, ["-force"], flush)).code === "missing") {
    throw new CniError(ErrorCode.SandboxFailure, "cannot change the pod's default routes: nsenter or ip is not installed");
  }
  // Interface names and gateways were checked (no spaces, IP addresses): safe as batch lines.
  const adds = targets.flatMap((t) => t.gateways.map((gw) => ({ gw, ifName: t.ifName })));
  if (!adds.length) return;
  const r = await run(
    netns,
    [],
    adds.map((a) => `route replace default via ${a.gw} dev ${a.ifName}`),
  );
  if (r.code === 0) return;
  // "Command failed -:<line>" names the add that failed.
  const line = Number(/Command failed -:(\d+)/.exec(r.stderr)?.[1] ?? 1);
  const failed = adds[Math.min(Math.max(line, 1), adds.length) - 1];
  throw new CniError(
    ErrorCode.SandboxFailure,
    `cannot add default route via ${failed.gw} on ${failed.ifName}: ${r.stderr.split("\n")[0] || `ip exited ${r.code}`}`,
  );
}

/**
 * The recorded netns while it still is a network namespace, and not our
 * own (the host's); else "" (a DEL without one frees the addresses only).
 * A `/proc/<pid>/...` path is never passed: its pid may be another
 * process's now, and DEL would remove that process's interfaces.
 */
export function liveNetns(path: string): string {
  if (!path || path.startsWith("/proc/")) return "";
  try {
    const st = statSync(path);
    const own = statSync("/proc/self/ns/net");
    // Namespaces are files of one file system (nsfs); an unmounted one is not.
    return st.dev === own.dev && st.ino !== own.ino ? path : "";
  } catch {
    return "";
  }
}
