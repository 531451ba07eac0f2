#!/usr/bin/env node
// ADD+DEL of [bridge, ptp] through dist/multus vs. the same two delegates
// called directly, in a throwaway netns; Kubernetes mode against the in-repo
// test API server; VERSION; peak RSS; what the executables need (glibc) and
// weigh (raw, xz -9). UPSTREAM_MULTUS=/path/to/multus adds an upstream Multus
// binary, run with the same config in the same interleaved rounds.
// Every process is started with a minimal environment (as `env -i PATH=...`:
// PATH and the CNI_* variables only), one case after the other in each round.
// Usage: npm run bench [-- --runs 30] [-- --dist DIR]   (root; builds nothing:
// run npm run build first)
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

const bridge = {
  cniVersion: "1.0.0",
  name: "bench-bridge",
  type: "bridge",
  bridge: br,
  isGateway: false,
  ipMasq: false,
  ipam: { type: "host-local", subnet: "10.229.0.0/24", dataDir: join(work, "ipam") },
};
const ptp = {
  cniVersion: "1.0.0",
  name: "bench-ptp",
  type: "ptp",
  ipMasq: false,
  ipam: { type: "host-local", subnet: "10.229.1.0/24", dataDir: join(work, "ipam") },
};
const multus = { cniVersion: "1.0.0", name: "bench", type: "multus", cniDir: join(work, "cache"), binDir: CNI, delegates: [bridge, ptp] };
const multusParallel = { ...multus, parallel: true };
// Upstream keeps its own cache dir (its records have another format).
const upstream = { ...multus, cniDir: join(work, "upstream-cache") };

// Kubernetes mode: the pod selects the ptp network through a NAD.
const { startApiServer } = await import("../tests/helpers/apiserver.ts");
const api = await startApiServer();
api.putNad("bench", "ptp-net", ptp);
const pod = api.putPod({ metadata: { name: "bench-pod", namespace: "bench", annotations: { "k8s.v1.cni.cncf.io/networks": "ptp-net" } } });
const crd = { ...multus, delegates: [bridge], kubeconfig: api.writeKubeconfig(work, { auth: "token" }) };
const crdArgs = `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=bench-pod;K8S_POD_UID=${pod.metadata.uid}`;

// The start-up floor of any Bun executable: an empty program compiled the same way.
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
  {
    cwd: work,
    stdio: "ignore",
    env: { PATH, HOME: work },
  },
);

const baseEnv = { PATH, CNI_CONTAINERID: "bench", CNI_NETNS: `/run/netns/${ns}`, CNI_PATH: CNI };

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
  crd: async () => {
    await execAsync(PLUGIN, "ADD", "eth0", crd, crdArgs);
    await execAsync(PLUGIN, "DEL", "eth0", crd, crdArgs);
  },
  version: () => exec(PLUGIN, "VERSION", "eth0"),
  floor: () => exec(floorExe, "VERSION", "eth0"),
};
if (UPSTREAM) {
  cases.upstream = () => {
    exec(UPSTREAM, "ADD", "eth0", upstream);
    exec(UPSTREAM, "DEL", "eth0", upstream);
  };
  cases.upstreamVersion = () => exec(UPSTREAM, "VERSION", "eth0");
}

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

const load = loadavg()[0];
const names = Object.keys(cases);
for (const name of names) {
  for (let i = 0; i < WARMUP; i++) await cases[name]();
}
// Interleave the cases so machine load affects them alike.
const samples = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < RUNS; i++) {
  for (const name of names) samples[name].push(await time(cases[name]));
}
await api.stop();
const results = Object.fromEntries(Object.entries(samples).map(([n, xs]) => [n, stats(xs)]));

