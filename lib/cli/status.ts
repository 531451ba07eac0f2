/** `multus status`: what the cache says is attached on this node. */
import { listCachedContainers, readCache } from "../cache.ts";

export function status(cniDir: string): string[] {
  const ids = listCachedContainers(cniDir);
  if (ids.length === 0) return [`no cached attachments in ${cniDir}`];
  const rows: string[][] = [["CONTAINER", "STATE", "NETNS", "INTERFACES"]];
  for (const id of ids) {
    const r = readCache(cniDir, id);
    if (r.state === "corrupt") {
      rows.push([id, "corrupt", "-", r.problem]);
      continue;
    }
    if (r.state === "missing") continue;
    const rec = r.record;
    const ifs = rec.attachments.map((a) => `${a.ifName}=${a.statusName ?? a.network}`).join(" ");
    rows.push([id, rec.complete ? "attached" : "incomplete", rec.netns || "-", ifs]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  "));
}
