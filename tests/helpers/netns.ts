/**
 * Real network namespaces and host links for tests, always cleaned up.
 * Every name starts with "mt" so a leak check can find what a test left.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tap {
  teardown(fn: () => void | Promise<void>): void;
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function shQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
  } catch {
    // already gone
  }
}

export function uniqueName(prefix = "mt"): string {
  return `${prefix}${randomBytes(4).toString("hex")}`.slice(0, 12);
}

/** A fresh netns, deleted at teardown. Returns its name and path. */
export function makeNetns(t: Tap): { name: string; path: string } {
  const name = uniqueName("mtns");
  sh("ip", ["netns", "add", name]);
  t.teardown(() => shQuiet("ip", ["netns", "del", name]));
  return { name, path: `/run/netns/${name}` };
}

/** Remember a host link a delegate will create (bridge), delete at teardown. */
export function cleanupLink(t: Tap, link: string): void {
  t.teardown(() => shQuiet("ip", ["link", "del", link]));
}

export function tempDir(t: Tap, prefix = "multus-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Interface names in a netns, without lo. */
export function links(netnsName: string): string[] {
  const out = sh("ip", ["-n", netnsName, "-o", "link", "show"]);
  return out
    .split("\n")
    .map((l) => l.split(":")[1]?.trim().split("@")[0])
    .filter((n): n is string => !!n && n !== "lo");
}

/** IPv4 addresses (CIDR) on an interface in a netns. */
export function addresses(netnsName: string, ifName: string): string[] {
  const out = sh("ip", ["-n", netnsName, "-o", "-4", "addr", "show", "dev", ifName]);
  return out.split("\n").flatMap((l) => {
    const m = /inet (\S+)/.exec(l);
    return m ? [m[1]] : [];
  });
}

/** host-local reservations (files named by IP) left in an IPAM data dir. */
export function reservations(ipamDir: string): string[] {
  if (!existsSync(ipamDir)) return [];
  return readdirSync(ipamDir).flatMap((net) =>
    readdirSync(join(ipamDir, net))
      .filter((f) => /^[0-9a-f.:]+$/.test(f) && f.includes("."))
      .map((f) => `${net}/${f}`),
  );
}

/**
 * A /24 in 10.x that no other concurrently running test file uses:
 * reserved with an atomic mkdir, released when the process exits.
 */
const RESERVE_DIR = join(tmpdir(), "multus-test-subnets");
const mine: string[] = [];
process.on("exit", () => {
  for (const d of mine) rmSync(d, { recursive: true, force: true });
});

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function reserveSubnet(): { prefix: string; cidr: string } {
  mkdirSync(RESERVE_DIR, { recursive: true });
  for (let b = 200; b < 250; b++) {
    for (let c = 0; c < 256; c++) {
      const d = join(RESERVE_DIR, `${b}.${c}`);
      try {
        mkdirSync(d);
      } catch {
        // Taken: reclaim it only if its owner is gone.
        try {
          const owner = Number(readdirSync(d)[0]);
          if (owner && !pidAlive(owner)) {
            rmSync(d, { recursive: true, force: true });
            mkdirSync(d);
          } else continue;
        } catch {
          continue;
        }
      }
      writeFileSync(join(d, String(process.pid)), "");
      mine.push(d);
      return { prefix: `10.${b}.${c}`, cidr: `10.${b}.${c}.0/24` };
    }
  }
  throw new Error("no free test subnet");
}

/** Links on the host whose names our tests use; must be empty after a run. */
export function leakedHostLinks(): string[] {
  const out = sh("ip", ["-o", "link", "show"]);
  return out
    .split("\n")
    .map((l) => l.split(":")[1]?.trim().split("@")[0])
    .filter((n): n is string => !!n && n.startsWith("mt"));
}

export function leakedNetns(): string[] {
  return sh("ip", ["netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0])
    .filter((n) => n.startsWith("mtns"));
}
