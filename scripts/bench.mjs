#!/usr/bin/env node
// npm run bench: what an ADD and a DEL cost, measured the way a runtime calls
// us. Every timed process (the delegates called directly, dist/multus,
// upstream Multus) is started by the same minimal caller, scripts/bench-exec.c
// (posix_spawn, a small explicit environment, the config on stdin from a
// file), compiled here with the system's C compiler; node only prepares the
// cases and serves the test API server meanwhile. Cases run interleaved, one
// after the other in every round, so machine load affects them alike; the
// ratio of two cases is taken per round (a pair) and reported as the median
// and spread of those pairs.
//
// Cases: ADD+DEL of [bridge, ptp] (in order, "parallel", Kubernetes mode with
// a NAD) against the same delegates called directly; a no-op delegate (a
// static C program) to show the plugin's own cost, against an empty program
// compiled by the same Bun (the start-up floor); VERSION; and, with fewer
// rounds, scale: 16 delegates, GC over 10 and 1,000 cached containers, a DEL
// beside 10 and 1,000 other records. UPSTREAM_MULTUS=/path/to/multus adds an
// upstream Multus binary to the same rounds with the same configs.
// Then peak RSS, what the executables need (glibc) and weigh (raw, xz -9).
// Usage: npm run bench [-- --runs 30] [-- --scale-runs 10] [-- --dist DIR]
// (root; builds nothing: run npm run build first)
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(arg("--runs") ?? 30);
const SCALE_RUNS = Number(arg("--scale-runs") ?? 10);
const WARMUP = 3;
const DIST = resolve(arg("--dist") ?? join(root, "dist"));
const PLUGIN = join(DIST, "multus");
const CNI = "/usr/lib/cni";
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const UPSTREAM = process.env.UPSTREAM_MULTUS;
if (!existsSync(PLUGIN)) {
  console.error(`${PLUGIN} is missing: run npm run build first`);
  process.exit(1);
}
if (UPSTREAM && !existsSync(UPSTREAM)) {
  console.error(`UPSTREAM_MULTUS=${UPSTREAM} does not exist`);
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
const NETNS = `/run/netns/${ns}`;

// ---------------------------------------------------------------------------
// The minimal caller, the no-op delegate and the start-up floor, built here.

const cc = (src, out, flags = []) => execFileSync("cc", ["-O2", ...flags, "-o", out, join(root, "scripts", src)], { stdio: "inherit" });
const DRIVER = join(work, "bench-exec");
cc("bench-exec.c", DRIVER);
const NOOP_DIR = join(work, "noop-bin");
mkdirSync(NOOP_DIR);
cc("bench-noop.c", join(NOOP_DIR, "noop"), ["-static"]);
const floorExe = join(work, "bun-floor");
writeFileSync(join(work, "empty.js"), "");
execFileSync(
  join(root, "node_modules/.bin/bun"),
  [
    "build",
    join(work, "empty.js"),
    "--compile",
    "--bytecode",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    `--outfile=${floorExe}`,
  ],
  { cwd: work, stdio: "ignore", env: { PATH, HOME: work } },
);

// The same floor, reading its clock once: how far into the process our first mark can be at best.
const floorMarkExe = join(work, "bun-floor-mark");
writeFileSync(join(work, "mark.js"), 'require("node:fs").appendFileSync(process.env.MULTUS_TRACE, `${performance.now()}\\n`);');
execFileSync(
  join(root, "node_modules/.bin/bun"),
  [
    "build",
    join(work, "mark.js"),
    "--compile",
    "--bytecode",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    `--outfile=${floorMarkExe}`,
  ],
  { cwd: work, stdio: "ignore", env: { PATH, HOME: work } },
);

// ---------------------------------------------------------------------------
// Configs

const ipamDir = join(work, "ipam");
const hostLocal = (subnet) => ({ type: "host-local", subnet, dataDir: ipamDir });
const bridge = {
  cniVersion: "1.0.0",
  name: "bench-bridge",
  type: "bridge",
  bridge: br,
  isGateway: false,
  ipMasq: false,
  ipam: hostLocal("10.229.0.0/24"),
};
const ptp = { cniVersion: "1.0.0", name: "bench-ptp", type: "ptp", ipMasq: false, ipam: hostLocal("10.229.1.0/24") };
const noopConf = { cniVersion: "1.0.0", name: "bench-noop", type: "noop" };
const multusOf = (cniDir, delegates, extra = {}) => ({
  cniVersion: "1.0.0",
  name: "bench",
  type: "multus",
  cniDir: join(work, cniDir),
  binDir: CNI,
  delegates,
  ...extra,
});
// Ours and upstream's records differ: each binary keeps its own cache dir.
const multus = multusOf("cache", [bridge, ptp]);
const upstream = multusOf("upstream-cache", [bridge, ptp]);
const sixteen = Array.from({ length: 16 }, (_, i) => ({ ...ptp, name: `bench-ptp-${i}`, ipam: hostLocal(`10.229.${10 + i}.0/24`) }));

// Kubernetes mode: the pod selects the ptp network through a NAD.
const { startApiServer } = await import("../tests/helpers/apiserver.ts");
const api = await startApiServer();
// Upstream writes events and network-status in protobuf, which the test server then answers without applying.
if (UPSTREAM) api.acknowledgeProtobufWrites(true);
api.putNad("bench", "ptp-net", ptp);
const pod = api.putPod({ metadata: { name: "bench-pod", namespace: "bench", annotations: { "k8s.v1.cni.cncf.io/networks": "ptp-net" } } });
const kubeconfig = api.writeKubeconfig(work, { auth: "token" });
const crdArgs = `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=bench-pod;K8S_POD_INFRA_CONTAINER_ID=bench-crd;K8S_POD_UID=${pod.metadata.uid}`;

// ---------------------------------------------------------------------------
// Steps and cases

/** Run one step outside the timed rounds, without blocking this process (the API server is in it). */
function runAsync(s) {
  return new Promise((resolve) => {
    const child = spawn(s.file, [], { env: s.env, stdio: ["pipe", "pipe", "ignore"] });
    let stdout = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.on("close", (status) => resolve({ status, stdout }));
    child.stdin.end(s.input === "-" ? "" : readFileSync(s.input));
  });
}

let inputs = 0;
/** One process of a case: what it runs, its environment, its stdin. */
function step(file, verb, { id = "bench", ifName = "eth0", conf, args, path = CNI } = {}) {
  const input = conf === undefined ? "-" : join(work, `in-${inputs++}.json`);
  if (conf !== undefined) writeFileSync(input, JSON.stringify(conf));
  const env = { PATH, CNI_COMMAND: verb, CNI_CONTAINERID: id, CNI_NETNS: NETNS, CNI_IFNAME: ifName, CNI_PATH: path };
  if (args) env.CNI_ARGS = args;
  return { file, input, env };
}
const addDel = (file, conf, o = {}) => [step(file, "ADD", { conf, ...o }), step(file, "DEL", { conf, ...o })];

/** A cniDir holding `n` records of this build's own format (copies of one real ADD's record), all valid for GC. */
function cacheWith(n, name) {
  const dir = join(work, name);
  const conf = multusOf(name, [noopConf], { binDir: NOOP_DIR });
  const run = (verb, id) =>
    spawnSync(PLUGIN, [], { env: { ...step(PLUGIN, verb, { id, path: NOOP_DIR }).env }, input: JSON.stringify(conf) });
  if (run("ADD", "template").status !== 0) throw new Error("cannot write a template record");
  const record = JSON.parse(readFileSync(join(dir, "template"), "utf8"));
  run("DEL", "template");
  const ids = Array.from({ length: n }, (_, i) => `cached${i}`);
  for (const id of ids) writeFileSync(join(dir, id), JSON.stringify({ ...record, containerId: id }), { mode: 0o600 });
  return { conf, ids };
}

const main = {
  direct: [
    step(join(CNI, "bridge"), "ADD", { conf: bridge, id: "bench-direct" }),
    step(join(CNI, "ptp"), "ADD", { conf: ptp, id: "bench-direct", ifName: "net1" }),
    step(join(CNI, "ptp"), "DEL", { conf: ptp, id: "bench-direct", ifName: "net1" }),
    step(join(CNI, "bridge"), "DEL", { conf: bridge, id: "bench-direct" }),
  ],
  multus: addDel(PLUGIN, multus),
  multusParallel: addDel(PLUGIN, { ...multus, parallel: true }),
  crd: addDel(PLUGIN, multusOf("cache", [bridge], { kubeconfig }), { id: "bench-crd", args: crdArgs }),
  noopDirect: addDel(join(NOOP_DIR, "noop"), noopConf, { id: "bench-noop", path: NOOP_DIR }),
  noopMultus: addDel(PLUGIN, multusOf("cache", [noopConf], { binDir: NOOP_DIR }), { id: "bench-noop", path: NOOP_DIR }),
  version: [step(PLUGIN, "VERSION")],
  floor: [step(floorExe, "VERSION")],
};
if (UPSTREAM) {
  main.upstream = addDel(UPSTREAM, upstream);
  main.upstreamVersion = [step(UPSTREAM, "VERSION")];
  const upCrd = addDel(UPSTREAM, multusOf("upstream-cache", [bridge], { kubeconfig }), { id: "bench-crd", args: crdArgs });
  // Probed once asynchronously: the API server answering it runs in this process.
  const probe = [];
  for (const s of upCrd) probe.push(await runAsync(s));
  if (probe.every((r) => r.status === 0)) main.upstreamCrd = upCrd;
  else
    main.upstreamCrdProblem = probe
      .find((r) => r.status !== 0)
      .stdout.trim()
      .slice(0, 300);
}

const gc10 = cacheWith(10, "gc10");
const gc1000 = cacheWith(1000, "gc1000");
const gcStep = ({ conf, ids }) =>
  step(PLUGIN, "GC", {
    id: "",
    path: NOOP_DIR,
    conf: { ...conf, cniVersion: "1.1.0", "cni.dev/valid-attachments": ids.map((id) => ({ containerID: id, ifname: "eth0" })) },
  });
const scale = {
  sixteen: addDel(PLUGIN, multusOf("cache", sixteen), { id: "bench-16" }),
  gc10: [gcStep(gc10)],
  gc1000: [gcStep(gc1000)],
  del10: addDel(PLUGIN, gc10.conf, { id: "bench-scale", path: NOOP_DIR }),
  del1000: addDel(PLUGIN, gc1000.conf, { id: "bench-scale", path: NOOP_DIR }),
};
if (UPSTREAM) scale.upstreamSixteen = addDel(UPSTREAM, multusOf("upstream-cache", sixteen), { id: "bench-16" });

// ---------------------------------------------------------------------------
// Running: the driver runs every round; node waits (and serves the API) meanwhile.

function writePlan(file, cases) {
  const lines = [];
  for (const [name, steps] of Object.entries(cases)) {
    if (!Array.isArray(steps)) continue;
    lines.push(`case\t${name}`);
    for (const s of steps) {
      lines.push(`step\t${s.file}\t${s.input}`);
      for (const [k, v] of Object.entries(s.env)) lines.push(`env\t${k}=${v}`);
    }
  }
  writeFileSync(file, `${lines.join("\n")}\n`);
}

function runPlan(cases, rounds) {
  const plan = join(work, `plan-${Object.keys(cases)[0]}`);
  writePlan(plan, cases);
  return new Promise((resolve, reject) => {
    const child = spawn(DRIVER, [plan, String(rounds), String(WARMUP)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b) => (out += b));
    child.stderr.on("data", (b) => (err += b));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`bench-exec failed:\n${err}`));
      const samples = {};
      for (const line of out.trim().split("\n")) {
        const [name, round, wall, cpu, rss] = line.split("\t");
        samples[name] ??= [];
        samples[name][Number(round)] = { wall: Number(wall) / 1000, cpu: Number(cpu) / 1000, rss: Number(rss) / 1024 };
      }
      resolve(samples);
    });
  });
}

