// The file run by a person, by VERSION, and under each supported runtime.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import t from "tap";
import { unavailable } from "./helpers/prerequisite.ts";
import { PLUGIN, ROOT, runPlugin } from "./helpers/run-plugin.ts";

const ALL = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
// The module built beside the executable under test (MULTUS_TEST_BIN, default dist/multus).
const MJS = join(dirname(PLUGIN), "multus.mjs");
const DENO = join(ROOT, ".tools", "node_modules", ".bin", "deno");

const runners: [string, Partial<Parameters<typeof runPlugin>[0]>][] = [
  ["dist/multus", {}],
  ["node dist/multus.mjs", { bin: MJS, interpreter: [process.execPath] }],
];
if (existsSync(DENO)) runners.push(["deno run -A dist/multus.mjs", { bin: MJS, interpreter: [DENO, "run", "-A"] }]);
else unavailable("deno is not installed (scripts/setup.sh installs it into .tools): the deno run checks cannot run");

for (const [name, how] of runners) {
  t.test(`${name}: VERSION lists every supported version without reading a config`, async (t) => {
    const r = await runPlugin({ ...how, command: "VERSION", stdin: "" });
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.same(r.json, { cniVersion: "1.1.0", supportedVersions: ALL });
  });
  t.test(`${name}: --help prints usage for a person`, async (t) => {
    const r = await runPlugin({ ...how, argv: ["--help"], stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
    t.equal(r.code, 0);
    t.match(r.stdout, /meta CNI plugin/);
    t.match(r.stdout, /CNI protocol versions supported: 0\.1\.0, 0\.2\.0, 0\.3\.0, 0\.3\.1, 0\.4\.0, 1\.0\.0, 1\.1\.0/);
  });
}

t.test("version prints the product version", async (t) => {
  const r = await runPlugin({ argv: ["version"], stdin: "" });
  t.equal(r.code, 0);
  t.match(r.stdout, /^multus \d+\.\d+\.\d+ \(CNI 0\.1\.0, .*1\.1\.0\)\n$/);
});

t.test("an unknown command is a usage error", async (t) => {
  const r = await runPlugin({ argv: ["frobnicate"], stdin: "" });
  t.equal(r.code, 2);
  t.match(r.stderr, /unknown command "frobnicate"/);
});

for (const [name, how] of runners.slice(1)) {
  t.test(`${name}: ADD, CHECK and DEL work like the executable`, async (t) => {
    const { scenario } = await import("./helpers/scenario.ts");
    const { links, makeNetns, reservations } = await import("./helpers/netns.ts");
    const s = scenario(t);
    const ns = makeNetns(t);
    const call = { ...how, containerId: "runner-1", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
    const r = await runPlugin({ ...call, command: "ADD" });
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.same(links(ns.name).sort(), ["eth0", "net1"]);
    t.equal((await runPlugin({ ...call, command: "CHECK" })).code, 0);
    t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
    t.same(reservations(s.ipamDir), []);
  });
}
