// The cache record: atomic, private, validated on read.
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { CACHE_KIND, type CacheRecord, listCachedContainers, readCache, removeCache, writeCache } from "../lib/cache.ts";
import { tempDir } from "./helpers/netns.ts";

const rec = (id: string): CacheRecord => ({
  kind: CACHE_KIND,
  containerId: id,
  netns: "/run/netns/x",
  ifName: "eth0",
  cniArgs: "",
  cniVersion: "1.0.0",
  complete: true,
  attachments: [{ network: "a", ifName: "eth0", isClusterNetwork: true, config: { type: "bridge", name: "a" } }],
});

t.test("write then read round-trips; file 0600 in a 0700 dir; no temp file left", async (t) => {
  const dir = join(tempDir(t), "cache");
  writeCache(dir, rec("c1"));
  t.same(readCache(dir, "c1"), { state: "ok", record: rec("c1") });
  t.equal(statSync(join(dir, "c1")).mode & 0o777, 0o600);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.same(readdirSync(dir), ["c1"]);
  t.same(listCachedContainers(dir), ["c1"]);
  removeCache(dir, "c1");
  t.same(readCache(dir, "c1"), { state: "missing" });
  removeCache(dir, "c1"); // idempotent
});

t.test("corrupt and foreign records are reported, not thrown", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "c2"), "{not json");
  t.match(readCache(dir, "c2"), { state: "corrupt", problem: /not valid JSON/ });
  writeFileSync(join(dir, "c3"), JSON.stringify({ ...rec("other"), containerId: "other" }));
  t.match(readCache(dir, "c3"), { state: "corrupt", problem: /belongs to container "other"/ });
  writeFileSync(join(dir, "c4"), JSON.stringify({ ...rec("c4"), kind: "somethingElse" }));
  t.match(readCache(dir, "c4"), { state: "corrupt", problem: /unknown kind/ });
});

t.test("a container ID that is not a safe file name never becomes a path", async (t) => {
  const dir = tempDir(t);
  for (const id of ["../x", "a/b", ".hidden", ""]) {
    t.throws(() => writeCache(dir, rec(id)), { code: 4 }, JSON.stringify(id));
    t.throws(() => readCache(dir, id), { code: 4 });
  }
});

t.test("an unwritable cache dir is a clear error", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "file"), "");
  t.throws(() => writeCache(join(dir, "file"), rec("c5")), { code: 101, message: /cannot write cache record/ });
});