// Where the time goes: one ADD, then one DEL, each process appending its marks (lib/trace.ts) to its case's file.
const traced = (name, steps) => steps.map((s, i) => ({ ...s, env: { ...s.env, MULTUS_TRACE: join(work, `trace-${name}-${i}.jsonl`) } }));
const [tAdd, tDel] = traced("legacy", addDel(PLUGIN, multus, { id: "bench-trace" }));
const [tkAdd, tkDel] = traced("crd", addDel(PLUGIN, multusOf("cache", [bridge], { kubeconfig }), { id: "bench-trace-crd", args: crdArgs }));
const tFloor = { file: floorMarkExe, input: "-", env: { PATH, MULTUS_TRACE: join(work, "trace-floor.jsonl") } };
const trace = { traceAdd: [tAdd], traceDel: [tDel], traceCrdAdd: [tkAdd], traceCrdDel: [tkDel], traceFloor: [tFloor] };

const loadStart = loadavg();
const samples = await runPlan(main, RUNS);
const scaleSamples = await runPlan(scale, SCALE_RUNS);
const traceSamples = await runPlan(trace, SCALE_RUNS);
const loadEnd = loadavg();
await api.stop();

// ---------------------------------------------------------------------------
// Figures

function quantile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
}
const all = { ...samples, ...scaleSamples };
const med = (name, key = "wall") =>
  quantile(
    all[name].map((x) => x[key]),
    0.5,
  );
