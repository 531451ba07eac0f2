// STATUS (CNI 1.1): can the plugin add a container now? Code 50 while the
// cluster network is not ready or a plugin of a network every pod gets is
// missing (named); each such network whose config speaks 1.1.0 is asked
// for its own STATUS, and its 50/51 passed on; older ones are not asked,
// as libcni does not ask them.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { recorder } from "./helpers/recorder.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const status = (stdin: object, path?: string) => runPlugin({ command: "STATUS", stdin, ...(path ? { path } : {}) });

/** Our config at 1.1.0 (STATUS exists since); the reference plugins' configs stay at 1.0.0. */
function setup(t: Parameters<typeof scenario>[0]) {
  const s = scenario(t, "1.0.0");
  const rec = recorder(t);
  const netconf = (delegates: unknown[], extra: Record<string, unknown> = {}) => ({ ...s.netconf(delegates, extra), cniVersion: "1.1.0" });
  return { s, rec, netconf };
}

t.test("every plugin present: success; STATUS goes to the delegates whose config is 1.1.0, and only to them", async (t) => {
  const { s, rec, netconf } = setup(t);
  const conf = netconf([s.bridge(), rec.conf("new-net"), rec.conf("old-net", "1.0.0")]);
  const r = await status(conf, rec.path);
  t.equal(r.code, 0, r.stdout);
  t.same(
    rec.calls("STATUS").map((c) => c.config.name),
    ["new-net"],
    "new-net (1.1.0) is asked; old-net (1.0.0) is not",
  );
  t.match(rec.calls("STATUS")[0].config, { cniVersion: "1.1.0", name: "new-net", type: rec.type });
});

t.test("a secondary delegate's plugin is missing: code 50 naming the network and the plugin", async (t) => {
  const { s, netconf } = setup(t);
  const r = await status(netconf([s.bridge(), s.ptp({ name: "gone-net", type: "mtmissing" })]));
  t.equal(r.code, 1);
  t.equal(r.json?.code, 50, "plugin unavailable");
  t.match(String(r.json?.msg), /network "gone-net" is unavailable: failed to find plugin "mtmissing"/);
});

t.test("a plugin of a conflist delegate is missing: code 50 naming it", async (t) => {
  const { s, netconf } = setup(t);
  const list = { cniVersion: "1.0.0", name: "chain-net", plugins: [s.ptp(), { type: "mtnotuning" }] };
  const r = await status(netconf([s.bridge(), list]));
  t.equal(r.json?.code, 50);
  t.match(String(r.json?.msg), /network "chain-net" is unavailable: failed to find plugin "mtnotuning"/);
});

t.test("the cluster network's plugin is missing: code 50", async (t) => {
  const { s, netconf } = setup(t);
  const r = await status(netconf([s.bridge({ type: "mtnobridge" }), s.ptp()]));
  t.equal(r.json?.code, 50);
  t.match(String(r.json?.msg), /network "br-net" is unavailable: failed to find plugin "mtnobridge"/);
});

t.test("readinessindicatorfile: code 50 at once while it is absent, success once it exists", async (t) => {
  const { s, netconf } = setup(t);
  const ready = join(s.dir, "cluster-network-ready");
  // A long readinessTimeout: STATUS must not wait for the file (ADD does).
  const conf = netconf([s.bridge()], { readinessindicatorfile: ready, readinessTimeout: 600 });
  const r = await status(conf);
  t.equal(r.json?.code, 50);
  t.match(String(r.json?.msg), `the cluster network is not ready: ${ready} does not exist`);
  writeFileSync(ready, "");
  const ok = await status(conf);
  t.equal(ok.code, 0, ok.stdout);
});

t.test("a delegate's own 50 or 51 is passed on, naming the network", async (t) => {
  const { s, rec, netconf } = setup(t);
  const conf = netconf([s.bridge(), rec.conf("flaky-net")]);
  for (const code of [50, 51]) {
    rec.failStatus(code, "dataplane restarting");
    const r = await status(conf, rec.path);
    t.equal(r.json?.code, code, `the delegate said ${code}`);
    t.match(String(r.json?.msg), /network "flaky-net" is unavailable: plugin "mtrecorder" failed: dataplane restarting/);
  }
  rec.failStatus(7, "bad config");
  t.equal((await status(conf, rec.path)).json?.code, 50, "any other failure: it cannot add, 50");
  rec.failStatus(undefined);
  t.equal((await status(conf, rec.path)).code, 0);
});

