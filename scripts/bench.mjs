#!/usr/bin/env node
// ADD+DEL of [bridge, ptp] through dist/multus vs. the same two delegates
// called directly, in a throwaway netns; plus VERSION time and peak RSS.
// Also Kubernetes mode against the in-repo test API server, and another plugin
// binary given by MULTUS_BENCH_OTHER (e.g. upstream Multus) with the same config.
// Usage: npm run bench [-- --runs 30]   (root; builds nothing: run npm run build first)
import { spawn, spawnSync, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
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

// Kubernetes mode: the pod selects the ptp network through a NAD.
const { startApiServer } = await import("../tests/helpers/apiserver.ts");
const api = await startApiServer();
api.putNad("bench", "ptp-net", ptp);
const pod = api.putPod({ metadata: { name: "bench-pod", namespace: "bench", annotations: { "k8s.v1.cni.cncf.io/networks": "ptp-net" } } });
const crd = { ...multus, delegates: [bridge], kubeconfig: api.writeKubeconfig(work, { auth: "token" }) };
const crdArgs = `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=bench-pod;K8S_POD_UID=${pod.metadata.uid}`;
const OTHER = process.env.MULTUS_BENCH_OTHER;

const baseEnv = { PATH: process.env.PATH, CNI_CONTAINERID: "bench", CNI_NETNS: `/run/netns/${ns}`, CNI_PATH: CNI };

function exec(file, verb, ifName, conf, args) {
  const r = spawnSync(file, [], {
    env: { ...baseEnv, CNI_COMMAND: verb, CNI_IFNAME: ifName, ...(args ? { CNI_ARGS: args } : {}) },
    input: conf === undefined ? "" : JSON.stringify(conf),
  });
  if (r.status !== 0) throw new Error(`${file} ${verb} ${ifName} failed: ${r.stdout}${r.stderr}`);
}

// The API server runs in this process: time the Kubernetes-mode case asynchronously.
function execAsync(file, verb, ifName, conf, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env: { ...baseEnv, CNI_COMMAND: verb, CNI_IFNAME: ifName, CNI_ARGS: args } });
    let out = "";
    child.stdout.on("data", (b) => (out += b));
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${verb} failed: ${out}`))));
    child.stdin.end(JSON.stringify(conf));
  });
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

if (OTHER) {
  cases.other = () => {
    exec(OTHER, "ADD", "eth0", multus);
    exec(OTHER, "DEL", "eth0", multus);
  };
}
cases.crd = async () => {
  await execAsync(PLUGIN, "ADD", "eth0", crd, crdArgs);
  await execAsync(PLUGIN, "DEL", "eth0", crd, crdArgs);
};

async function time(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { median: q(0.5), p90: q(0.9) };
}

const results = {};
const names = ["direct", "multus", "multusParallel", "crd", ...(OTHER ? ["other"] : []), "version", "nodeFloor"];
for (const name of names) {
  for (let i = 0; i < WARMUP; i++) await cases[name]();
}
// Interleave the cases so machine load affects them alike.
const samples = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < RUNS; i++) {
  for (const name of names) samples[name].push(await time(cases[name]));
}
await api.stop();
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
console.log(row("dist/multus ADD+DEL, Kubernetes mode (NAD)", results.crd));
if (OTHER) console.log(row(`${OTHER} ADD+DEL [bridge, ptp]`, results.other));
console.log(row("dist/multus VERSION", results.version));
console.log(row("node -e 0 (start-up floor)", results.nodeFloor));
const ratio = (r) => `median ${(r.median / results.direct.median).toFixed(2)}x, p90 ${(r.p90 / results.direct.p90).toFixed(2)}x`;
console.log(`ratio to direct: multus ${ratio(results.multus)}; parallel ${ratio(results.multusParallel)}; Kubernetes mode ${ratio(results.crd)}${OTHER ? `; other ${ratio(results.other)}` : ""}   (upstream Multus measured 1.57x)`);
const mib = (x) => (x === undefined ? "n/a (apt-get install time)" : `${x.toFixed(1)} MiB`);
console.log(`peak RSS dist/multus: ADD ${mib(rssAdd)}, DEL ${mib(rssDel)}, VERSION ${mib(rssVersion)}`);
// The WebAssembly validator: size, cold compile+instantiate in fresh processes, validate time.
const wasmFile = join(root, "wasm/pkg/multus_validator_bg.wasm");
const coldScript = `
  import { readFileSync } from "node:fs";
  import { instantiate } from ${JSON.stringify(join(root, "wasm/pkg/multus_validator.js"))};
  const bytes = readFileSync(${JSON.stringify(wasmFile)});
  const t0 = performance.now();
  const v = instantiate(bytes);
  const t1 = performance.now();
  v.validate(${JSON.stringify(JSON.stringify({ netconf: multus }))});
  console.log(JSON.stringify([t1 - t0, performance.now() - t1]));`;
const cold = [];
for (let i = 0; i < 15; i++) {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", coldScript], { env: { PATH: process.env.PATH } });
  cold.push(JSON.parse(String(r.stdout)));
}
const { validateInput } = await import("../lib/validate.ts");
const { parseNetconf } = await import("../lib/netconf.ts");
const input = { netconf: multus };
const perCall = (fn, n = 3000) => {
  for (let i = 0; i < 200; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
};
const wasmUs = perCall(() => validateInput(input));
const tsUs = perCall(() => parseNetconf(JSON.stringify(multus)));
console.log(
  `validator: ${(statSync(wasmFile).size / 1024).toFixed(1)} KiB .wasm; cold compile+instantiate median ${stats(cold.map((c) => c[0])).median.toFixed(2)} ms, ` +
    `first validate ${stats(cold.map((c) => c[1])).median.toFixed(2)} ms; validate [bridge, ptp] netconf ${wasmUs.toFixed(1)} us/call ` +
    `(TypeScript netconf loader, structural checks only: ${tsUs.toFixed(1)} us/call)`,
);

const sizesFile = join(root, "dist", "bundle-sizes.json");
if (existsSync(sizesFile)) {
  const sizes = Object.entries(JSON.parse(readFileSync(sizesFile, "utf8"))).sort((a, b) => b[1] - a[1]);
  console.log(`bundle by package (KiB): ${sizes.slice(0, 8).map(([k, v]) => `${k} ${(v / 1024).toFixed(0)}`).join(", ")}, others ${(sizes.slice(8).reduce((n, [, v]) => n + v, 0) / 1024).toFixed(0)}`);
}
console.log(`sizes: dist/multus.mjs ${(statSync(join(root, "dist/multus.mjs")).size / 1024).toFixed(0)} KiB, dist/multus ${(statSync(PLUGIN).size / 1048576).toFixed(1)} MiB`);