/** Per-round ratio of two cases of the same plan: median and p10–p90 spread. */
function pair(a, b) {
  const rs = all[a].map((x, i) => x.wall / all[b][i].wall);
  return { median: quantile(rs, 0.5), p10: quantile(rs, 0.1), p90: quantile(rs, 0.9) };
}
const fx = (r) => `${r.median.toFixed(2)}x (p10–p90 ${r.p10.toFixed(2)}–${r.p90.toFixed(2)})`;
const ms = (x) => `${x.toFixed(1).padStart(7)} ms`;
const LABELS = {
  direct: "direct: bridge+ptp ADD, then DEL (4 execs)",
  multus: "dist/multus ADD+DEL [bridge, ptp]",
  multusParallel: 'dist/multus ADD+DEL, "parallel": true',
  crd: "dist/multus ADD+DEL, Kubernetes mode (NAD)",
  upstream: "upstream ADD+DEL [bridge, ptp]",
  upstreamCrd: "upstream ADD+DEL, Kubernetes mode (NAD)",
  noopDirect: "no-op delegate ADD+DEL, direct (2 execs)",
  noopMultus: "dist/multus ADD+DEL [no-op delegate]",
  version: "dist/multus VERSION",
  upstreamVersion: "upstream VERSION",
  floor: "empty Bun executable (start-up floor)",
  sixteen: "dist/multus ADD+DEL, 16 ptp delegates",
  upstreamSixteen: "upstream ADD+DEL, 16 ptp delegates",
  gc10: "dist/multus GC, 10 cached containers",
  gc1000: "dist/multus GC, 1,000 cached containers",
  del10: "dist/multus ADD+DEL beside 10 records",
  del1000: "dist/multus ADD+DEL beside 1,000 records",
};
const bunVersion = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages["node_modules/bun"]?.version;
const la = (l) => l.map((x) => x.toFixed(2)).join(" ");
console.log(
  `runs: ${RUNS} rounds (scale cases ${SCALE_RUNS}) after ${WARMUP} warm-up, interleaved; every process exec'd by bench-exec ` +
    `(posix_spawn, minimal environment); bun ${bunVersion}; load average ${la(loadStart)} at start, ${la(loadEnd)} at end`,
);
console.log(
  `${"case".padEnd(46)}${"wall median".padStart(12)}${"p10".padStart(11)}${"p90".padStart(11)}${"CPU median".padStart(13)}${"peak RSS".padStart(11)}`,
);
for (const name of Object.keys(LABELS).filter((n) => all[n])) {
  const xs = all[name];
  const w = xs.map((x) => x.wall);
  const rss = Math.max(...xs.map((x) => x.rss));
  console.log(
    `${LABELS[name].padEnd(46)}${ms(quantile(w, 0.5)).padStart(12)}${ms(quantile(w, 0.1)).padStart(11)}${ms(quantile(w, 0.9)).padStart(11)}` +
      `${ms(med(name, "cpu")).padStart(13)}${`${rss.toFixed(1)} MiB`.padStart(11)}`,
  );
}
if (main.upstreamCrdProblem) console.log(`upstream Kubernetes mode not run: ${main.upstreamCrdProblem}`);

