/** `multus status`: what the cache says is attached on this node. */
import { listCachedContainers, readCache } from "../cache.ts";

/** One cached container, as `multus status --json` prints it. */
export interface ContainerStatus {
  containerID: string;
  /** `incomplete`: its ADD (or an attach since) did not finish (the runtime's DEL removes it); `corrupt`: the record cannot be read. */
  state: "attached" | "incomplete" | "corrupt";
  netns: string | null;
  interfaces: { ifName: string; network: string }[];
  /** Why a corrupt record cannot be read. */
  problem?: string;
}

export function containers(cniDir: string): ContainerStatus[] {
  const out: ContainerStatus[] = [];
  for (const id of listCachedContainers(cniDir)) {
    const r = readCache(cniDir, id);
    if (r.state === "corrupt") out.push({ containerID: id, state: "corrupt", netns: null, interfaces: [], problem: r.problem });
    if (r.state !== "ok") continue;
    const rec = r.record;
    out.push({
      containerID: id,
      state: rec.complete ? "attached" : "incomplete",
      netns: rec.netns || null,
      interfaces: rec.attachments.map((a) => ({ ifName: a.ifName, network: a.statusName ?? a.network })),
    });
  }
  return out;
}

export function status(cniDir: string, list = containers(cniDir)): string[] {
  if (list.length === 0) return [`no cached attachments in ${cniDir}`];
  const rows: string[][] = [["CONTAINER", "STATE", "NETNS", "INTERFACES"]];
  for (const c of list) {
    const ifs = c.problem ?? c.interfaces.map((a) => `${a.ifName}=${a.network}`).join(" ");
    rows.push([c.containerID, c.state, c.netns ?? "-", ifs]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  "));
}
