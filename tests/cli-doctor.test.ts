// `multus doctor` against a temp node layout and the test API server.
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { startApiServer } from "./helpers/apiserver.ts";
import { tempDir } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

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
  const { readFileSync } = await import("node:fs");
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