const vsDirect = pair("multus", "direct");
console.log("pairs (per-round ratio of wall time):");
console.log(`  dist/multus / direct: ${fx(vsDirect)}; "parallel" / direct: ${fx(pair("multusParallel", "direct"))}`);
const vsUp = UPSTREAM ? pair("multus", "upstream") : undefined;
const crdVsUp = all.upstreamCrd ? pair("crd", "upstreamCrd") : undefined;
if (vsUp) console.log(`  dist/multus / upstream: ${fx(vsUp)}`);
if (crdVsUp) console.log(`  Kubernetes mode, dist/multus / upstream: ${fx(crdVsUp)}`);
const sixteenVsUp = all.upstreamSixteen ? pair("sixteen", "upstreamSixteen") : undefined;
if (sixteenVsUp) console.log(`  16 delegates, dist/multus / upstream: ${fx(sixteenVsUp)}`);
// The plugin's own CPU per call: ADD+DEL through it, minus the delegate's own execs, halved, minus the runtime's start-up.
const ownCpu = (med("noopMultus", "cpu") - med("noopDirect", "cpu")) / 2 - med("floor", "cpu");
console.log(
  `own CPU per call (no-op delegate; minus its direct execs and the empty-executable floor of ${med("floor", "cpu").toFixed(1)} ms): ${ownCpu.toFixed(1)} ms`,
);
console.log(
  `scale: GC ${med("gc10").toFixed(1)} ms with 10 records, ${med("gc1000").toFixed(1)} ms with 1,000; ` +
    `ADD+DEL ${med("del10").toFixed(1)} ms beside 10 records, ${med("del1000").toFixed(1)} ms beside 1,000`,
);

