#!/usr/bin/env node
// ADD+DEL of [bridge, ptp] through dist/multus vs. the same two delegates
// called directly, in a throwaway netns; plus VERSION time and peak RSS.
// Usage: npm run bench [-- --runs 30]   (root; builds nothing: run npm run build first)
import { spawnSync, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 30;
const WARMUP = 3;
const PLUGIN = join(root, "dist", "multus");
const CNI = "/usr/lib/cni";
if (!existsSync(PLUGIN)) {
  console.error("dist/multus is missing: run npm run build first");
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "multus-bench-"));
const ns = `mtbench${process.pid}`;
const br = `mtbbr${process.pid}`.slice(0, 15);
const cleanup = () => {
  spawnSync("ip", ["netns", "del", ns]);
  spawnSync("ip", ["link", "del", br]);
  rmSync(work, { recursive: true, force: true });
};
process.on("exit", cleanup);
execFileSync("ip", ["netns", "add", ns]);

const bridge = {
  cniVersion: "1.0.0", name: "bench-bridge", type: "bridge", bridge: br, isGateway: false, ipMasq: false,
  ipam: { type: "host-local", subnet: "10.229.0.0/24", dataDir: join(work, "ipam") },
};
const ptp = {
  cniVersion: "1.0.0", name: "bench-ptp", type: "ptp", ipMasq: false,
  ipam: { type: "host-local", subnet: "10.229.1.0/24", dataDir: join(work, "ipam") },
};
const multus = { cniVersion: "1.0.0", name: "bench", type: "multus", cniDir: join(work, "cache"), delegates: [bridge, ptp] };
const multusParallel = { ...multus, parallel: true };

const baseEnv = { PATH: process.env.PATH, CNI_CONTAINERID: "bench", CNI_NETNS: `/run/netns/${ns}`, CNI_PATH: CNI };

function exec(file, verb, ifName, conf) {
  const r = spawnSync(file, [], {
    env: { ...baseEnv, CNI_COMMAND: verb, CNI_IFNAME: ifName },
    input: conf === undefined ? "" : JSON.stringify(conf),
  });
  if (r.status !== 0) throw new Error(`${file} ${verb} ${ifName} failed: ${r.stdout}${r.stderr}`);
}

const cases = {
  direct: () => {
    exec(join(CNI, "bridge"), "ADD", "eth0", bridge);
    exec(join(CNI, "ptp"), "ADD", "net1", ptp);
    exec(join(CNI, "ptp"), "DEL", "net1", ptp);
    exec(join(CNI, "bridge"), "DEL", "eth0", bridge);
  },
  multus: () => {
    exec(PLUGIN, "ADD", "eth0", multus);
    exec(PLUGIN, "DEL", "eth0", multus);
  },
  multusParallel: () => {
    exec(PLUGIN, "ADD", "eth0", multusParallel);
    exec(PLUGIN, "DEL", "eth0", multusParallel);
  },
  version: () => exec(PLUGIN, "VERSION", "eth0"),
  nodeFloor: () => {
    const r = spawnSync(process.execPath, ["-e", "0"], { env: { PATH: process.env.PATH } });
    if (r.status !== 0) throw new Error("node -e 0 failed");
  },
};

function time(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { median: q(0.5), p90: q(0.9) };
}

const results = {};
for (const name of ["direct", "multus", "multusParallel", "version", "nodeFloor"]) {
  for (let i = 0; i < WARMUP; i++) cases[name]();
}
// Interleave the cases so machine load affects them alike.
const samples = { direct: [], multus: [], multusParallel: [], version: [], nodeFloor: [] };
for (let i = 0; i < RUNS; i++) {
  for (const name of Object.keys(samples)) samples[name].push(time(cases[name]));
}
for (const [name, xs] of Object.entries(samples)) results[name] = stats(xs);

function peakRss(verb, conf) {
  if (!existsSync("/usr/bin/time")) return undefined;
  const r = spawnSync("/usr/bin/time", ["-f", "%M", PLUGIN], {
    env: { ...baseEnv, CNI_COMMAND: verb, CNI_IFNAME: "eth0" },
    input: conf === undefined ? "" : JSON.stringify(conf),
  });
  const kb = Number(String(r.stderr).trim().split("\n").pop());
  return kb / 1024;
}
const rssAdd = peakRss("ADD", multus);
const rssDel = peakRss("DEL", multus);
const rssVersion = peakRss("VERSION");

const f = (x) => x.toFixed(1).padStart(7);
const row = (label, s) => `${label.padEnd(44)}${f(s.median)} ms ${f(s.p90)} ms`;
console.log(`runs: ${RUNS} per case (after ${WARMUP} warm-up), interleaved; node ${process.version}`);
console.log(`${"case".padEnd(44)} median      p90`);
console.log(row("direct: bridge+ptp ADD, then DEL (4 execs)", results.direct));
console.log(row("dist/multus ADD+DEL [bridge, ptp]", results.multus));
console.log(row('dist/multus ADD+DEL, "parallel": true', results.multusParallel));
console.log(row("dist/multus VERSION", results.version));
console.log(row("node -e 0 (start-up floor)", results.nodeFloor));
const ratio = (r) => `median ${(r.median / results.direct.median).toFixed(2)}x, p90 ${(r.p90 / results.direct.p90).toFixed(2)}x`;
console.log(`ratio multus/direct: ${ratio(results.multus)}; parallel: ${ratio(results.multusParallel)}   (upstream Multus: 1.57x)`);
const mib = (x) => (x === undefined ? "n/a (apt-get install time)" : `${x.toFixed(1)} MiB`);
console.log(`peak RSS dist/multus: ADD ${mib(rssAdd)}, DEL ${mib(rssDel)}, VERSION ${mib(rssVersion)}`);
console.log(`sizes: dist/multus.mjs ${(statSync(join(root, "dist/multus.mjs")).size / 1024).toFixed(0)} KiB, dist/multus ${(statSync(PLUGIN).size / 1048576).toFixed(1)} MiB`);
