// The cache record: atomic, private, validated on read.
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { CACHE_KIND, CACHE_VERSION, type CacheRecord, listCachedContainers, readCache, removeCache, writeCache } from "../lib/cache.ts";
import { tempDir } from "./helpers/netns.ts";

const rec = (id: string): CacheRecord => ({
  kind: CACHE_KIND,
  version: CACHE_VERSION,
  containerId: id,
  netns: "/run/netns/x",
  ifName: "eth0",
  cniArgs: "",
  cniVersion: "1.0.0",
  complete: true,
  attachments: [{ network: "a", ifName: "eth0", isClusterNetwork: true, config: { type: "bridge", name: "a" }, cniArgs: "" }],
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

t.test("upstream Multus's record is read as ours; its results files are used only when they are about it", async (t) => {
  const dir = tempDir(t);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64");
  const conf = (name: string) => ({ cniVersion: "0.4.0", name, type: "bridge" });
  const upstream = [
    { Conf: conf("a"), Name: "a", Bytes: b64(conf("a")) },
    { Conf: conf("b"), Name: "ns1/b", ifnameRequest: "data0", Bytes: b64(conf("b")) },
    { Conf: conf("../c"), Name: "ns1/c", Bytes: b64(conf("../c")) },
    { ConfList: { name: "d", plugins: [{ type: "ptp" }] }, Name: "d" }, // no Bytes: the parsed conflist
  ];
  writeFileSync(join(dir, "u1"), JSON.stringify(upstream));
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(dir, "results"));
  const cached = (id: string, ifName: string) => ({
    kind: "cniCacheV1",
    containerId: id,
    ifName,
    cniArgs: [["IgnoreUnknown", "true"]],
    capabilityArgs: { mac: "02:00:00:00:00:01" },
    result: { cniVersion: "0.4.0", ips: [{ address: "10.1.0.2/24" }] },
  });
  writeFileSync(join(dir, "results", "a-u1-net0"), JSON.stringify(cached("u1", "net0")));
  writeFileSync(join(dir, "results", "b-u1-data0"), JSON.stringify(cached("other", "data0"))); // another container's
  const r = readCache(dir, "u1", { ifName: "net0", cniVersion: "1.0.0" });
  if (r.state !== "ok") throw new Error(JSON.stringify(r));
  t.same(
    r.record.attachments.map((a) => [a.network, a.ifName, a.statusName ?? null, !!a.result]),
    [
      ["a", "net0", null, true],
      ["b", "data0", "ns1/b", false],
      ["../c", "net2", "ns1/c", false],
      ["d", "net3", null, false],
    ],
    "interface names derived as upstream does; only a's results file is about this container",
  );
  t.match(r.record.attachments[0], { cniArgs: "IgnoreUnknown=true", runtimeConfig: { mac: "02:00:00:00:00:01" } });
  t.equal(r.record.attachments[0].resultsFile, join(dir, "results", "a-u1-net0"));
  t.equal(r.record.complete, false, "not every attachment has a result");
  t.same(listCachedContainers(dir), ["u1"], "the results dir is no container");
  writeFileSync(join(dir, "u2"), JSON.stringify([{ Name: "x" }]));
  t.match(readCache(dir, "u2"), { state: "corrupt", problem: /a record of upstream Multus\): element 0 has no delegate config/ });
  writeFileSync(join(dir, "u3"), "[]");
  t.match(readCache(dir, "u3"), { state: "corrupt", problem: /is an empty list/ });
});