/** Peak RSS (MiB) of one call, per verb (delegates stay under 5 MiB). */
function peakRss(s) {
  if (!existsSync("/usr/bin/time")) return undefined;
  const r = spawnSync("/usr/bin/time", ["-f", "%M", s.file], { env: s.env, input: s.input === "-" ? "" : readFileSync(s.input) });
  return Number(String(r.stderr).trim().split("\n").pop()) / 1024;
}
/**
 * The marks of one traced case, as the median time of each step over the
 * rounds (after warm-up): a step is named by the mark that ends it. Start-up
 * is the first mark (the process's own clock starts at its exec); exit is
 * what the caller waited after the last.
 */
function phases(name, step) {
  const runs = readFileSync(step.env.MULTUS_TRACE, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).marks)
    .slice(WARMUP);
  const walls = traceSamples[name].map((x) => x.wall);
  const rows = [];
  runs[0].forEach(([what], i) => {
    const ds = runs.map((m) => (m[i]?.[0] === what ? m[i][1] - (i ? m[i - 1][1] : 0) : undefined)).filter((d) => d !== undefined);
    rows.push([i === 0 ? "runtime start-up (until our first line)" : what, quantile(ds, 0.5)]);
  });
  const lasts = runs.map((m) => m[m.length - 1][1]);
  rows.push(["exit (after the last mark)", Math.max(0, quantile(walls, 0.5) - quantile(lasts, 0.5))]);
  return rows;
}
const floorMarks = readFileSync(tFloor.env.MULTUS_TRACE, "utf8").trim().split("\n").map(Number).slice(WARMUP);
const floorFirst = quantile(floorMarks, 0.5);
const floorRest =
  quantile(
    traceSamples.traceFloor.map((x) => x.wall),
    0.5,
  ) - floorFirst;