/** Peak RSS (MiB) of one call: the largest of the process and the children it waited for (delegates stay under 5 MiB). */
function peakRss(file, verb, conf, env = {}) {
  if (!existsSync("/usr/bin/time")) return undefined;
  const r = spawnSync("/usr/bin/time", ["-f", "%M", file], {
    env: { ...baseEnv, CNI_COMMAND: verb, CNI_IFNAME: "eth0", ...env },
    input: conf === undefined ? "" : JSON.stringify(conf),
  });
  return Number(String(r.stderr).trim().split("\n").pop()) / 1024;
}
const rss = {
  add: peakRss(PLUGIN, "ADD", multus),
  del: peakRss(PLUGIN, "DEL", multus),
  version: peakRss(PLUGIN, "VERSION"),
  ...(UPSTREAM ? { upstreamAdd: peakRss(UPSTREAM, "ADD", upstream) } : {}),
};
if (UPSTREAM) peakRss(UPSTREAM, "DEL", upstream);

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

const f = (x) => x.toFixed(1).padStart(7);
const row = (label, s) => `${label.padEnd(48)}${f(s.median)} ms ${f(s.p90)} ms`;
const ratio = (r) => r.median / results.direct.median;
const bunVersion = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")).packages["node_modules/bun"]?.version;
console.log(
  `runs: ${RUNS} per case (after ${WARMUP} warm-up), interleaved, minimal environment; bun ${bunVersion}; load average ${load.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end`,
);
console.log(`${"case".padEnd(48)} median      p90`);
console.log(row("direct: bridge+ptp ADD, then DEL (4 execs)", results.direct));
console.log(row("dist/multus ADD+DEL [bridge, ptp]", results.multus));
console.log(row('dist/multus ADD+DEL, "parallel": true', results.multusParallel));
console.log(row("dist/multus ADD+DEL, Kubernetes mode (NAD)", results.crd));
if (UPSTREAM) console.log(row("upstream ADD+DEL [bridge, ptp]", results.upstream));
console.log(row("dist/multus VERSION", results.version));
if (UPSTREAM) console.log(row("upstream VERSION", results.upstreamVersion));
console.log(row("empty Bun executable (start-up floor)", results.floor));
console.log(
  `ratio to direct (median): multus ${ratio(results.multus).toFixed(2)}x, parallel ${ratio(results.multusParallel).toFixed(2)}x, ` +
    `Kubernetes mode ${ratio(results.crd).toFixed(2)}x${UPSTREAM ? `, upstream ${ratio(results.upstream).toFixed(2)}x` : ""}`,
);
const fmtMib = (x) => (x === undefined ? "n/a (apt-get install time)" : `${x.toFixed(1)} MiB`);
console.log(
  `peak RSS dist/multus: ADD ${fmtMib(rss.add)}, DEL ${fmtMib(rss.del)}, VERSION ${fmtMib(rss.version)}${UPSTREAM ? `; upstream ADD ${fmtMib(rss.upstreamAdd)}` : ""}`,
);
const targets = [
  ["ADD+DEL <= 1.5x direct", ratio(results.multus) <= 1.5, `${ratio(results.multus).toFixed(2)}x`],
  ["Kubernetes mode ADD+DEL <= 2.0x direct", ratio(results.crd) <= 2.0, `${ratio(results.crd).toFixed(2)}x`],
  ["VERSION <= 15 ms", results.version.median <= 15, `${results.version.median.toFixed(1)} ms`],
  [
    "peak RSS <= 40 MiB",
    rss.add !== undefined && Math.max(rss.add, rss.del, rss.version) <= 40,
    fmtMib(rss.add === undefined ? undefined : Math.max(rss.add, rss.del, rss.version)),
  ],
];
if (UPSTREAM) {
  targets.push([
    "ADD+DEL faster than upstream",
    results.multus.median < results.upstream.median,
    `${results.multus.median.toFixed(1)} vs ${results.upstream.median.toFixed(1)} ms`,
  ]);
}
console.log(`targets: ${targets.map(([what, ok, got]) => `${what}: ${ok ? "met" : "MISSED"} (${got})`).join("; ")}`);

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
  return `compile+instantiate ${stats(xs.map((c) => c[0])).median.toFixed(2)} ms, first validate ${stats(xs.map((c) => c[1])).median.toFixed(2)} ms`;
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
