// `multus doctor` against a temp node layout and the test API server.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { startApiServer } from "./helpers/apiserver.ts";
import { goBinaryLike } from "./helpers/go-binary.ts";
import { tempDir } from "./helpers/netns.ts";
import { PLUGIN, runPlugin } from "./helpers/run-plugin.ts";

const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });

function layout(t: Parameters<typeof tempDir>[0], plugins: string[]) {
  const root = tempDir(t);
  const binDir = join(root, "bin");
  const confDir = join(root, "net.d");
  mkdirSync(binDir);
  mkdirSync(confDir);
  for (const p of plugins) symlinkSync(`/usr/lib/cni/${p}`, join(binDir, p));
  const cache = join(root, "cache");
  writeFileSync(
    join(confDir, "10-bridge.conf"),
    JSON.stringify({ cniVersion: "1.0.0", name: "br", type: "bridge", ipam: { type: "host-local", subnet: "10.240.0.0/24" } }),
  );
  return { root, binDir, confDir, cache };
}

async function installed(t: Test, plugins: string[], kubeconfig?: (dir: string) => string) {
  const l = layout(t, plugins);
  const kc = kubeconfig?.(l.root);
  const r = await human(["install", "--bin-dir", l.binDir, "--conf-dir", l.confDir, ...(kc ? ["--kubeconfig", kc] : [])]);
  t.equal(r.code, 0, r.stderr);
  // Keep the cache dir inside the test's temp dir.
  const conf = JSON.parse(readFileSync(join(l.confDir, "00-multus.conf"), "utf8"));
  writeFileSync(join(l.confDir, "00-multus.conf"), JSON.stringify({ ...conf, cniDir: l.cache }));
  return { ...l, kc };
}

t.test("a healthy delegates-mode node passes every check", async (t) => {
  const n = await installed(t, ["bridge", "host-local"]);
  const r = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 0, r.stdout);
  t.match(r.stdout, /^ok {4}conf dir: .*00-multus.conf comes first and is multus$/m);
  t.match(r.stdout, /^ok {4}bin dir: plugin "bridge" is installed$/m);
  t.match(r.stdout, /^ok {4}cache dir: .* is writable$/m);
  t.match(r.stdout, /API checks skipped/);
});

t.test("missing plugin and wrong order are failures with a fix", async (t) => {
  const n = await installed(t, ["bridge"]);
  writeFileSync(join(n.confDir, "0-other.conf"), JSON.stringify({ cniVersion: "1.0.0", name: "x", type: "ptp" }));
  const r = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 1);
  t.match(r.stdout, /FAIL {2}conf dir: .*0-other.conf comes first and is not multus\n {6}fix: run multus install/);
});

t.test("missing IPAM plugin is named", async (t) => {
  const n = await installed(t, ["bridge"]);
  const r = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 1);
  t.match(r.stdout, /FAIL {2}bin dir: plugin "host-local" is not in .*\n {6}fix: install the "host-local" CNI plugin/);
});

t.test("API checks: reachable, CRD present or absent, RBAC allowed or forbidden", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const n = await installed(t, ["bridge", "host-local"], (dir) => api.writeKubeconfig(dir, { auth: "token" }));
  const ok = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(ok.code, 0, ok.stdout);
  t.match(ok.stdout, /ok {4}kubeconfig: .* is readable/);
  t.match(ok.stdout, /ok {4}api: reachable and authenticated/);
  t.match(ok.stdout, /ok {4}crd: network-attachment-definitions.k8s.cni.cncf.io is installed/);
  t.match(ok.stdout, /ok {4}rbac: may patch pods\/status/);

  api.setCrd(false);
  api.denyAccess({ verb: "patch", resource: "pods", subresource: "status" });
  const bad = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(bad.code, 1);
  t.match(
    bad.stdout,
    /FAIL {2}crd: network-attachment-definitions.k8s.cni.cncf.io is not installed\n {6}fix: kubectl apply -f manifests\/crd-network-attachment-definition.yaml/,
  );
  t.match(bad.stdout, /FAIL {2}rbac: may not patch pods\/status\n {6}fix: kubectl apply -f manifests\/rbac.yaml/);
  t.match(bad.stdout, /ok {4}rbac: may get pods/);

  api.clearFaults();
  api.forbid("/apis/apiextensions.k8s.io/");
  const forbidden = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.match(forbidden.stdout, /FAIL {2}crd: cannot read it: .*403 Forbidden/);

  await api.stop();
  const down = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(down.code, 1);
  t.match(down.stdout, /FAIL {2}api: .*no answer from https:\/\/127\.0\.0\.1/);
});