console.log(
  `an empty Bun executable reads its clock at ${floorFirst.toFixed(2)} ms, and ends ${floorRest.toFixed(2)} ms after that ` +
    "(its clock starts after exec, so start-up and exit below hold some of the runtime's own)",
);
for (const [name, step, title] of [
  ["traceAdd", tAdd, "ADD [bridge, ptp]"],
  ["traceDel", tDel, "DEL [bridge, ptp]"],
  ["traceCrdAdd", tkAdd, "ADD, Kubernetes mode (bridge, ptp by NAD)"],
  ["traceCrdDel", tkDel, "DEL, Kubernetes mode"],
]) {
  const rows = phases(name, step);
  console.log(`where the time goes, ${title} (median ms over ${SCALE_RUNS} rounds; each step ends at its mark):`);
  console.log(rows.map(([what, ms]) => `  ${ms.toFixed(2).padStart(7)}  ${what}`).join("\n"));
}

const [rssAdd, rssDel] = main.multus.map(peakRss);
const rssVersion = peakRss(main.version[0]);
const rssUp = UPSTREAM ? main.upstream.map(peakRss)[0] : undefined;
const fmtMib = (x) => (x === undefined ? "n/a (apt-get install time)" : `${x.toFixed(1)} MiB`);
console.log(
  `peak RSS dist/multus: ADD ${fmtMib(rssAdd)}, DEL ${fmtMib(rssDel)}, VERSION ${fmtMib(rssVersion)}${UPSTREAM ? `; upstream ADD ${fmtMib(rssUp)}` : ""}`,
);

// Scale targets allow for noise: 1 ms or 10 %, whichever is more.
const noMore = (big, small) => med(big) <= Math.max(med(small) + 1, med(small) * 1.1);
const targets = [
  ["ADD+DEL <= 1.3x direct", vsDirect.median <= 1.3, `${vsDirect.median.toFixed(2)}x`],
  ["own CPU per call <= 4 ms", ownCpu <= 4, `${ownCpu.toFixed(1)} ms`],
  ["peak RSS on ADD <= 30 MiB", rssAdd !== undefined && rssAdd <= 30, fmtMib(rssAdd)],
  [
    "GC over 1,000 records costs no more than over 10",
    noMore("gc1000", "gc10"),
    `${med("gc1000").toFixed(1)} vs ${med("gc10").toFixed(1)} ms`,
  ],
  [
    "DEL beside 1,000 records costs no more than beside 10",
    noMore("del1000", "del10"),
    `${med("del1000").toFixed(1)} vs ${med("del10").toFixed(1)} ms`,
  ],
];
if (vsUp) targets.push(["ADD+DEL <= 0.8x upstream", vsUp.median <= 0.8, `${vsUp.median.toFixed(2)}x`]);
if (crdVsUp) targets.push(["Kubernetes mode ADD+DEL <= 0.6x upstream", crdVsUp.median <= 0.6, `${crdVsUp.median.toFixed(2)}x`]);
if (sixteenVsUp) targets.push(["16 delegates below upstream", sixteenVsUp.median < 1, `${sixteenVsUp.median.toFixed(2)}x`]);
console.log(`targets: ${targets.map(([what, ok, got]) => `${what}: ${ok ? "met" : "MISSED"} (${got})`).join("; ")}`);