t.test("our config older than 1.1.0: code 1, STATUS is not allowed", async (t) => {
  const { s } = setup(t);
  const r = await status(s.netconf([s.bridge()]));
  t.equal(r.json?.code, 1);
  t.match(String(r.json?.msg), "config version does not allow STATUS");
});

t.test("Kubernetes mode: the cluster network is resolved without a pod and checked", async (t) => {
  let api: ApiServer | undefined;
  t.before(async () => {
    api = await startApiServer();
  });
  t.teardown(() => api?.stop());

  t.test("clusterNetwork is a NAD: its plugin is checked, and asked when it speaks 1.1.0", async (t) => {
    const { s, rec, netconf } = setup(t);
    const kubeconfig = api!.writeKubeconfig(s.dir, { auth: "token" });
    const conf = netconf([], { kubeconfig, clusterNetwork: "mtcluster", defaultNetworks: ["mtalways"] });
    api!.putNad("kube-system", "mtcluster", rec.conf("cluster-net"));
    api!.putNad("kube-system", "mtalways", s.ptp({ name: "always-net" }));
    const ok = await status(conf, rec.path);
    t.equal(ok.code, 0, ok.stdout);
    t.same(
      rec.calls("STATUS").map((c) => c.config.name),
      ["cluster-net"],
    );
    t.notOk(
      api!.requests().some((q) => q.path.includes("/pods/")),
      "no pod is read",
    );

    api!.putNad("kube-system", "mtcluster", s.bridge({ name: "cluster-net", type: "mtgone" }));
    const r = await status(conf, rec.path);
    t.equal(r.json?.code, 50);
    t.match(String(r.json?.msg), /network "cluster-net" is unavailable: failed to find plugin "mtgone"/);

    api!.putNad("kube-system", "mtcluster", s.bridge({ name: "cluster-net" }));
    api!.putNad("kube-system", "mtalways", s.ptp({ name: "always-net", type: "mtnoptp" }));
    const d = await status(conf, rec.path);
    t.equal(d.json?.code, 50, "a defaultNetworks network is one every pod gets too");
    t.match(String(d.json?.msg), /network "always-net" is unavailable: failed to find plugin "mtnoptp"/);
  });

  t.test("clusterNetwork is a conf file in confDir: checked the same way", async (t) => {
    const { s, netconf } = setup(t);
    const confDir = join(s.dir, "net.d");
    mkdirSync(confDir);
    writeFileSync(join(confDir, "10-cluster.conf"), JSON.stringify(s.bridge({ name: "file-net", type: "mtfromfile" })));
    const kubeconfig = api!.writeKubeconfig(s.dir, { auth: "token" });
    const r = await status(netconf([], { kubeconfig, clusterNetwork: "file-net", confDir }));
    t.equal(r.json?.code, 50);
    t.match(String(r.json?.msg), /network "file-net" is unavailable: failed to find plugin "mtfromfile"/);
  });

  t.test("the API server does not answer: code 50 (no pod can be added), within the API deadline", async (t) => {
    const { s, netconf } = setup(t);
    const kubeconfig = api!.writeKubeconfig(s.dir, { auth: "token" });
    api!.putNad("kube-system", "mtcluster", s.bridge({ name: "cluster-net" }));
    const conf = netconf([], { kubeconfig, clusterNetwork: "mtcluster", apiTimeout: 1, apiDeadline: 2 });
    api!.failNext(1000, 503);
    t.teardown(() => api!.clearFaults());
    const started = Date.now();
    const r = await status(conf);
    t.equal(r.json?.code, 50);
    t.match(String(r.json?.msg), /the cluster network cannot be resolved: .*503/);
    t.ok(Date.now() - started < 15_000, "it answered instead of hanging");
  });

  t.test("a slow API server: the whole resolution is bounded (5 s), not each call", async (t) => {
    const { s, netconf } = setup(t);
    const kubeconfig = api!.writeKubeconfig(s.dir, { auth: "token" });
    const names = ["mtslow1", "mtslow2", "mtslow3"];
    for (const n of ["mtcluster", ...names]) api!.putNad("kube-system", n, s.bridge({ name: n }));
    // Each NAD read alone is within apiTimeout and apiDeadline; the four one after the other are not.
    api!.delay(3000, "/apis/k8s.cni.cncf.io");
    t.teardown(() => api!.clearFaults());
    const started = Date.now();
    const r = await status(netconf([], { kubeconfig, clusterNetwork: "mtcluster", defaultNetworks: names }));
    t.equal(r.json?.code, 50);
    t.match(String(r.json?.msg), "the cluster network cannot be resolved: the API server did not answer within 5s");
    t.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms`);
  });
});