/** The built file as a person runs it, killed if it takes longer than `ms` (a read that blocks or grows). */
function within(argv: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PLUGIN, argv, { env: { PATH: process.env.PATH }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => {
      stderr += `\n(killed: still running after ${ms} ms)`;
      child.kill("SIGKILL");
    }, ms);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test("doctor runs the validator over the conf and its delegates: what validate rejects is a failure here too", async (t) => {
  const n = await installed(t, ["bridge", "host-local", "ptp"]);
  const conf = JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"));
  conf.delegates.push(
    { cniVersion: "1.0.0", name: "evil", type: "../../bin/sh" },
    { cniVersion: "9.9.9", name: "future", type: "ptp" },
    { cniVersion: "1.0.0", name: "range", type: "ptp", ipam: { type: "host-local", subnet: "10.1.0.0/24", rangeStart: "10.9.0.5" } },
  );
  writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify(conf));
  const v = await human(["validate", join(n.confDir, "00-multus.conf")]);
  t.match(v.stdout, /3 problem\(s\)/);
  const r = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 1, r.stdout);
  t.match(r.stdout, /FAIL {2}config: delegates\[1\]\.type: "\.\.\/\.\.\/bin\/sh" is a path/);
  t.match(r.stdout, /FAIL {2}config: delegates\[2\]\.cniVersion: "9\.9\.9" is not a supported CNI version/);
  t.match(r.stdout, /FAIL {2}config: delegates\[3\]\.ipam\.rangeStart: 10\.9\.0\.5 is outside subnet 10\.1\.0\.0\/24/);
  t.notMatch(r.stdout, /the validator finds no error/);
});

t.test("a check changes nothing on the node: no cache dir created, no probe file written", async (t) => {
  const n = await installed(t, ["bridge", "host-local"]);
  const r = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 0, r.stdout);
  t.match(r.stdout, /ok {4}cache dir: .*\/cache does not exist yet; the first ADD creates it in .*, which is writable/);
  t.notOk(existsSync(n.cache), "the cache dir is still not there");
  mkdirSync(n.cache);
  const mtime = statSync(n.cache).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  const again = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.match(again.stdout, /ok {4}cache dir: .*\/cache is writable/);
  t.same(readdirSync(n.cache), [], "nothing left in it");
  t.equal(statSync(n.cache).mtimeMs, mtime, "and nothing written and removed (the dir's mtime is the same)");
});