/** What a file needs from the C library: the highest GLIBC_ version among its dynamic symbols (objdump -T). */
function glibcNeeded(file) {
  const r = spawnSync("objdump", ["-T", file], { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) return "n/a (apt-get install binutils)";
  const versions = [...new Set([...r.stdout.matchAll(/\bGLIBC_([0-9.]+)/g)].map((m) => m[1].split(".").map(Number)))];
  const newest = versions.sort((a, b) => a[0] - b[0] || (a[1] ?? 0) - (b[1] ?? 0) || (a[2] ?? 0) - (b[2] ?? 0)).pop();
  const cxx = /GLIBCXX_/.test(r.stdout) ? ", libstdc++" : "";
  return newest ? `glibc >= ${newest.join(".")}${cxx}` : "no versioned glibc symbols";
}
const mib = (n) => `${(n / 1048576).toFixed(1)} MiB`;
/**
 * xz -9 of a 100+ MiB file takes minutes: the sizes are computed once per
 * file content, all files at once, and kept in node_modules/.cache.
 */
function xzSizes(files) {
  const cacheFile = join(root, "node_modules/.cache/multus-bench/xz-sizes.json");
  let cache = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, "utf8"));
  } catch {
    // first run
  }
  const digest = (f) => createHash("sha256").update(readFileSync(f)).digest("hex");
  const keys = Object.fromEntries(files.map((f) => [f, digest(f)]));
  const todo = files.filter((f) => cache[keys[f]] === undefined);
  if (todo.length) {
    // One xz per file, in parallel (xz -9 on one file uses one core).
    const out = mkdtempSync(join(tmpdir(), "multus-xz-"));
    const script = todo.map((_, i) => `xz -9 -c < "$${i + 1}" | wc -c > "${out}/${i}" &`).join("\n") + "\nwait";
    const r = spawnSync("sh", ["-c", script, "xz", ...todo], { encoding: "utf8" });
    if (r.status === 0 && spawnSync("sh", ["-c", "command -v xz"]).status === 0) {
      for (const [i, f] of todo.entries()) cache[keys[f]] = Number(readFileSync(join(out, String(i)), "utf8").trim());
    }
    rmSync(out, { recursive: true, force: true });
    mkdirSync(dirname(cacheFile), { recursive: true });
    writeFileSync(cacheFile, JSON.stringify(cache));
  }
  return Object.fromEntries(files.map((f) => [f, cache[keys[f]] === undefined ? "n/a (apt-get install xz-utils)" : mib(cache[keys[f]])]));
}

// The WebAssembly validator: size, cold compile+instantiate in fresh processes (node and bun), validate time.
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
const coldFile = join(work, "cold.mjs");
writeFileSync(coldFile, coldScript);
const cold = (cmd) => {
  const xs = [];
  for (let i = 0; i < 15; i++) {
    const r = spawnSync(cmd[0], [...cmd.slice(1), coldFile], { env: { PATH }, cwd: work });
    xs.push(JSON.parse(String(r.stdout)));
  }
  return `compile+instantiate ${quantile(
    xs.map((c) => c[0]),
    0.5,
  ).toFixed(2)} ms, first validate ${quantile(
    xs.map((c) => c[1]),
    0.5,
  ).toFixed(2)} ms`;
};
const { validateInput } = await import("../lib/validate.ts");
const { decodeNetconf, loadNetconf } = await import("../lib/netconf.ts");
const input = { netconf: multus };
const perCall = (fn, n = 3000) => {
  for (let i = 0; i < 200; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
};
const wasmUs = perCall(() => validateInput(input));
const tsUs = perCall(() => loadNetconf(decodeNetconf(JSON.stringify(multus))));
console.log(
  `validator: ${(statSync(wasmFile).size / 1024).toFixed(1)} KiB .wasm; fresh process: bun ${cold([join(root, "node_modules/.bin/bun")])}; ` +
    `node ${cold([process.execPath])}; validate [bridge, ptp] netconf ${wasmUs.toFixed(1)} us/call in node ` +
    `(TypeScript netconf loader, structural checks only: ${tsUs.toFixed(1)} us/call)`,
);

const sizesFile = join(DIST, "bundle-sizes.json");
if (existsSync(sizesFile)) {
  const sizes = Object.entries(JSON.parse(readFileSync(sizesFile, "utf8"))).sort((a, b) => b[1] - a[1]);
  console.log(
    `bundle by package (KiB): ${sizes
      .slice(0, 8)
      .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)}`)
      .join(", ")}, others ${(sizes.slice(8).reduce((n, [, v]) => n + v, 0) / 1024).toFixed(0)}`,
  );
}
const shipped = ["multus", "multus-arm64", "multus.mjs"].map((n) => join(DIST, n)).filter((f) => existsSync(f));
const xz = xzSizes(shipped);
for (const file of shipped) {
  const exe = !file.endsWith(".mjs");
  console.log(
    `dist/${file.slice(DIST.length + 1)}: ${mib(statSync(file).size)}, xz -9 ${xz[file]}${exe ? `; needs ${glibcNeeded(file)}` : ""}`,
  );
}
if (UPSTREAM) console.log(`upstream ${UPSTREAM}: ${mib(statSync(UPSTREAM).size)}`);
