/**
 * A test's own world: temp dir, cache dir, IPAM dir, a host bridge name and
 * private 10.x subnets, plus builders for bridge/ptp delegates and our netconf.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cleanupLink, reserveSubnet, type Tap, tempDir, uniqueName } from "./netns.ts";

export interface Scenario {
  dir: string;
  cniDir: string;
  ipamDir: string;
  bridgeName: string;
  subnets: { prefix: string; cidr: string }[];
  bridge(extra?: Record<string, unknown>): Record<string, unknown>;
  ptp(extra?: Record<string, unknown>): Record<string, unknown>;
  netconf(delegates: unknown[], extra?: Record<string, unknown>): Record<string, unknown>;
}

export function scenario(t: Tap, cniVersion = "1.0.0"): Scenario {
  const dir = tempDir(t);
  const cniDir = join(dir, "cache");
  const ipamDir = join(dir, "ipam");
  const bridgeName = uniqueName("mtbr");
  cleanupLink(t, bridgeName);
  const subnets = [reserveSubnet(), reserveSubnet(), reserveSubnet()];
  return {
    dir,
    cniDir,
    ipamDir,
    bridgeName,
    subnets,
    bridge: (extra = {}) => ({
      cniVersion,
      name: "br-net",
      type: "bridge",
      bridge: bridgeName,
      isGateway: false,
      ipMasq: false,
      ipam: { type: "host-local", subnet: subnets[0].cidr, dataDir: ipamDir },
      ...extra,
    }),
    ptp: (extra = {}) => ({
      cniVersion,
      name: "ptp-net",
      type: "ptp",
      ipMasq: false,
      ipam: { type: "host-local", subnet: subnets[1].cidr, dataDir: ipamDir },
      ...extra,
    }),
    netconf: (delegates, extra = {}) => ({
      cniVersion,
      name: "multus-test",
      type: "multus",
      cniDir,
      binDir: "/usr/lib/cni",
      delegates,
      ...extra,
    }),
  };
}

/**
 * What the plugin keeps in its cache dir: one record per container, plus
 * any lock still held (as ".locks/<id>"). The empty lock dir itself is not
 * listed: it stays, like the cache dir.
 */
export function cacheEntries(cniDir: string): string[] {
  if (!existsSync(cniDir)) return [];
  const locks = join(cniDir, ".locks");
  const held = existsSync(locks) ? readdirSync(locks).map((f) => `.locks/${f}`) : [];
  // GC's index of networks (lib/gc-index.ts) is no container's: it stays.
  return [...readdirSync(cniDir).filter((f) => f !== ".locks" && f !== ".gc-networks"), ...held].sort();
}