t.test("relative cniDir and kubeconfig: failures saying so, never judged against doctor's own directory", async (t) => {
  const n = await installed(t, ["bridge", "host-local"]);
  const conf = JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"));
  writeFileSync(
    join(n.confDir, "00-multus.conf"),
    JSON.stringify({ ...conf, cniDir: "mt-rel-cache", kubeconfig: "multus.d/multus.kubeconfig" }),
  );
  const r = await runPlugin({
    argv: ["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir],
    stdin: "",
    cwd: n.root,
    env: { CNI_IFNAME: undefined, CNI_PATH: undefined },
  });
  t.equal(r.code, 1, r.stdout);
  t.match(r.stdout, /FAIL {2}cache dir: "mt-rel-cache" must be an absolute path/);
  t.match(r.stdout, /FAIL {2}kubeconfig: "multus\.d\/multus\.kubeconfig" must be an absolute path/);
  t.notMatch(r.stdout, /ok {4}cache dir/, "no ok line contradicting it");
  t.notOk(existsSync(join(n.root, "mt-rel-cache")), "nothing created");
});

t.test("a FIFO or a /dev/zero link in the conf dir never blocks or grows doctor: each is a failure naming the file", async (t) => {
  const n = await installed(t, ["bridge", "host-local"]);
  execFileSync("mkfifo", [join(n.confDir, "20-fifo.conf")]);
  symlinkSync("/dev/zero", join(n.confDir, "15-zero.conflist"));
  const r = await within(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir], 20_000);
  t.equal(r.code, 1, r.stdout + r.stderr);
  t.match(r.stdout, /ok {4}conf dir: .*00-multus\.conf comes first and is multus/);
  t.match(r.stdout, /FAIL {2}conf dir: .*15-zero\.conflist is a character device, not a regular file\n {6}fix: remove it/);
  t.match(r.stdout, /FAIL {2}conf dir: .*20-fifo\.conf is a FIFO, not a regular file\n {6}fix: remove it/);
  execFileSync("mkfifo", [join(n.confDir, "0-fifo.conf")]);
  const first = await within(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir], 20_000);
  t.equal(first.code, 1);
  t.match(first.stdout, /FAIL {2}conf dir: .*0-fifo\.conf comes first and is a FIFO, not a regular file/);
});

t.test("doctor knows upstream's binary and upstream's thick config for what they are", async (t) => {
  const n = await installed(t, ["bridge", "host-local"]);
  writeFileSync(
    join(n.binDir, "multus"),
    goBinaryLike({ module: "gopkg.in/k8snetworkplumbingwg/multus-cni.v4", path: "gopkg.in/k8snetworkplumbingwg/multus-cni.v4/cmd/multus" }),
    { mode: 0o755 },
  );
  writeFileSync(
    join(n.confDir, "00-multus.conf"),
    JSON.stringify({
      cniVersion: "0.3.1",
      name: "multus-cni-network",
      type: "multus-shim",
      clusterNetwork: "/host/etc/cni/net.d/10-bridge.conf",
    }),
  );
  const r = await human(["doctor", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 1);
  t.match(r.stdout, /FAIL {2}conf dir: .*00-multus\.conf comes first and is upstream Multus's thick plugin config \(type "multus-shim"\)/);
  t.match(
    r.stdout,
    /FAIL {2}bin dir: .*\/multus is upstream Multus, gopkg\.in\/k8snetworkplumbingwg\/multus-cni\.v4\/cmd\/multus, not this program\n {6}fix: run multus install/,
  );
});

/** Every path under `root` with its type, mode, size and mtime (what any write, create or remove would change). */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      out.push(`${p} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  const st = statSync(root);
  out.push(`${root} ${st.mode.toString(8)} ${st.mtimeMs}`);
  walk(root);
  return out;
}

t.test("doctor, validate, status and install --dry-run change nothing on the node: every path of a scratch root as it was", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const n = await installed(t, ["bridge", "host-local"], (dir) => api.writeKubeconfig(dir, { auth: "token" }));
  mkdirSync(n.cache);
  const ready = join(n.root, "ready");
  const before = snapshot(n.root);
  await new Promise((r) => setTimeout(r, 20)); // an mtime written now would differ
  const dirs = ["--bin-dir", n.binDir, "--conf-dir", n.confDir];
  for (const argv of [
    ["doctor", ...dirs],
    ["doctor", ...dirs, "--json"],
    ["validate", n.confDir],
    ["validate", "--json", join(n.confDir, "00-multus.conf")],
    ["status", "--cni-dir", n.cache],
    ["status", "--cni-dir", n.cache, "--json"],
    ["install", ...dirs, "--dry-run"],
    ["install", ...dirs, "--dry-run", "--json", "--readiness-indicator-file", ready, "--log-level", "debug"],
  ]) {
    const r = await human(argv);
    t.ok(r.code === 0, `${argv.join(" ")}: ${r.stdout}${r.stderr}`);
    t.same(snapshot(n.root), before, `${argv[0]} ${argv.slice(-1)[0]}: nothing written, created or removed`);
  }
});
