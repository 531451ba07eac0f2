/**
 * The only code that looks or acts inside the pod's network namespace,
 * without a shell: which of the interface names an ADD plans are already
 * there (checked before it runs anything), and moving the default route to
 * the attachments a pod asked for with `default-route`. And whether a
 * recorded namespace is still one.
 *
 * The check is on every ADD: under Bun it is done in this process
 * (./netns-probe.ts: setns(2) into the pod's namespace and back, around
 * if_nametoindex(3)), a fraction of a millisecond; elsewhere, and for the
 * route changes, `ip` runs in the namespace (`ip -n` for a named one, else
 * through nsenter) by the one process seam, lib/spawn.ts.
 */
import { existsSync, statSync } from "node:fs";
import { basename, dirname } from "node:path";
import { CniError, ErrorCode } from "./cni/errors.ts";
import { bunRuntime } from "./runtime.ts";
import { spawnPlugin } from "./spawn.ts";
import { mark } from "./trace.ts";

interface IpRun {
  /** Exit code; "missing" when nsenter or ip is not installed. */
  code: number | "missing";
  stdout: string;
  stderr: string;
}

const NAMED_NETNS_DIRS = ["/run/netns", "/var/run/netns"];

/** `ip` in the netns; `batch` lines go to `ip -batch -` on stdin. */
async function run(netns: string, args: string[], batch?: string[]): Promise<IpRun> {
  const tail = [...args, ...(batch ? ["-batch", "-"] : [])];
  // A netns `ip netns` names is entered by ip itself: one process instead of two.
  const named = NAMED_NETNS_DIRS.includes(dirname(netns));
  const [file, argv] = named ? ["ip", ["-n", basename(netns), ...tail]] : ["nsenter", [`--net=${netns}`, "--", "ip", ...tail]];
  try {
    const r = await spawnPlugin({
      file,
      args: argv,
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
      input: batch ? `${batch.join("\n")}\n` : "",
      timeoutMs: 10_000,
    });
    // nsenter exits 126/127 when it cannot execute ip.
    const code = !named && (r.code === 126 || r.code === 127) ? "missing" : (r.code ?? 1);
    return { code, stdout: r.stdout, stderr: r.stderr.trim() };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { code: "missing", stdout: "", stderr: "" };
    throw e;
  }
}

/**
 * Which of `names` the pod's network namespace has already. A CNI_NETNS
 * that does not exist or is not a network namespace is code 4; undefined
 * when there is no way to look (no ip or nsenter outside Bun).
 */
export async function interfacesPresent(netns: string, names: readonly string[]): Promise<string[] | undefined> {
  if (!existsSync(netns)) throw new CniError(ErrorCode.InvalidEnvironment, `CNI_NETNS ${netns} does not exist`);
  if (bunRuntime()) {
    const found = await (await import("./netns-probe.ts")).probeInterfaces(netns, names);
    mark("netns checked");
    if (found) return found;
  }
  const r = await run(netns, ["-o", "link", "show"]);
  if (r.code === "missing") return undefined;
  if (r.code !== 0) {
    throw new CniError(
      ErrorCode.InvalidEnvironment,
      `CNI_NETNS ${netns} is not a usable network namespace: ${r.stderr || `exit ${r.code}`}`,
    );
  }
  // "7: eth0@if12: <BROADCAST,..." (the part after @ names the peer)
  const present = new Set(r.stdout.split("\n").flatMap((l) => /^\d+:\s*([^:@\s]+)/.exec(l)?.[1] ?? []));
  return names.filter((n) => present.has(n));
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
 * A recorded netns while it still is a network namespace, and not our own
 * (the host's); else "" (a DEL without one frees the addresses only).
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
